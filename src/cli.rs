//! The command line (clap derive). `stage --config F` is `stage run --config F`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::TransferMode;

#[derive(Debug, Parser)]
#[command(
    name = "stage",
    version,
    about = "Copies tables from an application database into a staging layer, keeping each run as a Parquet archive.",
    after_help = "Exit codes: 0 all tables done; 1 one or more tables failed (the others were still done); 2 usage or configuration error (nothing was moved); 3 a database could not be reached."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Arguments of `run`, for the short form `stage --config F`.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy the tables (the nightly job).
    Run(RunArgs),
    /// Write the Parquet parts and the manifest only; load nothing, delete nothing.
    Dump(RunArgs),
    /// Show, per table, source type → Arrow type → staging type and the row count; move nothing.
    Plan(PlanArgs),
    /// Connect to source and destination and print their versions.
    Check(ConfigArg),
    /// (Re)load exactly the parts listed in a manifest.
    Load(ManifestArgs),
    /// Re-hash every part of a manifest and compare row counts with the staging tables.
    Verify(ManifestArgs),
    /// Create the demo SQLite source (if absent) and stage it: SQLite → Parquet → SQLite.
    Demo(DemoArgs),
    /// Commit a sharded run: wait for every shard's file, merge them into the run's manifest
    /// (create-only), then load the staging tables (exit 5: shards missing after --wait;
    /// 4: the run is committed already).
    Commit(CommitArgs),
    /// Show the last run of every table from the run log in the destination (exit 3: the
    /// destination cannot be reached; 2: [settings] RUN_LOG is off).
    Status(StatusArgs),
    /// Show or clear incremental tables' watermarks (`sync_metadata`).
    State(StateArgs),
    /// The archive's committed runs (from the manifests), newest first.
    History(HistoryArgs),
    /// Remove old runs from the archive (manifest first, then parts), and folders of runs
    /// without a manifest older than [archive] ORPHAN_GRACE_HOURS.
    Prune(PruneArgs),
    /// SQL over the archive's committed runs: every table under its staging name, with a
    /// `run_id` column (cargo feature `query`).
    Query(QueryArgs),
    /// Rows added, removed and changed in a table between two committed runs (cargo
    /// feature `query`).
    Diff(DiffArgs),
}

#[derive(Debug, Args, Clone)]
pub struct StateArgs {
    #[command(subcommand)]
    pub action: StateAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum StateAction {
    /// Show each table's sync mode, cursor, watermark and last full refresh.
    Show(StateTableArgs),
    /// Clear a watermark: the table's next incremental run reads from the start (logged in etl_logs).
    Reset(StateTableArgs),
}

#[derive(Debug, Args, Clone)]
pub struct StateTableArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// One table (as listed in SRC_TABLES); without it, every table.
    #[arg(long, value_name = "T")]
    pub table: Option<String>,
    /// Print JSON instead of a table (show).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only runs of this table (staging or source name), and only its line.
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct PruneArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Keep this many newest committed runs (instead of [archive] KEEP_RUNS).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_runs: Option<u64>,
    /// Keep committed runs started within this many days (instead of [archive] KEEP_DAYS).
    #[arg(long, value_name = "DAYS")]
    pub keep_days: Option<f64>,
    /// Print what would be removed, with sizes; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How `stage query` and `stage diff --output` write rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns (the first 1,000 rows; the count of the rest is printed).
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Json,
    /// A Parquet file (needs --output).
    Parquet,
}

#[derive(Debug, Args, Clone)]
pub struct QueryArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The SQL (DataFusion's dialect), e.g. "SELECT run_id, count(*) FROM orders GROUP BY run_id".
    #[arg(value_name = "SQL")]
    pub sql: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormat,
    /// Write the rows to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct DiffArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The table (staging or source name).
    #[arg(long, value_name = "T")]
    pub table: String,
    /// The older run id.
    #[arg(long, value_name = "RUN")]
    pub from: String,
    /// The newer run id.
    #[arg(long, value_name = "RUN")]
    pub to: String,
    /// Comma-separated key columns; default: the primary key the manifest recorded. Without
    /// any key the difference is by whole rows (multiset).
    #[arg(long, value_name = "A,B")]
    pub key: Option<String>,
    /// Write the differing rows, with a `change` column, to this Parquet file.
    #[arg(long, value_name = "FILE.parquet")]
    pub output: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Default, Clone)]
pub struct ConfigArg {
    /// The INI file; without it, configuration comes from the environment (and .env).
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args, Default, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Comma-separated tables, instead of [settings] SRC_TABLES.
    #[arg(long, value_name = "A,B")]
    pub tables: Option<String>,
    /// Transfer mode, instead of [settings] TRANSFER_MODE.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Read one shard of a planned run: I/N (e.g. 0/3), or N with the index taken from
    /// JOB_COMPLETION_INDEX, CLOUD_RUN_TASK_INDEX or AWS_BATCH_JOB_ARRAY_INDEX.
    #[arg(long, value_name = "I/N", requires = "no_load")]
    pub shard: Option<String>,
    /// With --shard: write the parts and the shard file only (`stage commit` loads).
    #[arg(long, requires = "shard")]
    pub no_load: bool,
    #[command(flatten)]
    pub run_id: RunIdArgs,
    /// Reload incremental tables whole through the atomic replace path and set their
    /// watermark again (with --tables: only those).
    #[arg(long)]
    pub full_refresh: bool,
}

/// The run id of a sharded run: given, or derived from a key every pod of a Job shares.
#[derive(Debug, Args, Default, Clone)]
pub struct RunIdArgs {
    /// The sharded run's id.
    #[arg(long, value_name = "RUN_ID", conflicts_with = "run_key")]
    pub run_id: Option<String>,
    /// Derive the run id from this key (e.g. the Kubernetes Job's name).
    #[arg(long, value_name = "KEY")]
    pub run_key: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct CommitArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub run_id: RunIdArgs,
    /// Wait up to this many seconds for missing shard files (default: do not wait).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
}

#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Comma-separated tables, instead of [settings] SRC_TABLES.
    #[arg(long, value_name = "A,B")]
    pub tables: Option<String>,
    /// Split the run into N shards and write its plan to the archive (create-only; a
    /// second plan of the same run and configuration reuses it). Needs --run-id or --run-key.
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    #[command(flatten)]
    pub run_id: RunIdArgs,
}

#[derive(Debug, Args, Clone)]
pub struct ManifestArgs {
    /// The manifest: <OUTPUT_DIR>/_manifests/<run_id>.json (a path, or the URL of an archive
    /// on an object store, e.g. s3://bucket/prefix/_manifests/<run_id>.json)
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Show this run's tables (and its etl_runs row) instead of every table's last run.
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Folder for the demo source, staging database and archive.
    #[arg(long, value_name = "DIR", default_value = "demo")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Direct,
    Dump,
    Connectorx,
}

impl From<ModeArg> for TransferMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Direct => TransferMode::Direct,
            ModeArg::Dump => TransferMode::Dump,
            ModeArg::Connectorx => TransferMode::Connectorx,
        }
    }
}

//! The transfer modes wire the same pieces:
//!
//! ```text
//! DIRECT:  Source ──batches──▶ TableLoad (retry per batch) ──▶ swap
//! DUMP:    Source ──batches──▶ PartWriter ──▶ Manifest ──▶ load_manifest ──▶ TableLoad ──▶ swap
//! ```
//!
//! CONNECTORX is DUMP with ConnectorX as the source (`source::open_for_run` picks it).
//! Reading and writing overlap: the source runs on its own thread and hands finished
//! batches over a channel that holds one, so at most three chunks are in memory per table.
//!
//! The root holds `run` and what the modes share; `direct`, `dump`, `from_manifest`
//! (`stage load`, `stage verify`), `heal` (connections reopened when broken, a table read
//! again after a transient source error), `relay`, `retry` and `outcome` each hold one job.

mod direct;
mod dump;
mod from_manifest;
mod heal;
mod ledger;
mod outcome;
mod parallel;
mod relay;
mod retry;
mod sharded;
mod sync;

pub use from_manifest::{load_manifest, verify};
pub use outcome::{exit_code, RunSummary, TableOutcome};
pub use retry::{backoff, with_retry};
pub use sharded::{commit, run_shard};

use heal::Links;

use crate::config::{Config, Driver, TableSettings, TransferMode};
use crate::error::{Error, Result};
use crate::interrupt;
use crate::load::{LoadReport, LoadTarget};
use crate::progress::Progress;
use crate::source::{self, ReadOptions, Source, TableInfo, TableRef};

/// How a run ends once the tables are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Load the staging tables (`stage run`).
    Load,
    /// Write the archive only: parts and manifest, nothing loaded (`stage dump`).
    DumpOnly,
}

/// `stage run` (`Finish::Load`) and `stage dump` (`Finish::DumpOnly`).
pub fn run(cfg: &Config, finish: Finish) -> Result<RunSummary> {
    let mode = cfg.settings.mode;
    source::check_mode(mode)?;
    if mode == TransferMode::Direct && finish == Finish::DumpOnly {
        return Err(Error::config(
            "stage dump writes the archive, which DIRECT mode does not: set [settings] TRANSFER_MODE = DUMP (or use --mode dump)",
        ));
    }
    if cfg.settings.read_connections > 1
        && (cfg.source.driver != Driver::Postgres || mode == TransferMode::Connectorx)
    {
        tracing::warn!(
            "[settings] READ_CONNECTIONS applies to PostgreSQL sources in DIRECT and DUMP mode; reading over one connection"
        );
    }
    interrupt::install();
    let run_id = crate::archive::new_run_id();
    let started_at = chrono::Utc::now();
    tracing::info!(run_id = %run_id, "run started");
    let mut links = Links::new(cfg);
    // The source is connected at once, so that a run that cannot reach it ends at once
    // (exit code 3); DIRECT connects the destination too. DUMP connects the destination
    // only for its load phase, and `stage dump` never.
    links.source()?;
    cfg.check_sync()?;
    let mut tables = jobs(cfg);
    sync::resolve_keys(links.source()?, &mut tables)?;
    let progress = Progress::new(tables.len());
    let workers = cfg.settings.parallel_tables;
    let order: Vec<usize> = if workers > 1 {
        // Largest first, by the catalog's estimate: the longest table starts at once
        // instead of last.
        let src = links.source()?;
        let sizes: Vec<Option<u64>> = tables.iter().map(|j| src.estimate_rows(&j.table)).collect();
        parallel::largest_first(&sizes)
    } else {
        (0..tables.len()).collect()
    };
    match mode {
        TransferMode::Direct => {
            links.destination()?;
            if workers > 1 {
                // Each worker opens its own; these only proved both ends reachable.
                links.close();
            }
            let log = ledger::open(cfg, &run_id, started_at);
            let book = ledger::Ledger(log.as_ref());
            let outcomes = parallel::each(cfg, workers, &mut links, &order, |i, links| {
                let job = &tables[i];
                match interrupt::received() {
                    Some(signal) => outcome::not_started(job.table.display(), signal),
                    None => {
                        links.before_table(&job.table.display());
                        direct::direct_table(cfg, &run_id, links, job, i, &progress, book)
                    }
                }
            });
            let summary = RunSummary {
                run_id: run_id.clone(),
                tables: outcomes,
                manifest: None,
            };
            ledger::finish(log, &summary, None);
            Ok(summary)
        }
        _ => {
            if workers > 1 {
                links.close();
            }
            dump::dump_and_load(
                cfg, &run_id, started_at, &mut links, finish, &tables, &order, &progress,
            )
        }
    }
}

/// One listed table and the settings it runs with (`[settings]` and its `[table:NAME]`).
pub(crate) struct Job {
    pub table: TableRef,
    pub settings: TableSettings,
    /// A sharded run's unit id (`u0003`): part names carry it, so units never collide.
    pub unit: Option<String>,
    /// The merge key and cursor (`WRITE_MODE = merge`, or an incremental table).
    pub merge: Option<crate::load::merge::MergeSpec>,
}

/// The run's tables in `SRC_TABLES` order, without those a section turns off.
fn jobs(cfg: &Config) -> Vec<Job> {
    cfg.tables()
        .into_iter()
        .filter(|t| {
            if !t.enabled {
                tracing::info!(table = %t.name, "skipped: [table:{}] ENABLED = false", t.name);
            }
            t.enabled
        })
        .map(|settings| Job {
            table: TableRef::new(&settings.name, cfg.source.schema.as_deref()),
            settings,
            unit: None,
            merge: None,
        })
        .collect()
}

/// The settings of a table named as the manifest names it (`schema.table` when the source
/// has schemas), for `stage load`: its section's, or `[settings]`.
fn settings_for_display(cfg: &Config, display: &str) -> TableSettings {
    let listed = cfg
        .settings
        .tables
        .iter()
        .find(|t| TableRef::new(t, cfg.source.schema.as_deref()).display() == display);
    cfg.table(listed.map_or(display, String::as_str))
}

/// Describes a table, applies the section's `COLUMNS`/`EXCLUDE_COLUMNS`, and counts its
/// rows when `LOG_ROW_COUNT` asks (a failed count warns).
fn prepare(cfg: &Config, src: &mut dyn Source, job: &Job) -> Result<(TableInfo, Option<u64>)> {
    let table = &job.table;
    let mut info = src.describe(table)?;
    project(&mut info, &job.settings)?;
    if let Some(f) = &job.settings.filter {
        tracing::info!(table = %table.display(), "reading only the rows of [table:{}] WHERE {f}", job.settings.name);
        info.filter = Some(f.clone());
    }
    info.check_staging_names()?;
    // An incremental table reads a window: counting the whole table would cost a scan
    // for a number the progress bar cannot use.
    let incremental = job.settings.sync.mode == crate::config::sync::SyncMode::Incremental;
    let expected = if cfg.settings.log_row_count && !incremental {
        match src.count_rows(&info) {
            Ok(n) => Some(match job.settings.row_limit {
                Some(limit) => n.min(limit),
                None => n,
            }),
            Err(e) => {
                tracing::warn!(table = %table.display(), "could not count rows: {e:#}");
                None
            }
        }
    } else {
        None
    };
    Ok((info, expected))
}

/// Keeps only the columns a section's `COLUMNS` lists (in its order), or drops those
/// `EXCLUDE_COLUMNS` lists. A name the table does not have is an error.
fn project(info: &mut TableInfo, ts: &TableSettings) -> Result<()> {
    let find = |name: &str, key: &str, cols: &[crate::source::ColumnInfo]| {
        cols.iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::column(
                    &info.table.display(),
                    name,
                    format!(
                        "is not a column of the source table ([table:{}] {key})",
                        ts.name
                    ),
                )
            })
    };
    if let Some(list) = &ts.columns {
        let mut kept = Vec::with_capacity(list.len());
        for name in list {
            kept.push(info.columns[find(name, "COLUMNS", &info.columns)?].clone());
        }
        info.columns = kept;
    }
    for name in &ts.exclude_columns {
        let i = find(name, "EXCLUDE_COLUMNS", &info.columns)?;
        info.columns.remove(i);
    }
    if info.columns.is_empty() {
        return Err(Error::config(format!(
            "[table:{}] EXCLUDE_COLUMNS leaves no column of {}",
            ts.name,
            info.table.display()
        )));
    }
    Ok(())
}

fn read_options(cfg: &Config, ts: &TableSettings) -> ReadOptions {
    ReadOptions {
        chunk_rows: ts.chunk_size,
        chunk_bytes: ts.chunk_bytes,
        row_limit: ts.row_limit,
        zero_dates: cfg.settings.zero_dates,
        connections: ts.read_connections,
        partition_column: ts.partition_column.clone(),
        partition_num: ts.partition_num,
    }
}

fn target(cfg: &Config, run_id: &str, staging_table: String, ts: &TableSettings) -> LoadTarget {
    let mut t = LoadTarget::new(
        cfg.destination.schema.clone(),
        staging_table,
        ts.write_mode,
        run_id,
        cfg.settings.lock_wait,
    );
    t.schema_change = ts.sync.schema_change;
    t
}

fn report_nuls(table: &TableRef, report: &LoadReport) {
    for (column, n) in &report.nul_stripped {
        tracing::warn!(table = %table.display(), column = %column, values = n, "NUL characters stripped from text values (the destination cannot store them)");
    }
}

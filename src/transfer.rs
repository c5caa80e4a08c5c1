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
mod outcome;
mod relay;
mod retry;

pub use from_manifest::{load_manifest, verify};
pub use outcome::{exit_code, RunSummary, TableOutcome};
pub use retry::{backoff, with_retry};

use heal::Links;

use crate::config::{Config, Driver, TransferMode};
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
    tracing::info!(run_id = %run_id, "run started");
    let mut links = Links::new(cfg);
    // The source is connected at once, so that a run that cannot reach it ends at once
    // (exit code 3); DIRECT connects the destination too. DUMP connects the destination
    // only for its load phase, and `stage dump` never.
    links.source()?;
    let tables: Vec<TableRef> = cfg
        .settings
        .tables
        .iter()
        .map(|t| TableRef::new(t, cfg.source.schema.as_deref()))
        .collect();
    let progress = Progress::new(tables.len());
    match mode {
        TransferMode::Direct => {
            links.destination()?;
            let mut summary = RunSummary::default();
            for (i, table) in tables.iter().enumerate() {
                let outcome = match interrupt::received() {
                    Some(signal) => outcome::not_started(table.display(), signal),
                    None => {
                        links.before_table(&table.display());
                        direct::direct_table(cfg, &run_id, &mut links, table, i, &progress)
                    }
                };
                summary.tables.push(outcome);
            }
            Ok(summary)
        }
        _ => dump::dump_and_load(cfg, &run_id, &mut links, finish, &tables, &progress),
    }
}

/// Describes a table and counts its rows when `LOG_ROW_COUNT` asks (a failed count warns).
fn prepare(
    cfg: &Config,
    src: &mut dyn Source,
    table: &TableRef,
) -> Result<(TableInfo, Option<u64>)> {
    let info = src.describe(table)?;
    info.check_staging_names()?;
    let expected = if cfg.settings.log_row_count {
        match src.count_rows(&info) {
            Ok(n) => Some(match cfg.settings.row_limit {
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

fn read_options(cfg: &Config) -> ReadOptions {
    ReadOptions {
        chunk_rows: cfg.settings.chunk_size,
        row_limit: cfg.settings.row_limit,
        zero_dates: cfg.settings.zero_dates,
        connections: cfg.settings.read_connections,
    }
}

fn target(cfg: &Config, run_id: &str, staging_table: String) -> LoadTarget {
    LoadTarget::new(
        cfg.destination.schema.clone(),
        staging_table,
        cfg.settings.write_mode,
        run_id,
        cfg.settings.lock_wait,
    )
}

fn report_nuls(table: &TableRef, report: &LoadReport) {
    for (column, n) in &report.nul_stripped {
        tracing::warn!(table = %table.display(), column = %column, values = n, "NUL characters stripped from text values (the destination cannot store them)");
    }
}

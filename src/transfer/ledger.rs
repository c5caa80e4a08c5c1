//! The run's entries in the run log ([`crate::runlog`]), when it is open: a table's `ok` row
//! rides on its load's commit, a failure is written after the rollback. Nothing here fails a
//! table: a run log that cannot be written is a warning.

use arrow::datatypes::Schema;
use chrono::{DateTime, Utc};

use super::outcome::{exit_code, RunSummary};
use crate::config::Config;
use crate::error::Error;
use crate::load::{LoadTarget, TableLoad};
use crate::runlog::{schema_hash, FailureClass, RunEnd, RunLog, SyncState, TableLogRow};

/// The run log of a run, or none (`RUN_LOG = false`, `stage dump`, or it could not open).
#[derive(Clone, Copy)]
pub(crate) struct Ledger<'a>(pub Option<&'a RunLog>);

/// Parquet bytes and parts of a table (DUMP and CONNECTORX).
pub(super) type Archived = Option<(u64, u64)>;

impl Ledger<'_> {
    /// Hands `load` the table's `ok` row, to commit with it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_commit(
        self,
        load: &mut dyn TableLoad,
        source_table: &str,
        target: &LoadTarget,
        started_at: DateTime<Utc>,
        rows: u64,
        attempts: u32,
        schema: &Schema,
        archived: Archived,
        sync: Option<SyncState>,
    ) {
        let Some(log) = self.0 else { return };
        let mut row = TableLogRow::new(source_table, target, started_at).ok(rows);
        row.sync = sync;
        row.attempts = attempts.max(1);
        row.schema_hash = Some(schema_hash(schema));
        if let Some((bytes, parts)) = archived {
            row.bytes = Some(bytes);
            row.parts = Some(parts);
        }
        load.log_on_commit(log.commit_rows(&row));
    }

    /// Writes the `ok` row of an incremental table whose window was empty (nothing was
    /// loaded; its watermark stays), in a transaction of its own.
    pub(super) fn unchanged(
        self,
        source_table: &str,
        target: &LoadTarget,
        started_at: DateTime<Utc>,
        sync: SyncState,
    ) {
        let Some(log) = self.0 else { return };
        let mut row = TableLogRow::new(source_table, target, started_at).ok(0);
        row.sync = Some(sync);
        if let Err(e) = log.table_failed(&row) {
            tracing::warn!(table = %source_table, "the run log could not record the run: {e:#}");
        }
    }

    /// Records a merge's changes to the staging table's columns (after its commit).
    pub(super) fn schema_changed(
        self,
        source_table: &str,
        target: &LoadTarget,
        changes: &[String],
    ) {
        let Some(log) = self.0 else { return };
        if let Err(e) = log.schema_changed(target, source_table, changes) {
            tracing::warn!(table = %source_table, "the run log could not record the schema change: {e:#}");
        }
    }

    /// Writes the row of a table whose dump failed (the manifest keeps only its message).
    pub(super) fn dump_failed(
        self,
        source_table: &str,
        target: &LoadTarget,
        started_at: DateTime<Utc>,
        attempts: u32,
        class: FailureClass,
        message: &str,
    ) {
        let Some(log) = self.0 else { return };
        let mut row = TableLogRow::new(source_table, target, started_at).failed_as(class, message);
        row.attempts = attempts.max(1);
        if let Err(e) = log.table_failed(&row) {
            tracing::warn!(table = %source_table, "the run log could not record the failure: {e:#}");
        }
    }

    /// Writes a failed table's row (after its load was dropped).
    pub(super) fn failed(
        self,
        source_table: &str,
        target: &LoadTarget,
        started_at: DateTime<Utc>,
        attempts: u32,
        error: &Error,
    ) {
        let Some(log) = self.0 else { return };
        let mut row = TableLogRow::new(source_table, target, started_at).failed(error);
        row.attempts = attempts.max(1);
        if let Err(e) = log.table_failed(&row) {
            tracing::warn!(table = %source_table, "the run log could not record the failure: {e:#}");
        }
    }
}

/// Opens the run log of a run that loads (`RUN_LOG` on; a failure is a warning).
pub(super) fn open(cfg: &Config, run_id: &str, started_at: DateTime<Utc>) -> Option<RunLog> {
    RunLog::open_if_enabled(
        cfg,
        run_id,
        cfg.settings.mode.name(),
        cfg.ini_path.as_deref(),
        started_at,
    )
}

/// Writes the run's end into its run log.
pub(super) fn finish(log: Option<RunLog>, summary: &RunSummary, bytes: Option<u64>) {
    let Some(log) = log else { return };
    let ok = summary.tables.iter().filter(|t| t.error.is_none()).count() as u64;
    let failed = summary.tables.len() as u64 - ok;
    let rows = summary.tables.iter().map(|t| t.rows).sum();
    let mut end = RunEnd::new(exit_code(&summary.tables), ok, failed, rows);
    end.bytes_total = bytes;
    end.manifest_path = summary.manifest.clone();
    if let Err(e) = log.finish(&end) {
        tracing::warn!("the run log could not record the run's end: {e:#}");
    }
}

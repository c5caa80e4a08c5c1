//! How each table and the whole run ended: per-table outcomes, the summary, the exit code.

use crate::error::{Error, ErrorClass, Result};
use crate::interrupt;
use crate::source::TableRef;

/// How one table ended.
#[derive(Debug, Clone)]
pub struct TableOutcome {
    pub table: String,
    pub rows: u64,
    pub error: Option<String>,
    /// The kind of failure, with `error`.
    pub class: Option<ErrorClass>,
    /// Wall time spent on the table (its read and load; in DUMP both phases).
    pub seconds: f64,
    /// Reads of the table's source (1 + the retries after transient source errors).
    pub attempts: u32,
}

impl TableOutcome {
    /// With the table's wall time and source attempts.
    pub(super) fn timed(mut self, started: std::time::Instant, attempts: u32) -> Self {
        self.seconds = started.elapsed().as_secs_f64();
        self.attempts = attempts;
        self
    }

    fn failed(table: String, e: &Error) -> TableOutcome {
        TableOutcome {
            table,
            rows: 0,
            error: Some(format!("{e:#}")),
            class: Some(e.class()),
            seconds: 0.0,
            attempts: 1,
        }
    }
}

/// What a run did, for the exit code and the last log lines.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub run_id: String,
    pub tables: Vec<TableOutcome>,
    /// Where the manifest was left, when one was kept.
    pub manifest: Option<String>,
}

impl RunSummary {
    pub fn failed(&self) -> usize {
        self.tables.iter().filter(|t| t.error.is_some()).count()
    }
}

/// The run's exit code from its tables: 0 when all succeeded; 128 + N when signal N
/// stopped it; 4 when every failure was a staging table locked by another run; else 1.
pub fn exit_code(tables: &[TableOutcome]) -> i32 {
    if let Some(signal) = interrupt::received() {
        return 128 + signal;
    }
    let classes: Vec<ErrorClass> = tables.iter().filter_map(|t| t.class).collect();
    if classes.is_empty() {
        0
    } else if classes.iter().all(|c| *c == ErrorClass::Locked) {
        4
    } else {
        1
    }
}

/// The outcome of a table the run did not start because a signal stopped it.
pub(super) fn not_started(table: String, signal: i32) -> TableOutcome {
    TableOutcome::failed(table, &Error::Interrupted { signal })
}

pub(super) fn outcome(table: &TableRef, result: Result<u64>) -> TableOutcome {
    match result {
        Ok(rows) => TableOutcome {
            table: table.display(),
            rows,
            error: None,
            class: None,
            seconds: 0.0,
            attempts: 1,
        },
        Err(e) => {
            tracing::error!(table = %table.display(), "{e:#}");
            TableOutcome::failed(table.display(), &e)
        }
    }
}

//! What the run log records: a run's status and end (`etl_runs`), a table's row and the
//! class of its failure (`etl_logs`, `sync_metadata`).

use chrono::{DateTime, Utc};

use super::{SyncState, MAX_ERROR_BYTES};
use crate::error::Error;
use crate::load::LoadTarget;

/// `etl_runs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Ok,
    /// Some tables failed, others succeeded.
    Partial,
    /// Every table failed, or none could start.
    Failed,
    /// Stopped by a signal, or left `running` by a killed run.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// The status of a finished run from its exit code and table counts (the same rule as
    /// [`crate::monitoring::RunReport::status_of`]).
    pub fn of(exit_code: i32, tables_ok: u64, tables_failed: u64) -> RunStatus {
        match exit_code {
            0 => RunStatus::Ok,
            c if c >= 128 => RunStatus::Interrupted,
            _ if tables_failed > 0 && tables_ok > 0 => RunStatus::Partial,
            _ => RunStatus::Failed,
        }
    }
}

/// `etl_logs.error_class`: where a table's failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The configuration (a bad setting, a listed table that does not exist).
    Config,
    Source,
    Destination,
    /// A value or column that cannot be staged, a count that does not match.
    Data,
    /// Would likely succeed when tried again: a lost connection, deadlock, lock timeout,
    /// the staging table locked by another run.
    Transient,
    /// Stopped by a signal.
    Interrupted,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Config => "config",
            FailureClass::Source => "source",
            FailureClass::Destination => "destination",
            FailureClass::Data => "data",
            FailureClass::Transient => "transient",
            FailureClass::Interrupted => "interrupted",
        }
    }

    /// The class of an error. Database errors name their side in their context: the
    /// loaders' start with "staging table" (or speak of the destination), the sources'
    /// with "table".
    pub fn of(e: &Error) -> FailureClass {
        let destination_words =
            |s: &str| s.starts_with("staging table") || s.contains("destination");
        match e {
            Error::Config(_) | Error::TableNotFound { .. } => FailureClass::Config,
            Error::Connect { side, .. } if *side == "source" => FailureClass::Source,
            Error::Connect { .. } | Error::Archive { .. } => FailureClass::Destination,
            Error::Database {
                transient: true, ..
            }
            | Error::Locked { .. }
            | Error::ShardsMissing { .. }
            | Error::AlreadyCommitted { .. } => FailureClass::Transient,
            Error::Database { context, .. } if destination_words(context) => {
                FailureClass::Destination
            }
            Error::Database { .. } => FailureClass::Source,
            Error::Column { .. } | Error::Value { .. } | Error::Batch { .. } | Error::Check(_) => {
                FailureClass::Data
            }
            Error::Interrupted { .. } => FailureClass::Interrupted,
        }
    }
}

/// The error's text as one line (whitespace runs joined, at most [`MAX_ERROR_BYTES`]).
/// Errors are redacted where they are made; this adds nothing to them.
pub fn one_line(text: &str) -> String {
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() > MAX_ERROR_BYTES {
        let mut cut = MAX_ERROR_BYTES - 3;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str("...");
    }
    line
}

/// A short, stable hash of a staging schema (names, types, nullability) for
/// `sync_metadata.schema_hash`: it changes when the table's shape changes.
pub fn schema_hash(schema: &arrow::datatypes::Schema) -> String {
    let text: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{}:{}:{}", f.name(), f.data_type(), f.is_nullable()))
        .collect();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(text.join("\n").as_bytes());
    hex::encode(&digest[..16])
}

/// One table's row in `etl_logs` (and its `sync_metadata` update).
#[derive(Debug, Clone)]
pub struct TableLogRow {
    /// As listed in `SRC_TABLES`.
    pub source_table: String,
    /// The staging schema of the load (`LoadTarget::schema`).
    pub staging_schema: Option<String>,
    pub staging_table: String,
    /// `replace`, `truncate`, `append`.
    pub write_mode: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub records_extracted: u64,
    pub records_loaded: u64,
    /// Tries of the table (1 when it went through at once).
    pub attempts: u32,
    /// Parquet bytes and parts (DUMP and CONNECTORX); `None` in DIRECT mode.
    pub bytes: Option<u64>,
    pub parts: Option<u64>,
    /// [`schema_hash`] of the staging schema.
    pub schema_hash: Option<String>,
    /// `None`: the table succeeded.
    pub failure: Option<(FailureClass, String)>,
    /// An incremental (or merge) table's state, written with its `ok` row.
    pub sync: Option<SyncState>,
}

impl TableLogRow {
    /// A row for the table loaded into `target`, started at `started_at`, ending now.
    pub fn new(source_table: &str, target: &LoadTarget, started_at: DateTime<Utc>) -> Self {
        TableLogRow {
            source_table: source_table.to_string(),
            staging_schema: target.schema.clone(),
            staging_table: target.table.clone(),
            write_mode: target.write_mode.name().to_string(),
            started_at,
            ended_at: Utc::now(),
            records_extracted: 0,
            records_loaded: 0,
            attempts: 1,
            bytes: None,
            parts: None,
            schema_hash: None,
            failure: None,
            sync: None,
        }
    }

    /// The table succeeded with `rows` read and loaded; it ends now.
    pub fn ok(mut self, rows: u64) -> Self {
        self.records_extracted = rows;
        self.records_loaded = rows;
        self.failure = None;
        self.ended_at = Utc::now();
        self
    }

    /// The table failed with `e` (class from [`FailureClass::of`]); it ends now.
    pub fn failed(self, e: &Error) -> Self {
        self.failed_as(FailureClass::of(e), &format!("{e:#}"))
    }

    /// The table failed, with the class and message given; it ends now.
    pub fn failed_as(mut self, class: FailureClass, message: &str) -> Self {
        self.records_loaded = 0;
        self.failure = Some((class, one_line(message)));
        self.ended_at = Utc::now();
        self
    }

    pub fn seconds(&self) -> f64 {
        (self.ended_at - self.started_at)
            .to_std()
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// How a run ended, for [`RunLog::finish`](super::RunLog::finish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    pub status: RunStatus,
    pub exit_code: i32,
    pub tables_total: u64,
    pub tables_ok: u64,
    pub tables_failed: u64,
    pub rows_total: u64,
    pub bytes_total: Option<u64>,
    pub manifest_path: Option<String>,
}

impl RunEnd {
    /// The end from the exit code and counts; the status by [`RunStatus::of`].
    pub fn new(exit_code: i32, tables_ok: u64, tables_failed: u64, rows_total: u64) -> Self {
        RunEnd {
            status: RunStatus::of(exit_code, tables_ok, tables_failed),
            exit_code,
            tables_total: tables_ok + tables_failed,
            tables_ok,
            tables_failed,
            rows_total,
            bytes_total: None,
            manifest_path: None,
        }
    }
}

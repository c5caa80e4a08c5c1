//! Typed errors at the seams. Every variant names what a user needs to fix:
//! the `[section] KEY`, the table, the column or the row.
//!
//! `main` maps them to the documented exit codes (see [`Error::exit_code`]).

use std::fmt;

/// A boxed driver error kept as the `source()` of our own error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Failure kinds that change the run's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Config,
    /// Another run holds the staging table's lock (exit code 4 when alone).
    Locked,
    /// Stopped by a signal (exit code 128 + N).
    Interrupted,
    Other,
}

#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// Bad configuration or usage: nothing was moved. Exit code 2.
    #[error("{0}")]
    Config(String),

    /// A database (or the archive store) could not be reached. Exit code 3.
    #[error("cannot connect to the {side} database ({target}): {message}")]
    Connect {
        side: &'static str,
        /// Driver, host and database — never credentials.
        target: String,
        message: String,
    },

    /// A table listed in `SRC_TABLES` does not exist in the source.
    #[error("table {table}: not found in the source{hint}")]
    TableNotFound { table: String, hint: String },

    /// A column whose type or name cannot be staged.
    #[error("table {table}, column {column}: {message}")]
    Column {
        table: String,
        column: String,
        message: String,
    },

    /// A value that cannot be represented losslessly. `row` counts from 1 in read order.
    #[error("table {table}, column {column}, row {row}: {message}")]
    Value {
        table: String,
        column: String,
        row: u64,
        message: String,
    },

    /// A database statement failed. `transient` errors (lost connection, deadlock,
    /// serialization failure) may be retried in DIRECT mode; timeouts are not. The message
    /// keeps the server's own words: its message, SQLSTATE or error number, detail and hint.
    #[error("{context}: {}", server_words(source.as_ref()))]
    Database {
        context: String,
        transient: bool,
        #[source]
        source: BoxError,
    },

    /// Reading or writing the Parquet archive or the manifest failed.
    #[error("{context}: {}", server_words(source.as_ref()))]
    Archive {
        context: String,
        #[source]
        source: BoxError,
    },

    /// Arrow refused to assemble a RecordBatch from the columns a source built: an internal
    /// inconsistency between a type table and its reader, never the data's fault.
    #[error("{context}: {source}")]
    Batch {
        context: String,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// A run-time condition we checked ourselves (row counts, hashes, ...).
    #[error("{0}")]
    Check(String),

    /// The staging table is being loaded by another run: nothing was done to it.
    /// Exit code 4 when this is the run's only kind of failure.
    #[error("staging table {table} is locked by another run{holder}; nothing was done to it (wait for that run, or let this one wait with [settings] LOCK_WAIT_SECONDS)")]
    Locked {
        table: String,
        /// ` (held by …)` where the database tells who holds it, else empty.
        holder: String,
    },

    /// `stage commit --wait`: shards of the run had not written their shard files in time.
    /// Exit code 5.
    #[error("run {run_id}: shard(s) {missing} of {shards} have not finished after waiting {waited_seconds} s (no shard file in {where_}); nothing was committed — start or retry those shards, then run stage commit again")]
    ShardsMissing {
        run_id: String,
        missing: String,
        shards: usize,
        waited_seconds: u64,
        where_: String,
    },

    /// `stage commit`: the run's manifest exists already (another committer wrote it).
    /// Exit code 4: nothing was done.
    #[error("run {run_id} is already committed ({manifest} exists): nothing was done by this commit; to load it again: stage load --manifest {manifest}")]
    AlreadyCommitted { run_id: String, manifest: String },

    /// SIGINT or SIGTERM arrived: the table in flight was abandoned like a failed one.
    #[error("interrupted by {}: the table in flight was abandoned and the old staging table kept", signal_name(*.signal))]
    Interrupted { signal: i32 },
}

/// The name of a signal we handle, for messages.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        2 => "SIGINT",
        15 => "SIGTERM",
        1 => "SIGHUP",
        _ => "a signal",
    }
}

/// A driver error as one line that keeps the server's words: the error and each of its
/// causes, joined by `: ` (repeats skipped). PostgreSQL's server errors (whose own
/// `Display` is only "db error") show their message, SQLSTATE, detail and hint.
pub fn server_words(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = match err.downcast_ref::<tokio_postgres::error::DbError>() {
            Some(db) => {
                let mut t = format!("{} (SQLSTATE {})", db.message(), db.code().code());
                if let Some(d) = db.detail() {
                    t.push_str(&format!("; detail: {d}"));
                }
                if let Some(h) = db.hint() {
                    t.push_str(&format!("; hint: {h}"));
                }
                t
            }
            None => err.to_string(),
        };
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        // tokio-postgres says only "db error" above the server's own error.
        let filler = text == "db error" && err.source().is_some();
        if !filler && !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

impl Error {
    pub fn config(message: impl fmt::Display) -> Self {
        Error::Config(message.to_string())
    }

    pub fn column(table: &str, column: &str, message: impl fmt::Display) -> Self {
        Error::Column {
            table: table.to_string(),
            column: column.to_string(),
            message: message.to_string(),
        }
    }

    pub fn value(table: &str, column: &str, row: u64, message: impl fmt::Display) -> Self {
        Error::Value {
            table: table.to_string(),
            column: column.to_string(),
            row,
            message: message.to_string(),
        }
    }

    pub fn database(
        context: impl fmt::Display,
        transient: bool,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Database {
            context: context.to_string(),
            transient,
            source: source.into(),
        }
    }

    /// A RecordBatch could not be built for `table` (see [`Error::Batch`]).
    pub fn batch(table: &str, source: arrow::error::ArrowError) -> Self {
        Error::Batch {
            context: format!("table {table}: building a batch"),
            source,
        }
    }

    pub fn archive(context: impl fmt::Display, source: impl Into<BoxError>) -> Self {
        Error::Archive {
            context: context.to_string(),
            source: source.into(),
        }
    }

    /// Whether DIRECT mode may retry the failed batch.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Database {
                transient: true,
                ..
            }
        )
    }

    /// The documented exit code for an error that ends the whole run.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => 2,
            Error::Connect { .. } => 3,
            Error::Locked { .. } | Error::AlreadyCommitted { .. } => 4,
            Error::ShardsMissing { .. } => 5,
            Error::Interrupted { signal } => 128 + signal,
            _ => 1,
        }
    }

    /// What kind of failure this is, for the run's exit code and the run log.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Config(_) => ErrorClass::Config,
            Error::Locked { .. } => ErrorClass::Locked,
            Error::Interrupted { .. } => ErrorClass::Interrupted,
            _ => ErrorClass::Other,
        }
    }
}

//! Typed errors at the seams. Every variant names what a user needs to fix:
//! the `[section] KEY`, the table, the column or the row.
//!
//! `main` maps them to the documented exit codes (see [`Error::exit_code`]).

use std::fmt;

/// A boxed driver error kept as the `source()` of our own error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
    /// serialization failure, lock timeout) may be retried in DIRECT mode.
    #[error("{context}: {source}")]
    Database {
        context: String,
        transient: bool,
        #[source]
        source: BoxError,
    },

    /// Reading or writing the Parquet archive or the manifest failed.
    #[error("{context}: {source}")]
    Archive {
        context: String,
        #[source]
        source: BoxError,
    },

    /// A run-time condition we checked ourselves (row counts, hashes, ...).
    #[error("{0}")]
    Check(String),
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
            _ => 1,
        }
    }
}

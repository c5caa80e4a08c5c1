//! Talking to each database server: connecting, classifying its errors (transient or not),
//! asking its version. This is the one place that does so for each database, beneath both
//! sides: the sources (`source::*`) and the loaders (`load::*`) import from here, never
//! from each other.
//!
//! SQLite (a file, no server) keeps its two small error mappings in its source and loader;
//! Oracle is read only: its connect strings, error classification and catalog SQL are in
//! [`oracle`] (compiled without the `oracle` feature so their tests always run).

pub mod mssql;
pub mod mysql;
pub mod oracle;
pub mod postgres;

use std::time::Duration;

/// Time between TCP keepalive probes once one went unanswered (after
/// [`crate::config::KEEPALIVE_IDLE`] of silence), and how many go unanswered before the
/// kernel declares the connection dead: a vanished server ends a read in about
/// `KEEPALIVE_IDLE` + 1 minute instead of hanging.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
pub(crate) const KEEPALIVE_PROBES: u32 = 6;

/// A duration in seconds as a user writes it in the INI: `30`, `1.5`.
pub(crate) fn seconds(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The key to raise when a statement ran out of time, named in the error.
pub(crate) const STATEMENT_TIMEOUT_KEY: &str = "[settings] STATEMENT_TIMEOUT_SECONDS";
/// The key to raise when a lock wait ran out of time, named in the error.
pub(crate) const LOCK_TIMEOUT_KEY: &str = "[settings] LOCK_TIMEOUT_SECONDS";

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

//! # stage
//!
//! `stage` copies chosen tables from an application database into a staging ("bronze")
//! layer and can keep each run as an immutable Parquet archive.
//!
//! Arrow is the pivot. A [`source::Source`] fixes each table's Arrow schema from its
//! catalog before the first row and pushes RecordBatches; loaders
//! ([`load::Destination`]) take RecordBatches. N sources and M loaders, never N×M
//! converters.
//!
//! ```text
//!               ┌──────── DIRECT ─────────────────────────────────────┐
//!  Source ──▶ RecordBatch                                              ▼
//!  (catalog     │                                                 TableLoad ──▶ swap
//!   → schema)   └─ DUMP ─▶ PartWriter ─▶ parts ─▶ Manifest ─▶ load ──┘  (shadow table,
//!                          (roll every SRC_CHUNK_SIZE rows,               one transaction)
//!                           temp + rename, sha256)
//! ```
//!
//! * [`config`] — the INI + environment, parsed once into a typed [`config::Config`].
//! * [`source`] — one file per database; [`types`] holds the declarative type tables.
//! * [`archive`] — parts, manifest and the object store they are written through.
//! * [`load`] — staging DDL and bulk loading per destination.
//! * [`transfer`] — the modes, wiring the same pieces; retries; the atomic swap.

pub mod archive;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod demo;
pub mod dialect;
pub mod error;
pub mod interrupt;
pub mod load;
pub mod logging;
pub mod progress;
pub mod source;
pub mod transfer;
pub mod types;

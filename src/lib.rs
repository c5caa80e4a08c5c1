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
//! ## Layout (data flows down the list; each layer imports only from the ones below it)
//!
//! * [`commands`] — one function per CLI command; [`transfer`] — the run: DIRECT, DUMP,
//!   loading from a manifest, verify, retries, outcomes and exit codes.
//! * [`source`] (readers, one file per database, plus CONNECTORX) · [`archive`] (the store —
//!   a folder or, with feature `cloud`, a bucket —, part writer, manifest, part reader, debris,
//!   history, retention) · [`load`] (loaders, one file per database). A loader
//!   never imports a source, a source never imports a loader, the archive imports neither.
//! * [`runlog`] — the run log in the destination (`etl_runs`, `etl_logs`, `sync_metadata`):
//!   the run opens it, each table's `ok` row rides its loader's commit, `stage status`
//!   reads it. Above [`load`] (it hands loaders the rows to commit), beside [`monitoring`].
//! * [`incremental`] — an incremental table's window `(L, U]` and watermark: the SQL a
//!   source runs inside its snapshot ([`source::Source::snapshot`]); merge loads are
//!   [`load::merge`], schema drift [`load::drift`].
//! * [`db`] — per database: connecting, classifying errors (transient or not), the server
//!   version. Sources and loaders both use it.
//! * [`config`] — the INI + environment, parsed once into a typed [`config::Config`].
//! * [`types`] — the declarative type tables (catalog type → Arrow type, exact text forms,
//!   PostgreSQL wire formats) and [`dialect`] (`Driver`, identifier quoting): leaves.
//! * [`partial_file`] — a file written under a temporary name and renamed when complete
//!   (query output, the demo database, monitoring's files): a leaf.
//!
//! ## Vocabulary
//!
//! * **source** reads one table into RecordBatches; **loader** (a [`load::Destination`]
//!   and its per-table [`load::TableLoad`]) writes them into a **staging table**.
//! * **type table**: a database's catalog type → Arrow type rules (`types/<db>.rs`). Its
//!   answer for one column is a **`Mapping`** (Arrow type, a **`ReadAs`** saying how the
//!   source asks its driver for the value, and an optional note), the same idea in every
//!   table that needs more than the Arrow type.
//! * **column builder** ([`source::columns`]): Arrow builders a row source fills value by
//!   value; **column reader** ([`load::columns`]): the typed view a row loader reads value by
//!   value. The PostgreSQL COPY decoder and encoder keep their own (benchmarked hot paths).
//! * **part**: one Parquet file of at most SRC_CHUNK_SIZE rows; **manifest**: the run's list
//!   of parts with rows, sha256 and schema; a load takes its schema from the manifest.
//! * **shadow** / **retired**: the run-unique helper tables of a replace-mode swap.
//!
//! ## Concurrency
//!
//! Plain threads and bounded channels; no async runtime crosses a module boundary. For each
//! table the source runs on a reader thread and hands RecordBatches through a one-batch
//! `sync_channel` to the consumer (the loader in DIRECT, the part writer in DUMP), so memory
//! is bounded by chunk size, never by table size. The PostgreSQL source may read with
//! READ_CONNECTIONS threads (one connection and one batch channel each, joined by one
//! consumer). Async drivers stay behind blocking calls: tokio-postgres for the parallel read
//! and tiberius for SQL Server each run on a current-thread tokio runtime their owner blocks
//! on ([`db::postgres`], [`db::mssql`]); the archive writes through `object_store` on its own
//! small runtime ([`archive`]). A signal thread ([`interrupt`]) sets a flag the loops check
//! between batches.

pub mod archive;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod demo;
pub mod dialect;
pub mod error;
pub mod incremental;
pub mod interrupt;
pub mod load;
pub mod logging;
pub mod monitoring;
pub mod partial_file;
pub mod progress;
/// `stage query` / `stage diff`: DataFusion over the archive's committed runs (feature `query`).
#[cfg(feature = "query")]
pub mod query;
pub mod runlog;
pub mod shard;
pub mod source;
pub mod text_table;
pub mod transfer;
pub mod types;

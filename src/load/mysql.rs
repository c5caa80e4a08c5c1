//! MySQL / MariaDB staging. Column types follow `types::mysql`.
//!
//! - Database: `DST_DB`, created (utf8mb4, `utf8mb4_bin`) if missing; MySQL has no schemas
//!   inside a database, so `DST_SCHEMA` is only used as the database name when `DST_DB`
//!   is unset, and ignored (with an info line) otherwise.
//! - Session: `time_zone = '+00:00'`, utf8mb4, `sql_mode = STRICT_ALL_TABLES,…` so a value
//!   that does not fit is an error, never a warning with a changed value.
//! - Rows go in as large multi-row `INSERT … VALUES` statements with escaped literals
//!   (binary as hex), each statement below the server's `max_allowed_packet`.
//! - `replace`: the shadow table is loaded (each batch its own transaction, so a batch is
//!   whole or absent and a transient failure can be retried, after reconnecting if the
//!   connection was lost), then swapped in with one atomic
//!   `RENAME TABLE t TO <retired>, <shadow> TO t` and the old one dropped (helper names
//!   are unique to the run: `load::helper_name`). A table that does not exist yet is
//!   built the same way in every write mode, since MySQL's DDL commits.
//! - `truncate` and `append`: one transaction (`DELETE`, not `TRUNCATE`, which would
//!   commit), a savepoint per batch; readers see the old rows until `COMMIT`. A deadlock
//!   or lost connection there rolls back the whole transaction, so it is not retried.

mod infile;
mod insert;
mod merge;
mod prepare;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use mysql::prelude::Queryable;
use mysql::{Conn, Row};

use super::{Destination, LoadReport, LoadTarget, RunLogRows, TableLoad};
use crate::config::{Endpoint, WriteMode};
use crate::db::mysql::{self as db, connect, db_err, is_transient, take};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types;

const D: Dialect = Dialect::Mysql;

pub(crate) const SESSION_INIT: &[&str] = &[
    "SET time_zone = '+00:00'",
    "SET NAMES utf8mb4",
    "SET sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'",
];

/// Upper bound for one INSERT statement's text, below `max_allowed_packet`.
const MAX_STATEMENT_BYTES: usize = 16 << 20;

pub struct MysqlDestination {
    conn: Conn,
    endpoint: Endpoint,
    database: String,
    statement_bytes: usize,
    /// Rows go in through `LOAD DATA LOCAL INFILE` (else multi-row `INSERT`, when the
    /// server refuses local files).
    local_infile: bool,
}

/// The staging database: `DST_DB`, else `DST_SCHEMA` (MySQL has no schemas inside a
/// database).
pub(crate) fn staging_database(endpoint: &Endpoint) -> Result<String> {
    match (&endpoint.database, &endpoint.schema) {
        (Some(db), _) => Ok(db.clone()),
        (None, Some(schema)) => Ok(schema.clone()),
        (None, None) => Err(Error::config(format!(
            "{} is required for {}: the staging database",
            endpoint.key("DB"),
            endpoint.driver
        ))),
    }
}

impl MysqlDestination {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let database = staging_database(endpoint)?;
        if let (Some(db), Some(s)) = (&endpoint.database, &endpoint.schema) {
            tracing::info!("[database-destination] DST_SCHEMA = \"{s}\" is not used for {}: it has no schemas inside a database, staging tables go into DST_DB ({db})", endpoint.driver);
        }
        let mut conn = connect(endpoint, "destination", None, SESSION_INIT)?;
        let create = format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            D.quote(&database)
        );
        if let Err(e) = conn.query_drop(&create) {
            tracing::warn!(database = %database, error = %e, "could not create the staging database; going on in case it exists");
        }
        conn.select_db(&database).map_err(|e| Error::Connect {
            side: "destination",
            target: endpoint.describe(),
            message: format!("cannot use database {database}: {e}"),
        })?;
        let packet: Option<Row> = conn
            .query_first("SELECT @@max_allowed_packet")
            .map_err(db_err("reading max_allowed_packet"))?;
        let packet: u64 = match packet {
            Some(mut r) => take(&mut r, 0, "max_allowed_packet")?,
            None => 4 << 20,
        };
        let statement_bytes = usize::try_from(packet)
            .unwrap_or(usize::MAX)
            .saturating_sub(64 << 10)
            .clamp(64 << 10, MAX_STATEMENT_BYTES);
        let local_infile = local_infile_allowed(&mut conn, endpoint);
        Ok(MysqlDestination {
            conn,
            endpoint: endpoint.clone(),
            database,
            statement_bytes,
            local_infile,
        })
    }

    /// Column names of a table in the staging database, empty when it does not exist.
    fn existing_columns(&mut self, table: &str) -> Result<Vec<String>> {
        let rows: Vec<Row> = self
            .conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (self.database.as_str(), table),
            )
            .map_err(db_err(format!(
                "staging table {table}: reading the catalog"
            )))?;
        rows.into_iter()
            .map(|mut r| take(&mut r, 0, "COLUMN_NAME"))
            .collect()
    }

    fn create_sql(table: &str, schema: &SchemaRef) -> Result<String> {
        let mut cols = Vec::new();
        for f in schema.fields() {
            let ty = types::mysql::ddl_type(f.data_type())
                .map_err(|m| Error::column(table, f.name(), m))?;
            let null = if f.is_nullable() {
                " NULL"
            } else {
                " NOT NULL"
            };
            cols.push(format!("{} {ty}{null}", D.quote(f.name())));
        }
        Ok(format!(
            "CREATE TABLE {} ({}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            D.quote(table),
            cols.join(", ")
        ))
    }

    fn count(&mut self, table: &str) -> Result<u64> {
        let ctx = format!("staging table {table}: counting rows");
        let mut row: Row = self
            .conn
            .query_first(format!("SELECT count(*) FROM {}", D.quote(table)))
            .map_err(db_err(&ctx))?
            .ok_or_else(|| Error::Check(format!("{ctx}: no row")))?;
        take(&mut row, 0, "count")
    }

    fn run(&mut self, sql: &str, ctx: &str) -> Result<()> {
        self.conn.query_drop(sql).map_err(db_err(ctx))
    }
}

impl Destination for MysqlDestination {
    fn server_version(&mut self) -> Result<String> {
        let v = db::server_version(&mut self.conn)?;
        Ok(format!(
            "{} {v} (database {})",
            self.endpoint.driver, self.database
        ))
    }

    fn begin<'a>(
        &'a mut self,
        target: &LoadTarget,
        schema: &SchemaRef,
    ) -> Result<Box<dyn TableLoad + 'a>> {
        let table = target.table.clone();
        let pending = merge::pending(target, schema)?;
        let create = match &pending {
            Some(p) => p.create.clone(),
            None => Self::create_sql(&table, schema)?,
        };
        let lock = self.lock(target)?;
        let prepared = self.prepare(target, schema, &create);
        let (wanted, mode, load_into, rows_before) = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.unlock(&lock);
                return Err(e);
            }
        };
        let cols: Vec<String> = wanted.iter().map(|c| D.quote(c)).collect();
        let insert_head = format!(
            "INSERT INTO {} ({}) VALUES ",
            D.quote(&load_into),
            cols.join(", ")
        );
        let load_sql = infile::load_sql(&D.quote(&load_into), &cols);
        Ok(Box::new(MysqlLoad {
            load_sql,
            dst: self,
            table,
            retired: target.retired(IDENTIFIER_BYTES),
            lock,
            load_into,
            mode,
            insert_head,
            rows_before,
            rows_written: 0,
            open: true,
            broken: false,
            log_rows: RunLogRows::default(),
            merge: pending,
            schema_changes: Vec::new(),
        }))
    }

    fn count_rows(&mut self, target: &LoadTarget) -> Result<Option<u64>> {
        if self.existing_columns(&target.table)?.is_empty() {
            return Ok(None);
        }
        self.count(&target.table).map(Some)
    }
}

/// The longest table name MySQL and MariaDB accept (64 characters; counted in bytes here).
const IDENTIFIER_BYTES: usize = 64;

struct MysqlLoad<'a> {
    dst: &'a mut MysqlDestination,
    table: String,
    /// The name the old table takes during the swap.
    retired: String,
    /// The staging table's named lock, held by this session.
    lock: String,
    load_into: String,
    mode: WriteMode,
    insert_head: String,
    /// The `LOAD DATA LOCAL INFILE` statement of each batch.
    load_sql: String,
    rows_before: u64,
    rows_written: u64,
    /// The load has neither committed nor been cleaned up.
    open: bool,
    /// The connection was lost (replace mode reconnects before a retry).
    broken: bool,
    /// The run log's rows: written in the load's transaction (truncate, append), or in one
    /// of their own right after the swap's `RENAME TABLE`, which commits implicitly (replace).
    log_rows: RunLogRows,
    /// A merge load's key and the staging table it creates (`merge`).
    merge: Option<merge::Pending>,
    /// What a merge changed of the staging table's columns.
    schema_changes: Vec<String>,
}

impl MysqlLoad<'_> {
    /// Opens a new connection after a lost one and takes the staging table's lock again
    /// (the server released it with the old session).
    fn reconnect(&mut self) -> Result<()> {
        let mut conn = connect(&self.dst.endpoint, "destination", None, SESSION_INIT)?;
        conn.select_db(&self.dst.database)
            .map_err(db_err("reconnecting to the staging database"))?;
        self.dst.conn = conn;
        self.broken = false;
        let ctx = format!("staging table {}: taking its lock again", self.table);
        let got: Option<Option<i64>> = self
            .dst
            .conn
            .exec_first("SELECT GET_LOCK(?, 0)", (self.lock.as_str(),))
            .map_err(db_err(&ctx))?;
        if got.flatten() != Some(1) {
            return Err(Error::Locked {
                table: self.table.clone(),
                holder: " (taken while this run reconnected)".into(),
            });
        }
        Ok(())
    }
}

/// Whether the server takes `LOAD DATA LOCAL INFILE` (`@@local_infile`); if not, rows go
/// in as `INSERT` statements, with a warning naming the variable.
fn local_infile_allowed(conn: &mut Conn, endpoint: &Endpoint) -> bool {
    let on: Option<Option<i64>> = conn.query_first("SELECT @@local_infile").unwrap_or(None);
    let on = on.flatten().is_none_or(|v| v != 0);
    if !on {
        tracing::warn!(target = %endpoint.describe(), "the server has local_infile = OFF: rows are loaded with INSERT statements, about half as fast as LOAD DATA LOCAL INFILE (SET GLOBAL local_infile = ON to allow it)");
    }
    on
}

impl MysqlLoad<'_> {
    /// Writes `batch` with `LOAD DATA LOCAL INFILE`, or `INSERT` when the server refuses
    /// it (then for every later batch too); returns the rows the server reports.
    fn write_rows(&mut self, batch: &RecordBatch) -> Result<u64> {
        if self.dst.local_infile {
            match self.load_data(batch) {
                Err(e) if infile::refused(&e) => {
                    tracing::warn!(table = %self.table, "the server refuses LOAD DATA LOCAL INFILE ({e}): loading with INSERT statements instead");
                    self.dst.local_infile = false;
                }
                other => return other,
            }
        }
        self.insert(batch)
    }
}

/// Whether an error means the connection is gone.
fn lost_connection(e: &Error) -> bool {
    match e {
        Error::Database { source, .. } => match source.downcast_ref::<mysql::Error>() {
            Some(mysql::Error::IoError(_) | mysql::Error::CodecError(_)) => true,
            Some(mysql::Error::MySqlError(m)) => matches!(m.code, 2006 | 2013 | 1927 | 4031),
            _ => false,
        },
        _ => false,
    }
}

impl TableLoad for MysqlLoad<'_> {
    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let ctx = format!("staging table {}: inserting rows", self.table);
        let result = if matches!(self.mode, WriteMode::Replace | WriteMode::Merge) {
            // Each batch its own transaction on the shadow (or merge side) table.
            if self.broken {
                self.reconnect()?;
                // Did the COMMIT whose acknowledgement was lost go through?
                let have = self.dst.count(&self.load_into)?;
                let n = batch.num_rows() as u64;
                if super::batch_landed(&self.table, have, self.rows_written, n)? {
                    self.rows_written += n;
                    return Ok(());
                }
            }
            // A lost connection may show first here: it goes through the handling below.
            match self.dst.run("START TRANSACTION", &ctx) {
                Err(e) => Err(e),
                Ok(()) => match self.write_rows(batch) {
                    Ok(n) => self.dst.run("COMMIT", &ctx).map(|()| n),
                    Err(e) => {
                        let _ = self.dst.conn.query_drop("ROLLBACK");
                        Err(e)
                    }
                },
            }
        } else {
            self.dst.run("SAVEPOINT stage_batch", &ctx)?;
            match self.write_rows(batch) {
                Ok(n) => self
                    .dst
                    .run("RELEASE SAVEPOINT stage_batch", &ctx)
                    .map(|_| n),
                Err(e) => {
                    let _ = self
                        .dst
                        .conn
                        .query_drop("ROLLBACK TO SAVEPOINT stage_batch");
                    Err(e)
                }
            }
        };
        match result {
            Ok(n) if n == batch.num_rows() as u64 => {
                self.rows_written += n;
                Ok(())
            }
            Ok(n) => Err(Error::Check(format!(
                "staging table {}: the server reports {n} rows inserted for a batch of {}",
                self.table,
                batch.num_rows()
            ))),
            Err(e) => {
                let lost = lost_connection(&e);
                if matches!(self.mode, WriteMode::Replace | WriteMode::Merge) {
                    self.broken = lost;
                    Err(e)
                } else {
                    // Inside the table's one transaction a deadlock or a lost connection
                    // has rolled back every earlier batch too: not retryable.
                    let whole_tx_gone = lost
                        || matches!(&e, Error::Database { source, .. }
                            if matches!(source.downcast_ref::<mysql::Error>(),
                                Some(mysql::Error::MySqlError(m)) if m.code == 1213));
                    match e {
                        Error::Database {
                            context, source, ..
                        } if whole_tx_gone => Err(Error::Database {
                            context: format!("{context} (the load's transaction was rolled back)"),
                            transient: false,
                            source,
                        }),
                        other => Err(other),
                    }
                }
            }
        }
    }

    fn commit(mut self: Box<Self>, rows_read: u64) -> Result<LoadReport> {
        let load_into = self.load_into.clone();
        let counted = self.dst.count(&load_into)?;
        let loaded = counted.saturating_sub(self.rows_before);
        if loaded != rows_read || loaded != self.rows_written {
            return Err(Error::Check(format!(
                "staging table {}: {loaded} rows loaded but {rows_read} read; the load was abandoned and the old table kept",
                self.table
            )));
        }
        let ctx = format!("staging table {}: swapping in the new table", self.table);
        if self.mode == WriteMode::Merge {
            self.commit_merge(loaded)?;
        } else if self.mode == WriteMode::Replace {
            let table = self.table.clone();
            let old = self.retired.clone();
            let exists = !self.dst.existing_columns(&table)?.is_empty();
            if exists {
                self.dst.run(
                    &format!(
                        "RENAME TABLE {} TO {}, {} TO {}",
                        D.quote(&table),
                        D.quote(&old),
                        D.quote(&load_into),
                        D.quote(&table)
                    ),
                    &ctx,
                )?;
                self.open = false;
                self.write_log_rows(true);
                crate::interrupt::pause_point("swap");
                if let Err(e) = self.dst.run(&format!("DROP TABLE {}", D.quote(&old)), &ctx) {
                    tracing::warn!(table = %old, error = %e, "the new staging table is in place but the old one could not be dropped");
                }
            } else {
                self.dst.run(
                    &format!(
                        "RENAME TABLE {} TO {}",
                        D.quote(&load_into),
                        D.quote(&table)
                    ),
                    &ctx,
                )?;
                self.open = false;
                self.write_log_rows(true);
            }
        } else {
            self.write_log_rows(false);
            crate::interrupt::pause_point("swap");
            self.dst.run("COMMIT", &ctx)?;
            self.open = false;
        }
        Ok(LoadReport {
            rows: loaded,
            nul_stripped: Vec::new(),
            schema_changes: std::mem::take(&mut self.schema_changes),
        })
    }

    fn log_on_commit(&mut self, rows: RunLogRows) {
        self.log_rows = rows;
    }
}

impl MysqlLoad<'_> {
    /// Writes the run log's rows: in a transaction of their own after the swap's
    /// `RENAME TABLE` (`own_transaction`; MySQL's DDL commits, so they cannot share it), else
    /// inside the load's open transaction under a savepoint. A failure is rolled back and
    /// logged; the load still commits.
    fn write_log_rows(&mut self, own_transaction: bool) {
        let rows = std::mem::take(&mut self.log_rows);
        if rows.is_empty() {
            return;
        }
        let (begin, end, undo) = if own_transaction {
            ("START TRANSACTION", "COMMIT", "ROLLBACK")
        } else {
            (
                "SAVEPOINT stage_run_log",
                "RELEASE SAVEPOINT stage_run_log",
                "ROLLBACK TO SAVEPOINT stage_run_log",
            )
        };
        let mut run = || -> std::result::Result<(), mysql::Error> {
            self.dst.conn.query_drop(begin)?;
            for sql in &rows.statements {
                self.dst.conn.query_drop(sql)?;
            }
            self.dst.conn.query_drop(end)
        };
        if let Err(e) = run() {
            let _ = self.dst.conn.query_drop(undo);
            tracing::warn!(table = %self.table, "the run log's row could not be written with the swap (the load goes on): {e}");
        }
    }
}

impl Drop for MysqlLoad<'_> {
    fn drop(&mut self) {
        let lock = self.lock.clone();
        if !self.open {
            self.dst.unlock(&lock);
            return;
        }
        let side = matches!(self.mode, WriteMode::Replace | WriteMode::Merge);
        let cleanup = if side {
            format!("DROP TABLE IF EXISTS {}", D.quote(&self.load_into))
        } else {
            "ROLLBACK".to_string()
        };
        if self.broken && side && self.reconnect().is_err() {
            return;
        }
        if let Err(e) = self.dst.conn.query_drop(&cleanup) {
            tracing::warn!(table = %self.table, error = %e, transient = is_transient(&e), "cleaning up an abandoned load failed");
        }
        self.dst.unlock(&lock);
    }
}

//! SQLite staging (the embedded default). Every write mode runs in one transaction, so
//! the table readers see is the old one until `COMMIT`, for `replace`, `truncate` and
//! `append` alike. Value forms follow `types::sqlite`.

use arrow::array::Array;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::Connection;
use std::time::Duration;

use super::columns::{utc_datetime, Binary, ColumnReader, Unsigned, Values};
use super::{Destination, LoadReport, LoadTarget, RunLogRows, TableLoad};
use crate::config::{Endpoint, WriteMode};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types;

mod merge;

const D: Dialect = Dialect::Sqlite;

pub struct SqliteDestination {
    conn: Connection,
    path: String,
    /// How long a statement waits for SQLite's file lock: `[settings] LOCK_TIMEOUT_SECONDS`.
    busy: Duration,
}

/// A busy file (another connection kept SQLite's lock past `LOCK_TIMEOUT_SECONDS`) is a
/// lock timeout: not retried, and the key to raise is named.
fn db_err(context: impl std::fmt::Display) -> impl FnOnce(rusqlite::Error) -> Error {
    let context = context.to_string();
    move |e| {
        let context = if is_busy(&e) {
            format!(
                "{context} (timed out: raise {})",
                crate::db::LOCK_TIMEOUT_KEY
            )
        } else {
            context
        };
        Error::database(context, false, e)
    }
}

/// Another connection kept SQLite's lock past the busy timeout.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// The busy timeout for a lock timeout; none is SQLite's longest wait (about 24 days).
fn busy_timeout(lock: Option<Duration>) -> Duration {
    let longest = Duration::from_millis(i32::MAX as u64);
    lock.map_or(longest, |d| d.min(longest))
}

impl SqliteDestination {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let path = endpoint.database.clone().unwrap_or_default();
        if let Some(dir) = std::path::Path::new(&path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| Error::Connect {
                    side: "destination",
                    target: endpoint.describe(),
                    message: format!("cannot create the folder {}: {e}", dir.display()),
                })?;
            }
        }
        let conn = Connection::open(&path).map_err(|e| Error::Connect {
            side: "destination",
            target: endpoint.describe(),
            message: e.to_string(),
        })?;
        let busy = busy_timeout(endpoint.timeouts.lock);
        conn.busy_timeout(busy)
            .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
            .map_err(|e| Error::Connect {
                side: "destination",
                target: endpoint.describe(),
                message: if is_busy(&e) {
                    format!("{e} (timed out: raise {})", crate::db::LOCK_TIMEOUT_KEY)
                } else {
                    e.to_string()
                },
            })?;
        if endpoint.schema.is_some() {
            tracing::info!("[database-destination] DST_SCHEMA is ignored for SQLite, which has no schemas: staging tables go into the database file");
        }
        Ok(SqliteDestination { conn, path, busy })
    }

    fn existing_columns(&self, table: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA table_info({})", D.quote_literal(table)))
            .map_err(db_err(format!(
                "staging table {table}: reading the catalog"
            )))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(1))
            .and_then(|rows| rows.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(db_err(format!(
                "staging table {table}: reading the catalog"
            )))?;
        Ok(names)
    }

    fn create_sql(table: &str, schema: &SchemaRef) -> Result<String> {
        let mut cols = Vec::new();
        for f in schema.fields() {
            let ty = types::sqlite::ddl_type(f.data_type())
                .map_err(|m| Error::column(table, f.name(), m))?;
            let null = if f.is_nullable() { "" } else { " NOT NULL" };
            cols.push(format!("{} {ty}{null}", D.quote(f.name())));
        }
        Ok(format!(
            "CREATE TABLE {} ({})",
            D.quote(table),
            cols.join(", ")
        ))
    }
}

impl Destination for SqliteDestination {
    fn server_version(&mut self) -> Result<String> {
        Ok(format!("SQLite {} ({})", rusqlite::version(), self.path))
    }

    fn begin<'a>(
        &'a mut self,
        target: &LoadTarget,
        schema: &SchemaRef,
    ) -> Result<Box<dyn TableLoad + 'a>> {
        let table = target.table.clone();
        let plain = Self::create_sql(&table, schema)?;
        let merge_spec = match target.write_mode {
            WriteMode::Merge => Some(super::merge::spec(target, schema)?.clone()),
            _ => target.merge.clone(),
        };
        let create = merge::with_key(&plain, merge_spec.as_ref());
        let existing = self.existing_columns(&table)?;
        let wanted = super::check_kept_columns(target, &existing, schema)?;
        // SQLite has no length limit; 128 keeps helper names readable.
        let shadow = target.shadow(128);
        let load_into = match target.write_mode {
            WriteMode::Replace | WriteMode::Merge => shadow.clone(),
            _ => table.clone(),
        };
        self.lock(target)?;
        let mut load = SqliteLoad {
            conn: &self.conn,
            table: table.clone(),
            load_into: load_into.clone(),
            mode: target.write_mode,
            insert_sql: String::new(),
            rows_before: 0,
            rows_written: 0,
            open: true,
            log_rows: RunLogRows::default(),
            create: create.clone(),
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            merge: merge_spec,
            schema_changes: Vec::new(),
        };
        let setup = || -> Result<u64> {
            let c = &load.conn;
            let ctx = format!("staging table {table}: preparing");
            match target.write_mode {
                WriteMode::Merge => {
                    let side = plain.replacen(&D.quote(&table), &D.quote(&shadow), 1);
                    c.execute_batch(&side).map_err(db_err(&ctx))?;
                    Ok(0)
                }
                WriteMode::Replace => {
                    let create_shadow = create.replacen(&D.quote(&table), &D.quote(&shadow), 1);
                    c.execute_batch(&create_shadow).map_err(db_err(&ctx))?;
                    Ok(0)
                }
                WriteMode::Truncate | WriteMode::Append => {
                    if existing.is_empty() {
                        c.execute_batch(&create).map_err(db_err(&ctx))?;
                    }
                    let added = super::drift::appended(target, &existing, schema, |f| {
                        types::sqlite::ddl_type(f.data_type())
                            .map_err(|m| Error::column(&table, f.name(), m))
                    })?;
                    for (name, ty) in &added {
                        c.execute_batch(&format!(
                            "ALTER TABLE {} ADD COLUMN {} {ty}",
                            D.quote(&table),
                            D.quote(name)
                        ))
                        .map_err(db_err(&ctx))?;
                    }
                    if target.write_mode == WriteMode::Truncate {
                        c.execute_batch(&format!("DELETE FROM {}", D.quote(&table)))
                            .map_err(db_err(&ctx))?;
                    }
                    count(c, &table)
                }
            }
        };
        load.rows_before = setup()?;
        let placeholders = vec!["?"; wanted.len()].join(", ");
        let cols: Vec<String> = wanted.iter().map(|c| D.quote(c)).collect();
        load.insert_sql = format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            D.quote(&load_into),
            cols.join(", ")
        );
        Ok(Box::new(load))
    }

    fn count_rows(&mut self, target: &LoadTarget) -> Result<Option<u64>> {
        if self.existing_columns(&target.table)?.is_empty() {
            return Ok(None);
        }
        count(&self.conn, &target.table).map(Some)
    }
}

impl SqliteDestination {
    /// The load's write transaction is the staging table's lock (SQLite has one writer per
    /// file): `BEGIN IMMEDIATE`, waiting up to `LOCK_WAIT_SECONDS` for another writer.
    fn lock(&mut self, target: &LoadTarget) -> Result<()> {
        let ctx = format!("staging table {}: starting the load", target.table);
        let timeouts = |c: &Connection, t: Duration| c.busy_timeout(t).map_err(db_err(&ctx));
        timeouts(&self.conn, target.lock_wait)?;
        let begun = self.conn.execute_batch("BEGIN IMMEDIATE");
        timeouts(&self.conn, self.busy)?;
        match begun {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy)
                ) =>
            {
                Err(Error::Locked {
                    table: target.table.clone(),
                    holder: format!(" (another writer holds {})", self.path),
                })
            }
            Err(e) => Err(db_err(&ctx)(e)),
        }
    }
}

fn count(conn: &Connection, table: &str) -> Result<u64> {
    conn.query_row(
        &format!("SELECT count(*) FROM {}", D.quote(table)),
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(db_err(format!("staging table {table}: counting rows")))
}

struct SqliteLoad<'a> {
    conn: &'a Connection,
    table: String,
    load_into: String,
    mode: WriteMode,
    insert_sql: String,
    rows_before: u64,
    rows_written: u64,
    /// The transaction is still open (rolled back on drop).
    open: bool,
    /// The run log's rows, written in the commit's transaction.
    log_rows: RunLogRows,
    /// The staging table's `CREATE TABLE` (with the merge key as its primary key).
    create: String,
    /// Staging column names.
    columns: Vec<String>,
    merge: Option<super::merge::MergeSpec>,
    /// What a merge changed of the staging table's columns.
    schema_changes: Vec<String>,
}

impl TableLoad for SqliteLoad<'_> {
    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let ctx = format!("staging table {}: inserting rows", self.table);
        self.conn
            .execute_batch("SAVEPOINT stage_batch")
            .map_err(db_err(&ctx))?;
        let result = self.insert(batch);
        let end = if result.is_ok() {
            "RELEASE stage_batch"
        } else {
            "ROLLBACK TO stage_batch; RELEASE stage_batch"
        };
        self.conn.execute_batch(end).map_err(db_err(&ctx))?;
        result?;
        self.rows_written += batch.num_rows() as u64;
        Ok(())
    }

    fn commit(mut self: Box<Self>, rows_read: u64) -> Result<LoadReport> {
        let loaded = count(self.conn, &self.load_into)? - self.rows_before;
        if loaded != rows_read || loaded != self.rows_written {
            return Err(Error::Check(format!(
                "staging table {}: {loaded} rows loaded but {rows_read} read; the load was rolled back and the old table kept",
                self.table
            )));
        }
        let ctx = format!("staging table {}: swapping in the new table", self.table);
        if self.mode == WriteMode::Merge {
            self.apply_merge(loaded)?;
        }
        if self.mode == WriteMode::Replace {
            self.conn
                .execute_batch(&format!(
                    "DROP TABLE IF EXISTS {}; ALTER TABLE {} RENAME TO {}",
                    D.quote(&self.table),
                    D.quote(&self.load_into),
                    D.quote(&self.table)
                ))
                .map_err(db_err(&ctx))?;
        }
        self.write_log_rows();
        crate::interrupt::pause_point("swap");
        self.conn.execute_batch("COMMIT").map_err(db_err(&ctx))?;
        self.open = false;
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

impl SqliteLoad<'_> {
    /// Runs the run log's rows inside the load's transaction under a savepoint; when they
    /// fail they are rolled back and the load still commits.
    fn write_log_rows(&self) {
        if self.log_rows.is_empty() {
            return;
        }
        let sql = format!(
            "SAVEPOINT stage_run_log; {}; RELEASE stage_run_log",
            self.log_rows.batch()
        );
        if let Err(e) = self.conn.execute_batch(&sql) {
            let _ = self
                .conn
                .execute_batch("ROLLBACK TO stage_run_log; RELEASE stage_run_log");
            tracing::warn!(table = %self.table, "the run log's row could not be written with the swap (the load goes on): {e}");
        }
    }

    fn insert(&self, batch: &RecordBatch) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(&self.insert_sql)
            .map_err(db_err(format!(
                "staging table {}: preparing the insert",
                self.table
            )))?;
        let schema = batch.schema();
        let cols: Vec<ColumnReader> = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(a, f)| reader(a.as_ref(), f.name(), &self.table))
            .collect::<Result<_>>()?;
        for row in 0..batch.num_rows() {
            for (i, c) in cols.iter().enumerate() {
                let v = value(c, row).map_err(|m| {
                    Error::value(&self.table, schema.field(i).name(), row as u64 + 1, m)
                })?;
                stmt.raw_bind_parameter(i + 1, v).map_err(db_err(format!(
                    "staging table {}: binding a value",
                    self.table
                )))?;
            }
            stmt.raw_execute().map_err(db_err(format!(
                "staging table {}: inserting a row",
                self.table
            )))?;
        }
        Ok(())
    }
}

impl Drop for SqliteLoad<'_> {
    fn drop(&mut self) {
        if self.open {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(table = %self.table, error = %e, "rollback of an abandoned load failed");
            }
        }
    }
}

/// A reader for one column of a batch: SQLite takes integers, reals, text and blobs;
/// every other type goes in as Arrow's own text form.
fn reader<'a>(a: &'a dyn Array, column: &str, table: &str) -> Result<ColumnReader<'a>> {
    let r = ColumnReader::new(a);
    match r.values() {
        Values::Decimal256(..)
        | Values::Binary(Binary::View(_))
        | Values::Duration(_)
        | Values::Null
        | Values::Other => ColumnReader::formatted(a).map_err(|e| Error::column(table, column, e)),
        _ => Ok(r),
    }
}

/// The SQLite value of row `i`.
fn value<'a>(c: &ColumnReader<'a>, i: usize) -> Result<ToSqlOutput<'a>, String> {
    if c.is_null(i) {
        return Ok(ToSqlOutput::Owned(Value::Null));
    }
    let text = |s: String| ToSqlOutput::Owned(Value::Text(s));
    Ok(match c.values() {
        Values::Boolean(a) => ToSqlOutput::Owned(Value::Integer(i64::from(a.value(i)))),
        Values::Signed(a) => ToSqlOutput::Owned(Value::Integer(a.value(i))),
        Values::Unsigned(Unsigned::UInt64(a)) => text(a.value(i).to_string()),
        // UInt8 to UInt32: always within i64.
        Values::Unsigned(a) => ToSqlOutput::Owned(Value::Integer(a.value(i) as i64)),
        Values::Float(a) => ToSqlOutput::Owned(Value::Real(a.value(i))),
        Values::Decimal128(a, _, s) => text(types::format_decimal(a.value(i), *s)),
        Values::Text(a) => ToSqlOutput::Borrowed(ValueRef::Text(a.value(i).as_bytes())),
        Values::Binary(a) => ToSqlOutput::Borrowed(ValueRef::Blob(a.value(i))),
        Values::Date(a) => text(
            a.naive(i)
                .ok_or("date out of range")?
                .format("%Y-%m-%d")
                .to_string(),
        ),
        Values::Time(a) => {
            let nanos = a.nanos(i);
            let t = chrono::NaiveTime::from_num_seconds_from_midnight_opt(
                (nanos / 1_000_000_000) as u32,
                (nanos % 1_000_000_000) as u32,
            )
            .ok_or("time of day out of range")?;
            text(
                t.format(if a.is_nanosecond() {
                    "%H:%M:%S%.9f"
                } else {
                    "%H:%M:%S%.6f"
                })
                .to_string(),
            )
        }
        Values::Timestamp(a) => {
            let (secs, sub) = a.split(i);
            let dt = utc_datetime(secs, sub)?;
            let frac = if a.nanos_per_unit() == 1 {
                "%.9f"
            } else {
                "%.6f"
            };
            let fmt = if a.is_zoned() {
                format!("%Y-%m-%dT%H:%M:%S{frac}Z")
            } else {
                format!("%Y-%m-%d %H:%M:%S{frac}")
            };
            text(dt.format(&fmt).to_string())
        }
        Values::Formatted(f) => text(f.value(i).to_string()),
        // `reader` formats every other type.
        Values::Decimal256(..) | Values::Duration(_) | Values::Null | Values::Other => {
            return Err(format!(
                "SQLite staging has no conversion for Arrow {}",
                c.data_type()
            ))
        }
    })
}

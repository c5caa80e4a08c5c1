//! PostgreSQL staging. Column types follow `types::postgres` (recreating `jsonb`, `uuid`, …
//! from the source type where it names one); rows go in with binary
//! `COPY … FROM STDIN (FORMAT binary)`, each batch encoded straight from its Arrow arrays
//! into one buffer.
//!
//! * `replace`: the rows go into a shadow table unique to the run (`load::helper_name`), one COPY (its own
//!   transaction) per batch, so a batch retried after a lost connection is never loaded twice:
//!   the loader reconnects and counts the shadow to learn whether the lost COPY committed. At
//!   `commit` the shadow's `count(*)` must equal the rows read; then one transaction drops the
//!   old table and renames the shadow. Readers see the old table until that commit.
//! * `truncate` and `append`: `TRUNCATE` (for truncate) and every batch run in one
//!   transaction, each batch under a savepoint, so a deadlock or serialization failure is
//!   retried in place; a lost connection rolls the whole load back (the old rows stay) and
//!   fails the table, since the batches before it are gone with the transaction.
//!
//! PostgreSQL text cannot hold NUL (`\0`): it is stripped and the values changed are counted
//! per column in the [`LoadReport`].

use std::collections::HashSet;
use std::io::Write;

use arrow::array::{
    Array, AsArray, BooleanArray, Decimal128Array, Decimal256Array, FixedSizeBinaryArray,
    GenericListArray, UInt64Array,
};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Field, Float16Type, Float32Type, Float64Type,
    Int16Type, Int32Type, Int64Type, Int8Type, IntervalDayTimeType, IntervalMonthDayNanoType,
    IntervalUnit, IntervalYearMonthType, SchemaRef, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt8Type,
};
use arrow::record_batch::RecordBatch;
use postgres::error::SqlState;
use postgres::Client;

use super::{Destination, LoadReport, LoadTarget, TableLoad};
use crate::config::{Endpoint, WriteMode};
use crate::db::postgres::{self as db, connect, db_err};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types::postgres::{self as pgt, Special};

const D: Dialect = Dialect::Postgres;

pub struct PgDestination {
    endpoint: Endpoint,
    db: String,
    client: Client,
    schemas_ready: HashSet<String>,
}

impl PgDestination {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let db = endpoint
            .database
            .clone()
            .unwrap_or_else(|| "postgres".into());
        let connect_err = |e: postgres::Error| Error::Connect {
            side: "destination",
            target: endpoint.describe(),
            message: e.to_string(),
        };
        let client = match connect(endpoint, &db) {
            Ok(c) => c,
            Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
                let admin = endpoint
                    .admin_db
                    .clone()
                    .unwrap_or_else(|| "postgres".into());
                let mut a = connect(endpoint, &admin).map_err(|e| Error::Connect {
                    side: "destination",
                    target: endpoint.describe(),
                    message: format!(
                        "database \"{db}\" does not exist, and connecting to {} = \"{admin}\" to create it failed: {e}",
                        endpoint.key("ADMIN_DB")
                    ),
                })?;
                match a.batch_execute(&format!("CREATE DATABASE {}", D.quote(&db))) {
                    Ok(()) => tracing::info!(database = %db, "destination database created"),
                    // Created by someone else in the meantime.
                    Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => {}
                    Err(e) => {
                        return Err(Error::Connect {
                            side: "destination",
                            target: endpoint.describe(),
                            message: format!(
                                "database \"{db}\" does not exist and creating it failed: {e}"
                            ),
                        })
                    }
                }
                drop(a);
                connect(endpoint, &db).map_err(connect_err)?
            }
            Err(e) => return Err(connect_err(e)),
        };
        Ok(PgDestination {
            endpoint: endpoint.clone(),
            db,
            client,
            schemas_ready: HashSet::new(),
        })
    }

    fn reconnect(&mut self) -> Result<()> {
        self.client = connect(&self.endpoint, &self.db).map_err(|e| {
            Error::database(
                format!("reconnecting to {}", self.endpoint.describe()),
                true,
                e,
            )
        })?;
        Ok(())
    }

    fn ensure_schema(&mut self, schema: &str) {
        if self.schemas_ready.contains(schema) {
            return;
        }
        match self
            .client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", D.quote(schema)))
        {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(schema = %schema, "could not create the staging schema (going on; it may exist already): {e}")
            }
        }
        self.schemas_ready.insert(schema.to_string());
    }

    /// The table's column names, `None` when it does not exist.
    fn existing_columns(
        &mut self,
        schema: Option<&str>,
        table: &str,
    ) -> Result<Option<Vec<String>>> {
        let schema = schema.unwrap_or("public");
        let rows = self
            .client
            .query(
                "SELECT a.attname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 WHERE n.nspname = $1 AND c.relname = $2 ORDER BY a.attnum",
                &[&schema, &table],
            )
            .map_err(db_err(format!("staging table {schema}.{table}: reading the catalog")))?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.iter()
                .filter_map(|r| r.get::<_, Option<String>>(0))
                .collect(),
        ))
    }
}

fn count(client: &mut Client, qualified: &str, shown: &str) -> Result<u64> {
    let row = client
        .query_one(&format!("SELECT count(*) FROM {qualified}"), &[])
        .map_err(db_err(format!("staging table {shown}: counting rows")))?;
    Ok(row.get::<_, i64>(0) as u64)
}

impl Destination for PgDestination {
    fn server_version(&mut self) -> Result<String> {
        db::server_version(&mut self.client)
    }

    fn begin<'a>(
        &'a mut self,
        target: &LoadTarget,
        schema: &SchemaRef,
    ) -> Result<Box<dyn TableLoad + 'a>> {
        let shown = target.display();
        let sch = target.schema.as_deref();
        if let Some(s) = sch {
            self.ensure_schema(s);
        }
        let mut defs = Vec::new();
        for f in schema.fields() {
            let ty = pgt::field_ddl_type(f).map_err(|m| Error::column(&shown, f.name(), m))?;
            // Checks now that every column can be encoded.
            check_encodable(f).map_err(|m| Error::column(&shown, f.name(), m))?;
            let null = if f.is_nullable() { "" } else { " NOT NULL" };
            defs.push(format!("{} {ty}{null}", D.quote(f.name())));
        }
        let table = D.qualify(sch, &target.table);
        self.lock(target)?;
        let locked = Locked {
            key: target.lock_key(),
        };
        if let Err(e) = self.drop_stale_helpers(target) {
            locked.release(&mut self.client);
            return Err(e);
        }
        let shadow_bare = target.shadow(IDENTIFIER_BYTES);
        let shadow = D.qualify(sch, &shadow_bare);
        let cols: Vec<String> = schema.fields().iter().map(|f| D.quote(f.name())).collect();
        let ctx = format!("staging table {shown}: preparing");
        let prepared = match target.write_mode {
            WriteMode::Replace => self
                .client
                .batch_execute(&format!("CREATE TABLE {shadow} ({})", defs.join(", ")))
                .map_err(db_err(&ctx))
                .map(|()| shadow.clone()),
            WriteMode::Truncate | WriteMode::Append => (|| {
                let existing = self.existing_columns(sch, &target.table)?;
                super::check_kept_columns(target, &existing.unwrap_or_default(), schema)?;
                let mut sql = format!(
                    "BEGIN; CREATE TABLE IF NOT EXISTS {table} ({});",
                    defs.join(", ")
                );
                if target.write_mode == WriteMode::Truncate {
                    sql.push_str(&format!(" TRUNCATE {table};"));
                }
                if let Err(e) = self.client.batch_execute(&sql) {
                    let _ = self.client.batch_execute("ROLLBACK");
                    return Err(db_err(&ctx)(e));
                }
                Ok(table.clone())
            })(),
        };
        let load_into = match prepared {
            Ok(name) => name,
            Err(e) => {
                locked.release(&mut self.client);
                return Err(e);
            }
        };
        let copy_sql = format!(
            "COPY {load_into} ({}) FROM STDIN (FORMAT binary)",
            cols.join(", ")
        );
        let nul_stripped = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), 0))
            .collect();
        Ok(Box::new(PgLoad {
            dest: self,
            shown,
            table,
            shadow,
            shadow_bare,
            bare: target.table.clone(),
            target: target.clone(),
            locked,
            mode: target.write_mode,
            copy_sql,
            rows_written: 0,
            reconnect: false,
            done: false,
            buf: Vec::new(),
            nul_stripped,
        }))
    }

    fn count_rows(&mut self, target: &LoadTarget) -> Result<Option<u64>> {
        if self
            .existing_columns(target.schema.as_deref(), &target.table)?
            .is_none()
        {
            return Ok(None);
        }
        let q = D.qualify(target.schema.as_deref(), &target.table);
        count(&mut self.client, &q, &target.display()).map(Some)
    }
}

struct PgLoad<'a> {
    dest: &'a mut PgDestination,
    shown: String,
    /// Quoted, qualified names.
    table: String,
    shadow: String,
    shadow_bare: String,
    bare: String,
    target: LoadTarget,
    /// The staging table's advisory lock, held by this session until commit or drop.
    locked: Locked,
    mode: WriteMode,
    copy_sql: String,
    rows_written: u64,
    /// The last batch failed with a transient error: reconnect (replace mode) first.
    reconnect: bool,
    done: bool,
    buf: Vec<u8>,
    nul_stripped: Vec<(String, u64)>,
}

impl PgLoad<'_> {
    /// Runs one COPY of `batch`; the rows it loaded. Rows are encoded and sent in slices
    /// of about 1 MiB, so the server parses one slice while the next is encoded. A value
    /// that cannot be encoded aborts the COPY (nothing of the batch is loaded).
    fn copy(&mut self, batch: &RecordBatch, nuls: &mut [u64]) -> Result<u64> {
        let encoder = BatchEncoder::new(batch, &self.shown, self.rows_written)?;
        let ctx = format!("staging table {}: loading rows", self.shown);
        let mut w = self
            .dest
            .client
            .copy_in(&self.copy_sql)
            .map_err(db_err(&ctx))?;
        let buf = &mut self.buf;
        buf.clear();
        put_copy_header(buf);
        let rows = batch.num_rows();
        let sent = |e| Error::database(ctx.clone(), true, e);
        for start in (0..rows).step_by(1024) {
            encoder.rows(start..(start + 1024).min(rows), buf, nuls)?;
            if buf.len() >= SEND_BYTES {
                w.write_all(buf).map_err(sent)?;
                buf.clear();
            }
        }
        buf.extend_from_slice(&(-1i16).to_be_bytes());
        w.write_all(buf).map_err(sent)?;
        w.finish().map_err(db_err(&ctx))
    }

    fn write_replace(&mut self, batch: &RecordBatch, nuls: &mut [u64]) -> Result<()> {
        let n = batch.num_rows() as u64;
        if self.reconnect {
            self.reconnect_locked()?;
            // Did the COPY that lost its connection commit?
            let have = count(&mut self.dest.client, &self.shadow, &self.shown)?;
            if super::batch_landed(&self.shown, have, self.rows_written, n)? {
                self.rows_written += n;
                return Ok(());
            }
        }
        match self.copy(batch, nuls) {
            Ok(copied) => {
                self.rows_written += copied;
                if copied != n {
                    return Err(Error::Check(format!(
                        "staging table {}: COPY loaded {copied} rows of a batch of {n}",
                        self.shown
                    )));
                }
                Ok(())
            }
            Err(e) => {
                if e.is_transient() {
                    self.reconnect = true;
                }
                Err(e)
            }
        }
    }

    fn write_in_transaction(&mut self, batch: &RecordBatch, nuls: &mut [u64]) -> Result<()> {
        let ctx = format!("staging table {}: loading rows", self.shown);
        self.dest
            .client
            .batch_execute("SAVEPOINT stage_batch")
            .map_err(|e| lost_transaction(&ctx, self.mode, e))?;
        match self.copy(batch, nuls) {
            Ok(copied) => {
                self.dest
                    .client
                    .batch_execute("RELEASE SAVEPOINT stage_batch")
                    .map_err(|e| lost_transaction(&ctx, self.mode, e))?;
                self.rows_written += copied;
                Ok(())
            }
            Err(e) => {
                // The transaction survives a failed statement only on a live connection.
                match self.dest.client.batch_execute("ROLLBACK TO SAVEPOINT stage_batch") {
                    Ok(()) => Err(e),
                    Err(_) => Err(Error::database(
                        format!(
                            "{ctx}: the connection was lost inside the single WRITE_MODE={} transaction; nothing was committed and the old table is kept",
                            self.mode.name()
                        ),
                        false,
                        e,
                    )),
                }
            }
        }
    }
}

fn lost_transaction(ctx: &str, mode: WriteMode, e: postgres::Error) -> Error {
    Error::database(
        format!(
            "{ctx}: the single WRITE_MODE={} transaction failed; nothing was committed",
            mode.name()
        ),
        false,
        e,
    )
}

impl TableLoad for PgLoad<'_> {
    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut nuls = vec![0u64; batch.num_columns()];
        let result = match self.mode {
            WriteMode::Replace => self.write_replace(batch, &mut nuls),
            _ => self.write_in_transaction(batch, &mut nuls),
        };
        if result.is_ok() {
            for (slot, n) in self.nul_stripped.iter_mut().zip(nuls) {
                slot.1 += n;
            }
        }
        result
    }

    fn commit(mut self: Box<Self>, rows_read: u64) -> Result<LoadReport> {
        let shown = self.shown.clone();
        let client = &mut self.dest.client;
        let loaded = match self.mode {
            WriteMode::Replace => {
                if self.reconnect {
                    self.reconnect_locked()?;
                }
                // Counted by the server: a shadow touched by anyone else fails the check.
                count(&mut self.dest.client, &self.shadow, &shown)?
            }
            WriteMode::Truncate => count(client, &self.table, &shown)?,
            WriteMode::Append => self.rows_written,
        };
        if loaded != rows_read {
            return Err(Error::Check(format!(
                "staging table {shown}: {loaded} rows loaded but {rows_read} read; the load was abandoned and the old table kept"
            )));
        }
        let ctx = format!("staging table {shown}: making the new rows visible");
        let swap = match self.mode {
            WriteMode::Replace => format!(
                "BEGIN; DROP TABLE IF EXISTS {}; ALTER TABLE {} RENAME TO {};",
                self.table,
                self.shadow,
                D.quote(&self.bare)
            ),
            _ => String::new(),
        };
        let swapped = self.dest.client.batch_execute(&swap).and_then(|()| {
            crate::interrupt::pause_point("swap");
            self.dest.client.batch_execute("COMMIT")
        });
        if let Err(e) = swapped {
            let _ = self.dest.client.batch_execute("ROLLBACK");
            return Err(db_err(&ctx)(e));
        }
        self.done = true;
        self.locked.release(&mut self.dest.client);
        Ok(LoadReport {
            rows: loaded,
            nul_stripped: self
                .nul_stripped
                .iter()
                .filter(|(_, n)| *n > 0)
                .cloned()
                .collect(),
        })
    }
}

impl Drop for PgLoad<'_> {
    fn drop(&mut self) {
        if self.done || self.dest.client.is_closed() {
            return;
        }
        let sql = match self.mode {
            WriteMode::Replace => format!("DROP TABLE IF EXISTS {}", self.shadow),
            _ => "ROLLBACK".into(),
        };
        if let Err(e) = self.dest.client.batch_execute(&sql) {
            tracing::warn!(table = %self.shown, shadow = %self.shadow_bare, "cleaning up an abandoned load failed (the next run cleans up): {e}");
        }
        self.locked.release(&mut self.dest.client);
    }
}

impl PgLoad<'_> {
    /// Reconnects after a lost connection and takes the staging table's lock again (the
    /// server released it with the old session); fails when another run took it meanwhile.
    fn reconnect_locked(&mut self) -> Result<()> {
        self.dest.reconnect()?;
        self.reconnect = false;
        self.dest.lock(&self.target)
    }
}

/// The longest identifier PostgreSQL keeps whole (NAMEDATALEN - 1); longer ones are cut.
const IDENTIFIER_BYTES: usize = 63;

/// A session-level advisory lock on a staging table (see [`PgDestination::lock`]).
struct Locked {
    key: i64,
}

impl Locked {
    fn release(&self, client: &mut Client) {
        if client.is_closed() {
            return; // the server released it with the session
        }
        if let Err(e) = client.execute("SELECT pg_advisory_unlock($1)", &[&self.key]) {
            tracing::warn!(
                "releasing the staging table's lock failed (it ends with the session): {e}"
            );
        }
    }
}

impl PgDestination {
    /// Takes the staging table's session-level advisory lock (`pg_try_advisory_lock` on a
    /// hash of schema.table), waiting up to `LOCK_WAIT_SECONDS`. Held for the whole load
    /// and swap; another run that finds it held fails this table with `Error::Locked`.
    fn lock(&mut self, target: &LoadTarget) -> Result<()> {
        let key = target.lock_key();
        let ctx = format!("staging table {}: taking its lock", target.display());
        let client = &mut self.client;
        let got = super::acquire_lock(target.lock_wait, || {
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(db_err(&ctx))?;
            Ok(row.get::<_, bool>(0))
        })?;
        if got {
            return Ok(());
        }
        let unsigned = key as u64;
        let holder = self
            .client
            .query_opt(
                "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), \
                        to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
                 FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2 LIMIT 1",
                &[&((unsigned >> 32) as i64), &((unsigned & 0xffff_ffff) as i64)],
            )
            .ok()
            .flatten()
            .map(|r| {
                format!(
                    " (held by PostgreSQL backend pid {}, application \"{}\", from {}, connected since {})",
                    r.get::<_, i32>(0),
                    r.get::<_, String>(1),
                    r.get::<_, String>(2),
                    r.get::<_, String>(3)
                )
            })
            .unwrap_or_default();
        Err(Error::Locked {
            table: target.display(),
            holder,
        })
    }

    /// Drops the helper tables (shadows, retired tables) that killed runs left for this
    /// staging table. Called with the table's lock held, so no live run owns them.
    fn drop_stale_helpers(&mut self, target: &LoadTarget) -> Result<()> {
        let schema = target.schema.as_deref().unwrap_or("public");
        let prefix = super::helper_prefix(&target.table, IDENTIFIER_BYTES);
        let ctx = format!(
            "staging table {}: looking for stale helper tables",
            target.display()
        );
        let found: Vec<String> = self
            .client
            .query(
                "SELECT c.relname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname LIKE $2",
                &[&schema, &super::like_prefix(&prefix)],
            )
            .map_err(db_err(&ctx))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for stale in super::stale_helpers(&target.table, IDENTIFIER_BYTES, found) {
            let q = D.qualify(target.schema.as_deref(), &stale);
            self.client
                .batch_execute(&format!("DROP TABLE IF EXISTS {q}"))
                .map_err(db_err(format!(
                    "staging table {}: dropping {q}, left by a killed run",
                    target.display()
                )))?;
            tracing::info!(table = %target.display(), helper = %stale, "dropped a helper table left by an earlier, killed run");
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Encoding Arrow arrays into binary COPY.
// ---------------------------------------------------------------------------------------

/// How a text column is sent: as text, or parsed into a PostgreSQL type's binary form.
#[derive(Debug, Clone, Copy)]
enum TextAs {
    Text,
    Jsonb,
    Numeric,
    Interval,
    Timetz,
    Inet(bool),
    Mac(usize),
}

/// Reads (months, days, µs) of value `i`, or an error text.
type IntervalGet = fn(&dyn Array, usize) -> Result<(i32, i32, i64), String>;

enum Enc<'a> {
    Null,
    Bool(&'a BooleanArray),
    /// Value getter and the PostgreSQL width (2, 4 or 8 bytes).
    Int(fn(&dyn Array, usize) -> i64, usize),
    U64(&'a UInt64Array),
    F32(fn(&dyn Array, usize) -> f32),
    F64(fn(&dyn Array, usize) -> f64),
    Dec128(&'a Decimal128Array, i8),
    Dec256(&'a Decimal256Array, i8),
    Text(fn(&dyn Array, usize) -> &str, TextAs),
    Bytes(fn(&dyn Array, usize) -> &[u8]),
    /// Days since 1970-01-01, or an error text.
    Date(fn(&dyn Array, usize) -> Result<i32, String>),
    /// Microseconds (since midnight / since 1970-01-01), or an error text.
    Time(fn(&dyn Array, usize) -> Result<i64, String>),
    Timestamp(fn(&dyn Array, usize) -> Result<i64, String>),
    /// (months, days, µs).
    Interval(IntervalGet),
    List32(&'a GenericListArray<i32>, Box<ColEnc<'a>>, u32),
    List64(&'a GenericListArray<i64>, Box<ColEnc<'a>>, u32),
}

struct ColEnc<'a> {
    arr: &'a dyn Array,
    enc: Enc<'a>,
}

macro_rules! prim {
    ($t:ty, $conv:expr) => {
        |a: &dyn Array, i: usize| $conv(a.as_primitive::<$t>().value(i))
    };
}

fn exact_div(v: i64, by: i64, what: &str) -> Result<i64, String> {
    if v % by == 0 {
        Ok(v / by)
    } else {
        Err(format!(
            "{what} has sub-microsecond digits, which PostgreSQL cannot store"
        ))
    }
}

fn to_micros(v: i64, unit: TimeUnit, what: &str) -> Result<i64, String> {
    match unit {
        TimeUnit::Second => v
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("{what} out of range")),
        TimeUnit::Millisecond => v
            .checked_mul(1_000)
            .ok_or_else(|| format!("{what} out of range")),
        TimeUnit::Microsecond => Ok(v),
        TimeUnit::Nanosecond => exact_div(v, 1_000, what),
    }
}

/// A column's encoder and the OID of its PostgreSQL type (for array elements).
fn col_enc<'a>(a: &'a dyn Array, special: Option<Special>) -> Result<(ColEnc<'a>, u32), String> {
    use DataType as T;
    let text_as = |sp: Option<Special>| match sp {
        Some(Special::Jsonb) => (TextAs::Jsonb, 3802),
        Some(Special::Json) => (TextAs::Text, 114),
        Some(Special::Xml) => (TextAs::Text, 142),
        Some(Special::Numeric) => (TextAs::Numeric, 1700),
        Some(Special::Interval) => (TextAs::Interval, 1186),
        Some(Special::Timetz) => (TextAs::Timetz, 1266),
        Some(Special::Inet) => (TextAs::Inet(false), 869),
        Some(Special::Cidr) => (TextAs::Inet(true), 650),
        Some(Special::Macaddr) => (TextAs::Mac(6), 829),
        Some(Special::Macaddr8) => (TextAs::Mac(8), 774),
        _ => (TextAs::Text, 25),
    };
    let (enc, oid) = match a.data_type() {
        T::Null => (Enc::Null, 25),
        T::Boolean => (Enc::Bool(a.as_boolean()), 16),
        T::Int8 => (Enc::Int(prim!(Int8Type, i64::from), 2), 21),
        T::Int16 => (Enc::Int(prim!(Int16Type, i64::from), 2), 21),
        T::UInt8 => (Enc::Int(prim!(UInt8Type, i64::from), 2), 21),
        T::Int32 => (Enc::Int(prim!(Int32Type, i64::from), 4), 23),
        T::UInt16 => (Enc::Int(prim!(UInt16Type, i64::from), 4), 23),
        T::Int64 => (Enc::Int(prim!(Int64Type, |v| v), 8), 20),
        T::UInt32 => (Enc::Int(prim!(UInt32Type, i64::from), 8), 20),
        T::UInt64 => (Enc::U64(a.as_primitive()), 1700),
        T::Float16 => (Enc::F32(prim!(Float16Type, f32::from)), 700),
        T::Float32 => (Enc::F32(prim!(Float32Type, |v| v)), 700),
        T::Float64 => (Enc::F64(prim!(Float64Type, |v| v)), 701),
        T::Decimal128(_, s) => (Enc::Dec128(a.as_primitive(), *s), 1700),
        T::Decimal256(_, s) => (Enc::Dec256(a.as_primitive(), *s), 1700),
        T::Utf8 => {
            let (t, oid) = text_as(special);
            (Enc::Text(|a, i| a.as_string::<i32>().value(i), t), oid)
        }
        T::LargeUtf8 => {
            let (t, oid) = text_as(special);
            (Enc::Text(|a, i| a.as_string::<i64>().value(i), t), oid)
        }
        T::Utf8View => {
            let (t, oid) = text_as(special);
            (Enc::Text(|a, i| a.as_string_view().value(i), t), oid)
        }
        T::Binary => (Enc::Bytes(|a, i| a.as_binary::<i32>().value(i)), 17),
        T::LargeBinary => (Enc::Bytes(|a, i| a.as_binary::<i64>().value(i)), 17),
        T::BinaryView => (Enc::Bytes(|a, i| a.as_binary_view().value(i)), 17),
        T::FixedSizeBinary(n) => (
            Enc::Bytes(|a, i| {
                a.as_any()
                    .downcast_ref::<FixedSizeBinaryArray>()
                    .map_or(&[][..], |f| f.value(i))
            }),
            if *n == 16 && special == Some(Special::Uuid) {
                2950
            } else {
                17
            },
        ),
        T::Date32 => (Enc::Date(prim!(Date32Type, Ok)), 1082),
        T::Date64 => (
            Enc::Date(|a, i| {
                let ms = a.as_primitive::<Date64Type>().value(i);
                exact_div(ms, 86_400_000, "a Date64 value (not a whole day)")
                    .and_then(|d| i32::try_from(d).map_err(|_| "date out of range".into()))
            }),
            1082,
        ),
        T::Time32(TimeUnit::Second) => (
            Enc::Time(prim!(Time32SecondType, |v| Ok(i64::from(v) * 1_000_000))),
            1083,
        ),
        T::Time32(_) => (
            Enc::Time(prim!(Time32MillisecondType, |v| Ok(i64::from(v) * 1_000))),
            1083,
        ),
        T::Time64(TimeUnit::Nanosecond) => (
            Enc::Time(prim!(Time64NanosecondType, |v| exact_div(
                v, 1_000, "a time"
            ))),
            1083,
        ),
        T::Time64(_) => (Enc::Time(prim!(Time64MicrosecondType, Ok)), 1083),
        T::Timestamp(unit, tz) => {
            let f: fn(&dyn Array, usize) -> Result<i64, String> = match unit {
                TimeUnit::Second => prim!(TimestampSecondType, |v| to_micros(
                    v,
                    TimeUnit::Second,
                    "a timestamp"
                )),
                TimeUnit::Millisecond => prim!(TimestampMillisecondType, |v| to_micros(
                    v,
                    TimeUnit::Millisecond,
                    "a timestamp"
                )),
                TimeUnit::Microsecond => prim!(TimestampMicrosecondType, Ok),
                TimeUnit::Nanosecond => prim!(TimestampNanosecondType, |v| to_micros(
                    v,
                    TimeUnit::Nanosecond,
                    "a timestamp"
                )),
            };
            (Enc::Timestamp(f), if tz.is_some() { 1184 } else { 1114 })
        }
        T::Interval(IntervalUnit::YearMonth) => (
            Enc::Interval(prim!(IntervalYearMonthType, |m| Ok((m, 0, 0)))),
            1186,
        ),
        T::Interval(IntervalUnit::DayTime) => (
            Enc::Interval(|a, i| {
                let v = a.as_primitive::<IntervalDayTimeType>().value(i);
                Ok((0, v.days, i64::from(v.milliseconds) * 1_000))
            }),
            1186,
        ),
        T::Interval(IntervalUnit::MonthDayNano) => (
            Enc::Interval(|a, i| {
                let v = a.as_primitive::<IntervalMonthDayNanoType>().value(i);
                Ok((
                    v.months,
                    v.days,
                    exact_div(v.nanoseconds, 1_000, "an interval")?,
                ))
            }),
            1186,
        ),
        T::Duration(unit) => {
            let f: IntervalGet = match unit {
                TimeUnit::Second => prim!(DurationSecondType, |v| Ok((
                    0,
                    0,
                    to_micros(v, TimeUnit::Second, "a duration")?
                ))),
                TimeUnit::Millisecond => prim!(DurationMillisecondType, |v| Ok((
                    0,
                    0,
                    to_micros(v, TimeUnit::Millisecond, "a duration")?
                ))),
                TimeUnit::Microsecond => prim!(DurationMicrosecondType, |v| Ok((0, 0, v))),
                TimeUnit::Nanosecond => prim!(DurationNanosecondType, |v| Ok((
                    0,
                    0,
                    to_micros(v, TimeUnit::Nanosecond, "a duration")?
                ))),
            };
            (Enc::Interval(f), 1186)
        }
        T::List(_) => {
            let l = a.as_list::<i32>();
            let (item, oid) = col_enc(l.values().as_ref(), special)?;
            if matches!(item.enc, Enc::List32(..) | Enc::List64(..)) {
                return Err("nested lists cannot be staged as PostgreSQL arrays".into());
            }
            (Enc::List32(l, Box::new(item), oid), 0)
        }
        T::LargeList(_) => {
            let l = a.as_list::<i64>();
            let (item, oid) = col_enc(l.values().as_ref(), special)?;
            if matches!(item.enc, Enc::List32(..) | Enc::List64(..)) {
                return Err("nested lists cannot be staged as PostgreSQL arrays".into());
            }
            (Enc::List64(l, Box::new(item), oid), 0)
        }
        other => return Err(format!("Arrow {other} cannot be loaded into PostgreSQL")),
    };
    Ok((ColEnc { arr: a, enc }, oid))
}

fn check_encodable(f: &Field) -> Result<(), String> {
    let empty = arrow::array::new_empty_array(f.data_type());
    col_enc(empty.as_ref(), pgt::special_for(f).map(|(s, _)| s)).map(|_| ())
}

fn put_len(out: &mut [u8], at: usize) -> Result<(), String> {
    let len = out.len() - at - 4;
    let len = i32::try_from(len).map_err(|_| "a value larger than 2 GiB".to_string())?;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Appends text bytes, NUL characters stripped; whether any were.
fn put_text(out: &mut Vec<u8>, s: &str) -> bool {
    let b = s.as_bytes();
    if b.contains(&0) {
        out.extend(b.iter().copied().filter(|&c| c != 0));
        true
    } else {
        out.extend_from_slice(b);
        false
    }
}

impl ColEnc<'_> {
    /// Appends field `i`: its length and value, or -1 for NULL.
    fn write(&self, i: usize, out: &mut Vec<u8>, nuls: &mut u64) -> Result<(), String> {
        if matches!(self.enc, Enc::Null) || self.arr.is_null(i) {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            return Ok(());
        }
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        let a = self.arr;
        match &self.enc {
            Enc::Null => {}
            Enc::Bool(b) => out.push(u8::from(b.value(i))),
            Enc::Int(get, width) => {
                let v = get(a, i);
                match width {
                    2 => out.extend_from_slice(&(v as i16).to_be_bytes()),
                    4 => out.extend_from_slice(&(v as i32).to_be_bytes()),
                    _ => out.extend_from_slice(&v.to_be_bytes()),
                }
            }
            Enc::U64(u) => pgt::encode_numeric_unscaled(false, &u.value(i).to_string(), 0, out),
            Enc::F32(get) => out.extend_from_slice(&get(a, i).to_bits().to_be_bytes()),
            Enc::F64(get) => out.extend_from_slice(&get(a, i).to_bits().to_be_bytes()),
            Enc::Dec128(d, s) => {
                pgt::encode_numeric_i128(d.value(i), *s, out);
            }
            Enc::Dec256(d, s) => {
                let text = d.value(i).to_string();
                let (neg, mag) = match text.strip_prefix('-') {
                    Some(m) => (true, m),
                    None => (false, text.as_str()),
                };
                pgt::encode_numeric_unscaled(neg, mag, *s, out);
            }
            Enc::Text(get, how) => {
                let s = get(a, i);
                match how {
                    TextAs::Text => *nuls += u64::from(put_text(out, s)),
                    TextAs::Jsonb => {
                        out.push(1);
                        *nuls += u64::from(put_text(out, s));
                    }
                    TextAs::Numeric => pgt::encode_numeric_text(s, out)?,
                    TextAs::Interval => {
                        let (m, d, us) = pgt::parse_interval_text(s)?;
                        put_interval(out, m, d, us);
                    }
                    TextAs::Timetz => {
                        let (us, zone) = pgt::parse_timetz(s)?;
                        out.extend_from_slice(&us.to_be_bytes());
                        out.extend_from_slice(&zone.to_be_bytes());
                    }
                    TextAs::Inet(cidr) => pgt::encode_inet(s, *cidr, out)?,
                    TextAs::Mac(n) => pgt::encode_mac(s, *n, out)?,
                }
            }
            Enc::Bytes(get) => out.extend_from_slice(get(a, i)),
            Enc::Date(get) => {
                out.extend_from_slice(&pgt::days_to_pg_date(get(a, i)?)?.to_be_bytes())
            }
            Enc::Time(get) => out.extend_from_slice(&get(a, i)?.to_be_bytes()),
            Enc::Timestamp(get) => {
                out.extend_from_slice(&pgt::unix_to_pg_timestamp(get(a, i)?)?.to_be_bytes())
            }
            Enc::Interval(get) => {
                let (m, d, us) = get(a, i)?;
                put_interval(out, m, d, us);
            }
            Enc::List32(l, item, oid) => {
                let offs = l.value_offsets();
                write_array(
                    item,
                    offs[i] as usize,
                    offs[i + 1] as usize,
                    *oid,
                    out,
                    nuls,
                )?;
            }
            Enc::List64(l, item, oid) => {
                let offs = l.value_offsets();
                write_array(
                    item,
                    offs[i] as usize,
                    offs[i + 1] as usize,
                    *oid,
                    out,
                    nuls,
                )?;
            }
        }
        put_len(out, at)
    }
}

fn put_interval(out: &mut Vec<u8>, months: i32, days: i32, micros: i64) {
    out.extend_from_slice(&micros.to_be_bytes());
    out.extend_from_slice(&days.to_be_bytes());
    out.extend_from_slice(&months.to_be_bytes());
}

fn write_array(
    item: &ColEnc<'_>,
    start: usize,
    end: usize,
    oid: u32,
    out: &mut Vec<u8>,
    nuls: &mut u64,
) -> Result<(), String> {
    let has_null = matches!(item.enc, Enc::Null) || (start..end).any(|j| item.arr.is_null(j));
    pgt::encode_array_header(end - start, has_null, oid, out);
    for j in start..end {
        item.write(j, out, nuls)?;
    }
    Ok(())
}

/// COPY data goes to the driver in slices of about this many bytes.
const SEND_BYTES: usize = 1 << 20;

fn put_copy_header(out: &mut Vec<u8>) {
    out.extend_from_slice(pgt::COPY_SIGNATURE);
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
}

/// Encodes the rows of one batch as binary COPY tuples.
pub struct BatchEncoder<'a> {
    batch: &'a RecordBatch,
    encs: Vec<ColEnc<'a>>,
    ncols: [u8; 2],
    table: &'a str,
    /// Rows of the table before this batch (for row numbers in messages).
    first_row: u64,
}

impl<'a> BatchEncoder<'a> {
    /// Prepares every column; a column that cannot be encoded is an error naming it.
    pub fn new(batch: &'a RecordBatch, table: &'a str, first_row: u64) -> Result<Self> {
        let schema = batch.schema_ref();
        let encs: Vec<ColEnc<'a>> = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(a, f)| {
                col_enc(a.as_ref(), pgt::special_for(f).map(|(s, _)| s))
                    .map(|(e, _)| e)
                    .map_err(|m| Error::column(table, f.name(), m))
            })
            .collect::<Result<_>>()?;
        let ncols = i16::try_from(encs.len())
            .map_err(|_| Error::Check(format!("staging table {table}: too many columns for COPY")))?
            .to_be_bytes();
        Ok(BatchEncoder {
            batch,
            encs,
            ncols,
            table,
            first_row,
        })
    }

    /// Appends the tuples of `rows` to `out`, counting stripped NULs per column in `nuls`.
    pub fn rows(
        &self,
        rows: std::ops::Range<usize>,
        out: &mut Vec<u8>,
        nuls: &mut [u64],
    ) -> Result<()> {
        for row in rows {
            out.extend_from_slice(&self.ncols);
            for (c, e) in self.encs.iter().enumerate() {
                e.write(row, out, &mut nuls[c]).map_err(|m| {
                    Error::value(
                        self.table,
                        self.batch.schema_ref().field(c).name(),
                        self.first_row + row as u64 + 1,
                        m,
                    )
                })?;
            }
        }
        Ok(())
    }
}

/// Encodes a whole batch as one binary COPY stream into `out` (cleared first).
pub fn encode_batch(
    batch: &RecordBatch,
    out: &mut Vec<u8>,
    nuls: &mut [u64],
    table: &str,
) -> Result<()> {
    let encoder = BatchEncoder::new(batch, table, 0)?;
    out.clear();
    put_copy_header(out);
    encoder.rows(0..batch.num_rows(), out, nuls)?;
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, Decimal128Array, Int32Array, IntervalMonthDayNanoArray, ListArray, StringArray,
        TimestampMicrosecondArray,
    };
    use arrow::datatypes::{Int32Type as I32, IntervalMonthDayNano, Schema};
    use std::sync::Arc;

    fn one(a: ArrayRef, field: Field) -> Vec<u8> {
        let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![a]).unwrap();
        let mut out = Vec::new();
        let mut nuls = [0u64];
        encode_batch(&batch, &mut out, &mut nuls, "t").unwrap();
        out
    }

    /// The bytes of the first field of the first tuple (after the 19-byte header + count).
    fn first_field(stream: &[u8]) -> Option<&[u8]> {
        let len = i32::from_be_bytes(stream[21..25].try_into().unwrap());
        (len >= 0).then(|| &stream[25..25 + len as usize])
    }

    #[test]
    fn batches_encode_as_binary_copy() {
        let s = one(
            Arc::new(Int32Array::from(vec![Some(-2), None])),
            Field::new("a", DataType::Int32, true),
        );
        assert_eq!(&s[..11], pgt::COPY_SIGNATURE);
        assert_eq!(first_field(&s), Some(&(-2i32).to_be_bytes()[..]));
        // Second tuple: count 1 and NULL; then the trailer.
        assert_eq!(&s[29..], [0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn decimals_timestamps_and_intervals_use_postgres_forms() {
        let d = Decimal128Array::from(vec![12_345_678i128])
            .with_precision_and_scale(10, 3)
            .unwrap();
        let s = one(
            Arc::new(d),
            Field::new("d", DataType::Decimal128(10, 3), true),
        );
        assert_eq!(
            first_field(&s).unwrap(),
            [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]
        );
        let ts = TimestampMicrosecondArray::from(vec![946_684_800_000_000]).with_timezone("UTC");
        let s = one(
            Arc::new(ts),
            Field::new(
                "t",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        );
        assert_eq!(first_field(&s).unwrap(), 0i64.to_be_bytes());
        let iv =
            IntervalMonthDayNanoArray::from(vec![IntervalMonthDayNano::new(13, 2, 1_500_000_000)]);
        let s = one(
            Arc::new(iv),
            Field::new("i", DataType::Interval(IntervalUnit::MonthDayNano), true),
        );
        let mut want = 1_500_000i64.to_be_bytes().to_vec();
        want.extend_from_slice(&2i32.to_be_bytes());
        want.extend_from_slice(&13i32.to_be_bytes());
        assert_eq!(first_field(&s).unwrap(), want);
    }

    #[test]
    fn text_strips_nul_and_counts_it_and_jsonb_gets_its_version() {
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)])),
            vec![Arc::new(StringArray::from(vec!["a\0b", "ok", "\0"]))],
        )
        .unwrap();
        let mut out = Vec::new();
        let mut nuls = [0u64];
        encode_batch(&batch, &mut out, &mut nuls, "t").unwrap();
        assert_eq!(nuls, [2]);
        assert_eq!(first_field(&out).unwrap(), b"ab");
        let f = Field::new("j", DataType::Utf8, true).with_metadata(
            [(
                crate::source::SOURCE_TYPE_KEY.to_string(),
                "jsonb".to_string(),
            )]
            .into(),
        );
        let s = one(Arc::new(StringArray::from(vec!["{}"])), f);
        assert_eq!(first_field(&s).unwrap(), b"\x01{}");
    }

    #[test]
    fn lists_encode_as_one_dimensional_arrays() {
        let l = ListArray::from_iter_primitive::<I32, _, _>(vec![Some(vec![Some(1), None])]);
        let item = Field::new("item", DataType::Int32, true);
        let s = one(
            Arc::new(l),
            Field::new("l", DataType::List(item.into()), true),
        );
        let v = first_field(&s).unwrap();
        assert_eq!(pgt::array_header(v), Ok((2, 20)));
        assert_eq!(&v[4..12], [0, 0, 0, 1, 0, 0, 0, 23]);
        assert_eq!(&v[20..], [0, 0, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn values_that_do_not_fit_are_errors_naming_the_row() {
        let f = Field::new("n", DataType::Utf8, true).with_metadata(
            [(
                crate::source::SOURCE_TYPE_KEY.to_string(),
                "numeric".to_string(),
            )]
            .into(),
        );
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![f])),
            vec![Arc::new(StringArray::from(vec!["1.5", "x"]))],
        )
        .unwrap();
        let err = encode_batch(&batch, &mut Vec::new(), &mut [0], "t").unwrap_err();
        assert!(matches!(err, Error::Value { row: 2, .. }), "{err}");
    }
}

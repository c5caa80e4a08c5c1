//! SQL Server staging (tiberius). Column types follow `types::mssql` (strings are always
//! `NVARCHAR(MAX)`). Rows go in with the TDS bulk-load protocol (`INSERT BULK`): each
//! batch is one bulk statement, which SQL Server applies whole or not at all.
//!
//! * `replace`: the batches load a shadow table unique to the run, then one
//!   transaction (`SET XACT_ABORT ON`) drops the old table and renames the shadow with
//!   `sp_rename`. Readers see the old table or the new one. A batch that failed on a
//!   transient error (deadlock, lock timeout, lost connection — the connection is reopened)
//!   may be retried.
//! * `truncate` / `append`: one transaction around `TRUNCATE TABLE` (SQL Server can roll it
//!   back) and every batch. A deadlock dooms the whole transaction, so in these modes no
//!   error is retried per batch; the load fails and the old rows stay.
//!
//! The database (`DST_DB`) is created through `DST_ADMIN_DB` (default `master`) when the
//! server reports it cannot open it (error 4060); the schema (`DST_SCHEMA`, default
//! `staging`) is created when missing. Either failing for lack of rights is a warning.

use std::borrow::Cow;

use arrow::array::Array;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use tiberius::numeric::Numeric;
use tiberius::time::{Date, DateTime2, DateTimeOffset, Time};
use tiberius::{ColumnData, TokenRow};

use super::columns::{ColumnReader, Float, Signed, Unsigned, Values};
use super::{Destination, LoadReport, LoadTarget, TableLoad};
use crate::config::{Endpoint, Secret, WriteMode, DEFAULT_DST_SCHEMA};
use crate::db::mssql::{self as db, cell, connect, db_err, Client, ConnectSpec};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types::mssql as ty;

const D: Dialect = Dialect::Mssql;

pub struct MssqlDestination {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    spec: ConnectSpec,
    password: Option<Secret>,
    schema: String,
}

impl MssqlDestination {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let create = endpoint.database.as_deref().map(create_database_sql);
        let (rt, spec, client) = db::open(endpoint, "destination", create.as_deref())?;
        let password = endpoint.password.clone();
        let schema = endpoint
            .schema
            .clone()
            .unwrap_or_else(|| DEFAULT_DST_SCHEMA.to_string());
        let mut dst = MssqlDestination {
            rt,
            client: Some(client),
            spec,
            password,
            schema,
        };
        let sql = create_schema_sql(&dst.schema);
        if let Err(e) = dst.run(&sql, "creating the staging schema") {
            tracing::warn!(schema = %dst.schema, "cannot create the staging schema: {e}");
        }
        Ok(dst)
    }

    /// The runtime and the client, reopening the connection when the last one was lost.
    fn parts(&mut self) -> Result<(&tokio::runtime::Runtime, &mut Client)> {
        if self.client.is_none() {
            let c = self
                .rt
                .block_on(connect(self.spec.config(self.password.as_ref())))
                .map_err(|e| {
                    Error::database(
                        "reconnecting to the destination",
                        true,
                        Error::Check(e.message),
                    )
                })?;
            self.client = Some(c);
        }
        let client = self
            .client
            .as_mut()
            .ok_or_else(|| Error::Check("no destination connection".into()))?;
        Ok((&self.rt, client))
    }

    /// Runs a batch of statements, discarding results.
    fn run(&mut self, sql: &str, what: &str) -> Result<()> {
        let (rt, client) = self.parts()?;
        let out = rt.block_on(async { client.simple_query(sql).await?.into_results().await });
        self.settle(out.map(|_| ()), what)
    }

    /// A single number from a query (`COUNT_BIG`, `OBJECT_ID`).
    fn scalar(&mut self, sql: &str, what: &str) -> Result<Option<i64>> {
        let (rt, client) = self.parts()?;
        let out = rt.block_on(async { client.simple_query(sql).await?.into_row().await });
        let row = self.settle(out, what)?;
        Ok(row.and_then(|r| cell::<i64>(&r, 0)))
    }

    /// Maps an error, forgetting a connection that was lost so the next call reopens it.
    fn settle<T>(&mut self, out: tiberius::Result<T>, what: &str) -> Result<T> {
        out.map_err(|e| {
            if matches!(e, tiberius::error::Error::Io { .. }) {
                self.client = None;
            }
            db_err(what)(e)
        })
    }

    fn count(&mut self, schema: &str, table: &str) -> Result<u64> {
        let n = self.scalar(
            &format!(
                "SELECT COUNT_BIG(*) FROM {}",
                D.qualify(Some(schema), table)
            ),
            &format!("staging table {schema}.{table}: counting rows"),
        )?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    fn exists(&mut self, schema: &str, table: &str) -> Result<bool> {
        let n = self.scalar(
            &format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                D.quote_literal(schema),
                D.quote_literal(table)
            ),
            &format!("staging table {schema}.{table}: reading the catalog"),
        )?;
        Ok(n.unwrap_or(0) > 0)
    }

    fn existing_columns(&mut self, schema: &str, table: &str) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            D.quote_literal(schema),
            D.quote_literal(table)
        );
        self.scalar_names(
            &sql,
            &format!("staging table {schema}.{table}: reading the catalog"),
        )
    }
}

/// `IF DB_ID(N'x') IS NULL CREATE DATABASE [x]`.
pub fn create_database_sql(db: &str) -> String {
    format!(
        "IF DB_ID({}) IS NULL CREATE DATABASE {}",
        D.quote_literal(db),
        D.quote(db)
    )
}

/// `CREATE SCHEMA` must be alone in its batch, hence `EXEC`.
pub fn create_schema_sql(schema: &str) -> String {
    format!(
        "IF SCHEMA_ID({}) IS NULL EXEC({})",
        D.quote_literal(schema),
        D.quote_literal(&format!("CREATE SCHEMA {}", D.quote(schema)))
    )
}

/// `CREATE TABLE [schema].[table] (...)` from a staging schema.
pub fn create_table_sql(schema: &str, table: &str, arrow: &SchemaRef) -> Result<String> {
    let mut cols = Vec::new();
    for f in arrow.fields() {
        let t = ty::ddl_type(f.data_type()).map_err(|m| Error::column(table, f.name(), m))?;
        let null = if f.is_nullable() { "NULL" } else { "NOT NULL" };
        cols.push(format!("{} {t} {null}", D.quote(f.name())));
    }
    Ok(format!(
        "CREATE TABLE {} ({})",
        D.qualify(Some(schema), table),
        cols.join(", ")
    ))
}

/// Drops the old table and renames the shadow in one transaction.
pub fn swap_sql(schema: &str, table: &str, shadow: &str) -> String {
    let old = D.qualify(Some(schema), table);
    format!(
        "SET XACT_ABORT ON; BEGIN TRANSACTION; \
         IF OBJECT_ID({old_lit}, N'U') IS NOT NULL DROP TABLE {old}; \
         EXEC sp_rename {shadow_lit}, {new_lit}, N'OBJECT'; \
         COMMIT TRANSACTION;",
        old_lit = D.quote_literal(&old),
        shadow_lit = D.quote_literal(&D.qualify(Some(schema), shadow)),
        // sp_rename takes the new name as it is: no brackets.
        new_lit = D.quote_literal(table),
    )
}

/// `IF OBJECT_ID(...) IS NOT NULL DROP TABLE ...`.
pub fn drop_if_exists_sql(schema: &str, table: &str) -> String {
    let q = D.qualify(Some(schema), table);
    format!(
        "IF OBJECT_ID({}, N'U') IS NOT NULL DROP TABLE {q}",
        D.quote_literal(&q)
    )
}

impl Destination for MssqlDestination {
    fn server_version(&mut self) -> Result<String> {
        let (rt, client) = self.parts()?;
        let out = rt.block_on(db::server_version(client));
        self.settle(out, "reading the server version")
    }

    fn begin<'a>(
        &'a mut self,
        target: &LoadTarget,
        schema: &SchemaRef,
    ) -> Result<Box<dyn TableLoad + 'a>> {
        let db_schema = target.schema.clone().unwrap_or_else(|| self.schema.clone());
        let table = target.table.clone();
        let create = create_table_sql(&db_schema, &table, schema)?;
        let shadow = target.shadow(IDENTIFIER_BYTES);
        let ctx = format!("staging table {db_schema}.{table}: preparing");
        let lock = LoadTarget {
            schema: Some(db_schema.clone()),
            ..target.clone()
        }
        .lock_name(255);
        self.lock(&lock, target.lock_wait, &format!("{db_schema}.{table}"))?;
        let unlocked = |dst: &mut Self, e: Error| {
            dst.unlock(&lock);
            e
        };
        let stale = self
            .scalar_names(&stale_helpers_sql(&db_schema, &table), &ctx)
            .map_err(|e| unlocked(self, e))?;
        for name in super::stale_helpers(&table, IDENTIFIER_BYTES, stale) {
            self.run(&drop_if_exists_sql(&db_schema, &name), &ctx)
                .map_err(|e| unlocked(self, e))?;
            tracing::info!(table = %table, helper = %name, "dropped a helper table left by an earlier, killed run");
        }
        let (load_into, rows_before, in_tx) = match target.write_mode {
            WriteMode::Replace => {
                let create_shadow = create_table_sql(&db_schema, &shadow, schema)?;
                self.run(&create_shadow, &ctx)
                    .map_err(|e| unlocked(self, e))?;
                (shadow.clone(), 0, false)
            }
            WriteMode::Truncate | WriteMode::Append => {
                let existing = self
                    .existing_columns(&db_schema, &table)
                    .map_err(|e| unlocked(self, e))?;
                super::check_kept_columns(target, &existing, schema)
                    .map_err(|e| unlocked(self, e))?;
                self.run("SET XACT_ABORT ON; BEGIN TRANSACTION", &ctx)?;
                let mut setup = || -> Result<u64> {
                    if existing.is_empty() {
                        self.run(&create, &ctx)?;
                    }
                    if target.write_mode == WriteMode::Truncate {
                        self.run(
                            &format!("TRUNCATE TABLE {}", D.qualify(Some(&db_schema), &table)),
                            &ctx,
                        )?;
                    }
                    self.count(&db_schema, &table)
                };
                match setup() {
                    Ok(n) => (table.clone(), n, true),
                    Err(e) => {
                        let _ = self.run("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION", &ctx);
                        return Err(unlocked(self, e));
                    }
                }
            }
        };
        Ok(Box::new(MssqlLoad {
            dst: self,
            schema: db_schema,
            table,
            lock,
            load_into,
            mode: target.write_mode,
            rows_before,
            rows_written: 0,
            in_tx,
            done: false,
        }))
    }

    fn count_rows(&mut self, target: &LoadTarget) -> Result<Option<u64>> {
        let schema = target.schema.clone().unwrap_or_else(|| self.schema.clone());
        if !self.exists(&schema, &target.table)? {
            return Ok(None);
        }
        self.count(&schema, &target.table).map(Some)
    }
}

struct MssqlLoad<'a> {
    dst: &'a mut MssqlDestination,
    schema: String,
    table: String,
    /// The staging table's application lock (`sp_getapplock`, session owner).
    lock: String,
    load_into: String,
    mode: WriteMode,
    rows_before: u64,
    rows_written: u64,
    /// truncate/append: the transaction is open (rolled back on drop).
    in_tx: bool,
    done: bool,
}

impl TableLoad for MssqlLoad<'_> {
    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let display = format!("{}.{}", self.schema, self.table);
        // Every value is converted before anything is sent: a bad value sends nothing.
        let rows = bulk_rows(batch, &display)?;
        if rows.is_empty() {
            return Ok(());
        }
        let qualified = D.qualify(Some(&self.schema), &self.load_into);
        let ctx = format!("staging table {display}: bulk loading {} rows", rows.len());
        if self.in_tx && self.dst.client.is_none() {
            return Err(Error::Check(format!(
                "{ctx}: the connection was lost inside the load's transaction; the load was rolled back"
            )));
        }
        if !self.in_tx && self.dst.client.is_none() {
            // Reconnecting: take the lock again, and learn whether the bulk insert whose
            // acknowledgement was lost went through before sending it again.
            let shown = format!("{}.{}", self.schema, self.table);
            self.dst
                .lock(&self.lock, std::time::Duration::ZERO, &shown)?;
            let have = self.dst.count(&self.schema, &self.load_into)?;
            let n = rows.len() as u64;
            if super::batch_landed(&shown, have, self.rows_written, n)? {
                self.rows_written += n;
                return Ok(());
            }
        }
        let dst = &mut *self.dst;
        let (rt, client) = dst.parts()?;
        let out = rt.block_on(async {
            let mut req = client.bulk_insert(&qualified).await?;
            for row in rows {
                req.send(row).await?;
            }
            req.finalize().await
        });
        match dst.settle(out, &ctx) {
            Ok(res) => {
                self.rows_written += res.total();
                Ok(())
            }
            // Inside one transaction a deadlock or lost connection dooms the whole load.
            Err(Error::Database {
                context, source, ..
            }) if self.in_tx => Err(Error::Database {
                context,
                transient: false,
                source,
            }),
            Err(e) => Err(e),
        }
    }

    fn commit(mut self: Box<Self>, rows_read: u64) -> Result<LoadReport> {
        let total = self.dst.count(&self.schema, &self.load_into)?;
        let loaded = total.saturating_sub(self.rows_before);
        if loaded != rows_read || loaded != self.rows_written {
            return Err(Error::Check(format!(
                "staging table {}.{}: {loaded} rows loaded but {rows_read} read; the load was rolled back and the old table kept",
                self.schema, self.table
            )));
        }
        let ctx = format!(
            "staging table {}.{}: swapping in the new table",
            self.schema, self.table
        );
        match self.mode {
            WriteMode::Replace => {
                crate::interrupt::pause_point("swap");
                let sql = swap_sql(&self.schema, &self.table, &self.load_into);
                self.dst.run(&sql, &ctx)?;
            }
            WriteMode::Truncate | WriteMode::Append => {
                self.dst.run("COMMIT TRANSACTION", &ctx)?;
                self.in_tx = false;
            }
        }
        self.done = true;
        Ok(LoadReport {
            rows: loaded,
            nul_stripped: Vec::new(),
        })
    }
}

impl Drop for MssqlLoad<'_> {
    fn drop(&mut self) {
        if self.done {
            let lock = self.lock.clone();
            self.dst.unlock(&lock);
            return;
        }
        let (sql, what) = if self.in_tx {
            (
                "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION".to_string(),
                "rollback",
            )
        } else {
            (
                drop_if_exists_sql(&self.schema, &self.load_into),
                "dropping the shadow table",
            )
        };
        if self.dst.client.is_some() {
            if let Err(e) = self.dst.run(&sql, what) {
                tracing::warn!(table = %self.table, "{what} of an abandoned load failed: {e}");
            }
            let lock = self.lock.clone();
            self.dst.unlock(&lock);
        }
    }
}

/// SQL Server's longest identifier (`sysname`: 128 characters; counted in bytes here).
const IDENTIFIER_BYTES: usize = 128;

/// Takes an exclusive session-owned application lock, waiting up to `wait_ms`; returns
/// `sp_getapplock`'s result (≥ 0 granted, -1 timed out, below that an error).
pub fn applock_sql(resource: &str, wait_ms: u128) -> String {
    format!(
        "DECLARE @r int; EXEC @r = sp_getapplock @Resource = {}, @LockMode = 'Exclusive', \
         @LockOwner = 'Session', @LockTimeout = {wait_ms}; SELECT CAST(@r AS BIGINT)",
        D.quote_literal(resource)
    )
}

/// The tables of `schema` that may be helper tables of `table` (see `load::stale_helpers`).
pub fn stale_helpers_sql(schema: &str, table: &str) -> String {
    format!(
        "SELECT name FROM sys.tables WHERE schema_id = SCHEMA_ID({}) AND name LIKE {} ESCAPE '\\'",
        D.quote_literal(schema),
        D.quote_literal(&super::like_prefix(&super::helper_prefix(
            table,
            IDENTIFIER_BYTES
        )))
    )
}

impl MssqlDestination {
    /// Takes the staging table's application lock for this session (see [`applock_sql`]).
    fn lock(&mut self, resource: &str, wait: std::time::Duration, shown: &str) -> Result<()> {
        let got = self.scalar(
            &applock_sql(resource, wait.as_millis()),
            &format!("staging table {shown}: taking its lock"),
        )?;
        match got {
            Some(r) if r >= 0 => Ok(()),
            Some(-1) => Err(Error::Locked {
                table: shown.to_string(),
                holder: String::new(),
            }),
            other => Err(Error::Check(format!(
                "staging table {shown}: sp_getapplock returned {other:?}"
            ))),
        }
    }

    fn unlock(&mut self, resource: &str) {
        if self.client.is_none() {
            return; // the server released it with the session
        }
        let sql = format!(
            "EXEC sp_releaseapplock @Resource = {}, @LockOwner = 'Session'",
            D.quote_literal(resource)
        );
        if let Err(e) = self.run(&sql, "releasing the staging table's lock") {
            tracing::warn!("{e}");
        }
    }

    /// The first column of every row, as text.
    fn scalar_names(&mut self, sql: &str, what: &str) -> Result<Vec<String>> {
        let (rt, client) = self.parts()?;
        let out = rt.block_on(async { client.simple_query(sql).await?.into_first_result().await });
        let rows = self.settle(out, what)?;
        Ok(rows
            .iter()
            .filter_map(|r| cell::<&str>(r, 0).map(str::to_string))
            .collect())
    }
}

/// Every row of a batch as bulk-load rows (values borrowed from the batch).
pub fn bulk_rows<'a>(batch: &'a RecordBatch, table: &str) -> Result<Vec<TokenRow<'a>>> {
    let schema = batch.schema();
    let cols: Vec<ColumnReader<'a>> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(a, f)| reader(a.as_ref(), f.name(), table))
        .collect::<Result<_>>()?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let mut row = TokenRow::with_capacity(cols.len());
        for (c, f) in cols.iter().zip(schema.fields()) {
            let v = value(c, i).map_err(|m| Error::value(table, f.name(), i as u64 + 1, m))?;
            row.push(v);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// A reader for one column of a batch. The same rule decides the DDL: a type without a
/// column type is refused here.
fn reader<'a>(array: &'a dyn Array, column: &str, table: &str) -> Result<ColumnReader<'a>> {
    ty::ddl_type(array.data_type()).map_err(|m| Error::column(table, column, m))?;
    match array.data_type() {
        DataType::Interval(_) => {
            ColumnReader::formatted(array).map_err(|e| Error::column(table, column, e))
        }
        _ => Ok(ColumnReader::new(array)),
    }
}

/// The value of row `i` as tiberius `ColumnData` for the column `ddl_type` creates.
fn value<'a>(c: &ColumnReader<'a>, i: usize) -> Result<ColumnData<'a>, String> {
    let null = c.is_null(i);
    Ok(match c.values() {
        Values::Boolean(a) => ColumnData::Bit((!null).then(|| a.value(i))),
        Values::Signed(Signed::Int8(a)) => ColumnData::I16((!null).then(|| a.value(i).into())),
        Values::Signed(Signed::Int16(a)) => ColumnData::I16((!null).then(|| a.value(i))),
        Values::Signed(Signed::Int32(a)) => ColumnData::I32((!null).then(|| a.value(i))),
        Values::Signed(Signed::Int64(a)) => ColumnData::I64((!null).then(|| a.value(i))),
        Values::Unsigned(Unsigned::UInt8(a)) => ColumnData::U8((!null).then(|| a.value(i))),
        Values::Unsigned(Unsigned::UInt16(a)) => {
            ColumnData::I32((!null).then(|| a.value(i).into()))
        }
        Values::Unsigned(Unsigned::UInt32(a)) => {
            ColumnData::I64((!null).then(|| a.value(i).into()))
        }
        Values::Unsigned(Unsigned::UInt64(a)) => {
            ColumnData::Numeric((!null).then(|| Numeric::new_with_scale(i128::from(a.value(i)), 0)))
        }
        Values::Float(Float::Float16(a)) => ColumnData::F32((!null).then(|| a.value(i).into())),
        Values::Float(Float::Float32(a)) => ColumnData::F32((!null).then(|| a.value(i))),
        Values::Float(Float::Float64(a)) => ColumnData::F64((!null).then(|| a.value(i))),
        Values::Decimal128(a, p, s) => {
            if null {
                ColumnData::Numeric(None)
            } else {
                let v = a.value(i);
                let (_, scale) = ty::decimal_ddl(*p, *s)?;
                let v = if *s < 0 {
                    10i128
                        .checked_pow(u32::from(s.unsigned_abs()))
                        .and_then(|f| v.checked_mul(f))
                        .ok_or_else(|| {
                            format!(
                                "{} does not fit DECIMAL(38,0)",
                                crate::types::format_decimal(v, *s)
                            )
                        })?
                } else {
                    v
                };
                ColumnData::Numeric(Some(Numeric::new_with_scale(v, scale)))
            }
        }
        Values::Text(a) => ColumnData::String((!null).then(|| Cow::Borrowed(a.value(i)))),
        Values::Binary(a) => ColumnData::Binary((!null).then(|| Cow::Borrowed(a.value(i)))),
        Values::Date(a) => ColumnData::Date(match null {
            true => None,
            false => Some(Date::new(ty::date32_to_date_days(a.days(i)?)?)),
        }),
        Values::Time(a) => ColumnData::Time(match null {
            true => None,
            false => Some(Time::new(ty::nanos_to_time7(a.nanos(i))?, 7)),
        }),
        Values::Timestamp(a) => {
            let dt2 = if null {
                None
            } else {
                let (days, inc) = ty::unit_to_datetime2(a.raw(i), a.unit())?;
                Some(DateTime2::new(Date::new(days), Time::new(inc, 7)))
            };
            if a.is_zoned() {
                // The instant, at offset +00:00.
                ColumnData::DateTimeOffset(dt2.map(|d| DateTimeOffset::new(d, 0)))
            } else {
                ColumnData::DateTime2(dt2)
            }
        }
        Values::Duration(a) => ColumnData::I64((!null).then(|| a.raw(i))),
        // Intervals, in Arrow's text form.
        Values::Formatted(f) => ColumnData::String(match null {
            false => Some(Cow::Owned(f.value(i).to_string())),
            true => None,
        }),
        Values::Null => ColumnData::String(None),
        Values::Decimal256(..) | Values::Other => {
            return Err(format!(
                "Arrow {} cannot be loaded into SQL Server",
                c.data_type()
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, DurationSecondArray,
        FixedSizeBinaryArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
        Int8Array, IntervalMonthDayNanoArray, LargeStringArray, StringArray,
        Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
        TimestampNanosecondArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
    };
    use arrow::datatypes::{Field, IntervalMonthDayNano, Schema, TimeUnit};
    use std::sync::Arc;

    /// A batch with every Arrow type the loader takes: one value row and one NULL row.
    fn every_type_batch() -> RecordBatch {
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("b", Arc::new(BooleanArray::from(vec![Some(true), None]))),
            ("i8", Arc::new(Int8Array::from(vec![Some(-8), None]))),
            ("i16", Arc::new(Int16Array::from(vec![Some(-16), None]))),
            ("i32", Arc::new(Int32Array::from(vec![Some(-32), None]))),
            (
                "i64",
                Arc::new(Int64Array::from(vec![Some(i64::MIN), None])),
            ),
            ("u8", Arc::new(UInt8Array::from(vec![Some(255), None]))),
            ("u16", Arc::new(UInt16Array::from(vec![Some(65_535), None]))),
            (
                "u32",
                Arc::new(UInt32Array::from(vec![Some(u32::MAX), None])),
            ),
            (
                "u64",
                Arc::new(UInt64Array::from(vec![Some(u64::MAX), None])),
            ),
            ("f32", Arc::new(Float32Array::from(vec![Some(1.5), None]))),
            ("f64", Arc::new(Float64Array::from(vec![Some(-2.25), None]))),
            (
                "dec",
                Arc::new(
                    Decimal128Array::from(vec![Some(-12_345), None])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("Grüße ✓"), None])),
            ),
            (
                "ls",
                Arc::new(LargeStringArray::from(vec![Some("large"), None])),
            ),
            (
                "bin",
                Arc::new(BinaryArray::from(vec![Some(&[0u8, 1, 255][..]), None])),
            ),
            (
                "fsb",
                Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        vec![Some(vec![1u8, 2]), None].into_iter(),
                        2,
                    )
                    .unwrap(),
                ),
            ),
            ("d", Arc::new(Date32Array::from(vec![Some(1), None]))),
            (
                "t_us",
                Arc::new(Time64MicrosecondArray::from(vec![
                    Some(3_600_000_001),
                    None,
                ])),
            ),
            (
                "t_ns",
                Arc::new(Time64NanosecondArray::from(vec![Some(100), None])),
            ),
            (
                "ts_us",
                Arc::new(TimestampMicrosecondArray::from(vec![Some(-1), None])),
            ),
            (
                "ts_ns",
                Arc::new(TimestampNanosecondArray::from(vec![Some(1_234_500), None])),
            ),
            (
                "tstz",
                Arc::new(TimestampMicrosecondArray::from(vec![Some(0), None]).with_timezone("UTC")),
            ),
            (
                "dur",
                Arc::new(DurationSecondArray::from(vec![Some(90), None])),
            ),
            (
                "iv",
                Arc::new(IntervalMonthDayNanoArray::from(vec![
                    Some(IntervalMonthDayNano::new(1, 2, 3_000_000_004)),
                    None,
                ])),
            ),
        ];
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            cols.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap()
    }

    fn show(v: &ColumnData<'_>) -> String {
        match v {
            ColumnData::Numeric(Some(n)) => format!("Numeric({}, scale {})", n.value(), n.scale()),
            ColumnData::Date(Some(d)) => format!("Date({})", d.days()),
            ColumnData::Time(Some(t)) => format!("Time({}, scale {})", t.increments(), t.scale()),
            ColumnData::DateTime2(Some(d)) => format!(
                "DateTime2({}, {}, scale {})",
                d.date().days(),
                d.time().increments(),
                d.time().scale()
            ),
            ColumnData::DateTimeOffset(Some(o)) => format!(
                "DateTimeOffset({}, {}, offset {})",
                o.datetime2().date().days(),
                o.datetime2().time().increments(),
                o.offset()
            ),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn arrow_to_bulk_rows_value_by_value() {
        let batch = every_type_batch();
        let rows = bulk_rows(&batch, "staging.t").unwrap();
        assert_eq!(rows.len(), 2);
        let got: Vec<String> = rows[0].iter().map(show).collect();
        let want = [
            "Bit(Some(true))",
            "I16(Some(-8))",
            "I16(Some(-16))",
            "I32(Some(-32))",
            "I64(Some(-9223372036854775808))",
            "U8(Some(255))",
            "I32(Some(65535))",
            "I64(Some(4294967295))",
            "Numeric(18446744073709551615, scale 0)",
            "F32(Some(1.5))",
            "F64(Some(-2.25))",
            "Numeric(-12345, scale 2)",
            "String(Some(\"Grüße ✓\"))",
            "String(Some(\"large\"))",
            "Binary(Some([0, 1, 255]))",
            "Binary(Some([1, 2]))",
            "Date(719163)",
            "Time(36000000010, scale 7)",
            "Time(1, scale 7)",
            "DateTime2(719161, 863999999990, scale 7)",
            "DateTime2(719162, 12345, scale 7)",
            "DateTimeOffset(719162, 0, offset 0)",
            "I64(Some(90))",
            "String(Some(\"1 mons 2 days 3.000000004 secs\"))",
        ];
        assert_eq!(got, want);
        // The NULL row keeps each column's variant.
        let nulls: Vec<String> = rows[1].iter().map(show).collect();
        assert_eq!(
            nulls,
            [
                "Bit(None)",
                "I16(None)",
                "I16(None)",
                "I32(None)",
                "I64(None)",
                "U8(None)",
                "I32(None)",
                "I64(None)",
                "Numeric(None)",
                "F32(None)",
                "F64(None)",
                "Numeric(None)",
                "String(None)",
                "String(None)",
                "Binary(None)",
                "Binary(None)",
                "Date(None)",
                "Time(None)",
                "Time(None)",
                "DateTime2(None)",
                "DateTime2(None)",
                "DateTimeOffset(None)",
                "I64(None)",
                "String(None)",
            ]
        );
        // And every column has a staging type.
        let ddl = create_table_sql("staging", "t", &batch.schema()).unwrap();
        assert!(ddl.starts_with("CREATE TABLE [staging].[t] ([b] BIT NULL, [i8] SMALLINT NULL"));
        assert!(ddl.contains("[s] NVARCHAR(MAX) NULL"));
        assert!(ddl.contains("[tstz] DATETIMEOFFSET(7) NULL"));
        assert!(!ddl.contains(" VARCHAR"));
    }

    #[test]
    fn values_sql_server_cannot_hold_are_errors_naming_the_row() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(TimestampNanosecondArray::from(vec![100, 150]))],
        )
        .unwrap();
        let e = bulk_rows(&batch, "staging.t").unwrap_err();
        assert_eq!(
            e.to_string(),
            "table staging.t, column ts, row 2: timestamp 150 ns is finer than SQL Server's 100 ns (DATETIME2(7))"
        );
        let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Date32Array::from(vec![-800_000]))])
            .unwrap();
        assert!(bulk_rows(&batch, "t")
            .unwrap_err()
            .to_string()
            .contains("outside SQL Server's DATE range"));
    }

    #[test]
    fn ddl_and_swap_sql() {
        assert_eq!(
            create_database_sql("Stage]DB"),
            "IF DB_ID(N'Stage]DB') IS NULL CREATE DATABASE [Stage]]DB]"
        );
        assert_eq!(
            create_schema_sql("it's"),
            "IF SCHEMA_ID(N'it''s') IS NULL EXEC(N'CREATE SCHEMA [it''s]')"
        );
        assert_eq!(
            swap_sql("staging", "orders", "orders__stage_new"),
            "SET XACT_ABORT ON; BEGIN TRANSACTION; IF OBJECT_ID(N'[staging].[orders]', N'U') IS NOT NULL DROP TABLE [staging].[orders]; EXEC sp_rename N'[staging].[orders__stage_new]', N'orders', N'OBJECT'; COMMIT TRANSACTION;"
        );
        assert_eq!(
            drop_if_exists_sql("staging", "a]b"),
            "IF OBJECT_ID(N'[staging].[a]]b]', N'U') IS NOT NULL DROP TABLE [staging].[a]]b]"
        );
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        assert_eq!(
            create_table_sql("staging", "t", &schema).unwrap(),
            "CREATE TABLE [staging].[t] ([id] BIGINT NOT NULL, [name] NVARCHAR(MAX) NULL)"
        );
        let bad = Arc::new(Schema::new(vec![Field::new(
            "x",
            DataType::Decimal256(60, 2),
            true,
        )]));
        assert_eq!(
            create_table_sql("staging", "t", &bad)
                .unwrap_err()
                .to_string(),
            "table t, column x: SQL Server staging has no column type for Arrow Decimal256(60, 2)"
        );
    }
}

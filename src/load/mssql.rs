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

mod bulk_rows;
mod sql;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::{Destination, LoadReport, LoadTarget, RunLogRows, TableLoad};
use crate::config::{Endpoint, Secret, WriteMode, DEFAULT_DST_SCHEMA};
use crate::db::mssql::{self as db, cell, db_err, Client, ConnectSpec};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use bulk_rows::bulk_rows;
use sql::{
    applock_sql, create_database_sql, create_schema_sql, create_table_sql, drop_if_exists_sql,
    log_rows_commit_sql, stale_helpers_sql, swap_open_sql, swap_sql, IDENTIFIER_BYTES,
};

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
                .block_on(self.spec.connect(self.password.as_ref()))
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
            // The statement is generated (`load::merge::upsert`) but no SQL Server runs
            // in this project's tests: refused rather than run untried.
            WriteMode::Merge => {
                return Err(unlocked(
                    self,
                    Error::config(format!(
                        "[settings] WRITE_MODE = merge is not available for SQL Server staging yet (staging table {db_schema}.{table}): use replace, or a PostgreSQL, MySQL/MariaDB or SQLite destination"
                    )),
                ))
            }
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
            log_rows: RunLogRows::default(),
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
    /// The run log's rows, written in the commit's transaction.
    log_rows: RunLogRows,
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
        let log_rows = std::mem::take(&mut self.log_rows);
        match self.mode {
            WriteMode::Replace => {
                crate::interrupt::pause_point("swap");
                if log_rows.is_empty() {
                    let sql = swap_sql(&self.schema, &self.table, &self.load_into);
                    self.dst.run(&sql, &ctx)?;
                } else {
                    let sql = format!(
                        "{} {}",
                        swap_open_sql(&self.schema, &self.table, &self.load_into),
                        log_rows_commit_sql(&log_rows)
                    );
                    let failed = self.dst.scalar_names(&sql, &ctx)?;
                    warn_log_rows(&self.table, &failed);
                }
            }
            WriteMode::Truncate | WriteMode::Append | WriteMode::Merge => {
                if log_rows.is_empty() {
                    self.dst.run("COMMIT TRANSACTION", &ctx)?;
                } else {
                    let failed = self
                        .dst
                        .scalar_names(&log_rows_commit_sql(&log_rows), &ctx)?;
                    warn_log_rows(&self.table, &failed);
                }
                self.in_tx = false;
            }
        }
        self.done = true;
        Ok(LoadReport {
            rows: loaded,
            nul_stripped: Vec::new(),
            ..LoadReport::default()
        })
    }

    fn log_on_commit(&mut self, rows: RunLogRows) {
        self.log_rows = rows;
    }
}

/// Warns when the run log's rows were rolled back inside a commit that went on.
fn warn_log_rows(table: &str, failed: &[String]) {
    for e in failed {
        tracing::warn!(table = %table, "the run log's row could not be written with the swap (the load goes on): {e}");
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

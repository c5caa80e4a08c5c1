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
//!
//! * this file: the destination (database, schema, catalog) and the table load (COPY per
//!   batch, retries, count check, swap);
//! * `lock`: the staging table's advisory lock, and dropping the helper tables killed runs
//!   left;
//! * `copy_encoder`: a batch into binary COPY tuples, with `copy_columns` encoding each
//!   column's values;
//! * `merge`: `WRITE_MODE = merge`, the side table applied with `INSERT … ON CONFLICT`.

mod copy_columns;
mod copy_encoder;
mod copy_rows;
mod lock;
mod merge;
#[cfg(test)]
mod round_trip_tests;

use std::collections::HashSet;
use std::io::Write;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use postgres::error::SqlState;
use postgres::Client;

use super::{Destination, LoadReport, LoadTarget, RunLogRows, TableLoad};
use crate::config::{Endpoint, WriteMode};
use crate::db::postgres::{self as db, connect, db_err};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types::postgres as pgt;

use copy_columns::check_encodable;
use copy_encoder::put_copy_header;
use lock::Locked;

pub use copy_encoder::{encode_batch, BatchEncoder};

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
        let connect_err = |e: db::ConnectError| Error::Connect {
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
        let merge_spec = match target.write_mode {
            WriteMode::Merge => Some(super::merge::spec(target, schema)?.clone()),
            _ => target.merge.clone(),
        };
        let create_defs = match &merge_spec {
            Some(m) => format!(
                "{}, PRIMARY KEY ({})",
                defs.join(", "),
                m.key
                    .iter()
                    .map(|k| D.quote(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => defs.join(", "),
        };
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
                .batch_execute(&format!("CREATE TABLE {shadow} ({create_defs})"))
                .map_err(db_err(&ctx))
                .map(|()| shadow.clone()),
            WriteMode::Merge => (|| {
                let existing = self.existing_columns(sch, &target.table)?;
                super::check_kept_columns(target, &existing.unwrap_or_default(), schema)?;
                let side = merge::side_table(&shadow, &defs);
                self.client.batch_execute(&side).map_err(db_err(&ctx))?;
                Ok(shadow.clone())
            })(),
            WriteMode::Truncate | WriteMode::Append => (|| {
                let existing = self
                    .existing_columns(sch, &target.table)?
                    .unwrap_or_default();
                super::check_kept_columns(target, &existing, schema)?;
                let added = super::drift::appended(target, &existing, schema, |f| {
                    pgt::field_ddl_type(f).map_err(|m| Error::column(&shown, f.name(), m))
                })?;
                let mut sql = format!(
                    "BEGIN; CREATE TABLE IF NOT EXISTS {table} ({});",
                    defs.join(", ")
                );
                for (name, ty) in &added {
                    sql.push_str(&format!(
                        " ALTER TABLE {table} ADD COLUMN {} {ty};",
                        D.quote(name)
                    ));
                }
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
            log_rows: RunLogRows::default(),
            create_defs,
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
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
    /// The run log's rows, written in the commit's transaction.
    log_rows: RunLogRows,
    /// The staging table's column definitions (with its primary key for a merge).
    create_defs: String,
    /// Staging column names.
    columns: Vec<String>,
}

impl PgLoad<'_> {
    /// Runs one COPY of `batch`; the rows it loaded. Rows are encoded and sent in slices
    /// of about 64 KiB, so the server parses one slice while the next is encoded. A value
    /// that cannot be encoded aborts the COPY (nothing of the batch is loaded).
    fn copy(&mut self, batch: &RecordBatch, nuls: &mut [u64]) -> Result<u64> {
        let mut encoder = BatchEncoder::new(batch, &self.shown, self.rows_written)?;
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
        for start in (0..rows).step_by(256) {
            encoder.rows(start..(start + 256).min(rows), buf, nuls)?;
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
            WriteMode::Replace | WriteMode::Merge => self.write_replace(batch, &mut nuls),
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
            WriteMode::Replace | WriteMode::Merge => {
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
        if self.mode == WriteMode::Merge {
            let changes = self.commit_merge(loaded)?;
            let mut report = self.report(loaded);
            report.schema_changes = changes;
            return Ok(report);
        }
        let swap = match self.mode {
            WriteMode::Replace => format!(
                "BEGIN; DROP TABLE IF EXISTS {}; ALTER TABLE {} RENAME TO {};",
                self.table,
                self.shadow,
                D.quote(&self.bare)
            ),
            _ => String::new(),
        };
        let log_rows = std::mem::take(&mut self.log_rows);
        let swapped = self.dest.client.batch_execute(&swap).and_then(|()| {
            write_log_rows(&mut self.dest.client, &log_rows, &shown);
            crate::interrupt::pause_point("swap");
            self.dest.client.batch_execute("COMMIT")
        });
        if let Err(e) = swapped {
            let _ = self.dest.client.batch_execute("ROLLBACK");
            return Err(db_err(&ctx)(e));
        }
        self.done = true;
        self.locked.release(&mut self.dest.client);
        Ok(self.report(loaded))
    }

    fn log_on_commit(&mut self, rows: RunLogRows) {
        self.log_rows = rows;
    }
}

/// Runs the run log's rows inside the open commit transaction under a savepoint; when they
/// fail they are rolled back and the swap still commits.
fn write_log_rows(client: &mut Client, rows: &RunLogRows, shown: &str) {
    if rows.is_empty() {
        return;
    }
    let sql = format!(
        "SAVEPOINT stage_run_log; {}; RELEASE SAVEPOINT stage_run_log",
        rows.batch()
    );
    if let Err(e) = client.batch_execute(&sql) {
        let _ = client
            .batch_execute("ROLLBACK TO SAVEPOINT stage_run_log; RELEASE SAVEPOINT stage_run_log");
        tracing::warn!(table = %shown, "the run log's row could not be written with the swap (the load goes on): {}", crate::error::server_words(&e));
    }
}

impl Drop for PgLoad<'_> {
    fn drop(&mut self) {
        if self.done || self.dest.client.is_closed() {
            return;
        }
        let sql = match self.mode {
            WriteMode::Replace | WriteMode::Merge => {
                format!("DROP TABLE IF EXISTS {}", self.shadow)
            }
            _ => "ROLLBACK".into(),
        };
        if let Err(e) = self.dest.client.batch_execute(&sql) {
            tracing::warn!(table = %self.shown, shadow = %self.shadow_bare, "cleaning up an abandoned load failed (the next run cleans up): {e}");
        }
        self.locked.release(&mut self.dest.client);
    }
}

impl PgLoad<'_> {
    fn report(&self, rows: u64) -> LoadReport {
        LoadReport {
            rows,
            nul_stripped: self
                .nul_stripped
                .iter()
                .filter(|(_, n)| *n > 0)
                .cloned()
                .collect(),
            ..LoadReport::default()
        }
    }

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

/// COPY data goes to the driver in slices of about this many bytes. `CopyInWriter` copies
/// each slice into a buffer of its own: 64 KiB slices are copied while still in cache and
/// from memory the allocator reuses (1 MiB slices cost the loader thread ≈ 9 % more CPU).
const SEND_BYTES: usize = 64 << 10;

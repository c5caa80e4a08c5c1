//! `WRITE_MODE = merge` on PostgreSQL: the side table is the run's shadow (loaded by COPY,
//! one transaction per batch, exactly like `replace`), with a `bigserial` load-order
//! column; the commit applies it in one transaction with `INSERT … ON CONFLICT … DO UPDATE`
//! (PostgreSQL 9.5 and later), while the staging table's advisory lock is held.

use postgres::error::SqlState;

use super::{write_log_rows, PgLoad, D};
use crate::db::postgres::db_err;
use crate::error::Result;
use crate::load::drift::{self, CatalogColumn};
use crate::load::merge::{self, SEQ_COLUMN};

/// The side table: the staging columns and the load order, unlogged (a crash loses it,
/// which is what an abandoned load wants anyway).
pub(super) fn side_table(shadow: &str, defs: &[String]) -> String {
    format!(
        "CREATE UNLOGGED TABLE {shadow} ({}, {} bigserial)",
        defs.join(", "),
        D.quote(SEQ_COLUMN)
    )
}

impl PgLoad<'_> {
    /// Applies the side table (`rows` rows, counted) to the staging table in one
    /// transaction with the run log's rows, then drops it. On failure nothing is applied.
    pub(super) fn commit_merge(&mut self, rows: u64) -> Result<Vec<String>> {
        let mut spec = self
            .target
            .merge
            .clone()
            .expect("a merge load has its spec");
        let shown = self.shown.clone();
        let ctx = format!("staging table {shown}: merging the new rows");
        let key = spec
            .key
            .iter()
            .map(|k| D.quote(k))
            .collect::<Vec<_>>()
            .join(", ");
        let client = &mut self.dest.client;
        let mut changes = Vec::new();
        let result = (|| -> Result<()> {
            let distinct = client
                .query_one(&merge::distinct_keys(D, &self.shadow, &spec), &[])
                .map_err(db_err(&ctx))?
                .get::<_, i64>(0) as u64;
            merge::log_duplicates(&shown, rows, distinct);
            client
                .batch_execute(&format!(
                    "BEGIN; CREATE TABLE IF NOT EXISTS {} ({}); SAVEPOINT stage_merge",
                    self.table, self.create_defs
                ))
                .map_err(db_err(&ctx))?;
            let staging = catalog(client, &self.table, &ctx)?;
            let mut side = catalog(client, &self.shadow, &ctx)?;
            side.retain(|c| c.name != SEQ_COLUMN);
            let drift = drift::plan(
                D,
                &shown,
                &self.table,
                &staging,
                &side,
                &spec.key,
                spec.schema_change,
            )?;
            for alter in &drift.alters {
                client.batch_execute(alter).map_err(db_err(&ctx))?;
            }
            for c in &drift.changes {
                tracing::warn!(table = %shown, "schema change: {c}");
            }
            changes = drift.changes;
            spec.dropped = drift.dropped;
            let upsert = merge::upsert(D, &self.table, &self.shadow, &self.columns, &spec);
            match client.batch_execute(&upsert) {
                Ok(()) => {}
                // The table was made by another write mode, without this key: give it one.
                Err(e) if e.code() == Some(&SqlState::INVALID_COLUMN_REFERENCE) => {
                    tracing::info!(table = %shown, key = %key, "the staging table has no unique key on the merge key: adding it as its primary key");
                    client
                        .batch_execute(&format!(
                            "ROLLBACK TO SAVEPOINT stage_merge; ALTER TABLE {} ADD PRIMARY KEY ({key})",
                            self.table
                        ))
                        .map_err(db_err(&ctx))?;
                    client.batch_execute(&upsert).map_err(db_err(&ctx))?;
                }
                Err(e) => return Err(db_err(&ctx)(e)),
            }
            client
                .batch_execute(&format!(
                    "RELEASE SAVEPOINT stage_merge; DROP TABLE {}",
                    self.shadow
                ))
                .map_err(db_err(&ctx))?;
            let log_rows = std::mem::take(&mut self.log_rows);
            write_log_rows(client, &log_rows, &shown);
            crate::interrupt::pause_point("swap");
            client.batch_execute("COMMIT").map_err(db_err(&ctx))
        })();
        if let Err(e) = result {
            let _ = self.dest.client.batch_execute("ROLLBACK");
            return Err(e);
        }
        self.done = true;
        self.locked.release(&mut self.dest.client);
        Ok(changes)
    }
}

/// A table's columns as the catalog spells them (`table`: quoted and qualified).
fn catalog(client: &mut postgres::Client, table: &str, ctx: &str) -> Result<Vec<CatalogColumn>> {
    let rows = client
        .query(
            "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull \
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::text::regclass \
             AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&table],
        )
        .map_err(db_err(ctx))?;
    Ok(rows
        .iter()
        .map(|r| CatalogColumn {
            name: r.get(0),
            ty: r.get(1),
            not_null: r.get(2),
        })
        .collect())
}

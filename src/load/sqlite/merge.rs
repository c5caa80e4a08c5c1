//! `WRITE_MODE = merge` on SQLite: the side table is loaded inside the load's one write
//! transaction and applied with `INSERT … ON CONFLICT … DO UPDATE` before its `COMMIT`; the
//! load order is the side table's `rowid`.

use super::{db_err, SqliteLoad, D};
use crate::error::Result;
use crate::load::drift::{self, CatalogColumn};
use crate::load::merge::{self, MergeSpec};

/// `create` (a `CREATE TABLE t (…)`) with the merge key as primary key.
pub(super) fn with_key(create: &str, spec: Option<&MergeSpec>) -> String {
    match spec {
        None => create.to_string(),
        Some(m) => {
            let key: Vec<String> = m.key.iter().map(|k| D.quote(k)).collect();
            let body = create.strip_suffix(')').unwrap_or(create);
            format!("{body}, PRIMARY KEY ({}))", key.join(", "))
        }
    }
}

/// A table's columns as declared.
fn catalog(c: &rusqlite::Connection, table: &str, ctx: &str) -> Result<Vec<CatalogColumn>> {
    let mut stmt = c
        .prepare("SELECT lower(name), type, \"notnull\" FROM pragma_table_info(?1)")
        .map_err(db_err(ctx))?;
    let rows = stmt
        .query_map([table], |r| {
            Ok(CatalogColumn {
                name: r.get(0)?,
                ty: r.get(1)?,
                not_null: r.get::<_, i64>(2)? != 0,
            })
        })
        .and_then(|rows| rows.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(db_err(ctx))?;
    Ok(rows)
}

impl SqliteLoad<'_> {
    /// Applies the side table (`rows` rows) to the staging table and drops it, inside the
    /// load's open transaction.
    pub(super) fn apply_merge(&mut self, rows: u64) -> Result<()> {
        let mut spec = self.merge.clone().expect("a merge load has its spec");
        let ctx = format!("staging table {}: merging the new rows", self.table);
        let table = D.quote(&self.table);
        let side = D.quote(&self.load_into);
        let c = self.conn;
        let distinct = c
            .query_row(&merge::distinct_keys(D, &side, &spec), [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(db_err(&ctx))? as u64;
        merge::log_duplicates(&self.table, rows, distinct);
        let create = self
            .create
            .replacen("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1);
        c.execute_batch(&create).map_err(db_err(&ctx))?;
        let staging = catalog(c, &self.table, &ctx)?;
        let side_cols = catalog(c, &self.load_into, &ctx)?;
        let drift = drift::plan(
            D,
            &self.table,
            &table,
            &staging,
            &side_cols,
            &spec.key,
            spec.schema_change,
        )?;
        for alter in &drift.alters {
            c.execute_batch(alter).map_err(db_err(&ctx))?;
        }
        for change in &drift.changes {
            tracing::warn!(table = %self.table, "schema change: {change}");
        }
        spec.dropped = drift.dropped;
        self.schema_changes = drift.changes;
        let upsert = merge::upsert(D, &table, &side, &self.columns, &spec);
        if let Err(e) = c.execute_batch(&upsert) {
            if !e
                .to_string()
                .contains("does not match any PRIMARY KEY or UNIQUE")
            {
                return Err(db_err(&ctx)(e));
            }
            // A table made by another write mode: a unique index on the key serves.
            tracing::info!(table = %self.table, "the staging table has no unique key on the merge key: adding a unique index");
            let key: Vec<String> = spec.key.iter().map(|k| D.quote(k)).collect();
            let index = D.quote(&format!("{}__stage_key", self.table));
            c.execute_batch(&format!(
                "CREATE UNIQUE INDEX {index} ON {table} ({})",
                key.join(", ")
            ))
            .map_err(db_err(&ctx))?;
            c.execute_batch(&upsert).map_err(db_err(&ctx))?;
        }
        c.execute_batch(&format!("DROP TABLE {side}"))
            .map_err(db_err(&ctx))?;
        Ok(())
    }
}

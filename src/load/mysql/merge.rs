//! `WRITE_MODE = merge` on MySQL/MariaDB: the side table is the run's shadow with an
//! `AUTO_INCREMENT` load-order column, loaded batch by batch like `replace`; the commit
//! creates the staging table with the key when missing (DDL commits in MySQL, so before
//! the transaction), then applies the side table with `INSERT … ON DUPLICATE KEY UPDATE`
//! in one transaction together with the run log's rows, and drops the side table.
//!
//! Text key columns become `VARCHAR(255)` (MySQL cannot index `LONGTEXT` whole); a longer
//! key value fails the load in strict mode rather than being cut.

use arrow::datatypes::{DataType, SchemaRef};
use mysql::prelude::Queryable;

use super::{MysqlDestination, MysqlLoad, D};
use crate::db::mysql::db_err;
use crate::error::{Error, Result};
use crate::load::drift::{self, CatalogColumn};
use crate::load::merge::{self, MergeSpec, SEQ_COLUMN};
use crate::load::LoadTarget;
use crate::types;

/// A merge load's key and the staging table's `CREATE TABLE`, with the key.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub spec: MergeSpec,
    pub create: String,
    pub columns: Vec<String>,
}

/// For a merge load (or a replace of a table that merges): the key and the DDL.
pub(super) fn pending(target: &LoadTarget, schema: &SchemaRef) -> Result<Option<Pending>> {
    let spec = match target.write_mode {
        crate::config::WriteMode::Merge => merge::spec(target, schema)?.clone(),
        _ => match &target.merge {
            Some(m) => m.clone(),
            None => return Ok(None),
        },
    };
    let table = &target.table;
    let mut cols = Vec::new();
    for f in schema.fields() {
        let keyed = spec.key.contains(f.name());
        let ty = match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if keyed => {
                "VARCHAR(255)".to_string()
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView if keyed => {
                "VARBINARY(255)".to_string()
            }
            dt => types::mysql::ddl_type(dt).map_err(|m| Error::column(table, f.name(), m))?,
        };
        let null = if f.is_nullable() && !keyed {
            " NULL"
        } else {
            " NOT NULL"
        };
        cols.push(format!("{} {ty}{null}", D.quote(f.name())));
    }
    let key: Vec<String> = spec.key.iter().map(|k| D.quote(k)).collect();
    let create = format!(
        "CREATE TABLE {} ({}, PRIMARY KEY ({})) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        D.quote(table),
        cols.join(", "),
        key.join(", ")
    );
    Ok(Some(Pending {
        spec,
        create,
        columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
    }))
}

/// The side table's `CREATE TABLE` from the plain one: the load-order column added.
pub(super) fn side_sql(plain: &str) -> String {
    let (body, options) = plain.split_once(") ENGINE=").unwrap_or((plain, ""));
    format!(
        "{body}, {} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY) ENGINE={options}",
        D.quote(SEQ_COLUMN)
    )
}

impl MysqlDestination {
    /// A table's columns as the catalog spells them.
    fn catalog(&mut self, table: &str) -> Result<Vec<CatalogColumn>> {
        let rows: Vec<(String, String, String)> = self
            .conn
            .exec(
                "SELECT LOWER(COLUMN_NAME), COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (self.database.as_str(), table),
            )
            .map_err(db_err(format!("staging table {table}: reading the catalog")))?;
        Ok(rows
            .into_iter()
            .map(|(name, ty, nullable)| CatalogColumn {
                name,
                ty,
                not_null: nullable.eq_ignore_ascii_case("NO"),
            })
            .collect())
    }

    /// Whether `table` has a unique index on exactly the `key` columns.
    fn has_unique_key(&mut self, table: &str, key: &[String]) -> Result<bool> {
        let rows: Vec<(String, String)> = self
            .conn
            .exec(
                "SELECT INDEX_NAME, GROUP_CONCAT(LOWER(COLUMN_NAME) ORDER BY COLUMN_NAME SEPARATOR ',') \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
                 GROUP BY INDEX_NAME",
                (self.database.as_str(), table),
            )
            .map_err(db_err(format!("staging table {table}: reading its keys")))?;
        let mut want: Vec<String> = key.to_vec();
        want.sort();
        let want = want.join(",");
        Ok(rows.iter().any(|(_, cols)| *cols == want))
    }
}

impl MysqlLoad<'_> {
    /// Applies the side table (`rows` rows, counted) to the staging table in one
    /// transaction with the run log's rows, then drops the side table.
    pub(super) fn commit_merge(&mut self, rows: u64) -> Result<()> {
        let mut p = self.merge.clone().expect("a merge load has its spec");
        let ctx = format!("staging table {}: merging the new rows", self.table);
        let table = D.quote(&self.table);
        let side = D.quote(&self.load_into);
        let create = p
            .create
            .replacen("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1);
        self.dst.run(&create, &ctx)?;
        if !self.dst.has_unique_key(&self.table, &p.spec.key)? {
            tracing::info!(table = %self.table, "the staging table has no unique key on the merge key: adding it as its primary key");
            let key: Vec<String> = p.spec.key.iter().map(|k| D.quote(k)).collect();
            self.dst.run(
                &format!("ALTER TABLE {table} ADD PRIMARY KEY ({})", key.join(", ")),
                &ctx,
            )?;
        }
        let staging = self.dst.catalog(&self.table)?;
        let mut side_cols = self.dst.catalog(&self.load_into)?;
        side_cols.retain(|c| c.name != SEQ_COLUMN);
        let drift = drift::plan(
            D,
            &self.table,
            &table,
            &staging,
            &side_cols,
            &p.spec.key,
            p.spec.schema_change,
        )?;
        for alter in &drift.alters {
            // DDL commits in MySQL: the changes stand even if the merge then fails; each is
            // one a later run would make again.
            self.dst.run(alter, &ctx)?;
        }
        for c in &drift.changes {
            tracing::warn!(table = %self.table, "schema change: {c}");
        }
        p.spec.dropped = drift.dropped;
        self.schema_changes = drift.changes;
        let distinct: Option<u64> = self
            .dst
            .conn
            .query_first(merge::distinct_keys(D, &side, &p.spec))
            .map_err(db_err(&ctx))?;
        merge::log_duplicates(&self.table, rows, distinct.unwrap_or(0));
        let upsert = merge::upsert(D, &table, &side, &p.columns, &p.spec);
        self.dst.run("START TRANSACTION", &ctx)?;
        let applied = self.dst.run(&upsert, &ctx).map(|()| {
            self.write_log_rows(false);
            crate::interrupt::pause_point("swap");
        });
        if let Err(e) = applied.and_then(|()| self.dst.run("COMMIT", &ctx)) {
            let _ = self.dst.conn.query_drop("ROLLBACK");
            return Err(e);
        }
        self.open = false;
        if let Err(e) = self.dst.run(&format!("DROP TABLE {side}"), &ctx) {
            tracing::warn!(table = %self.table, error = %e, "the rows are merged but the side table could not be dropped (the next run drops it)");
        }
        Ok(())
    }
}

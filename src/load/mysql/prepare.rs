//! Before a table's load: the staging table's named lock (held by the session from `begin`
//! until the swap or the end of the load), and the table to load into — helper tables
//! killed runs left dropped, the shadow or the staging table created, new columns added,
//! the load's transaction started.

use arrow::datatypes::SchemaRef;
use mysql::prelude::Queryable;

use super::{merge, MysqlDestination, D, IDENTIFIER_BYTES};
use crate::config::WriteMode;
use crate::db::mysql::db_err;
use crate::error::{Error, Result};
use crate::load::{
    check_kept_columns, drift, helper_prefix, like_prefix, stale_helpers, LoadTarget,
};
use crate::types;

impl MysqlDestination {
    /// Takes the staging table's named lock (`GET_LOCK`, waiting up to
    /// `LOCK_WAIT_SECONDS`), held by this session for the whole load and swap.
    pub(super) fn lock(&mut self, target: &LoadTarget) -> Result<String> {
        let name = LoadTarget {
            schema: Some(self.database.clone()),
            ..target.clone()
        }
        .lock_name(64);
        let ctx = format!("staging table {}: taking its lock", target.table);
        let wait = target.lock_wait.as_secs_f64();
        let got: Option<Option<i64>> = self
            .conn
            .exec_first("SELECT GET_LOCK(?, ?)", (name.as_str(), wait))
            .map_err(db_err(&ctx))?;
        if got.flatten() == Some(1) {
            return Ok(name);
        }
        let holder: Option<(u64, String, String, u64)> = self
            .conn
            .exec_first(
                "SELECT p.ID, p.USER, p.HOST, p.TIME FROM information_schema.PROCESSLIST p \
                 WHERE p.ID = IS_USED_LOCK(?)",
                (name.as_str(),),
            )
            .ok()
            .flatten();
        Err(Error::Locked {
            table: target.table.clone(),
            holder: holder
                .map(|(id, user, host, secs)| {
                    format!(" (held by connection {id} of {user}@{host}, connected for {secs} s)")
                })
                .unwrap_or_default(),
        })
    }

    pub(super) fn unlock(&mut self, name: &str) {
        if let Err(e) = self.conn.exec_drop("DO RELEASE_LOCK(?)", (name,)) {
            tracing::warn!(lock = %name, "releasing the staging table's lock failed (it ends with the session): {e}");
        }
    }

    /// Drops what killed runs left of this table (shadows, retired tables), creates the
    /// table to load into and starts the load's transaction. Returns the staging column
    /// names, the effective write mode, the table loaded into and its rows before.
    pub(super) fn prepare(
        &mut self,
        target: &LoadTarget,
        schema: &SchemaRef,
        create: &str,
    ) -> Result<(Vec<String>, WriteMode, String, u64)> {
        let table = target.table.clone();
        let ctx = format!("staging table {table}: preparing");
        let found: Vec<String> = self
            .conn
            .exec(
                "SELECT TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ?",
                (
                    self.database.as_str(),
                    like_prefix(&helper_prefix(&table, IDENTIFIER_BYTES)),
                ),
            )
            .map_err(db_err(&ctx))?;
        for stale in stale_helpers(&table, IDENTIFIER_BYTES, found) {
            self.run(&format!("DROP TABLE IF EXISTS {}", D.quote(&stale)), &ctx)?;
            tracing::info!(table = %table, helper = %stale, "dropped a helper table left by an earlier, killed run");
        }
        let existing = self.existing_columns(&table)?;
        let wanted = check_kept_columns(target, &existing, schema)?;
        // DDL commits in MySQL: a table that does not exist yet is built as a shadow and
        // renamed into place at the end, so a failed first load leaves no empty table.
        let mode = if existing.is_empty() && target.write_mode != WriteMode::Merge {
            WriteMode::Replace
        } else {
            target.write_mode
        };
        let shadow = target.shadow(IDENTIFIER_BYTES);
        let (load_into, rows_before) = match mode {
            WriteMode::Merge => {
                self.run(&merge::side_sql(&Self::create_sql(&shadow, schema)?), &ctx)?;
                (shadow, 0)
            }
            WriteMode::Replace => {
                let create_shadow = create.replacen(&D.quote(&table), &D.quote(&shadow), 1);
                self.run(&create_shadow, &ctx)?;
                (shadow, 0)
            }
            WriteMode::Truncate | WriteMode::Append => {
                // DDL commits: the new columns are added before the load's transaction.
                let added = drift::appended(target, &existing, schema, |f| {
                    types::mysql::ddl_type(f.data_type())
                        .map_err(|m| Error::column(&table, f.name(), m))
                })?;
                for (name, ty) in &added {
                    self.run(
                        &format!(
                            "ALTER TABLE {} ADD COLUMN {} {ty} NULL",
                            D.quote(&table),
                            D.quote(name)
                        ),
                        &ctx,
                    )?;
                }
                self.run("START TRANSACTION", &ctx)?;
                if target.write_mode == WriteMode::Truncate {
                    if let Err(e) = self.run(&format!("DELETE FROM {}", D.quote(&table)), &ctx) {
                        let _ = self.conn.query_drop("ROLLBACK");
                        return Err(e);
                    }
                }
                match self.count(&table) {
                    Ok(n) => (table.clone(), n),
                    Err(e) => {
                        let _ = self.conn.query_drop("ROLLBACK");
                        return Err(e);
                    }
                }
            }
        };
        Ok((wanted, mode, load_into, rows_before))
    }
}

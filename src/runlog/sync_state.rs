//! An incremental table's state in `sync_metadata` (#16): `sync_mode`, `cursor_columns`,
//! `cursor_type`, `watermark` (text, the cursor's full precision) and
//! `last_full_refresh_at`. The state is written by the table's `ok` row, so it commits in
//! the loader's transaction with the rows it describes ([`RunLog::commit_rows`]); a watermark
//! is only ever replaced by a run's new one, never emptied, except by `stage state reset`.

use chrono::Utc;

use super::sql::{Flavor, Sql, LOGS, SYNC};
use super::{connect, logged_name, sql_for, RunLog, Store, TableLogRow};
use crate::config::{Config, DEFAULT_DST_SCHEMA};
use crate::error::Result;
use crate::incremental::Stored;
use crate::load::{LoadTarget, RunLogRows};

/// What a table's `ok` row sets of its state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// `full` or `incremental`.
    pub mode: String,
    pub cursor_columns: Option<String>,
    pub cursor_type: Option<String>,
    /// The new watermark; `None` keeps the stored one.
    pub watermark: Option<String>,
    /// The table was reloaded whole (`last_full_refresh_at` = now).
    pub full_refresh: bool,
}

/// One table's state, for `stage state show`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateRow {
    pub table: String,
    pub sync_mode: Option<String>,
    pub cursor_columns: Option<String>,
    pub cursor_type: Option<String>,
    pub watermark: Option<String>,
    pub last_full_refresh_at: Option<String>,
    pub last_sync_date: Option<String>,
}

impl Sql {
    /// The `sync_metadata` columns an `ok` row's state sets.
    pub(super) fn sync_state_sets(&self, row: &TableLogRow) -> Vec<(&'static str, String)> {
        let Some(s) = &row.sync else {
            return Vec::new();
        };
        let mut sets = vec![("sync_mode", self.text(&s.mode))];
        if let Some(c) = &s.cursor_columns {
            sets.push(("cursor_columns", self.text(c)));
        }
        if let Some(t) = &s.cursor_type {
            sets.push(("cursor_type", self.text(t)));
        }
        if let Some(w) = &s.watermark {
            sets.push(("watermark", self.text(w)));
        }
        if s.full_refresh {
            sets.push(("last_full_refresh_at", self.time(row.ended_at)));
        }
        sets
    }

    /// Every table's state, or `table`'s.
    fn state_query(&self, table: Option<&str>) -> String {
        let cols = [
            self.as_text("table_name"),
            self.as_text("sync_mode"),
            self.as_text("cursor_columns"),
            self.as_text("cursor_type"),
            self.as_text("watermark"),
            self.time_text("last_full_refresh_at"),
            self.time_text("last_sync_date"),
        ]
        .join(", ");
        let name = self.d_quote("table_name");
        match table {
            Some(t) => format!(
                "SELECT {cols} FROM {} WHERE {name} = {}",
                self.table(SYNC),
                self.text(t)
            ),
            None => format!("SELECT {cols} FROM {} ORDER BY {name}", self.table(SYNC)),
        }
    }

    fn d_quote(&self, c: &str) -> String {
        crate::dialect::Dialect::of(match self.flavor {
            Flavor::Postgres => crate::config::Driver::Postgres,
            Flavor::Mysql => crate::config::Driver::Mysql,
            Flavor::Sqlite => crate::config::Driver::Sqlite,
            Flavor::Mssql => crate::config::Driver::Mssql,
        })
        .quote(c)
    }

    /// Clears `table`'s watermark (the next run reads from the start) and logs it.
    fn reset_state(&self, table: &str, was: Option<&str>) -> Vec<String> {
        let now = self.time(Utc::now());
        let update = format!(
            "UPDATE {} SET {} = NULL, {} = {now} WHERE {} = {}",
            self.table(SYNC),
            self.d_quote("watermark"),
            self.d_quote("updated_at"),
            self.d_quote("table_name"),
            self.text(table)
        );
        let log = self.insert(
            LOGS,
            &[
                ("execution_date", now.clone()),
                ("table_name", self.text(table)),
                ("records_extracted", "0".into()),
                ("records_loaded", "0".into()),
                ("status", self.text("state_reset")),
                (
                    "error_message",
                    self.text(&format!(
                        "stage state reset: watermark {} cleared",
                        was.unwrap_or("(none)")
                    )),
                ),
                ("run_id", self.text("state-reset")),
                ("source_table", self.text(table)),
                ("started_at", now.clone()),
                ("ended_at", now),
            ],
        );
        vec![update, log]
    }
}

fn rows_of(store: &mut dyn Store, sql: &str) -> Result<Vec<StateRow>> {
    Ok(store
        .query(sql)?
        .into_iter()
        .map(|row| {
            let mut c = row.into_iter();
            let mut next = || c.next().flatten();
            StateRow {
                table: next().unwrap_or_default(),
                sync_mode: next(),
                cursor_columns: next(),
                cursor_type: next(),
                watermark: next(),
                last_full_refresh_at: next(),
                last_sync_date: next(),
            }
        })
        .collect())
}

impl RunLog {
    /// The stored state of the staging table `table` (empty when it has none).
    pub fn stored_state(&self, staging_schema: Option<&str>, table: &str) -> Result<Stored> {
        let name = self.table_name(staging_schema, table);
        let rows = rows_of(self.store().as_mut(), &self.sql.state_query(Some(&name)))?;
        Ok(rows.into_iter().next().map(stored).unwrap_or_default())
    }
}

fn stored(r: StateRow) -> Stored {
    Stored {
        watermark: r.watermark,
        cursor_type: r.cursor_type,
        cursor_columns: r.cursor_columns,
        last_full_refresh_at: r.last_full_refresh_at,
    }
}

/// How the run log names the staging table of the listed table `listed`.
fn name_for(cfg: &Config, sql: &Sql, listed: &str) -> String {
    let default = match sql.flavor {
        Flavor::Postgres => Some("public"),
        Flavor::Mssql => Some(DEFAULT_DST_SCHEMA),
        Flavor::Mysql | Flavor::Sqlite => None,
    };
    logged_name(
        default,
        sql.schema.as_deref(),
        cfg.destination.schema.as_deref(),
        &cfg.table(listed).staging,
    )
}

/// `stage state show [--table T]`: the stored state of every table, or of `T`.
pub fn show(cfg: &Config, table: Option<&str>) -> Result<Vec<StateRow>> {
    let sql = sql_for(cfg)?;
    let mut store = connect(&cfg.destination, super::SQLITE_BUSY, false)?;
    if store.query(&sql.columns_of(SYNC))?.is_empty() {
        return Ok(Vec::new());
    }
    let name = table.map(|t| name_for(cfg, &sql, t));
    rows_of(store.as_mut(), &sql.state_query(name.as_deref()))
}

/// `stage state reset [--table T]`: clears the watermark of `T`, or of every listed table
/// that has one; each reset is logged in `etl_logs`. Returns the tables reset with the
/// watermark each had.
pub fn reset(cfg: &Config, table: Option<&str>) -> Result<Vec<(String, Option<String>)>> {
    let sql = sql_for(cfg)?;
    let mut store = connect(&cfg.destination, super::SQLITE_BUSY, false)?;
    if store.query(&sql.columns_of(SYNC))?.is_empty() {
        return Ok(Vec::new());
    }
    let listed: Vec<String> = match table {
        Some(t) => vec![t.to_string()],
        None => cfg.settings.tables.clone(),
    };
    let mut done = Vec::new();
    for t in listed {
        let name = name_for(cfg, &sql, &t);
        let Some(row) = rows_of(store.as_mut(), &sql.state_query(Some(&name)))?
            .into_iter()
            .next()
        else {
            continue;
        };
        store.execute(&sql.reset_state(&name, row.watermark.as_deref()))?;
        tracing::info!(table = %name, watermark = ?row.watermark, "watermark cleared (stage state reset)");
        done.push((name, row.watermark));
    }
    Ok(done)
}

/// How the run log names the staging table of `target`.
fn target_name(sql: &Sql, target: &LoadTarget) -> String {
    let default = match sql.flavor {
        Flavor::Postgres => Some("public"),
        Flavor::Mssql => Some(DEFAULT_DST_SCHEMA),
        Flavor::Mysql | Flavor::Sqlite => None,
    };
    logged_name(
        default,
        sql.schema.as_deref(),
        target.schema.as_deref(),
        &target.table,
    )
}

/// The stored state of `target`, read over a connection of its own (DUMP reads before its
/// load phase opens the run log; `stage load` has none). No run log yet: no state.
pub fn stored_for(cfg: &Config, target: &LoadTarget) -> Result<Stored> {
    let sql = sql_for(cfg)?;
    let mut store = connect(&cfg.destination, super::SQLITE_BUSY, true)?;
    if store.query(&sql.columns_of(SYNC))?.is_empty() {
        return Ok(Stored::default());
    }
    let name = target_name(&sql, target);
    let rows = rows_of(store.as_mut(), &sql.state_query(Some(&name)))?;
    Ok(rows.into_iter().next().map(stored).unwrap_or_default())
}

/// The `sync_metadata` upsert alone, for a load that has no open run log (`stage load`):
/// it commits with the load's rows like the run log's rows do.
pub fn standalone_rows(cfg: &Config, target: &LoadTarget, state: SyncState) -> RunLogRows {
    let Ok(sql) = sql_for(cfg) else {
        return RunLogRows::default();
    };
    let name = target_name(&sql, target);
    let mut row = TableLogRow::new(&target.table, target, Utc::now());
    row.sync = Some(state);
    let mut sets = vec![("updated_at", sql.time(row.ended_at))];
    sets.extend(sql.sync_state_sets(&row));
    RunLogRows {
        statements: vec![sql.upsert(SYNC, ("table_name", sql.text(&name)), &sets)],
    }
}

impl RunLog {
    /// Records what a merge changed of the staging table's columns: one `etl_logs` row with
    /// status `schema_change`, the changes in its message.
    pub fn schema_changed(
        &self,
        target: &LoadTarget,
        source_table: &str,
        changes: &[String],
    ) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let name = self.table_name(target.schema.as_deref(), &target.table);
        let now = self.sql.time(Utc::now());
        let row = self.sql.insert(
            LOGS,
            &[
                ("execution_date", now.clone()),
                ("table_name", self.sql.text(&name)),
                ("records_extracted", "0".into()),
                ("records_loaded", "0".into()),
                ("status", self.sql.text("schema_change")),
                ("error_message", self.sql.text(&changes.join("; "))),
                ("run_id", self.sql.text(self.run_id())),
                ("source_table", self.sql.text(source_table)),
                ("write_mode", self.sql.text(target.write_mode.name())),
                ("started_at", now.clone()),
                ("ended_at", now),
            ],
        );
        self.store().execute(&[row])
    }
}

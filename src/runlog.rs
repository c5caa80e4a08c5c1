//! The run log in the destination (`[settings] RUN_LOG`, default on): what an operator
//! queries after a night. Three tables, under the names of the design this tool comes from
//! (so its monitoring queries keep working), in `RUN_LOG_SCHEMA` (default: the staging
//! schema on PostgreSQL and SQL Server; the staging database itself on MySQL/MariaDB and
//! SQLite):
//!
//! * `etl_runs` — one row per run: `running` from [`RunLog::open`], a heartbeat every
//!   [`DEFAULT_HEARTBEAT`], the end from [`RunLog::finish`]. A run whose heartbeat is older
//!   than [`STALE_HEARTBEATS`] intervals (killed, host lost) is marked `interrupted` by the
//!   next run's `open`, ended at its last heartbeat.
//! * `etl_logs` — one row per table per run. A table's `ok` row commits in the same
//!   transaction as its swap ([`RunLog::commit_rows`] → [`crate::load::TableLoad::log_on_commit`]);
//!   a failure is written after the rollback, in a transaction of its own
//!   ([`RunLog::table_failed`]).
//! * `sync_metadata` — one row per staging table: the last success (`last_sync_date`,
//!   `total_records`, `last_success_run_id`, `schema_hash`) and the last attempt
//!   (`last_run_id`), updated with each table's row.
//!
//! The tables are created when missing, and columns a table lacks (one created by the
//! seed's layout, or by an older `stage`) are added. Times come from the tool's clock, in
//! UTC. Nothing here fails a run: the caller logs errors as warnings and goes on.
//!
//! ```text
//! run:  open ──▶ for each table: [ok]  commit_rows ─▶ TableLoad::log_on_commit ─▶ commit
//!                                [err] (load dropped / rolled back) ─▶ table_failed
//!       ──▶ finish                (heartbeat thread, own connection, until finish/drop)
//! ```
//!
//! `record` holds what is logged (a run's status and end, a table's row, failure classes);
//! `sql` renders the SQL text per database; `postgres`, `mysql`, `sqlite`, `mssql` are the
//! run log's own connections ([`Store`]); `heartbeat` the thread; `status` reads the log
//! for `stage status`.

mod heartbeat;
mod mssql;
mod mysql;
mod postgres;
mod record;
mod sql;
mod sqlite;
pub mod status;
pub mod sync_state;

pub use record::{one_line, schema_hash, FailureClass, RunEnd, RunStatus, TableLogRow};
pub use sync_state::{StateRow, SyncState};

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crate::load::RunLogRows;

use crate::config::{Config, Driver, Endpoint, DEFAULT_DST_SCHEMA};
use crate::error::{Error, Result};
use sql::{Flavor, Kind, RunRow, Sql, TABLES};

/// How often a running run writes `etl_runs.last_heartbeat_at`.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);

/// Test only: the heartbeat interval in seconds (fractions allowed) instead of
/// [`DEFAULT_HEARTBEAT`]; staleness is judged with the same interval.
pub const HEARTBEAT_ENV: &str = "STAGE_RUN_LOG_HEARTBEAT_SECONDS";

/// A `running` run whose last heartbeat is older than this many intervals is interrupted.
pub const STALE_HEARTBEATS: u32 = 3;

/// Longest `error_message` kept, in bytes.
pub const MAX_ERROR_BYTES: usize = 4000;

/// One of the run log's own connections.
trait Store: Send {
    /// Runs `statements` in one transaction.
    fn execute(&mut self, statements: &[String]) -> Result<()>;

    /// The rows of a query, every value as text.
    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>>;
}

/// How long the run log's SQLite connection waits for the file's write lock (a load
/// holds it for the whole table).
const SQLITE_BUSY: Duration = Duration::from_secs(30);

/// Connects to the destination. SQLite: waits `sqlite_busy` for the file's write lock, and
/// creates the file only when `create`.
fn connect(endpoint: &Endpoint, sqlite_busy: Duration, create: bool) -> Result<Box<dyn Store>> {
    Ok(match endpoint.driver {
        Driver::Postgres => Box::new(postgres::PgStore::open(endpoint)?),
        Driver::Mysql | Driver::Mariadb => Box::new(mysql::MysqlStore::open(endpoint)?),
        Driver::Sqlite => Box::new(sqlite::SqliteStore::open(endpoint, sqlite_busy, create)?),
        Driver::Mssql => Box::new(mssql::MssqlStore::open(endpoint)?),
        Driver::Oracle => {
            return Err(Error::config(
                "the run log lives in the destination, and Oracle is a source only",
            ))
        }
    })
}

/// Where the run log lives for `cfg`: its SQL and the schema it is in.
fn sql_for(cfg: &Config) -> Result<Sql> {
    let settings = &cfg.settings;
    let dst = &cfg.destination;
    let (flavor, schema) = match dst.driver {
        Driver::Postgres => (
            Flavor::Postgres,
            settings.run_log_schema.clone().or(dst.schema.clone()),
        ),
        Driver::Mssql => (
            Flavor::Mssql,
            Some(
                settings
                    .run_log_schema
                    .clone()
                    .or(dst.schema.clone())
                    .unwrap_or_else(|| DEFAULT_DST_SCHEMA.to_string()),
            ),
        ),
        Driver::Mysql | Driver::Mariadb | Driver::Sqlite => {
            if let Some(s) = &settings.run_log_schema {
                tracing::warn!("[settings] RUN_LOG_SCHEMA = \"{s}\" is not used for {}: the run log goes into the staging database", dst.driver);
            }
            let flavor = if dst.driver == Driver::Sqlite {
                Flavor::Sqlite
            } else {
                Flavor::Mysql
            };
            (flavor, None)
        }
        Driver::Oracle => {
            return Err(Error::config(
                "the run log lives in the destination, and Oracle is a source only",
            ))
        }
    };
    Ok(Sql { flavor, schema })
}

/// Creates the schema (a failure is a warning: it may exist), the tables, the columns a
/// table lacks, and the indexes (a failure is a warning).
fn prepare(store: &mut dyn Store, sql: &Sql) -> Result<()> {
    if let Some(create) = sql.create_schema() {
        if let Err(e) = store.execute(&[create]) {
            tracing::warn!(
                "the run log's schema could not be created (going on; it may exist): {e:#}"
            );
        }
    }
    let create = sql.create_tables();
    if store.execute(&create).is_err() {
        // Another run may have created them at the same moment: once more.
        store.execute(&create)?;
    }
    for (table, columns) in TABLES {
        let have: HashSet<String> = store
            .query(&sql.columns_of(table))?
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .map(|c| c.to_lowercase())
            .collect();
        let add: Vec<String> = columns
            .iter()
            .filter(|c| !c.key && c.kind != Kind::Id && !have.contains(c.name))
            .map(|c| sql.add_column(table, c))
            .collect();
        if !add.is_empty() {
            tracing::info!(table = %table, columns = add.len(), "adding the run log's columns to an existing table");
            store.execute(&add)?;
        }
    }
    let indexes = sql.create_indexes();
    if !indexes.is_empty() {
        if let Err(e) = store.execute(&indexes) {
            tracing::warn!("the run log's indexes could not be created: {e:#}");
        }
    }
    Ok(())
}

/// The heartbeat interval: [`HEARTBEAT_ENV`] when set (tests), else [`DEFAULT_HEARTBEAT`].
pub fn heartbeat_interval() -> Duration {
    std::env::var(HEARTBEAT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_HEARTBEAT, Duration::from_secs_f64)
}

/// This host's name, for `etl_runs.host`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// See [`RunLog::table_name`]; `default` is the schema a load without one goes to
/// (`None`: the database has no schemas).
fn logged_name(
    default: Option<&str>,
    log_schema: Option<&str>,
    staging_schema: Option<&str>,
    table: &str,
) -> String {
    let Some(default) = default else {
        return table.to_string();
    };
    let staging = staging_schema.unwrap_or(default);
    if staging == log_schema.unwrap_or(default) {
        table.to_string()
    } else {
        format!("{staging}.{table}")
    }
}

/// The open run log of one run. `Send + Sync`: tables running in parallel share it (its
/// connection is behind a mutex; a heartbeat thread has its own).
pub struct RunLog {
    run_id: String,
    sql: Sql,
    /// The schema a load without a schema goes to (PostgreSQL: `public`, the usual search
    /// path; SQL Server: `staging`); `None` where there are no schemas.
    default_schema: Option<&'static str>,
    store: Mutex<Box<dyn Store>>,
    heartbeat: Mutex<Option<heartbeat::Heartbeat>>,
}

impl RunLog {
    /// Opens the run log for run `run_id` (call after `load::open`, which creates the
    /// staging database when missing): creates the tables when missing, marks stale
    /// `running` runs `interrupted`, inserts this run's `running` row and starts the
    /// heartbeat ([`heartbeat_interval`]). Call only with `RUN_LOG` on (see
    /// [`RunLog::open_if_enabled`]). An error (destination unreachable, no rights) is for
    /// the caller to log as a warning; the run goes on without a run log.
    pub fn open(
        cfg: &Config,
        run_id: &str,
        mode: &str,
        config_path: Option<&Path>,
    ) -> Result<RunLog> {
        RunLog::open_with(cfg, run_id, mode, config_path, heartbeat_interval())
    }

    /// [`RunLog::open`] with an explicit heartbeat interval (tests).
    pub fn open_with(
        cfg: &Config,
        run_id: &str,
        mode: &str,
        config_path: Option<&Path>,
        heartbeat: Duration,
    ) -> Result<RunLog> {
        RunLog::open_since(cfg, run_id, mode, config_path, heartbeat, Utc::now())
    }

    /// [`RunLog::open_with`] for a run that started at `started_at` (DUMP opens the run log
    /// only when its load phase begins).
    fn open_since(
        cfg: &Config,
        run_id: &str,
        mode: &str,
        config_path: Option<&Path>,
        heartbeat: Duration,
        started_at: DateTime<Utc>,
    ) -> Result<RunLog> {
        let sql = sql_for(cfg)?;
        let mut store = connect(&cfg.destination, SQLITE_BUSY, true)?;
        prepare(store.as_mut(), &sql)?;
        let now = Utc::now();
        let cutoff = now
            - chrono::Duration::from_std(heartbeat * STALE_HEARTBEATS)
                .unwrap_or(chrono::Duration::MAX);
        for row in store.query(&sql.stale_runs(cutoff))? {
            let mut cells = row.into_iter();
            let id = cells.next().flatten().unwrap_or_default();
            let beat = cells.next().flatten().unwrap_or_else(|| "never".into());
            tracing::warn!(run_id = %id, last_heartbeat = %beat, "an earlier run was left running (killed?): marked interrupted in the run log");
        }
        let config_path = config_path.map(|p| p.display().to_string());
        let host = host_name();
        let row = RunRow {
            run_id,
            started_at: started_at.min(now),
            mode,
            host: &host,
            pid: std::process::id(),
            config_path: config_path.as_deref(),
            tables_total: cfg.settings.tables.len() as u64,
        };
        store.execute(&[sql.mark_interrupted(cutoff), sql.insert_run(&row)])?;
        let beat = heartbeat::Heartbeat::start(
            cfg.destination.clone(),
            sql.clone(),
            run_id.to_string(),
            heartbeat,
        );
        let default_schema = match sql.flavor {
            Flavor::Postgres => Some("public"),
            Flavor::Mssql => Some(DEFAULT_DST_SCHEMA),
            Flavor::Mysql | Flavor::Sqlite => None,
        };
        tracing::info!(run_id = %run_id, schema = ?sql.schema, "run log opened");
        Ok(RunLog {
            run_id: run_id.to_string(),
            default_schema,
            sql,
            store: Mutex::new(store),
            heartbeat: Mutex::new(Some(beat)),
        })
    }

    /// [`RunLog::open`] when `RUN_LOG` is on; `None` when it is off, or (with a warning)
    /// when the run log cannot be opened.
    pub fn open_if_enabled(
        cfg: &Config,
        run_id: &str,
        mode: &str,
        config_path: Option<&Path>,
        started_at: DateTime<Utc>,
    ) -> Option<RunLog> {
        if !cfg.settings.run_log {
            return None;
        }
        let beat = heartbeat_interval();
        match RunLog::open_since(cfg, run_id, mode, config_path, beat, started_at) {
            Ok(log) => Some(log),
            Err(e) => {
                tracing::warn!("the run log could not be opened; the run goes on without it ([settings] RUN_LOG = false turns it off): {e:#}");
                None
            }
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The staging table as the log names it: bare when it is in the run log's schema
    /// (the default), else `schema.table`.
    pub fn table_name(&self, staging_schema: Option<&str>, table: &str) -> String {
        logged_name(
            self.default_schema,
            self.sql.schema.as_deref(),
            staging_schema,
            table,
        )
    }

    fn rows(&self, row: &TableLogRow) -> Vec<String> {
        let name = self.table_name(row.staging_schema.as_deref(), &row.staging_table);
        self.sql.table_rows(&self.run_id, &name, row)
    }

    /// A succeeded table's `ok` row and `sync_metadata` upsert, for
    /// [`crate::load::TableLoad::log_on_commit`] before its `commit`: they commit with the
    /// swap, or not at all.
    pub fn commit_rows(&self, row: &TableLogRow) -> RunLogRows {
        RunLogRows {
            statements: self.rows(row),
        }
    }

    /// Writes a failed table's row (and `sync_metadata.last_run_id`) in a transaction of
    /// its own. Call after the load was dropped (rolled back). An error is for a warning.
    pub fn table_failed(&self, row: &TableLogRow) -> Result<()> {
        let statements = self.rows(row);
        self.store().execute(&statements)
    }

    /// Stops the heartbeat and writes the run's end. An error is for a warning.
    pub fn finish(&self, end: &RunEnd) -> Result<()> {
        self.stop_heartbeat();
        let sql = self.sql.finish_run(&self.run_id, end, Utc::now());
        self.store().execute(&[sql])
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Box<dyn Store>> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stop_heartbeat(&self) {
        let beat = self
            .heartbeat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(b) = beat {
            b.stop();
        }
    }
}

impl Drop for RunLog {
    /// Stops the heartbeat. Without [`RunLog::finish`] the run stays `running` until a
    /// later run finds its heartbeat stale.
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

#[cfg(test)]
mod tests;

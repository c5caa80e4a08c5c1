//! The run log's SQL text for each destination: the three tables from one declarative column
//! list each ([`RUN_COLUMNS`], [`LOG_COLUMNS`], [`SYNC_COLUMNS`]) with a type per database,
//! the rows and upserts (`writes`), and the queries of `stage status` (`reads`).
//!
//! Values are rendered as literals ([`Dialect::quote_literal`], NUL characters dropped),
//! so the same text runs on the run log's own connection and inside a loader's commit
//! transaction ([`crate::load::RunLogRows`]). Times are the tool's clock, in UTC.

use chrono::{DateTime, Utc};

use crate::dialect::Dialect;

mod reads;
mod writes;

pub(crate) use writes::RunRow;

pub(crate) const RUNS: &str = "etl_runs";
pub(crate) const LOGS: &str = "etl_logs";
pub(crate) const SYNC: &str = "sync_metadata";

/// The destinations that keep a run log (every staging database; Oracle is a source only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Postgres,
    Mysql,
    Sqlite,
    Mssql,
}

impl Flavor {
    fn dialect(self) -> Dialect {
        match self {
            Flavor::Postgres => Dialect::Postgres,
            Flavor::Mysql => Dialect::Mysql,
            Flavor::Sqlite => Dialect::Sqlite,
            Flavor::Mssql => Dialect::Mssql,
        }
    }
}

/// What a column holds; each database gives it a type in [`Sql::column_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A 64-bit identity / autoincrement primary key.
    Id,
    /// Short text: run ids, status words, hashes (indexable everywhere).
    Short,
    /// A table or host name (indexable everywhere).
    Name,
    /// Free text: error messages, paths.
    Text,
    Big,
    /// A point in time, UTC.
    Time,
    /// Seconds with milliseconds.
    Secs,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// The table's primary key (not nullable, never added to an existing table).
    pub key: bool,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        key: false,
    }
}

const fn key(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        key: true,
    }
}

use Kind::{Big, Id, Name, Secs, Short, Text, Time};

/// `etl_runs`: one row per run.
pub(crate) const RUN_COLUMNS: &[Column] = &[
    key("run_id", Short),
    col("started_at", Time),
    col("ended_at", Time),
    col("last_heartbeat_at", Time),
    col("status", Short),
    col("exit_code", Big),
    col("mode", Short),
    col("tool_version", Short),
    col("host", Name),
    col("pid", Big),
    col("config_path", Text),
    col("tables_total", Big),
    col("tables_ok", Big),
    col("tables_failed", Big),
    col("rows_total", Big),
    col("bytes_total", Big),
    col("manifest_path", Text),
];

/// `etl_logs`: one row per table per run; the seed's eight columns first.
pub(crate) const LOG_COLUMNS: &[Column] = &[
    key("id", Id),
    col("execution_date", Time),
    col("table_name", Name),
    col("records_extracted", Big),
    col("records_loaded", Big),
    col("status", Short),
    col("error_message", Text),
    col("execution_time_seconds", Secs),
    col("run_id", Short),
    col("source_table", Text),
    col("write_mode", Short),
    col("started_at", Time),
    col("ended_at", Time),
    col("attempts", Big),
    col("error_class", Short),
    col("bytes", Big),
    col("parts", Big),
];

/// `sync_metadata`: one row per staging table; the seed's three columns first.
pub(crate) const SYNC_COLUMNS: &[Column] = &[
    key("table_name", Name),
    col("last_sync_date", Time),
    col("total_records", Big),
    col("last_run_id", Short),
    col("last_success_run_id", Short),
    col("schema_hash", Short),
    col("updated_at", Time),
    // #16: an incremental table's state (`super::sync_state`).
    col("sync_mode", Short),
    col("cursor_columns", Text),
    col("cursor_type", Short),
    col("watermark", Text),
    col("last_full_refresh_at", Time),
];

/// `etl_logs` indexes: (name, columns).
const LOG_INDEXES: &[(&str, &[&str])] = &[
    ("etl_logs_table_ended", &["table_name", "ended_at"]),
    ("etl_logs_run", &["run_id"]),
];

/// The three tables and their columns.
pub(crate) const TABLES: &[(&str, &[Column])] = &[
    (RUNS, RUN_COLUMNS),
    (LOGS, LOG_COLUMNS),
    (SYNC, SYNC_COLUMNS),
];

/// The run log's SQL for one destination and schema.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub flavor: Flavor,
    /// `None`: the connection's default (PostgreSQL's search path, the MySQL database, SQLite).
    pub schema: Option<String>,
}

impl Sql {
    fn d(&self) -> Dialect {
        self.flavor.dialect()
    }

    /// A run log table's qualified, quoted name.
    pub fn table(&self, name: &str) -> String {
        self.d().qualify(self.schema.as_deref(), name)
    }

    fn q(&self, ident: &str) -> String {
        self.d().quote(ident)
    }

    /// Quoted identifiers, comma-separated.
    fn list(&self, idents: &[&str]) -> String {
        idents
            .iter()
            .map(|i| self.q(i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn column_type(&self, kind: Kind) -> &'static str {
        use Flavor::*;
        match (self.flavor, kind) {
            (Postgres, Id) => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            (Mysql, Id) => "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            (Sqlite, Id) => "INTEGER PRIMARY KEY AUTOINCREMENT",
            (Mssql, Id) => "BIGINT IDENTITY(1,1) NOT NULL PRIMARY KEY",
            (Postgres | Sqlite, Short | Name | Text) => "TEXT",
            (Mysql, Short) => "VARCHAR(64)",
            (Mysql, Name) => "VARCHAR(255)",
            (Mysql, Text) => "TEXT",
            (Mssql, Short) => "NVARCHAR(64)",
            (Mssql, Name) => "NVARCHAR(255)",
            (Mssql, Text) => "NVARCHAR(MAX)",
            (Sqlite, Big) => "INTEGER",
            (Postgres | Mysql | Mssql, Big) => "BIGINT",
            (Postgres, Time) => "TIMESTAMPTZ",
            (Mysql, Time) => "DATETIME(6)",
            (Sqlite, Time) => "TEXT",
            (Mssql, Time) => "DATETIMEOFFSET(6)",
            (Postgres, Secs) => "NUMERIC(12,3)",
            (Mysql | Mssql, Secs) => "DECIMAL(12,3)",
            (Sqlite, Secs) => "REAL",
        }
    }

    fn column_def(&self, c: &Column) -> String {
        let ty = self.column_type(c.kind);
        if c.key && c.kind != Id {
            format!("{} {ty} NOT NULL PRIMARY KEY", self.q(c.name))
        } else {
            format!("{} {ty}", self.q(c.name))
        }
    }

    /// Creates the run log's schema where the database has schemas and one is named.
    pub fn create_schema(&self) -> Option<String> {
        let s = self.schema.as_deref()?;
        let d = self.d();
        match self.flavor {
            Flavor::Postgres => Some(format!("CREATE SCHEMA IF NOT EXISTS {}", d.quote(s))),
            Flavor::Mssql => Some(format!(
                "IF SCHEMA_ID({}) IS NULL EXEC({})",
                d.quote_literal(s),
                d.quote_literal(&format!("CREATE SCHEMA {}", d.quote(s)))
            )),
            Flavor::Mysql | Flavor::Sqlite => None,
        }
    }

    /// `CREATE TABLE` for each table that does not exist yet (with its indexes on MySQL
    /// and SQL Server, where they are declared inline).
    pub fn create_tables(&self) -> Vec<String> {
        TABLES
            .iter()
            .map(|(name, columns)| {
                let mut defs: Vec<String> = columns.iter().map(|c| self.column_def(c)).collect();
                if *name == LOGS {
                    for (index, cols) in LOG_INDEXES {
                        let cols = self.list(cols);
                        match self.flavor {
                            Flavor::Mysql => defs.push(format!("KEY {} ({cols})", self.q(index))),
                            Flavor::Mssql => {
                                defs.push(format!("INDEX {} NONCLUSTERED ({cols})", self.q(index)))
                            }
                            Flavor::Postgres | Flavor::Sqlite => {}
                        }
                    }
                }
                let table = self.table(name);
                let body = defs.join(", ");
                match self.flavor {
                    Flavor::Postgres | Flavor::Sqlite => {
                        format!("CREATE TABLE IF NOT EXISTS {table} ({body})")
                    }
                    Flavor::Mysql => format!(
                        "CREATE TABLE IF NOT EXISTS {table} ({body}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
                    ),
                    Flavor::Mssql => format!(
                        "IF OBJECT_ID({}, N'U') IS NULL CREATE TABLE {table} ({body})",
                        self.d().quote_literal(&table)
                    ),
                }
            })
            .collect()
    }

    /// `CREATE INDEX IF NOT EXISTS` on PostgreSQL and SQLite (run after missing columns
    /// were added, so a table from the seed gets its indexes too).
    pub fn create_indexes(&self) -> Vec<String> {
        match self.flavor {
            Flavor::Postgres | Flavor::Sqlite => LOG_INDEXES
                .iter()
                .map(|(index, cols)| {
                    format!(
                        "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                        self.q(index),
                        self.table(LOGS),
                        self.list(cols)
                    )
                })
                .collect(),
            Flavor::Mysql | Flavor::Mssql => Vec::new(),
        }
    }

    /// The names of `table`'s columns (one per row); no row when it does not exist.
    pub fn columns_of(&self, table: &str) -> String {
        let d = self.d();
        let name = d.quote_literal(table);
        match self.flavor {
            Flavor::Postgres => format!(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = {} AND table_name = {name}",
                self.schema
                    .as_deref()
                    .map_or("current_schema()".to_string(), |s| d.quote_literal(s))
            ),
            Flavor::Mysql => format!(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {name}"
            ),
            Flavor::Sqlite => format!("SELECT name FROM pragma_table_info({name})"),
            Flavor::Mssql => format!(
                "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {name}",
                d.quote_literal(self.schema.as_deref().unwrap_or("dbo"))
            ),
        }
    }

    /// Adds a column a table from an older layout (the seed's) lacks; always nullable.
    pub fn add_column(&self, table: &str, c: &Column) -> String {
        let add = if self.flavor == Flavor::Mssql {
            "ADD"
        } else {
            "ADD COLUMN"
        };
        format!(
            "ALTER TABLE {} {add} {} {}",
            self.table(table),
            self.q(c.name),
            self.column_type(c.kind)
        )
    }

    // ---- literals ----

    pub fn text(&self, s: &str) -> String {
        self.d().quote_literal(&s.replace('\0', ""))
    }

    pub fn opt_text(&self, s: Option<&str>) -> String {
        s.map_or_else(|| "NULL".into(), |s| self.text(s))
    }

    pub fn int(v: u64) -> String {
        i64::try_from(v).unwrap_or(i64::MAX).to_string()
    }

    pub fn opt_int(v: Option<u64>) -> String {
        v.map_or_else(|| "NULL".into(), Self::int)
    }

    pub fn secs(v: f64) -> String {
        if v.is_finite() && v >= 0.0 {
            format!("{v:.3}")
        } else {
            "NULL".into()
        }
    }

    pub fn time(&self, t: DateTime<Utc>) -> String {
        let base = t.format("%Y-%m-%d %H:%M:%S%.6f");
        match self.flavor {
            Flavor::Postgres => format!("'{base}+00'::timestamptz"),
            Flavor::Mysql => format!("'{base}'"),
            Flavor::Sqlite => format!("'{base}Z'"),
            Flavor::Mssql => format!("CAST(N'{base} +00:00' AS DATETIMEOFFSET(6))"),
        }
    }
}

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;

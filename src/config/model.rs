//! The typed configuration: one [`Endpoint`] per side, [`Settings`], [`Logging`] and the
//! enums of their values, each with the parser of its text form.

use std::path::PathBuf;

use super::connection::{MssqlEncrypt, Timeouts, Tls};
use super::keys::{DESTINATION, SOURCE};
use super::Secret;
use crate::dialect::Driver;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

impl Side {
    pub fn section(self) -> &'static str {
        match self {
            Side::Source => SOURCE,
            Side::Destination => DESTINATION,
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Side::Source => "SRC",
            Side::Destination => "DST",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

/// One side's connection settings. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub side: Side,
    pub driver: Driver,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Database name; Oracle: service name; SQLite: file path.
    pub database: Option<String>,
    /// Source: schema prefix for table names. Destination: staging schema.
    pub schema: Option<String>,
    /// Destination only: database used to `CREATE DATABASE` when `DST_DB` is missing.
    pub admin_db: Option<String>,
    pub oracle_sid: Option<String>,
    pub oracle_tns_alias: Option<String>,
    pub oracle_client_path: Option<PathBuf>,
    /// How unconstrained Oracle `NUMBER` columns are read (`SRC_ORACLE_NUMBER_SCALE`).
    pub oracle_number: crate::types::oracle::UnconstrainedNumber,
    pub mssql_trust_server_certificate: bool,
    /// `*_MSSQL_ENCRYPT`.
    pub mssql_encrypt: MssqlEncrypt,
    /// `*_SSLMODE`, `*_SSLROOTCERT`, `*_SSLCERT`, `*_SSLKEY`.
    pub tls: Tls,
    /// `*_CONNECT_TIMEOUT_SECONDS`, and the `[settings]` statement and lock timeouts.
    pub timeouts: Timeouts,
}

impl Endpoint {
    /// `driver://host:port/database` — for logs, errors and manifests. Never credentials.
    pub fn describe(&self) -> String {
        match self.driver {
            Driver::Sqlite => format!("sqlite:{}", self.database.as_deref().unwrap_or("")),
            d => {
                let host = self.host.as_deref().unwrap_or("localhost");
                let port = self.port.or(d.default_port()).unwrap_or(0);
                let db = self.database.as_deref().unwrap_or("");
                format!("{d}://{host}:{port}/{db}")
            }
        }
    }

    /// The `[section] KEY` name of one of this side's keys, e.g. `[database-source] SRC_DB`.
    pub fn key(&self, suffix: &str) -> String {
        format!("[{}] {}_{suffix}", self.side.section(), self.side.prefix())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TransferMode {
    Direct,
    Dump,
    Connectorx,
}

impl TransferMode {
    pub const ALLOWED: &'static str = "DIRECT, DUMP, CONNECTORX (old names SQLALCHEMY_DIRECT, SQLALCHEMY_DUMP, CONNECTORX_DUMP are accepted)";

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "DIRECT" | "SQLALCHEMY_DIRECT" => Some(TransferMode::Direct),
            "DUMP" | "SQLALCHEMY_DUMP" => Some(TransferMode::Dump),
            "CONNECTORX" | "CONNECTORX_DUMP" => Some(TransferMode::Connectorx),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TransferMode::Direct => "DIRECT",
            TransferMode::Dump => "DUMP",
            TransferMode::Connectorx => "CONNECTORX",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Build a shadow table, swap it in atomically.
    Replace,
    /// Empty the table and load, in one transaction where the database allows.
    Truncate,
    /// Add rows to the existing table.
    Append,
    /// Upsert by key: rows go into a side table, then one transaction inserts the new keys
    /// and updates the existing ones (`load::merge`).
    Merge,
}

impl WriteMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "replace" => Some(WriteMode::Replace),
            "truncate" => Some(WriteMode::Truncate),
            "append" => Some(WriteMode::Append),
            "merge" => Some(WriteMode::Merge),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            WriteMode::Replace => "replace",
            WriteMode::Truncate => "truncate",
            WriteMode::Append => "append",
            WriteMode::Merge => "merge",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zstd,
    Snappy,
    Lz4,
    Gzip,
    None,
}

impl Compression {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "zstd" => Some(Compression::Zstd),
            "snappy" => Some(Compression::Snappy),
            "lz4" => Some(Compression::Lz4),
            "gzip" => Some(Compression::Gzip),
            "none" | "uncompressed" => Some(Compression::None),
            _ => None,
        }
    }
}

/// What a MySQL/MariaDB source does with zero dates (`0000-00-00`, `2024-00-10`, …),
/// which have no calendar value: `[settings] MYSQL_ZERO_DATES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroDates {
    /// The read fails naming table, column and row (the default).
    #[default]
    Error,
    /// The value is read as NULL.
    Null,
}

impl ZeroDates {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" => Some(ZeroDates::Error),
            "null" => Some(ZeroDates::Null),
            _ => None,
        }
    }
}

/// DIRECT mode's per-batch retry policy: delay `min(max, base·2^n)` with jitter, never above `max`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_seconds: f64,
    pub max_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Logging {
    pub level: tracing::Level,
    pub to_file: bool,
    pub file: PathBuf,
    pub rotate_bytes: u64,
    pub backup_count: u32,
    pub format: LogFormat,
}

/// `[monitoring] NOTIFY_ON`: when `NOTIFY_URL` and `NOTIFY_COMMAND` are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOn {
    /// Only after a run with a failed table (the default).
    Failure,
    /// After every run.
    Always,
}

impl NotifyOn {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "failure" => Some(NotifyOn::Failure),
            "always" => Some(NotifyOn::Always),
            _ => None,
        }
    }
}

/// `[monitoring]`: what is told about a run, and where.
#[derive(Debug, Clone)]
pub struct Monitoring {
    /// The run's summary as JSON, written at the end of every run.
    pub summary_json: Option<PathBuf>,
    /// An HTTP(S) POST of the summary; a secret (it often carries a token).
    pub notify_url: Option<super::Secret>,
    pub notify_on: NotifyOn,
    /// A shell command run with the summary on stdin.
    pub notify_command: Option<String>,
    /// Prometheus text format, for node_exporter's textfile collector.
    pub metrics_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// As written in `SRC_TABLES`, in order.
    pub tables: Vec<String>,
    pub chunk_size: usize,
    /// `SRC_CHUNK_BYTES`: a batch also ends at this many bytes.
    pub chunk_bytes: usize,
    pub mode: TransferMode,
    pub write_mode: WriteMode,
    pub output_dir: String,
    pub cleanup: bool,
    /// `None` = all rows.
    pub row_limit: Option<u64>,
    pub compression: Compression,
    pub retry: RetryPolicy,
    pub ask_password: bool,
    pub log_row_count: bool,
    pub partition_column: Option<String>,
    pub partition_num: usize,
    /// PostgreSQL sources in DUMP and DIRECT: connections reading one table together, on
    /// one exported snapshot (1 = a single COPY).
    pub read_connections: usize,
    /// MySQL/MariaDB sources: zero dates are an error or NULL.
    pub zero_dates: ZeroDates,
    /// How long a load waits for another run's lock on its staging table (0 = fail at once).
    pub lock_wait: std::time::Duration,
    /// `STATEMENT_TIMEOUT_SECONDS`: one source read statement (`None` = no limit).
    pub statement_timeout: Option<std::time::Duration>,
    /// `LOCK_TIMEOUT_SECONDS`: waiting for a database lock on either side (`None` = no limit).
    pub lock_timeout: Option<std::time::Duration>,
    /// `SOURCE_MAX_RETRIES`: reads of one table started again after a transient error.
    pub source_max_retries: u32,
    /// `PARALLEL_TABLES`: tables in flight at once (1–16).
    pub parallel_tables: usize,
    /// `PARQUET_ENCODE_THREADS`: threads encoding the columns of one Parquet part (1 =
    /// the writer thread alone; the file is the same either way).
    pub parquet_encode_threads: usize,
    /// `RUN_LOG`: keep `etl_runs`, `etl_logs` and `sync_metadata` in the destination.
    pub run_log: bool,
    /// `RUN_LOG_SCHEMA`: their schema (default the staging schema; none on SQLite/MariaDB,
    /// which use the staging database).
    pub run_log_schema: Option<String>,
    /// `SHARD_MIN_ROWS`: tables estimated above this many rows are split into key-range
    /// units by `stage plan --shards`.
    pub shard_min_rows: u64,
    /// `SOURCE_MAX_CONNECTIONS`: the source connections all shards of a run may hold at
    /// once (`None` = no limit).
    pub source_max_connections: Option<usize>,
    /// `SYNC_MODE`, `INCREMENTAL_*`, `PRIMARY_KEY`, `FULL_REFRESH_EVERY`, `SCHEMA_CHANGE`.
    pub sync: super::sync::SyncSettings,
    /// `stage run --full-refresh`: incremental tables are reloaded whole this run.
    pub full_refresh: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(side: Side, driver: Driver) -> Endpoint {
        Endpoint {
            side,
            driver,
            host: None,
            port: None,
            username: Some("app".into()),
            password: Some(Secret::new("hunter2")),
            database: Some("sales".into()),
            schema: None,
            admin_db: None,
            oracle_sid: None,
            oracle_tns_alias: None,
            oracle_client_path: None,
            oracle_number: Default::default(),
            mssql_trust_server_certificate: true,
            mssql_encrypt: Default::default(),
            tls: Default::default(),
            timeouts: Default::default(),
        }
    }

    #[test]
    fn endpoints_describe_themselves_without_credentials() {
        let mut e = endpoint(Side::Source, Driver::Postgres);
        assert_eq!(e.describe(), "postgres://localhost:5432/sales");
        e.host = Some("db.example".into());
        e.port = Some(6432);
        assert_eq!(e.describe(), "postgres://db.example:6432/sales");
        let e = endpoint(Side::Destination, Driver::Sqlite);
        assert_eq!(e.describe(), "sqlite:sales");
        assert!(!format!("{e:?}").contains("hunter2"));
    }

    #[test]
    fn endpoint_keys_carry_section_and_prefix() {
        assert_eq!(
            endpoint(Side::Source, Driver::Oracle).key("DB"),
            "[database-source] SRC_DB"
        );
        assert_eq!(
            endpoint(Side::Destination, Driver::Mssql).key("ADMIN_DB"),
            "[database-destination] DST_ADMIN_DB"
        );
        assert_eq!(Side::Destination.name(), "destination");
    }

    #[test]
    fn value_enums_parse_their_spellings() {
        assert_eq!(
            TransferMode::parse(" sqlalchemy_direct "),
            Some(TransferMode::Direct)
        );
        assert_eq!(
            TransferMode::parse("SQLALCHEMY_DUMP"),
            Some(TransferMode::Dump)
        );
        assert_eq!(
            TransferMode::parse("connectorx_dump"),
            Some(TransferMode::Connectorx)
        );
        assert_eq!(TransferMode::parse("fast"), None);
        assert_eq!(TransferMode::Connectorx.name(), "CONNECTORX");
        assert_eq!(WriteMode::parse("TRUNCATE"), Some(WriteMode::Truncate));
        assert_eq!(WriteMode::parse("Merge"), Some(WriteMode::Merge));
        assert_eq!(WriteMode::parse("upsert"), None);
        assert_eq!(WriteMode::Append.name(), "append");
        assert_eq!(Compression::parse("uncompressed"), Some(Compression::None));
        assert_eq!(Compression::parse("LZ4"), Some(Compression::Lz4));
        assert_eq!(Compression::parse("brotli"), None);
        assert_eq!(ZeroDates::parse(" Null "), Some(ZeroDates::Null));
        assert_eq!(ZeroDates::parse("zero"), None);
        assert_eq!(ZeroDates::default(), ZeroDates::Error);
    }
}

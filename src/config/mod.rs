//! Configuration: the raw INI + environment, parsed once into a typed [`Config`].
//!
//! Precedence: INI value > environment variable of the same name > default (an empty
//! value counts as unset). Every invalid value is one error line naming `[section] KEY`,
//! the value and what is allowed. Secrets are held in [`Secret`], whose `Debug` and
//! `Display` print `***`.

mod raw;
mod secret;

use std::fmt;
use std::path::{Path, PathBuf};

pub use raw::{EnvLookup, Origin, RawIni};
pub use secret::Secret;

pub use crate::dialect::Driver;

use crate::error::{Error, Result};
use raw::{RawValue, Resolver};

pub const SOURCE: &str = "database-source";
pub const DESTINATION: &str = "database-destination";
pub const SETTINGS: &str = "settings";
pub const LOGGING: &str = "logging";

/// Rows per batch and per Parquet part (upper bound).
pub const DEFAULT_CHUNK_SIZE: usize = 100_000;
/// Archive root.
pub const DEFAULT_OUTPUT_DIR: &str = "data";
/// Staging schema on server destinations.
pub const DEFAULT_DST_SCHEMA: &str = "staging";
/// SQLite staging database when `DST_DRIVER` is unset (the embedded default).
pub const DEFAULT_SQLITE_DST_DB: &str = "staging.sqlite";
/// DIRECT mode: retries per batch, transient errors only.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// DIRECT mode: first backoff, seconds.
pub const DEFAULT_BACKOFF_BASE_SECONDS: f64 = 0.5;
/// DIRECT mode: backoff cap, seconds (jitter included).
pub const DEFAULT_BACKOFF_MAX_SECONDS: f64 = 8.0;
/// Log file when `LOG_TO_FILE` is on.
pub const DEFAULT_LOG_FILE: &str = "logs/stage.log";
/// Rotate the log file past this many bytes.
pub const DEFAULT_LOG_ROTATE_BYTES: u64 = 5_000_000;
/// Rotated log files kept.
pub const DEFAULT_LOG_BACKUP_COUNT: u32 = 3;
/// CONNECTORX mode: partitions per table when `PARTITION_COLUMN` is usable.
pub const DEFAULT_PARTITION_NUM: usize = 1;
/// PostgreSQL sources in DUMP and DIRECT: connections that read one table together.
pub const DEFAULT_READ_CONNECTIONS: usize = 1;
/// The most `READ_CONNECTIONS` accepts.
pub const MAX_READ_CONNECTIONS: usize = 16;

/// Every key of the contract, for start-up logging and unknown-key warnings.
const KNOWN_KEYS: &[(&str, &str)] = &[
    (SOURCE, "SRC_DRIVER"),
    (SOURCE, "SRC_HOST"),
    (SOURCE, "SRC_PORT"),
    (SOURCE, "SRC_USERNAME"),
    (SOURCE, "SRC_PASSWORD"),
    (SOURCE, "SRC_DB"),
    (SOURCE, "SRC_SCHEMA"),
    (SOURCE, "SRC_URL"),
    (SOURCE, "SRC_ORACLE_SID"),
    (SOURCE, "SRC_ORACLE_TNS_ALIAS"),
    (SOURCE, "SRC_ORACLE_CLIENT_PATH"),
    (SOURCE, "SRC_ORACLE_NUMBER_SCALE"),
    (SOURCE, "SRC_MSSQL_TRUST_SERVER_CERTIFICATE"),
    (SOURCE, "SRC_MSSQL_ODBC_DRIVER"),
    (DESTINATION, "DST_DRIVER"),
    (DESTINATION, "DST_HOST"),
    (DESTINATION, "DST_PORT"),
    (DESTINATION, "DST_USERNAME"),
    (DESTINATION, "DST_PASSWORD"),
    (DESTINATION, "DST_DB"),
    (DESTINATION, "DST_SCHEMA"),
    (DESTINATION, "DST_URL"),
    (DESTINATION, "DST_ADMIN_DB"),
    (DESTINATION, "DST_MSSQL_TRUST_SERVER_CERTIFICATE"),
    (DESTINATION, "DST_MSSQL_ODBC_DRIVER"),
    (SETTINGS, "SRC_TABLES"),
    (SETTINGS, "SRC_CHUNK_SIZE"),
    (SETTINGS, "TRANSFER_MODE"),
    (SETTINGS, "WRITE_MODE"),
    (SETTINGS, "OUTPUT_DIR"),
    (SETTINGS, "CLEANUP_PARQUET_FILES"),
    (SETTINGS, "ROW_LIMIT"),
    (SETTINGS, "PARQUET_COMPRESSION"),
    (SETTINGS, "DIRECT_MAX_RETRIES"),
    (SETTINGS, "DIRECT_BACKOFF_BASE_SECONDS"),
    (SETTINGS, "DIRECT_BACKOFF_MAX_SECONDS"),
    (SETTINGS, "ASK_PASSWORD_IN_CLI"),
    (SETTINGS, "LOG_ROW_COUNT"),
    (SETTINGS, "PARTITION_COLUMN"),
    (SETTINGS, "PARTITION_NUM"),
    (SETTINGS, "READ_CONNECTIONS"),
    (SETTINGS, "MYSQL_ZERO_DATES"),
    (SETTINGS, "LOCK_WAIT_SECONDS"),
    (LOGGING, "LOG_LEVEL"),
    (LOGGING, "LOG_TO_FILE"),
    (LOGGING, "LOG_FILE"),
    (LOGGING, "LOG_ROTATE_BYTES"),
    (LOGGING, "LOG_BACKUP_COUNT"),
    (LOGGING, "LOG_FORMAT"),
];

const SECRET_KEYS: &[&str] = &["SRC_PASSWORD", "DST_PASSWORD", "SRC_URL", "DST_URL"];

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
}

impl WriteMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "replace" => Some(WriteMode::Replace),
            "truncate" => Some(WriteMode::Truncate),
            "append" => Some(WriteMode::Append),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            WriteMode::Replace => "replace",
            WriteMode::Truncate => "truncate",
            WriteMode::Append => "append",
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

#[derive(Debug, Clone)]
pub struct Settings {
    /// As written in `SRC_TABLES`, in order.
    pub tables: Vec<String>,
    pub chunk_size: usize,
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
}

/// One effective setting for the start-up log.
#[derive(Debug, Clone)]
pub struct Effective {
    pub section: &'static str,
    pub key: &'static str,
    /// Redacted for secrets.
    pub shown: String,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub source: Endpoint,
    pub destination: Endpoint,
    pub settings: Settings,
    pub logging: Logging,
    /// Every known key with its effective value and origin (secrets redacted).
    pub effective: Vec<Effective>,
    /// `[section] KEY` present in the INI but unknown to the contract.
    pub unknown_keys: Vec<String>,
    /// The INI file, when there was one.
    pub ini_path: Option<PathBuf>,
}

/// What the command needs of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// `SRC_DRIVER` and `SRC_TABLES` are required (run, dump, plan, check).
    pub source: bool,
}

impl Config {
    /// Loads `.env` (working directory, then next to the INI; existing variables win)
    /// and builds the configuration from the INI (if any) and the process environment.
    pub fn load(ini_path: Option<&Path>, needs: Needs) -> Result<Config> {
        load_dotenv(ini_path);
        let ini = match ini_path {
            Some(p) => RawIni::load(p)?,
            None => RawIni::default(),
        };
        let env = |k: &str| std::env::var(k).ok();
        let mut cfg = Config::from_parts(ini, &env, needs)?;
        cfg.ini_path = ini_path.map(Path::to_path_buf);
        Ok(cfg)
    }

    /// Builds the configuration from parsed INI and an environment lookup (pure; for tests).
    pub fn from_parts(ini: RawIni, env: EnvLookup<'_>, needs: Needs) -> Result<Config> {
        let unknown_keys = ini.unknown_keys(KNOWN_KEYS);
        let mut p = Parser {
            resolver: Resolver { ini, env },
            effective: Vec::new(),
        };
        let source = p.endpoint(Side::Source, needs.source)?;
        let destination = p.endpoint(Side::Destination, false)?;
        let settings = p.settings(needs.source)?;
        let logging = p.logging()?;
        Ok(Config {
            source,
            destination,
            settings,
            logging,
            effective: p.effective,
            unknown_keys,
            ini_path: None,
        })
    }

    /// Applies command-line overrides (`--tables`, `--mode`).
    pub fn override_tables(&mut self, tables: &str) -> Result<()> {
        self.settings.tables = parse_tables(tables, "--tables")?;
        self.set_effective("SRC_TABLES", tables.to_string());
        Ok(())
    }

    pub fn override_mode(&mut self, mode: TransferMode) {
        self.settings.mode = mode;
        self.set_effective("TRANSFER_MODE", mode.name().to_string());
    }

    fn set_effective(&mut self, key: &str, shown: String) {
        if let Some(e) = self.effective.iter_mut().find(|e| e.key == key) {
            e.shown = shown;
            e.origin = Origin::Cli;
        }
    }
}

fn load_dotenv(ini_path: Option<&Path>) {
    // Errors (a missing file) are fine: `.env` is optional.
    let _ = dotenvy::dotenv();
    if let Some(dir) = ini_path.and_then(Path::parent) {
        let candidate = dir.join(".env");
        if candidate.is_file() {
            let _ = dotenvy::from_path(candidate);
        }
    }
}

/// `[section] KEY = "value" (from the environment) is invalid: expected ...`
fn invalid(section: &str, key: &str, raw: &RawValue, expected: &str) -> Error {
    let from = if raw.origin == Origin::Env {
        " (from the environment)"
    } else {
        ""
    };
    Error::config(format!(
        "[{section}] {key} = \"{}\"{from} is invalid: expected {expected}",
        raw.text
    ))
}

fn parse_tables(text: &str, what: &str) -> Result<Vec<String>> {
    let mut tables: Vec<String> = Vec::new();
    for (i, name) in text.split(',').map(str::trim).enumerate() {
        if name.is_empty() {
            return Err(Error::config(format!(
                "{what} = \"{text}\" is invalid: table name {} is blank",
                i + 1
            )));
        }
        if let Some(prev) = tables.iter().find(|t| t.eq_ignore_ascii_case(name)) {
            return Err(Error::config(format!(
                "{what} = \"{text}\" is invalid: \"{name}\" is listed twice (as \"{prev}\"); staging names are lowercase, so names that differ only in case collide"
            )));
        }
        let staging = staging_name(name);
        if let Some(prev) = tables.iter().find(|t| staging_name(t) == staging) {
            return Err(Error::config(format!(
                "{what} = \"{text}\" is invalid: \"{prev}\" and \"{name}\" would both be staged into the table \"{staging}\"; stage one of them in a run with another DST_SCHEMA, or through a view with another name"
            )));
        }
        tables.push(name.to_string());
    }
    Ok(tables)
}

/// The staging table of a table as listed in `SRC_TABLES`: its name without the schema
/// part, lowercased.
pub fn staging_name(listed: &str) -> String {
    match listed.rsplit_once('.') {
        Some((schema, name)) if !schema.is_empty() && !name.is_empty() => name.to_lowercase(),
        _ => listed.to_lowercase(),
    }
}

struct Parser<'a> {
    resolver: Resolver<'a>,
    effective: Vec<Effective>,
}

impl Parser<'_> {
    /// Looks a key up and records its effective value and origin.
    fn raw(&mut self, section: &'static str, key: &'static str) -> Option<RawValue> {
        let value = self.resolver.get(section, key);
        let shown = match &value {
            Some(v) if SECRET_KEYS.contains(&key) => {
                let _ = v;
                "***".to_string()
            }
            Some(v) => v.text.clone(),
            None => String::new(),
        };
        self.effective.retain(|e| e.key != key);
        self.effective.push(Effective {
            section,
            key,
            shown,
            origin: value.as_ref().map_or(Origin::Default, |v| v.origin),
        });
        value
    }

    /// Records the default shown for an unset key.
    fn default_shown(&mut self, key: &str, shown: impl fmt::Display) {
        if let Some(e) = self.effective.iter_mut().find(|e| e.key == key) {
            if e.origin == Origin::Default {
                e.shown = shown.to_string();
            }
        }
    }

    fn string(&mut self, section: &'static str, key: &'static str) -> Option<String> {
        self.raw(section, key).map(|v| v.text)
    }

    fn parsed<T>(
        &mut self,
        section: &'static str,
        key: &'static str,
        default: T,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T>
    where
        T: fmt::Debug,
    {
        match self.raw(section, key) {
            None => Ok(default),
            Some(raw) => parse(&raw.text).ok_or_else(|| invalid(section, key, &raw, expected)),
        }
    }

    fn boolean(&mut self, section: &'static str, key: &'static str, default: bool) -> Result<bool> {
        let v = self.parsed(
            section,
            key,
            default,
            "true/false, yes/no, on/off or 1/0",
            parse_bool,
        )?;
        self.default_shown(key, default);
        Ok(v)
    }

    fn whole<T>(
        &mut self,
        section: &'static str,
        key: &'static str,
        default: T,
        min: T,
    ) -> Result<T>
    where
        T: std::str::FromStr + PartialOrd + Copy + fmt::Display + fmt::Debug,
    {
        let expected = format!("a whole number ≥ {min}");
        let v = self.parsed(section, key, default, &expected, |s| {
            s.parse::<T>().ok().filter(|v| *v >= min)
        })?;
        self.default_shown(key, default);
        Ok(v)
    }

    fn seconds(&mut self, key: &'static str, default: f64) -> Result<f64> {
        let v = self.parsed(SETTINGS, key, default, "a number of seconds ≥ 0", |s| {
            s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
        })?;
        self.default_shown(key, default);
        Ok(v)
    }

    fn endpoint(&mut self, side: Side, driver_required: bool) -> Result<Endpoint> {
        let section = side.section();
        let k = |suffix: &str| -> &'static str {
            KNOWN_KEYS
                .iter()
                .find(|(s, key)| {
                    *s == section && key.ends_with(suffix) && key.len() == suffix.len() + 4
                })
                .map(|(_, key)| *key)
                .expect("key is in KNOWN_KEYS")
        };
        let url = self.raw(section, k("URL"));
        let driver_raw = self.raw(section, k("DRIVER"));
        let url_parts = match &url {
            Some(u) => Some(parse_url(section, k("URL"), u)?),
            None => None,
        };
        let driver = match (&driver_raw, &url_parts) {
            (Some(raw), _) => Driver::parse(&raw.text).ok_or_else(|| {
                invalid(
                    section,
                    k("DRIVER"),
                    raw,
                    &format!(
                        "one of {} (SQLAlchemy forms such as oracle+oracledb are accepted)",
                        Driver::ALLOWED
                    ),
                )
            })?,
            (None, Some(parts)) => parts.driver,
            (None, None) if side == Side::Destination => {
                self.default_shown(k("DRIVER"), "sqlite");
                Driver::Sqlite
            }
            (None, None) => {
                if driver_required {
                    return Err(Error::config(format!(
                        "[{section}] SRC_DRIVER is required: one of {} (or give SRC_URL)",
                        Driver::ALLOWED
                    )));
                }
                Driver::Sqlite
            }
        };
        let port_key = k("PORT");
        let port = match self.raw(section, port_key) {
            None => None,
            Some(raw) => Some(
                raw.text
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| invalid(section, port_key, &raw, "a port number 1-65535"))?,
            ),
        };
        let mut ep = Endpoint {
            side,
            driver,
            host: self.string(section, k("HOST")),
            port,
            username: self.string(section, k("USERNAME")),
            password: self.string(section, k("PASSWORD")).map(Secret::new),
            database: self.string(section, k("DB")),
            schema: self.string(section, k("SCHEMA")),
            admin_db: None,
            oracle_sid: None,
            oracle_tns_alias: None,
            oracle_client_path: None,
            oracle_number: Default::default(),
            mssql_trust_server_certificate: true,
        };
        if let Some(parts) = url_parts {
            // Separate keys win over the URL's parts.
            ep.host = ep.host.or(parts.host);
            ep.port = ep.port.or(parts.port);
            ep.username = ep.username.or(parts.username);
            ep.password = ep.password.or(parts.password);
            ep.database = ep.database.or(parts.database);
        }
        ep.mssql_trust_server_certificate =
            self.boolean(section, k("MSSQL_TRUST_SERVER_CERTIFICATE"), true)?;
        // Accepted for compatibility with the original tool; tiberius needs no ODBC driver.
        let _ = self.string(section, k("MSSQL_ODBC_DRIVER"));
        match side {
            Side::Source => {
                ep.oracle_sid = self.string(section, "SRC_ORACLE_SID");
                ep.oracle_tns_alias = self.string(section, "SRC_ORACLE_TNS_ALIAS");
                ep.oracle_client_path = self
                    .string(section, "SRC_ORACLE_CLIENT_PATH")
                    .map(PathBuf::from);
                use crate::types::oracle::{UnconstrainedNumber, DEFAULT_NUMBER_SCALE};
                ep.oracle_number = self.parsed(
                    section,
                    "SRC_ORACLE_NUMBER_SCALE",
                    UnconstrainedNumber::default(),
                    UnconstrainedNumber::ALLOWED,
                    UnconstrainedNumber::parse,
                )?;
                self.default_shown("SRC_ORACLE_NUMBER_SCALE", DEFAULT_NUMBER_SCALE);
            }
            Side::Destination => {
                ep.admin_db = self.string(section, "DST_ADMIN_DB");
                if ep.admin_db.is_none() {
                    let default = match driver {
                        Driver::Postgres => Some("postgres"),
                        Driver::Mssql => Some("master"),
                        Driver::Mysql | Driver::Mariadb => Some("mysql"),
                        _ => None,
                    };
                    if let Some(d) = default {
                        self.default_shown("DST_ADMIN_DB", d);
                        ep.admin_db = Some(d.to_string());
                    }
                }
                if ep.schema.is_none() && driver != Driver::Sqlite {
                    self.default_shown("DST_SCHEMA", DEFAULT_DST_SCHEMA);
                    ep.schema = Some(DEFAULT_DST_SCHEMA.to_string());
                }
                if driver == Driver::Sqlite && ep.database.is_none() {
                    self.default_shown("DST_DB", DEFAULT_SQLITE_DST_DB);
                    ep.database = Some(DEFAULT_SQLITE_DST_DB.to_string());
                }
            }
        }
        if driver == Driver::Sqlite && ep.database.is_none() && driver_required {
            return Err(Error::config(format!(
                "{} is required for sqlite: the path of the database file",
                ep.key("DB")
            )));
        }
        if let Some(p) = ep.port.or(driver.default_port()) {
            self.default_shown(port_key, p);
        }
        Ok(ep)
    }

    fn settings(&mut self, tables_required: bool) -> Result<Settings> {
        let tables = match self.raw(SETTINGS, "SRC_TABLES") {
            Some(raw) => {
                let what = if raw.origin == Origin::Env {
                    "[settings] SRC_TABLES (from the environment)"
                } else {
                    "[settings] SRC_TABLES"
                };
                parse_tables(&raw.text, what)?
            }
            None if tables_required => {
                return Err(Error::config(
                    "[settings] SRC_TABLES is required: a comma-separated list of table names",
                ))
            }
            None => Vec::new(),
        };
        let chunk_size = self.whole(SETTINGS, "SRC_CHUNK_SIZE", DEFAULT_CHUNK_SIZE, 1)?;
        let mode = self.parsed(
            SETTINGS,
            "TRANSFER_MODE",
            TransferMode::Direct,
            TransferMode::ALLOWED,
            TransferMode::parse,
        )?;
        self.default_shown("TRANSFER_MODE", "DIRECT");
        let write_mode = self.parsed(
            SETTINGS,
            "WRITE_MODE",
            WriteMode::Replace,
            "replace, truncate or append",
            WriteMode::parse,
        )?;
        self.default_shown("WRITE_MODE", "replace");
        let output_dir = self
            .string(SETTINGS, "OUTPUT_DIR")
            .unwrap_or_else(|| DEFAULT_OUTPUT_DIR.to_string());
        self.default_shown("OUTPUT_DIR", DEFAULT_OUTPUT_DIR);
        let cleanup = self.boolean(SETTINGS, "CLEANUP_PARQUET_FILES", true)?;
        let row_limit = self.whole(SETTINGS, "ROW_LIMIT", 0u64, 0)?;
        let compression = self.parsed(
            SETTINGS,
            "PARQUET_COMPRESSION",
            Compression::Zstd,
            "zstd, snappy, lz4, gzip or none",
            Compression::parse,
        )?;
        self.default_shown("PARQUET_COMPRESSION", "zstd");
        let max_retries = self.whole(SETTINGS, "DIRECT_MAX_RETRIES", DEFAULT_MAX_RETRIES, 0)?;
        let base_seconds =
            self.seconds("DIRECT_BACKOFF_BASE_SECONDS", DEFAULT_BACKOFF_BASE_SECONDS)?;
        let max_seconds =
            self.seconds("DIRECT_BACKOFF_MAX_SECONDS", DEFAULT_BACKOFF_MAX_SECONDS)?;
        if base_seconds > max_seconds {
            return Err(Error::config(format!(
                "[settings] DIRECT_BACKOFF_BASE_SECONDS = \"{base_seconds}\" is invalid: expected at most DIRECT_BACKOFF_MAX_SECONDS ({max_seconds})"
            )));
        }
        let ask_password = self.boolean(SETTINGS, "ASK_PASSWORD_IN_CLI", false)?;
        let log_row_count = self.boolean(SETTINGS, "LOG_ROW_COUNT", true)?;
        let partition_column = self.string(SETTINGS, "PARTITION_COLUMN");
        let partition_num = self.whole(SETTINGS, "PARTITION_NUM", DEFAULT_PARTITION_NUM, 1)?;
        let read_connections =
            self.whole(SETTINGS, "READ_CONNECTIONS", DEFAULT_READ_CONNECTIONS, 1)?;
        if read_connections > MAX_READ_CONNECTIONS {
            return Err(Error::config(format!(
                "[settings] READ_CONNECTIONS = \"{read_connections}\" is invalid: expected a whole number from 1 to {MAX_READ_CONNECTIONS}"
            )));
        }
        let zero_dates = self.parsed(
            SETTINGS,
            "MYSQL_ZERO_DATES",
            ZeroDates::Error,
            "error or null",
            ZeroDates::parse,
        )?;
        self.default_shown("MYSQL_ZERO_DATES", "error");
        let lock_wait = self.seconds("LOCK_WAIT_SECONDS", 0.0)?;
        Ok(Settings {
            tables,
            chunk_size,
            mode,
            write_mode,
            output_dir,
            cleanup,
            row_limit: (row_limit > 0).then_some(row_limit),
            compression,
            retry: RetryPolicy {
                max_retries,
                base_seconds,
                max_seconds,
            },
            ask_password,
            log_row_count,
            partition_column,
            partition_num,
            read_connections,
            zero_dates,
            lock_wait: std::time::Duration::from_secs_f64(lock_wait.min(1e9)),
        })
    }

    fn logging(&mut self) -> Result<Logging> {
        let level = self.parsed(
            LOGGING,
            "LOG_LEVEL",
            tracing::Level::INFO,
            "one of ERROR, WARN, INFO, DEBUG, TRACE (WARNING and CRITICAL are accepted)",
            |s| match s.trim().to_ascii_uppercase().as_str() {
                "ERROR" | "CRITICAL" => Some(tracing::Level::ERROR),
                "WARN" | "WARNING" => Some(tracing::Level::WARN),
                "INFO" => Some(tracing::Level::INFO),
                "DEBUG" => Some(tracing::Level::DEBUG),
                "TRACE" => Some(tracing::Level::TRACE),
                _ => None,
            },
        )?;
        self.default_shown("LOG_LEVEL", "INFO");
        let to_file = self.boolean(LOGGING, "LOG_TO_FILE", false)?;
        let file = self
            .string(LOGGING, "LOG_FILE")
            .unwrap_or_else(|| DEFAULT_LOG_FILE.to_string());
        self.default_shown("LOG_FILE", DEFAULT_LOG_FILE);
        let rotate_bytes = self.whole(LOGGING, "LOG_ROTATE_BYTES", DEFAULT_LOG_ROTATE_BYTES, 0)?;
        let backup_count = self.whole(LOGGING, "LOG_BACKUP_COUNT", DEFAULT_LOG_BACKUP_COUNT, 0)?;
        let format = self.parsed(
            LOGGING,
            "LOG_FORMAT",
            LogFormat::Text,
            "text or json",
            |s| match s.trim().to_ascii_lowercase().as_str() {
                "text" => Some(LogFormat::Text),
                "json" => Some(LogFormat::Json),
                _ => None,
            },
        )?;
        self.default_shown("LOG_FORMAT", "text");
        Ok(Logging {
            level,
            to_file,
            file: PathBuf::from(file),
            rotate_bytes,
            backup_count,
            format,
        })
    }
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

struct UrlParts {
    driver: Driver,
    host: Option<String>,
    port: Option<u16>,
    username: Option<String>,
    password: Option<Secret>,
    database: Option<String>,
}

/// Splits a connection URL (`postgresql://user:pw@host:5432/db`, `sqlite:///path`,
/// SQLAlchemy forms such as `mssql+pyodbc://...`). The error never repeats the URL,
/// which may hold a password.
fn parse_url(section: &str, key: &str, raw: &RawValue) -> Result<UrlParts> {
    let bad = |why: &str| Error::config(format!("[{section}] {key} is invalid: {why}"));
    let (scheme, _) = raw
        .text
        .split_once("://")
        .ok_or_else(|| bad("expected driver://user:password@host:port/database"))?;
    let driver = Driver::parse(scheme).ok_or_else(|| {
        bad(&format!(
            "the scheme \"{scheme}\" is not one of {}",
            Driver::ALLOWED
        ))
    })?;
    if driver == Driver::Sqlite {
        let path = &raw.text[scheme.len() + 3..];
        // sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy writes them.
        let path = path.strip_prefix('/').unwrap_or(path);
        return Ok(UrlParts {
            driver,
            host: None,
            port: None,
            username: None,
            password: None,
            database: (!path.is_empty()).then(|| path.to_string()),
        });
    }
    let normalized = format!("stage{}", &raw.text[scheme.len()..]);
    let url = url::Url::parse(&normalized).map_err(|e| bad(&e.to_string()))?;
    let decode = |s: &str| {
        percent_decode(s)
            .ok_or_else(|| bad("a %-escape in the user or password is not valid UTF-8"))
    };
    Ok(UrlParts {
        driver,
        host: url.host_str().map(str::to_string),
        port: url.port(),
        username: (!url.username().is_empty())
            .then(|| decode(url.username()))
            .transpose()?,
        password: url.password().map(decode).transpose()?.map(Secret::new),
        database: Some(url.path().trim_start_matches('/').to_string()).filter(|d| !d.is_empty()),
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

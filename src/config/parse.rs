//! The parser: `[section] KEY` values (INI, then environment, then default) → the typed
//! [`Endpoint`]s, [`Settings`] and [`Logging`], one error line per invalid value.

use std::fmt;
use std::path::PathBuf;

use super::keys::{
    DEFAULT_BACKOFF_BASE_SECONDS, DEFAULT_BACKOFF_MAX_SECONDS, DEFAULT_CHUNK_SIZE,
    DEFAULT_DST_SCHEMA, DEFAULT_LOG_BACKUP_COUNT, DEFAULT_LOG_FILE, DEFAULT_LOG_ROTATE_BYTES,
    DEFAULT_MAX_RETRIES, DEFAULT_OUTPUT_DIR, DEFAULT_PARTITION_NUM, DEFAULT_READ_CONNECTIONS,
    DEFAULT_SQLITE_DST_DB, KNOWN_KEYS, LOGGING, MAX_READ_CONNECTIONS, SECRET_KEYS, SETTINGS,
};
use super::model::{
    Compression, Endpoint, LogFormat, Logging, RetryPolicy, Settings, Side, TransferMode,
    WriteMode, ZeroDates,
};
use super::raw::{Origin, RawValue, Resolver};
use super::tables::parse_tables;
use super::url::parse_url;
use super::{Effective, Secret};
use crate::dialect::Driver;
use crate::error::{Error, Result};

/// Reads every key through the [`Resolver`], recording its effective value and origin.
pub(super) struct Parser<'a> {
    pub(super) resolver: Resolver<'a>,
    pub(super) effective: Vec<Effective>,
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

    pub(super) fn endpoint(&mut self, side: Side, driver_required: bool) -> Result<Endpoint> {
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

    pub(super) fn settings(&mut self, tables_required: bool) -> Result<Settings> {
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

    pub(super) fn logging(&mut self) -> Result<Logging> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EnvLookup, RawIni};

    fn parser<'a>(ini: &str, env: EnvLookup<'a>) -> Parser<'a> {
        Parser {
            resolver: Resolver {
                ini: RawIni::parse(ini).unwrap(),
                env,
            },
            effective: Vec::new(),
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn shown(p: &Parser<'_>, key: &str) -> (String, Origin) {
        let e = p.effective.iter().find(|e| e.key == key).unwrap();
        (e.shown.clone(), e.origin)
    }

    #[test]
    fn booleans_take_the_usual_spellings() {
        for t in ["true", " YES ", "on", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for t in ["false", "No", "OFF", "0"] {
            assert_eq!(parse_bool(t), Some(false), "{t}");
        }
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_bool(""), None);
    }

    #[test]
    fn invalid_names_key_value_origin_and_what_is_allowed() {
        let raw = RawValue {
            text: "x".into(),
            origin: Origin::Env,
        };
        assert_eq!(
            invalid("settings", "ROW_LIMIT", &raw, "a whole number ≥ 0").to_string(),
            "[settings] ROW_LIMIT = \"x\" (from the environment) is invalid: expected a whole number ≥ 0"
        );
        let raw = RawValue {
            origin: Origin::Ini,
            ..raw
        };
        assert_eq!(
            invalid("logging", "LOG_FORMAT", &raw, "text or json").to_string(),
            "[logging] LOG_FORMAT = \"x\" is invalid: expected text or json"
        );
    }

    #[test]
    fn secrets_are_recorded_redacted_and_defaults_shown() {
        let env = |k: &str| (k == "SRC_PASSWORD").then(|| "hunter2".to_string());
        let mut p = parser(
            "[database-source]\nSRC_DRIVER = postgres\nSRC_URL = postgres://u:pw@h/db\n",
            &env,
        );
        let ep = p.endpoint(Side::Source, true).unwrap();
        assert_eq!(ep.password.as_ref().map(Secret::expose), Some("hunter2"));
        assert_eq!(shown(&p, "SRC_PASSWORD"), ("***".into(), Origin::Env));
        assert_eq!(shown(&p, "SRC_URL"), ("***".into(), Origin::Ini));
        assert_eq!(shown(&p, "SRC_PORT"), ("5432".into(), Origin::Default));
        assert_eq!(
            shown(&p, "SRC_ORACLE_NUMBER_SCALE"),
            ("10".into(), Origin::Default)
        );
        assert!(!format!("{:?}", p.effective).contains("hunter2"));
    }

    #[test]
    fn separate_keys_win_over_the_urls_parts() {
        let mut p = parser(
            "[database-source]\nSRC_URL = mysql://u:pw@url-host:3307/url_db\nSRC_HOST = key-host\nSRC_DB = key_db\n",
            &no_env,
        );
        let ep = p.endpoint(Side::Source, true).unwrap();
        assert_eq!(ep.driver, Driver::Mysql);
        assert_eq!(ep.host.as_deref(), Some("key-host"));
        assert_eq!(ep.port, Some(3307));
        assert_eq!(ep.username.as_deref(), Some("u"));
        assert_eq!(ep.database.as_deref(), Some("key_db"));
    }

    #[test]
    fn destination_defaults_depend_on_the_driver() {
        let mut p = parser("", &no_env);
        let ep = p.endpoint(Side::Destination, false).unwrap();
        assert_eq!(ep.driver, Driver::Sqlite);
        assert_eq!(ep.database.as_deref(), Some(DEFAULT_SQLITE_DST_DB));
        assert_eq!(ep.schema, None);
        assert_eq!(ep.admin_db, None);
        assert_eq!(shown(&p, "DST_DRIVER"), ("sqlite".into(), Origin::Default));

        let mut p = parser("[database-destination]\nDST_DRIVER = mssql\n", &no_env);
        let ep = p.endpoint(Side::Destination, false).unwrap();
        assert_eq!(ep.schema.as_deref(), Some(DEFAULT_DST_SCHEMA));
        assert_eq!(ep.admin_db.as_deref(), Some("master"));
        assert_eq!(ep.database, None);
        assert!(ep.mssql_trust_server_certificate);

        let mut p = parser(
            "[database-destination]\nDST_DRIVER = mariadb\nDST_ADMIN_DB = admin\nDST_MSSQL_TRUST_SERVER_CERTIFICATE = no\n",
            &no_env,
        );
        let ep = p.endpoint(Side::Destination, false).unwrap();
        assert_eq!(ep.admin_db.as_deref(), Some("admin"));
        assert!(!ep.mssql_trust_server_certificate);
    }

    #[test]
    fn a_sqlite_source_needs_its_file() {
        let mut p = parser("[database-source]\nSRC_DRIVER = sqlite\n", &no_env);
        assert_eq!(
            p.endpoint(Side::Source, true).unwrap_err().to_string(),
            "[database-source] SRC_DB is required for sqlite: the path of the database file"
        );
        let mut p = parser("", &no_env);
        assert_eq!(
            p.endpoint(Side::Source, false).unwrap().driver,
            Driver::Sqlite
        );
    }

    #[test]
    fn settings_defaults() {
        let mut p = parser("", &no_env);
        let s = p.settings(false).unwrap();
        assert!(s.tables.is_empty());
        assert_eq!(s.chunk_size, DEFAULT_CHUNK_SIZE);
        assert_eq!(s.mode, TransferMode::Direct);
        assert_eq!(s.write_mode, WriteMode::Replace);
        assert_eq!(s.output_dir, DEFAULT_OUTPUT_DIR);
        assert!(s.cleanup);
        assert_eq!(s.row_limit, None);
        assert_eq!(s.compression, Compression::Zstd);
        assert_eq!(s.retry.max_retries, DEFAULT_MAX_RETRIES);
        assert_eq!(s.read_connections, DEFAULT_READ_CONNECTIONS);
        assert_eq!(s.zero_dates, ZeroDates::Error);
        assert_eq!(s.lock_wait, std::time::Duration::ZERO);
        assert_eq!(shown(&p, "ROW_LIMIT"), ("0".into(), Origin::Default));
        assert_eq!(
            shown(&p, "TRANSFER_MODE"),
            ("DIRECT".into(), Origin::Default)
        );

        let mut p = parser(
            "[settings]\nROW_LIMIT = 0\nLOCK_WAIT_SECONDS = 1.5\nMYSQL_ZERO_DATES = NULL\n",
            &no_env,
        );
        let s = p.settings(false).unwrap();
        assert_eq!(s.row_limit, None, "0 means all rows");
        assert_eq!(s.lock_wait, std::time::Duration::from_millis(1500));
        assert_eq!(s.zero_dates, ZeroDates::Null);
    }

    #[test]
    fn logging_levels_accept_python_names() {
        let mut p = parser(
            "[logging]\nLOG_LEVEL = critical\nLOG_FORMAT = JSON\n",
            &no_env,
        );
        let l = p.logging().unwrap();
        assert_eq!(l.level, tracing::Level::ERROR);
        assert_eq!(l.format, LogFormat::Json);
        assert_eq!(l.file, PathBuf::from(DEFAULT_LOG_FILE));
        let mut p = parser("[logging]\nLOG_LEVEL = warning\n", &no_env);
        assert_eq!(p.logging().unwrap().level, tracing::Level::WARN);
    }
}

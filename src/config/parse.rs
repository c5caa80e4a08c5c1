//! The parser: `[section] KEY` values (INI, then environment, then default) → the typed
//! [`Settings`] and [`Logging`] (each side's `Endpoint`: the child `endpoint`), one error
//! line per invalid value, recording every key's effective value and origin.

use std::fmt;
use std::path::PathBuf;

use super::connection::{
    optional_seconds, DEFAULT_LOCK_TIMEOUT_SECONDS, DEFAULT_SOURCE_MAX_RETRIES,
    DEFAULT_STATEMENT_TIMEOUT_SECONDS,
};
use super::keys::{
    DEFAULT_BACKOFF_BASE_SECONDS, DEFAULT_BACKOFF_MAX_SECONDS, DEFAULT_CHUNK_SIZE,
    DEFAULT_LOG_BACKUP_COUNT, DEFAULT_LOG_FILE, DEFAULT_LOG_ROTATE_BYTES, DEFAULT_MAX_RETRIES,
    DEFAULT_OUTPUT_DIR, DEFAULT_PARALLEL_TABLES, DEFAULT_PARQUET_ENCODE_THREADS,
    DEFAULT_PARTITION_NUM, DEFAULT_READ_CONNECTIONS, DEFAULT_SHARD_MIN_ROWS, LOGGING,
    MAX_PARALLEL_TABLES, MAX_PARQUET_ENCODE_THREADS, MAX_READ_CONNECTIONS, SECRET_KEYS, SETTINGS,
};
use super::model::{
    Compression, LogFormat, Logging, RetryPolicy, Settings, TransferMode, WriteMode, ZeroDates,
};
use super::raw::{Origin, RawValue, Resolver};
use super::tables::parse_tables;
use super::Effective;
use crate::error::{Error, Result};

mod archive;
mod endpoint;
mod monitoring;

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

    /// A file path that must exist (a certificate or key): a missing file is a config error
    /// now, not a TLS error at the first connection.
    fn path(&mut self, section: &'static str, key: &'static str) -> Result<Option<PathBuf>> {
        match self.raw(section, key) {
            None => Ok(None),
            Some(raw) if std::path::Path::new(&raw.text).is_file() => {
                Ok(Some(PathBuf::from(raw.text)))
            }
            Some(raw) => Err(invalid(
                section,
                key,
                &raw,
                "the path of a readable PEM file",
            )),
        }
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

    /// A `[settings]` count from 1 to `max` (a value below 1 is refused as by [`Self::whole`]).
    fn whole_up_to(&mut self, key: &'static str, default: usize, max: usize) -> Result<usize> {
        let v = self.whole(SETTINGS, key, default, 1)?;
        if v > max {
            return Err(Error::config(format!(
                "[settings] {key} = \"{v}\" is invalid: expected a whole number from 1 to {max}"
            )));
        }
        Ok(v)
    }

    fn seconds(&mut self, key: &'static str, default: f64) -> Result<f64> {
        self.seconds_in(SETTINGS, key, default)
    }

    fn seconds_in(
        &mut self,
        section: &'static str,
        key: &'static str,
        default: f64,
    ) -> Result<f64> {
        let v = self.parsed(section, key, default, "a number of seconds ≥ 0", |s| {
            s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
        })?;
        self.default_shown(key, default);
        Ok(v)
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
        let chunk_bytes = self.parsed(
            SETTINGS,
            "SRC_CHUNK_BYTES",
            super::chunk_bytes::DEFAULT_CHUNK_BYTES,
            super::chunk_bytes::EXPECTED,
            super::chunk_bytes::parse,
        )?;
        self.default_shown("SRC_CHUNK_BYTES", "64MiB");
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
            "replace, truncate, append or merge",
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
        let read_connections = self.whole_up_to(
            "READ_CONNECTIONS",
            DEFAULT_READ_CONNECTIONS,
            MAX_READ_CONNECTIONS,
        )?;
        let zero_dates = self.parsed(
            SETTINGS,
            "MYSQL_ZERO_DATES",
            ZeroDates::Error,
            "error or null",
            ZeroDates::parse,
        )?;
        self.default_shown("MYSQL_ZERO_DATES", "error");
        let lock_wait = self.seconds("LOCK_WAIT_SECONDS", 0.0)?;
        let statement_timeout = self.seconds(
            "STATEMENT_TIMEOUT_SECONDS",
            DEFAULT_STATEMENT_TIMEOUT_SECONDS,
        )?;
        let lock_timeout = self.seconds("LOCK_TIMEOUT_SECONDS", DEFAULT_LOCK_TIMEOUT_SECONDS)?;
        let source_max_retries = self.whole(
            SETTINGS,
            "SOURCE_MAX_RETRIES",
            DEFAULT_SOURCE_MAX_RETRIES,
            0,
        )?;
        let parallel_tables = self.whole_up_to(
            "PARALLEL_TABLES",
            DEFAULT_PARALLEL_TABLES,
            MAX_PARALLEL_TABLES,
        )?;
        let parquet_encode_threads = self.whole_up_to(
            "PARQUET_ENCODE_THREADS",
            DEFAULT_PARQUET_ENCODE_THREADS,
            MAX_PARQUET_ENCODE_THREADS,
        )?;
        let run_log = self.boolean(SETTINGS, "RUN_LOG", true)?;
        let run_log_schema = self.string(SETTINGS, "RUN_LOG_SCHEMA");
        let shard_min_rows =
            self.whole(SETTINGS, "SHARD_MIN_ROWS", DEFAULT_SHARD_MIN_ROWS, 1)? as u64;
        let max_connections = self.whole(SETTINGS, "SOURCE_MAX_CONNECTIONS", 0, 0)?;
        let mut sync = super::sync::SyncOverrides::default();
        for key in super::sync::SYNC_KEYS {
            if let Some(raw) = self.raw(SETTINGS, key) {
                sync.set(key, &raw.text)
                    .map_err(|expected| invalid(SETTINGS, key, &raw, &expected))?;
            }
        }
        let sync = sync.apply(&Default::default());
        Ok(Settings {
            tables,
            chunk_size,
            chunk_bytes,
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
            statement_timeout: optional_seconds(statement_timeout),
            lock_timeout: optional_seconds(lock_timeout),
            source_max_retries,
            parallel_tables,
            parquet_encode_threads,
            run_log,
            run_log_schema,
            shard_min_rows,
            source_max_connections: (max_connections > 0).then_some(max_connections),
            sync,
            full_refresh: false,
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

    pub(super) fn parser<'a>(ini: &str, env: EnvLookup<'a>) -> Parser<'a> {
        Parser {
            resolver: Resolver {
                ini: RawIni::parse(ini).unwrap(),
                env,
            },
            effective: Vec::new(),
        }
    }

    pub(super) fn no_env(_: &str) -> Option<String> {
        None
    }

    pub(super) fn shown(p: &Parser<'_>, key: &str) -> (String, Origin) {
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

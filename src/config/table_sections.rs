//! `[table:NAME]` sections: settings for one table that override `[settings]`.
//!
//! `NAME` is a table as written in `SRC_TABLES`, compared case-insensitively. A section
//! takes only the keys in [`TABLE_KEYS`], from the INI file (never the environment: a
//! variable cannot name a table). Precedence for a table: command line > its section >
//! `[settings]` > environment > default. An unknown key, a connection or run-wide key, or a
//! section for a table that is not listed is a configuration error with a did-you-mean.

use std::collections::BTreeMap;

use super::keys::KNOWN_KEYS;
use super::model::{Compression, Settings, WriteMode};
use super::parse::parse_bool;
use super::raw::RawIni;
use super::sync::{SyncOverrides, SyncSettings};
use super::tables::staging_name;
use crate::error::{Error, Result};

/// The prefix of a table section's name.
pub const TABLE_SECTION_PREFIX: &str = "table:";

/// The keys a `[table:NAME]` section accepts.
pub const TABLE_KEYS: &[&str] = &[
    "WRITE_MODE",
    "SRC_CHUNK_SIZE",
    "SRC_CHUNK_BYTES",
    "ROW_LIMIT",
    "PARQUET_COMPRESSION",
    "READ_CONNECTIONS",
    "PARTITION_COLUMN",
    "PARTITION_NUM",
    "STAGING_NAME",
    "COLUMNS",
    "EXCLUDE_COLUMNS",
    "WHERE",
    "ENABLED",
    "SYNC_MODE",
    "INCREMENTAL_COLUMN",
    "INCREMENTAL_SETTLE_SECONDS",
    "INCREMENTAL_NULLS",
    "PRIMARY_KEY",
    "FULL_REFRESH_EVERY",
    "SCHEMA_CHANGE",
];

/// What one `[table:NAME]` section sets; `None` = inherited from `[settings]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableOverrides {
    pub write_mode: Option<WriteMode>,
    pub chunk_size: Option<usize>,
    pub chunk_bytes: Option<usize>,
    /// `Some(None)` = all rows (0).
    pub row_limit: Option<Option<u64>>,
    pub compression: Option<Compression>,
    pub read_connections: Option<usize>,
    pub partition_column: Option<String>,
    pub partition_num: Option<usize>,
    pub staging_name: Option<String>,
    pub columns: Option<Vec<String>>,
    pub exclude_columns: Option<Vec<String>>,
    pub filter: Option<String>,
    pub enabled: Option<bool>,
    /// The sync keys (`config::sync`).
    pub sync: SyncOverrides,
    /// `KEY=value` as written, in key order, for the start-up log and `stage plan`.
    pub shown: Vec<(String, String)>,
}

/// The settings one table runs with: `[settings]` with its section applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    /// As written in `SRC_TABLES`.
    pub name: String,
    /// The staging table (lowercase; `STAGING_NAME` or the name without its schema).
    pub staging: String,
    pub write_mode: WriteMode,
    pub chunk_size: usize,
    /// `SRC_CHUNK_BYTES`.
    pub chunk_bytes: usize,
    pub row_limit: Option<u64>,
    pub compression: Compression,
    pub read_connections: usize,
    pub partition_column: Option<String>,
    pub partition_num: usize,
    /// Only these source columns, in this order (`COLUMNS`).
    pub columns: Option<Vec<String>>,
    /// Every source column but these (`EXCLUDE_COLUMNS`).
    pub exclude_columns: Vec<String>,
    /// `WHERE`: the operator's filter, passed to the source verbatim.
    pub filter: Option<String>,
    pub enabled: bool,
    pub sync: SyncSettings,
}

impl TableOverrides {
    /// `settings` with this section applied, for the table `name` as listed.
    pub fn apply(&self, name: &str, settings: &Settings) -> TableSettings {
        TableSettings {
            name: name.to_string(),
            staging: self
                .staging_name
                .clone()
                .unwrap_or_else(|| staging_name(name)),
            write_mode: self.write_mode.unwrap_or(settings.write_mode),
            chunk_size: self.chunk_size.unwrap_or(settings.chunk_size),
            chunk_bytes: self.chunk_bytes.unwrap_or(settings.chunk_bytes),
            row_limit: self.row_limit.unwrap_or(settings.row_limit),
            compression: self.compression.unwrap_or(settings.compression),
            read_connections: self.read_connections.unwrap_or(settings.read_connections),
            partition_column: self
                .partition_column
                .clone()
                .or_else(|| settings.partition_column.clone()),
            partition_num: self.partition_num.unwrap_or(settings.partition_num),
            columns: self.columns.clone(),
            exclude_columns: self.exclude_columns.clone().unwrap_or_default(),
            filter: self.filter.clone(),
            enabled: self.enabled.unwrap_or(true),
            sync: self.sync.apply(&settings.sync),
        }
    }
}

/// Parses every `[table:NAME]` section of the INI file, keyed by the lowercase name.
/// `listed` is the INI's table list: a section for another table is an error.
pub(super) fn parse_sections(
    ini: &RawIni,
    listed: &[String],
) -> Result<BTreeMap<String, TableOverrides>> {
    let mut out = BTreeMap::new();
    for (section, props) in ini.sections_with_prefix(TABLE_SECTION_PREFIX) {
        let name = section[TABLE_SECTION_PREFIX.len()..].trim().to_string();
        let display = format!("[{TABLE_SECTION_PREFIX}{name}]");
        if !listed.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
            let hint = did_you_mean(&name, listed.iter().map(String::as_str));
            return Err(Error::config(format!(
                "{display} is a section for a table that is not in [settings] SRC_TABLES{hint}"
            )));
        }
        let mut o = TableOverrides::default();
        for (key, value) in props {
            if value.is_empty() {
                continue;
            }
            parse_key(&mut o, &display, key, value)?;
            o.shown.push((key.clone(), value.clone()));
        }
        if o.columns.is_some() && o.exclude_columns.is_some() {
            return Err(Error::config(format!(
                "{display} sets both COLUMNS and EXCLUDE_COLUMNS: keep one"
            )));
        }
        out.insert(name.to_ascii_lowercase(), o);
    }
    Ok(out)
}

fn parse_key(o: &mut TableOverrides, display: &str, key: &str, value: &str) -> Result<()> {
    let bad = |expected: &str| {
        Error::config(format!(
            "{display} {key} = \"{value}\" is invalid: expected {expected}"
        ))
    };
    let whole = |min: usize| {
        value
            .parse::<usize>()
            .ok()
            .filter(|v| *v >= min)
            .ok_or_else(|| bad(&format!("a whole number ≥ {min}")))
    };
    match key {
        "WRITE_MODE" => {
            o.write_mode = Some(
                WriteMode::parse(value).ok_or_else(|| bad("replace, truncate, append or merge"))?,
            )
        }
        "SRC_CHUNK_SIZE" => o.chunk_size = Some(whole(1)?),
        "SRC_CHUNK_BYTES" => {
            o.chunk_bytes = Some(
                super::chunk_bytes::parse(value)
                    .ok_or_else(|| bad(super::chunk_bytes::EXPECTED))?,
            )
        }
        "ROW_LIMIT" => {
            let n = value
                .parse::<u64>()
                .map_err(|_| bad("a whole number ≥ 0"))?;
            o.row_limit = Some((n > 0).then_some(n));
        }
        "PARQUET_COMPRESSION" => {
            o.compression = Some(
                Compression::parse(value).ok_or_else(|| bad("zstd, snappy, lz4, gzip or none"))?,
            )
        }
        "READ_CONNECTIONS" => {
            let n = whole(1)?;
            if n > super::keys::MAX_READ_CONNECTIONS {
                return Err(bad(&format!(
                    "a whole number from 1 to {}",
                    super::keys::MAX_READ_CONNECTIONS
                )));
            }
            o.read_connections = Some(n);
        }
        "PARTITION_COLUMN" => o.partition_column = Some(value.to_string()),
        "PARTITION_NUM" => o.partition_num = Some(whole(1)?),
        "STAGING_NAME" => {
            let ok = value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(bad(
                    "a plain table name (letters, digits and _, not starting with a digit)",
                ));
            }
            o.staging_name = Some(value.to_ascii_lowercase());
        }
        "COLUMNS" => o.columns = Some(column_list(value).map_err(|m| bad(&m))?),
        "EXCLUDE_COLUMNS" => o.exclude_columns = Some(column_list(value).map_err(|m| bad(&m))?),
        "WHERE" => o.filter = Some(value.to_string()),
        "ENABLED" => {
            o.enabled =
                Some(parse_bool(value).ok_or_else(|| bad("true/false, yes/no, on/off or 1/0"))?)
        }
        _ => match o.sync.set(key, value) {
            Ok(true) => {}
            Ok(false) => return Err(unknown_key(display, key)),
            Err(expected) => return Err(bad(&expected)),
        },
    }
    Ok(())
}

/// A comma-separated list of column names: none blank, none twice (also `stage diff --key`).
pub fn column_list(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim) {
        if name.is_empty() {
            return Err("comma-separated column names, none blank".into());
        }
        if out.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            return Err(format!(
                "comma-separated column names, each once ({name} twice)"
            ));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

fn unknown_key(display: &str, key: &str) -> Error {
    if let Some((section, _)) = KNOWN_KEYS.iter().find(|(_, k)| *k == key) {
        let why = if key.starts_with("SRC_") && *section != super::keys::SETTINGS
            || key.starts_with("DST_")
        {
            "is a connection key"
        } else {
            "applies to the whole run"
        };
        return Error::config(format!(
            "{display} {key} {why}: set it in [{section}]; a table section accepts {}",
            TABLE_KEYS.join(", ")
        ));
    }
    let hint = did_you_mean(key, TABLE_KEYS.iter().copied());
    Error::config(format!(
        "{display} {key} is not a key of a table section{hint}; it accepts {}",
        TABLE_KEYS.join(", ")
    ))
}

/// `" (did you mean X?)"` for the closest candidate, or nothing when none is close.
pub(super) fn did_you_mean<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let word = word.to_ascii_lowercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&word, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean {c}?)"))
        .unwrap_or_default()
}

/// Two listed tables staged into one table (after `STAGING_NAME`) are a configuration error.
pub(super) fn check_staging_names(
    tables: &[String],
    sections: &BTreeMap<String, TableOverrides>,
    settings: &Settings,
) -> Result<()> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    for name in tables {
        let staging = sections
            .get(&name.to_ascii_lowercase())
            .map(|o| o.apply(name, settings).staging)
            .unwrap_or_else(|| staging_name(name));
        if let Some((_, prev)) = seen.iter().find(|(s, _)| *s == staging) {
            return Err(Error::config(format!(
                "[settings] SRC_TABLES: \"{prev}\" and \"{name}\" would both be staged into the table \"{staging}\": give one of them [table:{name}] STAGING_NAME"
            )));
        }
        seen.push((staging, name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Needs, RawIni};

    const BASE: &str = "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = app.sqlite\n[settings]\nSRC_TABLES = sales.Orders, hr.orders, lines\nWRITE_MODE = truncate\nSRC_CHUNK_SIZE = 500\n";

    fn load(extra: &str) -> Result<Config> {
        let ini = RawIni::parse(&format!("{BASE}{extra}")).unwrap();
        Config::from_parts(ini, &|_| None, Needs { source: true })
    }

    fn message(extra: &str) -> String {
        load(extra).unwrap_err().to_string()
    }

    #[test]
    fn a_section_overrides_settings_for_its_table_only() {
        let cfg = load(
            "[table:HR.Orders]\nSTAGING_NAME = HR_Orders\nWRITE_MODE = append\nCOLUMNS = id, name\nWHERE = status <> 'x'\n[table:lines]\nENABLED = no\nROW_LIMIT = 10\n",
        )
        .unwrap();
        let t = cfg.tables();
        assert_eq!(t[0].staging, "orders");
        assert_eq!(t[0].write_mode, WriteMode::Truncate);
        assert_eq!(t[0].chunk_size, 500);
        assert_eq!(t[1].staging, "hr_orders");
        assert_eq!(t[1].write_mode, WriteMode::Append);
        assert_eq!(t[1].columns, Some(vec!["id".into(), "name".into()]));
        assert_eq!(t[1].filter.as_deref(), Some("status <> 'x'"));
        assert!(t[1].enabled && !t[2].enabled);
        assert_eq!(t[2].row_limit, Some(10));
        assert_eq!(cfg.table("HR.ORDERS").staging, "hr_orders");
        assert!(cfg.unknown_keys.is_empty(), "{:?}", cfg.unknown_keys);
    }

    #[test]
    fn staging_collisions_are_errors_until_a_staging_name_resolves_them() {
        let ini = RawIni::parse(BASE).unwrap();
        let err = Config::from_parts(ini, &|_| None, Needs { source: true }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[settings] SRC_TABLES: \"sales.Orders\" and \"hr.orders\" would both be staged into the table \"orders\": give one of them [table:hr.orders] STAGING_NAME"
        );
        assert!(load(
            "[table:lines]\nSTAGING_NAME = orders\n[table:hr.orders]\nSTAGING_NAME = o2\n"
        )
        .unwrap_err()
        .to_string()
        .contains("\"sales.Orders\" and \"lines\" would both be staged into the table \"orders\""));
        assert!(load("[table:hr.orders]\nSTAGING_NAME = o2\n").is_ok());
    }

    #[test]
    fn each_invalid_section_gives_one_line() {
        let ok = "[table:hr.orders]\nSTAGING_NAME = o2\n";
        assert_eq!(
            message(&format!("{ok}[table:line]\nWRITE_MODE = append\n")),
            "[table:line] is a section for a table that is not in [settings] SRC_TABLES (did you mean lines?)"
        );
        assert_eq!(
            message(&format!("{ok}[table:lines]\nWRTE_MODE = append\n")),
            "[table:lines] WRTE_MODE is not a key of a table section (did you mean WRITE_MODE?); it accepts WRITE_MODE, SRC_CHUNK_SIZE, SRC_CHUNK_BYTES, ROW_LIMIT, PARQUET_COMPRESSION, READ_CONNECTIONS, PARTITION_COLUMN, PARTITION_NUM, STAGING_NAME, COLUMNS, EXCLUDE_COLUMNS, WHERE, ENABLED, SYNC_MODE, INCREMENTAL_COLUMN, INCREMENTAL_SETTLE_SECONDS, INCREMENTAL_NULLS, PRIMARY_KEY, FULL_REFRESH_EVERY, SCHEMA_CHANGE"
        );
        assert!(
            message(&format!("{ok}[table:lines]\nSRC_HOST = db\n")).starts_with(
                "[table:lines] SRC_HOST is a connection key: set it in [database-source];"
            )
        );
        assert!(
            message(&format!("{ok}[table:lines]\nTRANSFER_MODE = DUMP\n")).starts_with(
                "[table:lines] TRANSFER_MODE applies to the whole run: set it in [settings];"
            )
        );
        assert_eq!(
            message(&format!("{ok}[table:lines]\nSRC_CHUNK_SIZE = 0\n")),
            "[table:lines] SRC_CHUNK_SIZE = \"0\" is invalid: expected a whole number ≥ 1"
        );
        assert_eq!(
            message(&format!(
                "{ok}[table:lines]\nCOLUMNS = a\nEXCLUDE_COLUMNS = b\n"
            )),
            "[table:lines] sets both COLUMNS and EXCLUDE_COLUMNS: keep one"
        );
        assert!(message(&format!("{ok}[table:lines]\nCOLUMNS = a,,b\n")).contains("none blank"));
        assert!(
            message(&format!("{ok}[table:lines]\nSTAGING_NAME = x;drop\n"))
                .contains("a plain table name")
        );
    }
}

//! How a table is kept in sync (#16): `SYNC_MODE`, the incremental cursor and its window,
//! the merge key, full refreshes and schema drift. Every key is valid in `[settings]` and
//! in `[table:NAME]`; [`SyncOverrides`] parses both, [`check`] rejects combinations that
//! would lose or duplicate rows.

use std::time::Duration;

use super::model::{TransferMode, WriteMode};
use super::table_sections::column_list;
use crate::error::{Error, Result};

/// The keys of this module, in `[settings]` and `[table:NAME]`.
pub const SYNC_KEYS: &[&str] = &[
    "SYNC_MODE",
    "INCREMENTAL_COLUMN",
    "INCREMENTAL_SETTLE_SECONDS",
    "INCREMENTAL_NULLS",
    "PRIMARY_KEY",
    "FULL_REFRESH_EVERY",
    "SCHEMA_CHANGE",
];

/// `INCREMENTAL_SETTLE_SECONDS` when unset.
pub const DEFAULT_SETTLE_SECONDS: u64 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Every run reads the whole table (the default).
    #[default]
    Full,
    /// Every run reads the rows whose cursor lies in the window `(watermark, U]`.
    Incremental,
}

impl SyncMode {
    pub fn name(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Incremental => "incremental",
        }
    }
}

/// `INCREMENTAL_NULLS`: rows whose cursor columns are all NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CursorNulls {
    /// The table fails, naming the count and the choices (the default).
    #[default]
    Error,
    /// They are read (and merged again) by every run.
    Include,
    /// They are never read.
    Exclude,
}

/// `SCHEMA_CHANGE`: what a merge or append load does when the source's columns changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaChange {
    /// New columns are added, dropped ones kept (NULL from then on), lossless widenings
    /// applied; anything else fails the table.
    #[default]
    Evolve,
    /// Any change fails the table.
    Freeze,
}

/// One table's sync settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    pub mode: SyncMode,
    /// `INCREMENTAL_COLUMN`: one or more columns of one type; a row qualifies when any of
    /// them lies in the window.
    pub columns: Vec<String>,
    /// `INCREMENTAL_SETTLE_SECONDS`: rows younger than this wait for the next run.
    pub settle: Duration,
    pub nulls: CursorNulls,
    /// `PRIMARY_KEY`; `None`: the source table's primary key.
    pub primary_key: Option<Vec<String>>,
    /// `FULL_REFRESH_EVERY`: an incremental table is reloaded whole this often.
    pub full_refresh_every: Option<Duration>,
    pub schema_change: SchemaChange,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            mode: SyncMode::Full,
            columns: Vec::new(),
            settle: Duration::from_secs(DEFAULT_SETTLE_SECONDS),
            nulls: CursorNulls::Error,
            primary_key: None,
            full_refresh_every: None,
            schema_change: SchemaChange::Evolve,
        }
    }
}

/// What one section sets of the sync keys; `None` = inherited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOverrides {
    pub mode: Option<SyncMode>,
    pub columns: Option<Vec<String>>,
    pub settle: Option<Duration>,
    pub nulls: Option<CursorNulls>,
    pub primary_key: Option<Vec<String>>,
    pub full_refresh_every: Option<Duration>,
    pub schema_change: Option<SchemaChange>,
}

impl SyncOverrides {
    /// Parses `key = value`. `Ok(false)`: not a sync key. `Err`: what the key expects.
    pub fn set(&mut self, key: &str, value: &str) -> std::result::Result<bool, String> {
        let word = value.trim().to_ascii_lowercase();
        match key {
            "SYNC_MODE" => {
                self.mode = Some(match word.as_str() {
                    "full" => SyncMode::Full,
                    "incremental" => SyncMode::Incremental,
                    _ => return Err("full or incremental".into()),
                })
            }
            "INCREMENTAL_COLUMN" => self.columns = Some(column_list(value)?),
            "INCREMENTAL_SETTLE_SECONDS" => {
                let n = word
                    .parse::<u64>()
                    .map_err(|_| "a whole number of seconds ≥ 0".to_string())?;
                self.settle = Some(Duration::from_secs(n));
            }
            "INCREMENTAL_NULLS" => {
                self.nulls = Some(match word.as_str() {
                    "error" => CursorNulls::Error,
                    "include" => CursorNulls::Include,
                    "exclude" => CursorNulls::Exclude,
                    _ => return Err("error, include or exclude".into()),
                })
            }
            "PRIMARY_KEY" => self.primary_key = Some(column_list(value)?),
            "FULL_REFRESH_EVERY" => {
                self.full_refresh_every = Some(
                    parse_period(&word)
                        .ok_or("a period such as 7d, 12h, 30m or 3600s (greater than 0)")?,
                )
            }
            "SCHEMA_CHANGE" => {
                self.schema_change = Some(match word.as_str() {
                    "evolve" => SchemaChange::Evolve,
                    "freeze" => SchemaChange::Freeze,
                    _ => return Err("evolve or freeze".into()),
                })
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `base` with what this section sets.
    pub fn apply(&self, base: &SyncSettings) -> SyncSettings {
        SyncSettings {
            mode: self.mode.unwrap_or(base.mode),
            columns: self.columns.clone().unwrap_or_else(|| base.columns.clone()),
            settle: self.settle.unwrap_or(base.settle),
            nulls: self.nulls.unwrap_or(base.nulls),
            primary_key: self
                .primary_key
                .clone()
                .or_else(|| base.primary_key.clone()),
            full_refresh_every: self.full_refresh_every.or(base.full_refresh_every),
            schema_change: self.schema_change.unwrap_or(base.schema_change),
        }
    }
}

/// `7d`, `12h`, `30m`, `45s` or a plain number of seconds; `None` when invalid or zero.
pub fn parse_period(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        "w" => n.checked_mul(604_800)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// Checks one table's settings: an incremental table names its cursor, loads by merge or
/// append, reads in DIRECT or DUMP mode and keeps its watermark in the run log.
/// `section`: `[table:NAME]` when the table has a section, for the message.
pub fn check(
    where_: &str,
    sync: &SyncSettings,
    write_mode: WriteMode,
    transfer: TransferMode,
    run_log: bool,
) -> Result<()> {
    if sync.mode != SyncMode::Incremental {
        return Ok(());
    }
    if sync.columns.is_empty() {
        return Err(Error::config(format!(
            "{where_} SYNC_MODE = incremental needs INCREMENTAL_COLUMN: the column(s) whose value grows when a row is inserted or updated (e.g. updated_at)"
        )));
    }
    if matches!(write_mode, WriteMode::Replace | WriteMode::Truncate) {
        return Err(Error::config(format!(
            "{where_} SYNC_MODE = incremental cannot use WRITE_MODE = {} (it would keep only the window's rows): set WRITE_MODE = merge (or append)",
            write_mode.name()
        )));
    }
    if transfer == TransferMode::Connectorx {
        return Err(Error::config(format!(
            "{where_} SYNC_MODE = incremental cannot read through TRANSFER_MODE = CONNECTORX (its reads run on their own connections, outside the snapshot that fixes the window): use DIRECT or DUMP"
        )));
    }
    if !run_log {
        return Err(Error::config(format!(
            "{where_} SYNC_MODE = incremental keeps its watermark in the run log's sync_metadata: [settings] RUN_LOG must be on"
        )));
    }
    Ok(())
}

/// Merge loads go into PostgreSQL, MySQL/MariaDB and SQLite (SQL Server's `MERGE` is
/// generated but not yet run); incremental reads come from PostgreSQL, MySQL/MariaDB and
/// SQLite (the sources whose snapshot fixes the window).
pub fn check_drivers(
    where_: &str,
    sync: &SyncSettings,
    write_mode: WriteMode,
    source: crate::dialect::Driver,
    destination: crate::dialect::Driver,
) -> Result<()> {
    use crate::dialect::Driver::*;
    if write_mode == WriteMode::Merge && !matches!(destination, Postgres | Mysql | Mariadb | Sqlite)
    {
        return Err(Error::config(format!(
            "{where_} WRITE_MODE = merge is not available for {destination} staging in this version: use a PostgreSQL, MySQL/MariaDB or SQLite destination, or WRITE_MODE = replace"
        )));
    }
    if sync.mode == SyncMode::Incremental && !matches!(source, Postgres | Mysql | Mariadb | Sqlite)
    {
        return Err(Error::config(format!(
            "{where_} SYNC_MODE = incremental reads from PostgreSQL, MySQL/MariaDB and SQLite sources in this version, not {source}: use SYNC_MODE = full"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_apply_over_a_base() {
        let mut o = SyncOverrides::default();
        assert_eq!(o.set("SYNC_MODE", " Incremental "), Ok(true));
        assert_eq!(
            o.set("INCREMENTAL_COLUMN", "updated_at, created_at"),
            Ok(true)
        );
        assert_eq!(o.set("INCREMENTAL_SETTLE_SECONDS", "0"), Ok(true));
        assert_eq!(o.set("PRIMARY_KEY", "id"), Ok(true));
        assert_eq!(o.set("FULL_REFRESH_EVERY", "7d"), Ok(true));
        assert_eq!(o.set("WRITE_MODE", "merge"), Ok(false));
        assert!(o.set("INCREMENTAL_NULLS", "maybe").is_err());
        assert!(o.set("INCREMENTAL_COLUMN", "a,,b").is_err());
        assert!(o.set("FULL_REFRESH_EVERY", "0d").is_err());
        let s = o.apply(&SyncSettings::default());
        assert_eq!(s.mode, SyncMode::Incremental);
        assert_eq!(s.columns, vec!["updated_at", "created_at"]);
        assert_eq!(s.settle, Duration::ZERO);
        assert_eq!(s.nulls, CursorNulls::Error);
        assert_eq!(s.primary_key, Some(vec!["id".to_string()]));
        assert_eq!(s.full_refresh_every, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(SyncSettings::default().settle, Duration::from_secs(600));
    }

    #[test]
    fn periods() {
        assert_eq!(parse_period("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_period("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_period("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_period("1x"), None);
        assert_eq!(parse_period(""), None);
    }

    #[test]
    fn incremental_combinations_that_would_lose_rows_are_errors() {
        let inc = SyncSettings {
            mode: SyncMode::Incremental,
            columns: vec!["updated_at".into()],
            ..SyncSettings::default()
        };
        let ok = |w, t, l| check("[table:t]", &inc, w, t, l);
        assert!(ok(WriteMode::Merge, TransferMode::Direct, true).is_ok());
        assert!(ok(WriteMode::Append, TransferMode::Dump, true).is_ok());
        let e = ok(WriteMode::Replace, TransferMode::Direct, true).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("[table:t] SYNC_MODE = incremental cannot use WRITE_MODE = replace"),
            "{e}"
        );
        assert!(ok(WriteMode::Merge, TransferMode::Connectorx, true).is_err());
        assert!(ok(WriteMode::Merge, TransferMode::Direct, false).is_err());
        let none = SyncSettings {
            columns: vec![],
            ..inc.clone()
        };
        assert!(check(
            "[settings]",
            &none,
            WriteMode::Merge,
            TransferMode::Direct,
            true
        )
        .unwrap_err()
        .to_string()
        .contains("needs INCREMENTAL_COLUMN"));
    }

    #[test]
    fn merge_and_incremental_name_the_databases_they_work_with() {
        use crate::dialect::Driver::*;
        let inc = SyncSettings {
            mode: SyncMode::Incremental,
            columns: vec!["u".into()],
            ..SyncSettings::default()
        };
        assert!(check_drivers("[settings]", &inc, WriteMode::Merge, Postgres, Mariadb).is_ok());
        let e = check_drivers("[settings]", &inc, WriteMode::Merge, Postgres, Mssql).unwrap_err();
        assert!(
            e.to_string()
                .contains("WRITE_MODE = merge is not available for mssql"),
            "{e}"
        );
        let e = check_drivers("[table:t]", &inc, WriteMode::Append, Oracle, Postgres).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("[table:t] SYNC_MODE = incremental reads from"),
            "{e}"
        );
    }
}

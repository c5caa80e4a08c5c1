//! Configuration: the raw INI + environment, parsed once into a typed [`Config`].
//!
//! Precedence: INI value > environment variable of the same name > default (an empty
//! value counts as unset). Every invalid value is one error line naming `[section] KEY`,
//! the value and what is allowed. Secrets are held in [`Secret`], whose `Debug` and
//! `Display` print `***`.
//!
//! The pieces: `keys` (sections, known keys, defaults), `raw` (INI and environment as
//! text), `parse` (text → typed values; its child `endpoint` reads each side's connection
//! keys), `url` (connection URLs), `tables` (the table list), `model` (the typed settings);
//! this module holds [`Config`] and re-exports the public items, so `crate::config::X`
//! names them all.

mod archive;
pub mod chunk_bytes;
mod connection;
mod keys;
mod model;
mod parse;
mod raw;
mod secret;
pub mod sync;
mod table_sections;
mod tables;
mod url;

use std::path::{Path, PathBuf};

pub use archive::{Archive, StoreKind, ARCHIVE};

/// The object store keys `[archive]` accepts.
pub fn archive_store_keys() -> &'static [&'static str] {
    archive::STORE_KEYS
}
pub use connection::{MssqlEncrypt, SslMode, Timeouts, Tls, KEEPALIVE_IDLE};
pub use keys::{
    DEFAULT_BACKOFF_BASE_SECONDS, DEFAULT_BACKOFF_MAX_SECONDS, DEFAULT_CHUNK_SIZE,
    DEFAULT_DST_SCHEMA, DEFAULT_LOG_BACKUP_COUNT, DEFAULT_LOG_FILE, DEFAULT_LOG_ROTATE_BYTES,
    DEFAULT_MAX_RETRIES, DEFAULT_OUTPUT_DIR, DEFAULT_PARTITION_NUM, DEFAULT_READ_CONNECTIONS,
    DEFAULT_SQLITE_DST_DB, DESTINATION, LOGGING, MAX_READ_CONNECTIONS, MONITORING, SETTINGS,
    SOURCE,
};
pub use model::{
    Compression, Endpoint, LogFormat, Logging, Monitoring, NotifyOn, RetryPolicy, Settings, Side,
    TransferMode, WriteMode, ZeroDates,
};
pub use parse::parse_bool;
pub use raw::{EnvLookup, Origin, RawIni};
pub use secret::Secret;
pub use table_sections::{column_list, TableOverrides, TableSettings, TABLE_KEYS};
pub use tables::staging_name;

pub use crate::dialect::Driver;

use crate::error::Result;
use keys::KNOWN_KEYS;
use parse::Parser;
use raw::Resolver;
use tables::parse_tables;

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
    pub monitoring: Monitoring,
    /// `[archive]`: store credentials and retention.
    pub archive: Archive,
    /// Every known key with its effective value and origin (secrets redacted).
    pub effective: Vec<Effective>,
    /// `[section] KEY` present in the INI but unknown to the contract.
    pub unknown_keys: Vec<String>,
    /// `[table:NAME]` sections by lowercase `NAME`.
    pub table_sections: std::collections::BTreeMap<String, TableOverrides>,
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
        let ini_for_tables = ini.clone();
        let mut p = Parser {
            resolver: Resolver { ini, env },
            effective: Vec::new(),
        };
        let mut source = p.endpoint(Side::Source, needs.source)?;
        let mut destination = p.endpoint(Side::Destination, false)?;
        let settings = p.settings(needs.source)?;
        // Each connection carries the limits it applies: reads their statement timeout,
        // both sides the lock timeout.
        source.timeouts.statement = settings.statement_timeout;
        for ep in [&mut source, &mut destination] {
            ep.timeouts.lock = settings.lock_timeout;
        }
        let logging = p.logging()?;
        let monitoring = p.monitoring()?;
        let archive = p.archive(&settings.output_dir)?;
        let table_sections = table_sections::parse_sections(&ini_for_tables, &settings.tables)?;
        table_sections::check_staging_names(&settings.tables, &table_sections, &settings)?;
        let cfg = Config {
            source,
            destination,
            settings,
            logging,
            monitoring,
            archive,
            effective: p.effective,
            unknown_keys,
            table_sections,
            ini_path: None,
        };
        cfg.check_sync()?;
        Ok(cfg)
    }

    /// Checks each listed table's sync settings ([`sync::check`]), naming its section
    /// when it has one.
    pub fn check_sync(&self) -> Result<()> {
        for t in self.tables() {
            let section = self.table_sections.get(&t.name.to_ascii_lowercase());
            let where_ = match section {
                Some(o) if o.sync != Default::default() || o.write_mode.is_some() => {
                    format!("[table:{}]", t.name)
                }
                _ => "[settings]".to_string(),
            };
            sync::check(
                &where_,
                &t.sync,
                t.write_mode,
                self.settings.mode,
                self.settings.run_log,
            )?;
            sync::check_drivers(
                &where_,
                &t.sync,
                t.write_mode,
                self.source.driver,
                self.destination.driver,
            )?;
        }
        Ok(())
    }

    /// The settings `table` (as listed) runs with: `[settings]` and its `[table:NAME]` section.
    pub fn table(&self, table: &str) -> TableSettings {
        match self.table_sections.get(&table.to_ascii_lowercase()) {
            Some(o) => o.apply(table, &self.settings),
            None => TableOverrides::default().apply(table, &self.settings),
        }
    }

    /// Every listed table's settings, in `SRC_TABLES` order.
    pub fn tables(&self) -> Vec<TableSettings> {
        self.settings.tables.iter().map(|t| self.table(t)).collect()
    }

    /// Applies command-line overrides (`--tables`, `--mode`).
    pub fn override_tables(&mut self, tables: &str) -> Result<()> {
        self.settings.tables = parse_tables(tables, "--tables")?;
        table_sections::check_staging_names(
            &self.settings.tables,
            &self.table_sections,
            &self.settings,
        )?;
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

//! The per-run manifest: what was written, so that a load takes exactly these parts.
//! Written last and atomically; it never holds credentials.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub tool: String,
    pub tool_version: String,
    pub run_id: String,
    pub mode: String,
    pub started_at: String,
    pub finished_at: String,
    pub source: SourceEntry,
    /// Set when a signal stopped the run: the signal's name. Tables not finished are
    /// listed as failed, with no parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub tables: Vec<TableEntry>,
}

/// Where the data came from; never credentials.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceEntry {
    pub driver: String,
    pub host: Option<String>,
    pub database: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TableStatus {
    /// Every row was read and written to the parts listed.
    Complete,
    /// The read failed; no parts are listed and none are kept.
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    /// As listed in `SRC_TABLES` (with schema when given).
    pub source_table: String,
    /// Lowercase staging table name.
    pub staging_table: String,
    pub status: TableStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rows: u64,
    pub columns: Vec<ColumnEntry>,
    pub parts: Vec<PartEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnEntry {
    pub name: String,
    pub source_type: String,
    pub arrow_type: String,
    pub nullable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartEntry {
    /// Relative to the archive root (`OUTPUT_DIR`).
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    /// Writes the manifest at `_manifests/<run_id>.json` (one atomic put).
    pub fn write(&self, store: &Store) -> Result<String> {
        let path = super::manifest_path(&self.run_id);
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::archive("serializing the manifest", e))?;
        store.put(&path, json.into())?;
        Ok(path)
    }

    /// Reads a manifest file from a local path.
    pub fn read_file(path: &std::path::Path) -> Result<Manifest> {
        let text = std::fs::read(path).map_err(|e| {
            Error::config(format!(
                "--manifest {}: cannot read it: {e}",
                path.display()
            ))
        })?;
        serde_json::from_slice(&text).map_err(|e| {
            Error::config(format!(
                "--manifest {}: not a stage manifest: {e}",
                path.display()
            ))
        })
    }

    /// The archive root of a manifest file: `<root>/_manifests/<run_id>.json`.
    pub fn archive_root(path: &std::path::Path) -> Result<std::path::PathBuf> {
        let dir = path.parent().filter(|d| d.ends_with(super::MANIFEST_DIR));
        match dir.and_then(|d| d.parent()) {
            Some(root) => Ok(if root.as_os_str().is_empty() {
                std::path::PathBuf::from(".")
            } else {
                root.to_path_buf()
            }),
            None => Err(Error::config(format!(
                "--manifest {}: expected a manifest inside the archive's {}/ folder",
                path.display(),
                super::MANIFEST_DIR
            ))),
        }
    }
}

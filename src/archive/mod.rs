//! The archive: Parquet parts and the per-run manifest, written through `object_store`.
//!
//! Layout under `OUTPUT_DIR`:
//! ```text
//! <table>/run_id=<run_id>/<table>_part0000.parquet
//! _manifests/<run_id>.json
//! ```
//! Every object is written whole by one `put` (the local store writes a temporary file
//! and renames it), so a reader never sees half a part or half a manifest.

mod conditional;
pub mod debris;
pub mod manifest;
pub mod part_writer;
pub mod reader;

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;

use crate::error::{Error, Result};

pub use manifest::{ColumnEntry, Manifest, PartEntry, TableEntry, TableStatus};
pub use part_writer::PartWriter;

/// Folder of the manifests under the archive root.
pub const MANIFEST_DIR: &str = "_manifests";

/// The archive root: an object store plus the runtime that drives it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// Shown in messages: the configured `OUTPUT_DIR`.
    pub root: String,
    /// The folder, when the store is a local one.
    pub local: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

impl Store {
    /// Opens `OUTPUT_DIR`: a local path or a `file://` URL, created when missing.
    pub fn open(output_dir: &str) -> Result<Store> {
        let local = if let Some(rest) = output_dir.strip_prefix("file://") {
            rest.to_string()
        } else if let Some((scheme, _)) = output_dir.split_once("://") {
            return Err(Error::config(format!(
                "[settings] OUTPUT_DIR = \"{output_dir}\" is invalid: this build of stage writes the archive to a local path or file:// URL; the {scheme}:// store is not built in"
            )));
        } else {
            output_dir.to_string()
        };
        std::fs::create_dir_all(&local).map_err(|e| {
            Error::archive(
                format!("[settings] OUTPUT_DIR: cannot create the archive folder \"{local}\""),
                e,
            )
        })?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(&local)
            .map_err(|e| Error::archive(format!("opening the archive folder \"{local}\""), e))?
            .with_automatic_cleanup(true);
        Ok(Store {
            inner: Arc::new(fs),
            root: output_dir.to_string(),
            local: Some(std::path::PathBuf::from(local)),
        })
    }

    /// An in-memory store, for tests of the layout.
    pub fn in_memory() -> Store {
        Store {
            inner: Arc::new(object_store::memory::InMemory::new()),
            root: "memory".into(),
            local: None,
        }
    }

    pub fn put(&self, path: &str, data: Bytes) -> Result<()> {
        let p = StorePath::from(path);
        block_on(self.inner.put(&p, data.into()))
            .map(|_| ())
            .map_err(|e| Error::archive(format!("writing {path} in {}", self.root), e))
    }

    pub fn get(&self, path: &str) -> Result<Bytes> {
        let p = StorePath::from(path);
        block_on(async { self.inner.get(&p).await?.bytes().await })
            .map_err(|e| Error::archive(format!("reading {path} in {}", self.root), e))
    }

    pub fn delete(&self, path: &str) -> Result<()> {
        let p = StorePath::from(path);
        match block_on(self.inner.delete(&p)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::archive(
                format!("deleting {path} in {}", self.root),
                e,
            )),
        }
    }
}

/// Runs a future on a small runtime shared by the whole process.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    let rt = RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stage-io")
            .enable_all()
            .build()
            .expect("cannot start the I/O runtime")
    });
    rt.block_on(f)
}

/// A run id that sorts by time: `20261121T221800Z-3fa9c2`.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!(
        "{}-{:06x}",
        now.format("%Y%m%dT%H%M%SZ"),
        rand::random::<u32>() & 0xff_ffff
    )
}

/// A table name made safe as one path segment. Letters, digits, `_` and `-` stay (and `.`
/// after the first character); a name holding anything else has it replaced by `_` and
/// gets the first 8 hex digits of its SHA-256 appended, so distinct names never share a folder.
pub fn path_segment(name: &str) -> String {
    let safe =
        |i: usize, c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' && i > 0;
    if !name.is_empty() && name.chars().enumerate().all(|(i, c)| safe(i, c)) {
        return name.to_string();
    }
    let cleaned: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| if safe(i, c) { c } else { '_' })
        .collect();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(name.as_bytes()));
    format!("{cleaned}-{}", &digest[..8])
}

/// `<table>/run_id=<run_id>` for a staging table name.
pub fn table_dir(staging_name: &str, run_id: &str) -> String {
    format!("{}/run_id={run_id}", path_segment(staging_name))
}

pub fn manifest_path(run_id: &str) -> String {
    format!("{MANIFEST_DIR}/{run_id}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_safe_and_distinct() {
        assert_eq!(path_segment("orders_2024"), "orders_2024");
        assert!(path_segment("a b").starts_with("a_b-"));
        assert!(path_segment("a/b").starts_with("a_b-"));
        assert!(path_segment("..x").starts_with("_.x-"));
        assert_ne!(path_segment("a/b"), path_segment("a b"));
        assert_ne!(path_segment("a b"), path_segment("a_b"));
    }

    #[test]
    fn run_ids_sort_by_time() {
        let id = new_run_id();
        assert_eq!(id.len(), "20261121T221800Z-3fa9c2".len());
        assert!(id.contains('T') && id.contains("Z-"));
    }
}

//! The archive: Parquet parts and the per-run manifest, written through `object_store`.
//!
//! Layout under `OUTPUT_DIR`:
//! ```text
//! <table>/run_id=<run_id>/<table>_part0000.parquet
//! _manifests/<run_id>.json
//! ```
//! `OUTPUT_DIR` is a local folder or, with the cargo feature `cloud`, an object store
//! (`s3://`, `az://`/`abfs[s]://`, `gs://`; see [`cloud`]). A part streams to the store
//! ([`upload`]: chunks, a multipart upload once it outgrows one) and appears whole or not at
//! all; the manifest is written last with a create-only put, so a run is committed once
//! and a second writer of the same run id fails instead of overwriting it.

pub mod cloud;
pub mod column_encode;
mod conditional;
pub mod debris;
pub mod history;
pub mod manifest;
pub mod part_writer;
pub mod reader;
pub mod retention;
pub mod upload;

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::multipart::MultipartStore;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutMode, PutOptions};

use crate::config::{Archive, Config, StoreKind};
use crate::error::{Error, Result};

pub use manifest::{ColumnEntry, Manifest, PartEntry, TableEntry, TableStatus};
pub use part_writer::PartWriter;
pub use upload::Upload;

/// Folder of the manifests under the archive root.
pub const MANIFEST_DIR: &str = "_manifests";

/// The archive root: an object store plus the runtime that drives it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// The same store as a `MultipartStore`, for object stores (uploads are tracked).
    multipart: Option<Arc<dyn MultipartStore>>,
    /// The folder inside the bucket, `""` or ending in `/`.
    prefix: String,
    /// Shown in messages: the configured `OUTPUT_DIR`.
    pub root: String,
    /// The folder, when the store is a local one.
    pub local: Option<std::path::PathBuf>,
    /// `[archive]` (lock staleness, retention).
    pub settings: Archive,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

/// An object under the archive root, as a listing shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Relative to the archive root.
    pub path: String,
    pub bytes: u64,
    pub modified: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// The archive of a configuration: `[settings] OUTPUT_DIR` with `[archive]`.
    pub fn for_config(cfg: &Config) -> Result<Store> {
        Store::open(&cfg.settings.output_dir, &cfg.archive)
    }

    /// Opens an archive root: a local path or `file://` URL (created when missing), or an
    /// `s3://`, `az://` (`abfs[s]://`) or `gs://` URL (cargo feature `cloud`).
    pub fn open(output_dir: &str, archive: &Archive) -> Result<Store> {
        let kind = StoreKind::of(output_dir).map_err(|why| {
            Error::config(format!(
                "[settings] OUTPUT_DIR = \"{output_dir}\" is invalid: {why}"
            ))
        })?;
        if kind != StoreKind::Local {
            let opened = cloud::open(kind, output_dir, archive)?;
            tracing::debug!(store = %opened.shown, "archive on an object store");
            return Ok(Store {
                inner: opened.store,
                multipart: Some(opened.multipart),
                prefix: if opened.prefix.is_empty() {
                    String::new()
                } else {
                    format!("{}/", opened.prefix)
                },
                root: output_dir.to_string(),
                local: None,
                settings: archive.clone(),
            });
        }
        let local = output_dir
            .strip_prefix("file://")
            .unwrap_or(output_dir)
            .to_string();
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
            multipart: None,
            prefix: String::new(),
            root: output_dir.to_string(),
            local: Some(std::path::PathBuf::from(local)),
            settings: archive.clone(),
        })
    }

    /// An in-memory store, for tests of the layout.
    pub fn in_memory() -> Store {
        Store {
            inner: Arc::new(object_store::memory::InMemory::new()),
            multipart: None,
            prefix: String::new(),
            root: "memory".into(),
            local: None,
            settings: Archive::default(),
        }
    }

    /// Whether the archive is on an object store (not a local folder).
    pub fn is_remote(&self) -> bool {
        self.multipart.is_some()
    }

    /// The object store itself, for readers that take one (`stage query`'s DataFusion).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.inner.clone()
    }

    /// The store's path of `path` (relative to the archive root), as object_store spells it.
    pub fn location_of(&self, path: &str) -> String {
        self.location(path).to_string()
    }

    /// Runs `f` on the archive's runtime (the one its object store is driven by).
    pub fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        block_on(f)
    }

    /// The store's path of `path` (relative to the archive root).
    fn location(&self, path: &str) -> StorePath {
        StorePath::from(format!("{}{path}", self.prefix))
    }

    /// `path` relative to the archive root, from a store's path.
    fn relative(&self, location: &StorePath) -> String {
        let full = location.as_ref();
        full.strip_prefix(&self.prefix).unwrap_or(full).to_string()
    }

    pub fn put(&self, path: &str, data: Bytes) -> Result<()> {
        block_on(self.inner.put(&self.location(path), data.into()))
            .map(|_| ())
            .map_err(|e| Error::archive(format!("writing {path} in {}", self.root), e))
    }

    /// Writes `path` only if it does not exist yet (`If-None-Match: *` on object stores, a
    /// hard link on a local folder). `Ok(false)`: it exists already, nothing was written.
    pub fn put_new(&self, path: &str, data: Bytes) -> Result<bool> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match block_on(self.inner.put_opts(&self.location(path), data.into(), opts)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(Error::archive(
                format!("writing {path} in {}", self.root),
                e,
            )),
        }
    }

    /// A streaming upload of `path` for run `run_id` (see [`upload`]).
    pub fn upload(&self, path: &str, run_id: &str) -> Upload {
        Upload::new(self, path, run_id)
    }

    pub fn get(&self, path: &str) -> Result<Bytes> {
        let p = self.location(path);
        block_on(async { self.inner.get(&p).await?.bytes().await })
            .map_err(|e| Error::archive(format!("reading {path} in {}", self.root), e))
    }

    /// `None` when `path` does not exist.
    pub fn get_opt(&self, path: &str) -> Result<Option<Bytes>> {
        match self.get(path) {
            Ok(b) => Ok(Some(b)),
            Err(Error::Archive { source, .. })
                if source
                    .downcast_ref::<object_store::Error>()
                    .is_some_and(|e| matches!(e, object_store::Error::NotFound { .. })) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The object at `path`, or `None`.
    pub fn head(&self, path: &str) -> Result<Option<Listed>> {
        match block_on(self.inner.head(&self.location(path))) {
            Ok(m) => Ok(Some(Listed {
                path: path.to_string(),
                bytes: m.size,
                modified: m.last_modified,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::archive(
                format!("reading {path} in {}", self.root),
                e,
            )),
        }
    }

    pub fn delete(&self, path: &str) -> Result<()> {
        match block_on(self.inner.delete(&self.location(path))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::archive(
                format!("deleting {path} in {}", self.root),
                e,
            )),
        }
    }

    /// Aborts the multipart upload `upload_id` of `path` (object stores only).
    pub fn abort_upload(&self, path: &str, upload_id: &str) -> Result<()> {
        let Some(mp) = &self.multipart else {
            return Ok(());
        };
        let id: object_store::MultipartId = upload_id.to_string();
        match block_on(mp.abort_multipart(&self.location(path), &id)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::archive(
                format!("aborting the upload of {path} in {}", self.root),
                e,
            )),
        }
    }

    /// Every object under `dir` (relative to the root), recursively, sorted by path.
    pub fn list(&self, dir: &str) -> Result<Vec<Listed>> {
        let p = self.location(dir.trim_end_matches('/'));
        let mut out: Vec<Listed> = block_on(self.inner.list(Some(&p)).try_collect::<Vec<_>>())
            .map_err(|e| Error::archive(format!("listing {dir} in {}", self.root), e))?
            .into_iter()
            .map(|m| Listed {
                path: self.relative(&m.location),
                bytes: m.size,
                modified: m.last_modified,
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// The folders directly under `dir` (`""` = the root), by name.
    pub fn folders(&self, dir: &str) -> Result<Vec<String>> {
        let d = dir.trim_end_matches('/');
        let p = if d.is_empty() && self.prefix.is_empty() {
            None
        } else {
            Some(self.location(d))
        };
        let listed = block_on(self.inner.list_with_delimiter(p.as_ref()))
            .map_err(|e| Error::archive(format!("listing {dir} in {}", self.root), e))?;
        let mut out: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|c| c.filename().map(str::to_string))
            .collect();
        out.sort();
        Ok(out)
    }
}

/// The small runtime shared by the whole process that drives the store.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("stage-io")
            .enable_all()
            .build()
            .expect("cannot start the I/O runtime")
    })
}

/// Runs a future on the store's runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    runtime().block_on(f)
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

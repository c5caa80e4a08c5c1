//! Create-only writes and listings: what runs that coordinate through the archive (the
//! sharded run's plan, shard files and manifest) need beyond `put`/`get`/`delete`.

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{PutMode, PutOptions};

use super::{block_on, Store};
use crate::error::{Error, Result};

impl Store {
    /// Writes `data` at `path` only when nothing is there: `Ok(true)` when this call wrote
    /// it, `Ok(false)` when another writer got there first (its object is left untouched).
    pub fn put_new(&self, path: &str, data: Bytes) -> Result<bool> {
        let p = StorePath::from(path);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match block_on(self.inner.put_opts(&p, data.into(), opts)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(Error::archive(
                format!("writing {path} in {} (create-only)", self.root),
                e,
            )),
        }
    }

    /// Whether an object exists at `path`.
    pub fn exists(&self, path: &str) -> Result<bool> {
        let p = StorePath::from(path);
        match block_on(self.inner.head(&p)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(Error::archive(
                format!("looking for {path} in {}", self.root),
                e,
            )),
        }
    }

    /// The paths of every object under `prefix` (a folder), sorted.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let p = StorePath::from(prefix);
        let mut paths: Vec<String> = block_on(async {
            self.inner
                .list(Some(&p))
                .map_ok(|m| m.location.to_string())
                .try_collect()
                .await
        })
        .map_err(|e| Error::archive(format!("listing {prefix} in {}", self.root), e))?;
        paths.sort();
        Ok(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_only_put_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().display().to_string()).unwrap();
        assert!(store
            .put_new("_runs/r/plan.json", Bytes::from("one"))
            .unwrap());
        assert!(!store
            .put_new("_runs/r/plan.json", Bytes::from("two"))
            .unwrap());
        assert_eq!(store.get("_runs/r/plan.json").unwrap(), Bytes::from("one"));
        assert!(store.exists("_runs/r/plan.json").unwrap());
        assert!(!store.exists("_runs/r/nothing.json").unwrap());
        store
            .put("_runs/r/shards/0.json", Bytes::from("s"))
            .unwrap();
        assert_eq!(
            store.list("_runs/r").unwrap(),
            ["_runs/r/plan.json", "_runs/r/shards/0.json"]
        );
    }
}

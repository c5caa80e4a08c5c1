//! What runs that coordinate through the archive (the sharded run's plan, shard files and
//! manifest) need beyond `put`/`put_new`/`get`/`delete`/`list`.

use super::Store;
use crate::error::Result;

impl Store {
    /// Whether an object exists at `path`.
    pub fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.head(path)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_create_only_put_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().display().to_string(), &Default::default()).unwrap();
        assert!(store
            .put_new("_runs/r/plan.json", Bytes::from("one"))
            .unwrap());
        assert!(!store
            .put_new("_runs/r/plan.json", Bytes::from("two"))
            .unwrap());
        assert_eq!(store.get("_runs/r/plan.json").unwrap(), Bytes::from("one"));
        assert!(store.exists("_runs/r/plan.json").unwrap());
        assert!(!store.exists("_runs/r/nothing.json").unwrap());
    }
}

//! What killed runs leave in the archive, and how the next run tells it from a live run's.
//!
//! A run that writes the archive first takes a lock file, `_locks/<run_id>.lock`, holding an
//! exclusive `flock` on it for as long as the process lives (the kernel releases it however
//! the process ends, SIGKILL included). The file is created and locked under a temporary
//! name and then renamed into place, so a visible lock file is always locked by its creator
//! until that creator ends.
//!
//! At its start every run removes, for each run id other than its own whose lock file is not
//! locked (or absent): the `<table>/run_id=<id>/` folders of runs that have no manifest (a
//! Hive-style reader would take them for a run), the temporary files of interrupted puts
//! (`<name>#<digits>`, object_store's staging names), and the stale lock file itself. Every
//! removal is logged. Committed runs (those with a manifest) keep their parts.
//!
//! On an object store (no `flock`) the lock is an object, `_locks/<run_id>.lock`, that a
//! live run rewrites every third of `[archive] LOCK_STALE_SECONDS`; a lock older than that,
//! or none, marks a dead run. The next run then removes a dead run's part objects when it
//! has no manifest, and aborts the multipart uploads it recorded under `_uploads/<run_id>/`
//! (object_store cannot list pending uploads, so each is recorded before its first chunk).

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};

use super::{Store, MANIFEST_DIR};
use crate::error::{Error, Result};

/// Folder of the run lock files under the archive root.
pub const LOCK_DIR: &str = "_locks";

/// The lock file a live run holds (see the module's documentation).
#[derive(Debug)]
pub enum RunLock {
    Local {
        path: PathBuf,
        _file: File,
    },
    /// The heartbeat thread of an object store's lock object: dropping the sender stops it
    /// and deletes the object.
    Remote {
        stop: Option<std::sync::mpsc::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

impl RunLock {
    /// Takes the run's lock.
    pub fn take(store: &Store, run_id: &str) -> Result<Option<RunLock>> {
        let Some(root) = &store.local else {
            return remote_lock(store, run_id).map(Some);
        };
        let dir = root.join(LOCK_DIR);
        let err = |e: std::io::Error| {
            Error::archive(
                format!("taking the run's lock file in {}", dir.display()),
                e,
            )
        };
        fs::create_dir_all(&dir).map_err(err)?;
        let path = dir.join(format!("{run_id}.lock"));
        let staged = dir.join(format!("{run_id}.lock.new"));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&staged)
            .map_err(err)?;
        file.try_lock().map_err(|e| err(e.into()))?;
        fs::rename(&staged, &path).map_err(err)?;
        Ok(Some(RunLock::Local { path, _file: file }))
    }
}

fn lock_path(run_id: &str) -> String {
    format!("{LOCK_DIR}/{run_id}.lock")
}

/// Writes the lock object and starts its heartbeat.
fn remote_lock(store: &Store, run_id: &str) -> Result<RunLock> {
    let path = lock_path(run_id);
    let body = format!(
        "{{\"run_id\": \"{run_id}\", \"pid\": {}}}",
        std::process::id()
    );
    store.put(&path, body.clone().into())?;
    let every = std::time::Duration::from_secs_f64(store.settings.lock_stale_seconds / 3.0);
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let store = store.clone();
    let thread = std::thread::Builder::new()
        .name("stage-lock".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every)
            {
                if let Err(e) = store.put(&path, body.clone().into()) {
                    tracing::warn!(error = %e, "could not refresh the run's lock object");
                }
            }
            let _ = store.delete(&path);
        })
        .map_err(|e| Error::archive("starting the lock's heartbeat", e))?;
    Ok(RunLock::Remote {
        stop: Some(stop),
        thread: Some(thread),
    })
}

impl Drop for RunLock {
    fn drop(&mut self) {
        match self {
            RunLock::Local { path, .. } => {
                let _ = fs::remove_file(path);
            }
            RunLock::Remote { stop, thread } => {
                drop(stop.take());
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

/// Whether run `run_id` on an object store is dead: its lock object is absent or stale.
pub fn remote_run_dead(store: &Store, run_id: &str) -> Result<bool> {
    Ok(match store.head(&lock_path(run_id))? {
        None => true,
        Some(lock) => {
            let age = chrono::Utc::now() - lock.modified;
            age.num_milliseconds() as f64 / 1000.0 > store.settings.lock_stale_seconds
        }
    })
}

/// Whether no live process holds run `run_id`'s lock (local: its lock file is not locked;
/// object store: its lock object is absent or stale).
pub fn run_is_dead(store: &Store, run_id: &str) -> Result<bool> {
    match &store.local {
        Some(root) => Ok(claim_dead(root, run_id).is_some()),
        None if store.is_remote() => remote_run_dead(store, run_id),
        None => Ok(true),
    }
}

/// [`clean`] for an object store.
fn clean_remote(store: &Store, current_run: &str) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut dead = std::collections::BTreeMap::<String, bool>::new();
    let mut is_dead = |run_id: &str| -> Result<bool> {
        if let Some(d) = dead.get(run_id) {
            return Ok(*d);
        }
        let d = run_id != current_run && remote_run_dead(store, run_id)?;
        dead.insert(run_id.to_string(), d);
        Ok(d)
    };
    // Multipart uploads recorded by dead runs.
    for run_id in store.folders(super::upload::UPLOAD_DIR)? {
        if !is_dead(&run_id)? {
            continue;
        }
        for rec in store.list(&format!("{}/{run_id}", super::upload::UPLOAD_DIR))? {
            let body = store.get(&rec.path)?;
            match serde_json::from_slice::<super::upload::UploadRecord>(&body) {
                Ok(r) => {
                    store.abort_upload(&r.path, &r.upload_id)?;
                    removed.push(format!(
                        "multipart upload of a killed run aborted: {}",
                        r.path
                    ));
                }
                Err(e) => tracing::warn!(record = %rec.path, error = %e, "not an upload record"),
            }
            store.delete(&rec.path)?;
        }
    }
    // Part objects of dead runs without a manifest.
    for table in store.folders("")? {
        if table.starts_with('_') {
            continue;
        }
        for folder in store.folders(&table)? {
            let Some(run_id) = folder.strip_prefix("run_id=") else {
                continue;
            };
            if !is_dead(run_id)? || store.head(&super::manifest_path(run_id))?.is_some() {
                continue;
            }
            // A sharded run's folders fill from many processes until its commit.
            if store.head(&crate::shard::plan_path(run_id))?.is_some() {
                continue;
            }
            for obj in store.list(&format!("{table}/{folder}"))? {
                store.delete(&obj.path)?;
            }
            removed.push(format!(
                "parts of a killed run that has no manifest: {}/{table}/{folder}",
                store.root.trim_end_matches('/')
            ));
        }
    }
    // Stale lock objects.
    for lock in store.list(LOCK_DIR)? {
        let name = lock.path.rsplit('/').next().unwrap_or_default();
        if let Some(run_id) = name.strip_suffix(".lock") {
            if is_dead(run_id)? && store.head(&lock.path)?.is_some() {
                store.delete(&lock.path)?;
                removed.push(format!("lock object of a killed run: {}", lock.path));
            }
        }
    }
    Ok(removed)
}

/// Whether `name` is object_store's name for an interrupted put: `<name>#<digits>`.
fn is_staged_upload(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The run's lock file, locked by us: `Some` when the run is dead (no lock file, or one
/// nobody holds), `None` when a live process holds it.
fn claim_dead(root: &Path, run_id: &str) -> Option<Option<File>> {
    let path = root.join(LOCK_DIR).join(format!("{run_id}.lock"));
    match File::open(&path) {
        Err(_) => Some(None),
        Ok(f) => match f.try_lock() {
            Ok(()) => Some(Some(f)),
            Err(TryLockError::WouldBlock) => None,
            Err(TryLockError::Error(_)) => None,
        },
    }
}

fn names(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    out.sort();
    out
}

/// Removes what dead runs left (see the module's documentation); returns one line per
/// removal, for the log.
pub fn clean(store: &Store, current_run: &str) -> Result<Vec<String>> {
    let Some(root) = &store.local else {
        return if store.is_remote() {
            clean_remote(store, current_run)
        } else {
            Ok(Vec::new())
        };
    };
    let mut removed = Vec::new();
    let manifests = root.join(MANIFEST_DIR);
    let mut remove = |path: &Path, what: &str| -> Result<()> {
        let gone = if path.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        match gone {
            Ok(()) => {
                removed.push(format!("{what}: {}", path.display()));
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::archive(
                format!("removing {} (left by a killed run)", path.display()),
                e,
            )),
        }
    };
    // Run folders of every table.
    for table in names(root) {
        if table.starts_with('_') {
            continue;
        }
        let table_dir = root.join(&table);
        if !table_dir.is_dir() {
            continue;
        }
        for folder in names(&table_dir) {
            let Some(run_id) = folder.strip_prefix("run_id=") else {
                continue;
            };
            if run_id == current_run {
                continue;
            }
            // A sharded run's folders fill from many processes until its commit; they
            // are left to `stage commit` (and to retention), not taken for debris.
            if root
                .join(crate::shard::RUNS_DIR)
                .join(run_id)
                .join("plan.json")
                .is_file()
            {
                continue;
            }
            let Some(_claimed) = claim_dead(root, run_id) else {
                continue;
            };
            let run_dir = table_dir.join(&folder);
            if manifests.join(format!("{run_id}.json")).is_file() {
                for file in names(&run_dir) {
                    if is_staged_upload(&file) {
                        remove(
                            &run_dir.join(&file),
                            "temporary file of an interrupted write",
                        )?;
                    }
                }
            } else {
                remove(&run_dir, "parts of a killed run that has no manifest")?;
            }
        }
        if names(&table_dir).is_empty() {
            let _ = fs::remove_dir(&table_dir);
        }
    }
    // Temporary manifests, and lock files of dead runs.
    for file in names(&manifests) {
        let run_id = file.split(".json").next().unwrap_or_default();
        if is_staged_upload(&file) && run_id != current_run && claim_dead(root, run_id).is_some() {
            remove(
                &manifests.join(&file),
                "temporary file of an interrupted write",
            )?;
        }
    }
    let locks = root.join(LOCK_DIR);
    for file in names(&locks) {
        let run_id = file
            .strip_suffix(".lock")
            .or_else(|| file.strip_suffix(".lock.new"))
            .unwrap_or(&file);
        if run_id == current_run {
            continue;
        }
        if let Some(Some(_held)) = claim_dead(root, run_id) {
            remove(&locks.join(&file), "lock file of a killed run")?;
        } else if file.ends_with(".lock.new") {
            let staged = File::open(locks.join(&file)).map(|f| f.try_lock().is_ok());
            if staged.unwrap_or(false) {
                remove(&locks.join(&file), "lock file of a killed run")?;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_upload_names() {
        assert!(is_staged_upload("t_part0000.parquet#1"));
        assert!(is_staged_upload("20261121T221800Z-3fa9c2.json#12"));
        assert!(!is_staged_upload("t_part0000.parquet"));
        assert!(!is_staged_upload("a#b"));
        assert!(!is_staged_upload("a#"));
    }

    #[test]
    fn dead_runs_are_cleaned_and_live_and_committed_runs_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap(), &Default::default()).unwrap();
        let root = dir.path();
        let mk = |p: &str| {
            let p = root.join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, b"x").unwrap();
        };
        // A killed run without manifest, a committed run with a temp file, a live run.
        mk("t/run_id=dead/t_part0000.parquet");
        mk("t/run_id=dead/t_part0001.parquet#3");
        mk("t/run_id=done/t_part0000.parquet");
        mk("t/run_id=done/t_part0001.parquet#1");
        mk("_manifests/done.json");
        mk("_manifests/dead.json#2");
        mk("u/run_id=live/u_part0000.parquet");
        let live = RunLock::take(&store, "live").unwrap().unwrap();
        mk("_locks/dead.lock");
        let me = RunLock::take(&store, "me").unwrap().unwrap();
        mk("u/run_id=me/u_part0000.parquet");

        let removed = clean(&store, "me").unwrap();
        assert_eq!(removed.len(), 4, "{removed:#?}");
        assert!(!root.join("t/run_id=dead").exists());
        assert!(root.join("t/run_id=done/t_part0000.parquet").exists());
        assert!(!root.join("t/run_id=done/t_part0001.parquet#1").exists());
        assert!(!root.join("_manifests/dead.json#2").exists());
        assert!(root.join("u/run_id=live/u_part0000.parquet").exists());
        assert!(root.join("u/run_id=me/u_part0000.parquet").exists());
        assert!(!root.join("_locks/dead.lock").exists());
        assert!(root.join("_locks/live.lock").exists());
        drop(live);
        assert!(!root.join("_locks/live.lock").exists());
        // Once the live run is gone without a manifest, its folder goes too.
        let removed = clean(&store, "me").unwrap();
        assert_eq!(removed.len(), 1, "{removed:#?}");
        assert!(!root.join("u/run_id=live").exists());
        drop(me);
    }
}

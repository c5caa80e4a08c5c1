//! Writing a file under a temporary name beside it and renaming it when complete, so a
//! reader never sees half a file and a killed or failed writer never destroys the file that
//! was there.
//!
//! [`PartialFile`] is the streaming form (`stage query --output`, the demo database);
//! [`write_atomically`] writes whole bytes with it (`[monitoring]`'s summary and metrics).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file being written as `.NAME.partial-PID` in its target's folder (the same file
/// system, so the rename is atomic). [`PartialFile::finish`] syncs it and renames it to the
/// target; dropped unfinished, it is removed and the target left as it was. A process
/// killed while writing cannot remove it: its name says which pid left it.
#[derive(Debug)]
pub struct PartialFile {
    path: PathBuf,
    target: PathBuf,
    file: File,
    finished: bool,
}

impl PartialFile {
    /// Creates (or truncates: only a crashed earlier process with our pid can have left
    /// it) the partial file for `target`. The first one a process makes is named
    /// `.NAME.partial-PID`, later ones `.NAME.partial-PID-N`, so two in one process never
    /// share a name.
    pub fn create(target: &Path) -> io::Result<Self> {
        static MADE: AtomicU64 = AtomicU64::new(0);
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no file name", target.display()),
            )
        })?;
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let suffix = match n {
            0 => String::new(),
            n => format!("-{n}"),
        };
        let path = target.with_file_name(format!(
            ".{}.partial-{}{suffix}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&path).map_err(|e| with_path(e, "creating", &path))?;
        Ok(PartialFile {
            path,
            target: target.to_path_buf(),
            file,
            finished: false,
        })
    }

    /// Where the bytes go until [`PartialFile::finish`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second handle on the partial file, for a writer that must own one. Flush it
    /// before [`PartialFile::finish`].
    pub fn handle(&self) -> io::Result<File> {
        self.file
            .try_clone()
            .map_err(|e| with_path(e, "opening", &self.path))
    }

    /// Syncs the complete file and renames it to the target (replacing a file there). The
    /// errors name the paths.
    pub fn finish(mut self) -> io::Result<()> {
        self.file
            .sync_all()
            .map_err(|e| with_path(e, "syncing", &self.path))?;
        std::fs::rename(&self.path, &self.target).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "renaming {} to {}: {e}",
                    self.path.display(),
                    self.target.display()
                ),
            )
        })?;
        self.finished = true;
        Ok(())
    }
}

impl Write for PartialFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn with_path(e: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{doing} {}: {e}", path.display()))
}

/// Writes `bytes` to `path` through a [`PartialFile`], creating `path`'s folder first, so a
/// reader (node_exporter) never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut partial = PartialFile::create(path)?;
    partial.write_all(bytes)?;
    partial.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The sync cannot be observed from here: `strace -e trace=fsync,rename` on this test
    /// shows the partial file's `fsync` right before its `rename`.
    #[test]
    fn a_finished_file_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old\n").unwrap();
        let mut p = PartialFile::create(&target).unwrap();
        let partial = p.path().to_path_buf();
        let name = partial.file_name().unwrap().to_string_lossy().into_owned();
        let pid = std::process::id();
        assert!(
            name == format!(".out.csv.partial-{pid}")
                || name.starts_with(&format!(".out.csv.partial-{pid}-")),
            "{name}"
        );
        assert_eq!(partial.parent(), Some(dir.path()));
        p.write_all(b"new ").unwrap();
        // A writer owning its own handle writes to the same file.
        let mut h = p.handle().unwrap();
        h.write_all(b"rows\n").unwrap();
        h.flush().unwrap();
        drop(h);
        // Until finished, the target is the old file.
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
        assert_eq!(std::fs::read_to_string(&partial).unwrap(), "new rows\n");
        p.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new rows\n");
        assert_eq!(names(dir.path()), ["out.csv"]);
    }

    #[test]
    fn dropped_unfinished_removes_the_partial_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old\n").unwrap();
        let mut p = PartialFile::create(&target).unwrap();
        p.write_all(b"half a fi").unwrap();
        let partial = p.path().to_path_buf();
        assert!(partial.exists());
        drop(p);
        assert!(!partial.exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
        assert_eq!(names(dir.path()), ["out.csv"]);
    }

    #[test]
    fn two_partials_for_one_target_do_not_share_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        let a = PartialFile::create(&target).unwrap();
        let b = PartialFile::create(&target).unwrap();
        assert_ne!(a.path(), b.path());
    }

    #[test]
    fn a_failing_rename_names_both_paths_and_removes_the_partial() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty folder cannot be replaced by a file.
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), "x").unwrap();
        let mut p = PartialFile::create(&target).unwrap();
        p.write_all(b"rows").unwrap();
        let partial = p.path().to_path_buf();
        let err = p.finish().unwrap_err().to_string();
        assert!(err.contains(&target.display().to_string()), "{err}");
        assert!(err.contains(&partial.display().to_string()), "{err}");
        assert!(!partial.exists(), "{err}");
        assert!(target.join("inside").exists());
    }

    #[test]
    fn a_missing_folder_names_the_partial_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = PartialFile::create(&dir.path().join("nope").join("out.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("creating"), "{err}");
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn write_atomically_creates_the_folder_and_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics").join("stage.prom");
        write_atomically(&path, b"one\n").unwrap();
        write_atomically(&path, b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(names(&dir.path().join("metrics")), ["stage.prom"]);
    }
}

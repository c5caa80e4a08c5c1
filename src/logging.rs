//! Logging set up from `[logging]`: text or JSON lines on stderr, optionally also to a
//! size-rotated file (`LOG_FILE`, `LOG_ROTATE_BYTES`, `LOG_BACKUP_COUNT`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{Layer, Registry};

use crate::config::{LogFormat, Logging};
use crate::error::{Error, Result};

/// Installs the global subscriber. Call once.
pub fn init(cfg: &Logging) -> Result<()> {
    let level = tracing_subscriber::filter::LevelFilter::from_level(cfg.level);
    let file = if cfg.to_file {
        Some(RotatingFile::open(
            &cfg.file,
            cfg.rotate_bytes,
            cfg.backup_count,
        )?)
    } else {
        None
    };
    let json = cfg.format == LogFormat::Json;
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_target(false);
    layers.push(if json {
        stderr.json().with_filter(level).boxed()
    } else {
        stderr.with_filter(level).boxed()
    });
    if let Some(f) = file {
        let l = tracing_subscriber::fmt::layer()
            .with_writer(f)
            .with_ansi(false)
            .with_target(false);
        layers.push(if json {
            l.json().with_filter(level).boxed()
        } else {
            l.with_filter(level).boxed()
        });
    }
    let result = tracing_subscriber::registry().with(layers).try_init();
    // A second init (tests) keeps the first subscriber.
    let _ = result;
    Ok(())
}

/// A log file that rolls to `.1`, `.2`, … past `max_bytes`.
#[derive(Clone)]
pub struct RotatingFile {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
    backups: u32,
}

impl RotatingFile {
    pub fn open(path: &Path, max_bytes: u64, backups: u32) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::config(format!(
                    "[logging] LOG_FILE = \"{}\": cannot create its folder: {e}",
                    path.display()
                ))
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                Error::config(format!(
                    "[logging] LOG_FILE = \"{}\": cannot open it: {e}",
                    path.display()
                ))
            })?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(RotatingFile {
            inner: Arc::new(Mutex::new(Inner {
                path: path.to_path_buf(),
                file,
                written,
                max_bytes,
                backups,
            })),
        })
    }
}

impl Inner {
    fn rotate(&mut self) -> io::Result<()> {
        let name = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        if self.backups == 0 {
            self.file = File::create(&self.path)?;
        } else {
            for i in (1..self.backups).rev() {
                let from = name(i);
                if from.exists() {
                    std::fs::rename(&from, name(i + 1))?;
                }
            }
            std::fs::rename(&self.path, name(1))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
        }
        self.written = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.max_bytes > 0
            && inner.written + buf.len() as u64 > inner.max_bytes
            && inner.written > 0
        {
            inner.rotate()?;
        }
        let n = inner.file.write(buf)?;
        inner.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .file
            .flush()
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = RotatingFile;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_past_the_size_and_keeps_the_backups_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/stage.log");
        let mut f = RotatingFile::open(&path, 10, 2).unwrap();
        for line in ["aaaaaaaa\n", "bbbbbbbb\n", "cccccccc\n", "dddddddd\n"] {
            f.write_all(line.as_bytes()).unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()), "dddddddd\n");
        assert_eq!(read(dir.path().join("logs/stage.log.1")), "cccccccc\n");
        assert_eq!(read(dir.path().join("logs/stage.log.2")), "bbbbbbbb\n");
        assert!(!dir.path().join("logs/stage.log.3").exists());
    }
}

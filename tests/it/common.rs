//! Helpers shared by the end-to-end tests: run the real `stage` binary in a temp dir.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The `stage` binary under test. STAGE_BIN overrides it: worktrees sharing one
/// CARGO_TARGET_DIR overwrite each other's `target/debug/stage`, so a test run can pin its
/// own copy.
pub fn stage_bin() -> PathBuf {
    std::env::var_os("STAGE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_stage")))
}

/// `stage` with `args` in `dir`, with a clean environment (`PATH`, `HOME`, `TMPDIR`) plus
/// `env`.
fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(stage_bin());
    cmd.current_dir(dir).env_clear();
    for k in ["PATH", "HOME", "TMPDIR"] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
    cmd.args(args).envs(env.iter().copied());
    cmd
}

/// Runs `stage` in `dir` with a clean environment plus `env`.
pub fn stage(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out: Output = command(dir, args, env)
        .output()
        .expect("the stage binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A `stage` process started in the background, its stderr collected line by line.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

/// Starts `stage` in `dir` in the background, with a clean environment plus `env`.
pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut cmd = command(dir, args, env);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("stage starts");
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    Running {
        child,
        lines: rx,
        seen: Vec::new(),
    }
}

impl Running {
    /// Waits until `stage` prints `stage: paused at <step>`.
    pub fn wait_paused(&mut self, step: &str) {
        let marker = format!("stage: paused at {step}");
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                let hit = line.contains(&marker);
                self.seen.push(line);
                if hit {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain();
                panic!(
                    "stage ended ({status}) before pausing at {step}:\n{}",
                    self.seen.join("\n")
                );
            }
        }
        panic!("stage did not pause at {step}:\n{}", self.seen.join("\n"));
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} failed");
    }

    fn drain(&mut self) {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
    }

    /// Waits for the exit; the exit code (128 + N for a signal death) and every line.
    pub fn finish(mut self) -> (i32, String) {
        use std::os::unix::process::ExitStatusExt;
        let until = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < until, "stage did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        self.drain();
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        (code, self.seen.join("\n"))
    }
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write a test file");
    p
}

/// An INI for SQLite → SQLite with the given settings lines.
pub fn sqlite_ini(src: &str, dst: &str, settings: &str) -> String {
    format!(
        "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = {src}\n\n[database-destination]\nDST_DRIVER = sqlite\nDST_DB = {dst}\n\n[settings]\n{settings}\n"
    )
}

/// Reads every batch of a Parquet file with the parquet crate's reader.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("a parquet file")
        .build()
        .expect("a reader")
        .map(|b| b.expect("a batch"))
        .collect()
}

/// The single manifest under `<out>/_manifests`.
pub fn only_manifest(out: &Path) -> (PathBuf, serde_json::Value) {
    let dir = out.join("_manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one manifest expected: {files:?}");
    let p = files.remove(0);
    let v = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    (p, v)
}

/// Rows of a SQLite query, each value rendered with its storage class: `INTEGER:1`, `NULL`.
pub fn sqlite_rows(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            Ok((0..n)
                .map(|i| match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(v) => format!("INTEGER:{v}"),
                    rusqlite::types::ValueRef::Real(v) => format!("REAL:{v:?}"),
                    rusqlite::types::ValueRef::Text(t) => {
                        format!("TEXT:{}", String::from_utf8_lossy(t))
                    }
                    rusqlite::types::ValueRef::Blob(b) => format!("BLOB:{}", hex::encode(b)),
                })
                .collect::<Vec<_>>())
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

/// The tables of a MariaDB staging database but the run log's (`SHOW TABLES`' order).
pub const MARIA_STAGED_TABLES: &str = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name NOT IN ('etl_runs', 'etl_logs', 'sync_metadata') ORDER BY table_name";

/// Every PostgreSQL COPY in a debug log was read off the connection's byte stream by the
/// tap (`db::postgres::copy_tap`): its "COPY read" lines show tapped bytes and no message
/// through the driver. Returns how many COPYs the log shows.
pub fn assert_copies_tapped(log: &str) -> usize {
    let field = |line: &str, key: &str| -> u64 {
        let at = line
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in: {line}"));
        line[at + key.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a number in: {line}"))
    };
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("COPY read")).collect();
    assert!(
        !lines.is_empty(),
        "no \"COPY read\" line in the log:\n{log}"
    );
    for line in &lines {
        assert!(field(line, "tapped_bytes=") > 0, "{line}");
        assert_eq!(field(line, "driver_messages="), 0, "{line}");
    }
    lines.len()
}

//! Fault injection: `stage` is killed (SIGKILL), stopped (SIGTERM), overlapped by a second
//! run, or has a connection or the disk taken away at a chosen step, on PostgreSQL, MariaDB
//! and SQLite staging. Every case then checks the staging table's rows against the source
//! (the old version or the new one, never half), the exit code and message, and that a
//! plain re-run succeeds with nothing left behind (no helper tables, no run folders without
//! a manifest).
//!
//! The step is reached through `STAGE_FAULT_PAUSE=<step>` (see `src/interrupt.rs`): `stage`
//! prints `stage: paused at <step>` and waits there until it is killed, signalled, or the
//! file named by `STAGE_FAULT_RESUME` appears.

mod dest;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{spawn, write};
use crate::support::{mariadb, pg};
use dest::Dest;

/// A SQLite source whose table `table` holds `n` rows named `v<version>-<id>`; returns
/// the expected staging rows.
fn source(dir: &Path, table: &str, n: i64, version: u32) -> Vec<String> {
    let c = rusqlite::Connection::open(dir.join("src.sqlite")).unwrap();
    c.execute_batch(&format!(
        "DROP TABLE IF EXISTS \"{table}\"; CREATE TABLE \"{table}\" (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n})
         INSERT INTO \"{table}\" SELECT i, 'v{version}-' || i FROM g;"
    ))
    .unwrap();
    let mut rows: Vec<String> = (1..=n).map(|i| format!("{i}|v{version}-{i}")).collect();
    rows.sort();
    rows
}

/// The job's INI: `settings` added to `[settings]` (batches of 100 rows unless they say).
fn ini(dir: &Path, dest: &Dest, settings: &str) -> PathBuf {
    let chunk = if settings.contains("SRC_CHUNK_SIZE") {
        ""
    } else {
        "SRC_CHUNK_SIZE = 100\n"
    };
    write(
        dir,
        "job.ini",
        &format!(
            "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = {}\n\n{}[settings]\n{chunk}OUTPUT_DIR = {}\n{settings}\n",
            dir.join("src.sqlite").display(),
            dest.section(),
            dir.join("archive").display()
        ),
    )
}

fn run_to_end(dir: &Path, config: &Path, env: &[(&str, &str)]) -> (i32, String) {
    spawn(dir, &["--config", config.to_str().unwrap()], env).finish()
}

/// Run folders (`<table>/run_id=*`) under the archive with no manifest.
fn orphan_runs(dir: &Path) -> Vec<String> {
    let root = dir.join("archive");
    let mut out = Vec::new();
    for table in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let name = table.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') || !table.path().is_dir() {
            continue;
        }
        for run in std::fs::read_dir(table.path()).unwrap().flatten() {
            let folder = run.file_name().to_string_lossy().into_owned();
            let id = folder.trim_start_matches("run_id=");
            if !root.join("_manifests").join(format!("{id}.json")).exists() {
                out.push(format!("{name}/{folder}"));
            }
        }
    }
    out
}

const DESTS: [&str; 3] = ["postgres", "mariadb", "sqlite"];

/// Stages version 1 of `t` (500 rows), changes the source to version 2 (1,000 rows), runs
/// with `fault` at `step` in `mode`, then checks what the fault left and that a re-run
/// stages version 2 with nothing left behind. `during` acts on the paused process and
/// returns whether it was killed (true) or still runs.
fn old_or_new(kind: &str, mode: &str, step: &str, signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let dest = Dest::new(kind, dir);
    let old = source(dir, "t", 500, 1);
    let config = ini(
        dir,
        &dest,
        &format!("SRC_TABLES = t\nTRANSFER_MODE = {mode}"),
    );
    let (code, out) = run_to_end(dir, &config, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(dest.rows("t").as_ref(), Some(&old));
    let new = source(dir, "t", 1000, 2);

    let mut run = spawn(
        dir,
        &["--config", config.to_str().unwrap()],
        &[("STAGE_FAULT_PAUSE", step)],
    );
    run.wait_paused(step);
    run.signal(signal);
    let (code, out) = run.finish();
    let case = format!("{kind} {mode} {signal} at {step}");
    let after = dest.rows("t");
    if signal == "KILL" {
        assert_eq!(code, 137, "{case}: {out}");
        // The one place a kill can land after the swap committed: MariaDB's RENAME is done
        // and only the retired table's DROP is left. Everywhere else the old table stays.
        let swapped = kind == "mariadb" && step == "swap";
        let want = if swapped { &new } else { &old };
        assert_eq!(after.as_ref(), Some(want), "{case}: old or new, never half");
    } else {
        assert_eq!(code, 143, "{case}: {out}");
        assert!(
            out.contains("interrupted by SIGTERM"),
            "{case}: the table names the signal: {out}"
        );
        assert_eq!(after.as_ref(), Some(&old), "{case}: the old table is kept");
        assert!(
            dest.helpers().is_empty(),
            "{case}: SIGTERM cleans up: {:?}",
            dest.helpers()
        );
        assert!(orphan_runs(dir).is_empty() || mode == "DUMP", "{case}");
    }

    let (code, out) = run_to_end(dir, &config, &[]);
    assert_eq!(code, 0, "{case}: a plain re-run succeeds: {out}");
    assert_eq!(dest.rows("t").as_ref(), Some(&new), "{case}: re-run");
    assert!(
        dest.helpers().is_empty(),
        "{case}: left {:?}",
        dest.helpers()
    );
    assert!(
        orphan_runs(dir).is_empty(),
        "{case}: {:?}",
        orphan_runs(dir)
    );
}

#[test]
fn sigkill_during_read_keeps_the_old_table() {
    for kind in DESTS {
        old_or_new(kind, "DIRECT", "read", "KILL");
        old_or_new(kind, "DUMP", "read", "KILL");
    }
}

#[test]
fn sigkill_during_part_write_and_before_the_manifest_leaves_no_visible_run() {
    for kind in DESTS {
        old_or_new(kind, "DUMP", "part-write", "KILL");
        old_or_new(kind, "DUMP", "manifest", "KILL");
    }
}

#[test]
fn sigkill_during_load_keeps_the_old_table() {
    for kind in DESTS {
        old_or_new(kind, "DIRECT", "load", "KILL");
        old_or_new(kind, "DUMP", "load", "KILL");
    }
}

/// MariaDB loads through `LOAD DATA LOCAL INFILE`: killed (or stopped by SIGTERM) with
/// half of a batch's stream sent, the old table stays.
#[test]
fn sigkill_and_sigterm_in_the_middle_of_load_data_keep_the_old_table() {
    old_or_new("mariadb", "DIRECT", "load-data", "KILL");
    old_or_new("mariadb", "DUMP", "load-data", "KILL");
    old_or_new("mariadb", "DIRECT", "load-data", "TERM");
}

#[test]
fn sigkill_during_swap_leaves_the_old_table_or_the_new() {
    for kind in DESTS {
        old_or_new(kind, "DIRECT", "swap", "KILL");
    }
}

#[test]
fn sigterm_during_load_abandons_the_table_and_exits_143() {
    for kind in DESTS {
        old_or_new(kind, "DIRECT", "load", "TERM");
        old_or_new(kind, "DUMP", "load", "TERM");
    }
}

#[test]
fn sigterm_during_a_dump_marks_the_manifest_interrupted_and_deletes_the_table_parts() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let dest = Dest::new("sqlite", dir);
    source(dir, "a", 300, 1);
    source(dir, "b", 300, 1);
    let config = ini(dir, &dest, "SRC_TABLES = a, b\nTRANSFER_MODE = DUMP");
    let mut run = spawn(
        dir,
        &["dump", "--config", config.to_str().unwrap()],
        &[("STAGE_FAULT_PAUSE", "part-write")],
    );
    run.wait_paused("part-write");
    run.signal("TERM");
    let (code, out) = run.finish();
    assert_eq!(code, 143, "{out}");
    let (_, manifest) = crate::common::only_manifest(&dir.join("archive"));
    assert_eq!(manifest["interrupted"], "SIGTERM", "{manifest}");
    for t in manifest["tables"].as_array().unwrap() {
        assert_eq!(t["status"], "failed", "{t}");
        assert!(t["parts"].as_array().unwrap().is_empty());
    }
    // No part of the abandoned table is left.
    assert!(
        !dir.join("archive/a").exists()
            || std::fs::read_dir(dir.join("archive/a/"))
                .unwrap()
                .flatten()
                .all(|run| std::fs::read_dir(run.path()).unwrap().next().is_none())
    );
}

/// `PARQUET_ENCODE_THREADS = 2`, batches large enough to be encoded in parallel: `stage`
/// killed (or stopped) while one thread encodes a column and the other the rest of the
/// row group. No run becomes visible, the old table stays, and a plain re-run stages the
/// new rows with nothing left behind.
#[test]
fn sigkill_and_sigterm_while_columns_encode_in_parallel_keep_the_old_table() {
    for signal in ["KILL", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let dest = Dest::new("sqlite", dir);
        let old = source(dir, "t", 500, 1);
        let config = ini(
            dir,
            &dest,
            "SRC_TABLES = t\nTRANSFER_MODE = DUMP\nSRC_CHUNK_SIZE = 5000\nPARQUET_ENCODE_THREADS = 2",
        );
        let (code, out) = run_to_end(dir, &config, &[]);
        assert_eq!(code, 0, "{out}");
        let new = source(dir, "t", 12_000, 2);
        let mut run = spawn(
            dir,
            &["--config", config.to_str().unwrap()],
            &[("STAGE_FAULT_PAUSE", "encode-columns")],
        );
        run.wait_paused("encode-columns");
        run.signal(signal);
        let (code, out) = run.finish();
        assert_eq!(
            code,
            if signal == "KILL" { 137 } else { 143 },
            "{signal}: {out}"
        );
        assert_eq!(
            dest.rows("t").as_ref(),
            Some(&old),
            "{signal}: the old table"
        );
        if signal == "TERM" {
            assert!(orphan_runs(dir).is_empty(), "{:?}", orphan_runs(dir));
        }
        let (code, out) = run_to_end(dir, &config, &[]);
        assert_eq!(code, 0, "{signal}: a plain re-run succeeds: {out}");
        assert_eq!(dest.rows("t").as_ref(), Some(&new), "{signal}: re-run");
        assert!(dest.helpers().is_empty(), "{:?}", dest.helpers());
        assert!(orphan_runs(dir).is_empty(), "{:?}", orphan_runs(dir));
    }
}

/// Two runs of one job: the second finds the staging table locked, fails it at once with
/// exit code 4 and a line naming the table, and touches nothing; the first then finishes
/// with the whole table. With `LOCK_WAIT_SECONDS` the second waits and succeeds after it.
fn overlapping(kind: &str, mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let dest = Dest::new(kind, dir);
    let rows = source(dir, "t", 1000, 1);
    let config = ini(
        dir,
        &dest,
        &format!("SRC_TABLES = t\nTRANSFER_MODE = {mode}"),
    );
    let resume = dir.join("resume");
    let resume_s = resume.to_str().unwrap();
    let mut first = spawn(
        dir,
        &["--config", config.to_str().unwrap()],
        &[
            ("STAGE_FAULT_PAUSE", "load"),
            ("STAGE_FAULT_RESUME", resume_s),
        ],
    );
    first.wait_paused("load");
    let (code, out) = run_to_end(dir, &config, &[]);
    let case = format!("{kind} {mode}");
    assert_eq!(code, 4, "{case}: {out}");
    assert!(
        out.contains("is locked by another run") && out.contains("nothing was done to it"),
        "{case}: {out}"
    );
    if kind == "postgres" {
        assert!(
            out.contains("held by PostgreSQL backend pid"),
            "{case}: {out}"
        );
    }
    if kind == "mariadb" {
        assert!(out.contains("held by connection"), "{case}: {out}");
    }
    // A waiting second run, then let the first go on.
    let second = spawn(
        dir,
        &["--config", config.to_str().unwrap()],
        &[("LOCK_WAIT_SECONDS", "60")],
    );
    std::thread::sleep(Duration::from_millis(700));
    std::fs::write(&resume, b"").unwrap();
    let (code, out) = first.finish();
    assert_eq!(code, 0, "{case}: the first run finishes: {out}");
    let (code, out) = second.finish();
    assert_eq!(code, 0, "{case}: the waiting run succeeds after it: {out}");
    assert_eq!(dest.rows("t").as_ref(), Some(&rows), "{case}");
    assert!(dest.helpers().is_empty(), "{case}: {:?}", dest.helpers());
}

#[test]
fn overlapping_runs_of_one_job_never_stage_half_a_table() {
    for kind in DESTS {
        overlapping(kind, "DIRECT");
        overlapping(kind, "DUMP");
    }
}

#[test]
fn a_63_byte_staging_name_is_staged_twice() {
    for kind in DESTS {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let dest = Dest::new(kind, dir);
        let table = format!("t{}", "x".repeat(62));
        assert_eq!(table.len(), 63);
        for version in [1, 2] {
            let rows = source(dir, &table, 50, version);
            let config = ini(dir, &dest, &format!("SRC_TABLES = {table}"));
            let (code, out) = run_to_end(dir, &config, &[]);
            assert_eq!(code, 0, "{kind} run {version}: {out}");
            assert_eq!(
                dest.rows(&table).as_ref(),
                Some(&rows),
                "{kind} run {version}"
            );
            assert!(dest.helpers().is_empty(), "{kind}: {:?}", dest.helpers());
        }
    }
}

#[test]
fn colliding_staging_names_are_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let dest = Dest::new("sqlite", dir);
    source(dir, "orders", 5, 1);
    let config = ini(dir, &dest, "SRC_TABLES = sales.orders, hr.Orders");
    let (code, out) = run_to_end(dir, &config, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "\"sales.orders\" and \"hr.Orders\" would both be staged into the table \"orders\""
        ),
        "{out}"
    );
    assert!(dest.rows("orders").is_none(), "nothing was staged");
}

/// The destination's connection is terminated by the server in the middle of a load:
/// DIRECT reconnects, takes the lock again, learns from the shadow's count whether the
/// lost batch committed, and stages the whole table exactly once.
#[test]
fn destination_connection_killed_mid_load_is_healed_without_duplicates() {
    for kind in ["postgres", "mariadb"] {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let dest = Dest::new(kind, dir);
        let rows = source(dir, "t", 2000, 1);
        let config = ini(
            dir,
            &dest,
            // The run log's own connections (MariaDB cannot tell them apart) stay out of it.
            "SRC_TABLES = t\nDIRECT_BACKOFF_BASE_SECONDS = 0.1\nDIRECT_BACKOFF_MAX_SECONDS = 0.5\nRUN_LOG = false",
        );
        let resume = dir.join("resume");
        let mut run = spawn(
            dir,
            &["--config", config.to_str().unwrap()],
            &[
                ("STAGE_FAULT_PAUSE", "load"),
                ("STAGE_FAULT_RESUME", resume.to_str().unwrap()),
            ],
        );
        run.wait_paused("load");
        match &dest {
            Dest::Pg(db) => {
                let n: i64 = pg()
                    .client("postgres")
                    .query_one(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'stage'",
                        &[db],
                    )
                    .unwrap()
                    .get(0);
                assert_eq!(n, 1, "one stage connection to the staging database");
            }
            Dest::Maria(db) => {
                let ids = mariadb().query(
                    None,
                    &format!("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{db}' AND ID <> CONNECTION_ID()"),
                );
                let ids: Vec<&str> = ids.lines().collect();
                assert_eq!(ids.len(), 1, "one stage connection: {ids:?}");
                mariadb().query(None, &format!("KILL {}", ids[0]));
            }
            Dest::Sqlite(_) => unreachable!(),
        }
        std::fs::write(&resume, b"").unwrap();
        let (code, out) = run.finish();
        assert_eq!(code, 0, "{kind}: {out}");
        assert!(
            out.contains("retrying the batch"),
            "{kind}: the retry is logged: {out}"
        );
        assert_eq!(
            dest.rows("t").as_ref(),
            Some(&rows),
            "{kind}: every row once"
        );
        assert!(dest.helpers().is_empty(), "{kind}: {:?}", dest.helpers());
    }
}

/// A full disk under `OUTPUT_DIR` (a 1 MiB tmpfs, mounted by the test when it runs as
/// root): the table fails with the operating system's message, the old staging table is
/// kept, no part is left, and a re-run with room succeeds.
#[test]
fn a_full_disk_under_output_dir_fails_the_table_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mnt = dir.join("archive");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        // Visible in the test output: this machine cannot mount a tmpfs (not root).
        println!("SKIPPED a_full_disk_under_output_dir: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let dest = Dest::new("sqlite", dir);
    let old = source(dir, "t", 100, 1);
    let config = ini(
        dir,
        &dest,
        "SRC_TABLES = t\nTRANSFER_MODE = DUMP\nPARQUET_COMPRESSION = none",
    );
    assert_eq!(run_to_end(dir, &config, &[]).0, 0);
    // Random text does not compress: 60,000 rows of 64 bytes is far more than 1 MiB.
    let c = rusqlite::Connection::open(dir.join("src.sqlite")).unwrap();
    c.execute_batch(
        "DROP TABLE t; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 60000)
         INSERT INTO t SELECT i, hex(randomblob(32)) FROM g;",
    )
    .unwrap();
    let (code, out) = run_to_end(dir, &config, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("No space left on device"), "{out}");
    assert_eq!(dest.rows("t").as_ref(), Some(&old), "the old table is kept");
    assert!(orphan_runs(dir).is_empty(), "{:?}", orphan_runs(dir));
    drop(_unmount);
    let (code, out) = run_to_end(dir, &config, &[]);
    assert_eq!(code, 0, "a re-run with room: {out}");
    assert_eq!(dest.rows("t").map(|r| r.len()), Some(60000));
}

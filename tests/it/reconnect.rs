//! A source that heals (issue #14), with the real `stage` binary and throwaway servers:
//! the source's connection cut in the middle of table 2 of 3 (`pg_terminate_backend`,
//! MariaDB `KILL`) is answered by reading table 2 again from the start on a new connection,
//! with nothing of the cut attempt kept; a connection found broken between tables is
//! reopened; a destination failure is not taken for a source one; and DUMP connects the
//! destination only for its load.
//!
//! Table 2 is a view that sleeps 10 ms every 10 rows, so the server is still producing
//! rows when the connection is cut (a plain table of this size would already sit whole in
//! the sockets' buffers, and its read would end cleanly). `stage` pauses after the first
//! batch of table 2 (`STAGE_FAULT_PAUSE=read:t2`), the test cuts the connection that reads
//! it, and lets `stage` go on.

use std::path::{Path, PathBuf};

use crate::common::{only_manifest, spawn, stage, write};
use crate::support::{mariadb, pg};

const T1_ROWS: i64 = 600;
const T2_ROWS: i64 = 2000;
const T3_ROWS: i64 = 400;
const TABLES: [&str; 3] = ["t1", "t2", "t3"];

/// The source database: `t1` and `t3` are tables, `t2` a slow view over `t2_rows`.
enum Src {
    Pg(String),
    Maria(String),
}

impl Src {
    fn new(kind: &str) -> Src {
        let src = match kind {
            "postgres" => Src::Pg(pg().create_database("heal_src")),
            _ => Src::Maria(mariadb().create_database("heal_src")),
        };
        src.fill(1);
        src
    }

    /// (Re)creates the three tables with every name at `version`.
    fn fill(&self, version: u32) {
        let rows = |table: &str, n: i64| {
            match self {
            Src::Pg(_) => format!(
                "DROP TABLE IF EXISTS {table} CASCADE; CREATE TABLE {table} (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2));
                 INSERT INTO {table} SELECT i, 'v{version}-{table}-' || i, CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.25 END FROM generate_series(1, {n}) i;"
            ),
            Src::Maria(_) => format!(
                "DROP VIEW IF EXISTS t2; DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigint PRIMARY KEY, name varchar(100) NOT NULL, amount decimal(12,2));
                 INSERT INTO {table} SELECT seq, CONCAT('v{version}-{table}-', seq), CASE WHEN seq % 7 = 0 THEN NULL ELSE seq * 1.25 END FROM seq_1_to_{n};"
            ),
        }
        };
        let sql = format!(
            "{}{}{}{}",
            rows("t1", T1_ROWS),
            rows("t2_rows", T2_ROWS),
            rows("t3", T3_ROWS),
            match self {
                Src::Pg(_) =>
                    "CREATE VIEW t2 AS SELECT id, name, amount FROM t2_rows WHERE CASE WHEN id % 10 = 0 THEN pg_sleep(0.01)::text = '' ELSE true END;",
                Src::Maria(_) =>
                    "CREATE VIEW t2 AS SELECT id, name, amount FROM t2_rows WHERE CASE WHEN id % 10 = 0 THEN SLEEP(0.01) = 0 ELSE 1 END;",
            }
        );
        match self {
            Src::Pg(db) => pg().client(db).batch_execute(&sql).unwrap(),
            Src::Maria(db) => {
                mariadb().query(Some(db), &sql);
            }
        }
    }

    fn section(&self) -> String {
        let (driver, host, port, user, password, db) = match self {
            Src::Pg(db) => {
                let s = pg();
                ("postgres", &s.host, s.port, &s.user, &s.password, db)
            }
            Src::Maria(db) => {
                let s = mariadb();
                ("mariadb", &s.host, s.port, &s.user, &s.password, db)
            }
        };
        format!(
            "[database-source]\nSRC_DRIVER = {driver}\nSRC_HOST = {host}\nSRC_PORT = {port}\nSRC_USERNAME = {user}\nSRC_PASSWORD = {password}\nSRC_DB = {db}\n\n"
        )
    }

    /// `id|name|amount` of every row of `table`, in id order (`t2` from the table under
    /// the view, which holds the same rows without the wait).
    fn rows(&self, table: &str) -> Vec<String> {
        let table = if table == "t2" { "t2_rows" } else { table };
        match self {
            Src::Pg(db) => pg_rows(db, table),
            Src::Maria(db) => mariadb()
                .query(
                    Some(db),
                    &format!("SELECT CONCAT_WS('|', id, name, COALESCE(amount, 'NULL')) FROM {table} ORDER BY id"),
                )
                .lines()
                .map(str::to_string)
                .collect(),
        }
    }

    /// Cuts `stage`'s one connection to the source database (the test's own excluded).
    fn cut(&self) {
        match self {
            Src::Pg(db) => terminate_stage(db),
            Src::Maria(db) => {
                let ids = mariadb().query(
                    None,
                    &format!("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{db}' AND ID <> CONNECTION_ID()"),
                );
                let ids: Vec<&str> = ids.lines().collect();
                assert_eq!(ids.len(), 1, "one stage connection to the source: {ids:?}");
                mariadb().query(None, &format!("KILL {}", ids[0]));
            }
        }
    }
}

/// `id|name|amount` of every row of `table` in a PostgreSQL database, in id order.
fn pg_rows(db: &str, table: &str) -> Vec<String> {
    pg().client(db)
        .query(
            &format!("SELECT concat_ws('|', id, name, coalesce(amount::text, 'NULL')) FROM {table} ORDER BY id"),
            &[],
        )
        .unwrap_or_else(|e| panic!("{db}: {table}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `stage`'s connections (application_name `stage`) to a PostgreSQL database.
fn stage_connections(db: &str) -> i64 {
    pg().client("postgres")
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'stage'",
            &[&db],
        )
        .unwrap()
        .get(0)
}

/// Helper tables (shadows, retired tables) left in the staging schema.
fn helpers(db: &str) -> Vec<String> {
    pg().client(db)
        .query(
            "SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'staging' AND relname LIKE '%\\_\\_stage\\_%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Terminates `stage`'s one connection to a PostgreSQL database.
fn terminate_stage(db: &str) {
    let n: i64 = pg()
        .client("postgres")
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'stage'",
            &[&db],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "one stage connection to {db}");
}

/// A job from `src` into a fresh PostgreSQL staging database; the job file and that database.
fn job(dir: &Path, src: &Src, settings: &str) -> (PathBuf, String) {
    let dst = pg().create_database("heal_dst");
    let s = pg();
    let ini = write(
        dir,
        "job.ini",
        &format!(
            "{}[database-destination]\nDST_DRIVER = postgres\nDST_HOST = {}\nDST_PORT = {}\nDST_USERNAME = {}\nDST_PASSWORD = {}\nDST_DB = {dst}\nDST_SCHEMA = staging\n\n[settings]\nSRC_TABLES = t1, t2, t3\nSRC_CHUNK_SIZE = 100\nOUTPUT_DIR = {}\nCLEANUP_PARQUET_FILES = false\nLOG_ROW_COUNT = false\nDIRECT_BACKOFF_BASE_SECONDS = 0.1\nDIRECT_BACKOFF_MAX_SECONDS = 0.5\n{settings}\n",
            src.section(),
            s.host,
            s.port,
            s.user,
            s.password,
            dir.join("archive").display()
        ),
    );
    (ini, dst)
}

/// Asserts that every staging table in `tables` equals the source, row for row.
fn assert_staged(src: &Src, dst: &str, tables: &[&str], case: &str) {
    for t in tables {
        let want = src.rows(t);
        let have = pg_rows(dst, &format!("staging.{t}"));
        assert_eq!(
            have.len(),
            want.len(),
            "{case}: {t}: row count (no duplicates)"
        );
        assert_eq!(have, want, "{case}: {t}: rows");
    }
}

/// Runs the job pausing after the first batch of `t2`, calls `during` (which cuts a
/// connection), resumes, and returns the exit code and output.
fn run_cut(dir: &Path, ini: &Path, step: &str, during: impl FnOnce()) -> (i32, String) {
    let resume = dir.join("resume");
    let _ = std::fs::remove_file(&resume);
    let mut run = spawn(
        dir,
        &["--config", ini.to_str().unwrap()],
        &[
            ("STAGE_FAULT_PAUSE", step),
            ("STAGE_FAULT_RESUME", resume.to_str().unwrap()),
        ],
    );
    run.wait_paused(step);
    during();
    std::fs::write(&resume, b"").unwrap();
    run.finish()
}

const RETRY_LINE: &str = "reading the table again from the start on a new connection";

/// The source's connection cut in the middle of t2: t2 is read again, every table equals
/// the source, the retry is logged once, exit 0. In DUMP the destination is not connected
/// during the dump, and the archive holds exactly the parts of the successful attempt.
fn cut_mid_table(kind: &str, mode: &str) {
    let case = format!("{kind} {mode}");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = Src::new(kind);
    let (ini, dst) = job(dir, &src, &format!("TRANSFER_MODE = {mode}"));
    let (code, out) = run_cut(dir, &ini, "read:t2", || {
        let connected = stage_connections(&dst);
        if mode == "DUMP" {
            assert_eq!(
                connected, 0,
                "{case}: DUMP does not connect the destination while dumping"
            );
        } else {
            assert_eq!(connected, 1, "{case}: DIRECT loads while it reads");
        }
        src.cut();
    });
    assert_eq!(code, 0, "{case}: {out}");
    let retries: Vec<&str> = out.lines().filter(|l| l.contains(RETRY_LINE)).collect();
    assert_eq!(retries.len(), 1, "{case}: one retry logged: {out}");
    assert!(
        retries[0].contains("WARN")
            && retries[0].contains("t2")
            && retries[0].contains("attempt 1/2"),
        "{case}: the retry line names the table and the attempt: {}",
        retries[0]
    );
    assert_staged(&src, &dst, &TABLES, &case);
    assert_eq!(
        helpers(&dst),
        Vec::<String>::new(),
        "{case}: no shadow left"
    );
    if mode == "DUMP" {
        check_archive(dir, &ini, &case);
    }
}

/// The manifest lists, for each table, parts holding exactly its rows; every part on disk
/// is listed (none of the cut attempt is left), and `stage verify` re-hashes them all.
fn check_archive(dir: &Path, ini: &Path, case: &str) {
    let archive = dir.join("archive");
    let (manifest_path, manifest) = only_manifest(&archive);
    let mut listed = Vec::new();
    for t in manifest["tables"].as_array().unwrap() {
        let name = t["source_table"].as_str().unwrap();
        assert_eq!(t["status"], "complete", "{case}: {t}");
        let parts = t["parts"].as_array().unwrap();
        let rows: u64 = parts.iter().map(|p| p["rows"].as_u64().unwrap()).sum();
        assert_eq!(rows, t["rows"].as_u64().unwrap(), "{case}: {name}");
        let want = match name {
            "t1" => T1_ROWS,
            "t2" => T2_ROWS,
            _ => T3_ROWS,
        };
        assert_eq!(rows, want as u64, "{case}: {name}: rows in the parts");
        assert_eq!(
            parts.len() as i64,
            (want + 99) / 100,
            "{case}: {name}: parts"
        );
        listed.extend(
            parts
                .iter()
                .map(|p| p["path"].as_str().unwrap().to_string()),
        );
    }
    let mut on_disk = Vec::new();
    for table in TABLES {
        for run in std::fs::read_dir(archive.join(table)).unwrap().flatten() {
            for part in std::fs::read_dir(run.path()).unwrap().flatten() {
                let rel = part
                    .path()
                    .strip_prefix(&archive)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                on_disk.push(rel);
            }
        }
    }
    listed.sort();
    on_disk.sort();
    assert_eq!(
        on_disk, listed,
        "{case}: the parts on disk are the manifest's"
    );
    let v = stage(
        dir,
        &[
            "verify",
            "--manifest",
            manifest_path.to_str().unwrap(),
            "--config",
            ini.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(v.code, 0, "{case}: stage verify: {}", v.all());
    assert!(
        v.stdout.contains("3 of 3 tables verified"),
        "{case}: {}",
        v.all()
    );
}

#[test]
fn pg_source_terminated_mid_table_is_read_again_in_direct_and_dump() {
    cut_mid_table("postgres", "DIRECT");
    cut_mid_table("postgres", "DUMP");
}

#[test]
fn mariadb_source_killed_mid_table_is_read_again_in_direct_and_dump() {
    cut_mid_table("mariadb", "DIRECT");
    cut_mid_table("mariadb", "DUMP");
}

/// With `SOURCE_MAX_RETRIES = 0` the cut fails table 2 only: its old staging table is
/// kept, the other two are staged, exit 1.
#[test]
fn without_source_retries_the_cut_table_fails_alone_and_keeps_its_old_staging() {
    for mode in ["DIRECT", "DUMP"] {
        let case = format!("postgres {mode} SOURCE_MAX_RETRIES=0");
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let src = Src::new("postgres");
        let (ini, dst) = job(
            dir,
            &src,
            &format!("TRANSFER_MODE = {mode}\nSOURCE_MAX_RETRIES = 0"),
        );
        let first = stage(dir, &["--config", ini.to_str().unwrap()], &[]);
        assert_eq!(first.code, 0, "{case}: {}", first.all());
        let old_t2 = src.rows("t2");
        src.fill(2);
        let (code, out) = run_cut(dir, &ini, "read:t2", || src.cut());
        assert_eq!(code, 1, "{case}: {out}");
        assert!(!out.contains(RETRY_LINE), "{case}: no retry: {out}");
        assert!(
            out.contains("FAILED  t2: table t2: reading"),
            "{case}: t2 fails with the read's error: {out}"
        );
        assert!(
            out.contains("2 of 3 tables staged, 1 failed"),
            "{case}: {out}"
        );
        assert_staged(&src, &dst, &["t1", "t3"], &case);
        assert_eq!(
            pg_rows(&dst, "staging.t2"),
            old_t2,
            "{case}: the old t2 is kept whole"
        );
        assert!(
            src.rows("t2")[0].starts_with("1|v2-"),
            "{case}: the source did change"
        );
    }
}

/// The source's idle connection cut between tables (while t1 is being swapped in) is
/// found broken before t2 and reopened: no table fails, even without source retries.
#[test]
fn an_idle_source_connection_cut_between_tables_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = Src::new("postgres");
    let (ini, dst) = job(dir, &src, "TRANSFER_MODE = DIRECT\nSOURCE_MAX_RETRIES = 0");
    let (code, out) = run_cut(dir, &ini, "swap", || src.cut());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("the source connection is broken; opening a new one"),
        "{out}"
    );
    assert_staged(&src, &dst, &TABLES, "idle source cut");
}

/// The destination's connection cut in the middle of t1 with `DIRECT_MAX_RETRIES = 0`:
/// t1 fails as a destination failure (the source is not read again for it), the old t1 is
/// kept, and t2 and t3 are staged over a new destination connection.
#[test]
fn a_destination_failure_is_no_source_retry_and_the_next_table_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = Src::new("postgres");
    let (ini, dst) = job(dir, &src, "TRANSFER_MODE = DIRECT\nDIRECT_MAX_RETRIES = 0");
    let first = stage(dir, &["--config", ini.to_str().unwrap()], &[]);
    assert_eq!(first.code, 0, "{}", first.all());
    let old_t1 = src.rows("t1");
    src.fill(2);
    let (code, out) = run_cut(dir, &ini, "load", || terminate_stage(&dst));
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains(RETRY_LINE), "not a source retry: {out}");
    assert!(
        out.contains("FAILED  t1: staging table staging.t1"),
        "{out}"
    );
    assert!(out.contains("2 of 3 tables staged, 1 failed"), "{out}");
    assert_eq!(pg_rows(&dst, "staging.t1"), old_t1, "the old t1 is kept");
    assert_staged(&src, &dst, &["t2", "t3"], "destination cut");
}

/// `stage dump` never connects to the destination; `stage run` in DUMP connects it only
/// after the dump, and when it cannot, keeps the archive for `stage load` and exits 3.
#[test]
fn dump_connects_the_destination_only_to_load() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let c = rusqlite::Connection::open(dir.join("src.sqlite")).unwrap();
    c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');")
        .unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ini = write(
        dir,
        "job.ini",
        &format!(
            "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = {}\n\n[database-destination]\nDST_DRIVER = postgres\nDST_HOST = 127.0.0.1\nDST_PORT = {port}\nDST_USERNAME = nobody\nDST_DB = nowhere\n\n[settings]\nSRC_TABLES = t\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = {}\n",
            dir.join("src.sqlite").display(),
            dir.join("archive").display()
        ),
    );
    let dump = stage(dir, &["dump", "--config", ini.to_str().unwrap()], &[]);
    assert_eq!(dump.code, 0, "stage dump: {}", dump.all());
    assert!(
        dump.stdout.contains("1 of 1 tables dumped"),
        "{}",
        dump.all()
    );
    std::fs::remove_dir_all(dir.join("archive")).unwrap();
    let run = stage(dir, &["--config", ini.to_str().unwrap()], &[]);
    assert_eq!(run.code, 3, "stage run: {}", run.all());
    assert!(
        run.all()
            .contains("cannot connect to the destination database"),
        "{}",
        run.all()
    );
    let (manifest_path, manifest) = only_manifest(&dir.join("archive"));
    assert_eq!(manifest["tables"][0]["status"], "complete", "{manifest}");
    assert!(
        run.all().contains(&format!(
            "stage load --manifest {}",
            manifest_path.display()
        )),
        "the kept manifest is named: {}",
        run.all()
    );
}

//! `SRC_CHUNK_BYTES`: 2,000 rows of 2 MiB values (4 GiB) staged with default settings
//! (100,000 rows and 64 MiB per batch) stay within a few batches of memory, in every
//! transfer mode (DIRECT, DUMP and, with the `connectorx` feature, CONNECTORX):
//! PostgreSQL → PostgreSQL (`bytea`, `text`) and MariaDB → MariaDB (`LONGBLOB`,
//! `LONGTEXT`). Without the bytes bound each table would be one batch, well over the bound
//! asserted. (MariaDB's `LOAD DATA` parses 2 MiB fields at ~40 MB/s of server CPU, so the
//! MariaDB test takes a few minutes.)

use std::path::Path;
use std::process::Command;

use crate::common::write;
use crate::support::{mariadb, pg};

/// Peak RSS allowed: a few 64 MiB batches (one being read, one in the channel, one being
/// loaded and its encoded copy) plus the drivers' buffers, and in CONNECTORX mode what
/// ConnectorX holds while it builds its batches; the table is 4 GiB, so without the bytes
/// bound every mode fails this. Measured in a debug build (session 8): PostgreSQL
/// 444 / 557 / 610 MiB (DIRECT / DUMP / CONNECTORX), MariaDB 304 / 407 / 747 MiB.
const PEAK_RSS_MIB: u64 = 1024;

const ROWS: u64 = 2_000;

/// Runs `stage` under `/usr/bin/time -v` (the child's own peak RSS, from `wait4`); returns
/// (exit code, output, peak RSS in MiB).
fn stage_measured(dir: &Path, args: &[&str]) -> (i32, String, u64) {
    assert!(
        Path::new("/usr/bin/time").exists(),
        "/usr/bin/time is missing: scripts/install-test-deps.sh installs it (Debian package time)"
    );
    let bin = crate::common::stage_bin();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("/usr/bin/time runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let kib: u64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in: {stderr}"));
    let all = format!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), all, kib / 1024)
}

/// Every transfer mode this build has.
const MODES: &[&str] = &[
    "DIRECT",
    "DUMP",
    #[cfg(feature = "connectorx")]
    "CONNECTORX",
];

fn run_every_mode(dir: &Path, rows: u64, ini: impl Fn(&str) -> String, check: impl Fn(&str)) {
    for &mode in MODES {
        write(dir, "a.ini", &ini(mode));
        let started = std::time::Instant::now();
        let (code, all, rss) = stage_measured(dir, &["--config", "a.ini"]);
        assert_eq!(code, 0, "{mode}: {all}");
        eprintln!(
            "{mode}: {rows} rows × 2 MiB in {:.1} s, peak RSS {rss} MiB",
            started.elapsed().as_secs_f64()
        );
        check(mode);
        assert!(
            rss < PEAK_RSS_MIB,
            "{mode}: peak RSS {rss} MiB, over {PEAK_RSS_MIB} MiB"
        );
    }
}

#[test]
fn wide_rows_postgres_stay_within_the_bytes_bound_in_every_mode() {
    let s = pg();
    let src = s.create_database("wide_src");
    let dst = s.create_database("wide_dst");
    // Even rows a 2 MiB bytea, odd rows a 2 MiB text (compressible, with lz4 TOAST: the
    // servers' disk stays small and quick; Arrow holds every byte).
    for db in [&src, &dst] {
        s.client("postgres")
            .batch_execute(&format!(
                "ALTER DATABASE {db} SET default_toast_compression = 'lz4'"
            ))
            .unwrap();
    }
    s.client(&src)
        .batch_execute(&format!(
            "CREATE TABLE wide (id int PRIMARY KEY, b bytea, t text);
             INSERT INTO wide SELECT i,
               CASE WHEN i % 2 = 0 THEN decode(repeat(md5(i::text), 65536), 'hex') || decode(repeat(md5(i::text), 65536), 'hex') END,
               CASE WHEN i % 2 = 1 THEN repeat(md5(i::text), 65536) END
             FROM generate_series(1, {ROWS}) i;"
        ))
        .unwrap();
    let sum = "SELECT count(*), sum(length(b)), sum(length(t)), \
               md5(string_agg(md5(coalesce(b, '')) || md5(coalesce(t, '')), ',' ORDER BY id)) FROM wide";
    let want: (i64, i64, i64, String) = {
        let r = s.client(&src).query_one(sum, &[]).unwrap();
        (r.get(0), r.get(1), r.get(2), r.get(3))
    };
    assert_eq!(want.1, 1000 * 2 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let conn = |side: &str, db: &str| {
        format!(
            "{side}_DRIVER = postgres\n{side}_HOST = {}\n{side}_PORT = {}\n{side}_USERNAME = {}\n{side}_PASSWORD = {}\n{side}_DB = {db}\n",
            s.host, s.port, s.user, s.password
        )
    };
    let ini = |mode: &str| {
        format!(
            "[database-source]\n{}\n[database-destination]\n{}DST_SCHEMA = public\n\n[settings]\nSRC_TABLES = wide\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = out\n",
            conn("SRC", &src),
            conn("DST", &dst)
        )
    };
    run_every_mode(dir.path(), ROWS, ini, |mode| {
        let r = s.client(&dst).query_one(sum, &[]).unwrap();
        let got: (i64, i64, i64, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
        assert_eq!(got, want, "{mode}: every value");
        // The next mode loads into an empty destination: disk for one copy, not two.
        s.client(&dst).batch_execute("DROP TABLE wide").unwrap();
    });
    for db in [&src, &dst] {
        s.client("postgres")
            .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .unwrap();
    }
}

#[test]
fn wide_rows_mariadb_stay_within_the_bytes_bound_in_every_mode() {
    let s = mariadb();
    let src = s.create_database("wide_src");
    let dst = s.create_database("wide_dst");
    s.query(
        Some(&src),
        &format!(
            "CREATE TABLE wide (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT);
             INSERT INTO wide SELECT seq,
               IF(seq % 2 = 0, UNHEX(REPEAT(MD5(seq), 131072)), NULL),
               IF(seq % 2 = 1, REPEAT(MD5(seq), 65536), NULL)
             FROM seq_1_to_{ROWS};"
        ),
    );
    let sum = "SELECT count(*), sum(length(b)), sum(length(t)), \
               MD5(GROUP_CONCAT(MD5(COALESCE(b, '')), MD5(COALESCE(t, '')) ORDER BY id SEPARATOR ',')) FROM wide";
    let want = s.query(
        Some(&src),
        &format!("SET SESSION group_concat_max_len = 1000000; {sum}"),
    );
    assert!(want.starts_with("2000\t2097152000\t2097152000\t"), "{want}");
    let dir = tempfile::tempdir().unwrap();
    let conn = |side: &str, db: &str| {
        format!(
            "{side}_DRIVER = mariadb\n{side}_HOST = {}\n{side}_PORT = {}\n{side}_USERNAME = {}\n{side}_PASSWORD = {}\n{side}_DB = {db}\n",
            s.host, s.port, s.user, s.password
        )
    };
    let ini = |mode: &str| {
        format!(
            "[database-source]\n{}\n[database-destination]\n{}\n[settings]\nSRC_TABLES = wide\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = out\n",
            conn("SRC", &src),
            conn("DST", &dst)
        )
    };
    run_every_mode(dir.path(), ROWS, ini, |mode| {
        let got = s.query(
            Some(&dst),
            &format!("SET SESSION group_concat_max_len = 1000000; {sum}"),
        );
        assert_eq!(got, want, "{mode}: every value");
        // The next mode loads into an empty destination: 4 GiB of InnoDB pages for one
        // copy of the table, not two (the old table stays until the swap).
        s.query(Some(&dst), "DROP TABLE wide");
    });
    s.query(None, &format!("DROP DATABASE {src}; DROP DATABASE {dst}"));
}

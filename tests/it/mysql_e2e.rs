//! End to end on a throwaway MariaDB: MariaDB → (Parquet) → MariaDB and → SQLite staging.

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Decimal256Type, TimeUnit, TimestampMicrosecondType, UInt64Type};

use crate::common::{only_manifest, read_parquet, sqlite_rows, stage, write};
use crate::support::mariadb;

/// `[database-source]` on the shared server's `src_db`.
fn source_section(src_db: &str) -> String {
    let s = mariadb();
    format!(
        "[database-source]\nSRC_DRIVER = mariadb\nSRC_HOST = {}\nSRC_PORT = {}\nSRC_USERNAME = {}\nSRC_PASSWORD = {}\nSRC_DB = {src_db}\n\n",
        s.host, s.port, s.user, s.password
    )
}

/// An INI for MariaDB → MariaDB (`dst_db`) with the given settings lines.
fn maria_ini(src_db: &str, dst_db: &str, settings: &str) -> String {
    let s = mariadb();
    format!(
        "{}[database-destination]\nDST_DRIVER = mysql\nDST_HOST = {}\nDST_PORT = {}\nDST_USERNAME = {}\nDST_PASSWORD = {}\nDST_DB = {dst_db}\n\n[settings]\n{settings}\n",
        source_section(src_db),
        s.host,
        s.port,
        s.user,
        s.password
    )
}

/// An INI for MariaDB → SQLite staging (`stg.sqlite`).
fn sqlite_dst_ini(src_db: &str, settings: &str) -> String {
    format!(
        "{}[database-destination]\nDST_DRIVER = sqlite\nDST_DB = stg.sqlite\n\n[settings]\n{settings}\n",
        source_section(src_db)
    )
}

const ZOO_DDL: &str = r#"
CREATE TABLE zoo (
  id INT NOT NULL PRIMARY KEY,
  flag TINYINT(1),
  i8 TINYINT, u8 TINYINT UNSIGNED,
  i16 SMALLINT, u16 SMALLINT UNSIGNED,
  i24 MEDIUMINT, u24 MEDIUMINT UNSIGNED,
  i32 INT, u32 INT UNSIGNED,
  i64 BIGINT NOT NULL, u64 BIGINT UNSIGNED,
  d10 DECIMAL(10,2), d65 DECIMAL(65,30),
  f32 FLOAT, f64 DOUBLE,
  bits BIT(12),
  d DATE, dt DATETIME(6), dt0 DATETIME, ts TIMESTAMP(6) NULL DEFAULT NULL,
  tm TIME(6), yr YEAR,
  ch CHAR(3), vc VARCHAR(100), txt TEXT, mtxt MEDIUMTEXT, ltxt LONGTEXT,
  bin BINARY(4), vb VARBINARY(10), blb BLOB,
  en ENUM('a','b c'), st SET('x','y','z'), js JSON
) DEFAULT CHARSET=utf8mb4;
SET time_zone = '+00:00';
INSERT INTO zoo VALUES
 (1, 1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  -99999999.99, CONCAT('-', REPEAT('9',35), '.', REPEAT('9',30)),
  -3.5, -1.7976931348623157e308, b'0',
  '1000-01-01', '1900-01-01 00:00:00.000001', '1969-12-31 23:59:59', '1970-01-01 00:00:01',
  '-838:59:59', 1901,
  'a', '😀 emoji', 'it''s a \\ back\nslash', '', 'x', 0x00FF0000, 0x00, 0x0001000200,
  'a', 'x,z', '{"a": [1, 2, "😀"]}'),
 (2, 0, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807,
  18446744073709551615,
  99999999.99, CONCAT(REPEAT('9',35), '.', REPEAT('9',30)),
  1.25e-10, 0.1, b'111111111111',
  '9999-12-31', '2200-12-31 23:59:59.999999', '2100-06-01 12:00:00', '2038-01-19 03:14:07.999999',
  '838:59:59', 2155,
  'abc', '', 'tab\there', 'ümlaut', REPEAT('long ', 1000), 0xFFFFFFFF, '', 0x00,
  'b c', '', '[]'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '25:00:00.5', NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL,
  0.05, 0.000000000000000000000000000001, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '-00:00:01.000001', NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"#;

/// The zoo rendered as text, one line per row; `staged` picks the expressions for the
/// staging table (bit → BIGINT UNSIGNED, datetime(0) → DATETIME(6)).
fn zoo_text(db: &str, staged: bool) -> String {
    let (bits, dt0) = if staged {
        ("bits", "dt0")
    } else {
        ("bits+0", "CAST(dt0 AS DATETIME(6))")
    };
    mariadb().query(
        Some(db),
        &format!(
            "SET time_zone = '+00:00'; SELECT id, flag, i8, u8, i16, u16, i24, u24, i32, u32, i64, u64, d10, d65, \
             f32, f64, {bits}, d, dt, {dt0}, ts, tm, yr, ch, vc, txt, mtxt, MD5(ltxt), HEX(bin), HEX(vb), HEX(blb), \
             en, st, js FROM zoo ORDER BY id"
        ),
    )
}

pub(crate) fn zoo_source() -> String {
    let db = mariadb().create_database("zoo_src");
    mariadb().query(Some(&db), ZOO_DDL);
    db
}

fn parquet_parts(out: &Path) -> Vec<PathBuf> {
    let (_, m) = only_manifest(out);
    m["tables"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| out.join(p["path"].as_str().unwrap()))
        .collect()
}

#[test]
fn type_zoo_mariadb_to_mariadb_direct_and_dump_keeps_every_value() {
    let src = zoo_source();
    let want = zoo_text(&src, false);
    assert_eq!(want.lines().count(), 4, "{want}");
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let dst = mariadb().create_database("zoo_dst");
        let settings = format!(
            "SRC_TABLES = zoo\nTRANSFER_MODE = {mode}\nSRC_CHUNK_SIZE = 3\nOUTPUT_DIR = out\nCLEANUP_PARQUET_FILES = false"
        );
        write(dir.path(), "a.ini", &maria_ini(&src, &dst, &settings));
        let r = stage(dir.path(), &["--config", "a.ini"], &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert!(!r.all().contains(&mariadb().password), "password leaked");
        let got = zoo_text(&dst, true);
        for (w, g) in want.lines().zip(got.lines()) {
            assert_eq!(g, w, "{mode}");
        }
        assert_eq!(got.lines().count(), 4);
        // Column types of the staging table.
        let types = mariadb().query(
            Some(&dst),
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'zoo' ORDER BY ORDINAL_POSITION",
        );
        for expected in [
            "u64\tbigint(20) unsigned",
            "d65\tdecimal(65,30)",
            "flag\ttinyint(1)",
            "f32\tfloat",
            "tm\ttime(6)",
            "ts\tdatetime(6)",
            "vc\tlongtext",
            "blb\tlongblob",
        ] {
            assert!(types.contains(expected), "{expected} in\n{types}");
        }
        // Running again (replace) swaps in a fresh copy and leaves no helper tables.
        let r = stage(dir.path(), &["--config", "a.ini"], &[]);
        assert_eq!(r.code, 0, "{mode} again: {}", r.all());
        let tables = mariadb().query(Some(&dst), crate::common::MARIA_STAGED_TABLES);
        assert_eq!(tables.trim(), "zoo", "{mode}");
        assert_eq!(zoo_text(&dst, true), got);
        if mode == "DUMP" {
            let out = dir.path().join("out");
            // The first run's manifest was kept too: check the newest one's parts only.
            std::fs::remove_dir_all(out.join("_manifests")).unwrap();
            let r = stage(dir.path(), &["dump", "--config", "a.ini"], &[]);
            assert_eq!(r.code, 0, "{}", r.all());
            let parts = parquet_parts(&out);
            assert_eq!(parts.len(), 2, "4 rows in chunks of 3");
            let batches: Vec<_> = parts.iter().flat_map(|p| read_parquet(p)).collect();
            let b = &batches[0];
            let schema = b.schema();
            assert_eq!(
                schema.field_with_name("d65").unwrap().data_type(),
                &DataType::Decimal256(65, 30)
            );
            assert_eq!(
                schema.field_with_name("tm").unwrap().data_type(),
                &DataType::Duration(TimeUnit::Microsecond)
            );
            let d65 = b
                .column_by_name("d65")
                .unwrap()
                .as_primitive::<Decimal256Type>();
            assert_eq!(
                d65.value(1).to_string(),
                "9".repeat(65),
                "65 digits, unscaled"
            );
            let u64s = b
                .column_by_name("u64")
                .unwrap()
                .as_primitive::<UInt64Type>();
            assert_eq!(u64s.value(1), u64::MAX);
            let ts = b.column_by_name("ts").unwrap();
            assert_eq!(
                ts.data_type(),
                &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            );
            assert_eq!(
                ts.as_primitive::<TimestampMicrosecondType>().value(1),
                2_147_483_647_999_999
            );
            let dt = b
                .column_by_name("dt")
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>();
            assert_eq!(
                dt.value(0),
                -2_208_988_799_999_999,
                "1900-01-01 00:00:00.000001"
            );
            assert!(dt.is_null(2));
            assert_eq!(
                schema.field_with_name("js").unwrap().metadata()["stage.source_type"],
                "longtext",
                "MariaDB's JSON is an alias of LONGTEXT"
            );
        }
    }
}

#[test]
fn type_zoo_mariadb_to_sqlite_dump_keeps_every_value() {
    let src = zoo_source();
    let dir = tempfile::tempdir().unwrap();
    let settings = "SRC_TABLES = zoo\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out";
    write(dir.path(), "a.ini", &sqlite_dst_ini(&src, settings));
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let rows = sqlite_rows(
        &dir.path().join("stg.sqlite"),
        "SELECT id, flag, i8, u8, i64, u64, d10, d65, f32, f64, bits, d, dt, dt0, ts, tm, yr, ch, vc, txt, bin, vb, blb, en, st, js FROM zoo ORDER BY id",
    );
    let nines = format!("{}.{}", "9".repeat(35), "9".repeat(30));
    assert_eq!(
        rows[0],
        [
            "INTEGER:1".to_string(),
            "INTEGER:1".into(),
            "INTEGER:-128".into(),
            "INTEGER:0".into(),
            "INTEGER:-9223372036854775808".into(),
            "TEXT:0".into(),
            "TEXT:-99999999.99".into(),
            format!("TEXT:-{nines}"),
            "REAL:-3.5".into(),
            "REAL:-1.7976931348623157e308".into(),
            // UInt64 stages in SQLite as exact text (past i64::MAX SQLite has no integer).
            "TEXT:0".into(),
            "TEXT:1000-01-01".into(),
            "TEXT:1900-01-01 00:00:00.000001".into(),
            "TEXT:1969-12-31 23:59:59.000000".into(),
            "TEXT:1970-01-01T00:00:01.000000Z".into(),
            // Duration stages in SQLite as ISO-8601 text (exact).
            "TEXT:-PT3020399S".into(),
            "INTEGER:1901".into(),
            "TEXT:a".into(),
            "TEXT:😀 emoji".into(),
            "TEXT:it's a \\ back\nslash".into(),
            "BLOB:00ff0000".into(),
            "BLOB:00".into(),
            "BLOB:0001000200".into(),
            "TEXT:a".into(),
            "TEXT:x,z".into(),
            "TEXT:{\"a\": [1, 2, \"😀\"]}".into(),
        ]
    );
    assert_eq!(rows[1][5], "TEXT:18446744073709551615");
    assert_eq!(rows[1][7], format!("TEXT:{nines}"));
    assert_eq!(rows[1][10], "TEXT:4095");
    assert_eq!(rows[1][12], "TEXT:2200-12-31 23:59:59.999999");
    assert_eq!(rows[1][14], "TEXT:2038-01-19T03:14:07.999999Z");
    assert_eq!(rows[1][15], "TEXT:PT3020399S");
    assert_eq!(rows[1][18], "TEXT:", "empty string stays empty");
    assert_eq!(rows[1][21], "BLOB:", "empty binary stays empty");
    assert_eq!(rows[2][18], "NULL", "NULL stays NULL");
    assert_eq!(rows[2][15], "TEXT:PT90000.5S");
    assert_eq!(rows[3][15], "TEXT:-PT1.000001S");
    assert_eq!(rows[3][7], "TEXT:0.000000000000000000000000000001");
    assert_eq!(rows[3][6], "TEXT:0.05");
}

#[test]
fn identifiers_needing_backquotes_are_quoted_everywhere() {
    let src = mariadb().create_database("odd_src");
    mariadb().query(
        Some(&src),
        "CREATE TABLE `Odd ``Tab``le` (`Select` INT, `my col` VARCHAR(10), `back``tick` INT, `UPPER` INT);
         INSERT INTO `Odd ``Tab``le` VALUES (1, 'x', 2, 3), (4, NULL, 5, 6);",
    );
    let dst = mariadb().create_database("odd_dst");
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            format!("SRC_TABLES = Odd `Tab`le\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = out");
        write(dir.path(), "a.ini", &maria_ini(&src, &dst, &settings));
        let r = stage(dir.path(), &["--config", "a.ini"], &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        let got = mariadb().query(
            Some(&dst),
            "SELECT `select`, `my col`, `back``tick`, `upper` FROM `odd ``tab``le` ORDER BY 1",
        );
        assert_eq!(got, "1\tx\t2\t3\n4\tNULL\t5\t6\n", "{mode}");
    }
}

const ZERO_DATES: &str = "SET SESSION sql_mode = '';
CREATE TABLE zd (id INT, d DATE NOT NULL, dt DATETIME NOT NULL);
INSERT INTO zd VALUES (1, '2024-01-02', '2024-01-02 03:04:05'), (2, '0000-00-00', '0000-00-00 00:00:00');";

#[test]
fn zero_dates_are_an_error_naming_the_column_unless_read_as_null() {
    let src = mariadb().create_database("zd_src");
    mariadb().query(Some(&src), ZERO_DATES);
    let dst = mariadb().create_database("zd_dst");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.ini",
        &maria_ini(&src, &dst, "SRC_TABLES = zd\nTRANSFER_MODE = DIRECT"),
    );
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("column d, row 2"), "{}", r.all());
    assert!(r.all().contains("MYSQL_ZERO_DATES"), "{}", r.all());
    assert_eq!(
        mariadb().query(Some(&dst), crate::common::MARIA_STAGED_TABLES),
        "",
        "nothing staged"
    );

    write(
        dir.path(),
        "b.ini",
        &maria_ini(
            &src,
            &dst,
            "SRC_TABLES = zd\nTRANSFER_MODE = DUMP\nMYSQL_ZERO_DATES = null\nOUTPUT_DIR = out",
        ),
    );
    let r = stage(dir.path(), &["--config", "b.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        mariadb().query(Some(&dst), "SELECT id, d, dt FROM zd ORDER BY id"),
        "1\t2024-01-02\t2024-01-02 03:04:05.000000\n2\tNULL\tNULL\n"
    );
}

#[test]
fn a_missing_table_is_reported_and_row_limit_applies() {
    let src = mariadb().create_database("lim_src");
    mariadb().query(
        Some(&src),
        "CREATE TABLE t (id INT); INSERT INTO t VALUES (1),(2),(3);",
    );
    let dst = mariadb().create_database("lim_dst");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.ini",
        &maria_ini(&src, &dst, "SRC_TABLES = t, nope\nROW_LIMIT = 2"),
    );
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("nope: not found"), "{}", r.all());
    assert_eq!(mariadb().query(Some(&dst), "SELECT count(*) FROM t"), "2\n");
}

/// Runs `stage` under `/usr/bin/time -v`; returns (exit code, output, peak RSS in KiB).
fn stage_measured(dir: &Path, args: &[&str]) -> (i32, String, u64) {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(crate::common::stage_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("/usr/bin/time runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rss = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in: {stderr}"));
    let all = format!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), all, rss)
}

#[test]
fn a_million_rows_stage_with_bounded_memory() {
    assert!(
        Path::new("/usr/bin/time").exists(),
        "/usr/bin/time is missing: scripts/install-test-deps.sh installs it (Debian package time)"
    );
    let src = mariadb().create_database("big_src");
    mariadb().query(
        Some(&src),
        "CREATE TABLE big (id BIGINT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,2), created DATETIME(6));
         INSERT INTO big SELECT seq, CONCAT('name-', seq), seq / 100, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_1000000;",
    );
    let dst = mariadb().create_database("big_dst");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.ini",
        &maria_ini(
            &src,
            &dst,
            "SRC_TABLES = big\nTRANSFER_MODE = DUMP\nSRC_CHUNK_SIZE = 50000\nOUTPUT_DIR = out",
        ),
    );
    let started = std::time::Instant::now();
    let (code, all, rss_kib) = stage_measured(dir.path(), &["--config", "a.ini"]);
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(code, 0, "{all}");
    eprintln!(
        "1,000,000 rows MariaDB → Parquet → MariaDB in {secs:.1} s ({:.0} rows/s), peak RSS {} MiB",
        1e6 / secs,
        rss_kib / 1024
    );
    assert_eq!(
        mariadb().query(
            Some(&dst),
            "SELECT count(*), sum(id), max(created) FROM big"
        ),
        "1000000\t500000500000\t2024-01-12 13:46:40.000000\n"
    );
    assert!(rss_kib < 400 * 1024, "peak RSS {rss_kib} KiB");
}

#[test]
fn truncate_and_append_load_in_one_transaction_and_plan_shows_mysql_types() {
    let src = mariadb().create_database("wm_src");
    mariadb().query(
        Some(&src),
        "CREATE TABLE t (id INT UNSIGNED NOT NULL, v DECIMAL(50,10)); INSERT INTO t VALUES (1, 1.5), (2, NULL);",
    );
    let dst = mariadb().create_database("wm_dst");
    let dir = tempfile::tempdir().unwrap();
    for (mode, want) in [
        ("append", "2"),
        ("append", "4"),
        ("truncate", "2"),
        ("replace", "2"),
    ] {
        write(
            dir.path(),
            "a.ini",
            &maria_ini(&src, &dst, &format!("SRC_TABLES = t\nWRITE_MODE = {mode}")),
        );
        let r = stage(dir.path(), &["--config", "a.ini"], &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert_eq!(
            mariadb().query(Some(&dst), "SELECT count(*) FROM t").trim(),
            want,
            "{mode}"
        );
    }
    assert_eq!(
        mariadb().query(Some(&dst), "SELECT id, v FROM t ORDER BY id"),
        "1\t1.5000000000\n2\tNULL\n"
    );
    let r = stage(dir.path(), &["plan", "--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("int(10) unsigned"), "{}", r.stdout);
    assert!(r.stdout.contains("INT UNSIGNED"), "{}", r.stdout);
    assert!(r.stdout.contains("Decimal256(50, 10)"), "{}", r.stdout);
    assert!(r.stdout.contains("DECIMAL(50,10)"), "{}", r.stdout);
}

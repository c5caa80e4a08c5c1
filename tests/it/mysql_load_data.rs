//! MariaDB staging through `LOAD DATA LOCAL INFILE`: exact escaping, values the server
//! would change, and the `INSERT` fallback when the server refuses local files.

use crate::common::{stage, write};
use crate::support::mariadb;
use crate::support::mariadb::MariaDbServer;

/// An INI for MariaDB (`server`'s `src`) → MariaDB (`server`'s `dst`).
fn ini(server: &MariaDbServer, src: &str, dst: &str, settings: &str) -> String {
    let conn = |side: &str, db: &str| {
        format!(
            "{side}_DRIVER = mariadb\n{side}_HOST = {}\n{side}_PORT = {}\n{side}_USERNAME = {}\n{side}_PASSWORD = {}\n{side}_DB = {db}\n",
            server.host, server.port, server.user, server.password
        )
    };
    format!(
        "[database-source]\n{}\n[database-destination]\n{}\n[settings]\n{settings}\n",
        conn("SRC", src),
        conn("DST", dst)
    )
}

/// Rows whose text and bytes need every escape of the `LOAD DATA` format: tab, newline,
/// carriage return, backslash, NUL, a literal `\N` and `NULL`, empty values beside NULL,
/// a trailing backslash, and all 256 byte values in a blob.
fn tricky() -> String {
    let all_bytes: String = (0..=255u8).map(|b| format!("{b:02X}")).collect();
    TRICKY.replace("ALL_BYTES", &all_bytes)
}

const TRICKY: &str = r#"
CREATE TABLE esc (id INT PRIMARY KEY, t LONGTEXT, b LONGBLOB, v VARCHAR(20), d DECIMAL(20,6),
  f FLOAT, g DOUBLE, dt DATETIME(6)) DEFAULT CHARSET=utf8mb4;
INSERT INTO esc VALUES
 (1, CONCAT('a', CHAR(9), 'b', CHAR(10), 'c', CHAR(13), 'd\\e', CHAR(0), 'f 😀'),
  X'ALL_BYTES',
  '\\N', -12345678901234.000001, 3.4e38, 2.2250738585072014e-308, '1000-01-01 00:00:00.000001'),
 (2, '', '', 'NULL', 0, -0.0, 1e-300, '9999-12-31 23:59:59.999999'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, '\\', 0x5C, ' spaced ', 0.000001, 1.17549435e-38, -1.7976931348623157e308, '1970-01-01 00:00:00'),
 (5, 'end\\', 0x0A0D0900, CHAR(9), 99999999999999.999999, 1.5, 0.1, '2038-01-19 03:14:08.5');
"#;

const TRICKY_TEXT: &str = "SELECT id, HEX(t), t IS NULL, HEX(b), b IS NULL, HEX(v), v IS NULL, d, f, g, dt FROM esc ORDER BY id";

/// `LOAD DATA` statements the server has run (all sessions).
fn loads(server: &MariaDbServer) -> u64 {
    server
        .query(None, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_LOAD'")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn load_data_keeps_every_byte_of_text_and_binary_direct_and_dump() {
    let s = mariadb();
    let src = s.create_database("esc_src");
    s.query(Some(&src), &tricky());
    let want = s.query(Some(&src), TRICKY_TEXT);
    assert_eq!(want.lines().count(), 5, "{want}");
    assert!(want.contains("0102030405060708090A0B0C0D0E0F"), "{want}");
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let dst = s.create_database("esc_dst");
        let settings = format!(
            "SRC_TABLES = esc\nTRANSFER_MODE = {mode}\nSRC_CHUNK_SIZE = 2\nOUTPUT_DIR = out"
        );
        write(dir.path(), "a.ini", &ini(s, &src, &dst, &settings));
        let before = loads(s);
        let r = stage(dir.path(), &["--config", "a.ini"], &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert!(
            loads(s) >= before + 3,
            "{mode}: 5 rows in batches of 2 went in through 3 LOAD DATA statements"
        );
        let got = s.query(Some(&dst), TRICKY_TEXT);
        assert_eq!(got.lines().count(), 5, "{mode}: {got}");
        for (g, w) in got.lines().zip(want.lines()) {
            assert_eq!(g, w, "{mode}: row by row");
        }
    }
}

/// Appending to an existing staging table whose column is narrower than the values: with
/// `LOCAL` the server only warns (and would store 127 for 300); stage fails the table,
/// naming the server's words, and the table keeps its old rows.
#[test]
fn a_value_the_server_would_change_fails_the_batch_and_keeps_the_table() {
    let s = mariadb();
    let src = s.create_database("narrow_src");
    let dst = s.create_database("narrow_dst");
    s.query(
        Some(&src),
        "CREATE TABLE narrow (id INT, v INT); INSERT INTO narrow VALUES (2, 5), (3, 300);",
    );
    s.query(
        Some(&dst),
        "CREATE TABLE narrow (id INT, v TINYINT); INSERT INTO narrow VALUES (1, 1);",
    );
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.ini",
        &ini(s, &src, &dst, "SRC_TABLES = narrow\nWRITE_MODE = append"),
    );
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("Out of range value for column 'v'") && r.all().contains("narrow"),
        "{}",
        r.all()
    );
    assert_eq!(
        s.query(Some(&dst), "SELECT id, v FROM narrow ORDER BY id"),
        "1\t1\n",
        "the old rows only"
    );
}

/// A server with `local_infile = OFF`: stage warns once and loads with `INSERT`, every
/// value the same.
#[test]
fn a_server_refusing_local_infile_is_loaded_with_insert_and_a_warning() {
    let s = MariaDbServer::start_new();
    s.query(None, "SET GLOBAL local_infile = 0");
    let src = s.create_database("esc_src");
    s.query(Some(&src), &tricky());
    let want = s.query(Some(&src), TRICKY_TEXT);
    let dst = s.create_database("esc_dst");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.ini",
        &ini(&s, &src, &dst, "SRC_TABLES = esc\nSRC_CHUNK_SIZE = 2"),
    );
    let before = loads(&s);
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.all().contains("local_infile = OFF"), "{}", r.all());
    assert_eq!(loads(&s), before, "no LOAD DATA ran");
    assert_eq!(s.query(Some(&dst), TRICKY_TEXT), want);
}

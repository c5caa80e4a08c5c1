//! `[settings] LOCK_TIMEOUT_SECONDS` and `STATEMENT_TIMEOUT_SECONDS` on the shared
//! MariaDB, with the real `stage` binary: a table behind another session's lock, or a read
//! that runs too long, fails naming the table and the key; the run's other tables are
//! staged and equal to the source.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use crate::common::{stage, Run};
use crate::support::mariadb;

/// A session of its own on the shared server, as root, in `db`.
fn session(db: &str) -> mysql::Conn {
    let s = mariadb();
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some(s.host.clone()))
        .tcp_port(s.port)
        .user(Some(s.user.clone()))
        .pass(Some(s.password.clone()))
        .db_name(Some(db))
        .prefer_socket(false);
    mysql::Conn::new(opts).expect("a session on the shared MariaDB")
}

/// Source tables `a`, `b`, `c` (3, 4 and 5 rows) in a new database.
fn source() -> String {
    let s = mariadb();
    let db = s.create_database("to_src");
    s.query(
        Some(&db),
        "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10));
         INSERT INTO a VALUES (1, 'x'), (2, NULL), (3, 'z');
         CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(10));
         INSERT INTO b VALUES (1, 'b1'), (2, 'b2'), (3, 'b3'), (4, 'b4');
         CREATE TABLE c (id INT PRIMARY KEY, v DECIMAL(5,1));
         INSERT INTO c VALUES (1, 1.5), (2, -2.5), (3, NULL), (4, 0), (5, 9999.9);",
    );
    db
}

/// MariaDB → MariaDB (`dst`) on the shared server, with `settings` on top.
fn run(src: &str, dst: &str, tables: &str, mode: &str, settings: &[(&str, &str)]) -> Run {
    let s = mariadb();
    let port = s.port.to_string();
    let mut env = vec![
        ("SRC_DRIVER", "mariadb"),
        ("SRC_HOST", s.host.as_str()),
        ("SRC_PORT", port.as_str()),
        ("SRC_USERNAME", s.user.as_str()),
        ("SRC_PASSWORD", s.password.as_str()),
        ("SRC_DB", src),
        ("DST_DRIVER", "mariadb"),
        ("DST_HOST", s.host.as_str()),
        ("DST_PORT", port.as_str()),
        ("DST_USERNAME", s.user.as_str()),
        ("DST_PASSWORD", s.password.as_str()),
        ("DST_DB", dst),
        ("SRC_TABLES", tables),
        ("TRANSFER_MODE", mode),
        ("OUTPUT_DIR", "out"),
    ];
    env.extend_from_slice(settings);
    let dir = tempfile::tempdir().unwrap();
    stage(dir.path(), &[], &env)
}

/// `table` in `dst` equals the source's: EXCEPT both ways, and the row count.
fn assert_equal(src: &str, dst: &str, table: &str, rows: usize) {
    let s = mariadb();
    for (x, y) in [(src, dst), (dst, src)] {
        let diff = s.query(
            None,
            &format!("SELECT * FROM {x}.{table} EXCEPT SELECT * FROM {y}.{table}"),
        );
        assert_eq!(diff, "", "rows of {x}.{table} missing from {y}.{table}");
    }
    assert_eq!(
        s.query(None, &format!("SELECT count(*) FROM {dst}.{table}")),
        format!("{rows}\n")
    );
}

#[test]
fn a_source_table_behind_a_write_lock_fails_after_the_lock_timeout_naming_table_and_key() {
    let src = source();
    let mut holder = session(&src);
    holder.query_drop("LOCK TABLES b WRITE").unwrap();
    for mode in ["DIRECT", "DUMP"] {
        let dst = mariadb().create_database("to_dst");
        let started = Instant::now();
        let r = run(&src, &dst, "a,b,c", mode, &[("LOCK_TIMEOUT_SECONDS", "1")]);
        let took = started.elapsed();
        assert_eq!(r.code, 1, "{mode}: {}", r.all());
        assert!(
            r.all().contains("table b: ")
                && r.all().contains(
                    "(timed out: raise [settings] LOCK_TIMEOUT_SECONDS): MySqlError { ERROR 1205"
                ),
            "{mode}: {}",
            r.all()
        );
        assert!(took < Duration::from_secs(20), "{mode}: took {took:?}");
        assert_equal(&src, &dst, "a", 3);
        assert_equal(&src, &dst, "c", 5);
        assert_eq!(
            mariadb().query(Some(&dst), crate::common::MARIA_STAGED_TABLES),
            "a\nc\n",
            "{mode}: b is not staged"
        );
    }
    holder.query_drop("UNLOCK TABLES").unwrap();
}

#[test]
fn a_staging_table_held_by_a_reader_fails_the_swap_after_the_lock_timeout() {
    let src = source();
    let dst = mariadb().create_database("to_dst");
    let r = run(&src, &dst, "a,b", "DIRECT", &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    mariadb().query(
        Some(&src),
        "INSERT INTO a VALUES (4, 'new'); INSERT INTO b VALUES (5, 'b5');",
    );
    // A reader of the staging table `a` keeps the swap (RENAME TABLE) waiting.
    let mut reader = session(&dst);
    reader.query_drop("LOCK TABLES a READ").unwrap();
    let started = Instant::now();
    let r = run(
        &src,
        &dst,
        "a,b",
        "DIRECT",
        &[("LOCK_TIMEOUT_SECONDS", "1")],
    );
    let took = started.elapsed();
    reader.query_drop("UNLOCK TABLES").unwrap();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("staging table a: swapping in the new table (timed out: raise [settings] LOCK_TIMEOUT_SECONDS): MySqlError { ERROR 1205"),
        "{}",
        r.all()
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    // a keeps the old rows, b has the new ones; no helper table is left.
    assert_eq!(mariadb().query(Some(&dst), "SELECT count(*) FROM a"), "3\n");
    assert_equal(&src, &dst, "b", 5);
    assert_eq!(
        mariadb().query(Some(&dst), crate::common::MARIA_STAGED_TABLES),
        "a\nb\n"
    );
}

#[test]
fn a_read_longer_than_the_statement_timeout_fails_naming_table_and_key() {
    let src = source();
    // Every row of `slow` takes a second to produce: 10 rows, 10 seconds (without the
    // limit the run would succeed, slowly).
    mariadb().query(
        Some(&src),
        "CREATE TABLE ten (id INT PRIMARY KEY);
         INSERT INTO ten VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10);
         CREATE VIEW slow AS SELECT id, SLEEP(1) AS s FROM ten;",
    );
    for mode in ["DIRECT", "DUMP"] {
        let dst = mariadb().create_database("to_dst");
        let started = Instant::now();
        let r = run(
            &src,
            &dst,
            "a,slow,c",
            mode,
            &[("STATEMENT_TIMEOUT_SECONDS", "1")],
        );
        let took = started.elapsed();
        assert_eq!(r.code, 1, "{mode}: {}", r.all());
        assert!(
            r.all().contains("table slow: ")
                && r.all().contains(
                    "(timed out: raise [settings] STATEMENT_TIMEOUT_SECONDS): MySqlError { ERROR 1969"
                ),
            "{mode}: {}",
            r.all()
        );
        assert!(took < Duration::from_secs(7), "{mode}: took {took:?}");
        assert_equal(&src, &dst, "a", 3);
        assert_equal(&src, &dst, "c", 5);
        assert_eq!(
            mariadb().query(Some(&dst), crate::common::MARIA_STAGED_TABLES),
            "a\nc\n",
            "{mode}"
        );
    }
}

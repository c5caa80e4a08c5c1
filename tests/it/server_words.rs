//! A database's refusal reaches the user in the server's own words: its message and its
//! SQLSTATE or error number, in the one-line error, on PostgreSQL, MariaDB and SQLite.

use crate::common::{sqlite_ini, stage, write};
use crate::support::{mariadb, pg};

#[test]
fn postgres_permission_error_keeps_message_and_sqlstate() {
    let s = pg();
    let src = s.create_database("words_src");
    let dst = s.create_database("words_dst");
    let role = crate::support::unique_name("nobody");
    pg().client(&src)
        .batch_execute(&format!(
            "CREATE TABLE secret (id int); INSERT INTO secret VALUES (1);
             CREATE ROLE {role} LOGIN PASSWORD 'pw';"
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = s.port.to_string();
    let run = stage(
        dir.path(),
        &[],
        &[
            ("SRC_DRIVER", "postgres"),
            ("SRC_HOST", &s.host),
            ("SRC_PORT", &port),
            ("SRC_USERNAME", &role),
            ("SRC_PASSWORD", "pw"),
            ("SRC_DB", &src),
            ("SRC_TABLES", "secret"),
            ("DST_DRIVER", "postgres"),
            ("DST_HOST", &s.host),
            ("DST_PORT", &port),
            ("DST_USERNAME", &s.user),
            ("DST_PASSWORD", &s.password),
            ("DST_DB", &dst),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("FAILED"))
        .unwrap_or_else(|| panic!("{}", run.all()));
    assert!(
        line.contains("permission denied for table secret") && line.contains("SQLSTATE 42501"),
        "{line}"
    );
    assert!(!line.contains("db error"), "{line}");
}

#[test]
fn mariadb_access_error_keeps_message_and_number() {
    let m = mariadb();
    let db = m.create_database("words");
    let user = crate::support::unique_name("nobody");
    m.query(
        Some(&db),
        &format!("CREATE TABLE secret (id INT); CREATE USER '{user}'@'%' IDENTIFIED BY 'pw';"),
    );
    let dir = tempfile::tempdir().unwrap();
    let ini = format!(
        "[database-source]\nSRC_DRIVER = mariadb\nSRC_HOST = {}\nSRC_PORT = {}\nSRC_USERNAME = {user}\nSRC_PASSWORD = pw\nSRC_DB = {db}\n\n[database-destination]\nDST_DRIVER = sqlite\nDST_DB = stg.sqlite\n\n[settings]\nSRC_TABLES = secret\n",
        m.host, m.port
    );
    let config = write(dir.path(), "job.ini", &ini);
    let run = stage(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("Access denied for user") && run.stderr.contains("1044"),
        "{}",
        run.stderr
    );
}

#[test]
fn sqlite_error_keeps_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    rusqlite::Connection::open(&src)
        .unwrap()
        .execute_batch("CREATE TABLE gone (id INTEGER); CREATE VIEW v AS SELECT id FROM gone; DROP TABLE gone;")
        .unwrap();
    let config = write(
        dir.path(),
        "job.ini",
        &sqlite_ini(src.to_str().unwrap(), "stg.sqlite", "SRC_TABLES = v"),
    );
    let run = stage(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("no such table: main.gone"),
        "{}",
        run.all()
    );
}

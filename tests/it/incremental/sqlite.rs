//! SQLite → SQLite: merge and incremental runs, the staging table compared with the
//! source row by row after each run.

use std::path::Path;

use rusqlite::Connection;

use crate::common::{sqlite_ini, sqlite_rows, stage, write};

fn exec(db: &Path, sql: &str) {
    Connection::open(db)
        .unwrap()
        .execute_batch(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows of `sql` in the source and the staging database are the same, in both
/// directions (each side's rows, sorted, compared whole).
fn same(src: &Path, stg: &Path, sql: &str) {
    let mut a = sqlite_rows(src, sql);
    let mut b = sqlite_rows(stg, sql);
    a.sort();
    b.sort();
    assert_eq!(a, b, "source and staging differ for {sql}");
}

#[test]
fn merge_inserts_new_keys_updates_old_ones_and_keeps_the_last_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    let stg = dir.path().join("stg.sqlite");
    exec(
        &src,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, v INTEGER);
         INSERT INTO items VALUES (1,'a',1),(2,'b',1),(3,'c',1);",
    );
    write(
        dir.path(),
        "m.ini",
        &sqlite_ini(
            &src.to_string_lossy(),
            "stg.sqlite",
            "SRC_TABLES = items\nWRITE_MODE = merge",
        ),
    );
    let r = stage(dir.path(), &["--config", "m.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    same(&src, &stg, "SELECT id, name, v FROM items");
    // The staging table got the key as its primary key.
    assert_eq!(
        sqlite_rows(
            &stg,
            "SELECT name FROM pragma_table_info('items') WHERE pk > 0"
        ),
        [["TEXT:id"]]
    );
    exec(
        &src,
        "UPDATE items SET name = 'B', v = 2 WHERE id = 2; INSERT INTO items VALUES (4,'d',1);",
    );
    // A row deleted from the source stays in staging (a merge sees no deletes).
    exec(&src, "DELETE FROM items WHERE id = 1");
    let r = stage(dir.path(), &["--config", "m.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        sqlite_rows(&stg, "SELECT id, name, v FROM items ORDER BY id"),
        [
            ["INTEGER:1", "TEXT:a", "INTEGER:1"],
            ["INTEGER:2", "TEXT:B", "INTEGER:2"],
            ["INTEGER:3", "TEXT:c", "INTEGER:1"],
            ["INTEGER:4", "TEXT:d", "INTEGER:1"],
        ]
    );
    // A key twice in one load (a source without that key, PRIMARY_KEY given): the last
    // by the cursor wins, and the count removed is logged.
    exec(
        &src,
        "CREATE TABLE events (k INTEGER, name TEXT, seq INTEGER);
         INSERT INTO events VALUES (1,'old',1),(1,'new',2),(2,'x',5),(1,'mid',1);",
    );
    write(
        dir.path(),
        "e.ini",
        &format!(
            "{}\n[table:events]\nPRIMARY_KEY = k\nINCREMENTAL_COLUMN = seq\n",
            sqlite_ini(
                &src.to_string_lossy(),
                "stg.sqlite",
                "SRC_TABLES = events\nWRITE_MODE = merge",
            )
        ),
    );
    let r = stage(dir.path(), &["--config", "e.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.all().contains("removed=2"), "{}", r.all());
    assert_eq!(
        sqlite_rows(&stg, "SELECT k, name, seq FROM events ORDER BY k"),
        [
            ["INTEGER:1", "TEXT:new", "INTEGER:2"],
            ["INTEGER:2", "TEXT:x", "INTEGER:5"],
        ]
    );
}

#[test]
fn merge_without_any_key_is_a_configuration_error_and_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    let stg = dir.path().join("stg.sqlite");
    exec(
        &src,
        "CREATE TABLE nokey (a INTEGER, b TEXT); INSERT INTO nokey VALUES (1,'x');",
    );
    write(
        dir.path(),
        "m.ini",
        &sqlite_ini(
            &src.to_string_lossy(),
            "stg.sqlite",
            "SRC_TABLES = nokey\nWRITE_MODE = merge",
        ),
    );
    let r = stage(dir.path(), &["--config", "m.ini"], &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.all()
            .contains("[table:nokey] WRITE_MODE = merge needs a key"),
        "{}",
        r.all()
    );
    let tables = if stg.exists() {
        sqlite_rows(&stg, "SELECT name FROM sqlite_master WHERE name = 'nokey'")
    } else {
        vec![]
    };
    assert!(tables.is_empty(), "{tables:?}");
}

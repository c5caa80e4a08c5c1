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

fn inc_ini(dir: &Path, src: &Path, extra: &str) {
    write(
        dir,
        "i.ini",
        &format!(
            "{}\n[table:items]\nSYNC_MODE = incremental\nINCREMENTAL_COLUMN = updated_at\nINCREMENTAL_SETTLE_SECONDS = 0\n{extra}",
            sqlite_ini(
                &src.to_string_lossy(),
                "stg.sqlite",
                "SRC_TABLES = items\nWRITE_MODE = merge",
            )
        ),
    );
}

fn watermark(stg: &Path) -> Vec<Vec<String>> {
    sqlite_rows(
        stg,
        "SELECT watermark, cursor_type, cursor_columns, sync_mode FROM sync_metadata WHERE table_name = 'items'",
    )
}

/// Runs `stage` and returns how many rows it reports for `items`.
fn run_rows(dir: &Path, args: &[&str]) -> u64 {
    let r = stage(dir, args, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("ok      items: "))
        .unwrap_or_else(|| panic!("{}", r.all()));
    line["ok      items: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

const ALL: &str = "SELECT id, name, updated_at FROM items";

#[test]
fn five_incremental_runs_end_equal_to_the_source_and_read_only_their_window() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    let stg = dir.path().join("stg.sqlite");
    exec(
        &src,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at TIMESTAMP);
         INSERT INTO items VALUES (1,'a','2024-01-01 10:00:00.000001'),
                                  (2,'b','2024-01-01 10:00:00.000002'),
                                  (3,'c','2024-01-01 10:00:00.000002');",
    );
    inc_ini(dir.path(), &src, "");
    let args = ["--config", "i.ini"];
    // 1: everything up to the newest value; two rows share the edge value.
    assert_eq!(run_rows(dir.path(), &args), 3);
    same(&src, &stg, ALL);
    assert_eq!(
        watermark(&stg),
        [[
            "TEXT:2024-01-01 10:00:00.000002",
            "TEXT:timestamp",
            "TEXT:updated_at",
            "TEXT:incremental"
        ]]
    );
    // 2: nothing new: nothing read, the watermark stays (never emptied).
    assert_eq!(run_rows(dir.path(), &args), 0);
    assert_eq!(watermark(&stg)[0][0], "TEXT:2024-01-01 10:00:00.000002");
    same(&src, &stg, ALL);
    // 3: one microsecond later than the watermark is in the next window; the edge rows
    // are not read again.
    exec(
        &src,
        "INSERT INTO items VALUES (4,'d','2024-01-01 10:00:00.000003');
         UPDATE items SET name = 'A', updated_at = '2024-01-02 00:00:00.000000' WHERE id = 1;",
    );
    assert_eq!(run_rows(dir.path(), &args), 2);
    same(&src, &stg, ALL);
    // 4: an update and an insert with the same new value.
    exec(
        &src,
        "UPDATE items SET name = 'B', updated_at = '2024-01-03 00:00:00.000000' WHERE id = 2;
         INSERT INTO items VALUES (5,'e','2024-01-03 00:00:00.000000');",
    );
    assert_eq!(run_rows(dir.path(), &args), 2);
    same(&src, &stg, ALL);
    // 5: a row younger than the settle time waits for a later run.
    exec(
        &src,
        "INSERT INTO items VALUES (6,'f',strftime('%Y-%m-%d %H:%M:%f','now') || '000');",
    );
    inc_ini(dir.path(), &src, "INCREMENTAL_SETTLE_SECONDS = 3600\n");
    assert_eq!(run_rows(dir.path(), &args), 0);
    assert_eq!(
        sqlite_rows(&stg, "SELECT count(*) FROM items WHERE id = 6"),
        [["INTEGER:0"]]
    );
    inc_ini(dir.path(), &src, "");
    assert_eq!(run_rows(dir.path(), &args), 1);
    same(&src, &stg, ALL);
    // The run log kept one row per run.
    assert_eq!(
        sqlite_rows(
            &stg,
            "SELECT count(*) FROM etl_logs WHERE table_name = 'items' AND status = 'ok'"
        ),
        [["INTEGER:6"]]
    );
}

#[test]
fn null_cursors_fail_by_default_and_are_read_with_include() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    let stg = dir.path().join("stg.sqlite");
    exec(
        &src,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at TIMESTAMP);
         INSERT INTO items VALUES (1,'a','2024-01-01 10:00:00.000000'),(2,'b',NULL),(3,'c',NULL);",
    );
    inc_ini(dir.path(), &src, "");
    let r = stage(dir.path(), &["--config", "i.ini"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("2 rows have a NULL updated_at")
            && r.all().contains("INCREMENTAL_NULLS = include"),
        "{}",
        r.all()
    );
    inc_ini(dir.path(), &src, "INCREMENTAL_NULLS = include\n");
    assert_eq!(run_rows(dir.path(), &["--config", "i.ini"]), 3);
    same(&src, &stg, ALL);
    inc_ini(dir.path(), &src, "INCREMENTAL_NULLS = exclude\n");
    exec(&src, "INSERT INTO items VALUES (4,'d',NULL)");
    assert_eq!(run_rows(dir.path(), &["--config", "i.ini"]), 0);
}

#[test]
fn state_show_reset_and_full_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    let stg = dir.path().join("stg.sqlite");
    exec(
        &src,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at INTEGER);
         INSERT INTO items VALUES (1,'a',10),(2,'b',20);",
    );
    inc_ini(dir.path(), &src, "");
    let args = ["--config", "i.ini"];
    assert_eq!(run_rows(dir.path(), &args), 2);
    let r = stage(dir.path(), &["state", "show", "--config", "i.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("items  incremental  updated_at  integer  20"),
        "{}",
        r.stdout
    );
    // A deleted row reaches staging only through a full refresh.
    exec(&src, "DELETE FROM items WHERE id = 1");
    assert_eq!(run_rows(dir.path(), &args), 0);
    assert_eq!(
        sqlite_rows(&stg, "SELECT count(*) FROM items"),
        [["INTEGER:2"]]
    );
    assert_eq!(
        run_rows(dir.path(), &["run", "--full-refresh", "--config", "i.ini"]),
        1
    );
    same(&src, &stg, ALL);
    assert_eq!(
        sqlite_rows(
            &stg,
            "SELECT watermark, last_full_refresh_at IS NOT NULL FROM sync_metadata"
        ),
        [["TEXT:20", "INTEGER:1"]]
    );
    // The full refresh kept the merge key as the table's primary key.
    assert_eq!(
        sqlite_rows(
            &stg,
            "SELECT name FROM pragma_table_info('items') WHERE pk > 0"
        ),
        [["TEXT:id"]]
    );
    let r = stage(
        dir.path(),
        &["state", "reset", "--table", "items", "--config", "i.ini"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("reset items: watermark 20 cleared"),
        "{}",
        r.stdout
    );
    assert_eq!(watermark(&stg)[0][0], "NULL");
    assert_eq!(
        sqlite_rows(
            &stg,
            "SELECT count(*) FROM etl_logs WHERE status = 'state_reset'"
        ),
        [["INTEGER:1"]]
    );
    // From the start again: every row is read.
    assert_eq!(run_rows(dir.path(), &args), 1);
    assert_eq!(watermark(&stg)[0][0], "TEXT:20");
}

#[test]
fn dump_mode_records_the_window_in_the_manifest_and_its_load_commits_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    let stg = dir.path().join("stg.sqlite");
    exec(
        &src,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at INTEGER);
         INSERT INTO items VALUES (1,'a',10),(2,'b',20);",
    );
    let ini = |extra: &str| {
        write(
            dir.path(),
            "d.ini",
            &format!(
                "{}\n[table:items]\nSYNC_MODE = incremental\nINCREMENTAL_COLUMN = updated_at\n",
                sqlite_ini(
                    &src.to_string_lossy(),
                    "stg.sqlite",
                    &format!("SRC_TABLES = items\nWRITE_MODE = merge\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out\n{extra}"),
                )
            ),
        )
    };
    ini("");
    let args = ["--config", "d.ini"];
    assert_eq!(run_rows(dir.path(), &args), 2);
    exec(&src, "UPDATE items SET name = 'B', updated_at = 30 WHERE id = 2; INSERT INTO items VALUES (3,'c',30);");
    assert_eq!(run_rows(dir.path(), &args), 2);
    same(&src, &stg, ALL);
    assert_eq!(watermark(&stg)[0][0], "TEXT:30");
    // `stage dump`: the window goes into the manifest; nothing is loaded.
    exec(&src, "INSERT INTO items VALUES (4,'d',40);");
    ini("CLEANUP_PARQUET_FILES = false\n");
    let r = stage(dir.path(), &["dump", "--config", "d.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(watermark(&stg)[0][0], "TEXT:30");
    let manifests: Vec<_> = std::fs::read_dir(dir.path().join("out/_manifests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifests[0]).unwrap()).unwrap();
    let sync = &m["tables"][0]["sync"];
    assert_eq!(sync["window_from"], "30");
    assert_eq!(sync["window_to"], "40");
    assert_eq!(sync["merge_key"], serde_json::json!(["id"]));
    let manifest = manifests[0].to_string_lossy().into_owned();
    let r = stage(
        dir.path(),
        &["load", "--manifest", &manifest, "--config", "d.ini"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    same(&src, &stg, ALL);
    assert_eq!(watermark(&stg)[0][0], "TEXT:40");
    // Loading the same window again would not follow the stored watermark: refused.
    let r = stage(
        dir.path(),
        &["load", "--manifest", &manifest, "--config", "d.ini"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("the stored watermark is 40"),
        "{}",
        r.all()
    );
}

#[test]
fn plan_shows_key_cursor_nulls_watermark_and_the_next_window() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    exec(
        &src,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at INTEGER);
         INSERT INTO items VALUES (1,'a',10),(2,'b',20);",
    );
    inc_ini(dir.path(), &src, "INCREMENTAL_NULLS = exclude\n");
    assert_eq!(run_rows(dir.path(), &["--config", "i.ini"]), 2);
    exec(
        &src,
        "INSERT INTO items VALUES (3,'c',30),(4,'d',NULL),(5,'e',25);",
    );
    let r = stage(dir.path(), &["plan", "--config", "i.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    for line in [
        "merge key: id (the source's primary key)",
        "incremental on updated_at (INTEGER, stored as integer)",
        "rows with a NULL cursor: 1 (never read: INCREMENTAL_NULLS = exclude)",
        "watermark: 20",
        "next window: (20, 30] holding 2 rows",
    ] {
        assert!(r.stdout.contains(line), "{line}\n{}", r.stdout);
    }
}

#[test]
fn append_adds_a_new_source_column_and_keeps_a_dropped_one() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    let stg = dir.path().join("stg.sqlite");
    exec(
        &src,
        "CREATE TABLE log (id INTEGER, a TEXT, gone TEXT); INSERT INTO log VALUES (1,'x','g');",
    );
    let ini = |extra: &str| {
        write(
            dir.path(),
            "a.ini",
            &sqlite_ini(
                &src.to_string_lossy(),
                "stg.sqlite",
                &format!("SRC_TABLES = log\nWRITE_MODE = append\n{extra}"),
            ),
        )
    };
    ini("");
    assert_eq!(stage(dir.path(), &["--config", "a.ini"], &[]).code, 0);
    exec(&src, "DELETE FROM log; ALTER TABLE log ADD COLUMN b INTEGER; ALTER TABLE log DROP COLUMN gone; INSERT INTO log VALUES (2,'y',7);");
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        sqlite_rows(&stg, "SELECT id, a, gone, b FROM log ORDER BY id"),
        [
            ["INTEGER:1", "TEXT:x", "TEXT:g", "NULL"],
            ["INTEGER:2", "TEXT:y", "NULL", "INTEGER:7"],
        ]
    );
    // freeze keeps the old rule: the columns must match.
    ini("SCHEMA_CHANGE = freeze\n");
    exec(&src, "ALTER TABLE log ADD COLUMN c INTEGER;");
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("the table is kept as it is"),
        "{}",
        r.all()
    );
}

#[test]
fn full_refresh_every_reloads_when_its_period_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    let stg = dir.path().join("stg.sqlite");
    exec(
        &src,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at INTEGER);
         INSERT INTO items VALUES (1,'a',10),(2,'b',20),(3,'c',30);",
    );
    inc_ini(dir.path(), &src, "FULL_REFRESH_EVERY = 7d\n");
    let args = ["--config", "i.ini"];
    assert_eq!(run_rows(dir.path(), &args), 3);
    exec(&src, "DELETE FROM items WHERE id = 1");
    // A watermark but no full refresh yet: due now; the delete reaches staging.
    assert_eq!(run_rows(dir.path(), &args), 2);
    same(&src, &stg, ALL);
    // Refreshed a moment ago: not due for 7 days; a delete stays behind until then.
    exec(&src, "DELETE FROM items WHERE id = 2");
    assert_eq!(run_rows(dir.path(), &args), 0);
    assert_eq!(
        sqlite_rows(&stg, "SELECT count(*) FROM items"),
        [["INTEGER:2"]]
    );
    inc_ini(dir.path(), &src, "FULL_REFRESH_EVERY = 1s\n");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(run_rows(dir.path(), &args), 1);
    same(&src, &stg, ALL);
}

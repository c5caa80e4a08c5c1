//! `[table:NAME]` sections through the real binary, SQLite → SQLite: each override takes
//! effect for its table only, and an invalid section stops the run before anything is read.

use std::path::Path;

use crate::common::{sqlite_ini, sqlite_rows, stage, write};

fn source(dir: &Path) -> String {
    let db = dir.join("src.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE a (id INTEGER NOT NULL, name TEXT, secret TEXT);
         INSERT INTO a VALUES (1, 'one', 'x'), (2, 'two', 'y'), (3, 'three', 'z');
         CREATE TABLE b (id INTEGER NOT NULL, v TEXT);
         INSERT INTO b VALUES (1, 'p'), (2, 'q');
         CREATE TABLE c (id INTEGER NOT NULL);
         INSERT INTO c VALUES (7);",
    )
    .unwrap();
    db.display().to_string()
}

#[test]
fn each_section_changes_its_own_table_only() {
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let src = source(dir);
        let dst = dir.join("dst.sqlite");
        let ini = sqlite_ini(
            &src,
            &dst.display().to_string(),
            &format!(
                "SRC_TABLES = a, b, c\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = {}\n\n[table:A]\nCOLUMNS = name, id\nSTAGING_NAME = people\n\n[table:b]\nWRITE_MODE = append\nROW_LIMIT = 1\nSRC_CHUNK_SIZE = 1\n\n[table:c]\nENABLED = false\n",
                dir.join("out").display()
            ),
        );
        let cfg = write(dir, "stage.ini", &ini);
        let cfg = cfg.to_str().unwrap();
        for run in 1..=2 {
            let r = stage(dir, &["--config", cfg], &[]);
            assert_eq!(r.code, 0, "{mode} run {run}: {}", r.all());
            assert!(
                r.stderr.contains("skipped: [table:c] ENABLED = false")
                    || r.stdout.contains("skipped: [table:c] ENABLED = false"),
                "{}",
                r.all()
            );
        }
        let db = dst.as_path();
        // COLUMNS projects and orders; STAGING_NAME renames; replace stays at 3 rows.
        assert_eq!(
            sqlite_rows(db, "SELECT * FROM people ORDER BY id"),
            vec![
                vec!["TEXT:one".to_string(), "INTEGER:1".into()],
                vec!["TEXT:two".into(), "INTEGER:2".into()],
                vec!["TEXT:three".into(), "INTEGER:3".into()],
            ],
            "{mode}"
        );
        assert_eq!(
            sqlite_rows(
                db,
                "SELECT name FROM pragma_table_info('people') ORDER BY cid"
            ),
            vec![vec!["TEXT:name".to_string()], vec!["TEXT:id".into()]]
        );
        // append + ROW_LIMIT=1 twice: two copies of one row.
        assert_eq!(
            sqlite_rows(db, "SELECT id, v FROM b ORDER BY id"),
            vec![
                vec!["INTEGER:1".to_string(), "TEXT:p".into()],
                vec!["INTEGER:1".into(), "TEXT:p".into()],
            ],
            "{mode}"
        );
        // ENABLED=false: never staged; no table `a` under its own name either.
        assert!(sqlite_rows(
            db,
            "SELECT name FROM sqlite_master WHERE name IN ('a', 'c')"
        )
        .is_empty());
    }
}

#[test]
fn an_invalid_section_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = source(dir);
    let dst = dir.join("dst.sqlite");
    for (section, expected) in [
        (
            "[table:d]\nWRITE_MODE = append\n",
            "[table:d] is a section for a table that is not in [settings] SRC_TABLES",
        ),
        (
            "[table:a]\nWRITE_MOD = append\n",
            "[table:a] WRITE_MOD is not a key of a table section (did you mean WRITE_MODE?)",
        ),
        (
            "[table:a]\nDST_HOST = elsewhere\n",
            "[table:a] DST_HOST is a connection key: set it in [database-destination]",
        ),
        (
            "[table:a]\nCOLUMNS = id, nope\n",
            "table a, column nope: is not a column of the source table ([table:a] COLUMNS)",
        ),
    ] {
        let ini = sqlite_ini(&src, &dst.display().to_string(), "SRC_TABLES = a, b\n") + section;
        let cfg = write(dir, "stage.ini", &ini);
        let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
        assert!(r.all().contains(expected), "{section}: {}", r.all());
        let code = if expected.starts_with("table a, column") {
            1
        } else {
            2
        };
        assert_eq!(r.code, code, "{section}: {}", r.all());
    }
}

#[test]
fn where_reads_only_the_rows_it_keeps_and_is_logged_verbatim() {
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let src = source(dir);
        let dst = dir.join("dst.sqlite");
        let ini = sqlite_ini(
            &src,
            &dst.display().to_string(),
            &format!(
                "SRC_TABLES = a, b\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = {}\nROW_LIMIT = 5\n\n[table:a]\nWHERE = name <> 'two' AND id < 10\n",
                dir.join("out").display()
            ),
        );
        let cfg = write(dir, "stage.ini", &ini);
        let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert!(
            r.all()
                .contains("reading only the rows of [table:a] WHERE name <> 'two' AND id < 10"),
            "{}",
            r.all()
        );
        assert_eq!(
            sqlite_rows(&dst, "SELECT id, name FROM a ORDER BY id"),
            vec![
                vec!["INTEGER:1".to_string(), "TEXT:one".into()],
                vec!["INTEGER:3".into(), "TEXT:three".into()],
            ],
            "{mode}"
        );
        assert_eq!(
            sqlite_rows(&dst, "SELECT count(*) FROM b"),
            vec![vec!["INTEGER:2".to_string()]]
        );
    }
}

#[test]
fn plan_shows_each_tables_section_and_staging_name() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = source(dir);
    let dst = dir.join("dst.sqlite");
    let ini = sqlite_ini(&src, &dst.display().to_string(), "SRC_TABLES = a, c\n")
        + "[table:a]\nSTAGING_NAME = people\nWRITE_MODE = append\n[table:c]\nENABLED = no\n";
    let cfg = write(dir, "stage.ini", &ini);
    let r = stage(dir, &["plan", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("table a → people"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("  [table:a]: STAGING_NAME=people, WRITE_MODE=append"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("  skipped by the run: ENABLED = false"),
        "{}",
        r.stdout
    );
}

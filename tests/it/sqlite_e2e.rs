//! End to end on the embedded default: SQLite source → (Parquet) → SQLite staging.

use std::path::Path;

use rusqlite::Connection;

use crate::common::{only_manifest, read_parquet, sqlite_ini, sqlite_rows, stage, write};

mod values;

fn source(dir: &Path, sql: &str) -> String {
    let path = dir.join("src.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    path.to_string_lossy().into_owned()
}

/// `src.sqlite` made by `sql`, and `a.ini` staging it into `stg.sqlite` with `settings`.
fn job(dir: &Path, sql: &str, settings: &str) {
    let src = source(dir, sql);
    write(dir, "a.ini", &sqlite_ini(&src, "stg.sqlite", settings));
}

const SEVEN: &str = "CREATE TABLE seven (id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO seven (name) VALUES ('a'),('b'),('c'),('d'),('e'),('f'),('g');";

#[test]
fn seven_rows_in_chunks_of_three_make_three_parts_listed_exactly_in_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), SEVEN, "SRC_TABLES = seven\nSRC_CHUNK_SIZE = 3\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out\nCLEANUP_PARQUET_FILES = false");
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (_, m) = only_manifest(&dir.path().join("out"));
    let t = &m["tables"][0];
    assert_eq!(t["staging_table"], "seven");
    assert_eq!(t["rows"], 7);
    let parts = t["parts"].as_array().unwrap();
    let rows: Vec<u64> = parts.iter().map(|p| p["rows"].as_u64().unwrap()).collect();
    assert_eq!(rows, [3, 3, 1]);
    let run_id = m["run_id"].as_str().unwrap();
    let names: Vec<String> = parts
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        (0..3)
            .map(|i| format!("seven/run_id={run_id}/seven_part000{i}.parquet"))
            .collect::<Vec<_>>()
    );
    // Exactly these files exist, and each holds the rows the manifest says.
    let on_disk: Vec<String> =
        std::fs::read_dir(dir.path().join(format!("out/seven/run_id={run_id}")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    assert_eq!(on_disk.len(), 3, "{on_disk:?}");
    let mut ids = Vec::new();
    for (p, want) in names.iter().zip([3, 3, 1]) {
        let batches = read_parquet(&dir.path().join("out").join(p));
        let n: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(n, want);
        for b in batches {
            let col = b
                .column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap();
            ids.extend(col.values().iter().copied());
        }
    }
    assert_eq!(ids, (1..=7).collect::<Vec<i64>>());
    assert_eq!(
        sqlite_rows(
            &dir.path().join("stg.sqlite"),
            "SELECT id, name FROM seven ORDER BY id"
        )[6],
        ["INTEGER:7", "TEXT:g"]
    );
}

#[test]
fn a_stray_part_from_an_older_run_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let settings = "SRC_TABLES = seven\nSRC_CHUNK_SIZE = 3\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out\nCLEANUP_PARQUET_FILES = false";
    job(dir.path(), SEVEN, settings);
    assert_eq!(
        stage(dir.path(), &["dump", "--config", "a.ini"], &[]).code,
        0
    );
    // Plant the older run's part next to a new run's parts: same table, a part number the
    // new run will not write, and also a copy inside the new run's folder after the dump.
    let (_, m) = only_manifest(&dir.path().join("out"));
    let old_part = dir
        .path()
        .join("out")
        .join(m["tables"][0]["parts"][0]["path"].as_str().unwrap());
    std::fs::remove_dir_all(dir.path().join("out/_manifests")).unwrap();
    // The next run removes the older run's folder (it has no manifest any more): keep a copy.
    let kept = dir.path().join("older_part.parquet");
    std::fs::copy(&old_part, &kept).unwrap();
    let old_part = kept;
    let r = stage(dir.path(), &["dump", "--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (manifest, m2) = only_manifest(&dir.path().join("out"));
    let new_dir = dir
        .path()
        .join("out")
        .join(m2["tables"][0]["parts"][0]["path"].as_str().unwrap());
    let stray = new_dir.parent().unwrap().join("seven_part0009.parquet");
    std::fs::copy(&old_part, &stray).unwrap();
    let r = stage(
        dir.path(),
        &[
            "load",
            "--manifest",
            manifest.to_str().unwrap(),
            "--config",
            "a.ini",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        sqlite_rows(&dir.path().join("stg.sqlite"), "SELECT count(*) FROM seven"),
        [["INTEGER:7"]]
    );
}

#[test]
fn an_empty_source_table_gives_an_empty_staging_table_and_a_zero_row_entry() {
    let dir = tempfile::tempdir().unwrap();
    job(
        dir.path(),
        "CREATE TABLE empty_t (id INTEGER, amount DECIMAL(10,2));",
        "SRC_TABLES = empty_t\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out\nCLEANUP_PARQUET_FILES = false",
    );
    let stg = dir.path().join("stg.sqlite");
    // An old staging table with rows must not survive as stale data.
    Connection::open(&stg)
        .unwrap()
        .execute_batch("CREATE TABLE empty_t (id INTEGER); INSERT INTO empty_t VALUES (1);")
        .unwrap();
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (_, m) = only_manifest(&dir.path().join("out"));
    assert_eq!(m["tables"][0]["rows"], 0);
    assert_eq!(m["tables"][0]["status"], "complete");
    assert_eq!(
        sqlite_rows(&stg, "SELECT count(*) FROM empty_t"),
        [["INTEGER:0"]]
    );
    assert_eq!(
        sqlite_rows(&stg, "SELECT name, type FROM pragma_table_info('empty_t')"),
        [
            ["TEXT:id", "TEXT:INTEGER"],
            ["TEXT:amount", "TEXT:DECIMAL TEXT(10,2)"]
        ]
    );
}

#[test]
fn a_missing_table_fails_alone_and_the_run_exits_1() {
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            format!("SRC_TABLES = seven,ghost\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = out");
        job(dir.path(), SEVEN, &settings);
        let r = stage(dir.path(), &["--config", "a.ini"], &[]);
        assert_eq!(r.code, 1, "{mode}: {}", r.all());
        assert!(
            r.stdout
                .contains("FAILED  ghost: table ghost: not found in the source"),
            "{mode}: {}",
            r.stdout
        );
        assert!(
            r.stdout.contains("ok      seven: 7 rows staged"),
            "{}",
            r.stdout
        );
        assert_eq!(
            sqlite_rows(&dir.path().join("stg.sqlite"), "SELECT count(*) FROM seven"),
            [["INTEGER:7"]]
        );
    }
}

#[test]
fn row_limit_1_means_one_row() {
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let settings = format!("SRC_TABLES = seven\nROW_LIMIT = 1\nSRC_CHUNK_SIZE = 1\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = out");
        job(dir.path(), SEVEN, &settings);
        let r = stage(dir.path(), &["--config", "a.ini"], &[]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert_eq!(
            sqlite_rows(&dir.path().join("stg.sqlite"), "SELECT count(*) FROM seven"),
            [["INTEGER:1"]],
            "{mode}"
        );
    }
}

#[test]
fn read_connections_on_a_sqlite_source_warns_and_reads_over_one() {
    let dir = tempfile::tempdir().unwrap();
    let settings = "SRC_TABLES = seven\nREAD_CONNECTIONS = 4\nTRANSFER_MODE = DIRECT";
    job(dir.path(), SEVEN, settings);
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr
            .contains("READ_CONNECTIONS applies to PostgreSQL sources in DIRECT and DUMP mode"),
        "{}",
        r.all()
    );
    assert_eq!(
        sqlite_rows(&dir.path().join("stg.sqlite"), "SELECT count(*) FROM seven"),
        [["INTEGER:7"]]
    );
}

#[test]
fn verify_catches_a_part_changed_after_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let settings = "SRC_TABLES = seven\nSRC_CHUNK_SIZE = 3\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out\nCLEANUP_PARQUET_FILES = false";
    job(dir.path(), SEVEN, settings);
    assert_eq!(stage(dir.path(), &["--config", "a.ini"], &[]).code, 0);
    let (manifest, m) = only_manifest(&dir.path().join("out"));
    let manifest = manifest.to_str().unwrap().to_string();
    let ok = stage(
        dir.path(),
        &["verify", "--manifest", &manifest, "--config", "a.ini"],
        &[],
    );
    assert_eq!(ok.code, 0, "{}", ok.all());
    assert!(
        ok.stdout.contains("ok      seven: 7 rows verified"),
        "{}",
        ok.stdout
    );
    let part = dir
        .path()
        .join("out")
        .join(m["tables"][0]["parts"][1]["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&part).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&part, bytes).unwrap();
    let bad = stage(
        dir.path(),
        &["verify", "--manifest", &manifest, "--config", "a.ini"],
        &[],
    );
    assert_eq!(bad.code, 1, "{}", bad.all());
    assert!(
        bad.stdout.contains("has changed since the run (sha256"),
        "{}",
        bad.stdout
    );
    // And a load refuses the changed part, keeping the staging table as it was.
    let load = stage(
        dir.path(),
        &["load", "--manifest", &manifest, "--config", "a.ini"],
        &[],
    );
    assert_eq!(load.code, 1);
    assert_eq!(
        sqlite_rows(&dir.path().join("stg.sqlite"), "SELECT count(*) FROM seven"),
        [["INTEGER:7"]]
    );
}

#[test]
fn cleanup_deletes_the_runs_parts_and_manifest_after_a_full_load() {
    let dir = tempfile::tempdir().unwrap();
    let settings = "SRC_TABLES = seven\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out";
    job(dir.path(), SEVEN, settings);
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let left: Vec<_> = walk(&dir.path().join("out"));
    assert!(left.is_empty(), "{left:?}");
}

fn walk(p: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd {
            let path = e.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn replace_keeps_the_old_table_when_a_value_fails_mid_table() {
    let dir = tempfile::tempdir().unwrap();
    job(
        dir.path(),
        "CREATE TABLE seven (n INTEGER); INSERT INTO seven VALUES (1),(2),(3),(4),(5),(6),(7);",
        "SRC_TABLES = seven\nSRC_CHUNK_SIZE = 2",
    );
    let stg = dir.path().join("stg.sqlite");
    assert_eq!(stage(dir.path(), &["--config", "a.ini"], &[]).code, 0);
    // Row 5 now holds a value that cannot be an INTEGER: the run fails after two batches.
    Connection::open(dir.path().join("src.sqlite"))
        .unwrap()
        .execute_batch("UPDATE seven SET n = 'x' WHERE n = 5; INSERT INTO seven VALUES (8);")
        .unwrap();
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.contains("table seven, column n, row 5: the stored TEXT \"x\" does not fit the declared type; expected an INTEGER"), "{}", r.stdout);
    assert_eq!(
        sqlite_rows(&stg, "SELECT count(*) FROM seven"),
        [["INTEGER:7"]]
    );
    assert_eq!(
        sqlite_rows(
            &stg,
            "SELECT count(*) FROM sqlite_master WHERE name LIKE '%stage_new%'"
        ),
        [["INTEGER:0"]]
    );
}

#[test]
fn truncate_and_append_write_modes() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), SEVEN);
    let stg = dir.path().join("stg.sqlite");
    write(
        dir.path(),
        "a.ini",
        &sqlite_ini(
            &src,
            "stg.sqlite",
            "SRC_TABLES = seven\nWRITE_MODE = append",
        ),
    );
    assert_eq!(stage(dir.path(), &["--config", "a.ini"], &[]).code, 0);
    assert_eq!(stage(dir.path(), &["--config", "a.ini"], &[]).code, 0);
    assert_eq!(
        sqlite_rows(&stg, "SELECT count(*) FROM seven"),
        [["INTEGER:14"]]
    );
    write(
        dir.path(),
        "b.ini",
        &sqlite_ini(
            &src,
            "stg.sqlite",
            "SRC_TABLES = seven\nWRITE_MODE = truncate",
        ),
    );
    assert_eq!(stage(dir.path(), &["--config", "b.ini"], &[]).code, 0);
    assert_eq!(
        sqlite_rows(&stg, "SELECT count(*) FROM seven"),
        [["INTEGER:7"]]
    );
}

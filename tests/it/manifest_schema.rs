//! A load takes each table's schema from the manifest: a table whose manifest lists no
//! parts still gets its typed (empty) staging table, and a part whose schema differs from
//! its manifest fails the table, naming table and part.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::common::{only_manifest, read_parquet, sqlite_ini, sqlite_rows, stage, write};
use crate::pg_e2e::{pg_env, run, zoo_source};
use crate::support::{mariadb, pg};

/// Rewrites the run's manifest under `out` with `edit`, returning the manifest's path
/// relative to `dir`.
fn edit_manifest(dir: &Path, out: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let (path, mut m) = only_manifest(&dir.join(out));
    edit(&mut m);
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    path.strip_prefix(dir)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Drops every part of the manifest's first table, files and entries: only its columns are left.
fn without_parts(dir: &Path, out: &str) -> String {
    edit_manifest(dir, out, |m| {
        let table = &mut m["tables"][0];
        assert_eq!(table["rows"], 0);
        for p in table["parts"].as_array().unwrap() {
            std::fs::remove_file(dir.join(out).join(p["path"].as_str().unwrap())).unwrap();
        }
        table["parts"] = serde_json::json!([]);
    })
}

#[test]
fn postgres_creates_the_typed_empty_table_from_a_manifest_without_parts() {
    let dir = tempfile::tempdir().unwrap();
    let src = zoo_source();
    pg().client(&src)
        .batch_execute("CREATE TABLE empty_zoo (LIKE zoo)")
        .unwrap();
    let env = pg_env(
        &src,
        &src,
        &[
            ("SRC_TABLES", "empty_zoo"),
            ("TRANSFER_MODE", "DUMP"),
            ("OUTPUT_DIR", "out"),
        ],
    );
    let r = run(dir.path(), &["dump"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    let manifest = without_parts(dir.path(), "out");
    let r = run(dir.path(), &["load", "--manifest", &manifest], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("ok      empty_zoo: 0 rows loaded"),
        "{}",
        r.all()
    );
    let mut c = pg().client(&src);
    let n: i64 = c
        .query_one("SELECT count(*) FROM staging.empty_zoo", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let types: Vec<String> = c
        .query(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = 'staging.empty_zoo'::regclass AND attnum > 0 ORDER BY attnum",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The same types the zoo's staging table gets from its parts (pg_e2e).
    assert_eq!(
        types.join(","),
        "integer,smallint,integer,bigint,numeric(38,0),numeric(12,2),numeric(50,10),numeric,real,double precision,text,text,text,text,bytea,boolean,date,time without time zone,timestamp without time zone,timestamp with time zone,interval,uuid,json,jsonb,inet,cidr,macaddr,time with time zone,text,integer[],text[],numeric(10,2)[],timestamp with time zone[],jsonb[],text,bytea"
    );
}

#[test]
fn mariadb_creates_from_a_manifest_without_parts_the_table_its_parts_would() {
    let s = mariadb();
    let src = s.create_database("mf_src");
    s.query(
        Some(&src),
        "CREATE TABLE e (id INT NOT NULL, big BIGINT UNSIGNED, amount DECIMAL(12,2), name VARCHAR(40),
             day DATE, at DATETIME(6), flag TINYINT(1), score DOUBLE, raw BLOB, doc JSON)",
    );
    let dir = tempfile::tempdir().unwrap();
    let ini = |dst: &str, out: &str| {
        format!(
            "[database-source]\nSRC_DRIVER = mariadb\nSRC_HOST = {h}\nSRC_PORT = {p}\nSRC_USERNAME = {u}\nSRC_PASSWORD = {w}\nSRC_DB = {src}\n\n[database-destination]\nDST_DRIVER = mariadb\nDST_HOST = {h}\nDST_PORT = {p}\nDST_USERNAME = {u}\nDST_PASSWORD = {w}\nDST_DB = {dst}\n\n[settings]\nSRC_TABLES = e\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = {out}\nCLEANUP_PARQUET_FILES = false\n",
            h = s.host,
            p = s.port,
            u = s.user,
            w = s.password
        )
    };
    // From the (one, empty) part, as a run does; then from the manifest alone.
    let (from_parts, from_manifest) = (s.create_database("mf_a"), s.create_database("mf_b"));
    write(dir.path(), "a.ini", &ini(&from_parts, "out-a"));
    write(dir.path(), "b.ini", &ini(&from_manifest, "out-b"));
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = stage(dir.path(), &["dump", "--config", "b.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let manifest = without_parts(dir.path(), "out-b");
    let r = stage(
        dir.path(),
        &["load", "--manifest", &manifest, "--config", "b.ini"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let columns = |db: &str| {
        s.query(
            None,
            &format!(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = '{db}' AND TABLE_NAME = 'e' ORDER BY ORDINAL_POSITION"
            ),
        )
    };
    let want = columns(&from_parts);
    assert_eq!(want.lines().count(), 10, "{want}");
    assert!(want.contains("amount\tdecimal(12,2)"), "{want}");
    assert_eq!(columns(&from_manifest), want);
    assert_eq!(
        s.query(Some(&from_manifest), "SELECT count(*) FROM e")
            .trim(),
        "0"
    );
}

/// A SQLite source of `t (x INTEGER, y TEXT)` with five rows, dumped in parts of two.
fn sqlite_dump(dir: &Path) {
    rusqlite::Connection::open(dir.join("src.sqlite"))
        .unwrap()
        .execute_batch(
            "CREATE TABLE t (x INTEGER, y TEXT);
             INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e');",
        )
        .unwrap();
    write(
        dir,
        "a.ini",
        &sqlite_ini(
            "src.sqlite",
            "stg.sqlite",
            "SRC_TABLES = t\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out\nSRC_CHUNK_SIZE = 2",
        ),
    );
    let r = stage(dir, &["dump", "--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn a_part_whose_schema_differs_from_its_manifest_fails_naming_table_and_part() {
    let dir = tempfile::tempdir().unwrap();
    sqlite_dump(dir.path());
    // Part 1 rewritten with `y` as a number, its sha256 and size updated to match.
    let (_, m) = only_manifest(&dir.path().join("out"));
    let part = m["tables"][0]["parts"][1]["path"]
        .as_str()
        .unwrap()
        .to_string();
    let file = dir.path().join("out").join(&part);
    let old = read_parquet(&file).remove(0);
    let schema = Arc::new(Schema::new(vec![
        old.schema().field(0).clone(),
        Field::new("y", DataType::Int64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        old.column(0).clone(),
        Arc::new(Int64Array::from(vec![3, 4])),
    ];
    let forged = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut bytes = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    w.write(&forged).unwrap();
    w.close().unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let manifest = edit_manifest(dir.path(), "out", |m| {
        let p = &mut m["tables"][0]["parts"][1];
        p["sha256"] = stage::archive::part_writer::sha256_hex(&bytes).into();
        p["bytes"] = bytes.len().into();
    });

    let r = stage(
        dir.path(),
        &["load", "--manifest", &manifest, "--config", "a.ini"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let want = format!(
        "FAILED  t: table t: part {part} does not match the manifest: column y is Int64 in the part, Utf8 in the manifest"
    );
    assert!(r.stdout.contains(&want), "{}", r.all());
    // Nothing of the table was loaded.
    assert!(sqlite_rows(
        &dir.path().join("stg.sqlite"),
        "SELECT name FROM sqlite_master WHERE name = 't'"
    )
    .is_empty());
    // verify names the same part.
    let r = stage(
        dir.path(),
        &["verify", "--manifest", &manifest, "--config", "a.ini"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout
            .contains(&format!("part {part} does not match the manifest")),
        "{}",
        r.all()
    );
}

#[test]
fn sqlite_creates_the_typed_empty_table_from_a_manifest_without_parts() {
    let dir = tempfile::tempdir().unwrap();
    rusqlite::Connection::open(dir.path().join("src.sqlite"))
        .unwrap()
        .execute_batch(
            "CREATE TABLE e (id INTEGER NOT NULL, amount DECIMAL(10,2), at TIMESTAMP, raw BLOB);",
        )
        .unwrap();
    write(
        dir.path(),
        "a.ini",
        &sqlite_ini(
            "src.sqlite",
            "stg.sqlite",
            "SRC_TABLES = e\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out",
        ),
    );
    let r = stage(dir.path(), &["dump", "--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let manifest = without_parts(dir.path(), "out");
    let r = stage(
        dir.path(),
        &["load", "--manifest", &manifest, "--config", "a.ini"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let stg = dir.path().join("stg.sqlite");
    assert_eq!(sqlite_rows(&stg, "SELECT count(*) FROM e"), [["INTEGER:0"]]);
    assert_eq!(
        sqlite_rows(&stg, "SELECT name, type FROM pragma_table_info('e')"),
        [
            ["TEXT:id", "TEXT:INTEGER"],
            ["TEXT:amount", "TEXT:DECIMAL TEXT(10,2)"],
            ["TEXT:at", "TEXT:TIMESTAMP"],
            ["TEXT:raw", "TEXT:BLOB"]
        ]
    );
}

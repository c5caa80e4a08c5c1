//! Values and names, SQLite → (Parquet) → SQLite: every storage class value by value, a
//! value that does not fit its declared type, odd and colliding column names.

use super::job;
use crate::common::{only_manifest, read_parquet, sqlite_rows, stage};

/// Every storage class, with the declared types that keep them, NULLs in each column.
const ZOO: &str = r#"CREATE TABLE zoo (
    i INTEGER, r REAL, t TEXT, b BLOB, d DECIMAL TEXT(38,10), flag BOOLEAN,
    day DATE, at TIMESTAMP, atz TIMESTAMPTZ, tod TIME, untyped
);
INSERT INTO zoo VALUES
 (9223372036854775807, 1.5e300, 'héllo ✓ 😀', x'00ff10', '1234567890123456789012345678.0123456789', 1,
  '1969-07-20', '1900-01-01 00:00:00.000001', '2100-12-31T23:59:59.999999Z', '23:59:59.5', 'free'),
 (-9223372036854775808, -0.0, '', x'', '-0.0000000001', 0,
  '2262-04-12', '1970-01-01 00:00:00', '1970-01-01T01:00:00+01:00', '00:00:00', 42),
 (0, 3.141592653589793, 'it''s "quoted"', zeroblob(3), 12.5, 1,
  '2000-02-29', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56', '12:00', 2.5),
 (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"#;

#[test]
fn every_sqlite_storage_class_round_trips_value_by_value() {
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let settings = format!("SRC_TABLES = zoo\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = out\nCLEANUP_PARQUET_FILES = false");
        job(dir.path(), ZOO, &settings);
        let r = stage(dir.path(), &["--config", "a.ini"], &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        let got = sqlite_rows(
            &dir.path().join("stg.sqlite"),
            "SELECT * FROM zoo ORDER BY rowid",
        );
        // Integers, reals, text, blobs and booleans are stored in the same class with the
        // same value as in the source (SQLite itself rounds some literals on insert).
        let same = "SELECT i, r, t, b, flag FROM zoo ORDER BY rowid";
        assert_eq!(
            sqlite_rows(&dir.path().join("stg.sqlite"), same),
            sqlite_rows(&dir.path().join("src.sqlite"), same),
            "{mode}"
        );
        let want = [
            [
                "INTEGER:9223372036854775807",
                "REAL:1.4999999999999998e300",
                "TEXT:héllo ✓ 😀",
                "BLOB:00ff10",
                "TEXT:1234567890123456789012345678.0123456789",
                "INTEGER:1",
                "TEXT:1969-07-20",
                "TEXT:1900-01-01 00:00:00.000001",
                "TEXT:2100-12-31T23:59:59.999999Z",
                "TEXT:23:59:59.500000",
                "TEXT:free",
            ],
            [
                "INTEGER:-9223372036854775808",
                "REAL:0.0",
                "TEXT:",
                "BLOB:",
                "TEXT:-0.0000000001",
                "INTEGER:0",
                "TEXT:2262-04-12",
                "TEXT:1970-01-01 00:00:00.000000",
                "TEXT:1970-01-01T00:00:00.000000Z",
                "TEXT:00:00:00.000000",
                "TEXT:42",
            ],
            [
                "INTEGER:0",
                "REAL:3.141592653589793",
                "TEXT:it's \"quoted\"",
                "BLOB:000000",
                "TEXT:12.5000000000",
                "INTEGER:1",
                "TEXT:2000-02-29",
                "TEXT:2024-02-29 12:34:56.789000",
                "TEXT:2024-02-29T12:34:56.000000Z",
                "TEXT:12:00:00.000000",
                "TEXT:2.5",
            ],
            ["NULL"; 11],
        ];
        assert_eq!(got, want, "{mode}");
        // The staging table reads back as the same Arrow types (a second hop is lossless).
        let types = sqlite_rows(
            &dir.path().join("stg.sqlite"),
            "SELECT type FROM pragma_table_info('zoo')",
        );
        let types: Vec<String> = types.into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(
            types,
            [
                "TEXT:INTEGER",
                "TEXT:REAL",
                "TEXT:TEXT",
                "TEXT:BLOB",
                "TEXT:DECIMAL TEXT(38,10)",
                "TEXT:BOOLEAN",
                "TEXT:DATE",
                "TEXT:TIMESTAMP",
                "TEXT:TIMESTAMPTZ",
                "TEXT:TIME",
                "TEXT:TEXT"
            ]
        );
        if mode == "DUMP" {
            // The archive, read with the parquet crate, holds the exact decimal and instants.
            let (_, m) = only_manifest(&dir.path().join("out"));
            let part = dir
                .path()
                .join("out")
                .join(m["tables"][0]["parts"][0]["path"].as_str().unwrap());
            let b = &read_parquet(&part)[0];
            let d = b
                .column(4)
                .as_any()
                .downcast_ref::<arrow::array::Decimal128Array>()
                .unwrap();
            assert_eq!(
                d.value_as_string(0),
                "1234567890123456789012345678.0123456789"
            );
            let ts = b
                .column(8)
                .as_any()
                .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
                .unwrap();
            assert_eq!(ts.value(1), 0, "+01:00 offset applied to the instant");
            assert_eq!(
                m["tables"][0]["columns"][4]["arrow_type"],
                "Decimal128(38, 10)"
            );
            assert_eq!(
                m["tables"][0]["columns"][4]["source_type"],
                "DECIMAL TEXT(38,10)"
            );
        }
    }
}

#[test]
fn a_value_that_does_not_fit_its_declared_type_names_table_column_and_row() {
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), "CREATE TABLE bad (id INTEGER, amount DECIMAL(5,2)); INSERT INTO bad VALUES (1, '1.5'), (2, '1.234');", "SRC_TABLES = bad\nOUTPUT_DIR = out");
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout.contains("FAILED  bad: table bad, column amount, row 2: \"1.234\" has more than 2 digits after the decimal point"),
        "{}",
        r.stdout
    );
}

#[test]
fn odd_column_names_are_quoted_and_lowercased() {
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let settings = format!("SRC_TABLES = Odd Table\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = out");
        job(
            dir.path(),
            r#"CREATE TABLE "Odd Table" ("Id" INTEGER, "Full Name" TEXT, "say ""hi""" TEXT, "select" INTEGER);
               INSERT INTO "Odd Table" VALUES (1, 'Ada', 'x', 2);"#,
            &settings,
        );
        let r = stage(dir.path(), &["--config", "a.ini"], &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        let stg = dir.path().join("stg.sqlite");
        assert_eq!(
            sqlite_rows(&stg, "SELECT name FROM pragma_table_info('odd table')"),
            [
                ["TEXT:id"],
                ["TEXT:full name"],
                ["TEXT:say \"hi\""],
                ["TEXT:select"]
            ]
        );
        assert_eq!(
            sqlite_rows(
                &stg,
                r#"SELECT "id", "full name", "say ""hi""", "select" FROM "odd table""#
            ),
            [["INTEGER:1", "TEXT:Ada", "TEXT:x", "INTEGER:2"]]
        );
    }
}

#[test]
fn columns_colliding_once_lowercased_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    job(
        dir.path(),
        r#"CREATE TABLE c ("Äpfel" TEXT, "äpfel" TEXT);"#,
        "SRC_TABLES = c",
    );
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("table c, column äpfel: collides with column \"Äpfel\" once lowercased"),
        "{}",
        r.stdout
    );
}

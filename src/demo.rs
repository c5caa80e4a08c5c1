//! A deterministic demo *source* database for `stage demo`.
//!
//! [`create_demo_source`] writes a SQLite file that looks like the back end of a Dutch municipal
//! social-services application (Sociaal Domein) of the gemeente 's-Hertogenbosch:
//!
//! | table           | what it holds                                                |   rows |
//! |-----------------|--------------------------------------------------------------|--------|
//! | `inwoners`      | residents: test BSNs, names with é ë ü ß Ĳ, notes with emoji |  5,000 |
//! | `adressen`      | current and earlier addresses, some abroad or on Bonaire     |  5,924 |
//! | `aanvragen`     | applications (Participatiewet, Wmo, bijzondere bijstand, …)  |  8,282 |
//! | `uitkeringen`   | monthly and one-off benefit payments                         | 19,087 |
//! | `documenten`    | uploaded PDFs/JPEGs/PNGs as BLOBs of 200 B – 4 KiB           |  1,850 |
//! | `leeg_register` | a register with every kind of column and 0 rows              |      0 |
//!
//! Together the columns cover every type the SQLite source mapping knows, spelled the way
//! that mapping expects:
//! - `INTEGER` and `BIGINT`, with negatives, `i64::MIN` and `i64::MAX`;
//! - `DECIMAL TEXT(12,2)` and `DECIMAL TEXT(18,4)`, stored as exact TEXT such as `'1234.50'`;
//! - `TEXT`, `VARCHAR(n)` and `CHAR(n)`, with accents, Turkish and Vietnamese letters, the
//!   Dutch Ĳ, emoji (also ZWJ sequences and flags), quotes, tabs and newlines;
//! - `DATE` as `'YYYY-MM-DD'` (also before 1970), `TIMESTAMP` as `'YYYY-MM-DD HH:MM:SS.ffffff'`,
//!   one `TIMESTAMPTZ` (`documenten.ontvangen_op`) as `'YYYY-MM-DDTHH:MM:SS.ffffffZ'` and one
//!   `TIME` (`aanvragen.afspraak_tijd`) as `'HH:MM:SS'`;
//! - `BOOLEAN` as INTEGER 0/1, `DOUBLE` and `REAL`, and `BLOB` (one of them empty, not NULL).
//!
//! Many columns hold NULLs. Edge rows fixed on purpose: `aanvragen` 1 and 2 have `i64::MAX` and
//! `i64::MIN` as `correlatie_id`, 3 and 4 the largest and smallest values of both decimal types;
//! `documenten` 2 has an empty blob. Note that SQLite gives `DATE`/`TIME…` columns NUMERIC
//! affinity: compare them with complete literals (`< '1970-01-01'`, not `< '1970'`).
//!
//! The data comes from a fixed-seed splitmix64 generator, no clock and no floating-point
//! functions beyond `+ - * /` and `round`, so every machine produces the same rows.

use std::path::Path;

use anyhow::{bail, Context, Result};
use rusqlite::Connection;

use crate::partial_file::PartialFile;

mod generator;
mod values;
mod vocabulary;

use generator::Generator;

/// The table names, in order, for SRC_TABLES.
pub const DEMO_TABLES: &[&str] = &[
    "inwoners",
    "adressen",
    "aanvragen",
    "uitkeringen",
    "documenten",
    "leeg_register",
];

/// Seed of the generator; changing it changes every generated value.
const SEED: u64 = 0x5354_4147_4544_454d; // "STAGEDEM"
/// Number of residents; every other table follows from them.
const INWONERS: i64 = 5_000;
/// How many applications a resident makes: (weight, number).
const AANVRAGEN_PER_INWONER: &[(u64, u32)] = &[(20, 0), (30, 1), (25, 2), (15, 3), (10, 4)];
/// "Today" for the demo data: nothing happens after this date.
const PEILDATUM: (i64, u32, u32) = (2025, 6, 30);
/// Amounts of `DECIMAL TEXT(12,2)` are in cents, of `DECIMAL TEXT(18,4)` in 1/10,000.
const MAX_DEC_12_2: i64 = 10i64.pow(12) - 1;
const MAX_DEC_18_4: i64 = 10i64.pow(18) - 1;

const SCHEMA: &str = "
CREATE TABLE inwoners (
    id                INTEGER PRIMARY KEY,
    bsn               VARCHAR(9) NOT NULL,
    voornamen         VARCHAR(200) NOT NULL,
    tussenvoegsel     VARCHAR(10),
    achternaam        VARCHAR(200) NOT NULL,
    geslacht          CHAR(1) NOT NULL,
    geboortedatum     DATE NOT NULL,
    overlijdensdatum  DATE,
    email             VARCHAR(254),
    telefoon          VARCHAR(20),
    heeft_digid       BOOLEAN NOT NULL,
    aantal_kinderen   INTEGER NOT NULL,
    ingeschreven_op   TIMESTAMP NOT NULL,
    gewijzigd_op      TIMESTAMP NOT NULL,
    notitie           TEXT
);
CREATE TABLE adressen (
    id                       INTEGER PRIMARY KEY,
    inwoner_id               INTEGER NOT NULL REFERENCES inwoners (id),
    straatnaam               VARCHAR(80) NOT NULL,
    huisnummer               INTEGER NOT NULL,
    huisletter               CHAR(1),
    huisnummertoevoeging     VARCHAR(4),
    postcode                 VARCHAR(10),
    woonplaats               VARCHAR(80) NOT NULL,
    landcode                 CHAR(2) NOT NULL,
    bag_nummeraanduiding_id  BIGINT,
    breedtegraad             DOUBLE,
    lengtegraad              DOUBLE,
    is_briefadres            BOOLEAN NOT NULL,
    geldig_van               DATE NOT NULL,
    geldig_tot               DATE
);
CREATE TABLE aanvragen (
    id                 INTEGER PRIMARY KEY,
    inwoner_id         INTEGER NOT NULL REFERENCES inwoners (id),
    zaaknummer         VARCHAR(20) NOT NULL,
    regeling           VARCHAR(60) NOT NULL,
    status             VARCHAR(20) NOT NULL,
    ingediend_op       TIMESTAMP NOT NULL,
    afgehandeld_op     TIMESTAMP,
    besluitdatum       DATE,
    toegekend          BOOLEAN,
    spoed              BOOLEAN NOT NULL,
    gevraagd_bedrag    DECIMAL TEXT(12,2),
    draagkrachtfactor  DECIMAL TEXT(18,4),
    prioriteit         INTEGER NOT NULL,
    correlatie_id      BIGINT NOT NULL,
    afspraak_tijd      TIME,
    behandelaar        VARCHAR(60),
    toelichting        TEXT
);
CREATE TABLE uitkeringen (
    id                  INTEGER PRIMARY KEY,
    aanvraag_id         INTEGER NOT NULL REFERENCES aanvragen (id),
    volgnummer          INTEGER NOT NULL,
    periode             DATE NOT NULL,
    bruto_bedrag        DECIMAL TEXT(12,2) NOT NULL,
    loonheffing         DECIMAL TEXT(12,2) NOT NULL,
    netto_bedrag        DECIMAL TEXT(12,2) NOT NULL,
    correctie           DECIMAL TEXT(12,2),
    dagbedrag           DECIMAL TEXT(18,4) NOT NULL,
    kortingspercentage  REAL,
    iban                VARCHAR(34) NOT NULL,
    betaald_op          TIMESTAMP,
    teruggevorderd      BOOLEAN NOT NULL
);
CREATE TABLE documenten (
    id             INTEGER PRIMARY KEY,
    aanvraag_id    INTEGER NOT NULL REFERENCES aanvragen (id),
    bestandsnaam   VARCHAR(255) NOT NULL,
    mime_type      VARCHAR(100) NOT NULL,
    grootte_bytes  INTEGER NOT NULL,
    controlegetal  BIGINT NOT NULL,
    inhoud         BLOB,
    paginas        INTEGER,
    vertrouwelijk  BOOLEAN NOT NULL,
    ontvangen_op   TIMESTAMPTZ NOT NULL,
    omschrijving   TEXT
);
CREATE TABLE leeg_register (
    id            INTEGER PRIMARY KEY,
    aanvraag_id   INTEGER REFERENCES aanvragen (id),
    omschrijving  TEXT,
    bedrag        DECIMAL TEXT(12,2),
    peildatum     DATE,
    gegrond       BOOLEAN,
    score         DOUBLE,
    ingediend_op  TIMESTAMP,
    bijlage       BLOB
);
";

const INDEXES: &str = "
CREATE INDEX adressen_inwoner ON adressen (inwoner_id);
CREATE INDEX aanvragen_inwoner ON aanvragen (inwoner_id);
CREATE INDEX uitkeringen_aanvraag ON uitkeringen (aanvraag_id);
CREATE INDEX documenten_aanvraag ON documenten (aanvraag_id);
";

/// Creates the demo source database at `path` (which must not exist yet: error otherwise) and returns per-table row counts.
///
/// The database is built under a temporary name in the same directory and renamed to `path`
/// only when complete, so a failure never leaves a half-made demo behind. The directory must
/// exist. The counts are in [`DEMO_TABLES`] order.
pub fn create_demo_source(path: &Path) -> Result<Vec<(String, u64)>> {
    if path.symlink_metadata().is_ok() {
        bail!(
            "demo source database {} already exists; remove it or choose another path",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "directory {} of the demo source database does not exist",
            dir.display()
        );
    }
    let counts = build_and_publish(path)
        .with_context(|| format!("creating demo source database {}", path.display()))?;
    Ok(DEMO_TABLES
        .iter()
        .zip(counts)
        .map(|(table, n)| (table.to_string(), n))
        .collect())
}

/// Builds the database in a [`PartialFile`] beside `path` and renames it to `path` unless
/// something appeared there meanwhile; the partial file is removed on failure.
fn build_and_publish(path: &Path) -> Result<[u64; 6]> {
    let partial = PartialFile::create(path)?;
    let counts = build(partial.path())?;
    // Re-check just before publishing: rename would silently replace a file made meanwhile.
    if path.symlink_metadata().is_ok() {
        bail!(
            "demo source database {} appeared while the demo was being created; left it alone",
            path.display()
        );
    }
    partial.finish()?;
    Ok(counts)
}

/// Builds the complete database at `tmp` and returns the row counts in [`DEMO_TABLES`] order.
fn build(tmp: &Path) -> Result<[u64; 6]> {
    let mut conn = Connection::open(tmp).with_context(|| format!("opening {}", tmp.display()))?;
    // The file is discarded on failure, so durability while building buys nothing.
    conn.execute_batch("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF;")?;
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)
        .context("creating the demo tables")?;
    let counts = Generator::new(&tx)?
        .run()
        .context("inserting the demo rows")?;
    tx.execute_batch(INDEXES)
        .context("creating the demo indexes")?;
    tx.commit()?;
    conn.close()
        .map_err(|(_, e)| e)
        .context("closing the demo database")?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::values::{
        ascii_fold, days_from_civil, fmt_date, fmt_decimal, fmt_instant, fmt_timestamp, fnv1a64,
        iban_check_digits, DAY_US,
    };
    use super::*;
    use rusqlite::types::Value;
    use std::collections::HashSet;
    use std::path::PathBuf;

    fn create_in(dir: &tempfile::TempDir) -> (PathBuf, Vec<(String, u64)>) {
        let path = dir.path().join("demo.sqlite");
        let counts = create_demo_source(&path).expect("demo created");
        (path, counts)
    }

    fn rows(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |row| (0..n).map(|i| row.get::<_, Value>(i)).collect())
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn counts_match_the_tables_and_the_empty_table_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (path, counts) = create_in(&dir);
        let names: Vec<&str> = counts.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(names, DEMO_TABLES);
        let conn = Connection::open(&path).unwrap();
        for (table, n) in &counts {
            let actual: u64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(actual, *n, "{table}");
        }
        assert_eq!(counts[5], ("leeg_register".to_string(), 0));
        let columns: u64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('leeg_register')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(columns, 9);
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        assert!((20_000..=60_000).contains(&total), "{total} rows");
        // Only the finished database is left in the directory.
        let entries: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["demo.sqlite"]);
    }

    #[test]
    fn known_rows_have_known_values() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = create_in(&dir);
        let conn = Connection::open(&path).unwrap();
        let text = |s: &str| Value::Text(s.to_string());
        let counts: Vec<(String, u64)> =
            create_demo_source(&dir.path().join("again.sqlite")).unwrap();
        let expected = [5_000, 5_924, 8_282, 19_087, 1_850, 0];
        assert_eq!(counts.iter().map(|(_, n)| *n).collect::<Vec<_>>(), expected);
        assert_eq!(
            rows(&conn, "SELECT * FROM inwoners WHERE id = 1"),
            [[
                Value::Integer(1),
                text("956439974"),
                text("Chloë"),
                text("de"),
                text("Vries"),
                text("M"),
                text("1992-01-21"),
                Value::Null,
                text("chloe.vries72@home.nl"),
                Value::Null,
                Value::Integer(1),
                Value::Integer(2),
                text("2018-10-01 13:59:27.793748"),
                text("2022-02-14 17:15:59.934162"),
                text("Mantelzorger: dochter (Zoë), bereikbaar na 17:00"),
            ]]
        );
        assert_eq!(
            rows(
                &conn,
                "SELECT bruto_bedrag, dagbedrag, iban, betaald_op FROM uitkeringen WHERE id = 1"
            ),
            [[
                text("2296.70"),
                text("105.5954"),
                text("NL91RABO0685907048"),
                text("2016-05-23 06:02:31.025166"),
            ]]
        );
        assert_eq!(
            rows(&conn, "SELECT breedtegraad, lengtegraad, bag_nummeraanduiding_id FROM adressen WHERE id = 1"),
            [[Value::Real(51.702465), Value::Real(5.451639), Value::Integer(796_200_055_791_355)]]
        );
        let doc = rows(
            &conn,
            "SELECT grootte_bytes, controlegetal, inhoud FROM documenten WHERE id = 1",
        );
        let Value::Blob(inhoud) = &doc[0][2] else {
            panic!("{doc:?}")
        };
        assert_eq!(
            doc[0][..2],
            [
                Value::Integer(1829),
                Value::Integer(-9_061_966_475_379_938_553)
            ]
        );
        assert_eq!(inhoud.len(), 1829);
        assert_eq!(inhoud[..4], *b"\xff\xd8\xff\xe0");
        assert_eq!(fnv1a64(inhoud) as i64, -9_061_966_475_379_938_553);
        // The fixed edge rows.
        let edges = rows(
            &conn,
            "SELECT correlatie_id, gevraagd_bedrag, draagkrachtfactor FROM aanvragen WHERE id <= 4 ORDER BY id",
        );
        assert_eq!(edges[0][0], Value::Integer(i64::MAX));
        assert_eq!(edges[1][0], Value::Integer(i64::MIN));
        assert_eq!(
            edges[2][1..],
            [text("9999999999.99"), text("99999999999999.9999")]
        );
        assert_eq!(
            edges[3][1..],
            [text("-9999999999.99"), text("-99999999999999.9999")]
        );
        assert_eq!(
            rows(
                &conn,
                "SELECT inhoud, grootte_bytes FROM documenten WHERE id = 2"
            ),
            [[Value::Blob(vec![]), Value::Integer(0)]]
        );
    }

    /// Every declared type the brief asks for is there, and each column stores the SQLite
    /// storage class its declared type promises (or NULL).
    #[test]
    fn declared_types_and_storage_classes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = create_in(&dir);
        let conn = Connection::open(&path).unwrap();
        let mut declared = HashSet::new();
        for table in DEMO_TABLES {
            let columns = rows(
                &conn,
                &format!("SELECT name, type FROM pragma_table_info('{table}')"),
            );
            for column in columns {
                let [Value::Text(name), Value::Text(decl)] = &column[..] else {
                    panic!("{column:?}")
                };
                declared.insert(decl.clone());
                let (class, values) = match decl.as_str() {
                    "BOOLEAN" => ("integer", " AND {c} IN (0, 1)"),
                    "INTEGER" | "BIGINT" => ("integer", ""),
                    "DOUBLE" | "REAL" => ("real", ""),
                    "BLOB" => ("blob", ""),
                    "DATE" => (
                        "text",
                        " AND {c} GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'",
                    ),
                    "TIME" => ("text", " AND {c} GLOB '[0-2][0-9]:[0-5][0-9]:[0-5][0-9]'"),
                    "TIMESTAMP" => ("text", " AND {c} GLOB '????-??-?? ??:??:??.??????'"),
                    "TIMESTAMPTZ" => ("text", " AND {c} GLOB '????-??-??T??:??:??.??????Z'"),
                    "DECIMAL TEXT(12,2)" => ("text", " AND {c} GLOB '*[0-9].[0-9][0-9]'"),
                    "DECIMAL TEXT(18,4)" => ("text", " AND {c} GLOB '*[0-9].[0-9][0-9][0-9][0-9]'"),
                    _ => ("text", ""),
                };
                let check = values.replace("{c}", name);
                let sql = format!(
                    "SELECT count(*) FROM {table} WHERE {name} IS NOT NULL \
                     AND NOT (typeof({name}) = '{class}'{check})"
                );
                let bad: i64 = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
                assert_eq!(bad, 0, "{table}.{name} {decl}");
            }
        }
        for decl in [
            "INTEGER",
            "BIGINT",
            "DECIMAL TEXT(12,2)",
            "DECIMAL TEXT(18,4)",
            "TEXT",
            "VARCHAR(200)",
            "CHAR(1)",
            "DATE",
            "TIMESTAMP",
            "TIMESTAMPTZ",
            "TIME",
            "BOOLEAN",
            "DOUBLE",
            "REAL",
            "BLOB",
        ] {
            assert!(declared.contains(decl), "{decl}");
        }
        let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert!(one("SELECT count(*) FROM inwoners WHERE geboortedatum < '1970-01-01'") > 0);
        assert!(one("SELECT count(*) FROM inwoners WHERE ingeschreven_op < '1970-01-01'") > 0);
        assert!(one("SELECT count(*) FROM adressen WHERE lengtegraad < 0") > 0);
        assert!(one("SELECT count(*) FROM uitkeringen WHERE correctie LIKE '-%'") > 0);
        assert!(one("SELECT count(*) FROM documenten WHERE inhoud IS NULL") > 0);
        assert!(one("SELECT count(*) FROM inwoners WHERE notitie LIKE '%👨‍👩‍👧%'") > 0);
        assert!(one("SELECT count(*) FROM inwoners WHERE achternaam LIKE '%Ĳ%'") > 0);
    }

    #[test]
    fn two_creations_are_identical() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (pa, _) = create_in(&a);
        let (pb, _) = create_in(&b);
        let (ca, cb) = (Connection::open(pa).unwrap(), Connection::open(pb).unwrap());
        for table in DEMO_TABLES {
            let sql = format!("SELECT * FROM {table} WHERE id % 97 = 1 OR id <= 20 ORDER BY id");
            assert_eq!(rows(&ca, &sql), rows(&cb, &sql), "{table}");
        }
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.sqlite");
        std::fs::write(&path, b"not a demo").unwrap();
        let err = create_demo_source(&path).unwrap_err();
        assert!(format!("{err:#}").contains("already exists"), "{err:#}");
        assert_eq!(std::fs::read(&path).unwrap(), b"not a demo");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = create_demo_source(&dir.path().join("nope").join("demo.sqlite")).unwrap_err();
        assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn helpers() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(fmt_date(days_from_civil(1925, 2, 28) + 1), "1925-03-01");
        assert_eq!(fmt_timestamp(-1), "1969-12-31 23:59:59.999999");
        assert_eq!(fmt_instant(DAY_US + 1), "1970-01-02T00:00:00.000001Z");
        assert_eq!(fmt_decimal(-5, 2), "-0.05");
        assert_eq!(fmt_decimal(123_450, 2), "1234.50");
        assert_eq!(iban_check_digits("ABNA", "0417164300"), 91);
        assert_eq!(ascii_fold("Ĳzerman-Groß"), "ijzermangross");
    }
}

//! The smoke suite's local half (`smoke/run.sh --local`): every local source × destination ×
//! mode through the real `stage` binary, on the harness's throwaway PostgreSQL and MariaDB
//! and a SQLite file, with the SAME seed files the Docker stack loads (`docker/seed/*.sql`).
//!
//! Each case stages `smoke_people` (20 typed rows) and `smoke_empty` (0 rows) into a staging
//! schema / database / file of its own, then compares each destination table's row count and
//! checksum (`count|sum(id)|sum(chars of name)|sum(amount*100)|count(born)|count(note)|
//! sum(active)`) and its dates-and-times sums (`sum(days of born)|sum(microseconds of
//! updated_at)`) with `docker/seed/expected.env`. It prints one line per case and
//! `smoke: N passed, N failed`, then fails if any case failed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::common::{stage, write};
use crate::support::{mariadb, pg, unique_name};

const PG_SEED: &str = include_str!("../../docker/seed/postgres.sql");
const MARIADB_SEED: &str = include_str!("../../docker/seed/mariadb.sql");
const SQLITE_SEED: &str = include_str!("../../docker/seed/sqlite.sql");
const EXPECTED: &str = include_str!("../../docker/seed/expected.env");

const TABLES: [&str; 2] = ["smoke_people", "smoke_empty"];

#[cfg(feature = "connectorx")]
const MODES: &[&str] = &["DIRECT", "DUMP", "CONNECTORX"];
#[cfg(not(feature = "connectorx"))]
const MODES: &[&str] = &["DIRECT", "DUMP"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Engine {
    Postgres,
    Mariadb,
    Sqlite,
}

const DBS: [Engine; 3] = [Engine::Postgres, Engine::Mariadb, Engine::Sqlite];

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mariadb => "mariadb",
            Engine::Sqlite => "sqlite",
        }
    }
}

/// Where a table lives: the database and how to name the table in a query.
enum Place {
    /// Database, schema.
    Postgres(String, String),
    /// Database.
    Mariadb(String),
    /// File.
    Sqlite(PathBuf),
}

/// `count|sum(id)|sum(chars of name)|sum(amount*100)|count(born)|count(note)|sum(active)`, per
/// dialect; 0 for the sums of an empty table. `active` may be a boolean or an integer.
fn checksum_sql(db: Engine, table: &str) -> String {
    match db {
        Engine::Postgres => format!(
            "SELECT concat_ws('|', count(*), coalesce(sum(id), 0), \
             coalesce(sum(char_length(name)), 0), coalesce(sum(round(amount * 100)::bigint), 0), \
             count(born), count(note), coalesce(sum(active::int), 0)) FROM {table}"
        ),
        Engine::Mariadb => format!(
            "SELECT CONCAT_WS('|', COUNT(*), COALESCE(SUM(id), 0), \
             COALESCE(SUM(CHAR_LENGTH(name)), 0), COALESCE(CAST(SUM(amount * 100) AS SIGNED), 0), \
             COUNT(born), COUNT(note), COALESCE(SUM(active), 0)) FROM {table}"
        ),
        // Staged decimals are exact text; a REAL is exact enough for cents of 12 digits.
        Engine::Sqlite => format!(
            "SELECT count(*) || '|' || coalesce(sum(id), 0) || '|' || \
             coalesce(sum(length(name)), 0) || '|' || \
             coalesce(sum(CAST(round(CAST(amount AS REAL) * 100) AS INTEGER)), 0) || '|' || \
             count(born) || '|' || count(note) || '|' || coalesce(sum(active), 0) FROM {table}"
        ),
    }
}

/// `sum(days of born since 1970-01-01)|sum(microseconds of updated_at since 1970-01-01)`, per
/// dialect: a time-zone shift or a lost fraction between two databases changes it.
fn times_sql(db: Engine, table: &str) -> String {
    match db {
        Engine::Postgres => format!(
            "SELECT concat_ws('|', coalesce(sum(born - DATE '1970-01-01'), 0), \
             coalesce(sum((extract(epoch FROM updated_at) * 1000000)::bigint), 0)) FROM {table}"
        ),
        Engine::Mariadb => format!(
            "SELECT CONCAT_WS('|', COALESCE(SUM(DATEDIFF(born, '1970-01-01')), 0), \
             COALESCE(SUM(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', updated_at)), 0)) \
             FROM {table}"
        ),
        Engine::Sqlite => format!(
            "SELECT coalesce(sum(CAST(round(julianday(born) - 2440587.5) AS INTEGER)), 0) || '|' || \
             coalesce(sum(CAST(strftime('%s', updated_at) AS INTEGER) * 1000000 \
             + CAST(substr(updated_at, 21, 6) AS INTEGER)), 0) FROM {table}"
        ),
    }
}

fn checksum(place: &Place, table: &str) -> Result<String, String> {
    query_text(place, table, checksum_sql)
}

/// Runs the one-text-value query `make(engine, quoted table)` on the table at `place`.
fn query_text(
    place: &Place,
    table: &str,
    make: fn(Engine, &str) -> String,
) -> Result<String, String> {
    match place {
        Place::Postgres(db, schema) => {
            let sql = make(Engine::Postgres, &format!("\"{schema}\".\"{table}\""));
            pg().client(db)
                .query_one(&sql, &[])
                .map(|r| r.get::<_, String>(0))
                .map_err(|e| format!("{sql}: {e}"))
        }
        Place::Mariadb(db) => {
            let sql = make(Engine::Mariadb, &format!("`{table}`"));
            mariadb()
                .try_query(Some(db), &sql)
                .map(|s| s.trim().to_string())
        }
        Place::Sqlite(file) => {
            let sql = make(Engine::Sqlite, &format!("\"{table}\""));
            let conn = rusqlite::Connection::open(file).map_err(|e| e.to_string())?;
            conn.query_row(&sql, [], |r| r.get::<_, String>(0))
                .map_err(|e| format!("{sql}: {e}"))
        }
    }
}

/// The expected checksum of a table, from `docker/seed/expected.env`.
fn expected(table: &str, what: &str) -> String {
    let key = format!("{}_{what}=", table.to_ascii_uppercase());
    EXPECTED
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("{key} in docker/seed/expected.env"))
        .trim()
        .to_string()
}

/// The seeded sources: one database per server, one SQLite file.
struct Sources {
    pg_db: String,
    maria_db: String,
    sqlite: PathBuf,
}

impl Sources {
    fn seed(dir: &Path) -> Sources {
        let pg_db = pg().create_database("smoke_src");
        pg().client(&pg_db)
            .batch_execute(PG_SEED)
            .expect("docker/seed/postgres.sql loads");
        let maria_db = mariadb().create_database("smoke_src");
        mariadb().query(Some(&maria_db), MARIADB_SEED);
        let sqlite = dir.join("smoke_src.sqlite");
        rusqlite::Connection::open(&sqlite)
            .and_then(|c| c.execute_batch(SQLITE_SEED))
            .expect("docker/seed/sqlite.sql loads");
        Sources {
            pg_db,
            maria_db,
            sqlite,
        }
    }

    fn place(&self, db: Engine) -> Place {
        match db {
            Engine::Postgres => Place::Postgres(self.pg_db.clone(), "public".into()),
            Engine::Mariadb => Place::Mariadb(self.maria_db.clone()),
            Engine::Sqlite => Place::Sqlite(self.sqlite.clone()),
        }
    }

    fn ini_section(&self, db: Engine) -> String {
        match db {
            Engine::Postgres => {
                let s = pg();
                format!(
                    "[database-source]\nSRC_DRIVER = postgres\nSRC_HOST = {}\nSRC_PORT = {}\nSRC_USERNAME = {}\nSRC_PASSWORD = {}\nSRC_DB = {}\n\n",
                    s.host, s.port, s.user, s.password, self.pg_db
                )
            }
            Engine::Mariadb => {
                let s = mariadb();
                format!(
                    "[database-source]\nSRC_DRIVER = mariadb\nSRC_HOST = {}\nSRC_PORT = {}\nSRC_USERNAME = {}\nSRC_PASSWORD = {}\nSRC_DB = {}\n\n",
                    s.host, s.port, s.user, s.password, self.maria_db
                )
            }
            Engine::Sqlite => format!(
                "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = {}\n\n",
                self.sqlite.display()
            ),
        }
    }
}

/// A staging place of its own for one case, and its `[database-destination]` section.
/// PostgreSQL: one shared staging database, a schema per case (created by `stage`);
/// MariaDB: a database per case (created by `stage`); SQLite: a file per case.
fn destination(db: Engine, case: &str, pg_staging_db: &str, dir: &Path) -> (Place, String) {
    let name = unique_name(&format!("stg_{case}"));
    match db {
        Engine::Postgres => {
            let s = pg();
            let ini = format!(
                "[database-destination]\nDST_DRIVER = postgres\nDST_HOST = {}\nDST_PORT = {}\nDST_USERNAME = {}\nDST_PASSWORD = {}\nDST_DB = {pg_staging_db}\nDST_SCHEMA = {name}\n\n",
                s.host, s.port, s.user, s.password
            );
            (Place::Postgres(pg_staging_db.to_string(), name), ini)
        }
        Engine::Mariadb => {
            let s = mariadb();
            let ini = format!(
                "[database-destination]\nDST_DRIVER = mariadb\nDST_HOST = {}\nDST_PORT = {}\nDST_USERNAME = {}\nDST_PASSWORD = {}\nDST_DB = {name}\n\n",
                s.host, s.port, s.user, s.password
            );
            (Place::Mariadb(name), ini)
        }
        Engine::Sqlite => {
            let file = dir.join(format!("{name}.sqlite"));
            let ini = format!(
                "[database-destination]\nDST_DRIVER = sqlite\nDST_DB = {}\n\n",
                file.display()
            );
            (Place::Sqlite(file), ini)
        }
    }
}

/// Every table of `place` has the expected checksum.
fn check_tables(place: &Place) -> Result<(), String> {
    for table in TABLES {
        let got = checksum(place, table)?;
        let want = expected(table, "CHECKSUM");
        if got != want {
            return Err(format!("{table}: checksum {got}, expected {want}"));
        }
        let got = query_text(place, table, times_sql)?;
        let want = expected(table, "TIMES");
        if got != want {
            return Err(format!("{table}: dates and times {got}, expected {want}"));
        }
    }
    Ok(())
}

/// Runs one case; `Err` says why it failed.
fn run_case(
    sources: &Sources,
    src: Engine,
    dst: Engine,
    mode: &str,
    pg_staging_db: &str,
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let case = format!(
        "{}_{}_{}",
        src.name(),
        dst.name(),
        mode.to_ascii_lowercase()
    );
    let (place, dst_section) = destination(dst, &case, pg_staging_db, dir.path());
    let ini = format!(
        "{}{dst_section}[settings]\nSRC_TABLES = {}\nTRANSFER_MODE = {mode}\nSRC_CHUNK_SIZE = 7\nOUTPUT_DIR = out\nCLEANUP_PARQUET_FILES = true\n",
        sources.ini_section(src),
        TABLES.join(",")
    );
    write(dir.path(), "smoke.ini", &ini);
    let r = stage(dir.path(), &["--config", "smoke.ini"], &[]);
    if r.code != 0 {
        let all = r.all();
        let lines: Vec<&str> = all.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        return Err(format!("stage exited {}:\n{tail}", r.code));
    }
    check_tables(&place)
}

/// Runs `f`, turning a panic into an error message.
fn guarded(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panicked".into())),
    }
}

#[test]
fn smoke_every_local_source_destination_and_mode() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources::seed(dir.path());
    let pg_staging_db = pg().create_database("smoke_stg");
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut report = |name: &str, t: Instant, result: Result<(), String>| {
        let secs = t.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                passed += 1;
                println!("PASS {name} ({secs:.1}s)");
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name} ({secs:.1}s): {e}");
            }
        }
    };
    // The seeds themselves: every source holds exactly the expected rows.
    for src in DBS {
        let t = Instant::now();
        let result = guarded(|| check_tables(&sources.place(src)));
        report(&format!("seed {}", src.name()), t, result);
    }
    for src in DBS {
        for dst in DBS {
            for mode in MODES {
                let t = Instant::now();
                let result = guarded(|| run_case(&sources, src, dst, mode, &pg_staging_db));
                let name = format!("{} -> {} {mode}", src.name(), dst.name());
                report(&name, t, result);
            }
        }
    }
    println!("smoke: took {:.1}s", started.elapsed().as_secs_f64());
    println!("smoke: {passed} passed, {failed} failed");
    assert_eq!(
        failed, 0,
        "{failed} smoke case(s) failed; see the FAIL lines"
    );
}

//! End to end on PostgreSQL: PG → Parquet → PG (DUMP) and PG → PG (DIRECT) on the harness's
//! throwaway server, asserting data.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Decimal128Type, Int32Type, TimestampMicrosecondType};

use crate::common::{only_manifest, read_parquet, stage, Run};
use crate::support::{pg, unique_name};

mod big;
mod zoo;

use big::{big_source, shadow_rows, spawn_stage, terminator};
pub(crate) use zoo::zoo_source;
use zoo::{assert_same_rows_as_text, ZOO_COLS};

/// The environment for PG → PG runs as the harness's superuser, plus `extra`.
pub(crate) fn pg_env(src_db: &str, dst_db: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let s = pg();
    let port = s.port.to_string();
    let mut v: Vec<(String, String)> = [
        ("SRC_DRIVER", "postgres"),
        ("SRC_HOST", s.host.as_str()),
        ("SRC_PORT", port.as_str()),
        ("SRC_USERNAME", s.user.as_str()),
        ("SRC_PASSWORD", s.password.as_str()),
        ("SRC_DB", src_db),
        ("DST_DRIVER", "postgres"),
        ("DST_HOST", s.host.as_str()),
        ("DST_PORT", port.as_str()),
        ("DST_USERNAME", s.user.as_str()),
        ("DST_PASSWORD", s.password.as_str()),
        ("DST_DB", dst_db),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, val) in extra {
        v.retain(|(key, _)| key != k);
        v.push((k.to_string(), val.to_string()));
    }
    v
}

pub(crate) fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    stage(dir, args, &refs)
}

/// The first column of every row, as text (NULL as "NULL").
pub(crate) fn texts(db: &str, sql: &str) -> Vec<String> {
    pg().client(db)
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            r.get::<_, Option<String>>(0)
                .unwrap_or_else(|| "NULL".into())
        })
        .collect()
}

pub(crate) fn count(db: &str, table: &str) -> i64 {
    pg().client(db)
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap_or_else(|e| panic!("count {table}: {e}"))
        .get(0)
}

#[test]
fn the_type_zoo_round_trips_through_parquet_and_directly() {
    let dir = tempfile::tempdir().unwrap();
    let src = zoo_source();

    // DUMP into the source database's staging schema: EXCEPT both ways in one database.
    let env = pg_env(
        &src,
        &src,
        &[
            ("SRC_TABLES", "zoo"),
            ("TRANSFER_MODE", "DUMP"),
            ("OUTPUT_DIR", "out"),
            ("CLEANUP_PARQUET_FILES", "false"),
            ("SRC_CHUNK_SIZE", "2"),
        ],
    );
    let r = run(dir.path(), &[], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    for (a, b) in [("public.zoo", "staging.zoo"), ("staging.zoo", "public.zoo")] {
        let diff = texts(
            &src,
            &format!(
                "SELECT id::text FROM (SELECT {ZOO_COLS} FROM {a} EXCEPT SELECT {ZOO_COLS} FROM {b}) x"
            ),
        );
        assert!(diff.is_empty(), "{a} has rows {b} lacks: ids {diff:?}");
    }
    assert_eq!(count(&src, "staging.zoo"), 3);
    assert_same_rows_as_text(&src, &src);
    // The staging types are PostgreSQL's own again.
    let types = texts(
        &src,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 'staging.zoo'::regclass AND attnum > 0 ORDER BY attnum",
    );
    assert_eq!(
        types.join(","),
        "integer,smallint,integer,bigint,numeric(38,0),numeric(12,2),numeric(50,10),numeric,real,double precision,text,text,text,text,bytea,boolean,date,time without time zone,timestamp without time zone,timestamp with time zone,interval,uuid,json,jsonb,inet,cidr,macaddr,time with time zone,text,integer[],text[],numeric(10,2)[],timestamp with time zone[],jsonb[],text,bytea"
    );

    // The Parquet parts, value by value for a few columns.
    let (_, m) = only_manifest(&dir.path().join("out"));
    let parts: Vec<String> = m["tables"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(parts.len(), 2, "3 rows in chunks of 2");
    let mut seen = 0;
    for p in &parts {
        for b in read_parquet(&dir.path().join("out").join(p)) {
            let ids = b.column_by_name("id").unwrap().as_primitive::<Int32Type>();
            let n38 = b
                .column_by_name("n38")
                .unwrap()
                .as_primitive::<Decimal128Type>();
            let tstz = b
                .column_by_name("tstz")
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>();
            let iv = b.column_by_name("iv").unwrap().as_string::<i32>();
            let u = b.column_by_name("u").unwrap().as_fixed_size_binary();
            let nfree = b.column_by_name("nfree").unwrap().as_string::<i32>();
            for i in 0..b.num_rows() {
                seen += 1;
                match ids.value(i) {
                    1 => {
                        assert_eq!(n38.value(i).to_string(), "9".repeat(38));
                        // 2150-06-01 12:00:00.000001 UTC
                        assert_eq!(tstz.value(i), 5_693_371_200_000_001);
                        assert_eq!(iv.value(i), "P1Y2M3DT4H5M6.5S");
                        assert_eq!(hex::encode(u.value(i)), "a0eebc999c0b4ef8bb6d6bb9bd380a11");
                        assert_eq!(
                            nfree.value(i),
                            "123456789012345678901234567890.123456789012345678901234567890"
                        );
                    }
                    2 => {
                        assert_eq!(n38.value(i).to_string(), format!("-{}", "9".repeat(38)));
                        // 1900-01-01 00:00:00+05 = 1899-12-31 19:00 UTC
                        assert_eq!(tstz.value(i), -2_209_006_800_000_000);
                        assert_eq!(iv.value(i), "P-1M-2DT-0.000001S");
                        assert!(u.is_null(i));
                        assert_eq!(nfree.value(i), "NaN");
                    }
                    _ => {
                        assert!(n38.is_null(i) && tstz.is_null(i) && iv.is_null(i) && u.is_null(i));
                    }
                }
            }
        }
    }
    assert_eq!(seen, 3);

    // DIRECT into another database (created by stage), compared in each column's text form.
    let other = unique_name("zoo_dst");
    let env = pg_env(
        &src,
        &other,
        &[("SRC_TABLES", "zoo"), ("SRC_CHUNK_SIZE", "1")],
    );
    let r = run(dir.path(), &[], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_same_rows_as_text(&src, &other);

    // The plan shows each column and notes the unconstrained numeric read as text.
    let r = run(dir.path(), &["plan"], &env);
    assert!(r.stdout.contains("nfree"), "{}", r.all());
    assert!(r.stdout.contains("unconstrained numeric"), "{}", r.all());
    assert!(r.stdout.contains("jsonb"), "{}", r.all());
}

#[test]
fn mixed_case_quoted_and_reserved_names_survive() {
    let dir = tempfile::tempdir().unwrap();
    let src = pg().create_database("names");
    pg().client(&src)
        .batch_execute(
            r#"CREATE SCHEMA "App Data";
               CREATE TABLE "App Data"."Mixed Case" ("Select" int, "user" text, "Quote""d" text, "MiXeD" date);
               INSERT INTO "App Data"."Mixed Case" VALUES (1, 'u', 'q"', '2020-02-29'), (2, NULL, NULL, NULL);
               CREATE TABLE "order" ("group" int, "from" text);
               INSERT INTO "order" VALUES (7, 'x');"#,
        )
        .unwrap();
    let dst = unique_name("names_dst");
    for mode in ["DIRECT", "DUMP"] {
        let env = pg_env(
            &src,
            &dst,
            &[
                ("SRC_TABLES", "App Data.Mixed Case,order"),
                ("TRANSFER_MODE", mode),
                ("OUTPUT_DIR", "out"),
                ("DST_SCHEMA", "Stage Area"),
            ],
        );
        let r = run(dir.path(), &[], &env);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert_eq!(
            texts(
                &dst,
                r#"SELECT concat_ws('|', "select", "user", "quote""d", "mixed") FROM "Stage Area"."mixed case" ORDER BY "select""#
            ),
            ["1|u|q\"|2020-02-29", "2"]
        );
        assert_eq!(
            texts(
                &dst,
                r#"SELECT concat_ws('|', "group", "from") FROM "Stage Area"."order""#
            ),
            ["7|x"]
        );
    }
}

pub(crate) fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn readers_see_the_old_rows_until_the_swap() {
    let src = big_source("swap_src", 20_000);
    let dst = pg().create_database("swap_dst");
    pg().client(&dst)
        .batch_execute(
            "CREATE SCHEMA staging; CREATE TABLE staging.t (id bigint); INSERT INTO staging.t VALUES (1), (2), (3);",
        )
        .unwrap();
    // A reader holds ACCESS SHARE on staging.t in an open transaction.
    let mut reader = pg().client(&dst);
    let mut tx = reader.transaction().unwrap();
    let old: i64 = tx
        .query_one("SELECT count(*) FROM staging.t", &[])
        .unwrap()
        .get(0);
    assert_eq!(old, 3);
    let env = pg_env(
        &src,
        &dst,
        &[("SRC_TABLES", "t"), ("SRC_CHUNK_SIZE", "1000")],
    );
    let handle = spawn_stage(env, vec![]);
    // The shadow fills completely, then the swap waits for the reader's lock.
    wait_for(
        "the loader to wait for the reader's lock",
        Duration::from_secs(120),
        || {
            let waiting: i64 = pg()
            .client(&dst)
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'stage' AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
            waiting > 0
        },
    );
    assert_eq!(shadow_rows(&dst), 20_000);
    let still: i64 = tx
        .query_one("SELECT count(*) FROM staging.t", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        still, 3,
        "the reader sees the old rows while the new table waits"
    );
    tx.commit().unwrap();
    let r = handle.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(count(&dst, "staging.t"), 20_000);
    assert_eq!(shadow_rows(&dst), -1, "the shadow became the table");
}

#[test]
fn a_terminated_connection_is_retried_and_loads_each_row_once() {
    let rows = 100_000;
    let src = big_source("kill_src", rows);
    let dst = pg().create_database("kill_dst");
    let env = pg_env(
        &src,
        &dst,
        &[
            ("SRC_TABLES", "t"),
            ("SRC_CHUNK_SIZE", "500"),
            ("DIRECT_BACKOFF_BASE_SECONDS", "0.05"),
            ("DIRECT_MAX_RETRIES", "5"),
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = terminator(dst.clone(), false, stop.clone(), kills.clone());
    let r = spawn_stage(env, vec![]).join().unwrap();
    stop.store(true, Ordering::SeqCst);
    killer.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        kills.load(Ordering::SeqCst) > 0,
        "the load ended before a backend was terminated"
    );
    assert!(r.all().contains("retrying"), "{}", r.all());
    let check = texts(
        &dst,
        "SELECT concat_ws('|', count(*), count(DISTINCT id), sum(id)) FROM staging.t",
    );
    assert_eq!(check, [format!("{rows}|{rows}|{}", rows * (rows + 1) / 2)]);
}

#[test]
fn a_failed_dump_load_keeps_the_old_table_and_the_manifest_loads_later() {
    let rows = 60_000;
    let src = big_source("dumpkill_src", rows);
    let dst = pg().create_database("dumpkill_dst");
    pg().client(&dst)
        .batch_execute("CREATE SCHEMA staging; CREATE TABLE staging.t (id bigint); INSERT INTO staging.t VALUES (1), (2);")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_s = out.to_string_lossy().into_owned();
    let env = pg_env(
        &src,
        &dst,
        &[
            ("SRC_TABLES", "t"),
            ("SRC_CHUNK_SIZE", "500"),
            ("TRANSFER_MODE", "DUMP"),
            ("OUTPUT_DIR", &out_s),
            ("DIRECT_MAX_RETRIES", "0"),
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = terminator(dst.clone(), true, stop.clone(), kills.clone());
    let r = run(dir.path(), &[], &env);
    stop.store(true, Ordering::SeqCst);
    killer.join().unwrap();
    assert!(
        kills.load(Ordering::SeqCst) > 0,
        "no backend was terminated: {}",
        r.all()
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(
        count(&dst, "staging.t"),
        2,
        "the old staging table is intact"
    );
    let (manifest, _) = only_manifest(&out);
    let r = run(
        dir.path(),
        &["load", "--manifest", manifest.to_str().unwrap()],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(count(&dst, "staging.t"), rows);
    assert_eq!(shadow_rows(&dst), -1);
    let r = run(
        dir.path(),
        &["verify", "--manifest", manifest.to_str().unwrap()],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn a_missing_destination_database_is_created() {
    let src = big_source("mkdb_src", 10);
    let dst = unique_name("Mk Db");
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &[], &pg_env(&src, &dst, &[("SRC_TABLES", "t")]));
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(count(&dst, "staging.t"), 10);
}

#[test]
fn a_password_with_percent_semicolon_and_quote_works_and_is_never_shown() {
    let password = r#"pa%ss;wo"rd'x"#;
    let role = unique_name("odd_pw");
    pg().client("postgres")
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{}'",
            password.replace('\'', "''")
        ))
        .unwrap();
    let src = big_source("pw_src", 5);
    let dst = unique_name("pw_dst");
    let dir = tempfile::tempdir().unwrap();
    let env = pg_env(
        &src,
        &dst,
        &[
            ("SRC_TABLES", "t"),
            ("SRC_USERNAME", &role),
            ("SRC_PASSWORD", password),
            ("DST_USERNAME", &role),
            ("DST_PASSWORD", password),
            ("LOG_LEVEL", "DEBUG"),
        ],
    );
    for args in [&["check"][..], &[][..]] {
        let r = run(dir.path(), args, &env);
        assert_eq!(r.code, 0, "{args:?}: {}", r.all());
        assert!(!r.all().contains(password), "the password was shown");
        assert!(!r.all().contains("pa%ss"), "part of the password was shown");
    }
    assert_eq!(count(&dst, "staging.t"), 5);
    // A wrong password: exit 3, still no password.
    let mut bad = env.clone();
    bad.retain(|(k, _)| k != "SRC_PASSWORD");
    bad.push(("SRC_PASSWORD".into(), "wrong%;\"".into()));
    let r = run(dir.path(), &["check"], &bad);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(!r.all().contains("wrong%;"), "{}", r.all());
}

#[test]
fn nul_characters_from_sqlite_are_stripped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    rusqlite::Connection::open(&src)
        .unwrap()
        .execute_batch("CREATE TABLE n (id INTEGER, s TEXT); INSERT INTO n VALUES (1, 'a' || char(0) || 'b'), (2, 'ok');")
        .unwrap();
    let dst = unique_name("nul_dst");
    let src_s = src.to_string_lossy().into_owned();
    let env = pg_env(
        "unused",
        &dst,
        &[
            ("SRC_DRIVER", "sqlite"),
            ("SRC_DB", &src_s),
            ("SRC_TABLES", "n"),
        ],
    );
    let r = run(dir.path(), &[], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        texts(&dst, "SELECT s FROM staging.n ORDER BY id"),
        ["ab", "ok"]
    );
    assert!(r.all().contains("NUL"), "{}", r.all());
}

#[test]
fn truncate_and_append_load_in_one_transaction() {
    let src = big_source("modes_src", 1_000);
    let dst = pg().create_database("modes_dst");
    let dir = tempfile::tempdir().unwrap();
    for (mode, want) in [
        ("append", 1_000),
        ("append", 2_000),
        ("truncate", 1_000),
        ("replace", 1_000),
    ] {
        let env = pg_env(
            &src,
            &dst,
            &[
                ("SRC_TABLES", "t"),
                ("WRITE_MODE", mode),
                ("SRC_CHUNK_SIZE", "300"),
            ],
        );
        let r = run(dir.path(), &[], &env);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert_eq!(count(&dst, "staging.t"), want, "{mode}");
    }
    // A staging table whose columns differ is kept as it is under append.
    pg().client(&dst)
        .batch_execute("DROP TABLE staging.t; CREATE TABLE staging.t (other int); INSERT INTO staging.t VALUES (1);")
        .unwrap();
    let env = pg_env(&src, &dst, &[("SRC_TABLES", "t"), ("WRITE_MODE", "append")]);
    let r = run(dir.path(), &[], &env);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all()
            .contains("staging table staging.t has columns (other) but the source now has")
            && r.all().contains("use WRITE_MODE=replace to rebuild it"),
        "{}",
        r.all()
    );
    assert_eq!(count(&dst, "staging.t"), 1);
}

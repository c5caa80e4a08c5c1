//! Timeouts end hangs on PostgreSQL: a source table locked by another session, a slow
//! source read, a staging table a reader holds during the swap, and a server that never
//! answers. Each fails its table (or the run) naming the key to raise, in about the time
//! set, while the run's other tables are staged.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::Run;
use crate::pg_e2e::{pg_env, run};
use crate::support::pg;

fn count(db: &str, sql: &str) -> i64 {
    pg().client(db)
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// A database with tables `t1`, `t2`, `t3` (`tN` has N × 100 rows).
fn three_tables(prefix: &str) -> String {
    let db = pg().create_database(prefix);
    let mut sql = String::new();
    for n in 1..=3 {
        sql.push_str(&format!(
            "CREATE TABLE t{n} (id int PRIMARY KEY, name text, amount numeric(10,2));
             INSERT INTO t{n} SELECT g, 't{n} row ' || g, g / 4.0 FROM generate_series(1, {}) g;",
            n * 100
        ));
    }
    pg().client(&db).batch_execute(&sql).unwrap();
    db
}

/// `staging.<table>` in `db` holds exactly the rows of `public.<table>`.
fn assert_staged(db: &str, table: &str) {
    let n = count(db, &format!("SELECT count(*) FROM public.{table}"));
    assert!(n > 0);
    assert_eq!(
        count(db, &format!("SELECT count(*) FROM staging.{table}")),
        n
    );
    for (x, y) in [("public", "staging"), ("staging", "public")] {
        let extra = count(
            db,
            &format!(
                "SELECT count(*) FROM (SELECT * FROM {x}.{table} EXCEPT SELECT * FROM {y}.{table}) d"
            ),
        );
        assert_eq!(extra, 0, "{x}.{table} has rows {y}.{table} lacks");
    }
}

fn exists(db: &str, qualified: &str) -> bool {
    count(
        db,
        &format!(
            "SELECT count(*) FROM (SELECT to_regclass('{qualified}') r) x WHERE r IS NOT NULL"
        ),
    ) == 1
}

/// The run summary's line for the failed table: it names `key` and `table`.
fn failure_line<'a>(r: &'a Run, key: &str, table: &str) -> &'a str {
    let line = r
        .stderr
        .lines()
        .chain(r.stdout.lines())
        .find(|l| l.contains("FAILED") && l.contains(key))
        .unwrap_or_else(|| panic!("no line names {key}:\n{}", r.all()));
    assert!(line.contains(table), "{line}");
    line
}

#[test]
fn a_source_table_locked_by_another_session_fails_after_the_lock_timeout() {
    for mode in ["DIRECT", "DUMP"] {
        let db = three_tables("lock_src");
        let mut holder = pg().client(&db);
        // Should the run not time out, the server ends the holder after 30 s: the test
        // then fails on the time taken instead of hanging.
        holder
            .batch_execute("SET idle_in_transaction_session_timeout = '30s'")
            .unwrap();
        let mut tx = holder.transaction().unwrap();
        tx.batch_execute("LOCK TABLE t2 IN ACCESS EXCLUSIVE MODE")
            .unwrap();
        let env = pg_env(
            &db,
            &db,
            &[
                ("SRC_TABLES", "t1,t2,t3"),
                ("TRANSFER_MODE", mode),
                ("OUTPUT_DIR", "out"),
                ("LOCK_TIMEOUT_SECONDS", "1"),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let r = run(dir.path(), &[], &env);
        let took = started.elapsed();
        tx.rollback().unwrap();
        assert_eq!(r.code, 1, "{mode}: {}", r.all());
        let line = failure_line(
            &r,
            "(timed out: raise [settings] LOCK_TIMEOUT_SECONDS)",
            "t2",
        );
        assert!(
            line.contains("canceling statement due to lock timeout (SQLSTATE 55P03)"),
            "{line}"
        );
        assert!(
            took < Duration::from_secs(20),
            "{mode}: took {took:?}, the default lock timeout is 60 s"
        );
        assert_staged(&db, "t1");
        assert_staged(&db, "t3");
        assert!(!exists(&db, "staging.t2"));
    }
}

#[test]
fn a_slow_source_read_fails_after_the_statement_timeout() {
    let db = three_tables("stmt_src");
    // Every read of the view sleeps 30 s first.
    pg().client(&db)
        .batch_execute("CREATE VIEW slow AS SELECT t1.* FROM t1 CROSS JOIN pg_sleep(30) s")
        .unwrap();
    for mode in ["DIRECT", "DUMP"] {
        let env = pg_env(
            &db,
            &db,
            &[
                ("SRC_TABLES", "t1,slow,t3"),
                ("TRANSFER_MODE", mode),
                ("OUTPUT_DIR", "out"),
                ("STATEMENT_TIMEOUT_SECONDS", "1"),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let r = run(dir.path(), &[], &env);
        let took = started.elapsed();
        assert_eq!(r.code, 1, "{mode}: {}", r.all());
        let line = failure_line(
            &r,
            "(timed out: raise [settings] STATEMENT_TIMEOUT_SECONDS)",
            "slow",
        );
        assert!(
            line.contains("canceling statement due to statement timeout (SQLSTATE 57014)"),
            "{line}"
        );
        assert!(took < Duration::from_secs(20), "{mode}: took {took:?}");
        assert_staged(&db, "t1");
        assert_staged(&db, "t3");
        assert!(!exists(&db, "staging.slow"));
    }
}

#[test]
fn a_reader_holding_the_staging_table_fails_the_swap_after_the_lock_timeout() {
    for mode in ["DIRECT", "DUMP"] {
        let db = three_tables("lock_dst");
        pg().client(&db)
            .batch_execute(
                "CREATE SCHEMA staging; CREATE TABLE staging.t2 (id int, old text);
                 INSERT INTO staging.t2 VALUES (1, 'old'), (2, 'old'), (3, 'old');",
            )
            .unwrap();
        // A reader keeps ACCESS SHARE on staging.t2 in an open transaction.
        let mut reader = pg().client(&db);
        // Should the swap not time out, the server ends the reader after 30 s.
        reader
            .batch_execute("SET idle_in_transaction_session_timeout = '30s'")
            .unwrap();
        let mut tx = reader.transaction().unwrap();
        let seen: i64 = tx
            .query_one("SELECT count(*) FROM staging.t2", &[])
            .unwrap()
            .get(0);
        assert_eq!(seen, 3);
        let env = pg_env(
            &db,
            &db,
            &[
                ("SRC_TABLES", "t1,t2,t3"),
                ("TRANSFER_MODE", mode),
                ("OUTPUT_DIR", "out"),
                ("LOCK_TIMEOUT_SECONDS", "1"),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let r = run(dir.path(), &[], &env);
        let took = started.elapsed();
        let still: i64 = tx
            .query_one("SELECT count(*) FROM staging.t2", &[])
            .unwrap()
            .get(0);
        tx.commit().unwrap();
        assert_eq!(r.code, 1, "{mode}: {}", r.all());
        let line = failure_line(
            &r,
            "(timed out: raise [settings] LOCK_TIMEOUT_SECONDS)",
            "staging table staging.t2",
        );
        assert!(line.contains("(SQLSTATE 55P03)"), "{line}");
        assert!(took < Duration::from_secs(20), "{mode}: took {took:?}");
        assert_eq!(still, 3, "the reader saw the old table throughout");
        // The old staging table is intact; the run's shadow is gone.
        assert_eq!(
            count(&db, "SELECT count(*) FROM staging.t2 WHERE old = 'old'"),
            3
        );
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'staging' AND c.relname LIKE 't2\\_\\_stage\\_%'"
            ),
            0,
            "no helper table left"
        );
        assert_staged(&db, "t1");
        assert_staged(&db, "t3");
    }
}

/// The staging table's advisory lock is taken with `pg_try_advisory_lock` every 250 ms up
/// to `LOCK_WAIT_SECONDS`: a shorter `LOCK_TIMEOUT_SECONDS` does not cut that wait.
#[test]
fn the_lock_timeout_does_not_cut_the_wait_for_another_runs_lock() {
    let db = three_tables("lock_wait");
    let digest = <sha2::Sha256 as sha2::Digest>::digest("stage:staging.t1");
    let key = i64::from_be_bytes(digest[..8].try_into().unwrap());
    let mut other_run = pg().client(&db);
    other_run
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2500));
        other_run
            .execute("SELECT pg_advisory_unlock($1)", &[&key])
            .unwrap();
    });
    let env = pg_env(
        &db,
        &db,
        &[
            ("SRC_TABLES", "t1"),
            ("LOCK_WAIT_SECONDS", "20"),
            ("LOCK_TIMEOUT_SECONDS", "1"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let r = run(dir.path(), &[], &env);
    let took = started.elapsed();
    releaser.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        took >= Duration::from_millis(2500),
        "the run waited for the other run's lock: {took:?}"
    );
    assert_staged(&db, "t1");
}

#[test]
fn a_server_that_never_answers_fails_after_the_connect_timeout() {
    // A listener that accepts and never answers; it hangs up after 15 s, so a client
    // without a connect timeout fails the test on time instead of hanging it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        for stream in silent.incoming() {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(15));
                drop(stream);
            });
        }
    });
    let db = three_tables("silent");
    for (side, key) in [
        ("source", "SRC_CONNECT_TIMEOUT_SECONDS"),
        ("destination", "DST_CONNECT_TIMEOUT_SECONDS"),
    ] {
        let prefix = &key[..3];
        let port_key = format!("{prefix}_PORT");
        let env = pg_env(
            &db,
            &db,
            &[
                ("SRC_TABLES", "t1"),
                (port_key.as_str(), port.as_str()),
                (key, "1"),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let r = run(dir.path(), &[], &env);
        let took = started.elapsed();
        assert_eq!(r.code, 3, "{side}: {}", r.all());
        assert!(
            r.all()
                .contains(&format!("cannot connect to the {side} database"))
                && r.all()
                    .contains(&format!("(timed out: raise [database-{side}] {key})")),
            "{side}: {}",
            r.all()
        );
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(10),
            "{side}: took {took:?}"
        );
    }
    assert!(!exists(&db, "staging.t1"));
}

//! `PARALLEL_TABLES`: eight PostgreSQL tables staged four at a time, each equal to its
//! source, one missing table failing alone; and proof that tables really run at once (the
//! others finish while one is held at its first batch).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::pg_e2e::{pg_env, run};
use crate::support::pg;

/// Eight tables t1..t8 of different sizes (t8 the largest) in a new database.
fn eight_tables() -> String {
    let db = pg().create_database("par");
    let mut client = pg().client(&db);
    for i in 1..=8 {
        client
            .batch_execute(&format!(
                "CREATE TABLE t{i} AS SELECT g AS id, md5(g::text) AS v, g * 0.5 AS x FROM generate_series(1, {}) g; ANALYZE t{i};",
                i * 3000
            ))
            .unwrap();
    }
    db
}

fn differences(db: &str, table: &str) -> i64 {
    pg().client(db)
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM (SELECT * FROM public.{table} EXCEPT ALL SELECT * FROM staging.{table}) a)
                      + (SELECT count(*) FROM (SELECT * FROM staging.{table} EXCEPT ALL SELECT * FROM public.{table}) b)"
            ),
            &[],
        )
        .unwrap()
        .get(0)
}

const TABLES: &str = "t1, t2, t3, missing, t4, t5, t6, t7, t8";

#[test]
fn eight_tables_four_at_a_time_each_equal_and_one_failing_alone() {
    let db = eight_tables();
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let env = pg_env(
            &db,
            &db,
            &[
                ("SRC_TABLES", TABLES),
                ("TRANSFER_MODE", mode),
                ("PARALLEL_TABLES", "4"),
                ("SRC_CHUNK_SIZE", "2000"),
                ("OUTPUT_DIR", out.to_str().unwrap()),
            ],
        );
        let r = run(dir.path(), &[], &env);
        assert_eq!(r.code, 1, "{mode}: {}", r.all());
        assert!(r.stdout.contains("FAILED  missing"), "{mode}: {}", r.stdout);
        assert!(
            r.stdout.contains("8 of 9 tables staged, 1 failed"),
            "{mode}: {}",
            r.stdout
        );
        for i in 1..=8 {
            let t = format!("t{i}");
            assert_eq!(differences(&db, &t), 0, "{mode} {t}");
            let n: i64 = pg()
                .client(&db)
                .query_one(&format!("SELECT count(*) FROM staging.{t}"), &[])
                .unwrap()
                .get(0);
            assert_eq!(n, i64::from(i) * 3000, "{mode} {t}");
        }
        // The report lists tables in SRC_TABLES order whatever order they ran in.
        let order: Vec<&str> = r
            .stdout
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|t| t.starts_with('t') || t.starts_with("missing"))
            .collect();
        assert_eq!(
            order,
            ["t1:", "t2:", "t3:", "missing:", "t4:", "t5:", "t6:", "t7:", "t8:"],
            "{mode}"
        );
    }
}

#[test]
fn while_one_table_is_held_the_others_are_staged() {
    let db = eight_tables();
    let dir = tempfile::tempdir().unwrap();
    let resume = dir.path().join("resume");
    let env = pg_env(
        &db,
        &db,
        &[
            ("SRC_TABLES", "t1, t2, t3, t4, t5"),
            ("TRANSFER_MODE", "DIRECT"),
            ("PARALLEL_TABLES", "2"),
            ("STAGE_FAULT_PAUSE", "read:t5"),
            ("STAGE_FAULT_RESUME", resume.to_str().unwrap()),
        ],
    );
    let mut child = Command::new(crate::common::stage_bin())
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "stage ended before pausing"
        );
        if line.contains("paused at read:t5") {
            break;
        }
    }
    // t5 (the largest, so started first) is held at its first batch; the other worker
    // stages t4..t1 meanwhile.
    let deadline = Instant::now() + Duration::from_secs(60);
    let staged = |t: &str| {
        pg().client(&db)
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'staging' AND tablename = $1",
                &[&t],
            )
            .unwrap()
            .get::<_, i64>(0)
            == 1
    };
    while !["t1", "t2", "t3", "t4"].iter().all(|t| staged(t)) {
        assert!(
            Instant::now() < deadline,
            "the other tables were not staged while t5 was held"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!staged("t5"));
    std::fs::write(&resume, "").unwrap();
    let std::io::Result::Ok(status) = child.wait() else {
        panic!()
    };
    std::io::copy(&mut stderr, &mut std::io::sink()).unwrap();
    assert!(status.success(), "{status}");
    for t in ["t1", "t2", "t3", "t4", "t5"] {
        assert_eq!(differences(&db, t), 0, "{t}");
    }
}

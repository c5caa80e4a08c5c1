//! A run split over processes (`stage plan --shards`, `stage run --shard I/N --no-load`,
//! `stage commit`) on the throwaway PostgreSQL server and a local archive: every row read
//! exactly once, staging equal to the source, the commit's waits, races and refusals.
//!
//! The 2M-row table is scaled to 120,000 rows with `SHARD_MIN_ROWS = 25000` (five
//! key ranges and a NULL unit): the split is the same, and the suite stays fast.

use std::path::Path;
use std::thread;

use crate::common::{spawn, stage, write, Run};
use crate::support::pg;

const TABLES: [&str; 6] = ["big", "t1", "t2", "t3", "t4", "t5"];

/// Source tables in a new database: `big` (120,000 rows, 600 with a NULL key) and five
/// small ones of different sizes.
fn source() -> String {
    let db = pg().create_database("shards");
    let mut sql = String::from(
        "CREATE TABLE big (id bigint PRIMARY KEY, k integer, v text);
         INSERT INTO big SELECT g, CASE WHEN g % 200 = 0 THEN NULL ELSE g END, 'v' || g
           FROM generate_series(1, 120000) g;
         CREATE SCHEMA staging;",
    );
    for (i, t) in TABLES[1..].iter().enumerate() {
        sql.push_str(&format!(
            "CREATE TABLE {t} AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, {}) g;",
            (i + 1) * 1000
        ));
    }
    pg().client(&db).batch_execute(&sql).unwrap();
    db
}

fn ini(dir: &Path, db: &str, extra: &str) -> String {
    ini_at(dir, db, &dir.join("archive").display().to_string(), extra)
}

fn ini_at(dir: &Path, db: &str, out: &str, extra: &str) -> String {
    let s = pg();
    let path = write(
        dir,
        "nightly.ini",
        &format!(
            "[database-source]\nSRC_DRIVER = postgres\nSRC_HOST = {h}\nSRC_PORT = {p}\nSRC_USERNAME = {u}\nSRC_PASSWORD = {pw}\nSRC_DB = {db}\n\
             [database-destination]\nDST_DRIVER = postgres\nDST_HOST = {h}\nDST_PORT = {p}\nDST_USERNAME = {u}\nDST_PASSWORD = {pw}\nDST_DB = {db}\nDST_SCHEMA = staging\n\
             [settings]\nSRC_TABLES = {tables}\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = {out}\nSHARD_MIN_ROWS = 25000\nSRC_CHUNK_SIZE = 10000\n{extra}\n\
             [table:big]\nPARTITION_COLUMN = k\n",
            h = s.host,
            p = s.port,
            u = s.user,
            pw = s.password,
            tables = TABLES.join(", "),
        ),
    );
    path.display().to_string()
}

fn run(dir: &Path, args: &[&str]) -> Run {
    stage(dir, args, &[])
}

fn diff(db: &str, a: &str, b: &str) -> i64 {
    pg().client(db)
        .query_one(
            &format!("SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) x"),
            &[],
        )
        .unwrap()
        .get(0)
}

fn assert_staged(db: &str) {
    for t in TABLES {
        assert_eq!(
            diff(db, &format!("public.{t}"), &format!("staging.{t}")),
            0,
            "{t}: rows missing from staging"
        );
        assert_eq!(
            diff(db, &format!("staging.{t}"), &format!("public.{t}")),
            0,
            "{t}: rows staging has that the source has not"
        );
    }
}

fn manifest_rows(dir: &Path, run_id: &str) -> Vec<(String, u64)> {
    let path = dir
        .join("archive/_manifests")
        .join(format!("{run_id}.json"));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut rows: Vec<(String, u64)> = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["source_table"].as_str().unwrap().to_string(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn shard(dir: &Path, cfg: &str, run_id: &str, spec: &str) -> Run {
    run(
        dir,
        &[
            "run",
            "--config",
            cfg,
            "--run-id",
            run_id,
            "--shard",
            spec,
            "--no-load",
        ],
    )
}

#[test]
fn three_shards_then_commit_stage_every_row_once() {
    let db = source();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cfg = ini(dir, &db, "");
    let r = run(
        dir,
        &[
            "plan", "--config", &cfg, "--shards", "3", "--run-id", "night1",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("k IS NULL"), "{}", r.stdout);
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("archive/_runs/night1/plan.json")).unwrap())
            .unwrap();
    let big_units = plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["table"] == "big")
        .count();
    assert_eq!(big_units, 6, "five key ranges and the NULL unit: {plan}");
    // The same plan again (another pod of the Job) reuses it.
    let again = run(
        dir,
        &[
            "plan", "--config", &cfg, "--shards", "3", "--run-id", "night1",
        ],
    );
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stdout.contains("reused"), "{}", again.stdout);

    let handles: Vec<_> = (0..3)
        .map(|i| {
            let dir = dir.to_path_buf();
            let cfg = cfg.clone();
            thread::spawn(move || shard(&dir, &cfg, "night1", &format!("{i}/3")))
        })
        .collect();
    for h in handles {
        let r = h.join().unwrap();
        assert_eq!(r.code, 0, "{}", r.all());
    }
    let r = run(dir, &["commit", "--config", &cfg, "--run-id", "night1"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_staged(&db);
    // Every row read exactly once: the manifest says what a single-process run says.
    let sharded = manifest_rows(dir, "night1");
    let r = run(dir, &["dump", "--config", &cfg]);
    assert_eq!(r.code, 0, "{}", r.all());
    let single_id = std::fs::read_dir(dir.join("archive/_manifests"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".json")
                .to_string()
        })
        .find(|n| n != "night1")
        .unwrap();
    assert_eq!(sharded, manifest_rows(dir, &single_id));
    assert_eq!(sharded.iter().find(|(t, _)| t == "big").unwrap().1, 120_000);
    // A second commit finds the run committed: exit 4, nothing done.
    let r = run(dir, &["commit", "--config", &cfg, "--run-id", "night1"]);
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(r.stderr.contains("already committed"), "{}", r.stderr);
}

#[test]
fn commit_waits_for_missing_shards_then_times_out_with_its_code() {
    let db = source();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cfg = ini(dir, &db, "");
    assert_eq!(
        run(
            dir,
            &[
                "plan",
                "--config",
                &cfg,
                "--shards",
                "2",
                "--run-key",
                "job-a"
            ]
        )
        .code,
        0
    );
    assert_eq!(shard(dir, &cfg, "job-a", "0/2").code, 0);
    let r = run(
        dir,
        &[
            "commit",
            "--config",
            &cfg,
            "--run-key",
            "job-a",
            "--wait",
            "2",
        ],
    );
    assert_eq!(r.code, 5, "{}", r.all());
    assert!(r.stderr.contains("shard(s) 1 of 2"), "{}", r.stderr);
    assert!(!dir.join("archive/_manifests/job-a.json").exists());
    // The index from the orchestrator's environment, as in a Kubernetes Indexed Job.
    let r = stage(
        dir,
        &[
            "run",
            "--config",
            &cfg,
            "--run-key",
            "job-a",
            "--shard",
            "2",
            "--no-load",
        ],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    // Two committers at once: one manifest, one load; the other stops with exit 4.
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let dir = dir.to_path_buf();
            let cfg = cfg.clone();
            thread::spawn(move || {
                run(
                    &dir,
                    &[
                        "commit",
                        "--config",
                        &cfg,
                        "--run-key",
                        "job-a",
                        "--wait",
                        "30",
                    ],
                )
            })
        })
        .collect();
    let mut codes: Vec<i32> = handles
        .into_iter()
        .map(|h| h.join().unwrap().code)
        .collect();
    codes.sort();
    assert_eq!(codes, [0, 4]);
    assert_staged(&db);
    let loads: i64 = pg()
        .client(&db)
        .query_one(
            "SELECT count(*) FROM staging.etl_runs WHERE run_id = 'job-a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(loads, 1);
}

#[test]
fn a_plan_for_a_changed_configuration_is_refused() {
    let db = source();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cfg = ini(dir, &db, "");
    assert_eq!(
        run(
            dir,
            &["plan", "--config", &cfg, "--shards", "2", "--run-id", "r1"]
        )
        .code,
        0
    );
    let r = run(
        dir,
        &["plan", "--config", &cfg, "--shards", "3", "--run-id", "r1"],
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("different configuration"), "{}", r.stderr);
    let changed = ini(dir, &db, "SRC_CHUNK_SIZE = 500");
    let r = shard(dir, &changed, "r1", "0/2");
    assert_eq!(r.code, 2, "{}", r.all());
}

#[test]
fn a_shard_killed_mid_part_and_run_again_leaves_no_duplicate() {
    let db = source();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cfg = ini(dir, &db, "");
    assert_eq!(
        run(
            dir,
            &["plan", "--config", &cfg, "--shards", "2", "--run-id", "k1"]
        )
        .code,
        0
    );
    let mut first = spawn(
        dir,
        &[
            "run",
            "--config",
            &cfg,
            "--run-id",
            "k1",
            "--shard",
            "0/2",
            "--no-load",
        ],
        &[("STAGE_FAULT_PAUSE", "read")],
    );
    first.wait_paused("read");
    first.signal("KILL");
    let (code, _) = first.finish();
    assert_eq!(code, 137);
    assert!(!dir.join("archive/_runs/k1/shards/0.json").exists());
    for spec in ["0/2", "1/2"] {
        let r = shard(dir, &cfg, "k1", spec);
        assert_eq!(r.code, 0, "{}", r.all());
    }
    let r = run(dir, &["commit", "--config", &cfg, "--run-id", "k1"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_staged(&db);
    assert_eq!(
        manifest_rows(dir, "k1").iter().map(|(_, n)| n).sum::<u64>(),
        120_000 + 15_000
    );
}

/// The same over the S3 server: plan, shard files, manifest and parts all in the bucket.
#[cfg(feature = "cloud")]
#[test]
fn three_shards_on_s3_commit_once_and_stage_every_row() {
    let server = crate::support::s3::s3();
    let bucket = server.bucket("shards");
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let db = source();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cfg = ini_at(dir, &db, &format!("s3://{bucket}/bronze"), "");
    let r = stage(
        dir,
        &["plan", "--config", &cfg, "--shards", "3", "--run-id", "s1"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let dir = dir.to_path_buf();
            let cfg = cfg.clone();
            let env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            thread::spawn(move || {
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let spec = format!("{i}/3");
                stage(
                    &dir,
                    &[
                        "run",
                        "--config",
                        &cfg,
                        "--run-id",
                        "s1",
                        "--shard",
                        &spec,
                        "--no-load",
                    ],
                    &env,
                )
            })
        })
        .collect();
    for h in handles {
        let r = h.join().unwrap();
        assert_eq!(r.code, 0, "{}", r.all());
    }
    let r = stage(dir, &["commit", "--config", &cfg, "--run-id", "s1"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_staged(&db);
    let keys = server.keys(&bucket);
    for k in [
        "bronze/_runs/s1/plan.json",
        "bronze/_runs/s1/shards/0.json",
        "bronze/_runs/s1/shards/2.json",
        "bronze/_manifests/s1.json",
    ] {
        assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
    }
    let r = stage(dir, &["commit", "--config", &cfg, "--run-id", "s1"], &env);
    assert_eq!(r.code, 4, "{}", r.all());
}

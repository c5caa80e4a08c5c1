//! The run log written by real runs of the binary (SQLite and PostgreSQL staging): after a
//! night with one failing table `etl_runs`, `etl_logs` and `sync_metadata` hold exactly what
//! happened; a run killed with SIGKILL is marked `interrupted` by the next.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{only_manifest, sqlite_ini, sqlite_rows, stage, write};
use crate::pg_e2e::{pg_env, run};
use crate::support::pg;

fn source(dir: &Path) -> String {
    let db = dir.join("src.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE good (id INTEGER NOT NULL, v TEXT);
         INSERT INTO good VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    )
    .unwrap();
    db.display().to_string()
}

fn text(rows: Vec<Vec<String>>) -> Vec<String> {
    rows.into_iter().map(|r| r.join("|")).collect()
}

#[test]
fn a_night_with_one_failing_table_leaves_exactly_these_rows_on_sqlite() {
    for mode in ["DIRECT", "DUMP"] {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let src = source(dir);
        let dst = dir.join("dst.sqlite");
        let ini = sqlite_ini(
            &src,
            &dst.display().to_string(),
            &format!(
                "SRC_TABLES = good, missing\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = {}\n",
                dir.join("out").display()
            ),
        );
        let cfg = write(dir, "nightly.ini", &ini);
        let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
        assert_eq!(r.code, 1, "{mode}: {}", r.all());
        let runs = text(sqlite_rows(
            &dst,
            "SELECT status, exit_code, mode, tables_total, tables_ok, tables_failed, rows_total, ended_at IS NOT NULL, pid > 0 FROM etl_runs",
        ));
        assert_eq!(
            runs,
            [format!(
                "TEXT:partial|INTEGER:1|TEXT:{mode}|INTEGER:2|INTEGER:1|INTEGER:1|INTEGER:3|INTEGER:1|INTEGER:1"
            )],
            "{mode}"
        );
        let run_id = &sqlite_rows(&dst, "SELECT run_id FROM etl_runs")[0][0];
        let logs = text(sqlite_rows(
            &dst,
            "SELECT run_id, table_name, source_table, status, records_extracted, records_loaded, write_mode, attempts, error_class, parts IS NOT NULL FROM etl_logs ORDER BY source_table",
        ));
        let archived = if mode == "DUMP" { 1 } else { 0 };
        assert_eq!(
            logs,
            [
                format!("{run_id}|TEXT:good|TEXT:good|TEXT:ok|INTEGER:3|INTEGER:3|TEXT:replace|INTEGER:1|NULL|INTEGER:{archived}"),
                format!("{run_id}|TEXT:missing|TEXT:missing|TEXT:failed|INTEGER:0|INTEGER:0|TEXT:replace|INTEGER:1|TEXT:config|INTEGER:0"),
            ],
            "{mode}"
        );
        let error = &sqlite_rows(
            &dst,
            "SELECT error_message FROM etl_logs WHERE status = 'failed'",
        )[0][0];
        assert!(
            error.contains("missing") && error.contains("not found"),
            "{error}"
        );
        let meta = text(sqlite_rows(
            &dst,
            "SELECT table_name, total_records, last_run_id, last_success_run_id, last_sync_date IS NOT NULL FROM sync_metadata ORDER BY table_name",
        ));
        let id = run_id.trim_start_matches("TEXT:");
        assert_eq!(
            meta[0],
            format!("TEXT:good|INTEGER:3|TEXT:{id}|TEXT:{id}|INTEGER:1"),
            "{mode}"
        );
        assert!(
            meta.len() == 1 || meta[1].starts_with("TEXT:missing|"),
            "{meta:?}"
        );
    }
}

#[test]
fn a_run_killed_mid_load_is_marked_interrupted_by_the_next_on_postgres() {
    let db = pg().create_database("rlkill");
    pg().client(&db)
        .batch_execute("CREATE TABLE k AS SELECT g AS id FROM generate_series(1, 5000) g")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = pg_env(
        &db,
        &db,
        &[
            ("SRC_TABLES", "k"),
            ("SRC_CHUNK_SIZE", "1000"),
            ("STAGE_FAULT_PAUSE", "load"),
            ("STAGE_RUN_LOG_HEARTBEAT_SECONDS", "0.2"),
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
    while !line.contains("paused at load") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "stage ended before pausing"
        );
    }
    let status = |db: &str| -> Vec<String> {
        pg().client(db)
            .query(
                "SELECT status FROM staging.etl_runs ORDER BY started_at",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(status(&db), ["running"]);
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k != "STAGE_FAULT_PAUSE")
        .collect();
    let r = run(dir.path(), &[], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("marked interrupted in the run log"),
        "{}",
        r.all()
    );
    assert_eq!(status(&db), ["interrupted", "ok"]);
    let n: i64 = pg()
        .client(&db)
        .query_one(
            "SELECT count(*) FROM staging.etl_logs WHERE status = 'ok' AND records_loaded = 5000",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "only the second run's table is logged ok");
}

#[test]
fn stage_load_of_a_kept_manifest_is_a_run_of_its_own_in_the_run_log() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = source(dir);
    let dst = dir.join("dst.sqlite");
    let out = dir.join("out");
    let ini = sqlite_ini(
        &src,
        &dst.display().to_string(),
        &format!(
            "SRC_TABLES = good\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = {}\n",
            out.display()
        ),
    );
    let cfg = write(dir, "nightly.ini", &ini);
    let cfg = cfg.to_str().unwrap();
    let r = stage(dir, &["dump", "--config", cfg], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (manifest, _) = only_manifest(&out);
    let manifest = manifest.to_str().unwrap();
    // `stage dump` loads nothing, so writes no run log.
    assert!(
        !dst.exists()
            || sqlite_rows(
                &dst,
                "SELECT name FROM sqlite_master WHERE name = 'etl_runs'"
            )
            .is_empty()
    );
    let r = stage(dir, &["load", "--manifest", manifest, "--config", cfg], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let runs = text(sqlite_rows(
        &dst,
        "SELECT status, exit_code, mode, tables_ok, rows_total, manifest_path FROM etl_runs",
    ));
    assert_eq!(
        runs,
        [format!(
            "TEXT:ok|INTEGER:0|TEXT:load|INTEGER:1|INTEGER:3|TEXT:{manifest}"
        )]
    );
    let logs = text(sqlite_rows(
        &dst,
        "SELECT l.table_name, l.status, l.records_loaded FROM etl_logs l JOIN etl_runs r ON r.run_id = l.run_id",
    ));
    assert_eq!(logs, ["TEXT:good|TEXT:ok|INTEGER:3"]);
    assert_eq!(
        sqlite_rows(&dst, "SELECT id, v FROM good ORDER BY id").len(),
        3
    );
}

//! The run log's stale runs (marked `interrupted` by the next open) and `stage status`
//! through the binary, on the harness's PostgreSQL and MariaDB and a SQLite file.

use std::time::Duration;

use crate::common::{stage, write};
use crate::runlog::{one_ok_one_failed, open, refused, Dest};
use crate::support::unique_name;

/// A run that stops without `finish` (killed: its heartbeat stops) stays `running` until
/// its heartbeat is older than three intervals; the next `open` then marks it
/// `interrupted`, ended at its last heartbeat. A fresh `running` run is left alone.
fn stale_run_is_marked_interrupted(dest: Dest) {
    let status = |id: &str| {
        dest.rows(&format!(
            "SELECT status, CASE WHEN ended_at = last_heartbeat_at THEN 'at last heartbeat' \
             WHEN ended_at IS NULL THEN 'not ended' ELSE 'other' END FROM etl_runs WHERE run_id = '{id}'"
        ))
    };
    let (a, b, c) = (unique_name("a"), unique_name("b"), unique_name("c"));
    let killed = open(&dest, &a, Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(1200));
    let beat = dest.rows(&format!(
        "SELECT CASE WHEN last_heartbeat_at > started_at THEN 'beating' ELSE 'still' END FROM etl_runs WHERE run_id = '{a}'"
    ));
    assert_eq!(beat, vec![vec!["beating"]]);
    drop(killed); // the heartbeat stops; no finish
    assert_eq!(status(&a), vec![vec!["running", "not ended"]]);
    // Opened right away, with a 1 s interval, b finds a's heartbeat fresh.
    let second = open(&dest, &b, Duration::from_secs(1));
    assert_eq!(status(&a), vec![vec!["running", "not ended"]]);
    std::thread::sleep(Duration::from_millis(3300));
    // Now a's last heartbeat is more than 3 × 1 s old; b's own heartbeat kept it fresh.
    let third = open(&dest, &c, Duration::from_secs(1));
    assert_eq!(status(&a), vec![vec!["interrupted", "at last heartbeat"]]);
    assert_eq!(status(&b), vec![vec!["running", "not ended"]]);
    assert_eq!(status(&c), vec![vec!["running", "not ended"]]);
    drop((second, third));
}

#[test]
fn runlog_pg_stale_run_is_marked_interrupted_by_the_next_open() {
    stale_run_is_marked_interrupted(Dest::pg());
}

#[test]
fn runlog_mariadb_stale_run_is_marked_interrupted_by_the_next_open() {
    stale_run_is_marked_interrupted(Dest::maria());
}

#[test]
fn runlog_sqlite_stale_run_is_marked_interrupted_by_the_next_open() {
    stale_run_is_marked_interrupted(Dest::sqlite());
}

fn status_through_the_binary(dest: Dest) {
    let dir = tempfile::tempdir().unwrap();
    let run_id = unique_name("r");
    one_ok_one_failed(&dest, &run_id);
    write(dir.path(), "stage.ini", &dest.ini(""));
    let r = stage(dir.path(), &["status", "--config", "stage.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        r.stdout,
        format!(
            "table      status  rows  seconds  ended                 error\n\
             customers  failed  0     0.2      2026-03-01T02:00:03Z  [data] {}\n\
             orders     ok      3     2.5      2026-03-01T02:00:02Z\n",
            refused(&dest)
        )
    );
    let r = stage(
        dir.path(),
        &["status", "--config", "stage.ini", "--run", &run_id],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let (head, table) = r.stdout.split_once('\n').unwrap();
    assert!(
        head.starts_with(&format!("run {run_id}: partial, started 20"))
            && head.ends_with(", exit code 1, tables 1 ok / 1 failed of 2, 3 rows"),
        "{head}"
    );
    assert_eq!(table.lines().count(), 3);

    let r = stage(
        dir.path(),
        &[
            "status",
            "--config",
            "stage.ini",
            "--run",
            &run_id,
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["run"]["status"], "partial");
    assert_eq!(v["run"]["tables_failed"], 1);
    assert_eq!(v["tables"][0]["table"], "customers");
    assert_eq!(v["tables"][0]["error_class"], "data");
    assert_eq!(v["tables"][0]["error"], refused(&dest).as_str());
    assert_eq!(v["tables"][1]["table"], "orders");
    assert_eq!(v["tables"][1]["rows"], 3);
    assert_eq!(v["tables"][1]["seconds"], 2.5);
    assert_eq!(v["tables"][1]["ended"], "2026-03-01T02:00:02Z");
    assert_eq!(v["tables"][1]["run_id"], run_id.as_str());

    let r = stage(
        dir.path(),
        &["status", "--config", "stage.ini", "--run", "no-such-run"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r
        .stdout
        .starts_with("run no-such-run is not in the run log"));

    write(dir.path(), "off.ini", &dest.ini("RUN_LOG = false"));
    let r = stage(dir.path(), &["status", "--config", "off.ini"], &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("[settings] RUN_LOG is off"),
        "{}",
        r.all()
    );
}

#[test]
fn runlog_status_pg_prints_each_tables_last_run() {
    status_through_the_binary(Dest::pg());
}

#[test]
fn runlog_status_sqlite_prints_each_tables_last_run() {
    status_through_the_binary(Dest::sqlite());
}

#[test]
fn runlog_status_exits_3_when_the_destination_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again at once
    write(
        dir.path(),
        "down.ini",
        &format!(
            "[database-destination]\nDST_DRIVER = postgres\nDST_HOST = 127.0.0.1\nDST_PORT = {port}\nDST_USERNAME = u\nDST_PASSWORD = hunter2secret\nDST_DB = d\n"
        ),
    );
    let r = stage(dir.path(), &["status", "--config", "down.ini"], &[]);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(!r.all().contains("hunter2secret"));
    // A SQLite file that does not exist is not created by `stage status`.
    write(
        dir.path(),
        "none.ini",
        "[database-destination]\nDST_DRIVER = sqlite\nDST_DB = missing.sqlite\n",
    );
    let r = stage(dir.path(), &["status", "--config", "none.ini"], &[]);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(!dir.path().join("missing.sqlite").exists());
}

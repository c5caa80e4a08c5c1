//! A large source table and what the concurrency tests watch and do while `stage` loads it:
//! the shadow's rows, `stage` on a thread, a terminator of its backends.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::run;
use crate::common::Run;
use crate::support::pg;

/// Runs `stage` on a thread; the result arrives through the handle.
pub(super) fn spawn_stage(
    env: Vec<(String, String)>,
    args: Vec<String>,
) -> std::thread::JoinHandle<Run> {
    std::thread::spawn(move || {
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(dir.path(), &args, &env)
    })
}

pub(super) fn big_source(prefix: &str, rows: i64) -> String {
    let db = pg().create_database(prefix);
    pg().client(&db)
        .batch_execute(&format!(
            "CREATE TABLE t (id bigint PRIMARY KEY, name text, amount numeric(12,2), at timestamptz);
             INSERT INTO t SELECT g, 'row ' || g, g / 100.0, '2020-01-01'::timestamptz + g * interval '1 second'
             FROM generate_series(1, {rows}) g;"
        ))
        .unwrap();
    db
}

/// Rows in the run's shadow of staging.t (`t__stage_<hash>_new_<run>`), -1 when none exists.
pub(super) fn shadow_rows(db: &str) -> i64 {
    let mut c = pg().client(db);
    let name: Option<String> = c
        .query_opt(
            "SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'staging' AND relname LIKE 't\\_\\_stage\\_%\\_new\\_%'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0));
    match name {
        Some(n) => c
            .query_one(&format!("SELECT count(*) FROM staging.\"{n}\""), &[])
            .map(|r| r.get(0))
            .unwrap_or(-1),
        None => -1,
    }
}

/// Terminates the loader's backends on `db` (application_name 'stage') once the shadow has
/// rows; `repeat` keeps doing so until `stop`.
pub(super) fn terminator(
    db: String,
    repeat: bool,
    stop: Arc<AtomicBool>,
    kills: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut admin = pg().client("postgres");
        let start = Instant::now();
        while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(120) {
            if shadow_rows(&db) > 0 {
                let n: i64 = admin
                    .query_one(
                        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = 'stage' AND datname = $1) x",
                        &[&db],
                    )
                    .map(|r| r.get(0))
                    .unwrap_or(0);
                if n > 0 {
                    kills.fetch_add(n as usize, Ordering::SeqCst);
                    if !repeat {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(3));
        }
    })
}

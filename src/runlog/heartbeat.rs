//! The heartbeat: a thread with its own connection that sets `etl_runs.last_heartbeat_at`
//! every interval until the run finishes (or its [`super::RunLog`] is dropped). A failed
//! beat is a warning (once per streak); the next beat reconnects.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::Utc;

use super::sql::{Flavor, Sql};
use super::{connect, Store};
use crate::config::Endpoint;

/// How long a beat waits for SQLite's write lock: a load holds it for a whole table, and a
/// beat that cannot write now is simply skipped.
const SQLITE_BUSY: Duration = Duration::from_secs(1);

pub(super) struct Heartbeat {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    pub(super) fn start(endpoint: Endpoint, sql: Sql, run_id: String, every: Duration) -> Self {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("stage-heartbeat".into())
            .spawn(move || beat(&endpoint, &sql, &run_id, every, &stopped));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!("the run log's heartbeat could not start (a later run may take this one for interrupted): {e}");
                None
            }
        };
        Heartbeat { stop, thread }
    }

    /// Stops the thread and waits for it (a beat in flight finishes first).
    pub(super) fn stop(self) {
        let Heartbeat { stop, thread } = self;
        drop(stop);
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

fn beat(
    endpoint: &Endpoint,
    sql: &Sql,
    run_id: &str,
    every: Duration,
    stopped: &mpsc::Receiver<()>,
) {
    let mut store: Option<Box<dyn Store>> = None;
    let mut failing = false;
    loop {
        match stopped.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let result = match store.as_mut() {
            Some(s) => Ok(s),
            None => connect(endpoint, SQLITE_BUSY, false).map(|s| store.insert(s)),
        }
        .and_then(|s| s.execute(&[sql.heartbeat(run_id, Utc::now())]));
        match result {
            Ok(()) => failing = false,
            Err(e) => {
                // SQLite: a load holds the file's write lock for a whole table.
                let busy = sql.flavor == Flavor::Sqlite && e.is_transient();
                if failing || busy {
                    tracing::debug!(run_id = %run_id, "run log heartbeat failed again: {e:#}");
                } else {
                    tracing::warn!(run_id = %run_id, "run log heartbeat failed (retrying every interval): {e:#}");
                }
                failing |= !busy;
                store = None;
            }
        }
    }
}

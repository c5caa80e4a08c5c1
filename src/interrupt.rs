//! SIGINT and SIGTERM: the first asks the run to stop, the second ends the process at once.
//!
//! After the first signal every reading and loading loop stops at its next batch
//! ([`check`]), the table in flight is abandoned exactly like a failed one (its shadow
//! dropped or its transaction rolled back, its parts deleted), finished tables are kept,
//! the manifest records the run as interrupted, and `stage` exits with 128 + the signal's
//! number. A second signal exits with that code immediately.
//!
//! [`pause_point`] is the fault-injection suite's hook: with `STAGE_FAULT_PAUSE=<step>` in
//! the environment, `stage` prints `stage: paused at <step>` on stderr when it first reaches
//! that step and waits there (at most two minutes, until a signal arrives, or until the file
//! named by `STAGE_FAULT_RESUME` exists), so a test can kill it at exactly that step. Steps:
//! `read` (first batch read), `read:<table>` (first batch of that table read, its read
//! still open; the table named as in `SRC_TABLES`, with `SRC_SCHEMA.` in front when that is
//! set), `part-write` (first part written), `encode-columns` (a column of a row group
//! encoded while others are, with `PARQUET_ENCODE_THREADS` > 1), `manifest` (every part
//! written, manifest not yet), `load` (first batch loaded), `swap` (inside the swap,
//! before it commits). A run pauses once at most.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{signal_name, Error, Result};

static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Starts the thread that turns SIGINT and SIGTERM into [`received`]. Idempotent.
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot handle SIGINT/SIGTERM (they will end stage at once): {e}");
                return;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("stage-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if SIGNAL
                        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
                        .is_err()
                    {
                        eprintln!("stage: {} again: exiting now", signal_name(sig));
                        std::process::exit(128 + SIGNAL.load(Ordering::SeqCst));
                    }
                    tracing::warn!(
                        "{} received: abandoning the table in flight and stopping (send it again to exit at once)",
                        signal_name(sig)
                    );
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the signal thread: {e}");
        }
    });
}

/// The first signal received, if any.
pub fn received() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// `Err(Interrupted)` once a signal has arrived.
pub fn check() -> Result<()> {
    match received() {
        None => Ok(()),
        Some(signal) => Err(Error::Interrupted { signal }),
    }
}

/// Waits at `step` when `STAGE_FAULT_PAUSE` names it (see the module's documentation).
pub fn pause_point(step: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var("STAGE_FAULT_PAUSE").ok());
    static PAUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if wanted.as_deref() != Some(step) || PAUSED.swap(true, Ordering::SeqCst) {
        return;
    }
    eprintln!("stage: paused at {step}");
    let resume = std::env::var_os("STAGE_FAULT_RESUME").map(std::path::PathBuf::from);
    let until = Instant::now() + Duration::from_secs(120);
    while Instant::now() < until
        && received().is_none()
        && !resume.as_ref().is_some_and(|p| p.exists())
    {
        std::thread::sleep(Duration::from_millis(20));
    }
}

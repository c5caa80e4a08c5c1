//! Telling about a run (`[monitoring]`): the summary as JSON (`SUMMARY_JSON`), a notification
//! (`NOTIFY_URL`, `NOTIFY_COMMAND`, `NOTIFY_ON`) and Prometheus metrics (`METRICS_FILE`).
//!
//! All of it happens after the run, from a [`RunReport`], and none of it can fail the run: a
//! file that cannot be written or a notification that is refused is a warning. It does not
//! need the destination, so a run whose destination was unreachable still tells.

mod metrics;
mod notify;

use std::io::Write;
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::config::{Monitoring, NotifyOn};
use crate::partial_file::write_atomically;

pub use metrics::metrics_text;

/// How a run ended, for the summary, the notification and the metrics.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    /// `ok`, `partial` (some tables failed), `failed` (all failed or none started) or
    /// `interrupted`.
    pub status: String,
    pub exit_code: i32,
    pub mode: String,
    /// The INI file's stem: the `job` label of the metrics.
    pub job: String,
    pub host: String,
    pub started_at: String,
    pub ended_at: String,
    pub duration_seconds: f64,
    pub tables: Vec<TableReport>,
    pub manifest: Option<String>,
    /// Why the run ended before its tables (configuration, unreachable database).
    pub error: Option<String>,
}

/// One table of a [`RunReport`].
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: String,
    pub status: String,
    pub rows: u64,
    pub seconds: f64,
    pub attempts: u32,
    pub error: Option<String>,
    pub error_class: Option<String>,
}

impl RunReport {
    /// The run's status word from its exit code and tables.
    pub fn status_of(exit_code: i32, tables: &[TableReport]) -> &'static str {
        let failed = tables.iter().filter(|t| t.error.is_some()).count();
        match exit_code {
            0 => "ok",
            c if c >= 128 => "interrupted",
            _ if failed > 0 && failed < tables.len() => "partial",
            _ => "failed",
        }
    }

    pub fn succeeded(&self) -> bool {
        self.exit_code == 0
    }
}

/// Writes the summary, notifies and writes the metrics, as `[monitoring]` asks. Problems
/// are logged as warnings.
pub fn tell(m: &Monitoring, report: &RunReport) {
    let json = match serde_json::to_string_pretty(report) {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!("[monitoring] the run's summary could not be built: {e}");
            return;
        }
    };
    if let Some(path) = &m.summary_json {
        if let Err(e) = write_atomically(path, json.as_bytes()) {
            tracing::warn!("[monitoring] SUMMARY_JSON {}: {e}", path.display());
        }
    }
    let notify = m.notify_on == NotifyOn::Always || !report.succeeded();
    if notify {
        if let Some(url) = &m.notify_url {
            if let Err(e) = notify::post(url.expose(), &json) {
                tracing::warn!("[monitoring] NOTIFY_URL: {e}");
            }
        }
        if let Some(cmd) = &m.notify_command {
            if let Err(e) = run_command(cmd, &json) {
                tracing::warn!("[monitoring] NOTIFY_COMMAND failed: {e}");
            }
        }
    }
    if let Some(path) = &m.metrics_file {
        let previous = std::fs::read_to_string(path).ok();
        let text = metrics_text(report, previous.as_deref(), now_seconds());
        if let Err(e) = write_atomically(path, text.as_bytes()) {
            tracing::warn!("[monitoring] METRICS_FILE {}: {e}", path.display());
        }
    }
}

/// Runs `cmd` with `sh -c`, the summary on its stdin; a non-zero exit is an error.
fn run_command(cmd: &str, json: &str) -> Result<(), String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting sh: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is fine.
        let _ = stdin.write_all(json.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for it: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!("{} ({})", out.status, err.trim()))
    }
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

//! The [`RunReport`] of a `stage run`/`stage dump`, for `[monitoring]`.

use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::Config;
use crate::error::Error;
use crate::monitoring::{RunReport, TableReport};
use crate::transfer::RunSummary;

/// Builds the report of a run.
pub(super) struct RunEnd;

impl RunEnd {
    /// A run that went through its tables.
    pub(super) fn of(
        cfg: &Config,
        started: DateTime<Utc>,
        clock: Instant,
        summary: &RunSummary,
        exit_code: i32,
    ) -> RunReport {
        let tables: Vec<TableReport> = summary
            .tables
            .iter()
            .map(|t| TableReport {
                table: t.table.clone(),
                status: if t.error.is_some() { "failed" } else { "ok" }.into(),
                rows: t.rows,
                seconds: t.seconds,
                attempts: t.attempts,
                error: t.error.clone(),
                error_class: t.class.map(|c| format!("{c:?}").to_lowercase()),
            })
            .collect();
        let status = RunReport::status_of(exit_code, &tables).to_string();
        RunReport {
            run_id: summary.run_id.clone(),
            status,
            exit_code,
            tables,
            manifest: summary.manifest.clone(),
            error: None,
            ..base(cfg, started, clock)
        }
    }

    /// A run that ended before its tables.
    pub(super) fn failed(
        cfg: &Config,
        started: DateTime<Utc>,
        clock: Instant,
        e: &Error,
    ) -> RunReport {
        RunReport {
            status: "failed".into(),
            exit_code: e.exit_code(),
            error: Some(format!("{e:#}")),
            ..base(cfg, started, clock)
        }
    }
}

fn base(cfg: &Config, started: DateTime<Utc>, clock: Instant) -> RunReport {
    let job = cfg
        .ini_path
        .as_deref()
        .and_then(|p| p.file_stem())
        .map_or_else(|| "stage".to_string(), |s| s.to_string_lossy().into_owned());
    RunReport {
        run_id: String::new(),
        status: String::new(),
        exit_code: 0,
        mode: cfg.settings.mode.name().to_string(),
        job,
        host: host_name(),
        started_at: started.to_rfc3339_opts(SecondsFormat::Millis, true),
        ended_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        duration_seconds: clock.elapsed().as_secs_f64(),
        tables: Vec::new(),
        manifest: None,
        error: None,
    }
}

/// The machine's name, for the report (empty when the system does not say).
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

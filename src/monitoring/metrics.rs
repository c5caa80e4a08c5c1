//! The run's metrics in Prometheus' text exposition format, for node_exporter's textfile
//! collector: `stage_run_success`, `stage_run_duration_seconds`,
//! `stage_last_success_timestamp_seconds`, and per table `stage_table_rows`,
//! `stage_table_duration_seconds`, `stage_table_success`; every sample labelled with `job`.

use std::fmt::Write;

use super::RunReport;

/// The metrics text of `report`. `previous` is the file the last run wrote: a failed run
/// keeps its `stage_last_success_timestamp_seconds`, so an alert can say how long the job
/// has not succeeded.
pub fn metrics_text(report: &RunReport, previous: Option<&str>, now: f64) -> String {
    let job = label(&report.job);
    let last_success = if report.succeeded() {
        Some(now)
    } else {
        previous.and_then(|p| previous_value(p, "stage_last_success_timestamp_seconds"))
    };
    let mut out = String::new();
    let mut metric = |name: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let run = format!("job=\"{job}\"");
    metric(
        "stage_run_success",
        "1 if the last run staged every table, else 0.",
        &[(run.clone(), f64::from(u8::from(report.succeeded())))],
    );
    metric(
        "stage_run_duration_seconds",
        "Wall time of the last run.",
        &[(run.clone(), round(report.duration_seconds))],
    );
    if let Some(ts) = last_success {
        metric(
            "stage_last_success_timestamp_seconds",
            "Unix time of the end of the last run that staged every table.",
            &[(run, ts.floor())],
        );
    }
    let per_table = |f: &dyn Fn(&super::TableReport) -> f64| -> Vec<(String, f64)> {
        report
            .tables
            .iter()
            .map(|t| (format!("job=\"{job}\",table=\"{}\"", label(&t.table)), f(t)))
            .collect()
    };
    let rows = per_table(&|t| t.rows as f64);
    let secs = per_table(&|t| round(t.seconds));
    let ok = per_table(&|t| f64::from(u8::from(t.error.is_none())));
    metric("stage_table_rows", "Rows staged by the last run.", &rows);
    metric(
        "stage_table_duration_seconds",
        "Seconds the last run spent on the table.",
        &secs,
    );
    metric(
        "stage_table_success",
        "1 if the last run staged the table, else 0.",
        &ok,
    );
    out
}

/// A label value escaped as the format asks (backslash, double quote, newline).
fn label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// The value of the first sample of `name` in a metrics text.
fn previous_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::super::TableReport;
    use super::*;

    fn report(exit_code: i32) -> RunReport {
        let table = |name: &str, error: Option<&str>| TableReport {
            table: name.into(),
            status: if error.is_some() { "failed" } else { "ok" }.into(),
            rows: if error.is_some() { 0 } else { 42 },
            seconds: 1.23456,
            attempts: 1,
            error: error.map(Into::into),
            error_class: error.map(|_| "source".into()),
        };
        RunReport {
            run_id: "r1".into(),
            status: "partial".into(),
            exit_code,
            mode: "DUMP".into(),
            job: "night\"ly".into(),
            host: "h".into(),
            started_at: String::new(),
            ended_at: String::new(),
            duration_seconds: 2.5,
            tables: vec![table("sales.orders", None), table("lines", Some("boom"))],
            manifest: None,
            error: None,
        }
    }

    #[test]
    fn a_failed_run_keeps_the_last_success_and_labels_every_table() {
        let ok = report(0);
        let mut ok_tables = ok.clone();
        ok_tables.tables.truncate(1);
        let first = metrics_text(&ok_tables, None, 1_700_000_000.7);
        assert!(
            first.contains("stage_run_success{job=\"night\\\"ly\"} 1\n"),
            "{first}"
        );
        assert!(first
            .contains("stage_last_success_timestamp_seconds{job=\"night\\\"ly\"} 1700000000\n"));
        let failed = metrics_text(&report(1), Some(&first), 1_800_000_000.0);
        assert!(failed.contains("stage_run_success{job=\"night\\\"ly\"} 0\n"));
        assert!(failed
            .contains("stage_last_success_timestamp_seconds{job=\"night\\\"ly\"} 1700000000\n"));
        assert!(failed.contains("stage_table_success{job=\"night\\\"ly\",table=\"lines\"} 0\n"));
        assert!(
            failed.contains("stage_table_rows{job=\"night\\\"ly\",table=\"sales.orders\"} 42\n")
        );
        assert!(failed
            .contains("stage_table_duration_seconds{job=\"night\\\"ly\",table=\"lines\"} 1.235\n"));
        // A failed first run has no success to report.
        assert!(!metrics_text(&report(1), None, 1.0).contains("stage_last_success"));
    }
}

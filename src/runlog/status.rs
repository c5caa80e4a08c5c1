//! `stage status`: the last row of every table in `etl_logs` (or one run's rows, with its
//! `etl_runs` row), as a table for people or as JSON.

use serde::Serialize;

use super::sql::{LOGS, RUNS};
use super::{connect, sql_for, Store};
use crate::config::Config;
use crate::error::Result;

/// One table's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableStatus {
    pub table: String,
    /// `ok` or `failed`.
    pub status: String,
    pub rows: Option<u64>,
    pub seconds: Option<f64>,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub ended: Option<String>,
    pub error: Option<String>,
    pub error_class: Option<String>,
    pub run_id: Option<String>,
}

/// A run's `etl_runs` row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStatusRow {
    pub run_id: String,
    pub status: Option<String>,
    pub started: Option<String>,
    pub ended: Option<String>,
    pub exit_code: Option<i64>,
    pub mode: Option<String>,
    pub host: Option<String>,
    pub tables_total: Option<u64>,
    pub tables_ok: Option<u64>,
    pub tables_failed: Option<u64>,
    pub rows_total: Option<u64>,
}

/// What `stage status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Where the run log is (`postgres://host:port/db`, and the schema).
    pub location: String,
    /// The run asked for with `--run`, when it is in the log.
    pub run: Option<RunStatusRow>,
    pub tables: Vec<TableStatus>,
    /// `false`: the run log's tables do not exist (no run has been logged there).
    pub exists: bool,
}

/// Reads the run log of `cfg`'s destination: the last row of every table, or `run`'s.
/// A destination that cannot be reached is `Error::Connect` (exit code 3).
pub fn read(cfg: &Config, run: Option<&str>) -> Result<Status> {
    let sql = sql_for(cfg)?;
    let mut location = cfg.destination.describe();
    if let Some(s) = &sql.schema {
        location.push_str(&format!(" (schema {s})"));
    }
    let mut store = connect(&cfg.destination, super::SQLITE_BUSY, false)?;
    let exists = [RUNS, LOGS]
        .iter()
        .map(|t| store.query(&sql.columns_of(t)).map(|rows| !rows.is_empty()))
        .collect::<Result<Vec<bool>>>()?
        .into_iter()
        .all(|e| e);
    let mut status = Status {
        location,
        run: None,
        tables: Vec::new(),
        exists,
    };
    if !exists {
        return Ok(status);
    }
    if let Some(r) = run {
        status.run = read_run(store.as_mut(), &sql.run_row(r))?;
    }
    status.tables = store
        .query(&sql.status(run))?
        .into_iter()
        .map(|row| {
            let mut c = row.into_iter();
            let mut next = || c.next().flatten();
            TableStatus {
                table: next().unwrap_or_default(),
                status: next().unwrap_or_default(),
                rows: next().and_then(|v| v.parse().ok()),
                seconds: next().and_then(|v| v.parse().ok()),
                ended: next(),
                error: next(),
                error_class: next(),
                run_id: next(),
            }
        })
        .collect();
    Ok(status)
}

fn read_run(store: &mut dyn Store, sql: &str) -> Result<Option<RunStatusRow>> {
    let row = store.query(sql)?.into_iter().next();
    Ok(row.map(|row| {
        let mut c = row.into_iter();
        let mut next = || c.next().flatten();
        RunStatusRow {
            run_id: next().unwrap_or_default(),
            status: next(),
            started: next(),
            ended: next(),
            exit_code: next().and_then(|v| v.parse().ok()),
            mode: next(),
            host: next(),
            tables_total: next().and_then(|v| v.parse().ok()),
            tables_ok: next().and_then(|v| v.parse().ok()),
            tables_failed: next().and_then(|v| v.parse().ok()),
            rows_total: next().and_then(|v| v.parse().ok()),
        }
    }))
}

impl Status {
    /// The status as JSON: `{"location", "run", "tables": [...], "exists"}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// The status as text: the run's line (with `--run`), then one aligned line per
    /// table: table, status, rows, seconds, ended, error.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(r) = &self.run {
            let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let num = |v: Option<u64>| v.map_or("-".into(), |n| n.to_string());
            out.push_str(&format!(
                "run {}: {}, started {}, ended {}, exit code {}, tables {} ok / {} failed of {}, {} rows\n",
                r.run_id,
                or_dash(&r.status),
                or_dash(&r.started),
                or_dash(&r.ended),
                r.exit_code.map_or("-".into(), |c| c.to_string()),
                num(r.tables_ok),
                num(r.tables_failed),
                num(r.tables_total),
                num(r.rows_total),
            ));
        }
        let mut lines = vec![[
            "table".to_string(),
            "status".into(),
            "rows".into(),
            "seconds".into(),
            "ended".into(),
            "error".into(),
        ]];
        for t in &self.tables {
            let error = match (&t.error_class, &t.error) {
                (Some(class), Some(e)) => format!("[{class}] {e}"),
                (None, Some(e)) => e.clone(),
                _ => String::new(),
            };
            lines.push([
                t.table.clone(),
                t.status.clone(),
                t.rows.map_or("-".into(), |n| n.to_string()),
                t.seconds.map_or("-".into(), |s| format!("{s:.1}")),
                t.ended.clone().unwrap_or_else(|| "-".into()),
                error,
            ]);
        }
        for l in crate::text_table::aligned(&lines) {
            out.push_str(&l);
            out.push('\n');
        }
        out
    }
}

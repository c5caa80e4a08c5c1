//! Reading the run log for `stage status`.

use super::{Flavor, Sql, LOGS, RUNS};

impl Sql {
    /// A column as text (PostgreSQL's simple protocol, MySQL's text protocol and SQLite
    /// give text already).
    pub(in crate::runlog) fn as_text(&self, c: &str) -> String {
        match self.flavor {
            Flavor::Mssql => format!("CAST({} AS NVARCHAR(MAX))", self.q(c)),
            _ => self.q(c),
        }
    }

    /// A time column as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    pub(in crate::runlog) fn time_text(&self, c: &str) -> String {
        let c = self.q(c);
        match self.flavor {
            Flavor::Postgres => {
                format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
            }
            Flavor::Mysql => format!("DATE_FORMAT({c}, '%Y-%m-%dT%H:%i:%sZ')"),
            Flavor::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%SZ', {c})"),
            Flavor::Mssql => {
                format!("CONVERT(NVARCHAR(19), SWITCHOFFSET({c}, '+00:00'), 126) + N'Z'")
            }
        }
    }

    /// `stage status`: table, status, rows, seconds, ended, error, error class, run id —
    /// of `run`, or the last row of every table.
    pub fn status(&self, run: Option<&str>) -> String {
        let cols = [
            self.as_text("table_name"),
            self.as_text("status"),
            self.as_text("records_loaded"),
            self.as_text("execution_time_seconds"),
            self.time_text("ended_at"),
            self.as_text("error_message"),
            self.as_text("error_class"),
            self.as_text("run_id"),
        ]
        .join(", ");
        let logs = self.table(LOGS);
        let (table, id, ended) = (self.q("table_name"), self.q("id"), self.q("ended_at"));
        match run {
            Some(r) => format!(
                "SELECT {cols} FROM {logs} WHERE {} = {} ORDER BY {table}, {id}",
                self.q("run_id"),
                self.text(r)
            ),
            None => format!(
                "SELECT {cols} FROM (SELECT l.*, ROW_NUMBER() OVER (PARTITION BY l.{table} ORDER BY l.{ended} DESC, l.{id} DESC) AS stage_rn FROM {logs} l) latest WHERE stage_rn = 1 ORDER BY {table}"
            ),
        }
    }

    /// `stage status --run`: the run's row.
    pub fn run_row(&self, run_id: &str) -> String {
        let cols = [
            self.as_text("run_id"),
            self.as_text("status"),
            self.time_text("started_at"),
            self.time_text("ended_at"),
            self.as_text("exit_code"),
            self.as_text("mode"),
            self.as_text("host"),
            self.as_text("tables_total"),
            self.as_text("tables_ok"),
            self.as_text("tables_failed"),
            self.as_text("rows_total"),
        ]
        .join(", ");
        format!(
            "SELECT {cols} FROM {} WHERE {} = {}",
            self.table(RUNS),
            self.q("run_id"),
            self.text(run_id)
        )
    }
}

//! The run log's rows: a run's `running` row, heartbeat and end, a table's `etl_logs` row
//! and `sync_metadata` upsert, and interrupting stale runs.

use chrono::{DateTime, Utc};

use super::{Flavor, Sql, LOGS, RUNS, SYNC};
use crate::runlog::{RunEnd, TableLogRow};

impl Sql {
    pub(in crate::runlog) fn insert(&self, table: &str, values: &[(&str, String)]) -> String {
        let cols: Vec<String> = values.iter().map(|(c, _)| self.q(c)).collect();
        let vals: Vec<&str> = values.iter().map(|(_, v)| v.as_str()).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.table(table),
            cols.join(", "),
            vals.join(", ")
        )
    }

    /// Inserts `key` with `values`, or updates `values` where the key exists.
    pub(in crate::runlog) fn upsert(
        &self,
        table: &str,
        key: (&str, String),
        values: &[(&str, String)],
    ) -> String {
        let mut all = vec![(key.0, key.1.clone())];
        all.extend(values.iter().cloned());
        let insert = self.insert(table, &all);
        let set = |v: &dyn Fn(&str, &str) -> String| -> String {
            values
                .iter()
                .map(|(c, val)| format!("{} = {}", self.q(c), v(c, val)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.flavor {
            Flavor::Postgres | Flavor::Sqlite => format!(
                "{insert} ON CONFLICT ({}) DO UPDATE SET {}",
                self.q(key.0),
                set(&|c, _| format!("excluded.{}", self.q(c)))
            ),
            Flavor::Mysql => format!(
                "{insert} ON DUPLICATE KEY UPDATE {}",
                set(&|_, v| v.to_string())
            ),
            Flavor::Mssql => format!(
                "UPDATE {} WITH (UPDLOCK, SERIALIZABLE) SET {} WHERE {} = {}; IF @@ROWCOUNT = 0 {insert}",
                self.table(table),
                set(&|_, v| v.to_string()),
                self.q(key.0),
                key.1
            ),
        }
    }

    /// This run's `running` row.
    pub fn insert_run(&self, run: &RunRow<'_>) -> String {
        let now = self.time(run.started_at);
        self.insert(
            RUNS,
            &[
                ("run_id", self.text(run.run_id)),
                ("started_at", now.clone()),
                ("last_heartbeat_at", now),
                ("status", self.text("running")),
                ("mode", self.text(run.mode)),
                ("tool_version", self.text(env!("CARGO_PKG_VERSION"))),
                ("host", self.text(run.host)),
                ("pid", Self::int(u64::from(run.pid))),
                ("config_path", self.opt_text(run.config_path)),
                ("tables_total", Self::int(run.tables_total)),
            ],
        )
    }

    /// Runs left `running` whose heartbeat is older than `cutoff`: run id, heartbeat.
    pub fn stale_runs(&self, cutoff: DateTime<Utc>) -> String {
        format!(
            "SELECT {}, {} FROM {} WHERE {}",
            self.as_text("run_id"),
            self.time_text("last_heartbeat_at"),
            self.table(RUNS),
            self.stale_condition(cutoff)
        )
    }

    fn stale_condition(&self, cutoff: DateTime<Utc>) -> String {
        format!(
            "{} = {} AND COALESCE({}, {}) < {}",
            self.q("status"),
            self.text("running"),
            self.q("last_heartbeat_at"),
            self.q("started_at"),
            self.time(cutoff)
        )
    }

    /// Marks the runs of [`Sql::stale_runs`] `interrupted`, ended at their last heartbeat.
    pub fn mark_interrupted(&self, cutoff: DateTime<Utc>) -> String {
        format!(
            "UPDATE {} SET {} = {}, {} = COALESCE({}, {}) WHERE {}",
            self.table(RUNS),
            self.q("status"),
            self.text("interrupted"),
            self.q("ended_at"),
            self.q("last_heartbeat_at"),
            self.q("started_at"),
            self.stale_condition(cutoff)
        )
    }

    /// A heartbeat. A run another one took for interrupted (heartbeats missed while the
    /// destination was unreachable) is `running` again.
    pub fn heartbeat(&self, run_id: &str, now: DateTime<Utc>) -> String {
        format!(
            "UPDATE {} SET {} = {}, {status} = {running}, {} = NULL WHERE {} = {} AND {status} IN ({running}, {})",
            self.table(RUNS),
            self.q("last_heartbeat_at"),
            self.time(now),
            self.q("ended_at"),
            self.q("run_id"),
            self.text(run_id),
            self.text("interrupted"),
            status = self.q("status"),
            running = self.text("running"),
        )
    }

    /// The run's end.
    pub fn finish_run(&self, run_id: &str, end: &RunEnd, now: DateTime<Utc>) -> String {
        let t = self.time(now);
        let sets = [
            ("ended_at", t.clone()),
            ("last_heartbeat_at", t),
            ("status", self.text(end.status.as_str())),
            ("exit_code", end.exit_code.to_string()),
            ("tables_total", Self::int(end.tables_total)),
            ("tables_ok", Self::int(end.tables_ok)),
            ("tables_failed", Self::int(end.tables_failed)),
            ("rows_total", Self::int(end.rows_total)),
            ("bytes_total", Self::opt_int(end.bytes_total)),
            ("manifest_path", self.opt_text(end.manifest_path.as_deref())),
        ];
        let set: Vec<String> = sets
            .iter()
            .map(|(c, v)| format!("{} = {v}", self.q(c)))
            .collect();
        format!(
            "UPDATE {} SET {} WHERE {} = {}",
            self.table(RUNS),
            set.join(", "),
            self.q("run_id"),
            self.text(run_id)
        )
    }

    /// A table's `etl_logs` row and its `sync_metadata` upsert. `table_name` is the
    /// staging table as the run log names it.
    pub fn table_rows(&self, run_id: &str, table_name: &str, row: &TableLogRow) -> Vec<String> {
        let ended = self.time(row.ended_at);
        let (status, class, message) = match &row.failure {
            None => ("ok", None, None),
            Some((class, message)) => ("failed", Some(class.as_str()), Some(message.as_str())),
        };
        let log = self.insert(
            LOGS,
            &[
                ("execution_date", ended.clone()),
                ("table_name", self.text(table_name)),
                ("records_extracted", Self::int(row.records_extracted)),
                ("records_loaded", Self::int(row.records_loaded)),
                ("status", self.text(status)),
                ("error_message", self.opt_text(message)),
                ("execution_time_seconds", Self::secs(row.seconds())),
                ("run_id", self.text(run_id)),
                ("source_table", self.text(&row.source_table)),
                ("write_mode", self.text(&row.write_mode)),
                ("started_at", self.time(row.started_at)),
                ("ended_at", ended.clone()),
                ("attempts", Self::int(u64::from(row.attempts))),
                ("error_class", self.opt_text(class)),
                ("bytes", Self::opt_int(row.bytes)),
                ("parts", Self::opt_int(row.parts)),
            ],
        );
        let run = self.text(run_id);
        let sync = if row.failure.is_none() {
            vec![
                ("last_sync_date", ended.clone()),
                ("total_records", Self::int(row.records_loaded)),
                ("last_run_id", run.clone()),
                ("last_success_run_id", run),
                ("schema_hash", self.opt_text(row.schema_hash.as_deref())),
                ("updated_at", ended),
            ]
        } else {
            vec![("last_run_id", run), ("updated_at", ended)]
        };
        let mut sync = sync;
        if row.failure.is_none() {
            sync.extend(self.sync_state_sets(row));
        }
        let sync = self.upsert(SYNC, ("table_name", self.text(table_name)), &sync);
        vec![log, sync]
    }
}

/// What the `running` row of a run holds.
#[derive(Debug, Clone)]
pub(crate) struct RunRow<'a> {
    pub run_id: &'a str,
    pub started_at: DateTime<Utc>,
    pub mode: &'a str,
    pub host: &'a str,
    pub pid: u32,
    pub config_path: Option<&'a str>,
    pub tables_total: u64,
}

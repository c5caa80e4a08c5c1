//! The README's three operator queries over the run log, on crafted nights: what failed last
//! night and why; tables with no success for 26 hours; tables whose row count dropped below
//! half of their 14-day median. PostgreSQL is the README's text; SQLite and MariaDB/MySQL
//! differ only in date arithmetic and the median, and are checked too.

use std::time::Duration;

use chrono::{DateTime, Utc};

use stage::runlog::{RunEnd, RunLog};

use crate::runlog::Dest;
use crate::support::unique_name;

/// What failed last night, and why (table failures of the last 24 hours, and runs that
/// stopped without finishing: killed, or the host went down).
pub const PG_FAILED_LAST_NIGHT: &str = "
SELECT l.ended_at, l.table_name, l.error_class, l.error_message, l.run_id
FROM etl_logs l
WHERE l.status = 'failed' AND l.ended_at > now() - interval '24 hours'
UNION ALL
SELECT coalesce(r.ended_at, r.last_heartbeat_at), NULL, 'interrupted',
       'the run stopped without finishing (killed, or its host went down)', r.run_id
FROM etl_runs r
WHERE r.started_at > now() - interval '24 hours'
  AND (r.status = 'interrupted'
       OR (r.status = 'running' AND r.last_heartbeat_at < now() - interval '90 seconds'))
ORDER BY 1 DESC";

/// Tables with no success for 26 hours (never succeeded: `last_sync_date` NULL).
pub const PG_NO_SUCCESS_26H: &str = "
SELECT table_name, last_sync_date, last_run_id
FROM sync_metadata
WHERE last_sync_date IS NULL OR last_sync_date < now() - interval '26 hours'
ORDER BY last_sync_date NULLS FIRST, table_name";

/// Tables whose last successful load brought fewer than half the rows of their median over
/// the 14 days before it.
pub const PG_ROWS_DROPPED: &str = "
WITH ok AS (
  SELECT table_name, records_loaded, ended_at,
         row_number() OVER (PARTITION BY table_name ORDER BY ended_at DESC, id DESC) AS nth
  FROM etl_logs
  WHERE status = 'ok' AND ended_at > now() - interval '14 days'
), median AS (
  SELECT table_name,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY records_loaded) AS median_rows
  FROM ok WHERE nth > 1 GROUP BY table_name
)
SELECT ok.table_name, ok.records_loaded AS last_rows, median.median_rows, ok.ended_at
FROM ok JOIN median ON median.table_name = ok.table_name
WHERE ok.nth = 1 AND ok.records_loaded < median.median_rows / 2
ORDER BY ok.table_name";

/// SQLite: times are text (`YYYY-MM-DD HH:MM:SS.ffffffZ`, UTC) compared with
/// `datetime('now', …)`; the median is computed by hand.
pub const SQLITE_FAILED_LAST_NIGHT: &str = "
SELECT l.ended_at, l.table_name, l.error_class, l.error_message, l.run_id
FROM etl_logs l
WHERE l.status = 'failed' AND l.ended_at > datetime('now', '-24 hours')
UNION ALL
SELECT coalesce(r.ended_at, r.last_heartbeat_at), NULL, 'interrupted',
       'the run stopped without finishing (killed, or its host went down)', r.run_id
FROM etl_runs r
WHERE r.started_at > datetime('now', '-24 hours')
  AND (r.status = 'interrupted'
       OR (r.status = 'running' AND r.last_heartbeat_at < datetime('now', '-90 seconds')))
ORDER BY 1 DESC";

pub const SQLITE_NO_SUCCESS_26H: &str = "
SELECT table_name, last_sync_date, last_run_id
FROM sync_metadata
WHERE last_sync_date IS NULL OR last_sync_date < datetime('now', '-26 hours')
ORDER BY last_sync_date NULLS FIRST, table_name";

pub const SQLITE_ROWS_DROPPED: &str = "
WITH ok AS (
  SELECT table_name, records_loaded, ended_at,
         row_number() OVER (PARTITION BY table_name ORDER BY ended_at DESC, id DESC) AS nth
  FROM etl_logs
  WHERE status = 'ok' AND ended_at > datetime('now', '-14 days')
), history AS (
  SELECT table_name, records_loaded,
         row_number() OVER (PARTITION BY table_name ORDER BY records_loaded) AS k,
         count(*) OVER (PARTITION BY table_name) AS n
  FROM ok WHERE nth > 1
), median AS (
  SELECT table_name, avg(records_loaded) AS median_rows
  FROM history WHERE k IN ((n + 1) / 2, (n + 2) / 2) GROUP BY table_name
)
SELECT ok.table_name, ok.records_loaded AS last_rows, median.median_rows, ok.ended_at
FROM ok JOIN median ON median.table_name = ok.table_name
WHERE ok.nth = 1 AND ok.records_loaded < median.median_rows / 2
ORDER BY ok.table_name";

/// MariaDB / MySQL: `DATETIME(6)` columns hold UTC, so compare with `UTC_TIMESTAMP()`
/// (never `NOW()`); no `NULLS FIRST`; the median by hand with `DIV` (MySQL has no
/// `percentile_cont`).
pub const MYSQL_FAILED_LAST_NIGHT: &str = "
SELECT l.ended_at, l.table_name, l.error_class, l.error_message, l.run_id
FROM etl_logs l
WHERE l.status = 'failed' AND l.ended_at > UTC_TIMESTAMP(6) - INTERVAL 24 HOUR
UNION ALL
SELECT coalesce(r.ended_at, r.last_heartbeat_at), NULL, 'interrupted',
       'the run stopped without finishing (killed, or its host went down)', r.run_id
FROM etl_runs r
WHERE r.started_at > UTC_TIMESTAMP(6) - INTERVAL 24 HOUR
  AND (r.status = 'interrupted'
       OR (r.status = 'running' AND r.last_heartbeat_at < UTC_TIMESTAMP(6) - INTERVAL 90 SECOND))
ORDER BY 1 DESC";

pub const MYSQL_NO_SUCCESS_26H: &str = "
SELECT table_name, last_sync_date, last_run_id
FROM sync_metadata
WHERE last_sync_date IS NULL OR last_sync_date < UTC_TIMESTAMP(6) - INTERVAL 26 HOUR
ORDER BY last_sync_date IS NOT NULL, last_sync_date, table_name";

pub const MYSQL_ROWS_DROPPED: &str = "
WITH ok AS (
  SELECT table_name, records_loaded, ended_at,
         row_number() OVER (PARTITION BY table_name ORDER BY ended_at DESC, id DESC) AS nth
  FROM etl_logs
  WHERE status = 'ok' AND ended_at > UTC_TIMESTAMP(6) - INTERVAL 14 DAY
), history AS (
  SELECT table_name, records_loaded,
         row_number() OVER (PARTITION BY table_name ORDER BY records_loaded) AS k,
         count(*) OVER (PARTITION BY table_name) AS n
  FROM ok WHERE nth > 1
), median AS (
  SELECT table_name, avg(records_loaded) AS median_rows
  FROM history WHERE k IN ((n + 1) DIV 2, (n + 2) DIV 2) GROUP BY table_name
)
SELECT ok.table_name, ok.records_loaded AS last_rows, median.median_rows, ok.ended_at
FROM ok JOIN median ON median.table_name = ok.table_name
WHERE ok.nth = 1 AND ok.records_loaded < median.median_rows / 2
ORDER BY ok.table_name";

fn lit(dest: &Dest, t: DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%d %H:%M:%S%.6f");
    match dest {
        Dest::Pg(_) => format!("'{base}+00'::timestamptz"),
        Dest::Maria(_) => format!("'{base}'"),
        Dest::Sqlite { .. } => format!("'{base}Z'"),
    }
}

fn ago(hours: f64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::milliseconds((hours * 3_600_000.0) as i64)
}

/// A night with history: see the comments for what each query must find.
fn craft(dest: &Dest) {
    // Creates the tables (the run itself ends `ok` at once).
    let log = RunLog::open_with(
        &dest.config(),
        &unique_name("setup"),
        "DIRECT",
        None,
        Duration::from_secs(30),
    )
    .unwrap();
    log.finish(&RunEnd::new(0, 0, 0, 0)).unwrap();
    drop(log);
    let mut sql = Vec::new();
    let mut log = |table: &str, rows: u64, hours: f64, run: &str, error: Option<(&str, &str)>| {
        let (status, class, message) = match error {
            None => ("ok", "NULL".to_string(), "NULL".to_string()),
            Some((c, m)) => ("failed", format!("'{c}'"), format!("'{m}'")),
        };
        let t = lit(dest, ago(hours));
        sql.push(format!(
            "INSERT INTO etl_logs (execution_date, table_name, records_extracted, records_loaded, status, \
             error_message, execution_time_seconds, run_id, source_table, write_mode, started_at, ended_at, \
             attempts, error_class) VALUES ({t}, '{table}', {rows}, {rows}, '{status}', {message}, 1.5, \
             '{run}', '{table}', 'replace', {t}, {t}, 1, {class})"
        ));
    };
    for day in 1..=10u32 {
        let run = format!("day{day}");
        let hours = 8.0 + 24.0 * f64::from(day);
        // orders: about 1000 a night, then 400 last night → dropped.
        log("orders", 1000 + u64::from(day % 3), hours, &run, None);
        // customers: 500 a night, then 300 last night → not below half.
        log("customers", 500, hours, &run, None);
    }
    // shipments: 10000 a night more than 14 days ago (outside the window), 100 since, 60
    // last night → not below half of the 14-day median (100).
    for day in [15u32, 16, 17] {
        log("shipments", 10000, 8.0 + 24.0 * f64::from(day), "old", None);
    }
    log("shipments", 100, 56.0, "day2", None);
    log("shipments", 100, 32.0, "day1", None);
    log("shipments", 60, 8.0, "night", None);
    log("orders", 400, 8.0, "night", None);
    log("customers", 300, 8.0, "night", None);
    // invoices: succeeded 3 days ago, failed last night.
    log("invoices", 50, 72.0, "day3", None);
    log(
        "invoices",
        0,
        8.0,
        "night",
        Some((
            "transient",
            "table invoices: reading rows: connection reset",
        )),
    );
    // items: never succeeded; failed last night and two nights ago.
    log(
        "items",
        0,
        40.0,
        "day2",
        Some(("config", "table items: not found in the source")),
    );
    log(
        "items",
        0,
        8.1,
        "night",
        Some(("config", "table items: not found in the source")),
    );
    // payments: one success 30 hours ago, nothing since.
    log("payments", 70, 30.0, "day1", None);
    // refunds: failed 40 hours ago (not last night), succeeded 20 hours ago.
    log(
        "refunds",
        0,
        40.0,
        "day2",
        Some(("source", "table refunds: reading rows: timeout")),
    );
    log("refunds", 5, 20.0, "day1", None);
    let sync = |table: &str, hours: Option<f64>, rows: &str, run: &str| {
        let last = hours.map_or("NULL".into(), |h| lit(dest, ago(h)));
        format!(
            "INSERT INTO sync_metadata (table_name, last_sync_date, total_records, last_run_id, updated_at) \
             VALUES ('{table}', {last}, {rows}, '{run}', {})",
            lit(dest, ago(8.0))
        )
    };
    sql.push(sync("orders", Some(8.0), "400", "night"));
    sql.push(sync("customers", Some(8.0), "300", "night"));
    sql.push(sync("shipments", Some(8.0), "60", "night"));
    sql.push(sync("invoices", Some(72.0), "50", "night"));
    sql.push(sync("items", None, "NULL", "night"));
    sql.push(sync("payments", Some(30.0), "70", "day1"));
    sql.push(sync("refunds", Some(20.0), "5", "day1"));
    let run = |id: &str, status: &str, started: f64, beat: f64, ended: Option<f64>| {
        format!(
            "INSERT INTO etl_runs (run_id, status, started_at, last_heartbeat_at, ended_at) \
             VALUES ('{id}', '{status}', {}, {}, {})",
            lit(dest, ago(started)),
            lit(dest, ago(beat)),
            ended.map_or("NULL".into(), |h| lit(dest, ago(h)))
        )
    };
    sql.push(run("night", "partial", 8.5, 8.0, Some(8.0)));
    // Killed 5 hours ago, not yet noticed by a later run: still `running`.
    sql.push(run("killed", "running", 5.0, 4.9, None));
    // Killed yesterday evening and already marked by a later run.
    sql.push(run("marked", "interrupted", 20.0, 19.0, Some(19.0)));
    sql.push(run("older", "interrupted", 30.0, 29.0, Some(29.0)));
    // Running now, beating.
    sql.push(run("live", "running", 0.2, 0.001, None));
    dest.exec(&sql.join(";\n"));
}

/// The non-time columns of a query's rows, by index.
fn pick(rows: Vec<Vec<String>>, columns: &[usize]) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|r| columns.iter().map(|&i| r[i].clone()).collect())
        .collect()
}

fn operator_queries(dest: Dest, queries: [&str; 3]) {
    craft(&dest);
    let [failed, stale, dropped] = queries;
    assert_eq!(
        pick(dest.rows(failed), &[1, 2, 4]),
        vec![
            vec!["NULL", "interrupted", "killed"],
            vec!["invoices", "transient", "night"],
            vec!["items", "config", "night"],
            vec!["NULL", "interrupted", "marked"],
        ]
    );
    assert_eq!(
        dest.rows(failed)[1][3],
        "table invoices: reading rows: connection reset"
    );
    assert_eq!(
        pick(dest.rows(stale), &[0, 2]),
        vec![
            vec!["items", "night"],
            vec!["invoices", "night"],
            vec!["payments", "day1"],
        ]
    );
    let dropped = dest.rows(dropped);
    assert_eq!(pick(dropped.clone(), &[0, 1]), vec![vec!["orders", "400"]]);
    let median: f64 = dropped[0][2].parse().unwrap();
    assert_eq!(median, 1001.0);
}

#[test]
fn runlog_queries_pg_find_last_nights_failures_stale_tables_and_dropped_counts() {
    operator_queries(
        Dest::pg(),
        [PG_FAILED_LAST_NIGHT, PG_NO_SUCCESS_26H, PG_ROWS_DROPPED],
    );
}

#[test]
fn runlog_queries_sqlite_find_last_nights_failures_stale_tables_and_dropped_counts() {
    operator_queries(
        Dest::sqlite(),
        [
            SQLITE_FAILED_LAST_NIGHT,
            SQLITE_NO_SUCCESS_26H,
            SQLITE_ROWS_DROPPED,
        ],
    );
}

#[test]
fn runlog_queries_mariadb_find_last_nights_failures_stale_tables_and_dropped_counts() {
    operator_queries(
        Dest::maria(),
        [
            MYSQL_FAILED_LAST_NIGHT,
            MYSQL_NO_SUCCESS_26H,
            MYSQL_ROWS_DROPPED,
        ],
    );
}

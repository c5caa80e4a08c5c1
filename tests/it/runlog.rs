//! The run log in the destination (`stage::runlog`), on the harness's PostgreSQL and MariaDB
//! and a temporary SQLite file: the rows a run leaves, the `ok` row riding the loader's
//! commit, stale runs marked interrupted, and `stage status` through the binary.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};

use stage::config::{Config, Needs, RawIni, WriteMode};
use stage::error::server_words;
use stage::load::{self, LoadTarget};
use stage::runlog::{schema_hash, RunEnd, RunLog, TableLogRow};

use crate::support::{mariadb, pg, unique_name};

/// One destination of the tests: a database of its own on a shared server, or a SQLite file.
pub(crate) enum Dest {
    Pg(String),
    Maria(String),
    Sqlite {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
}

impl Dest {
    pub(crate) fn pg() -> Dest {
        Dest::Pg(pg().create_database("runlog"))
    }

    pub(crate) fn maria() -> Dest {
        Dest::Maria(mariadb().create_database("runlog"))
    }

    pub(crate) fn sqlite() -> Dest {
        let dir = tempfile::tempdir().unwrap();
        Dest::Sqlite {
            path: dir.path().join("stg.sqlite"),
            _dir: dir,
        }
    }

    /// The `[database-destination]` keys.
    fn keys(&self) -> Vec<(&'static str, String)> {
        match self {
            Dest::Pg(db) => {
                let s = pg();
                vec![
                    ("DST_DRIVER", "postgres".into()),
                    ("DST_HOST", s.host.clone()),
                    ("DST_PORT", s.port.to_string()),
                    ("DST_USERNAME", s.user.clone()),
                    ("DST_PASSWORD", s.password.clone()),
                    ("DST_DB", db.clone()),
                ]
            }
            Dest::Maria(db) => {
                let s = mariadb();
                vec![
                    ("DST_DRIVER", "mariadb".into()),
                    ("DST_HOST", s.host.clone()),
                    ("DST_PORT", s.port.to_string()),
                    ("DST_USERNAME", s.user.clone()),
                    ("DST_PASSWORD", s.password.clone()),
                    ("DST_DB", db.clone()),
                ]
            }
            Dest::Sqlite { path, .. } => vec![
                ("DST_DRIVER", "sqlite".into()),
                ("DST_DB", path.to_string_lossy().into_owned()),
            ],
        }
    }

    /// An INI with this destination and `settings` lines.
    pub(crate) fn ini(&self, settings: &str) -> String {
        let keys: Vec<String> = self
            .keys()
            .into_iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        format!(
            "[database-destination]\n{}\n\n[settings]\n{settings}\n",
            keys.join("\n")
        )
    }

    pub(crate) fn config(&self) -> Config {
        self.config_with(&[])
    }

    /// The configuration with `extra` keys (from the environment).
    pub(crate) fn config_with(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars: Vec<(String, String)> = self
            .keys()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        vars.push(("SRC_TABLES".into(), "Orders,Customers".into()));
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let lookup = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Config::from_parts(RawIni::default(), &lookup, Needs { source: false }).unwrap()
    }

    /// Rows as text, NULL as `NULL`.
    pub(crate) fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            Dest::Pg(db) => pg()
                .client(db)
                .simple_query(&format!("{PG_SEARCH_PATH}; {sql}"))
                .unwrap_or_else(|e| panic!("{sql}: {}", server_words(&e)))
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("NULL").to_string())
                            .collect(),
                    ),
                    _ => None,
                })
                .collect(),
            Dest::Maria(db) => mariadb()
                .query(Some(db), sql)
                .lines()
                .map(|l| l.split('\t').map(str::to_string).collect())
                .collect(),
            Dest::Sqlite { path, .. } => crate::common::sqlite_rows(path, sql)
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|v| match v.split_once(':') {
                            Some((_, text)) => text.to_string(),
                            None => v,
                        })
                        .collect()
                })
                .collect(),
        }
    }

    pub(crate) fn exec(&self, sql: &str) {
        match self {
            Dest::Pg(db) => pg()
                .client(db)
                .batch_execute(&format!("{PG_SEARCH_PATH}; {sql}"))
                .unwrap_or_else(|e| panic!("{sql}: {}", server_words(&e))),
            Dest::Maria(db) => {
                mariadb().query(Some(db), sql);
            }
            Dest::Sqlite { path, .. } => rusqlite::Connection::open(path)
                .unwrap()
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }

    /// A time column as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
    pub(crate) fn ts(&self, col: &str) -> String {
        match self {
            Dest::Pg(_) => format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"),
            Dest::Maria(_) => format!("DATE_FORMAT({col}, '%Y-%m-%d %H:%i:%s.%f')"),
            Dest::Sqlite { .. } => format!("substr({col}, 1, 26)"),
        }
    }

    /// Seconds as text with three decimals.
    fn secs(&self, col: &str) -> String {
        match self {
            Dest::Pg(_) => format!("{col}::text"),
            Dest::Maria(_) => col.to_string(),
            Dest::Sqlite { .. } => format!("printf('%.3f', {col})"),
        }
    }

    pub(crate) fn password(&self) -> Option<String> {
        match self {
            Dest::Pg(_) => Some(pg().password.clone()),
            Dest::Maria(_) => Some(mariadb().password.clone()),
            Dest::Sqlite { .. } => None,
        }
    }
}

/// The run log is in the staging schema (`DST_SCHEMA`, default `staging`).
const PG_SEARCH_PATH: &str = "SET search_path TO staging";

pub(crate) fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn arrow_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

fn batch(ids: &[i64]) -> RecordBatch {
    let names: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
    RecordBatch::try_new(
        arrow_schema(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from(names)),
        ],
    )
    .unwrap()
}

fn target(cfg: &Config, log: &RunLog, table: &str, mode: WriteMode) -> LoadTarget {
    LoadTarget::new(
        cfg.destination.schema.clone(),
        table.to_string(),
        mode,
        log.run_id(),
        Duration::from_secs(5),
    )
}

/// How a test load ends.
enum End {
    /// `commit` with the rows read.
    Commit(u64),
    /// The load is dropped before `commit`.
    Drop,
}

/// Loads `ids` into `table`, the run log's `ok` row handed to the loader for its commit.
/// `Ok(true)` when it committed.
fn load_table(
    cfg: &Config,
    log: &RunLog,
    table: &str,
    mode: WriteMode,
    ids: &[i64],
    end: End,
    times: (DateTime<Utc>, DateTime<Utc>),
) -> stage::error::Result<bool> {
    let mut dst = load::open(&cfg.destination)?;
    let target = target(cfg, log, table, mode);
    let schema = arrow_schema();
    let mut l = dst.begin(&target, &schema)?;
    l.write_batch(&batch(ids))?;
    let mut row = TableLogRow::new(&table.to_uppercase(), &target, times.0).ok(ids.len() as u64);
    row.ended_at = times.1;
    row.schema_hash = Some(schema_hash(&schema));
    l.log_on_commit(log.commit_rows(&row));
    match end {
        End::Commit(n) => l.commit(n).map(|_| true),
        End::Drop => Ok(false),
    }
}

pub(crate) fn open(dest: &Dest, run_id: &str, heartbeat: Duration) -> RunLog {
    RunLog::open_with(
        &dest.config(),
        run_id,
        "DIRECT",
        Some(Path::new("/etc/stage/nightly.ini")),
        heartbeat,
    )
    .unwrap()
}

/// A run with one table loaded and one failed, as the run would log it.
pub(crate) fn one_ok_one_failed(dest: &Dest, run_id: &str) -> RunLog {
    let cfg = dest.config();
    let log = open(dest, run_id, Duration::from_secs(30));
    let orders = (at("2026-03-01T02:00:00Z"), at("2026-03-01T02:00:02.5Z"));
    let ok = load_table(
        &cfg,
        &log,
        "orders",
        WriteMode::Replace,
        &[1, 2, 3],
        End::Commit(3),
        orders,
    );
    assert!(ok.unwrap());
    // customers exists with other columns: an append load refuses it.
    dest.exec("CREATE TABLE customers (x INTEGER)");
    let started = at("2026-03-01T02:00:03Z");
    let err = load_table(
        &cfg,
        &log,
        "customers",
        WriteMode::Append,
        &[1],
        End::Commit(1),
        (started, started),
    )
    .unwrap_err();
    let target = target(&cfg, &log, "customers", WriteMode::Append);
    let mut row = TableLogRow::new("Customers", &target, started).failed(&err);
    row.ended_at = at("2026-03-01T02:00:03.25Z");
    log.table_failed(&row).unwrap();
    log.finish(&RunEnd::new(1, 1, 1, 3)).unwrap();
    log
}

/// The loader's refusal of `customers` (named with the default `DST_SCHEMA` where the
/// destination has one).
pub(crate) fn refused(dest: &Dest) -> String {
    let table = match dest {
        Dest::Sqlite { .. } => "customers",
        _ => "staging.customers",
    };
    format!("staging table {table} has columns (x) but the source now has (id, name); with WRITE_MODE=append the table is kept as it is — use WRITE_MODE=replace to rebuild it")
}

fn run_leaves_exactly_the_expected_rows(dest: Dest) {
    let run_id = unique_name("r");
    one_ok_one_failed(&dest, &run_id);
    let ts = |c: &str| dest.ts(c);
    let runs = dest.rows(
        "SELECT run_id, status, exit_code, mode, tool_version, pid, config_path, tables_total, \
         tables_ok, tables_failed, rows_total, bytes_total, manifest_path, \
         CASE WHEN host <> '' AND started_at <= ended_at AND last_heartbeat_at = ended_at THEN 'times ok' ELSE 'bad' END \
         FROM etl_runs",
    );
    let pid = std::process::id().to_string();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        runs,
        vec![vec![
            run_id.as_str(),
            "partial",
            "1",
            "DIRECT",
            version,
            pid.as_str(),
            "/etc/stage/nightly.ini",
            "2",
            "1",
            "1",
            "3",
            "NULL",
            "NULL",
            "times ok"
        ]]
    );
    let logs = dest.rows(&format!(
        "SELECT table_name, status, records_extracted, records_loaded, {}, error_class, \
         error_message, run_id, source_table, write_mode, {}, {}, {}, attempts, bytes, parts \
         FROM etl_logs ORDER BY id",
        dest.secs("execution_time_seconds"),
        ts("started_at"),
        ts("ended_at"),
        ts("execution_date")
    ));
    assert_eq!(
        logs,
        vec![
            vec![
                "orders",
                "ok",
                "3",
                "3",
                "2.500",
                "NULL",
                "NULL",
                &run_id,
                "ORDERS",
                "replace",
                "2026-03-01 02:00:00.000000",
                "2026-03-01 02:00:02.500000",
                "2026-03-01 02:00:02.500000",
                "1",
                "NULL",
                "NULL"
            ],
            vec![
                "customers",
                "failed",
                "0",
                "0",
                "0.250",
                "data",
                &refused(&dest),
                &run_id,
                "Customers",
                "append",
                "2026-03-01 02:00:03.000000",
                "2026-03-01 02:00:03.250000",
                "2026-03-01 02:00:03.250000",
                "1",
                "NULL",
                "NULL"
            ],
        ]
    );
    let hash = schema_hash(&arrow_schema());
    assert_eq!(
        dest.rows(&format!(
            "SELECT table_name, {}, total_records, last_run_id, last_success_run_id, schema_hash, {} \
             FROM sync_metadata ORDER BY table_name",
            ts("last_sync_date"),
            ts("updated_at")
        )),
        vec![
            vec![
                "customers",
                "NULL",
                "NULL",
                &run_id,
                "NULL",
                "NULL",
                "2026-03-01 02:00:03.250000"
            ],
            vec![
                "orders",
                "2026-03-01 02:00:02.500000",
                "3",
                &run_id,
                &run_id,
                &hash,
                "2026-03-01 02:00:02.500000"
            ],
        ]
    );
    assert_eq!(dest.rows("SELECT count(*) FROM orders"), vec![vec!["3"]]);
    if let Some(password) = dest.password() {
        for table in ["etl_runs", "etl_logs", "sync_metadata"] {
            let all = format!("{:?}", dest.rows(&format!("SELECT * FROM {table}")));
            assert!(!all.contains(&password), "{table} holds the password");
        }
    }
}

#[test]
fn runlog_pg_one_ok_one_failed_table_leave_exactly_these_rows() {
    run_leaves_exactly_the_expected_rows(Dest::pg());
}

#[test]
fn runlog_mariadb_one_ok_one_failed_table_leave_exactly_these_rows() {
    run_leaves_exactly_the_expected_rows(Dest::maria());
}

#[test]
fn runlog_sqlite_one_ok_one_failed_table_leave_exactly_these_rows() {
    run_leaves_exactly_the_expected_rows(Dest::sqlite());
}

/// The `ok` row is written by the loader's commit: not when the load is dropped, not when
/// the commit fails its count check; with the data when it commits (replace and append).
fn ok_row_commits_with_the_swap_only(dest: Dest) {
    let cfg = dest.config();
    let log = open(&dest, &unique_name("r"), Duration::from_secs(30));
    let t = (at("2026-03-01T02:00:00Z"), at("2026-03-01T02:00:01Z"));
    let logged =
        || dest.rows("SELECT table_name, records_loaded, write_mode FROM etl_logs ORDER BY id");
    let synced = || dest.rows("SELECT total_records FROM sync_metadata");
    let load = |mode, ids: &[i64], end| load_table(&cfg, &log, "items", mode, ids, end, t);

    assert!(!load(WriteMode::Replace, &[1, 2], End::Drop).unwrap());
    assert!(logged().is_empty() && synced().is_empty());
    let e = load(WriteMode::Replace, &[1, 2], End::Commit(5)).unwrap_err();
    assert!(e.to_string().contains("2 rows loaded but 5 read"), "{e}");
    assert!(logged().is_empty() && synced().is_empty());
    assert!(load(WriteMode::Replace, &[1, 2], End::Commit(2)).unwrap());
    assert_eq!(logged(), vec![vec!["items", "2", "replace"]]);
    assert_eq!(dest.rows("SELECT count(*) FROM items"), vec![vec!["2"]]);

    // append keeps the load in one transaction with the row.
    assert!(!load(WriteMode::Append, &[3], End::Drop).unwrap());
    assert_eq!(logged().len(), 1);
    assert_eq!(synced(), vec![vec!["2"]]);
    assert!(load(WriteMode::Append, &[3, 4, 5], End::Commit(3)).unwrap());
    assert_eq!(
        logged(),
        vec![vec!["items", "2", "replace"], vec!["items", "3", "append"]]
    );
    assert_eq!(synced(), vec![vec!["3"]]);
    assert_eq!(dest.rows("SELECT count(*) FROM items"), vec![vec!["5"]]);
}

#[test]
fn runlog_pg_ok_row_commits_with_the_swap_only() {
    ok_row_commits_with_the_swap_only(Dest::pg());
}

#[test]
fn runlog_mariadb_ok_row_commits_with_the_swap_only() {
    ok_row_commits_with_the_swap_only(Dest::maria());
}

#[test]
fn runlog_sqlite_ok_row_commits_with_the_swap_only() {
    ok_row_commits_with_the_swap_only(Dest::sqlite());
}

/// When the run log's rows cannot be written (here `etl_logs` was dropped behind the run's
/// back), the loader rolls them back and the load still commits.
fn log_failure_never_fails_the_load(dest: Dest) {
    let cfg = dest.config();
    let log = open(&dest, &unique_name("r"), Duration::from_secs(30));
    dest.exec("DROP TABLE etl_logs");
    let t = (at("2026-03-01T02:00:00Z"), at("2026-03-01T02:00:01Z"));
    for mode in [WriteMode::Replace, WriteMode::Append] {
        let loaded = load_table(&cfg, &log, "items", mode, &[1, 2], End::Commit(2), t);
        assert!(loaded.unwrap());
    }
    assert_eq!(dest.rows("SELECT count(*) FROM items"), vec![vec!["4"]]);
    // The upsert went with the failed insert.
    assert!(dest.rows("SELECT * FROM sync_metadata").is_empty());
}

#[test]
fn runlog_pg_log_failure_never_fails_the_load() {
    log_failure_never_fails_the_load(Dest::pg());
}

#[test]
fn runlog_mariadb_log_failure_never_fails_the_load() {
    log_failure_never_fails_the_load(Dest::maria());
}

#[test]
fn runlog_sqlite_log_failure_never_fails_the_load() {
    log_failure_never_fails_the_load(Dest::sqlite());
}

/// `RUN_LOG_SCHEMA` moves the three tables; a staging table outside that schema is named
/// `schema.table` in them.
#[test]
fn runlog_pg_run_log_schema_holds_the_tables_and_qualifies_table_names() {
    let dest = Dest::pg();
    let cfg = dest.config_with(&[("RUN_LOG_SCHEMA", "ops")]);
    let log = RunLog::open_with(
        &cfg,
        &unique_name("r"),
        "DUMP",
        None,
        Duration::from_secs(30),
    )
    .unwrap();
    let t = (at("2026-03-01T02:00:00Z"), at("2026-03-01T02:00:01Z"));
    let loaded = load_table(
        &cfg,
        &log,
        "orders",
        WriteMode::Replace,
        &[1],
        End::Commit(1),
        t,
    );
    assert!(loaded.unwrap());
    log.finish(&RunEnd::new(0, 1, 0, 1)).unwrap();
    assert_eq!(
        dest.rows("SELECT table_name, status FROM ops.etl_logs"),
        vec![vec!["staging.orders", "ok"]]
    );
    assert_eq!(
        dest.rows("SELECT table_name FROM ops.sync_metadata"),
        vec![vec!["staging.orders"]]
    );
    assert_eq!(
        dest.rows("SELECT status, mode FROM ops.etl_runs"),
        vec![vec!["ok", "DUMP"]]
    );
    assert_eq!(
        dest.rows(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'staging' AND table_name LIKE 'etl%'"
        ),
        vec![vec!["0"]]
    );
}

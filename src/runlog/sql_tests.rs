use super::*;
use crate::runlog::{FailureClass, RunEnd, TableLogRow};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn sql(flavor: Flavor, schema: Option<&str>) -> Sql {
    Sql {
        flavor,
        schema: schema.map(str::to_string),
    }
}

fn row(ok: bool) -> TableLogRow {
    TableLogRow {
        source_table: "dbo.Orders".into(),
        staging_schema: None,
        staging_table: "orders".into(),
        write_mode: "replace".into(),
        started_at: at("2026-01-02T03:04:05.678901Z"),
        ended_at: at("2026-01-02T03:04:08.178901Z"),
        records_extracted: 10,
        records_loaded: if ok { 10 } else { 0 },
        attempts: 2,
        bytes: Some(100),
        parts: Some(1),
        schema_hash: Some("ab".into()),
        failure: (!ok).then(|| (FailureClass::Source, "it's\0 bad".to_string())),
        sync: None,
    }
}

#[test]
fn literals_per_database() {
    let t = at("2026-01-02T03:04:05.678901Z");
    let expected = [
        (
            Flavor::Postgres,
            "'2026-01-02 03:04:05.678901+00'::timestamptz",
        ),
        (Flavor::Mysql, "'2026-01-02 03:04:05.678901'"),
        (Flavor::Sqlite, "'2026-01-02 03:04:05.678901Z'"),
        (
            Flavor::Mssql,
            "CAST(N'2026-01-02 03:04:05.678901 +00:00' AS DATETIMEOFFSET(6))",
        ),
    ];
    for (flavor, want) in expected {
        assert_eq!(sql(flavor, None).time(t), want);
    }
    assert_eq!(sql(Flavor::Postgres, None).text("it's\0"), "'it''s'");
    assert_eq!(sql(Flavor::Mysql, None).text(r"a\b"), r"'a\\b'");
    assert_eq!(sql(Flavor::Mssql, None).opt_text(None), "NULL");
    assert_eq!(Sql::secs(2.5), "2.500");
    assert_eq!(Sql::secs(f64::NAN), "NULL");
    assert_eq!(Sql::int(u64::MAX), i64::MAX.to_string());
}

/// SQL Server cannot run here: its statements are checked as text.
#[test]
fn sql_server_statements() {
    let s = sql(Flavor::Mssql, Some("staging"));
    assert_eq!(
        s.create_schema().unwrap(),
        "IF SCHEMA_ID(N'staging') IS NULL EXEC(N'CREATE SCHEMA [staging]')"
    );
    let create = s.create_tables();
    assert_eq!(create.len(), 3);
    assert_eq!(
        create[1],
        "IF OBJECT_ID(N'[staging].[etl_logs]', N'U') IS NULL CREATE TABLE [staging].[etl_logs] (\
         [id] BIGINT IDENTITY(1,1) NOT NULL PRIMARY KEY, [execution_date] DATETIMEOFFSET(6), \
         [table_name] NVARCHAR(255), [records_extracted] BIGINT, [records_loaded] BIGINT, \
         [status] NVARCHAR(64), [error_message] NVARCHAR(MAX), [execution_time_seconds] DECIMAL(12,3), \
         [run_id] NVARCHAR(64), [source_table] NVARCHAR(MAX), [write_mode] NVARCHAR(64), \
         [started_at] DATETIMEOFFSET(6), [ended_at] DATETIMEOFFSET(6), [attempts] BIGINT, \
         [error_class] NVARCHAR(64), [bytes] BIGINT, [parts] BIGINT, \
         INDEX [etl_logs_table_ended] NONCLUSTERED ([table_name], [ended_at]), \
         INDEX [etl_logs_run] NONCLUSTERED ([run_id]))"
    );
    assert_eq!(
        create[2],
        "IF OBJECT_ID(N'[staging].[sync_metadata]', N'U') IS NULL CREATE TABLE [staging].[sync_metadata] (\
         [table_name] NVARCHAR(255) NOT NULL PRIMARY KEY, [last_sync_date] DATETIMEOFFSET(6), \
         [total_records] BIGINT, [last_run_id] NVARCHAR(64), [last_success_run_id] NVARCHAR(64), \
         [schema_hash] NVARCHAR(64), [updated_at] DATETIMEOFFSET(6), [sync_mode] NVARCHAR(64), \
         [cursor_columns] NVARCHAR(MAX), [cursor_type] NVARCHAR(64), [watermark] NVARCHAR(MAX), \
         [last_full_refresh_at] DATETIMEOFFSET(6))"
    );
    assert!(create[0].starts_with("IF OBJECT_ID(N'[staging].[etl_runs]', N'U') IS NULL CREATE TABLE [staging].[etl_runs] ([run_id] NVARCHAR(64) NOT NULL PRIMARY KEY, [started_at] DATETIMEOFFSET(6), "));
    assert!(s.create_indexes().is_empty());
    assert_eq!(
        s.add_column(SYNC, &SYNC_COLUMNS[3]),
        "ALTER TABLE [staging].[sync_metadata] ADD [last_run_id] NVARCHAR(64)"
    );
    assert_eq!(
        s.columns_of(LOGS),
        "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = N'staging' AND TABLE_NAME = N'etl_logs'"
    );
    let t = |x: &str| format!("CAST(N'2026-01-02 03:04:{x} +00:00' AS DATETIMEOFFSET(6))");
    let (start, end) = (t("05.678901"), t("08.178901"));
    let ok = s.table_rows("R1", "orders", &row(true));
    assert_eq!(
        ok[0],
        format!(
            "INSERT INTO [staging].[etl_logs] ([execution_date], [table_name], [records_extracted], \
             [records_loaded], [status], [error_message], [execution_time_seconds], [run_id], \
             [source_table], [write_mode], [started_at], [ended_at], [attempts], [error_class], \
             [bytes], [parts]) VALUES ({end}, N'orders', 10, 10, N'ok', NULL, 2.500, N'R1', \
             N'dbo.Orders', N'replace', {start}, {end}, 2, NULL, 100, 1)"
        )
    );
    assert_eq!(
        ok[1],
        format!(
            "UPDATE [staging].[sync_metadata] WITH (UPDLOCK, SERIALIZABLE) SET [last_sync_date] = {end}, \
             [total_records] = 10, [last_run_id] = N'R1', [last_success_run_id] = N'R1', \
             [schema_hash] = N'ab', [updated_at] = {end} WHERE [table_name] = N'orders'; \
             IF @@ROWCOUNT = 0 INSERT INTO [staging].[sync_metadata] ([table_name], [last_sync_date], \
             [total_records], [last_run_id], [last_success_run_id], [schema_hash], [updated_at]) \
             VALUES (N'orders', {end}, 10, N'R1', N'R1', N'ab', {end})"
        )
    );
    let failed = s.table_rows("R1", "orders", &row(false));
    assert!(failed[0].contains(
        "VALUES ({end}, N'orders', 10, 0, N'failed', N'it''s bad', 2.500, N'R1', N'dbo.Orders', N'replace', {start}, {end}, 2, N'source', 100, 1)"
            .replace("{end}", &end)
            .replace("{start}", &start)
            .as_str()
    ));
    assert_eq!(
        failed[1],
        format!(
            "UPDATE [staging].[sync_metadata] WITH (UPDLOCK, SERIALIZABLE) SET [last_run_id] = N'R1', \
             [updated_at] = {end} WHERE [table_name] = N'orders'; IF @@ROWCOUNT = 0 INSERT INTO \
             [staging].[sync_metadata] ([table_name], [last_run_id], [updated_at]) VALUES (N'orders', N'R1', {end})"
        )
    );
    assert_eq!(
        s.mark_interrupted(at("2026-01-02T03:04:05.678901Z")),
        format!(
            "UPDATE [staging].[etl_runs] SET [status] = N'interrupted', [ended_at] = \
             COALESCE([last_heartbeat_at], [started_at]) WHERE [status] = N'running' AND \
             COALESCE([last_heartbeat_at], [started_at]) < {start}"
        )
    );
    assert_eq!(
        s.status(None),
        "SELECT CAST([table_name] AS NVARCHAR(MAX)), CAST([status] AS NVARCHAR(MAX)), \
         CAST([records_loaded] AS NVARCHAR(MAX)), CAST([execution_time_seconds] AS NVARCHAR(MAX)), \
         CONVERT(NVARCHAR(19), SWITCHOFFSET([ended_at], '+00:00'), 126) + N'Z', \
         CAST([error_message] AS NVARCHAR(MAX)), CAST([error_class] AS NVARCHAR(MAX)), \
         CAST([run_id] AS NVARCHAR(MAX)) FROM (SELECT l.*, ROW_NUMBER() OVER (PARTITION BY \
         l.[table_name] ORDER BY l.[ended_at] DESC, l.[id] DESC) AS stage_rn FROM \
         [staging].[etl_logs] l) latest WHERE stage_rn = 1 ORDER BY [table_name]"
    );
    assert_eq!(
        crate::runlog::mssql::transaction_sql(&["A".into(), "B".into()]),
        "SET XACT_ABORT ON; BEGIN TRANSACTION; A;\nB; COMMIT TRANSACTION;"
    );
}

#[test]
fn upserts_per_database() {
    let pg = sql(Flavor::Postgres, Some("ops")).table_rows("R1", "orders", &row(false));
    assert_eq!(
        pg[1],
        "INSERT INTO \"ops\".\"sync_metadata\" (\"table_name\", \"last_run_id\", \"updated_at\") VALUES \
         ('orders', 'R1', '2026-01-02 03:04:08.178901+00'::timestamptz) ON CONFLICT (\"table_name\") \
         DO UPDATE SET \"last_run_id\" = excluded.\"last_run_id\", \"updated_at\" = excluded.\"updated_at\""
    );
    let my = sql(Flavor::Mysql, None).table_rows("R1", "orders", &row(false));
    assert_eq!(
        my[1],
        "INSERT INTO `sync_metadata` (`table_name`, `last_run_id`, `updated_at`) VALUES \
         ('orders', 'R1', '2026-01-02 03:04:08.178901') ON DUPLICATE KEY UPDATE \
         `last_run_id` = 'R1', `updated_at` = '2026-01-02 03:04:08.178901'"
    );
    assert!(sql(Flavor::Mysql, None).create_tables()[1].ends_with(
        "KEY `etl_logs_table_ended` (`table_name`, `ended_at`), KEY `etl_logs_run` (`run_id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    ));
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => "NULL".to_string(),
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Real(v) => v.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                rusqlite::types::ValueRef::Blob(_) => "BLOB".into(),
            })
            .collect())
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The SQLite flavour runs for real, in memory: a run, an ok and a failed table, the
/// upserts, a stale run marked interrupted, the status queries.
#[test]
fn sqlite_statements_run() {
    let s = sql(Flavor::Sqlite, None);
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let exec = |stmts: &[String]| {
        for x in stmts {
            conn.execute_batch(x).unwrap_or_else(|e| panic!("{x}: {e}"));
        }
    };
    exec(&s.create_tables());
    exec(&s.create_tables()); // idempotent
    exec(&s.create_indexes());
    let t0 = at("2026-01-02T03:00:00Z");
    let run = |id: &'static str, t| RunRow {
        run_id: id,
        started_at: t,
        mode: "DIRECT",
        host: "h",
        pid: 7,
        config_path: None,
        tables_total: 2,
    };
    exec(&[s.insert_run(&run("R0", t0))]);
    let t1 = at("2026-01-02T04:00:00Z");
    let cutoff = at("2026-01-02T03:58:30Z");
    assert_eq!(
        sqlite_rows(&conn, &s.stale_runs(cutoff)),
        vec![vec!["R0".to_string(), "2026-01-02T03:00:00Z".into()]]
    );
    exec(&[s.mark_interrupted(cutoff), s.insert_run(&run("R1", t1))]);
    exec(&s.table_rows("R1", "orders", &row(true)));
    exec(&s.table_rows("R1", "customers", &row(false)));
    exec(&s.table_rows("R1", "orders", &row(false)));
    exec(&[s.heartbeat("R1", at("2026-01-02T04:00:30Z"))]);
    exec(&[s.finish_run("R1", &RunEnd::new(1, 1, 1, 10), at("2026-01-02T04:01:00Z"))]);
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT run_id, status, ended_at, exit_code, tables_ok, tables_failed, rows_total FROM etl_runs ORDER BY run_id"
        ),
        vec![
            vec!["R0", "interrupted", "2026-01-02 03:00:00.000000Z", "NULL", "NULL", "NULL", "NULL"],
            vec!["R1", "partial", "2026-01-02 04:01:00.000000Z", "1", "1", "1", "10"],
        ]
    );
    // The ok row kept last_sync_date when the later failure only moved last_run_id.
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT table_name, last_sync_date, total_records, last_run_id, last_success_run_id, schema_hash, updated_at FROM sync_metadata ORDER BY table_name"
        ),
        vec![
            vec![
                "customers",
                "NULL",
                "NULL",
                "R1",
                "NULL",
                "NULL",
                "2026-01-02 03:04:08.178901Z"
            ],
            vec![
                "orders",
                "2026-01-02 03:04:08.178901Z",
                "10",
                "R1",
                "R1",
                "ab",
                "2026-01-02 03:04:08.178901Z"
            ],
        ]
    );
    let status = sqlite_rows(&conn, &s.status(None));
    assert_eq!(
        status,
        vec![
            vec![
                "customers",
                "failed",
                "0",
                "2.5",
                "2026-01-02T03:04:08Z",
                "it's bad",
                "source",
                "R1"
            ],
            vec![
                "orders",
                "failed",
                "0",
                "2.5",
                "2026-01-02T03:04:08Z",
                "it's bad",
                "source",
                "R1"
            ],
        ]
    );
    assert_eq!(sqlite_rows(&conn, &s.status(Some("R1"))).len(), 3);
    assert_eq!(
        sqlite_rows(&conn, &s.run_row("R1"))[0],
        vec![
            "R1",
            "partial",
            "2026-01-02T04:00:00Z",
            "2026-01-02T04:01:00Z",
            "1",
            "DIRECT",
            "h",
            "2",
            "1",
            "1",
            "10"
        ]
    );
}

/// Tables made by the seed's layout get the new columns, and then take rows.
#[test]
fn seed_tables_get_the_new_columns() {
    let s = sql(Flavor::Sqlite, None);
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE etl_logs (id INTEGER PRIMARY KEY, execution_date TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
         table_name VARCHAR(255), records_extracted INTEGER, records_loaded INTEGER, status VARCHAR(50), \
         error_message TEXT, execution_time_seconds NUMERIC(10, 2));
         CREATE TABLE sync_metadata (table_name VARCHAR(255) PRIMARY KEY, last_sync_date TIMESTAMP, total_records INTEGER);",
    )
    .unwrap();
    for x in s.create_tables() {
        conn.execute_batch(&x).unwrap();
    }
    let mut added = 0;
    for (table, columns) in TABLES {
        let have: Vec<String> = sqlite_rows(&conn, &s.columns_of(table))
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        for c in columns.iter().filter(|c| !have.iter().any(|h| h == c.name)) {
            conn.execute_batch(&s.add_column(table, c)).unwrap();
            added += 1;
        }
    }
    // etl_logs 9, sync_metadata 4 (#15) + 5 (#16).
    assert_eq!(added, 9 + 4 + 5);
    for x in s
        .create_indexes()
        .into_iter()
        .chain(s.table_rows("R1", "orders", &row(true)))
    {
        conn.execute_batch(&x)
            .unwrap_or_else(|e| panic!("{x}: {e}"));
    }
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT table_name, records_loaded, run_id, source_table FROM etl_logs"
        ),
        vec![vec!["orders", "10", "R1", "dbo.Orders"]]
    );
}

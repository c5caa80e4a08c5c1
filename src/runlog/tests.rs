use super::*;
use crate::load::LoadTarget;

#[test]
fn failures_are_classed_by_where_they_came_from() {
    let db =
        |context: &str, transient| Error::database(context, transient, Error::Check("x".into()));
    let cases = [
        (Error::config("bad"), FailureClass::Config),
        (
            Error::TableNotFound {
                table: "t".into(),
                hint: String::new(),
            },
            FailureClass::Config,
        ),
        (
            Error::Connect {
                side: "source",
                target: "t".into(),
                message: "m".into(),
            },
            FailureClass::Source,
        ),
        (
            Error::Connect {
                side: "destination",
                target: "t".into(),
                message: "m".into(),
            },
            FailureClass::Destination,
        ),
        (
            db("table orders: reading rows", false),
            FailureClass::Source,
        ),
        (
            db("staging table orders: loading rows", false),
            FailureClass::Destination,
        ),
        (
            db("table orders: reading rows", true),
            FailureClass::Transient,
        ),
        (
            Error::Locked {
                table: "t".into(),
                holder: String::new(),
            },
            FailureClass::Transient,
        ),
        (Error::value("t", "c", 1, "too big"), FailureClass::Data),
        (Error::Interrupted { signal: 15 }, FailureClass::Interrupted),
    ];
    for (e, class) in cases {
        assert_eq!(FailureClass::of(&e), class, "{e}");
    }
}

#[test]
fn errors_are_kept_on_one_line() {
    assert_eq!(one_line("a\n  b\tc  "), "a b c");
    let long = "é".repeat(3000);
    let cut = one_line(&long);
    assert!(cut.len() <= MAX_ERROR_BYTES && cut.ends_with("..."));
    let row = TableLogRow::new(
        "Orders",
        &LoadTarget::new(
            Some("staging".into()),
            "orders".into(),
            crate::config::WriteMode::Append,
            "run",
            Duration::ZERO,
        ),
        Utc::now(),
    )
    .failed(&Error::value(
        "orders",
        "amount",
        3,
        "does not fit\nin BIGINT",
    ));
    let (class, message) = row.failure.clone().unwrap();
    assert_eq!(class, FailureClass::Data);
    assert_eq!(
        message,
        "table orders, column amount, row 3: does not fit in BIGINT"
    );
    assert_eq!(
        (row.write_mode.as_str(), row.staging_schema.as_deref()),
        ("append", Some("staging"))
    );
}

#[test]
fn run_status_follows_the_exit_code() {
    assert_eq!(RunStatus::of(0, 3, 0), RunStatus::Ok);
    assert_eq!(RunStatus::of(1, 2, 1), RunStatus::Partial);
    assert_eq!(RunStatus::of(1, 0, 3), RunStatus::Failed);
    assert_eq!(RunStatus::of(4, 0, 1), RunStatus::Failed);
    assert_eq!(RunStatus::of(143, 1, 1), RunStatus::Interrupted);
    let end = RunEnd::new(1, 2, 1, 30);
    assert_eq!((end.status, end.tables_total), (RunStatus::Partial, 3));
}

#[test]
fn table_names_are_relative_to_the_run_log_schema() {
    // MySQL, SQLite: no schemas.
    assert_eq!(logged_name(None, None, Some("x"), "t"), "t");
    // PostgreSQL: the default run log schema is the staging schema.
    assert_eq!(
        logged_name(Some("public"), Some("stg"), Some("stg"), "t"),
        "t"
    );
    assert_eq!(logged_name(Some("public"), None, None, "t"), "t");
    assert_eq!(logged_name(Some("public"), Some("public"), None, "t"), "t");
    assert_eq!(
        logged_name(Some("public"), Some("ops"), Some("stg"), "t"),
        "stg.t"
    );
    assert_eq!(
        logged_name(Some("public"), Some("ops"), None, "t"),
        "public.t"
    );
    // SQL Server: a load without a schema goes to `staging`.
    assert_eq!(
        logged_name(Some("staging"), Some("staging"), None, "t"),
        "t"
    );
}

#[test]
fn schema_hash_changes_with_the_shape() {
    use arrow::datatypes::{DataType, Field, Schema};
    let a = Schema::new(vec![Field::new("id", DataType::Int64, false)]);
    let b = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
    assert_eq!(schema_hash(&a), schema_hash(&a.clone()));
    assert_ne!(schema_hash(&a), schema_hash(&b));
    assert_eq!(schema_hash(&a).len(), 32);
}

#[test]
fn status_prints_aligned_lines() {
    let s = status::Status {
        location: "sqlite:x".into(),
        run: None,
        exists: true,
        tables: vec![
            status::TableStatus {
                table: "customers".into(),
                status: "failed".into(),
                rows: Some(0),
                seconds: Some(0.25),
                ended: Some("2026-01-02T03:04:05Z".into()),
                error: Some("table customers: not found in the source".into()),
                error_class: Some("config".into()),
                run_id: Some("R1".into()),
            },
            status::TableStatus {
                table: "orders".into(),
                status: "ok".into(),
                rows: Some(1000),
                seconds: Some(12.04),
                ended: Some("2026-01-02T03:04:17Z".into()),
                error: None,
                error_class: None,
                run_id: Some("R1".into()),
            },
        ],
    };
    assert_eq!(
        s.to_text(),
        "table      status  rows  seconds  ended                 error\n\
         customers  failed  0     0.2      2026-01-02T03:04:05Z  [config] table customers: not found in the source\n\
         orders     ok      1000  12.0     2026-01-02T03:04:17Z\n"
    );
}

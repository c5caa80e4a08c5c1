//! The configuration contract and the command line, word for word.

use std::collections::HashMap;

use stage::config::{Config, Needs, Origin, RawIni, TransferMode};

use crate::common::{sqlite_ini, stage, write};

fn cfg(ini: &str, env: &[(&str, &str)]) -> Result<Config, String> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |k: &str| env.get(k).cloned();
    Config::from_parts(RawIni::parse(ini).unwrap(), &lookup, Needs { source: true })
        .map_err(|e| e.to_string())
}

const BASE: &str =
    "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = s.db\n[settings]\nSRC_TABLES = a\n";

fn origin(c: &Config, key: &str) -> (String, Origin) {
    let e = c.effective.iter().find(|e| e.key == key).unwrap();
    (e.shown.clone(), e.origin)
}

#[test]
fn ini_wins_over_env_which_wins_over_default() {
    let c = cfg(
        &format!("{BASE}SRC_CHUNK_SIZE = 5\n"),
        &[("SRC_CHUNK_SIZE", "7"), ("ROW_LIMIT", "9")],
    )
    .unwrap();
    assert_eq!(c.settings.chunk_size, 5);
    assert_eq!(origin(&c, "SRC_CHUNK_SIZE"), ("5".into(), Origin::Ini));
    assert_eq!(c.settings.row_limit, Some(9));
    assert_eq!(origin(&c, "ROW_LIMIT"), ("9".into(), Origin::Env));
    assert_eq!(c.settings.retry.max_retries, 3);
    assert_eq!(
        origin(&c, "DIRECT_MAX_RETRIES"),
        ("3".into(), Origin::Default)
    );
    // An empty INI value counts as unset: the environment's value applies.
    let c = cfg(&format!("{BASE}ROW_LIMIT =\n"), &[("ROW_LIMIT", "2")]).unwrap();
    assert_eq!(c.settings.row_limit, Some(2));
}

#[test]
fn keys_and_sections_are_case_insensitive_and_old_mode_names_work() {
    let c = cfg(
        "[DATABASE-SOURCE]\nsrc_driver = oracle+oracledb\n[Settings]\nsrc_tables = x\ntransfer_mode = sqlalchemy_dump\nrow_limit = 1\nsrc_chunk_size = 1\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.source.driver, stage::config::Driver::Oracle);
    assert_eq!(c.settings.mode, TransferMode::Dump);
    assert_eq!(c.settings.row_limit, Some(1));
    assert_eq!(c.settings.chunk_size, 1);
    for (old, new) in [
        ("SQLALCHEMY_DIRECT", TransferMode::Direct),
        ("CONNECTORX_DUMP", TransferMode::Connectorx),
    ] {
        let c = cfg(&format!("{BASE}TRANSFER_MODE = {old}\n"), &[]).unwrap();
        assert_eq!(c.settings.mode, new);
    }
    for (sqla, want) in [
        ("mssql+pyodbc", "mssql"),
        ("postgresql+psycopg2", "postgres"),
        ("mysql+pymysql", "mysql"),
    ] {
        let c = cfg(
            &format!("[database-source]\nSRC_DRIVER = {sqla}\n[settings]\nSRC_TABLES = a\n"),
            &[],
        )
        .unwrap();
        assert_eq!(c.source.driver.name(), want);
    }
}

#[test]
fn environment_alone_is_enough() {
    let c = cfg(
        "",
        &[
            ("SRC_DRIVER", "postgres"),
            ("SRC_HOST", "h"),
            ("SRC_TABLES", "a, b"),
        ],
    )
    .unwrap();
    assert_eq!(c.settings.tables, ["a", "b"]);
    assert_eq!(c.source.port, None);
    assert_eq!(c.destination.driver, stage::config::Driver::Sqlite);
    assert_eq!(c.destination.database.as_deref(), Some("staging.sqlite"));
}

#[test]
fn every_kind_of_invalid_value_is_one_line_naming_section_key_value_and_what_is_allowed() {
    let cases: &[(&str, &str)] = &[
        (
            "[settings]\nROW_LIMIT = abc",
            r#"[settings] ROW_LIMIT = "abc" is invalid: expected a whole number ≥ 0"#,
        ),
        (
            "[settings]\nROW_LIMIT = -1",
            r#"[settings] ROW_LIMIT = "-1" is invalid: expected a whole number ≥ 0"#,
        ),
        (
            "[settings]\nSRC_CHUNK_SIZE = 0",
            r#"[settings] SRC_CHUNK_SIZE = "0" is invalid: expected a whole number ≥ 1"#,
        ),
        (
            "[settings]\nREAD_CONNECTIONS = 0",
            r#"[settings] READ_CONNECTIONS = "0" is invalid: expected a whole number ≥ 1"#,
        ),
        (
            "[settings]\nREAD_CONNECTIONS = 17",
            r#"[settings] READ_CONNECTIONS = "17" is invalid: expected a whole number from 1 to 16"#,
        ),
        (
            "[settings]\nPARQUET_ENCODE_THREADS = 0",
            r#"[settings] PARQUET_ENCODE_THREADS = "0" is invalid: expected a whole number ≥ 1"#,
        ),
        (
            "[settings]\nPARQUET_ENCODE_THREADS = 65",
            r#"[settings] PARQUET_ENCODE_THREADS = "65" is invalid: expected a whole number from 1 to 64"#,
        ),
        (
            "[settings]\nSRC_CHUNK_SIZE = True",
            r#"[settings] SRC_CHUNK_SIZE = "True" is invalid: expected a whole number ≥ 1"#,
        ),
        (
            "[settings]\nTRANSFER_MODE = FAST",
            r#"[settings] TRANSFER_MODE = "FAST" is invalid: expected DIRECT, DUMP, CONNECTORX (old names SQLALCHEMY_DIRECT, SQLALCHEMY_DUMP, CONNECTORX_DUMP are accepted)"#,
        ),
        (
            "[settings]\nWRITE_MODE = upsert",
            r#"[settings] WRITE_MODE = "upsert" is invalid: expected replace, truncate, append or merge"#,
        ),
        (
            "[settings]\nCLEANUP_PARQUET_FILES = maybe",
            r#"[settings] CLEANUP_PARQUET_FILES = "maybe" is invalid: expected true/false, yes/no, on/off or 1/0"#,
        ),
        (
            "[settings]\nPARQUET_COMPRESSION = brotli",
            r#"[settings] PARQUET_COMPRESSION = "brotli" is invalid: expected zstd, snappy, lz4, gzip or none"#,
        ),
        (
            "[settings]\nDIRECT_BACKOFF_MAX_SECONDS = soon",
            r#"[settings] DIRECT_BACKOFF_MAX_SECONDS = "soon" is invalid: expected a number of seconds ≥ 0"#,
        ),
        (
            "[settings]\nDIRECT_BACKOFF_BASE_SECONDS = 10",
            r#"[settings] DIRECT_BACKOFF_BASE_SECONDS = "10" is invalid: expected at most DIRECT_BACKOFF_MAX_SECONDS (8)"#,
        ),
        (
            "[database-source]\nSRC_PORT = 70000",
            r#"[database-source] SRC_PORT = "70000" is invalid: expected a port number 1-65535"#,
        ),
        (
            "[database-destination]\nDST_DRIVER = db2",
            r#"[database-destination] DST_DRIVER = "db2" is invalid: expected one of oracle, mssql, postgres, mysql, mariadb, sqlite (SQLAlchemy forms such as oracle+oracledb are accepted)"#,
        ),
        (
            "[settings]\nSRC_TABLES = a,,b",
            r#"[settings] SRC_TABLES = "a,,b" is invalid: table name 2 is blank"#,
        ),
        (
            "[settings]\nSRC_TABLES = Orders,orders",
            r#"[settings] SRC_TABLES = "Orders,orders" is invalid: "orders" is listed twice (as "Orders"); staging names are lowercase, so names that differ only in case collide"#,
        ),
        (
            "[logging]\nLOG_FORMAT = xml",
            r#"[logging] LOG_FORMAT = "xml" is invalid: expected text or json"#,
        ),
        (
            "[logging]\nLOG_LEVEL = LOUD",
            r#"[logging] LOG_LEVEL = "LOUD" is invalid: expected one of ERROR, WARN, INFO, DEBUG, TRACE (WARNING and CRITICAL are accepted)"#,
        ),
    ];
    for (ini, want) in cases {
        // BASE first; the case's section repeats and overrides.
        let got = cfg(&format!("{BASE}{ini}\n"), &[]).unwrap_err();
        assert_eq!(&got, want, "for {ini:?}");
        assert!(!got.contains('\n'));
    }
    assert_eq!(
        cfg("[settings]\nSRC_TABLES = a\n", &[]).unwrap_err(),
        "[database-source] SRC_DRIVER is required: one of oracle, mssql, postgres, mysql, mariadb, sqlite (or give SRC_URL)"
    );
    assert_eq!(
        cfg("[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = x\n", &[]).unwrap_err(),
        "[settings] SRC_TABLES is required: a comma-separated list of table names"
    );
    assert_eq!(
        cfg(BASE, &[("ROW_LIMIT", "ten")]).unwrap_err(),
        r#"[settings] ROW_LIMIT = "ten" (from the environment) is invalid: expected a whole number ≥ 0"#
    );
}

#[test]
fn urls_fill_the_connection_keys_and_never_echo_the_password() {
    let c = cfg("[database-source]\nSRC_URL = postgresql+psycopg2://u%40x:p%25w;%22@db.example:5433/app\n[settings]\nSRC_TABLES = a\n", &[]).unwrap();
    assert_eq!(c.source.driver.name(), "postgres");
    assert_eq!(c.source.host.as_deref(), Some("db.example"));
    assert_eq!(c.source.port, Some(5433));
    assert_eq!(c.source.username.as_deref(), Some("u@x"));
    assert_eq!(c.source.password.as_ref().unwrap().expose(), "p%w;\"");
    assert_eq!(c.source.database.as_deref(), Some("app"));
    assert!(!format!("{c:?}").contains("p%w"));
    let err = cfg(
        "[database-source]\nSRC_URL = nosql://u:hunter2@h/db\n[settings]\nSRC_TABLES = a\n",
        &[],
    )
    .unwrap_err();
    assert!(!err.contains("hunter2"), "{err}");
}

const PASSWORD: &str = r#"p%ss;w"rd%(x)s"#;

#[test]
fn a_password_with_percent_semicolon_and_quote_is_read_exactly_and_never_shown() {
    let c = cfg(
        &format!(
            "{BASE}[database-destination]\nDST_DRIVER = postgres\nDST_PASSWORD = {PASSWORD}\n"
        ),
        &[],
    )
    .unwrap();
    assert_eq!(c.destination.password.as_ref().unwrap().expose(), PASSWORD);
    assert!(!format!("{c:?}").contains("ss;w"));
    assert_eq!(origin(&c, "DST_PASSWORD"), ("***".into(), Origin::Ini));

    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.sqlite");
    rusqlite::Connection::open(&src)
        .unwrap()
        .execute_batch("CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);")
        .unwrap();
    let ini = format!(
        "{}[database-source]\nSRC_PASSWORD = {PASSWORD}\n",
        sqlite_ini(src.to_str().unwrap(), "stg.sqlite", "SRC_TABLES = a\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out\nCLEANUP_PARQUET_FILES = false\nLOG_LEVEL = DEBUG")
    );
    write(dir.path(), "a.ini", &ini);
    let mut seen = String::new();
    for args in [
        vec!["--config", "a.ini"],
        vec!["plan", "--config", "a.ini"],
        vec!["check", "--config", "a.ini"],
        vec!["--help"],
        vec!["run", "--help"],
    ] {
        let r = stage(dir.path(), &args, &[("DST_PASSWORD", PASSWORD)]);
        assert!(r.code == 0, "{args:?}: {}", r.all());
        seen.push_str(&r.all());
    }
    // A failing run's error output too.
    let r = stage(
        dir.path(),
        &["--config", "a.ini", "--tables", "ghost"],
        &[("DST_PASSWORD", PASSWORD)],
    );
    assert_eq!(r.code, 1);
    seen.push_str(&r.all());
    for entry in walk(dir.path()) {
        if entry.extension().is_some_and(|e| e == "json") {
            seen.push_str(&std::fs::read_to_string(entry).unwrap());
        }
    }
    assert!(seen.contains("SRC_PASSWORD=*** (ini)"), "{seen}");
    assert!(seen.contains("DST_PASSWORD=*** (env)"), "{seen}");
    for fragment in [PASSWORD, "ss;w", "w\"rd"] {
        assert!(!seen.contains(fragment), "{fragment} leaked:\n{seen}");
    }
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn bad_config_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.ini",
        &sqlite_ini("s.db", "d.db", "SRC_TABLES = a\nROW_LIMIT = lots"),
    );
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim(),
        r#"stage: error: [settings] ROW_LIMIT = "lots" is invalid: expected a whole number ≥ 0"#
    );
    let r = stage(dir.path(), &["--config", "missing.ini"], &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cannot read the configuration file missing.ini"),
        "{}",
        r.stderr
    );
}

#[cfg(not(feature = "connectorx"))]
#[test]
fn connectorx_without_the_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.db");
    rusqlite::Connection::open(&src)
        .unwrap()
        .execute_batch("CREATE TABLE a (x INTEGER);")
        .unwrap();
    write(
        dir.path(),
        "b.ini",
        &sqlite_ini("s.db", "d.db", "SRC_TABLES = a\nTRANSFER_MODE = CONNECTORX"),
    );
    let r = stage(dir.path(), &["--config", "b.ini"], &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("TRANSFER_MODE = CONNECTORX is not available in this build"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unreachable_source_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.ini",
        &sqlite_ini("nowhere/s.db", "d.db", "SRC_TABLES = a"),
    );
    let r = stage(dir.path(), &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.stderr.contains(
            "cannot connect to the source database (sqlite:nowhere/s.db): no SQLite database file"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn plan_shows_types_and_flags_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.db");
    rusqlite::Connection::open(&src)
        .unwrap()
        .execute_batch("CREATE TABLE a (id INTEGER, amount DECIMAL(12,2), odd MONEY); INSERT INTO a VALUES (1, '2.50', 3);")
        .unwrap();
    write(
        dir.path(),
        "a.ini",
        &sqlite_ini("s.db", "d.db", "SRC_TABLES = a"),
    );
    let r = stage(dir.path(), &["plan", "--config", "a.ini"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.contains("table a → a (1 rows)"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("amount  DECIMAL(12,2)  Decimal128(12, 2)  DECIMAL TEXT(12,2)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("lossy or unsupported: column odd: declared type MONEY has no rule"),
        "{}",
        r.stdout
    );
    assert!(!dir.path().join("d.db").exists(), "plan moves nothing");
}

#[test]
fn the_demo_stages_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let r = stage(dir.path(), &["demo"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("6 of 6 tables staged") || r.stdout.contains("tables staged"),
        "{}",
        r.stdout
    );
    let manifest = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("manifest: "))
        .expect("manifest line")
        .to_string();
    let env = [("DST_DRIVER", "sqlite"), ("DST_DB", "demo/staging.sqlite")];
    let v = stage(dir.path(), &["verify", "--manifest", &manifest], &env);
    assert_eq!(v.code, 0, "{}", v.all());
}

#[test]
fn without_an_ini_the_environment_and_dotenv_configure_the_run() {
    let dir = tempfile::tempdir().unwrap();
    rusqlite::Connection::open(dir.path().join("s.db"))
        .unwrap()
        .execute_batch("CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1), (2);")
        .unwrap();
    // SRC_TABLES comes from .env; a variable set in the environment wins over .env.
    write(
        dir.path(),
        ".env",
        "SRC_TABLES=a\nROW_LIMIT=1\nDST_DB=wrong.db\n",
    );
    let r = stage(
        dir.path(),
        &[],
        &[
            ("SRC_DRIVER", "sqlite"),
            ("SRC_DB", "s.db"),
            ("DST_DB", "d.db"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("SRC_TABLES=a (env)"), "{}", r.stderr);
    assert!(
        r.stderr.contains("config=\"environment only\"") || r.stderr.contains("environment only"),
        "{}",
        r.stderr
    );
    assert_eq!(
        crate::common::sqlite_rows(&dir.path().join("d.db"), "SELECT x FROM a"),
        [["INTEGER:1"]]
    );
    assert!(!dir.path().join("wrong.db").exists());
}

//! SQL Server and Oracle seams that need no server: connection failures through the real
//! `stage` binary (a closed port; a listener that accepts and never answers, which the
//! connect timeout ends), and the configuration keys these drivers add. Also SQLite's
//! lock timeout, which needs no server either.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{stage, write};

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = l.local_addr().expect("local address").port();
    drop(l);
    port
}

#[test]
fn mssql_source_on_a_closed_port_is_a_connect_error_with_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port().to_string();
    let ini = "[database-source]\nSRC_DRIVER = mssql+pyodbc\nSRC_HOST = 127.0.0.1\nSRC_USERNAME = reader\nSRC_PASSWORD = Sup3r%Secret\nSRC_DB = Sales\n\n[settings]\nSRC_TABLES = dbo.Orders\n";
    let cfg = write(dir.path(), "job.ini", ini);
    let run = stage(
        dir.path(),
        &["run", "--config", cfg.to_str().unwrap()],
        &[("SRC_PORT", port.as_str())],
    );
    assert_eq!(run.code, 3, "{}", run.all());
    let want = format!(
        "cannot connect to the source database (mssql://127.0.0.1:{port}/Sales): cannot reach 127.0.0.1:{port}"
    );
    assert!(run.stderr.contains(&want), "{}", run.all());
    assert!(!run.all().contains("Sup3r"), "{}", run.all());
}

#[test]
fn mssql_destination_on_a_closed_port_is_a_connect_error_with_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    {
        let c = rusqlite::Connection::open(&src).unwrap();
        c.execute_batch("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let port = closed_port();
    let ini = format!(
        "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = {}\n\n[database-destination]\nDST_DRIVER = mssql\nDST_HOST = 127.0.0.1\nDST_PORT = {port}\nDST_USERNAME = loader\nDST_PASSWORD = pw\nDST_DB = Staging\n\n[settings]\nSRC_TABLES = t\n",
        src.display()
    );
    let cfg = write(dir.path(), "job.ini", &ini);
    let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "cannot connect to the destination database (mssql://127.0.0.1:{port}/Staging)"
        )),
        "{}",
        run.all()
    );
}

/// A port on 127.0.0.1 whose listener accepts every connection and never sends a byte (a
/// server hung after `accept`, or a proxy whose backend is gone). Its thread holds the
/// connections until the test process ends.
fn silent_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = l.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for conn in l.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}

/// A run against a silent server ends with exit code 3 in about `*_CONNECT_TIMEOUT_SECONDS`,
/// naming the key.
fn assert_connect_timeout(ini: &str, side: &str, key: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "job.ini", ini);
    let started = Instant::now();
    let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains(&format!("cannot connect to the {side} database"))
            && run.stderr.contains(&format!(
                "no connection within 1 s (TCP connect, TLS and sign-in): raise {key} if the server is slow to answer"
            )),
        "{}",
        run.all()
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "took {took:?}"
    );
    assert!(!run.all().contains("Sup3r"), "{}", run.all());
}

#[test]
fn mssql_source_that_never_answers_ends_at_the_connect_timeout() {
    let port = silent_port();
    let ini = format!("[database-source]\nSRC_DRIVER = mssql\nSRC_HOST = 127.0.0.1\nSRC_PORT = {port}\nSRC_USERNAME = reader\nSRC_PASSWORD = Sup3r%Secret\nSRC_DB = Sales\nSRC_CONNECT_TIMEOUT_SECONDS = 1\n\n[settings]\nSRC_TABLES = dbo.Orders\n");
    assert_connect_timeout(
        &ini,
        "source",
        "[database-source] SRC_CONNECT_TIMEOUT_SECONDS",
    );
}

#[test]
fn mssql_destination_that_never_answers_ends_at_the_connect_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    {
        let c = rusqlite::Connection::open(&src).unwrap();
        c.execute_batch("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let port = silent_port();
    let ini = format!(
        "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = {}\n\n[database-destination]\nDST_DRIVER = mssql\nDST_HOST = 127.0.0.1\nDST_PORT = {port}\nDST_USERNAME = loader\nDST_PASSWORD = Sup3r%pw\nDST_DB = Staging\nDST_CONNECT_TIMEOUT_SECONDS = 1\n\n[settings]\nSRC_TABLES = t\n",
        src.display()
    );
    assert_connect_timeout(
        &ini,
        "destination",
        "[database-destination] DST_CONNECT_TIMEOUT_SECONDS",
    );
}

#[test]
fn mysql_source_that_never_answers_ends_at_the_connect_timeout() {
    let port = silent_port();
    let ini = format!("[database-source]\nSRC_DRIVER = mariadb\nSRC_HOST = 127.0.0.1\nSRC_PORT = {port}\nSRC_USERNAME = reader\nSRC_PASSWORD = Sup3r%Secret\nSRC_DB = app\nSRC_CONNECT_TIMEOUT_SECONDS = 1\n\n[settings]\nSRC_TABLES = orders\n");
    assert_connect_timeout(
        &ini,
        "source",
        "[database-source] SRC_CONNECT_TIMEOUT_SECONDS",
    );
}

#[test]
fn mysql_destination_that_never_answers_ends_at_the_connect_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    {
        let c = rusqlite::Connection::open(&src).unwrap();
        c.execute_batch("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let port = silent_port();
    let ini = format!(
        "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = {}\n\n[database-destination]\nDST_DRIVER = mysql\nDST_HOST = 127.0.0.1\nDST_PORT = {port}\nDST_USERNAME = loader\nDST_PASSWORD = Sup3r%pw\nDST_DB = staging\nDST_CONNECT_TIMEOUT_SECONDS = 1\n\n[settings]\nSRC_TABLES = t\n",
        src.display()
    );
    assert_connect_timeout(
        &ini,
        "destination",
        "[database-destination] DST_CONNECT_TIMEOUT_SECONDS",
    );
}

#[test]
fn mssql_encrypt_strict_reaches_the_tls_handshake_first() {
    // TDS 8.0 (strict) starts with a TLS ClientHello where TDS 7 starts with a prelogin
    // packet (type 0x12): the first byte the server gets tells which was sent.
    for (encrypt, first_byte) in [("strict", 0x16u8), ("mandatory", 0x12u8)] {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let got = std::thread::spawn(move || {
            use std::io::Read;
            let (mut conn, _) = l.accept().unwrap();
            let mut b = [0u8; 1];
            conn.read_exact(&mut b).unwrap();
            b[0]
        });
        let dir = tempfile::tempdir().unwrap();
        let ini = format!("[database-source]\nSRC_DRIVER = mssql\nSRC_HOST = 127.0.0.1\nSRC_PORT = {port}\nSRC_USERNAME = reader\nSRC_PASSWORD = pw\nSRC_DB = Sales\nSRC_MSSQL_ENCRYPT = {encrypt}\nSRC_CONNECT_TIMEOUT_SECONDS = 1\n\n[settings]\nSRC_TABLES = dbo.Orders\n");
        let cfg = write(dir.path(), "job.ini", &ini);
        let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
        assert_eq!(run.code, 3, "{encrypt}: {}", run.all());
        assert_eq!(got.join().unwrap(), first_byte, "{encrypt}");
    }
}

#[test]
fn mssql_trusting_the_certificate_is_a_warning_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    for (extra, warned) in [
        (
            "",
            Some("[database-source] SRC_MSSQL_TRUST_SERVER_CERTIFICATE = true"),
        ),
        (
            "SRC_MSSQL_ENCRYPT = off\n",
            Some("[database-source] SRC_MSSQL_ENCRYPT = off"),
        ),
        ("SRC_MSSQL_TRUST_SERVER_CERTIFICATE = false\n", None),
        ("SRC_MSSQL_ENCRYPT = strict\n", None),
    ] {
        let ini = format!("[database-source]\nSRC_DRIVER = mssql\nSRC_HOST = 127.0.0.1\nSRC_PORT = {port}\nSRC_USERNAME = reader\nSRC_PASSWORD = pw\nSRC_DB = Sales\n{extra}\n[settings]\nSRC_TABLES = dbo.Orders\n");
        let cfg = write(dir.path(), "job.ini", &ini);
        let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
        assert_eq!(run.code, 3, "{extra}: {}", run.all());
        let all = run.all();
        let warnings: Vec<&str> = all.lines().filter(|l| l.contains("WARN")).collect();
        match warned {
            Some(key) => assert!(
                warnings.iter().any(|l| l.contains(key)),
                "{extra}: {}",
                run.all()
            ),
            None => assert!(
                !warnings.iter().any(|l| l.contains("SQL Server")),
                "{extra}: {}",
                run.all()
            ),
        }
    }
}

#[test]
fn mssql_without_a_username_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let ini = "[database-source]\nSRC_DRIVER = mssql\nSRC_HOST = 127.0.0.1\nSRC_DB = Sales\n\n[settings]\nSRC_TABLES = Orders\n";
    let cfg = write(dir.path(), "job.ini", ini);
    let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("[database-source] SRC_USERNAME is required for SQL Server: stage signs in with SQL authentication (integrated/Kerberos sign-in is not built in)"),
        "{}",
        run.all()
    );
}

#[cfg(not(feature = "oracle"))]
#[test]
fn oracle_without_the_feature_says_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let ini = "[database-source]\nSRC_DRIVER = oracle+oracledb\nSRC_HOST = 127.0.0.1\nSRC_DB = ORCLPDB1\n\n[settings]\nSRC_TABLES = ORDERS\n";
    let cfg = write(dir.path(), "job.ini", ini);
    let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("[database-source] SRC_DRIVER = \"oracle\": this build of stage has no Oracle support; build it with `cargo build --release --features oracle` (and install Oracle Instant Client Basic where it runs)"),
        "{}",
        run.all()
    );
}

/// With the feature but without Instant Client (as on this machine), ODPI-C cannot load
/// libclntsh: one line naming what to install and the key to set.
#[cfg(feature = "oracle")]
#[test]
fn oracle_without_instant_client_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let ini = format!("[database-source]\nSRC_DRIVER = oracle\nSRC_HOST = 127.0.0.1\nSRC_PORT = {port}\nSRC_USERNAME = app\nSRC_PASSWORD = pw\nSRC_DB = ORCLPDB1\n\n[settings]\nSRC_TABLES = ORDERS\n");
    let cfg = write(dir.path(), "job.ini", &ini);
    let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(run.code, 3, "{}", run.all());
    if run.stderr.contains("DPI-1047") {
        assert!(
            run.stderr.contains("the Oracle client library (libclntsh) could not be loaded (DPI-1047): install Oracle Instant Client Basic and set [database-source] SRC_ORACLE_CLIENT_PATH to its folder"),
            "{}",
            run.all()
        );
    }
}

#[test]
fn oracle_number_scale_key_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let ini = "[database-source]\nSRC_DRIVER = oracle\nSRC_DB = ORCLPDB1\nSRC_ORACLE_NUMBER_SCALE = 40\n\n[settings]\nSRC_TABLES = ORDERS\n";
    let cfg = write(dir.path(), "job.ini", ini);
    let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("[database-source] SRC_ORACLE_NUMBER_SCALE = \"40\" is invalid: expected a scale 0-38, or text"),
        "{}",
        run.all()
    );
}

/// A staging SQLite file another connection holds exclusively: the run waits
/// `LOCK_TIMEOUT_SECONDS` for it, not SQLite's default, and says which key to raise.
#[test]
fn sqlite_staging_file_held_by_another_writer_ends_at_the_lock_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    {
        let c = rusqlite::Connection::open(&src).unwrap();
        c.execute_batch("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let stg = dir.path().join("stg.sqlite");
    let holder = rusqlite::Connection::open(&stg).unwrap();
    holder
        .execute_batch(
            "CREATE TABLE old (id INTEGER); BEGIN EXCLUSIVE; INSERT INTO old VALUES (1);",
        )
        .unwrap();
    let ini = format!(
        "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = {}\n\n[database-destination]\nDST_DRIVER = sqlite\nDST_DB = {}\n\n[settings]\nSRC_TABLES = t\nLOCK_TIMEOUT_SECONDS = 1\n",
        src.display(),
        stg.display()
    );
    let cfg = write(dir.path(), "job.ini", &ini);
    let started = Instant::now();
    let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr
            .contains("database is locked (timed out: raise [settings] LOCK_TIMEOUT_SECONDS)"),
        "{}",
        run.all()
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "took {took:?}"
    );
    holder.execute_batch("COMMIT").unwrap();
    let run = stage(dir.path(), &["run", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let n: i64 = holder
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

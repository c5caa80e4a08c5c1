//! The test servers themselves: they start, answer real queries with real authentication, and
//! leave nothing behind when stopped, when a test fails, or when the test process is killed.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{mariadb, pg, unique_name, MariaDbServer, PgServer};

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
fn port_answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Processes (other than zombies) whose command line mentions `dir`.
fn processes_using(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&needle).then(|| {
                format!(
                    "{}: {}",
                    entry.file_name().to_string_lossy(),
                    cmdline.trim()
                )
            })
        })
        .collect()
}

#[test]
fn unique_names_are_identifier_safe_and_distinct() {
    let a = unique_name("Orders-2024");
    let b = unique_name("Orders-2024");
    assert_ne!(a, b);
    let pid = std::process::id();
    assert!(a.starts_with(&format!("orders_2024_{pid}_")), "{a}");
    assert!(unique_name("9lives").starts_with("t9lives_"));
    assert!(a
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
}

#[test]
fn pg_server_answers_queries() {
    let server = pg();
    assert_eq!(server.host, "127.0.0.1");
    let db = server.create_database("harness");
    assert_ne!(db, server.create_database("harness"));
    assert_eq!(
        server.url(&db),
        format!(
            "postgresql://postgres:{}@127.0.0.1:{}/{db}",
            server.password, server.port
        )
    );

    let mut client = server.client(&db);
    client
        .batch_execute(
            "CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, price numeric(8,2));
             INSERT INTO items VALUES (1, 'alpha', 1.50), (2, 'beta', NULL), (3, 'gamma', 3.25);",
        )
        .expect("create and fill a table");
    let rows: Vec<(i32, String, Option<String>)> = client
        .query("SELECT id, name, price::text FROM items ORDER BY id", &[])
        .expect("read the table back")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, "alpha".to_string(), Some("1.50".to_string())),
            (2, "beta".to_string(), None),
            (3, "gamma".to_string(), Some("3.25".to_string())),
        ]
    );
    let current: String = client
        .query_one("SELECT current_database()", &[])
        .expect("current_database()")
        .get(0);
    assert_eq!(current, db);

    let version = server.version();
    assert!(version.starts_with("PostgreSQL "), "{version}");
}

#[test]
fn pg_server_requires_the_password() {
    let server = pg();
    let url = format!(
        "postgresql://{}:wrong-{}@{}:{}/postgres",
        server.user, server.password, server.host, server.port
    );
    let error = postgres::Client::connect(&url, postgres::NoTls)
        .err()
        .expect("a wrong password must be refused");
    assert_eq!(
        error.code(),
        Some(&postgres::error::SqlState::INVALID_PASSWORD),
        "{error}"
    );
}

#[test]
fn mariadb_server_answers_queries() {
    let server = mariadb();
    assert_eq!(server.host, "127.0.0.1");
    let db = server.create_database("harness");
    assert_ne!(db, server.create_database("harness"));
    assert_eq!(
        server.url(&db),
        format!(
            "mysql://root:{}@127.0.0.1:{}/{db}",
            server.password, server.port
        )
    );

    server.query(
        Some(&db),
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, price DECIMAL(8,2));
         INSERT INTO items VALUES (1, 'alpha', 1.50), (2, 'beta', NULL), (3, 'gämma', 3.25);",
    );
    let rows = server.query(Some(&db), "SELECT id, name, price FROM items ORDER BY id");
    assert_eq!(rows, "1\talpha\t1.50\n2\tbeta\tNULL\n3\tgämma\t3.25\n");
    assert_eq!(
        server.query(Some(&db), "SELECT DATABASE()"),
        format!("{db}\n")
    );
    assert_eq!(
        server.query(None, "SELECT @@character_set_server, @@time_zone"),
        "utf8mb4\t+00:00\n"
    );

    let version = server.version();
    assert!(version.contains("MariaDB"), "{version}");
}

#[test]
fn mariadb_server_requires_the_password() {
    let server = mariadb();
    let error = server
        .try_query_as(&server.user, "wrong", None, "SELECT 1")
        .expect_err("a wrong password must be refused");
    assert!(error.contains("Access denied"), "{error}");
    let error = server
        .try_query_as(&server.user, "", None, "SELECT 1")
        .expect_err("an empty password must be refused");
    assert!(error.contains("Access denied"), "{error}");
}

#[test]
fn pg_server_started_apart_stops_on_drop() {
    let server = PgServer::start_new();
    let (port, dir) = (server.port, server.dir().to_path_buf());
    assert!(dir.is_dir());
    assert!(port_answers(port));
    let one: i32 = server
        .client("postgres")
        .query_one("SELECT 1", &[])
        .expect("SELECT 1")
        .get(0);
    assert_eq!(one, 1);

    server.stop();
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert!(!port_answers(port), "port {port} still answers");
    assert_eq!(processes_using(&dir), Vec::<String>::new());
}

#[test]
fn mariadb_server_started_apart_stops_on_drop() {
    let server = MariaDbServer::start_new();
    let (port, dir) = (server.port, server.dir().to_path_buf());
    assert!(dir.is_dir());
    assert!(port_answers(port));
    assert_eq!(server.query(None, "SELECT 1"), "1\n");

    server.stop();
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert!(!port_answers(port), "port {port} still answers");
    assert_eq!(processes_using(&dir), Vec::<String>::new());
}

/// Set in the child processes of [`servers_are_removed_when_the_test_process_ends`].
const PROBE_ENV: &str = "STAGE_IT_CLEANUP_PROBE";
const PROBE_LINE: &str = "stage-it-probe";

/// Runs this test binary again, with only this test, in a child process that starts both shared
/// servers and then either fails (panics: the `atexit` cleanup must have removed everything by
/// the time the process has exited) or waits to be killed with SIGKILL (the watchdogs must
/// remove everything soon after).
#[test]
fn servers_are_removed_when_the_test_process_ends() {
    if let Ok(mode) = std::env::var(PROBE_ENV) {
        return probe_child(&mode);
    }
    let test_name = module_path!()
        .split_once("::")
        .map_or("harness", |(_, path)| path)
        .to_string()
        + "::servers_are_removed_when_the_test_process_ends";
    let exe = std::env::current_exe().expect("path of the test binary");
    let children: Vec<_> = ["panic", "kill"]
        .into_iter()
        .map(|mode| {
            let child = Command::new(&exe)
                .args([
                    test_name.as_str(),
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(PROBE_ENV, mode)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run the test binary again as a probe");
            (mode, KillOnDrop(child))
        })
        .collect();

    for (mode, mut guard) in children {
        let child = &mut guard.0;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        // Lines "stage-it-probe <port> <dir>" for each server, then "stage-it-probe ready".
        let mut servers: Vec<(u16, PathBuf)> = Vec::new();
        let mut ready = false;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("read the probe's output");
            // libtest prints "test NAME ... " without a line break before the test's own output.
            let Some(at) = line.find(PROBE_LINE) else {
                continue;
            };
            let mut words = line[at + PROBE_LINE.len()..].trim_start().splitn(2, ' ');
            match (words.next(), words.next()) {
                (Some("ready"), None) => {
                    ready = true;
                    break;
                }
                (Some(port), Some(dir)) => servers.push((
                    port.parse().expect("probe prints a port"),
                    PathBuf::from(dir),
                )),
                _ => panic!("unexpected probe line: {line}"),
            }
        }
        // Keep reading, so that the probe's later output does not hit a closed pipe.
        let rest = thread::spawn(move || lines.count());
        if !ready {
            let status = child.wait().expect("wait for the probe");
            panic!(
                "the {mode} probe ended ({status}) before its servers were ready:\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        assert_eq!(servers.len(), 2, "{servers:?}");
        for (port, dir) in &servers {
            assert!(
                dir.is_dir(),
                "{} should exist while the probe runs",
                dir.display()
            );
            assert!(
                port_answers(*port),
                "port {port} should answer while the probe runs"
            );
        }

        if mode == "kill" {
            child.kill().expect("SIGKILL the probe");
        }
        let status = child.wait().expect("wait for the probe");
        let stderr = stderr.join().unwrap_or_default();
        let _ = rest.join();
        let why = format!("after the {mode} probe ended ({status}); its stderr:\n{stderr}");
        // The atexit handler has finished before the process is gone; the watchdogs need a moment.
        let deadline = Instant::now() + Duration::from_secs(if mode == "kill" { 30 } else { 0 });
        for (port, dir) in &servers {
            let gone = || !dir.exists() && !port_answers(*port) && processes_using(dir).is_empty();
            while !gone() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(50));
            }
            assert!(!dir.exists(), "{} is still there {why}", dir.display());
            assert!(!port_answers(*port), "port {port} still answers {why}");
            assert_eq!(processes_using(dir), Vec::<String>::new(), "{why}");
        }
        if mode == "panic" {
            assert_eq!(status.code(), Some(101), "{why}");
        }
    }
}

/// Kills and reaps a child process when a failed assertion unwinds past it.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's side of [`servers_are_removed_when_the_test_process_ends`].
fn probe_child(mode: &str) {
    let (pg, mariadb) = (pg(), mariadb());
    println!("{PROBE_LINE} {} {}", pg.port, pg.dir().display());
    println!("{PROBE_LINE} {} {}", mariadb.port, mariadb.dir().display());
    println!("{PROBE_LINE} ready");
    match mode {
        "panic" => panic!("the probe fails on purpose"),
        // Killed by the parent long before this ends.
        _ => thread::sleep(Duration::from_secs(120)),
    }
}

/// The test PKI is what the TLS tests assume: the server certificate verifies against its CA
/// for `localhost`, and not against the other CA.
#[test]
fn the_test_pki_chains_to_its_ca_only() {
    let pki = crate::support::tls::Pki::new();
    let verify = |ca: &std::path::Path| {
        std::process::Command::new("openssl")
            .args(["verify", "-verify_hostname", "localhost", "-CAfile"])
            .arg(ca)
            .arg(&pki.server_cert)
            .output()
            .unwrap()
    };
    let ok = verify(&pki.ca_cert);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(!verify(&pki.other_ca_cert).status.success());
    for f in [&pki.server_key, &pki.client_cert, &pki.client_key] {
        assert!(f.is_file(), "{}", f.display());
    }
    assert!(pki.dir().is_dir());
}

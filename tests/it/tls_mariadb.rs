//! TLS to MariaDB with the real `stage` binary: a throwaway server that requires TLS
//! (`require_secure_transport=ON`, the test PKI's certificate for `localhost` and
//! `127.0.0.1`), each `*_SSLMODE` as libpq documents it, in DIRECT and DUMP, on both sides.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{stage, Run};
use crate::support::tls::Pki;
use crate::support::{mariadb, unique_name, MariaDbServer};

/// The TLS server and the client-side files (copied into the server's directory, removed
/// with it when the test process ends).
struct Fixture {
    server: MariaDbServer,
    ca: PathBuf,
    other_ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pki = Pki::new();
        let server = MariaDbServer::start_tls(&pki);
        let dir = server.dir().join("client");
        std::fs::create_dir(&dir).unwrap();
        let copy = |from: &Path, name: &str| {
            let to = dir.join(name);
            std::fs::copy(from, &to).unwrap();
            to
        };
        Fixture {
            ca: copy(&pki.ca_cert, "ca.pem"),
            other_ca: copy(&pki.other_ca_cert, "other-ca.pem"),
            client_cert: copy(&pki.client_cert, "client.pem"),
            client_key: copy(&pki.client_key, "client.key"),
            server,
        }
    })
}

const DATA: &str = "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,2), at DATETIME(6), raw VARBINARY(8));
INSERT INTO t VALUES (1, 'plain', 1.50, '2024-01-02 03:04:05.000006', 0x00FF),
 (2, 'ümlaut 😀', -99999.99, NULL, ''), (3, NULL, NULL, '1970-01-01 00:00:00', NULL);";

/// A source database with table `t` on the TLS server.
fn source() -> String {
    let s = &fixture().server;
    let db = s.create_database("tls_src");
    s.query(Some(&db), DATA);
    db
}

/// The environment for the TLS server as the source (`src_db`), `SRC_`/`DST_` `extra`
/// keys on top; the destination is SQLite unless `extra` says otherwise.
fn env(src_db: &str, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let s = &fixture().server;
    let mut v: Vec<(String, String)> = vec![
        ("SRC_DRIVER".into(), "mariadb".into()),
        ("SRC_HOST".into(), s.host.clone()),
        ("SRC_PORT".into(), s.port.to_string()),
        ("SRC_USERNAME".into(), s.user.clone()),
        ("SRC_PASSWORD".into(), s.password.clone()),
        ("SRC_DB".into(), src_db.into()),
        ("DST_DRIVER".into(), "sqlite".into()),
        ("DST_DB".into(), "stg.sqlite".into()),
        ("SRC_TABLES".into(), "t".into()),
        ("OUTPUT_DIR".into(), "out".into()),
    ];
    for (k, val) in extra {
        v.retain(|(key, _)| key != k);
        v.push((k.to_string(), val.clone()));
    }
    v
}

/// `DST_*` for a MariaDB destination database `dst_db` on the TLS server.
fn maria_destination(dst_db: &str) -> Vec<(&'static str, String)> {
    let s = &fixture().server;
    vec![
        ("DST_DRIVER", "mysql".into()),
        ("DST_HOST", s.host.clone()),
        ("DST_PORT", s.port.to_string()),
        ("DST_USERNAME", s.user.clone()),
        ("DST_PASSWORD", s.password.clone()),
        ("DST_DB", dst_db.into()),
    ]
}

fn run(mode: &str, env: &[(String, String)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    refs.push(("TRANSFER_MODE", mode));
    let r = stage(dir.path(), &[], &refs);
    // Neither the password nor the client key's body reach the output.
    let all = r.all();
    assert!(
        !all.contains(&fixture().server.password),
        "password leaked:\n{all}"
    );
    let key = std::fs::read_to_string(&fixture().client_key).unwrap();
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!all.contains(line), "key material leaked:\n{all}");
    }
    r
}

/// `t` staged in `dst_db` on the TLS server equals the source: EXCEPT both ways, and the
/// row count.
fn assert_equal(src: &str, dst: &str, what: &str) {
    let s = &fixture().server;
    let cols = "id, name, amount, at, raw";
    for (a, b) in [(src, dst), (dst, src)] {
        let diff = s.query(
            None,
            &format!("SELECT {cols} FROM {a}.t EXCEPT SELECT {cols} FROM {b}.t"),
        );
        assert_eq!(diff, "", "{what}: rows of {a}.t missing from {b}.t");
    }
    assert_eq!(
        s.query(None, &format!("SELECT count(*) FROM {dst}.t")),
        "3\n",
        "{what}"
    );
}

/// `t` staged in the SQLite file of a run equals the source's rows (as text).
fn assert_sqlite_equal(dir: &Path, what: &str) {
    let rows = crate::common::sqlite_rows(
        &dir.join("stg.sqlite"),
        "SELECT id, name, amount, at, raw FROM t ORDER BY id",
    );
    assert_eq!(
        rows,
        vec![
            vec![
                "INTEGER:1",
                "TEXT:plain",
                "TEXT:1.50",
                "TEXT:2024-01-02 03:04:05.000006",
                "BLOB:00ff"
            ],
            vec![
                "INTEGER:2",
                "TEXT:ümlaut 😀",
                "TEXT:-99999.99",
                "NULL",
                "BLOB:"
            ],
            vec![
                "INTEGER:3",
                "NULL",
                "NULL",
                "TEXT:1970-01-01 00:00:00.000000",
                "NULL"
            ],
        ],
        "{what}"
    );
}

const MODES: [&str; 2] = ["DIRECT", "DUMP"];

/// MariaDB refuses a plain connection with "Access denied" (MySQL says "insecure
/// transport", 3159); the same credentials connect over TLS (the other tests).
#[test]
fn sslmode_disable_is_refused_by_the_server_with_its_own_message() {
    let src = source();
    let dst = fixture().server.create_database("tls_dst");
    let refused = |side: &str, key: &str| {
        format!(
            "cannot connect to the {side} database (mariadb://127.0.0.1:{}/{}): MySqlError {{ ERROR 1045 (28000): Access denied for user 'root'@'127.0.0.1' (using password: YES) }} (with {key} = disable: a server that requires TLS, require_secure_transport=ON, refuses a plain connection so)",
            fixture().server.port,
            if side == "source" { &src } else { &dst },
        )
    };
    for mode in MODES {
        let r = run(mode, &env(&src, &[("SRC_SSLMODE", "disable".into())]));
        assert_eq!(r.code, 3, "{mode}: {}", r.all());
        let want = refused("source", "[database-source] SRC_SSLMODE");
        assert!(r.stderr.contains(&want), "{mode}: {want}\n{}", r.all());
        // The destination side the same.
        let mut extra = maria_destination(&dst);
        extra.push(("DST_SSLMODE", "disable".into()));
        let r = run(mode, &env(&src, &extra));
        assert_eq!(r.code, 3, "{mode}: {}", r.all());
        let want = refused("destination", "[database-destination] DST_SSLMODE")
            .replace("mariadb://", "mysql://");
        assert!(r.stderr.contains(&want), "{mode}: {want}\n{}", r.all());
        assert_eq!(
            fixture()
                .server
                .query(Some(&dst), crate::common::MARIA_STAGED_TABLES),
            "",
            "{mode}"
        );
    }
}

#[test]
fn require_and_the_default_prefer_stage_over_tls_on_both_sides() {
    let src = source();
    for mode in MODES {
        for sslmode in ["require", "prefer"] {
            let dst = fixture().server.create_database("tls_dst");
            let mut extra = maria_destination(&dst);
            extra.push(("SRC_SSLMODE", sslmode.into()));
            extra.push(("DST_SSLMODE", sslmode.into()));
            let r = run(mode, &env(&src, &extra));
            assert_eq!(r.code, 0, "{mode} {sslmode}: {}", r.all());
            assert_equal(&src, &dst, &format!("{mode} {sslmode}"));
        }
    }
}

#[test]
fn verify_full_with_the_ca_and_a_client_certificate_stages() {
    let f = fixture();
    let s = &f.server;
    let src = source();
    // A user the server lets in only with a client certificate of the test CA.
    let user = unique_name("certuser");
    let pw = "Cert-pw-1";
    s.query(
        None,
        &format!(
            "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{pw}' REQUIRE SUBJECT '/CN=stage' AND ISSUER '/CN=stage test CA';
             GRANT ALL PRIVILEGES ON *.* TO '{user}'@'127.0.0.1';"
        ),
    );
    let tls = |side: &str| {
        vec![
            (format!("{side}_SSLMODE"), "verify-full".to_string()),
            (format!("{side}_SSLROOTCERT"), f.ca.display().to_string()),
            (
                format!("{side}_SSLCERT"),
                f.client_cert.display().to_string(),
            ),
            (format!("{side}_SSLKEY"), f.client_key.display().to_string()),
            (format!("{side}_USERNAME"), user.clone()),
            (format!("{side}_PASSWORD"), pw.to_string()),
        ]
    };
    for mode in MODES {
        // MariaDB destination, both sides verify-full with the client certificate.
        let dst = s.create_database("tls_dst");
        let mut extra = maria_destination(&dst);
        let mut keys = tls("SRC");
        keys.extend(tls("DST"));
        extra.extend(keys.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let e = env(&src, &extra);
        let r = run(mode, &e);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert_equal(&src, &dst, mode);
        // SQLite destination, the host spelled `localhost`.
        let dir = tempfile::tempdir().unwrap();
        let src_keys = tls("SRC");
        let mut extra: Vec<(&str, String)> = src_keys
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        extra.push(("SRC_HOST", "localhost".into()));
        let e = env(&src, &extra);
        let mut refs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        refs.push(("TRANSFER_MODE", mode));
        let r = stage(dir.path(), &[], &refs);
        assert_eq!(r.code, 0, "{mode} localhost: {}", r.all());
        assert_sqlite_equal(dir.path(), mode);
    }
    // Without the client certificate the server refuses the user.
    let mut extra: Vec<(&str, String)> = Vec::new();
    let keys = tls("SRC");
    extra.extend(keys.iter().take(2).map(|(k, v)| (k.as_str(), v.clone())));
    extra.extend(keys.iter().skip(4).map(|(k, v)| (k.as_str(), v.clone())));
    let r = run("DIRECT", &env(&src, &extra));
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(r.stderr.contains("Access denied"), "{}", r.all());
}

#[test]
fn verify_full_with_another_ca_fails_with_a_certificate_error() {
    let f = fixture();
    let src = source();
    for mode in MODES {
        let r = run(
            mode,
            &env(
                &src,
                &[
                    ("SRC_SSLMODE", "verify-full".into()),
                    ("SRC_SSLROOTCERT", f.other_ca.display().to_string()),
                ],
            ),
        );
        assert_eq!(r.code, 3, "{mode}: {}", r.all());
        let want = format!(
            "TLS certificate verify failed ([database-source] SRC_SSLMODE = verify-full, checked against [database-source] SRC_SSLROOTCERT = {}): invalid peer certificate: UnknownIssuer",
            f.other_ca.display()
        );
        assert!(r.stderr.contains(&want), "{mode}: {}", r.all());
        // require with a root certificate is verify-ca, as in libpq: refused the same way.
        let r = run(
            mode,
            &env(
                &src,
                &[
                    ("SRC_SSLMODE", "require".into()),
                    ("SRC_SSLROOTCERT", f.other_ca.display().to_string()),
                ],
            ),
        );
        assert_eq!(r.code, 3, "{mode}: {}", r.all());
        assert!(r.stderr.contains("UnknownIssuer"), "{mode}: {}", r.all());
    }
    // The destination side too.
    let dst = f.server.create_database("tls_dst");
    let mut extra = maria_destination(&dst);
    extra.push(("DST_SSLMODE", "verify-ca".into()));
    extra.push(("DST_SSLROOTCERT", f.other_ca.display().to_string()));
    let r = run("DIRECT", &env(&src, &extra));
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.stderr
            .contains("cannot connect to the destination database")
            && r.stderr.contains(
                "TLS certificate verify failed ([database-destination] DST_SSLMODE = verify-ca"
            )
            && r.stderr.contains("UnknownIssuer"),
        "{}",
        r.all()
    );
}

/// 127.0.0.2 reaches the server, but its certificate names only `localhost` and
/// `127.0.0.1`: verify-full refuses it, verify-ca (chain only) connects.
#[test]
fn a_host_name_the_certificate_does_not_carry_fails_verify_full_only() {
    let f = fixture();
    let src = source();
    for mode in MODES {
        let keys = |sslmode: &str| {
            vec![
                ("SRC_HOST", "127.0.0.2".to_string()),
                ("SRC_SSLMODE", sslmode.to_string()),
                ("SRC_SSLROOTCERT", f.ca.display().to_string()),
            ]
        };
        let r = run(mode, &env(&src, &keys("verify-full")));
        assert_eq!(r.code, 3, "{mode}: {}", r.all());
        assert!(
            r.stderr.contains(
                "TLS certificate verify failed ([database-source] SRC_SSLMODE = verify-full"
            ) && r
                .stderr
                .contains("certificate not valid for name \"127.0.0.2\""),
            "{mode}: {}",
            r.all()
        );
        let dir = tempfile::tempdir().unwrap();
        let e = env(&src, &keys("verify-ca"));
        let mut refs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        refs.push(("TRANSFER_MODE", mode));
        let r = stage(dir.path(), &[], &refs);
        assert_eq!(r.code, 0, "{mode} verify-ca: {}", r.all());
        assert_sqlite_equal(dir.path(), &format!("{mode} verify-ca"));
    }
}

/// `require` against a server without TLS (the shared one) is refused by the client, where
/// the default `prefer` connects in plain TCP (as every other MariaDB test does).
#[test]
fn require_against_a_server_without_tls_is_refused() {
    let s = mariadb();
    let src = s.create_database("plain_src");
    s.query(
        Some(&src),
        "CREATE TABLE t (id INT); INSERT INTO t VALUES (1);",
    );
    let dir = tempfile::tempdir().unwrap();
    let port = s.port.to_string();
    let base = [
        ("SRC_DRIVER", "mariadb"),
        ("SRC_HOST", s.host.as_str()),
        ("SRC_PORT", port.as_str()),
        ("SRC_USERNAME", s.user.as_str()),
        ("SRC_PASSWORD", s.password.as_str()),
        ("SRC_DB", src.as_str()),
        ("DST_DRIVER", "sqlite"),
        ("DST_DB", "stg.sqlite"),
        ("SRC_TABLES", "t"),
    ];
    let mut refs = base.to_vec();
    refs.push(("SRC_SSLMODE", "require"));
    let r = stage(dir.path(), &[], &refs);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.stderr
            .contains("Client requires secure connection but server does not have this capability"),
        "{}",
        r.all()
    );
    let r = stage(dir.path(), &[], &base);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        crate::common::sqlite_rows(&dir.path().join("stg.sqlite"), "SELECT id FROM t"),
        vec![vec!["INTEGER:1".to_string()]]
    );
}

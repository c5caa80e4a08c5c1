//! PostgreSQL over TLS, against a throwaway server that takes TCP connections only over TLS
//! (`ssl = on`, `hostssl` lines only): each `*_SSLMODE` behaves as libpq documents, on the
//! source in DIRECT, DUMP and CONNECTORX and on the destination; a client certificate logs
//! in; no password or key file's contents reach the output or the log.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{assert_copies_tapped, stage, Run};
use crate::support::tls::Pki;
use crate::support::PgServer;

/// The TLS server shared by this module's tests, and the client-side PKI files (kept in
/// the server's directory, so they go with it).
struct TlsPg {
    server: PgServer,
    ca: PathBuf,
    other_ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn tls_pg() -> &'static TlsPg {
    static SHARED: OnceLock<TlsPg> = OnceLock::new();
    SHARED.get_or_init(|| {
        let pki = Pki::new();
        let server = PgServer::start_tls(&pki);
        let files = server.dir().join("client-files");
        std::fs::create_dir(&files).unwrap();
        let copy = |from: &Path, name: &str| {
            let to = files.join(name);
            std::fs::copy(from, &to).unwrap();
            to
        };
        let tls = TlsPg {
            ca: copy(&pki.ca_cert, "ca.pem"),
            other_ca: copy(&pki.other_ca_cert, "other-ca.pem"),
            client_cert: copy(&pki.client_cert, "client.pem"),
            client_key: copy(&pki.client_key, "client.key"),
            server,
        };
        // The client certificate's CN; pg_hba.conf lets it in with `cert` only.
        tls.server
            .client("postgres")
            .batch_execute("CREATE ROLE stage LOGIN SUPERUSER")
            .unwrap();
        tls
    })
}

const TABLES: &str = "
CREATE TABLE a (id int PRIMARY KEY, name text, amount numeric(12,2), at timestamptz, ok boolean);
INSERT INTO a SELECT g, 'naam ' || g || ' é', g * 1.25, '2020-01-01 00:00:00+00'::timestamptz + g * interval '1 hour', g % 2 = 0
FROM generate_series(1, 300) g;
INSERT INTO a VALUES (0, NULL, NULL, NULL, NULL);
CREATE TABLE b (id bigint, label varchar(20));
INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 50) g;";

/// A fresh database on the TLS server holding tables `a` and `b`.
fn source_db(prefix: &str) -> String {
    let s = &tls_pg().server;
    let db = s.create_database(prefix);
    s.client(&db).batch_execute(TABLES).unwrap();
    db
}

/// `stage` reading `db` and staging into `db`'s schema `staging`, both over TCP to the TLS
/// server as its superuser, plus `extra` (which replaces same-named keys; an empty value
/// removes the key).
fn run(db: &str, extra: &[(&str, &str)]) -> (Run, String) {
    let s = &tls_pg().server;
    let port = s.port.to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("SRC_DRIVER", "postgres"),
        ("SRC_HOST", "127.0.0.1"),
        ("SRC_PORT", &port),
        ("SRC_USERNAME", &s.user),
        ("SRC_PASSWORD", &s.password),
        ("SRC_DB", db),
        ("SRC_TABLES", "a,b"),
        ("DST_DRIVER", "postgres"),
        ("DST_HOST", "127.0.0.1"),
        ("DST_PORT", &port),
        ("DST_USERNAME", &s.user),
        ("DST_PASSWORD", &s.password),
        ("DST_DB", db),
        ("OUTPUT_DIR", "out"),
        ("LOG_TO_FILE", "true"),
        ("LOG_LEVEL", "debug"),
    ];
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        if !v.is_empty() {
            env.push((k, v));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let r = stage(dir.path(), &[], &env);
    let log = std::fs::read_to_string(dir.path().join("logs/stage.log")).unwrap_or_default();
    assert_no_secrets(&r, &log);
    (r, log)
}

/// Neither the password nor the client key's body shows in the output or the log.
fn assert_no_secrets(r: &Run, log: &str) {
    let key = std::fs::read_to_string(&tls_pg().client_key).unwrap();
    let body: Vec<&str> = key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .collect();
    assert!(body.len() > 5, "a PEM key body");
    for text in [r.stdout.as_str(), r.stderr.as_str(), log] {
        assert!(
            !text.contains(&tls_pg().server.password),
            "the password leaked:\n{text}"
        );
        for line in &body {
            assert!(!text.contains(line), "the key leaked:\n{text}");
        }
    }
}

fn count(db: &str, sql: &str) -> i64 {
    tls_pg()
        .server
        .client(db)
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// `staging.a` and `staging.b` hold exactly the rows of `public.a` and `public.b`.
fn assert_staged(db: &str) {
    for (t, n) in [("a", 301), ("b", 50)] {
        assert_eq!(count(db, &format!("SELECT count(*) FROM staging.{t}")), n);
        for (x, y) in [("public", "staging"), ("staging", "public")] {
            let extra = count(
                db,
                &format!(
                    "SELECT count(*) FROM (SELECT * FROM {x}.{t} EXCEPT SELECT * FROM {y}.{t}) d"
                ),
            );
            assert_eq!(extra, 0, "{x}.{t} has rows {y}.{t} lacks");
        }
    }
}

/// No staging table was made.
fn assert_nothing_staged(db: &str) {
    assert_eq!(
        count(db, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'staging'"),
        0
    );
}

fn modes() -> Vec<&'static str> {
    let mut m = vec!["DIRECT", "DUMP"];
    if cfg!(feature = "connectorx") {
        m.push("CONNECTORX");
    }
    m
}

#[test]
fn sslmode_disable_is_refused_by_the_server_in_its_own_words() {
    let db = source_db("tls_disable");
    for mode in modes() {
        let (r, _) = run(&db, &[("TRANSFER_MODE", mode), ("SRC_SSLMODE", "disable")]);
        assert_eq!(r.code, 3, "{mode}: {}", r.all());
        assert!(
            r.all().contains("cannot connect to the source database")
                && r.all()
                    .contains("no pg_hba.conf entry for host \"127.0.0.1\"")
                && r.all().contains("no encryption"),
            "{mode}: {}",
            r.all()
        );
    }
    // The destination side: the source reads over TLS (prefer), the destination may not.
    let (r, _) = run(&db, &[("DST_SSLMODE", "disable")]);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.all()
            .contains("cannot connect to the destination database")
            && r.all().contains("no encryption"),
        "{}",
        r.all()
    );
    assert_nothing_staged(&db);
}

#[test]
fn require_and_verified_modes_stage_the_tables() {
    let ca = tls_pg().ca.to_str().unwrap();
    for mode in modes() {
        // require: encrypted, certificate unchecked (the default prefer on the destination
        // gets TLS too, since the server offers it).
        let db = source_db("tls_require");
        let (r, log) = run(&db, &[("TRANSFER_MODE", mode), ("SRC_SSLMODE", "require")]);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert_staged(&db);
        if mode != "CONNECTORX" {
            // The tap sits above TLS: both tables' COPY data came off the decrypted stream.
            assert_eq!(assert_copies_tapped(&log), 2, "{mode}");
        }

        // verify-ca with the CA, connected by a name the certificate lacks: the name is
        // not checked.
        let db = source_db("tls_verify_ca");
        let (r, _) = run(
            &db,
            &[
                ("TRANSFER_MODE", mode),
                ("SRC_SSLMODE", "verify-ca"),
                ("SRC_SSLROOTCERT", ca),
                ("SRC_HOST", "127.0.0.2"),
            ],
        );
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert_staged(&db);

        let db = source_db("tls_verify_full");
        let verify_full = [
            ("TRANSFER_MODE", mode),
            ("SRC_SSLMODE", "verify-full"),
            ("SRC_SSLROOTCERT", ca),
            ("DST_SSLMODE", "verify-full"),
            ("DST_SSLROOTCERT", ca),
            ("DST_HOST", "localhost"),
        ];
        let (r, log) = run(&db, &verify_full);
        if mode == "CONNECTORX" {
            // ConnectorX checks the chain only: refused before anything is read.
            assert_eq!(r.code, 2, "{}", r.all());
            assert!(
                r.all()
                    .contains("[database-source] SRC_SSLMODE = verify-full:")
                    && r.all().contains("host"),
                "{}",
                r.all()
            );
            assert_nothing_staged(&db);
        } else {
            assert_eq!(r.code, 0, "{mode}: {}", r.all());
            assert_staged(&db);
            assert_eq!(assert_copies_tapped(&log), 2, "{mode}");
        }
    }
}

#[test]
fn verify_full_fails_clearly_for_an_unknown_ca_and_for_a_host_the_certificate_does_not_name() {
    let db = source_db("tls_bad_cert");
    let ca = tls_pg().ca.to_str().unwrap();
    let other = tls_pg().other_ca.to_str().unwrap();
    for mode in modes() {
        let cx = mode == "CONNECTORX";
        let (r, _) = run(
            &db,
            &[
                ("TRANSFER_MODE", mode),
                ("SRC_SSLMODE", if cx { "verify-ca" } else { "verify-full" }),
                ("SRC_SSLROOTCERT", other),
            ],
        );
        assert_eq!(r.code, 3, "{mode}: {}", r.all());
        let all = r.all();
        assert!(
            all.contains("cannot connect to the source database")
                && all.contains("TLS certificate verify failed")
                && all.contains("UnknownIssuer")
                && all.contains(&format!(
                    "trusted roots: [database-source] SRC_SSLROOTCERT = {other}"
                )),
            "{mode}: {all}"
        );
    }
    for mode in ["DIRECT", "DUMP"] {
        let (r, _) = run(
            &db,
            &[
                ("TRANSFER_MODE", mode),
                ("SRC_SSLMODE", "verify-full"),
                ("SRC_SSLROOTCERT", ca),
                ("SRC_HOST", "127.0.0.2"),
            ],
        );
        assert_eq!(r.code, 3, "{mode}: {}", r.all());
        let all = r.all();
        assert!(
            all.contains(
                "TLS certificate verify failed ([database-source] SRC_SSLMODE = verify-full)"
            ) && all.contains("not valid for name \"127.0.0.2\"")
                && all.contains("[database-source] SRC_HOST"),
            "{mode}: {all}"
        );
    }
    // The destination's certificate is checked the same way.
    let (r, _) = run(
        &db,
        &[("DST_SSLMODE", "verify-full"), ("DST_SSLROOTCERT", other)],
    );
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.all()
            .contains("cannot connect to the destination database")
            && r.all().contains("UnknownIssuer")
            && r.all().contains("[database-destination] DST_SSLROOTCERT"),
        "{}",
        r.all()
    );
    assert_nothing_staged(&db);
}

#[test]
fn a_client_certificate_logs_in_and_its_key_never_shows() {
    let t = tls_pg();
    let (ca, cert, key) = (
        t.ca.to_str().unwrap(),
        t.client_cert.to_str().unwrap(),
        t.client_key.to_str().unwrap(),
    );
    for mode in modes() {
        let db = source_db("tls_client_cert");
        // `stage` has no password: pg_hba.conf's `cert` line lets the certificate in.
        let with_cert = [
            ("TRANSFER_MODE", mode),
            ("SRC_USERNAME", "stage"),
            ("SRC_PASSWORD", ""),
            (
                "SRC_SSLMODE",
                if mode == "CONNECTORX" {
                    "verify-ca"
                } else {
                    "verify-full"
                },
            ),
            ("SRC_SSLROOTCERT", ca),
            ("SRC_SSLCERT", cert),
            ("SRC_SSLKEY", key),
            ("DST_USERNAME", "stage"),
            ("DST_PASSWORD", ""),
            ("DST_SSLMODE", "verify-full"),
            ("DST_SSLROOTCERT", ca),
            ("DST_SSLCERT", cert),
            ("DST_SSLKEY", key),
        ];
        let (r, log) = run(&db, &with_cert);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert!(!log.is_empty(), "the run logged to its file");
        assert_staged(&db);
    }
    // Without the certificate the server refuses, in its own words.
    let db = source_db("tls_no_client_cert");
    let (r, _) = run(
        &db,
        &[
            ("SRC_USERNAME", "stage"),
            ("SRC_PASSWORD", ""),
            ("SRC_SSLMODE", "require"),
        ],
    );
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.all()
            .contains("certificate authentication failed for user \"stage\"")
            || r.all()
                .contains("connection requires a valid client certificate"),
        "{}",
        r.all()
    );
}

//! ConnectorX's connection URL: the endpoint's credentials, TLS and timeouts in the
//! parameters ConnectorX 0.4.6 honours, or a configuration error where it cannot.

use crate::config::{Driver, Endpoint, SslMode};
use crate::error::{Error, Result};

/// The ConnectorX connection URL. It holds the password: never log it.
///
/// It carries the endpoint's TLS and timeouts in the parameters ConnectorX 0.4.6 honours.
/// PostgreSQL (tokio-postgres with postgres-openssl): `sslmode`, `sslrootcert`, `sslcert`,
/// `sslkey`, `connect_timeout`, `keepalives`, `keepalives_idle`, and the session's
/// `statement_timeout` and `lock_timeout` through `options`. MySQL/MariaDB (the mysql
/// crate with native-tls): `ssl-mode`, `ssl-ca`, `tcp_connect_timeout_ms`,
/// `tcp_keepalive_time_ms`. A TLS mode ConnectorX cannot honour exactly is a configuration
/// error naming the key, never a weaker connection.
pub(super) fn connection_url(ep: &Endpoint) -> Result<String> {
    let enc = |s: &str| {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let creds = match (&ep.username, &ep.password) {
        (Some(u), Some(p)) => format!("{}:{}@", enc(u), enc(p.expose())),
        (Some(u), None) => format!("{}@", enc(u)),
        _ => String::new(),
    };
    let host = ep.host.clone().unwrap_or_else(|| "localhost".into());
    let port = ep.port.or(ep.driver.default_port()).unwrap_or(0);
    let db = enc(ep.database.as_deref().unwrap_or(""));
    let query = |params: Vec<(&str, String)>| {
        params
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    Ok(match ep.driver {
        Driver::Postgres => format!(
            "postgresql://{creds}{host}:{port}/{db}?{}",
            query(postgres_params(ep)?)
        ),
        Driver::Mysql | Driver::Mariadb => format!(
            "mysql://{creds}{host}:{port}/{db}?{}",
            query(mysql_params(ep)?)
        ),
        Driver::Sqlite => {
            let path = ep.database.clone().unwrap_or_default();
            let abs = std::fs::canonicalize(&path).map_err(|e| Error::Connect {
                side: "source",
                target: ep.describe(),
                message: format!("no SQLite database file at \"{path}\": {e}"),
            })?;
            let encoded: String = abs
                .to_string_lossy()
                .split('/')
                .map(enc)
                .collect::<Vec<_>>()
                .join("/");
            format!("sqlite://{encoded}")
        }
        other => {
            return Err(Error::config(format!(
                "[settings] TRANSFER_MODE = CONNECTORX reads postgres, mysql, mariadb and sqlite; {} = \"{other}\" needs TRANSFER_MODE=DUMP",
                ep.key("DRIVER")
            )))
        }
    })
}

/// Fails, naming the key, when ConnectorX cannot connect to `endpoint` as its keys say
/// (a TLS mode it cannot honour). Run once before the first read.
pub fn check(endpoint: &Endpoint) -> Result<()> {
    connection_url(endpoint).map(drop)
}

/// A TLS setting ConnectorX cannot honour: the message names the key and what to do.
fn unsupported(ep: &Endpoint, what: &str) -> Error {
    Error::config(format!(
        "{} = {}: {what} in TRANSFER_MODE = CONNECTORX; use TRANSFER_MODE = DUMP (same TLS keys, every mode honoured)",
        ep.key("SSLMODE"),
        ep.tls.effective_mode().name()
    ))
}

/// Whole seconds, rounded up (the URL parameters take no fractions).
fn ceil_seconds(d: std::time::Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

fn postgres_params(ep: &Endpoint) -> Result<Vec<(&'static str, String)>> {
    let tls = &ep.tls;
    let mut p = vec![(
        "application_name",
        crate::db::postgres::APPLICATION_NAME.to_string(),
    )];
    // ConnectorX's PostgreSQL TLS checks the chain only against `sslrootcert`, and never
    // the host name (`sslmode` can only be disable, prefer or require there; require with
    // `sslrootcert` is libpq's verify-ca).
    let mode = match tls.effective_mode() {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => match &tls.root_cert {
            Some(root) => {
                p.push(("sslrootcert", root.to_string_lossy().into_owned()));
                "require"
            }
            None => {
                return Err(unsupported(
                    ep,
                    &format!(
                        "ConnectorX checks a PostgreSQL certificate only against a CA file, not the system's roots: set {}",
                        ep.key("SSLROOTCERT")
                    ),
                ))
            }
        },
        SslMode::VerifyFull => {
            return Err(unsupported(
                ep,
                "ConnectorX cannot check that a PostgreSQL server's certificate names its host (it checks the chain only, as verify-ca)",
            ))
        }
    };
    p.push(("sslmode", mode.to_string()));
    if let (Some(cert), Some(key), true) = (&tls.cert, &tls.key, mode != "disable") {
        p.push(("sslcert", cert.to_string_lossy().into_owned()));
        p.push(("sslkey", key.to_string_lossy().into_owned()));
    }
    p.push((
        "connect_timeout",
        ceil_seconds(ep.timeouts.connect).to_string(),
    ));
    p.push(("keepalives", "1".into()));
    p.push((
        "keepalives_idle",
        ceil_seconds(crate::config::KEEPALIVE_IDLE).to_string(),
    ));
    let millis = |d: std::time::Duration| d.as_millis().clamp(1, i32::MAX as u128);
    let mut options = Vec::new();
    if let Some(d) = ep.timeouts.statement {
        options.push(format!("-c statement_timeout={}", millis(d)));
    }
    if let Some(d) = ep.timeouts.lock {
        options.push(format!("-c lock_timeout={}", millis(d)));
    }
    if !options.is_empty() {
        p.push(("options", options.join(" ")));
    }
    Ok(p)
}

fn mysql_params(ep: &Endpoint) -> Result<Vec<(&'static str, String)>> {
    let tls = &ep.tls;
    let mut p = Vec::new();
    if tls.cert.is_some() {
        return Err(unsupported(
            ep,
            &format!(
                "ConnectorX cannot present a client certificate to MySQL/MariaDB ({} and {})",
                ep.key("SSLCERT"),
                ep.key("SSLKEY")
            ),
        ));
    }
    let mode = match tls.effective_mode() {
        SslMode::Disable => None,
        // The mysql crate has no "TLS if offered": ConnectorX turns PREFERRED into
        // REQUIRED, which refuses a server without TLS. Plain, as libpq's prefer does
        // against such a server; prefer never promised encryption.
        SslMode::Prefer => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "{} = prefer: TRANSFER_MODE = CONNECTORX reads MySQL/MariaDB without TLS (it has no \"TLS if offered\"); set require or verify-full to encrypt",
                    ep.key("SSLMODE")
                )
            });
            None
        }
        SslMode::Require => Some("REQUIRED"),
        SslMode::VerifyCa => Some("VERIFY_CA"),
        SslMode::VerifyFull => Some("VERIFY_IDENTITY"),
    };
    if let Some(mode) = mode {
        p.push(("ssl-mode", mode.to_string()));
        if let (Some(root), true) = (&tls.root_cert, tls.verifies_chain()) {
            p.push(("ssl-ca", root.to_string_lossy().into_owned()));
        }
    }
    p.push((
        "tcp_connect_timeout_ms",
        ep.timeouts.connect.as_millis().max(1).to_string(),
    ));
    p.push((
        "tcp_keepalive_time_ms",
        crate::config::KEEPALIVE_IDLE.as_millis().to_string(),
    ));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Secret, Side, Timeouts, Tls};

    const PASSWORD: &str = "s3cret p@ss+word";

    fn endpoint(driver: Driver, mode: SslMode) -> Endpoint {
        Endpoint {
            side: Side::Source,
            driver,
            host: Some("db.example".into()),
            port: Some(5433),
            username: Some("reader".into()),
            password: Some(Secret::new(PASSWORD)),
            database: Some("app db".into()),
            schema: None,
            admin_db: None,
            oracle_sid: None,
            oracle_tns_alias: None,
            oracle_client_path: None,
            oracle_number: Default::default(),
            mssql_trust_server_certificate: false,
            mssql_encrypt: Default::default(),
            tls: Tls {
                mode,
                ..Tls::default()
            },
            timeouts: Timeouts {
                connect: Duration::from_millis(2500),
                statement: Some(Duration::from_secs(90)),
                lock: Some(Duration::from_secs(60)),
            },
        }
    }

    /// The URL's query parameters, decoded as ConnectorX reads them.
    fn params(url: &str) -> Vec<(String, String)> {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn param(url: &str, key: &str) -> Option<String> {
        params(url)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    #[test]
    fn postgres_url_carries_the_mode_files_and_timeouts() {
        let mut ep = endpoint(Driver::Postgres, SslMode::Require);
        let url = connection_url(&ep).unwrap();
        assert!(
            url.starts_with("postgresql://reader:s3cret%20p%40ss%2Bword@db.example:5433/app%20db?"),
            "{url}"
        );
        assert_eq!(param(&url, "sslmode").as_deref(), Some("require"));
        assert_eq!(param(&url, "sslrootcert"), None);
        assert_eq!(param(&url, "connect_timeout").as_deref(), Some("3"));
        assert_eq!(param(&url, "keepalives").as_deref(), Some("1"));
        assert_eq!(param(&url, "keepalives_idle").as_deref(), Some("60"));
        assert_eq!(
            param(&url, "options").as_deref(),
            Some("-c statement_timeout=90000 -c lock_timeout=60000")
        );
        // tokio-postgres decodes %XX but not '+': a space must be %20.
        assert!(url.contains("options=-c%20statement_timeout"), "{url}");

        // require with a root file is verify-ca: ConnectorX's require + sslrootcert.
        ep.tls.root_cert = Some("/etc/pki/my ca.pem".into());
        ep.tls.cert = Some("/k/client.pem".into());
        ep.tls.key = Some("/k/client.key".into());
        let url = connection_url(&ep).unwrap();
        assert_eq!(param(&url, "sslmode").as_deref(), Some("require"));
        assert_eq!(
            param(&url, "sslrootcert").as_deref(),
            Some("/etc/pki/my ca.pem")
        );
        assert_eq!(param(&url, "sslcert").as_deref(), Some("/k/client.pem"));
        assert_eq!(param(&url, "sslkey").as_deref(), Some("/k/client.key"));

        for (mode, want) in [(SslMode::Disable, "disable"), (SslMode::Prefer, "prefer")] {
            let mut ep = endpoint(Driver::Postgres, mode);
            ep.timeouts.statement = None;
            ep.timeouts.lock = None;
            let url = connection_url(&ep).unwrap();
            assert_eq!(param(&url, "sslmode").as_deref(), Some(want));
            assert_eq!(param(&url, "sslrootcert"), None);
            assert_eq!(param(&url, "options"), None, "no timeouts, no options");
        }
    }

    #[test]
    fn postgres_modes_connectorx_cannot_honour_are_config_errors_naming_the_key() {
        let full = endpoint(Driver::Postgres, SslMode::VerifyFull);
        let e = connection_url(&full).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
        let m = e.to_string();
        assert!(
            m.starts_with("[database-source] SRC_SSLMODE = verify-full: "),
            "{m}"
        );
        assert!(m.contains("host"), "{m}");
        assert!(!m.contains(PASSWORD) && !m.contains("s3cret"), "{m}");

        let ca = endpoint(Driver::Postgres, SslMode::VerifyCa);
        let m = connection_url(&ca).unwrap_err().to_string();
        assert!(m.contains("[database-source] SRC_SSLROOTCERT"), "{m}");
        assert!(!m.contains("s3cret"), "{m}");
        let mut ca = ca;
        ca.tls.root_cert = Some("/ca.pem".into());
        let url = connection_url(&ca).unwrap();
        assert_eq!(param(&url, "sslmode").as_deref(), Some("require"));
        assert_eq!(param(&url, "sslrootcert").as_deref(), Some("/ca.pem"));
        assert!(check(&ca).is_ok());
        assert!(check(&full).is_err());
    }

    #[test]
    fn mysql_url_maps_the_modes_to_connectorx_ssl_mode() {
        for (mode, want) in [
            (SslMode::Disable, None),
            (SslMode::Prefer, None),
            (SslMode::Require, Some("REQUIRED")),
            (SslMode::VerifyCa, Some("VERIFY_CA")),
            (SslMode::VerifyFull, Some("VERIFY_IDENTITY")),
        ] {
            let url = connection_url(&endpoint(Driver::Mariadb, mode)).unwrap();
            assert!(
                url.starts_with("mysql://reader:s3cret%20p%40ss%2Bword@db.example:5433/app%20db?")
            );
            assert_eq!(param(&url, "ssl-mode").as_deref(), want, "{mode:?}");
            assert_eq!(param(&url, "ssl-ca"), None);
            assert_eq!(
                param(&url, "tcp_connect_timeout_ms").as_deref(),
                Some("2500")
            );
            assert_eq!(
                param(&url, "tcp_keepalive_time_ms").as_deref(),
                Some("60000")
            );
        }
        let mut ep = endpoint(Driver::Mysql, SslMode::Require);
        ep.tls.root_cert = Some("/ca.pem".into());
        let url = connection_url(&ep).unwrap();
        assert_eq!(param(&url, "ssl-mode").as_deref(), Some("VERIFY_CA"));
        assert_eq!(param(&url, "ssl-ca").as_deref(), Some("/ca.pem"));

        ep.tls.cert = Some("/c.pem".into());
        ep.tls.key = Some("/c.key".into());
        let e = connection_url(&ep).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::Config(_)), "{m}");
        assert!(m.contains("[database-source] SRC_SSLCERT"), "{m}");
        assert!(!m.contains("s3cret"), "{m}");
    }

    #[test]
    fn connectorx_itself_accepts_the_urls() {
        let ep = endpoint(Driver::Postgres, SslMode::Require);
        let url = url::Url::parse(&connection_url(&ep).unwrap()).unwrap();
        let (config, tls) = connectorx::sources::postgres::rewrite_tls_args(&url).unwrap();
        assert!(tls.is_some());
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(
            config.get_options(),
            Some("-c statement_timeout=90000 -c lock_timeout=60000")
        );
        assert_eq!(config.get_password(), Some(PASSWORD.as_bytes()));
        for mode in [SslMode::Disable, SslMode::Require, SslMode::VerifyFull] {
            let url = connection_url(&endpoint(Driver::Mariadb, mode)).unwrap();
            // OptsBuilder has no getters; its Debug shows the options.
            let opts = format!(
                "{:?}",
                connectorx::sources::mysql::build_opts(&url).unwrap()
            );
            let tls = !opts.contains("ssl_opts: None");
            assert_eq!(tls, mode != SslMode::Disable, "{mode:?}");
            assert!(
                opts.contains(&format!("{PASSWORD:?}")),
                "the password decoded"
            );
        }
    }
}

//! What a SQL Server connection needs, taken from an [`Endpoint`]: the tiberius settings
//! (encryption, which certificates are trusted, the handshake bound), the statements that
//! set the session's limits, and the warning when certificates go unchecked.

use std::path::PathBuf;
use std::time::Duration;

use tiberius::{AuthMethod, EncryptionLevel};

use crate::config::{Endpoint, MssqlEncrypt, Secret};
use crate::error::{Error, Result};

/// What a connection needs, taken from an [`Endpoint`] (no password: it is added at the
/// point of use and never stored here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSpec {
    pub host: String,
    pub port: u16,
    pub database: Option<String>,
    pub username: String,
    /// `*_MSSQL_TRUST_SERVER_CERTIFICATE`: skip the certificate check (unless `strict`, or
    /// a root certificate is given).
    pub trust_server_certificate: bool,
    /// `*_MSSQL_ENCRYPT`.
    pub encrypt: MssqlEncrypt,
    /// `*_SSLROOTCERT`: a CA the server's certificate may chain to, besides the system's.
    pub root_cert: Option<PathBuf>,
    /// `*_SSLCERT` and `*_SSLKEY`: a client certificate for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// `*_CONNECT_TIMEOUT_SECONDS`: TCP connect, TLS and sign-in together.
    pub connect_timeout: Duration,
    /// `[settings] LOCK_TIMEOUT_SECONDS`, as `SET LOCK_TIMEOUT` on every connection.
    pub lock_timeout: Option<Duration>,
    /// `[settings] STATEMENT_TIMEOUT_SECONDS` (the source's reads).
    pub statement_timeout: Option<Duration>,
    /// `[section] PREFIX_` of this side's keys, for messages.
    key_prefix: String,
}

impl ConnectSpec {
    /// `database` overrides the endpoint's (the loader connects to `DST_ADMIN_DB` first
    /// when the staging database does not exist yet).
    pub fn from_endpoint(e: &Endpoint, database: Option<&str>) -> Result<ConnectSpec> {
        let username = e.username.clone().ok_or_else(|| {
            Error::config(format!(
                "{} is required for SQL Server: stage signs in with SQL authentication (integrated/Kerberos sign-in is not built in)",
                e.key("USERNAME")
            ))
        })?;
        Ok(ConnectSpec {
            host: e.host.clone().unwrap_or_else(|| "localhost".into()),
            port: e.port.unwrap_or(1433),
            database: database.map(str::to_string).or_else(|| e.database.clone()),
            username,
            trust_server_certificate: e.mssql_trust_server_certificate,
            encrypt: e.mssql_encrypt,
            root_cert: e.tls.root_cert.clone(),
            client_cert: e.tls.cert.clone().zip(e.tls.key.clone()),
            connect_timeout: e.timeouts.connect,
            lock_timeout: e.timeouts.lock,
            statement_timeout: e.timeouts.statement,
            key_prefix: e.key(""),
        })
    }

    /// One of this side's keys, e.g. `[database-source] SRC_MSSQL_ENCRYPT`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.key_prefix)
    }

    /// tiberius' encryption level for `*_MSSQL_ENCRYPT`:
    /// - `strict` → TDS 8.0 (TLS before any TDS traffic, ALPN `tds/8.0`);
    /// - `mandatory` → `Required`: TLS for the whole connection, or no connection;
    /// - `optional` → `Off`: the login encrypted, the rest only when the server requires it;
    /// - `off` → `NotSupported`: no TLS unless the server insists on it.
    pub fn encryption(&self) -> EncryptionLevel {
        match self.encrypt {
            MssqlEncrypt::Strict => EncryptionLevel::Strict,
            MssqlEncrypt::Mandatory => EncryptionLevel::Required,
            MssqlEncrypt::Optional => EncryptionLevel::Off,
            MssqlEncrypt::Off => EncryptionLevel::NotSupported,
        }
    }

    /// Whether the server's certificate is checked (its chain and its host name): always in
    /// `strict` (as Microsoft's drivers do), and whenever a root certificate is given;
    /// otherwise unless `*_MSSQL_TRUST_SERVER_CERTIFICATE` is on.
    pub fn checks_certificate(&self) -> bool {
        self.encrypt == MssqlEncrypt::Strict
            || self.root_cert.is_some()
            || !self.trust_server_certificate
    }

    /// The tiberius configuration. tiberius' own bounds are off (15 s for the handshake,
    /// 30 s per response): [`ConnectSpec::connect`] bounds TCP connect, TLS and login
    /// together by `*_CONNECT_TIMEOUT_SECONDS`; the source's reads are bounded by
    /// `STATEMENT_TIMEOUT_SECONDS`, lock waits by `SET LOCK_TIMEOUT`.
    pub fn config(&self, password: Option<&Secret>) -> tiberius::Config {
        let mut c = tiberius::Config::new();
        c.host(&self.host);
        c.port(self.port);
        if let Some(db) = &self.database {
            c.database(db);
        }
        c.application_name("stage");
        c.authentication(AuthMethod::sql_server(
            &self.username,
            password.map(Secret::expose).unwrap_or(""),
        ));
        c.encryption(self.encryption());
        if let Some(ca) = &self.root_cert {
            c.trust_cert_ca(ca.display());
        } else if !self.checks_certificate() {
            c.trust_cert();
        }
        if let Some((cert, key)) = &self.client_cert {
            c.client_certificate(cert, key);
        }
        c.handshake_timeout(None);
        c.command_timeout(None);
        c
    }

    /// What is not protected, for a warning when the connection opens: `None` when TLS
    /// carries the connection and the certificate is checked.
    pub fn unchecked(&self) -> Option<String> {
        if self.encrypt == MssqlEncrypt::Off {
            return Some(format!(
                "SQL Server connection to {}:{} is not encrypted ({} = off): the data and the sign-in cross the network readable unless the server insists on TLS; set it to mandatory",
                self.host,
                self.port,
                self.key("MSSQL_ENCRYPT")
            ));
        }
        (!self.checks_certificate()).then(|| {
            format!(
                "SQL Server certificate of {}:{} is not checked ({} = true): the connection is encrypted but open to a man in the middle; set it to false (and {} to the server's CA when it is not in the system's store)",
                self.host,
                self.port,
                self.key("MSSQL_TRUST_SERVER_CERTIFICATE"),
                self.key("SSLROOTCERT")
            )
        })
    }

    /// The statement run on every new connection: `SET LOCK_TIMEOUT` in milliseconds
    /// (rounded up), `None` when lock waits are not limited (SQL Server's default).
    pub fn session_sql(&self) -> Option<String> {
        self.lock_timeout.map(|d| {
            let ms = d.as_millis() + u128::from(!d.as_nanos().is_multiple_of(1_000_000));
            let ms = i32::try_from(ms).unwrap_or(i32::MAX).max(1);
            format!("SET LOCK_TIMEOUT {ms}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Driver, Side, Timeouts, Tls};

    fn endpoint() -> Endpoint {
        Endpoint {
            side: Side::Source,
            driver: Driver::Mssql,
            host: Some("db.example".into()),
            port: Some(14330),
            username: Some("reader".into()),
            password: Some(Secret::new("s3cret;pw")),
            database: Some("Sales".into()),
            schema: None,
            admin_db: None,
            oracle_sid: None,
            oracle_tns_alias: None,
            oracle_client_path: None,
            oracle_number: Default::default(),
            mssql_trust_server_certificate: true,
            mssql_encrypt: Default::default(),
            tls: Default::default(),
            timeouts: Default::default(),
        }
    }

    #[test]
    fn connect_spec_from_endpoint() {
        let e = endpoint();
        let spec = ConnectSpec::from_endpoint(&e, None).unwrap();
        assert_eq!(
            spec,
            ConnectSpec {
                host: "db.example".into(),
                port: 14330,
                database: Some("Sales".into()),
                username: "reader".into(),
                trust_server_certificate: true,
                encrypt: MssqlEncrypt::Mandatory,
                root_cert: None,
                client_cert: None,
                connect_timeout: Duration::from_secs(30),
                lock_timeout: Some(Duration::from_secs(60)),
                statement_timeout: None,
                key_prefix: "[database-source] SRC_".into(),
            }
        );
        let config = spec.config(e.password.as_ref());
        assert_eq!(config.get_addr(), "db.example:14330");
        assert_eq!(config.get_handshake_timeout(), None);
        assert_eq!(config.get_command_timeout(), None);
        let admin = ConnectSpec::from_endpoint(&e, Some("master")).unwrap();
        assert_eq!(admin.database.as_deref(), Some("master"));
        // Defaults: localhost:1433.
        let mut bare = endpoint();
        bare.host = None;
        bare.port = None;
        let spec = ConnectSpec::from_endpoint(&bare, None).unwrap();
        assert_eq!(spec.config(None).get_addr(), "localhost:1433");
        // The spec never holds the password.
        assert!(!format!("{spec:?}").contains("s3cret"));
    }

    #[test]
    fn a_missing_username_is_a_config_error() {
        let mut e = endpoint();
        e.username = None;
        let err = ConnectSpec::from_endpoint(&e, None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "[database-source] SRC_USERNAME is required for SQL Server: stage signs in with SQL authentication (integrated/Kerberos sign-in is not built in)"
        );
    }

    /// tiberius keeps its settings private; its `Debug` shows them (the password too,
    /// which is why a config is never logged).
    fn shown(spec: &ConnectSpec) -> String {
        format!("{:?}", spec.config(None))
    }

    #[test]
    fn encryption_levels_and_certificate_checks() {
        let spec_with = |encrypt, trust: bool, root: Option<&str>| {
            let mut e = endpoint();
            e.mssql_encrypt = encrypt;
            e.mssql_trust_server_certificate = trust;
            e.tls = Tls {
                root_cert: root.map(PathBuf::from),
                ..Tls::default()
            };
            ConnectSpec::from_endpoint(&e, None).unwrap()
        };
        let cases = [
            (MssqlEncrypt::Strict, EncryptionLevel::Strict),
            (MssqlEncrypt::Mandatory, EncryptionLevel::Required),
            (MssqlEncrypt::Optional, EncryptionLevel::Off),
            (MssqlEncrypt::Off, EncryptionLevel::NotSupported),
        ];
        for (encrypt, level) in cases {
            let spec = spec_with(encrypt, false, None);
            assert_eq!(spec.encryption(), level);
            assert!(shown(&spec).contains(&format!("encryption: {level:?}")));
        }
        // The trust flag skips the check, and the configuration says so.
        let trusting = spec_with(MssqlEncrypt::Mandatory, true, None);
        assert!(!trusting.checks_certificate());
        assert!(
            shown(&trusting).contains("bypass: true"),
            "{}",
            shown(&trusting)
        );
        let warning = trusting.unchecked().unwrap();
        assert_eq!(
            warning,
            "SQL Server certificate of db.example:14330 is not checked ([database-source] SRC_MSSQL_TRUST_SERVER_CERTIFICATE = true): the connection is encrypted but open to a man in the middle; set it to false (and [database-source] SRC_SSLROOTCERT to the server's CA when it is not in the system's store)"
        );
        let checking = spec_with(MssqlEncrypt::Mandatory, false, None);
        assert!(checking.checks_certificate());
        assert!(shown(&checking).contains("bypass: false"));
        assert_eq!(checking.unchecked(), None);
        // strict always checks, whatever the trust flag says.
        let strict = spec_with(MssqlEncrypt::Strict, true, None);
        assert!(strict.checks_certificate());
        assert!(shown(&strict).contains("bypass: false"));
        assert_eq!(strict.unchecked(), None);
        // A root certificate is trusted, and checked against, over the trust flag.
        let rooted = spec_with(MssqlEncrypt::Mandatory, true, Some("/etc/ca/sql.pem"));
        assert!(rooted.checks_certificate());
        let text = shown(&rooted);
        assert!(
            text.contains("bypass: false") && text.contains("/etc/ca/sql.pem"),
            "{text}"
        );
        // off: said in the log, naming the key.
        let off = spec_with(MssqlEncrypt::Off, false, None);
        assert!(off
            .unchecked()
            .unwrap()
            .contains("is not encrypted ([database-source] SRC_MSSQL_ENCRYPT = off)"));
    }

    #[test]
    fn a_client_certificate_is_configured() {
        let mut e = endpoint();
        e.tls.cert = Some("/c/client.pem".into());
        e.tls.key = Some("/c/client.key".into());
        let spec = ConnectSpec::from_endpoint(&e, None).unwrap();
        let text = shown(&spec);
        assert!(
            text.contains("/c/client.pem") && text.contains("/c/client.key"),
            "{text}"
        );
    }

    #[test]
    fn lock_timeout_is_set_in_milliseconds() {
        let mut e = endpoint();
        e.timeouts = Timeouts {
            connect: Duration::from_secs(5),
            statement: None,
            lock: Some(Duration::from_secs_f64(1.5)),
        };
        let spec = ConnectSpec::from_endpoint(&e, None).unwrap();
        assert_eq!(spec.session_sql().as_deref(), Some("SET LOCK_TIMEOUT 1500"));
        e.timeouts.lock = Some(Duration::from_nanos(1));
        let spec = ConnectSpec::from_endpoint(&e, None).unwrap();
        assert_eq!(spec.session_sql().as_deref(), Some("SET LOCK_TIMEOUT 1"));
        e.timeouts.lock = None;
        let spec = ConnectSpec::from_endpoint(&e, None).unwrap();
        assert_eq!(spec.session_sql(), None);
    }
}

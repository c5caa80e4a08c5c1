//! How a connection is made and how long it may take: TLS (`*_SSLMODE`, `*_SSLROOTCERT`,
//! `*_SSLCERT`, `*_SSLKEY`, `*_MSSQL_ENCRYPT`) and timeouts (`*_CONNECT_TIMEOUT_SECONDS`,
//! `[settings] STATEMENT_TIMEOUT_SECONDS`, `LOCK_TIMEOUT_SECONDS`).

use std::path::PathBuf;
use std::time::Duration;

/// `*_SSLMODE`, with libpq's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is not checked.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked (unless `*_SSLROOTCERT` is
    /// given: then, as libpq does, the chain is checked as in `verify-ca`).
    Require,
    /// TLS, and the server's certificate chains to a trusted root.
    VerifyCa,
    /// `verify-ca`, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    pub const ALLOWED: &'static str = "disable, prefer, require, verify-ca or verify-full";

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "disable" => Some(SslMode::Disable),
            "prefer" => Some(SslMode::Prefer),
            "require" => Some(SslMode::Require),
            "verify-ca" | "verify_ca" => Some(SslMode::VerifyCa),
            "verify-full" | "verify_full" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// One side's TLS settings. The files are paths; their contents are never read into a log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    /// `*_SSLROOTCERT`: PEM file of trusted CA certificates (default: the system's roots).
    pub root_cert: Option<PathBuf>,
    /// `*_SSLCERT`: PEM client certificate (chain).
    pub cert: Option<PathBuf>,
    /// `*_SSLKEY`: PEM private key of the client certificate.
    pub key: Option<PathBuf>,
}

impl Tls {
    /// The mode in force: libpq treats `require` with a root certificate file as `verify-ca`.
    pub fn effective_mode(&self) -> SslMode {
        match self.mode {
            SslMode::Require if self.root_cert.is_some() => SslMode::VerifyCa,
            m => m,
        }
    }

    /// Whether the server's certificate chain is checked.
    pub fn verifies_chain(&self) -> bool {
        matches!(
            self.effective_mode(),
            SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

/// `*_MSSQL_ENCRYPT`: SQL Server's encryption levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MssqlEncrypt {
    /// TDS 8.0: TLS before any TDS traffic, certificate always checked.
    Strict,
    /// TLS for the whole connection (the default).
    #[default]
    Mandatory,
    /// TLS when the server requires it; only the login otherwise.
    Optional,
    /// No TLS (not even for the login, where the server allows it).
    Off,
}

impl MssqlEncrypt {
    pub const ALLOWED: &'static str = "strict, mandatory, optional or off";

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "strict" => Some(MssqlEncrypt::Strict),
            "mandatory" | "yes" | "true" | "on" => Some(MssqlEncrypt::Mandatory),
            "optional" => Some(MssqlEncrypt::Optional),
            "off" | "no" | "false" | "disable" => Some(MssqlEncrypt::Off),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MssqlEncrypt::Strict => "strict",
            MssqlEncrypt::Mandatory => "mandatory",
            MssqlEncrypt::Optional => "optional",
            MssqlEncrypt::Off => "off",
        }
    }
}

/// How long a connection's steps may take. The connection code applies what its side
/// needs: the source its statement timeout, both sides the lock timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `*_CONNECT_TIMEOUT_SECONDS` (default 30): TCP connect plus TLS and login.
    pub connect: Duration,
    /// `[settings] STATEMENT_TIMEOUT_SECONDS` (default none): one read statement.
    pub statement: Option<Duration>,
    /// `[settings] LOCK_TIMEOUT_SECONDS` (default 60): waiting for a database lock (the
    /// swap, TRUNCATE, DDL, a read behind `LOCK TABLE`).
    pub lock: Option<Duration>,
}

/// Default of `*_CONNECT_TIMEOUT_SECONDS`.
pub const DEFAULT_CONNECT_TIMEOUT_SECONDS: f64 = 30.0;
/// Default of `[settings] STATEMENT_TIMEOUT_SECONDS` (0 = none).
pub const DEFAULT_STATEMENT_TIMEOUT_SECONDS: f64 = 0.0;
/// Default of `[settings] LOCK_TIMEOUT_SECONDS`.
pub const DEFAULT_LOCK_TIMEOUT_SECONDS: f64 = 60.0;
/// Default of `[settings] SOURCE_MAX_RETRIES`.
pub const DEFAULT_SOURCE_MAX_RETRIES: u32 = 2;
/// Idle time before the first TCP keepalive probe, on every connection.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs_f64(DEFAULT_CONNECT_TIMEOUT_SECONDS),
            statement: None,
            lock: Some(Duration::from_secs_f64(DEFAULT_LOCK_TIMEOUT_SECONDS)),
        }
    }
}

/// Seconds from a key as a duration; 0 means "none".
pub(super) fn optional_seconds(seconds: f64) -> Option<Duration> {
    (seconds > 0.0).then(|| Duration::from_secs_f64(seconds.min(1e9)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_libpq_spellings_and_require_with_a_root_is_verify_ca() {
        assert_eq!(SslMode::parse(" Verify-Full "), Some(SslMode::VerifyFull));
        assert_eq!(SslMode::parse("allow"), None);
        assert_eq!(SslMode::default(), SslMode::Prefer);
        let mut tls = Tls {
            mode: SslMode::Require,
            ..Tls::default()
        };
        assert!(!tls.verifies_chain());
        tls.root_cert = Some("ca.pem".into());
        assert_eq!(tls.effective_mode(), SslMode::VerifyCa);
        assert!(tls.verifies_chain());
        assert_eq!(MssqlEncrypt::parse("STRICT"), Some(MssqlEncrypt::Strict));
        assert_eq!(MssqlEncrypt::parse("maybe"), None);
        assert_eq!(optional_seconds(0.0), None);
        assert_eq!(optional_seconds(1.5), Some(Duration::from_millis(1500)));
    }
}

//! TLS for PostgreSQL connections, with rustls (no OpenSSL): libpq's `sslmode`s over
//! tokio-postgres's `MakeTlsConnect`, for the loader's blocking client and the source's
//! tokio-postgres connections alike.
//!
//! | `*_SSLMODE` (effective) | TLS                        | certificate checked            |
//! |-------------------------|----------------------------|--------------------------------|
//! | `disable`               | never                      | —                              |
//! | `prefer`                | when the server offers it  | no                             |
//! | `require`               | always                     | no                             |
//! | `verify-ca`             | always                     | chain to a trusted root        |
//! | `verify-full`           | always                     | chain, and it names the host   |
//!
//! Trusted roots are `*_SSLROOTCERT` (PEM), else the system's. A client certificate
//! (`*_SSLCERT` + `*_SSLKEY`, PEM) is presented when given. Errors name the keys and
//! files, never what is in them. Channel binding (`SCRAM-SHA-256-PLUS`) is not offered:
//! SCRAM runs without it, as with libpq's `channel_binding=prefer` against a client
//! that has none.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::config::{Endpoint, SslMode};

/// tokio-postgres's mode for ours: whether TLS is tried, and whether it is required.
pub(super) fn negotiation(mode: SslMode) -> tokio_postgres::config::SslMode {
    use tokio_postgres::config::SslMode as Pg;
    match mode {
        SslMode::Disable => Pg::Disable,
        SslMode::Prefer => Pg::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Pg::Require,
    }
}

/// What the server's certificate must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// The TLS settings of one endpoint, ready to connect with; `None` inside when TLS is off.
#[derive(Clone)]
pub(crate) struct MakeRustls(Option<Arc<Setup>>);

struct Setup {
    config: Arc<ClientConfig>,
    mode: SslMode,
    /// `[section] X_SSLMODE`, `[section] X_HOST`.
    mode_key: String,
    host_key: String,
    /// Where the trusted roots came from, for certificate errors.
    roots: String,
}

/// The TLS connector for `endpoint`: reads the root, certificate and key files now, so a
/// bad file fails before any connection is tried. Errors name the key and the file.
pub(crate) fn connector(endpoint: &Endpoint) -> Result<MakeRustls, String> {
    let tls = &endpoint.tls;
    let mode = tls.effective_mode();
    if mode == SslMode::Disable {
        return Ok(MakeRustls(None));
    }
    let check = match mode {
        SslMode::VerifyFull => Check::ChainAndName,
        SslMode::VerifyCa => Check::Chain,
        _ => Check::Nothing,
    };
    let root_key = endpoint.key("SSLROOTCERT");
    let (roots, roots_shown) = if check == Check::Nothing {
        (RootCertStore::empty(), String::new())
    } else {
        match &tls.root_cert {
            Some(path) => (
                root_file(path, &root_key)?,
                format!("{root_key} = {}", path.display()),
            ),
            None => (
                system_roots(&root_key)?,
                format!("the system's trusted roots ({root_key} is not set)"),
            ),
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Verifier {
        check,
        roots: Arc::new(roots),
        provider: provider.clone(),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("setting up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let cert_key = endpoint.key("SSLCERT");
            let key_key = endpoint.key("SSLKEY");
            let chain = certificates(cert, &cert_key)?;
            let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                let why = match e {
                    rustls::pki_types::pem::Error::NoItemsFound => {
                        "no unencrypted PEM private key in it (encrypted keys are not supported)"
                            .to_string()
                    }
                    other => pem_problem(other),
                };
                format!("cannot read {key_key} = {}: {why}", key.display())
            })?;
            builder.with_client_auth_cert(chain, private).map_err(|e| {
                format!(
                    "cannot use the client certificate {cert_key} = {} with {key_key} = {}: {e}",
                    cert.display(),
                    key.display()
                )
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    // What libpq 17 sends; servers before 17 ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(MakeRustls(Some(Arc::new(Setup {
        config: Arc::new(config),
        mode,
        mode_key: endpoint.key("SSLMODE"),
        host_key: endpoint.key("HOST"),
        roots: roots_shown,
    }))))
}

/// Why a PEM file could not be used, without quoting any of it.
fn pem_problem(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(e) => e.to_string(),
        E::NoItemsFound => "nothing of the expected kind in it (PEM expected)".into(),
        E::SectionTooLarge => "a PEM section is too large".into(),
        _ => "not valid PEM (a damaged or truncated section)".into(),
    }
}

fn certificates(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = |why: String| format!("cannot read {key} = {}: {why}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| shown(pem_problem(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| shown(pem_problem(e)))?;
    if certs.is_empty() {
        return Err(shown("no PEM certificate in it".into()));
    }
    Ok(certs)
}

fn root_file(path: &Path, key: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path, key)? {
        roots.add(cert).map_err(|e| {
            format!(
                "cannot use {key} = {}: not a usable CA certificate: {e}",
                path.display()
            )
        })?;
    }
    Ok(roots)
}

fn system_roots(key: &str) -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(format!(
            "no trusted root certificates found on this system{why}: set {key} to a PEM file of the CA that signed the server's certificate"
        ));
    }
    Ok(roots)
}

/// Checks the server's certificate as the mode says. The handshake's signatures are always
/// checked against the certificate presented.
#[derive(Debug)]
struct Verifier {
    check: Check,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.check == Check::Nothing {
            return Ok(ServerCertVerified::assertion());
        }
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if self.check == Check::ChainAndName {
            verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS failure in our words, with rustls's below them.
#[derive(Debug)]
pub(crate) struct TlsError(String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl Setup {
    /// A failed handshake as a message naming the mode, and for certificate errors the
    /// roots or the host key.
    fn explain(&self, e: io::Error, host: &str) -> TlsError {
        let mode = format!("{} = {}", self.mode_key, self.mode.name());
        let rustls_error = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
        TlsError(match rustls_error {
            Some(rustls::Error::InvalidCertificate(c)) => {
                let hint = match c {
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. } => format!(
                        "; {mode} requires the certificate to name the host \"{host}\" ({}): connect by a name it carries, or use verify-ca",
                        self.host_key
                    ),
                    _ => format!("; trusted roots: {}", self.roots),
                };
                format!("TLS certificate verify failed ({mode}): {e}{hint}")
            }
            Some(other) => format!("TLS handshake failed ({mode}): {other}"),
            None => format!("TLS handshake failed ({mode}): {e}"),
        })
    }
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = TlsError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, TlsError> {
        let Some(setup) = &self.0 else {
            // tokio-postgres asks even when TLS is off; it never uses the answer then.
            return Ok(RustlsConnect {
                setup: None,
                name: ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
                host: domain.to_string(),
            });
        };
        let name = match ServerName::try_from(domain.to_string()) {
            Ok(name) => name,
            Err(_) if setup.mode != SslMode::VerifyFull => {
                // The name is only sent (SNI) and never checked: send none.
                ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
            }
            Err(e) => {
                return Err(TlsError(format!(
                "{} = verify-full: \"{domain}\" ({}) cannot be checked against a certificate: {e}",
                setup.mode_key, setup.host_key
            )))
            }
        };
        Ok(RustlsConnect {
            setup: Some(setup.clone()),
            name,
            host: domain.to_string(),
        })
    }
}

/// One connection's TLS handshake.
pub(crate) struct RustlsConnect {
    setup: Option<Arc<Setup>>,
    name: ServerName<'static>,
    host: String,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = TlsError;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream<S>, TlsError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let Some(setup) = self.setup else {
                return Err(TlsError("TLS is off for this connection".into()));
            };
            tokio_rustls::TlsConnector::from(setup.config.clone())
                .connect(self.name, stream)
                .await
                .map(RustlsStream)
                .map_err(|e| setup.explain(e, &self.host))
        })
    }
}

/// A TLS stream tokio-postgres can talk through.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Driver, Side, Timeouts, Tls};

    fn endpoint(tls: Tls) -> Endpoint {
        Endpoint {
            side: Side::Destination,
            driver: Driver::Postgres,
            host: Some("db.example".into()),
            port: None,
            username: None,
            password: None,
            database: None,
            schema: None,
            admin_db: None,
            oracle_sid: None,
            oracle_tns_alias: None,
            oracle_client_path: None,
            oracle_number: Default::default(),
            mssql_trust_server_certificate: false,
            mssql_encrypt: Default::default(),
            tls,
            timeouts: Timeouts::default(),
        }
    }

    fn error(tls: Tls) -> String {
        match connector(&endpoint(tls)) {
            Ok(_) => panic!("a connector from bad files"),
            Err(e) => e,
        }
    }

    #[test]
    fn bad_files_are_named_by_key_and_path_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        let junk = dir.path().join("junk.pem");
        std::fs::write(
            &junk,
            format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n"),
        )
        .unwrap();
        let m = error(Tls {
            mode: SslMode::VerifyFull,
            root_cert: Some(junk.clone()),
            ..Tls::default()
        });
        assert!(
            m.starts_with(&format!(
                "cannot read [database-destination] DST_SSLROOTCERT = {}: ",
                junk.display()
            )),
            "{m}"
        );
        assert!(!m.contains(secret), "{m}");

        // A key file holding no usable key (here: a damaged one).
        let cert = dir.path().join("cert.pem");
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let bad_key = dir.path().join("bad.key");
        std::fs::write(&bad_key, format!("-----BEGIN PRIVATE KEY-----\n{secret}\n")).unwrap();
        let m = error(Tls {
            mode: SslMode::Require,
            cert: Some(cert.clone()),
            key: Some(bad_key.clone()),
            ..Tls::default()
        });
        assert!(
            m.starts_with(&format!(
                "cannot read [database-destination] DST_SSLKEY = {}: ",
                bad_key.display()
            )),
            "{m}"
        );
        assert!(!m.contains(secret), "{m}");

        let m = error(Tls {
            mode: SslMode::VerifyCa,
            root_cert: Some(dir.path().join("missing.pem")),
            ..Tls::default()
        });
        assert!(
            m.contains("DST_SSLROOTCERT") && m.contains("No such file"),
            "{m}"
        );
    }

    #[test]
    fn disable_reads_no_file_and_the_modes_map_to_tokio_postgres() {
        let off = connector(&endpoint(Tls {
            mode: SslMode::Disable,
            root_cert: Some("/nonexistent".into()),
            ..Tls::default()
        }))
        .unwrap();
        assert!(off.0.is_none());
        use tokio_postgres::config::SslMode as Pg;
        assert_eq!(negotiation(SslMode::Disable), Pg::Disable);
        assert_eq!(negotiation(SslMode::Prefer), Pg::Prefer);
        for m in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            assert_eq!(negotiation(m), Pg::Require);
        }
        // prefer and require read no root file: the certificate is not checked.
        assert!(connector(&endpoint(Tls {
            mode: SslMode::Prefer,
            ..Tls::default()
        }))
        .unwrap()
        .0
        .is_some());
    }
}

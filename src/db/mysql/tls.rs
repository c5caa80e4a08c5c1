//! `*_SSLMODE` and the certificate files as the `mysql` crate's TLS options (rustls), and
//! TLS failures in words a user can act on.

use mysql::{ClientIdentity, SslOpts};

use crate::config::{Endpoint, SslMode, Tls};

/// The TLS options for a mode, `None` for `disable`. libpq's meanings:
/// - `prefer`, `require`: TLS, the certificate not checked (`prefer` falls back to plain
///   TCP when the server has no TLS: see [`super::connect`]);
/// - `verify-ca`: the chain checked against `*_SSLROOTCERT` (or the bundled Mozilla
///   roots), the host name not;
/// - `verify-full`: the chain and the host name.
///
/// A client certificate (`*_SSLCERT` + `*_SSLKEY`) is presented in every TLS mode.
pub(super) fn ssl_opts(tls: &Tls) -> Option<SslOpts> {
    let base = SslOpts::default().with_client_identity(
        tls.cert
            .as_ref()
            .zip(tls.key.as_ref())
            .map(|(cert, key)| ClientIdentity::new(cert.clone(), key.clone())),
    );
    let root = tls.root_cert.clone();
    match tls.effective_mode() {
        SslMode::Disable => None,
        SslMode::Prefer | SslMode::Require => Some(base.with_danger_accept_invalid_certs(true)),
        SslMode::VerifyCa => Some(
            base.with_root_cert_path(root)
                .with_danger_skip_domain_validation(true),
        ),
        SslMode::VerifyFull => Some(base.with_root_cert_path(root)),
    }
}

/// The connect error's message: the driver's words, with what was being checked when it is
/// a certificate the client refused (rustls says "invalid peer certificate: …").
pub(super) fn describe_failure(endpoint: &Endpoint, e: &mysql::Error) -> String {
    let tls = &endpoint.tls;
    let words = match (e, certificate_refused(e)) {
        (mysql::Error::TlsError(t), _) => t.to_string(),
        (_, Some(io)) => io.to_string(),
        _ => return e.to_string(),
    };
    if tls.effective_mode() == SslMode::Disable {
        return e.to_string();
    }
    let against = match &tls.root_cert {
        Some(path) => format!("{} = {}", endpoint.key("SSLROOTCERT"), path.display()),
        None => "the bundled Mozilla root certificates".to_string(),
    };
    format!(
        "TLS certificate verify failed ({} = {}, checked against {against}): {words}",
        endpoint.key("SSLMODE"),
        tls.effective_mode().name(),
    )
}

/// The I/O error of rustls refusing the server's certificate ("invalid peer certificate:
/// …"), which the driver wraps in its I/O or packet-codec error.
pub(super) fn certificate_refused(e: &mysql::Error) -> Option<&std::io::Error> {
    let io = match e {
        mysql::Error::IoError(io) => Some(io),
        mysql::Error::CodecError(c) => {
            std::error::Error::source(c).and_then(|s| s.downcast_ref::<std::io::Error>())
        }
        _ => None,
    }?;
    (io.kind() == std::io::ErrorKind::InvalidData && io.to_string().contains("certificate"))
        .then_some(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn tls(mode: SslMode, root: Option<&str>) -> Tls {
        Tls {
            mode,
            root_cert: root.map(PathBuf::from),
            cert: None,
            key: None,
        }
    }

    #[test]
    fn modes_map_to_what_the_driver_checks() {
        assert!(ssl_opts(&tls(SslMode::Disable, None)).is_none());
        for mode in [SslMode::Prefer, SslMode::Require] {
            let o = ssl_opts(&tls(mode, None)).unwrap();
            assert!(o.accept_invalid_certs(), "{mode:?}");
            assert!(o.client_identity().is_none());
        }
        // require + a root certificate is verify-ca, as in libpq.
        let o = ssl_opts(&tls(SslMode::Require, Some("/ca.pem"))).unwrap();
        assert!(!o.accept_invalid_certs());
        assert!(o.skip_domain_validation());
        assert_eq!(o.root_cert_path(), Some(Path::new("/ca.pem")));
        let o = ssl_opts(&tls(SslMode::VerifyCa, None)).unwrap();
        assert!(!o.accept_invalid_certs() && o.skip_domain_validation());
        assert_eq!(o.root_cert_path(), None);
        let o = ssl_opts(&tls(SslMode::VerifyFull, Some("/ca.pem"))).unwrap();
        assert!(!o.accept_invalid_certs() && !o.skip_domain_validation());
        assert_eq!(o.root_cert_path(), Some(Path::new("/ca.pem")));
    }

    #[test]
    fn a_client_certificate_is_presented_when_given() {
        let mut t = tls(SslMode::VerifyFull, Some("/ca.pem"));
        t.cert = Some("/client.pem".into());
        t.key = Some("/client.key".into());
        let o = ssl_opts(&t).unwrap();
        let id = o.client_identity().unwrap();
        assert_eq!(id.cert_chain_path(), Path::new("/client.pem"));
        assert_eq!(id.priv_key_path(), Path::new("/client.key"));
    }
}

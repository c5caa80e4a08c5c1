//! `[monitoring] NOTIFY_URL`: the run's summary POSTed as JSON, with a short timeout and two
//! retries. The URL is a secret (webhook URLs carry tokens): messages name only its host.

use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// How long one attempt may take, connect to response.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts after the first.
const RETRIES: u32 = 2;

/// POSTs `json` to `url`; retried twice after a second and two. Returns the last error,
/// naming the host only.
pub fn post(url: &str, json: &str) -> Result<(), String> {
    let host = host_of(url);
    let agent = agent();
    let mut last = String::new();
    for attempt in 0..=RETRIES {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(u64::from(attempt)));
        }
        match agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(json)
        {
            Ok(_) => return Ok(()),
            Err(e) => last = redact(&e.to_string(), url),
        }
    }
    Err(format!(
        "POST to {host} failed {} times, the last: {last}",
        RETRIES + 1
    ))
}

fn agent() -> ureq::Agent {
    let roots: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .into_iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(true)
        .tls_config(tls)
        .build()
        .into()
}

/// `scheme://host[:port]` of a URL, without user, path or query.
fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "NOTIFY_URL (not a URL)".into(),
    }
}

/// An error text with the URL (and its path, which may carry a token) taken out.
fn redact(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &host_of(url));
    if let Ok(u) = url::Url::parse(url) {
        if u.path().len() > 1 {
            out = out.replace(u.path(), "/…");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_host_never_the_token() {
        let url = "https://hooks.example.org:8443/services/T0K3N?key=s3cr3t";
        assert_eq!(host_of(url), "https://hooks.example.org:8443");
        let r = redact(&format!("status 404 for {url}"), url);
        assert!(!r.contains("T0K3N") && !r.contains("s3cr3t"), "{r}");
        assert_eq!(host_of("not a url"), "NOTIFY_URL (not a URL)");
    }
}

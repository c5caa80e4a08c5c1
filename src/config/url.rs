//! Connection URLs (`SRC_URL`, `DST_URL`): `driver://user:password@host:port/database`,
//! `sqlite:///path` and SQLAlchemy forms, split into their parts.

use super::raw::RawValue;
use super::Secret;
use crate::dialect::Driver;
use crate::error::{Error, Result};

/// The parts of a connection URL.
pub(super) struct UrlParts {
    pub(super) driver: Driver,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) username: Option<String>,
    pub(super) password: Option<Secret>,
    pub(super) database: Option<String>,
}

/// Splits a connection URL (`postgresql://user:pw@host:5432/db`, `sqlite:///path`,
/// SQLAlchemy forms such as `mssql+pyodbc://...`). The error never repeats the URL,
/// which may hold a password.
pub(super) fn parse_url(section: &str, key: &str, raw: &RawValue) -> Result<UrlParts> {
    let bad = |why: &str| Error::config(format!("[{section}] {key} is invalid: {why}"));
    let (scheme, _) = raw
        .text
        .split_once("://")
        .ok_or_else(|| bad("expected driver://user:password@host:port/database"))?;
    let driver = Driver::parse(scheme).ok_or_else(|| {
        bad(&format!(
            "the scheme \"{scheme}\" is not one of {}",
            Driver::ALLOWED
        ))
    })?;
    if driver == Driver::Sqlite {
        let path = &raw.text[scheme.len() + 3..];
        // sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy writes them.
        let path = path.strip_prefix('/').unwrap_or(path);
        return Ok(UrlParts {
            driver,
            host: None,
            port: None,
            username: None,
            password: None,
            database: (!path.is_empty()).then(|| path.to_string()),
        });
    }
    let normalized = format!("stage{}", &raw.text[scheme.len()..]);
    let url = url::Url::parse(&normalized).map_err(|e| bad(&e.to_string()))?;
    let decode = |s: &str| {
        percent_decode(s)
            .ok_or_else(|| bad("a %-escape in the user or password is not valid UTF-8"))
    };
    Ok(UrlParts {
        driver,
        host: url.host_str().map(str::to_string),
        port: url.port(),
        username: (!url.username().is_empty())
            .then(|| decode(url.username()))
            .transpose()?,
        password: url.password().map(decode).transpose()?.map(Secret::new),
        database: Some(url.path().trim_start_matches('/').to_string()).filter(|d| !d.is_empty()),
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

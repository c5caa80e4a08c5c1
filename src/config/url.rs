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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    fn parse(text: &str) -> Result<UrlParts> {
        let raw = RawValue {
            text: text.to_string(),
            origin: Origin::Ini,
        };
        parse_url("database-source", "SRC_URL", &raw)
    }

    fn message(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("{text} parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_server_url_gives_every_part_decoded() {
        let p = parse("postgresql+psycopg2://app%40corp:p%25w%3B@db.example:5433/sales").unwrap();
        assert_eq!(p.driver, Driver::Postgres);
        assert_eq!(p.host.as_deref(), Some("db.example"));
        assert_eq!(p.port, Some(5433));
        assert_eq!(p.username.as_deref(), Some("app@corp"));
        assert_eq!(p.password.as_ref().map(Secret::expose), Some("p%w;"));
        assert_eq!(p.database.as_deref(), Some("sales"));
    }

    #[test]
    fn missing_parts_stay_unset() {
        let p = parse("mssql+pyodbc://db.example").unwrap();
        assert_eq!(p.driver, Driver::Mssql);
        assert_eq!(p.host.as_deref(), Some("db.example"));
        assert_eq!(p.port, None);
        assert_eq!(p.username, None);
        assert!(p.password.is_none());
        assert_eq!(p.database, None);
        let p = parse("mysql://u@h/").unwrap();
        assert_eq!(p.username.as_deref(), Some("u"));
        assert!(p.password.is_none());
        assert_eq!(p.database, None);
    }

    #[test]
    fn sqlite_urls_are_paths_as_sqlalchemy_writes_them() {
        let p = parse("sqlite:///relative/app.db").unwrap();
        assert_eq!(p.driver, Driver::Sqlite);
        assert_eq!(p.database.as_deref(), Some("relative/app.db"));
        assert_eq!(p.host, None);
        let p = parse("sqlite:////var/data/app.db").unwrap();
        assert_eq!(p.database.as_deref(), Some("/var/data/app.db"));
        assert_eq!(parse("sqlite:///").unwrap().database, None);
    }

    #[test]
    fn errors_name_the_key_and_never_repeat_the_url() {
        assert_eq!(
            message("hunter2@db.example/app"),
            "[database-source] SRC_URL is invalid: expected driver://user:password@host:port/database"
        );
        assert_eq!(
            message("db2://u:hunter2@h/app"),
            "[database-source] SRC_URL is invalid: the scheme \"db2\" is not one of oracle, mssql, postgres, mysql, mariadb, sqlite"
        );
        assert_eq!(
            message("postgres://u:%FF%FE@h/app"),
            "[database-source] SRC_URL is invalid: a %-escape in the user or password is not valid UTF-8"
        );
        let e = message("postgres://u:hunter2@h:99999/app");
        assert!(
            e.starts_with("[database-source] SRC_URL is invalid: "),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%C3"), None);
    }
}

//! The parser's connection half: one side's keys (`SRC_*` or `DST_*`, or its URL) → an
//! [`Endpoint`], with the defaults that depend on the driver.

use std::path::PathBuf;

use super::{invalid, Parser};
use crate::config::keys::{DEFAULT_DST_SCHEMA, DEFAULT_SQLITE_DST_DB, KNOWN_KEYS};
use crate::config::model::{Endpoint, Side};
use crate::config::url::parse_url;
use crate::config::Secret;
use crate::dialect::Driver;
use crate::error::{Error, Result};

impl Parser<'_> {
    pub(in crate::config) fn endpoint(
        &mut self,
        side: Side,
        driver_required: bool,
    ) -> Result<Endpoint> {
        let section = side.section();
        let k = |suffix: &str| -> &'static str {
            KNOWN_KEYS
                .iter()
                .find(|(s, key)| {
                    *s == section && key.ends_with(suffix) && key.len() == suffix.len() + 4
                })
                .map(|(_, key)| *key)
                .expect("key is in KNOWN_KEYS")
        };
        let url = self.raw(section, k("URL"));
        let driver_raw = self.raw(section, k("DRIVER"));
        let url_parts = match &url {
            Some(u) => Some(parse_url(section, k("URL"), u)?),
            None => None,
        };
        let driver = match (&driver_raw, &url_parts) {
            (Some(raw), _) => Driver::parse(&raw.text).ok_or_else(|| {
                invalid(
                    section,
                    k("DRIVER"),
                    raw,
                    &format!(
                        "one of {} (SQLAlchemy forms such as oracle+oracledb are accepted)",
                        Driver::ALLOWED
                    ),
                )
            })?,
            (None, Some(parts)) => parts.driver,
            (None, None) if side == Side::Destination => {
                self.default_shown(k("DRIVER"), "sqlite");
                Driver::Sqlite
            }
            (None, None) => {
                if driver_required {
                    return Err(Error::config(format!(
                        "[{section}] SRC_DRIVER is required: one of {} (or give SRC_URL)",
                        Driver::ALLOWED
                    )));
                }
                Driver::Sqlite
            }
        };
        let port_key = k("PORT");
        let port = match self.raw(section, port_key) {
            None => None,
            Some(raw) => Some(
                raw.text
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| invalid(section, port_key, &raw, "a port number 1-65535"))?,
            ),
        };
        let mut ep = Endpoint {
            side,
            driver,
            host: self.string(section, k("HOST")),
            port,
            username: self.string(section, k("USERNAME")),
            password: self.string(section, k("PASSWORD")).map(Secret::new),
            database: self.string(section, k("DB")),
            schema: self.string(section, k("SCHEMA")),
            admin_db: None,
            oracle_sid: None,
            oracle_tns_alias: None,
            oracle_client_path: None,
            oracle_number: Default::default(),
            mssql_trust_server_certificate: true,
        };
        if let Some(parts) = url_parts {
            // Separate keys win over the URL's parts.
            ep.host = ep.host.or(parts.host);
            ep.port = ep.port.or(parts.port);
            ep.username = ep.username.or(parts.username);
            ep.password = ep.password.or(parts.password);
            ep.database = ep.database.or(parts.database);
        }
        ep.mssql_trust_server_certificate =
            self.boolean(section, k("MSSQL_TRUST_SERVER_CERTIFICATE"), true)?;
        // Accepted for compatibility with the original tool; tiberius needs no ODBC driver.
        let _ = self.string(section, k("MSSQL_ODBC_DRIVER"));
        match side {
            Side::Source => {
                ep.oracle_sid = self.string(section, "SRC_ORACLE_SID");
                ep.oracle_tns_alias = self.string(section, "SRC_ORACLE_TNS_ALIAS");
                ep.oracle_client_path = self
                    .string(section, "SRC_ORACLE_CLIENT_PATH")
                    .map(PathBuf::from);
                use crate::types::oracle::{UnconstrainedNumber, DEFAULT_NUMBER_SCALE};
                ep.oracle_number = self.parsed(
                    section,
                    "SRC_ORACLE_NUMBER_SCALE",
                    UnconstrainedNumber::default(),
                    UnconstrainedNumber::ALLOWED,
                    UnconstrainedNumber::parse,
                )?;
                self.default_shown("SRC_ORACLE_NUMBER_SCALE", DEFAULT_NUMBER_SCALE);
            }
            Side::Destination => {
                ep.admin_db = self.string(section, "DST_ADMIN_DB");
                if ep.admin_db.is_none() {
                    let default = match driver {
                        Driver::Postgres => Some("postgres"),
                        Driver::Mssql => Some("master"),
                        Driver::Mysql | Driver::Mariadb => Some("mysql"),
                        _ => None,
                    };
                    if let Some(d) = default {
                        self.default_shown("DST_ADMIN_DB", d);
                        ep.admin_db = Some(d.to_string());
                    }
                }
                if ep.schema.is_none() && driver != Driver::Sqlite {
                    self.default_shown("DST_SCHEMA", DEFAULT_DST_SCHEMA);
                    ep.schema = Some(DEFAULT_DST_SCHEMA.to_string());
                }
                if driver == Driver::Sqlite && ep.database.is_none() {
                    self.default_shown("DST_DB", DEFAULT_SQLITE_DST_DB);
                    ep.database = Some(DEFAULT_SQLITE_DST_DB.to_string());
                }
            }
        }
        if driver == Driver::Sqlite && ep.database.is_none() && driver_required {
            return Err(Error::config(format!(
                "{} is required for sqlite: the path of the database file",
                ep.key("DB")
            )));
        }
        if let Some(p) = ep.port.or(driver.default_port()) {
            self.default_shown(port_key, p);
        }
        Ok(ep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{no_env, parser, shown};
    use super::*;
    use crate::config::Origin;

    #[test]
    fn secrets_are_recorded_redacted_and_defaults_shown() {
        let env = |k: &str| (k == "SRC_PASSWORD").then(|| "hunter2".to_string());
        let mut p = parser(
            "[database-source]\nSRC_DRIVER = postgres\nSRC_URL = postgres://u:pw@h/db\n",
            &env,
        );
        let ep = p.endpoint(Side::Source, true).unwrap();
        assert_eq!(ep.password.as_ref().map(Secret::expose), Some("hunter2"));
        assert_eq!(shown(&p, "SRC_PASSWORD"), ("***".into(), Origin::Env));
        assert_eq!(shown(&p, "SRC_URL"), ("***".into(), Origin::Ini));
        assert_eq!(shown(&p, "SRC_PORT"), ("5432".into(), Origin::Default));
        assert_eq!(
            shown(&p, "SRC_ORACLE_NUMBER_SCALE"),
            ("10".into(), Origin::Default)
        );
        assert!(!format!("{:?}", p.effective).contains("hunter2"));
    }

    #[test]
    fn separate_keys_win_over_the_urls_parts() {
        let mut p = parser(
            "[database-source]\nSRC_URL = mysql://u:pw@url-host:3307/url_db\nSRC_HOST = key-host\nSRC_DB = key_db\n",
            &no_env,
        );
        let ep = p.endpoint(Side::Source, true).unwrap();
        assert_eq!(ep.driver, Driver::Mysql);
        assert_eq!(ep.host.as_deref(), Some("key-host"));
        assert_eq!(ep.port, Some(3307));
        assert_eq!(ep.username.as_deref(), Some("u"));
        assert_eq!(ep.database.as_deref(), Some("key_db"));
    }

    #[test]
    fn destination_defaults_depend_on_the_driver() {
        let mut p = parser("", &no_env);
        let ep = p.endpoint(Side::Destination, false).unwrap();
        assert_eq!(ep.driver, Driver::Sqlite);
        assert_eq!(ep.database.as_deref(), Some(DEFAULT_SQLITE_DST_DB));
        assert_eq!(ep.schema, None);
        assert_eq!(ep.admin_db, None);
        assert_eq!(shown(&p, "DST_DRIVER"), ("sqlite".into(), Origin::Default));

        let mut p = parser("[database-destination]\nDST_DRIVER = mssql\n", &no_env);
        let ep = p.endpoint(Side::Destination, false).unwrap();
        assert_eq!(ep.schema.as_deref(), Some(DEFAULT_DST_SCHEMA));
        assert_eq!(ep.admin_db.as_deref(), Some("master"));
        assert_eq!(ep.database, None);
        assert!(ep.mssql_trust_server_certificate);

        let mut p = parser(
            "[database-destination]\nDST_DRIVER = mariadb\nDST_ADMIN_DB = admin\nDST_MSSQL_TRUST_SERVER_CERTIFICATE = no\n",
            &no_env,
        );
        let ep = p.endpoint(Side::Destination, false).unwrap();
        assert_eq!(ep.admin_db.as_deref(), Some("admin"));
        assert!(!ep.mssql_trust_server_certificate);
    }

    #[test]
    fn a_sqlite_source_needs_its_file() {
        let mut p = parser("[database-source]\nSRC_DRIVER = sqlite\n", &no_env);
        assert_eq!(
            p.endpoint(Side::Source, true).unwrap_err().to_string(),
            "[database-source] SRC_DB is required for sqlite: the path of the database file"
        );
        let mut p = parser("", &no_env);
        assert_eq!(
            p.endpoint(Side::Source, false).unwrap().driver,
            Driver::Sqlite
        );
    }
}

//! The parser's connection half: one side's keys (`SRC_*` or `DST_*`, or its URL) → an
//! [`Endpoint`], with the defaults that depend on the driver.

use std::path::PathBuf;
use std::time::Duration;

use super::{invalid, Parser};
use crate::config::connection::{MssqlEncrypt, SslMode, Tls, DEFAULT_CONNECT_TIMEOUT_SECONDS};
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
            mssql_encrypt: Default::default(),
            tls: Default::default(),
            timeouts: Default::default(),
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
        ep.mssql_encrypt = self.parsed(
            section,
            k("MSSQL_ENCRYPT"),
            MssqlEncrypt::default(),
            MssqlEncrypt::ALLOWED,
            MssqlEncrypt::parse,
        )?;
        self.default_shown(k("MSSQL_ENCRYPT"), MssqlEncrypt::default().name());
        ep.tls = Tls {
            mode: self.parsed(
                section,
                k("SSLMODE"),
                SslMode::default(),
                SslMode::ALLOWED,
                SslMode::parse,
            )?,
            root_cert: self.path(section, k("SSLROOTCERT"))?,
            cert: self.path(section, k("SSLCERT"))?,
            key: self.path(section, k("SSLKEY"))?,
        };
        self.default_shown(k("SSLMODE"), SslMode::default().name());
        if ep.tls.cert.is_some() != ep.tls.key.is_some() {
            return Err(Error::config(format!(
                "{} and {} go together: give both files of the client certificate, or neither",
                ep.key("SSLCERT"),
                ep.key("SSLKEY")
            )));
        }
        if ep.tls.mode == SslMode::Disable && (ep.tls.root_cert.is_some() || ep.tls.cert.is_some())
        {
            return Err(Error::config(format!(
                "{} = disable, but certificate files are given: remove them or choose another mode",
                ep.key("SSLMODE")
            )));
        }
        ep.timeouts.connect = Duration::from_secs_f64(
            self.seconds_in(
                section,
                k("CONNECT_TIMEOUT_SECONDS"),
                DEFAULT_CONNECT_TIMEOUT_SECONDS,
            )?
            .clamp(0.001, 1e9),
        );
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

#[cfg(test)]
mod connection_tests {
    use super::super::tests::{no_env, parser, shown};
    use super::*;
    use crate::config::Origin;

    #[test]
    fn tls_keys_parse_and_their_files_must_exist() {
        let pem = std::env::temp_dir().join(format!("stage-ca-{}.pem", std::process::id()));
        std::fs::write(&pem, "not read at parse time").unwrap();
        let ini = format!(
            "[database-source]\nSRC_DRIVER = postgres\nSRC_SSLMODE = verify-full\nSRC_SSLROOTCERT = {}\nSRC_CONNECT_TIMEOUT_SECONDS = 2.5\n",
            pem.display()
        );
        let mut p = parser(&ini, &no_env);
        let ep = p.endpoint(Side::Source, true).unwrap();
        assert_eq!(ep.tls.mode, SslMode::VerifyFull);
        assert_eq!(ep.tls.root_cert.as_deref(), Some(pem.as_path()));
        assert_eq!(ep.timeouts.connect, Duration::from_millis(2500));
        assert_eq!(ep.mssql_encrypt, MssqlEncrypt::Mandatory);

        let mut p = parser(
            "[database-destination]\nDST_SSLROOTCERT = /nonexistent/ca.pem\n",
            &no_env,
        );
        assert_eq!(
            p.endpoint(Side::Destination, false).unwrap_err().to_string(),
            "[database-destination] DST_SSLROOTCERT = \"/nonexistent/ca.pem\" is invalid: expected the path of a readable PEM file"
        );
        let ini = format!("[database-source]\nSRC_SSLCERT = {}\n", pem.display());
        let err = parser(&ini, &no_env)
            .endpoint(Side::Source, false)
            .unwrap_err();
        assert!(
            err.to_string().contains("[database-source] SRC_SSLKEY"),
            "{err}"
        );
        let mut p = parser("[database-source]\nSRC_SSLMODE = allow\n", &no_env);
        let err = p.endpoint(Side::Source, false).unwrap_err().to_string();
        assert!(
            err.starts_with("[database-source] SRC_SSLMODE = \"allow\" is invalid"),
            "{err}"
        );
        let mut p = parser("", &no_env);
        p.endpoint(Side::Destination, false).unwrap();
        assert_eq!(shown(&p, "DST_SSLMODE"), ("prefer".into(), Origin::Default));
        assert_eq!(
            shown(&p, "DST_CONNECT_TIMEOUT_SECONDS"),
            ("30".into(), Origin::Default)
        );
        std::fs::remove_file(pem).unwrap();
    }
}

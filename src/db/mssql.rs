//! SQL Server connections and errors (tiberius over TDS 7.3+, TLS by rustls): the
//! connection settings from an endpoint, opening a connection (one Azure-style redirect
//! followed; for a loader, the database created when missing), which errors may be
//! retried, the server's version, and reading a cell without panicking.
//!
//! tiberius is async; each connection owns a small current-thread tokio runtime and blocks
//! on it, so the rest of `stage` stays synchronous.
//!
//! Sign-in is SQL authentication (`SRC_`/`DST_USERNAME` and `PASSWORD`). Integrated
//! (Kerberos) authentication would need tiberius' `integrated-auth-gssapi` feature and the
//! system's GSSAPI libraries; it is not built in. Named instances (`host\instance`) need
//! the port given in `SRC_`/`DST_PORT` (the SQL Browser lookup is not built in).

use std::time::Duration;

use tiberius::AuthMethod;
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use crate::config::{Endpoint, Secret};
use crate::error::{Error, Result};

/// A cell of a result row; `None` for NULL or a value of another type (tiberius'
/// `Row::get` would panic on the latter).
pub fn cell<'a, T: tiberius::FromSql<'a>>(row: &'a tiberius::Row, i: usize) -> Option<T> {
    row.try_get(i).ok().flatten()
}

/// A tiberius client over tokio's TCP stream.
pub type Client = tiberius::Client<Compat<TcpStream>>;

/// How long a TCP connect may take before the server counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a connection needs, taken from an [`Endpoint`] (no password: it is added at the
/// point of use and never stored here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSpec {
    pub host: String,
    pub port: u16,
    pub database: Option<String>,
    pub username: String,
    pub trust_server_certificate: bool,
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
        })
    }

    /// The tiberius configuration. TLS is always negotiated (SQL Server encrypts the
    /// login at least); `trust_server_certificate` skips the certificate check.
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
        if self.trust_server_certificate {
            c.trust_cert();
        }
        c
    }
}

/// A current-thread runtime for one connection.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Why a connection could not be opened: the message and the server's error number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub message: String,
    pub code: Option<u32>,
}

impl From<String> for ConnectError {
    fn from(message: String) -> Self {
        ConnectError {
            message,
            code: None,
        }
    }
}

/// Opens a connection, following one Azure-style redirect.
pub async fn connect(mut config: tiberius::Config) -> Result<Client, ConnectError> {
    for _ in 0..2 {
        let addr = config.get_addr();
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr))
            .await
            .map_err(|_| format!("no answer from {addr} within {CONNECT_TIMEOUT:?}"))?
            .map_err(|e| format!("cannot reach {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        match tiberius::Client::connect(config.clone(), tcp.compat_write()).await {
            Ok(c) => return Ok(c),
            Err(tiberius::error::Error::Routing { host, port }) => {
                config.host(&host);
                config.port(port);
            }
            Err(e) => {
                return Err(ConnectError {
                    code: e.code(),
                    message: e.to_string(),
                })
            }
        }
    }
    Err(String::from("the server redirected the connection more than once").into())
}

/// Server error numbers worth retrying: deadlock victim, lock timeout, and Azure SQL's
/// transient set (database unavailable, connection terminated, throttled).
pub const TRANSIENT_CODES: &[u32] = &[1205, 1222, 40_197, 40_501, 40_613, 49_918, 49_919, 49_920];

/// Whether a tiberius error may be retried (lost connection, deadlock, lock timeout).
pub fn is_transient(e: &tiberius::error::Error) -> bool {
    match e {
        tiberius::error::Error::Io { .. } => true,
        other => other.code().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
    }
}

/// Maps a tiberius error to `Error::Database`, transient where retrying makes sense.
pub fn db_err(context: impl std::fmt::Display) -> impl FnOnce(tiberius::error::Error) -> Error {
    let context = context.to_string();
    move |e| {
        let transient = is_transient(&e);
        Error::database(context, transient, e)
    }
}

/// "Cannot open database requested by the login".
const CANNOT_OPEN_DATABASE: u32 = 4060;

/// Opens a connection to `endpoint` (its database) on a current-thread runtime of its own:
/// the runtime, the settings to reconnect with, and the client. A failure is
/// `Error::Connect` naming `side` ("source" or "destination").
///
/// `create_database`, when given, is the batch that creates the endpoint's database: when
/// the server reports it cannot open it (error 4060), the batch runs through `ADMIN_DB`
/// (default `master`), its failure only a warning, and the connection is tried once more.
/// The loader passes it; a source reads a database that exists.
pub fn open(
    endpoint: &Endpoint,
    side: &'static str,
    create_database: Option<&str>,
) -> Result<(tokio::runtime::Runtime, ConnectSpec, Client)> {
    let spec = ConnectSpec::from_endpoint(endpoint, None)?;
    let connect_err = |message: String| Error::Connect {
        side,
        target: endpoint.describe(),
        message,
    };
    let rt = runtime().map_err(|e| connect_err(format!("cannot start the I/O runtime: {e}")))?;
    let password = endpoint.password.as_ref();
    let first = rt.block_on(connect(spec.config(password)));
    let client = match (first, create_database) {
        (Ok(c), _) => c,
        (Err(e), Some(sql)) if e.code == Some(CANNOT_OPEN_DATABASE) && spec.database.is_some() => {
            let db = spec.database.clone().unwrap_or_default();
            let admin_db = endpoint.admin_db.as_deref().unwrap_or("master");
            let admin = ConnectSpec::from_endpoint(endpoint, Some(admin_db))?;
            let mut admin_client = rt
                .block_on(connect(admin.config(password)))
                .map_err(|e| connect_err(format!("{} (via {admin_db})", e.message)))?;
            match rt.block_on(async { admin_client.simple_query(sql).await?.into_results().await })
            {
                Ok(_) => {
                    tracing::info!(database = %db, via = %admin_db, "created the staging database")
                }
                Err(e) => {
                    tracing::warn!(database = %db, via = %admin_db, "cannot create the staging database: {e}")
                }
            }
            drop(admin_client);
            rt.block_on(connect(spec.config(password)))
                .map_err(|e| connect_err(e.message))?
        }
        (Err(e), _) => return Err(connect_err(e.message)),
    };
    Ok((rt, spec, client))
}

/// The first line of `SELECT @@VERSION`.
pub async fn server_version(client: &mut Client) -> tiberius::Result<String> {
    let row = client
        .simple_query("SELECT @@VERSION")
        .await?
        .into_row()
        .await?;
    let v: Option<&str> = row.as_ref().and_then(|r| cell(r, 0));
    Ok(v.unwrap_or("SQL Server (version unknown)")
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Driver, Side};

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
            }
        );
        assert_eq!(
            spec.config(e.password.as_ref()).get_addr(),
            "db.example:14330"
        );
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

    #[test]
    fn transient_errors_are_classified() {
        let io = tiberius::error::Error::Io {
            kind: std::io::ErrorKind::ConnectionReset,
            message: "reset".into(),
        };
        assert!(is_transient(&io));
        assert!(!is_transient(&tiberius::error::Error::Protocol("x".into())));
        assert!(db_err("ctx")(io).is_transient());
    }
}

//! SQL Server connections and errors (tiberius over TDS 7.3+, TLS by rustls): the
//! connection settings from an endpoint ([`ConnectSpec`]: `*_MSSQL_ENCRYPT`, the trust
//! flag, `*_SSLROOTCERT`, a client certificate), opening a connection within
//! `*_CONNECT_TIMEOUT_SECONDS` with TCP keepalive and the session's `SET LOCK_TIMEOUT`
//! (one Azure-style redirect followed; for a loader, the database created when missing),
//! the statement deadline of the source's reads, which errors may be retried, the
//! server's version, and reading a cell without panicking.
//!
//! tiberius is async; each connection owns a small current-thread tokio runtime and blocks
//! on it, so the rest of `stage` stays synchronous.
//!
//! Sign-in is SQL authentication (`SRC_`/`DST_USERNAME` and `PASSWORD`). Integrated
//! (Kerberos) authentication would need tiberius' `integrated-auth-gssapi` feature and the
//! system's GSSAPI libraries; it is not built in. Named instances (`host\instance`) need
//! the port given in `SRC_`/`DST_PORT` (the SQL Browser lookup is not built in).

mod spec;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use super::{
    seconds, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES, LOCK_TIMEOUT_KEY, STATEMENT_TIMEOUT_KEY,
};
use crate::config::{Endpoint, Secret, KEEPALIVE_IDLE};
use crate::error::{Error, Result};
pub use spec::ConnectSpec;

/// A cell of a result row; `None` for NULL or a value of another type (tiberius'
/// `Row::get` would panic on the latter).
pub fn cell<'a, T: tiberius::FromSql<'a>>(row: &'a tiberius::Row, i: usize) -> Option<T> {
    row.try_get(i).ok().flatten()
}

/// A tiberius client over tokio's TCP stream.
pub type Client = tiberius::Client<Compat<TcpStream>>;

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

impl ConnectSpec {
    /// Opens a connection: TCP connect, TLS and sign-in within `*_CONNECT_TIMEOUT_SECONDS`
    /// (one Azure-style redirect followed), then the session's lock timeout.
    pub async fn connect(&self, password: Option<&Secret>) -> Result<Client, ConnectError> {
        let limit = self.connect_timeout;
        let mut client = tokio::time::timeout(limit, connect(self.config(password)))
            .await
            .map_err(|_| {
                ConnectError::from(format!(
                    "no connection within {} s (TCP connect, TLS and sign-in): raise {} if the server is slow to answer",
                    seconds(limit),
                    self.key("CONNECT_TIMEOUT_SECONDS")
                ))
            })??;
        if let Some(sql) = self.session_sql() {
            client
                .simple_query(&sql)
                .await
                .map_err(ConnectError::from_driver)?
                .into_results()
                .await
                .map_err(|e| ConnectError::from_driver(e).with_context(&sql))?;
        }
        Ok(client)
    }
}

impl ConnectError {
    fn from_driver(e: tiberius::error::Error) -> Self {
        ConnectError {
            code: e.code(),
            message: e.to_string(),
        }
    }

    fn with_context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

/// Opens a connection with `config`, following one Azure-style redirect. TCP keepalive is
/// on (first probe after [`KEEPALIVE_IDLE`] of silence).
async fn connect(mut config: tiberius::Config) -> Result<Client, ConnectError> {
    for _ in 0..2 {
        let addr = config.get_addr();
        let tcp = TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("cannot reach {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        keepalive(&tcp).map_err(|e| format!("cannot turn on TCP keepalive: {e}"))?;
        match tiberius::Client::connect(config.clone(), tcp.compat_write()).await {
            Ok(c) => return Ok(c),
            Err(tiberius::error::Error::Routing { host, port }) => {
                config.host(&host);
                config.port(port);
            }
            Err(e) => return Err(ConnectError::from_driver(e)),
        }
    }
    Err(String::from("the server redirected the connection more than once").into())
}

fn keepalive(tcp: &TcpStream) -> std::io::Result<()> {
    let ka = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    let ka = ka.with_retries(KEEPALIVE_PROBES);
    socket2::SockRef::from(tcp).set_tcp_keepalive(&ka)
}

/// When a statement must have finished (`[settings] STATEMENT_TIMEOUT_SECONDS`): SQL
/// Server has no session setting for it, so the client gives up on the statement.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
}

impl Deadline {
    /// From now, `None` when statements are not limited.
    pub fn after(limit: Option<Duration>) -> Option<Deadline> {
        limit.map(|limit| Deadline {
            at: tokio::time::Instant::now() + limit,
            limit,
        })
    }
}

/// Runs `fut` until `deadline`; past it, the statement timeout's error naming `context`
/// and the key. The connection is then mid-response: the caller drops it.
pub async fn before<T>(
    deadline: Option<Deadline>,
    context: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        None => fut.await,
        Some(d) => match tokio::time::timeout_at(d.at, fut).await {
            Ok(out) => out,
            Err(_) => Err(statement_timed_out(context, d.limit)),
        },
    }
}

/// The error of a statement given up on after `limit`.
pub fn statement_timed_out(context: &str, limit: Duration) -> Error {
    Error::database(
        format!("{context} (timed out: raise {STATEMENT_TIMEOUT_KEY})"),
        false,
        format!(
            "the statement ran longer than {} s and was abandoned (its connection closed)",
            seconds(limit)
        ),
    )
}

/// Server error numbers worth retrying: deadlock victim, and Azure SQL's transient set
/// (database unavailable, connection terminated, throttled).
pub const TRANSIENT_CODES: &[u32] = &[1205, 40_197, 40_501, 40_613, 49_918, 49_919, 49_920];

/// "Lock request time out period exceeded": `SET LOCK_TIMEOUT` ran out.
pub const LOCK_TIMEOUT_CODE: u32 = 1222;

/// Whether a tiberius error may be retried (lost connection, deadlock). Not a lock
/// timeout (1222), which would wait the same way again.
pub fn is_transient(e: &tiberius::error::Error) -> bool {
    match e {
        tiberius::error::Error::Io { .. } => true,
        other => other.code().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
    }
}

/// Maps a tiberius error to `Error::Database`, transient where retrying makes sense. A
/// lock timeout names the key to raise after `context`.
pub fn db_err(context: impl std::fmt::Display) -> impl FnOnce(tiberius::error::Error) -> Error {
    let context = context.to_string();
    move |e| {
        let transient = is_transient(&e);
        Error::database(naming_the_key(context, e.code()), transient, e)
    }
}

/// `context`, followed by the key to raise when the server's error `code` is a lock
/// timeout.
fn naming_the_key(context: String, code: Option<u32>) -> String {
    if code == Some(LOCK_TIMEOUT_CODE) {
        format!("{context} (timed out: raise {LOCK_TIMEOUT_KEY})")
    } else {
        context
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
    if let Some(warning) = spec.unchecked() {
        tracing::warn!(side, "{warning}");
    }
    let first = rt.block_on(spec.connect(password));
    let client = match (first, create_database) {
        (Ok(c), _) => c,
        (Err(e), Some(sql)) if e.code == Some(CANNOT_OPEN_DATABASE) && spec.database.is_some() => {
            let db = spec.database.clone().unwrap_or_default();
            let admin_db = endpoint.admin_db.as_deref().unwrap_or("master");
            let admin = ConnectSpec::from_endpoint(endpoint, Some(admin_db))?;
            let mut admin_client = rt
                .block_on(admin.connect(password))
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
            rt.block_on(spec.connect(password))
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

    #[test]
    fn a_lock_timeout_is_not_transient_and_names_the_key() {
        // tiberius has no public constructor for a server error: the parts db_err uses.
        assert!(!TRANSIENT_CODES.contains(&LOCK_TIMEOUT_CODE));
        assert!(
            TRANSIENT_CODES.contains(&1205),
            "a deadlock victim is retried"
        );
        assert_eq!(
            naming_the_key("staging table t: swapping".into(), Some(1222)),
            "staging table t: swapping (timed out: raise [settings] LOCK_TIMEOUT_SECONDS)"
        );
        assert_eq!(naming_the_key("x".into(), Some(1205)), "x");
        assert_eq!(naming_the_key("x".into(), None), "x");
    }

    #[test]
    fn a_statement_past_its_deadline_is_cut_naming_the_table_and_key() {
        let rt = runtime().unwrap();
        let d = Deadline::after(Some(Duration::from_millis(50)));
        let err = rt
            .block_on(before(d, "table dbo.t: reading", async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            }))
            .unwrap_err();
        assert!(!err.is_transient());
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            err.to_string(),
            "table dbo.t: reading (timed out: raise [settings] STATEMENT_TIMEOUT_SECONDS): the statement ran longer than 0.05 s and was abandoned (its connection closed)"
        );
        // Without a limit, and within it, the future's own result.
        assert_eq!(rt.block_on(before(None, "x", async { Ok(7) })).unwrap(), 7);
        let d = Deadline::after(Some(Duration::from_secs(5)));
        assert_eq!(rt.block_on(before(d, "x", async { Ok(8) })).unwrap(), 8);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn keepalive_is_on_with_stages_times() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let rt = runtime().unwrap();
        let tcp = rt.block_on(TcpStream::connect(addr)).unwrap();
        keepalive(&tcp).unwrap();
        let sock = socket2::SockRef::from(&tcp);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        assert_eq!(sock.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
    }
}

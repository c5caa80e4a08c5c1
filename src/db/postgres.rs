//! PostgreSQL connections and errors: the blocking client the loader uses, the
//! tokio-postgres connection on a runtime of its own the source uses, and which errors may
//! be retried.
//!
//! Every connection: TLS as `*_SSLMODE` says (`tls`), TCP keepalive, the whole connect
//! (TCP, TLS, login and the session settings) bounded by `*_CONNECT_TIMEOUT_SECONDS`, and
//! the session's `lock_timeout` (both sides) and `statement_timeout` (the source) set by
//! `SET` right after login — `SET` rather than the startup `options`, which connection
//! poolers such as PgBouncer refuse.
//!
//! * `tls`: rustls under tokio-postgres, with libpq's modes;
//! * `copy_tap`: the source connection's COPY data taken off its socket before
//!   tokio-postgres parses it, one message per row (connections without TLS).

mod copy_tap;
mod tls;

pub(crate) use copy_tap::{Armed, CopyTap};

use std::sync::mpsc;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::Client;

use crate::config::{Endpoint, KEEPALIVE_IDLE};
use crate::error::{server_words, Error, Result};

/// The `application_name` of every connection `stage` opens.
pub const APPLICATION_NAME: &str = "stage";

/// Why a connection could not be opened: the driver's or server's error, or our own words
/// (a TLS file, the connect timeout). Never holds the password or a key file's contents.
#[derive(Debug)]
pub enum ConnectError {
    Driver(postgres::Error, String),
    Other(String),
}

impl ConnectError {
    /// The server's SQLSTATE, when the server refused.
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            ConnectError::Driver(e, _) => e.code(),
            ConnectError::Other(_) => None,
        }
    }

    fn driver(e: postgres::Error, endpoint: &Endpoint) -> Self {
        let hint = if timed_out(&e) {
            format!(
                " (timed out: raise {})",
                endpoint.key("CONNECT_TIMEOUT_SECONDS")
            )
        } else {
            String::new()
        };
        ConnectError::Driver(e, hint)
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Driver(e, hint) => write!(f, "{}{hint}", server_words(e)),
            ConnectError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Whether a driver error is a timeout of ours (the socket's connect timeout).
fn timed_out(e: &postgres::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The message of a connect that outlived `*_CONNECT_TIMEOUT_SECONDS`.
fn connect_timed_out(endpoint: &Endpoint) -> String {
    format!(
        "no answer within {:?} (TCP connect, TLS, login and session settings) (timed out: raise {})",
        endpoint.timeouts.connect,
        endpoint.key("CONNECT_TIMEOUT_SECONDS")
    )
}

/// Opens a connection to `dbname`. The password goes through the config builder, never
/// through a connection string, and no error message carries it.
///
/// The blocking client cannot bound its whole connect (its timeout covers the TCP connect
/// only), so the connect runs on a thread of its own that is abandoned after
/// `*_CONNECT_TIMEOUT_SECONDS`; should the server answer later, the thread drops the
/// connection.
pub fn connect(endpoint: &Endpoint, dbname: &str) -> std::result::Result<Client, ConnectError> {
    connect_as(endpoint, dbname, APPLICATION_NAME)
}

/// [`connect`] under another `application_name` (the run log's own connections say
/// `stage run log`, so an operator — and a test — tells them from the loads).
pub fn connect_as(
    endpoint: &Endpoint,
    dbname: &str,
    application_name: &str,
) -> std::result::Result<Client, ConnectError> {
    let tls = tls::connector(endpoint).map_err(ConnectError::Other)?;
    let mut cfg = postgres::Config::from(config(endpoint, dbname));
    cfg.application_name(application_name);
    let session = session_settings(endpoint);
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("pg-connect".into())
        .spawn(move || {
            let connected = cfg.connect(tls).and_then(|mut client| {
                if !session.is_empty() {
                    client.batch_execute(&session)?;
                }
                Ok(client)
            });
            let _ = tx.send(connected);
        })
        .map_err(|e| ConnectError::Other(format!("starting a thread to connect: {e}")))?;
    match rx.recv_timeout(endpoint.timeouts.connect) {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(ConnectError::driver(e, endpoint)),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(ConnectError::Other(connect_timed_out(endpoint)))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ConnectError::Other(
            "the connecting thread ended without an answer".into(),
        )),
    }
}

/// The connection settings for `dbname` on `endpoint`.
fn config(endpoint: &Endpoint, dbname: &str) -> tokio_postgres::Config {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(endpoint.host.as_deref().unwrap_or("localhost"))
        .port(endpoint.port.unwrap_or(5432))
        .dbname(dbname)
        .application_name(APPLICATION_NAME)
        .ssl_mode(tls::negotiation(endpoint.tls.effective_mode()))
        .connect_timeout(endpoint.timeouts.connect)
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE);
    let user = endpoint
        .username
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "postgres".into());
    cfg.user(&user);
    if let Some(pw) = &endpoint.password {
        cfg.password(pw.expose());
    }
    cfg
}

/// The `SET`s run right after login: `statement_timeout` where the endpoint has one (the
/// source), `lock_timeout` where it has one (both sides). Empty when neither is set, so
/// the server's (or role's) own settings stay.
fn session_settings(endpoint: &Endpoint) -> String {
    // PostgreSQL takes these in milliseconds, up to INT_MAX; 0 would mean "none".
    let millis = |d: Duration| d.as_millis().clamp(1, i32::MAX as u128);
    let mut sql = String::new();
    if let Some(d) = endpoint.timeouts.statement {
        sql.push_str(&format!("SET statement_timeout = {}; ", millis(d)));
    }
    if let Some(d) = endpoint.timeouts.lock {
        sql.push_str(&format!("SET lock_timeout = {}; ", millis(d)));
    }
    sql
}

/// The server's version as `stage` reports it, from a `SHOW server_version` row.
fn version_of(row: &postgres::Row) -> String {
    format!("PostgreSQL {}", row.get::<_, String>(0))
}

/// The server's version ("PostgreSQL 16.4"), over a blocking client.
pub fn server_version(client: &mut Client) -> Result<String> {
    let row = client
        .query_one("SHOW server_version", &[])
        .map_err(db_err("reading the server version"))?;
    Ok(version_of(&row))
}

/// A tokio-postgres connection driven by a current-thread runtime of its own.
///
/// The blocking `postgres` client enters its runtime once per COPY message, and the server
/// sends one message per row: in the profile of a 1M-row dump that bookkeeping was a quarter
/// of the read thread. Here a whole COPY is consumed inside one `block_on`.
pub(crate) struct Conn {
    rt: tokio::runtime::Runtime,
    /// `None` only while dropping.
    client: Option<tokio_postgres::Client>,
    driver: Option<tokio::task::JoinHandle<()>>,
    /// COPY data off the byte stream (`copy_tap`).
    tap: CopyTap,
}

impl Conn {
    /// Opens a connection to `dbname` (see [`connect`] for what every connection gets).
    /// The error is the message for `Error::Connect`.
    pub(crate) fn open(endpoint: &Endpoint, dbname: &str) -> std::result::Result<Conn, String> {
        let tls = tls::connector(endpoint)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the I/O runtime: {e}"))?;
        let limit = endpoint.timeouts.connect;
        let started = std::time::Instant::now();
        let cfg = config(endpoint, dbname);
        let (client, driver, tap) = rt
            // The timer is made inside the runtime, which it needs.
            .block_on(async {
                tokio::time::timeout(limit, copy_tap::connect(&cfg, endpoint, tls)).await
            })
            .map_err(|_| connect_timed_out(endpoint))??;
        let conn = Conn {
            rt,
            client: Some(client),
            driver: Some(driver),
            tap,
        };
        let session = session_settings(endpoint);
        if !session.is_empty() {
            let left = limit.saturating_sub(started.elapsed());
            conn.rt
                .block_on(async {
                    tokio::time::timeout(left, conn.client().batch_execute(&session)).await
                })
                .map_err(|_| connect_timed_out(endpoint))?
                .map_err(|e| ConnectError::driver(e, endpoint).to_string())?;
        }
        Ok(conn)
    }

    pub(crate) fn client(&self) -> &tokio_postgres::Client {
        self.client.as_ref().expect("the client lives until drop")
    }

    /// Arms the connection's tap for the next COPY it starts: that COPY's
    /// data is then taken with [`Armed::take`], not from the driver's stream.
    pub(crate) fn arm_tap(&self) -> Armed {
        self.tap.arm()
    }

    /// Runs `f` on the connection's runtime (a whole COPY inside one call).
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub(crate) fn query(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> std::result::Result<Vec<postgres::Row>, postgres::Error> {
        self.rt.block_on(self.client().query(sql, params))
    }

    pub(crate) fn query_one(
        &self,
        sql: &str,
    ) -> std::result::Result<postgres::Row, postgres::Error> {
        self.rt.block_on(self.client().query_one(sql, &[]))
    }

    pub(crate) fn batch(&self, sql: &str) -> std::result::Result<(), postgres::Error> {
        self.rt.block_on(self.client().batch_execute(sql))
    }

    /// The server's version ("PostgreSQL 16.4").
    pub(crate) fn server_version(&self) -> Result<String> {
        let row = self
            .query_one("SHOW server_version")
            .map_err(db_err("reading the server version"))?;
        Ok(version_of(&row))
    }
}

impl Drop for Conn {
    /// Says goodbye to the server (a Terminate message) instead of cutting the socket.
    fn drop(&mut self) {
        drop(self.client.take());
        if let Some(driver) = self.driver.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), driver).await });
        }
    }
}

/// Whether a PostgreSQL error may be retried: serialization failure, deadlock, the
/// backend terminated (`pg_terminate_backend`, shutdown), connection errors (class 08), or
/// a connection that is gone. Timeouts (57014 statement timeout, 55P03 lock timeout) are
/// not: the same wait would time out again; [`db_err`] names the key to raise instead.
pub fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            matches!(c, "40001" | "40P01" | "57P01" | "57P02" | "57P03") || c.starts_with("08")
        }
        // No SQLSTATE: an I/O error on the socket.
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// For a timeout error, what to say after the context: the key to raise.
fn timeout_hint(e: &postgres::Error) -> Option<&'static str> {
    let db = e.as_db_error()?;
    match db.code().code() {
        "55P03" => Some(" (timed out: raise [settings] LOCK_TIMEOUT_SECONDS)"),
        // 57014 is any cancel; the server says which (in English unless lc_messages differs).
        "57014" if db.message().contains("statement timeout") => {
            Some(" (timed out: raise [settings] STATEMENT_TIMEOUT_SECONDS)")
        }
        "57014" => Some(
            " (cancelled; if by the statement timeout, raise [settings] STATEMENT_TIMEOUT_SECONDS)",
        ),
        _ => None,
    }
}

/// A PostgreSQL error with context, transient where [`is_transient`] says so; a timeout's
/// context ends with the key to raise.
pub fn db_err(context: impl std::fmt::Display) -> impl FnOnce(postgres::Error) -> Error {
    let context = context.to_string();
    move |e| {
        let transient = is_transient(&e);
        let context = match timeout_hint(&e) {
            Some(hint) => format!("{context}{hint}"),
            None => context,
        };
        Error::database(context, transient, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Driver, Side, Timeouts, Tls};

    fn endpoint(timeouts: Timeouts) -> Endpoint {
        Endpoint {
            side: Side::Source,
            driver: Driver::Postgres,
            host: Some("127.0.0.1".into()),
            port: Some(1),
            username: Some("u".into()),
            password: None,
            database: Some("d".into()),
            schema: None,
            admin_db: None,
            oracle_sid: None,
            oracle_tns_alias: None,
            oracle_client_path: None,
            oracle_number: Default::default(),
            mssql_trust_server_certificate: false,
            mssql_encrypt: Default::default(),
            tls: Tls::default(),
            timeouts,
        }
    }

    #[test]
    fn session_settings_set_only_the_timeouts_given_in_milliseconds() {
        let none = Timeouts {
            connect: Duration::from_secs(1),
            statement: None,
            lock: None,
        };
        assert_eq!(session_settings(&endpoint(none)), "");
        let both = Timeouts {
            statement: Some(Duration::from_millis(1500)),
            lock: Some(Duration::from_secs(60)),
            ..none
        };
        assert_eq!(
            session_settings(&endpoint(both)),
            "SET statement_timeout = 1500; SET lock_timeout = 60000; "
        );
        let tiny = Timeouts {
            lock: Some(Duration::from_micros(10)),
            ..none
        };
        assert_eq!(
            session_settings(&endpoint(tiny)),
            "SET lock_timeout = 1; ",
            "never 0, which would mean no timeout"
        );
    }

    #[test]
    fn a_connect_timeout_names_the_key() {
        let ep = endpoint(Timeouts {
            connect: Duration::from_secs(1),
            ..Timeouts::default()
        });
        let m = connect_timed_out(&ep);
        assert!(
            m.contains("raise [database-source] SRC_CONNECT_TIMEOUT_SECONDS"),
            "{m}"
        );
    }
}

//! MySQL / MariaDB connections and errors (the `mysql` crate, synchronous; TLS by rustls):
//! connecting with TLS (`*_SSLMODE`, [`tls`]), a connect deadline, TCP keepalive and the
//! session's limits ([`session`]); which errors may be retried; the server's version; and
//! reading a catalog cell.

mod session;
mod tls;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use mysql::prelude::{FromValue, Queryable};
use mysql::{Conn, OptsBuilder, Row};

use super::{seconds, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES};
use crate::config::{Endpoint, SslMode, KEEPALIVE_IDLE};
use crate::error::{Error, Result};

pub(crate) use session::timeout_key;

/// Opens a connection to `endpoint`, into `database` when given. The password goes
/// through the options builder, never through a URL. `init` runs on connect; then the
/// session's limits are set (the endpoint's lock timeout, and its statement timeout,
/// which only the source's endpoint carries).
///
/// TCP connect, TLS and sign-in together take at most `*_CONNECT_TIMEOUT_SECONDS`: the
/// driver bounds the TCP connect only, so the connection is opened on a thread of its
/// own and given up on at the deadline (the thread ends when the server answers or
/// closes the socket).
pub(crate) fn connect(
    endpoint: &Endpoint,
    side: &'static str,
    database: Option<&str>,
    init: &[&str],
) -> Result<Conn> {
    let connect_err = |message: String| Error::Connect {
        side,
        target: endpoint.describe(),
        message,
    };
    let deadline = Instant::now() + endpoint.timeouts.connect;
    let base = options(endpoint, database, init);
    let opened = match open_by(
        base.clone().ssl_opts(tls::ssl_opts(&endpoint.tls)),
        deadline,
    ) {
        Err(Opening::Failed(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)))
            if endpoint.tls.effective_mode() == SslMode::Prefer =>
        {
            tracing::info!(
                side,
                target = %endpoint.describe(),
                "the server offers no TLS: connecting without ({} = prefer)",
                endpoint.key("SSLMODE")
            );
            open_by(base, deadline)
        }
        other => other,
    };
    let mut conn = opened.map_err(|e| connect_err(e.describe(endpoint)))?;
    let mariadb =
        endpoint.timeouts.statement.is_some() && session::is_mariadb(&server_version(&mut conn)?);
    if let Some(sql) = session::session_sql(&endpoint.timeouts, mariadb) {
        conn.query_drop(&sql).map_err(|e| {
            connect_err(format!(
                "cannot set the session's limits ([settings] STATEMENT_TIMEOUT_SECONDS, LOCK_TIMEOUT_SECONDS) with `{sql}`: {e}"
            ))
        })?;
    }
    Ok(conn)
}

/// The connection options without TLS.
fn options(endpoint: &Endpoint, database: Option<&str>, init: &[&str]) -> OptsBuilder {
    let port = endpoint
        .port
        .or(endpoint.driver.default_port())
        .unwrap_or(3306);
    let keepalive_ms = u32::try_from(KEEPALIVE_IDLE.as_millis()).unwrap_or(u32::MAX);
    let opts = OptsBuilder::new()
        .ip_or_hostname(Some(
            endpoint.host.clone().unwrap_or_else(|| "localhost".into()),
        ))
        .tcp_port(port)
        .user(endpoint.username.clone())
        .pass(endpoint.password.as_ref().map(|p| p.expose().to_string()))
        .db_name(database.map(str::to_string))
        .prefer_socket(false)
        .tcp_connect_timeout(Some(endpoint.timeouts.connect))
        .tcp_keepalive_time_ms(Some(keepalive_ms))
        .init(init.to_vec());
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    let opts = opts
        .tcp_keepalive_probe_interval_secs(Some(KEEPALIVE_INTERVAL.as_secs() as u32))
        .tcp_keepalive_probe_count(Some(KEEPALIVE_PROBES));
    opts
}

/// Why a connection was not opened.
enum Opening {
    /// No connection by the deadline.
    TimedOut,
    Failed(mysql::Error),
}

impl Opening {
    fn describe(&self, endpoint: &Endpoint) -> String {
        match self {
            Opening::TimedOut
            | Opening::Failed(mysql::Error::DriverError(mysql::DriverError::ConnectTimeout)) => {
                format!(
                    "no connection within {} s (TCP connect, TLS and sign-in): raise {} if the server is slow to answer",
                    seconds(endpoint.timeouts.connect),
                    endpoint.key("CONNECT_TIMEOUT_SECONDS")
                )
            }
            Opening::Failed(e) => {
                let words = tls::describe_failure(endpoint, e);
                match e {
                    // MySQL says "insecure transport" (3159); MariaDB only "Access denied".
                    mysql::Error::MySqlError(m)
                        if matches!(m.code, 1045 | 3159)
                            && endpoint.tls.effective_mode() == SslMode::Disable =>
                    {
                        format!(
                            "{words} (with {} = disable: a server that requires TLS, require_secure_transport=ON, refuses a plain connection so)",
                            endpoint.key("SSLMODE")
                        )
                    }
                    _ => words,
                }
            }
        }
    }
}

/// `Conn::new` on a thread of its own, waited for until `deadline`.
fn open_by(opts: OptsBuilder, deadline: Instant) -> std::result::Result<Conn, Opening> {
    let left = deadline.saturating_duration_since(Instant::now());
    let opts = opts.tcp_connect_timeout(Some(left.max(Duration::from_millis(1))));
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("mysql-connect".into())
        .spawn(move || {
            // The receiver is gone when the deadline passed; the connection is dropped.
            let _ = tx.send(Conn::new(opts));
        })
        .map_err(|e| Opening::Failed(mysql::Error::IoError(e)))?;
    match rx.recv_timeout(left) {
        Ok(opened) => opened.map_err(Opening::Failed),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(Opening::TimedOut),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Opening::Failed(mysql::Error::IoError(
            std::io::Error::other("the connecting thread ended"),
        ))),
    }
}

/// Errors after which the same statement may succeed when tried again: deadlock, lost
/// connection, server shutting down, I/O failures. Not a timeout the session's limits
/// set (1205 lock wait, 3024/1969 statement time: [`timeout_key`]), which would wait the
/// same way again, nor 1153 (packet too large), which fails the same way again.
pub(crate) fn is_transient(e: &mysql::Error) -> bool {
    if timeout_key(e).is_some() || tls::certificate_refused(e).is_some() {
        return false;
    }
    match e {
        mysql::Error::MySqlError(m) => matches!(
            m.code,
            1213 | 1053 | 1077 | 1078 | 1079 | 1080 | 1152 | 1158
                ..=1161 | 1927 | 2006 | 2013 | 4031
        ),
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) => true,
        mysql::Error::DriverError(d) => matches!(
            d,
            mysql::DriverError::ConnectTimeout | mysql::DriverError::PacketOutOfSync
        ),
        _ => false,
    }
}

/// Maps a driver error to `Error::Database`, transient where retrying makes sense. A
/// timeout of the session's limits names the key to raise after `context`:
/// "table t: reading (timed out: raise [settings] LOCK_TIMEOUT_SECONDS): ERROR 1205 …".
pub(crate) fn db_err(context: impl std::fmt::Display) -> impl FnOnce(mysql::Error) -> Error {
    let context = context.to_string();
    move |e| {
        let transient = is_transient(&e);
        let context = match timeout_key(&e) {
            Some(key) => format!("{context} (timed out: raise {key})"),
            None => context,
        };
        Error::database(context, transient, e)
    }
}

/// Column `i` of a catalog row, converted.
pub(crate) fn take<T: FromValue>(row: &mut Row, i: usize, what: &str) -> Result<T> {
    match row.take_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(Error::Check(format!(
            "unexpected value for {what} in the catalog: {e}"
        ))),
        None => Err(Error::Check(format!("the catalog returned no {what}"))),
    }
}

/// The server's `VERSION()`, as the server spells it.
pub(crate) fn server_version(conn: &mut Conn) -> Result<String> {
    let mut row: Row = conn
        .query_first("SELECT VERSION()")
        .map_err(db_err("reading the server version"))?
        .ok_or_else(|| Error::Check("SELECT VERSION() returned no row".into()))?;
    take(&mut row, 0, "version")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16, message: &str) -> mysql::Error {
        mysql::Error::MySqlError(mysql::MySqlError {
            state: "HY000".into(),
            message: message.into(),
            code,
        })
    }

    #[test]
    fn timeouts_are_not_transient_and_name_their_key() {
        let e = db_err("table b: reading")(server(
            1205,
            "Lock wait timeout exceeded; try restarting transaction",
        ));
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            "table b: reading (timed out: raise [settings] LOCK_TIMEOUT_SECONDS): MySqlError { ERROR 1205 (HY000): Lock wait timeout exceeded; try restarting transaction }"
        );
        let e = db_err("table slow: reading row 1")(server(
            3024,
            "maximum statement execution time exceeded",
        ));
        assert!(!e.is_transient());
        assert!(e.to_string().starts_with(
            "table slow: reading row 1 (timed out: raise [settings] STATEMENT_TIMEOUT_SECONDS): "
        ));
        // A deadlock and a lost connection stay worth retrying.
        assert!(db_err("x")(server(1213, "Deadlock found")).is_transient());
        let lost = mysql::Error::IoError(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ));
        assert!(is_transient(&lost));
        // A certificate rustls refused is not.
        let refused = mysql::Error::IoError(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        assert!(!is_transient(&refused));
    }

    #[test]
    fn options_bound_the_connect_and_turn_on_keepalive() {
        let endpoint = crate::config::Endpoint {
            side: crate::config::Side::Source,
            driver: crate::config::Driver::Mariadb,
            host: Some("db.example".into()),
            port: None,
            username: Some("app".into()),
            password: Some(crate::config::Secret::new("pw")),
            database: Some("sales".into()),
            schema: None,
            admin_db: None,
            oracle_sid: None,
            oracle_tns_alias: None,
            oracle_client_path: None,
            oracle_number: Default::default(),
            mssql_trust_server_certificate: true,
            mssql_encrypt: Default::default(),
            tls: Default::default(),
            timeouts: crate::config::Timeouts {
                connect: Duration::from_millis(2500),
                ..Default::default()
            },
        };
        let opts: mysql::Opts = options(&endpoint, Some("sales"), &["SET NAMES utf8mb4"]).into();
        assert_eq!(opts.get_tcp_port(), 3306);
        assert_eq!(
            opts.get_tcp_connect_timeout(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(opts.get_tcp_keepalive_time_ms(), Some(60_000));
        #[cfg(target_os = "linux")]
        {
            assert_eq!(opts.get_tcp_keepalive_probe_interval_secs(), Some(10));
            assert_eq!(opts.get_tcp_keepalive_probe_count(), Some(KEEPALIVE_PROBES));
        }
        assert_eq!(opts.get_init(), vec!["SET NAMES utf8mb4".to_string()]);
    }
}

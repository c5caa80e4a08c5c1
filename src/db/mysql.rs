//! MySQL / MariaDB connections and errors (the `mysql` crate, synchronous): connecting
//! with session statements, which errors may be retried, the server's version, and reading
//! a catalog cell.

use mysql::prelude::{FromValue, Queryable};
use mysql::{Conn, OptsBuilder, Row};

use crate::config::Endpoint;
use crate::error::{Error, Result};

/// Opens a connection to `endpoint`, into `database` when given. The password goes
/// through the options builder, never through a URL. `init` runs on connect.
pub(crate) fn connect(
    endpoint: &Endpoint,
    side: &'static str,
    database: Option<&str>,
    init: &[&str],
) -> Result<Conn> {
    let port = endpoint
        .port
        .or(endpoint.driver.default_port())
        .unwrap_or(3306);
    let opts = OptsBuilder::new()
        .ip_or_hostname(Some(
            endpoint.host.clone().unwrap_or_else(|| "localhost".into()),
        ))
        .tcp_port(port)
        .user(endpoint.username.clone())
        .pass(endpoint.password.as_ref().map(|p| p.expose().to_string()))
        .db_name(database.map(str::to_string))
        .prefer_socket(false)
        .tcp_connect_timeout(Some(std::time::Duration::from_secs(30)))
        .init(init.to_vec());
    Conn::new(opts).map_err(|e| Error::Connect {
        side,
        target: endpoint.describe(),
        message: e.to_string(),
    })
}

/// Errors after which the same statement may succeed when tried again: deadlock,
/// lock wait timeout, lost connection, server shutting down, I/O failures. Not 1153
/// (packet too large): the same statement fails the same way again.
pub(crate) fn is_transient(e: &mysql::Error) -> bool {
    match e {
        mysql::Error::MySqlError(m) => matches!(
            m.code,
            1205 | 1213 | 1053 | 1077 | 1078 | 1079 | 1080 | 1152 | 1158
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

pub(crate) fn db_err(context: impl std::fmt::Display) -> impl FnOnce(mysql::Error) -> Error {
    let context = context.to_string();
    move |e| {
        let transient = is_transient(&e);
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

//! PostgreSQL connections and errors: the blocking client the loader uses, the
//! tokio-postgres connection on a runtime of its own the source uses, and which errors may
//! be retried.

use std::time::Duration;

use postgres::{Client, NoTls};

use crate::config::Endpoint;
use crate::error::{Error, Result};

/// The `application_name` of every connection `stage` opens.
pub const APPLICATION_NAME: &str = "stage";

/// Opens a connection to `dbname`. The password goes through the config builder, never
/// through a connection string, and no error message carries it.
pub fn connect(endpoint: &Endpoint, dbname: &str) -> std::result::Result<Client, postgres::Error> {
    postgres::Config::from(config(endpoint, dbname)).connect(NoTls)
}

/// The connection settings for `dbname` on `endpoint`.
fn config(endpoint: &Endpoint, dbname: &str) -> tokio_postgres::Config {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(endpoint.host.as_deref().unwrap_or("localhost"))
        .port(endpoint.port.unwrap_or(5432))
        .dbname(dbname)
        .application_name(APPLICATION_NAME)
        .connect_timeout(Duration::from_secs(30));
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
}

impl Conn {
    pub(crate) fn open(endpoint: &Endpoint, dbname: &str) -> std::result::Result<Conn, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the I/O runtime: {e}"))?;
        let (client, connection) = rt
            .block_on(config(endpoint, dbname).connect(tokio_postgres::NoTls))
            .map_err(|e| e.to_string())?;
        let driver = rt.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "source connection ended");
            }
        });
        Ok(Conn {
            rt,
            client: Some(client),
            driver: Some(driver),
        })
    }

    pub(crate) fn client(&self) -> &tokio_postgres::Client {
        self.client.as_ref().expect("the client lives until drop")
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

/// Whether a PostgreSQL error may be retried: serialization failure, deadlock, lock not
/// available, the backend terminated (`pg_terminate_backend`, shutdown), connection errors
/// (class 08), or a connection that is gone.
pub fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            matches!(c, "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03")
                || c.starts_with("08")
        }
        // No SQLSTATE: an I/O error on the socket.
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// A PostgreSQL error with context, transient where [`is_transient`] says so.
pub fn db_err(context: impl std::fmt::Display) -> impl FnOnce(postgres::Error) -> Error {
    let context = context.to_string();
    move |e| {
        let transient = is_transient(&e);
        Error::database(context, transient, e)
    }
}

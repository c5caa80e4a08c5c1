//! The run log's own MySQL / MariaDB connection, into the staging database with the
//! loader's session settings (UTC, utf8mb4, strict).

use mysql::prelude::Queryable;
use mysql::{Conn, Row, Value};

use super::Store;
use crate::config::Endpoint;
use crate::db::mysql::{connect, db_err};
use crate::error::Result;
use crate::load::mysql::{staging_database, SESSION_INIT};

pub(super) struct MysqlStore {
    conn: Conn,
}

impl MysqlStore {
    pub(super) fn open(endpoint: &Endpoint) -> Result<Self> {
        let database = staging_database(endpoint)?;
        let conn = connect(endpoint, "destination", Some(&database), SESSION_INIT)?;
        Ok(MysqlStore { conn })
    }
}

impl Store for MysqlStore {
    fn execute(&mut self, statements: &[String]) -> Result<()> {
        let mut run = || -> std::result::Result<(), mysql::Error> {
            self.conn.query_drop("START TRANSACTION")?;
            for sql in statements {
                self.conn.query_drop(sql)?;
            }
            self.conn.query_drop("COMMIT")
        };
        run().map_err(|e| {
            let _ = self.conn.query_drop("ROLLBACK");
            db_err("run log: writing")(e)
        })
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let rows: Vec<Row> = self.conn.query(sql).map_err(db_err("run log: reading"))?;
        Ok(rows
            .into_iter()
            .map(|r| r.unwrap().into_iter().map(text).collect())
            .collect())
    }
}

/// A value of the text protocol as text.
fn text(v: Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

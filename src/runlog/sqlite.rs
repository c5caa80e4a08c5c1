//! The run log's own SQLite connection to the staging file. SQLite has one writer per
//! file: while a load holds it (a whole table), the run log's writes wait (`busy`).

use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::Store;
use crate::config::Endpoint;
use crate::error::{Error, Result};

pub(super) struct SqliteStore {
    conn: Connection,
}

fn db_err(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        Error::database(context, busy, e)
    }
}

impl SqliteStore {
    /// Opens the staging file; `create`: also when it does not exist yet (else that is a
    /// connection error: `stage status` does not create files).
    pub(super) fn open(endpoint: &Endpoint, busy: Duration, create: bool) -> Result<Self> {
        let path = endpoint.database.clone().unwrap_or_default();
        let connect_err = |message: String| Error::Connect {
            side: "destination",
            target: endpoint.describe(),
            message,
        };
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|e| connect_err(e.to_string()))?;
        conn.busy_timeout(busy)
            .map_err(|e| connect_err(e.to_string()))?;
        if create {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| connect_err(e.to_string()))?;
        }
        Ok(SqliteStore { conn })
    }
}

impl Store for SqliteStore {
    fn execute(&mut self, statements: &[String]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err("run log: starting a transaction"))?;
        for sql in statements {
            tx.execute_batch(sql).map_err(db_err("run log: writing"))?;
        }
        tx.commit().map_err(db_err("run log: committing"))
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let mut stmt = self.conn.prepare(sql).map_err(db_err("run log: reading"))?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            ValueRef::Null => None,
                            ValueRef::Integer(v) => Some(v.to_string()),
                            ValueRef::Real(v) => Some(v.to_string()),
                            ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                            ValueRef::Blob(b) => Some(hex::encode(b)),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(db_err("run log: reading"))?;
        Ok(rows)
    }
}

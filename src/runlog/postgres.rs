//! The run log's own PostgreSQL connection (the blocking client, as the loader's).

use postgres::{Client, SimpleQueryMessage};

use super::Store;
use crate::config::Endpoint;
use crate::db::postgres::{connect_as, db_err};
use crate::error::{Error, Result};

pub(super) struct PgStore {
    client: Client,
}

impl PgStore {
    pub(super) fn open(endpoint: &Endpoint) -> Result<Self> {
        let db = endpoint
            .database
            .clone()
            .unwrap_or_else(|| "postgres".into());
        let client = connect_as(endpoint, &db, "stage run log").map_err(|e| Error::Connect {
            side: "destination",
            target: endpoint.describe(),
            message: crate::error::server_words(&e),
        })?;
        Ok(PgStore { client })
    }
}

impl Store for PgStore {
    fn execute(&mut self, statements: &[String]) -> Result<()> {
        let mut tx = self
            .client
            .transaction()
            .map_err(db_err("run log: starting a transaction"))?;
        for sql in statements {
            tx.batch_execute(sql).map_err(db_err("run log: writing"))?;
        }
        tx.commit().map_err(db_err("run log: committing"))
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let messages = self
            .client
            .simple_query(sql)
            .map_err(db_err("run log: reading"))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect())
    }
}

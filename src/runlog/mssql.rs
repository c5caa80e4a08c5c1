//! The run log's own SQL Server connection (tiberius on a runtime of its own, as the
//! loader's). Each write is one batch: `SET XACT_ABORT ON; BEGIN TRANSACTION; …; COMMIT`.

use super::Store;
use crate::config::Endpoint;
use crate::db::mssql::{self as db, cell, db_err, Client};
use crate::error::Result;

pub(super) struct MssqlStore {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl MssqlStore {
    pub(super) fn open(endpoint: &Endpoint) -> Result<Self> {
        let (rt, _spec, client) = db::open(endpoint, "destination", None)?;
        Ok(MssqlStore { rt, client })
    }
}

/// The statements as one transaction in one batch.
pub(super) fn transaction_sql(statements: &[String]) -> String {
    format!(
        "SET XACT_ABORT ON; BEGIN TRANSACTION; {}; COMMIT TRANSACTION;",
        statements.join(";\n")
    )
}

impl Store for MssqlStore {
    fn execute(&mut self, statements: &[String]) -> Result<()> {
        let sql = transaction_sql(statements);
        let client = &mut self.client;
        self.rt
            .block_on(async { client.simple_query(sql).await?.into_results().await })
            .map(|_| ())
            .map_err(db_err("run log: writing"))
    }

    /// Every selected value is cast to `NVARCHAR` by the run log's SQL.
    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let client = &mut self.client;
        let rows = self
            .rt
            .block_on(async { client.simple_query(sql).await?.into_first_result().await })
            .map_err(db_err("run log: reading"))?;
        Ok(rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| cell::<&str>(r, i).map(str::to_string))
                    .collect()
            })
            .collect())
    }
}

//! Sources: a database's catalog fixes each table's Arrow schema before the first row,
//! then the rows are pushed to a sink one RecordBatch (at most `chunk_rows` rows) at a time.
//!
//! Push rather than pull keeps every driver simple (a statement borrowing its connection
//! needs no self-referential reader) and keeps memory bounded: the reader holds one
//! batch under construction, the sink decides what to do with a finished one.

pub(crate) mod columns;
#[cfg(feature = "connectorx")]
pub mod connectorx;
pub mod mssql;
pub mod mysql;
#[cfg(feature = "oracle")]
pub mod oracle;
pub mod postgres;
pub mod relay;
pub mod sqlite;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::config::{Config, Driver, Endpoint, TransferMode, ZeroDates};
use crate::error::{Error, Result};

/// A table as named in `SRC_TABLES`, optionally qualified by `SRC_SCHEMA` or `schema.table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    /// As written in `SRC_TABLES` (without the schema part).
    pub name: String,
    pub schema: Option<String>,
}

impl TableRef {
    pub fn new(listed: &str, default_schema: Option<&str>) -> Self {
        match listed.rsplit_once('.') {
            Some((schema, name)) if !schema.is_empty() && !name.is_empty() => TableRef {
                name: name.to_string(),
                schema: Some(schema.to_string()),
            },
            _ => TableRef {
                name: listed.to_string(),
                schema: default_schema.map(str::to_string),
            },
        }
    }

    /// The staging table's name: the source name without schema, lowercased.
    pub fn staging_name(&self) -> String {
        self.name.to_lowercase()
    }

    /// `schema.name` or `name`, for messages.
    pub fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One source column and the Arrow type chosen for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    /// As the source spells it (case and spaces kept).
    pub name: String,
    /// The type as the source's catalog declares it, e.g. `NUMBER(12,2)`.
    pub source_type: String,
    pub arrow_type: DataType,
    pub nullable: bool,
    /// Set when the mapping is a documented fallback that `stage plan` must show.
    pub note: Option<String>,
}

/// A table's catalog description: the contract every part of the run follows.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub table: TableRef,
    pub columns: Vec<ColumnInfo>,
    /// `[table:NAME] WHERE`: only the rows it keeps are counted and read.
    pub filter: Option<String>,
}

impl TableInfo {
    /// The `FROM` target of this table's reads: the table, filtered when a filter is set.
    pub fn from_clause(&self, qualified: String) -> String {
        crate::dialect::filtered(qualified, self.filter.as_deref())
    }
}

impl TableInfo {
    /// The Arrow schema, with source column names and each column's source type in the
    /// field metadata. One schema per table per run.
    pub fn schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| {
                Field::new(&c.name, c.arrow_type.clone(), c.nullable).with_metadata(HashMap::from(
                    [(
                        crate::types::SOURCE_TYPE_KEY.to_string(),
                        c.source_type.clone(),
                    )],
                ))
            })
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// Fails when two columns collide once lowercased (staging columns are lowercase).
    pub fn check_staging_names(&self) -> Result<()> {
        for (i, c) in self.columns.iter().enumerate() {
            let lower = c.name.to_lowercase();
            if let Some(other) = self.columns[..i]
                .iter()
                .find(|o| o.name.to_lowercase() == lower)
            {
                return Err(Error::column(
                    &self.table.display(),
                    &c.name,
                    format!(
                        "collides with column \"{}\" once lowercased for staging; rename one of them in the source (a view) to stage this table",
                        other.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Rows per batch (upper bound).
    pub chunk_rows: usize,
    /// Bytes per batch (upper bound, `SRC_CHUNK_BYTES`): a batch ends at whichever of
    /// `chunk_rows` and `chunk_bytes` it reaches first; one value larger than this is
    /// still read whole, in a batch of its own row.
    pub chunk_bytes: usize,
    /// `None` = all rows.
    pub row_limit: Option<u64>,
    /// MySQL/MariaDB: what a zero date (`0000-00-00`) becomes.
    pub zero_dates: ZeroDates,
    /// PostgreSQL: connections that read one table together (`READ_CONNECTIONS`).
    pub connections: usize,
    /// CONNECTORX: `PARTITION_COLUMN` (else the rules of `connectorx::partition`).
    pub partition_column: Option<String>,
    /// CONNECTORX: `PARTITION_NUM`.
    pub partition_num: usize,
}

/// Receives each finished batch; an error stops the read.
pub type BatchSink<'a> = dyn FnMut(RecordBatch) -> Result<()> + 'a;

/// A connection to a source database.
pub trait Source: Send {
    /// The server's version string, for `stage check`.
    fn server_version(&mut self) -> Result<String>;

    /// One cheap round trip: fails when the connection is broken. A run checks its source
    /// before each table but the first and reopens it when this fails.
    fn ping(&mut self) -> Result<()> {
        self.server_version().map(drop)
    }

    /// The table's columns from the catalog; `Error::TableNotFound` when it does not exist.
    fn describe(&mut self, table: &TableRef) -> Result<TableInfo>;

    /// `SELECT count(*)`, for progress and `stage plan`.
    fn count_rows(&mut self, table: &TableInfo) -> Result<u64>;

    /// The catalog's estimate of the table's rows (no scan), to start the largest tables
    /// first when several run at once; `None` when the database keeps none.
    fn estimate_rows(&mut self, _table: &TableRef) -> Option<u64> {
        None
    }

    /// The primary key's columns in key order (empty when there is none or it is unknown);
    /// CONNECTORX mode partitions on a single-column integer key by default.
    fn primary_key(&mut self, _table: &TableInfo) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// The smallest and largest value of integer column `column` among the rows the table's
    /// reads take (its filter applied), `None` when no row has one; splits a big table
    /// into key ranges for `stage plan --shards`.
    fn key_bounds(&mut self, table: &TableInfo, column: &str) -> Result<Option<(i64, i64)>> {
        let _ = column;
        Err(Error::Check(format!(
            "table {}: this source cannot split a table into key ranges",
            table.table.display()
        )))
    }

    /// Begins (`true`) or ends (`false`) a read-only transaction on this connection whose
    /// one snapshot every statement after it sees: an incremental read fixes its window
    /// and reads its rows inside it (PostgreSQL `REPEATABLE READ`, MySQL/MariaDB
    /// `WITH CONSISTENT SNAPSHOT`, SQLite one read transaction). Ending one that was never
    /// begun does nothing.
    fn snapshot(&mut self, _begin: bool) -> Result<()> {
        Err(Error::config(
            "SYNC_MODE = incremental reads from PostgreSQL, MySQL/MariaDB and SQLite sources (SQL Server and Oracle sources: use SYNC_MODE = full)",
        ))
    }

    /// `SELECT exprs FROM <the table, filtered> [WHERE cond]`: the one row, each
    /// expression already text (see [`crate::incremental`]).
    fn select_text(
        &mut self,
        _table: &TableInfo,
        _exprs: &[String],
        _cond: Option<&str>,
    ) -> Result<Vec<Option<String>>> {
        Err(Error::config(
            "SYNC_MODE = incremental reads from PostgreSQL, MySQL/MariaDB and SQLite sources",
        ))
    }

    /// Reads the table in batches of `opts.chunk_rows` rows shaped exactly as
    /// `table.schema()`, pushing each to `sink`. Returns the rows read.
    fn read(
        &mut self,
        table: &TableInfo,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64>;
}

/// `SELECT exprs FROM from [WHERE cond]`.
pub(crate) fn select_sql(exprs: &[String], from: &str, cond: Option<&str>) -> String {
    match cond {
        Some(c) => format!("SELECT {} FROM {from} WHERE {c}", exprs.join(", ")),
        None => format!("SELECT {} FROM {from}", exprs.join(", ")),
    }
}

/// Connects to the configured source.
pub fn open(endpoint: &Endpoint) -> Result<Box<dyn Source>> {
    match endpoint.driver {
        Driver::Sqlite => Ok(Box::new(sqlite::SqliteSource::open(endpoint)?)),
        Driver::Postgres => Ok(Box::new(postgres::PgSource::open(endpoint)?)),
        Driver::Mysql | Driver::Mariadb => Ok(Box::new(mysql::MysqlSource::open(endpoint)?)),
        Driver::Mssql => Ok(Box::new(mssql::MssqlSource::open(endpoint)?)),
        #[cfg(feature = "oracle")]
        Driver::Oracle => Ok(Box::new(oracle::OracleSource::open(endpoint)?)),
        #[cfg(not(feature = "oracle"))]
        Driver::Oracle => Err(Error::config(format!(
            "{} = \"oracle\": this build of stage has no Oracle support; build it with `cargo build --release --features oracle` (and install Oracle Instant Client Basic where it runs)",
            endpoint.key("DRIVER")
        ))),
    }
}

/// Connects to the source a run reads from: the database's own source, or in CONNECTORX
/// mode ConnectorX over that source's catalog.
pub fn open_for_run(cfg: &Config) -> Result<Box<dyn Source>> {
    check_mode(cfg.settings.mode)?;
    let catalog = open(&cfg.source)?;
    #[cfg(feature = "connectorx")]
    if cfg.settings.mode == TransferMode::Connectorx {
        connectorx::check(&cfg.source)?;
        return Ok(Box::new(connectorx::CxSource::new(catalog, &cfg.source)));
    }
    Ok(catalog)
}

/// Fails when this build cannot read in `mode`: CONNECTORX without the cargo feature.
pub fn check_mode(mode: TransferMode) -> Result<()> {
    if mode == TransferMode::Connectorx && !cfg!(feature = "connectorx") {
        return Err(Error::config(
            "[settings] TRANSFER_MODE = CONNECTORX is not available in this build of stage (built without the cargo feature `connectorx`); use DIRECT or DUMP, or rebuild with --features connectorx",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_ref_splits_schema_and_lowercases_staging_name() {
        let t = TableRef::new("HR.Employees", Some("APP"));
        assert_eq!(t.schema.as_deref(), Some("HR"));
        assert_eq!(t.staging_name(), "employees");
        let t = TableRef::new("Orders", Some("APP"));
        assert_eq!(t.display(), "APP.Orders");
    }
}

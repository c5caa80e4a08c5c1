//! Loaders: a destination creates a staging table from an Arrow schema and takes
//! RecordBatches. The staging table is either the old one or the new one, never half:
//! `replace` builds a shadow table and swaps it in one transaction; `truncate` and
//! `append` load inside one transaction where the database allows it.

pub mod mssql;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::config::{Driver, Endpoint, WriteMode};
use crate::error::{Error, Result};

/// Where and how one table is loaded.
#[derive(Debug, Clone)]
pub struct LoadTarget {
    /// Staging schema (`DST_SCHEMA`); `None` where the destination has no schemas.
    pub schema: Option<String>,
    /// Lowercase staging table name.
    pub table: String,
    pub write_mode: WriteMode,
}

impl LoadTarget {
    pub fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.table),
            None => self.table.clone(),
        }
    }
}

/// What a finished load reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub rows: u64,
    /// Per column, how many text values had NUL characters stripped (PostgreSQL).
    pub nul_stripped: Vec<(String, u64)>,
}

/// A connection to the staging database.
pub trait Destination: Send {
    fn server_version(&mut self) -> Result<String>;

    /// Starts loading one table whose batches will have `schema` (lowercase names).
    fn begin<'a>(
        &'a mut self,
        target: &LoadTarget,
        schema: &SchemaRef,
    ) -> Result<Box<dyn TableLoad + 'a>>;

    /// Rows in the staging table, `None` when it does not exist.
    fn count_rows(&mut self, target: &LoadTarget) -> Result<Option<u64>>;
}

/// One table being loaded. Dropping it without `commit` abandons the load and leaves
/// the old staging table as it was.
pub trait TableLoad {
    /// Writes a whole batch or nothing. After an error with `is_transient()`, the same
    /// batch may be written again (DIRECT mode retries).
    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()>;

    /// Checks the rows loaded against `rows_read` and makes the new table visible.
    fn commit(self: Box<Self>, rows_read: u64) -> Result<LoadReport>;
}

/// Connects to the configured destination.
pub fn open(endpoint: &Endpoint) -> Result<Box<dyn Destination>> {
    match endpoint.driver {
        Driver::Sqlite => Ok(Box::new(sqlite::SqliteDestination::open(endpoint)?)),
        Driver::Postgres => Ok(Box::new(postgres::PgDestination::open(endpoint)?)),
        Driver::Mysql | Driver::Mariadb => Ok(Box::new(mysql::MysqlDestination::open(endpoint)?)),
        Driver::Mssql => Ok(Box::new(mssql::MssqlDestination::open(endpoint)?)),
        Driver::Oracle => Err(Error::config(format!(
            "{} = \"oracle\" is invalid: Oracle is a source only; stage loads into postgres, mssql, mysql, mariadb or sqlite",
            endpoint.key("DRIVER")
        ))),
    }
}

/// The column type a destination creates for an Arrow type (for `stage plan` and DDL).
pub fn ddl_type(driver: Driver, dt: &DataType) -> Result<String, String> {
    match driver {
        Driver::Sqlite => crate::types::sqlite::ddl_type(dt),
        Driver::Postgres => crate::types::postgres::ddl_type(dt),
        Driver::Mysql | Driver::Mariadb => crate::types::mysql::ddl_type(dt),
        Driver::Mssql => crate::types::mssql::ddl_type(dt),
        Driver::Oracle => Err("Oracle is a source only, not a staging destination".into()),
    }
}

/// The column type a destination creates for a field: like [`ddl_type`], but a destination
/// may honour the field's metadata (PostgreSQL recreates `jsonb`, `uuid`, … from the source type).
pub fn field_ddl_type(driver: Driver, field: &Field) -> Result<String, String> {
    match driver {
        Driver::Postgres => crate::types::postgres::field_ddl_type(field),
        other => ddl_type(other, field.data_type()),
    }
}

/// The staging schema: the same fields with lowercase names (metadata kept).
pub fn staging_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_name(f.name().to_lowercase()))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Relabels a batch with the staging schema (no data is copied).
pub fn to_staging(batch: &RecordBatch, staging: &SchemaRef) -> Result<RecordBatch> {
    RecordBatch::try_new(staging.clone(), batch.columns().to_vec())
        .map_err(|e| Error::Check(format!("relabelling a batch for staging: {e}")))
}

/// The staging column names for `schema`, after checking that an existing table that
/// `truncate` or `append` would keep has exactly these columns.
pub fn check_kept_columns(
    target: &LoadTarget,
    existing: &[String],
    schema: &SchemaRef,
) -> Result<Vec<String>> {
    let wanted: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    if target.write_mode != WriteMode::Replace && !existing.is_empty() && existing != wanted {
        return Err(Error::Check(format!(
            "staging table {} has columns ({}) but the source now has ({}); with WRITE_MODE={} the table is kept as it is — use WRITE_MODE=replace to rebuild it",
            target.display(),
            existing.join(", "),
            wanted.join(", "),
            target.write_mode.name()
        )));
    }
    Ok(wanted)
}

/// Name of the shadow table that `replace` loads before the swap.
pub fn shadow_name(table: &str) -> String {
    format!("{table}__stage_new")
}

/// Name the old table briefly takes during a swap, where the database needs one.
pub fn retired_name(table: &str) -> String {
    format!("{table}__stage_old")
}

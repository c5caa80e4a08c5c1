//! The T-SQL the SQL Server loader sends: creating the database, schema and table,
//! swapping in the shadow table, dropping helper tables, the staging table's lock.

use arrow::datatypes::SchemaRef;

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::load::{helper_prefix, like_prefix, RunLogRows};
use crate::types::mssql as ty;

const D: Dialect = Dialect::Mssql;

/// `IF DB_ID(N'x') IS NULL CREATE DATABASE [x]`.
pub(crate) fn create_database_sql(db: &str) -> String {
    format!(
        "IF DB_ID({}) IS NULL CREATE DATABASE {}",
        D.quote_literal(db),
        D.quote(db)
    )
}

/// `CREATE SCHEMA` must be alone in its batch, hence `EXEC`.
pub(crate) fn create_schema_sql(schema: &str) -> String {
    format!(
        "IF SCHEMA_ID({}) IS NULL EXEC({})",
        D.quote_literal(schema),
        D.quote_literal(&format!("CREATE SCHEMA {}", D.quote(schema)))
    )
}

/// `CREATE TABLE [schema].[table] (...)` from a staging schema.
pub(crate) fn create_table_sql(schema: &str, table: &str, arrow: &SchemaRef) -> Result<String> {
    let mut cols = Vec::new();
    for f in arrow.fields() {
        let t = ty::ddl_type(f.data_type()).map_err(|m| Error::column(table, f.name(), m))?;
        let null = if f.is_nullable() { "NULL" } else { "NOT NULL" };
        cols.push(format!("{} {t} {null}", D.quote(f.name())));
    }
    Ok(format!(
        "CREATE TABLE {} ({})",
        D.qualify(Some(schema), table),
        cols.join(", ")
    ))
}

/// Drops the old table and renames the shadow in one transaction.
pub(crate) fn swap_sql(schema: &str, table: &str, shadow: &str) -> String {
    format!(
        "{} COMMIT TRANSACTION;",
        swap_open_sql(schema, table, shadow)
    )
}

/// [`swap_sql`] without its `COMMIT`: the transaction is left open.
pub(crate) fn swap_open_sql(schema: &str, table: &str, shadow: &str) -> String {
    let old = D.qualify(Some(schema), table);
    format!(
        "SET XACT_ABORT ON; BEGIN TRANSACTION; \
         IF OBJECT_ID({old_lit}, N'U') IS NOT NULL DROP TABLE {old}; \
         EXEC sp_rename {shadow_lit}, {new_lit}, N'OBJECT';",
        old_lit = D.quote_literal(&old),
        shadow_lit = D.quote_literal(&D.qualify(Some(schema), shadow)),
        // sp_rename takes the new name as it is: no brackets.
        new_lit = D.quote_literal(table),
    )
}

/// Runs the run log's rows inside the open transaction, then commits it, and returns one
/// row: NULL, or the error that made the rows roll back to their savepoint (the
/// transaction still commits). The rows run through `EXEC` so that even a missing table
/// (a name resolution error) is caught by the `CATCH` one level up; `XACT_ABORT` is off
/// around them so their error does not doom the load's transaction.
pub(crate) fn log_rows_commit_sql(rows: &RunLogRows) -> String {
    format!(
        "DECLARE @stage_run_log NVARCHAR(4000) = NULL; SET XACT_ABORT OFF; \
         SAVE TRANSACTION stage_run_log; \
         BEGIN TRY EXEC({}); END TRY \
         BEGIN CATCH SET @stage_run_log = ERROR_MESSAGE(); \
         IF XACT_STATE() = 1 ROLLBACK TRANSACTION stage_run_log; END CATCH; \
         SET XACT_ABORT ON; COMMIT TRANSACTION; SELECT @stage_run_log;",
        D.quote_literal(&rows.batch())
    )
}

/// `IF OBJECT_ID(...) IS NOT NULL DROP TABLE ...`.
pub(crate) fn drop_if_exists_sql(schema: &str, table: &str) -> String {
    let q = D.qualify(Some(schema), table);
    format!(
        "IF OBJECT_ID({}, N'U') IS NOT NULL DROP TABLE {q}",
        D.quote_literal(&q)
    )
}

/// SQL Server's longest identifier (`sysname`: 128 characters; counted in bytes here).
pub(crate) const IDENTIFIER_BYTES: usize = 128;

/// Takes an exclusive session-owned application lock, waiting up to `wait_ms`; returns
/// `sp_getapplock`'s result (≥ 0 granted, -1 timed out, below that an error).
pub(crate) fn applock_sql(resource: &str, wait_ms: u128) -> String {
    format!(
        "DECLARE @r int; EXEC @r = sp_getapplock @Resource = {}, @LockMode = 'Exclusive', \
         @LockOwner = 'Session', @LockTimeout = {wait_ms}; SELECT CAST(@r AS BIGINT)",
        D.quote_literal(resource)
    )
}

/// The tables of `schema` that may be helper tables of `table` (see `load::stale_helpers`).
pub(crate) fn stale_helpers_sql(schema: &str, table: &str) -> String {
    format!(
        "SELECT name FROM sys.tables WHERE schema_id = SCHEMA_ID({}) AND name LIKE {} ESCAPE '\\'",
        D.quote_literal(schema),
        D.quote_literal(&like_prefix(&helper_prefix(table, IDENTIFIER_BYTES)))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn ddl_and_swap_sql() {
        assert_eq!(
            create_database_sql("Stage]DB"),
            "IF DB_ID(N'Stage]DB') IS NULL CREATE DATABASE [Stage]]DB]"
        );
        assert_eq!(
            create_schema_sql("it's"),
            "IF SCHEMA_ID(N'it''s') IS NULL EXEC(N'CREATE SCHEMA [it''s]')"
        );
        assert_eq!(
            swap_sql("staging", "orders", "orders__stage_new"),
            "SET XACT_ABORT ON; BEGIN TRANSACTION; IF OBJECT_ID(N'[staging].[orders]', N'U') IS NOT NULL DROP TABLE [staging].[orders]; EXEC sp_rename N'[staging].[orders__stage_new]', N'orders', N'OBJECT'; COMMIT TRANSACTION;"
        );
        assert_eq!(
            log_rows_commit_sql(&RunLogRows {
                statements: vec!["INSERT INTO [s].[etl_logs] ([status]) VALUES (N'ok')".into()]
            }),
            "DECLARE @stage_run_log NVARCHAR(4000) = NULL; SET XACT_ABORT OFF; SAVE TRANSACTION stage_run_log; BEGIN TRY EXEC(N'INSERT INTO [s].[etl_logs] ([status]) VALUES (N''ok'')'); END TRY BEGIN CATCH SET @stage_run_log = ERROR_MESSAGE(); IF XACT_STATE() = 1 ROLLBACK TRANSACTION stage_run_log; END CATCH; SET XACT_ABORT ON; COMMIT TRANSACTION; SELECT @stage_run_log;"
        );
        assert_eq!(
            drop_if_exists_sql("staging", "a]b"),
            "IF OBJECT_ID(N'[staging].[a]]b]', N'U') IS NOT NULL DROP TABLE [staging].[a]]b]"
        );
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        assert_eq!(
            create_table_sql("staging", "t", &schema).unwrap(),
            "CREATE TABLE [staging].[t] ([id] BIGINT NOT NULL, [name] NVARCHAR(MAX) NULL)"
        );
        let bad = Arc::new(Schema::new(vec![Field::new(
            "x",
            DataType::Decimal256(60, 2),
            true,
        )]));
        assert_eq!(
            create_table_sql("staging", "t", &bad)
                .unwrap_err()
                .to_string(),
            "table t, column x: SQL Server staging has no column type for Arrow Decimal256(60, 2)"
        );
    }
}

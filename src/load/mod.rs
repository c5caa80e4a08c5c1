//! Loaders: a destination creates a staging table from an Arrow schema and takes
//! RecordBatches. The staging table is either the old one or the new one, never half:
//! `replace` builds a shadow table and swaps it in one transaction; `truncate` and
//! `append` load inside one transaction where the database allows it.

pub(crate) mod columns;
pub mod drift;
pub mod merge;
pub mod mssql;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

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
    /// Eight hex digits unique to the run ([`run_tag`]): the run's helper tables carry it.
    pub run_tag: String,
    /// How long to wait for another run's lock on the staging table (`LOCK_WAIT_SECONDS`).
    pub lock_wait: Duration,
    /// The key and tie-break of a merge load ([`merge`]); with `replace`, the new table
    /// gets the key as its primary key, so that later merges find it.
    pub merge: Option<merge::MergeSpec>,
    /// `SCHEMA_CHANGE` of an `append` load ([`drift::appended`]).
    pub schema_change: crate::config::sync::SchemaChange,
}

impl LoadTarget {
    pub fn new(
        schema: Option<String>,
        table: String,
        write_mode: WriteMode,
        run_id: &str,
        lock_wait: Duration,
    ) -> Self {
        LoadTarget {
            schema,
            table,
            write_mode,
            run_tag: run_tag(run_id),
            lock_wait,
            merge: None,
            schema_change: Default::default(),
        }
    }

    /// With a merge key (see [`LoadTarget::merge`]).
    pub fn with_merge(mut self, merge: Option<merge::MergeSpec>) -> Self {
        self.merge = merge;
        self
    }

    /// The shadow table `replace` loads before the swap: unique to this run and table,
    /// within the destination's identifier limit of `max_bytes`, never the table's own name.
    pub fn shadow(&self, max_bytes: usize) -> String {
        helper_name(&self.table, "new", &self.run_tag, max_bytes)
    }

    /// The name the old table briefly takes during a swap, where the database needs one.
    pub fn retired(&self, max_bytes: usize) -> String {
        helper_name(&self.table, "old", &self.run_tag, max_bytes)
    }

    /// The name under which runs of this staging table exclude each other
    /// (`stage:<schema.table>`, hashed when longer than `max_bytes`).
    pub fn lock_name(&self, max_bytes: usize) -> String {
        let name = format!("stage:{}", self.display());
        if name.len() <= max_bytes {
            name
        } else {
            format!("stage:{}", &sha256_hex(name.as_bytes())[..32])
        }
    }

    /// A 64-bit lock key for databases that lock numbers (PostgreSQL advisory locks).
    pub fn lock_key(&self) -> i64 {
        let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("stage:{}", self.display()));
        i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
    }

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
    /// Changes a merge made to the staging table's columns ([`drift`]).
    pub schema_changes: Vec<String>,
}

/// Statements a table's commit runs inside its own transaction, after the swap and before
/// `COMMIT`: the run log's `ok` row in `etl_logs` and the table's `sync_metadata` upsert
/// (built by [`crate::runlog::RunLog::commit_rows`]). A loader runs them as they are, under
/// a savepoint where the database has one: if they fail, they are rolled back, a warning
/// is logged, and the load still commits (the run log never fails a load).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunLogRows {
    pub statements: Vec<String>,
}

impl RunLogRows {
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The statements as one batch (`;`-separated).
    pub fn batch(&self) -> String {
        self.statements.join(";\n")
    }
}

/// A connection to the staging database.
pub trait Destination: Send {
    fn server_version(&mut self) -> Result<String>;

    /// One cheap round trip: fails when the connection is broken. A run checks its
    /// destination before each table but the first and reopens it when this fails.
    fn ping(&mut self) -> Result<()> {
        self.server_version().map(drop)
    }

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

    /// Rows to write inside the commit's transaction, after the swap and before `COMMIT`
    /// (see [`RunLogRows`]); called before [`TableLoad::commit`]. They are not written when
    /// the load is dropped or its commit fails. The default ignores them.
    fn log_on_commit(&mut self, rows: RunLogRows) {
        let _ = rows;
    }
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
    // A merge reconciles the columns itself, an evolving append adds the new ones ([`drift`]).
    // A table sharing no column with the source is another table, not a drifted one.
    let evolving_append = target.write_mode == WriteMode::Append
        && target.schema_change == crate::config::sync::SchemaChange::Evolve
        && existing.iter().any(|e| schema.field_with_name(e).is_ok());
    let kept =
        !matches!(target.write_mode, WriteMode::Replace | WriteMode::Merge) && !evolving_append;
    if kept && !existing.is_empty() && existing != wanted {
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

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data))
}

/// Eight hex digits that name a run in its helper tables.
pub fn run_tag(run_id: &str) -> String {
    sha256_hex(run_id.as_bytes())[..8].to_string()
}

/// `_<role>_<run tag>`: what [`helper_prefix`] is followed by.
const HELPER_TAIL: usize = 1 + 3 + 1 + 8;

/// `<stem>__stage_<h6>_`: the start of every helper table's name for `table`, where `h6`
/// is six hex digits of the table name's SHA-256 and `stem` the name itself, cut (at a
/// character boundary) so that the whole helper name fits in `max_bytes`. Only helper
/// tables of `table` start with it.
pub fn helper_prefix(table: &str, max_bytes: usize) -> String {
    let hash = &sha256_hex(table.as_bytes())[..6];
    let fixed = "__stage_".len() + hash.len() + HELPER_TAIL;
    let mut cut = max_bytes.saturating_sub(fixed).min(table.len());
    while !table.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}__stage_{hash}", &table[..cut])
}

/// A helper table's name: [`helper_prefix`], the role (`new` shadow, `old` retired
/// table) and the run's tag.
pub fn helper_name(table: &str, role: &str, run_tag: &str, max_bytes: usize) -> String {
    format!("{}_{role}_{run_tag}", helper_prefix(table, max_bytes))
}

/// Of the `found` table names, those that are helper tables of `table` left by any run
/// (a killed run's shadow or retired table): what a run holding the table's lock drops.
pub fn stale_helpers(table: &str, max_bytes: usize, found: Vec<String>) -> Vec<String> {
    let prefix = helper_prefix(table, max_bytes);
    found
        .into_iter()
        .filter(|name| {
            name.strip_prefix(&prefix).is_some_and(|rest| {
                rest.len() == HELPER_TAIL
                    && (rest.starts_with("_new_") || rest.starts_with("_old_"))
                    && rest[5..].bytes().all(|b| b.is_ascii_hexdigit())
            })
        })
        .collect()
}

/// A `LIKE` pattern (escape character `\`) matching every name that starts with `prefix`.
pub fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 4);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// After a reconnect, from the shadow's row count (`have`): whether the batch of `n` rows
/// whose acknowledgement was lost landed (`true`: do not send it again) or not (`false`),
/// `written` being the rows loaded before it. Any other count fails the load.
pub fn batch_landed(table: &str, have: u64, written: u64, n: u64) -> Result<bool> {
    if have == written + n {
        tracing::info!(table = %table, "the batch before the lost connection was committed; not loading it again");
        return Ok(true);
    }
    if have != written {
        return Err(Error::Check(format!(
            "staging table {table}: the shadow table holds {have} rows after reconnecting, expected {written}; the load was abandoned and the old table kept"
        )));
    }
    Ok(false)
}

/// Tries `try_lock` until it succeeds or `wait` has passed (at least once).
pub fn acquire_lock(wait: Duration, mut try_lock: impl FnMut() -> Result<bool>) -> Result<bool> {
    let until = std::time::Instant::now() + wait;
    loop {
        if try_lock()? {
            return Ok(true);
        }
        if std::time::Instant::now() >= until {
            return Ok(false);
        }
        crate::interrupt::check()?;
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_names_are_unique_fit_and_never_the_table() {
        let long = "x".repeat(63);
        for table in ["orders", long.as_str(), "ä".repeat(40).as_str()] {
            for limit in [63, 64, 128] {
                let a = helper_name(table, "new", &run_tag("run-a"), limit);
                let b = helper_name(table, "new", &run_tag("run-b"), limit);
                assert_ne!(a, b);
                assert_ne!(a, table);
                assert!(a.len() <= limit, "{a} is {} bytes", a.len());
                assert_eq!(
                    stale_helpers(table, limit, vec![a.clone(), b.clone(), table.to_string()]),
                    vec![a, b]
                );
            }
        }
        assert_eq!(
            helper_name("orders", "old", "0123abcd", 63).len(),
            "orders".len() + 27
        );
        // Two long names with one prefix get different helper prefixes.
        let (p, q) = (format!("{long}_a"), format!("{long}_b"));
        assert_ne!(helper_prefix(&p, 63), helper_prefix(&q, 63));
        assert!(stale_helpers(&p, 63, vec![helper_name(&q, "new", "0123abcd", 63)]).is_empty());
    }

    #[test]
    fn like_prefix_escapes_wildcards() {
        assert_eq!(like_prefix("a_b%c"), "a\\_b\\%c%");
    }
}

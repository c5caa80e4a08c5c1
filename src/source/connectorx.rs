//! CONNECTORX mode's source (`CxSource`): ConnectorX streams the rows, our own catalog fixes the schema.
//!
//! * The table's Arrow schema comes from our `Source::describe`, as in DUMP. ConnectorX's
//!   batches are adapted to it column by column: identical types pass, provably lossless
//!   conversions (wider integers, large → small string offsets, finer → coarser time units
//!   whose values divide exactly) are checked value by value, and a column ConnectorX would
//!   read lossily (a decimal as a float, say) is selected as text instead and parsed with
//!   our exact parsers. Anything else is an error naming the column.
//! * Partitioned reads: `PARTITION_COLUMN` (default: a single-column integer primary key)
//!   split into `PARTITION_NUM` ranges between its minimum and maximum, plus one query for
//!   the rows where it is NULL, so no row is lost. With `ROW_LIMIT` the read is not
//!   partitioned (a limit per partition would not be a limit per table).
//! * Without `PARTITION_NUM`, a single-column integer primary key still cuts the read into
//!   waves of one range query each (below), so memory stays bounded; a table without one,
//!   or a read with `ROW_LIMIT`, is one query whose batches can queue up inside ConnectorX.
//! * Memory: ConnectorX runs every query of one read to completion into an unbounded
//!   channel, however slowly `stage` writes. A partitioned read is therefore cut into
//!   *waves*: key ranges sized to hold about `WAVE_CHUNKS` chunks each (from the column's
//!   non-NULL count), `PARTITION_NUM` ranges per wave, one ConnectorX read per wave. What
//!   can queue up is one wave — partitions × `WAVE_CHUNKS` × chunk rows for keys spread
//!   evenly over their range — never the table.
//! * Bytes: ConnectorX cuts batches by rows only, so the rows per batch (and per wave) are
//!   cut down where a sample of the table says `SRC_CHUNK_SIZE` rows would hold more than
//!   `SRC_CHUNK_BYTES` (`width`).

mod adapt;
mod connection;
mod partition;
mod text_fast;
mod width;

use std::panic::{catch_unwind, AssertUnwindSafe};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use connectorx::prelude::{get_arrow, new_record_batch_iter, CXQuery, SourceConn};

use self::adapt::{adapt, interval_iso, interval_parts, pg_interval, plain_string, text_cast};
pub use self::connection::check;
use self::connection::connection_url;
use self::partition::{partition_column, waves, KeyStats, WAVE_CHUNKS};
use super::{BatchSink, ReadOptions, Source, TableInfo, TableRef};
use crate::config::Endpoint;
use crate::dialect::Dialect;
use crate::error::{Error, Result};

/// The CONNECTORX source: the database's own source answers for the catalog (schema, row
/// count, primary key), ConnectorX reads the rows, partitioned by the rules in `partition`.
pub struct CxSource {
    catalog: Box<dyn Source>,
    endpoint: Endpoint,
    /// The last row count taken, and of which table: ConnectorX cannot type an empty
    /// SQLite result, so a table counted empty is not read at all.
    counted: Option<(TableRef, u64)>,
}

impl CxSource {
    /// ConnectorX over `catalog`, the database's own source for `endpoint`.
    pub fn new(catalog: Box<dyn Source>, endpoint: &Endpoint) -> Self {
        CxSource {
            catalog,
            endpoint: endpoint.clone(),
            counted: None,
        }
    }
}

impl Source for CxSource {
    fn server_version(&mut self) -> Result<String> {
        self.catalog.server_version()
    }

    fn describe(&mut self, table: &TableRef) -> Result<TableInfo> {
        self.catalog.describe(table)
    }

    fn count_rows(&mut self, table: &TableInfo) -> Result<u64> {
        self.counted = None;
        let n = self.catalog.count_rows(table)?;
        self.counted = Some((table.table.clone(), n));
        Ok(n)
    }

    fn primary_key(&mut self, table: &TableInfo) -> Result<Vec<String>> {
        self.catalog.primary_key(table)
    }

    fn estimate_rows(&mut self, table: &TableRef) -> Option<u64> {
        self.catalog.estimate_rows(table)
    }

    fn key_bounds(&mut self, table: &TableInfo, column: &str) -> Result<Option<(i64, i64)>> {
        self.catalog.key_bounds(table, column)
    }

    /// Reads through ConnectorX (partitioned when a partition column applies).
    fn read(
        &mut self,
        info: &TableInfo,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let counted_empty = matches!(&self.counted, Some((table, n))
            if *table == info.table && (*n == 0 || opts.row_limit == Some(0)));
        if counted_empty {
            // ConnectorX cannot type an empty SQLite result; there is nothing to read anyway.
            return Ok(0);
        }
        let column = partition_column(
            opts.partition_column.as_deref(),
            self.catalog.as_mut(),
            info,
        )?;
        let reader = CxReader::new(&self.endpoint)?;
        let partition = column.as_deref().map(|c| (c, opts.partition_num));
        reader.read(info, opts, partition, sink)
    }
}

/// One ConnectorX connection, for the reads of one table.
struct CxReader {
    conn: SourceConn,
    dialect: Dialect,
    /// For scrubbing error texts.
    password: Option<String>,
    target: String,
}

impl CxReader {
    fn new(endpoint: &Endpoint) -> Result<Self> {
        let url = connection_url(endpoint)?;
        let conn = SourceConn::try_from(url.as_str()).map_err(|e| Error::Connect {
            side: "source",
            target: endpoint.describe(),
            message: scrub(&e.to_string(), endpoint),
        })?;
        Ok(CxReader {
            conn,
            dialect: Dialect::of(endpoint.driver),
            password: endpoint.password.as_ref().map(|p| p.expose().to_string()),
            target: endpoint.describe(),
        })
    }

    fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "***"),
            _ => text.to_string(),
        }
    }

    /// Runs a tiny query and collects its result (for MIN/MAX and the schema probe).
    fn collect(&self, sql: &str, table: &str) -> Result<Vec<RecordBatch>> {
        let queries = [CXQuery::naked(sql)];
        let run = || -> std::result::Result<Vec<RecordBatch>, String> {
            let dest = get_arrow(&self.conn, None, &queries, None).map_err(|e| e.to_string())?;
            dest.arrow().map_err(|e| e.to_string())
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(b)) => Ok(b),
            Ok(Err(e)) => Err(self.db_error(table, &e)),
            Err(p) => Err(self.db_error(table, &panic_text(p))),
        }
    }

    fn db_error(&self, table: &str, message: &str) -> Error {
        Error::database(
            format!("table {table}: ConnectorX ({})", self.target),
            false,
            self.scrub(message),
        )
    }

    /// Reads `info` through ConnectorX, pushing batches shaped as `info.schema()`.
    fn read(
        &self,
        info: &TableInfo,
        opts: &ReadOptions,
        partition: Option<(&str, usize)>,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let name = info.table.display();
        if let Some(c) = info
            .columns
            .iter()
            .find(|c| matches!(c.arrow_type, DataType::List(_)))
        {
            return Err(Error::column(
                &name,
                &c.name,
                format!(
                    "CONNECTORX cannot read arrays ({}); stage this table with TRANSFER_MODE = DUMP or DIRECT, or leave the column out with [table:{}] EXCLUDE_COLUMNS",
                    c.source_type, info.table.name
                ),
            ));
        }
        let d = self.dialect;
        let from = info.from_clause(d.qualify(info.table.schema.as_deref(), &info.table.name));
        // Columns ConnectorX would read lossily on a server database (decimals through
        // rust_decimal's 28 digits, text-like types it formats itself) are selected as text.
        let select: Vec<String> = info
            .columns
            .iter()
            .map(|c| {
                let as_text = d != Dialect::Sqlite
                    && match c.arrow_type {
                        DataType::Decimal128(..) | DataType::Decimal256(..) => true,
                        // MySQL TIME spans ±838:59:59, which ConnectorX reads as a time of
                        // day (and panics on); its text is parsed exactly instead.
                        DataType::Duration(_) => true,
                        // Plain strings are read as they are (a cast would strip char(n)'s
                        // padding); other types read as text (json, inet, …) are cast.
                        DataType::Utf8 => !plain_string(&c.source_type),
                        _ => false,
                    };
                if pg_interval(d, &c.source_type) {
                    interval_parts(&c.name)
                } else if as_text {
                    text_cast(d, &c.name)
                } else {
                    d.quote(&c.name)
                }
            })
            .collect();
        let base = format!("SELECT {} FROM {from}", select.join(", "));
        let key = match (partition, opts.row_limit) {
            (Some((col, _)), None) => Some(col),
            _ => None,
        };
        let (chunk_rows, stats) = self.pre_read(info, &from, opts, key)?;
        let waves: Vec<Vec<String>> = match (partition, opts.row_limit) {
            (Some((col, n)), None) => {
                let per_query = (chunk_rows as u64).saturating_mul(WAVE_CHUNKS);
                waves(&base, &d.quote(col), stats, n, per_query)
            }
            (_, Some(limit)) => vec![vec![format!("{base} LIMIT {limit}")]],
            _ => vec![vec![base]],
        };
        tracing::info!(
            table = %name,
            waves = waves.len(),
            queries = waves.iter().map(Vec::len).sum::<usize>(),
            rows_per_batch = chunk_rows,
            "reading through ConnectorX"
        );
        let schema = info.schema();
        let mut total = 0u64;
        let run = || -> Result<u64> {
            for wave in &waves {
                let queries: Vec<CXQuery<String>> =
                    wave.iter().map(|q| CXQuery::naked(q.clone())).collect();
                let mut iter = new_record_batch_iter(&self.conn, None, &queries, chunk_rows, None)
                    .map_err(|e| self.db_error(&name, &e.to_string()))?;
                iter.prepare();
                while let Some(batch) = iter.next_batch() {
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    let mut columns = Vec::with_capacity(batch.num_columns());
                    for (i, c) in info.columns.iter().enumerate() {
                        let col = if pg_interval(d, &c.source_type) {
                            interval_iso(batch.column(i))
                        } else {
                            adapt(batch.column(i), &c.arrow_type)
                        }
                        .map_err(|(row, m)| {
                            Error::value(&name, &c.name, total + row as u64 + 1, m)
                        })?;
                        columns.push(col);
                    }
                    let out = RecordBatch::try_new(schema.clone(), columns)
                        .map_err(|e| Error::Check(format!("table {name}: {e}")))?;
                    total += out.num_rows() as u64;
                    sink(out)?;
                }
            }
            Ok(total)
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(r) => r,
            Err(p) => Err(self.db_error(&name, &panic_text(p))),
        }
    }

    /// What a read needs to know before it starts, in one round trip: the rows per
    /// ConnectorX batch — `SRC_CHUNK_SIZE`, or fewer where a sample of the table says rows
    /// that many would hold more than `SRC_CHUNK_BYTES` (see `width`) — and, for a read
    /// partitioned on `key`, that column's minimum, maximum and count of non-NULL values
    /// (`None` when it has none).
    fn pre_read(
        &self,
        info: &TableInfo,
        from: &str,
        opts: &ReadOptions,
        key: Option<&str>,
    ) -> Result<(usize, Option<KeyStats>)> {
        let stats_sql = key.map(|col| {
            let c = self.dialect.quote(col);
            format!(
                "SELECT MIN({c}) AS k_min, MAX({c}) AS k_max, COUNT({c}) AS k_count FROM {from}"
            )
        });
        let sample_sql = width::sample_sql(self.dialect, info, from);
        let sql = match (&stats_sql, &sample_sql) {
            (Some(k), Some(w)) => format!("SELECT * FROM ({k}) k CROSS JOIN ({w}) w"),
            (Some(q), None) | (None, Some(q)) => q.clone(),
            (None, None) => return Ok((opts.chunk_rows.max(1), None)),
        };
        let batches = self.collect(&sql, &info.table.display())?;
        let row = batches.iter().find(|b| b.num_rows() > 0);
        let stats = match (row, key) {
            (Some(b), Some(_)) => {
                first_i64(b.column(0))
                    .zip(first_i64(b.column(1)))
                    .map(|(min, max)| KeyStats {
                        min,
                        max,
                        count: first_u64(b.column(2)),
                    })
            }
            _ => None,
        };
        let sampled = if key.is_some() { 3 } else { 0 };
        let (rows, bytes) = match (row, &sample_sql) {
            (Some(b), Some(_)) => (
                first_u64(b.column(sampled)),
                first_u64(b.column(sampled + 1)),
            ),
            _ => (0, 0),
        };
        let chunk_rows = width::rows_per_batch(
            opts.chunk_rows,
            opts.chunk_bytes,
            info.columns.len(),
            rows,
            bytes,
        );
        Ok((chunk_rows, stats))
    }
}

/// The first value of an integer column (`None` when NULL or not an integer).
fn first_i64(a: &ArrayRef) -> Option<i64> {
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let a = cast_with_options(a, &DataType::Int64, &strict).ok()?;
    let a = a.as_primitive::<arrow::datatypes::Int64Type>();
    (!a.is_empty() && !a.is_null(0)).then(|| a.value(0))
}

/// The first value of an integer column as a count (0 when NULL, negative or not one).
fn first_u64(a: &ArrayRef) -> u64 {
    first_i64(a).map_or(0, |v| v.max(0) as u64)
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "ConnectorX stopped with an internal error".into()
    }
}

fn scrub(text: &str, endpoint: &Endpoint) -> String {
    match &endpoint.password {
        Some(p) if !p.expose().is_empty() => text.replace(p.expose(), "***"),
        _ => text.to_string(),
    }
}

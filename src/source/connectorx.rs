//! CONNECTORX mode's reader: ConnectorX streams the rows, our own catalog fixes the schema.
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
//! * Memory: ConnectorX runs every query of one read to completion into an unbounded
//!   channel, however slowly `stage` writes. A partitioned read is therefore cut into
//!   *waves*: key ranges sized to hold about `WAVE_CHUNKS` chunks each (from the column's
//!   non-NULL count), `PARTITION_NUM` ranges per wave, one ConnectorX read per wave. What
//!   can queue up is one wave — partitions × `WAVE_CHUNKS` × chunk rows for keys spread
//!   evenly over their range — never the table.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Builder, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use connectorx::prelude::{get_arrow, new_record_batch_iter, CXQuery, SourceConn};

use super::{BatchSink, ReadOptions, TableInfo};
use crate::config::{Driver, Endpoint};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types;

pub struct CxReader {
    conn: SourceConn,
    dialect: Dialect,
    /// For scrubbing error texts.
    password: Option<String>,
    target: String,
}

impl CxReader {
    pub fn new(endpoint: &Endpoint) -> Result<Self> {
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
    pub fn read(
        &self,
        info: &TableInfo,
        opts: &ReadOptions,
        partition: Option<(&str, usize)>,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let name = info.table.display();
        let d = self.dialect;
        let from = d.qualify(info.table.schema.as_deref(), &info.table.name);
        // Columns ConnectorX would read lossily on a server database (decimals through
        // rust_decimal's 28 digits, text-like types it formats itself) are selected as text.
        let select: Vec<String> = info
            .columns
            .iter()
            .map(|c| {
                let as_text = d != Dialect::Sqlite
                    && match c.arrow_type {
                        DataType::Decimal128(..) | DataType::Decimal256(..) => true,
                        // Plain strings are read as they are (a cast would strip char(n)'s
                        // padding); other types read as text (json, inet, …) are cast.
                        DataType::Utf8 => !plain_string(&c.source_type),
                        _ => false,
                    };
                if as_text {
                    text_cast(d, &c.name)
                } else {
                    d.quote(&c.name)
                }
            })
            .collect();
        let base = format!("SELECT {} FROM {from}", select.join(", "));
        let waves: Vec<Vec<String>> = match (partition, opts.row_limit) {
            (Some((col, n)), None) if n > 1 => {
                let stats = self.key_stats(&from, col, &name)?;
                let per_query = (opts.chunk_rows.max(1) as u64).saturating_mul(WAVE_CHUNKS);
                waves(&base, &d.quote(col), stats, n, per_query)
            }
            (_, Some(limit)) => vec![vec![format!("{base} LIMIT {limit}")]],
            _ => vec![vec![base]],
        };
        tracing::info!(
            table = %name,
            waves = waves.len(),
            queries = waves.iter().map(Vec::len).sum::<usize>(),
            "reading through ConnectorX"
        );
        let schema = info.schema();
        let mut total = 0u64;
        let run = || -> Result<u64> {
            for wave in &waves {
                let queries: Vec<CXQuery<String>> =
                    wave.iter().map(|q| CXQuery::naked(q.clone())).collect();
                let mut iter =
                    new_record_batch_iter(&self.conn, None, &queries, opts.chunk_rows, None)
                        .map_err(|e| self.db_error(&name, &e.to_string()))?;
                iter.prepare();
                while let Some(batch) = iter.next_batch() {
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    let mut columns = Vec::with_capacity(batch.num_columns());
                    for (i, c) in info.columns.iter().enumerate() {
                        let col = adapt(batch.column(i), &c.arrow_type).map_err(|(row, m)| {
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

    /// The partition column's minimum, maximum and count of non-NULL values (`None` when
    /// it has no values).
    fn key_stats(&self, from: &str, col: &str, table: &str) -> Result<Option<KeyStats>> {
        let c = self.dialect.quote(col);
        let sql = format!("SELECT MIN({c}), MAX({c}), COUNT({c}) FROM {from}");
        let batches = self.collect(&sql, table)?;
        let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let as_i64 = |a: &ArrayRef| -> Option<i64> {
            let a = cast_with_options(
                a,
                &DataType::Int64,
                &CastOptions {
                    safe: false,
                    ..Default::default()
                },
            )
            .ok()?;
            let a = a.as_primitive::<arrow::datatypes::Int64Type>();
            (!a.is_null(0)).then(|| a.value(0))
        };
        let count = as_i64(b.column(2)).unwrap_or(0).max(0) as u64;
        Ok(as_i64(b.column(0))
            .zip(as_i64(b.column(1)))
            .map(|(min, max)| KeyStats { min, max, count }))
    }
}

/// What a partitioned read knows of its key column.
#[derive(Debug, Clone, Copy)]
struct KeyStats {
    min: i64,
    max: i64,
    count: u64,
}

/// A partition query should hold about this many chunks (see the module comment).
const WAVE_CHUNKS: u64 = 2;

/// The queries of a partitioned read, in waves of `n`: key ranges over `[min, max]` sized
/// for about `per_query` rows each (at least `n` ranges), then one query for the NULLs in
/// the last wave. No row falls between two ranges.
fn waves(
    base: &str,
    col: &str,
    stats: Option<KeyStats>,
    n: usize,
    per_query: u64,
) -> Vec<Vec<String>> {
    let n = n.max(1);
    let ranges = stats.map_or(0, |s| {
        let wanted = s.count.div_ceil(per_query.max(1)).max(1) as usize;
        // A multiple of n, so every wave keeps every partition busy.
        wanted.div_ceil(n) * n
    });
    let mut queries = partition_queries(base, col, stats.map(|s| (s.min, s.max)), ranges);
    let nulls = queries.pop().expect("the NULL query is always last");
    let mut out: Vec<Vec<String>> = queries.chunks(n).map(<[String]>::to_vec).collect();
    match out.last_mut() {
        Some(last) => last.push(nulls),
        None => out.push(vec![nulls]),
    }
    out
}

/// `N` range queries over `[min, max]` plus one for NULLs; no row falls between them.
fn partition_queries(base: &str, col: &str, bounds: Option<(i64, i64)>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some((min, max)), true) = (bounds, n > 0) {
        let span = (max as i128 - min as i128 + 1).max(1);
        let step = (span + n as i128 - 1) / n as i128;
        let mut lo = min as i128;
        while lo <= max as i128 {
            let hi = lo + step;
            if hi > max as i128 {
                out.push(format!("{base} WHERE {col} >= {lo} AND {col} <= {max}"));
            } else {
                out.push(format!("{base} WHERE {col} >= {lo} AND {col} < {hi}"));
            }
            lo = hi;
        }
    }
    out.push(format!("{base} WHERE {col} IS NULL"));
    out
}

/// Character types whose values ConnectorX reads as the same text our readers produce.
fn plain_string(source_type: &str) -> bool {
    let t = source_type.trim().to_ascii_lowercase();
    [
        "char",
        "character",
        "varchar",
        "character varying",
        "text",
        "bpchar",
        "name",
        "tinytext",
        "mediumtext",
        "longtext",
        "nchar",
        "nvarchar",
    ]
    .iter()
    .any(|p| t == *p || t.starts_with(&format!("{p}(")) || t.starts_with(&format!("{p} (")))
}

fn text_cast(d: Dialect, column: &str) -> String {
    let q = d.quote(column);
    match d {
        Dialect::Mysql => format!("CAST({q} AS CHAR) AS {q}"),
        _ => format!("CAST({q} AS TEXT) AS {q}"),
    }
}

/// Converts one ConnectorX column to our type; on failure, the 0-based row and why.
///
/// Identical types pass. Conversions that may lose (narrower integers, coarser time units,
/// Date64 → Date32) are made strictly and proven by converting back to the same values.
/// Text is parsed by our exact parsers; a float bound for a decimal goes through its
/// shortest round-trip text, the same rule as the native SQLite reader (ConnectorX meets a
/// float only where SQLite itself stored a REAL). Anything else is an error.
fn adapt(col: &ArrayRef, ours: &DataType) -> std::result::Result<ArrayRef, (usize, String)> {
    use DataType::*;
    let theirs = col.data_type();
    if theirs == ours {
        return Ok(col.clone());
    }
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let text_like = matches!(theirs, Utf8 | LargeUtf8 | Utf8View);
    match (theirs, ours) {
        (Int8 | Int16 | Int32 | Int64, Boolean) => int_to_bool(col),
        (Float32 | Float64, Decimal128(p, s)) => {
            let f = cast_with_options(col, &Float64, &strict).map_err(|e| (0, e.to_string()))?;
            let f = f.as_primitive::<arrow::datatypes::Float64Type>();
            let text: StringArray = (0..f.len())
                .map(|i| (!f.is_null(i)).then(|| format!("{:?}", f.value(i))))
                .collect();
            parse_text(&text, &Decimal128(*p, *s))
        }
        (Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64, Decimal128(..))
        | (_, Utf8)
            if !text_like =>
        {
            let text = cast_with_options(col, &Utf8, &strict).map_err(|e| (0, e.to_string()))?;
            let text = text.as_any().downcast_ref::<StringArray>().ok_or((0, "not text".to_string()))?;
            parse_text(text, ours)
        }
        _ if text_like => {
            let text = cast_with_options(col, &Utf8, &strict).map_err(|e| (0, e.to_string()))?;
            let text = text.as_any().downcast_ref::<StringArray>().ok_or((0, "not text".to_string()))?;
            parse_text(text, ours)
        }
        (Int8 | Int16 | Int32 | Int64, Int8 | Int16 | Int32 | Int64)
        | (LargeBinary | BinaryView, Binary)
        | (Float32, Float64)
        | (Date64, Date32)
        | (Time32(_) | Time64(_), Time64(_))
        | (Timestamp(..), Timestamp(..))
        | (Date64, Timestamp(..)) => {
            let out = cast_with_options(col, ours, &strict).map_err(|e| (0, e.to_string()))?;
            // Prove the conversion lost nothing: it must convert back to the same values.
            let back = cast_with_options(&out, theirs, &strict).map_err(|e| (0, e.to_string()))?;
            if back.as_ref() != col.as_ref() {
                let row = (0..col.len())
                    .find(|&i| back.slice(i, 1).as_ref() != col.slice(i, 1).as_ref())
                    .unwrap_or(0);
                return Err((row, format!("ConnectorX's {theirs} value does not fit {ours} exactly")));
            }
            Ok(out)
        }
        _ => Err((
            0,
            format!("ConnectorX reads this column as {theirs}, which stage cannot turn into {ours} without loss; use TRANSFER_MODE=DUMP for this table"),
        )),
    }
}

fn int_to_bool(col: &ArrayRef) -> std::result::Result<ArrayRef, (usize, String)> {
    let ints = cast_with_options(
        col,
        &DataType::Int64,
        &CastOptions {
            safe: false,
            ..Default::default()
        },
    )
    .map_err(|e| (0, e.to_string()))?;
    let ints = ints.as_primitive::<arrow::datatypes::Int64Type>();
    let mut b = arrow::array::BooleanBuilder::with_capacity(ints.len());
    for i in 0..ints.len() {
        if ints.is_null(i) {
            b.append_null();
            continue;
        }
        match ints.value(i) {
            0 => b.append_value(false),
            1 => b.append_value(true),
            v => return Err((i, format!("{v} is not a boolean (0 or 1)"))),
        }
    }
    Ok(Arc::new(b.finish()))
}

fn parse_text(
    text: &StringArray,
    ours: &DataType,
) -> std::result::Result<ArrayRef, (usize, String)> {
    let n = text.len();
    let each = |f: &mut dyn FnMut(usize, &str) -> std::result::Result<(), String>| {
        for i in 0..n {
            if !text.is_null(i) {
                f(i, text.value(i)).map_err(|m| (i, m))?;
            }
        }
        Ok::<(), (usize, String)>(())
    };
    Ok(match ours {
        DataType::Utf8 => Arc::new(text.clone()),
        DataType::Decimal128(p, s) => {
            let mut v = vec![None; n];
            each(&mut |i, t| {
                v[i] = Some(types::parse_decimal(t, *p, *s)?);
                Ok(())
            })?;
            let mut b = Decimal128Builder::with_capacity(n);
            b.extend(v);
            Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| (0, e.to_string()))?,
            )
        }
        DataType::Date32 => {
            let mut v = vec![None; n];
            each(&mut |i, t| {
                v[i] = Some(types::parse_date(t)?);
                Ok(())
            })?;
            Arc::new(arrow::array::Date32Array::from(v))
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let mut v = vec![None; n];
            each(&mut |i, t| {
                v[i] = Some(types::parse_time(t)?);
                Ok(())
            })?;
            Arc::new(arrow::array::Time64MicrosecondArray::from(v))
        }
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let mut v = vec![None; n];
            each(&mut |i, t| {
                v[i] = Some(types::parse_timestamp(t, tz.is_some())?);
                Ok(())
            })?;
            Arc::new(arrow::array::TimestampMicrosecondArray::from(v).with_timezone_opt(tz.clone()))
        }
        DataType::FixedSizeBinary(16) => {
            let mut b = arrow::array::FixedSizeBinaryBuilder::with_capacity(n, 16);
            for i in 0..n {
                if text.is_null(i) {
                    b.append_null();
                    continue;
                }
                let hex: String = text.value(i).chars().filter(|c| *c != '-').collect();
                let bytes = hex::decode(&hex)
                    .ok()
                    .filter(|b| b.len() == 16)
                    .ok_or_else(|| (i, format!("\"{}\" is not a UUID", text.value(i))))?;
                b.append_value(bytes).map_err(|e| (i, e.to_string()))?;
            }
            Arc::new(b.finish())
        }
        other => return Err((0, format!("no exact text form for {other}"))),
    })
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

/// The ConnectorX connection URL. It holds the password: never log it.
fn connection_url(ep: &Endpoint) -> Result<String> {
    let enc = |s: &str| {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let creds = match (&ep.username, &ep.password) {
        (Some(u), Some(p)) => format!("{}:{}@", enc(u), enc(p.expose())),
        (Some(u), None) => format!("{}@", enc(u)),
        _ => String::new(),
    };
    let host = ep.host.clone().unwrap_or_else(|| "localhost".into());
    let port = ep.port.or(ep.driver.default_port()).unwrap_or(0);
    let db = enc(ep.database.as_deref().unwrap_or(""));
    Ok(match ep.driver {
        Driver::Postgres => format!("postgresql://{creds}{host}:{port}/{db}?sslmode=disable"),
        Driver::Mysql | Driver::Mariadb => format!("mysql://{creds}{host}:{port}/{db}"),
        Driver::Sqlite => {
            let path = ep.database.clone().unwrap_or_default();
            let abs = std::fs::canonicalize(&path).map_err(|e| Error::Connect {
                side: "source",
                target: ep.describe(),
                message: format!("no SQLite database file at \"{path}\": {e}"),
            })?;
            let encoded: String = abs
                .to_string_lossy()
                .split('/')
                .map(enc)
                .collect::<Vec<_>>()
                .join("/");
            format!("sqlite://{encoded}")
        }
        other => {
            return Err(Error::config(format!(
                "[settings] TRANSFER_MODE = CONNECTORX reads postgres, mysql, mariadb and sqlite; {} = \"{other}\" needs TRANSFER_MODE=DUMP",
                ep.key("DRIVER")
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_the_range_and_nulls() {
        let q = partition_queries("SELECT x FROM t", "\"id\"", Some((1, 10)), 3);
        assert_eq!(
            q,
            [
                "SELECT x FROM t WHERE \"id\" >= 1 AND \"id\" < 5",
                "SELECT x FROM t WHERE \"id\" >= 5 AND \"id\" < 9",
                "SELECT x FROM t WHERE \"id\" >= 9 AND \"id\" <= 10",
                "SELECT x FROM t WHERE \"id\" IS NULL",
            ]
        );
        let q = partition_queries("S", "c", Some((i64::MIN, i64::MAX)), 2);
        assert_eq!(q.len(), 3);
        assert_eq!(partition_queries("S", "c", None, 4), ["S WHERE c IS NULL"]);
    }

    #[test]
    fn a_partitioned_read_comes_in_waves_of_partition_num_ranges() {
        let stats = |count| {
            Some(KeyStats {
                min: 1,
                max: 1_000_000,
                count,
            })
        };
        // 1M keys, 100k rows per query, 2 partitions: 10 ranges in 5 waves of 2, NULLs last.
        let w = waves("S", "k", stats(1_000_000), 2, 100_000);
        assert_eq!(w.len(), 5);
        assert!(w.iter().all(|wave| wave.len() == 2 || wave.len() == 3));
        assert_eq!(w[0][0], "S WHERE k >= 1 AND k < 100001");
        assert_eq!(w[4][1], "S WHERE k >= 900001 AND k <= 1000000");
        assert_eq!(w[4][2], "S WHERE k IS NULL");
        // Small tables: one wave of n ranges; no key values: only the NULL query.
        let w = waves("S", "k", stats(10), 4, 100_000);
        assert_eq!((w.len(), w[0].len()), (1, 5));
        assert_eq!(waves("S", "k", None, 4, 100), [["S WHERE k IS NULL"]]);
        // Ranges never leave a key out: consecutive bounds meet.
        let w = waves("S", "k", stats(999_999), 3, 70_000);
        let flat: Vec<&String> = w.iter().flatten().collect();
        for pair in flat.windows(2) {
            let hi = pair[0].split("k < ").nth(1);
            let lo = pair[1]
                .split("k >= ")
                .nth(1)
                .map(|r| r.split(' ').next().unwrap());
            if let (Some(hi), Some(lo)) = (hi, lo) {
                assert_eq!(hi, lo);
            }
        }
        assert_eq!(flat.len(), 15 + 1);
    }

    #[test]
    fn conversions_are_exact_or_refused() {
        let big: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![
            Some(1),
            None,
            Some(1 << 40),
        ]));
        assert!(adapt(&big, &DataType::Int32).is_err());
        let small: ArrayRef = Arc::new(arrow::array::Int32Array::from(vec![Some(1), None]));
        assert_eq!(
            adapt(&small, &DataType::Int64).unwrap().data_type(),
            &DataType::Int64
        );
        let f: ArrayRef = Arc::new(arrow::array::Float64Array::from(vec![Some(12.3), None]));
        let d = adapt(&f, &DataType::Decimal128(10, 2)).unwrap();
        assert_eq!(
            d.as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(0),
            1230
        );
        assert!(adapt(&f, &DataType::Int64).is_err());
        let t: ArrayRef = Arc::new(StringArray::from(vec![Some("2024-02-29"), None]));
        assert_eq!(
            adapt(&t, &DataType::Date32)
                .unwrap()
                .as_primitive::<arrow::datatypes::Date32Type>()
                .value(0),
            19782
        );
        let bad: ArrayRef = Arc::new(StringArray::from(vec![Some("1.234")]));
        assert_eq!(adapt(&bad, &DataType::Decimal128(5, 2)).unwrap_err().0, 0);
        let ts: ArrayRef = Arc::new(arrow::array::TimestampNanosecondArray::from(vec![Some(
            1_000_000_001,
        )]));
        assert!(adapt(&ts, &DataType::Timestamp(TimeUnit::Microsecond, None)).is_err());
    }
}

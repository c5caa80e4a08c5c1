//! Arrow batches streamed into `LOAD DATA LOCAL INFILE`: each batch is encoded as the
//! statement's default text format (fields ended by a tab, lines by a newline, `\` as the
//! escape, `\N` for NULL) and handed to the driver's local-infile handler, which sends it
//! on the connection: no file is written.
//!
//! - Text and binary are written byte for byte (`CHARACTER SET utf8mb4`, which leaves
//!   `LONGBLOB` bytes as they are), with `\`, tab, newline, carriage return and NUL escaped.
//! - With `LOCAL` the server turns every value it would change (out of range, truncated,
//!   rounded) into a warning instead of an error, whatever `sql_mode` says. A batch with
//!   any warning or note is therefore an error naming the server's words and the table's
//!   row, and is rolled back with its transaction: a value is never silently changed.
//! - A value the encoder cannot write (NaN, sub-microsecond digits, a date outside
//!   0000–9999) fails before the statement is sent, naming table, column and row.

use std::io::Write as _;

use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use chrono::{Datelike, Timelike};
use mysql::prelude::Queryable;
use mysql::{LocalInfileHandler, Row};

use super::insert::{reader, span_text};
use super::MysqlLoad;
use crate::db::mysql::db_err;
use crate::error::{Error, Result};
use crate::load::columns::{utc_datetime, ColumnReader, Values};
use crate::types;

/// Server errors meaning `LOAD DATA LOCAL` is not allowed: MariaDB's and MySQL 5's
/// "The used command is not allowed with this … version" (1148), MySQL 8's "Loading local
/// data is disabled" (3948), and the client-side refusal (2068).
pub(super) const LOCAL_INFILE_REFUSED: [u16; 3] = [1148, 3948, 2068];

/// The statement loading one batch into `table`'s `columns` (already quoted).
pub(super) fn load_sql(table_quoted: &str, columns_quoted: &[String]) -> String {
    format!(
        "LOAD DATA LOCAL INFILE 'stage-batch' INTO TABLE {table_quoted} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        columns_quoted.join(", ")
    )
}

/// Whether a load error says the server (or driver) refuses `LOAD DATA LOCAL`.
pub(super) fn refused(e: &Error) -> bool {
    matches!(e, Error::Database { source, .. }
        if matches!(source.downcast_ref::<mysql::Error>(),
            Some(mysql::Error::MySqlError(m)) if LOCAL_INFILE_REFUSED.contains(&m.code)))
}

impl MysqlLoad<'_> {
    /// Loads every row of `batch` with one `LOAD DATA LOCAL INFILE`; returns the rows the
    /// server reports. Any warning fails the batch (the caller rolls it back).
    pub(super) fn load_data(&mut self, batch: &RecordBatch) -> Result<u64> {
        let data = encode(batch, &self.table, self.rows_written)?;
        let ctx = format!(
            "staging table {}: loading rows (LOAD DATA LOCAL)",
            self.table
        );
        let handler = LocalInfileHandler::new(move |_file_name, stream| {
            // The file name the server asks for is ignored: only this batch is ever sent.
            let (first, rest) = data.split_at(data.len() / 2);
            stream.write_all(first)?;
            crate::interrupt::pause_point("load-data");
            stream.write_all(rest)
        });
        self.dst.conn.set_local_infile_handler(Some(handler));
        let sent = self.dst.conn.query_drop(&self.load_sql);
        self.dst.conn.set_local_infile_handler(None);
        sent.map_err(db_err(&ctx))?;
        let loaded = self.dst.conn.affected_rows();
        if self.dst.conn.warnings() > 0 {
            return Err(self.warnings_error(&ctx));
        }
        Ok(loaded)
    }

    /// The error for a batch the server loaded with warnings: its first warnings, with the
    /// batch's row numbers turned into the table's.
    fn warnings_error(&mut self, ctx: &str) -> Error {
        let shown: Vec<Row> = self
            .dst
            .conn
            .query("SHOW WARNINGS LIMIT 3")
            .unwrap_or_default();
        let words: Vec<String> = shown
            .into_iter()
            .map(|mut r| {
                let level: String = r.take(0).unwrap_or_default();
                let code: u64 = r.take(1).unwrap_or_default();
                let message: String = r.take(2).unwrap_or_default();
                format!("{level} {code}: {message}")
            })
            .collect();
        Error::Check(format!(
            "{ctx}: the server would change values ({}; rows are counted from row {} of the table); the batch was rolled back",
            if words.is_empty() {
                "it reported warnings".to_string()
            } else {
                words.join("; ")
            },
            self.rows_written + 1
        ))
    }
}

/// Bytes that must be escaped inside a field, and what follows the `\`.
const fn escapes() -> [u8; 256] {
    let mut t = [0u8; 256];
    t[b'\\' as usize] = b'\\';
    t[b'\t' as usize] = b't';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[0] = b'0';
    t
}
const ESCAPES: [u8; 256] = escapes();

/// Appends `bytes` with `\`, tab, newline, carriage return and NUL escaped.
#[inline]
fn escaped(bytes: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let e = ESCAPES[b as usize];
        if e != 0 {
            out.extend_from_slice(&bytes[start..i]);
            out.push(b'\\');
            out.push(e);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Encodes `batch` as `LOAD DATA` text; `rows_before` numbers the rows in errors.
pub(super) fn encode(batch: &RecordBatch, table: &str, rows_before: u64) -> Result<Vec<u8>> {
    let schema = batch.schema();
    let cells: Vec<ColumnReader> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(a, f)| reader(a.as_ref(), table, f.name()))
        .collect::<Result<_>>()?;
    let estimate: usize = batch
        .columns()
        .iter()
        .map(|c| c.get_buffer_memory_size())
        .sum();
    let mut out = Vec::with_capacity(estimate + batch.num_rows() * cells.len() * 2);
    let mut ints = itoa::Buffer::new();
    let mut floats = ryu::Buffer::new();
    for row in 0..batch.num_rows() {
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            field(c, row, &mut out, &mut ints, &mut floats).map_err(|m| {
                Error::value(
                    table,
                    schema.field(i).name(),
                    rows_before + row as u64 + 1,
                    m,
                )
            })?;
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// Appends row `i`'s field.
#[inline]
fn field(
    c: &ColumnReader<'_>,
    i: usize,
    out: &mut Vec<u8>,
    ints: &mut itoa::Buffer,
    floats: &mut ryu::Buffer,
) -> Result<(), String> {
    if c.is_null(i) {
        out.extend_from_slice(b"\\N");
        return Ok(());
    }
    match c.values() {
        Values::Boolean(a) => out.push(if a.value(i) { b'1' } else { b'0' }),
        Values::Signed(a) => out.extend_from_slice(ints.format(a.value(i)).as_bytes()),
        Values::Unsigned(a) => out.extend_from_slice(ints.format(a.value(i)).as_bytes()),
        Values::Float(a) => {
            let v = a.value(i);
            if !v.is_finite() {
                return Err(format!(
                    "{v} cannot be stored: MySQL has no NaN or infinity"
                ));
            }
            let text = if a.is_single() {
                floats.format_finite(v as f32)
            } else {
                floats.format_finite(v)
            };
            out.extend_from_slice(text.as_bytes());
        }
        Values::Decimal128(a, _, s) => {
            out.extend_from_slice(types::format_decimal(a.value(i), *s).as_bytes())
        }
        Values::Decimal256(a, s) => {
            out.extend_from_slice(types::format_decimal256(a.value(i), *s).as_bytes())
        }
        Values::Text(a) => escaped(a.value(i).as_bytes(), out),
        Values::Binary(a) => escaped(a.value(i), out),
        Values::Date(a) => {
            let d = a.naive(i).ok_or("date out of range")?;
            date(d.year(), d.month(), d.day(), out)?;
        }
        Values::Timestamp(a) => {
            let (secs, nanos) = a.split(i);
            if nanos % 1000 != 0 {
                return Err(
                    "sub-microsecond digits would be lost: MySQL keeps microseconds".into(),
                );
            }
            let dt = utc_datetime(secs, nanos)?;
            date(dt.year(), dt.month(), dt.day(), out)?;
            let _ = write!(
                out,
                " {:02}:{:02}:{:02}.{:06}",
                dt.hour(),
                dt.minute(),
                dt.second(),
                nanos / 1000
            );
        }
        Values::Time(a) => {
            let nanos = a.nanos(i);
            out.extend_from_slice(span_text(i128::from(nanos))?.as_bytes());
        }
        Values::Duration(a) => out.extend_from_slice(span_text(a.nanos(i))?.as_bytes()),
        // `reader` refuses these.
        Values::Formatted(_) | Values::Null | Values::Other => {
            return Err(format!("MySQL staging cannot load Arrow {}", c.data_type()))
        }
    }
    Ok(())
}

/// `YYYY-MM-DD`; a year outside 0–9999 has no MySQL form.
#[inline]
fn date(year: i32, month: u32, day: u32, out: &mut Vec<u8>) -> Result<(), String> {
    if !(0..=9999).contains(&year) {
        return Err(format!(
            "the year {year} is outside MySQL's DATE and DATETIME (0000 to 9999)"
        ));
    }
    let _ = write!(out, "{year:04}-{month:02}-{day:02}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BinaryArray, Int32Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    #[test]
    fn fields_escape_backslash_tab_newline_cr_and_nul_and_null_is_backslash_n() {
        let schema = Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("t", DataType::Utf8, true),
            Field::new("b", DataType::Binary, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int32Array::from(vec![Some(-7), None])),
                Arc::new(StringArray::from(vec![
                    Some("a\tb\nc\\d\re\0f NULL"),
                    Some(""),
                ])),
                Arc::new(BinaryArray::from(vec![Some(&b"\xff\\N\x00"[..]), None])),
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(1_000_001),
                    Some(-1),
                ])),
            ],
        )
        .unwrap();
        let out = encode(&batch, "t", 0).unwrap();
        assert_eq!(
            out,
            b"-7\ta\\tb\\nc\\\\d\\re\\0f NULL\t\xff\\\\N\\0\t1970-01-01 00:00:01.000001\n\
              \\N\t\t\\N\t1969-12-31 23:59:59.999999\n"
                .to_vec()
        );
    }

    #[test]
    fn a_year_beyond_9999_names_table_column_and_row() {
        let schema = Schema::new(vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        )]);
        let far = 300_000_000_000_000_000i64; // year ~11476
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(TimestampMicrosecondArray::from(vec![0, far]))],
        )
        .unwrap();
        let e = encode(&batch, "tab", 10).unwrap_err().to_string();
        assert!(
            e.contains("tab") && e.contains("ts") && e.contains("12"),
            "{e}"
        );
    }
}

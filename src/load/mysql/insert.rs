//! Arrow batches as MySQL multi-row `INSERT … VALUES` statements: each value written as
//! an escaped SQL literal (binary as hex), each statement below `max_allowed_packet`.

use std::fmt::Write as _;

use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use mysql::prelude::Queryable;

use super::MysqlLoad;
use crate::db::mysql::db_err;
use crate::error::{Error, Result};
use crate::load::columns::{utc_datetime, ColumnReader, Values};
use crate::types;

impl MysqlLoad<'_> {
    /// Inserts every row of `batch`; returns the rows the server reports.
    pub(super) fn insert(&mut self, batch: &RecordBatch) -> Result<u64> {
        let schema = batch.schema();
        let cells: Vec<ColumnReader> = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(a, f)| reader(a.as_ref(), &self.table, f.name()))
            .collect::<Result<_>>()?;
        let ctx = format!("staging table {}: inserting rows", self.table);
        let limit = self.dst.statement_bytes;
        let mut sql = String::with_capacity(limit.min(1 << 20));
        let mut affected = 0u64;
        let mut rows_in_sql = 0usize;
        for row in 0..batch.num_rows() {
            let mark = sql.len();
            sql.push_str(if rows_in_sql == 0 { "(" } else { ",(" });
            if rows_in_sql == 0 {
                sql.insert_str(0, &self.insert_head);
            }
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                write(c, row, &mut sql).map_err(|m| {
                    Error::value(&self.table, schema.field(i).name(), row as u64 + 1, m)
                })?;
            }
            sql.push(')');
            if sql.len() > limit && rows_in_sql > 0 {
                // Send what came before this row, start the next statement with it.
                let this_row = sql.split_off(mark);
                affected += self.send(&sql, &ctx)?;
                sql.clear();
                sql.push_str(&self.insert_head);
                // `this_row` starts with the separating comma.
                sql.push_str(&this_row[1..]);
                rows_in_sql = 1;
            } else {
                rows_in_sql += 1;
            }
        }
        if rows_in_sql > 0 {
            affected += self.send(&sql, &ctx)?;
        }
        Ok(affected)
    }

    fn send(&mut self, sql: &str, ctx: &str) -> Result<u64> {
        self.dst.conn.query_drop(sql).map_err(db_err(ctx))?;
        Ok(self.dst.conn.affected_rows())
    }
}

/// A reader for one column of a batch; refuses a type MySQL staging has no literal for.
pub(super) fn reader<'a>(a: &'a dyn Array, table: &str, column: &str) -> Result<ColumnReader<'a>> {
    let r = ColumnReader::new(a);
    match r.values() {
        Values::Formatted(_) | Values::Null | Values::Other => Err(Error::column(
            table,
            column,
            format!("MySQL staging cannot load Arrow {}", a.data_type()),
        )),
        _ => Ok(r),
    }
}

/// Appends row `i`'s SQL literal to `out`.
fn write(c: &ColumnReader<'_>, i: usize, out: &mut String) -> Result<(), String> {
    if c.is_null(i) {
        out.push_str("NULL");
        return Ok(());
    }
    // Writing to a String cannot fail.
    let _ = match c.values() {
        Values::Boolean(a) => {
            out.push(if a.value(i) { '1' } else { '0' });
            Ok(())
        }
        Values::Signed(a) => write!(out, "{}", a.value(i)),
        Values::Unsigned(a) => write!(out, "{}", a.value(i)),
        Values::Float(a) => {
            let v = a.value(i);
            if !v.is_finite() {
                return Err(format!(
                    "{v} cannot be stored: MySQL has no NaN or infinity"
                ));
            }
            if a.is_single() {
                write!(out, "{:?}", v as f32)
            } else {
                write!(out, "{v:?}")
            }
        }
        Values::Decimal128(a, _, s) => {
            out.push_str(&types::format_decimal(a.value(i), *s));
            Ok(())
        }
        Values::Decimal256(a, s) => {
            out.push_str(&types::format_decimal256(a.value(i), *s));
            Ok(())
        }
        Values::Text(a) => {
            quote_text(a.value(i), out);
            Ok(())
        }
        Values::Binary(a) => {
            out.push_str("X'");
            out.push_str(&hex::encode(a.value(i)));
            out.push('\'');
            Ok(())
        }
        Values::Date(a) => {
            let date = a.naive(i).ok_or("date out of range")?;
            write!(out, "'{}'", date.format("%Y-%m-%d"))
        }
        Values::Timestamp(a) => {
            let (secs, nanos) = a.split(i);
            if nanos % 1000 != 0 {
                return Err(
                    "sub-microsecond digits would be lost: MySQL keeps microseconds".into(),
                );
            }
            let dt = utc_datetime(secs, nanos)?;
            write!(out, "'{}'", dt.format("%Y-%m-%d %H:%M:%S%.6f"))
        }
        Values::Time(a) => {
            out.push('\'');
            out.push_str(&span_text(i128::from(a.nanos(i)))?);
            out.push('\'');
            Ok(())
        }
        Values::Duration(a) => {
            out.push('\'');
            out.push_str(&span_text(a.nanos(i))?);
            out.push('\'');
            Ok(())
        }
        // `reader` refuses these.
        Values::Formatted(_) | Values::Null | Values::Other => {
            return Err(format!("MySQL staging cannot load Arrow {}", c.data_type()))
        }
    };
    Ok(())
}

/// `[-]H:MM:SS.ffffff` from nanoseconds: MySQL `TIME`, which keeps microseconds and spans
/// ±838:59:59.
pub(super) fn span_text(nanos: i128) -> Result<String, String> {
    if nanos % 1000 != 0 {
        return Err("sub-microsecond digits would be lost: MySQL keeps microseconds".into());
    }
    let micros = (nanos / 1000).unsigned_abs();
    if micros > types::mysql::TIME_MAX_MICROS as u128 {
        return Err(format!(
            "a span of {} µs is beyond MySQL TIME's ±838:59:59",
            nanos / 1000
        ));
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    Ok(format!(
        "{sign}{}:{:02}:{:02}.{frac:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

/// A string literal for a session without `NO_BACKSLASH_ESCAPES` (set by `SESSION_INIT`).
fn quote_text(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{1a}' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_literals_escape_quotes_backslashes_and_nul() {
        let mut out = String::new();
        quote_text("it's a \\ and \0 😀", &mut out);
        assert_eq!(out, "'it\\'s a \\\\ and \\0 😀'");
    }

    #[test]
    fn spans_render_as_mysql_time() {
        let max = types::mysql::TIME_MAX_MICROS as i128 * 1000;
        assert_eq!(span_text(-max).unwrap(), "-838:59:59.000000");
        assert_eq!(span_text(1_500_000_000).unwrap(), "0:00:01.500000");
        assert!(span_text(max + 1000).is_err());
        assert!(span_text(1).is_err());
    }
}

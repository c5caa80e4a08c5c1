//! The Arrow side of the row-oriented sources (SQLite, MySQL, SQL Server, Oracle): one
//! [`ColumnBuilder`] per column, made from the column's Arrow type, and the
//! [`BatchBuilder`] that fills `chunk_rows` rows and hands each finished RecordBatch to
//! the sink. Each source keeps only its own value conversion: it matches on the
//! builder's variant and appends the database value with the builder's typed append.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    DurationMicrosecondBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, Int8Builder, IntervalMonthDayNanoBuilder, StringBuilder,
    Time64MicrosecondBuilder, Time64NanosecondBuilder, TimestampMicrosecondBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt32Builder, UInt64Builder, UInt8Builder,
};
use arrow::datatypes::{DataType, IntervalUnit, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::{BatchSink, TableInfo};
use crate::error::{Error, Result};

/// Rows a builder reserves room for at most, whatever `chunk_rows` says.
const MAX_RESERVED_ROWS: usize = 65_536;

/// Bytes reserved per value of a text or binary column.
const BYTES_PER_VALUE: usize = 16;

/// Appends `s`, or says why it cannot: Arrow keeps at most 2 GiB of text per column of a
/// batch (`SRC_CHUNK_BYTES` ends a batch long before, so only a value near 2 GiB can).
#[inline]
pub(crate) fn append_text(b: &mut StringBuilder, s: &str) -> Result<(), String> {
    room(b.values_slice().len(), s.len())?;
    b.append_value(s);
    Ok(())
}

/// Appends `v`, or says why it cannot (as [`append_text`]).
#[inline]
pub(crate) fn append_bytes(b: &mut BinaryBuilder, v: &[u8]) -> Result<(), String> {
    room(b.values_slice().len(), v.len())?;
    b.append_value(v);
    Ok(())
}

fn room(have: usize, add: usize) -> Result<(), String> {
    if have.saturating_add(add) <= i32::MAX as usize {
        return Ok(());
    }
    Err(if have == 0 {
        format!("a value of {add} bytes is larger than the 2 GiB an Arrow column holds")
    } else {
        format!(
            "a value of {add} bytes does not fit beside the {have} bytes already in this batch's column (Arrow holds 2 GiB per column): lower SRC_CHUNK_BYTES"
        )
    })
}

/// One column's Arrow builder, chosen by the column's Arrow type.
pub(crate) enum ColumnBuilder {
    Boolean(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    UInt8(UInt8Builder),
    UInt16(UInt16Builder),
    UInt32(UInt32Builder),
    UInt64(UInt64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    /// With the column's precision and scale.
    Decimal128(Decimal128Builder, u8, i8),
    /// With the column's precision and scale.
    Decimal256(Decimal256Builder, u8, i8),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Date32(Date32Builder),
    Time64Microsecond(Time64MicrosecondBuilder),
    Time64Nanosecond(Time64NanosecondBuilder),
    /// Whether the column has a time zone (its values are instants).
    TimestampMicrosecond(TimestampMicrosecondBuilder, bool),
    TimestampNanosecond(TimestampNanosecondBuilder),
    DurationMicrosecond(DurationMicrosecondBuilder),
    IntervalMonthDayNano(IntervalMonthDayNanoBuilder),
}

impl ColumnBuilder {
    /// The builder for Arrow type `dt`, with room for `rows` rows (at most 65 536).
    /// Fails for a type no source reads into, or a decimal Arrow refuses.
    pub(crate) fn new(dt: &DataType, rows: usize) -> Result<ColumnBuilder, String> {
        let cap = rows.min(MAX_RESERVED_ROWS);
        let bad = |e: arrow::error::ArrowError| e.to_string();
        Ok(match dt {
            DataType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(cap)),
            DataType::Int8 => ColumnBuilder::Int8(Int8Builder::with_capacity(cap)),
            DataType::Int16 => ColumnBuilder::Int16(Int16Builder::with_capacity(cap)),
            DataType::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(cap)),
            DataType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(cap)),
            DataType::UInt8 => ColumnBuilder::UInt8(UInt8Builder::with_capacity(cap)),
            DataType::UInt16 => ColumnBuilder::UInt16(UInt16Builder::with_capacity(cap)),
            DataType::UInt32 => ColumnBuilder::UInt32(UInt32Builder::with_capacity(cap)),
            DataType::UInt64 => ColumnBuilder::UInt64(UInt64Builder::with_capacity(cap)),
            DataType::Float32 => ColumnBuilder::Float32(Float32Builder::with_capacity(cap)),
            DataType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(cap)),
            DataType::Decimal128(p, s) => ColumnBuilder::Decimal128(
                Decimal128Builder::with_capacity(cap)
                    .with_precision_and_scale(*p, *s)
                    .map_err(bad)?,
                *p,
                *s,
            ),
            DataType::Decimal256(p, s) => ColumnBuilder::Decimal256(
                Decimal256Builder::with_capacity(cap)
                    .with_precision_and_scale(*p, *s)
                    .map_err(bad)?,
                *p,
                *s,
            ),
            DataType::Utf8 => {
                ColumnBuilder::Utf8(StringBuilder::with_capacity(cap, cap * BYTES_PER_VALUE))
            }
            DataType::Binary => {
                ColumnBuilder::Binary(BinaryBuilder::with_capacity(cap, cap * BYTES_PER_VALUE))
            }
            DataType::Date32 => ColumnBuilder::Date32(Date32Builder::with_capacity(cap)),
            DataType::Time64(TimeUnit::Microsecond) => {
                ColumnBuilder::Time64Microsecond(Time64MicrosecondBuilder::with_capacity(cap))
            }
            DataType::Time64(TimeUnit::Nanosecond) => {
                ColumnBuilder::Time64Nanosecond(Time64NanosecondBuilder::with_capacity(cap))
            }
            DataType::Timestamp(TimeUnit::Microsecond, tz) => ColumnBuilder::TimestampMicrosecond(
                TimestampMicrosecondBuilder::with_capacity(cap).with_timezone_opt(tz.clone()),
                tz.is_some(),
            ),
            DataType::Timestamp(TimeUnit::Nanosecond, tz) => ColumnBuilder::TimestampNanosecond(
                TimestampNanosecondBuilder::with_capacity(cap).with_timezone_opt(tz.clone()),
            ),
            DataType::Duration(TimeUnit::Microsecond) => {
                ColumnBuilder::DurationMicrosecond(DurationMicrosecondBuilder::with_capacity(cap))
            }
            DataType::Interval(IntervalUnit::MonthDayNano) => {
                ColumnBuilder::IntervalMonthDayNano(IntervalMonthDayNanoBuilder::with_capacity(cap))
            }
            other => return Err(format!("no column builder for Arrow {other}")),
        })
    }

    pub(crate) fn append_null(&mut self) {
        match self {
            ColumnBuilder::Boolean(b) => b.append_null(),
            ColumnBuilder::Int8(b) => b.append_null(),
            ColumnBuilder::Int16(b) => b.append_null(),
            ColumnBuilder::Int32(b) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::UInt8(b) => b.append_null(),
            ColumnBuilder::UInt16(b) => b.append_null(),
            ColumnBuilder::UInt32(b) => b.append_null(),
            ColumnBuilder::UInt64(b) => b.append_null(),
            ColumnBuilder::Float32(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Decimal128(b, ..) => b.append_null(),
            ColumnBuilder::Decimal256(b, ..) => b.append_null(),
            ColumnBuilder::Utf8(b) => b.append_null(),
            ColumnBuilder::Binary(b) => b.append_null(),
            ColumnBuilder::Date32(b) => b.append_null(),
            ColumnBuilder::Time64Microsecond(b) => b.append_null(),
            ColumnBuilder::Time64Nanosecond(b) => b.append_null(),
            ColumnBuilder::TimestampMicrosecond(b, _) => b.append_null(),
            ColumnBuilder::TimestampNanosecond(b) => b.append_null(),
            ColumnBuilder::DurationMicrosecond(b) => b.append_null(),
            ColumnBuilder::IntervalMonthDayNano(b) => b.append_null(),
        }
    }

    /// The column so far as an array; the builder is empty again afterwards.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Int8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::UInt8(b) => Arc::new(b.finish()),
            ColumnBuilder::UInt16(b) => Arc::new(b.finish()),
            ColumnBuilder::UInt32(b) => Arc::new(b.finish()),
            ColumnBuilder::UInt64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal128(b, ..) => Arc::new(b.finish()),
            ColumnBuilder::Decimal256(b, ..) => Arc::new(b.finish()),
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Binary(b) => Arc::new(b.finish()),
            ColumnBuilder::Date32(b) => Arc::new(b.finish()),
            ColumnBuilder::Time64Microsecond(b) => Arc::new(b.finish()),
            ColumnBuilder::Time64Nanosecond(b) => Arc::new(b.finish()),
            ColumnBuilder::TimestampMicrosecond(b, _) => Arc::new(b.finish()),
            ColumnBuilder::TimestampNanosecond(b) => Arc::new(b.finish()),
            ColumnBuilder::DurationMicrosecond(b) => Arc::new(b.finish()),
            ColumnBuilder::IntervalMonthDayNano(b) => Arc::new(b.finish()),
        }
    }

    /// Bytes of text or binary values so far (0 for fixed-width columns).
    #[inline]
    fn value_bytes(&self) -> usize {
        match self {
            ColumnBuilder::Utf8(b) => b.values_slice().len(),
            ColumnBuilder::Binary(b) => b.values_slice().len(),
            _ => 0,
        }
    }

    /// Bytes per row of a fixed-width column (a text or binary column's offset).
    fn row_bytes(&self) -> usize {
        match self {
            ColumnBuilder::Boolean(_) | ColumnBuilder::Int8(_) | ColumnBuilder::UInt8(_) => 1,
            ColumnBuilder::Int16(_) | ColumnBuilder::UInt16(_) => 2,
            ColumnBuilder::Int32(_)
            | ColumnBuilder::UInt32(_)
            | ColumnBuilder::Float32(_)
            | ColumnBuilder::Date32(_)
            | ColumnBuilder::Utf8(_)
            | ColumnBuilder::Binary(_) => 4,
            ColumnBuilder::Decimal128(..) | ColumnBuilder::IntervalMonthDayNano(_) => 16,
            ColumnBuilder::Decimal256(..) => 32,
            _ => 8,
        }
    }

    /// The Arrow type being built, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            ColumnBuilder::Boolean(_) => "Boolean",
            ColumnBuilder::Int8(_) => "Int8",
            ColumnBuilder::Int16(_) => "Int16",
            ColumnBuilder::Int32(_) => "Int32",
            ColumnBuilder::Int64(_) => "Int64",
            ColumnBuilder::UInt8(_) => "UInt8",
            ColumnBuilder::UInt16(_) => "UInt16",
            ColumnBuilder::UInt32(_) => "UInt32",
            ColumnBuilder::UInt64(_) => "UInt64",
            ColumnBuilder::Float32(_) => "Float32",
            ColumnBuilder::Float64(_) => "Float64",
            ColumnBuilder::Decimal128(..) => "Decimal128",
            ColumnBuilder::Decimal256(..) => "Decimal256",
            ColumnBuilder::Utf8(_) => "Utf8",
            ColumnBuilder::Binary(_) => "Binary",
            ColumnBuilder::Date32(_) => "Date32",
            ColumnBuilder::Time64Microsecond(_) => "Time64(µs)",
            ColumnBuilder::Time64Nanosecond(_) => "Time64(ns)",
            ColumnBuilder::TimestampMicrosecond(..) => "Timestamp(µs)",
            ColumnBuilder::TimestampNanosecond(_) => "Timestamp(ns)",
            ColumnBuilder::DurationMicrosecond(_) => "Duration(µs)",
            ColumnBuilder::IntervalMonthDayNano(_) => "Interval(MonthDayNano)",
        }
    }
}

/// The batch under construction: a [`ColumnBuilder`] per column of the table, handed to
/// the sink as a RecordBatch every `chunk_rows` rows and once more for the last rows.
pub(crate) struct BatchBuilder {
    /// The table as shown in messages.
    table: String,
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    chunk_rows: usize,
    /// `SRC_CHUNK_BYTES`: the batch is also full at this many bytes.
    chunk_bytes: usize,
    /// Bytes per row of the fixed-width parts of every column.
    row_bytes: usize,
    /// The text and binary columns, whose bytes are counted.
    var_columns: Vec<usize>,
    /// Rows in the batch under construction.
    in_batch: usize,
    /// Rows read so far, all batches.
    rows: u64,
}

impl BatchBuilder {
    /// A builder per column of `table`, shaped as `table.schema()`, for batches of
    /// `chunk_rows` rows. `reader` names the source in the error for a column type it
    /// cannot build (e.g. `no MySQL reader for Arrow …`).
    pub(crate) fn new(table: &TableInfo, chunk_rows: usize, reader: &str) -> Result<Self> {
        let name = table.table.display();
        let chunk_rows = chunk_rows.max(1);
        let columns = table
            .columns
            .iter()
            .map(|c| {
                ColumnBuilder::new(&c.arrow_type, chunk_rows).map_err(|m| {
                    let message = match m.strip_prefix("no column builder") {
                        Some(rest) => format!("no {reader} reader{rest}"),
                        None => m,
                    };
                    Error::column(&name, &c.name, message)
                })
            })
            .collect::<Result<_>>()?;
        let columns: Vec<ColumnBuilder> = columns;
        Ok(BatchBuilder {
            table: name,
            schema: table.schema(),
            row_bytes: columns.iter().map(ColumnBuilder::row_bytes).sum(),
            var_columns: (0..columns.len())
                .filter(|&i| {
                    matches!(
                        columns[i],
                        ColumnBuilder::Utf8(_) | ColumnBuilder::Binary(_)
                    )
                })
                .collect(),
            columns,
            chunk_rows,
            chunk_bytes: usize::MAX,
            in_batch: 0,
            rows: 0,
        })
    }

    /// Also ends a batch at `bytes` (`SRC_CHUNK_BYTES`), whichever of rows and bytes
    /// comes first.
    pub(crate) fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// The bytes of the batch under construction (values, offsets, fixed-width columns).
    pub(crate) fn bytes(&self) -> usize {
        self.in_batch * self.row_bytes
            + self
                .var_columns
                .iter()
                .map(|&i| self.columns[i].value_bytes())
                .sum::<usize>()
    }

    /// Rows read so far (the number of the row being read is one more).
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds one row: `fill` gets the row's number (from 1, for messages) and the column
    /// builders, and appends one value (or null) to each.
    #[inline]
    pub(crate) fn push_row(
        &mut self,
        fill: impl FnOnce(u64, &mut [ColumnBuilder]) -> Result<()>,
    ) -> Result<()> {
        self.rows += 1;
        fill(self.rows, &mut self.columns)?;
        self.in_batch += 1;
        Ok(())
    }

    /// The batch under construction holds `chunk_rows` rows or `chunk_bytes` bytes.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.in_batch >= self.chunk_rows || (self.in_batch > 0 && self.bytes() >= self.chunk_bytes)
    }

    /// Hands the batch to the sink when it holds `chunk_rows` rows or `chunk_bytes` bytes.
    #[inline]
    pub(crate) fn send_if_full(&mut self, sink: &mut BatchSink<'_>) -> Result<()> {
        if self.is_full() {
            self.send(sink)?;
        }
        Ok(())
    }

    /// Hands the rows gathered so far to the sink as one batch; nothing when there are none.
    pub(crate) fn send(&mut self, sink: &mut BatchSink<'_>) -> Result<()> {
        if self.in_batch == 0 {
            return Ok(());
        }
        let arrays = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::batch(&self.table, e))?;
        self.in_batch = 0;
        sink(batch)
    }

    /// Sends the last, partial batch; returns the rows read.
    pub(crate) fn finish(mut self, sink: &mut BatchSink<'_>) -> Result<u64> {
        self.send(sink)?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests;

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
        Ok(BatchBuilder {
            table: name,
            schema: table.schema(),
            columns,
            chunk_rows,
            in_batch: 0,
            rows: 0,
        })
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

    /// The batch under construction holds `chunk_rows` rows.
    pub(crate) fn is_full(&self) -> bool {
        self.in_batch >= self.chunk_rows
    }

    /// Hands the batch to the sink when it holds `chunk_rows` rows.
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
            .map_err(|e| Error::archive(format!("table {}: building a batch", self.table), e))?;
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
mod tests {
    use super::*;
    use crate::source::{ColumnInfo, TableRef};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{
        i256, Date32Type, Decimal128Type, Decimal256Type, DurationMicrosecondType, Float32Type,
        Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, IntervalMonthDayNano,
        IntervalMonthDayNanoType, Time64MicrosecondType, Time64NanosecondType,
        TimestampMicrosecondType, TimestampNanosecondType, UInt16Type, UInt32Type, UInt64Type,
        UInt8Type,
    };

    /// Every type the builder takes.
    fn every_type() -> Vec<DataType> {
        vec![
            DataType::Boolean,
            DataType::Int8,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::UInt8,
            DataType::UInt16,
            DataType::UInt32,
            DataType::UInt64,
            DataType::Float32,
            DataType::Float64,
            DataType::Decimal128(12, 2),
            DataType::Decimal256(60, 4),
            DataType::Utf8,
            DataType::Binary,
            DataType::Date32,
            DataType::Time64(TimeUnit::Microsecond),
            DataType::Time64(TimeUnit::Nanosecond),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            DataType::Duration(TimeUnit::Microsecond),
            DataType::Interval(IntervalUnit::MonthDayNano),
        ]
    }

    /// Appends the value 7 (in the column's own form), then a null.
    fn seven_then_null(b: &mut ColumnBuilder) {
        match b {
            ColumnBuilder::Boolean(b) => b.append_value(true),
            ColumnBuilder::Int8(b) => b.append_value(7),
            ColumnBuilder::Int16(b) => b.append_value(7),
            ColumnBuilder::Int32(b) => b.append_value(7),
            ColumnBuilder::Int64(b) => b.append_value(7),
            ColumnBuilder::UInt8(b) => b.append_value(7),
            ColumnBuilder::UInt16(b) => b.append_value(7),
            ColumnBuilder::UInt32(b) => b.append_value(7),
            ColumnBuilder::UInt64(b) => b.append_value(7),
            ColumnBuilder::Float32(b) => b.append_value(7.0),
            ColumnBuilder::Float64(b) => b.append_value(7.0),
            ColumnBuilder::Decimal128(b, ..) => b.append_value(7),
            ColumnBuilder::Decimal256(b, ..) => b.append_value(i256::from_i128(7)),
            ColumnBuilder::Utf8(b) => b.append_value("7"),
            ColumnBuilder::Binary(b) => b.append_value([7u8]),
            ColumnBuilder::Date32(b) => b.append_value(7),
            ColumnBuilder::Time64Microsecond(b) => b.append_value(7),
            ColumnBuilder::Time64Nanosecond(b) => b.append_value(7),
            ColumnBuilder::TimestampMicrosecond(b, _) => b.append_value(7),
            ColumnBuilder::TimestampNanosecond(b) => b.append_value(7),
            ColumnBuilder::DurationMicrosecond(b) => b.append_value(7),
            ColumnBuilder::IntervalMonthDayNano(b) => {
                b.append_value(IntervalMonthDayNano::new(0, 0, 7))
            }
        }
        b.append_null();
    }

    /// Row 0 of `a` as text, read back through the array's own type.
    fn first(a: &dyn Array) -> String {
        match a.data_type() {
            DataType::Boolean => a.as_boolean().value(0).to_string(),
            DataType::Int8 => a.as_primitive::<Int8Type>().value(0).to_string(),
            DataType::Int16 => a.as_primitive::<Int16Type>().value(0).to_string(),
            DataType::Int32 => a.as_primitive::<Int32Type>().value(0).to_string(),
            DataType::Int64 => a.as_primitive::<Int64Type>().value(0).to_string(),
            DataType::UInt8 => a.as_primitive::<UInt8Type>().value(0).to_string(),
            DataType::UInt16 => a.as_primitive::<UInt16Type>().value(0).to_string(),
            DataType::UInt32 => a.as_primitive::<UInt32Type>().value(0).to_string(),
            DataType::UInt64 => a.as_primitive::<UInt64Type>().value(0).to_string(),
            DataType::Float32 => a.as_primitive::<Float32Type>().value(0).to_string(),
            DataType::Float64 => a.as_primitive::<Float64Type>().value(0).to_string(),
            DataType::Decimal128(..) => a.as_primitive::<Decimal128Type>().value(0).to_string(),
            DataType::Decimal256(..) => a.as_primitive::<Decimal256Type>().value(0).to_string(),
            DataType::Utf8 => a.as_string::<i32>().value(0).to_string(),
            DataType::Binary => a.as_binary::<i32>().value(0)[0].to_string(),
            DataType::Date32 => a.as_primitive::<Date32Type>().value(0).to_string(),
            DataType::Time64(TimeUnit::Microsecond) => a
                .as_primitive::<Time64MicrosecondType>()
                .value(0)
                .to_string(),
            DataType::Time64(_) => a
                .as_primitive::<Time64NanosecondType>()
                .value(0)
                .to_string(),
            DataType::Timestamp(TimeUnit::Microsecond, _) => a
                .as_primitive::<TimestampMicrosecondType>()
                .value(0)
                .to_string(),
            DataType::Timestamp(..) => a
                .as_primitive::<TimestampNanosecondType>()
                .value(0)
                .to_string(),
            DataType::Duration(_) => a
                .as_primitive::<DurationMicrosecondType>()
                .value(0)
                .to_string(),
            DataType::Interval(_) => a
                .as_primitive::<IntervalMonthDayNanoType>()
                .value(0)
                .nanoseconds
                .to_string(),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn every_type_builds_an_array_of_exactly_that_type_with_values_and_nulls() {
        for dt in every_type() {
            let mut b = ColumnBuilder::new(&dt, 4).unwrap();
            seven_then_null(&mut b);
            let a = b.finish();
            assert_eq!(a.data_type(), &dt, "{}", b.type_name());
            assert_eq!(a.len(), 2, "{dt}");
            assert_eq!(a.null_count(), 1, "{dt}");
            assert!(a.is_null(1), "{dt}");
            let want = if dt == DataType::Boolean { "true" } else { "7" };
            assert_eq!(first(&a), want, "{dt}");
            // Finishing empties the builder; the next array starts over.
            b.append_null();
            let again = b.finish();
            assert_eq!((again.len(), again.data_type()), (1, &dt));
        }
    }

    #[test]
    fn zoned_timestamps_say_so() {
        let zoned = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        assert!(matches!(
            ColumnBuilder::new(&zoned, 1).unwrap(),
            ColumnBuilder::TimestampMicrosecond(_, true)
        ));
        let naive = DataType::Timestamp(TimeUnit::Microsecond, None);
        assert!(matches!(
            ColumnBuilder::new(&naive, 1).unwrap(),
            ColumnBuilder::TimestampMicrosecond(_, false)
        ));
    }

    #[test]
    fn types_without_a_builder_and_bad_decimals_are_refused() {
        let e = ColumnBuilder::new(&DataType::LargeUtf8, 1).err().unwrap();
        assert_eq!(e, "no column builder for Arrow LargeUtf8");
        let e = ColumnBuilder::new(&DataType::Decimal128(5, 9), 1)
            .err()
            .unwrap();
        assert!(e.contains("scale"), "{e}");
    }

    fn table(types: &[DataType]) -> TableInfo {
        TableInfo {
            table: TableRef::new("t", None),
            columns: types
                .iter()
                .enumerate()
                .map(|(i, dt)| ColumnInfo {
                    name: format!("c{i}"),
                    source_type: String::new(),
                    arrow_type: dt.clone(),
                    nullable: true,
                    note: None,
                })
                .collect(),
        }
    }

    /// Reads `rows` rows in chunks of `chunk`; returns the batch sizes and the rows read.
    fn read(rows: i64, chunk: usize) -> (Vec<usize>, u64) {
        let t = table(&[DataType::Int64, DataType::Utf8]);
        let mut batch = BatchBuilder::new(&t, chunk, "test").unwrap();
        let mut sizes = Vec::new();
        let mut next = 0i64;
        let mut sink = |b: RecordBatch| {
            assert_eq!(b.schema(), t.schema());
            // Values continue across batch boundaries.
            let ids = b.column(0).as_primitive::<Int64Type>();
            for (i, id) in ids.iter().enumerate() {
                assert_eq!(id, Some(next));
                assert_eq!(b.column(1).is_null(i), next % 2 == 1);
                next += 1;
            }
            sizes.push(b.num_rows());
            Ok(())
        };
        for id in 0..rows {
            batch
                .push_row(|n, cols| {
                    assert_eq!(n, id as u64 + 1);
                    match &mut cols[0] {
                        ColumnBuilder::Int64(b) => b.append_value(id),
                        _ => unreachable!(),
                    }
                    match &mut cols[1] {
                        ColumnBuilder::Utf8(b) if id % 2 == 0 => b.append_value("x"),
                        other => other.append_null(),
                    }
                    Ok(())
                })
                .unwrap();
            batch.send_if_full(&mut sink).unwrap();
        }
        let total = batch.finish(&mut sink).unwrap();
        (sizes, total)
    }

    #[test]
    fn chunks_hold_chunk_rows_and_the_last_one_the_rest() {
        assert_eq!(read(7, 3), (vec![3, 3, 1], 7));
        // A last chunk that comes out even sends no empty batch.
        assert_eq!(read(6, 3), (vec![3, 3], 6));
        assert_eq!(read(0, 3), (vec![], 0));
        assert_eq!(read(2, 10), (vec![2], 2));
        assert_eq!(read(3, 1), (vec![1, 1, 1], 3));
        // A chunk size of 0 is taken as 1.
        assert_eq!(read(2, 0), (vec![1, 1], 2));
    }

    #[test]
    fn a_failing_row_or_sink_stops_the_read() {
        let t = table(&[DataType::Int64]);
        let mut batch = BatchBuilder::new(&t, 2, "test").unwrap();
        let e = batch
            .push_row(|n, _| Err(Error::value("t", "c0", n, "bad")))
            .unwrap_err();
        assert_eq!(e.to_string(), "table t, column c0, row 1: bad");
        let mut sink = |_: RecordBatch| Err(Error::Check("sink closed".into()));
        for _ in 0..2 {
            batch
                .push_row(|_, cols| {
                    cols[0].append_null();
                    Ok(())
                })
                .unwrap();
        }
        assert!(batch.is_full());
        let e = batch.send_if_full(&mut sink).unwrap_err();
        assert_eq!(e.to_string(), "sink closed");
    }

    #[test]
    fn a_column_type_the_source_cannot_read_names_table_column_and_source() {
        let t = table(&[DataType::Int64, DataType::LargeBinary]);
        let e = BatchBuilder::new(&t, 10, "MySQL").err().unwrap();
        assert_eq!(
            e.to_string(),
            "table t, column c1: no MySQL reader for Arrow LargeBinary"
        );
    }
}

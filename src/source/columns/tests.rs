//! Unit tests of the column builder (every Arrow type, nulls) and the batch builder
//! (chunk boundaries, errors).

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
        filter: None,
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

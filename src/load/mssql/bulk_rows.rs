//! Arrow batches as SQL Server bulk-load rows: each value converted to the tiberius
//! `ColumnData` of the column type `types::mssql::ddl_type` creates.

use std::borrow::Cow;

use arrow::array::Array;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use tiberius::numeric::Numeric;
use tiberius::time::{Date, DateTime2, DateTimeOffset, Time};
use tiberius::{ColumnData, TokenRow};

use crate::error::{Error, Result};
use crate::load::columns::{ColumnReader, Float, Signed, Unsigned, Values};
use crate::types::mssql as ty;

/// Every row of a batch as bulk-load rows (values borrowed from the batch).
pub(crate) fn bulk_rows<'a>(batch: &'a RecordBatch, table: &str) -> Result<Vec<TokenRow<'a>>> {
    let schema = batch.schema();
    let cols: Vec<ColumnReader<'a>> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(a, f)| reader(a.as_ref(), f.name(), table))
        .collect::<Result<_>>()?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let mut row = TokenRow::with_capacity(cols.len());
        for (c, f) in cols.iter().zip(schema.fields()) {
            let v = value(c, i).map_err(|m| Error::value(table, f.name(), i as u64 + 1, m))?;
            row.push(v);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// A reader for one column of a batch. The same rule decides the DDL: a type without a
/// column type is refused here.
fn reader<'a>(array: &'a dyn Array, column: &str, table: &str) -> Result<ColumnReader<'a>> {
    ty::ddl_type(array.data_type()).map_err(|m| Error::column(table, column, m))?;
    match array.data_type() {
        DataType::Interval(_) => {
            ColumnReader::formatted(array).map_err(|e| Error::column(table, column, e))
        }
        _ => Ok(ColumnReader::new(array)),
    }
}

/// The value of row `i` as tiberius `ColumnData` for the column `ddl_type` creates.
fn value<'a>(c: &ColumnReader<'a>, i: usize) -> Result<ColumnData<'a>, String> {
    let null = c.is_null(i);
    Ok(match c.values() {
        Values::Boolean(a) => ColumnData::Bit((!null).then(|| a.value(i))),
        Values::Signed(Signed::Int8(a)) => ColumnData::I16((!null).then(|| a.value(i).into())),
        Values::Signed(Signed::Int16(a)) => ColumnData::I16((!null).then(|| a.value(i))),
        Values::Signed(Signed::Int32(a)) => ColumnData::I32((!null).then(|| a.value(i))),
        Values::Signed(Signed::Int64(a)) => ColumnData::I64((!null).then(|| a.value(i))),
        Values::Unsigned(Unsigned::UInt8(a)) => ColumnData::U8((!null).then(|| a.value(i))),
        Values::Unsigned(Unsigned::UInt16(a)) => {
            ColumnData::I32((!null).then(|| a.value(i).into()))
        }
        Values::Unsigned(Unsigned::UInt32(a)) => {
            ColumnData::I64((!null).then(|| a.value(i).into()))
        }
        Values::Unsigned(Unsigned::UInt64(a)) => {
            ColumnData::Numeric((!null).then(|| Numeric::new_with_scale(i128::from(a.value(i)), 0)))
        }
        Values::Float(Float::Float16(a)) => ColumnData::F32((!null).then(|| a.value(i).into())),
        Values::Float(Float::Float32(a)) => ColumnData::F32((!null).then(|| a.value(i))),
        Values::Float(Float::Float64(a)) => ColumnData::F64((!null).then(|| a.value(i))),
        Values::Decimal128(a, p, s) => {
            if null {
                ColumnData::Numeric(None)
            } else {
                let v = a.value(i);
                let (_, scale) = ty::decimal_ddl(*p, *s)?;
                let v = if *s < 0 {
                    10i128
                        .checked_pow(u32::from(s.unsigned_abs()))
                        .and_then(|f| v.checked_mul(f))
                        .ok_or_else(|| {
                            format!(
                                "{} does not fit DECIMAL(38,0)",
                                crate::types::format_decimal(v, *s)
                            )
                        })?
                } else {
                    v
                };
                ColumnData::Numeric(Some(Numeric::new_with_scale(v, scale)))
            }
        }
        Values::Text(a) => ColumnData::String((!null).then(|| Cow::Borrowed(a.value(i)))),
        Values::Binary(a) => ColumnData::Binary((!null).then(|| Cow::Borrowed(a.value(i)))),
        Values::Date(a) => ColumnData::Date(match null {
            true => None,
            false => Some(Date::new(ty::date32_to_date_days(a.days(i)?)?)),
        }),
        Values::Time(a) => ColumnData::Time(match null {
            true => None,
            false => Some(Time::new(ty::nanos_to_time7(a.nanos(i))?, 7)),
        }),
        Values::Timestamp(a) => {
            let dt2 = if null {
                None
            } else {
                let (days, inc) = ty::unit_to_datetime2(a.raw(i), a.unit())?;
                Some(DateTime2::new(Date::new(days), Time::new(inc, 7)))
            };
            if a.is_zoned() {
                // The instant, at offset +00:00.
                ColumnData::DateTimeOffset(dt2.map(|d| DateTimeOffset::new(d, 0)))
            } else {
                ColumnData::DateTime2(dt2)
            }
        }
        Values::Duration(a) => ColumnData::I64((!null).then(|| a.raw(i))),
        // Intervals, in Arrow's text form.
        Values::Formatted(f) => ColumnData::String(match null {
            false => Some(Cow::Owned(f.value(i).to_string())),
            true => None,
        }),
        Values::Null => ColumnData::String(None),
        Values::Decimal256(..) | Values::Other => {
            return Err(format!(
                "Arrow {} cannot be loaded into SQL Server",
                c.data_type()
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::mssql::sql::create_table_sql;
    use arrow::array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, DurationSecondArray,
        FixedSizeBinaryArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
        Int8Array, IntervalMonthDayNanoArray, LargeStringArray, StringArray,
        Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
        TimestampNanosecondArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
    };
    use arrow::datatypes::{Field, IntervalMonthDayNano, Schema, TimeUnit};
    use std::sync::Arc;

    /// A batch with every Arrow type the loader takes: one value row and one NULL row.
    fn every_type_batch() -> RecordBatch {
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("b", Arc::new(BooleanArray::from(vec![Some(true), None]))),
            ("i8", Arc::new(Int8Array::from(vec![Some(-8), None]))),
            ("i16", Arc::new(Int16Array::from(vec![Some(-16), None]))),
            ("i32", Arc::new(Int32Array::from(vec![Some(-32), None]))),
            (
                "i64",
                Arc::new(Int64Array::from(vec![Some(i64::MIN), None])),
            ),
            ("u8", Arc::new(UInt8Array::from(vec![Some(255), None]))),
            ("u16", Arc::new(UInt16Array::from(vec![Some(65_535), None]))),
            (
                "u32",
                Arc::new(UInt32Array::from(vec![Some(u32::MAX), None])),
            ),
            (
                "u64",
                Arc::new(UInt64Array::from(vec![Some(u64::MAX), None])),
            ),
            ("f32", Arc::new(Float32Array::from(vec![Some(1.5), None]))),
            ("f64", Arc::new(Float64Array::from(vec![Some(-2.25), None]))),
            (
                "dec",
                Arc::new(
                    Decimal128Array::from(vec![Some(-12_345), None])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("Grüße ✓"), None])),
            ),
            (
                "ls",
                Arc::new(LargeStringArray::from(vec![Some("large"), None])),
            ),
            (
                "bin",
                Arc::new(BinaryArray::from(vec![Some(&[0u8, 1, 255][..]), None])),
            ),
            (
                "fsb",
                Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        vec![Some(vec![1u8, 2]), None].into_iter(),
                        2,
                    )
                    .unwrap(),
                ),
            ),
            ("d", Arc::new(Date32Array::from(vec![Some(1), None]))),
            (
                "t_us",
                Arc::new(Time64MicrosecondArray::from(vec![
                    Some(3_600_000_001),
                    None,
                ])),
            ),
            (
                "t_ns",
                Arc::new(Time64NanosecondArray::from(vec![Some(100), None])),
            ),
            (
                "ts_us",
                Arc::new(TimestampMicrosecondArray::from(vec![Some(-1), None])),
            ),
            (
                "ts_ns",
                Arc::new(TimestampNanosecondArray::from(vec![Some(1_234_500), None])),
            ),
            (
                "tstz",
                Arc::new(TimestampMicrosecondArray::from(vec![Some(0), None]).with_timezone("UTC")),
            ),
            (
                "dur",
                Arc::new(DurationSecondArray::from(vec![Some(90), None])),
            ),
            (
                "iv",
                Arc::new(IntervalMonthDayNanoArray::from(vec![
                    Some(IntervalMonthDayNano::new(1, 2, 3_000_000_004)),
                    None,
                ])),
            ),
        ];
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            cols.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap()
    }

    fn show(v: &ColumnData<'_>) -> String {
        match v {
            ColumnData::Numeric(Some(n)) => format!("Numeric({}, scale {})", n.value(), n.scale()),
            ColumnData::Date(Some(d)) => format!("Date({})", d.days()),
            ColumnData::Time(Some(t)) => format!("Time({}, scale {})", t.increments(), t.scale()),
            ColumnData::DateTime2(Some(d)) => format!(
                "DateTime2({}, {}, scale {})",
                d.date().days(),
                d.time().increments(),
                d.time().scale()
            ),
            ColumnData::DateTimeOffset(Some(o)) => format!(
                "DateTimeOffset({}, {}, offset {})",
                o.datetime2().date().days(),
                o.datetime2().time().increments(),
                o.offset()
            ),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn arrow_to_bulk_rows_value_by_value() {
        let batch = every_type_batch();
        let rows = bulk_rows(&batch, "staging.t").unwrap();
        assert_eq!(rows.len(), 2);
        let got: Vec<String> = rows[0].iter().map(show).collect();
        let want = [
            "Bit(Some(true))",
            "I16(Some(-8))",
            "I16(Some(-16))",
            "I32(Some(-32))",
            "I64(Some(-9223372036854775808))",
            "U8(Some(255))",
            "I32(Some(65535))",
            "I64(Some(4294967295))",
            "Numeric(18446744073709551615, scale 0)",
            "F32(Some(1.5))",
            "F64(Some(-2.25))",
            "Numeric(-12345, scale 2)",
            "String(Some(\"Grüße ✓\"))",
            "String(Some(\"large\"))",
            "Binary(Some([0, 1, 255]))",
            "Binary(Some([1, 2]))",
            "Date(719163)",
            "Time(36000000010, scale 7)",
            "Time(1, scale 7)",
            "DateTime2(719161, 863999999990, scale 7)",
            "DateTime2(719162, 12345, scale 7)",
            "DateTimeOffset(719162, 0, offset 0)",
            "I64(Some(90))",
            "String(Some(\"1 mons 2 days 3.000000004 secs\"))",
        ];
        assert_eq!(got, want);
        // The NULL row keeps each column's variant.
        let nulls: Vec<String> = rows[1].iter().map(show).collect();
        assert_eq!(
            nulls,
            [
                "Bit(None)",
                "I16(None)",
                "I16(None)",
                "I32(None)",
                "I64(None)",
                "U8(None)",
                "I32(None)",
                "I64(None)",
                "Numeric(None)",
                "F32(None)",
                "F64(None)",
                "Numeric(None)",
                "String(None)",
                "String(None)",
                "Binary(None)",
                "Binary(None)",
                "Date(None)",
                "Time(None)",
                "Time(None)",
                "DateTime2(None)",
                "DateTime2(None)",
                "DateTimeOffset(None)",
                "I64(None)",
                "String(None)",
            ]
        );
        // And every column has a staging type.
        let ddl = create_table_sql("staging", "t", &batch.schema()).unwrap();
        assert!(ddl.starts_with("CREATE TABLE [staging].[t] ([b] BIT NULL, [i8] SMALLINT NULL"));
        assert!(ddl.contains("[s] NVARCHAR(MAX) NULL"));
        assert!(ddl.contains("[tstz] DATETIMEOFFSET(7) NULL"));
        assert!(!ddl.contains(" VARCHAR"));
    }

    #[test]
    fn values_sql_server_cannot_hold_are_errors_naming_the_row() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(TimestampNanosecondArray::from(vec![100, 150]))],
        )
        .unwrap();
        let e = bulk_rows(&batch, "staging.t").unwrap_err();
        assert_eq!(
            e.to_string(),
            "table staging.t, column ts, row 2: timestamp 150 ns is finer than SQL Server's 100 ns (DATETIME2(7))"
        );
        let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Date32Array::from(vec![-800_000]))])
            .unwrap();
        assert!(bulk_rows(&batch, "t")
            .unwrap_err()
            .to_string()
            .contains("outside SQL Server's DATE range"));
    }
}

//! Unit tests of the column reader: every Arrow type through its typed view, nulls, the
//! shared time conversions.

use super::*;
use arrow::array::{ArrayRef, IntervalMonthDayNanoArray, NullArray};
use arrow::datatypes::{i256, ArrowPrimitiveType, Float16Type, IntervalMonthDayNano};
use std::sync::Arc;

/// `half::f16`, named through Arrow.
type F16 = <Float16Type as ArrowPrimitiveType>::Native;

/// Every Arrow type with a typed view: one value, then a null.
fn every_type() -> Vec<ArrayRef> {
    vec![
        Arc::new(BooleanArray::from(vec![Some(true), None])),
        Arc::new(Int8Array::from(vec![Some(-8), None])),
        Arc::new(Int16Array::from(vec![Some(-16), None])),
        Arc::new(Int32Array::from(vec![Some(-32), None])),
        Arc::new(Int64Array::from(vec![Some(i64::MIN), None])),
        Arc::new(UInt8Array::from(vec![Some(u8::MAX), None])),
        Arc::new(UInt16Array::from(vec![Some(u16::MAX), None])),
        Arc::new(UInt32Array::from(vec![Some(u32::MAX), None])),
        Arc::new(UInt64Array::from(vec![Some(u64::MAX), None])),
        Arc::new(Float16Array::from(vec![Some(F16::from_f32(1.5)), None])),
        Arc::new(Float32Array::from(vec![Some(0.1f32), None])),
        Arc::new(Float64Array::from(vec![Some(-2.25), None])),
        Arc::new(
            Decimal128Array::from(vec![Some(-12_345), None])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        Arc::new(
            Decimal256Array::from(vec![Some(i256::from_i128(5)), None])
                .with_precision_and_scale(60, 1)
                .unwrap(),
        ),
        Arc::new(StringArray::from(vec![Some("utf8"), None])),
        Arc::new(LargeStringArray::from(vec![Some("large"), None])),
        Arc::new(StringViewArray::from(vec![Some("view"), None])),
        Arc::new(BinaryArray::from(vec![Some(&[1u8][..]), None])),
        Arc::new(LargeBinaryArray::from(vec![Some(&[2u8][..]), None])),
        Arc::new(BinaryViewArray::from(vec![Some(&[3u8][..]), None])),
        Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                vec![Some(vec![4u8]), None].into_iter(),
                1,
            )
            .unwrap(),
        ),
        Arc::new(Date32Array::from(vec![Some(1), None])),
        Arc::new(Date64Array::from(vec![Some(86_400_000), None])),
        Arc::new(Time32SecondArray::from(vec![Some(1), None])),
        Arc::new(Time32MillisecondArray::from(vec![Some(1), None])),
        Arc::new(Time64MicrosecondArray::from(vec![Some(1), None])),
        Arc::new(Time64NanosecondArray::from(vec![Some(1), None])),
        Arc::new(TimestampSecondArray::from(vec![Some(-1), None])),
        Arc::new(TimestampMillisecondArray::from(vec![Some(-1), None])),
        Arc::new(TimestampMicrosecondArray::from(vec![Some(-1), None]).with_timezone("UTC")),
        Arc::new(TimestampNanosecondArray::from(vec![Some(-1), None])),
        Arc::new(DurationSecondArray::from(vec![Some(-1), None])),
        Arc::new(DurationMillisecondArray::from(vec![Some(-1), None])),
        Arc::new(DurationMicrosecondArray::from(vec![Some(-1), None])),
        Arc::new(DurationNanosecondArray::from(vec![Some(-1), None])),
    ]
}

/// Row 0 through the typed getters, as text.
fn shown(r: &ColumnReader<'_>) -> String {
    match r.values() {
        Values::Boolean(a) => format!("bool {}", a.value(0)),
        Values::Signed(a) => format!("signed {}", a.value(0)),
        Values::Unsigned(a) => format!("unsigned {}", a.value(0)),
        Values::Float(a) => format!("float {:?} single {}", a.value(0), a.is_single()),
        Values::Decimal128(a, p, s) => {
            format!("decimal({p},{s}) {}", types::format_decimal(a.value(0), *s))
        }
        Values::Decimal256(a, s) => {
            format!("decimal256 {}", types::format_decimal256(a.value(0), *s))
        }
        Values::Text(a) => format!("text {}", a.value(0)),
        Values::Binary(a) => format!("binary {:?}", a.value(0)),
        Values::Date(a) => format!("date {:?} days {:?}", a.naive(0), a.days(0)),
        Values::Time(a) => format!("time {} ns nine {}", a.nanos(0), a.is_nanosecond()),
        Values::Timestamp(a) => format!(
            "timestamp {} {:?} per {} zoned {} split {:?} utc {}",
            a.raw(0),
            a.unit(),
            a.nanos_per_unit(),
            a.is_zoned(),
            a.split(0),
            {
                let (secs, nanos) = a.split(0);
                utc_datetime(secs, nanos).unwrap()
            }
        ),
        Values::Duration(a) => format!("duration {} = {} ns", a.raw(0), a.nanos(0)),
        Values::Formatted(f) => format!("formatted {}", f.value(0)),
        Values::Null => "null".into(),
        Values::Other => "other".into(),
    }
}

#[test]
fn every_type_reads_through_its_typed_view_and_nulls_show() {
    let got: Vec<String> = every_type()
        .iter()
        .map(|a| {
            let r = ColumnReader::new(a.as_ref());
            assert!(!r.is_null(0), "{}", a.data_type());
            assert!(r.is_null(1), "{}", a.data_type());
            assert_eq!(r.data_type(), a.data_type());
            shown(&r)
        })
        .collect();
    let want = [
        "bool true",
        "signed -8",
        "signed -16",
        "signed -32",
        "signed -9223372036854775808",
        "unsigned 255",
        "unsigned 65535",
        "unsigned 4294967295",
        "unsigned 18446744073709551615",
        "float 1.5 single true",
        "float 0.10000000149011612 single true",
        "float -2.25 single false",
        "decimal(10,2) -123.45",
        "decimal256 0.5",
        "text utf8",
        "text large",
        "text view",
        "binary [1]",
        "binary [2]",
        "binary [3]",
        "binary [4]",
        "date Some(1970-01-02) days Ok(1)",
        "date Some(1970-01-02) days Ok(1)",
        "time 1000000000 ns nine false",
        "time 1000000 ns nine false",
        "time 1000 ns nine false",
        "time 1 ns nine true",
        "timestamp -1 Second per 1000000000 zoned false split (-1, 0) utc 1969-12-31 23:59:59",
        "timestamp -1 Millisecond per 1000000 zoned false split (-1, 999000000) utc 1969-12-31 23:59:59.999",
        "timestamp -1 Microsecond per 1000 zoned true split (-1, 999999000) utc 1969-12-31 23:59:59.999999",
        "timestamp -1 Nanosecond per 1 zoned false split (-1, 999999999) utc 1969-12-31 23:59:59.999999999",
        "duration -1 = -1000000000 ns",
        "duration -1 = -1000000 ns",
        "duration -1 = -1000 ns",
        "duration -1 = -1 ns",
    ];
    assert_eq!(got, want);
}

#[test]
fn a_column_without_nulls_has_no_mask() {
    let a = Int32Array::from(vec![1, 2]);
    let r = ColumnReader::new(&a);
    assert!(!r.is_null(0) && !r.is_null(1));
}

#[test]
fn other_types_are_other_or_formatted() {
    let iv = IntervalMonthDayNanoArray::from(vec![
        Some(IntervalMonthDayNano::new(1, 2, 3_000_000_004)),
        None,
    ]);
    assert!(matches!(ColumnReader::new(&iv).values(), Values::Other));
    let f = ColumnReader::formatted(&iv).unwrap();
    assert_eq!(shown(&f), "formatted 1 mons 2 days 3.000000004 secs");
    assert!(f.is_null(1));
    let n = NullArray::new(2);
    let r = ColumnReader::new(&n);
    assert!(matches!(r.values(), Values::Null));
    // As `Array::is_null`: a Null array has no null mask.
    assert_eq!(r.is_null(0), n.is_null(0));
}

#[test]
fn date64_days_must_be_whole_and_in_range() {
    let a = Date64Array::from(vec![
        86_400_001,
        i64::MAX - i64::MAX % 86_400_000,
        -86_400_000,
    ]);
    let Values::Date(d) = *ColumnReader::new(&a).values() else {
        panic!("not a date")
    };
    assert_eq!(
        d.days(0).unwrap_err(),
        "Date64 value 86400001 ms is not a whole day"
    );
    assert!(d.days(1).unwrap_err().ends_with("ms is out of range"));
    assert_eq!(d.days(2), Ok(-1));
    assert_eq!(d.naive(2), NaiveDate::from_ymd_opt(1969, 12, 31));
    let far = Date32Array::from(vec![i32::MAX]);
    let Values::Date(d) = *ColumnReader::new(&far).values() else {
        panic!("not a date")
    };
    assert_eq!(d.naive(0), None);
}

#[test]
fn timestamps_split_below_the_epoch_and_out_of_range_is_an_error() {
    let a = TimestampNanosecondArray::from(vec![-1_500_000_000, 1_500_000_000]);
    let Values::Timestamp(t) = *ColumnReader::new(&a).values() else {
        panic!("not a timestamp")
    };
    assert_eq!(t.split(0), (-2, 500_000_000));
    assert_eq!(t.split(1), (1, 500_000_000));
    assert_eq!(utc_datetime(i64::MAX, 0), Err("timestamp out of range"));
}

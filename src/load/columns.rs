//! The Arrow side of the row-oriented loaders (SQLite, MySQL, SQL Server): a
//! [`ColumnReader`] per column of a batch, downcast once per batch, giving typed values
//! per row and the conversions the loaders share (integers widened, timestamps of any
//! unit split into seconds and nanoseconds, times of day in nanoseconds, dates as
//! calendar dates or days, durations in nanoseconds). Each loader keeps only how it
//! writes a value.

use arrow::array::{
    Array, AsArray, BinaryArray, BinaryViewArray, BooleanArray, Date32Array, Date64Array,
    Decimal128Array, Decimal256Array, DurationMicrosecondArray, DurationMillisecondArray,
    DurationNanosecondArray, DurationSecondArray, FixedSizeBinaryArray, Float16Array, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, LargeBinaryArray,
    LargeStringArray, StringArray, StringViewArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt16Array,
    UInt32Array, UInt64Array, UInt8Array,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, TimeUnit};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{NaiveDate, NaiveDateTime};

use crate::types;

/// One column of a batch: its null mask and its values, downcast to their Arrow type.
pub(crate) struct ColumnReader<'a> {
    array: &'a dyn Array,
    nulls: Option<&'a NullBuffer>,
    values: Values<'a>,
}

/// A column's values by kind; inside a kind, by exact Arrow type where loaders differ.
pub(crate) enum Values<'a> {
    Boolean(&'a BooleanArray),
    Signed(Signed<'a>),
    Unsigned(Unsigned<'a>),
    Float(Float<'a>),
    /// With the column's precision and scale.
    Decimal128(&'a Decimal128Array, u8, i8),
    /// With the column's scale.
    Decimal256(&'a Decimal256Array, i8),
    Text(Text<'a>),
    Binary(Binary<'a>),
    Date(Date<'a>),
    Time(Time<'a>),
    Timestamp(Timestamp<'a>),
    Duration(Duration<'a>),
    /// Arrow's own text form of every value ([`ColumnReader::formatted`]).
    Formatted(ArrayFormatter<'a>),
    /// A column of Arrow type Null.
    Null,
    /// Any other type (intervals, lists, …): the loader formats or refuses it.
    Other,
}

#[derive(Clone, Copy)]
pub(crate) enum Signed<'a> {
    Int8(&'a Int8Array),
    Int16(&'a Int16Array),
    Int32(&'a Int32Array),
    Int64(&'a Int64Array),
}

#[derive(Clone, Copy)]
pub(crate) enum Unsigned<'a> {
    UInt8(&'a UInt8Array),
    UInt16(&'a UInt16Array),
    UInt32(&'a UInt32Array),
    UInt64(&'a UInt64Array),
}

#[derive(Clone, Copy)]
pub(crate) enum Float<'a> {
    Float16(&'a Float16Array),
    Float32(&'a Float32Array),
    Float64(&'a Float64Array),
}

#[derive(Clone, Copy)]
pub(crate) enum Text<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
}

#[derive(Clone, Copy)]
pub(crate) enum Binary<'a> {
    /// Arrow Binary.
    Plain(&'a BinaryArray),
    Large(&'a LargeBinaryArray),
    View(&'a BinaryViewArray),
    FixedSize(&'a FixedSizeBinaryArray),
}

#[derive(Clone, Copy)]
pub(crate) enum Date<'a> {
    Date32(&'a Date32Array),
    Date64(&'a Date64Array),
}

#[derive(Clone, Copy)]
pub(crate) enum Time<'a> {
    Second(&'a Time32SecondArray),
    Millisecond(&'a Time32MillisecondArray),
    Microsecond(&'a Time64MicrosecondArray),
    Nanosecond(&'a Time64NanosecondArray),
}

#[derive(Clone, Copy)]
pub(crate) enum TimestampValues<'a> {
    Second(&'a TimestampSecondArray),
    Millisecond(&'a TimestampMillisecondArray),
    Microsecond(&'a TimestampMicrosecondArray),
    Nanosecond(&'a TimestampNanosecondArray),
}

/// A timestamp column of any unit.
#[derive(Clone, Copy)]
pub(crate) struct Timestamp<'a> {
    values: TimestampValues<'a>,
    unit: TimeUnit,
    /// Nanoseconds in one unit.
    per: i64,
    zoned: bool,
}

#[derive(Clone, Copy)]
pub(crate) enum Duration<'a> {
    Second(&'a DurationSecondArray),
    Millisecond(&'a DurationMillisecondArray),
    Microsecond(&'a DurationMicrosecondArray),
    Nanosecond(&'a DurationNanosecondArray),
}

impl<'a> ColumnReader<'a> {
    /// Downcasts `array` by its Arrow type; a type without a typed view is
    /// [`Values::Other`].
    pub(crate) fn new(array: &'a dyn Array) -> ColumnReader<'a> {
        let a = array;
        let values = match a.data_type() {
            DataType::Boolean => Values::Boolean(a.as_boolean()),
            DataType::Int8 => Values::Signed(Signed::Int8(a.as_primitive())),
            DataType::Int16 => Values::Signed(Signed::Int16(a.as_primitive())),
            DataType::Int32 => Values::Signed(Signed::Int32(a.as_primitive())),
            DataType::Int64 => Values::Signed(Signed::Int64(a.as_primitive())),
            DataType::UInt8 => Values::Unsigned(Unsigned::UInt8(a.as_primitive())),
            DataType::UInt16 => Values::Unsigned(Unsigned::UInt16(a.as_primitive())),
            DataType::UInt32 => Values::Unsigned(Unsigned::UInt32(a.as_primitive())),
            DataType::UInt64 => Values::Unsigned(Unsigned::UInt64(a.as_primitive())),
            DataType::Float16 => Values::Float(Float::Float16(a.as_primitive())),
            DataType::Float32 => Values::Float(Float::Float32(a.as_primitive())),
            DataType::Float64 => Values::Float(Float::Float64(a.as_primitive())),
            DataType::Decimal128(p, s) => Values::Decimal128(a.as_primitive(), *p, *s),
            DataType::Decimal256(_, s) => Values::Decimal256(a.as_primitive(), *s),
            DataType::Utf8 => Values::Text(Text::Utf8(a.as_string())),
            DataType::LargeUtf8 => Values::Text(Text::LargeUtf8(a.as_string())),
            DataType::Utf8View => Values::Text(Text::Utf8View(a.as_string_view())),
            DataType::Binary => Values::Binary(Binary::Plain(a.as_binary())),
            DataType::LargeBinary => Values::Binary(Binary::Large(a.as_binary())),
            DataType::BinaryView => Values::Binary(Binary::View(a.as_binary_view())),
            DataType::FixedSizeBinary(_) => {
                Values::Binary(Binary::FixedSize(a.as_fixed_size_binary()))
            }
            DataType::Date32 => Values::Date(Date::Date32(a.as_primitive())),
            DataType::Date64 => Values::Date(Date::Date64(a.as_primitive())),
            DataType::Time32(TimeUnit::Second) => Values::Time(Time::Second(a.as_primitive())),
            DataType::Time32(TimeUnit::Millisecond) => {
                Values::Time(Time::Millisecond(a.as_primitive()))
            }
            DataType::Time64(TimeUnit::Microsecond) => {
                Values::Time(Time::Microsecond(a.as_primitive()))
            }
            DataType::Time64(TimeUnit::Nanosecond) => {
                Values::Time(Time::Nanosecond(a.as_primitive()))
            }
            DataType::Timestamp(unit, tz) => Values::Timestamp(Timestamp {
                values: match unit {
                    TimeUnit::Second => TimestampValues::Second(a.as_primitive()),
                    TimeUnit::Millisecond => TimestampValues::Millisecond(a.as_primitive()),
                    TimeUnit::Microsecond => TimestampValues::Microsecond(a.as_primitive()),
                    TimeUnit::Nanosecond => TimestampValues::Nanosecond(a.as_primitive()),
                },
                unit: *unit,
                per: types::nanos_per(unit),
                zoned: tz.is_some(),
            }),
            DataType::Duration(unit) => Values::Duration(match unit {
                TimeUnit::Second => Duration::Second(a.as_primitive()),
                TimeUnit::Millisecond => Duration::Millisecond(a.as_primitive()),
                TimeUnit::Microsecond => Duration::Microsecond(a.as_primitive()),
                TimeUnit::Nanosecond => Duration::Nanosecond(a.as_primitive()),
            }),
            DataType::Null => Values::Null,
            _ => Values::Other,
        };
        ColumnReader {
            array,
            nulls: array.nulls(),
            values,
        }
    }

    /// Reads every value of `array` in Arrow's own text form.
    pub(crate) fn formatted(array: &'a dyn Array) -> Result<ColumnReader<'a>, ArrowError> {
        Ok(ColumnReader {
            array,
            nulls: array.nulls(),
            values: Values::Formatted(ArrayFormatter::try_new(array, &FormatOptions::default())?),
        })
    }

    /// Whether row `i` is null (by the array's null mask, as `Array::is_null`).
    #[inline]
    pub(crate) fn is_null(&self, i: usize) -> bool {
        self.nulls.is_some_and(|n| n.is_null(i))
    }

    #[inline]
    pub(crate) fn values(&self) -> &Values<'a> {
        &self.values
    }

    pub(crate) fn data_type(&self) -> &'a DataType {
        self.array.data_type()
    }
}

impl Signed<'_> {
    #[inline]
    pub(crate) fn value(self, i: usize) -> i64 {
        match self {
            Signed::Int8(a) => i64::from(a.value(i)),
            Signed::Int16(a) => i64::from(a.value(i)),
            Signed::Int32(a) => i64::from(a.value(i)),
            Signed::Int64(a) => a.value(i),
        }
    }
}

impl Unsigned<'_> {
    #[inline]
    pub(crate) fn value(self, i: usize) -> u64 {
        match self {
            Unsigned::UInt8(a) => u64::from(a.value(i)),
            Unsigned::UInt16(a) => u64::from(a.value(i)),
            Unsigned::UInt32(a) => u64::from(a.value(i)),
            Unsigned::UInt64(a) => a.value(i),
        }
    }
}

impl Float<'_> {
    #[inline]
    pub(crate) fn value(self, i: usize) -> f64 {
        match self {
            Float::Float16(a) => f64::from(a.value(i)),
            Float::Float32(a) => f64::from(a.value(i)),
            Float::Float64(a) => a.value(i),
        }
    }

    /// Half or single precision (a value shown as `f32` keeps its shortest form).
    #[inline]
    pub(crate) fn is_single(self) -> bool {
        !matches!(self, Float::Float64(_))
    }
}

impl<'a> Text<'a> {
    #[inline]
    pub(crate) fn value(self, i: usize) -> &'a str {
        match self {
            Text::Utf8(a) => a.value(i),
            Text::LargeUtf8(a) => a.value(i),
            Text::Utf8View(a) => a.value(i),
        }
    }
}

impl<'a> Binary<'a> {
    #[inline]
    pub(crate) fn value(self, i: usize) -> &'a [u8] {
        match self {
            Binary::Plain(a) => a.value(i),
            Binary::Large(a) => a.value(i),
            Binary::View(a) => a.value(i),
            Binary::FixedSize(a) => a.value(i),
        }
    }
}

impl Date<'_> {
    /// The calendar date; `None` outside chrono's range.
    #[inline]
    pub(crate) fn naive(self, i: usize) -> Option<NaiveDate> {
        match self {
            Date::Date32(a) => types::days_to_date(a.value(i)),
            Date::Date64(a) => {
                chrono::DateTime::from_timestamp_millis(a.value(i)).map(|d| d.date_naive())
            }
        }
    }

    /// Days since 1970-01-01; a Date64 value must be a whole day.
    #[inline]
    pub(crate) fn days(self, i: usize) -> Result<i32, String> {
        match self {
            Date::Date32(a) => Ok(a.value(i)),
            Date::Date64(a) => {
                let ms = a.value(i);
                if ms % 86_400_000 != 0 {
                    return Err(format!("Date64 value {ms} ms is not a whole day"));
                }
                i32::try_from(ms / 86_400_000)
                    .map_err(|_| format!("Date64 value {ms} ms is out of range"))
            }
        }
    }
}

impl Time<'_> {
    /// Nanoseconds since midnight.
    #[inline]
    pub(crate) fn nanos(self, i: usize) -> i64 {
        match self {
            Time::Second(a) => i64::from(a.value(i)) * 1_000_000_000,
            Time::Millisecond(a) => i64::from(a.value(i)) * 1_000_000,
            Time::Microsecond(a) => a.value(i) * 1_000,
            Time::Nanosecond(a) => a.value(i),
        }
    }

    /// The column keeps nanoseconds (Time64(ns)).
    pub(crate) fn is_nanosecond(self) -> bool {
        matches!(self, Time::Nanosecond(_))
    }
}

impl Timestamp<'_> {
    /// The raw value in the column's own unit.
    #[inline]
    pub(crate) fn raw(&self, i: usize) -> i64 {
        match self.values {
            TimestampValues::Second(a) => a.value(i),
            TimestampValues::Millisecond(a) => a.value(i),
            TimestampValues::Microsecond(a) => a.value(i),
            TimestampValues::Nanosecond(a) => a.value(i),
        }
    }

    pub(crate) fn unit(&self) -> TimeUnit {
        self.unit
    }

    /// Nanoseconds in one unit of the column.
    pub(crate) fn nanos_per_unit(&self) -> i64 {
        self.per
    }

    /// The column has a time zone: its values are instants.
    pub(crate) fn is_zoned(&self) -> bool {
        self.zoned
    }

    /// Whole seconds since the epoch (rounded down) and the nanoseconds past them.
    #[inline]
    pub(crate) fn split(&self, i: usize) -> (i64, u32) {
        let per_second = 1_000_000_000 / self.per;
        let raw = self.raw(i);
        (
            raw.div_euclid(per_second),
            (raw.rem_euclid(per_second) * self.per) as u32,
        )
    }
}

/// The UTC date and time of `secs` since the epoch plus `nanos`.
#[inline]
pub(crate) fn utc_datetime(secs: i64, nanos: u32) -> Result<NaiveDateTime, &'static str> {
    chrono::DateTime::from_timestamp(secs, nanos)
        .map(|d| d.naive_utc())
        .ok_or("timestamp out of range")
}

impl Duration<'_> {
    /// The raw value in the column's own unit.
    #[inline]
    pub(crate) fn raw(self, i: usize) -> i64 {
        match self {
            Duration::Second(a) => a.value(i),
            Duration::Millisecond(a) => a.value(i),
            Duration::Microsecond(a) => a.value(i),
            Duration::Nanosecond(a) => a.value(i),
        }
    }

    /// The signed span in nanoseconds.
    #[inline]
    pub(crate) fn nanos(self, i: usize) -> i128 {
        match self {
            Duration::Second(a) => i128::from(a.value(i)) * 1_000_000_000,
            Duration::Millisecond(a) => i128::from(a.value(i)) * 1_000_000,
            Duration::Microsecond(a) => i128::from(a.value(i)) * 1_000,
            Duration::Nanosecond(a) => i128::from(a.value(i)),
        }
    }
}

#[cfg(test)]
mod tests {
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
}

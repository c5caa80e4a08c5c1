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
mod tests;

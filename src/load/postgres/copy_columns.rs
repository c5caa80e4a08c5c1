//! One column of a binary COPY load: how each Arrow type is encoded (chosen once per
//! column, `col_enc`) and each value written in its PostgreSQL type's binary form.

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array,
    FixedSizeBinaryArray, Float32Array, Float64Array, GenericListArray, Int16Array, Int32Array,
    Int64Array, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    DataType, Date64Type, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, Field, Float16Type, Int8Type, IntervalDayTimeType,
    IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt8Type,
};

use crate::types::postgres::{self as pgt, Special};

/// How a text column is sent: as text, or parsed into a PostgreSQL type's binary form.
#[derive(Debug, Clone, Copy)]
pub(super) enum TextAs {
    Text,
    Jsonb,
    Numeric,
    Interval,
    Timetz,
    Inet(bool),
    Mac(usize),
}

/// Reads (months, days, µs) of value `i`, or an error text.
type IntervalGet = fn(&dyn Array, usize) -> Result<(i32, i32, i64), String>;

/// The common types are read from their typed arrays (`I64`, `Str`, …), the rarer ones
/// through a getter per type (`Int`, `Text`, …).
pub(super) enum Enc<'a> {
    Null,
    Bool(&'a BooleanArray),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
    /// Utf8 text; whether the batch's values hold a NUL anywhere (else none is looked for).
    Str(&'a StringArray, TextAs, bool),
    Binary(&'a BinaryArray),
    Fixed(&'a FixedSizeBinaryArray),
    Date32(&'a Date32Array),
    TsMicros(&'a TimestampMicrosecondArray),
    /// Value getter and the PostgreSQL width (2, 4 or 8 bytes).
    Int(fn(&dyn Array, usize) -> i64, usize),
    U64(&'a UInt64Array),
    /// Float16, sent as `real`.
    F16(fn(&dyn Array, usize) -> f32),
    Dec128(&'a Decimal128Array, i8),
    Dec256(&'a Decimal256Array, i8),
    Text(fn(&dyn Array, usize) -> &str, TextAs),
    Bytes(fn(&dyn Array, usize) -> &[u8]),
    /// Days since 1970-01-01, or an error text.
    Date(fn(&dyn Array, usize) -> Result<i32, String>),
    /// Microseconds (since midnight / since 1970-01-01), or an error text.
    Time(fn(&dyn Array, usize) -> Result<i64, String>),
    Timestamp(fn(&dyn Array, usize) -> Result<i64, String>),
    /// (months, days, µs).
    Interval(IntervalGet),
    List32(&'a GenericListArray<i32>, Box<ColEnc<'a>>, u32),
    List64(&'a GenericListArray<i64>, Box<ColEnc<'a>>, u32),
}

pub(super) struct ColEnc<'a> {
    arr: &'a dyn Array,
    pub(super) nulls: Option<&'a NullBuffer>,
    pub(super) enc: Enc<'a>,
}

macro_rules! prim {
    ($t:ty, $conv:expr) => {
        |a: &dyn Array, i: usize| $conv(a.as_primitive::<$t>().value(i))
    };
}

fn exact_div(v: i64, by: i64, what: &str) -> Result<i64, String> {
    if v % by == 0 {
        Ok(v / by)
    } else {
        Err(format!(
            "{what} has sub-microsecond digits, which PostgreSQL cannot store"
        ))
    }
}

fn to_micros(v: i64, unit: TimeUnit, what: &str) -> Result<i64, String> {
    match unit {
        TimeUnit::Second => v
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("{what} out of range")),
        TimeUnit::Millisecond => v
            .checked_mul(1_000)
            .ok_or_else(|| format!("{what} out of range")),
        TimeUnit::Microsecond => Ok(v),
        TimeUnit::Nanosecond => exact_div(v, 1_000, what),
    }
}

/// A column's encoder and the OID of its PostgreSQL type (for array elements).
pub(super) fn col_enc<'a>(
    a: &'a dyn Array,
    special: Option<Special>,
) -> Result<(ColEnc<'a>, u32), String> {
    use DataType as T;
    let text_as = |sp: Option<Special>| match sp {
        Some(Special::Jsonb) => (TextAs::Jsonb, 3802),
        Some(Special::Json) => (TextAs::Text, 114),
        Some(Special::Xml) => (TextAs::Text, 142),
        Some(Special::Numeric) => (TextAs::Numeric, 1700),
        Some(Special::Interval) => (TextAs::Interval, 1186),
        Some(Special::Timetz) => (TextAs::Timetz, 1266),
        Some(Special::Inet) => (TextAs::Inet(false), 869),
        Some(Special::Cidr) => (TextAs::Inet(true), 650),
        Some(Special::Macaddr) => (TextAs::Mac(6), 829),
        Some(Special::Macaddr8) => (TextAs::Mac(8), 774),
        _ => (TextAs::Text, 25),
    };
    let (enc, oid) = match a.data_type() {
        T::Null => (Enc::Null, 25),
        T::Boolean => (Enc::Bool(a.as_boolean()), 16),
        T::Int8 => (Enc::Int(prim!(Int8Type, i64::from), 2), 21),
        T::Int16 => (Enc::I16(a.as_primitive()), 21),
        T::UInt8 => (Enc::Int(prim!(UInt8Type, i64::from), 2), 21),
        T::Int32 => (Enc::I32(a.as_primitive()), 23),
        T::UInt16 => (Enc::Int(prim!(UInt16Type, i64::from), 4), 23),
        T::Int64 => (Enc::I64(a.as_primitive()), 20),
        T::UInt32 => (Enc::Int(prim!(UInt32Type, i64::from), 8), 20),
        T::UInt64 => (Enc::U64(a.as_primitive()), 1700),
        T::Float16 => (Enc::F16(prim!(Float16Type, f32::from)), 700),
        T::Float32 => (Enc::F32(a.as_primitive()), 700),
        T::Float64 => (Enc::F64(a.as_primitive()), 701),
        T::Decimal128(_, s) => (Enc::Dec128(a.as_primitive(), *s), 1700),
        T::Decimal256(_, s) => (Enc::Dec256(a.as_primitive(), *s), 1700),
        T::Utf8 => {
            let (t, oid) = text_as(special);
            let s = a.as_string::<i32>();
            (Enc::Str(s, t, holds_nul(s)), oid)
        }
        T::LargeUtf8 => {
            let (t, oid) = text_as(special);
            (Enc::Text(|a, i| a.as_string::<i64>().value(i), t), oid)
        }
        T::Utf8View => {
            let (t, oid) = text_as(special);
            (Enc::Text(|a, i| a.as_string_view().value(i), t), oid)
        }
        T::Binary => (Enc::Binary(a.as_binary()), 17),
        T::LargeBinary => (Enc::Bytes(|a, i| a.as_binary::<i64>().value(i)), 17),
        T::BinaryView => (Enc::Bytes(|a, i| a.as_binary_view().value(i)), 17),
        T::FixedSizeBinary(n) => (
            Enc::Fixed(a.as_fixed_size_binary()),
            if *n == 16 && special == Some(Special::Uuid) {
                2950
            } else {
                17
            },
        ),
        T::Date32 => (Enc::Date32(a.as_primitive()), 1082),
        T::Date64 => (
            Enc::Date(|a, i| {
                let ms = a.as_primitive::<Date64Type>().value(i);
                exact_div(ms, 86_400_000, "a Date64 value (not a whole day)")
                    .and_then(|d| i32::try_from(d).map_err(|_| "date out of range".into()))
            }),
            1082,
        ),
        T::Time32(TimeUnit::Second) => (
            Enc::Time(prim!(Time32SecondType, |v| Ok(i64::from(v) * 1_000_000))),
            1083,
        ),
        T::Time32(_) => (
            Enc::Time(prim!(Time32MillisecondType, |v| Ok(i64::from(v) * 1_000))),
            1083,
        ),
        T::Time64(TimeUnit::Nanosecond) => (
            Enc::Time(prim!(Time64NanosecondType, |v| exact_div(
                v, 1_000, "a time"
            ))),
            1083,
        ),
        T::Time64(_) => (Enc::Time(prim!(Time64MicrosecondType, Ok)), 1083),
        T::Timestamp(unit, tz) => {
            let f: fn(&dyn Array, usize) -> Result<i64, String> = match unit {
                TimeUnit::Second => prim!(TimestampSecondType, |v| to_micros(
                    v,
                    TimeUnit::Second,
                    "a timestamp"
                )),
                TimeUnit::Millisecond => prim!(TimestampMillisecondType, |v| to_micros(
                    v,
                    TimeUnit::Millisecond,
                    "a timestamp"
                )),
                TimeUnit::Microsecond => {
                    let oid = if tz.is_some() { 1184 } else { 1114 };
                    return Ok((ColEnc::new(a, Enc::TsMicros(a.as_primitive())), oid));
                }
                TimeUnit::Nanosecond => prim!(TimestampNanosecondType, |v| to_micros(
                    v,
                    TimeUnit::Nanosecond,
                    "a timestamp"
                )),
            };
            (Enc::Timestamp(f), if tz.is_some() { 1184 } else { 1114 })
        }
        T::Interval(IntervalUnit::YearMonth) => (
            Enc::Interval(prim!(IntervalYearMonthType, |m| Ok((m, 0, 0)))),
            1186,
        ),
        T::Interval(IntervalUnit::DayTime) => (
            Enc::Interval(|a, i| {
                let v = a.as_primitive::<IntervalDayTimeType>().value(i);
                Ok((0, v.days, i64::from(v.milliseconds) * 1_000))
            }),
            1186,
        ),
        T::Interval(IntervalUnit::MonthDayNano) => (
            Enc::Interval(|a, i| {
                let v = a.as_primitive::<IntervalMonthDayNanoType>().value(i);
                Ok((
                    v.months,
                    v.days,
                    exact_div(v.nanoseconds, 1_000, "an interval")?,
                ))
            }),
            1186,
        ),
        T::Duration(unit) => {
            let f: IntervalGet = match unit {
                TimeUnit::Second => prim!(DurationSecondType, |v| Ok((
                    0,
                    0,
                    to_micros(v, TimeUnit::Second, "a duration")?
                ))),
                TimeUnit::Millisecond => prim!(DurationMillisecondType, |v| Ok((
                    0,
                    0,
                    to_micros(v, TimeUnit::Millisecond, "a duration")?
                ))),
                TimeUnit::Microsecond => prim!(DurationMicrosecondType, |v| Ok((0, 0, v))),
                TimeUnit::Nanosecond => prim!(DurationNanosecondType, |v| Ok((
                    0,
                    0,
                    to_micros(v, TimeUnit::Nanosecond, "a duration")?
                ))),
            };
            (Enc::Interval(f), 1186)
        }
        T::List(_) => {
            let l = a.as_list::<i32>();
            let (item, oid) = col_enc(l.values().as_ref(), special)?;
            if matches!(item.enc, Enc::List32(..) | Enc::List64(..)) {
                return Err("nested lists cannot be staged as PostgreSQL arrays".into());
            }
            (Enc::List32(l, Box::new(item), oid), 0)
        }
        T::LargeList(_) => {
            let l = a.as_list::<i64>();
            let (item, oid) = col_enc(l.values().as_ref(), special)?;
            if matches!(item.enc, Enc::List32(..) | Enc::List64(..)) {
                return Err("nested lists cannot be staged as PostgreSQL arrays".into());
            }
            (Enc::List64(l, Box::new(item), oid), 0)
        }
        other => return Err(format!("Arrow {other} cannot be loaded into PostgreSQL")),
    };
    Ok((ColEnc::new(a, enc), oid))
}

/// Whether any value of a text column holds a NUL (one scan of its bytes per batch; only
/// then is each value looked at).
fn holds_nul(s: &StringArray) -> bool {
    let offsets = s.value_offsets();
    let (first, last) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
    s.value_data()[first..last].contains(&0)
}

pub(super) fn check_encodable(f: &Field) -> Result<(), String> {
    let empty = arrow::array::new_empty_array(f.data_type());
    col_enc(empty.as_ref(), pgt::special_for(f).map(|(s, _)| s)).map(|_| ())
}

fn put_len(out: &mut [u8], at: usize) -> Result<(), String> {
    let len = out.len() - at - 4;
    let len = i32::try_from(len).map_err(|_| "a value larger than 2 GiB".to_string())?;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Appends text bytes, NUL characters stripped; whether any were.
fn put_text(out: &mut Vec<u8>, s: &str) -> bool {
    let b = s.as_bytes();
    if b.contains(&0) {
        out.extend(b.iter().copied().filter(|&c| c != 0));
        true
    } else {
        out.extend_from_slice(b);
        false
    }
}

impl<'a> ColEnc<'a> {
    fn new(arr: &'a dyn Array, enc: Enc<'a>) -> Self {
        ColEnc {
            arr,
            nulls: arr.nulls(),
            enc,
        }
    }

    #[inline]
    pub(super) fn is_null(&self, i: usize) -> bool {
        matches!(self.enc, Enc::Null) || self.nulls.is_some_and(|n| n.is_null(i))
    }

    /// Appends field `i`: its length and value, or -1 for NULL.
    pub(super) fn write(&self, i: usize, out: &mut Vec<u8>, nuls: &mut u64) -> Result<(), String> {
        if self.is_null(i) {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            return Ok(());
        }
        // Fixed-width values: the length and the value in one go.
        let fixed = |out: &mut Vec<u8>, v: &[u8]| {
            out.extend_from_slice(&(v.len() as i32).to_be_bytes());
            out.extend_from_slice(v);
        };
        match &self.enc {
            Enc::I16(a) => fixed(out, &a.value(i).to_be_bytes()),
            Enc::I32(a) => fixed(out, &a.value(i).to_be_bytes()),
            Enc::I64(a) => fixed(out, &a.value(i).to_be_bytes()),
            Enc::F32(a) => fixed(out, &a.value(i).to_bits().to_be_bytes()),
            Enc::F64(a) => fixed(out, &a.value(i).to_bits().to_be_bytes()),
            Enc::Date32(a) => fixed(out, &pgt::days_to_pg_date(a.value(i))?.to_be_bytes()),
            Enc::TsMicros(a) => fixed(out, &pgt::unix_to_pg_timestamp(a.value(i))?.to_be_bytes()),
            Enc::Bool(b) => fixed(out, &[u8::from(b.value(i))]),
            _ => return self.write_sized(i, out, nuls),
        }
        Ok(())
    }

    /// Appends non-NULL field `i` of a type whose length is known once it is written.
    fn write_sized(&self, i: usize, out: &mut Vec<u8>, nuls: &mut u64) -> Result<(), String> {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        let a = self.arr;
        match &self.enc {
            Enc::Null
            | Enc::Bool(_)
            | Enc::I16(_)
            | Enc::I32(_)
            | Enc::I64(_)
            | Enc::F32(_)
            | Enc::F64(_)
            | Enc::Date32(_)
            | Enc::TsMicros(_) => {}
            Enc::Str(s, how, may_hold_nul) => {
                let s = s.value(i);
                match how {
                    TextAs::Text if !may_hold_nul => out.extend_from_slice(s.as_bytes()),
                    TextAs::Jsonb if !may_hold_nul => {
                        out.push(1);
                        out.extend_from_slice(s.as_bytes());
                    }
                    _ => write_text(s, *how, out, nuls)?,
                }
            }
            Enc::Binary(b) => out.extend_from_slice(b.value(i)),
            Enc::Fixed(b) => out.extend_from_slice(b.value(i)),
            Enc::Int(get, width) => {
                let v = get(a, i);
                match width {
                    2 => out.extend_from_slice(&(v as i16).to_be_bytes()),
                    4 => out.extend_from_slice(&(v as i32).to_be_bytes()),
                    _ => out.extend_from_slice(&v.to_be_bytes()),
                }
            }
            Enc::U64(u) => pgt::encode_numeric_unscaled(false, &u.value(i).to_string(), 0, out),
            Enc::F16(get) => out.extend_from_slice(&get(a, i).to_bits().to_be_bytes()),
            Enc::Dec128(d, s) => {
                pgt::encode_numeric_i128(d.value(i), *s, out);
            }
            Enc::Dec256(d, s) => {
                let text = d.value(i).to_string();
                let (neg, mag) = match text.strip_prefix('-') {
                    Some(m) => (true, m),
                    None => (false, text.as_str()),
                };
                pgt::encode_numeric_unscaled(neg, mag, *s, out);
            }
            Enc::Text(get, how) => write_text(get(a, i), *how, out, nuls)?,
            Enc::Bytes(get) => out.extend_from_slice(get(a, i)),
            Enc::Date(get) => {
                out.extend_from_slice(&pgt::days_to_pg_date(get(a, i)?)?.to_be_bytes())
            }
            Enc::Time(get) => out.extend_from_slice(&get(a, i)?.to_be_bytes()),
            Enc::Timestamp(get) => {
                out.extend_from_slice(&pgt::unix_to_pg_timestamp(get(a, i)?)?.to_be_bytes())
            }
            Enc::Interval(get) => {
                let (m, d, us) = get(a, i)?;
                put_interval(out, m, d, us);
            }
            Enc::List32(l, item, oid) => {
                let offs = l.value_offsets();
                write_array(
                    item,
                    offs[i] as usize,
                    offs[i + 1] as usize,
                    *oid,
                    out,
                    nuls,
                )?;
            }
            Enc::List64(l, item, oid) => {
                let offs = l.value_offsets();
                write_array(
                    item,
                    offs[i] as usize,
                    offs[i + 1] as usize,
                    *oid,
                    out,
                    nuls,
                )?;
            }
        }
        put_len(out, at)
    }
}

/// Appends text value `s` as `how` says (NULs stripped from text and counted in `nuls`).
fn write_text(s: &str, how: TextAs, out: &mut Vec<u8>, nuls: &mut u64) -> Result<(), String> {
    match how {
        TextAs::Text => *nuls += u64::from(put_text(out, s)),
        TextAs::Jsonb => {
            out.push(1);
            *nuls += u64::from(put_text(out, s));
        }
        TextAs::Numeric => pgt::encode_numeric_text(s, out)?,
        TextAs::Interval => {
            let (m, d, us) = pgt::parse_interval_text(s)?;
            put_interval(out, m, d, us);
        }
        TextAs::Timetz => {
            let (us, zone) = pgt::parse_timetz(s)?;
            out.extend_from_slice(&us.to_be_bytes());
            out.extend_from_slice(&zone.to_be_bytes());
        }
        TextAs::Inet(cidr) => pgt::encode_inet(s, cidr, out)?,
        TextAs::Mac(n) => pgt::encode_mac(s, n, out)?,
    }
    Ok(())
}

fn put_interval(out: &mut Vec<u8>, months: i32, days: i32, micros: i64) {
    out.extend_from_slice(&micros.to_be_bytes());
    out.extend_from_slice(&days.to_be_bytes());
    out.extend_from_slice(&months.to_be_bytes());
}

fn write_array(
    item: &ColEnc<'_>,
    start: usize,
    end: usize,
    oid: u32,
    out: &mut Vec<u8>,
    nuls: &mut u64,
) -> Result<(), String> {
    let has_null = (start..end).any(|j| item.is_null(j));
    pgt::encode_array_header(end - start, has_null, oid, out);
    for j in start..end {
        item.write(j, out, nuls)?;
    }
    Ok(())
}

//! CONNECTORX mode's column adaptation: which columns are selected as text, and how each
//! ConnectorX column becomes exactly the Arrow type our catalog fixed (or an error).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, TimeUnit};

use super::text_fast;
use crate::dialect::Dialect;
use crate::types;

/// Character types whose values ConnectorX reads as the same text our readers produce.
pub(super) fn plain_string(source_type: &str) -> bool {
    let t = source_type.trim().to_ascii_lowercase();
    [
        "char",
        "character",
        "varchar",
        "character varying",
        "text",
        "bpchar",
        "name",
        "tinytext",
        "mediumtext",
        "longtext",
        "nchar",
        "nvarchar",
    ]
    .iter()
    .any(|p| t == *p || t.starts_with(&format!("{p}(")) || t.starts_with(&format!("{p} (")))
}

/// A PostgreSQL `interval` column: DUMP stages it as ISO 8601 text, which ConnectorX's own
/// reading (the session's IntervalStyle) does not give.
pub(super) fn pg_interval(d: Dialect, source_type: &str) -> bool {
    d == Dialect::Postgres
        && source_type
            .trim()
            .to_ascii_lowercase()
            .starts_with("interval")
}

/// The select expression of an interval column: its months, days and microseconds as
/// `"m d µs"` text (exact: `extract` is numeric since PostgreSQL 14).
pub(super) fn interval_parts(column: &str) -> String {
    let q = Dialect::Postgres.quote(column);
    format!(
        "((extract(year from {q}) * 12 + extract(month from {q}))::int)::text || ' ' || \
         (extract(day from {q})::int)::text || ' ' || \
         (((extract(hour from {q}) * 3600 + extract(minute from {q}) * 60) * 1000000 + extract(microseconds from {q}))::bigint)::text AS {q}"
    )
}

/// `"m d µs"` text (from [`interval_parts`]) as the ISO 8601 text DUMP stages.
pub(super) fn interval_iso(col: &ArrayRef) -> std::result::Result<ArrayRef, (usize, String)> {
    let text = cast_with_options(col, &DataType::Utf8, &CastOptions::default())
        .map_err(|e| (0, e.to_string()))?;
    let text = text.as_string::<i32>();
    let mut out = arrow::array::StringBuilder::with_capacity(text.len(), text.len() * 16);
    for i in 0..text.len() {
        if text.is_null(i) {
            out.append_null();
            continue;
        }
        let t = text.value(i);
        let bad = || (i, format!("\"{t}\" is not months, days and microseconds"));
        let mut parts = t.split(' ');
        let months: i32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let days: i32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let micros: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        out.append_value(crate::types::postgres::interval_to_text(
            months, days, micros,
        ));
    }
    Ok(Arc::new(out.finish()))
}

pub(super) fn text_cast(d: Dialect, column: &str) -> String {
    let q = d.quote(column);
    match d {
        Dialect::Mysql => format!("CAST({q} AS CHAR) AS {q}"),
        _ => format!("CAST({q} AS TEXT) AS {q}"),
    }
}

/// Converts one ConnectorX column to our type; on failure, the 0-based row and why.
///
/// Identical types pass. Conversions that may lose (narrower integers, coarser time units,
/// Date64 → Date32) are made strictly and proven by converting back to the same values.
/// Text is parsed by our exact parsers; a float bound for a decimal goes through its
/// shortest round-trip text, the same rule as the native SQLite reader (ConnectorX meets a
/// float only where SQLite itself stored a REAL). Anything else is an error.
pub(super) fn adapt(
    col: &ArrayRef,
    ours: &DataType,
) -> std::result::Result<ArrayRef, (usize, String)> {
    use DataType::*;
    let theirs = col.data_type();
    if theirs == ours {
        return Ok(col.clone());
    }
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let text_like = matches!(theirs, Utf8 | LargeUtf8 | Utf8View);
    match (theirs, ours) {
        (Int8 | Int16 | Int32 | Int64, Boolean) => int_to_bool(col),
        // ConnectorX widens float4/FLOAT to f64; every f32 is exact in f64, so a value
        // that is not an f32 was never one (an error, not a rounding).
        (Float64, Float32) => f64_to_f32(col),
        // MySQL BIT(n): ConnectorX hands over the big-endian bytes, as the server sends them.
        (Binary | LargeBinary | BinaryView, UInt64) => bits_to_u64(col),
        (Float32 | Float64, Decimal128(p, s)) => {
            let f = cast_with_options(col, &Float64, &strict).map_err(|e| (0, e.to_string()))?;
            let f = f.as_primitive::<arrow::datatypes::Float64Type>();
            let text: StringArray = (0..f.len())
                .map(|i| (!f.is_null(i)).then(|| format!("{:?}", f.value(i))))
                .collect();
            parse_text(&text, &Decimal128(*p, *s))
        }
        (Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64, Decimal128(..))
        | (_, Utf8)
            if !text_like =>
        {
            let text = cast_with_options(col, &Utf8, &strict).map_err(|e| (0, e.to_string()))?;
            let text = text.as_any().downcast_ref::<StringArray>().ok_or((0, "not text".to_string()))?;
            parse_text(text, ours)
        }
        _ if text_like => {
            let text = cast_with_options(col, &Utf8, &strict).map_err(|e| (0, e.to_string()))?;
            let text = text.as_any().downcast_ref::<StringArray>().ok_or((0, "not text".to_string()))?;
            parse_text(text, ours)
        }
        (Int8 | Int16 | Int32 | Int64, Int8 | Int16 | Int32 | Int64)
        | (LargeBinary | BinaryView, Binary)
        | (Float32, Float64)
        | (Date64, Date32)
        | (Time32(_) | Time64(_), Time64(_))
        | (Timestamp(..), Timestamp(..))
        | (Date64, Timestamp(..)) => {
            let out = cast_with_options(col, ours, &strict).map_err(|e| (0, e.to_string()))?;
            // Prove the conversion lost nothing: it must convert back to the same values.
            let back = cast_with_options(&out, theirs, &strict).map_err(|e| (0, e.to_string()))?;
            if back.as_ref() != col.as_ref() {
                let row = (0..col.len())
                    .find(|&i| back.slice(i, 1).as_ref() != col.slice(i, 1).as_ref())
                    .unwrap_or(0);
                return Err((row, format!("ConnectorX's {theirs} value does not fit {ours} exactly")));
            }
            Ok(out)
        }
        _ => Err((
            0,
            format!("ConnectorX reads this column as {theirs}, which stage cannot turn into {ours} without loss; use TRANSFER_MODE=DUMP for this table"),
        )),
    }
}

/// Float64 back to Float32, each value checked to be an `f32` exactly (NaN stays NaN).
fn f64_to_f32(col: &ArrayRef) -> std::result::Result<ArrayRef, (usize, String)> {
    let f = col.as_primitive::<arrow::datatypes::Float64Type>();
    let mut b = arrow::array::Float32Builder::with_capacity(f.len());
    for i in 0..f.len() {
        if f.is_null(i) {
            b.append_null();
            continue;
        }
        let v = f.value(i);
        let narrow = v as f32;
        if f64::from(narrow) != v && !v.is_nan() {
            return Err((
                i,
                format!("ConnectorX's Float64 value {v:?} is not a single-precision float"),
            ));
        }
        b.append_value(narrow);
    }
    Ok(Arc::new(b.finish()))
}

/// Big-endian bytes (MySQL `BIT(n)`, at most 8 of them) as UInt64.
fn bits_to_u64(col: &ArrayRef) -> std::result::Result<ArrayRef, (usize, String)> {
    let bytes = cast_with_options(col, &DataType::LargeBinary, &CastOptions::default())
        .map_err(|e| (0, e.to_string()))?;
    let bytes = bytes.as_binary::<i64>();
    let mut b = arrow::array::UInt64Builder::with_capacity(bytes.len());
    for i in 0..bytes.len() {
        if bytes.is_null(i) {
            b.append_null();
            continue;
        }
        let v = bytes.value(i);
        if v.len() > 8 {
            return Err((i, format!("{} bytes of BIT do not fit 64 bits", v.len())));
        }
        b.append_value(v.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)));
    }
    Ok(Arc::new(b.finish()))
}

fn int_to_bool(col: &ArrayRef) -> std::result::Result<ArrayRef, (usize, String)> {
    let ints = cast_with_options(
        col,
        &DataType::Int64,
        &CastOptions {
            safe: false,
            ..Default::default()
        },
    )
    .map_err(|e| (0, e.to_string()))?;
    let ints = ints.as_primitive::<arrow::datatypes::Int64Type>();
    let mut b = arrow::array::BooleanBuilder::with_capacity(ints.len());
    for i in 0..ints.len() {
        if ints.is_null(i) {
            b.append_null();
            continue;
        }
        match ints.value(i) {
            0 => b.append_value(false),
            1 => b.append_value(true),
            v => return Err((i, format!("{v} is not a boolean (0 or 1)"))),
        }
    }
    Ok(Arc::new(b.finish()))
}

/// Microseconds of a MySQL `TIME` text, `[-]H…H:MM:SS[.ffffff]`.
fn parse_span(text: &str) -> std::result::Result<i64, String> {
    let bad = || format!("\"{text}\" is not a MySQL TIME ([-]HHH:MM:SS[.ffffff])");
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut parts = whole.split(':');
    let mut next = || -> std::result::Result<i64, String> {
        let p = parts.next().ok_or_else(bad)?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        p.parse::<i64>().map_err(|_| bad())
    };
    let (h, m, s) = (next()?, next()?, next()?);
    if parts.next().is_some() || m > 59 || s > 59 || frac.len() > 6 {
        return Err(bad());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let micros_frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().map_err(|_| bad())?
    };
    let micros = ((h * 60 + m) * 60 + s) * 1_000_000 + micros_frac;
    Ok(if negative { -micros } else { micros })
}

fn parse_text(
    text: &StringArray,
    ours: &DataType,
) -> std::result::Result<ArrayRef, (usize, String)> {
    let n = text.len();
    let each = |f: &mut dyn FnMut(usize, &str) -> std::result::Result<(), String>| {
        for i in 0..n {
            if !text.is_null(i) {
                f(i, text.value(i)).map_err(|m| (i, m))?;
            }
        }
        Ok::<(), (usize, String)>(())
    };
    Ok(match ours {
        DataType::Utf8 => Arc::new(text.clone()),
        DataType::Decimal128(p, s) => {
            let mut v = vec![0i128; n];
            each(&mut |i, t| {
                v[i] = match text_fast::decimal(t, *p, *s) {
                    Some(x) => x,
                    None => types::parse_decimal(t, *p, *s)?,
                };
                Ok(())
            })?;
            Arc::new(
                Decimal128Array::new(v.into(), text.nulls().cloned())
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| (0, e.to_string()))?,
            )
        }
        DataType::Decimal256(p, s) => {
            let mut v = vec![None; n];
            each(&mut |i, t| {
                v[i] = Some(types::parse_decimal256(t, *p, *s)?);
                Ok(())
            })?;
            let mut b = arrow::array::Decimal256Builder::with_capacity(n);
            b.extend(v);
            Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| (0, e.to_string()))?,
            )
        }
        DataType::Date32 => {
            let mut v = vec![None; n];
            each(&mut |i, t| {
                v[i] = Some(types::parse_date(t)?);
                Ok(())
            })?;
            Arc::new(arrow::array::Date32Array::from(v))
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let mut v = vec![None; n];
            each(&mut |i, t| {
                v[i] = Some(types::parse_time(t)?);
                Ok(())
            })?;
            Arc::new(arrow::array::Time64MicrosecondArray::from(v))
        }
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let mut v = vec![None; n];
            each(&mut |i, t| {
                v[i] = Some(types::parse_timestamp(t, tz.is_some())?);
                Ok(())
            })?;
            Arc::new(arrow::array::TimestampMicrosecondArray::from(v).with_timezone_opt(tz.clone()))
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            let mut v = vec![None; n];
            each(&mut |i, t| {
                v[i] = Some(parse_span(t)?);
                Ok(())
            })?;
            Arc::new(arrow::array::DurationMicrosecondArray::from(v))
        }
        DataType::FixedSizeBinary(16) => {
            let mut b = arrow::array::FixedSizeBinaryBuilder::with_capacity(n, 16);
            for i in 0..n {
                if text.is_null(i) {
                    b.append_null();
                    continue;
                }
                let t = text.value(i);
                let bytes = match text_fast::uuid(t) {
                    Some(bytes) => bytes,
                    None => {
                        let hex: String = t.chars().filter(|c| *c != '-').collect();
                        hex::decode(&hex)
                            .ok()
                            .and_then(|b| <[u8; 16]>::try_from(b).ok())
                            .ok_or_else(|| (i, format!("\"{t}\" is not a UUID")))?
                    }
                };
                b.append_value(bytes).map_err(|e| (i, e.to_string()))?;
            }
            Arc::new(b.finish())
        }
        other => return Err((0, format!("no exact text form for {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact_or_refused() {
        let big: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![
            Some(1),
            None,
            Some(1 << 40),
        ]));
        assert!(adapt(&big, &DataType::Int32).is_err());
        let small: ArrayRef = Arc::new(arrow::array::Int32Array::from(vec![Some(1), None]));
        assert_eq!(
            adapt(&small, &DataType::Int64).unwrap().data_type(),
            &DataType::Int64
        );
        let f: ArrayRef = Arc::new(arrow::array::Float64Array::from(vec![Some(12.3), None]));
        let d = adapt(&f, &DataType::Decimal128(10, 2)).unwrap();
        assert_eq!(
            d.as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(0),
            1230
        );
        assert!(adapt(&f, &DataType::Int64).is_err());
        let t: ArrayRef = Arc::new(StringArray::from(vec![Some("2024-02-29"), None]));
        assert_eq!(
            adapt(&t, &DataType::Date32)
                .unwrap()
                .as_primitive::<arrow::datatypes::Date32Type>()
                .value(0),
            19782
        );
        let bad: ArrayRef = Arc::new(StringArray::from(vec![Some("1.234")]));
        assert_eq!(adapt(&bad, &DataType::Decimal128(5, 2)).unwrap_err().0, 0);
        let ts: ArrayRef = Arc::new(arrow::array::TimestampNanosecondArray::from(vec![Some(
            1_000_000_001,
        )]));
        assert!(adapt(&ts, &DataType::Timestamp(TimeUnit::Microsecond, None)).is_err());
    }

    #[test]
    fn mysql_time_text_becomes_exact_microseconds() {
        assert_eq!(parse_span("-838:59:59.000000"), Ok(-3_020_399_000_000));
        assert_eq!(parse_span("25:00:00.5"), Ok(90_000_500_000));
        assert_eq!(parse_span("-00:00:01.000001"), Ok(-1_000_001));
        assert!(parse_span("1:60:00").is_err());
        assert!(parse_span("x").is_err());
    }

    #[test]
    fn float4_comes_back_from_float64_exactly_or_not_at_all() {
        let wide: ArrayRef = Arc::new(arrow::array::Float64Array::from(vec![
            Some(f64::from(0.1f32)),
            None,
            Some(f64::NAN),
            Some(f64::NEG_INFINITY),
            Some(-0.0),
            Some(f64::from(f32::MAX)),
        ]));
        let back = adapt(&wide, &DataType::Float32).unwrap();
        let back = back.as_primitive::<arrow::datatypes::Float32Type>();
        assert_eq!(back.value(0), 0.1f32);
        assert!(back.is_null(1));
        assert!(back.value(2).is_nan());
        assert_eq!(back.value(3), f32::NEG_INFINITY);
        assert!(back.value(4).is_sign_negative());
        assert_eq!(back.value(5), f32::MAX);
        let not_single: ArrayRef = Arc::new(arrow::array::Float64Array::from(vec![1.0, 0.1]));
        let (row, m) = adapt(&not_single, &DataType::Float32).unwrap_err();
        assert_eq!(row, 1, "{m}");
    }
}

//! Type mapping: one declarative table per dialect (source type → Arrow, Arrow → DDL),
//! and the exact text forms shared by every dialect that moves values as text.
//!
//! Nothing here rounds: a text that does not fit the target type is an error for the
//! caller to report with table, column and row.

pub mod mssql;
pub mod mysql;
pub mod oracle;
pub mod postgres;
pub mod sqlite;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    i256, DataType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// Field metadata key holding the column's type as the source declared it.
pub const SOURCE_TYPE_KEY: &str = "stage.source_type";

/// Days from 0001-01-01 (CE) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Parses a decimal literal (`-12.30`, `1e3`, `+.5`) into the unscaled integer of
/// `Decimal128(precision, scale)`. Fails when digits would be lost or precision exceeded.
pub fn parse_decimal(text: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let (negative, digits) = decimal_digits(text, precision, scale)?;
    let magnitude: i128 = if digits.is_empty() {
        0
    } else {
        digits
            .parse()
            .map_err(|_| format!("\"{text}\" does not fit DECIMAL({precision},{scale})"))?
    };
    Ok(if negative { -magnitude } else { magnitude })
}

/// As [`parse_decimal`], for `Decimal256(precision, scale)` (precision up to 76).
pub fn parse_decimal256(text: &str, precision: u8, scale: i8) -> Result<i256, String> {
    let (negative, digits) = decimal_digits(text, precision, scale)?;
    if digits.is_empty() {
        return Ok(i256::ZERO);
    }
    let signed = if negative {
        format!("-{digits}")
    } else {
        digits
    };
    i256::from_string(&signed)
        .ok_or_else(|| format!("\"{text}\" does not fit DECIMAL({precision},{scale})"))
}

/// Formats an unscaled `Decimal256`: `format_decimal256(i256::from(-1230), 2) == "-12.30"`.
pub fn format_decimal256(unscaled: i256, scale: i8) -> String {
    let text = unscaled.to_string();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.as_str()),
    };
    format_digits(negative, digits, scale)
}

/// The sign and the unscaled digits (no leading zeros) of a decimal literal at `scale`.
fn decimal_digits(text: &str, precision: u8, scale: i8) -> Result<(bool, String), String> {
    let t = text.trim();
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (
            &body[..i],
            body[i + 1..]
                .parse::<i32>()
                .map_err(|_| format!("\"{text}\" is not a decimal number"))?,
        ),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("\"{text}\" is not a decimal number"));
    }
    // digits * 10^(exponent - frac_len) is the value; we need it * 10^scale.
    let digits: String = format!("{int_part}{frac_part}");
    let shift = exponent - frac_part.len() as i32 + i32::from(scale);
    let digits = digits.trim_start_matches('0');
    let unscaled_digits: String = if shift >= 0 {
        format!("{digits}{}", "0".repeat(shift as usize))
    } else {
        let cut = (-shift) as usize;
        let (keep, dropped) = if cut >= digits.len() {
            ("", digits)
        } else {
            digits.split_at(digits.len() - cut)
        };
        if dropped.bytes().any(|b| b != b'0') {
            return Err(format!(
                "\"{text}\" has more than {scale} digits after the decimal point"
            ));
        }
        keep.to_string()
    };
    let unscaled_digits = unscaled_digits.trim_start_matches('0');
    if unscaled_digits.len() > precision as usize {
        return Err(format!(
            "\"{text}\" does not fit DECIMAL({precision},{scale})"
        ));
    }
    Ok((negative, unscaled_digits.to_string()))
}

/// Formats an unscaled decimal: `format_decimal(-1230, 2) == "-12.30"`.
pub fn format_decimal(unscaled: i128, scale: i8) -> String {
    format_digits(unscaled < 0, &unscaled.unsigned_abs().to_string(), scale)
}

fn format_digits(negative: bool, digits: &str, scale: i8) -> String {
    let mut out = String::with_capacity(digits.len() + 3);
    if negative {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (-scale) as usize));
        return out;
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(digits);
    } else {
        let (i, f) = digits.split_at(digits.len() - scale);
        out.push_str(i);
        out.push('.');
        out.push_str(f);
    }
    out
}

/// `YYYY-MM-DD` → days since 1970-01-01.
pub fn parse_date(text: &str) -> Result<i32, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(date_to_days)
        .map_err(|_| format!("\"{text}\" is not a date (expected YYYY-MM-DD)"))
}

pub fn date_to_days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
}

/// `HH:MM[:SS[.fffffffff]]` → microseconds since midnight; sub-microsecond digits must be 0.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let t = NaiveTime::parse_from_str(text.trim(), "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(text.trim(), "%H:%M"))
        .map_err(|_| format!("\"{text}\" is not a time of day (expected HH:MM:SS[.ffffff])"))?;
    use chrono::Timelike;
    let nanos = t.nanosecond();
    if nanos % 1000 != 0 || nanos >= 1_000_000_000 {
        return Err(format!(
            "\"{text}\" has more than microsecond precision (or a leap second)"
        ));
    }
    Ok(i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(nanos / 1000))
}

/// A timestamp text → microseconds since the epoch. Naive texts (no offset) are read as
/// written; with `with_zone`, an offset (`Z`, `+01:00`) is honoured and a missing one means UTC.
/// Without `with_zone`, an offset is an error: applying it would shift the value.
pub fn parse_timestamp(text: &str, with_zone: bool) -> Result<i64, String> {
    let t = text.trim();
    let parsed_zoned = chrono::DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1))
        .ok()
        .map(|dt| dt.naive_utc());
    let naive = match parsed_zoned {
        Some(utc) if with_zone => utc,
        Some(_) => {
            return Err(format!(
            "\"{text}\" carries a time-zone offset but the column is a timestamp without time zone"
        ))
        }
        None => [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .ok_or_else(|| {
            format!("\"{text}\" is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff])")
        })?,
    };
    naive_to_micros(naive).ok_or_else(|| format!("\"{text}\" has more than microsecond precision"))
}

pub fn naive_to_micros(ts: NaiveDateTime) -> Option<i64> {
    let utc = ts.and_utc();
    if !utc.timestamp_subsec_nanos().is_multiple_of(1000) {
        return None;
    }
    Some(utc.timestamp_micros())
}

pub fn micros_to_naive(micros: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc())
}

/// Nanoseconds in one unit of `unit`.
pub fn nanos_per(unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// The raw value, in its own unit, of a timestamp array of any unit at row `i`.
pub fn timestamp_raw(a: &dyn Array, i: usize) -> i64 {
    match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            a.as_primitive::<TimestampSecondType>().value(i)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            a.as_primitive::<TimestampMillisecondType>().value(i)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            a.as_primitive::<TimestampMicrosecondType>().value(i)
        }
        _ => a.as_primitive::<TimestampNanosecondType>().value(i),
    }
}

/// A short, stable name of an Arrow type for plans and manifests.
pub fn arrow_type_name(dt: &DataType) -> String {
    dt.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly_or_fail() {
        assert_eq!(parse_decimal("12.3", 10, 2), Ok(1230));
        assert_eq!(parse_decimal("-0.05", 10, 2), Ok(-5));
        assert_eq!(parse_decimal("1e3", 10, 2), Ok(100_000));
        assert_eq!(parse_decimal("1.50E-1", 10, 2), Ok(15));
        assert_eq!(parse_decimal("007", 3, 0), Ok(7));
        assert!(parse_decimal("1.234", 10, 2).is_err());
        assert!(parse_decimal("123456789", 8, 0).is_err());
        assert!(parse_decimal("abc", 10, 2).is_err());
        assert!(parse_decimal("", 10, 2).is_err());
        let max38 = "9".repeat(38);
        assert_eq!(parse_decimal(&max38, 38, 0).unwrap().to_string(), max38);
    }

    #[test]
    fn wide_decimals_round_trip() {
        let text = format!("-{}.{}", "9".repeat(35), "1".repeat(30));
        let v = parse_decimal256(&text, 65, 30).unwrap();
        assert_eq!(format_decimal256(v, 30), text);
        let half = parse_decimal256("0.5", 65, 30).unwrap();
        assert_eq!(
            format_decimal256(half, 30),
            format!("0.5{}", "0".repeat(29))
        );
        assert_eq!(format_decimal256(i256::from_i128(5), 3), "0.005");
        assert!(parse_decimal256(&"9".repeat(66), 65, 0).is_err());
        assert!(parse_decimal256("1.5", 65, 0).is_err());
    }

    #[test]
    fn decimals_format_with_scale() {
        assert_eq!(format_decimal(-1230, 2), "-12.30");
        assert_eq!(format_decimal(5, 3), "0.005");
        assert_eq!(format_decimal(0, 2), "0.00");
        assert_eq!(format_decimal(12, 0), "12");
        assert_eq!(format_decimal(12, -2), "1200");
    }

    #[test]
    fn timestamps_never_shift() {
        assert_eq!(
            parse_timestamp("1970-01-01 00:00:01.5", false),
            Ok(1_500_000)
        );
        assert_eq!(
            parse_timestamp("1969-12-31T23:59:59", false),
            Ok(-1_000_000)
        );
        assert!(parse_timestamp("2024-01-01T00:00:00+01:00", false).is_err());
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00", true), Ok(0));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00", true), Ok(0));
        assert!(parse_timestamp("2024-01-01 00:00:00.0000001", false).is_err());
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("1970-01-02"), Ok(1));
        assert_eq!(parse_date("1969-12-31"), Ok(-1));
        assert_eq!(days_to_date(-1).unwrap().to_string(), "1969-12-31");
        assert_eq!(parse_time("01:00:00.25"), Ok(3_600_250_000));
        assert_eq!(parse_time("23:59"), Ok(86_340_000_000));
        assert!(parse_time("25:00:00").is_err());
    }
}

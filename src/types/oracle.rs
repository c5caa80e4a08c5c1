//! Oracle: catalog types → Arrow (source only) and the value conversions the source uses.
//! This module is compiled with or without the `oracle` cargo feature, so its rules are
//! always tested. Connect strings and the catalog/select SQL are in `db::oracle`.
//!
//! The catalog is `ALL_TAB_COLUMNS` (DATA_TYPE, DATA_PRECISION, DATA_SCALE, CHAR_LENGTH,
//! NULLABLE). Every `NUMBER` is fetched as its exact decimal text (ODPI-C converts Oracle's
//! decimal format to text without rounding) and parsed into the column's Arrow type; no
//! value goes through a float.
//!
//! | Oracle type                                   | Arrow                      | notes |
//! |-----------------------------------------------|----------------------------|-------|
//! | `NUMBER(p)` / `NUMBER(p,0)`, p ≤ 9            | Int32                      | exact |
//! | `NUMBER(p)`, 10 ≤ p ≤ 18                      | Int64                      | exact |
//! | `NUMBER(p)`, p ≥ 19                           | Decimal128(p,0)            | exact |
//! | `NUMBER(p,s)`, 0 < s ≤ p                      | Decimal128(p,s)            | exact |
//! | `NUMBER(p,s)`, s > p (e.g. `NUMBER(2,5)`)     | Decimal128(s,s)            | exact (s ≤ 38) |
//! | `NUMBER(p,s)`, s < 0 (e.g. `NUMBER(5,-2)`)    | Decimal128(p−s,0)          | exact (whole numbers) |
//! | `NUMBER(*,0)`, `INTEGER`                      | Decimal128(38,0)           | exact |
//! | `NUMBER` (no precision, no scale)             | Decimal128(38,S), S = `[database-source] SRC_ORACLE_NUMBER_SCALE` (default 10) | a value with more than S decimals or 38−S integer digits is an error naming table, column, row and the key; `SRC_ORACLE_NUMBER_SCALE = text` reads such columns as exact decimal text (Utf8) instead. Never int32, never float. |
//! | `FLOAT(b)`, b ≤ 49                            | Float64                    | ≤ 15 significant digits: every value survives the trip through a double (checked) |
//! | `FLOAT(b)`, b > 49, `FLOAT`                   | as unconstrained `NUMBER`  | up to 38 digits at any scale |
//! | `BINARY_FLOAT` / `BINARY_DOUBLE`              | Float32 / Float64          | exact |
//! | `VARCHAR2`, `NVARCHAR2`, `CHAR`, `NCHAR`, `LONG`, `ROWID`, `UROWID` | Utf8 | exact |
//! | `CLOB`, `NCLOB`                               | Utf8                       | fetched whole per value with dynamically sized buffers (no fixed maximum) |
//! | `RAW`, `LONG RAW`, `BLOB`                     | Binary                     | as above |
//! | `DATE`                                        | Timestamp(µs)              | naive; Oracle DATE holds seconds |
//! | `TIMESTAMP(n)`, n ≤ 6                         | Timestamp(µs)              | naive, exact |
//! | `TIMESTAMP(n)`, n > 6                         | Timestamp(ns)              | naive, exact; values outside 1677..2262 are an error naming the row |
//! | `TIMESTAMP(n) WITH [LOCAL] TIME ZONE`         | Timestamp(µs or ns, "UTC") | read as `SYS_EXTRACT_UTC(c)`: the instant is kept, the original zone is not |
//! | `INTERVAL YEAR TO MONTH`                      | Interval(MonthDayNano)     | months |
//! | `INTERVAL DAY TO SECOND`                      | Interval(MonthDayNano)     | days + nanoseconds |
//! | `BFILE`, `XMLTYPE`, object types, anything else | error naming column and type | stage a view that converts it |

use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};

/// How unconstrained `NUMBER` (and `FLOAT(b)`, b > 49) columns are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnconstrainedNumber {
    /// Decimal128(38, scale).
    Scale(i8),
    /// Exact decimal text (Utf8).
    Text,
}

impl Default for UnconstrainedNumber {
    fn default() -> Self {
        UnconstrainedNumber::Scale(DEFAULT_NUMBER_SCALE)
    }
}

/// The default scale of an unconstrained NUMBER.
pub const DEFAULT_NUMBER_SCALE: i8 = 10;
/// The key that sets it.
pub const NUMBER_SCALE_KEY: &str = "[database-source] SRC_ORACLE_NUMBER_SCALE";

impl UnconstrainedNumber {
    pub const ALLOWED: &'static str = "a scale 0-38, or text";

    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("text") {
            return Some(UnconstrainedNumber::Text);
        }
        t.parse::<i8>()
            .ok()
            .filter(|s| (0..=38).contains(s))
            .map(UnconstrainedNumber::Scale)
    }
}

/// One row of `ALL_TAB_COLUMNS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogColumn {
    /// `DATA_TYPE`, e.g. `NUMBER`, `TIMESTAMP(6) WITH TIME ZONE`, `INTERVAL DAY(2) TO SECOND(6)`.
    pub data_type: String,
    pub precision: Option<i64>,
    pub scale: Option<i64>,
    pub char_length: Option<i64>,
}

impl CatalogColumn {
    /// The type as Oracle DDL spells it: `NUMBER(12,2)`, `VARCHAR2(40)`, `FLOAT(63)`.
    pub fn declared(&self) -> String {
        let t = self.data_type.trim().to_ascii_uppercase();
        match t.as_str() {
            "NUMBER" => match (self.precision, self.scale) {
                (None, None) => t,
                (None, Some(s)) => format!("NUMBER(*,{s})"),
                (Some(p), None | Some(0)) => format!("NUMBER({p})"),
                (Some(p), Some(s)) => format!("NUMBER({p},{s})"),
            },
            "FLOAT" => match self.precision {
                Some(b) => format!("FLOAT({b})"),
                None => t,
            },
            "VARCHAR2" | "NVARCHAR2" | "CHAR" | "NCHAR" | "RAW" => match self.char_length {
                Some(n) if n > 0 => format!("{t}({n})"),
                _ => t,
            },
            _ => t,
        }
    }
}

/// How the source fetches a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    /// Exact decimal text, parsed into Int32/Int64/Decimal128 or kept as text.
    NumberText,
    /// Decimal text parsed to f64, checked to round-trip.
    FloatText,
    Float32,
    Float64,
    Text,
    Bytes,
    /// A naive timestamp (also `SYS_EXTRACT_UTC(...)` of zoned ones).
    Timestamp,
    IntervalYm,
    IntervalDs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub arrow: DataType,
    pub fetch: ReadAs,
    /// Select `SYS_EXTRACT_UTC(c)` instead of `c`.
    pub extract_utc: bool,
    pub note: Option<String>,
}

fn m(arrow: DataType, fetch: ReadAs) -> Mapping {
    Mapping {
        arrow,
        fetch,
        extract_utc: false,
        note: None,
    }
}

/// The Arrow type for an Oracle column, or why it cannot be staged.
pub fn arrow_type(
    c: &CatalogColumn,
    unconstrained: UnconstrainedNumber,
) -> Result<Mapping, String> {
    let t = c.data_type.trim().to_ascii_uppercase();
    let loose = |what: &str| {
        match unconstrained {
        UnconstrainedNumber::Scale(s) => Mapping {
            note: Some(format!(
                "{what} has no fixed scale: read as DECIMAL(38,{s}); a value needing more digits fails naming {NUMBER_SCALE_KEY}"
            )),
            ..m(DataType::Decimal128(38, s), ReadAs::NumberText)
        },
        UnconstrainedNumber::Text => Mapping {
            note: Some(format!(
                "{what} read as exact decimal text ({NUMBER_SCALE_KEY} = text)"
            )),
            ..m(DataType::Utf8, ReadAs::NumberText)
        },
    }
    };
    if t == "NUMBER" {
        return Ok(match (c.precision, c.scale) {
            (None, None) => loose("unconstrained NUMBER"),
            (None, Some(0)) => m(DataType::Decimal128(38, 0), ReadAs::NumberText),
            (None, Some(s)) if (1..=38).contains(&s) => {
                m(DataType::Decimal128(38, s as i8), ReadAs::NumberText)
            }
            (Some(p), s) => {
                let s = s.unwrap_or(0);
                if !(1..=38).contains(&p) {
                    return Err(format!("{} has a precision outside 1..38", c.declared()));
                }
                match s {
                    0 if p <= 9 => m(DataType::Int32, ReadAs::NumberText),
                    0 if p <= 18 => m(DataType::Int64, ReadAs::NumberText),
                    0 => m(DataType::Decimal128(p as u8, 0), ReadAs::NumberText),
                    s if s > 0 && s <= p => {
                        m(DataType::Decimal128(p as u8, s as i8), ReadAs::NumberText)
                    }
                    s if s > p && s <= 38 => {
                        m(DataType::Decimal128(s as u8, s as i8), ReadAs::NumberText)
                    }
                    s if s < 0 && p - s <= 38 => {
                        m(DataType::Decimal128((p - s) as u8, 0), ReadAs::NumberText)
                    }
                    _ => {
                        return Err(format!(
                            "{} needs more than 38 digits; stage a view that rounds it",
                            c.declared()
                        ))
                    }
                }
            }
            (None, Some(_)) => {
                return Err(format!(
                    "{} needs more than 38 digits; stage a view that rounds it",
                    c.declared()
                ))
            }
        });
    }
    if t == "FLOAT" {
        return Ok(match c.precision {
            Some(b) if b <= 49 => m(DataType::Float64, ReadAs::FloatText),
            _ => loose(&c.declared()),
        });
    }
    let zoned = t.contains("WITH TIME ZONE") || t.contains("WITH LOCAL TIME ZONE");
    if t.starts_with("TIMESTAMP") {
        let digits = t
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .and_then(|(n, _)| n.trim().parse::<u8>().ok())
            .unwrap_or(6);
        let unit = if digits <= 6 {
            TimeUnit::Microsecond
        } else {
            TimeUnit::Nanosecond
        };
        return Ok(Mapping {
            extract_utc: zoned,
            ..m(
                DataType::Timestamp(unit, zoned.then(|| "UTC".into())),
                ReadAs::Timestamp,
            )
        });
    }
    if t.starts_with("INTERVAL YEAR") {
        return Ok(m(
            DataType::Interval(IntervalUnit::MonthDayNano),
            ReadAs::IntervalYm,
        ));
    }
    if t.starts_with("INTERVAL DAY") {
        return Ok(m(
            DataType::Interval(IntervalUnit::MonthDayNano),
            ReadAs::IntervalDs,
        ));
    }
    Ok(match t.as_str() {
        "BINARY_FLOAT" => m(DataType::Float32, ReadAs::Float32),
        "BINARY_DOUBLE" => m(DataType::Float64, ReadAs::Float64),
        "VARCHAR2" | "NVARCHAR2" | "CHAR" | "NCHAR" | "VARCHAR" | "CLOB" | "NCLOB" | "LONG"
        | "ROWID" | "UROWID" => m(DataType::Utf8, ReadAs::Text),
        "RAW" | "LONG RAW" | "BLOB" => m(DataType::Binary, ReadAs::Bytes),
        "DATE" => m(
            DataType::Timestamp(TimeUnit::Microsecond, None),
            ReadAs::Timestamp,
        ),
        _ => {
            return Err(format!(
                "type {} is not supported; stage a view that converts it (e.g. TO_CHAR, or DBMS_LOB for BFILE)",
                c.declared()
            ))
        }
    })
}

/// A decimal text as Oracle prints it (`.5`, `-1E+20` is not produced by ODPI-C, but
/// accepted) → f64, only when the double gives back the same number.
pub fn parse_float_exact(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let f: f64 = t
        .parse()
        .map_err(|_| format!("\"{text}\" is not a number"))?;
    let significant: String = t
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .trim_start_matches('0')
        .trim_end_matches('0')
        .to_string();
    if significant.len() > 15 {
        return Err(format!(
            "\"{text}\" has more than 15 significant digits and would not survive a double"
        ));
    }
    Ok(f)
}

/// INTERVAL YEAR TO MONTH → months.
pub fn interval_ym_months(years: i32, months: i32) -> Option<i32> {
    years.checked_mul(12)?.checked_add(months)
}

/// INTERVAL DAY TO SECOND → (days, nanoseconds within the day part).
pub fn interval_ds_parts(
    days: i32,
    hours: i32,
    minutes: i32,
    seconds: i32,
    nanos: i32,
) -> (i32, i64) {
    let ns = ((i64::from(hours) * 60 + i64::from(minutes)) * 60 + i64::from(seconds))
        * 1_000_000_000
        + i64::from(nanos);
    (days, ns)
}

/// Calendar parts → a timestamp in `unit` since 1970 (naive, never shifted).
pub fn timestamp_parts(
    (year, month, day): (i32, u32, u32),
    (hour, minute, second, nanos): (u32, u32, u32, u32),
    unit: TimeUnit,
) -> Result<i64, String> {
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| format!("{year:04}-{month:02}-{day:02} is not a date Arrow can hold"))?;
    let t = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
        .ok_or_else(|| format!("{hour:02}:{minute:02}:{second:02}.{nanos:09} is not a time"))?;
    let utc = date.and_time(t).and_utc();
    match unit {
        TimeUnit::Nanosecond => utc.timestamp_nanos_opt().ok_or_else(|| {
            format!(
                "{} is outside the range of a nanosecond timestamp (1677-09-21..2262-04-11)",
                date.and_time(t)
            )
        }),
        TimeUnit::Microsecond if nanos % 1000 == 0 => Ok(utc.timestamp_micros()),
        TimeUnit::Millisecond if nanos % 1_000_000 == 0 => Ok(utc.timestamp_millis()),
        TimeUnit::Second if nanos == 0 => Ok(utc.timestamp()),
        _ => Err(format!(
            "{} has more fractional digits than Arrow {unit:?} holds",
            date.and_time(t)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(p: Option<i64>, s: Option<i64>) -> CatalogColumn {
        CatalogColumn {
            data_type: "NUMBER".into(),
            precision: p,
            scale: s,
            char_length: Some(0),
        }
    }

    fn col(t: &str) -> CatalogColumn {
        CatalogColumn {
            data_type: t.into(),
            ..Default::default()
        }
    }

    fn arrow(c: &CatalogColumn) -> DataType {
        arrow_type(c, UnconstrainedNumber::default())
            .unwrap_or_else(|e| panic!("{}: {e}", c.data_type))
            .arrow
    }

    #[test]
    fn number_rules_follow_the_spec() {
        assert_eq!(arrow(&num(Some(9), Some(0))), DataType::Int32);
        assert_eq!(arrow(&num(Some(5), None)), DataType::Int32);
        assert_eq!(arrow(&num(Some(10), Some(0))), DataType::Int64);
        assert_eq!(arrow(&num(Some(18), Some(0))), DataType::Int64);
        assert_eq!(arrow(&num(Some(19), Some(0))), DataType::Decimal128(19, 0));
        assert_eq!(arrow(&num(Some(12), Some(2))), DataType::Decimal128(12, 2));
        assert_eq!(arrow(&num(Some(2), Some(5))), DataType::Decimal128(5, 5));
        assert_eq!(arrow(&num(Some(5), Some(-2))), DataType::Decimal128(7, 0));
        assert_eq!(arrow(&num(None, Some(0))), DataType::Decimal128(38, 0));
        // Unconstrained: never int32, never float.
        let m = arrow_type(&num(None, None), UnconstrainedNumber::default()).unwrap();
        assert_eq!(m.arrow, DataType::Decimal128(38, 10));
        assert_eq!(
            m.note.as_deref(),
            Some("unconstrained NUMBER has no fixed scale: read as DECIMAL(38,10); a value needing more digits fails naming [database-source] SRC_ORACLE_NUMBER_SCALE")
        );
        let m = arrow_type(&num(None, None), UnconstrainedNumber::Scale(4)).unwrap();
        assert_eq!(m.arrow, DataType::Decimal128(38, 4));
        let m = arrow_type(&num(None, None), UnconstrainedNumber::Text).unwrap();
        assert_eq!(m.arrow, DataType::Utf8);
        assert!(arrow_type(&num(Some(10), Some(40)), UnconstrainedNumber::default()).is_err());
    }

    #[test]
    fn other_types() {
        let ts = |u, tz: Option<&str>| DataType::Timestamp(u, tz.map(Into::into));
        let imdn = DataType::Interval(IntervalUnit::MonthDayNano);
        let cases = [
            (col("BINARY_FLOAT"), DataType::Float32),
            (col("BINARY_DOUBLE"), DataType::Float64),
            (
                CatalogColumn {
                    precision: Some(49),
                    ..col("FLOAT")
                },
                DataType::Float64,
            ),
            (
                CatalogColumn {
                    precision: Some(126),
                    ..col("FLOAT")
                },
                DataType::Decimal128(38, 10),
            ),
            (col("VARCHAR2"), DataType::Utf8),
            (col("NVARCHAR2"), DataType::Utf8),
            (col("CHAR"), DataType::Utf8),
            (col("NCHAR"), DataType::Utf8),
            (col("CLOB"), DataType::Utf8),
            (col("NCLOB"), DataType::Utf8),
            (col("LONG"), DataType::Utf8),
            (col("RAW"), DataType::Binary),
            (col("LONG RAW"), DataType::Binary),
            (col("BLOB"), DataType::Binary),
            (col("DATE"), ts(TimeUnit::Microsecond, None)),
            (col("TIMESTAMP(6)"), ts(TimeUnit::Microsecond, None)),
            (col("TIMESTAMP(9)"), ts(TimeUnit::Nanosecond, None)),
            (
                col("TIMESTAMP(6) WITH TIME ZONE"),
                ts(TimeUnit::Microsecond, Some("UTC")),
            ),
            (
                col("TIMESTAMP(3) WITH LOCAL TIME ZONE"),
                ts(TimeUnit::Microsecond, Some("UTC")),
            ),
            (col("INTERVAL YEAR(2) TO MONTH"), imdn.clone()),
            (col("INTERVAL DAY(2) TO SECOND(6)"), imdn),
        ];
        for (c, want) in cases {
            assert_eq!(arrow(&c), want, "{}", c.data_type);
        }
        assert!(
            arrow_type(
                &col("TIMESTAMP(6) WITH TIME ZONE"),
                UnconstrainedNumber::default()
            )
            .unwrap()
            .extract_utc
        );
        assert_eq!(
            arrow_type(&col("BFILE"), UnconstrainedNumber::default()).unwrap_err(),
            "type BFILE is not supported; stage a view that converts it (e.g. TO_CHAR, or DBMS_LOB for BFILE)"
        );
    }

    /// Each Oracle type → Arrow → SQL Server and SQLite staging DDL.
    #[test]
    fn oracle_types_have_staging_types() {
        for c in [
            num(Some(9), Some(0)),
            num(None, None),
            col("TIMESTAMP(9) WITH TIME ZONE"),
            col("INTERVAL DAY(2) TO SECOND(6)"),
            col("BLOB"),
        ] {
            let a = arrow(&c);
            assert!(crate::types::mssql::ddl_type(&a).is_ok(), "{a}");
            assert!(crate::types::sqlite::ddl_type(&a).is_ok(), "{a}");
        }
        assert_eq!(
            crate::types::mssql::ddl_type(&arrow(&num(None, None))).unwrap(),
            "DECIMAL(38,10)"
        );
    }

    #[test]
    fn declared_types() {
        assert_eq!(num(Some(12), Some(2)).declared(), "NUMBER(12,2)");
        assert_eq!(num(Some(5), Some(0)).declared(), "NUMBER(5)");
        assert_eq!(num(None, None).declared(), "NUMBER");
        assert_eq!(num(None, Some(0)).declared(), "NUMBER(*,0)");
        let v = CatalogColumn {
            char_length: Some(40),
            ..col("VARCHAR2")
        };
        assert_eq!(v.declared(), "VARCHAR2(40)");
    }

    #[test]
    fn unconstrained_number_setting() {
        assert_eq!(
            UnconstrainedNumber::parse("4"),
            Some(UnconstrainedNumber::Scale(4))
        );
        assert_eq!(
            UnconstrainedNumber::parse(" TEXT "),
            Some(UnconstrainedNumber::Text)
        );
        assert_eq!(UnconstrainedNumber::parse("39"), None);
        assert_eq!(UnconstrainedNumber::parse("-1"), None);
    }

    #[test]
    fn values() {
        assert_eq!(parse_float_exact("0.1"), Ok(0.1));
        assert_eq!(
            parse_float_exact("-123456789012345"),
            Ok(-123_456_789_012_345.0)
        );
        assert!(parse_float_exact("1234567890123456").is_err());
        assert_eq!(interval_ym_months(1, 2), Some(14));
        assert_eq!(interval_ym_months(-1, -2), Some(-14));
        assert_eq!(interval_ds_parts(1, 2, 3, 4, 5), (1, 7_384_000_000_005));
        assert_eq!(
            timestamp_parts((1970, 1, 1), (0, 0, 1, 500_000_000), TimeUnit::Microsecond),
            Ok(1_500_000)
        );
        assert!(timestamp_parts((1970, 1, 1), (0, 0, 0, 1), TimeUnit::Microsecond).is_err());
        assert!(timestamp_parts((9999, 12, 31), (0, 0, 0, 0), TimeUnit::Nanosecond).is_err());
        assert!(timestamp_parts((9999, 12, 31), (0, 0, 0, 0), TimeUnit::Microsecond).is_ok());
    }
}

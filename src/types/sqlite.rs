//! SQLite: declared column types → Arrow (source side) and Arrow → declared types (staging).
//!
//! SQLite types values, not columns. `stage` fixes a column's Arrow type from its
//! *declared* type before reading, by these rules, checked in this order on the
//! uppercased declared type; every value must then fit the column or the read fails
//! naming table, column and row:
//!
//! | declared type contains                         | Arrow                       | values accepted              |
//! |------------------------------------------------|-----------------------------|------------------------------|
//! | `BOOL`                                         | Boolean                     | INTEGER 0/1                  |
//! | `DECIMAL`/`NUMERIC` with `(p,s)`, p ≤ 38       | Decimal128(p,s)             | INTEGER, TEXT, REAL (its shortest round-trip text) |
//! | `DECIMAL`/`NUMERIC` without `(p,s)`            | Decimal128(38,10)           | same; more digits is an error |
//! | `TIMESTAMPTZ`, `WITH TIME ZONE`                | Timestamp(µs, UTC)          | TEXT ISO-8601, offset honoured, none = UTC |
//! | `TIMESTAMP`, `DATETIME`                        | Timestamp(µs)               | TEXT ISO-8601 without offset |
//! | `DATE`                                         | Date32                      | TEXT `YYYY-MM-DD`            |
//! | `TIME`                                         | Time64(µs)                  | TEXT `HH:MM:SS[.ffffff]`     |
//! | `INT`                                          | Int64                       | INTEGER                      |
//! | `REAL`, `FLOA`, `DOUB`                         | Float64                     | REAL, INTEGER exactly representable |
//! | `CHAR`, `CLOB`, `TEXT`, `UUID`, `JSON`         | Utf8                        | TEXT, INTEGER/REAL as text   |
//! | `BLOB`                                         | Binary                      | BLOB, TEXT as its UTF-8 bytes |
//! | nothing declared, or anything else             | Utf8 (noted by `stage plan`) | TEXT, INTEGER/REAL as text; BLOB is an error |
//!
//! Staging in SQLite writes decimals as exact text in a column declared `DECIMAL TEXT(p,s)`
//! (TEXT affinity: SQLite's NUMERIC affinity would round past 15 digits), timestamps as
//! `YYYY-MM-DD HH:MM:SS.ffffff` text (`…Z` with a time zone), so reading the staging table
//! back with the rules above gives the same Arrow types.

use arrow::datatypes::{DataType, TimeUnit};

use crate::error::Result;

/// Precision and scale used for a DECIMAL/NUMERIC declared without them.
pub const UNCONSTRAINED_DECIMAL: (u8, i8) = (38, 10);

/// The Arrow type for a declared SQLite column type, and a note when it is a fallback.
pub fn arrow_type(declared: &str) -> (DataType, Option<String>) {
    let d = declared.trim().to_ascii_uppercase();
    let has = |s: &str| d.contains(s);
    let t = if has("BOOL") {
        DataType::Boolean
    } else if has("DECIMAL") || has("NUMERIC") {
        match precision_scale(&d) {
            Some((p, s)) if (1..=38).contains(&p) && s <= p as i8 => DataType::Decimal128(p, s),
            Some(_) => {
                return (
                    DataType::Utf8,
                    Some(format!(
                        "{declared}: precision outside 1..38, read as exact text"
                    )),
                )
            }
            None => DataType::Decimal128(UNCONSTRAINED_DECIMAL.0, UNCONSTRAINED_DECIMAL.1),
        }
    } else if has("TIMESTAMPTZ") || has("WITH TIME ZONE") {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    } else if has("TIMESTAMP") || has("DATETIME") {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    } else if has("DATE") {
        DataType::Date32
    } else if has("INTERVAL") {
        DataType::Utf8
    } else if has("TIME") {
        DataType::Time64(TimeUnit::Microsecond)
    } else if has("INT") {
        DataType::Int64
    } else if has("REAL") || has("FLOA") || has("DOUB") {
        DataType::Float64
    } else if has("CHAR") || has("CLOB") || has("TEXT") || has("UUID") || has("JSON") {
        DataType::Utf8
    } else if has("BLOB") {
        DataType::Binary
    } else {
        let why = if d.is_empty() {
            "no declared type".to_string()
        } else {
            format!("declared type {declared} has no rule")
        };
        return (
            DataType::Utf8,
            Some(format!("{why}: read as text (numbers in their text form)")),
        );
    };
    (t, None)
}

/// `(p,s)` or `(p)` from a declared type.
fn precision_scale(d: &str) -> Option<(u8, i8)> {
    let inner = d.split_once('(')?.1.split_once(')')?.0;
    let mut it = inner.split(',').map(|x| x.trim().parse::<i64>().ok());
    let p = it.next()??;
    let s = it.next().flatten().unwrap_or(0);
    Some((u8::try_from(p).ok()?, i8::try_from(s).ok()?))
}

/// The declared type of a staging column for an Arrow type.
pub fn ddl_type(dt: &DataType) -> Result<String, String> {
    Ok(match dt {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => "INTEGER".into(),
        // Past i64::MAX SQLite has no integer: keep the digits as exact text.
        DataType::UInt64 => "DECIMAL TEXT(20,0)".into(),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "REAL".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            format!("DECIMAL TEXT({p},{s})")
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "TEXT".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "BLOB".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        DataType::Interval(_) | DataType::Duration(_) => "INTERVAL TEXT".into(),
        DataType::List(_) | DataType::LargeList(_) => "TEXT".into(),
        DataType::Null => "TEXT".into(),
        other => {
            return Err(format!(
                "SQLite staging has no column type for Arrow {other}"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_by_rule() {
        let cases = [
            ("INTEGER", DataType::Int64),
            ("bigint", DataType::Int64),
            ("BOOLEAN", DataType::Boolean),
            ("DECIMAL(12,2)", DataType::Decimal128(12, 2)),
            ("DECIMAL TEXT(18,4)", DataType::Decimal128(18, 4)),
            ("NUMERIC", DataType::Decimal128(38, 10)),
            (
                "TIMESTAMP",
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ),
            ("DATETIME", DataType::Timestamp(TimeUnit::Microsecond, None)),
            (
                "TIMESTAMPTZ",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ),
            ("DATE", DataType::Date32),
            ("TIME", DataType::Time64(TimeUnit::Microsecond)),
            ("DOUBLE PRECISION", DataType::Float64),
            ("VARCHAR(40)", DataType::Utf8),
            ("BLOB", DataType::Binary),
        ];
        for (declared, want) in cases {
            assert_eq!(arrow_type(declared), (want, None), "{declared}");
        }
        assert!(arrow_type("").1.is_some());
        assert!(arrow_type("MONEY").1.is_some());
    }

    #[test]
    fn staging_types_read_back_as_the_same_arrow_type() {
        for dt in [
            DataType::Int64,
            DataType::Boolean,
            DataType::Float64,
            DataType::Decimal128(38, 10),
            DataType::Utf8,
            DataType::Binary,
            DataType::Date32,
            DataType::Time64(TimeUnit::Microsecond),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ] {
            let ddl = ddl_type(&dt).unwrap();
            assert_eq!(arrow_type(&ddl).0, dt, "{ddl}");
        }
    }
}

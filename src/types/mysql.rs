//! MySQL / MariaDB: catalog types → Arrow (source side) and Arrow → column types (staging).
//!
//! A source column's Arrow type is fixed from `information_schema.columns` before the
//! first row (`DATA_TYPE`, `COLUMN_TYPE` for `unsigned` and `(p,s)`, `NUMERIC_PRECISION`,
//! `NUMERIC_SCALE`). Rows are read with the binary protocol (typed values) in a session
//! whose `time_zone` is `+00:00`. Every value must fit its column or the read fails
//! naming table, column and row.
//!
//! | `DATA_TYPE` (`COLUMN_TYPE`)                         | Arrow                         | notes |
//! |-----------------------------------------------------|-------------------------------|-------|
//! | `tinyint(1)` signed, `bool`, `boolean`              | Boolean                       | only 0 and 1 are accepted; any other value is an error (stage through a view with `CAST(x AS SIGNED)` to keep it as a number) |
//! | `tinyint`, `smallint`, `mediumint`, `int`, `bigint` | Int8, Int16, Int32, Int32, Int64 | |
//! | the same `unsigned`                                 | UInt8, UInt16, UInt32, UInt32, UInt64 | `bigint unsigned` never wraps |
//! | `decimal(p,s)`, `numeric`                           | Decimal128(p,s) for p ≤ 38, else Decimal256(p,s) | exact, up to (65,30) |
//! | `float`                                             | Float32                       | |
//! | `double`, `real`                                    | Float64                       | |
//! | `bit(n)`                                            | UInt64                        | the bits as an unsigned number (n ≤ 64) |
//! | `date`                                              | Date32                        | |
//! | `datetime(fsp)`                                     | Timestamp(µs)                 | naive: the wall-clock value as stored |
//! | `timestamp(fsp)`                                    | Timestamp(µs, "UTC")          | an instant, read in a UTC session |
//! | `time(fsp)`                                         | Duration(µs)                  | a signed span: keeps `-838:59:59` … `838:59:59` (a time of day type could not) |
//! | `year`                                              | Int16                         | |
//! | `char`, `varchar`, `*text`, `enum`, `set`           | Utf8                          | read as utf8mb4: any character, emoji included |
//! | `json`                                              | Utf8                          | field metadata `stage.source_type = json` marks it |
//! | `binary`, `varbinary`, `*blob`                      | Binary                        | |
//! | `geometry` and its kinds                            | Binary (noted by `stage plan`) | MySQL's internal form: 4-byte SRID + WKB |
//! | anything else (`uuid`, `inet6`, …)                  | Utf8 (noted by `stage plan`)  | the server's text form |
//!
//! Zero and partial-zero dates (`0000-00-00`, `2024-00-10`, `0000-00-00 00:00:00`) have no
//! calendar value: they are an error naming the column, unless `[settings]
//! MYSQL_ZERO_DATES = null` reads them as NULL.
//!
//! Staging into MySQL/MariaDB creates these column types:
//!
//! | Arrow                            | column type |
//! |----------------------------------|-------------|
//! | Boolean                          | `BOOLEAN` (tinyint(1)) |
//! | Int8/16/32/64, UInt8/16/32/64    | `TINYINT`/`SMALLINT`/`INT`/`BIGINT` [`UNSIGNED`] |
//! | Decimal128/256(p,s), p ≤ 65, 0 ≤ s ≤ 30 | `DECIMAL(p,s)` (wider ones are an error) |
//! | Float16/32, Float64              | `FLOAT`, `DOUBLE` (NaN and ±infinity are an error: MySQL has none) |
//! | Utf8 variants                    | `LONGTEXT` in a utf8mb4 table with `utf8mb4_bin` collation |
//! | Binary variants                  | `LONGBLOB` |
//! | Date32/64                        | `DATE` |
//! | Timestamp(_, None)               | `DATETIME(6)` |
//! | Timestamp(_, Some(tz))           | `DATETIME(6)` holding the UTC wall time (`TIMESTAMP` stops in 2038) |
//! | Time32/Time64                    | `TIME(6)` |
//! | Duration                         | `TIME(6)` (values beyond ±838:59:59 are an error) |

use arrow::datatypes::{DataType, TimeUnit};

/// What the catalog says about one column.
#[derive(Debug, Clone, Default)]
pub struct CatalogColumn {
    /// `DATA_TYPE`, e.g. `int`.
    pub data_type: String,
    /// `COLUMN_TYPE`, e.g. `int(10) unsigned`.
    pub column_type: String,
    pub numeric_precision: Option<u64>,
    pub numeric_scale: Option<u64>,
}

/// The Arrow type for a catalog column, and a note when the mapping is a fallback.
pub fn arrow_type(c: &CatalogColumn) -> Result<(DataType, Option<String>), String> {
    let data_type = c.data_type.trim().to_ascii_lowercase();
    let column_type = c.column_type.trim().to_ascii_lowercase();
    let unsigned = column_type.contains("unsigned");
    let t = match data_type.as_str() {
        "tinyint" if !unsigned && (column_type.starts_with("tinyint(1)")) => DataType::Boolean,
        "bool" | "boolean" => DataType::Boolean,
        "tinyint" if unsigned => DataType::UInt8,
        "tinyint" => DataType::Int8,
        "smallint" if unsigned => DataType::UInt16,
        "smallint" => DataType::Int16,
        "mediumint" | "int" | "integer" if unsigned => DataType::UInt32,
        "mediumint" | "int" | "integer" => DataType::Int32,
        "bigint" if unsigned => DataType::UInt64,
        "bigint" => DataType::Int64,
        "decimal" | "numeric" | "dec" | "fixed" => {
            let (p, s) = match (c.numeric_precision, c.numeric_scale) {
                (Some(p), Some(s)) => (p, s),
                _ => precision_scale(&column_type)
                    .ok_or_else(|| format!("{}: no precision and scale", c.column_type))?,
            };
            let p =
                u8::try_from(p).map_err(|_| format!("{}: precision too large", c.column_type))?;
            let s = i8::try_from(s).map_err(|_| format!("{}: scale too large", c.column_type))?;
            if p == 0 || p > 76 || s as i32 > p as i32 {
                return Err(format!(
                    "{}: precision/scale not representable",
                    c.column_type
                ));
            }
            if p <= 38 {
                DataType::Decimal128(p, s)
            } else {
                DataType::Decimal256(p, s)
            }
        }
        "float" => DataType::Float32,
        "double" | "real" | "double precision" => DataType::Float64,
        "bit" => DataType::UInt64,
        "date" => DataType::Date32,
        "datetime" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "time" => DataType::Duration(TimeUnit::Microsecond),
        "year" => DataType::Int16,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
        | "json" | "nchar" | "nvarchar" => DataType::Utf8,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            DataType::Binary
        }
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => {
            return Ok((
                DataType::Binary,
                Some(format!(
                    "{}: read as MySQL's internal geometry bytes (SRID + WKB)",
                    c.column_type
                )),
            ))
        }
        _ => {
            return Ok((
                DataType::Utf8,
                Some(format!(
                    "{}: no rule for this type, read as the server's text form",
                    c.column_type
                )),
            ))
        }
    };
    Ok((t, None))
}

/// `(p,s)` or `(p)` from a column type such as `decimal(12,2) unsigned`.
fn precision_scale(column_type: &str) -> Option<(u64, u64)> {
    let inner = column_type.split_once('(')?.1.split_once(')')?.0;
    let mut it = inner.split(',').map(|x| x.trim().parse::<u64>().ok());
    let p = it.next()??;
    let s = it.next().flatten().unwrap_or(0);
    Some((p, s))
}

/// Largest magnitude of a MySQL `TIME` value, in microseconds (838:59:59).
pub const TIME_MAX_MICROS: i64 = (838 * 3600 + 59 * 60 + 59) * 1_000_000;

/// The column type of a staging column for an Arrow type.
pub fn ddl_type(dt: &DataType) -> Result<String, String> {
    Ok(match dt {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float16 | DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            let (p, s) = (i32::from(*p), i32::from(*s));
            // A negative scale is an integer with trailing zeros.
            let (p, s) = if s < 0 { (p - s, 0) } else { (p, s) };
            if p > 65 || s > 30 {
                return Err(format!(
                    "MySQL has no DECIMAL({p},{s}): at most 65 digits with at most 30 after the point"
                ));
            }
            format!("DECIMAL({p},{s})")
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "LONGTEXT".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "LONGBLOB".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, _) => "DATETIME(6)".into(),
        DataType::Time32(_) | DataType::Time64(_) | DataType::Duration(_) => "TIME(6)".into(),
        other => {
            return Err(format!(
                "MySQL staging has no column type for Arrow {other}"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, column_type: &str, p: Option<u64>, s: Option<u64>) -> CatalogColumn {
        CatalogColumn {
            data_type: data_type.into(),
            column_type: column_type.into(),
            numeric_precision: p,
            numeric_scale: s,
        }
    }

    #[test]
    fn catalog_types_map_by_rule() {
        let cases = [
            (
                col("tinyint", "tinyint(1)", Some(3), Some(0)),
                DataType::Boolean,
            ),
            (
                col("tinyint", "tinyint(4)", Some(3), Some(0)),
                DataType::Int8,
            ),
            (
                col("tinyint", "tinyint(1) unsigned", Some(3), Some(0)),
                DataType::UInt8,
            ),
            (
                col("mediumint", "mediumint(8) unsigned", None, None),
                DataType::UInt32,
            ),
            (
                col("bigint", "bigint(20) unsigned", Some(20), Some(0)),
                DataType::UInt64,
            ),
            (col("bigint", "bigint", Some(19), Some(0)), DataType::Int64),
            (
                col("decimal", "decimal(12,2)", Some(12), Some(2)),
                DataType::Decimal128(12, 2),
            ),
            (
                col("decimal", "decimal(65,30)", Some(65), Some(30)),
                DataType::Decimal256(65, 30),
            ),
            (
                col("decimal", "decimal(10,0)", None, None),
                DataType::Decimal128(10, 0),
            ),
            (col("float", "float", None, None), DataType::Float32),
            (col("double", "double", None, None), DataType::Float64),
            (col("bit", "bit(12)", None, None), DataType::UInt64),
            (col("date", "date", None, None), DataType::Date32),
            (
                col("datetime", "datetime(6)", None, None),
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ),
            (
                col("timestamp", "timestamp", None, None),
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ),
            (
                col("time", "time(3)", None, None),
                DataType::Duration(TimeUnit::Microsecond),
            ),
            (col("year", "year(4)", None, None), DataType::Int16),
            (col("enum", "enum('a','b')", None, None), DataType::Utf8),
            (col("json", "json", None, None), DataType::Utf8),
            (col("longblob", "longblob", None, None), DataType::Binary),
        ];
        for (c, want) in cases {
            assert_eq!(arrow_type(&c), Ok((want, None)), "{c:?}");
        }
        assert!(arrow_type(&col("uuid", "uuid", None, None))
            .unwrap()
            .1
            .is_some());
        assert!(arrow_type(&col("point", "point", None, None))
            .unwrap()
            .1
            .is_some());
    }

    #[test]
    fn staging_types_read_back_as_the_same_arrow_type() {
        for dt in [
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
            DataType::Decimal256(65, 30),
            DataType::Utf8,
            DataType::Binary,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Duration(TimeUnit::Microsecond),
        ] {
            let ddl = ddl_type(&dt).unwrap().to_ascii_lowercase();
            let data_type = ddl.split(['(', ' ']).next().unwrap().to_string();
            let data_type = if data_type == "boolean" {
                "tinyint".into()
            } else {
                data_type
            };
            let column_type = if ddl == "boolean" {
                "tinyint(1)".into()
            } else {
                ddl.clone()
            };
            let c = CatalogColumn {
                data_type,
                column_type,
                ..Default::default()
            };
            assert_eq!(arrow_type(&c).unwrap().0, dt, "{ddl}");
        }
        assert!(ddl_type(&DataType::Decimal256(76, 10)).is_err());
        assert_eq!(
            ddl_type(&DataType::Decimal128(10, -2)).unwrap(),
            "DECIMAL(12,0)"
        );
    }
}

//! SQL Server: catalog types → Arrow (source side) and Arrow → column types (staging).
//!
//! The source side reads `INFORMATION_SCHEMA.COLUMNS` (which reports alias types by their
//! base type) and fixes every column's Arrow type before the first row:
//!
//! | SQL Server type                         | Arrow                         | how it is read / exactness |
//! |-----------------------------------------|-------------------------------|----------------------------|
//! | `bit`                                   | Boolean                       | exact |
//! | `tinyint`                               | UInt8 (unsigned, 0..255)      | exact |
//! | `smallint` / `int` / `bigint`           | Int16 / Int32 / Int64         | exact |
//! | `decimal(p,s)`, `numeric(p,s)`          | Decimal128(p,s)               | exact |
//! | `money` / `smallmoney`                  | Decimal128(19,4) / Decimal128(10,4) | read as `CAST(c AS DECIMAL(19,4))` (the driver would give a float) |
//! | `real` (= `float(1..24)`) / `float`     | Float32 / Float64             | exact |
//! | `char`, `varchar`, `nchar`, `nvarchar` (incl. `max`), `text`, `ntext` | Utf8 | exact (decoded through the column's collation) |
//! | `xml`                                   | Utf8                          | read as `CAST(c AS NVARCHAR(MAX))` |
//! | `uniqueidentifier`                      | Utf8                          | canonical upper-case text as SQL Server prints it (`6F9619FF-8B86-D011-B42D-00C04FD430C8`); the driver undoes SQL Server's mixed-endian byte layout |
//! | `binary`, `varbinary` (incl. `max`), `image`, `timestamp`/`rowversion` | Binary | exact |
//! | `date`                                  | Date32                        | exact (0001-01-01..9999-12-31) |
//! | `time(n)`                               | Time64(ns)                    | exact (100 ns steps kept) |
//! | `smalldatetime`                         | Timestamp(µs)                 | exact (whole minutes) |
//! | `datetime`                              | Timestamp(µs)                 | SQL Server stores 1/300 s ticks; the exact tick is rounded to the nearest µs (error < 0.5 µs; `.003` shown by SSMS is read as `.003333`) |
//! | `datetime2(n)`, n ≤ 6                   | Timestamp(µs)                 | exact, whole range |
//! | `datetime2(7)`                          | Timestamp(ns)                 | exact (100 ns kept); a value outside 1677-09-21..2262-04-11 (e.g. 9999-12-31) is an error naming the row — declare such columns `datetime2(6)` in a view to stage them |
//! | `datetimeoffset(n)`                     | Timestamp(µs or ns as above, "UTC") | the instant is kept; the original offset is not (documented loss) |
//! | `hierarchyid`                           | Utf8 (noted)                  | read as `c.ToString()` (`/1/3/`), lossless |
//! | `geography`, `geometry`                 | Binary (noted)                | read as `CAST(c AS VARBINARY(MAX))`: SQL Server's native serialization, lossless (`geography::STGeomFromWKB` is *not* the way back; `CAST(b AS geography)` is) |
//! | `sql_variant` and anything else         | error naming column and type  | stage a view that casts it |
//!
//! Staging in SQL Server creates, per Arrow type (strings are always `NVARCHAR`, never
//! `VARCHAR`, so no code page can lose characters):
//!
//! | Arrow                                | SQL Server column      |
//! |--------------------------------------|------------------------|
//! | Boolean                              | `BIT`                  |
//! | Int8, Int16 / Int32 / Int64          | `SMALLINT` / `INT` / `BIGINT` (Int8 → `SMALLINT`) |
//! | UInt8 / UInt16 / UInt32 / UInt64     | `TINYINT` / `INT` / `BIGINT` / `DECIMAL(20,0)` |
//! | Float16, Float32 / Float64           | `REAL` / `FLOAT`       |
//! | Decimal128(p,s), s ≥ 0               | `DECIMAL(p,s)`         |
//! | Decimal128(p,s), s < 0               | `DECIMAL(p−s,0)` (p−s ≤ 38) |
//! | Utf8, LargeUtf8, Utf8View            | `NVARCHAR(MAX)`        |
//! | Binary, LargeBinary, FixedSizeBinary | `VARBINARY(MAX)`       |
//! | Date32, Date64                       | `DATE`                 |
//! | Time32, Time64                       | `TIME(7)`              |
//! | Timestamp(_, None)                   | `DATETIME2(7)` (naive stays naive) |
//! | Timestamp(_, Some(tz))               | `DATETIMEOFFSET(7)` holding the instant at offset +00:00 |
//! | Duration(unit)                       | `BIGINT` (count of the unit) |
//! | Interval(_)                          | `NVARCHAR(100)` (Arrow's text form, e.g. `1 mons 2 days 3.000000004 secs`) |
//! | Null                                 | `NVARCHAR(1)` (all NULL) |
//!
//! Values that the column cannot hold exactly (a nanosecond that is not a whole 100 ns, a
//! date before 0001-01-01) are errors naming table, column and row. The value conversions
//! (SQL Server's day numbers and time increments ↔ Arrow) are in the child `values`,
//! re-exported here.

mod values;

pub use values::{
    date32_to_date_days, date_days_to_date32, datetime2_to_unit, datetime_to_micros, guid_text,
    nanos_to_time7, smalldatetime_to_micros, time_to_nanos, unit_to_datetime2, DAYS_0001_TO_1970,
    DAYS_1900_TO_1970, MAX_DATE_DAYS,
};

use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};

use crate::dialect::Dialect;

/// The default schema when `SRC_SCHEMA` is unset.
pub const DEFAULT_SCHEMA: &str = "dbo";

/// One row of `INFORMATION_SCHEMA.COLUMNS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogColumn {
    pub data_type: String,
    /// `CHARACTER_MAXIMUM_LENGTH`; -1 for `(max)`.
    pub char_max_len: Option<i32>,
    pub precision: Option<u8>,
    pub scale: Option<i32>,
    /// `DATETIME_PRECISION` (fractional digits of time types).
    pub datetime_precision: Option<i16>,
}

/// How a column is selected: as it is, or through an expression that reads it losslessly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadAs {
    Plain,
    /// `CAST(c AS <type>)`.
    Cast(&'static str),
    /// `c.<method>()`.
    Method(&'static str),
}

/// The Arrow type chosen for a column, how to select it and a note for `stage plan`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub arrow: DataType,
    pub read_as: ReadAs,
    pub note: Option<String>,
}

impl CatalogColumn {
    /// The type as SQL Server spells it in DDL: `decimal(12,2)`, `nvarchar(max)`, `datetime2(7)`.
    pub fn declared(&self) -> String {
        let t = self.data_type.to_ascii_lowercase();
        match t.as_str() {
            "char" | "varchar" | "nchar" | "nvarchar" | "binary" | "varbinary" => {
                match self.char_max_len {
                    Some(-1) => format!("{t}(max)"),
                    Some(n) => format!("{t}({n})"),
                    None => t,
                }
            }
            "decimal" | "numeric" => match (self.precision, self.scale) {
                (Some(p), Some(s)) => format!("{t}({p},{s})"),
                _ => t,
            },
            "time" | "datetime2" | "datetimeoffset" => match self.datetime_precision {
                Some(n) => format!("{t}({n})"),
                None => t,
            },
            _ => t,
        }
    }

    fn fraction_digits(&self) -> i16 {
        self.datetime_precision.unwrap_or(7)
    }
}

/// The Arrow type for a SQL Server column, or why it cannot be staged.
pub fn arrow_type(c: &CatalogColumn) -> Result<Mapping, String> {
    let plain = |arrow: DataType| Mapping {
        arrow,
        read_as: ReadAs::Plain,
        note: None,
    };
    let t = c.data_type.to_ascii_lowercase();
    Ok(match t.as_str() {
        "bit" => plain(DataType::Boolean),
        "tinyint" => plain(DataType::UInt8),
        "smallint" => plain(DataType::Int16),
        "int" => plain(DataType::Int32),
        "bigint" => plain(DataType::Int64),
        "decimal" | "numeric" => {
            let p = c.precision.unwrap_or(18);
            let s = c.scale.unwrap_or(0);
            if !(1..=38).contains(&p) || s < 0 || s > i32::from(p) {
                return Err(format!(
                    "{} has a precision or scale SQL Server does not allow",
                    c.declared()
                ));
            }
            plain(DataType::Decimal128(p, s as i8))
        }
        "money" => Mapping {
            arrow: DataType::Decimal128(19, 4),
            read_as: ReadAs::Cast("DECIMAL(19,4)"),
            note: None,
        },
        "smallmoney" => Mapping {
            arrow: DataType::Decimal128(10, 4),
            read_as: ReadAs::Cast("DECIMAL(10,4)"),
            note: None,
        },
        "real" => plain(DataType::Float32),
        "float" => match c.precision {
            Some(p) if p <= 24 => plain(DataType::Float32),
            _ => plain(DataType::Float64),
        },
        "char" | "varchar" | "nchar" | "nvarchar" | "text" | "ntext" | "sysname" => {
            plain(DataType::Utf8)
        }
        "uniqueidentifier" => plain(DataType::Utf8),
        "xml" => Mapping {
            arrow: DataType::Utf8,
            read_as: ReadAs::Cast("NVARCHAR(MAX)"),
            note: None,
        },
        "binary" | "varbinary" | "image" | "timestamp" | "rowversion" => plain(DataType::Binary),
        "date" => plain(DataType::Date32),
        "time" => plain(DataType::Time64(TimeUnit::Nanosecond)),
        "smalldatetime" | "datetime" => plain(DataType::Timestamp(TimeUnit::Microsecond, None)),
        "datetime2" => plain(DataType::Timestamp(timestamp_unit(c.fraction_digits()), None)),
        "datetimeoffset" => plain(DataType::Timestamp(
            timestamp_unit(c.fraction_digits()),
            Some("UTC".into()),
        )),
        "hierarchyid" => Mapping {
            arrow: DataType::Utf8,
            read_as: ReadAs::Method("ToString"),
            note: Some("hierarchyid read as its text path (c.ToString(), e.g. /1/3/)".into()),
        },
        "geography" | "geometry" => Mapping {
            arrow: DataType::Binary,
            read_as: ReadAs::Cast("VARBINARY(MAX)"),
            note: Some(format!(
                "{t} read as SQL Server's native binary serialization (CAST AS VARBINARY(MAX)); CAST it back AS {t} to use it"
            )),
        },
        "sql_variant" => {
            return Err(
                "type sql_variant holds values of different types and has no single Arrow type; stage a view that casts it (e.g. CAST(c AS NVARCHAR(4000)))"
                    .into(),
            )
        }
        _ => {
            return Err(format!(
                "type {} is not supported; stage a view that casts it to a standard type",
                c.declared()
            ))
        }
    })
}

/// `datetime2(0..6)` fits microseconds over the whole range; `datetime2(7)` needs nanoseconds.
fn timestamp_unit(fraction_digits: i16) -> TimeUnit {
    if fraction_digits <= 6 {
        TimeUnit::Microsecond
    } else {
        TimeUnit::Nanosecond
    }
}

/// The select-list expression for a column, aliased back to its own name.
pub fn select_expr(column: &str, read_as: &ReadAs) -> String {
    let q = Dialect::Mssql.quote(column);
    match read_as {
        ReadAs::Plain => q,
        ReadAs::Cast(t) => format!("CAST({q} AS {t}) AS {q}"),
        ReadAs::Method(m) => format!("{q}.{m}() AS {q}"),
    }
}

/// `SELECT [TOP (n)] cols FROM [schema].[table]`.
pub fn select_sql(
    schema: &str,
    table: &str,
    exprs: &[String],
    row_limit: Option<u64>,
    filter: Option<&str>,
) -> String {
    let top = match row_limit {
        Some(n) => format!("TOP ({n}) "),
        None => String::new(),
    };
    format!(
        "SELECT {top}{} FROM {}",
        exprs.join(", "),
        crate::dialect::filtered(Dialect::Mssql.qualify(Some(schema), table), filter)
    )
}

/// The catalog query; `@P1` = schema, `@P2` = table.
pub const CATALOG_SQL: &str = "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, \
     CAST(NUMERIC_PRECISION AS INT), NUMERIC_SCALE, CAST(DATETIME_PRECISION AS INT), IS_NULLABLE \
     FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = @P1 AND TABLE_NAME = @P2 \
     ORDER BY ORDINAL_POSITION";

/// The staging column type for an Arrow type.
pub fn ddl_type(dt: &DataType) -> Result<String, String> {
    Ok(match dt {
        DataType::Boolean => "BIT".into(),
        DataType::Int8 | DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 | DataType::UInt16 => "INT".into(),
        DataType::Int64 | DataType::UInt32 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT".into(),
        DataType::UInt64 => "DECIMAL(20,0)".into(),
        DataType::Float16 | DataType::Float32 => "REAL".into(),
        DataType::Float64 => "FLOAT".into(),
        DataType::Decimal128(p, s) => {
            let (p, s) = decimal_ddl(*p, *s)?;
            format!("DECIMAL({p},{s})")
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "NVARCHAR(MAX)".into(),
        DataType::Binary | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
            "VARBINARY(MAX)".into()
        }
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME(7)".into(),
        DataType::Timestamp(_, None) => "DATETIME2(7)".into(),
        DataType::Timestamp(_, Some(_)) => "DATETIMEOFFSET(7)".into(),
        DataType::Duration(_) => "BIGINT".into(),
        DataType::Interval(
            IntervalUnit::YearMonth | IntervalUnit::DayTime | IntervalUnit::MonthDayNano,
        ) => "NVARCHAR(100)".into(),
        DataType::Null => "NVARCHAR(1)".into(),
        other => {
            return Err(format!(
                "SQL Server staging has no column type for Arrow {other}"
            ))
        }
    })
}

/// Precision and scale of the staging `DECIMAL` for Arrow's (p, s).
pub fn decimal_ddl(p: u8, s: i8) -> Result<(u8, u8), String> {
    let (p, s) = if s < 0 {
        (i16::from(p) - i16::from(s), 0i16)
    } else {
        (i16::from(p), i16::from(s))
    };
    if !(1..=38).contains(&p) || s > p {
        return Err(format!("DECIMAL({p},{s}) exceeds SQL Server's 38 digits"));
    }
    Ok((p as u8, s as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: &str) -> CatalogColumn {
        CatalogColumn {
            data_type: t.into(),
            ..Default::default()
        }
    }

    /// Each source type → Arrow → staging DDL, end to end.
    #[test]
    fn type_table_source_to_arrow_to_staging() {
        let ts = |u, tz: Option<&str>| DataType::Timestamp(u, tz.map(Into::into));
        let cases: Vec<(CatalogColumn, DataType, &str)> = vec![
            (col("bit"), DataType::Boolean, "BIT"),
            (col("tinyint"), DataType::UInt8, "TINYINT"),
            (col("smallint"), DataType::Int16, "SMALLINT"),
            (col("int"), DataType::Int32, "INT"),
            (col("bigint"), DataType::Int64, "BIGINT"),
            (
                CatalogColumn {
                    precision: Some(12),
                    scale: Some(2),
                    ..col("decimal")
                },
                DataType::Decimal128(12, 2),
                "DECIMAL(12,2)",
            ),
            (
                CatalogColumn {
                    precision: Some(38),
                    scale: Some(0),
                    ..col("numeric")
                },
                DataType::Decimal128(38, 0),
                "DECIMAL(38,0)",
            ),
            (col("money"), DataType::Decimal128(19, 4), "DECIMAL(19,4)"),
            (
                col("smallmoney"),
                DataType::Decimal128(10, 4),
                "DECIMAL(10,4)",
            ),
            (col("real"), DataType::Float32, "REAL"),
            (
                CatalogColumn {
                    precision: Some(53),
                    ..col("float")
                },
                DataType::Float64,
                "FLOAT",
            ),
            (col("varchar"), DataType::Utf8, "NVARCHAR(MAX)"),
            (col("nvarchar"), DataType::Utf8, "NVARCHAR(MAX)"),
            (col("char"), DataType::Utf8, "NVARCHAR(MAX)"),
            (col("nchar"), DataType::Utf8, "NVARCHAR(MAX)"),
            (col("text"), DataType::Utf8, "NVARCHAR(MAX)"),
            (col("ntext"), DataType::Utf8, "NVARCHAR(MAX)"),
            (col("xml"), DataType::Utf8, "NVARCHAR(MAX)"),
            (col("uniqueidentifier"), DataType::Utf8, "NVARCHAR(MAX)"),
            (col("binary"), DataType::Binary, "VARBINARY(MAX)"),
            (col("varbinary"), DataType::Binary, "VARBINARY(MAX)"),
            (col("image"), DataType::Binary, "VARBINARY(MAX)"),
            (col("timestamp"), DataType::Binary, "VARBINARY(MAX)"),
            (col("date"), DataType::Date32, "DATE"),
            (
                CatalogColumn {
                    datetime_precision: Some(3),
                    ..col("time")
                },
                DataType::Time64(TimeUnit::Nanosecond),
                "TIME(7)",
            ),
            (
                col("datetime"),
                ts(TimeUnit::Microsecond, None),
                "DATETIME2(7)",
            ),
            (
                col("smalldatetime"),
                ts(TimeUnit::Microsecond, None),
                "DATETIME2(7)",
            ),
            (
                CatalogColumn {
                    datetime_precision: Some(7),
                    ..col("datetime2")
                },
                ts(TimeUnit::Nanosecond, None),
                "DATETIME2(7)",
            ),
            (
                CatalogColumn {
                    datetime_precision: Some(3),
                    ..col("datetime2")
                },
                ts(TimeUnit::Microsecond, None),
                "DATETIME2(7)",
            ),
            (
                CatalogColumn {
                    datetime_precision: Some(7),
                    ..col("datetimeoffset")
                },
                ts(TimeUnit::Nanosecond, Some("UTC")),
                "DATETIMEOFFSET(7)",
            ),
            (col("hierarchyid"), DataType::Utf8, "NVARCHAR(MAX)"),
            (col("geography"), DataType::Binary, "VARBINARY(MAX)"),
            (col("geometry"), DataType::Binary, "VARBINARY(MAX)"),
        ];
        for (c, arrow, ddl) in cases {
            let m = arrow_type(&c).unwrap_or_else(|e| panic!("{}: {e}", c.data_type));
            assert_eq!(m.arrow, arrow, "{}", c.data_type);
            assert_eq!(ddl_type(&m.arrow).as_deref(), Ok(ddl), "{}", c.data_type);
        }
    }

    #[test]
    fn fallbacks_are_noted_and_unsupported_types_named() {
        assert!(arrow_type(&col("geography")).unwrap().note.is_some());
        assert!(arrow_type(&col("hierarchyid")).unwrap().note.is_some());
        assert_eq!(
            arrow_type(&col("sql_variant")).unwrap_err(),
            "type sql_variant holds values of different types and has no single Arrow type; stage a view that casts it (e.g. CAST(c AS NVARCHAR(4000)))"
        );
        assert_eq!(
            arrow_type(&col("MyClrType")).unwrap_err(),
            "type myclrtype is not supported; stage a view that casts it to a standard type"
        );
    }

    #[test]
    fn declared_types_print_like_ddl() {
        let c = CatalogColumn {
            char_max_len: Some(-1),
            ..col("nvarchar")
        };
        assert_eq!(c.declared(), "nvarchar(max)");
        let c = CatalogColumn {
            precision: Some(10),
            scale: Some(3),
            ..col("NUMERIC")
        };
        assert_eq!(c.declared(), "numeric(10,3)");
        let c = CatalogColumn {
            datetime_precision: Some(7),
            ..col("datetime2")
        };
        assert_eq!(c.declared(), "datetime2(7)");
    }

    #[test]
    fn select_sql_quotes_and_limits() {
        let exprs = vec![
            select_expr("Id", &ReadAs::Plain),
            select_expr("Price]x", &ReadAs::Cast("DECIMAL(19,4)")),
            select_expr("Node", &ReadAs::Method("ToString")),
        ];
        assert_eq!(
            select_sql("dbo", "Order Lines", &exprs, Some(5), None),
            "SELECT TOP (5) [Id], CAST([Price]]x] AS DECIMAL(19,4)) AS [Price]]x], [Node].ToString() AS [Node] FROM [dbo].[Order Lines]"
        );
        assert_eq!(
            select_sql("s]", "t", &["[a]".into()], None, None),
            "SELECT [a] FROM [s]]].[t]"
        );
        assert_eq!(
            select_sql("dbo", "t", &["[a]".into()], Some(2), Some("[a] > 1")),
            "SELECT TOP (2) [a] FROM (SELECT * FROM [dbo].[t] WHERE [a] > 1) stage_filtered"
        );
    }

    #[test]
    fn ddl_for_every_loader_type() {
        assert_eq!(ddl_type(&DataType::UInt16).unwrap(), "INT");
        assert_eq!(ddl_type(&DataType::UInt32).unwrap(), "BIGINT");
        assert_eq!(ddl_type(&DataType::UInt64).unwrap(), "DECIMAL(20,0)");
        assert_eq!(ddl_type(&DataType::Int8).unwrap(), "SMALLINT");
        assert_eq!(
            ddl_type(&DataType::Decimal128(10, -2)).unwrap(),
            "DECIMAL(12,0)"
        );
        assert_eq!(
            ddl_type(&DataType::Interval(IntervalUnit::MonthDayNano)).unwrap(),
            "NVARCHAR(100)"
        );
        assert_eq!(
            ddl_type(&DataType::Duration(TimeUnit::Second)).unwrap(),
            "BIGINT"
        );
        assert!(ddl_type(&DataType::Decimal128(38, -1)).is_err());
        assert!(ddl_type(&DataType::Decimal256(50, 2)).is_err());
    }
}

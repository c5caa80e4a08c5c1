//! PostgreSQL: catalog types → Arrow (source side) and Arrow → DDL (staging side). The
//! binary COPY value formats both sides speak are in the children `wire` (fixed-width
//! values, dates, times, intervals, network types, arrays) and `numeric` (`numeric`), and
//! re-exported here.
//!
//! The Arrow type of every column is fixed from `pg_attribute`/`pg_type` (domains resolved to
//! their base type, `atttypmod` for precision and scale) before the first row. Values then
//! travel in PostgreSQL's binary `send`/`recv` formats, decoded straight into Arrow builders
//! and encoded straight from Arrow arrays; nothing below rounds.
//!
//! | PostgreSQL                                   | Arrow                          | notes |
//! |----------------------------------------------|--------------------------------|-------|
//! | `boolean`                                    | Boolean                        | |
//! | `smallint` / `integer` / `bigint`            | Int16 / Int32 / Int64          | |
//! | `oid`                                        | Int64                          | unsigned 32-bit, widened |
//! | `real` / `double precision`                  | Float32 / Float64              | NaN and ±Infinity kept |
//! | `numeric(p,s)`, p ≤ 38                       | Decimal128(p,s)                | NaN/±Infinity → error naming table, column, row |
//! | `numeric(p,s)`, 38 < p ≤ 76                  | Decimal256(p,s)                | same |
//! | `numeric(p,s)` with s > p (PG 15)            | Decimal(s,s)                   | widened, never rounded |
//! | `numeric` unconstrained, or p > 76           | Utf8, exact decimal text       | `NaN`, `Infinity` kept as text; `stage plan` notes it |
//! | `text`, `varchar(n)`, `char(n)`, `name`, `citext`, enums | Utf8                | `char(n)` keeps its padding |
//! | `json` / `jsonb` / `xml`                     | Utf8                           | jsonb's 1-byte version prefix dropped |
//! | `bytea`                                      | Binary                         | |
//! | `date`                                       | Date32                         | ±infinity → error |
//! | `time`                                       | Time64(µs)                     | |
//! | `timestamp`                                  | Timestamp(µs)                  | naive stays naive; ±infinity → error |
//! | `timestamptz`                                | Timestamp(µs, "UTC")           | the instant is kept; ±infinity → error |
//! | `interval`                                   | Utf8, ISO 8601 (`P1Y2M3DT4H5M6.5S`) | months, days and µs kept apart (see below) |
//! | `uuid`                                       | FixedSizeBinary(16)            | the 16 bytes, big-endian as written |
//! | `timetz`, `inet`, `cidr`, `macaddr`, `macaddr8` | Utf8 (selected with `::text`) | PostgreSQL's own text form |
//! | one-dimensional arrays of the above          | List<item type>                | NULL elements kept; more dimensions or a lower bound other than 1 → error |
//! | anything else (`money`, geometric, ranges, bit strings, composites, …) | Utf8 (`::text`) | `stage plan` notes it |
//!
//! Why intervals are text: PostgreSQL keeps months, days and microseconds apart (`1 mon` is not
//! `30 days`), which only Arrow's Interval(MonthDayNano) can hold, and Parquet cannot store that
//! type. The ISO 8601 form with a sign per component keeps all three exactly, is readable by
//! every Parquet reader and is valid PostgreSQL input.
//!
//! Staging in PostgreSQL creates each column from its Arrow type (see [`ddl_type`]). Where the
//! column's source type (field metadata `stage.source_type`, or an explicit `stage.pg_type`)
//! spells one of PostgreSQL's own types that travel as text or bytes — `json`, `jsonb`, `xml`,
//! `uuid`, `inet`, `cidr`, `macaddr`, `macaddr8`, `time with time zone`, `interval…`,
//! `numeric…` (text carrier), or an array of them — the staging column gets that type again,
//! so PostgreSQL → PostgreSQL keeps the types. Enums become `text` (the enum type does not exist
//! in staging).

mod numeric;
mod wire;

pub use numeric::{
    decimal_digits_i128, encode_numeric_digits, encode_numeric_i128, encode_numeric_text,
    encode_numeric_unscaled, fits_precision_i256, numeric_to_i128, numeric_to_i256,
    numeric_to_text,
};
pub use wire::{
    array_header, be_i16, be_i32, be_i64, be_u16, days_to_pg_date, encode_array_header,
    encode_inet, encode_mac, expect_len, interval_to_text, parse_interval_text, parse_timetz,
    pg_date_to_days, pg_timestamp_to_unix, unix_to_pg_timestamp, COPY_SIGNATURE, PG_EPOCH_DAYS,
};

use arrow::datatypes::{DataType, Field, TimeUnit};

/// Field metadata key naming the PostgreSQL type to create, when a source sets it.
pub const PG_TYPE_KEY: &str = "stage.pg_type";

/// How a column's values are decoded (source) — one per scalar type family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    /// numeric into Decimal128 with this scale (precision checked).
    Decimal128(u8, i8),
    Decimal256(u8, i8),
    /// numeric as exact text.
    NumericText,
    /// Text in the client encoding (UTF-8): text, varchar, enums, json, `::text` casts.
    Text,
    /// jsonb: a version byte (1) and the text.
    Jsonb,
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    /// interval as ISO 8601 text.
    Interval,
    Uuid,
}

impl ReadAs {
    pub fn arrow_type(self) -> DataType {
        match self {
            ReadAs::Bool => DataType::Boolean,
            ReadAs::Int2 => DataType::Int16,
            ReadAs::Int4 => DataType::Int32,
            ReadAs::Int8 | ReadAs::Oid => DataType::Int64,
            ReadAs::Float4 => DataType::Float32,
            ReadAs::Float8 => DataType::Float64,
            ReadAs::Decimal128(p, s) => DataType::Decimal128(p, s),
            ReadAs::Decimal256(p, s) => DataType::Decimal256(p, s),
            ReadAs::NumericText | ReadAs::Text | ReadAs::Jsonb | ReadAs::Interval => DataType::Utf8,
            ReadAs::Bytea => DataType::Binary,
            ReadAs::Date => DataType::Date32,
            ReadAs::Time => DataType::Time64(TimeUnit::Microsecond),
            ReadAs::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            ReadAs::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ReadAs::Uuid => DataType::FixedSizeBinary(16),
        }
    }
}

/// A column's type as the catalog gives it (domains already resolved to their base type).
#[derive(Debug, Clone)]
pub struct CatalogType {
    /// `pg_type.typname` of the (base) type, e.g. `int4`, `_int4` for arrays.
    pub typname: String,
    /// `pg_type.typtype`: `b` base, `e` enum, `c` composite, `r` range, ...
    pub typtype: char,
    pub typmod: i32,
    /// For arrays: the element's typname and typtype.
    pub element: Option<(String, char)>,
}

/// How one column is read.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub kind: ReadAs,
    pub array: bool,
    /// Select the column with this cast (`::text` or `::text[]`).
    pub cast: Option<&'static str>,
    pub arrow_type: DataType,
    pub note: Option<String>,
}

/// Types read in their text form (selected with `::text`) without loss.
const TEXT_CAST: &[&str] = &["timetz", "inet", "cidr", "macaddr", "macaddr8", "xml"];

/// `(kind, needs ::text, note)` for a scalar type.
fn scalar(
    typname: &str,
    typtype: char,
    typmod: i32,
    shown: &str,
) -> (ReadAs, bool, Option<String>) {
    let k = match typname {
        "bool" => ReadAs::Bool,
        "int2" => ReadAs::Int2,
        "int4" => ReadAs::Int4,
        "int8" => ReadAs::Int8,
        "oid" => ReadAs::Oid,
        "float4" => ReadAs::Float4,
        "float8" => ReadAs::Float8,
        "numeric" => return numeric(typmod, shown),
        "text" | "varchar" | "bpchar" | "name" | "citext" | "json" => ReadAs::Text,
        "jsonb" => ReadAs::Jsonb,
        "bytea" => ReadAs::Bytea,
        "date" => ReadAs::Date,
        "time" => ReadAs::Time,
        "timestamp" => ReadAs::Timestamp,
        "timestamptz" => ReadAs::Timestamptz,
        "interval" => ReadAs::Interval,
        "uuid" => ReadAs::Uuid,
        t if TEXT_CAST.contains(&t) => return (ReadAs::Text, true, None),
        _ if typtype == 'e' => ReadAs::Text,
        _ => {
            return (
                ReadAs::Text,
                true,
                Some(format!(
                    "type {shown} has no exact Arrow mapping: read as its PostgreSQL text form (::text) and staged as text"
                )),
            )
        }
    };
    (k, false, None)
}

/// Precision and scale of a `numeric` typmod; `None` when unconstrained.
pub fn numeric_typmod(typmod: i32) -> Option<(i32, i32)> {
    if typmod < 4 {
        return None;
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xffff;
    // PostgreSQL 15 stores the scale as an 11-bit signed number.
    let scale = ((t & 0x7ff) ^ 1024) - 1024;
    Some((precision, scale))
}

fn numeric(typmod: i32, shown: &str) -> (ReadAs, bool, Option<String>) {
    let text_note = |why: &str| {
        Some(format!(
            "{shown}: {why}, read as exact decimal text (Arrow Utf8; NaN/Infinity kept) and staged as numeric on PostgreSQL, as text elsewhere"
        ))
    };
    match numeric_typmod(typmod) {
        None => (
            ReadAs::NumericText,
            false,
            text_note("unconstrained numeric"),
        ),
        Some((p, s)) => {
            // numeric(2,5) holds values below 0.001: widening the precision loses nothing.
            let p = p.max(s);
            match (u8::try_from(p), i8::try_from(s)) {
                (Ok(p), Ok(s)) if p <= 38 => (ReadAs::Decimal128(p, s), false, None),
                (Ok(p), Ok(s)) if p <= 76 => (ReadAs::Decimal256(p, s), false, None),
                _ => (
                    ReadAs::NumericText,
                    false,
                    text_note("precision above 76 (the widest Arrow decimal)"),
                ),
            }
        }
    }
}

/// The reading plan for a column: `shown` is `format_type()` for messages.
pub fn map_column(t: &CatalogType, shown: &str) -> Mapping {
    match &t.element {
        Some((elem, elem_typtype)) => {
            // An array's typmod is its element's.
            let (kind, cast, note) = scalar(elem, *elem_typtype, t.typmod, shown);
            let item = Field::new("item", kind.arrow_type(), true);
            Mapping {
                kind,
                array: true,
                cast: cast.then_some("text[]"),
                arrow_type: DataType::List(item.into()),
                note,
            }
        }
        None => {
            let (kind, cast, note) = scalar(&t.typname, t.typtype, t.typmod, shown);
            Mapping {
                kind,
                array: false,
                cast: cast.then_some("text"),
                arrow_type: kind.arrow_type(),
                note,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Staging side: Arrow → PostgreSQL types.
// ---------------------------------------------------------------------------------------

/// A PostgreSQL type recreated from a source type spelling (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Json,
    Jsonb,
    Xml,
    Uuid,
    Inet,
    Cidr,
    Macaddr,
    Macaddr8,
    Timetz,
    Interval,
    Numeric,
}

impl Special {
    /// The element type's OID (binary arrays name it).
    pub fn oid(self) -> u32 {
        match self {
            Special::Json => 114,
            Special::Jsonb => 3802,
            Special::Xml => 142,
            Special::Uuid => 2950,
            Special::Inet => 869,
            Special::Cidr => 650,
            Special::Macaddr => 829,
            Special::Macaddr8 => 774,
            Special::Timetz => 1266,
            Special::Interval => 1186,
            Special::Numeric => 1700,
        }
    }
}

/// Recognises a PostgreSQL type spelling (as `format_type` writes it, arrays without `[]`).
fn special_of(spelling: &str) -> Option<Special> {
    let s = spelling.trim();
    let simple = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b" (),".contains(&b))
    };
    Some(match s {
        "json" => Special::Json,
        "jsonb" => Special::Jsonb,
        "xml" => Special::Xml,
        "uuid" => Special::Uuid,
        "inet" => Special::Inet,
        "cidr" => Special::Cidr,
        "macaddr" => Special::Macaddr,
        "macaddr8" => Special::Macaddr8,
        "time with time zone" | "timetz" => Special::Timetz,
        _ if s.starts_with("time(") && s.ends_with(") with time zone") && simple(s) => {
            Special::Timetz
        }
        _ if (s == "interval" || s.starts_with("interval ") || s.starts_with("interval("))
            && simple(s) =>
        {
            Special::Interval
        }
        _ if (s == "numeric" || s.starts_with("numeric(")) && simple(s) => Special::Numeric,
        _ => return None,
    })
}

/// The type spelling recorded for a field: `stage.pg_type`, else `stage.source_type`.
fn recorded_type(field: &Field) -> Option<&str> {
    let m = field.metadata();
    m.get(PG_TYPE_KEY)
        .or_else(|| m.get(crate::types::SOURCE_TYPE_KEY))
        .map(String::as_str)
}

/// The special PostgreSQL type a field is recreated as, with the DDL spelling, if any.
/// Only applies when the Arrow type is the carrier the PostgreSQL source uses.
pub fn special_for(field: &Field) -> Option<(Special, String)> {
    let recorded = recorded_type(field)?;
    let (base, carrier) = match field.data_type() {
        DataType::List(item) | DataType::LargeList(item) => {
            (recorded.strip_suffix("[]")?, item.data_type())
        }
        dt => (recorded, dt),
    };
    let sp = special_of(base)?;
    let fits = match sp {
        Special::Uuid => matches!(carrier, DataType::FixedSizeBinary(16)),
        _ => matches!(
            carrier,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
    };
    fits.then(|| (sp, base.trim().to_string()))
}

/// The staging column type for an Arrow type (without source hints; see [`field_ddl_type`]).
pub fn ddl_type(dt: &DataType) -> Result<String, String> {
    Ok(match dt {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "numeric(20,0)".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("numeric({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => "text".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Interval(_) | DataType::Duration(_) => "interval".into(),
        DataType::List(item) | DataType::LargeList(item) => {
            match item.data_type() {
                DataType::List(_) | DataType::LargeList(_) => return Err(
                    "nested lists have no PostgreSQL column type (arrays are not lists of lists)"
                        .into(),
                ),
                inner => format!("{}[]", ddl_type(inner)?),
            }
        }
        other => {
            return Err(format!(
                "PostgreSQL staging has no column type for Arrow {other}"
            ))
        }
    })
}

/// The staging column type for a field: a recorded PostgreSQL type where one applies.
pub fn field_ddl_type(field: &Field) -> Result<String, String> {
    if let Some((_, ddl)) = special_for(field) {
        return Ok(match field.data_type() {
            DataType::List(_) | DataType::LargeList(_) => format!("{ddl}[]"),
            _ => ddl,
        });
    }
    ddl_type(field.data_type())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typmods_give_precision_and_scale() {
        // numeric(12,2): ((12 << 16) | 2) + 4.
        assert_eq!(numeric_typmod((12 << 16 | 2) + 4), Some((12, 2)));
        assert_eq!(numeric_typmod(-1), None);
        // numeric(5,-2) (PostgreSQL 15): the scale is 11-bit signed.
        assert_eq!(
            numeric_typmod((5 << 16 | (0x7ff & -2i32)) + 4),
            Some((5, -2))
        );
    }

    #[test]
    fn catalog_types_map_by_rule() {
        let ct = |t: &str, typmod: i32| CatalogType {
            typname: t.into(),
            typtype: 'b',
            typmod,
            element: None,
        };
        assert_eq!(
            map_column(&ct("int4", -1), "integer").arrow_type,
            DataType::Int32
        );
        let m = map_column(&ct("numeric", (12 << 16 | 2) + 4), "numeric(12,2)");
        assert_eq!(m.arrow_type, DataType::Decimal128(12, 2));
        let m = map_column(&ct("numeric", (50 << 16 | 5) + 4), "numeric(50,5)");
        assert_eq!(m.arrow_type, DataType::Decimal256(50, 5));
        let m = map_column(&ct("numeric", -1), "numeric");
        assert_eq!((m.kind, m.note.is_some()), (ReadAs::NumericText, true));
        let m = map_column(&ct("inet", -1), "inet");
        assert_eq!((m.cast, m.note), (Some("text"), None));
        let m = map_column(&ct("money", -1), "money");
        assert!(m.note.is_some());
        let arr = CatalogType {
            typname: "_int4".into(),
            typtype: 'b',
            typmod: -1,
            element: Some(("int4".into(), 'b')),
        };
        assert_eq!(
            map_column(&arr, "integer[]").arrow_type,
            DataType::List(Field::new("item", DataType::Int32, true).into())
        );
    }

    #[test]
    fn staging_types_recreate_postgres_types_from_the_source_type() {
        let with = |dt: DataType, src: &str| {
            Field::new("c", dt, true).with_metadata(
                [(crate::types::SOURCE_TYPE_KEY.to_string(), src.to_string())].into(),
            )
        };
        assert_eq!(
            field_ddl_type(&with(DataType::Utf8, "jsonb")).unwrap(),
            "jsonb"
        );
        assert_eq!(
            field_ddl_type(&with(DataType::FixedSizeBinary(16), "uuid")).unwrap(),
            "uuid"
        );
        assert_eq!(
            field_ddl_type(&with(DataType::Utf8, "uuid")).unwrap(),
            "text"
        );
        assert_eq!(
            field_ddl_type(&with(
                DataType::List(Field::new("item", DataType::Utf8, true).into()),
                "inet[]"
            ))
            .unwrap(),
            "inet[]"
        );
        assert_eq!(
            field_ddl_type(&with(DataType::Utf8, "numeric")).unwrap(),
            "numeric"
        );
        assert_eq!(
            field_ddl_type(&with(DataType::Utf8, "INTERVAL DAY(2) TO SECOND(6)")).unwrap(),
            "text"
        );
        assert_eq!(
            ddl_type(&DataType::Decimal128(38, 10)).unwrap(),
            "numeric(38,10)"
        );
        assert_eq!(ddl_type(&DataType::UInt64).unwrap(), "numeric(20,0)");
        assert_eq!(
            ddl_type(&DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into())
            ))
            .unwrap(),
            "timestamptz"
        );
    }
}

//! PostgreSQL: catalog types → Arrow (source side), Arrow → DDL (staging side), and the
//! binary COPY value formats both sides speak.
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

use arrow::datatypes::i256;
use arrow::datatypes::{DataType, Field, TimeUnit};

/// Field metadata key naming the PostgreSQL type to create, when a source sets it.
pub const PG_TYPE_KEY: &str = "stage.pg_type";

/// Seconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_SECONDS: i64 = 946_684_800;
/// Days from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_SECONDS * 1_000_000;

/// The signature that opens a binary COPY stream.
pub const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// How a column's values are decoded (source) — one per scalar type family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
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

impl Kind {
    pub fn arrow_type(self) -> DataType {
        match self {
            Kind::Bool => DataType::Boolean,
            Kind::Int2 => DataType::Int16,
            Kind::Int4 => DataType::Int32,
            Kind::Int8 | Kind::Oid => DataType::Int64,
            Kind::Float4 => DataType::Float32,
            Kind::Float8 => DataType::Float64,
            Kind::Decimal128(p, s) => DataType::Decimal128(p, s),
            Kind::Decimal256(p, s) => DataType::Decimal256(p, s),
            Kind::NumericText | Kind::Text | Kind::Jsonb | Kind::Interval => DataType::Utf8,
            Kind::Bytea => DataType::Binary,
            Kind::Date => DataType::Date32,
            Kind::Time => DataType::Time64(TimeUnit::Microsecond),
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Uuid => DataType::FixedSizeBinary(16),
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
    pub kind: Kind,
    pub array: bool,
    /// Select the column with this cast (`::text` or `::text[]`).
    pub cast: Option<&'static str>,
    pub arrow_type: DataType,
    pub note: Option<String>,
}

/// Types read in their text form (selected with `::text`) without loss.
const TEXT_CAST: &[&str] = &["timetz", "inet", "cidr", "macaddr", "macaddr8", "xml"];

/// `(kind, needs ::text, note)` for a scalar type.
fn scalar(typname: &str, typtype: char, typmod: i32, shown: &str) -> (Kind, bool, Option<String>) {
    let k = match typname {
        "bool" => Kind::Bool,
        "int2" => Kind::Int2,
        "int4" => Kind::Int4,
        "int8" => Kind::Int8,
        "oid" => Kind::Oid,
        "float4" => Kind::Float4,
        "float8" => Kind::Float8,
        "numeric" => return numeric(typmod, shown),
        "text" | "varchar" | "bpchar" | "name" | "citext" | "json" => Kind::Text,
        "jsonb" => Kind::Jsonb,
        "bytea" => Kind::Bytea,
        "date" => Kind::Date,
        "time" => Kind::Time,
        "timestamp" => Kind::Timestamp,
        "timestamptz" => Kind::Timestamptz,
        "interval" => Kind::Interval,
        "uuid" => Kind::Uuid,
        t if TEXT_CAST.contains(&t) => return (Kind::Text, true, None),
        _ if typtype == 'e' => Kind::Text,
        _ => {
            return (
                Kind::Text,
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

fn numeric(typmod: i32, shown: &str) -> (Kind, bool, Option<String>) {
    let text_note = |why: &str| {
        Some(format!(
            "{shown}: {why}, read as exact decimal text (Arrow Utf8; NaN/Infinity kept) and staged as numeric on PostgreSQL, as text elsewhere"
        ))
    };
    match numeric_typmod(typmod) {
        None => (Kind::NumericText, false, text_note("unconstrained numeric")),
        Some((p, s)) => {
            // numeric(2,5) holds values below 0.001: widening the precision loses nothing.
            let p = p.max(s);
            match (u8::try_from(p), i8::try_from(s)) {
                (Ok(p), Ok(s)) if p <= 38 => (Kind::Decimal128(p, s), false, None),
                (Ok(p), Ok(s)) if p <= 76 => (Kind::Decimal256(p, s), false, None),
                _ => (
                    Kind::NumericText,
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

// ---------------------------------------------------------------------------------------
// Binary formats.
// ---------------------------------------------------------------------------------------

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

pub fn be_i16(b: &[u8]) -> i16 {
    i16::from_be_bytes([b[0], b[1]])
}
pub fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
pub fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
pub fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Checks a fixed-width value's length.
pub fn expect_len(bytes: &[u8], n: usize, what: &str) -> Result<(), String> {
    if bytes.len() == n {
        Ok(())
    } else {
        Err(format!(
            "a {what} value of {} bytes (expected {n})",
            bytes.len()
        ))
    }
}

/// A decoded numeric header with its base-10000 digits.
struct NumericParts<'a> {
    weight: i16,
    sign: u16,
    dscale: u16,
    digits: &'a [u8],
}

fn numeric_parts(b: &[u8]) -> Result<NumericParts<'_>, String> {
    if b.len() < 8 {
        return Err("a truncated numeric value".into());
    }
    let ndigits = be_i16(b) as usize;
    let digits = &b[8..];
    if digits.len() != ndigits * 2 {
        return Err("a numeric value with a wrong digit count".into());
    }
    Ok(NumericParts {
        weight: be_i16(&b[2..]),
        sign: be_u16(&b[4..]),
        dscale: be_u16(&b[6..]),
        digits,
    })
}

fn special_numeric(sign: u16) -> Option<&'static str> {
    match sign {
        NUMERIC_NAN => Some("NaN"),
        NUMERIC_PINF => Some("Infinity"),
        NUMERIC_NINF => Some("-Infinity"),
        _ => None,
    }
}

macro_rules! numeric_to_int {
    ($name:ident, $t:ty, $from:expr, $ten:expr) => {
        /// A binary numeric as the unscaled integer at `scale`; fails when digits would be
        /// lost, on overflow, and for NaN/±Infinity.
        pub fn $name(b: &[u8], scale: i8) -> Result<$t, String> {
            let n = numeric_parts(b)?;
            if let Some(s) = special_numeric(n.sign) {
                return Err(format!("numeric {s} has no decimal representation"));
            }
            let overflow =
                || "the numeric value does not fit the column's decimal type".to_string();
            let from = $from;
            let ten: $t = $ten;
            let min_exp = -i32::from(scale);
            let mut acc: $t = from(0);
            // Decimal exponent of acc's last digit.
            let mut cur_exp = 4 * (i32::from(n.weight) + 1);
            for (i, d) in n.digits.chunks_exact(2).enumerate() {
                let d = be_u16(d);
                if d >= 10_000 {
                    return Err("a numeric digit above 9999".into());
                }
                let base = 4 * (i32::from(n.weight) - i as i32);
                // Bring acc to this group's top exponent (+4) first.
                let gap = cur_exp - (base + 4);
                if gap > 0 {
                    acc = acc
                        .checked_mul(ten.checked_pow(gap as u32).ok_or_else(overflow)?)
                        .ok_or_else(overflow)?;
                }
                if base >= min_exp {
                    acc = acc
                        .checked_mul(from(10_000))
                        .and_then(|a| a.checked_add(from(i64::from(d))))
                        .ok_or_else(overflow)?;
                    cur_exp = base;
                } else if base + 3 >= min_exp {
                    let drop = (min_exp - base) as u32;
                    let div = 10i64.pow(drop);
                    if i64::from(d) % div != 0 {
                        return Err(format!(
                            "the numeric value has more than {scale} decimal places"
                        ));
                    }
                    let keep = 4 - drop;
                    acc = acc
                        .checked_mul(from(10i64.pow(keep)))
                        .and_then(|a| a.checked_add(from(i64::from(d) / div)))
                        .ok_or_else(overflow)?;
                    cur_exp = min_exp;
                } else if d != 0 {
                    return Err(format!(
                        "the numeric value has more than {scale} decimal places"
                    ));
                }
            }
            if cur_exp > min_exp {
                acc = acc
                    .checked_mul(
                        ten.checked_pow((cur_exp - min_exp) as u32)
                            .ok_or_else(overflow)?,
                    )
                    .ok_or_else(overflow)?;
            }
            Ok(if n.sign == NUMERIC_NEG {
                acc.checked_neg().ok_or_else(overflow)?
            } else {
                acc
            })
        }
    };
}

numeric_to_int!(numeric_to_i128, i128, |v: i64| v as i128, 10i128);
numeric_to_int!(
    numeric_to_i256,
    i256,
    i256::from_i128_i64,
    i256::from_i128(10)
);

/// `i256::from_i128` for an i64, usable as a plain fn.
trait FromI64 {
    fn from_i128_i64(v: i64) -> Self;
}
impl FromI64 for i256 {
    fn from_i128_i64(v: i64) -> Self {
        i256::from_i128(i128::from(v))
    }
}

/// Number of decimal digits of an unscaled value's magnitude.
pub fn decimal_digits_i128(v: i128) -> u32 {
    let m = v.unsigned_abs();
    if m == 0 {
        1
    } else {
        m.ilog10() + 1
    }
}

pub fn fits_precision_i256(v: i256, precision: u8) -> bool {
    match i256::from_i128(10).checked_pow(u32::from(precision)) {
        Some(limit) => v < limit && v > limit.wrapping_neg(),
        None => true,
    }
}

/// A binary numeric as PostgreSQL prints it (`-12.50`, `NaN`, `Infinity`).
pub fn numeric_to_text(b: &[u8]) -> Result<String, String> {
    let n = numeric_parts(b)?;
    if let Some(s) = special_numeric(n.sign) {
        return Ok(s.to_string());
    }
    let groups: Vec<u16> = n.digits.chunks_exact(2).map(be_u16).collect();
    if groups.iter().any(|&d| d >= 10_000) {
        return Err("a numeric digit above 9999".into());
    }
    let weight = i32::from(n.weight);
    let mut out = String::with_capacity(groups.len() * 4 + 4);
    if n.sign == NUMERIC_NEG {
        out.push('-');
    }
    // Integer part: groups 0..=weight.
    if weight < 0 {
        out.push('0');
    } else {
        for i in 0..=weight {
            let d = groups.get(i as usize).copied().unwrap_or(0);
            if i == 0 {
                out.push_str(&d.to_string());
            } else {
                out.push_str(&format!("{d:04}"));
            }
        }
    }
    if n.dscale > 0 {
        out.push('.');
        let mut frac = String::with_capacity(n.dscale as usize + 4);
        let mut i = weight + 1;
        while (frac.len() as u16) < n.dscale {
            let d = if i < 0 {
                0
            } else {
                groups.get(i as usize).copied().unwrap_or(0)
            };
            frac.push_str(&format!("{d:04}"));
            i += 1;
        }
        frac.truncate(n.dscale as usize);
        out.push_str(&frac);
    }
    Ok(out)
}

/// Appends the binary numeric of `[-]int.frac` (ASCII digits) to `out`.
pub fn encode_numeric_digits(negative: bool, int: &[u8], frac: &[u8], out: &mut Vec<u8>) {
    let dscale = frac.len() as u16;
    // Integer digits, left-padded to a multiple of 4; fraction right-padded.
    let int = {
        let first_nonzero = int.iter().position(|&c| c != b'0').unwrap_or(int.len());
        &int[first_nonzero..]
    };
    let int_pad = (4 - int.len() % 4) % 4;
    let frac_pad = (4 - frac.len() % 4) % 4;
    let total = int_pad + int.len() + frac.len() + frac_pad;
    let mut groups: Vec<u16> = Vec::with_capacity(total / 4);
    let mut cur: u16 = 0;
    let mut n = 0;
    let digit_iter = std::iter::repeat_n(b'0', int_pad)
        .chain(int.iter().copied())
        .chain(frac.iter().copied())
        .chain(std::iter::repeat_n(b'0', frac_pad));
    for c in digit_iter {
        cur = cur * 10 + u16::from(c - b'0');
        n += 1;
        if n == 4 {
            groups.push(cur);
            cur = 0;
            n = 0;
        }
    }
    let int_groups = (int_pad + int.len()) / 4;
    let mut weight = int_groups as i32 - 1;
    // Strip leading and trailing zero groups.
    let lead = groups.iter().position(|&g| g != 0).unwrap_or(groups.len());
    weight -= lead as i32;
    let groups = &groups[lead..];
    let end = groups.iter().rposition(|&g| g != 0).map_or(0, |p| p + 1);
    let groups = &groups[..end];
    let (weight, sign) = if groups.is_empty() {
        (0, NUMERIC_POS)
    } else {
        (weight, if negative { NUMERIC_NEG } else { NUMERIC_POS })
    };
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

/// Appends the binary numeric of the unscaled `value` at `scale`, by arithmetic: the hot
/// path of loading decimals (`encode_numeric_unscaled` formats digits first). Produces the
/// same bytes as `encode_numeric_unscaled`.
pub fn encode_numeric_i128(value: i128, scale: i8, out: &mut Vec<u8>) {
    let negative = value < 0;
    let magnitude = value.unsigned_abs();
    // Align the decimal point to a base-10000 group boundary; beyond 10^34 the shift could
    // overflow u128, and negative scales are rare: both take the digit path.
    if scale < 0 || magnitude >= 10u128.pow(34) {
        encode_numeric_unscaled(negative, &magnitude.to_string(), scale, out);
        return;
    }
    let dscale = scale as u16;
    let frac_groups = (scale as i32 + 3) / 4;
    let mut m = magnitude * 10u128.pow((frac_groups * 4 - scale as i32) as u32);
    // Base-10000 digits, least significant first, trailing zero groups dropped.
    let mut groups = [0u16; 10];
    let mut n = 0;
    let mut low_zeros = 0;
    while m > 0 {
        let g = (m % 10_000) as u16;
        m /= 10_000;
        if n == 0 && g == 0 {
            low_zeros += 1;
            continue;
        }
        groups[n] = g;
        n += 1;
    }
    let (weight, sign) = if n == 0 {
        (0, NUMERIC_POS)
    } else {
        let weight = (n as i32 + low_zeros) - 1 - frac_groups;
        (weight, if negative { NUMERIC_NEG } else { NUMERIC_POS })
    };
    out.extend_from_slice(&(n as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups[..n].iter().rev() {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

/// Appends the binary numeric of an unscaled integer's decimal digits at `scale`.
pub fn encode_numeric_unscaled(negative: bool, magnitude: &str, scale: i8, out: &mut Vec<u8>) {
    let digits = magnitude.as_bytes();
    if scale <= 0 {
        let mut int = digits.to_vec();
        int.extend(std::iter::repeat_n(b'0', (-i32::from(scale)) as usize));
        encode_numeric_digits(negative, &int, b"", out);
    } else {
        let s = scale as usize;
        if digits.len() > s {
            let (i, f) = digits.split_at(digits.len() - s);
            encode_numeric_digits(negative, i, f, out);
        } else {
            let mut f = vec![b'0'; s - digits.len()];
            f.extend_from_slice(digits);
            encode_numeric_digits(negative, b"", &f, out);
        }
    }
}

/// Appends the binary numeric of a decimal text (`-12.50`, `NaN`, `Infinity`, `1.5e3`).
pub fn encode_numeric_text(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let t = text.trim();
    let special = match t.to_ascii_lowercase().as_str() {
        "nan" => Some(NUMERIC_NAN),
        "infinity" | "+infinity" | "inf" | "+inf" => Some(NUMERIC_PINF),
        "-infinity" | "-inf" => Some(NUMERIC_NINF),
        _ => None,
    };
    if let Some(sign) = special {
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        return Ok(());
    }
    let bad = || format!("\"{text}\" is not a decimal number");
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || exp.unsigned_abs() > 100_000
    {
        return Err(bad());
    }
    if exp == 0 {
        encode_numeric_digits(negative, int.as_bytes(), frac.as_bytes(), out);
        return Ok(());
    }
    // Shift the decimal point by the exponent.
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let point = int.len() as i64 + i64::from(exp);
    let (i, f): (Vec<u8>, Vec<u8>) = if point <= 0 {
        let mut f = vec![b'0'; (-point) as usize];
        f.extend_from_slice(&digits);
        (Vec::new(), f)
    } else if point as usize >= digits.len() {
        let mut i = digits.clone();
        i.extend(std::iter::repeat_n(b'0', point as usize - digits.len()));
        (i, Vec::new())
    } else {
        (
            digits[..point as usize].to_vec(),
            digits[point as usize..].to_vec(),
        )
    };
    encode_numeric_digits(negative, &i, &f, out);
    Ok(())
}

/// PostgreSQL days (since 2000-01-01) → Arrow Date32 days (since 1970-01-01).
pub fn pg_date_to_days(v: i32) -> Result<i32, String> {
    match v {
        i32::MAX => Err("date 'infinity' has no Arrow representation".into()),
        i32::MIN => Err("date '-infinity' has no Arrow representation".into()),
        v => v
            .checked_add(PG_EPOCH_DAYS)
            .ok_or_else(|| "date out of range".to_string()),
    }
}

pub fn days_to_pg_date(days: i32) -> Result<i32, String> {
    days.checked_sub(PG_EPOCH_DAYS)
        .filter(|v| *v != i32::MIN && *v != i32::MAX)
        .ok_or_else(|| "date out of PostgreSQL's range".to_string())
}

/// PostgreSQL µs since 2000-01-01 → µs since 1970-01-01.
pub fn pg_timestamp_to_unix(v: i64) -> Result<i64, String> {
    match v {
        i64::MAX => Err("timestamp 'infinity' has no Arrow representation".into()),
        i64::MIN => Err("timestamp '-infinity' has no Arrow representation".into()),
        v => v
            .checked_add(PG_EPOCH_MICROS)
            .ok_or_else(|| "timestamp out of range".to_string()),
    }
}

pub fn unix_to_pg_timestamp(micros: i64) -> Result<i64, String> {
    micros
        .checked_sub(PG_EPOCH_MICROS)
        .filter(|v| *v != i64::MIN && *v != i64::MAX)
        .ok_or_else(|| "timestamp out of PostgreSQL's range".to_string())
}

/// An interval (months, days, µs) in ISO 8601 with a sign per component, as PostgreSQL's
/// `iso_8601` style prints it: `P1Y2M3DT4H5M6.5S`, `P-1M`, `PT0S`.
pub fn interval_to_text(months: i32, days: i32, micros: i64) -> String {
    let mut out = String::from("P");
    let years = months / 12;
    let mons = months % 12;
    if years != 0 {
        out.push_str(&format!("{years}Y"));
    }
    if mons != 0 {
        out.push_str(&format!("{mons}M"));
    }
    if days != 0 {
        out.push_str(&format!("{days}D"));
    }
    if micros != 0 {
        out.push('T');
        let neg = micros < 0;
        let m = micros.unsigned_abs();
        let hours = m / 3_600_000_000;
        let minutes = (m / 60_000_000) % 60;
        let secs = (m / 1_000_000) % 60;
        let frac = m % 1_000_000;
        let sign = if neg { "-" } else { "" };
        if hours != 0 {
            out.push_str(&format!("{sign}{hours}H"));
        }
        if minutes != 0 {
            out.push_str(&format!("{sign}{minutes}M"));
        }
        if secs != 0 || frac != 0 {
            if frac == 0 {
                out.push_str(&format!("{sign}{secs}S"));
            } else {
                let f = format!("{frac:06}");
                out.push_str(&format!("{sign}{secs}.{}S", f.trim_end_matches('0')));
            }
        }
    }
    if out == "P" {
        out.push_str("T0S");
    }
    out
}

/// Parses [`interval_to_text`]'s form back to (months, days, µs).
pub fn parse_interval_text(text: &str) -> Result<(i32, i32, i64), String> {
    let bad = || format!("\"{text}\" is not an ISO 8601 interval (like P1Y2M3DT4H5M6.5S)");
    let t = text.trim();
    let body = t.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let (mut months, mut days, mut micros) = (0i64, 0i64, 0i64);
    let mut rest = date;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(bad)?;
        let n: i64 = rest[..end].parse().map_err(|_| bad())?;
        match &rest[end..end + 1] {
            "Y" => months += n.checked_mul(12).ok_or_else(bad)?,
            "M" => months += n,
            "W" => days += n.checked_mul(7).ok_or_else(bad)?,
            "D" => days += n,
            _ => return Err(bad()),
        }
        rest = &rest[end + 1..];
    }
    if let Some(time) = time {
        let mut rest = time;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let end = rest
                .find(|c: char| c.is_ascii_alphabetic())
                .ok_or_else(bad)?;
            let num = &rest[..end];
            let unit = &rest[end..end + 1];
            let us = match unit {
                "H" => 3_600_000_000i64,
                "M" => 60_000_000,
                "S" => 1_000_000,
                _ => return Err(bad()),
            };
            let (neg, digits) = match num.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, num.strip_prefix('+').unwrap_or(num)),
            };
            let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
            if whole.is_empty() && frac.is_empty()
                || !whole.bytes().all(|b| b.is_ascii_digit())
                || !frac.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad());
            }
            let whole: i64 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| bad())?
            };
            let mut v = whole.checked_mul(us).ok_or_else(bad)?;
            if !frac.is_empty() {
                // Fractions only on seconds, to the microsecond.
                if unit != "S" || frac.len() > 6 {
                    return Err(bad());
                }
                let f: i64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
                v += f;
            }
            micros = micros
                .checked_add(if neg { -v } else { v })
                .ok_or_else(bad)?;
            rest = &rest[end + 1..];
        }
    }
    let months = i32::try_from(months).map_err(|_| bad())?;
    let days = i32::try_from(days).map_err(|_| bad())?;
    Ok((months, days, micros))
}

/// `HH:MM[:SS[.ffffff]]±HH[:MM[:SS]]` → (µs since midnight, zone offset in seconds *west* of
/// UTC, as PostgreSQL stores it).
pub fn parse_timetz(text: &str) -> Result<(i64, i32), String> {
    let bad = || format!("\"{text}\" is not a time with time zone (like 10:30:00+02)");
    let t = text.trim();
    let pos = t.rfind(['+', '-']).ok_or_else(bad)?;
    let (time, zone) = t.split_at(pos);
    let micros = if time.starts_with("24:00")
        && time
            .trim_start_matches("24:00")
            .trim_matches([':', '0', '.'])
            .is_empty()
    {
        86_400_000_000
    } else {
        super::parse_time(time).map_err(|_| bad())?
    };
    let sign: i32 = if zone.starts_with('-') { -1 } else { 1 };
    let mut parts = zone[1..].split(':');
    let mut secs = 0i32;
    for mult in [3600, 60, 1] {
        if let Some(p) = parts.next() {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            secs += p.parse::<i32>().map_err(|_| bad())? * mult;
        }
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok((micros, -sign * secs))
}

/// Appends the binary `inet`/`cidr` value of `text` (`10.0.0.1`, `10.0.0.0/8`, `::1/128`).
pub fn encode_inet(text: &str, cidr: bool, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || {
        format!(
            "\"{text}\" is not an IP address{}",
            if cidr { " or network" } else { "" }
        )
    };
    let t = text.trim();
    let (addr, bits) = match t.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
        None => (t, None),
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    let (family, max, bytes): (u8, u8, Vec<u8>) = match ip {
        std::net::IpAddr::V4(v4) => (2, 32, v4.octets().to_vec()),
        std::net::IpAddr::V6(v6) => (3, 128, v6.octets().to_vec()),
    };
    let bits = bits.unwrap_or(max);
    if bits > max {
        return Err(bad());
    }
    out.extend_from_slice(&[family, bits, u8::from(cidr), bytes.len() as u8]);
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Appends a binary `macaddr` (6 bytes) or `macaddr8` (8 bytes) parsed from its text form.
pub fn encode_mac(text: &str, len: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || format!("\"{text}\" is not a MAC address of {len} bytes");
    let hex: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    let raw = hex::decode(&hex).map_err(|_| bad())?;
    if raw.len() != len {
        return Err(bad());
    }
    out.extend_from_slice(&raw);
    Ok(())
}

/// A binary array's header: `(element count, offset of the first element)`. One dimension
/// with lower bound 1, or none (empty); anything else is an error.
pub fn array_header(b: &[u8]) -> Result<(usize, usize), String> {
    if b.len() < 12 {
        return Err("a truncated array value".into());
    }
    let ndim = be_i32(b);
    match ndim {
        0 => Ok((0, 12)),
        1 => {
            if b.len() < 20 {
                return Err("a truncated array value".into());
            }
            let n = be_i32(&b[12..]);
            let lbound = be_i32(&b[16..]);
            if lbound != 1 {
                return Err(format!(
                    "an array with lower bound {lbound}: only arrays starting at 1 map to an Arrow list"
                ));
            }
            usize::try_from(n)
                .map(|n| (n, 20))
                .map_err(|_| "an array with a negative length".to_string())
        }
        n => Err(format!(
            "a {n}-dimensional array: only one-dimensional arrays map to an Arrow list"
        )),
    }
}

/// Appends the header of a one-dimensional binary array of `n` elements.
pub fn encode_array_header(n: usize, has_null: bool, elem_oid: u32, out: &mut Vec<u8>) {
    if n == 0 {
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&elem_oid.to_be_bytes());
        return;
    }
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&i32::from(has_null).to_be_bytes());
    out.extend_from_slice(&elem_oid.to_be_bytes());
    out.extend_from_slice(&(n as i32).to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode_numeric_text(text, &mut out).unwrap();
        out
    }

    /// PostgreSQL's own binary form of 12345.678 (numeric_send): ndigits 3, weight 1,
    /// sign 0, dscale 3, digits 1 2345 6780.
    const PG_12345_678: [u8; 14] = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c];

    #[test]
    fn numeric_encodes_like_postgres() {
        assert_eq!(num("12345.678"), PG_12345_678);
        let mut out = Vec::new();
        encode_numeric_unscaled(false, "12345678", 3, &mut out);
        assert_eq!(out, PG_12345_678);
        // Zero: no digits, dscale kept.
        assert_eq!(num("0.00"), [0, 0, 0, 0, 0, 0, 0, 2]);
        // 1e20: one digit group at weight 5.
        assert_eq!(num("100000000000000000000"), [0, 1, 0, 5, 0, 0, 0, 0, 0, 1]);
        assert_eq!(num("NaN")[4..6], [0xC0, 0]);
        assert_eq!(num("-0.0001"), [0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 1]);
    }

    #[test]
    fn numeric_decodes_to_decimals_exactly() {
        assert_eq!(numeric_to_i128(&PG_12345_678, 3), Ok(12_345_678));
        assert_eq!(numeric_to_i128(&PG_12345_678, 5), Ok(1_234_567_800));
        assert!(numeric_to_i128(&PG_12345_678, 2).is_err());
        assert_eq!(numeric_to_i128(&num("-0.0001"), 4), Ok(-1));
        assert_eq!(numeric_to_i128(&num("1e20"), 2), Ok(10i128.pow(22)));
        assert_eq!(numeric_to_i128(&num("0"), 2), Ok(0));
        let max38 = "9".repeat(38);
        assert_eq!(numeric_to_i128(&num(&max38), 0).unwrap().to_string(), max38);
        let frac38 = format!("-{}.{}", "9".repeat(36), "99");
        assert_eq!(
            numeric_to_i128(&num(&frac38), 2).unwrap().to_string(),
            format!("-{}", "9".repeat(38))
        );
        let max76 = "9".repeat(76);
        assert_eq!(numeric_to_i256(&num(&max76), 0).unwrap().to_string(), max76);
        assert!(numeric_to_i128(&num(&"9".repeat(39)), 0).is_err());
        assert!(numeric_to_i128(&num("NaN"), 2).is_err());
        assert!(numeric_to_i128(&num("Infinity"), 2).is_err());
        // Negative scale: numeric(5,-2) holds 12300.
        assert_eq!(numeric_to_i128(&num("12300"), -2), Ok(123));
        assert!(numeric_to_i128(&num("12345"), -2).is_err());
    }

    #[test]
    fn numeric_text_round_trips() {
        for t in [
            "0",
            "12345.678",
            "-0.0001",
            "100000000000000000000",
            "0.00",
            "-123.4500",
            "NaN",
            "Infinity",
            "-Infinity",
            "1.000000000000000000000000000000000000000000000001",
        ] {
            assert_eq!(numeric_to_text(&num(t)).unwrap(), t, "{t}");
        }
        assert_eq!(numeric_to_text(&num("1.5e3")).unwrap(), "1500");
        assert_eq!(numeric_to_text(&num("-15e-3")).unwrap(), "-0.015");
        assert!(encode_numeric_text("1.2.3", &mut Vec::new()).is_err());
    }

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
    fn epochs_and_infinities() {
        assert_eq!(pg_date_to_days(0), Ok(10_957));
        assert_eq!(pg_date_to_days(-10_957), Ok(0));
        assert!(pg_date_to_days(i32::MAX).is_err());
        assert_eq!(days_to_pg_date(0), Ok(-10_957));
        assert_eq!(pg_timestamp_to_unix(0), Ok(946_684_800_000_000));
        assert!(pg_timestamp_to_unix(i64::MIN).is_err());
        assert_eq!(unix_to_pg_timestamp(946_684_800_000_000), Ok(0));
    }

    #[test]
    fn intervals_round_trip_through_iso_text() {
        let cases = [
            (
                14,
                3,
                4 * 3_600_000_000 + 5 * 60_000_000 + 6_500_000,
                "P1Y2M3DT4H5M6.5S",
            ),
            (-1, 0, 0, "P-1M"),
            (0, 0, 0, "PT0S"),
            (0, -2, -1, "P-2DT-0.000001S"),
            (0, 0, 90_000_000_000, "PT25H"),
            (i32::MIN, i32::MAX, i64::MIN, ""),
        ];
        for (m, d, us, text) in cases {
            let t = interval_to_text(m, d, us);
            if !text.is_empty() {
                assert_eq!(t, text);
            }
            assert_eq!(parse_interval_text(&t), Ok((m, d, us)), "{t}");
        }
        assert!(parse_interval_text("1 day").is_err());
    }

    #[test]
    fn timetz_inet_mac() {
        assert_eq!(parse_timetz("10:30:00+02"), Ok((37_800_000_000, -7200)));
        assert_eq!(parse_timetz("00:00:00.5-05:30"), Ok((500_000, 19_800)));
        let mut out = Vec::new();
        encode_inet("10.1.2.3/8", false, &mut out).unwrap();
        assert_eq!(out, [2, 8, 0, 4, 10, 1, 2, 3]);
        out.clear();
        encode_inet("::1", true, &mut out).unwrap();
        assert_eq!(out[..4], [3, 128, 1, 16]);
        out.clear();
        encode_mac("08:00:2b:01:02:03", 6, &mut out).unwrap();
        assert_eq!(out, [8, 0, 0x2b, 1, 2, 3]);
        assert!(encode_mac("08:00:2b", 6, &mut Vec::new()).is_err());
    }

    #[test]
    fn arrays_have_one_dimension_from_one() {
        let mut out = Vec::new();
        encode_array_header(2, true, 23, &mut out);
        assert_eq!(array_header(&out), Ok((2, 20)));
        out.clear();
        encode_array_header(0, false, 23, &mut out);
        assert_eq!(array_header(&out), Ok((0, 12)));
        let mut two_d = vec![0, 0, 0, 2];
        two_d.extend_from_slice(&[0; 8]);
        assert!(array_header(&two_d).is_err());
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
        assert_eq!((m.kind, m.note.is_some()), (Kind::NumericText, true));
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

    #[test]
    fn arithmetic_numeric_encoding_equals_the_digit_path() {
        let mut values: Vec<i128> = vec![
            0,
            1,
            -1,
            9_999,
            10_000,
            -10_000,
            100_010_000,
            i128::MAX,
            i128::MIN + 1,
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 39) as u32;
            let v = i128::from(x).wrapping_mul(i128::from(x.rotate_left(17)))
                % 10i128.pow(digits.min(38)).max(1);
            values.push(if x & 1 == 0 { v } else { -v });
            values.push(v - v % 10i128.pow(x as u32 % 9));
        }
        for v in values {
            for scale in [-3i8, 0, 1, 2, 3, 4, 5, 8, 9, 17, 30, 38] {
                let mut fast = Vec::new();
                encode_numeric_i128(v, scale, &mut fast);
                let mut slow = Vec::new();
                encode_numeric_unscaled(v < 0, &v.unsigned_abs().to_string(), scale, &mut slow);
                assert_eq!(fast, slow, "{v} at scale {scale}");
            }
        }
    }
}

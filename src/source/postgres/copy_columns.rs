//! One column of a binary COPY read: its values, in their type's binary `send` format,
//! decoded by kind straight into its buffer (`copy_buffers`), an Arrow array per batch.

use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryBuilder, ListArray, NullBufferBuilder};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{
    validate_decimal_precision_and_scale, DataType, Date32Type, Decimal128Type, Decimal256Type,
    FieldRef, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Time64MicrosecondType,
    TimeUnit, TimestampMicrosecondType,
};

use super::copy_buffers::{BoolBuf, Fixed16, Prim, TextBuf};
use crate::error::{Error, Result};
use crate::types::postgres::{self as pgt, be_i16, be_i32, be_i64, expect_len, ReadAs};

/// One column's buffer, decoding binary values by kind.
pub(super) enum Col {
    Bool(BoolBuf),
    I16(Prim<Int16Type>),
    I32(Prim<Int32Type>),
    I64(Prim<Int64Type>, bool),
    F32(Prim<Float32Type>),
    F64(Prim<Float64Type>),
    D128(Prim<Decimal128Type>, u8, i8),
    D256(Prim<Decimal256Type>, u8, i8),
    /// Text of any kind: plain, jsonb, numeric text, interval text.
    Text(TextBuf, ReadAs),
    Bytea(BinaryBuilder),
    Date(Prim<Date32Type>),
    Time(Prim<Time64MicrosecondType>),
    Ts(Prim<TimestampMicrosecondType>),
    Uuid(Fixed16),
    List {
        item: Box<Col>,
        field: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
    },
}

impl Col {
    pub(super) fn new(dt: &DataType, kind: ReadAs, cap: usize) -> Result<Col> {
        let cap = cap.min(65_536);
        let bad =
            |e: arrow::error::ArrowError| Error::Check(format!("building a decimal column: {e}"));
        Ok(match dt {
            DataType::List(field) => {
                let mut offsets = Vec::with_capacity(cap + 1);
                offsets.push(0);
                Col::List {
                    item: Box::new(Col::new(field.data_type(), kind, cap)?),
                    field: field.clone(),
                    offsets,
                    nulls: NullBufferBuilder::new(cap),
                }
            }
            _ => match kind {
                ReadAs::Bool => Col::Bool(BoolBuf::new(cap)),
                ReadAs::Int2 => Col::I16(Prim::new(cap)),
                ReadAs::Int4 => Col::I32(Prim::new(cap)),
                ReadAs::Int8 => Col::I64(Prim::new(cap), false),
                ReadAs::Oid => Col::I64(Prim::new(cap), true),
                ReadAs::Float4 => Col::F32(Prim::new(cap)),
                ReadAs::Float8 => Col::F64(Prim::new(cap)),
                ReadAs::Decimal128(p, s) => {
                    validate_decimal_precision_and_scale::<Decimal128Type>(p, s).map_err(bad)?;
                    Col::D128(Prim::typed(DataType::Decimal128(p, s), cap), p, s)
                }
                ReadAs::Decimal256(p, s) => {
                    validate_decimal_precision_and_scale::<Decimal256Type>(p, s).map_err(bad)?;
                    Col::D256(Prim::typed(DataType::Decimal256(p, s), cap), p, s)
                }
                ReadAs::NumericText | ReadAs::Text | ReadAs::Jsonb | ReadAs::Interval => {
                    Col::Text(TextBuf::with_capacity(cap), kind)
                }
                ReadAs::Bytea => Col::Bytea(BinaryBuilder::with_capacity(cap, cap * 16)),
                ReadAs::Date => Col::Date(Prim::new(cap)),
                ReadAs::Time => Col::Time(Prim::new(cap)),
                ReadAs::Timestamp => Col::Ts(Prim::new(cap)),
                ReadAs::Timestamptz => Col::Ts(Prim::typed(
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    cap,
                )),
                ReadAs::Uuid => Col::Uuid(Fixed16::new(cap)),
            },
        })
    }

    pub(super) fn append(&mut self, v: &[u8]) -> Result<(), String> {
        match self {
            Col::Bool(b) => {
                expect_len(v, 1, "boolean")?;
                b.push(v[0] != 0);
            }
            Col::I16(b) => {
                expect_len(v, 2, "smallint")?;
                b.push(be_i16(v));
            }
            Col::I32(b) => {
                expect_len(v, 4, "integer")?;
                b.push(be_i32(v));
            }
            Col::I64(b, oid) => {
                if *oid {
                    expect_len(v, 4, "oid")?;
                    b.push(i64::from(be_i32(v) as u32));
                } else {
                    expect_len(v, 8, "bigint")?;
                    b.push(be_i64(v));
                }
            }
            Col::F32(b) => {
                expect_len(v, 4, "real")?;
                b.push(f32::from_bits(be_i32(v) as u32));
            }
            Col::F64(b) => {
                expect_len(v, 8, "double precision")?;
                b.push(f64::from_bits(be_i64(v) as u64));
            }
            Col::D128(b, p, s) => {
                let x = pgt::numeric_to_i128(v, *s)?;
                if pgt::decimal_digits_i128(x) > u32::from(*p) {
                    return Err(format!(
                        "the numeric value does not fit Decimal128({p},{s})"
                    ));
                }
                b.push(x);
            }
            Col::D256(b, p, s) => {
                let x = pgt::numeric_to_i256(v, *s)?;
                if !pgt::fits_precision_i256(x, *p) {
                    return Err(format!(
                        "the numeric value does not fit Decimal256({p},{s})"
                    ));
                }
                b.push(x);
            }
            Col::Text(b, kind) => match kind {
                ReadAs::Jsonb => match v.split_first() {
                    Some((1, rest)) => b.append(rest)?,
                    Some((ver, _)) => {
                        return Err(format!("jsonb binary version {ver} (expected 1)"))
                    }
                    None => return Err("an empty jsonb value".into()),
                },
                ReadAs::NumericText => b.append(pgt::numeric_to_text(v)?.as_bytes())?,
                ReadAs::Interval => {
                    expect_len(v, 16, "interval")?;
                    let text = pgt::interval_to_text(be_i32(&v[12..]), be_i32(&v[8..]), be_i64(v));
                    b.append(text.as_bytes())?;
                }
                _ => b.append(v)?,
            },
            Col::Bytea(b) => crate::source::columns::append_bytes(b, v)?,
            Col::Date(b) => {
                expect_len(v, 4, "date")?;
                b.push(pgt::pg_date_to_days(be_i32(v))?);
            }
            Col::Time(b) => {
                expect_len(v, 8, "time")?;
                b.push(be_i64(v));
            }
            Col::Ts(b) => {
                expect_len(v, 8, "timestamp")?;
                b.push(pgt::pg_timestamp_to_unix(be_i64(v))?);
            }
            Col::Uuid(b) => {
                expect_len(v, 16, "uuid")?;
                b.push(v);
            }
            Col::List {
                item,
                offsets,
                nulls,
                ..
            } => {
                let (n, mut pos) = pgt::array_header(v)?;
                for _ in 0..n {
                    if v.len() < pos + 4 {
                        return Err("a truncated array value".into());
                    }
                    let len = be_i32(&v[pos..]);
                    pos += 4;
                    if len < 0 {
                        item.append_null();
                    } else {
                        let end = pos + len as usize;
                        if v.len() < end {
                            return Err("a truncated array value".into());
                        }
                        item.append(&v[pos..end])?;
                        pos = end;
                    }
                }
                let last = offsets.last().copied().unwrap_or(0);
                let next = i32::try_from(n)
                    .ok()
                    .and_then(|n| last.checked_add(n))
                    .ok_or("more array elements in one batch than an Arrow list holds")?;
                offsets.push(next);
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    pub(super) fn append_null(&mut self) {
        match self {
            Col::Bool(b) => b.push_null(),
            Col::I16(b) => b.push_null(),
            Col::I32(b) => b.push_null(),
            Col::I64(b, _) => b.push_null(),
            Col::F32(b) => b.push_null(),
            Col::F64(b) => b.push_null(),
            Col::D128(b, ..) => b.push_null(),
            Col::D256(b, ..) => b.push_null(),
            Col::Text(b, _) => b.append_null(),
            Col::Bytea(b) => b.append_null(),
            Col::Date(b) => b.push_null(),
            Col::Time(b) => b.push_null(),
            Col::Ts(b) => b.push_null(),
            Col::Uuid(b) => b.push_null(),
            Col::List { offsets, nulls, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_null();
            }
        }
    }

    /// Whether [`Col::truncate`] can drop values of this column (all but bytea and arrays).
    pub(super) fn can_truncate(&self) -> bool {
        !matches!(self, Col::Bytea(_) | Col::List { .. })
    }

    /// Keeps the first `len` values: drops those of a tuple found cut off after its first
    /// fields were appended. Only for columns that [`Col::can_truncate`].
    pub(super) fn truncate(&mut self, len: usize) {
        match self {
            Col::Bool(b) => b.truncate(len),
            Col::I16(b) => b.truncate(len),
            Col::I32(b) => b.truncate(len),
            Col::I64(b, _) => b.truncate(len),
            Col::F32(b) => b.truncate(len),
            Col::F64(b) => b.truncate(len),
            Col::D128(b, ..) => b.truncate(len),
            Col::D256(b, ..) => b.truncate(len),
            Col::Text(b, _) => b.truncate(len),
            Col::Date(b) => b.truncate(len),
            Col::Time(b) => b.truncate(len),
            Col::Ts(b) => b.truncate(len),
            Col::Uuid(b) => b.truncate(len),
            Col::Bytea(_) | Col::List { .. } => {}
        }
    }

    /// The column's array; a text value that is not UTF-8 is `Err((index, message))`.
    pub(super) fn finish(&mut self) -> Result<ArrayRef, (usize, String)> {
        Ok(match self {
            Col::Bool(b) => b.finish(),
            Col::I16(b) => b.finish(),
            Col::I32(b) => b.finish(),
            Col::I64(b, _) => b.finish(),
            Col::F32(b) => b.finish(),
            Col::F64(b) => b.finish(),
            Col::D128(b, ..) => b.finish(),
            Col::D256(b, ..) => b.finish(),
            Col::Text(b, _) => b.finish()?,
            Col::Bytea(b) => Arc::new(b.finish()),
            Col::Date(b) => b.finish(),
            Col::Time(b) => b.finish(),
            Col::Ts(b) => b.finish(),
            Col::Uuid(b) => b.finish(),
            Col::List {
                item,
                field,
                offsets,
                nulls,
            } => {
                let offs = std::mem::replace(offsets, vec![0]);
                let values = item.finish().map_err(|(element, m)| {
                    // The row holding the bad element.
                    let row = offs.partition_point(|&o| o as usize <= element) - 1;
                    (row, format!("an array element: {m}"))
                })?;
                // Offsets start at 0 and never decrease (checked when appended).
                let offs = OffsetBuffer::new(offs.into());
                Arc::new(ListArray::new(field.clone(), offs, values, nulls.finish()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Field, Int32Type};

    #[test]
    fn arrays_decode_into_lists_with_null_elements() {
        let item = Field::new("item", DataType::Int32, true);
        let mut col = Col::new(&DataType::List(item.into()), ReadAs::Int4, 4).unwrap();
        let mut v = Vec::new();
        pgt::encode_array_header(3, true, 23, &mut v);
        for e in [Some(1i32), None, Some(-3)] {
            match e {
                Some(x) => {
                    v.extend_from_slice(&4i32.to_be_bytes());
                    v.extend_from_slice(&x.to_be_bytes());
                }
                None => v.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        col.append(&v).unwrap();
        col.append_null();
        let mut empty = Vec::new();
        pgt::encode_array_header(0, false, 23, &mut empty);
        col.append(&empty).unwrap();
        let a = col.finish().unwrap();
        let list = a.as_list::<i32>();
        assert_eq!(list.len(), 3);
        assert!(list.is_null(1));
        assert_eq!(list.value(2).len(), 0);
        let first = list.value(0);
        let ints = first.as_primitive::<Int32Type>();
        assert_eq!(
            (ints.value(0), ints.is_null(1), ints.value(2)),
            (1, true, -3)
        );
    }

    #[test]
    fn a_bad_text_array_element_names_its_row() {
        let item = Field::new("item", DataType::Utf8, true);
        let mut col = Col::new(&DataType::List(item.into()), ReadAs::Text, 4).unwrap();
        let array = |elems: &[&[u8]]| {
            let mut v = Vec::new();
            pgt::encode_array_header(elems.len(), false, 25, &mut v);
            for e in elems {
                v.extend_from_slice(&(e.len() as i32).to_be_bytes());
                v.extend_from_slice(e);
            }
            v
        };
        col.append(&array(&[b"a", b"b"])).unwrap();
        col.append_null();
        col.append(&array(&[b"c", b"\xff"])).unwrap();
        let (row, m) = col.finish().unwrap_err();
        assert_eq!(row, 2);
        assert!(m.contains("array element"), "{m}");
    }

    #[test]
    fn scalars_decode_from_send_formats() {
        let mut ts = Col::new(&ReadAs::Timestamptz.arrow_type(), ReadAs::Timestamptz, 2).unwrap();
        ts.append(&0i64.to_be_bytes()).unwrap();
        assert!(ts.append(&i64::MAX.to_be_bytes()).is_err());
        let a = ts.finish().unwrap();
        assert_eq!(
            a.as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(0),
            946_684_800_000_000
        );
        let mut iv = Col::new(&DataType::Utf8, ReadAs::Interval, 1).unwrap();
        let mut v = 1_500_000i64.to_be_bytes().to_vec();
        v.extend_from_slice(&2i32.to_be_bytes());
        v.extend_from_slice(&13i32.to_be_bytes());
        iv.append(&v).unwrap();
        assert_eq!(
            iv.finish().unwrap().as_string::<i32>().value(0),
            "P1Y1M2DT1.5S"
        );
        let mut j = Col::new(&DataType::Utf8, ReadAs::Jsonb, 1).unwrap();
        j.append(b"\x01{\"a\": 1}").unwrap();
        assert_eq!(
            j.finish().unwrap().as_string::<i32>().value(0),
            "{\"a\": 1}"
        );
    }
}

//! A slice of rows laid out as binary COPY tuples column by column. First every tuple's
//! length is summed column by column, then the output grows once and each column writes its
//! fields into every tuple at that tuple's cursor: one tight loop per column and type
//! instead of a type dispatch and two buffer appends per value. Columns whose fields have
//! no length known in advance (numerics, parsed text, lists, …) are first encoded value by
//! value (`ColEnc::write`) into a scratch buffer per column and copied from there.

use arrow::array::OffsetSizeTrait;

use super::copy_columns::{ColEnc, Enc, TextAs};
use crate::types::postgres as pgt;

/// The most rows laid out at once: their cursors stay in the first-level cache.
pub(super) const SLICE_ROWS: usize = 256;

/// A value's error text and its row (in the batch).
pub(super) type Failed = (usize, String);

const NULL_FIELD: [u8; 4] = (-1i32).to_be_bytes();

/// The buffers reused from slice to slice.
#[derive(Default)]
pub(super) struct Layout {
    /// Per tuple of the slice: its length, then where its next field goes.
    cursors: Vec<usize>,
    /// Per column: its fields encoded value by value (empty for the direct kinds), and
    /// where each row's field ends in it.
    scratch: Vec<(Vec<u8>, Vec<usize>)>,
}

/// Whether laying out tuples column by column pays for these columns: when at least half
/// of them are fixed-width. Criterion (`pg_binary_copy/encode`, 100k rows): fixed-width
/// columns −44…−52 %, a mixed table −4 %, but four decimals +19 % and long text +10 %
/// (their values go through scratch buffers or are copied after a zero fill), so tables
/// of mostly such columns keep the value-by-value layout.
pub(super) fn pays(encs: &[ColEnc<'_>]) -> bool {
    let fixed = encs
        .iter()
        .filter(|e| matches!(kind(e), Kind::Fixed(_)))
        .count();
    fixed * 2 >= encs.len()
}

/// How a column's fields are sized and written.
enum Kind {
    /// Every non-NULL field has this many bytes.
    Fixed(usize),
    /// Text or bytes copied as they are, after `prefix` bytes (jsonb's version).
    Bytes(usize),
    /// Encoded value by value into the scratch buffer first.
    Scratch,
}

fn kind(e: &ColEnc<'_>) -> Kind {
    match &e.enc {
        Enc::Null => Kind::Fixed(0),
        Enc::Bool(_) => Kind::Fixed(1),
        Enc::I16(_) => Kind::Fixed(2),
        Enc::I32(_) | Enc::F32(_) | Enc::Date32(_) => Kind::Fixed(4),
        Enc::I64(_) | Enc::F64(_) | Enc::TsMicros(_) => Kind::Fixed(8),
        Enc::Fixed(a) => Kind::Fixed(a.value_length() as usize),
        Enc::Str(_, TextAs::Text, false) | Enc::Binary(_) => Kind::Bytes(0),
        Enc::Str(_, TextAs::Jsonb, false) => Kind::Bytes(1),
        _ => Kind::Scratch,
    }
}

/// The (start, end) offsets of value `i` of a text or binary column.
#[inline]
fn span<O: OffsetSizeTrait>(offsets: &[O], i: usize) -> (usize, usize) {
    (offsets[i].as_usize(), offsets[i + 1].as_usize())
}

impl Layout {
    /// Appends the tuples of rows `first..first + n` (at most `SLICE_ROWS`) to `out`.
    pub(super) fn put(
        &mut self,
        encs: &[ColEnc<'_>],
        ncols: [u8; 2],
        first: usize,
        n: usize,
        out: &mut Vec<u8>,
        nuls: &mut [u64],
    ) -> Result<(), (usize, Failed)> {
        self.scratch.resize_with(encs.len(), Default::default);
        let lens = &mut self.cursors;
        lens.clear();
        lens.resize(n, 2);
        for (c, e) in encs.iter().enumerate() {
            let at = |(row, m)| (c, (row, m));
            sizes(e, first, lens, &mut self.scratch[c], &mut nuls[c]).map_err(at)?;
        }
        // Lengths into starting positions; each tuple starts with its field count.
        let mut pos = out.len();
        for len in lens.iter_mut() {
            let start = pos;
            pos += *len;
            *len = start + 2;
        }
        out.resize(pos, 0);
        for &c in lens.iter() {
            out[c - 2..c].copy_from_slice(&ncols);
        }
        for (c, e) in encs.iter().enumerate() {
            fields(e, first, out, lens, &self.scratch[c]).map_err(|f| (c, f))?;
        }
        Ok(())
    }
}

/// Adds each row's field length of column `e` to `lens`.
fn sizes(
    e: &ColEnc<'_>,
    first: usize,
    lens: &mut [usize],
    (bytes, ends): &mut (Vec<u8>, Vec<usize>),
    nuls: &mut u64,
) -> Result<(), Failed> {
    match kind(e) {
        Kind::Fixed(w) if e.nulls.is_none() && !matches!(e.enc, Enc::Null) => {
            lens.iter_mut().for_each(|l| *l += 4 + w)
        }
        Kind::Fixed(w) => {
            for (k, l) in lens.iter_mut().enumerate() {
                *l += if e.is_null(first + k) { 4 } else { 4 + w };
            }
        }
        Kind::Bytes(prefix) => {
            let offsets: &[i32] = match &e.enc {
                Enc::Str(s, ..) => s.value_offsets(),
                Enc::Binary(b) => b.value_offsets(),
                _ => unreachable!("only text and binary columns are copied as bytes"),
            };
            for (k, l) in lens.iter_mut().enumerate() {
                let row = first + k;
                let (a, b) = span(offsets, row);
                *l += if e.is_null(row) {
                    4
                } else {
                    4 + prefix + b - a
                };
            }
        }
        Kind::Scratch => {
            bytes.clear();
            ends.clear();
            for (k, l) in lens.iter_mut().enumerate() {
                let row = first + k;
                let at = bytes.len();
                e.write(row, bytes, nuls).map_err(|m| (row, m))?;
                ends.push(bytes.len());
                *l += bytes.len() - at;
            }
        }
    }
    Ok(())
}

/// Writes column `e`'s field of every row at its tuple's cursor and advances the cursor.
fn fields(
    e: &ColEnc<'_>,
    first: usize,
    out: &mut [u8],
    cur: &mut [usize],
    (bytes, ends): &(Vec<u8>, Vec<usize>),
) -> Result<(), Failed> {
    match &e.enc {
        Enc::Null => fixed(e, first, out, cur, |_| Ok([])),
        Enc::Bool(a) => fixed(e, first, out, cur, |i| Ok([u8::from(a.value(i))])),
        Enc::I16(a) => fixed(e, first, out, cur, |i| Ok(a.value(i).to_be_bytes())),
        Enc::I32(a) => fixed(e, first, out, cur, |i| Ok(a.value(i).to_be_bytes())),
        Enc::I64(a) => fixed(e, first, out, cur, |i| Ok(a.value(i).to_be_bytes())),
        Enc::F32(a) => fixed(e, first, out, cur, |i| {
            Ok(a.value(i).to_bits().to_be_bytes())
        }),
        Enc::F64(a) => fixed(e, first, out, cur, |i| {
            Ok(a.value(i).to_bits().to_be_bytes())
        }),
        Enc::Date32(a) => fixed(e, first, out, cur, |i| {
            pgt::days_to_pg_date(a.value(i)).map(i32::to_be_bytes)
        }),
        Enc::TsMicros(a) => fixed(e, first, out, cur, |i| {
            pgt::unix_to_pg_timestamp(a.value(i)).map(i64::to_be_bytes)
        }),
        Enc::Fixed(a) => {
            let w = a.value_length() as usize;
            let len = (w as i32).to_be_bytes();
            for (k, c) in cur.iter_mut().enumerate() {
                let row = first + k;
                *c = if e.is_null(row) {
                    put(out, *c, &NULL_FIELD)
                } else {
                    let at = put(out, *c, &len);
                    put(out, at, a.value(row))
                };
            }
            Ok(())
        }
        Enc::Str(s, how, _) if matches!(kind(e), Kind::Bytes(_)) => {
            let prefix: &[u8] = if matches!(how, TextAs::Jsonb) {
                &[1]
            } else {
                &[]
            };
            copy_bytes(
                e,
                first,
                s.value_offsets(),
                s.value_data(),
                prefix,
                out,
                cur,
            )
        }
        Enc::Binary(b) => copy_bytes(e, first, b.value_offsets(), b.value_data(), &[], out, cur),
        _ => {
            let mut at = 0;
            for (c, &end) in cur.iter_mut().zip(ends) {
                *c = put(out, *c, &bytes[at..end]);
                at = end;
            }
            Ok(())
        }
    }
}

/// Copies `v` into `out` at `at`; the position after it.
#[inline]
fn put(out: &mut [u8], at: usize, v: &[u8]) -> usize {
    let end = at + v.len();
    out[at..end].copy_from_slice(v);
    end
}

/// Fixed-width fields: the length and the value's `W` bytes, or -1 for NULL.
#[inline]
fn fixed<const W: usize>(
    e: &ColEnc<'_>,
    first: usize,
    out: &mut [u8],
    cur: &mut [usize],
    value: impl Fn(usize) -> Result<[u8; W], String>,
) -> Result<(), Failed> {
    let len = (W as i32).to_be_bytes();
    for (k, c) in cur.iter_mut().enumerate() {
        let row = first + k;
        let at = *c;
        if e.is_null(row) {
            out[at..at + 4].copy_from_slice(&NULL_FIELD);
            *c = at + 4;
        } else {
            let v = value(row).map_err(|m| (row, m))?;
            out[at..at + 4].copy_from_slice(&len);
            out[at + 4..at + 4 + W].copy_from_slice(&v);
            *c = at + 4 + W;
        }
    }
    Ok(())
}

/// Text or bytes as they are (after `prefix`), or -1 for NULL.
fn copy_bytes(
    e: &ColEnc<'_>,
    first: usize,
    offsets: &[i32],
    data: &[u8],
    prefix: &[u8],
    out: &mut [u8],
    cur: &mut [usize],
) -> Result<(), Failed> {
    for (k, c) in cur.iter_mut().enumerate() {
        let row = first + k;
        if e.is_null(row) {
            *c = put(out, *c, &NULL_FIELD);
            continue;
        }
        let (a, b) = span(offsets, row);
        let len = prefix.len() + b - a;
        let len = i32::try_from(len).map_err(|_| (row, "a value larger than 2 GiB".to_string()))?;
        let at = put(out, *c, &len.to_be_bytes());
        let at = put(out, at, prefix);
        *c = put(out, at, &data[a..b]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
        Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, ListArray, NullArray,
        StringArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
    use arrow::record_batch::RecordBatch;

    use super::super::copy_columns::col_enc;
    use super::*;
    use crate::types::SOURCE_TYPE_KEY;

    const ROWS: usize = 700;

    fn typed(name: &str, source: &str) -> Field {
        Field::new(name, DataType::Utf8, true)
            .with_metadata([(SOURCE_TYPE_KEY.to_string(), source.to_string())].into())
    }

    /// Every kind of column (fixed, bytes, scratch), NULLs at different strides.
    fn batch() -> RecordBatch {
        let some = |i: usize, every: usize| i % every != 3;
        let texts = ["", "plain", "é漢字🙂", "a\0b", "Ĳsselstein"];
        let cols: Vec<(Field, ArrayRef)> = vec![
            (
                Field::new("b", DataType::Boolean, true),
                Arc::new(BooleanArray::from_iter(
                    (0..ROWS).map(|i| some(i, 5).then_some(i % 2 == 0)),
                )),
            ),
            (
                Field::new("i1", DataType::Int8, true),
                Arc::new(Int8Array::from_iter((0..ROWS).map(|i| Some(i as i8)))),
            ),
            (
                Field::new("i2", DataType::Int16, false),
                Arc::new(Int16Array::from_iter_values((0..ROWS).map(|i| -(i as i16)))),
            ),
            (
                Field::new("i4", DataType::Int32, true),
                Arc::new(Int32Array::from_iter(
                    (0..ROWS).map(|i| some(i, 7).then_some(i as i32 * 3)),
                )),
            ),
            (
                Field::new("i8", DataType::Int64, true),
                Arc::new(Int64Array::from_iter_values(
                    (0..ROWS).map(|i| i as i64 - 9),
                )),
            ),
            (
                Field::new("f8", DataType::Float64, true),
                Arc::new(Float64Array::from_iter(
                    (0..ROWS).map(|i| some(i, 4).then_some(i as f64 / 3.0)),
                )),
            ),
            (
                Field::new("n", DataType::Null, true),
                Arc::new(NullArray::new(ROWS)),
            ),
            (
                Field::new("d", DataType::Decimal128(15, 2), true),
                Arc::new(
                    Decimal128Array::from_iter(
                        (0..ROWS).map(|i| some(i, 6).then_some(i as i128 * 1001 - 5000)),
                    )
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
                ),
            ),
            (
                Field::new("t", DataType::Utf8, true),
                Arc::new(StringArray::from_iter(
                    (0..ROWS).map(|i| some(i, 9).then_some(texts[i % 5].repeat(i % 4))),
                )),
            ),
            (
                Field::new("plain", DataType::Utf8, true),
                Arc::new(StringArray::from_iter_values(
                    (0..ROWS).map(|i| texts[i % 3].repeat(i % 5)),
                )),
            ),
            (
                typed("j", "jsonb"),
                Arc::new(StringArray::from_iter(
                    (0..ROWS).map(|i| some(i, 8).then(|| format!("{{\"k\":{i}}}"))),
                )),
            ),
            (
                typed("num", "numeric"),
                Arc::new(StringArray::from_iter_values(
                    (0..ROWS).map(|i| format!("{}.{}", i * 37, i % 10)),
                )),
            ),
            (
                Field::new("day", DataType::Date32, true),
                Arc::new(Date32Array::from_iter(
                    (0..ROWS).map(|i| some(i, 3).then_some(i as i32 * 40 - 9000)),
                )),
            ),
            (
                Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    (0..ROWS).map(|i| i as i64 * 86_400_000_123),
                )),
            ),
            (
                Field::new("u", DataType::FixedSizeBinary(16), true),
                Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        (0..ROWS).map(|i| some(i, 10).then_some([i as u8; 16])),
                        16,
                    )
                    .unwrap(),
                ),
            ),
            (
                Field::new("raw", DataType::Binary, true),
                Arc::new(BinaryArray::from_iter((0..ROWS).map(|i| {
                    some(i, 11).then(|| vec![0u8, i as u8, 255][..i % 4].to_vec())
                }))),
            ),
            (
                Field::new(
                    "l",
                    DataType::List(Field::new("item", DataType::Int32, true).into()),
                    true,
                ),
                Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
                    (0..ROWS).map(|i| {
                        some(i, 13).then(|| (0..i % 3).map(|v| Some(v as i32)).collect::<Vec<_>>())
                    }),
                )),
            ),
        ];
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
    }

    fn encoders(batch: &RecordBatch) -> Vec<ColEnc<'_>> {
        batch
            .columns()
            .iter()
            .zip(batch.schema_ref().fields())
            .map(|(a, f)| {
                col_enc(a.as_ref(), pgt::special_for(f).map(|(s, _)| s))
                    .unwrap()
                    .0
            })
            .collect()
    }

    /// The value-by-value layout the column-by-column one must equal.
    fn row_by_row(encs: &[ColEnc<'_>], rows: usize, nuls: &mut [u64]) -> Vec<u8> {
        let mut out = Vec::new();
        for row in 0..rows {
            out.extend_from_slice(&(encs.len() as i16).to_be_bytes());
            for (c, e) in encs.iter().enumerate() {
                e.write(row, &mut out, &mut nuls[c]).unwrap();
            }
        }
        out
    }

    fn by_columns(encs: &[ColEnc<'_>], rows: usize, nuls: &mut [u64]) -> Vec<u8> {
        let mut layout = Layout::default();
        let mut out = b"prefix".to_vec();
        let ncols = (encs.len() as i16).to_be_bytes();
        for first in (0..rows).step_by(SLICE_ROWS) {
            let n = SLICE_ROWS.min(rows - first);
            layout.put(encs, ncols, first, n, &mut out, nuls).unwrap();
        }
        out.split_off(6)
    }

    #[test]
    fn column_by_column_equals_value_by_value_over_slices_and_offsets() {
        let whole = batch();
        // A batch that is itself a slice: arrays with offsets and shifted null bitmaps.
        for b in [whole.clone(), whole.slice(37, ROWS - 100)] {
            let encs = encoders(&b);
            let (mut want_nuls, mut got_nuls) = (vec![0; encs.len()], vec![0; encs.len()]);
            let want = row_by_row(&encs, b.num_rows(), &mut want_nuls);
            let got = by_columns(&encs, b.num_rows(), &mut got_nuls);
            assert_eq!(got.len(), want.len());
            assert!(got == want, "the layouts differ");
            assert_eq!(got_nuls, want_nuls);
            assert!(got_nuls[8] > 0, "the NUL-stripping path was not taken");
        }
    }

    #[test]
    fn the_column_layout_is_chosen_for_mostly_fixed_width_columns() {
        let whole = batch();
        assert!(pays(&encoders(&whole)), "9 of 17 columns are fixed-width");
        let decimals = whole.project(&[1, 7, 8, 9, 11]).unwrap();
        assert!(!pays(&encoders(&decimals)));
    }

    #[test]
    fn a_bad_value_in_a_later_slice_names_its_column_and_row() {
        let mut days: Vec<i32> = (0..600).collect();
        days[517] = i32::MIN;
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("a", DataType::Int64, false),
                Field::new("day", DataType::Date32, false),
            ])),
            vec![
                Arc::new(Int64Array::from_iter_values(0..600)),
                Arc::new(Date32Array::from(days)),
            ],
        )
        .unwrap();
        let encs = encoders(&b);
        let mut layout = Layout::default();
        let (mut out, mut nuls) = (Vec::new(), [0, 0]);
        layout
            .put(&encs, [0, 2], 0, 256, &mut out, &mut nuls)
            .unwrap();
        layout
            .put(&encs, [0, 2], 256, 256, &mut out, &mut nuls)
            .unwrap();
        let err = layout.put(&encs, [0, 2], 512, 88, &mut out, &mut nuls);
        assert_eq!(err.unwrap_err().0, 1);
        let err = layout.put(&encs, [0, 2], 512, 88, &mut out, &mut nuls);
        assert_eq!(err.unwrap_err().1 .0, 517);
    }
}

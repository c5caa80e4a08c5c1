//! A batch into binary COPY tuples: the stream's header, the tuples of a range of rows
//! (the loader sends them in slices), or a whole batch as one stream. Each column's values
//! are encoded by `copy_columns`.

use arrow::record_batch::RecordBatch;

use super::copy_columns::{col_enc, ColEnc};
use super::copy_rows::{self, Layout, SLICE_ROWS};
use crate::error::{Error, Result};
use crate::types::postgres as pgt;

pub(super) fn put_copy_header(out: &mut Vec<u8>) {
    out.extend_from_slice(pgt::COPY_SIGNATURE);
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
}

/// Encodes the rows of one batch as binary COPY tuples.
pub struct BatchEncoder<'a> {
    batch: &'a RecordBatch,
    encs: Vec<ColEnc<'a>>,
    ncols: [u8; 2],
    table: &'a str,
    /// Rows of the table before this batch (for row numbers in messages).
    first_row: u64,
    /// Tuples laid out column by column (`copy_rows::pays`), else value by value.
    layout: Option<Layout>,
}

impl<'a> BatchEncoder<'a> {
    /// Prepares every column; a column that cannot be encoded is an error naming it.
    pub fn new(batch: &'a RecordBatch, table: &'a str, first_row: u64) -> Result<Self> {
        let schema = batch.schema_ref();
        let encs: Vec<ColEnc<'a>> = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(a, f)| {
                col_enc(a.as_ref(), pgt::special_for(f).map(|(s, _)| s))
                    .map(|(e, _)| e)
                    .map_err(|m| Error::column(table, f.name(), m))
            })
            .collect::<Result<_>>()?;
        let ncols = i16::try_from(encs.len())
            .map_err(|_| Error::Check(format!("staging table {table}: too many columns for COPY")))?
            .to_be_bytes();
        let layout = copy_rows::pays(&encs).then(Layout::default);
        Ok(BatchEncoder {
            batch,
            encs,
            ncols,
            table,
            first_row,
            layout,
        })
    }

    /// Appends the tuples of `rows` to `out` (laid out column by column, `SLICE_ROWS` at a
    /// time, where that pays), counting stripped NULs per column in `nuls`.
    pub fn rows(
        &mut self,
        rows: std::ops::Range<usize>,
        out: &mut Vec<u8>,
        nuls: &mut [u64],
    ) -> Result<()> {
        let failed = |c: usize, row: usize, m: String| {
            Error::value(
                self.table,
                self.batch.schema_ref().field(c).name(),
                self.first_row + row as u64 + 1,
                m,
            )
        };
        let Some(layout) = &mut self.layout else {
            for row in rows {
                out.extend_from_slice(&self.ncols);
                for (c, e) in self.encs.iter().enumerate() {
                    e.write(row, out, &mut nuls[c])
                        .map_err(|m| failed(c, row, m))?;
                }
            }
            return Ok(());
        };
        for first in rows.clone().step_by(SLICE_ROWS) {
            let n = SLICE_ROWS.min(rows.end - first);
            layout
                .put(&self.encs, self.ncols, first, n, out, nuls)
                .map_err(|(c, (row, m))| failed(c, row, m))?;
        }
        Ok(())
    }
}

/// Encodes a whole batch as one binary COPY stream into `out` (cleared first).
pub fn encode_batch(
    batch: &RecordBatch,
    out: &mut Vec<u8>,
    nuls: &mut [u64],
    table: &str,
) -> Result<()> {
    let mut encoder = BatchEncoder::new(batch, table, 0)?;
    out.clear();
    put_copy_header(out);
    encoder.rows(0..batch.num_rows(), out, nuls)?;
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, Decimal128Array, Int32Array, IntervalMonthDayNanoArray, ListArray, StringArray,
        TimestampMicrosecondArray,
    };
    use arrow::datatypes::{
        DataType, Field, Int32Type as I32, IntervalMonthDayNano, IntervalUnit, Schema, TimeUnit,
    };
    use std::sync::Arc;

    fn one(a: ArrayRef, field: Field) -> Vec<u8> {
        let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![a]).unwrap();
        let mut out = Vec::new();
        let mut nuls = [0u64];
        encode_batch(&batch, &mut out, &mut nuls, "t").unwrap();
        out
    }

    /// The bytes of the first field of the first tuple (after the 19-byte header + count).
    fn first_field(stream: &[u8]) -> Option<&[u8]> {
        let len = i32::from_be_bytes(stream[21..25].try_into().unwrap());
        (len >= 0).then(|| &stream[25..25 + len as usize])
    }

    #[test]
    fn batches_encode_as_binary_copy() {
        let s = one(
            Arc::new(Int32Array::from(vec![Some(-2), None])),
            Field::new("a", DataType::Int32, true),
        );
        assert_eq!(&s[..11], pgt::COPY_SIGNATURE);
        assert_eq!(first_field(&s), Some(&(-2i32).to_be_bytes()[..]));
        // Second tuple: count 1 and NULL; then the trailer.
        assert_eq!(&s[29..], [0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn decimals_timestamps_and_intervals_use_postgres_forms() {
        let d = Decimal128Array::from(vec![12_345_678i128])
            .with_precision_and_scale(10, 3)
            .unwrap();
        let s = one(
            Arc::new(d),
            Field::new("d", DataType::Decimal128(10, 3), true),
        );
        assert_eq!(
            first_field(&s).unwrap(),
            [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]
        );
        let ts = TimestampMicrosecondArray::from(vec![946_684_800_000_000]).with_timezone("UTC");
        let s = one(
            Arc::new(ts),
            Field::new(
                "t",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        );
        assert_eq!(first_field(&s).unwrap(), 0i64.to_be_bytes());
        let iv =
            IntervalMonthDayNanoArray::from(vec![IntervalMonthDayNano::new(13, 2, 1_500_000_000)]);
        let s = one(
            Arc::new(iv),
            Field::new("i", DataType::Interval(IntervalUnit::MonthDayNano), true),
        );
        let mut want = 1_500_000i64.to_be_bytes().to_vec();
        want.extend_from_slice(&2i32.to_be_bytes());
        want.extend_from_slice(&13i32.to_be_bytes());
        assert_eq!(first_field(&s).unwrap(), want);
    }

    #[test]
    fn text_strips_nul_and_counts_it_and_jsonb_gets_its_version() {
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)])),
            vec![Arc::new(StringArray::from(vec!["a\0b", "ok", "\0"]))],
        )
        .unwrap();
        let mut out = Vec::new();
        let mut nuls = [0u64];
        encode_batch(&batch, &mut out, &mut nuls, "t").unwrap();
        assert_eq!(nuls, [2]);
        assert_eq!(first_field(&out).unwrap(), b"ab");
        let f = Field::new("j", DataType::Utf8, true).with_metadata(
            [(
                crate::types::SOURCE_TYPE_KEY.to_string(),
                "jsonb".to_string(),
            )]
            .into(),
        );
        let s = one(Arc::new(StringArray::from(vec!["{}"])), f);
        assert_eq!(first_field(&s).unwrap(), b"\x01{}");
    }

    #[test]
    fn lists_encode_as_one_dimensional_arrays() {
        let l = ListArray::from_iter_primitive::<I32, _, _>(vec![Some(vec![Some(1), None])]);
        let item = Field::new("item", DataType::Int32, true);
        let s = one(
            Arc::new(l),
            Field::new("l", DataType::List(item.into()), true),
        );
        let v = first_field(&s).unwrap();
        assert_eq!(pgt::array_header(v), Ok((2, 20)));
        assert_eq!(&v[4..12], [0, 0, 0, 1, 0, 0, 0, 23]);
        assert_eq!(&v[20..], [0, 0, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn values_that_do_not_fit_are_errors_naming_the_row() {
        let f = Field::new("n", DataType::Utf8, true).with_metadata(
            [(
                crate::types::SOURCE_TYPE_KEY.to_string(),
                "numeric".to_string(),
            )]
            .into(),
        );
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![f])),
            vec![Arc::new(StringArray::from(vec!["1.5", "x"]))],
        )
        .unwrap();
        let err = encode_batch(&batch, &mut Vec::new(), &mut [0], "t").unwrap_err();
        assert!(matches!(err, Error::Value { row: 2, .. }), "{err}");
    }
}

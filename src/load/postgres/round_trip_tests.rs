//! The binary COPY encoder against the source's decoder: every type of the benchmark table,
//! NULLs in every column, empty and multi-byte text, decoded back over batches of several
//! sizes and from a stream cut into small pieces.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::encode_batch;
use crate::source::postgres::CopyDecoder;
use crate::types::postgres::ReadAs;
use crate::types::SOURCE_TYPE_KEY;

const ROWS: usize = 23;

fn opt<T>(i: usize, every: usize, v: T) -> Option<T> {
    (i % every != 1).then_some(v)
}

fn table() -> (RecordBatch, Vec<ReadAs>) {
    let texts = ["", "plain", "é漢字🙂", "Ĳsselstein", " padded  "];
    let jsonb = Field::new("doc", DataType::Utf8, true)
        .with_metadata([(SOURCE_TYPE_KEY.to_string(), "jsonb".to_string())].into());
    let tz = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let fields = vec![
        Field::new("i2", DataType::Int16, true),
        Field::new("i4", DataType::Int32, true),
        Field::new("i8", DataType::Int64, true),
        Field::new("f4", DataType::Float32, true),
        Field::new("f8", DataType::Float64, true),
        Field::new("amount", DataType::Decimal128(15, 2), true),
        Field::new("note", DataType::Utf8, true),
        jsonb,
        Field::new("flag", DataType::Boolean, true),
        Field::new("day", DataType::Date32, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("at_tz", tz, true),
        Field::new("ref", DataType::FixedSizeBinary(16), true),
        Field::new("raw", DataType::Binary, true),
    ];
    let kinds = vec![
        ReadAs::Int2,
        ReadAs::Int4,
        ReadAs::Int8,
        ReadAs::Float4,
        ReadAs::Float8,
        ReadAs::Decimal128(15, 2),
        ReadAs::Text,
        ReadAs::Jsonb,
        ReadAs::Bool,
        ReadAs::Date,
        ReadAs::Timestamp,
        ReadAs::Timestamptz,
        ReadAs::Uuid,
        ReadAs::Bytea,
    ];
    let r = 0..ROWS;
    let big = 999_999_999_999_999i128;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int16Array::from_iter(
            r.clone().map(|i| opt(i, 2, i16::MIN + i as i16)),
        )),
        Arc::new(Int32Array::from_iter(
            r.clone().map(|i| opt(i, 3, -(i as i32) * 7919)),
        )),
        Arc::new(Int64Array::from_iter(
            r.clone().map(|i| opt(i, 4, i64::MAX - i as i64)),
        )),
        Arc::new(Float32Array::from_iter(
            r.clone().map(|i| opt(i, 5, i as f32 / 3.0)),
        )),
        Arc::new(Float64Array::from_iter(
            r.clone().map(|i| opt(i, 6, -(i as f64) / 7.0)),
        )),
        Arc::new(
            Decimal128Array::from_iter(r.clone().map(|i| opt(i, 7, big - 99_991 * i as i128)))
                .with_precision_and_scale(15, 2)
                .unwrap(),
        ),
        Arc::new(StringArray::from_iter(
            r.clone().map(|i| opt(i, 8, texts[i % 5])),
        )),
        Arc::new(StringArray::from_iter(r.clone().map(|i| {
            opt(i, 9, format!("{{\"k\": {i}, \"v\": \"{}\"}}", texts[i % 5]))
        }))),
        Arc::new(BooleanArray::from_iter(
            r.clone().map(|i| opt(i, 10, i % 3 == 0)),
        )),
        Arc::new(Date32Array::from_iter(
            r.clone().map(|i| opt(i, 11, 7_305 + i as i32)),
        )),
        Arc::new(TimestampMicrosecondArray::from_iter(
            r.clone()
                .map(|i| opt(i, 12, 946_684_800_000_001 + i as i64)),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter(r.clone().map(|i| opt(i, 13, -(i as i64))))
                .with_timezone("UTC"),
        ),
        Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                r.clone().map(|i| opt(i, 14, [i as u8; 16])),
                16,
            )
            .unwrap(),
        ),
        Arc::new(BinaryArray::from_iter(
            r.map(|i| opt(i, 2, vec![0u8, 255, i as u8])),
        )),
    ];
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    (batch, kinds)
}

fn decode(
    stream: &[u8],
    batch: &RecordBatch,
    kinds: &[ReadAs],
    chunk: usize,
    piece: usize,
) -> Vec<RecordBatch> {
    let mut d = CopyDecoder::new("t", batch.schema(), kinds, chunk).unwrap();
    let mut out = Vec::new();
    let mut sink = |b: RecordBatch| {
        out.push(b);
        Ok(())
    };
    for p in stream.chunks(piece) {
        d.feed(p, &mut sink).unwrap();
    }
    assert_eq!(d.finish(&mut sink).unwrap(), batch.num_rows() as u64);
    out
}

/// With the bytea column the decoder checks each tuple's length first (two walks); without
/// it, it decodes in one walk and undoes a tuple cut off by the end of a piece.
#[test]
fn every_bench_type_round_trips_through_encoder_and_decoder() {
    let (full, all_kinds) = table();
    let without_bytea: Vec<usize> = (0..full.num_columns() - 1).collect();
    let one_walk = (
        full.project(&without_bytea).unwrap(),
        all_kinds[..full.num_columns() - 1].to_vec(),
    );
    for (batch, kinds) in [(full, all_kinds), one_walk] {
        round_trip(&batch, &kinds);
    }
}

fn round_trip(batch: &RecordBatch, kinds: &[ReadAs]) {
    let mut stream = Vec::new();
    let mut nuls = vec![0u64; batch.num_columns()];
    encode_batch(batch, &mut stream, &mut nuls, "t").unwrap();
    assert!(nuls.iter().all(|&n| n == 0));
    for (chunk, piece) in [(5, stream.len()), (7, 7), (ROWS, 1), (1_000, 64), (4, 300)] {
        let got = decode(&stream, batch, kinds, chunk, piece);
        let sizes: Vec<usize> = got.iter().map(|b| b.num_rows()).collect();
        let want: Vec<usize> = (0..ROWS)
            .step_by(chunk)
            .map(|s| chunk.min(ROWS - s))
            .collect();
        assert_eq!(sizes, want, "chunk {chunk}");
        let all = concat_batches(&batch.schema(), &got).unwrap();
        for (c, f) in batch.schema().fields().iter().enumerate() {
            assert_eq!(
                all.column(c).as_ref(),
                batch.column(c).as_ref(),
                "column {} (chunk {chunk}, pieces of {piece})",
                f.name()
            );
            assert_eq!(all.column(c).null_count(), batch.column(c).null_count());
        }
    }
}

#[test]
fn nul_is_stripped_only_where_a_value_holds_one_even_in_sliced_batches() {
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    let text = StringArray::from(vec![Some("a\0b"), Some("é"), None, Some(""), Some("\0\0x")]);
    for (offset, len, want, stripped) in [
        // The NUL of row 1 lies outside the slice: nothing to strip.
        (1, 3, vec![Some("é"), None, Some("")], 0),
        (
            0,
            5,
            vec![Some("ab"), Some("é"), None, Some(""), Some("x")],
            2,
        ),
        (3, 2, vec![Some(""), Some("x")], 1),
    ] {
        let sliced: ArrayRef = Arc::new(text.slice(offset, len));
        let batch = RecordBatch::try_new(schema.clone(), vec![sliced]).unwrap();
        let mut stream = Vec::new();
        let mut nuls = [0u64];
        encode_batch(&batch, &mut stream, &mut nuls, "t").unwrap();
        assert_eq!(nuls, [stripped], "slice {offset}+{len}");
        let got = decode(&stream, &batch, &[ReadAs::Text], 100, 3);
        let got: Vec<Option<&str>> = got[0]
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(got, want, "slice {offset}+{len}");
    }
}

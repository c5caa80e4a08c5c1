//! The PostgreSQL binary COPY encoder (the loader's) and decoder (the source's) are
//! inverse. Neither side may import the other, so the round trip is tested here, through
//! the library's public surface (the one the `hot_paths` bench uses).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
    Float64Array, Int16Array, Int32Array, Int64Array, StringArray, Time64MicrosecondArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use stage::load::postgres::encode_batch;
use stage::source::postgres::CopyDecoder;
use stage::types::postgres::ReadAs;

/// A batch of every scalar kind survives encode → decode unchanged, fed in odd-sized
/// pieces.
#[test]
fn loader_encoding_decodes_to_the_same_batch() {
    let kinds = [
        ReadAs::Bool,
        ReadAs::Int2,
        ReadAs::Int4,
        ReadAs::Int8,
        ReadAs::Float8,
        ReadAs::Decimal128(15, 2),
        ReadAs::Text,
        ReadAs::Bytea,
        ReadAs::Date,
        ReadAs::Time,
        ReadAs::Timestamp,
        ReadAs::Timestamptz,
        ReadAs::Uuid,
    ];
    let fields: Vec<Field> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| Field::new(format!("c{i}"), k.arrow_type(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let uuid = [7u8; 16];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
        Arc::new(Int16Array::from(vec![Some(i16::MIN), None, Some(i16::MAX)])),
        Arc::new(Int32Array::from(vec![Some(i32::MIN), None, Some(0)])),
        Arc::new(Int64Array::from(vec![Some(i64::MIN), None, Some(i64::MAX)])),
        Arc::new(Float64Array::from(vec![Some(-0.0), None, Some(f64::MAX)])),
        Arc::new(
            Decimal128Array::from(vec![Some(-999_999_999_999_999), None, Some(1)])
                .with_precision_and_scale(15, 2)
                .unwrap(),
        ),
        Arc::new(StringArray::from(vec![Some("Ĳsselstein"), None, Some("")])),
        Arc::new(BinaryArray::from(vec![
            Some(&b"\x00"[..]),
            None,
            Some(&b""[..]),
        ])),
        Arc::new(Date32Array::from(vec![
            Some(-719_162),
            None,
            Some(2_932_896),
        ])),
        Arc::new(Time64MicrosecondArray::from(vec![
            Some(0),
            None,
            Some(86_399_999_999),
        ])),
        Arc::new(TimestampMicrosecondArray::from(vec![
            Some(-62_135_596_800_000_000),
            None,
            Some(253_402_300_799_999_999),
        ])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![Some(0), None, Some(1_700_000_000_123_456)])
                .with_timezone("UTC"),
        ),
        Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                vec![Some(uuid), None, Some([0u8; 16])].into_iter(),
                16,
            )
            .unwrap(),
        ),
    ];
    let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let mut bytes = Vec::new();
    let mut nuls = vec![0; kinds.len()];
    encode_batch(&batch, &mut bytes, &mut nuls, "t").unwrap();
    let mut d = CopyDecoder::new("t", schema, &kinds, 100).unwrap();
    let mut out = Vec::new();
    let mut sink = |b: RecordBatch| {
        out.push(b);
        Ok(())
    };
    for piece in bytes.chunks(13) {
        d.feed(piece, &mut sink).unwrap();
    }
    assert_eq!(d.finish(&mut sink).unwrap(), 3);
    assert_eq!(out, vec![batch]);
}

//! `parquet_column_encode`: one part's encoding, `ArrowWriter` against `ParallelWriter`
//! (`PARQUET_ENCODE_THREADS`), on `benches/e2e.py`'s table and two shapes of the main file.

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray, Float64Array,
    Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use criterion::{BenchmarkId, Criterion, Throughput};
use parquet::arrow::ArrowWriter;
use stage::archive::column_encode::ParallelWriter;
use stage::archive::part_writer::writer_properties;
use stage::config::Compression;

use super::{shape, Rng, ROWS};

/// `benches/e2e.py`'s `bench_src` as stage reads it (same types and value formulas), `rows` rows.
pub fn e2e_table(rows: usize) -> RecordBatch {
    let g = || 1..=rows as i64;
    let mut r = Rng(7);
    let utc = TimestampMicrosecondArray::from_iter_values(
        g().map(|g| 946_684_800_000_000 + (g % 100_000_000) * 1_000_000),
    )
    .with_timezone("UTC");
    let cols: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new("id", DataType::Int64, false),
            Arc::new(Int64Array::from_iter_values(g())),
        ),
        (
            Field::new("qty", DataType::Int32, false),
            Arc::new(Int32Array::from_iter_values(
                g().map(|g| ((g * 7) % 1000) as i32),
            )),
        ),
        (
            Field::new("amount", DataType::Decimal128(15, 2), true),
            Arc::new(
                Decimal128Array::from_iter_values(
                    g().map(|g| ((g * 104_729) % 100_000_000) as i128),
                )
                .with_precision_and_scale(15, 2)
                .expect("valid"),
            ),
        ),
        (
            Field::new("score", DataType::Float64, true),
            Arc::new(Float64Array::from_iter_values(
                g().map(|g| (g % 9973) as f64 / 7.0),
            )),
        ),
        (
            Field::new("name", DataType::Utf8, true),
            Arc::new(StringArray::from_iter_values(
                g().map(|g| format!("name {}", g % 50_000)),
            )),
        ),
        (
            Field::new("note", DataType::Utf8, true),
            Arc::new(StringArray::from_iter_values(g().map(|g| {
                if g % 5 == 0 {
                    format!("gemeente Ĳsselstein, aanvraag {g}")
                } else {
                    format!("note {}", g % 997)
                }
            }))),
        ),
        (
            Field::new("code", DataType::Utf8, true),
            Arc::new(StringArray::from_iter_values(
                g().map(|g| format!("{:010}", g % 100_000)),
            )),
        ),
        (
            Field::new("day", DataType::Date32, true),
            Arc::new(Date32Array::from_iter_values(
                g().map(|g| 7305 + (g % 12_000) as i32),
            )),
        ),
        (
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                g().map(|g| 946_684_800_000_000 + (g % 100_000_000) * 1_000_000),
            )),
        ),
        (
            Field::new(
                "at_tz",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Arc::new(utc),
        ),
        (
            Field::new("flag", DataType::Boolean, true),
            Arc::new(BooleanArray::from_iter(g().map(|g| Some(g % 3 == 0)))),
        ),
        (
            Field::new("ref", DataType::FixedSizeBinary(16), true),
            Arc::new(
                FixedSizeBinaryArray::try_from_iter(g().map(|_| {
                    let (a, b) = (r.next(), r.next());
                    let mut v = a.to_be_bytes().to_vec();
                    v.extend(b.to_be_bytes());
                    v
                }))
                .expect("16 bytes each"),
            ),
        ),
        (
            Field::new("sparse", DataType::Int32, true),
            Arc::new(Int32Array::from_iter(
                g().map(|g| (g % 10 >= 3).then_some((g % 1000) as i32)),
            )),
        ),
        (
            Field::new("doc", DataType::Utf8, true),
            Arc::new(StringArray::from_iter_values(g().map(|g| {
                format!("{{\"k\": {}, \"v\": \"x{}\"}}", g % 100, g % 37)
            }))),
        ),
    ];
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("a valid batch")
}

/// One part's encoding alone (into memory, no store, no hash): `ArrowWriter` on this thread
/// against `PARQUET_ENCODE_THREADS` = 2 and 4, on the e2e table and two shapes above.
pub fn column_encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("parquet_column_encode");
    g.sample_size(20);
    g.throughput(Throughput::Elements(ROWS as u64));
    for (name, batch) in [
        ("e2e_table", e2e_table(ROWS)),
        ("wide_mixed", shape("wide_mixed", ROWS)),
        ("decimals", shape("decimals", ROWS)),
    ] {
        let props = writer_properties(Compression::Zstd, ROWS, &batch.schema());
        g.bench_with_input(BenchmarkId::new(name, "serial"), &batch, |b, batch| {
            b.iter(|| {
                let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props.clone()))
                    .expect("writer");
                w.write(batch).expect("write");
                black_box(w.into_inner().expect("finish").len())
            })
        });
        for threads in [2, 4] {
            g.bench_with_input(
                BenchmarkId::new(name, format!("{threads}_threads")),
                &batch,
                |b, batch| {
                    b.iter(|| {
                        let mut w = ParallelWriter::try_new(
                            Vec::new(),
                            batch.schema(),
                            props.clone(),
                            threads,
                        )
                        .expect("writer");
                        w.write(batch).expect("write");
                        black_box(w.into_inner().expect("finish").len())
                    })
                },
            );
        }
    }
    g.finish();
    // Each column of the e2e table alone, serial: with free cores the parallel encoding
    // cannot take less than its most expensive column (plus the start of the part).
    let mut g = c.benchmark_group("parquet_column_encode_e2e_column");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROWS as u64));
    let table = e2e_table(ROWS);
    for (i, field) in table.schema().fields().iter().enumerate() {
        let one = table.project(&[i]).expect("a column");
        let props = writer_properties(Compression::Zstd, ROWS, &one.schema());
        g.bench_with_input(BenchmarkId::new(field.name(), "serial"), &one, |b, one| {
            b.iter(|| {
                let mut w = ArrowWriter::try_new(Vec::new(), one.schema(), Some(props.clone()))
                    .expect("writer");
                w.write(one).expect("write");
                black_box(w.into_inner().expect("finish").len())
            })
        });
    }
    g.finish();
}

//! Hot paths, one group per data shape, with `Throughput` set:
//! - without a database: Arrow → Parquet part writing, one part's encoding serial against
//!   `PARQUET_ENCODE_THREADS` (and each column of the e2e table alone), PostgreSQL binary COPY decode into
//!   Arrow and encode from Arrow, manifest hashing, SQLite read into Arrow and SQLite load;
//! - the transfer modes end to end (DIRECT, DUMP, and CONNECTORX when built with that
//!   feature) on the embedded SQLite source, and on a throwaway PostgreSQL when the test
//!   harness can start one (`tests/it/support`).
//!
//! Run: `cargo bench --bench hot_paths` (add `--all-features` for CONNECTORX). The
//! end-to-end benchmark against PostgreSQL's own limits is `benches/e2e.py` (README).

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

#[allow(dead_code, unused_imports)] // the harness serves the integration tests; this uses a part
#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "hot_paths/column_encode.rs"]
mod column_encode;
use column_encode::column_encoding;

use stage::archive::{PartWriter, Store};
use stage::config::{Compression, Config, Needs, RawIni, WriteMode};
use stage::load::postgres::encode_batch;
use stage::load::{Destination, LoadTarget};
use stage::source::postgres::CopyDecoder;
use stage::source::{ReadOptions, TableRef};
use stage::types::postgres::ReadAs;

const ROWS: usize = 100_000;

/// A tiny deterministic generator (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn shape(name: &str, rows: usize) -> RecordBatch {
    let mut r = Rng(42);
    let mut cols: Vec<(Field, ArrayRef)> = Vec::new();
    let int = |n: &str, r: &mut Rng| {
        (
            Field::new(n, DataType::Int64, false),
            Arc::new(Int64Array::from_iter_values(
                (0..rows).map(|_| (r.next() % 1_000_000) as i64),
            )) as ArrayRef,
        )
    };
    let dec = |n: &str, r: &mut Rng| {
        (
            Field::new(n, DataType::Decimal128(15, 2), true),
            Arc::new(
                Decimal128Array::from_iter(
                    (0..rows).map(|_| Some((r.next() % 100_000_000) as i128)),
                )
                .with_precision_and_scale(15, 2)
                .expect("valid"),
            ) as ArrayRef,
        )
    };
    let ts = |n: &str, r: &mut Rng| {
        (
            Field::new(n, DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Arc::new(TimestampMicrosecondArray::from_iter_values((0..rows).map(
                |_| 1_600_000_000_000_000 + (r.next() % 100_000_000_000_000) as i64,
            ))) as ArrayRef,
        )
    };
    let text = |n: &str, len: usize, r: &mut Rng| {
        let words = [
            "gemeente",
            "aanvraag",
            "uitkering",
            "inwoner",
            "Ĳsselstein",
            "büro",
            "straat",
        ];
        (
            Field::new(n, DataType::Utf8, true),
            Arc::new(StringArray::from_iter_values((0..rows).map(|_| {
                let mut s = String::with_capacity(len);
                while s.len() < len {
                    s.push_str(words[(r.next() % 7) as usize]);
                    s.push(' ');
                }
                s
            }))) as ArrayRef,
        )
    };
    match name {
        "narrow_ints" => {
            for n in ["a", "b", "c"] {
                cols.push(int(n, &mut r));
            }
        }
        "decimals" => {
            for n in ["a", "b", "c", "d"] {
                cols.push(dec(n, &mut r));
            }
        }
        "timestamps" => {
            for n in ["a", "b", "c", "d"] {
                cols.push(ts(n, &mut r));
            }
        }
        "long_text" => cols.push(text("body", 1000, &mut r)),
        _ => {
            cols.push(int("id", &mut r));
            cols.push(dec("amount", &mut r));
            cols.push(text("name", 24, &mut r));
            cols.push(ts("at", &mut r));
            cols.push((
                Field::new("ok", DataType::Boolean, true),
                Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 3 == 0)))) as ArrayRef,
            ));
            cols.push((
                Field::new("score", DataType::Float64, true),
                Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|_| r.next() as f64 / 7.0),
                )) as ArrayRef,
            ));
            cols.push((
                Field::new("day", DataType::Date32, true),
                Arc::new(Date32Array::from_iter_values(
                    (0..rows).map(|_| (r.next() % 20_000) as i32),
                )) as ArrayRef,
            ));
        }
    }
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("a valid batch")
}

const SHAPES: &[&str] = &[
    "narrow_ints",
    "wide_mixed",
    "long_text",
    "decimals",
    "timestamps",
];

fn part_writing(c: &mut Criterion) {
    let mut g = c.benchmark_group("parquet_part_write");
    g.sample_size(10);
    for shape_name in SHAPES {
        let batch = shape(shape_name, ROWS);
        g.throughput(Throughput::Elements(ROWS as u64));
        for (label, compression) in [("zstd", Compression::Zstd), ("none", Compression::None)] {
            g.bench_with_input(BenchmarkId::new(*shape_name, label), &batch, |b, batch| {
                b.iter(|| {
                    let store = Store::in_memory();
                    let mut w = PartWriter::new(
                        &store,
                        "t/run_id=x".into(),
                        "t".into(),
                        "t".into(),
                        batch.schema(),
                        compression,
                        ROWS,
                    );
                    w.write(batch).expect("write");
                    black_box(w.finish().expect("finish"))
                })
            });
        }
    }
    g.finish();
}

fn hashing(c: &mut Criterion) {
    let data = vec![7u8; 8 << 20];
    let mut g = c.benchmark_group("manifest_sha256");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("8MiB", |b| {
        b.iter(|| black_box(stage::archive::part_writer::sha256_hex(&data)))
    });
    g.finish();
}

/// A SQLite source with the wide mixed shape, written through the SQLite loader.
fn sqlite_fixture(dir: &std::path::Path, batch: &RecordBatch) -> String {
    let path = dir.join("src.sqlite");
    let cfg = env_config(&[("DST_DB", path.to_str().expect("utf-8 path"))]);
    let mut dst = stage::load::open(&cfg.destination).expect("open");
    load_into(dst.as_mut(), "wide", batch);
    path.to_string_lossy().into_owned()
}

fn load_into(dst: &mut dyn Destination, table: &str, batch: &RecordBatch) {
    let target = LoadTarget::new(
        None,
        table.into(),
        WriteMode::Replace,
        "bench",
        std::time::Duration::ZERO,
    );
    let schema: SchemaRef = batch.schema();
    let mut l = dst.begin(&target, &schema).expect("begin");
    l.write_batch(batch).expect("write");
    l.commit(batch.num_rows() as u64).expect("commit");
}

fn env_config(vars: &[(&str, &str)]) -> Config {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Config::from_parts(RawIni::default(), &env, Needs { source: false }).expect("config")
}

fn sqlite_paths(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch = shape("wide_mixed", ROWS);
    let src = sqlite_fixture(dir.path(), &batch);
    let mut g = c.benchmark_group("sqlite");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("read_wide_mixed", |b| {
        let cfg = env_config(&[("SRC_DRIVER", "sqlite"), ("SRC_DB", &src)]);
        let mut s = stage::source::open(&cfg.source).expect("open");
        let info = s.describe(&TableRef::new("wide", None)).expect("describe");
        let opts = ReadOptions {
            chunk_rows: 50_000,
            chunk_bytes: 64 << 20,
            row_limit: None,
            zero_dates: Default::default(),
            connections: 1,
            partition_column: None,
            partition_num: 1,
        };
        b.iter(|| {
            let mut rows = 0;
            s.read(&info, &opts, &mut |b| {
                rows += b.num_rows();
                Ok(())
            })
            .expect("read");
            black_box(rows)
        })
    });
    g.bench_function("load_wide_mixed", |b| {
        let out = dir.path().join("dst.sqlite");
        let cfg = env_config(&[("DST_DB", out.to_str().expect("utf-8"))]);
        let mut dst = stage::load::open(&cfg.destination).expect("open");
        b.iter(|| load_into(dst.as_mut(), "wide", &batch))
    });
    g.finish();

    let mut g = c.benchmark_group("transfer_modes_sqlite");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROWS as u64));
    for mode in transfer_modes() {
        g.bench_function(mode, |b| {
            let out = dir.path().join(format!("{mode}.sqlite"));
            let archive = dir.path().join(format!("{mode}-data"));
            let cfg = {
                let vars = [
                    ("SRC_DRIVER", "sqlite"),
                    ("SRC_DB", src.as_str()),
                    ("DST_DB", out.to_str().expect("utf-8")),
                    ("SRC_TABLES", "wide"),
                    ("TRANSFER_MODE", mode),
                    ("OUTPUT_DIR", archive.to_str().expect("utf-8")),
                    ("SRC_CHUNK_SIZE", "50000"),
                ];
                env_config(&vars)
            };
            b.iter(|| {
                let summary =
                    stage::transfer::run(&cfg, stage::transfer::Finish::Load).expect("run");
                assert_eq!(summary.failed(), 0);
                black_box(summary)
            })
        });
    }
    g.finish();
}

/// The PostgreSQL kind each shape's Arrow type is read as.
fn pg_kind(dt: &DataType) -> ReadAs {
    match dt {
        DataType::Int64 => ReadAs::Int8,
        DataType::Decimal128(p, s) => ReadAs::Decimal128(*p, *s),
        DataType::Utf8 => ReadAs::Text,
        DataType::Timestamp(..) => ReadAs::Timestamp,
        DataType::Boolean => ReadAs::Bool,
        DataType::Float64 => ReadAs::Float8,
        DataType::Date32 => ReadAs::Date,
        other => panic!("no PostgreSQL kind for {other} in the bench shapes"),
    }
}

fn pg_copy(c: &mut Criterion) {
    let mut g = c.benchmark_group("pg_binary_copy");
    g.sample_size(10);
    for shape_name in SHAPES {
        let batch = shape(shape_name, ROWS);
        let mut bytes = Vec::new();
        let mut nuls = vec![0; batch.num_columns()];
        encode_batch(&batch, &mut bytes, &mut nuls, "t").expect("encode");
        g.throughput(Throughput::Elements(ROWS as u64));
        g.bench_with_input(
            BenchmarkId::new("encode", shape_name),
            &batch,
            |b, batch| {
                let mut out = Vec::with_capacity(bytes.len());
                b.iter(|| {
                    encode_batch(batch, &mut out, &mut nuls, "t").expect("encode");
                    black_box(out.len())
                })
            },
        );
        let kinds: Vec<ReadAs> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| pg_kind(f.data_type()))
            .collect();
        g.bench_with_input(
            BenchmarkId::new("decode", shape_name),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let mut d =
                        CopyDecoder::new("t", batch.schema(), &kinds, 50_000).expect("decoder");
                    let mut rows = 0;
                    let mut sink = |b: RecordBatch| {
                        rows += b.num_rows();
                        Ok(())
                    };
                    // The server sends about 64 KiB per socket read.
                    for piece in bytes.chunks(64 << 10) {
                        d.feed(piece, &mut sink).expect("decode");
                    }
                    d.finish(&mut sink).expect("finish");
                    black_box(rows)
                })
            },
        );
    }
    g.finish();
}

fn transfer_modes() -> Vec<&'static str> {
    let mut modes = vec!["DIRECT", "DUMP"];
    if cfg!(feature = "connectorx") {
        modes.push("CONNECTORX");
    }
    modes
}

/// DIRECT, DUMP and CONNECTORX from PostgreSQL to PostgreSQL on a throwaway server.
fn postgres_modes(c: &mut Criterion) {
    let server = match support::pg::PgServer::try_start() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("transfer_modes_postgres skipped: no throwaway PostgreSQL ({why})");
            return;
        }
    };
    let db = server.create_database("bench");
    server
        .client(&db)
        .batch_execute(&format!(
            "CREATE TABLE wide AS SELECT g AS id, ((g * 104729) % 100000000)::numeric(15,2) / 100 AS amount, \
             'name ' || (g % 5000) AS name, timestamp '2000-01-01' + g * interval '1 second' AS at, \
             g % 3 = 0 AS ok, (g % 9973) / 7.0::float8 AS score, date '1990-01-01' + (g % 12000)::int AS day \
             FROM generate_series(1::bigint, {ROWS}) AS g"
        ))
        .expect("create the bench table");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = server.port.to_string();
    let mut g = c.benchmark_group("transfer_modes_postgres");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROWS as u64));
    for mode in transfer_modes() {
        let archive = dir.path().join(format!("{mode}-data"));
        let cfg = env_config(&[
            ("SRC_DRIVER", "postgres"),
            ("SRC_HOST", &server.host),
            ("SRC_PORT", &port),
            ("SRC_USERNAME", &server.user),
            ("SRC_PASSWORD", &server.password),
            ("SRC_DB", &db),
            ("DST_DRIVER", "postgres"),
            ("DST_HOST", &server.host),
            ("DST_PORT", &port),
            ("DST_USERNAME", &server.user),
            ("DST_PASSWORD", &server.password),
            ("DST_DB", &db),
            ("DST_SCHEMA", "staging"),
            ("SRC_TABLES", "wide"),
            ("TRANSFER_MODE", mode),
            ("OUTPUT_DIR", archive.to_str().expect("utf-8")),
            ("SRC_CHUNK_SIZE", "50000"),
        ]);
        g.bench_function(mode, |b| {
            b.iter(|| {
                let summary =
                    stage::transfer::run(&cfg, stage::transfer::Finish::Load).expect("run");
                assert_eq!(summary.failed(), 0);
                black_box(summary)
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    part_writing,
    column_encoding,
    pg_copy,
    hashing,
    sqlite_paths,
    postgres_modes
);
criterion_main!(benches);

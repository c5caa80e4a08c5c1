//! `PartWriter`: rolls a new Parquet part every `chunk_rows` rows.
//!
//! A part streams to the store as it is encoded ([`super::upload`]: chunks of 8 MiB, a
//! multipart upload once it outgrows one, hashed on the way), so memory holds the row group
//! being encoded and at most two chunks, never the table; a part in the archive is always
//! whole, and an unfinished one is aborted. A table with no rows still gets one part with
//! zero rows: readers of the archive see its schema.

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, Encoding, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use super::column_encode::ParallelWriter;
use super::{PartEntry, Store, Upload};
use crate::config::Compression;
use crate::error::{Error, Result};

/// zstd level for parts: level 1 is within a few percent of level 3's size at a
/// fraction of the CPU, which matters when the writer races the database.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// A dictionary larger than this falls back to plain encoding for the rest of the part:
/// a column with few distinct values keeps its dictionary, a column of near-unique
/// values stops paying for hashing after a few thousand values.
pub const DICTIONARY_PAGE_LIMIT: usize = 64 * 1024;

/// Parquet writer settings for a part of `schema`.
///
/// Columns stored as Parquet INT32/INT64 (signed integers, dates, times, timestamps,
/// decimals up to 18 digits) use DELTA_BINARY_PACKED without a dictionary: keys,
/// timestamps and amounts are often near-sorted or narrow, and on the end-to-end
/// benchmark table this halves the archive (48 → 20 MB per million rows) while using less
/// CPU than dictionary encoding (benches/RESULTS.md). Every Parquet reader we document
/// (DuckDB, Polars, DataFusion, pyarrow) reads it.
pub fn writer_properties(
    compression: Compression,
    chunk_rows: usize,
    schema: &SchemaRef,
) -> WriterProperties {
    let codec = match compression {
        Compression::Zstd => PqCompression::ZSTD(
            ZstdLevel::try_new(DEFAULT_ZSTD_LEVEL).expect("zstd level 1 is valid"),
        ),
        Compression::Snappy => PqCompression::SNAPPY,
        Compression::Lz4 => PqCompression::LZ4_RAW,
        Compression::Gzip => PqCompression::GZIP(GzipLevel::default()),
        Compression::None => PqCompression::UNCOMPRESSED,
    };
    let mut builder = WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_size(chunk_rows.max(1))
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_LIMIT)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("stage {}", env!("CARGO_PKG_VERSION")));
    for field in schema.fields() {
        if delta_encoded(field.data_type()) {
            let column = ColumnPath::from(field.name().as_str());
            builder = builder
                .set_column_dictionary_enabled(column.clone(), false)
                .set_column_encoding(column, Encoding::DELTA_BINARY_PACKED);
        }
    }
    builder.build()
}

/// Whether a top-level column is written with DELTA_BINARY_PACKED: those whose Parquet
/// physical type is INT32 or INT64 and whose values are signed (unsigned 32/64-bit
/// columns stay plain: their Parquet representation reinterprets the sign bit).
fn delta_encoded(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::Date32
            | DataType::Date64
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Timestamp(..)
            | DataType::Duration(_)
    ) || matches!(dt, DataType::Decimal128(p, _) | DataType::Decimal256(p, _) if *p <= 18)
}

/// A part being encoded: by `ArrowWriter` on the calling thread, or column by column on
/// several threads ([`ParallelWriter`], the same bytes).
enum Encoder {
    Serial(ArrowWriter<Upload>),
    Parallel(ParallelWriter<Upload>),
}

impl Encoder {
    fn write(&mut self, batch: &RecordBatch) -> parquet::errors::Result<()> {
        match self {
            Encoder::Serial(w) => w.write(batch),
            Encoder::Parallel(w) => w.write(batch),
        }
    }

    fn into_inner(self) -> parquet::errors::Result<Upload> {
        match self {
            Encoder::Serial(w) => w.into_inner(),
            Encoder::Parallel(w) => w.into_inner(),
        }
    }
}

pub struct PartWriter<'a> {
    store: &'a Store,
    /// `<table>/run_id=<id>`
    dir: String,
    /// `<table>` as used in part file names.
    stem: String,
    /// The table name for messages.
    table: String,
    schema: SchemaRef,
    props: WriterProperties,
    chunk_rows: usize,
    /// `SRC_CHUNK_BYTES`: a part also closes once its rows hold this many bytes in Arrow.
    max_bytes: usize,
    current: Option<Encoder>,
    /// `PARQUET_ENCODE_THREADS`: 1 encodes on the calling thread (`ArrowWriter`).
    encode_threads: usize,
    /// The run id of `dir`, which records this run's uploads.
    run_id: String,
    current_rows: usize,
    current_bytes: usize,
    parts: Vec<PartEntry>,
}

/// The bytes of a batch's rows (a slice counts only its own rows' share of the buffers).
fn slice_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}

impl<'a> PartWriter<'a> {
    pub fn new(
        store: &'a Store,
        dir: String,
        stem: String,
        table: String,
        schema: SchemaRef,
        compression: Compression,
        chunk_rows: usize,
    ) -> Self {
        let props = writer_properties(compression, chunk_rows, &schema);
        let run_id = dir
            .rsplit_once("run_id=")
            .map_or_else(|| dir.clone(), |(_, id)| id.to_string());
        PartWriter {
            run_id,
            store,
            dir,
            stem,
            table,
            schema,
            props,
            chunk_rows: chunk_rows.max(1),
            max_bytes: usize::MAX,
            current: None,
            encode_threads: 1,
            current_rows: 0,
            current_bytes: 0,
            parts: Vec::new(),
        }
    }

    /// Also closes a part (its one row group) once the batches written into it hold
    /// `bytes` bytes in Arrow (`SRC_CHUNK_BYTES`), whichever of rows and bytes comes first.
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes.max(1);
        self
    }

    /// Encodes the columns of each part on `threads` threads (`PARQUET_ENCODE_THREADS`;
    /// the file is the same, byte for byte, as with one).
    pub fn with_encode_threads(mut self, threads: usize) -> Self {
        self.encode_threads = threads.max(1);
        self
    }

    /// Appends rows, closing a part each time it reaches `chunk_rows` (or `max_bytes`).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema() != self.schema {
            return Err(Error::Check(format!(
                "table {}: a batch's schema differs from the table's schema fixed before the first row",
                self.table
            )));
        }
        let mut offset = 0;
        while offset < batch.num_rows() {
            let room = self.chunk_rows - self.current_rows;
            let take = room.min(batch.num_rows() - offset);
            let slice = batch.slice(offset, take);
            let writer = self.writer()?;
            writer
                .write(&slice)
                .map_err(|e| Error::archive(format!("table {}: encoding a part", self.table), e))?;
            self.current_rows += take;
            self.current_bytes += slice_bytes(&slice);
            offset += take;
            if self.current_rows == self.chunk_rows || self.current_bytes >= self.max_bytes {
                self.close_part()?;
            }
        }
        Ok(())
    }

    fn part_path(&self) -> String {
        format!(
            "{}/{}_part{:04}.parquet",
            self.dir,
            self.stem,
            self.parts.len()
        )
    }

    fn writer(&mut self) -> Result<&mut Encoder> {
        if self.current.is_none() {
            let upload = self.store.upload(&self.part_path(), &self.run_id);
            let (schema, props) = (self.schema.clone(), self.props.clone());
            if self.encode_threads > 1 && self.parts.is_empty() {
                tracing::info!(table = %self.table, threads = self.encode_threads, "encoding Parquet columns on several threads");
            }
            let w = if self.encode_threads > 1 {
                ParallelWriter::try_new(upload, schema, props, self.encode_threads)
                    .map(Encoder::Parallel)
            } else {
                ArrowWriter::try_new(upload, schema, Some(props)).map(Encoder::Serial)
            }
            .map_err(|e| Error::archive(format!("table {}: starting a part", self.table), e))?;
            self.current = Some(w);
        }
        Ok(self.current.as_mut().expect("just set"))
    }

    fn close_part(&mut self) -> Result<()> {
        let Some(writer) = self.current.take() else {
            return Ok(());
        };
        let path = self.part_path();
        let upload = writer
            .into_inner()
            .map_err(|e| Error::archive(format!("table {}: finishing a part", self.table), e))?;
        let done = upload.finish()?;
        let (sha256, size) = (done.sha256, done.bytes);
        tracing::info!(table = %self.table, part = %path, rows = self.current_rows, bytes = size, "part written");
        self.parts.push(PartEntry {
            path,
            rows: self.current_rows as u64,
            bytes: size,
            sha256,
        });
        self.current_rows = 0;
        self.current_bytes = 0;
        crate::interrupt::pause_point("part-write");
        Ok(())
    }

    /// Closes the last part and returns every part written, in order.
    pub fn finish(mut self) -> Result<Vec<PartEntry>> {
        if self.current.is_none() && self.parts.is_empty() {
            // An empty table: one part with the schema and no rows.
            self.writer()?;
        }
        self.close_part()?;
        Ok(std::mem::take(&mut self.parts))
    }

    /// Deletes every part written so far (a failed read leaves no orphaned parts).
    pub fn abort(mut self) {
        self.current = None;
        for p in std::mem::take(&mut self.parts) {
            if let Err(e) = self.store.delete(&p.path) {
                tracing::warn!(table = %self.table, part = %p.path, error = %e, "could not delete a part of a failed table");
            }
        }
    }
}

/// A part's sha256 as the manifest lists it (written here, checked by the reader).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    fn batch(schema: &SchemaRef, values: std::ops::Range<i64>) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(values))],
        )
        .unwrap()
    }

    #[test]
    fn rolls_parts_every_chunk_rows_across_batch_boundaries() {
        let store = Store::in_memory();
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let mut w = PartWriter::new(
            &store,
            "t/run_id=r".into(),
            "t".into(),
            "t".into(),
            schema.clone(),
            Compression::Zstd,
            3,
        );
        w.write(&batch(&schema, 0..2)).unwrap();
        w.write(&batch(&schema, 2..7)).unwrap();
        let parts = w.finish().unwrap();
        let rows: Vec<u64> = parts.iter().map(|p| p.rows).collect();
        assert_eq!(rows, [3, 3, 1]);
        assert_eq!(parts[2].path, "t/run_id=r/t_part0002.parquet");
        let mut seen = Vec::new();
        for p in &parts {
            let data = store.get(&p.path).unwrap();
            assert_eq!(sha256_hex(&data), p.sha256);
            assert_eq!(data.len() as u64, p.bytes);
            for b in ParquetRecordBatchReaderBuilder::try_new(data)
                .unwrap()
                .build()
                .unwrap()
            {
                let b = b.unwrap();
                let col = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                seen.extend(col.values().iter().copied());
            }
        }
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_table_gets_one_empty_part() {
        let store = Store::in_memory();
        let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let w = PartWriter::new(
            &store,
            "e/run_id=r".into(),
            "e".into(),
            "e".into(),
            schema,
            Compression::None,
            10,
        );
        let parts = w.finish().unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].rows, 0);
    }

    #[test]
    fn integer_like_columns_are_delta_encoded_and_read_back_exactly() {
        use arrow::array::{
            ArrayRef, Date32Array, Decimal128Array, StringArray, TimestampMicrosecondArray,
            UInt32Array,
        };
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("amount", DataType::Decimal128(15, 2), true),
            Field::new("day", DataType::Date32, true),
            Field::new(
                "at",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("big", DataType::Decimal128(30, 2), true),
            Field::new("u", DataType::UInt32, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        // Extremes next to each other: the deltas overflow i64 and must wrap losslessly.
        let ids = [
            Some(i64::MIN),
            Some(i64::MAX),
            None,
            Some(-1),
            Some(0),
            Some(i64::MAX),
        ];
        let amounts = [
            Some(999_999_999_999_999),
            Some(-999_999_999_999_999),
            None,
            Some(1),
            Some(0),
            Some(-5),
        ];
        let days = [
            Some(i32::MIN),
            Some(i32::MAX),
            None,
            Some(0),
            Some(-719_162),
            Some(2_932_896),
        ];
        let ats = [
            Some(i64::MIN),
            Some(0),
            None,
            Some(i64::MAX),
            Some(-62_135_596_800_000_000),
            Some(1),
        ];
        let bigs = [
            Some(10i128.pow(29)),
            None,
            Some(-1),
            Some(0),
            Some(7),
            Some(-(10i128.pow(29))),
        ];
        let us = [
            Some(u32::MAX),
            Some(0),
            None,
            Some(1 << 31),
            Some(5),
            Some(u32::MAX - 1),
        ];
        let names = [Some("a"), None, Some("ß"), Some(""), Some("a"), Some("z")];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(arrow::array::Int64Array::from(ids.to_vec())),
            Arc::new(
                Decimal128Array::from(amounts.to_vec())
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
            Arc::new(Date32Array::from(days.to_vec())),
            Arc::new(TimestampMicrosecondArray::from(ats.to_vec()).with_timezone("UTC")),
            Arc::new(
                Decimal128Array::from(bigs.to_vec())
                    .with_precision_and_scale(30, 2)
                    .unwrap(),
            ),
            Arc::new(UInt32Array::from(us.to_vec())),
            Arc::new(StringArray::from(names.to_vec())),
        ];
        let input = RecordBatch::try_new(schema.clone(), arrays).unwrap();
        let store = Store::in_memory();
        let mut w = PartWriter::new(
            &store,
            "d/run_id=r".into(),
            "d".into(),
            "d".into(),
            schema,
            Compression::Zstd,
            100,
        );
        w.write(&input).unwrap();
        let parts = w.finish().unwrap();
        let data = store.get(&parts[0].path).unwrap();

        let meta = SerializedFileReader::new(data.clone()).unwrap();
        let rg = meta.metadata().row_group(0);
        let encodings = |i: usize| rg.column(i).encodings().to_vec();
        for (i, name) in ["id", "amount", "day", "at"].iter().enumerate() {
            assert!(
                encodings(i).contains(&Encoding::DELTA_BINARY_PACKED),
                "{name}: {:?}",
                encodings(i)
            );
            assert!(!encodings(i).contains(&Encoding::RLE_DICTIONARY), "{name}");
        }
        for i in 4..7 {
            assert!(
                !encodings(i).contains(&Encoding::DELTA_BINARY_PACKED),
                "column {i}"
            );
        }

        let read: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(data)
            .unwrap()
            .build()
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(read, vec![input]);
    }
}

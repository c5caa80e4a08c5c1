//! `PartWriter`: rolls a new Parquet part every `chunk_rows` rows.
//!
//! A part is encoded in memory (its size is bounded by `chunk_rows`), hashed, and stored
//! with one atomic put, so a part in the archive is always whole. A table with no rows
//! still gets one part with zero rows: readers of the archive see its schema.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use sha2::{Digest, Sha256};

use super::{PartEntry, Store};
use crate::config::Compression;
use crate::error::{Error, Result};

/// zstd level for parts: level 1 is within a few percent of level 3's size at a
/// fraction of the CPU, which matters when the writer races the database.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

pub fn writer_properties(compression: Compression, chunk_rows: usize) -> WriterProperties {
    let codec = match compression {
        Compression::Zstd => PqCompression::ZSTD(
            ZstdLevel::try_new(DEFAULT_ZSTD_LEVEL).expect("zstd level 1 is valid"),
        ),
        Compression::Snappy => PqCompression::SNAPPY,
        Compression::Lz4 => PqCompression::LZ4_RAW,
        Compression::Gzip => PqCompression::GZIP(GzipLevel::default()),
        Compression::None => PqCompression::UNCOMPRESSED,
    };
    WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_size(chunk_rows.max(1))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("stage {}", env!("CARGO_PKG_VERSION")))
        .build()
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
    current: Option<ArrowWriter<Vec<u8>>>,
    current_rows: usize,
    parts: Vec<PartEntry>,
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
        PartWriter {
            store,
            dir,
            stem,
            table,
            schema,
            props: writer_properties(compression, chunk_rows),
            chunk_rows: chunk_rows.max(1),
            current: None,
            current_rows: 0,
            parts: Vec::new(),
        }
    }

    /// Appends rows, closing a part each time it reaches `chunk_rows`.
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
            offset += take;
            if self.current_rows == self.chunk_rows {
                self.close_part()?;
            }
        }
        Ok(())
    }

    fn writer(&mut self) -> Result<&mut ArrowWriter<Vec<u8>>> {
        if self.current.is_none() {
            let w = ArrowWriter::try_new(Vec::new(), self.schema.clone(), Some(self.props.clone()))
                .map_err(|e| Error::archive(format!("table {}: starting a part", self.table), e))?;
            self.current = Some(w);
        }
        Ok(self.current.as_mut().expect("just set"))
    }

    fn close_part(&mut self) -> Result<()> {
        let Some(writer) = self.current.take() else {
            return Ok(());
        };
        let bytes = writer
            .into_inner()
            .map_err(|e| Error::archive(format!("table {}: finishing a part", self.table), e))?;
        let path = format!(
            "{}/{}_part{:04}.parquet",
            self.dir,
            self.stem,
            self.parts.len()
        );
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as u64;
        self.store.put(&path, bytes.into())?;
        tracing::info!(table = %self.table, part = %path, rows = self.current_rows, bytes = size, "part written");
        self.parts.push(PartEntry {
            path,
            rows: self.current_rows as u64,
            bytes: size,
            sha256,
        });
        self.current_rows = 0;
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

/// Re-hashes a stored part.
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
}

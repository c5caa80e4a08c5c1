//! Parquet encoding of a part's columns on several threads (`[settings]
//! PARQUET_ENCODE_THREADS` above 1; off by default, see docs/DECISIONS.md).
//!
//! [`ParallelWriter`] writes the same file as [`ArrowWriter`] with the same properties,
//! byte for byte: it starts from an `ArrowWriter` (so the Parquet schema, the
//! `ARROW:schema` metadata and the properties are the ones the serial path writes) and
//! takes over its [`SerializedFileWriter`]. Each batch is cut into its leaf columns and
//! every column writer is handed the same slices, in the same order, as `ArrowWriter`
//! would hand it; only which thread does the encoding changes. At the end of a row group
//! the column writers are closed (also in parallel) and their chunks appended in schema
//! order.
//!
//! Memory: the column writers hold the row group's encoded pages until it closes, as
//! `ArrowWriter`'s do — one part is one row group of at most `SRC_CHUNK_SIZE` rows or
//! `SRC_CHUNK_BYTES` bytes of Arrow, so the encoded row group is at most about that (less
//! after compression). Threads add only their own page buffers (one open page per column,
//! the same as serial) and stacks; nothing more is queued.

use std::io::Write;
use std::sync::Mutex;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

/// Batches (and row groups, when closed) with fewer rows than this are encoded on the
/// calling thread: starting threads would cost more than the encoding (the file is the
/// same either way).
const MIN_PARALLEL_ROWS: usize = 4096;

pub struct ParallelWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// Leaf columns of each top-level field (a nested field has several).
    leaves_per_field: Vec<usize>,
    threads: usize,
    max_row_group_rows: usize,
    /// The open row group's column writers, one per leaf column.
    writers: Option<Vec<ArrowColumnWriter>>,
    rows: usize,
}

impl<W: Write + Send> ParallelWriter<W> {
    pub fn try_new(
        sink: W,
        schema: SchemaRef,
        props: WriterProperties,
        threads: usize,
    ) -> Result<Self> {
        let descriptor = ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(&schema)?;
        let mut leaves_per_field = vec![0; schema.fields().len()];
        for leaf in 0..descriptor.num_columns() {
            leaves_per_field[descriptor.get_column_root_idx(leaf)] += 1;
        }
        let max_row_group_rows = props.max_row_group_size().max(1);
        let (file, factory) =
            ArrowWriter::try_new(sink, schema.clone(), Some(props))?.into_serialized_writer()?;
        Ok(ParallelWriter {
            file,
            factory,
            schema,
            leaves_per_field,
            threads: threads.max(1),
            max_row_group_rows,
            writers: None,
            rows: 0,
        })
    }

    /// Encodes `batch`, closing a row group each time it reaches the row-group size (as
    /// `ArrowWriter::write` does).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (self.max_row_group_rows - self.rows).min(batch.num_rows() - offset);
            self.write_within_group(&batch.slice(offset, take))?;
            offset += take;
            if self.rows >= self.max_row_group_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn write_within_group(&mut self, batch: &RecordBatch) -> Result<()> {
        let writers = match &mut self.writers {
            Some(w) => w,
            none => none.insert(
                self.factory
                    .create_column_writers(self.file.flushed_row_groups().len())?,
            ),
        };
        // One task per top-level field: its leaves and the writers of those leaves.
        let mut rest = writers.as_mut_slice();
        let mut tasks = Vec::with_capacity(self.leaves_per_field.len());
        for ((field, column), &n) in self
            .schema
            .fields()
            .iter()
            .zip(batch.columns())
            .zip(&self.leaves_per_field)
        {
            let (mine, others) = std::mem::take(&mut rest).split_at_mut(n);
            tasks.push((field, column, mine));
            rest = others;
        }
        let threads = if batch.num_rows() < MIN_PARALLEL_ROWS {
            1
        } else {
            self.threads
        };
        par_map(threads, tasks, |(field, column, writers)| {
            let leaves = compute_leaves(field, column)?;
            if leaves.len() != writers.len() {
                return Err(ParquetError::General(format!(
                    "column {}: {} leaf columns, {} writers",
                    field.name(),
                    leaves.len(),
                    writers.len()
                )));
            }
            for (writer, leaf) in writers.iter_mut().zip(&leaves) {
                writer.write(leaf)?;
            }
            if threads > 1 {
                crate::interrupt::pause_point("encode-columns");
            }
            Ok(())
        })?;
        self.rows += batch.num_rows();
        Ok(())
    }

    /// Closes the open row group (if any): its column chunks are appended in order.
    fn flush(&mut self) -> Result<()> {
        let Some(writers) = self.writers.take() else {
            return Ok(());
        };
        let threads = if self.rows < MIN_PARALLEL_ROWS {
            1
        } else {
            self.threads
        };
        let chunks: Vec<ArrowColumnChunk> = par_map(threads, writers, |w| w.close())?;
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        self.rows = 0;
        Ok(())
    }

    /// Closes the last row group, writes the footer and returns the sink.
    pub fn into_inner(mut self) -> Result<W> {
        self.flush()?;
        self.file.into_inner()
    }
}

/// `items.map(f)` in order, on the calling thread and up to `threads - 1` scoped threads
/// taking items from a shared queue. The first error is returned (the other threads stop
/// taking items once the queue is empty); a panic in `f` is resumed here.
fn par_map<T: Send, R: Send>(
    threads: usize,
    items: Vec<T>,
    f: impl Fn(T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let n = items.len();
    let threads = threads.min(n);
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let work = || -> Result<Vec<(usize, R)>> {
        let mut done = Vec::new();
        loop {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((i, item)) = next else {
                return Ok(done);
            };
            done.push((i, f(item)?));
        }
    };
    let mut results: Vec<(usize, R)> = Vec::with_capacity(n);
    let mut first_error = None;
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut outcomes = vec![work()];
        for h in helpers {
            outcomes.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        for outcome in outcomes {
            match outcome {
                Ok(done) => results.extend(done),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    });
    if let Some(e) = first_error {
        return Err(e);
    }
    results.sort_unstable_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{PartWriter, Store};
    use crate::config::Compression;
    use arrow::array::{
        ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, ListArray,
        StringArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    /// Rows `from..to` of a table with flat and nested columns, a third of them NULL.
    fn rows(schema: &SchemaRef, from: i64, to: i64) -> RecordBatch {
        let null = |i: i64| i % 3 == 0;
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(from..to)),
            Arc::new(
                Decimal128Array::from_iter((from..to).map(|i| (!null(i)).then_some(i as i128 * 7)))
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
            Arc::new(StringArray::from_iter(
                (from..to).map(|i| (!null(i)).then(|| format!("name {} ß", i % 500))),
            )),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (from..to).map(|i| 1_600_000_000_000_000 + i * 1_000_003),
            )),
            Arc::new(BooleanArray::from_iter(
                (from..to).map(|i| Some(i % 2 == 0)),
            )),
            Arc::new(Float64Array::from_iter_values(
                (from..to).map(|i| i as f64 / 7.0),
            )),
            Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
                (from..to)
                    .map(|i| (!null(i)).then(|| (0..(i % 4) as i32).map(Some).collect::<Vec<_>>())),
            )),
            Arc::new(Int32Array::from_iter(
                (from..to).map(|i| (i % 10 < 3).then_some(i as i32)),
            )),
        ];
        RecordBatch::try_new(schema.clone(), arrays).unwrap()
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("amount", DataType::Decimal128(15, 2), true),
            Field::new("name", DataType::Utf8, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("flag", DataType::Boolean, true),
            Field::new("score", DataType::Float64, false),
            Field::new_list("tags", Field::new_list_field(DataType::Int32, true), true),
            Field::new("sparse", DataType::Int32, true),
        ]))
    }

    /// Every part's bytes, written with `threads` encoding threads.
    fn parts(threads: usize, compression: Compression, batches: &[RecordBatch]) -> Vec<Vec<u8>> {
        let store = Store::in_memory();
        let mut w = PartWriter::new(
            &store,
            "t/run_id=r".into(),
            "t".into(),
            "t".into(),
            schema(),
            compression,
            20_000,
        )
        .with_encode_threads(threads);
        for b in batches {
            w.write(b).unwrap();
        }
        w.finish()
            .unwrap()
            .iter()
            .map(|p| {
                let data = store.get(&p.path).unwrap();
                assert_eq!(crate::archive::part_writer::sha256_hex(&data), p.sha256);
                data.to_vec()
            })
            .collect()
    }

    #[test]
    fn parallel_parts_are_the_serial_parts_byte_for_byte() {
        let s = schema();
        // Batches that cross part boundaries (20,000 rows), and small ones that stay serial.
        let batches = [
            rows(&s, 0, 15_000),
            rows(&s, 15_000, 15_100),
            rows(&s, 15_100, 33_000),
            rows(&s, 33_000, 61_234),
        ];
        for compression in [Compression::Zstd, Compression::None] {
            let serial = parts(1, compression, &batches);
            assert_eq!(serial.len(), 4);
            for threads in [2, 3, 8] {
                let parallel = parts(threads, compression, &batches);
                assert!(
                    parallel == serial,
                    "{threads} threads, {compression:?}: other bytes"
                );
            }
            let mut read = Vec::new();
            for data in parts(2, compression, &batches) {
                for b in ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(data))
                    .unwrap()
                    .build()
                    .unwrap()
                {
                    read.push(b.unwrap());
                }
            }
            let read = arrow::compute::concat_batches(&s, &read).unwrap();
            let all = arrow::compute::concat_batches(&s, &batches).unwrap();
            assert_eq!(read, all);
        }
    }

    #[test]
    fn par_map_keeps_order_and_returns_an_error() {
        let items: Vec<usize> = (0..100).collect();
        let out = par_map(3, items.clone(), |i| Ok(i * 2)).unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let err = par_map(3, items, |i| {
            if i == 57 {
                Err(ParquetError::General("fifty-seven".into()))
            } else {
                Ok(i)
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains("fifty-seven"), "{err}");
    }
}

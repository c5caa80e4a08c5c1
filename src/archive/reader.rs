//! The archive's reader half: a table's parts, each checked against its manifest entry
//! (sha256 with the writer's hash, Arrow schema against the manifest's columns) before a
//! row of it is used, and decoded in the manifest's order.

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::part_writer::sha256_hex;
use super::{PartEntry, Store, TableEntry, TableStatus};
use crate::error::{Error, Result};

/// Reads a part and checks it against the manifest's sha256.
pub fn read_part(store: &Store, table: &str, part: &PartEntry) -> Result<Bytes> {
    let data = store.get(&part.path)?;
    let actual = sha256_hex(&data);
    if actual != part.sha256 {
        return Err(Error::Check(format!(
            "table {table}: part {} has changed since the run (sha256 {actual}, manifest {}); nothing of this table was loaded",
            part.path, part.sha256
        )));
    }
    Ok(data)
}

/// Reads a part (checking its sha256) and its Parquet metadata, and checks that its Arrow
/// schema is the manifest's `schema`.
fn open_part(
    store: &Store,
    table: &str,
    part: &PartEntry,
    schema: &Schema,
) -> Result<ParquetRecordBatchReaderBuilder<Bytes>> {
    let data = read_part(store, table, part)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(data)
        .map_err(|e| Error::archive(format!("table {table}: reading {}", part.path), e))?;
    if let Some(difference) = schema_difference(builder.schema(), schema) {
        return Err(Error::Check(format!(
            "table {table}: part {} does not match the manifest: {difference}",
            part.path
        )));
    }
    Ok(builder)
}

/// How a part's schema differs from the manifest's, or `None` when they are the same.
fn schema_difference(part: &Schema, manifest: &Schema) -> Option<String> {
    let (theirs, ours) = (part.fields(), manifest.fields());
    if theirs.len() != ours.len() {
        return Some(format!(
            "it has {} columns, the manifest lists {}",
            theirs.len(),
            ours.len()
        ));
    }
    theirs
        .iter()
        .zip(ours.iter())
        .enumerate()
        .find_map(|(i, (p, m))| {
            if p.name() != m.name() {
                Some(format!(
                    "column {} is \"{}\" in the part, \"{}\" in the manifest",
                    i + 1,
                    p.name(),
                    m.name()
                ))
            } else if p.data_type() != m.data_type() {
                Some(format!(
                    "column {} is {} in the part, {} in the manifest",
                    m.name(),
                    p.data_type(),
                    m.data_type()
                ))
            } else if p.is_nullable() != m.is_nullable() {
                let null = |n: bool| if n { "nullable" } else { "not nullable" };
                Some(format!(
                    "column {} is {} in the part, {} in the manifest",
                    m.name(),
                    null(p.is_nullable()),
                    null(m.is_nullable())
                ))
            } else if p != m {
                Some(format!(
                    "column {}'s metadata is {:?} in the part, {:?} in the manifest",
                    m.name(),
                    p.metadata(),
                    m.metadata()
                ))
            } else {
                None
            }
        })
}

/// The parts of one complete table, read in order; the first is opened (and checked) at
/// once, so a changed first part fails before anything is loaded.
pub struct TableParts<'a> {
    store: &'a Store,
    entry: &'a TableEntry,
    schema: SchemaRef,
    batch_rows: usize,
    first: Option<ParquetRecordBatchReader>,
}

impl<'a> TableParts<'a> {
    /// Opens `entry`'s first part, whose batches will hold up to `batch_rows` rows.
    pub fn open(
        store: &'a Store,
        entry: &'a TableEntry,
        schema: SchemaRef,
        batch_rows: usize,
    ) -> Result<Self> {
        let mut parts = TableParts {
            store,
            entry,
            schema,
            batch_rows,
            first: None,
        };
        parts.first = match entry.parts.first() {
            Some(part) => Some(parts.open_part(part)?),
            None => None,
        };
        Ok(parts)
    }

    fn open_part(&self, part: &PartEntry) -> Result<ParquetRecordBatchReader> {
        let name = &self.entry.source_table;
        open_part(self.store, name, part, &self.schema)?
            .with_batch_size(self.batch_rows)
            .build()
            .map_err(|e| Error::archive(format!("table {name}: reading {}", part.path), e))
    }

    /// Pushes every batch of every part to `sink`; returns the rows read.
    pub fn read(mut self, sink: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<u64> {
        let name = &self.entry.source_table;
        let mut first = self.first.take();
        let mut rows = 0u64;
        for part in &self.entry.parts {
            let reader = match first.take() {
                Some(reader) => reader,
                None => self.open_part(part)?,
            };
            for batch in reader {
                let batch = batch.map_err(|e| {
                    Error::archive(format!("table {name}: decoding {}", part.path), e)
                })?;
                rows += batch.num_rows() as u64;
                sink(batch)?;
            }
        }
        Ok(rows)
    }
}

/// `stage verify`'s archive half: re-hashes every part of `entry` and checks its schema and
/// row count against the manifest; returns the rows of the table.
pub fn verify_parts(store: &Store, entry: &TableEntry) -> Result<u64> {
    if entry.status == TableStatus::Failed {
        return Err(Error::Check(
            "the dump of this table failed; nothing to verify".into(),
        ));
    }
    let schema = entry.schema()?;
    let mut rows = 0;
    for part in &entry.parts {
        let meta = open_part(store, &entry.source_table, part, &schema)?;
        let n = meta.metadata().file_metadata().num_rows() as u64;
        if n != part.rows {
            return Err(Error::Check(format!(
                "part {} holds {n} rows, the manifest says {}",
                part.path, part.rows
            )));
        }
        rows += n;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, Int64Array, ListBuilder, StringArray, TimestampMicrosecondBuilder,
    };
    use arrow::datatypes::{DataType, Field, TimeUnit};

    use super::*;
    use crate::archive::manifest::columns_entry;
    use crate::archive::PartWriter;
    use crate::config::Compression;
    use crate::types::SOURCE_TYPE_KEY;

    fn field(name: &str, dt: DataType, source_type: &str) -> Field {
        Field::new(name, dt, true).with_metadata(HashMap::from([(
            SOURCE_TYPE_KEY.to_string(),
            source_type.to_string(),
        )]))
    }

    fn schema() -> SchemaRef {
        let tz = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        Arc::new(Schema::new(vec![
            field("Id", DataType::Int64, "bigint"),
            field("name", DataType::Utf8, "text"),
            field(
                "at",
                DataType::List(Arc::new(Field::new("item", tz, true))),
                "timestamptz[]",
            ),
        ]))
    }

    fn batch(schema: &SchemaRef, ids: std::ops::Range<i64>) -> RecordBatch {
        let n = ids.end - ids.start;
        let mut at = ListBuilder::new(TimestampMicrosecondBuilder::new().with_timezone("+00:00"));
        for i in ids.clone() {
            at.values().append_value(i);
            at.values().append_null();
            at.append(i % 2 == 0);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(ids.clone())),
            Arc::new(StringArray::from_iter_values(
                ids.map(|i| format!("row {i}")),
            )),
            Arc::new(at.finish()),
        ];
        let b = RecordBatch::try_new(schema.clone(), columns).unwrap();
        assert_eq!(b.num_rows() as i64, n);
        b
    }

    /// A complete table entry of `rows` rows in parts of 4, written as the dump writes it.
    fn dumped(store: &Store, rows: i64) -> TableEntry {
        let schema = schema();
        let mut w = PartWriter::new(
            store,
            "t/run_id=r".into(),
            "t".into(),
            "t".into(),
            schema.clone(),
            Compression::Zstd,
            4,
        );
        if rows > 0 {
            w.write(&batch(&schema, 0..rows)).unwrap();
        }
        TableEntry {
            status: TableStatus::Complete,
            rows: rows as u64,
            columns: columns_entry(&schema),
            parts: w.finish().unwrap(),
            ..TableEntry::failed("t".into(), "t".into(), None)
        }
    }

    fn read_all(store: &Store, entry: &TableEntry) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        let parts = TableParts::open(store, entry, entry.schema()?, 3)?;
        let rows = parts.read(&mut |b| {
            out.push(b);
            Ok(())
        })?;
        assert_eq!(rows, out.iter().map(|b| b.num_rows() as u64).sum::<u64>());
        Ok(out)
    }

    #[test]
    fn parts_hold_exactly_the_schema_the_manifest_rebuilds() {
        let store = Store::in_memory();
        let entry = dumped(&store, 10);
        assert_eq!(entry.parts.len(), 3);
        let batches = read_all(&store, &entry).unwrap();
        assert!(batches.iter().all(|b| b.schema() == schema()));
        let whole = arrow::compute::concat_batches(&schema(), &batches).unwrap();
        assert_eq!(whole, batch(&schema(), 0..10));
        assert_eq!(verify_parts(&store, &entry).unwrap(), 10);
    }

    #[test]
    fn a_table_without_parts_reads_as_no_rows_of_the_manifests_schema() {
        let store = Store::in_memory();
        let mut entry = dumped(&store, 0);
        assert_eq!(entry.parts.len(), 1, "the dump writes one empty part");
        entry.parts.clear();
        assert_eq!(*entry.schema().unwrap(), *schema());
        assert!(read_all(&store, &entry).unwrap().is_empty());
        assert_eq!(verify_parts(&store, &entry).unwrap(), 0);
    }

    #[test]
    fn a_part_whose_schema_differs_from_the_manifest_is_an_error_naming_table_and_part() {
        let store = Store::in_memory();
        let mut entry = dumped(&store, 6);
        // Part 1 rewritten with `name` as a number, its hash updated to match.
        let other = Arc::new(Schema::new(vec![
            schema().field(0).clone(),
            field("name", DataType::Int64, "text"),
            schema().field(2).clone(),
        ]));
        let b = batch(&schema(), 4..6);
        let mut columns = b.columns().to_vec();
        columns[1] = Arc::new(Int64Array::from(vec![4, 5]));
        let mut w = PartWriter::new(
            &store,
            "x/run_id=r".into(),
            "x".into(),
            "t".into(),
            other.clone(),
            Compression::Zstd,
            4,
        );
        w.write(&RecordBatch::try_new(other, columns).unwrap())
            .unwrap();
        let forged = w.finish().unwrap().remove(0);
        let path = entry.parts[1].path.clone();
        store.put(&path, store.get(&forged.path).unwrap()).unwrap();
        entry.parts[1].sha256 = forged.sha256;

        let want = format!(
            "table t: part {path} does not match the manifest: column name is Int64 in the part, Utf8 in the manifest"
        );
        let e = read_all(&store, &entry).unwrap_err().to_string();
        assert_eq!(e, want);
        assert_eq!(verify_parts(&store, &entry).unwrap_err().to_string(), want);

        // A changed byte fails on its hash first.
        entry.parts[1].sha256 = "0".repeat(64);
        let e = read_all(&store, &entry).unwrap_err().to_string();
        assert!(
            e.contains(&format!("part {path} has changed since the run")),
            "{e}"
        );
    }

    #[test]
    fn schema_differences_are_named() {
        let s = schema();
        let fewer = Schema::new(vec![s.field(0).clone()]);
        assert_eq!(
            schema_difference(&fewer, &s).unwrap(),
            "it has 1 columns, the manifest lists 3"
        );
        let renamed = Schema::new(vec![
            s.field(0).clone().with_name("id"),
            s.field(1).clone(),
            s.field(2).clone(),
        ]);
        assert_eq!(
            schema_difference(&renamed, &s).unwrap(),
            "column 1 is \"id\" in the part, \"Id\" in the manifest"
        );
        let not_null = Schema::new(vec![
            s.field(0).clone().with_nullable(false),
            s.field(1).clone(),
            s.field(2).clone(),
        ]);
        assert_eq!(
            schema_difference(&not_null, &s).unwrap(),
            "column Id is not nullable in the part, nullable in the manifest"
        );
        assert_eq!(schema_difference(&s, &s), None);
    }
}

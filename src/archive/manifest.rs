//! The per-run manifest: what was written, so that a load takes exactly these parts.
//! Written last and atomically; it never holds credentials.
//!
//! A table's `columns` are its Arrow schema (name, Arrow type, nullability, source type):
//! a load creates the staging table from them alone, and checks every part against them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::config::Config;
use crate::error::{Error, Result};
// The field-metadata key of the source type (moves to `types/` with the type tables).
use crate::types::SOURCE_TYPE_KEY;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub tool: String,
    pub tool_version: String,
    pub run_id: String,
    pub mode: String,
    pub started_at: String,
    pub finished_at: String,
    pub source: SourceEntry,
    /// Set when a signal stopped the run: the signal's name. Tables not finished are
    /// listed as failed, with no parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub tables: Vec<TableEntry>,
}

/// Where the data came from; never credentials.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceEntry {
    pub driver: String,
    pub host: Option<String>,
    pub database: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TableStatus {
    /// Every row was read and written to the parts listed.
    Complete,
    /// The read failed; no parts are listed and none are kept.
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    /// As listed in `SRC_TABLES` (with schema when given).
    pub source_table: String,
    /// Lowercase staging table name.
    pub staging_table: String,
    pub status: TableStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rows: u64,
    pub columns: Vec<ColumnEntry>,
    /// The source table's primary key (column names as in `columns`), when it has one that
    /// the run kept whole (or `PRIMARY_KEY` when set): `stage diff`'s default key. Absent in
    /// manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    pub parts: Vec<PartEntry>,
    /// A merge or incremental table's key and window (#16), committed by its load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncEntry>,
}

/// What the load of a merge or incremental table needs from its dump (#16): the merge key
/// and cursor, and the window `(window_from, window_to]` the parts hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncEntry {
    /// The merge key (staging names); empty: the table does not merge.
    #[serde(default)]
    pub merge_key: Vec<String>,
    /// `INCREMENTAL_COLUMN` (staging names); empty: not incremental.
    #[serde(default)]
    pub cursor_columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_to: Option<String>,
    /// Whether the window held anything (`window_to` > `window_from`).
    #[serde(default)]
    pub moved: bool,
    /// The dump read the whole table (`--full-refresh`, `FULL_REFRESH_EVERY`).
    #[serde(default)]
    pub full_refresh: bool,
}

/// One column: together, a table's columns rebuild its Arrow schema exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnEntry {
    pub name: String,
    /// The type as the source declared it (the field's `stage.source_type` metadata).
    pub source_type: String,
    /// The Arrow type as Arrow prints it.
    pub arrow_type: String,
    pub nullable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartEntry {
    /// Relative to the archive root (`OUTPUT_DIR`).
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    /// The manifest of a run of `cfg` that started at `started_at` and ends now.
    pub fn for_run(
        cfg: &Config,
        run_id: &str,
        started_at: chrono::DateTime<chrono::Utc>,
        interrupted: Option<String>,
        tables: Vec<TableEntry>,
    ) -> Manifest {
        Manifest {
            tool: "stage".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            run_id: run_id.to_string(),
            mode: cfg.settings.mode.name().into(),
            started_at: started_at.to_rfc3339(),
            finished_at: chrono::Utc::now().to_rfc3339(),
            source: SourceEntry {
                driver: cfg.source.driver.name().into(),
                host: cfg.source.host.clone(),
                database: cfg.source.database.clone(),
            },
            interrupted,
            tables,
        }
    }

    /// Commits the run: writes the manifest at `_manifests/<run_id>.json` with a
    /// create-only put. A manifest of the same run id already there is an error: a second
    /// writer never overwrites a committed run.
    pub fn write(&self, store: &Store) -> Result<String> {
        let path = super::manifest_path(&self.run_id);
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::archive("serializing the manifest", e))?;
        if !store.put_new(&path, json.into())? {
            return Err(Error::Check(format!(
                "run {}: {path} already exists in {}: another process committed a run with this run id; this run's manifest was not written",
                self.run_id, store.root
            )));
        }
        Ok(path)
    }

    /// Reads the manifest of `run_id` from the archive; `None` when there is none.
    pub fn read(store: &Store, run_id: &str) -> Result<Option<Manifest>> {
        let path = super::manifest_path(run_id);
        let Some(data) = store.get_opt(&path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&data).map(Some).map_err(|e| {
            Error::Check(format!(
                "{path} in {}: not a stage manifest: {e}",
                store.root
            ))
        })
    }

    /// Reads a manifest file from a local path.
    pub fn read_file(path: &std::path::Path) -> Result<Manifest> {
        let text = std::fs::read(path).map_err(|e| {
            Error::config(format!(
                "--manifest {}: cannot read it: {e}",
                path.display()
            ))
        })?;
        serde_json::from_slice(&text).map_err(|e| {
            Error::config(format!(
                "--manifest {}: not a stage manifest: {e}",
                path.display()
            ))
        })
    }

    /// The manifest `--manifest` names, with its archive: a local file
    /// `<root>/_manifests/<run_id>.json`, or the same as a URL of an object store
    /// (`s3://bucket/prefix/_manifests/<run_id>.json`, cargo feature `cloud`).
    pub fn locate(
        arg: &std::path::Path,
        archive: &crate::config::Archive,
    ) -> Result<(Manifest, Store)> {
        let text = arg.to_string_lossy();
        if text.contains("://") && !text.starts_with("file://") {
            let marker = format!("/{}/", super::MANIFEST_DIR);
            let Some((root, file)) = text.rsplit_once(&marker) else {
                return Err(Error::config(format!(
                    "--manifest {text}: expected <OUTPUT_DIR>/{}/<run_id>.json",
                    super::MANIFEST_DIR
                )));
            };
            let run_id = file.strip_suffix(".json").unwrap_or(file);
            let store = Store::open(root, archive)?;
            return match Manifest::read(&store, run_id)? {
                Some(m) => Ok((m, store)),
                None => Err(Error::config(format!(
                    "--manifest {text}: no such manifest in {root}"
                ))),
            };
        }
        let path = std::path::Path::new(text.strip_prefix("file://").unwrap_or(&text));
        let manifest = Manifest::read_file(path)?;
        let root = Manifest::archive_root(path)?;
        let store = Store::open(&root.to_string_lossy(), archive)?;
        Ok((manifest, store))
    }

    /// The archive root of a manifest file: `<root>/_manifests/<run_id>.json`.
    pub fn archive_root(path: &std::path::Path) -> Result<std::path::PathBuf> {
        let dir = path.parent().filter(|d| d.ends_with(super::MANIFEST_DIR));
        match dir.and_then(|d| d.parent()) {
            Some(root) => Ok(if root.as_os_str().is_empty() {
                std::path::PathBuf::from(".")
            } else {
                root.to_path_buf()
            }),
            None => Err(Error::config(format!(
                "--manifest {}: expected a manifest inside the archive's {}/ folder",
                path.display(),
                super::MANIFEST_DIR
            ))),
        }
    }
}

impl TableEntry {
    /// A table without rows, columns or parts, listed as failed (with `error` when known)
    /// until its dump completes.
    pub fn failed(source_table: String, staging_table: String, error: Option<String>) -> Self {
        TableEntry {
            source_table,
            staging_table,
            status: TableStatus::Failed,
            error,
            rows: 0,
            columns: Vec::new(),
            primary_key: Vec::new(),
            parts: Vec::new(),
            sync: None,
        }
    }

    /// The table's Arrow schema, rebuilt from its columns: what every part holds and what
    /// the staging table is created from.
    pub fn schema(&self) -> Result<SchemaRef> {
        if self.columns.is_empty() {
            return Err(Error::Check(format!(
                "table {}: the manifest lists no columns, so there is no schema to create the staging table from",
                self.source_table
            )));
        }
        let fields = self
            .columns
            .iter()
            .map(|c| {
                c.field().ok_or_else(|| {
                    Error::column(
                        &self.source_table,
                        &c.name,
                        format!(
                            "the manifest's arrow_type \"{}\" is not an Arrow type stage can read back",
                            c.arrow_type
                        ),
                    )
                })
            })
            .collect::<Result<Vec<Field>>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }
}

/// The manifest's columns for a table of `schema`.
pub fn columns_entry(schema: &Schema) -> Vec<ColumnEntry> {
    schema.fields().iter().map(|f| ColumnEntry::of(f)).collect()
}

impl ColumnEntry {
    /// The entry of an Arrow field whose metadata holds the source type.
    pub fn of(field: &Field) -> Self {
        ColumnEntry {
            name: field.name().clone(),
            source_type: field
                .metadata()
                .get(SOURCE_TYPE_KEY)
                .cloned()
                .unwrap_or_default(),
            arrow_type: field.data_type().to_string(),
            nullable: field.is_nullable(),
        }
    }

    /// The Arrow field this entry was written from; `None` when its Arrow type cannot be
    /// read back.
    pub fn field(&self) -> Option<Field> {
        let data_type = parse_arrow_type(&self.arrow_type)?;
        Some(
            Field::new(&self.name, data_type, self.nullable).with_metadata(HashMap::from([(
                SOURCE_TYPE_KEY.to_string(),
                self.source_type.clone(),
            )])),
        )
    }
}

/// An Arrow type from the text Arrow prints for it. Arrow reads its own syntax back except
/// for lists, which it prints as their item field's debug form (`List(Field { name:
/// "item", data_type: Int32, nullable: true, dict_id: 0, dict_is_ordered: false, metadata:
/// {} })`); stage's list items are always such a standard `item` field.
fn parse_arrow_type(text: &str) -> Option<DataType> {
    text.parse::<DataType>().ok().or_else(|| parse_list(text))
}

fn parse_list(text: &str) -> Option<DataType> {
    let (list, rest): (fn(FieldRef) -> DataType, &str) =
        if let Some(rest) = text.strip_prefix("List(") {
            (DataType::List, rest)
        } else {
            (DataType::LargeList, text.strip_prefix("LargeList(")?)
        };
    let rest = rest.strip_prefix("Field { name: \"item\", data_type: ")?;
    let tail = |nullable: bool| {
        format!(", nullable: {nullable}, dict_id: 0, dict_is_ordered: false, metadata: {{}} }})")
    };
    let (item, nullable) = match rest.strip_suffix(&tail(true)) {
        Some(item) => (item, true),
        None => (rest.strip_suffix(&tail(false))?, false),
    };
    let item = Field::new_list_field(parse_arrow_type(item)?, nullable);
    Some(list(Arc::new(item)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{IntervalUnit, TimeUnit};

    fn field(name: &str, dt: DataType, nullable: bool, source_type: &str) -> Field {
        Field::new(name, dt, nullable).with_metadata(HashMap::from([(
            SOURCE_TYPE_KEY.to_string(),
            source_type.to_string(),
        )]))
    }

    #[test]
    fn columns_rebuild_every_arrow_field_stage_writes_exactly() {
        let list = |dt: DataType| DataType::List(Arc::new(Field::new("item", dt, true)));
        let us = TimeUnit::Microsecond;
        let types = [
            DataType::Boolean,
            DataType::Int8,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::UInt8,
            DataType::UInt16,
            DataType::UInt32,
            DataType::UInt64,
            DataType::Float32,
            DataType::Float64,
            DataType::Decimal128(38, 0),
            DataType::Decimal128(12, 2),
            DataType::Decimal256(76, 30),
            DataType::Utf8,
            DataType::LargeUtf8,
            DataType::Binary,
            DataType::LargeBinary,
            DataType::FixedSizeBinary(16),
            DataType::Date32,
            DataType::Time64(us),
            DataType::Timestamp(us, None),
            DataType::Timestamp(us, Some("UTC".into())),
            DataType::Timestamp(us, Some("+00:00".into())),
            DataType::Duration(us),
            DataType::Interval(IntervalUnit::MonthDayNano),
            list(DataType::Int32),
            list(DataType::Utf8),
            list(DataType::Decimal128(10, 2)),
            list(DataType::Timestamp(us, Some("+00:00".into()))),
            list(list(DataType::Int64)),
            DataType::LargeList(Arc::new(Field::new("item", DataType::Utf8, false))),
        ];
        let fields: Vec<Field> = types
            .iter()
            .enumerate()
            .map(|(i, dt)| field(&format!("Col {i}"), dt.clone(), i % 2 == 0, "t(1)"))
            .collect();
        let schema = Schema::new(fields);
        let columns = columns_entry(&schema);
        // Through the manifest's JSON and back.
        let json = serde_json::to_string(&columns).unwrap();
        let entry = TableEntry {
            columns: serde_json::from_str(&json).unwrap(),
            ..TableEntry::failed("t".into(), "t".into(), None)
        };
        assert_eq!(*entry.schema().unwrap(), schema);
    }

    #[test]
    fn a_manifest_written_before_the_schema_was_read_back_still_gives_its_schema() {
        // A column exactly as an older build wrote it.
        let entry: ColumnEntry = serde_json::from_str(
            r#"{"name": "ats", "source_type": "timestamp with time zone[]", "arrow_type": "List(Field { name: \"item\", data_type: Timestamp(Microsecond, Some(\"+00:00\")), nullable: true, dict_id: 0, dict_is_ordered: false, metadata: {} })", "nullable": true}"#,
        )
        .unwrap();
        let item = Field::new(
            "item",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
            true,
        );
        assert_eq!(
            entry.field().unwrap(),
            field(
                "ats",
                DataType::List(Arc::new(item)),
                true,
                "timestamp with time zone[]"
            )
        );
    }

    #[test]
    fn a_column_whose_type_cannot_be_read_back_is_named() {
        let mut entry = TableEntry::failed("t".into(), "t".into(), None);
        assert!(entry
            .schema()
            .unwrap_err()
            .to_string()
            .contains("the manifest lists no columns"));
        entry.columns.push(ColumnEntry {
            name: "c".into(),
            source_type: "x".into(),
            arrow_type: "NoSuchType(3)".into(),
            nullable: true,
        });
        let e = entry.schema().unwrap_err().to_string();
        assert!(e.starts_with("table t, column c: "), "{e}");
        assert!(e.contains("NoSuchType(3)"), "{e}");
    }
}

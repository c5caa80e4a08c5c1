//! `stage query` and `stage diff` (cargo feature `query`): SQL over the archive's history
//! with DataFusion.
//!
//! Every table of the committed runs is registered under its staging name as an
//! [`table::ArchiveTable`]: the parts the manifests list — never a listing of the store, so
//! a killed or pruned run, or a stray file, is invisible — with the run id as a `run_id`
//! column (`Utf8`). A table whose columns changed across runs is read with the merged
//! schema: columns missing from a run are NULL there; a column whose type changed is read
//! as its newest type (an older value that does not convert is an error, never a changed
//! value).

pub mod diff;
mod output;
mod table;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::TableReference;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use output::{write_stream, Written};
use table::{ArchiveTable, RunFiles};

use crate::archive::{history, Manifest, Store, TableStatus};
use crate::error::{Error, Result};

/// The name of the run column, unless the table has a column of that name already.
pub const RUN_COLUMN: &str = "run_id";
/// The run column of a table that has its own `run_id`.
pub const RUN_COLUMN_ALT: &str = "stage_run_id";

/// DataFusion's memory for one query (sorts and aggregations spill beyond it).
const MEMORY_LIMIT: usize = 1 << 30;

/// One archived table over its committed runs.
#[derive(Debug, Clone)]
pub struct TableHistory {
    /// The staging name (the registered table name).
    pub name: String,
    /// Source names the runs listed, for finding the table by either name.
    pub source_names: Vec<String>,
    /// The columns merged over the runs (newest run's order and types first).
    pub schema: SchemaRef,
    /// The name of the run column.
    pub run_column: String,
    /// Newest first: each run's id, primary key and files.
    pub runs: Vec<RunFiles>,
}

impl TableHistory {
    /// The run `id` of this table, if committed with it complete.
    pub fn run(&self, id: &str) -> Option<&RunFiles> {
        self.runs.iter().find(|r| r.run_id == id)
    }

    fn matches(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self
                .source_names
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
    }
}

/// The archive's tables over its committed runs, read from the manifests.
pub struct Archive {
    pub tables: Vec<TableHistory>,
    store: Store,
}

impl Archive {
    pub fn open(store: &Store) -> Result<Archive> {
        let manifests = history::manifests(store)?;
        Ok(Archive {
            tables: tables_of(&manifests, store)?,
            store: store.clone(),
        })
    }

    /// The table named `name` (staging or source name, any case).
    pub fn table(&self, name: &str) -> Result<&TableHistory> {
        self.tables.iter().find(|t| t.matches(name)).ok_or_else(|| {
            let known: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
            Error::config(format!(
                "--table {name}: no committed run of the archive {} holds this table (tables: {})",
                self.store.root,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// A DataFusion session with every table registered under its staging name.
    pub fn session(&self) -> Result<SessionContext> {
        self.session_with(|_| {})
    }

    /// [`Archive::session`] with `tune` applied to its configuration first.
    pub fn session_with(&self, tune: impl FnOnce(&mut SessionConfig)) -> Result<SessionContext> {
        let df =
            |e: datafusion::error::DataFusionError| Error::archive("preparing the query engine", e);
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(MEMORY_LIMIT, 1.0)
            .build_arc()
            .map_err(df)?;
        let mut config = SessionConfig::new().with_information_schema(true);
        // Strings as the manifests type them (Utf8), not DataFusion's Utf8View.
        config
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = false;
        tune(&mut config);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let url = store_url();
        ctx.register_object_store(&url, self.store.object_store());
        for t in &self.tables {
            let provider = ArchiveTable::new(t, ObjectStoreUrl::parse(url.as_str()).map_err(df)?);
            ctx.register_table(TableReference::bare(t.name.clone()), Arc::new(provider))
                .map_err(df)?;
        }
        Ok(ctx)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The URL the archive's object store is registered under in DataFusion.
fn store_url() -> url::Url {
    url::Url::parse("stage://archive/").expect("a valid URL")
}

/// Groups the committed runs' complete tables by staging name.
fn tables_of(manifests: &[Manifest], store: &Store) -> Result<Vec<TableHistory>> {
    let mut by_name: BTreeMap<String, Vec<(String, &crate::archive::TableEntry)>> = BTreeMap::new();
    // Newest first, as `history::manifests` returns them.
    for m in manifests {
        for t in &m.tables {
            if t.status == TableStatus::Complete {
                by_name
                    .entry(t.staging_table.clone())
                    .or_default()
                    .push((m.run_id.clone(), t));
            }
        }
    }
    let mut out = Vec::new();
    for (name, runs) in by_name {
        let schemas = runs
            .iter()
            .map(|(_, t)| t.schema())
            .collect::<Result<Vec<_>>>()?;
        let schema = merged(&name, &schemas)?;
        let run_column = if schema.field_with_name(RUN_COLUMN).is_ok() {
            tracing::warn!(table = %name, "the table has a column run_id: its run column in stage query is {RUN_COLUMN_ALT}");
            RUN_COLUMN_ALT.to_string()
        } else {
            RUN_COLUMN.to_string()
        };
        let mut source_names: Vec<String> =
            runs.iter().map(|(_, t)| t.source_table.clone()).collect();
        source_names.sort();
        source_names.dedup();
        out.push(TableHistory {
            name,
            source_names,
            schema,
            run_column,
            runs: runs
                .iter()
                .map(|(id, t)| RunFiles {
                    run_id: id.clone(),
                    primary_key: t.primary_key.clone(),
                    columns: t.columns.iter().map(|c| c.name.clone()).collect(),
                    files: t
                        .parts
                        .iter()
                        .map(|p| (store.location_of(&p.path), p.bytes))
                        .collect(),
                })
                .collect(),
        });
    }
    Ok(out)
}

/// The schema of a table over runs (newest first): the newest run's columns in its order,
/// then columns only older runs had; a column is nullable when any run lacks it or allows
/// NULL. Field metadata (the source type) is dropped: it differs across sources and runs.
fn merged(table: &str, schemas: &[SchemaRef]) -> Result<SchemaRef> {
    let mut fields: Vec<Field> = Vec::new();
    for s in schemas {
        for f in s.fields() {
            match fields.iter_mut().find(|g| g.name() == f.name()) {
                Some(g) => {
                    if f.is_nullable() {
                        g.set_nullable(true);
                    }
                }
                None => fields.push(Field::new(f.name(), f.data_type().clone(), f.is_nullable())),
            }
        }
    }
    for g in fields.iter_mut() {
        if schemas.iter().any(|s| s.field_with_name(g.name()).is_err()) {
            g.set_nullable(true);
        }
        if matches!(g.data_type(), DataType::Null) {
            return Err(Error::column(
                table,
                g.name(),
                "the archive types this column as Null, which stage query cannot read",
            ));
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// A DataFusion error as stage's: the SQL's own faults are usage errors (exit 2), with
/// DataFusion's words.
pub fn sql_error(context: &str, e: datafusion::error::DataFusionError) -> Error {
    use datafusion::error::DataFusionError as D;
    match e.find_root() {
        D::SQL(..) | D::Plan(..) | D::SchemaError(..) | D::NotImplemented(..) => {
            Error::config(format!("{context}: {}", e.find_root()))
        }
        _ => Error::archive(context.to_string(), e),
    }
}

/// A SQL identifier, double-quoted (a `"` doubled).
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_schema_keeps_the_newest_types_and_every_column() {
        let new = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("note", DataType::Utf8, false),
        ]));
        let old = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("gone", DataType::Utf8, false),
        ]));
        let m = merged("t", &[new, old]).unwrap();
        let names: Vec<_> = m.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "note", "gone"]);
        assert_eq!(m.field(0).data_type(), &DataType::Int64);
        assert!(!m.field(0).is_nullable());
        assert!(m.field(1).is_nullable() && m.field(2).is_nullable());
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quoted("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}

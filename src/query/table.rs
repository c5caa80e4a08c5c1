//! One archived table as a DataFusion table: exactly the parts its committed runs' manifests
//! list, each with its run id as the value of the run column.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{project_schema, DFSchema, ScalarValue};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;

use super::TableHistory;

/// One committed run of a table.
#[derive(Debug, Clone)]
pub struct RunFiles {
    pub run_id: String,
    /// The primary key the manifest recorded (empty: none).
    pub primary_key: Vec<String>,
    /// The columns this run archived.
    pub columns: Vec<String>,
    /// The parts: store location and size in bytes.
    pub files: Vec<(String, u64)>,
}

#[derive(Debug)]
pub(super) struct ArchiveTable {
    /// The files' columns, merged over the runs.
    file_schema: SchemaRef,
    /// `file_schema` plus the run column.
    schema: SchemaRef,
    run_column: String,
    runs: Vec<RunFiles>,
    url: ObjectStoreUrl,
}

impl ArchiveTable {
    pub(super) fn new(t: &TableHistory, url: ObjectStoreUrl) -> ArchiveTable {
        let mut fields: Vec<Arc<Field>> = t.schema.fields().iter().cloned().collect();
        fields.push(Arc::new(run_field(&t.run_column)));
        ArchiveTable {
            file_schema: t.schema.clone(),
            schema: Arc::new(Schema::new(fields)),
            run_column: t.run_column.clone(),
            runs: t.runs.clone(),
            url,
        }
    }

    /// The runs that `filters` on the run column alone can keep: each such filter is
    /// evaluated on the run ids. A filter that cannot be evaluated here keeps every run
    /// (DataFusion applies every filter again above the scan).
    fn runs_kept(&self, state: &dyn Session, filters: &[Expr]) -> Vec<&RunFiles> {
        let mut keep: Vec<bool> = vec![true; self.runs.len()];
        let ids = StringArray::from_iter_values(self.runs.iter().map(|r| r.run_id.as_str()));
        let one = Arc::new(Schema::new(vec![run_field(&self.run_column)]));
        let Ok(batch) = RecordBatch::try_new(one.clone(), vec![Arc::new(ids)]) else {
            return self.runs.iter().collect();
        };
        for f in filters {
            let refs = f.column_refs();
            if refs.is_empty() || refs.iter().any(|c| c.name != self.run_column) {
                continue;
            }
            let mask = unqualify(f.clone())
                .and_then(|e| Ok((e, DFSchema::try_from(one.as_ref().clone())?)))
                .and_then(|(e, s)| state.create_physical_expr(e, &s))
                .and_then(|e| e.evaluate(&batch))
                .and_then(|v| v.into_array(batch.num_rows()));
            match mask {
                Ok(a) => {
                    if let Some(b) = a.as_any().downcast_ref::<BooleanArray>() {
                        for (i, k) in keep.iter_mut().enumerate() {
                            *k &= b.is_valid(i) && b.value(i);
                        }
                    }
                }
                Err(e) => tracing::debug!("run filter not applied to the file list: {e}"),
            }
        }
        self.runs
            .iter()
            .zip(keep)
            .filter_map(|(r, k)| k.then_some(r))
            .collect()
    }
}

fn run_field(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

/// `expr` with its columns' table qualifiers removed.
fn unqualify(expr: Expr) -> Result<Expr> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    expr.transform(|e| {
        Ok(match e {
            Expr::Column(c) if c.relation.is_some() => Transformed::yes(Expr::Column(
                datafusion::common::Column::new_unqualified(c.name),
            )),
            other => Transformed::no(other),
        })
    })
    .map(|t| t.data)
}

#[async_trait]
impl TableProvider for ArchiveTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Used to choose files only; DataFusion still filters the rows.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let runs = self.runs_kept(state, filters);
        let files: Vec<PartitionedFile> = runs
            .iter()
            .flat_map(|r| {
                r.files.iter().map(|(location, bytes)| {
                    let mut f = PartitionedFile::new(location.clone(), *bytes);
                    f.partition_values = vec![ScalarValue::Utf8(Some(r.run_id.clone()))];
                    f
                })
            })
            .collect();
        if files.is_empty() {
            return Ok(Arc::new(EmptyExec::new(project_schema(
                &self.schema,
                projection,
            )?)));
        }
        let n = state.config().target_partitions().max(1);
        let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); n.min(files.len())];
        let count = groups.len();
        for (i, f) in files.into_iter().enumerate() {
            groups[i % count].push(f);
        }
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let config = FileScanConfigBuilder::new(
            self.url.clone(),
            self.file_schema.clone(),
            format.file_source(),
        )
        .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
        .with_projection(projection.cloned())
        .with_limit(if filters.is_empty() { limit } else { None })
        .with_table_partition_cols(vec![run_field(&self.run_column)])
        .build();
        format.create_physical_plan(state, config).await
    }
}

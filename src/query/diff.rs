//! `stage diff`: what changed in a table between two committed runs.
//!
//! With a key (`--key`, else the primary key the manifest recorded): a full outer join of
//! the two runs on the key (`IS NOT DISTINCT FROM`, so NULL keys pair up too); a row is
//! `added` (only in the newer run), `removed` (only in the older) or `changed` (some other
//! column `IS DISTINCT FROM` its old value). A key that is not unique in either run is an
//! error (a join on it would pair rows at random). Without any key: whole rows counted in
//! each run (multiset difference), with a `copies` column saying how many more times the row
//! is in one run than in the other.

use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::UInt64Type;
use serde::Serialize;

use super::{literal, quoted, sql_error, Archive, TableHistory};
use crate::cli::QueryFormat;
use crate::error::{Error, Result};

/// What `stage diff` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffReport {
    pub table: String,
    pub from: String,
    pub to: String,
    /// The key the rows were paired by; empty: whole rows (multiset).
    pub key: Vec<String>,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
}

/// The two runs and the key of a diff.
pub struct DiffRequest<'a> {
    pub table: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    /// `--key`, when given.
    pub key: Option<Vec<String>>,
    /// `--output`: the differing rows as Parquet.
    pub output: Option<&'a Path>,
}

/// Column names the diff adds to the rows it writes (a table column of the same name keeps
/// its name; ours gets the `stage_` prefix).
const CHANGE: &str = "change";
const COPIES: &str = "copies";

pub fn diff(archive: &Archive, req: &DiffRequest<'_>) -> Result<DiffReport> {
    let t = archive.table(req.table)?;
    for (flag, id) in [("--from", req.from), ("--to", req.to)] {
        if t.run(id).is_none() {
            let runs: Vec<&str> = t.runs.iter().take(5).map(|r| r.run_id.as_str()).collect();
            return Err(Error::config(format!(
                "{flag} {id}: not a committed run of table {} (its newest runs: {})",
                t.name,
                runs.join(", ")
            )));
        }
    }
    let key = key_of(t, req)?;
    // A sort-merge join spills to disk; a hash join holds one run in memory.
    let ctx = archive.session_with(|c| c.options_mut().optimizer.prefer_hash_join = false)?;
    let columns: Vec<String> = t.schema.fields().iter().map(|f| f.name().clone()).collect();
    let own = |name: &str| {
        if columns.iter().any(|c| c == name) {
            format!("stage_{name}")
        } else {
            name.to_string()
        }
    };
    let (change_col, copies_col) = (own(CHANGE), own(COPIES));
    let sql = if key.is_empty() {
        by_rows(t, req, &columns, &change_col, &copies_col)
    } else {
        unique_or_fail(archive, &ctx, t, &key, req)?;
        by_key(t, req, &columns, &key, &change_col)
    };
    tracing::debug!(%sql, "diff");
    let mut report = DiffReport {
        table: t.name.clone(),
        from: req.from.to_string(),
        to: req.to.to_string(),
        key: key.clone(),
        ..DiffReport::default()
    };
    let multiset = key.is_empty();
    let mut count = |batch: &RecordBatch| -> Result<()> {
        let change = batch.column(0).as_string::<i32>();
        let copies = multiset.then(|| {
            batch
                .column(batch.num_columns() - 1)
                .as_primitive::<UInt64Type>()
        });
        for i in 0..batch.num_rows() {
            let n = copies.map_or(1, |c| c.value(i));
            match change.value(i) {
                "added" => report.added += n,
                "removed" => report.removed += n,
                _ => report.changed += n,
            }
        }
        Ok(())
    };
    archive.store().run(async {
        let df = ctx
            .sql(&sql)
            .await
            .map_err(|e| sql_error("preparing the diff", e))?;
        let stream = df
            .execute_stream()
            .await
            .map_err(|e| sql_error("running the diff", e))?;
        match req.output {
            Some(p) => {
                super::write_stream(stream, QueryFormat::Parquet, Some(p), &mut count).await?;
            }
            None => {
                use futures::StreamExt;
                let mut stream = stream;
                while let Some(b) = stream.next().await {
                    count(&b.map_err(|e| sql_error("running the diff", e))?)?;
                }
            }
        }
        Ok::<_, Error>(())
    })?;
    Ok(report)
}

/// `--key`, else the newer run's recorded primary key, else the older run's; every column
/// must be one of the table's.
fn key_of(t: &TableHistory, req: &DiffRequest<'_>) -> Result<Vec<String>> {
    let key = match &req.key {
        Some(k) => k.clone(),
        None => [req.to, req.from]
            .iter()
            .filter_map(|id| t.run(id))
            .map(|r| r.primary_key.clone())
            .find(|k| !k.is_empty())
            .unwrap_or_default(),
    };
    for k in &key {
        if t.schema.field_with_name(k).is_err() {
            return Err(Error::config(format!(
                "--key {k}: table {} has no column {k} (columns: {})",
                t.name,
                t.schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(key)
}

fn run_rows(t: &TableHistory, run: &str, select: &str) -> String {
    format!(
        "SELECT {select} FROM {} WHERE {} = {}",
        quoted(&t.name),
        quoted(&t.run_column),
        literal(run)
    )
}

/// Fails when a value of `key` is on more than one row of either run.
fn unique_or_fail(
    archive: &Archive,
    ctx: &datafusion::prelude::SessionContext,
    t: &TableHistory,
    key: &[String],
    req: &DiffRequest<'_>,
) -> Result<()> {
    let cols: Vec<String> = key.iter().map(|k| quoted(k)).collect();
    for run in [req.from, req.to] {
        let sql = format!(
            "{} GROUP BY {} HAVING count(*) > 1 LIMIT 1",
            run_rows(t, run, &format!("{}, count(*) AS n", cols.join(", "))),
            cols.join(", ")
        );
        let batches = archive.store().run(async {
            ctx.sql(&sql)
                .await
                .map_err(|e| sql_error("checking the key", e))?
                .collect()
                .await
                .map_err(|e| sql_error("checking the key", e))
        })?;
        if let Some(b) = batches.iter().find(|b| b.num_rows() > 0) {
            let values: Vec<String> = (0..key.len())
                .map(|i| {
                    let v = arrow::util::display::array_value_to_string(b.column(i), 0)
                        .unwrap_or_default();
                    format!("{} = {v}", key[i])
                })
                .collect();
            let n = arrow::util::display::array_value_to_string(b.column(key.len()), 0)
                .unwrap_or_default();
            return Err(Error::config(format!(
                "--key {}: not unique in run {run} of table {} ({} is on {n} rows); give --key columns that identify one row",
                key.join(","),
                t.name,
                values.join(", ")
            )));
        }
    }
    Ok(())
}

/// Rows paired by `key`.
fn by_key(
    t: &TableHistory,
    req: &DiffRequest<'_>,
    columns: &[String],
    key: &[String],
    change: &str,
) -> String {
    let marker = "\"__stage_in\"";
    let side = |run: &str| run_rows(t, run, &format!("*, true AS {marker}"));
    let values: Vec<String> = columns
        .iter()
        .map(|c| {
            let c = quoted(c);
            format!("CASE WHEN b.{marker} IS NULL THEN a.{c} ELSE b.{c} END AS {c}")
        })
        .collect();
    let on: Vec<String> = key
        .iter()
        .map(|k| format!("(a.{0} IS NOT DISTINCT FROM b.{0})", quoted(k)))
        .collect();
    let mut differs = vec![
        format!("(a.{marker} IS NULL)"),
        format!("(b.{marker} IS NULL)"),
    ];
    differs.extend(
        columns
            .iter()
            .filter(|c| !key.contains(c))
            .map(|c| format!("(a.{0} IS DISTINCT FROM b.{0})", quoted(c))),
    );
    format!(
        "WITH a AS ({}), b AS ({}) \
         SELECT CASE WHEN a.{marker} IS NULL THEN 'added' WHEN b.{marker} IS NULL THEN 'removed' ELSE 'changed' END AS {}, {} \
         FROM a FULL OUTER JOIN b ON {} WHERE {}",
        side(req.from),
        side(req.to),
        quoted(change),
        values.join(", "),
        on.join(" AND "),
        differs.join(" OR ")
    )
}

/// Whole rows, counted in each run.
fn by_rows(
    t: &TableHistory,
    req: &DiffRequest<'_>,
    columns: &[String],
    change: &str,
    copies: &str,
) -> String {
    let n = "\"__stage_n\"";
    let list: Vec<String> = columns.iter().map(|c| quoted(c)).collect();
    let side = |run: &str| {
        format!(
            "{} GROUP BY {}",
            run_rows(t, run, &format!("{}, count(*) AS {n}", list.join(", "))),
            list.join(", ")
        )
    };
    let values: Vec<String> = list
        .iter()
        .map(|c| format!("CASE WHEN a.{n} IS NULL THEN b.{c} ELSE a.{c} END AS {c}"))
        .collect();
    let on: Vec<String> = list
        .iter()
        .map(|c| format!("(a.{c} IS NOT DISTINCT FROM b.{c})"))
        .collect();
    let (old, new) = (format!("coalesce(a.{n}, 0)"), format!("coalesce(b.{n}, 0)"));
    format!(
        "WITH a AS ({}), b AS ({}) \
         SELECT CASE WHEN {new} > {old} THEN 'added' ELSE 'removed' END AS {}, {}, \
         arrow_cast(abs({new} - {old}), 'UInt64') AS {} \
         FROM a FULL OUTER JOIN b ON {} WHERE {new} <> {old}",
        side(req.from),
        side(req.to),
        quoted(change),
        values.join(", "),
        quoted(copies),
        on.join(" AND "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table `o` with no runs: enough for the SQL the diff generates.
    fn table_o() -> TableHistory {
        TableHistory {
            name: "o".into(),
            source_names: vec![],
            schema: std::sync::Arc::new(arrow::datatypes::Schema::empty()),
            run_column: "run_id".into(),
            runs: vec![],
        }
    }

    #[test]
    fn run_filters_quote_the_run_id() {
        let t = table_o();
        assert_eq!(
            run_rows(&t, "x'y", "*"),
            "SELECT * FROM \"o\" WHERE \"run_id\" = 'x''y'"
        );
    }

    #[test]
    fn a_key_diff_compares_every_other_column_null_safely() {
        let t = table_o();
        let req = DiffRequest {
            table: "o",
            from: "r1",
            to: "r2",
            key: None,
            output: None,
        };
        let sql = by_key(
            &t,
            &req,
            &["id".into(), "v".into()],
            &["id".into()],
            "change",
        );
        assert!(sql.contains("(a.\"id\" IS NOT DISTINCT FROM b.\"id\")"));
        assert!(sql.contains("(a.\"v\" IS DISTINCT FROM b.\"v\")"));
        assert!(!sql.contains("(a.\"id\" IS DISTINCT FROM"));
    }
}

//! `stage query "SQL"` and `stage diff` (cargo feature `query`).

use crate::cli::{DiffArgs, QueryArgs};
use crate::error::Result;

#[cfg(feature = "query")]
pub(super) fn query(args: &QueryArgs) -> Result<i32> {
    use crate::archive::Store;
    use crate::config::Needs;
    use crate::query::{sql_error, write_stream, Archive};

    let cfg = super::setup(args.config.config.as_deref(), Needs { source: false })?;
    let store = Store::for_config(&cfg)?;
    let archive = Archive::open(&store)?;
    let ctx = archive.session()?;
    let written = store.run(async {
        let df = ctx
            .sql(&args.sql)
            .await
            .map_err(|e| sql_error("the query", e))?;
        let stream = df
            .execute_stream()
            .await
            .map_err(|e| sql_error("running the query", e))?;
        write_stream(stream, args.format, args.output.as_deref(), |_| Ok(())).await
    })?;
    tracing::info!(rows = written.rows, "query done");
    Ok(0)
}

#[cfg(feature = "query")]
pub(super) fn diff(args: &DiffArgs) -> Result<i32> {
    use crate::archive::Store;
    use crate::config::Needs;
    use crate::query::{diff, Archive};

    let cfg = super::setup(args.config.config.as_deref(), Needs { source: false })?;
    let store = Store::for_config(&cfg)?;
    let archive = Archive::open(&store)?;
    let key = args
        .key
        .as_deref()
        .map(crate::config::column_list)
        .transpose()
        .map_err(|m| crate::error::Error::config(format!("--key: {m}")))?;
    let report = diff::diff(
        &archive,
        &diff::DiffRequest {
            table: &args.table,
            from: &args.from,
            to: &args.to,
            key,
            output: args.output.as_deref(),
        },
    )?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a diff serializes")
        );
        return Ok(0);
    }
    let by = if report.key.is_empty() {
        "whole rows (no key)".to_string()
    } else {
        format!("key ({})", report.key.join(", "))
    };
    println!(
        "table {}: run {} → run {}, by {by}",
        report.table, report.from, report.to
    );
    let lines = vec![
        vec!["added".to_string(), report.added.to_string()],
        vec!["removed".to_string(), report.removed.to_string()],
        vec!["changed".to_string(), report.changed.to_string()],
    ];
    for l in crate::text_table::aligned(&lines) {
        println!("{l}");
    }
    if let Some(p) = &args.output {
        println!("rows written to {}", p.display());
    }
    Ok(0)
}

#[cfg(not(feature = "query"))]
pub(super) fn query(_args: &QueryArgs) -> Result<i32> {
    Err(without_feature("query"))
}

#[cfg(not(feature = "query"))]
pub(super) fn diff(_args: &DiffArgs) -> Result<i32> {
    Err(without_feature("diff"))
}

#[cfg(not(feature = "query"))]
fn without_feature(command: &str) -> crate::error::Error {
    crate::error::Error::config(format!(
        "stage {command}: this build has no DataFusion; build stage with the cargo feature `query` (cargo build --release --features query)"
    ))
}

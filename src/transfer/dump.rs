//! DUMP (and CONNECTORX) mode: every table into Parquet parts, the manifest, then — for
//! `stage run` — the load of exactly the manifest's parts.

use arrow::record_batch::RecordBatch;

use super::from_manifest::load_manifest;
use super::outcome::{RunSummary, TableOutcome};
use super::relay::pipe;
use super::{prepare, read_options};
use crate::archive::{
    self, manifest::columns_entry, Manifest, PartEntry, PartWriter, Store, TableEntry, TableStatus,
};
use crate::config::Config;
use crate::error::{signal_name, Error, ErrorClass, Result};
use crate::interrupt;
use crate::load::Destination;
use crate::progress::Progress;
use crate::source::{Source, TableRef};

pub(super) fn dump_and_load(
    cfg: &Config,
    run_id: &str,
    src: &mut dyn Source,
    dst: Option<&mut (dyn Destination + 'static)>,
    tables: &[TableRef],
    progress: &Progress,
) -> Result<RunSummary> {
    let store = Store::open(&cfg.settings.output_dir)?;
    let _run_lock = archive::debris::RunLock::take(&store, run_id)?;
    for line in archive::debris::clean(&store, run_id)? {
        tracing::info!("archive cleaned up: {line}");
    }
    let started_at = chrono::Utc::now();
    let mut entries = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        entries.push(match interrupt::received() {
            Some(signal) => not_dumped(table, signal),
            None => dump_table(cfg, src, &store, run_id, table, i, progress),
        });
    }
    interrupt::pause_point("manifest");
    let manifest = Manifest::for_run(
        cfg,
        run_id,
        started_at,
        interrupt::received().map(|s| signal_name(s).to_string()),
        entries,
    );
    let manifest_path = manifest.write(&store)?;
    let shown_manifest = format!("{}/{manifest_path}", store.root.trim_end_matches('/'));
    tracing::info!(manifest = %shown_manifest, "manifest written");
    let mut summary = RunSummary::default();
    let dst = match (dst, interrupt::received()) {
        (Some(dst), None) => dst,
        (_, signal) => {
            for e in &manifest.tables {
                summary.tables.push(TableOutcome {
                    table: e.source_table.clone(),
                    rows: e.rows,
                    error: e.error.clone(),
                    class: e.error.as_ref().map(|_| match signal {
                        Some(_) => ErrorClass::Interrupted,
                        None => ErrorClass::Other,
                    }),
                });
            }
            summary.manifest = Some(shown_manifest);
            return Ok(summary);
        }
    };
    summary.tables = load_manifest(cfg, &manifest, &store, dst, progress);
    if summary.failed() == 0 && cfg.settings.cleanup {
        for e in &manifest.tables {
            for p in &e.parts {
                store.delete(&p.path)?;
            }
        }
        store.delete(&manifest_path)?;
        tracing::info!("parts and manifest of this run deleted (CLEANUP_PARQUET_FILES)");
    } else {
        if summary.failed() > 0 {
            tracing::warn!(manifest = %shown_manifest, "kept this run's parts and manifest for: stage load --manifest {shown_manifest}");
        }
        summary.manifest = Some(shown_manifest);
    }
    Ok(summary)
}

/// The manifest entry of a table a signal kept the run from reading.
fn not_dumped(table: &TableRef, signal: i32) -> TableEntry {
    TableEntry::failed(
        table.display(),
        table.staging_name(),
        Some(Error::Interrupted { signal }.to_string()),
    )
}

fn dump_table(
    cfg: &Config,
    src: &mut dyn Source,
    store: &Store,
    run_id: &str,
    table: &TableRef,
    index: usize,
    progress: &Progress,
) -> TableEntry {
    let staging_table = table.staging_name();
    let mut entry = TableEntry::failed(table.display(), staging_table.clone(), None);
    let result = (|| -> Result<(u64, Vec<PartEntry>)> {
        let (info, expected) = prepare(cfg, src, table)?;
        let schema = info.schema();
        entry.columns = columns_entry(&schema);
        let bar = progress.table(index, &table.display(), expected);
        let stem = archive::path_segment(&staging_table);
        let mut writer = PartWriter::new(
            store,
            archive::table_dir(&staging_table, run_id),
            stem,
            table.display(),
            schema,
            cfg.settings.compression,
            cfg.settings.chunk_size,
        );
        let consume = |batch: RecordBatch| {
            interrupt::check()?;
            interrupt::pause_point("read");
            writer.write(&batch)?;
            bar.add(batch.num_rows() as u64);
            Ok(())
        };
        match pipe(src, &info, &read_options(cfg), consume) {
            Ok(rows) => {
                let parts = writer.finish()?;
                bar.finish(rows);
                Ok((rows, parts))
            }
            Err(e) => {
                writer.abort();
                Err(e)
            }
        }
    })();
    match result {
        Ok((rows, parts)) => {
            entry.status = TableStatus::Complete;
            entry.rows = rows;
            entry.parts = parts;
        }
        Err(e) => {
            tracing::error!(table = %table.display(), "{e:#}");
            entry.error = Some(format!("{e:#}"));
        }
    }
    entry
}

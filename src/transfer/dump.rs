//! DUMP (and CONNECTORX) mode: every table into Parquet parts, the manifest, then — for
//! `stage run` — the load of exactly the manifest's parts. The destination is connected
//! only for the load, after every table is read and the source connection is closed.

use arrow::record_batch::RecordBatch;

use super::from_manifest::load_tables;
use super::heal::{with_source_retries, Blame, Links, Side};
use super::ledger::{self, Ledger};
use super::outcome::{RunSummary, TableOutcome};
use super::parallel::each;
use super::relay::pipe;
use super::{prepare, read_options, sync, Finish, Job};
use crate::archive::{
    self, manifest::columns_entry, Manifest, PartWriter, Store, TableEntry, TableStatus,
};
use crate::config::Config;
use crate::error::{signal_name, Error, ErrorClass, Result};
use crate::interrupt;
use crate::progress::Progress;
use crate::runlog::FailureClass;

// The run's pieces, each used in one phase; a struct of them would only be unpacked here.
#[allow(clippy::too_many_arguments)]
pub(super) fn dump_and_load(
    cfg: &Config,
    run_id: &str,
    run_started_at: chrono::DateTime<chrono::Utc>,
    links: &mut Links<'_>,
    finish: Finish,
    tables: &[Job],
    order: &[usize],
    progress: &Progress,
) -> Result<RunSummary> {
    let store = Store::for_config(cfg)?;
    let _run_lock = archive::debris::RunLock::take(&store, run_id)?;
    for line in archive::debris::clean(&store, run_id)? {
        tracing::info!("archive cleaned up: {line}");
    }
    let started_at = chrono::Utc::now();
    let (entries, dumped): (Vec<TableEntry>, Vec<Dumped>) = each(
        cfg,
        cfg.settings.parallel_tables,
        links,
        order,
        |i, links| {
            let job = &tables[i];
            match interrupt::received() {
                Some(signal) => (
                    not_dumped(job, signal),
                    Dumped {
                        seconds: 0.0,
                        attempts: 0,
                        class: Some(FailureClass::Interrupted),
                    },
                ),
                None => {
                    links.before_table(&job.table.display());
                    dump_table(cfg, links, &store, run_id, job, i, progress)
                }
            }
        },
    )
    .into_iter()
    .unzip();
    // Every table is read: the source connection is not needed any more.
    links.close_source();
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
    let mut summary = RunSummary {
        run_id: run_id.to_string(),
        ..RunSummary::default()
    };
    let signal = interrupt::received();
    if finish == Finish::DumpOnly || signal.is_some() {
        for e in &manifest.tables {
            summary.tables.push(TableOutcome {
                table: e.source_table.clone(),
                rows: e.rows,
                error: e.error.clone(),
                class: e.error.as_ref().map(|_| match signal {
                    Some(_) => ErrorClass::Interrupted,
                    None => ErrorClass::Other,
                }),
                seconds: 0.0,
                attempts: 1,
            });
        }
        for (o, d) in summary.tables.iter_mut().zip(&dumped) {
            d.add_to(o);
        }
        summary.manifest = Some(shown_manifest);
        if summary.failed() == 0 && signal.is_none() {
            archive::retention::after_commit(&store);
        }
        return Ok(summary);
    }
    // The load phase: the destination is connected now, not before the dump, where it
    // would sit idle (and a server's or firewall's idle timeout could cut it).
    if let Err(e) = links.destination() {
        tracing::warn!(manifest = %shown_manifest, "kept this run's parts and manifest for: stage load --manifest {shown_manifest}");
        return Err(e);
    }
    let log = ledger::open(cfg, run_id, run_started_at);
    let dumps: Vec<(u32, Option<FailureClass>)> =
        dumped.iter().map(|d| (d.attempts, d.class)).collect();
    summary.tables = load_tables(
        cfg,
        &manifest,
        &store,
        links,
        progress,
        ledger::Ledger(log.as_ref()),
        &dumps,
    );
    for (o, d) in summary.tables.iter_mut().zip(&dumped) {
        d.add_to(o);
    }
    if summary.failed() == 0 && cfg.settings.cleanup {
        // The manifest first: the run leaves the archive's history at once.
        store.delete(&manifest_path)?;
        for e in &manifest.tables {
            for p in &e.parts {
                store.delete(&p.path)?;
            }
        }
        tracing::info!("parts and manifest of this run deleted (CLEANUP_PARQUET_FILES)");
    } else {
        if summary.failed() > 0 {
            tracing::warn!(manifest = %shown_manifest, "kept this run's parts and manifest for: stage load --manifest {shown_manifest}");
        }
        summary.manifest = Some(shown_manifest);
    }
    let bytes = manifest
        .tables
        .iter()
        .flat_map(|e| &e.parts)
        .map(|p| p.bytes)
        .sum();
    ledger::finish(log, &summary, Some(bytes));
    if summary.failed() == 0 {
        archive::retention::after_commit(&store);
    }
    Ok(summary)
}

/// The manifest entry of a table a signal kept the run from reading.
fn not_dumped(job: &Job, signal: i32) -> TableEntry {
    TableEntry::failed(
        job.table.display(),
        job.settings.staging.clone(),
        Some(Error::Interrupted { signal }.to_string()),
    )
}

pub(super) fn dump_table(
    cfg: &Config,
    links: &mut Links<'_>,
    store: &Store,
    run_id: &str,
    job: &Job,
    index: usize,
    progress: &Progress,
) -> (TableEntry, Dumped) {
    let table = &job.table;
    let staging_table = job.settings.staging.clone();
    let mut entry = TableEntry::failed(table.display(), staging_table.clone(), None);
    let shown = table.display();
    let columns = &mut entry.columns;
    let mut primary_key = Vec::new();
    let started = std::time::Instant::now();
    let mut attempts = 0;
    let load_target = super::target(cfg, run_id, staging_table.clone(), &job.settings)
        .with_merge(job.merge.clone());
    // An incremental table's stored watermark, read from the destination before the dump.
    let inc = sync::incremental(cfg, job, &load_target, Ledger(None));
    let mut sync_entry = None;
    let result = with_source_retries(cfg, links, &shown, &mut attempts, |links| {
        let inc = inc
            .as_ref()
            .map_err(|e| Error::Check(format!("{e:#}")))
            .on(Side::Other)?;
        let src = links.source().on(Side::Source)?;
        let (mut info, expected) = prepare(cfg, src, job).on(Side::Source)?;
        let schema = info.schema();
        *columns = columns_entry(&schema);
        primary_key = recorded_key(src, &info, job, &schema);
        let window = match inc {
            Some(i) => Some(sync::open_window(cfg, src, &mut info, job, i).on(Side::Source)?),
            None => None,
        };
        let full = inc.as_ref().is_some_and(|i| i.full_refresh);
        sync_entry = sync::entry(job, window.as_ref(), full);
        if window.as_ref().is_some_and(|w| w.is_empty() && !full) {
            src.snapshot(false).on(Side::Source)?;
            tracing::info!(table = %shown, "no row in the window: nothing dumped, the watermark stays");
            return Ok((0, Vec::new()));
        }
        let bar = progress.table(index, &shown, expected);
        let stem = match &job.unit {
            Some(unit) => format!("{}_{unit}", archive::path_segment(&staging_table)),
            None => archive::path_segment(&staging_table),
        };
        let mut writer = PartWriter::new(
            store,
            archive::table_dir(&staging_table, run_id),
            stem,
            shown.clone(),
            schema,
            job.settings.compression,
            job.settings.chunk_size,
        )
        .with_max_bytes(job.settings.chunk_bytes)
        .with_encode_threads(cfg.settings.parquet_encode_threads);
        let consume = |batch: RecordBatch| {
            interrupt::check()?;
            interrupt::pause_point("read");
            writer.write(&batch)?;
            bar.add(batch.num_rows() as u64);
            Ok(())
        };
        match pipe(
            src,
            &info,
            &read_options(cfg, &job.settings),
            Side::Other,
            consume,
        ) {
            Ok(rows) => {
                if window.is_some() {
                    src.snapshot(false).on(Side::Source)?;
                }
                let parts = writer.finish().on(Side::Other)?;
                bar.finish(rows);
                Ok((rows, parts))
            }
            Err(fault) => {
                // Nothing of a failed attempt stays in the archive: a table read again
                // writes its parts anew, and the manifest lists only those.
                writer.abort();
                Err(fault)
            }
        }
    });
    if matches!(inc, Ok(Some(_))) && result.is_err() {
        // A failed attempt may have left the read's snapshot open: the next table must not
        // read inside it.
        sync::end_snapshot(links);
    }
    let mut class = None;
    match result {
        Ok((rows, parts)) => {
            entry.status = TableStatus::Complete;
            entry.rows = rows;
            entry.parts = parts;
            entry.sync = sync_entry;
            entry.primary_key = primary_key;
        }
        Err(e) => {
            tracing::error!(table = %shown, "{e:#}");
            entry.error = Some(format!("{e:#}"));
            class = Some(FailureClass::of(&e));
        }
    }
    (
        entry,
        Dumped {
            seconds: started.elapsed().as_secs_f64(),
            attempts,
            class,
        },
    )
}

/// The key the manifest records for `stage diff`: `PRIMARY_KEY` when set, else the source's
/// primary key — only when every key column is in the archived schema (EXCLUDE_COLUMNS may
/// drop one). A source that cannot tell its key records none; the dump goes on.
fn recorded_key(
    src: &mut dyn crate::source::Source,
    info: &crate::source::TableInfo,
    job: &Job,
    schema: &arrow::datatypes::Schema,
) -> Vec<String> {
    let key = match &job.settings.sync.primary_key {
        Some(k) => k.clone(),
        None => src.primary_key(info).unwrap_or_else(|e| {
            tracing::debug!(table = %job.table.display(), "no primary key recorded: {e:#}");
            Vec::new()
        }),
    };
    let kept = |k: &String| schema.fields().iter().any(|f| f.name() == k);
    if key.iter().all(kept) {
        key
    } else {
        Vec::new()
    }
}

/// What the dump of one table took, added to its outcome after the load.
#[derive(Clone, Copy)]
pub(super) struct Dumped {
    pub(super) seconds: f64,
    pub(super) attempts: u32,
    /// The run log's class of the dump's failure.
    class: Option<FailureClass>,
}

impl Dumped {
    fn add_to(self, o: &mut TableOutcome) {
        o.seconds += self.seconds;
        o.attempts = self.attempts.max(1);
    }
}

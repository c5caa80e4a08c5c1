//! `stage load` (and the load half of DUMP) and `stage verify`: the parts a manifest lists,
//! read through the archive's reader, into or against the staging tables.

use std::time::Duration;

use super::heal::{Links, Side};
use super::ledger::Ledger;
use super::outcome::{not_started, outcome, RunSummary, TableOutcome};
use super::parallel::{each, largest_first};
use super::relay::relay;
use super::retry::with_retry;
use super::{report_nuls, settings_for_display, sync, target};
use crate::archive::reader::{verify_parts, TableParts};
use crate::archive::{Manifest, Store, TableStatus};
use crate::config::Config;
use crate::error::{Error, ErrorClass, Result};
use crate::interrupt;
use crate::load::{self, Destination, LoadTarget};
use crate::progress::Progress;
use crate::runlog::{FailureClass, RunLog};
use crate::source::TableRef;

/// Loads exactly the parts a manifest lists (`stage load`) over `dst`, reopened when it
/// breaks. Each staging table is created from the manifest's columns; every part must hold
/// exactly that schema. The load is a run of its own in the run log (mode `load`, a new run
/// id, the manifest's path), so a night's failed load and its later repair are both on record.
pub fn load_manifest(
    cfg: &Config,
    manifest: &Manifest,
    manifest_path: &str,
    store: &Store,
    dst: Box<dyn Destination>,
    progress: &Progress,
) -> RunSummary {
    let run_id = crate::archive::new_run_id();
    let log = RunLog::open_if_enabled(
        cfg,
        &run_id,
        "load",
        cfg.ini_path.as_deref(),
        chrono::Utc::now(),
    );
    let tables = load_tables(
        cfg,
        manifest,
        store,
        &mut Links::with_destination(cfg, dst),
        progress,
        Ledger(log.as_ref()),
        &[],
    );
    let summary = RunSummary {
        run_id,
        tables,
        manifest: Some(manifest_path.to_string()),
    };
    let bytes = manifest
        .tables
        .iter()
        .flat_map(|e| &e.parts)
        .map(|p| p.bytes)
        .sum();
    super::ledger::finish(log, &summary, Some(bytes));
    summary
}

/// [`load_manifest`] over the run's connections (the load half of DUMP): before each table
/// the destination is pinged and reopened when broken, and one that failed a table with a
/// transient error is reopened for the next.
pub(super) fn load_tables(
    cfg: &Config,
    manifest: &Manifest,
    store: &Store,
    links: &mut Links<'_>,
    progress: &Progress,
    ledger: Ledger<'_>,
    dumps: &[(u32, Option<FailureClass>)],
) -> Vec<TableOutcome> {
    let workers = cfg.settings.parallel_tables;
    let order: Vec<usize> = if workers > 1 {
        let sizes: Vec<Option<u64>> = manifest.tables.iter().map(|e| Some(e.rows)).collect();
        largest_first(&sizes)
    } else {
        (0..manifest.tables.len()).collect()
    };
    each(cfg, workers, links, &order, |i, links| {
        let (tries, class) = dumps.get(i).copied().unwrap_or((1, None));
        load_entry(
            cfg, manifest, store, links, progress, i, ledger, tries, class,
        )
    })
}

/// Loads the `i`th table of the manifest (or reports why not).
// One table's load with its share of the run (ledger, dump facts); called in one place.
#[allow(clippy::too_many_arguments)]
fn load_entry(
    cfg: &Config,
    manifest: &Manifest,
    store: &Store,
    links: &mut Links<'_>,
    progress: &Progress,
    i: usize,
    ledger: Ledger<'_>,
    tries: u32,
    dump_class: Option<FailureClass>,
) -> TableOutcome {
    let entry = &manifest.tables[i];
    {
        let table = TableRef::new(&entry.source_table, None);
        if let Some(signal) = interrupt::received() {
            return not_started(entry.source_table.clone(), signal);
        }
        let started_at = chrono::Utc::now();
        let ts = settings_for_display(cfg, &entry.source_table);
        let mut target = target(cfg, &manifest.run_id, entry.staging_table.clone(), &ts)
            .with_merge(entry.sync.as_ref().and_then(sync::entry_merge));
        if let Some(m) = target.merge.as_mut() {
            m.schema_change = ts.sync.schema_change;
        }
        if entry.sync.as_ref().is_some_and(|e| e.full_refresh) {
            target.write_mode = crate::config::WriteMode::Replace;
        }
        let state = entry.sync.as_ref().and_then(sync::entry_state);
        if entry.status == TableStatus::Failed {
            let message = entry
                .error
                .clone()
                .unwrap_or_else(|| "the dump of this table failed".into());
            let class = dump_class.unwrap_or(FailureClass::Source);
            ledger.dump_failed(
                &entry.source_table,
                &target,
                started_at,
                tries,
                class,
                &message,
            );
            return TableOutcome {
                table: entry.source_table.clone(),
                rows: 0,
                error: Some(
                    entry
                        .error
                        .clone()
                        .unwrap_or_else(|| "the dump of this table failed".into()),
                ),
                class: Some(ErrorClass::Other),
                seconds: 0.0,
                attempts: 1,
            };
        }
        links.before_table(&entry.source_table);
        let started = std::time::Instant::now();
        let result = (|| {
            if let Some(e) = &entry.sync {
                sync::check_follows(cfg, e, &target, ledger)?;
                if e.cursor_type.is_some() && !e.moved && !e.full_refresh {
                    if let Some(s) = state.clone() {
                        ledger.unchanged(&entry.source_table, &target, started_at, s);
                    }
                    return Ok(0);
                }
            }
            let dst = links.destination()?;
            let bar = progress.table(i, &entry.source_table, Some(entry.rows));
            let name = &entry.source_table;
            let schema = entry.schema()?;
            let parts = TableParts::open(store, entry, schema.clone(), ts.chunk_size.min(65_536))?;
            let staging = load::staging_schema(&schema);
            let mut loading = dst.begin(&target, &staging)?;
            // Parts are read, hashed and decoded on a thread of their own while this one
            // loads: the database parses one batch while the next is decoded.
            let rows = relay(
                name,
                |sink| parts.read(sink),
                |batch| {
                    let batch = load::to_staging(&batch, &staging)?;
                    with_retry(&cfg.settings.retry, name, || loading.write_batch(&batch))?;
                    interrupt::pause_point("load");
                    bar.add(batch.num_rows() as u64);
                    Ok(())
                },
            )?;
            if rows != entry.rows {
                return Err(Error::Check(format!(
                    "table {}: the parts hold {rows} rows but the manifest says {}; not loaded",
                    entry.source_table, entry.rows
                )));
            }
            interrupt::check()?;
            let bytes = entry.parts.iter().map(|p| p.bytes).sum();
            ledger.on_commit(
                loading.as_mut(),
                name,
                &target,
                started_at,
                rows,
                tries,
                &staging,
                Some((bytes, entry.parts.len() as u64)),
                state.clone(),
            );
            sync::commit_state_alone(cfg, loading.as_mut(), &target, ledger, state.clone());
            let report = loading.commit(rows)?;
            ledger.schema_changed(name, &target, &report.schema_changes);
            report_nuls(&table, &report);
            bar.finish(rows);
            Ok(rows)
        })();
        if let Err(e) = &result {
            // Only the destination fails with transient errors here.
            links.after_failure(&entry.source_table, Side::Destination, e);
            ledger.failed(&entry.source_table, &target, started_at, tries, e);
        }
        outcome(&table, result).timed(started, 1)
    }
}

/// `stage verify`: re-hashes every part and compares row counts with the staging table.
pub fn verify(
    manifest: &Manifest,
    store: &Store,
    mut dst: Option<&mut (dyn Destination + 'static)>,
    schema: Option<&str>,
) -> Vec<TableOutcome> {
    let mut out = Vec::new();
    for entry in &manifest.tables {
        let result = (|| -> Result<u64> {
            let rows = verify_parts(store, entry)?;
            if let Some(dst) = dst.as_deref_mut() {
                let target = LoadTarget::new(
                    schema.map(str::to_string),
                    entry.staging_table.clone(),
                    crate::config::WriteMode::Replace,
                    &manifest.run_id,
                    Duration::ZERO,
                );
                match dst.count_rows(&target)? {
                    None => {
                        return Err(Error::Check(format!(
                            "staging table {} does not exist",
                            target.display()
                        )))
                    }
                    Some(n) if n != entry.rows => {
                        return Err(Error::Check(format!(
                            "staging table {} has {n} rows, the manifest says {}",
                            target.display(),
                            entry.rows
                        )))
                    }
                    Some(_) => {}
                }
            }
            Ok(rows)
        })();
        out.push(outcome(&TableRef::new(&entry.source_table, None), result));
    }
    out
}

//! DIRECT mode: one table from the source straight into its staging table, each batch
//! retried on transient errors, the whole table read again on a new source connection when
//! the source fails with one.

use super::heal::{with_source_retries, Blame, Links, Side};
use super::ledger::Ledger;
use super::outcome::{outcome, TableOutcome};
use super::relay::pipe;
use super::retry::with_retry;
use super::{prepare, read_options, report_nuls, sync, target, Job};
use crate::config::{Config, WriteMode};
use crate::interrupt;
use crate::load;
use crate::progress::Progress;

pub(super) fn direct_table(
    cfg: &Config,
    run_id: &str,
    links: &mut Links<'_>,
    job: &Job,
    index: usize,
    progress: &Progress,
    ledger: Ledger<'_>,
) -> TableOutcome {
    let table = &job.table;
    let shown = table.display();
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now();
    let mut load_target = target(cfg, run_id, job.settings.staging.clone(), &job.settings)
        .with_merge(job.merge.clone());
    let inc = match sync::incremental(cfg, job, &load_target, ledger) {
        Ok(inc) => inc,
        Err(e) => {
            ledger.failed(&shown, &load_target, started_at, 1, &e);
            return outcome(table, Err(e)).timed(started, 1);
        }
    };
    if inc.as_ref().is_some_and(|i| i.full_refresh) {
        // Reloaded whole through the atomic replace path, keeping the merge key.
        load_target.write_mode = WriteMode::Replace;
    }
    let tries = std::cell::Cell::new(0u32);
    let mut attempts = 0;
    let result = with_source_retries(cfg, links, &shown, &mut attempts, |links| {
        tries.set(tries.get() + 1);
        let (src, dst) = links.both()?;
        let (mut info, expected) = prepare(cfg, src, job).on(Side::Source)?;
        let window = match &inc {
            Some(i) => Some(sync::open_window(cfg, src, &mut info, job, i).on(Side::Source)?),
            None => None,
        };
        let full = inc.as_ref().is_some_and(|i| i.full_refresh);
        if let Some(w) = window.as_ref().filter(|w| w.is_empty() && !full) {
            src.snapshot(false).on(Side::Source)?;
            tracing::info!(table = %shown, watermark = ?w.lower, "no row in the window: nothing loaded, the watermark stays");
            ledger.unchanged(&shown, &load_target, started_at, sync::state(w, false));
            return Ok(0);
        }
        let bar = progress.table(index, &shown, expected.filter(|_| window.is_none()));
        let staging = load::staging_schema(&info.schema());
        // Dropped without commit when this attempt fails: the shadow (or the transaction)
        // goes, so a read started again never loads a row twice.
        let mut loading = dst.begin(&load_target, &staging).on(Side::Destination)?;
        let opts = read_options(cfg, &job.settings);
        let rows = pipe(src, &info, &opts, Side::Destination, |batch| {
            interrupt::pause_point("read");
            let batch = load::to_staging(&batch, &staging)?;
            with_retry(&cfg.settings.retry, &shown, || loading.write_batch(&batch))?;
            interrupt::pause_point("load");
            bar.add(batch.num_rows() as u64);
            Ok(())
        })?;
        if window.is_some() {
            src.snapshot(false).on(Side::Source)?;
        }
        interrupt::check().on(Side::Other)?;
        ledger.on_commit(
            loading.as_mut(),
            &shown,
            &load_target,
            started_at,
            rows,
            tries.get(),
            &staging,
            None,
            window.as_ref().map(|w| sync::state(w, full)),
        );
        sync::commit_state_alone(
            cfg,
            loading.as_mut(),
            &load_target,
            ledger,
            window.as_ref().map(|w| sync::state(w, full)),
        );
        let report = loading.commit(rows).on(Side::Destination)?;
        ledger.schema_changed(&shown, &load_target, &report.schema_changes);
        report_nuls(table, &report);
        bar.finish(rows);
        Ok(rows)
    });
    if inc.is_some() && result.is_err() {
        // A failed attempt may have left the read's snapshot open: the next table must not
        // read inside it.
        sync::end_snapshot(links);
    }
    if let Err(e) = &result {
        ledger.failed(&shown, &load_target, started_at, attempts, e);
    }
    outcome(table, result).timed(started, attempts)
}

//! DIRECT mode: one table from the source straight into its staging table, each batch
//! retried on transient errors, the whole table read again on a new source connection when
//! the source fails with one.

use super::heal::{with_source_retries, Blame, Links, Side};
use super::ledger::Ledger;
use super::outcome::{outcome, TableOutcome};
use super::relay::pipe;
use super::retry::with_retry;
use super::{prepare, read_options, report_nuls, target, Job};
use crate::config::Config;
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
    let load_target = target(cfg, run_id, job.settings.staging.clone(), &job.settings)
        .with_merge(job.merge.clone());
    let tries = std::cell::Cell::new(0u32);
    let mut attempts = 0;
    let result = with_source_retries(cfg, links, &shown, &mut attempts, |links| {
        tries.set(tries.get() + 1);
        let (src, dst) = links.both()?;
        let (info, expected) = prepare(cfg, src, job).on(Side::Source)?;
        let bar = progress.table(index, &shown, expected);
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
        );
        let report = loading.commit(rows).on(Side::Destination)?;
        report_nuls(table, &report);
        bar.finish(rows);
        Ok(rows)
    });
    if let Err(e) = &result {
        ledger.failed(&shown, &load_target, started_at, attempts, e);
    }
    outcome(table, result).timed(started, attempts)
}

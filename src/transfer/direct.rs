//! DIRECT mode: one table from the source straight into its staging table, each batch
//! retried on transient errors.

use super::outcome::{outcome, TableOutcome};
use super::relay::pipe;
use super::retry::with_retry;
use super::{prepare, read_options, report_nuls, target};
use crate::config::Config;
use crate::interrupt;
use crate::load::{self, Destination};
use crate::progress::Progress;
use crate::source::{Source, TableRef};

pub(super) fn direct_table(
    cfg: &Config,
    run_id: &str,
    src: &mut dyn Source,
    dst: &mut dyn Destination,
    table: &TableRef,
    index: usize,
    progress: &Progress,
) -> TableOutcome {
    let result = (|| {
        let (info, expected) = prepare(cfg, src, table)?;
        let bar = progress.table(index, &table.display(), expected);
        let staging = load::staging_schema(&info.schema());
        let mut loading = dst.begin(&target(cfg, run_id, table.staging_name()), &staging)?;
        let opts = read_options(cfg);
        let rows = pipe(src, &info, &opts, |batch| {
            interrupt::pause_point("read");
            let batch = load::to_staging(&batch, &staging)?;
            with_retry(&cfg.settings.retry, &table.display(), || {
                loading.write_batch(&batch)
            })?;
            interrupt::pause_point("load");
            bar.add(batch.num_rows() as u64);
            Ok(())
        })?;
        interrupt::check()?;
        let report = loading.commit(rows)?;
        report_nuls(table, &report);
        bar.finish(rows);
        Ok(rows)
    })();
    outcome(table, result)
}

//! A run's sync settings turned into what its tables need: each merging table's key
//! (`PRIMARY_KEY`, else the source's primary key), resolved before anything is read, so
//! that a merge without a key ends the run as a configuration error.

use super::Job;
use crate::config::WriteMode;
use crate::error::{Error, Result};
use crate::load::merge::MergeSpec;
use crate::source::Source;

/// Sets [`Job::merge`] for every table that merges; a table without a key is a
/// configuration error (exit code 2). A table the source cannot describe is left to fail
/// on its own when it runs.
pub(super) fn resolve_keys(src: &mut dyn Source, jobs: &mut [Job]) -> Result<()> {
    for job in jobs.iter_mut() {
        let ts = &job.settings;
        let merging = ts.write_mode == WriteMode::Merge;
        if !merging && ts.sync.primary_key.is_none() {
            continue;
        }
        let key = match &ts.sync.primary_key {
            Some(k) => k.clone(),
            None => match src.describe(&job.table) {
                Ok(info) => src.primary_key(&info)?,
                Err(e) => {
                    tracing::debug!(table = %ts.name, "no key looked up: {e:#}");
                    continue;
                }
            },
        };
        if key.is_empty() {
            return Err(Error::config(format!(
                "[table:{0}] WRITE_MODE = merge needs a key, and the source table {1} has no primary key: set PRIMARY_KEY = column[, column] in [table:{0}] (a merge never falls back to append or replace)",
                ts.name,
                job.table.display()
            )));
        }
        tracing::info!(table = %ts.name, key = %key.join(", "), "merge key");
        job.merge = Some(MergeSpec::new(&key, &ts.sync.columns));
    }
    Ok(())
}

//! Retention: which committed runs go (`KEEP_RUNS`, `KEEP_DAYS`), and removing them.
//!
//! Driven by the manifests: a run is removed by deleting its manifest first (it leaves
//! `stage history`, `query` and `verify` at once), then the parts its manifest lists. The
//! newest committed run is never removed. Folders of runs that have no manifest (killed
//! runs) are removed once they are older than `[archive] ORPHAN_GRACE_HOURS` and no live
//! process holds their run's lock.

use std::collections::BTreeSet;

use super::history::{committed_run_ids, human_bytes, manifests, started};
use super::{debris, Manifest, Store};
use crate::error::Result;

/// How many runs and how many days to keep (`None`: no limit).
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    pub runs: Option<usize>,
    pub days: Option<f64>,
    /// Age of a manifest-less run folder before it is removed.
    pub orphan_grace_hours: f64,
}

/// What goes.
#[derive(Debug, Default)]
pub struct Plan {
    /// Committed runs to remove, newest first, with their manifests.
    pub runs: Vec<Manifest>,
    /// Manifest-less run folders: (`<table>/run_id=<id>`, files, bytes).
    pub orphans: Vec<(String, Vec<String>, u64)>,
}

/// Works out what `keep` removes now.
pub fn plan(store: &Store, keep: Keep) -> Result<Plan> {
    let now = chrono::Utc::now();
    let mut plan = Plan::default();
    for (i, m) in manifests(store)?.into_iter().enumerate() {
        if i == 0 {
            continue; // the newest committed run stays
        }
        let too_many = keep.runs.is_some_and(|n| i >= n);
        let too_old = match (keep.days, started(&m)) {
            (Some(days), Some(at)) => (now - at).num_seconds() as f64 > days * 86_400.0,
            _ => false,
        };
        if too_many || too_old {
            plan.runs.push(m);
        }
    }
    let ids = committed_run_ids(store)?;
    let committed: BTreeSet<&String> = ids.iter().collect();
    let grace = chrono::Duration::seconds((keep.orphan_grace_hours * 3600.0) as i64);
    for table in store.folders("")? {
        if table.starts_with('_') {
            continue;
        }
        for folder in store.folders(&table)? {
            let Some(run_id) = folder.strip_prefix("run_id=") else {
                continue;
            };
            if committed.contains(&run_id.to_string()) {
                continue;
            }
            let files = store.list(&format!("{table}/{folder}"))?;
            let newest = files.iter().map(|f| f.modified).max();
            let old = newest.is_none_or(|t| now - t > grace);
            if old && debris::run_is_dead(store, run_id)? {
                let bytes = files.iter().map(|f| f.bytes).sum();
                plan.orphans.push((
                    format!("{table}/{folder}"),
                    files.into_iter().map(|f| f.path).collect(),
                    bytes,
                ));
            }
        }
    }
    Ok(plan)
}

impl Plan {
    /// One line per run or folder that goes, with its size.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.runs {
            let parts: usize = m.tables.iter().map(|t| t.parts.len()).sum();
            let bytes: u64 = m
                .tables
                .iter()
                .flat_map(|t| &t.parts)
                .map(|p| p.bytes)
                .sum();
            out.push(format!(
                "run {} ({} tables, {parts} parts, {})",
                m.run_id,
                m.tables.len(),
                human_bytes(bytes)
            ));
        }
        for (folder, files, bytes) in &self.orphans {
            out.push(format!(
                "folder without a manifest {folder} ({} files, {})",
                files.len(),
                human_bytes(*bytes)
            ));
        }
        out
    }

    pub fn bytes(&self) -> u64 {
        let runs: u64 = self
            .runs
            .iter()
            .flat_map(|m| &m.tables)
            .flat_map(|t| &t.parts)
            .map(|p| p.bytes)
            .sum();
        runs + self.orphans.iter().map(|o| o.2).sum::<u64>()
    }

    /// Removes what the plan lists: each run's manifest, then its parts.
    pub fn execute(&self, store: &Store) -> Result<()> {
        for m in &self.runs {
            store.delete(&super::manifest_path(&m.run_id))?;
            crate::interrupt::pause_point("prune-parts");
            for t in &m.tables {
                for p in &t.parts {
                    store.delete(&p.path)?;
                }
                remove_empty_local(store, &super::table_dir(&t.staging_table, &m.run_id));
            }
            tracing::info!(run_id = %m.run_id, "archive: run pruned");
        }
        for (folder, files, _) in &self.orphans {
            for f in files {
                store.delete(f)?;
            }
            remove_empty_local(store, folder);
            tracing::info!(folder = %folder, "archive: folder of a run without a manifest removed");
        }
        Ok(())
    }
}

/// On a local folder, removes `dir` and its table folder when they are empty.
fn remove_empty_local(store: &Store, dir: &str) {
    if let Some(root) = &store.local {
        let run_dir = root.join(dir);
        let _ = std::fs::remove_dir(&run_dir);
        if let Some(table_dir) = run_dir.parent() {
            let _ = std::fs::remove_dir(table_dir);
        }
    }
}

/// After a successful run: prunes by `[archive] KEEP_RUNS` / `KEEP_DAYS` when either is set.
/// A failure to prune is logged, never fails the run.
pub fn after_commit(store: &Store) {
    let a = &store.settings;
    if !a.retention_set() {
        return;
    }
    let keep = Keep {
        runs: a.keep_runs,
        days: a.keep_days,
        orphan_grace_hours: a.orphan_grace_hours,
    };
    let done = plan(store, keep).and_then(|p| {
        p.execute(store)?;
        Ok(p)
    });
    match done {
        Ok(p) if p.runs.is_empty() && p.orphans.is_empty() => {}
        Ok(p) => tracing::info!(
            runs = p.runs.len(),
            folders = p.orphans.len(),
            bytes = p.bytes(),
            "archive pruned ([archive] KEEP_RUNS / KEEP_DAYS)"
        ),
        Err(e) => tracing::warn!("archive not pruned: {e}"),
    }
}

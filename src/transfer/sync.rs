//! A run's sync settings turned into what its tables need: each merging table's key
//! (`PRIMARY_KEY`, else the source's primary key), resolved before anything is read, so
//! that a merge without a key ends the run as a configuration error; an incremental
//! table's stored state, full-refresh decision and window ([`crate::incremental`]).

use super::ledger::Ledger;
use super::Job;
use crate::archive::manifest::SyncEntry;
use crate::config::sync::SyncMode;
use crate::config::{Config, WriteMode};
use crate::error::{Error, Result};
use crate::incremental::{self, Stored, Window};
use crate::load::merge::MergeSpec;
use crate::load::LoadTarget;
use crate::runlog::SyncState;
use crate::source::{Source, TableInfo};

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
        job.merge = Some(MergeSpec {
            schema_change: ts.sync.schema_change,
            ..MergeSpec::new(&key, &ts.sync.columns)
        });
    }
    Ok(())
}

/// An incremental table's run: its stored state and whether it is reloaded whole.
pub(super) struct Incremental {
    pub stored: Stored,
    pub full_refresh: bool,
}

/// For an incremental table: its stored state (from the run log, which must be open) and
/// whether this run reloads it whole (`--full-refresh`, or `FULL_REFRESH_EVERY` has passed
/// since the last one). `None` for a table that is not incremental.
pub(super) fn incremental(
    cfg: &Config,
    job: &Job,
    target: &LoadTarget,
    ledger: Ledger<'_>,
) -> Result<Option<Incremental>> {
    let ts = &job.settings;
    if ts.sync.mode != SyncMode::Incremental {
        return Ok(None);
    }
    let stored = match ledger.0 {
        Some(log) => log.stored_state(target.schema.as_deref(), &target.table)?,
        None => crate::runlog::sync_state::stored_for(cfg, target)?,
    };
    let due = ts.sync.full_refresh_every.is_some_and(|every| {
        stored.watermark.is_some()
            && stored
                .last_full_refresh_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_none_or(|last| {
                    let age = chrono::Utc::now() - last.with_timezone(&chrono::Utc);
                    age.to_std().unwrap_or_default() >= every
                })
    });
    let full_refresh = cfg.settings.full_refresh || due;
    if full_refresh {
        let why = if cfg.settings.full_refresh {
            "--full-refresh"
        } else {
            "FULL_REFRESH_EVERY has passed"
        };
        tracing::info!(table = %ts.name, "full refresh ({why}): the table is reloaded whole and swapped in; the watermark is set again");
    }
    Ok(Some(Incremental {
        stored,
        full_refresh,
    }))
}

/// Inside a new source snapshot, fixes the table's window and narrows `info` to it (a full
/// refresh reads every row but still fixes `U`, its new watermark).
pub(super) fn open_window(
    cfg: &Config,
    src: &mut dyn Source,
    info: &mut TableInfo,
    job: &Job,
    inc: &Incremental,
) -> Result<Window> {
    src.snapshot(true)?;
    let mut sync = job.settings.sync.clone();
    if inc.full_refresh {
        // Every row is read: NULL cursors are no reason to fail.
        sync.nulls = crate::config::sync::CursorNulls::Exclude;
    }
    let window = incremental::open(cfg.source.driver, src, info, &sync, &inc.stored)?;
    if !inc.full_refresh {
        if let Some(cond) = &window.condition {
            info.filter = Some(incremental::and_filter(info.filter.as_deref(), cond));
        }
    }
    Ok(window)
}

/// What the table's `ok` row records of its state.
pub(super) fn state(window: &Window, full_refresh: bool) -> SyncState {
    SyncState {
        mode: "incremental".into(),
        cursor_columns: Some(window.cursor.names()),
        cursor_type: Some(window.cursor.ty.name().into()),
        watermark: if window.is_empty() && !full_refresh {
            None
        } else {
            window.watermark()
        },
        full_refresh,
    }
}

/// Hands `load` the table's state to commit with it when no run log is open (its rows then
/// carry it otherwise: [`Ledger::on_commit`]).
pub(super) fn commit_state_alone(
    cfg: &Config,
    load: &mut dyn crate::load::TableLoad,
    target: &LoadTarget,
    ledger: Ledger<'_>,
    state: Option<SyncState>,
) {
    if let (None, Some(state)) = (ledger.0, state) {
        load.log_on_commit(crate::runlog::sync_state::standalone_rows(
            cfg, target, state,
        ));
    }
}

/// The manifest's record of a table's key and window.
pub(super) fn entry(job: &Job, window: Option<&Window>, full_refresh: bool) -> Option<SyncEntry> {
    let merge = job.merge.as_ref();
    if merge.is_none() && window.is_none() {
        return None;
    }
    Some(SyncEntry {
        merge_key: merge.map(|m| m.key.clone()).unwrap_or_default(),
        cursor_columns: window
            .map(|w| w.cursor.columns.iter().map(|c| c.to_lowercase()).collect())
            .unwrap_or_default(),
        cursor_type: window.map(|w| w.cursor.ty.name().to_string()),
        window_from: window.and_then(|w| w.lower.clone()),
        window_to: window.and_then(|w| w.watermark()),
        moved: window.is_some_and(|w| !w.is_empty()),
        full_refresh,
    })
}

/// The state a manifest entry's load commits (incremental tables only).
pub(super) fn entry_state(e: &SyncEntry) -> Option<SyncState> {
    let ty = e.cursor_type.clone()?;
    Some(SyncState {
        mode: "incremental".into(),
        cursor_columns: Some(e.cursor_columns.join(", ")),
        cursor_type: Some(ty),
        watermark: if e.moved || e.full_refresh {
            e.window_to.clone()
        } else {
            None
        },
        full_refresh: e.full_refresh,
    })
}

/// The merge spec of a manifest entry.
pub(super) fn entry_merge(e: &SyncEntry) -> Option<MergeSpec> {
    (!e.merge_key.is_empty()).then(|| MergeSpec::new(&e.merge_key, &e.cursor_columns))
}

/// A manifest's window must start at the stored watermark: a load of an older (or
/// another) run's window would move the watermark back or skip rows.
pub(super) fn check_follows(
    cfg: &Config,
    e: &SyncEntry,
    target: &LoadTarget,
    ledger: Ledger<'_>,
) -> Result<()> {
    if e.cursor_type.is_none() || e.full_refresh {
        return Ok(());
    }
    let stored = match ledger.0 {
        Some(log) => log.stored_state(target.schema.as_deref(), &target.table)?,
        None => crate::runlog::sync_state::stored_for(cfg, target)?,
    };
    if stored.watermark != e.window_from {
        return Err(Error::Check(format!(
            "staging table {}: this manifest holds the window ({}, {}] but the stored watermark is {}: another run committed since; load a newer run, or reload with stage run --full-refresh",
            target.display(),
            e.window_from.as_deref().unwrap_or("start"),
            e.window_to.as_deref().unwrap_or("-"),
            stored.watermark.as_deref().unwrap_or("(none)")
        )));
    }
    Ok(())
}

/// Ends a snapshot a failed incremental attempt may have left open on the run's source
/// connection (a failure here is for the next table to meet).
pub(super) fn end_snapshot(links: &mut super::heal::Links<'_>) {
    if let Ok(src) = links.source() {
        if let Err(e) = src.snapshot(false) {
            tracing::debug!("ending the source snapshot after a failed table: {e:#}");
        }
    }
}

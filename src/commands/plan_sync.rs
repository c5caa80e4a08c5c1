//! `stage plan`'s lines for merge and incremental tables (#16): the key, the cursor with
//! its type, the NULL cursors, the stored watermark and the rows the next window holds.

use crate::config::sync::{CursorNulls, SyncMode};
use crate::config::{Config, TableSettings, WriteMode};
use crate::error::Result;
use crate::incremental;
use crate::load::LoadTarget;
use crate::source::{Source, TableInfo};

/// Prints the table's sync lines; `false` when something would fail the run.
pub(super) fn print(
    cfg: &Config,
    src: &mut dyn Source,
    info: &TableInfo,
    ts: &TableSettings,
) -> bool {
    let mut sound = true;
    if ts.write_mode == WriteMode::Merge || ts.sync.mode == SyncMode::Incremental {
        let key = match &ts.sync.primary_key {
            Some(k) => Ok((k.clone(), "PRIMARY_KEY")),
            None => src
                .primary_key(info)
                .map(|k| (k, "the source's primary key")),
        };
        match key {
            Ok((k, _)) if k.is_empty() && ts.write_mode == WriteMode::Merge => {
                sound = false;
                println!("  merge key: NONE — WRITE_MODE = merge needs PRIMARY_KEY (the run would stop with exit code 2)");
            }
            Ok((k, from)) if !k.is_empty() => println!("  merge key: {} ({from})", k.join(", ")),
            Ok(_) => {}
            Err(e) => println!("  merge key: unavailable ({e})"),
        }
    }
    if ts.sync.mode != SyncMode::Incremental {
        return sound;
    }
    match window_lines(cfg, src, info, ts) {
        Ok(lines) => {
            for l in lines {
                println!("  {l}");
            }
        }
        Err(e) => {
            sound = false;
            println!("  incremental: ERROR {e}");
        }
    }
    let _ = src.snapshot(false);
    sound
}

fn window_lines(
    cfg: &Config,
    src: &mut dyn Source,
    info: &TableInfo,
    ts: &TableSettings,
) -> Result<Vec<String>> {
    let cursor = incremental::Cursor::of(info, &ts.sync)?;
    let target = LoadTarget::new(
        cfg.destination.schema.clone(),
        ts.staging.clone(),
        ts.write_mode,
        "plan",
        std::time::Duration::ZERO,
    );
    let stored = match crate::runlog::sync_state::stored_for(cfg, &target) {
        Ok(s) => s,
        Err(e) => {
            return Ok(vec![format!(
                "incremental on {} ({}, {}); the stored watermark is unavailable: {e}",
                cursor.names(),
                cursor.declared,
                cursor.ty.name()
            )])
        }
    };
    src.snapshot(true)?;
    let mut sync = ts.sync.clone();
    sync.nulls = CursorNulls::Exclude;
    let window = incremental::open(cfg.source.driver, src, info, &sync, &stored)?;
    let (nulls, rows) = incremental::counts(cfg.source.driver, src, info, &window)?;
    src.snapshot(false)?;
    let mut lines = vec![
        format!(
            "incremental on {} ({}, stored as {}); settle {} s",
            cursor.names(),
            cursor.declared,
            cursor.ty.name(),
            ts.sync.settle.as_secs()
        ),
        format!(
            "  rows with a NULL cursor: {nulls}{}",
            match (nulls, ts.sync.nulls) {
                (0, _) => "",
                (_, CursorNulls::Error) =>
                    " — INCREMENTAL_NULLS = error: the run would fail this table",
                (_, CursorNulls::Include) => " (read every run: INCREMENTAL_NULLS = include)",
                (_, CursorNulls::Exclude) => " (never read: INCREMENTAL_NULLS = exclude)",
            }
        ),
        format!(
            "  watermark: {}",
            stored
                .watermark
                .as_deref()
                .unwrap_or("none (the next run reads from the start)")
        ),
        format!(
            "  next window: ({}, {}] holding {rows} rows",
            window.lower.as_deref().unwrap_or("start"),
            window.upper.as_deref().unwrap_or("-"),
        ),
    ];
    if let Some(every) = ts.sync.full_refresh_every {
        lines.push(format!(
            "  full refresh every {} s (last: {})",
            every.as_secs(),
            stored.last_full_refresh_at.as_deref().unwrap_or("never")
        ));
    }
    Ok(lines)
}

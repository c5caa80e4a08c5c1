//! `stage state show|reset [--table T]`: incremental tables' watermarks in the run log.

use crate::cli::{StateAction, StateArgs};
use crate::config::Needs;
use crate::error::{Error, Result};
use crate::runlog::sync_state;

pub(super) fn state(args: &StateArgs) -> Result<i32> {
    let (a, reset) = match &args.action {
        StateAction::Show(a) => (a, false),
        StateAction::Reset(a) => (a, true),
    };
    let cfg = super::setup(a.config.as_deref(), Needs { source: false })?;
    if !cfg.settings.run_log {
        return Err(Error::config(
            "[settings] RUN_LOG is off: incremental state lives in the run log's sync_metadata",
        ));
    }
    if let Some(t) = &a.table {
        if !cfg
            .settings
            .tables
            .iter()
            .any(|l| l.eq_ignore_ascii_case(t))
        {
            return Err(Error::config(format!(
                "--table {t} is not in [settings] SRC_TABLES"
            )));
        }
    }
    if reset {
        let done = sync_state::reset(&cfg, a.table.as_deref())?;
        for (table, was) in &done {
            println!(
                "reset {table}: watermark {} cleared",
                was.as_deref().unwrap_or("(none)")
            );
        }
        if done.is_empty() {
            println!("no stored state to reset");
        }
        return Ok(0);
    }
    let rows = sync_state::show(&cfg, a.table.as_deref())?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into())
        );
        return Ok(0);
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut lines = vec![[
        "table".to_string(),
        "mode".into(),
        "cursor".into(),
        "type".into(),
        "watermark".into(),
        "last full refresh".into(),
    ]];
    for r in &rows {
        lines.push([
            r.table.clone(),
            dash(&r.sync_mode),
            dash(&r.cursor_columns),
            dash(&r.cursor_type),
            dash(&r.watermark),
            dash(&r.last_full_refresh_at),
        ]);
    }
    for l in crate::text_table::aligned(&lines) {
        println!("{l}");
    }
    Ok(0)
}

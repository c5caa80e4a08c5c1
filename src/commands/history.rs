//! `stage history`: the archive's committed runs, from the manifests, newest first.

use crate::archive::history::{human_bytes, manifests, RunEntry};
use crate::archive::Store;
use crate::cli::HistoryArgs;
use crate::config::Needs;
use crate::error::Result;

pub(super) fn run(args: &HistoryArgs) -> Result<i32> {
    let cfg = super::setup(args.config.config.as_deref(), Needs { source: false })?;
    let store = Store::for_config(&cfg)?;
    let runs: Vec<RunEntry> = manifests(&store)?
        .iter()
        .filter_map(|m| RunEntry::of(m, args.table.as_deref()))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).expect("history serializes")
        );
        return Ok(0);
    }
    if runs.is_empty() {
        println!("no committed run in {}", store.root);
        return Ok(0);
    }
    let mut lines = vec![[
        "run_id",
        "started_at",
        "mode",
        "table",
        "status",
        "rows",
        "parts",
        "bytes",
    ]
    .map(String::from)
    .to_vec()];
    for r in &runs {
        let mode = match &r.interrupted {
            Some(signal) => format!("{} (interrupted: {signal})", r.mode),
            None => r.mode.clone(),
        };
        for (i, t) in r.tables.iter().enumerate() {
            let first = i == 0;
            lines.push(vec![
                if first {
                    r.run_id.clone()
                } else {
                    String::new()
                },
                if first {
                    r.started_at.get(..19).unwrap_or(&r.started_at).to_string()
                } else {
                    String::new()
                },
                if first { mode.clone() } else { String::new() },
                t.table.clone(),
                format!("{:?}", t.status).to_lowercase(),
                t.rows.to_string(),
                t.parts.to_string(),
                human_bytes(t.bytes),
            ]);
        }
    }
    for l in crate::text_table::aligned(&lines) {
        println!("{l}");
    }
    Ok(0)
}

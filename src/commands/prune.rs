//! `stage prune`: removes old committed runs and folders of killed runs from the archive.

use crate::archive::history::human_bytes;
use crate::archive::retention::{plan, Keep};
use crate::archive::Store;
use crate::cli::PruneArgs;
use crate::config::Needs;
use crate::error::{Error, Result};

pub(super) fn run(args: &PruneArgs) -> Result<i32> {
    let cfg = super::setup(args.config.config.as_deref(), Needs { source: false })?;
    if let Some(d) = args.keep_days {
        if !(d.is_finite() && d > 0.0) {
            return Err(Error::config(format!(
                "--keep-days {d} is invalid: expected a number of days > 0"
            )));
        }
    }
    let store = Store::for_config(&cfg)?;
    let keep = Keep {
        runs: args.keep_runs.map(|n| n as usize).or(cfg.archive.keep_runs),
        days: args.keep_days.or(cfg.archive.keep_days),
        orphan_grace_hours: cfg.archive.orphan_grace_hours,
    };
    let p = plan(&store, keep)?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removing"
    };
    for line in p.lines() {
        println!("{verb} {line}");
    }
    if !args.dry_run {
        p.execute(&store)?;
    }
    println!(
        "{} {} runs and {} folders without a manifest ({}) from {}",
        if args.dry_run {
            "would remove"
        } else {
            "removed"
        },
        p.runs.len(),
        p.orphans.len(),
        human_bytes(p.bytes()),
        store.root
    );
    Ok(0)
}

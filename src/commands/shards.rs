//! `stage plan --shards N`, `stage run --shard I/N --no-load` and `stage commit`: a run
//! split over machines (see [`crate::shard`]).

use std::time::Duration;

use super::{report, setup, tell};
use crate::archive::Store;
use crate::cli::{CommitArgs, PlanArgs, RunArgs, RunIdArgs};
use crate::config::Needs;
use crate::error::{Error, Result};
use crate::monitoring;
use crate::shard::{self, Plan};
use crate::source;
use crate::transfer::{self, Finish};

fn run_id(args: &RunIdArgs, command: &str) -> Result<String> {
    match (&args.run_id, &args.run_key) {
        (Some(id), _) => {
            if id.trim().is_empty() || crate::archive::path_segment(id) != *id {
                return Err(Error::config(format!(
                    "--run-id \"{id}\" is invalid: letters, digits, '_', '-' and '.' only"
                )));
            }
            Ok(id.clone())
        }
        (None, Some(key)) => shard::run_id_from_key(key),
        (None, None) => Err(Error::config(format!(
            "{command} of a sharded run needs --run-id RUN_ID or --run-key KEY"
        ))),
    }
}

/// `stage plan --shards N --run-id R`: makes the plan, or reuses the one already written
/// for the same configuration.
pub(super) fn plan(args: &PlanArgs) -> Result<i32> {
    let Some(shards) = args.shards else {
        return Err(Error::config(
            "--run-id and --run-key plan a sharded run: add --shards N",
        ));
    };
    let mut cfg = setup(args.config.as_deref(), Needs { source: true })?;
    if let Some(t) = &args.tables {
        cfg.override_tables(t)?;
    }
    let run_id = run_id(&args.run_id, "stage plan")?;
    let store = Store::for_config(&cfg)?;
    let path = shard::plan_path(&run_id);
    let reuse = |store: &Store| -> Result<Plan> {
        let found = Plan::read(store, &run_id)?;
        let tables: Vec<_> = cfg.tables().into_iter().filter(|t| t.enabled).collect();
        if found.fingerprint != shard::planner::fingerprint(&cfg, &tables, shards) {
            return Err(Error::config(format!(
                "run {run_id} is already planned ({}/{path}) from a different configuration (tables, their settings, the source or --shards differ): plan a new run id, or use the configuration it was planned with",
                store.root.trim_end_matches('/')
            )));
        }
        Ok(found)
    };
    let plan = if store.exists(&path)? {
        println!("run {run_id}: plan exists for this configuration; reused");
        reuse(&store)?
    } else {
        let mut src = source::open(&cfg.source)?;
        let made = shard::make_plan(&cfg, src.as_mut(), &run_id, shards)?;
        let json = serde_json::to_vec_pretty(&made)
            .map_err(|e| Error::archive("serializing the plan", e))?;
        if store.put_new(&path, json.into())? {
            println!(
                "run {run_id}: plan written to {}/{path}",
                store.root.trim_end_matches('/')
            );
            made
        } else {
            // Another pod of the same Job planned at the same moment: take its plan.
            println!("run {run_id}: planned by another process at the same time; reused");
            reuse(&store)?
        }
    };
    for s in 0..plan.shards {
        let units = plan.units_of(s);
        let rows: u64 = units.iter().map(|u| u.estimated_rows).sum();
        println!("shard {s}: {} units, about {rows} rows", units.len());
        for u in units {
            let what = match &u.range {
                Some(r) => r.condition(|c| c.to_string()),
                None => "whole table".into(),
            };
            println!(
                "  {} {} ({what}): about {} rows",
                u.id, u.table, u.estimated_rows
            );
        }
    }
    Ok(0)
}

/// `stage run --run-id R --shard I/N --no-load`.
pub(super) fn run_shard(args: &RunArgs, finish: Finish) -> Result<i32> {
    if finish == Finish::DumpOnly {
        return Err(Error::config(
            "stage dump does not read shards: use stage run --run-id R --shard I/N --no-load",
        ));
    }
    let Some(text) = &args.shard else {
        return Err(Error::config(
            "--run-id/--run-key with stage run reads one shard: add --shard I/N --no-load (stage commit loads)",
        ));
    };
    if args.tables.is_some() {
        return Err(Error::config(
            "--tables does not apply to a shard: its plan fixes the tables",
        ));
    }
    let (index, shards) = shard::parse_shard(text, |v| std::env::var(v).ok())?;
    let mut cfg = setup(args.config.as_deref(), Needs { source: true })?;
    if let Some(m) = args.mode {
        cfg.override_mode(m.into());
    }
    let run_id = run_id(&args.run_id, "stage run --shard")?;
    let summary = transfer::run_shard(&cfg, &run_id, index, shards)?;
    Ok(report(&summary.tables, "read"))
}

/// `stage commit --run-id R [--wait S]`.
pub(super) fn commit(args: &CommitArgs) -> Result<i32> {
    let cfg = setup(args.config.as_deref(), Needs { source: false })?;
    let run_id = run_id(&args.run_id, "stage commit")?;
    let started = chrono::Utc::now();
    let clock = std::time::Instant::now();
    let summary = match transfer::commit(&cfg, &run_id, Duration::from_secs(args.wait)) {
        Ok(s) => s,
        Err(e) => {
            let failed = tell::RunEnd::failed(&cfg, started, clock, &e);
            monitoring::tell(&cfg.monitoring, &failed);
            return Err(e);
        }
    };
    if let Some(m) = &summary.manifest {
        println!("manifest: {m}");
    }
    let code = report(&summary.tables, "staged");
    let ended = tell::RunEnd::of(&cfg, started, clock, &summary, code);
    monitoring::tell(&cfg.monitoring, &ended);
    Ok(code)
}

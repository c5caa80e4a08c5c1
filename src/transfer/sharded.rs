//! A sharded run's two halves that move data (see [`crate::shard`]): `stage run --shard I/N
//! --no-load` reads one shard's units into parts and writes its shard file last;
//! `stage commit` merges every shard file into the run's manifest (create-only: the single
//! commit point) and loads the staging tables like the load half of DUMP.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::dump::dump_table;
use super::from_manifest::load_tables;
use super::heal::Links;
use super::ledger;
use super::outcome::{RunSummary, TableOutcome};
use super::parallel::each;
use super::Job;
use crate::archive::{manifest_path, Manifest, Store, TableEntry, TableStatus};
use crate::config::{Config, TableSettings};
use crate::dialect::Dialect;
use crate::error::{Error, ErrorClass, Result};
use crate::interrupt;
use crate::progress::Progress;
use crate::shard::{self, Plan, ShardFile, UnitResult};
use crate::source::TableRef;

/// The plan of `run_id`, checked against this configuration and shard count.
fn checked_plan(cfg: &Config, store: &Store, run_id: &str, shards: Option<usize>) -> Result<Plan> {
    let plan = Plan::read(store, run_id)?;
    if let Some(n) = shards {
        if n != plan.shards {
            return Err(Error::config(format!(
                "--shard …/{n}: run {run_id} was planned with {} shards",
                plan.shards
            )));
        }
    }
    let tables: Vec<TableSettings> = cfg.tables().into_iter().filter(|t| t.enabled).collect();
    if shard::planner::fingerprint(cfg, &tables, plan.shards) != plan.fingerprint {
        return Err(Error::config(format!(
            "run {run_id} was planned from a different configuration (tables, their settings, the source or the shard count differ): use the same INI file, or plan a new run id"
        )));
    }
    Ok(plan)
}

/// `stage run --run-id R --shard I/N --no-load`.
pub fn run_shard(cfg: &Config, run_id: &str, index: usize, shards: usize) -> Result<RunSummary> {
    let store = Store::for_config(cfg)?;
    let plan = checked_plan(cfg, &store, run_id, Some(shards))?;
    interrupt::install();
    let mut links = Links::new(cfg);
    links.source()?;
    let dialect = Dialect::of(cfg.source.driver);
    let units = plan.units_of(index);
    let jobs: Vec<Job> = units
        .iter()
        .map(|u| {
            let mut settings = cfg.table(&u.table);
            if let Some(range) = &u.range {
                let f = shard::planner::unit_filter(dialect, settings.filter.as_deref(), range);
                settings.filter = Some(f);
            }
            Job {
                table: TableRef::new(&u.table, cfg.source.schema.as_deref()),
                settings,
                unit: Some(u.id.clone()),
                merge: None,
            }
        })
        .collect();
    tracing::info!(
        run_id,
        shard = index,
        shards,
        units = jobs.len(),
        "shard started"
    );
    let progress = Progress::new(jobs.len());
    let order: Vec<usize> = (0..jobs.len()).collect();
    let done = each(
        cfg,
        cfg.settings.parallel_tables,
        &mut links,
        &order,
        |i, links| {
            if let Some(signal) = interrupt::received() {
                return Err(Error::Interrupted { signal });
            }
            links.before_table(&jobs[i].table.display());
            Ok(dump_table(
                cfg, links, &store, run_id, &jobs[i], i, &progress,
            ))
        },
    );
    links.close_source();
    let mut results = Vec::new();
    let mut outcomes = Vec::new();
    for (unit, r) in units.iter().zip(done) {
        let shown = format!("{} ({})", unit.table, unit.id);
        match r {
            Ok((entry, dumped)) => {
                outcomes.push(TableOutcome {
                    table: shown,
                    rows: entry.rows,
                    error: entry.error.clone(),
                    class: entry.error.as_ref().map(|_| ErrorClass::Other),
                    seconds: dumped.seconds,
                    attempts: dumped.attempts.max(1),
                });
                results.push(UnitResult {
                    id: unit.id.clone(),
                    table: unit.table.clone(),
                    status: entry.status,
                    error: entry.error,
                    rows: entry.rows,
                    columns: entry.columns,
                    parts: entry.parts,
                });
            }
            Err(e) => outcomes.push(TableOutcome {
                table: shown,
                rows: 0,
                error: Some(e.to_string()),
                class: Some(e.class()),
                seconds: 0.0,
                attempts: 0,
            }),
        }
    }
    let summary = RunSummary {
        run_id: run_id.to_string(),
        tables: outcomes,
        manifest: None,
    };
    if interrupt::received().is_some() {
        // No shard file: the shard is not done, and its retry starts over.
        return Ok(summary);
    }
    interrupt::pause_point("shard-file");
    let file = ShardFile {
        run_id: run_id.to_string(),
        shard: index,
        shards,
        finished_at: chrono::Utc::now().to_rfc3339(),
        units: results,
    };
    let json = serde_json::to_vec_pretty(&file)
        .map_err(|e| Error::archive("serializing the shard file", e))?;
    store.put(&shard::shard_path(run_id, index), json.into())?;
    tracing::info!(run_id, shard = index, "shard file written");
    Ok(summary)
}

/// `stage commit --run-id R [--wait S]`: waits for every shard file, merges them into the
/// manifest (create-only), then loads the staging tables.
pub fn commit(cfg: &Config, run_id: &str, wait: Duration) -> Result<RunSummary> {
    let store = Store::for_config(cfg)?;
    let plan = checked_plan(cfg, &store, run_id, None)?;
    let manifest_at = manifest_path(run_id);
    let committed = || Error::AlreadyCommitted {
        run_id: run_id.to_string(),
        manifest: format!("{}/{manifest_at}", store.root.trim_end_matches('/')),
    };
    if store.exists(&manifest_at)? {
        return Err(committed());
    }
    let started = Instant::now();
    loop {
        let mut missing = Vec::new();
        for i in 0..plan.shards {
            if !store.exists(&shard::shard_path(run_id, i))? {
                missing.push(i.to_string());
            }
        }
        if missing.is_empty() {
            break;
        }
        if started.elapsed() >= wait {
            return Err(Error::ShardsMissing {
                run_id: run_id.to_string(),
                missing: missing.join(", "),
                shards: plan.shards,
                waited_seconds: started.elapsed().as_secs(),
                where_: format!("{}/{}/{run_id}/shards", store.root, shard::RUNS_DIR),
            });
        }
        interrupt::check()?;
        std::thread::sleep(Duration::from_millis(500).min(wait.saturating_sub(started.elapsed())));
    }
    let mut by_unit: HashMap<String, UnitResult> = HashMap::new();
    for i in 0..plan.shards {
        let file = ShardFile::read(&store, run_id, i)?;
        if file.run_id != run_id || file.shard != i || file.shards != plan.shards {
            return Err(Error::Check(format!(
                "{} does not belong to shard {i} of {} of run {run_id}",
                shard::shard_path(run_id, i),
                plan.shards
            )));
        }
        let expected: Vec<&str> = plan.units_of(i).iter().map(|u| u.id.as_str()).collect();
        let got: Vec<&str> = file.units.iter().map(|u| u.id.as_str()).collect();
        if expected != got {
            return Err(Error::Check(format!(
                "shard {i} of run {run_id} read units {got:?}, but the plan gives it {expected:?}"
            )));
        }
        for u in file.units {
            by_unit.insert(u.id.clone(), u);
        }
    }
    let entries = merge(&plan, &mut by_unit);
    let started_at = chrono::DateTime::parse_from_rfc3339(&plan.created_at)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let manifest = Manifest::for_run(cfg, run_id, started_at, None, entries);
    remove_unlisted_parts(&store, &manifest)?;
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::archive("serializing the manifest", e))?;
    interrupt::pause_point("commit");
    if !store.put_new(&manifest_at, json.into())? {
        return Err(committed());
    }
    let shown = format!("{}/{manifest_at}", store.root.trim_end_matches('/'));
    tracing::info!(manifest = %shown, "run committed");
    let mut links = Links::new(cfg);
    links.destination()?;
    let log = ledger::open(cfg, run_id, started_at);
    let progress = Progress::new(manifest.tables.len());
    let tables = load_tables(
        cfg,
        &manifest,
        &store,
        &mut links,
        &progress,
        ledger::Ledger(log.as_ref()),
        &[],
    );
    let summary = RunSummary {
        run_id: run_id.to_string(),
        tables,
        manifest: Some(shown),
    };
    let bytes = manifest
        .tables
        .iter()
        .flat_map(|e| &e.parts)
        .map(|p| p.bytes)
        .sum();
    ledger::finish(log, &summary, Some(bytes));
    Ok(summary)
}

/// One manifest entry per planned table: its units' parts in plan order, or the failure of
/// the first unit that failed, or a schema disagreement between units.
fn merge(plan: &Plan, by_unit: &mut HashMap<String, UnitResult>) -> Vec<TableEntry> {
    let mut entries: Vec<TableEntry> = Vec::new();
    for unit in &plan.units {
        let r = by_unit.remove(&unit.id).expect("every unit checked above");
        let entry = match entries.iter_mut().find(|e| e.source_table == r.table) {
            Some(e) => e,
            None => {
                let mut e = TableEntry::failed(r.table.clone(), unit.staging_table.clone(), None);
                e.status = TableStatus::Complete;
                e.columns = r.columns.clone();
                entries.push(e);
                entries.last_mut().expect("just pushed")
            }
        };
        if entry.status == TableStatus::Failed {
            continue;
        }
        let failure = if r.status == TableStatus::Failed {
            Some(format!(
                "unit {} failed: {}",
                r.id,
                r.error.as_deref().unwrap_or("no message")
            ))
        } else if r.columns != entry.columns {
            Some(format!(
                "unit {} read other columns than the table's first unit (the source table changed between the shards' reads): {:?} against {:?}",
                r.id,
                r.columns.iter().map(|c| format!("{} {}", c.name, c.arrow_type)).collect::<Vec<_>>(),
                entry.columns.iter().map(|c| format!("{} {}", c.name, c.arrow_type)).collect::<Vec<_>>()
            ))
        } else {
            None
        };
        match failure {
            Some(message) => {
                entry.status = TableStatus::Failed;
                entry.error = Some(message);
                entry.rows = 0;
                entry.parts.clear();
            }
            None => {
                entry.rows += r.rows;
                entry.parts.extend(r.parts);
            }
        }
    }
    entries
}

/// Deletes files in the run's table folders that the manifest does not list (a retried
/// shard that wrote fewer parts than its first attempt), so a reader of the folders sees
/// exactly the committed parts.
fn remove_unlisted_parts(store: &Store, manifest: &Manifest) -> Result<()> {
    let listed: std::collections::HashSet<&str> = manifest
        .tables
        .iter()
        .flat_map(|e| e.parts.iter().map(|p| p.path.as_str()))
        .collect();
    let mut dirs: Vec<String> = manifest
        .tables
        .iter()
        .map(|e| crate::archive::table_dir(&e.staging_table, &manifest.run_id))
        .collect();
    dirs.dedup();
    for dir in dirs {
        for path in store.list(&dir)?.into_iter().map(|o| o.path) {
            if !listed.contains(path.as_str()) {
                tracing::info!(path = %path, "removed a part no shard file lists");
                store.delete(&path)?;
            }
        }
    }
    Ok(())
}

//! A run split over machines: `stage plan --shards N` cuts the run's tables into units
//! (whole tables, or key ranges of big ones plus their `key IS NULL` rows), packs them
//! into N shards and writes the plan; `stage run --shard I/N --no-load` reads one shard's
//! units into parts and writes its shard file; `stage commit` merges the shard files into
//! the run's manifest and loads the staging tables. The three coordinate only through the
//! archive, with create-only writes:
//!
//! ```text
//! _runs/<run_id>/plan.json          create-only: the first `plan` writes it, later ones reuse it
//! _runs/<run_id>/shards/<I>.json    written last by shard I (a retried shard rewrites it)
//! _manifests/<run_id>.json          create-only: the single commit point
//! ```
//!
//! Part names are fixed by the plan (`<table>_<unit>_partNNNN.parquet`), so shards never
//! collide and a retried shard overwrites only its own files.

pub mod planner;

use serde::{Deserialize, Serialize};

pub use planner::make_plan;

use crate::archive::manifest::ColumnEntry;
use crate::archive::{PartEntry, Store, TableStatus};
use crate::error::{Error, Result};

/// Folder of the sharded runs' coordination files under the archive root.
pub const RUNS_DIR: &str = "_runs";

/// The environment variables an orchestrator sets to a task's index, in the order looked at.
pub const INDEX_VARIABLES: [&str; 3] = [
    "JOB_COMPLETION_INDEX",
    "CLOUD_RUN_TASK_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
];

pub fn plan_path(run_id: &str) -> String {
    format!("{RUNS_DIR}/{run_id}/plan.json")
}

pub fn shard_path(run_id: &str, shard: usize) -> String {
    format!("{RUNS_DIR}/{run_id}/shards/{shard}.json")
}

/// The run's plan: every unit and the shard that reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub run_id: String,
    pub tool_version: String,
    /// SHA-256 of what the plan was made from (tables, their settings, the source, N):
    /// a second `plan` for the same run id must come from the same configuration.
    pub fingerprint: String,
    pub shards: usize,
    pub created_at: String,
    pub units: Vec<Unit>,
}

/// One unit of work: a table, or one key range of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unit {
    /// `u0000`, `u0001`, …: fixes the unit's part names.
    pub id: String,
    /// As listed in `SRC_TABLES`.
    pub table: String,
    pub staging_table: String,
    /// The rows of the unit; `None`: the whole table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<KeyRange>,
    /// The catalog's estimate at planning time (bin-packing weight).
    pub estimated_rows: u64,
    pub shard: usize,
}

/// Rows whose integer `column` is in `[from, to)` (an absent end is open), or those whose
/// `column` is NULL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyRange {
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    #[serde(default)]
    pub nulls: bool,
}

impl KeyRange {
    /// The range as a SQL condition, the column quoted by `quote`.
    pub fn condition(&self, quote: impl Fn(&str) -> String) -> String {
        let c = quote(&self.column);
        if self.nulls {
            return format!("{c} IS NULL");
        }
        match (self.from, self.to) {
            (Some(a), Some(b)) => format!("{c} >= {a} AND {c} < {b}"),
            (Some(a), None) => format!("{c} >= {a}"),
            (None, Some(b)) => format!("{c} < {b}"),
            (None, None) => format!("{c} IS NOT NULL"),
        }
    }
}

/// What shard `shard` read: written last, so its presence means the shard is done.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardFile {
    pub run_id: String,
    pub shard: usize,
    pub shards: usize,
    pub finished_at: String,
    pub units: Vec<UnitResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnitResult {
    pub id: String,
    pub table: String,
    pub status: TableStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rows: u64,
    pub columns: Vec<ColumnEntry>,
    pub parts: Vec<PartEntry>,
}

impl Plan {
    pub fn read(store: &Store, run_id: &str) -> Result<Plan> {
        let path = plan_path(run_id);
        if !store.exists(&path)? {
            return Err(Error::config(format!(
                "run {run_id} has no plan in {} ({path}): run `stage plan --shards N --run-id {run_id}` first",
                store.root
            )));
        }
        let bytes = store.get(&path)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Check(format!(
                "{path} in {}: not a plan stage wrote: {e}",
                store.root
            ))
        })
    }

    /// The units shard `shard` reads, in plan order.
    pub fn units_of(&self, shard: usize) -> Vec<&Unit> {
        self.units.iter().filter(|u| u.shard == shard).collect()
    }
}

impl ShardFile {
    pub fn read(store: &Store, run_id: &str, shard: usize) -> Result<ShardFile> {
        let path = shard_path(run_id, shard);
        let bytes = store.get(&path)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Check(format!(
                "{path} in {}: not a shard file stage wrote: {e}",
                store.root
            ))
        })
    }
}

/// `--shard I/N`, or `--shard N` with the index from the orchestrator's environment.
pub fn parse_shard(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<(usize, usize)> {
    let bad = |why: &str| {
        Error::config(format!(
            "--shard \"{text}\" is invalid: {why} (expected I/N, e.g. 0/3, or N with the index in {})",
            INDEX_VARIABLES.join(", ")
        ))
    };
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| bad("not a whole number"))
    };
    let (index, total) = match text.split_once('/') {
        Some((i, n)) => (number(i)?, number(n)?),
        None => {
            let total = number(text)?;
            let found = INDEX_VARIABLES
                .iter()
                .find_map(|v| env(v).map(|value| (*v, value)));
            let Some((var, value)) = found else {
                return Err(bad("no index given and none of the index variables is set"));
            };
            let index = value
                .trim()
                .parse::<usize>()
                .map_err(|_| Error::config(format!("{var} = \"{value}\" is not a whole number")))?;
            (index, total)
        }
    };
    if total == 0 || index >= total {
        return Err(bad(&format!(
            "index {index} is not below the shard count {total}"
        )));
    }
    Ok((index, total))
}

/// The run id of a sharded run named by `--run-key` (every pod of one Job gives the same
/// key, so all agree on the run without talking to each other): the key made safe as a
/// path segment.
pub fn run_id_from_key(key: &str) -> Result<String> {
    if key.trim().is_empty() {
        return Err(Error::config("--run-key is empty"));
    }
    Ok(crate::archive::path_segment(key.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(c: &str) -> String {
        format!("\"{c}\"")
    }

    #[test]
    fn ranges_cover_every_row_once() {
        let r = |from, to, nulls| KeyRange {
            column: "id".into(),
            from,
            to,
            nulls,
        };
        assert_eq!(r(None, Some(10), false).condition(quote), "\"id\" < 10");
        assert_eq!(
            r(Some(10), Some(20), false).condition(quote),
            "\"id\" >= 10 AND \"id\" < 20"
        );
        assert_eq!(r(Some(20), None, false).condition(quote), "\"id\" >= 20");
        assert_eq!(r(None, None, true).condition(quote), "\"id\" IS NULL");
    }

    #[test]
    fn shard_indexes_come_from_the_flag_or_the_orchestrator() {
        let none = |_: &str| None;
        assert_eq!(parse_shard("1/3", none).unwrap(), (1, 3));
        assert!(parse_shard("3/3", none).is_err());
        assert!(parse_shard("x/3", none).is_err());
        let k8s = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "2".to_string());
        assert_eq!(parse_shard("3", k8s).unwrap(), (2, 3));
        let batch = |v: &str| (v == "AWS_BATCH_JOB_ARRAY_INDEX").then(|| "0".to_string());
        assert_eq!(parse_shard("2", batch).unwrap(), (0, 2));
        let err = parse_shard("3", none).unwrap_err().to_string();
        assert!(err.contains("JOB_COMPLETION_INDEX"), "{err}");
    }

    #[test]
    fn run_keys_become_safe_run_ids() {
        assert_eq!(
            run_id_from_key("stage-nightly-29012345").unwrap(),
            "stage-nightly-29012345"
        );
        assert!(run_id_from_key("a/b").unwrap().starts_with("a_b-"));
        assert!(run_id_from_key(" ").is_err());
    }
}

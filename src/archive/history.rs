//! The archive's history: its committed runs, read from the manifests (`_manifests/*.json`),
//! newest first. A run whose manifest is gone (pruned, or never written because the run was
//! killed) is not part of the history, whatever files are left.

use serde::Serialize;

use super::{Manifest, Store, TableStatus, MANIFEST_DIR};
use crate::error::Result;

/// One committed run, as `stage history` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunEntry {
    pub run_id: String,
    pub mode: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub tables: Vec<TableRun>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableRun {
    pub table: String,
    pub source_table: String,
    pub status: TableStatus,
    pub rows: u64,
    pub parts: usize,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The run ids that have a manifest, newest first (run ids sort by their start time).
pub fn committed_run_ids(store: &Store) -> Result<Vec<String>> {
    let mut ids: Vec<String> = store
        .list(MANIFEST_DIR)?
        .into_iter()
        .filter_map(|o| {
            let name = o.path.rsplit('/').next()?.to_string();
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    ids.sort();
    ids.reverse();
    Ok(ids)
}

/// Every committed run's manifest, newest first (by start time, then run id: two runs
/// started in the same second have ids that do not sort by time).
pub fn manifests(store: &Store) -> Result<Vec<Manifest>> {
    let mut out = Vec::new();
    for id in committed_run_ids(store)? {
        // A manifest pruned between the listing and the read is simply gone.
        if let Some(m) = Manifest::read(store, &id)? {
            out.push(m);
        }
    }
    out.sort_by(|a, b| (started(b), &b.run_id).cmp(&(started(a), &a.run_id)));
    Ok(out)
}

/// The start time of a run: its manifest's `started_at`, else its id's timestamp.
pub fn started(m: &Manifest) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(&m.started_at)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|| {
            let stamp = m.run_id.get(..16)?;
            chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
                .ok()
                .map(|t| t.and_utc())
        })
}

impl RunEntry {
    /// The run of `m`, with only `table` (staging or source name, any case) when given;
    /// `None` when the run has no such table.
    pub fn of(m: &Manifest, table: Option<&str>) -> Option<RunEntry> {
        let tables: Vec<TableRun> = m
            .tables
            .iter()
            .filter(|t| {
                table.is_none_or(|w| {
                    t.staging_table.eq_ignore_ascii_case(w)
                        || t.source_table.eq_ignore_ascii_case(w)
                })
            })
            .map(|t| TableRun {
                table: t.staging_table.clone(),
                source_table: t.source_table.clone(),
                status: t.status,
                rows: t.rows,
                parts: t.parts.len(),
                bytes: t.parts.iter().map(|p| p.bytes).sum(),
                error: t.error.clone(),
            })
            .collect();
        if table.is_some() && tables.is_empty() {
            return None;
        }
        Some(RunEntry {
            run_id: m.run_id.clone(),
            mode: m.mode.clone(),
            started_at: m.started_at.clone(),
            finished_at: m.finished_at.clone(),
            interrupted: m.interrupted.clone(),
            tables,
        })
    }
}

/// Bytes for people: `950 B`, `12.3 KB`, `4.0 MB`, `1.2 GB` (powers of 1000).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(12_345), "12.3 KB");
        assert_eq!(human_bytes(4_000_000), "4.0 MB");
        assert_eq!(human_bytes(1_200_000_000), "1.2 GB");
    }
}

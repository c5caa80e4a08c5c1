//! Making a sharded run's plan: size each table from the catalog, split the big ones into
//! key ranges (plus their NULL-key rows), and pack the units into N shards, largest first.

use sha2::{Digest, Sha256};

use super::{KeyRange, Plan, Unit};
use crate::config::sync::SyncMode;
use crate::config::{Config, TableSettings, WriteMode};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::source::{Source, TableInfo, TableRef};

/// The plan of run `run_id` over `shards` shards, from the source's catalog.
pub fn make_plan(cfg: &Config, src: &mut dyn Source, run_id: &str, shards: usize) -> Result<Plan> {
    if shards == 0 {
        return Err(Error::config("--shards must be at least 1"));
    }
    let tables: Vec<TableSettings> = cfg.tables().into_iter().filter(|t| t.enabled).collect();
    check_connections(cfg, &tables, shards)?;
    for ts in &tables {
        if ts.sync.mode == SyncMode::Incremental || ts.write_mode == WriteMode::Merge {
            return Err(Error::config(format!(
                "[table:{}]: a sharded run copies whole tables (SYNC_MODE = full, WRITE_MODE replace/append/truncate); run incremental and merge tables in a single-process run (leave them out with --tables or ENABLED = false)",
                ts.name
            )));
        }
    }
    let mut units = Vec::new();
    for ts in &tables {
        let table = TableRef::new(&ts.name, cfg.source.schema.as_deref());
        let mut info = src.describe(&table)?;
        info.filter = ts.filter.clone();
        let estimate = match src.estimate_rows(&table) {
            Some(n) => n,
            None => src.count_rows(&info)?,
        };
        for (range, rows) in split(cfg, src, ts, &info, estimate)? {
            units.push(Unit {
                id: format!("u{:04}", units.len()),
                table: ts.name.clone(),
                staging_table: ts.staging.clone(),
                range,
                estimated_rows: rows,
                shard: 0,
            });
        }
    }
    pack(&mut units, shards);
    Ok(Plan {
        run_id: run_id.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        fingerprint: fingerprint(cfg, &tables, shards),
        shards,
        created_at: chrono::Utc::now().to_rfc3339(),
        units,
    })
}

/// What a plan is made from, hashed: a second `plan` of the same run must agree.
pub fn fingerprint(cfg: &Config, tables: &[TableSettings], shards: usize) -> String {
    let s = &cfg.source;
    let text = format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{shards}|{}|{tables:?}",
        s.driver.name(),
        s.host,
        s.port,
        s.database,
        s.schema,
        cfg.settings.shard_min_rows
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `SOURCE_MAX_CONNECTIONS` bounds what all shards may open at once.
fn check_connections(cfg: &Config, tables: &[TableSettings], shards: usize) -> Result<()> {
    let Some(max) = cfg.settings.source_max_connections else {
        return Ok(());
    };
    let per_table = tables.iter().map(|t| t.read_connections).max().unwrap_or(1);
    let per_shard = cfg.settings.parallel_tables * per_table;
    if shards * per_shard > max {
        return Err(Error::config(format!(
            "[settings] SOURCE_MAX_CONNECTIONS = {max} is below what {shards} shards open at once ({shards} × PARALLEL_TABLES {} × READ_CONNECTIONS {per_table} = {}): plan fewer shards or raise the limit",
            cfg.settings.parallel_tables,
            shards * per_shard
        )));
    }
    Ok(())
}

/// The units of one table: itself, or key ranges of at most about `SHARD_MIN_ROWS` rows
/// each plus the rows whose key is NULL.
fn split(
    cfg: &Config,
    src: &mut dyn Source,
    ts: &TableSettings,
    info: &TableInfo,
    estimate: u64,
) -> Result<Vec<(Option<KeyRange>, u64)>> {
    let min_rows = cfg.settings.shard_min_rows.max(1);
    if estimate <= min_rows || ts.row_limit.is_some() {
        return Ok(vec![(None, estimate)]);
    }
    let Some(column) = key_column(src, ts, info)? else {
        tracing::warn!(
            table = %ts.name,
            "about {estimate} rows but no integer key to split on: one unit (set [table:{}] PARTITION_COLUMN to an integer column)",
            ts.name
        );
        return Ok(vec![(None, estimate)]);
    };
    let Some((lo, hi)) = src.key_bounds(info, &column)? else {
        return Ok(vec![(None, estimate)]);
    };
    let span = hi as i128 - lo as i128 + 1;
    let pieces = (estimate.div_ceil(min_rows) as i128).clamp(1, span);
    let width = (span + pieces - 1) / pieces;
    let each = estimate / pieces as u64;
    let mut out = Vec::new();
    for k in 0..pieces {
        let from = (k > 0).then(|| (lo as i128 + k * width) as i64);
        let to = (k + 1 < pieces).then(|| (lo as i128 + (k + 1) * width) as i64);
        let range = KeyRange {
            column: column.clone(),
            from,
            to,
            nulls: false,
        };
        out.push((Some(range), each));
    }
    let nullable = info.columns.iter().any(|c| c.name == column && c.nullable);
    if nullable {
        let range = KeyRange {
            column,
            from: None,
            to: None,
            nulls: true,
        };
        out.push((Some(range), 0));
    }
    tracing::info!(table = %ts.name, units = out.len(), "split into key ranges of about {each} rows");
    Ok(out)
}

/// `PARTITION_COLUMN` (an integer column), else a single-column integer primary key.
fn key_column(
    src: &mut dyn Source,
    ts: &TableSettings,
    info: &TableInfo,
) -> Result<Option<String>> {
    let integer = |name: &str| {
        info.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| (c.name.clone(), c.arrow_type.is_integer()))
    };
    if let Some(wanted) = &ts.partition_column {
        return match integer(wanted) {
            Some((name, true)) => Ok(Some(name)),
            Some((name, false)) => Err(Error::column(
                &info.table.display(),
                &name,
                format!("[table:{}] PARTITION_COLUMN must name an integer column to split the table into shards", ts.name),
            )),
            None => Err(Error::config(format!(
                "[table:{}] PARTITION_COLUMN = \"{wanted}\" is not a column of {}",
                ts.name,
                info.table.display()
            ))),
        };
    }
    let pk = src.primary_key(info).unwrap_or_default();
    Ok(match pk.as_slice() {
        [one] => integer(one).and_then(|(name, int)| int.then_some(name)),
        _ => None,
    })
}

/// Assigns each unit a shard: largest first, each to the shard with the fewest rows so far.
fn pack(units: &mut [Unit], shards: usize) {
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(units[i].estimated_rows));
    let mut load = vec![0u64; shards];
    for i in order {
        let (shard, _) = load
            .iter()
            .enumerate()
            .min_by_key(|(s, rows)| (**rows, *s))
            .expect("at least one shard");
        units[i].shard = shard;
        load[shard] += units[i].estimated_rows.max(1);
    }
}

/// The condition a unit adds to its table's reads (ANDed with the table's own `WHERE`).
pub fn unit_filter(dialect: Dialect, table_filter: Option<&str>, range: &KeyRange) -> String {
    let own = range.condition(|c| dialect.quote(c));
    match table_filter {
        Some(f) => format!("({f}) AND ({own})"),
        None => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(rows: u64) -> Unit {
        Unit {
            id: String::new(),
            table: "t".into(),
            staging_table: "t".into(),
            range: None,
            estimated_rows: rows,
            shard: 0,
        }
    }

    #[test]
    fn packing_puts_the_largest_units_on_different_shards() {
        let mut units: Vec<Unit> = [10, 90, 50, 40, 5].into_iter().map(unit).collect();
        pack(&mut units, 2);
        let shard_rows = |s| -> u64 {
            units
                .iter()
                .filter(|u| u.shard == s)
                .map(|u| u.estimated_rows)
                .sum()
        };
        assert_eq!(units[1].shard, 0);
        assert_eq!(units[2].shard, 1);
        assert_eq!(shard_rows(0) + shard_rows(1), 195);
        assert!(shard_rows(0).abs_diff(shard_rows(1)) <= 10);
    }

    #[test]
    fn a_unit_filter_keeps_the_tables_own_where() {
        let r = KeyRange {
            column: "id".into(),
            from: Some(5),
            to: None,
            nulls: false,
        };
        assert_eq!(
            unit_filter(Dialect::Postgres, Some("kind = 'a'"), &r),
            "(kind = 'a') AND (\"id\" >= 5)"
        );
    }
}

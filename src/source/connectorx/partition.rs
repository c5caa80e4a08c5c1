//! CONNECTORX mode's partition rules: which column a read is partitioned on, and the
//! queries of a partitioned read, in waves (see the parent module's comment on memory).

use super::{Source, TableInfo};
use crate::error::{Error, Result};

/// What a partitioned read knows of its key column.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyStats {
    pub(super) min: i64,
    pub(super) max: i64,
    pub(super) count: u64,
}

/// A partition query should hold about this many chunks (see the module comment).
pub(super) const WAVE_CHUNKS: u64 = 2;

/// The queries of a partitioned read, in waves of `n`: key ranges over `[min, max]` sized
/// for about `per_query` rows each (at least `n` ranges), then one query for the NULLs in
/// the last wave. No row falls between two ranges.
pub(super) fn waves(
    base: &str,
    col: &str,
    stats: Option<KeyStats>,
    n: usize,
    per_query: u64,
) -> Vec<Vec<String>> {
    let n = n.max(1);
    let ranges = stats.map_or(0, |s| {
        let wanted = s.count.div_ceil(per_query.max(1)).max(1) as usize;
        // A multiple of n, so every wave keeps every partition busy.
        wanted.div_ceil(n) * n
    });
    let mut queries = partition_queries(base, col, stats.map(|s| (s.min, s.max)), ranges);
    let nulls = queries.pop().expect("the NULL query is always last");
    let mut out: Vec<Vec<String>> = queries.chunks(n).map(<[String]>::to_vec).collect();
    match out.last_mut() {
        Some(last) => last.push(nulls),
        None => out.push(vec![nulls]),
    }
    out
}

/// `N` range queries over `[min, max]` plus one for NULLs; no row falls between them.
fn partition_queries(base: &str, col: &str, bounds: Option<(i64, i64)>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some((min, max)), true) = (bounds, n > 0) {
        let span = (max as i128 - min as i128 + 1).max(1);
        let step = (span + n as i128 - 1) / n as i128;
        let mut lo = min as i128;
        while lo <= max as i128 {
            let hi = lo + step;
            if hi > max as i128 {
                out.push(format!("{base} WHERE {col} >= {lo} AND {col} <= {max}"));
            } else {
                out.push(format!("{base} WHERE {col} >= {lo} AND {col} < {hi}"));
            }
            lo = hi;
        }
    }
    out.push(format!("{base} WHERE {col} IS NULL"));
    out
}

/// `PARTITION_COLUMN` when set (it must be an integer column of the table), else a
/// single-column integer primary key, else none.
pub(super) fn partition_column(
    wanted: Option<&str>,
    src: &mut dyn Source,
    info: &TableInfo,
) -> Result<Option<String>> {
    let is_int = |name: &str| {
        info.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| (c.name.clone(), c.arrow_type.is_integer()))
    };
    if let Some(wanted) = wanted {
        return match is_int(wanted) {
            Some((name, true)) => Ok(Some(name)),
            Some((name, false)) => Err(Error::column(
                &info.table.display(),
                &name,
                "[settings] PARTITION_COLUMN must name an integer column",
            )),
            None => Err(Error::Check(format!(
                "table {}: [settings] PARTITION_COLUMN = \"{wanted}\" is not a column of this table",
                info.table.display()
            ))),
        };
    }
    // Also with PARTITION_NUM = 1: a single-column integer key lets even an unpartitioned
    // read go in waves, so ConnectorX's unbounded channel never holds the whole table.
    let pk = src.primary_key(info)?;
    Ok(match pk.as_slice() {
        [one] => is_int(one).and_then(|(name, int)| int.then_some(name)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_the_range_and_nulls() {
        let q = partition_queries("SELECT x FROM t", "\"id\"", Some((1, 10)), 3);
        assert_eq!(
            q,
            [
                "SELECT x FROM t WHERE \"id\" >= 1 AND \"id\" < 5",
                "SELECT x FROM t WHERE \"id\" >= 5 AND \"id\" < 9",
                "SELECT x FROM t WHERE \"id\" >= 9 AND \"id\" <= 10",
                "SELECT x FROM t WHERE \"id\" IS NULL",
            ]
        );
        let q = partition_queries("S", "c", Some((i64::MIN, i64::MAX)), 2);
        assert_eq!(q.len(), 3);
        assert_eq!(partition_queries("S", "c", None, 4), ["S WHERE c IS NULL"]);
    }

    #[test]
    fn a_partitioned_read_comes_in_waves_of_partition_num_ranges() {
        let stats = |count| {
            Some(KeyStats {
                min: 1,
                max: 1_000_000,
                count,
            })
        };
        // 1M keys, 100k rows per query, 2 partitions: 10 ranges in 5 waves of 2, NULLs last.
        let w = waves("S", "k", stats(1_000_000), 2, 100_000);
        assert_eq!(w.len(), 5);
        assert!(w.iter().all(|wave| wave.len() == 2 || wave.len() == 3));
        assert_eq!(w[0][0], "S WHERE k >= 1 AND k < 100001");
        assert_eq!(w[4][1], "S WHERE k >= 900001 AND k <= 1000000");
        assert_eq!(w[4][2], "S WHERE k IS NULL");
        // Small tables: one wave of n ranges; no key values: only the NULL query.
        let w = waves("S", "k", stats(10), 4, 100_000);
        assert_eq!((w.len(), w[0].len()), (1, 5));
        assert_eq!(waves("S", "k", None, 4, 100), [["S WHERE k IS NULL"]]);
        // Ranges never leave a key out: consecutive bounds meet.
        let w = waves("S", "k", stats(999_999), 3, 70_000);
        let flat: Vec<&String> = w.iter().flatten().collect();
        for pair in flat.windows(2) {
            let hi = pair[0].split("k < ").nth(1);
            let lo = pair[1]
                .split("k >= ")
                .nth(1)
                .map(|r| r.split(' ').next().unwrap());
            if let (Some(hi), Some(lo)) = (hi, lo) {
                assert_eq!(hi, lo);
            }
        }
        assert_eq!(flat.len(), 15 + 1);
    }
}

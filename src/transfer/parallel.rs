//! `[settings] PARALLEL_TABLES`: several tables in flight at once, each worker on source and
//! destination connections of its own, the largest tables first, each table failing alone.
//!
//! Memory stays bounded by chunk size × parallel tables × read connections: a worker holds
//! one table's batches in flight (its relay holds one), never a whole table.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::heal::Links;
use crate::config::Config;

/// Runs `work` once per index of `order` (largest first) and returns the results by index
/// (0..order.len()). With one worker it runs on the caller's `links`, in `order`; with more,
/// each worker thread opens its own connections as it needs them.
pub(super) fn each<T: Send>(
    cfg: &Config,
    workers: usize,
    links: &mut Links<'_>,
    order: &[usize],
    work: impl Fn(usize, &mut Links<'_>) -> T + Sync,
) -> Vec<T> {
    let n = order.len();
    if workers <= 1 || n <= 1 {
        let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
        for &i in order {
            out[i] = Some(work(i, links));
        }
        return out
            .into_iter()
            .map(|o| o.expect("every index ran"))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|scope| {
        for w in 0..workers.min(n) {
            let (next, results, work) = (&next, &results, &work);
            std::thread::Builder::new()
                .name(format!("table-worker-{w}"))
                .spawn_scoped(scope, move || {
                    let mut own = Links::new(cfg);
                    loop {
                        let k = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&i) = order.get(k) else { break };
                        let r = work(i, &mut own);
                        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                    }
                })
                .expect("a worker thread starts");
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|o| o.expect("every index ran"))
        .collect()
}

/// Indices of `sizes` largest first; unknown sizes keep their listed order after the
/// known ones (stable).
pub(super) fn largest_first(sizes: &[Option<u64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| match sizes[i] {
        Some(n) => (0, std::cmp::Reverse(n)),
        None => (1, std::cmp::Reverse(0)),
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Needs, RawIni};

    #[test]
    fn the_largest_go_first_and_unknown_sizes_keep_their_order() {
        assert_eq!(
            largest_first(&[Some(5), None, Some(50), None, Some(5)]),
            [2, 0, 4, 1, 3]
        );
    }

    #[test]
    fn every_index_runs_once_and_results_come_back_by_index() {
        let ini = RawIni::parse("[settings]\nSRC_TABLES = t\n").unwrap();
        let cfg = Config::from_parts(ini, &|_: &str| None, Needs { source: false }).unwrap();
        for workers in [1, 3, 8] {
            let mut links = Links::new(&cfg);
            let ran = Mutex::new(Vec::new());
            let out = each(&cfg, workers, &mut links, &[3, 1, 0, 2, 4], |i, _| {
                ran.lock().unwrap().push(i);
                i * 10
            });
            assert_eq!(out, [0, 10, 20, 30, 40], "{workers}");
            let mut ran = ran.into_inner().unwrap();
            if workers == 1 {
                assert_eq!(ran, [3, 1, 0, 2, 4]);
            }
            ran.sort();
            assert_eq!(ran, [0, 1, 2, 3, 4]);
        }
    }
}

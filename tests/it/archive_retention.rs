//! Retention and history over a local archive (the same code runs on object stores; the
//! S3 case is in `archive_history`): `stage prune`, `[archive] KEEP_RUNS`, `stage history`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::archive_cloud::{assert_staged, ini, source};
use crate::common::stage;

/// Every file under `root`, relative, sorted.
fn files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn manifest_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = files(root)
        .iter()
        .filter_map(|f| {
            f.strip_prefix("_manifests/")?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .collect();
    ids.sort();
    ids
}

/// Three runs, each after the source changed; returns the run ids in order.
fn three_runs(dir: &Path, extra: &str) -> (Vec<String>, String) {
    let mut ids = Vec::new();
    let mut src = String::new();
    for v in 1..=3 {
        src = source(dir, 100 * v, v);
        let cfg = ini(dir, &src, "out", extra);
        let r = stage(dir, &["run", "--config", &cfg], &[]);
        assert_eq!(r.code, 0, "{}", r.all());
        let now = manifest_ids(&dir.join("out"));
        let new: Vec<&String> = now.iter().filter(|i| !ids.contains(*i)).collect();
        if let [one] = new.as_slice() {
            ids.push((*one).clone());
        }
    }
    (ids, src)
}

#[test]
fn prune_keep_runs_1_leaves_exactly_the_newest_run_and_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, src) = three_runs(dir.path(), "");
    assert_eq!(ids.len(), 3);
    let out = dir.path().join("out");
    // A killed run's folder (no manifest), younger than the grace period.
    std::fs::create_dir_all(out.join("orders/run_id=20200101T000000Z-dead00")).unwrap();
    std::fs::write(
        out.join("orders/run_id=20200101T000000Z-dead00/orders_part0000.parquet"),
        b"x",
    )
    .unwrap();
    let before = files(&out);

    let r = stage(
        dir.path(),
        &[
            "prune",
            "--config",
            "a.ini",
            "--keep-runs",
            "1",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    for old in &ids[..2] {
        assert!(
            r.stdout
                .contains(&format!("would remove run {old} (1 tables, 1 parts, ")),
            "{}",
            r.stdout
        );
    }
    assert!(!r.stdout.contains(&ids[2]), "{}", r.stdout);
    assert!(
        r.stdout.contains("would remove 2 runs and 0 folders"),
        "{}",
        r.stdout
    );
    assert_eq!(files(&out), before, "--dry-run removed something");

    let r = stage(
        dir.path(),
        &["prune", "--config", "a.ini", "--keep-runs", "1"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let newest = &ids[2];
    let want: BTreeSet<String> = [
        format!("_manifests/{newest}.json"),
        format!("orders/run_id={newest}/orders_part0000.parquet"),
        "orders/run_id=20200101T000000Z-dead00/orders_part0000.parquet".to_string(),
    ]
    .into();
    assert_eq!(files(&out).into_iter().collect::<BTreeSet<_>>(), want);
    assert!(!out.join(format!("orders/run_id={}", ids[0])).exists());

    // With no grace, the manifest-less folder goes too; the newest run never does.
    let cfg = ini(
        dir.path(),
        &src,
        "out",
        "[archive]\nORPHAN_GRACE_HOURS = 0\n",
    );
    let r = stage(
        dir.path(),
        &["prune", "--config", &cfg, "--keep-runs", "1"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("removing folder without a manifest orders/run_id=20200101T000000Z-dead00 (1 files, 1 B)"), "{}", r.stdout);
    assert_eq!(
        files(&out),
        [
            format!("_manifests/{newest}.json"),
            format!("orders/run_id={newest}/orders_part0000.parquet"),
        ]
    );
    assert_staged(dir.path(), &src);
}

#[test]
fn keep_runs_prunes_after_each_successful_run_and_history_lists_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, _) = three_runs(dir.path(), "[archive]\nKEEP_RUNS = 2\n");
    let out = dir.path().join("out");
    let kept: BTreeSet<String> = manifest_ids(&out).into_iter().collect();
    assert_eq!(kept, ids[1..].iter().cloned().collect());
    assert!(!out.join(format!("orders/run_id={}", ids[0])).exists());

    let r = stage(dir.path(), &["history", "--config", "a.ini", "--json"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let h: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let runs = h.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], ids[2].as_str(), "newest first");
    assert_eq!(runs[1]["run_id"], ids[1].as_str());
    assert_eq!(runs[0]["mode"], "DUMP");
    assert_eq!(runs[0]["tables"][0]["table"], "orders");
    assert_eq!(runs[0]["tables"][0]["rows"], 300);
    assert_eq!(runs[1]["tables"][0]["rows"], 200);
    assert_eq!(runs[0]["tables"][0]["parts"], 1);
    let part = out.join(format!("orders/run_id={}/orders_part0000.parquet", ids[2]));
    assert_eq!(
        runs[0]["tables"][0]["bytes"],
        std::fs::metadata(part).unwrap().len()
    );
    let r = stage(dir.path(), &["history", "--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("run_id"), "{}", r.stdout);
    assert!(
        lines[1].starts_with(&ids[2]) && lines[1].contains("orders") && lines[1].contains("300"),
        "{}",
        r.stdout
    );
    assert!(lines[2].starts_with(&ids[1]), "{}", r.stdout);
    let r = stage(
        dir.path(),
        &["history", "--config", "a.ini", "--table", "nope", "--json"],
        &[],
    );
    assert_eq!(r.stdout.trim(), "[]");
}

/// A prune killed between a run's manifest and its parts: the run is already out of the
/// history, and the next prune removes its folder as one without a manifest.
#[test]
fn a_prune_killed_after_the_manifest_leaves_the_run_invisible_and_the_next_prune_finishes() {
    use crate::common::spawn;
    let dir = tempfile::tempdir().unwrap();
    let (ids, src) = three_runs(dir.path(), "");
    let out = dir.path().join("out");
    let mut p = spawn(
        dir.path(),
        &["prune", "--config", "a.ini", "--keep-runs", "2"],
        &[("STAGE_FAULT_PAUSE", "prune-parts")],
    );
    p.wait_paused("prune-parts");
    p.signal("KILL");
    assert_eq!(p.finish().0, 137);
    let kept: BTreeSet<String> = manifest_ids(&out).into_iter().collect();
    assert_eq!(kept, ids[1..].iter().cloned().collect());
    assert!(out
        .join(format!("orders/run_id={}/orders_part0000.parquet", ids[0]))
        .exists());
    let r = stage(dir.path(), &["history", "--config", "a.ini", "--json"], &[]);
    let h: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 2);
    let cfg = ini(
        dir.path(),
        &src,
        "out",
        "[archive]\nORPHAN_GRACE_HOURS = 0\n",
    );
    let r = stage(
        dir.path(),
        &["prune", "--config", &cfg, "--keep-runs", "2"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        !out.join(format!("orders/run_id={}", ids[0])).exists(),
        "{}",
        r.all()
    );
}

#[test]
fn retention_values_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), 1, 1);
    let cfg = ini(dir.path(), &src, "out", "[archive]\nKEEP_DAYS = -1\n");
    let r = stage(dir.path(), &["prune", "--config", &cfg], &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.all()
            .contains("[archive] KEEP_DAYS = \"-1\" is invalid: expected a number of days > 0"),
        "{}",
        r.all()
    );
    let cfg = ini(dir.path(), &src, "out", "");
    let r = stage(
        dir.path(),
        &["prune", "--config", &cfg, "--keep-runs", "0"],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.all());
}

//! `stage query --output FILE` writes under a partial name and renames when complete: a
//! killed or failed query leaves the file that was there (or none), never a truncated one,
//! and a plain re-run writes every row.

#![cfg(feature = "query")]

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{sqlite_ini, stage, stage_bin, write};

const ROWS: usize = 2000;
const CROSS: &str = "SELECT a.id, b.name FROM t a CROSS JOIN t b";

fn partials(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".rows.csv.partial-"))
        .collect()
}

#[test]
fn a_killed_or_failed_query_keeps_the_old_output_and_a_rerun_writes_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    rusqlite::Connection::open(d.join("src.sqlite"))
        .unwrap()
        .execute_batch(&format!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
             INSERT INTO t SELECT i, 'name number ' || i FROM n;"
        ))
        .unwrap();
    write(
        d,
        "a.ini",
        &sqlite_ini(
            "src.sqlite",
            "stg.sqlite",
            "SRC_TABLES = t\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = out\nCLEANUP_PARQUET_FILES = false\n",
        ),
    );
    let r = stage(d, &["--config", "a.ini"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    write(d, "rows.csv", "old\n");
    let args = [
        "query", "--config", "a.ini", "--format", "csv", "--output", "rows.csv", CROSS,
    ];

    // Killed while writing: the partial file has bytes, the old file is untouched.
    let mut child = std::process::Command::new(stage_bin())
        .current_dir(d)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let writing = partials(d)
            .iter()
            .any(|n| std::fs::metadata(d.join(n)).is_ok_and(|m| m.len() > 0));
        if writing {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the query finished before it could be killed: make the table larger"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no partial file"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        std::fs::read_to_string(d.join("rows.csv")).unwrap(),
        "old\n"
    );
    // The killed process could not clean up: its partial file is named by its pid.
    assert_eq!(
        partials(d),
        [format!(".rows.csv.partial-{}", child.id())],
        "the killed query's partial file"
    );
    for n in partials(d) {
        std::fs::remove_file(d.join(n)).unwrap();
    }

    // Failing while writing (a division by zero on the last rows): the old file is
    // untouched and the partial file removed.
    let failing = "SELECT a.id, 10 / (a.id - 2000) AS x FROM t a CROSS JOIN t b ORDER BY a.id";
    let r = stage(
        d,
        &[
            "query", "--config", "a.ini", "--format", "csv", "--output", "rows.csv", failing,
        ],
        &[],
    );
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.to_lowercase().contains("divide by zero"),
        "{}",
        r.all()
    );
    assert_eq!(
        std::fs::read_to_string(d.join("rows.csv")).unwrap(),
        "old\n"
    );
    assert!(partials(d).is_empty(), "{:?}", partials(d));

    // A plain re-run writes every row.
    let r = stage(d, &args, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let text = std::fs::read_to_string(d.join("rows.csv")).unwrap();
    assert_eq!(
        text.lines().count(),
        ROWS * ROWS + 1,
        "header and every row"
    );
    assert_eq!(text.lines().next(), Some("id,name"));
    assert!(partials(d).is_empty());
}

//! `stage query` and `stage diff` over the archive of a PostgreSQL source (cargo feature
//! `query`): nights with rows inserted, updated (also to and from NULL) and deleted in
//! between, a run folder without a manifest that must stay invisible, a column added on the
//! third night, and a table without a key diffed by whole rows.

#![cfg(feature = "query")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;

use crate::common::{read_parquet, Run};
use crate::pg_e2e::{pg_env, run};
use crate::support::pg::pg;

const SOURCE: &str = "
CREATE TABLE orders (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2), note text);
INSERT INTO orders SELECT g, 'name ' || g, (g * 1.25)::numeric(12,2),
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END
FROM generate_series(1, 1000) g;
CREATE TABLE events (kind text, n int);
INSERT INTO events VALUES ('a', 1), ('a', 1), ('b', 2), ('c', 3), ('c', 3), ('c', 3);
";

/// Between night 1 and 2: 5 deleted, 4 inserted, 7 amounts changed, 2 notes set from NULL,
/// 1 note set to NULL; in `events` one more ('a', 1), one ('c', 3) less, ('d', 4) new.
const NIGHT_2: &str = "
DELETE FROM orders WHERE id IN (10, 20, 30, 40, 50);
INSERT INTO orders VALUES (1001, 'new 1', 1.00, NULL), (1002, 'new 2', 2.00, 'x'),
                          (1003, 'new 3', NULL, NULL), (1004, 'new 4', 4.00, 'y');
UPDATE orders SET amount = amount + 0.01 WHERE id IN (101, 102, 103, 104, 105, 106, 107);
UPDATE orders SET note = 'was null' WHERE id IN (3, 6);
UPDATE orders SET note = NULL WHERE id = 1;
INSERT INTO events VALUES ('a', 1), ('d', 4);
DELETE FROM events WHERE ctid = (SELECT min(ctid) FROM events WHERE kind = 'c');
";

/// What both tests start from: [`SOURCE`] in a new PostgreSQL database (`<name>_src`, the
/// staging database `<name>_dst`), the environment of a DUMP run of `tables` into `archive`
/// in a temporary folder with the parts kept (plus `extra`), and that run done once.
struct Archived {
    dir: tempfile::TempDir,
    src: String,
    out: PathBuf,
    env: Vec<(String, String)>,
}

fn archived(name: &str, tables: &str, extra: &[(&str, &str)]) -> Archived {
    let dir = tempfile::tempdir().unwrap();
    let src = pg().create_database(&format!("{name}_src"));
    let dst = pg().create_database(&format!("{name}_dst"));
    pg().client(&src).batch_execute(SOURCE).unwrap();
    let out = dir.path().join("archive");
    let out_s = out.to_str().unwrap();
    let mut settings = vec![
        ("SRC_TABLES", tables),
        ("TRANSFER_MODE", "DUMP"),
        ("OUTPUT_DIR", out_s),
        ("CLEANUP_PARQUET_FILES", "false"),
    ];
    settings.extend_from_slice(extra);
    let env = pg_env(&src, &dst, &settings);
    ok(stage_at(dir.path(), &env, &[]));
    Archived { dir, src, out, env }
}

fn stage_at(dir: &Path, env: &[(String, String)], args: &[&str]) -> Run {
    run(dir, args, env)
}

fn ok(r: Run) -> Run {
    assert_eq!(r.code, 0, "{}", r.all());
    r
}

fn runs(dir: &Path, env: &[(String, String)]) -> Vec<String> {
    let r = ok(stage_at(
        dir,
        env,
        &["history", "--json", "--table", "orders"],
    ));
    let h: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    h.as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

fn csv_lines(r: &Run) -> Vec<String> {
    r.stdout.lines().map(str::to_string).collect()
}

#[test]
fn query_and_diff_over_three_nights() {
    let Archived { dir, src, out, env } =
        archived("q", "orders,events", &[("SRC_CHUNK_SIZE", "300")]);
    pg().client(&src).batch_execute(NIGHT_2).unwrap();
    ok(stage_at(dir.path(), &env, &[]));
    let ids = runs(dir.path(), &env);
    assert_eq!(ids.len(), 2);
    let (new, old) = (ids[0].clone(), ids[1].clone());

    // A run killed before its manifest: its folder is there, the query must not see it.
    let killed = "20000101T000000Z-dead00";
    let killed_dir = out.join(format!("orders/run_id={killed}"));
    std::fs::create_dir_all(&killed_dir).unwrap();
    let a_part = std::fs::read_dir(out.join(format!("orders/run_id={new}")))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(&a_part, killed_dir.join("orders_part0000.parquet")).unwrap();

    let r = ok(stage_at(
        dir.path(),
        &env,
        &[
            "query",
            "--format",
            "csv",
            "SELECT run_id, count(*) AS n FROM orders GROUP BY run_id ORDER BY n DESC",
        ],
    ));
    // (Run ids started in the same second do not sort by time: order by the counts.)
    assert_eq!(
        csv_lines(&r),
        [
            "run_id,n".to_string(),
            format!("{old},1000"),
            format!("{new},999")
        ]
    );

    // The newest run's rows are the source's rows, value by value.
    let r = ok(stage_at(
        dir.path(),
        &env,
        &[
            "query",
            "--format",
            "csv",
            &format!(
                "SELECT id, name, amount, note FROM orders WHERE run_id = '{new}' ORDER BY id"
            ),
        ],
    ));
    let mut want = vec!["id,name,amount,note".to_string()];
    for row in pg()
        .client(&src)
        .query(
            "SELECT concat_ws(',', id, name, amount::text, coalesce(note, '')) FROM orders ORDER BY id",
            &[],
        )
        .unwrap()
    {
        want.push(row.get(0));
    }
    // concat_ws skips a NULL amount; the CSV writes an empty field.
    let want: Vec<String> = want
        .into_iter()
        .map(|l| {
            if l == "1003,new 3," {
                "1003,new 3,,".into()
            } else {
                l
            }
        })
        .collect();
    assert_eq!(csv_lines(&r), want);

    // stage diff by the primary key the manifest recorded.
    let r = ok(stage_at(
        dir.path(),
        &env,
        &[
            "diff",
            "--table",
            "orders",
            "--from",
            &old,
            "--to",
            &new,
            "--json",
            "--output",
            "d.parquet",
        ],
    ));
    let d: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(d["key"], serde_json::json!(["id"]));
    assert_eq!(
        (
            d["added"].as_u64(),
            d["removed"].as_u64(),
            d["changed"].as_u64()
        ),
        (Some(4), Some(5), Some(10))
    );
    let mut got = BTreeSet::new();
    for b in read_parquet(&dir.path().join("d.parquet")) {
        let change = b
            .column_by_name("change")
            .unwrap()
            .as_string::<i32>()
            .clone();
        let id = b
            .column_by_name("id")
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone();
        for i in 0..b.num_rows() {
            got.insert((change.value(i).to_string(), id.value(i)));
        }
    }
    let mut want = BTreeSet::new();
    for id in [1001, 1002, 1003, 1004] {
        want.insert(("added".to_string(), id));
    }
    for id in [10, 20, 30, 40, 50] {
        want.insert(("removed".to_string(), id));
    }
    for id in [101, 102, 103, 104, 105, 106, 107, 3, 6, 1] {
        want.insert(("changed".to_string(), id));
    }
    assert_eq!(got, want);

    // Without a key: whole rows, counted.
    let r = ok(stage_at(
        dir.path(),
        &env,
        &[
            "diff", "--table", "events", "--from", &old, "--to", &new, "--json",
        ],
    ));
    let d: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(d["key"], serde_json::json!([]));
    assert_eq!(
        (
            d["added"].as_u64(),
            d["removed"].as_u64(),
            d["changed"].as_u64()
        ),
        (Some(2), Some(1), Some(0))
    );

    // A key that is not unique is refused, naming the value.
    let r = stage_at(
        dir.path(),
        &env,
        &[
            "diff", "--table", "events", "--from", &old, "--to", &new, "--key", "kind",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("--key kind: not unique"), "{}", r.all());

    // Night 3 adds a column: older runs read it as NULL.
    pg().client(&src)
        .batch_execute(
            "ALTER TABLE orders ADD COLUMN extra int; UPDATE orders SET extra = 1 WHERE id <= 10;",
        )
        .unwrap();
    ok(stage_at(dir.path(), &env, &[]));
    let newest = runs(dir.path(), &env)[0].clone();
    let r = ok(stage_at(
        dir.path(),
        &env,
        &[
            "query",
            "--format",
            "json",
            "SELECT run_id, count(extra) AS with_extra, count(*) AS n FROM orders GROUP BY run_id ORDER BY with_extra DESC, n DESC",
        ],
    ));
    let rows: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            serde_json::json!({"run_id": newest, "with_extra": 9, "n": 999}),
            serde_json::json!({"run_id": old, "with_extra": 0, "n": 1000}),
            serde_json::json!({"run_id": new, "with_extra": 0, "n": 999}),
        ]
    );
}

#[test]
fn query_mistakes_are_one_line_usage_errors() {
    let Archived { dir, env, .. } = archived("qm", "orders", &[]);
    let id = runs(dir.path(), &env)[0].clone();
    let id_run = id.as_str();
    for (args, words) in [
        (vec!["query", "SELEC 1"], "SELEC"),
        (vec!["query", "SELECT * FROM nope"], "nope"),
        (vec!["query", "--format", "parquet", "SELECT 1"], "--output"),
        (
            vec!["diff", "--table", "orders", "--from", "x", "--to", &id],
            "--from x: not a committed run of table orders",
        ),
        (
            vec![
                "diff", "--table", "orders", "--from", &id, "--to", &id, "--key", "idd",
            ],
            "--key idd: table orders has no column idd",
        ),
        (
            vec![
                "diff", "--table", "orders", "--from", &id, "--to", &id, "--key", "id,,name",
            ],
            "--key: comma-separated column names, none blank",
        ),
        (
            vec!["diff", "--table", "nope", "--from", &id, "--to", &id],
            "--table nope",
        ),
    ] {
        let r = stage_at(dir.path(), &env, &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(r.stderr.contains(words), "{args:?}: {}", r.all());
        assert!(!r.stderr.contains("panicked"), "{}", r.all());
    }
    // Parquet and CSV into files, read back.
    ok(stage_at(
        dir.path(),
        &env,
        &[
            "query",
            "--format",
            "parquet",
            "--output",
            "q.parquet",
            "SELECT id, name, run_id FROM orders WHERE id % 100 = 0",
        ],
    ));
    let batches = read_parquet(&dir.path().join("q.parquet"));
    let mut ids: Vec<i64> = Vec::new();
    for b in &batches {
        let id = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
        ids.extend(id.values().iter().copied());
        let run = b.column_by_name("run_id").unwrap().as_string::<i32>();
        assert!((0..b.num_rows()).all(|i| run.value(i) == id_run));
    }
    ids.sort();
    assert_eq!(ids, (1..=10).map(|i| i * 100).collect::<Vec<i64>>());
    ok(stage_at(
        dir.path(),
        &env,
        &[
            "query",
            "--format",
            "csv",
            "--output",
            "q.csv",
            "SELECT count(*) AS n FROM orders",
        ],
    ));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("q.csv")).unwrap(),
        "n\n1000\n"
    );
    // The table format: every row counted.
    let r = ok(stage_at(
        dir.path(),
        &env,
        &["query", "SELECT id FROM orders WHERE id <= 3 ORDER BY id"],
    ));
    assert!(r.stdout.contains("(3 rows)"), "{}", r.all());
    let r = ok(stage_at(
        dir.path(),
        &env,
        &["query", "SELECT id FROM orders UNION ALL SELECT 0"],
    ));
    assert!(
        r.stdout.contains("… and 1 more rows (1001 in all)"),
        "{}",
        r.all()
    );
}

//! PostgreSQL's parallel read (`READ_CONNECTIONS`): key and page ranges that lose no row
//! past a stale `relpages`, views read whole, and one snapshot shared by every connection
//! while rows move.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::pg_e2e::{count, pg_env, run, texts, wait_for};
use crate::support::pg;

/// A table of `rows` rows of ~130 bytes (`pad`), analyzed so `relpages` is known. Pages are
/// full, so an update moves its row to a page near the end of the table.
fn padded_source(prefix: &str, rows: i64) -> String {
    let db = pg().create_database(prefix);
    pg().client(&db)
        .batch_execute(&format!(
            "CREATE TABLE t (id bigint PRIMARY KEY, v int NOT NULL, pad text);
             INSERT INTO t SELECT g, 0, repeat('x', 100) FROM generate_series(1, {rows}) g;
             ANALYZE t;"
        ))
        .unwrap();
    db
}

#[test]
fn parallel_reads_lose_no_row_past_a_stale_relpages_and_views_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let src = padded_source("par_src", 40_000);
    // 20,000 more rows after ANALYZE: relpages is stale, the last range must be open-ended.
    pg().client(&src)
        .batch_execute(
            "INSERT INTO t SELECT g, 1, repeat('y', 100) FROM generate_series(40001, 60000) g;
             CREATE VIEW tv AS SELECT * FROM t WHERE id % 2 = 0;",
        )
        .unwrap();
    for mode in ["DUMP", "DIRECT"] {
        let env = pg_env(
            &src,
            &src,
            &[
                ("SRC_TABLES", "t, tv"),
                ("TRANSFER_MODE", mode),
                ("OUTPUT_DIR", "out"),
                ("READ_CONNECTIONS", "3"),
                ("SRC_CHUNK_SIZE", "5000"),
                ("DST_SCHEMA", "staging"),
            ],
        );
        let r = run(dir.path(), &[], &env);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        assert!(
            r.all().contains("reading in parallel on one snapshot"),
            "{mode}: {}",
            r.all()
        );
        assert!(
            r.all().contains("not an ordinary table"),
            "{mode}: {}",
            r.all()
        );
        for (a, b) in [
            ("public.t", "staging.t"),
            ("staging.t", "public.t"),
            ("public.tv", "staging.tv"),
            ("staging.tv", "public.tv"),
        ] {
            let diff = texts(
                &src,
                &format!(
                    "SELECT count(*)::text FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) x"
                ),
            );
            assert_eq!(diff, ["0"], "{mode}: rows of {a} missing from {b}");
        }
        assert_eq!(count(&src, "staging.t"), 60_000, "{mode}");
        assert_eq!(count(&src, "staging.tv"), 30_000, "{mode}");
    }
}

/// While a writer keeps moving rows from the first pages to the end of the table (one
/// update per commit, about a thousand a second), each parallel read must see each row
/// exactly once: one snapshot across connections. With a snapshot per connection, a row
/// moved between two connections' snapshots is read twice (old version in the first
/// range, new one in the last) or not at all (checked by running this test with
/// `SET TRANSACTION SNAPSHOT` removed: it fails).
#[test]
fn parallel_reads_see_one_snapshot_while_rows_move() {
    let dir = tempfile::tempdir().unwrap();
    let src = padded_source("par_snap", 40_000);
    let stop = Arc::new(AtomicBool::new(false));
    let updates = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (src, stop, updates) = (src.clone(), stop.clone(), updates.clone());
        std::thread::spawn(move || {
            let mut c = pg().client(&src);
            let mut k: i64 = 0;
            while !stop.load(Ordering::Relaxed) {
                // Rows of the first quarter of the table, each moved once per 10,000 updates.
                let id = (k * 7919) % 10_000 + 1;
                c.execute("UPDATE t SET v = v + 1 WHERE id = $1", &[&id])
                    .unwrap();
                k += 1;
                updates.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    wait_for("the first update", Duration::from_secs(30), || {
        updates.load(Ordering::Relaxed) > 0
    });
    let env = pg_env(
        &src,
        &src,
        &[
            ("SRC_TABLES", "t"),
            ("TRANSFER_MODE", "DIRECT"),
            ("READ_CONNECTIONS", "4"),
            ("SRC_CHUNK_SIZE", "4000"),
            ("DST_SCHEMA", "staging"),
        ],
    );
    let mut seen_versions = Vec::new();
    for _ in 0..5 {
        let r = run(dir.path(), &[], &env);
        assert_eq!(r.code, 0, "{}", r.all());
        assert!(r.all().contains("reading in parallel"), "{}", r.all());
        let stats = texts(
            &src,
            "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || sum(v) FROM staging.t",
        );
        let parts: Vec<&str> = stats[0].split(' ').collect();
        assert_eq!(
            &parts[..2],
            ["40000", "40000"],
            "rows and distinct ids read"
        );
        seen_versions.push(parts[2].to_string());
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(updates.load(Ordering::Relaxed) > 1);
    eprintln!("updates seen (sum of v) per read: {seen_versions:?}");
}

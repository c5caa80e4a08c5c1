//! The Parquet parts read back by readers that share no code with `stage`: pyarrow (Arrow
//! C++) and DuckDB, from the Python environment `scripts/install-test-deps.sh` creates.
//!
//! `readers.py` compares DuckDB's reading with pyarrow's value by value and hands pyarrow's
//! back as Arrow IPC; here that must equal what the parquet crate reads, whose values the
//! other PostgreSQL tests prove equal to the source (EXCEPT after a DUMP load).

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;

use crate::common::{only_manifest, read_parquet};
use crate::pg_e2e::{pg_env, run, zoo_source};
use crate::support::pg;

/// The Python with pyarrow and DuckDB: `STAGE_TEST_PYTHON`, else the test environment that
/// `scripts/install-test-deps.sh` creates.
fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("STAGE_TEST_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    let p = Path::new(&home).join(".cache/stage/test-venv/bin/python");
    assert!(
        p.exists(),
        "no Python with pyarrow and DuckDB at {}: run scripts/install-test-deps.sh (or set STAGE_TEST_PYTHON)",
        p.display()
    );
    p
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    concat_batches(&batches[0].schema(), batches).expect("batches of one schema")
}

fn read_ipc(path: &Path) -> RecordBatch {
    let f = std::fs::File::open(path).expect("the IPC file readers.py wrote");
    let reader = arrow::ipc::reader::FileReader::try_new(f, None).expect("an Arrow IPC file");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("an IPC batch")).collect();
    concat(&batches)
}

#[test]
fn pyarrow_and_duckdb_read_exactly_what_stage_wrote() {
    let python = test_python();
    let dir = tempfile::tempdir().unwrap();
    let src = zoo_source();
    // Enough rows for several delta blocks and dictionary fallbacks per part.
    pg().client(&src)
        .batch_execute(
            "CREATE TABLE mixed AS SELECT g AS id, \
               ((g * 104729) % 100000000)::numeric(15,2) / 100 AS amount, \
               CASE WHEN g % 50 = 0 THEN 'NaN'::float8 ELSE (g % 9973) / 7.0 END AS score, \
               'name ' || (g % 500) AS name, \
               date '1990-01-01' + (g % 12000)::int AS day, \
               timestamp '1900-01-01' + (g * 7919 % 100000000) * interval '1 second' AS at, \
               timestamptz '2000-01-01 00:00:00+00' + g * interval '1 millisecond' AS at_tz, \
               g % 3 = 0 AS flag, md5(g::text)::uuid AS ref, \
               CASE WHEN g % 10 < 3 THEN NULL ELSE (g % 1000)::int END AS sparse, \
               CASE WHEN g % 2 = 0 THEN -g ELSE g * 1000000000000 END AS zigzag, \
               jsonb_build_object('k', g % 100) AS doc \
             FROM generate_series(1::bigint, 30000) AS g",
        )
        .expect("create the mixed table");
    let env = pg_env(
        &src,
        &src,
        &[
            ("SRC_TABLES", "zoo, mixed"),
            ("TRANSFER_MODE", "DUMP"),
            ("OUTPUT_DIR", "out"),
            ("CLEANUP_PARQUET_FILES", "false"),
            ("SRC_CHUNK_SIZE", "7000"),
        ],
    );
    let r = run(dir.path(), &["dump"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    let out = dir.path().join("out");
    let (_, manifest) = only_manifest(&out);
    // The checkout cargo runs the test from (a build cache shared between clones may hold a
    // binary compiled in another one).
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let script = root.join("tests/it/readers.py");
    let mut checked = Vec::new();
    for table in manifest["tables"].as_array().unwrap() {
        let name = table["staging_table"].as_str().unwrap().to_string();
        let parts: Vec<PathBuf> = table["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| out.join(p["path"].as_str().unwrap()))
            .collect();
        let ipc = dir.path().join(format!("{name}.arrow"));
        let o = Command::new(&python)
            .arg(&script)
            .arg(&ipc)
            .args(&parts)
            .output()
            .expect("run readers.py");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "table {name}: {said}");

        let ours: Vec<RecordBatch> = parts.iter().flat_map(|p| read_parquet(p)).collect();
        let ours = concat(&ours);
        let theirs = read_ipc(&ipc);
        assert_eq!(ours.num_rows(), theirs.num_rows(), "table {name}");
        assert_eq!(ours.num_columns(), theirs.num_columns(), "table {name}");
        for (i, field) in ours.schema().fields().iter().enumerate() {
            assert_eq!(
                ours.column(i).to_data(),
                theirs.column(i).to_data(),
                "table {name}, column {}: pyarrow reads other values",
                field.name()
            );
        }
        checked.push((name, ours.num_rows(), said.trim().to_string()));
    }
    checked.sort();
    assert_eq!(checked.len(), 2, "{checked:?}");
    assert_eq!((checked[0].0.as_str(), checked[0].1), ("mixed", 30_000));
    assert_eq!((checked[1].0.as_str(), checked[1].1), ("zoo", 3));
    // DuckDB compared every column but the numeric(50,10), which it cannot hold.
    assert_eq!(checked[0].2, "compared 12 of 12 columns, 30000 rows");
    assert!(checked[1].2.starts_with("compared "), "{}", checked[1].2);
}

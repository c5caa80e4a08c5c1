//! History, independent readers and pruning of an archive on the S3 server (moto):
//! two runs with the source changed in between, `stage history`, pyarrow reading the
//! bucket with Hive partitioning and DuckDB reading the same files (run_id stays a string
//! in both), then `stage prune --keep-runs 1`.

#![cfg(feature = "cloud")]

use crate::archive_cloud::{env_refs, ini, manifest_ids, source};
use crate::common::stage;
use crate::support::s3::s3;

const READERS: &str = r#"
import sys, json, tempfile
import pyarrow.dataset as ds, pyarrow.fs as pafs, duckdb
endpoint, bucket = sys.argv[1], sys.argv[2]
fs = pafs.S3FileSystem(endpoint_override=endpoint, scheme='http', access_key='testing',
                       secret_key='testing-secret', region='us-east-1')
d = ds.dataset(f'{bucket}/h/orders', filesystem=fs, format='parquet', partitioning='hive')
t = d.to_table(columns=['id', 'run_id'])
counts = {}
for r in t.column('run_id').to_pylist():
    counts[r] = counts.get(r, 0) + 1
local = tempfile.mkdtemp()
pafs.copy_files(f'{bucket}/h/orders', local + '/orders', source_filesystem=fs)
con = duckdb.connect()
rows = con.execute(f"SELECT typeof(run_id), run_id, count(*) FROM read_parquet('{local}/orders/*/*.parquet', hive_partitioning=true) GROUP BY ALL ORDER BY run_id").fetchall()
print(json.dumps({'pyarrow_type': str(d.schema.field('run_id').type), 'pyarrow': counts,
                  'duckdb': [[a, b, c] for a, b, c in rows]}))
"#;

#[test]
fn history_readers_and_prune_on_s3() {
    let server = s3();
    let bucket = server.bucket("hist");
    let url = format!("s3://{bucket}/h");
    let dir = tempfile::tempdir().unwrap();
    let env = server.env();
    let env = env_refs(&env);
    let mut ids = Vec::new();
    for (v, n) in [(1, 100), (2, 150)] {
        let src = source(dir.path(), n, v);
        let cfg = ini(dir.path(), &src, &url, "");
        let r = stage(dir.path(), &["run", "--config", &cfg], &env);
        assert_eq!(r.code, 0, "{}", r.all());
        let now = manifest_ids(&server.keys(&bucket), "h/");
        ids.extend(
            now.into_iter()
                .filter(|i| !ids.contains(i))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(ids.len(), 2);

    let r = stage(
        dir.path(),
        &[
            "history", "--config", "a.ini", "--json", "--table", "ORDERS",
        ],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let h: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let runs = h.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let newest = runs[0]["run_id"].as_str().unwrap().to_string();
    let oldest = runs[1]["run_id"].as_str().unwrap().to_string();
    assert_eq!(runs[0]["tables"][0]["rows"], 150);
    assert_eq!(runs[1]["tables"][0]["rows"], 100);

    let out = server.py(READERS, &[&bucket]);
    let got: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(got["pyarrow_type"], "string");
    assert_eq!(got["pyarrow"][&newest], 150);
    assert_eq!(got["pyarrow"][&oldest], 100);
    let mut want = vec![
        serde_json::json!(["VARCHAR", oldest, 100]),
        serde_json::json!(["VARCHAR", newest, 150]),
    ];
    want.sort_by_key(|v| v[1].as_str().unwrap().to_string());
    assert_eq!(got["duckdb"], serde_json::Value::Array(want));

    #[cfg(feature = "query")]
    query_and_diff_on_s3(dir.path(), &env, &oldest, &newest);

    let r = stage(
        dir.path(),
        &["prune", "--config", "a.ini", "--keep-runs", "1"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        server.keys(&bucket),
        [
            format!("h/_manifests/{newest}.json"),
            format!("h/orders/run_id={newest}/orders_part0000.parquet"),
        ]
    );
    // The pruned run is gone for the query too.
    #[cfg(feature = "query")]
    {
        let q = "SELECT run_id, count(*) AS n FROM orders GROUP BY run_id";
        let r = stage(
            dir.path(),
            &["query", "--config", "a.ini", "--format", "csv", q],
            &env,
        );
        assert_eq!(r.code, 0, "{}", r.all());
        assert_eq!(
            r.stdout.lines().collect::<Vec<_>>(),
            ["run_id,n".to_string(), format!("{newest},150")]
        );
    }
}

/// `stage query` and `stage diff` read the bucket through the same store: rows per run, and
/// night 2 renamed every row (v1 → v2) and added 50.
#[cfg(feature = "query")]
fn query_and_diff_on_s3(dir: &std::path::Path, env: &[(&str, &str)], oldest: &str, newest: &str) {
    let q = "SELECT run_id, count(*) AS n, count(amount) AS amounts FROM orders GROUP BY run_id ORDER BY n";
    let r = stage(
        dir,
        &["query", "--config", "a.ini", "--format", "csv", q],
        env,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        r.stdout.lines().collect::<Vec<_>>(),
        [
            "run_id,n,amounts".to_string(),
            format!("{oldest},100,86"),
            format!("{newest},150,129")
        ]
    );
    let r = stage(
        dir,
        &[
            "diff", "--config", "a.ini", "--table", "orders", "--from", oldest, "--to", newest,
            "--json",
        ],
        env,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let d: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(d["key"], serde_json::json!(["id"]), "{d}");
    assert_eq!(
        (
            d["added"].as_u64(),
            d["removed"].as_u64(),
            d["changed"].as_u64()
        ),
        (Some(50), Some(0), Some(100))
    );
}

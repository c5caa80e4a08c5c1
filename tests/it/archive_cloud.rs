//! The archive on object stores: `OUTPUT_DIR = s3://…` on moto's S3 server and
//! `az://…` on Azurite (tests/it/support/{s3,azurite}.rs), SQLite source → archive →
//! SQLite staging; `gs://` is built and configured without a server (no GCS emulator that
//! object_store accepts is installable here).

use std::path::Path;

use rusqlite::Connection;

use crate::common::{sqlite_ini, sqlite_rows, stage, write};

/// A SQLite source with `orders`: `n` rows whose `payload` is 200 characters that do not
/// compress much, so that with `PARQUET_COMPRESSION = none` 50 000 rows make one part of
/// about 11 MB (a multipart upload of two chunks).
pub(crate) fn source(dir: &Path, n: i64, version: i64) -> String {
    let path = dir.join("src.sqlite");
    let mut c = Connection::open(&path).unwrap();
    c.execute_batch(
        "DROP TABLE IF EXISTS orders;
         CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT NOT NULL, amount REAL, payload TEXT);",
    )
    .unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut ins = tx
            .prepare("INSERT INTO orders VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ version as u64;
        for id in 1..=n {
            let mut payload = String::with_capacity(200);
            while payload.len() < 200 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                payload.push_str(&format!("{x:016x}"));
            }
            payload.truncate(200);
            let amount = if id % 7 == 0 {
                None
            } else {
                Some(id as f64 * 1.25 + version as f64)
            };
            ins.execute(rusqlite::params![
                id,
                format!("name {id} v{version}"),
                amount,
                payload
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    path.to_string_lossy().into_owned()
}

pub(crate) const ROWS_SQL: &str = "SELECT id, name, amount, payload FROM orders ORDER BY id";

/// Staging equals the source, row by row.
pub(crate) fn assert_staged(dir: &Path, src: &str) {
    let want = sqlite_rows(Path::new(src), ROWS_SQL);
    let got = sqlite_rows(&dir.join("stg.sqlite"), ROWS_SQL);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "staging differs from the source");
}

pub(crate) fn ini(dir: &Path, src: &str, output_dir: &str, extra: &str) -> String {
    let text = sqlite_ini(
        src,
        "stg.sqlite",
        &format!(
            "SRC_TABLES = orders\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = {output_dir}\nCLEANUP_PARQUET_FILES = false\nPARQUET_COMPRESSION = none\nSRC_CHUNK_SIZE = 50000\nRUN_LOG = false\n{extra}"
        ),
    );
    write(dir, "a.ini", &text);
    "a.ini".into()
}

/// The run id of the only `_manifests/<id>.json` key.
pub(crate) fn manifest_ids(keys: &[String], prefix: &str) -> Vec<String> {
    keys.iter()
        .filter_map(|k| k.strip_prefix(&format!("{prefix}_manifests/")))
        .filter_map(|k| k.strip_suffix(".json"))
        .map(str::to_string)
        .collect()
}

pub(crate) fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// DUMP → load → verify on one store: `stage dump`, then `stage load` and `stage verify`
/// with the manifest's URL, then a `stage run` (DUMP with load) that cleans up after itself.
fn round_trip(
    url: &str,
    env: &[(&'static str, String)],
    keys: &dyn Fn() -> Vec<String>,
    key_prefix: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), 60_000, 1);
    let cfg = ini(dir.path(), &src, url, "");
    let env = env_refs(env);
    let r = stage(dir.path(), &["dump", "--config", &cfg], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    let listed = keys();
    let ids = manifest_ids(&listed, key_prefix);
    assert_eq!(ids.len(), 1, "{listed:?}");
    let run = &ids[0];
    let parts: Vec<&String> = listed.iter().filter(|k| k.ends_with(".parquet")).collect();
    assert_eq!(
        parts,
        [
            &format!("{key_prefix}orders/run_id={run}/orders_part0000.parquet"),
            &format!("{key_prefix}orders/run_id={run}/orders_part0001.parquet"),
        ]
    );
    // Nothing else: no upload records, no lock object left.
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        !dir.path().join("stg.sqlite").exists()
            || sqlite_rows(
                &dir.path().join("stg.sqlite"),
                "SELECT name FROM sqlite_master WHERE name = 'orders'"
            )
            .is_empty()
    );

    let manifest = format!("{}/_manifests/{run}.json", url.trim_end_matches('/'));
    let r = stage(
        dir.path(),
        &["load", "--manifest", &manifest, "--config", &cfg],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_staged(dir.path(), &src);
    let r = stage(
        dir.path(),
        &["verify", "--manifest", &manifest, "--config", &cfg],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.all().contains("60000"), "{}", r.all());

    // A full run with CLEANUP: the new version is staged and its run leaves nothing.
    let src = source(dir.path(), 1_000, 2);
    let cfg = ini(dir.path(), &src, url, "CLEANUP_PARQUET_FILES = true");
    let r = stage(dir.path(), &["run", "--config", &cfg], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_staged(dir.path(), &src);
    assert_eq!(keys(), listed, "the cleaned-up run left objects behind");
}

#[cfg(feature = "cloud")]
#[test]
fn s3_dump_load_verify_and_cleanup_on_moto() {
    use crate::support::s3::s3;
    let server = s3();
    let bucket = server.bucket("rt");
    let url = format!("s3://{bucket}/nightly/");
    round_trip(&url, &server.env(), &|| server.keys(&bucket), "nightly/");
    assert!(server.pending_uploads(&bucket).is_empty());
}

#[cfg(feature = "cloud")]
#[test]
fn azure_dump_load_verify_and_cleanup_on_azurite() {
    use crate::support::azurite::azurite;
    let server = azurite();
    let container = server.container("rt");
    let url = format!("az://{container}/bronze");
    round_trip(&url, &server.env(), &|| server.keys(&container), "bronze/");
}

/// The manifest is the commit: a second writer of the same run id fails and leaves the
/// first manifest as it was.
#[cfg(feature = "cloud")]
#[test]
fn a_second_manifest_of_the_same_run_id_is_refused_on_s3() {
    use stage::archive::{Manifest, Store};
    use stage::config::{Archive, Secret};
    let server = crate::support::s3::s3();
    let bucket = server.bucket("twice");
    let archive = Archive {
        store_options: server
            .env()
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect(),
        ..Archive::default()
    };
    let store = Store::open(&format!("s3://{bucket}/p"), &archive).unwrap();
    let manifest = |mode: &str| -> Manifest {
        serde_json::from_value(serde_json::json!({
            "tool": "stage", "tool_version": "0", "run_id": "20260101T000000Z-000001",
            "mode": mode, "started_at": "", "finished_at": "",
            "source": {"driver": "sqlite", "host": null, "database": null},
            "tables": []
        }))
        .unwrap()
    };
    manifest("DUMP").write(&store).unwrap();
    let e = manifest("DIRECT").write(&store).unwrap_err().to_string();
    assert!(
        e.contains("already exists") && e.contains("another process committed"),
        "{e}"
    );
    let kept = Manifest::read(&store, "20260101T000000Z-000001")
        .unwrap()
        .unwrap();
    assert_eq!(kept.mode, "DUMP");
}

/// A run killed in the middle of a multipart upload: no visible run, and the next run
/// (once the dead run's lock is stale) aborts the upload and removes its parts.
#[cfg(feature = "cloud")]
#[test]
fn a_killed_upload_leaves_no_run_and_the_next_run_aborts_its_multipart_upload() {
    use crate::common::spawn;
    let server = crate::support::s3::s3();
    let bucket = server.bucket("killed");
    let dir = tempfile::tempdir().unwrap();
    // Three parts: the first is whole when the second's multipart upload is killed.
    let src = source(dir.path(), 120_000, 1);
    let url = format!("s3://{bucket}/k");
    let cfg = ini(
        dir.path(),
        &src,
        &url,
        "[archive]\nLOCK_STALE_SECONDS = 3\n",
    );
    let env = server.env();
    let mut env = env_refs(&env);
    env.push(("STAGE_FAULT_PAUSE", "upload-chunk:orders_part0001.parquet"));
    let mut run = spawn(dir.path(), &["run", "--config", &cfg], &env);
    run.wait_paused("upload-chunk:orders_part0001.parquet");
    run.signal("KILL");
    let (code, _) = run.finish();
    assert_eq!(code, 137);
    let keys = server.keys(&bucket);
    assert!(manifest_ids(&keys, "k/").is_empty(), "{keys:?}");
    assert_eq!(server.pending_uploads(&bucket).len(), 1, "{keys:?}");
    assert!(
        keys.iter().any(|k| k.starts_with("k/_uploads/")),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k.starts_with("k/_locks/")), "{keys:?}");
    assert!(
        !dir.path().join("stg.sqlite").exists()
            || sqlite_rows(
                &dir.path().join("stg.sqlite"),
                "SELECT name FROM sqlite_master WHERE name = 'orders'"
            )
            .is_empty()
    );

    std::thread::sleep(std::time::Duration::from_secs(4));
    env.pop();
    let r = stage(dir.path(), &["run", "--config", &cfg], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("multipart upload of a killed run aborted"),
        "{}",
        r.all()
    );
    assert!(
        r.all()
            .contains("parts of a killed run that has no manifest"),
        "{}",
        r.all()
    );
    assert_staged(dir.path(), &src);
    assert!(server.pending_uploads(&bucket).is_empty());
    let keys = server.keys(&bucket);
    let ids = manifest_ids(&keys, "k/");
    assert_eq!(ids.len(), 1, "{keys:?}");
    // Only the new run's parts and manifest remain.
    let want: Vec<String> = (0..3)
        .map(|i| format!("k/orders/run_id={}/orders_part000{i}.parquet", ids[0]))
        .chain([format!("k/_manifests/{}.json", ids[0])])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(keys, want);
}

/// `gs://` without a server: the URL is accepted by the configuration and the store is
/// built from a service-account file (cloud build), or refused naming the feature.
#[test]
fn gs_and_cloud_urls_are_configured_or_refused_by_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), 3, 1);
    let cfg = ini(dir.path(), &src, "gs://my-bucket/stage", "");
    // A DUMP needs the store: without a server this fails after the config is accepted
    // (cloud) or as a configuration error (default build).
    let r = stage(dir.path(), &["plan", "--config", &cfg], &[]);
    if cfg!(feature = "cloud") {
        assert_eq!(r.code, 0, "{}", r.all());
        let key = write(dir.path(), "sa.json", "{\"disable_oauth\": true, \"client_email\": \"x@y\", \"private_key\": \"\", \"private_key_id\": \"\", \"gcs_base_url\": \"http://127.0.0.1:9\"}");
        let archive = stage::config::Archive {
            store_options: vec![(
                "GOOGLE_SERVICE_ACCOUNT",
                stage::config::Secret::new(key.to_string_lossy()),
            )],
            ..Default::default()
        };
        let store = stage::archive::Store::open("gs://my-bucket/stage", &archive).unwrap();
        assert!(store.is_remote());
    } else {
        assert_eq!(r.code, 2, "{}", r.all());
        assert!(
            r.all().contains("[settings] OUTPUT_DIR = \"gs://my-bucket/stage\" is invalid: this build of stage has no object-store support")
                && r.all().contains("cargo feature `cloud`"),
            "{}",
            r.all()
        );
    }
}

/// 1,000,000 rows SQLite → S3 (moto) → SQLite under `/usr/bin/time`: parts of 500 000 rows
/// uncompressed (about 25 MB each, so each is a multipart upload of 8 MiB chunks); peak RSS
/// stays within the same bound as the MariaDB million-row test, and staging equals the
/// source both ways (EXCEPT over every column).
#[cfg(feature = "cloud")]
#[test]
fn a_million_rows_round_trip_through_s3_with_bounded_memory() {
    use std::process::Command;
    let server = crate::support::s3::s3();
    let bucket = server.bucket("million");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.sqlite");
    Connection::open(&src)
        .unwrap()
        .execute_batch(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT NOT NULL, amount REAL, payload TEXT);
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000000)
             INSERT INTO orders SELECT i, 'name ' || i, CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.25 END,
                                       hex(randomblob(12)) FROM c;",
        )
        .unwrap();
    let src = src.to_string_lossy().into_owned();
    let cfg = ini(
        dir.path(),
        &src,
        &format!("s3://{bucket}/m"),
        "SRC_CHUNK_SIZE = 500000",
    );
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(crate::common::stage_bin())
        .args(["run", "--config", &cfg])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(server.env())
        .output()
        .expect("/usr/bin/time runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rss_kib: u64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in: {stderr}"));
    eprintln!(
        "1,000,000 rows SQLite → S3 → SQLite: peak RSS {} MiB",
        rss_kib / 1024
    );
    assert!(rss_kib < 400 * 1024, "peak RSS {rss_kib} KiB");
    let keys = server.keys(&bucket);
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(".parquet")).count(),
        2,
        "{keys:?}"
    );
    assert!(server.pending_uploads(&bucket).is_empty());
    let c = Connection::open(dir.path().join("stg.sqlite")).unwrap();
    c.execute("ATTACH DATABASE ?1 AS src", [&src]).unwrap();
    let count = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM main.orders"), 1_000_000);
    assert_eq!(
        count("SELECT count(*) FROM (SELECT * FROM src.orders EXCEPT SELECT * FROM main.orders)"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM (SELECT * FROM main.orders EXCEPT SELECT * FROM src.orders)"),
        0
    );
}

/// The same kill on Azurite: the next run removes the killed run's blobs, its upload record
/// and its lock (Azure's uncommitted blocks are not blobs; Azure drops them itself).
#[cfg(feature = "cloud")]
#[test]
fn a_killed_upload_on_azurite_leaves_no_run_and_the_next_run_removes_its_blobs() {
    use crate::common::spawn;
    let server = crate::support::azurite::azurite();
    let container = server.container("killed");
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), 120_000, 1);
    let url = format!("az://{container}/k");
    let cfg = ini(
        dir.path(),
        &src,
        &url,
        "[archive]\nLOCK_STALE_SECONDS = 3\n",
    );
    let env = server.env();
    let mut env = env_refs(&env);
    let step = "upload-chunk:orders_part0001.parquet";
    env.push(("STAGE_FAULT_PAUSE", step));
    let mut run = spawn(dir.path(), &["run", "--config", &cfg], &env);
    run.wait_paused(step);
    run.signal("KILL");
    assert_eq!(run.finish().0, 137);
    let keys = server.keys(&container);
    assert!(manifest_ids(&keys, "k/").is_empty(), "{keys:?}");
    assert!(
        keys.iter().any(|k| k.ends_with("orders_part0000.parquet")),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with("k/_uploads/")),
        "{keys:?}"
    );

    std::thread::sleep(std::time::Duration::from_secs(4));
    env.pop();
    let r = stage(dir.path(), &["run", "--config", &cfg], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_staged(dir.path(), &src);
    let keys = server.keys(&container);
    let ids = manifest_ids(&keys, "k/");
    assert_eq!(ids.len(), 1, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.contains(&ids[0]) && !k.contains("_uploads") && !k.contains("_locks")),
        "{keys:?}"
    );
}

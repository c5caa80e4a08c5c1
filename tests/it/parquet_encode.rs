//! `[settings] PARQUET_ENCODE_THREADS`: a part's columns encoded on several threads. A DUMP
//! with it stages the source's rows exactly, and its parts are the serial parts, byte for
//! byte (the same manifest hashes, the same files for every Parquet reader).

use std::path::Path;

use crate::pg_e2e::{count, pg_env, run, texts};
use crate::support::pg::pg;

/// Flat and nested columns of many physical types, NULLs in every nullable one.
const TABLE: &str = r#"
CREATE TABLE enc (
  id bigint PRIMARY KEY, qty int NOT NULL, amount numeric(15,2), big numeric(40,5),
  score double precision, name varchar(40), note text, code char(10), day date,
  at timestamp, at_tz timestamptz, flag boolean, ref uuid, doc jsonb, raw bytea,
  span interval, tags text[], nums int[]
);
INSERT INTO enc
SELECT g, (g * 7) % 1000,
       CASE WHEN g % 7 = 0 THEN NULL ELSE ((g * 104729) % 100000000)::numeric / 100 END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE g::numeric * 1000000000000000000001 / 7 END,
       (g % 9973) / 7.0,
       CASE WHEN g % 11 = 0 THEN NULL ELSE 'name ' || (g % 50000) END,
       CASE WHEN g % 5 = 0 THEN 'gemeente Ĳsselstein, aanvraag ' || g ELSE 'note ' || (g % 997) END,
       lpad((g % 100000)::text, 10, '0'),
       date '1990-01-01' + (g % 12000)::int,
       timestamp '2000-01-01' + (g % 100000000) * interval '1 second',
       CASE WHEN g % 3 = 0 THEN NULL ELSE timestamptz '2000-01-01 00:00:00+00' + g * interval '1.5 second' END,
       CASE WHEN g % 4 = 0 THEN NULL ELSE g % 3 = 0 END,
       md5(g::text)::uuid,
       jsonb_build_object('k', g % 100, 'v', 'x' || (g % 37)),
       CASE WHEN g % 6 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END,
       (g % 400) * interval '1 hour 1 second',
       CASE WHEN g % 9 = 0 THEN NULL ELSE ARRAY['a' || (g % 13), NULL, 'b'] END,
       CASE WHEN g % 8 = 0 THEN NULL ELSE ARRAY[g::int, NULL, (g % 3)::int] END
FROM generate_series(1::bigint, 25000) g;
"#;

const COLS: &str = "id, qty, amount, big, score, name, note, format('%s', code), day, at, at_tz, \
                    flag, ref, doc, raw, span::text, tags, nums";

/// The bytes of every part of the one run under `out`, by file name.
fn parts(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut dirs = vec![out.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                found.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn parallel_column_encoding_stages_the_source_and_writes_the_serial_parts() {
    let dir = tempfile::tempdir().unwrap();
    let src = pg().create_database("penc_src");
    pg().client(&src).batch_execute(TABLE).unwrap();
    let mut archives = Vec::new();
    for threads in ["1", "3"] {
        let out = dir.path().join(format!("out-{threads}"));
        let env = pg_env(
            &src,
            &src,
            &[
                ("SRC_TABLES", "enc"),
                ("TRANSFER_MODE", "DUMP"),
                ("OUTPUT_DIR", out.to_str().unwrap()),
                ("CLEANUP_PARQUET_FILES", "false"),
                ("SRC_CHUNK_SIZE", "10000"),
                ("PARQUET_ENCODE_THREADS", threads),
                ("DST_SCHEMA", "staging"),
            ],
        );
        let r = run(dir.path(), &[], &env);
        assert_eq!(r.code, 0, "{threads} threads: {}", r.all());
        assert_eq!(
            r.all()
                .contains("encoding Parquet columns on several threads"),
            threads != "1",
            "{}",
            r.all()
        );
        assert_eq!(count(&src, "staging.enc"), 25_000, "{threads} threads");
        for (a, b) in [("public.enc", "staging.enc"), ("staging.enc", "public.enc")] {
            let diff = texts(
                &src,
                &format!(
                    "SELECT count(*)::text FROM (SELECT {COLS} FROM {a} EXCEPT ALL SELECT {COLS} FROM {b}) x"
                ),
            );
            assert_eq!(
                diff,
                ["0"],
                "{threads} threads: rows of {a} missing from {b}"
            );
        }
        archives.push(parts(&out));
    }
    let names = |a: &[(String, Vec<u8>)]| a.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&archives[0]),
        [
            "enc_part0000.parquet",
            "enc_part0001.parquet",
            "enc_part0002.parquet"
        ]
    );
    assert_eq!(names(&archives[0]), names(&archives[1]));
    for ((name, serial), (_, parallel)) in archives[0].iter().zip(&archives[1]) {
        assert!(
            serial == parallel,
            "{name}: the parallel part's bytes differ"
        );
    }
}

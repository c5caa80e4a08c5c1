//! The PostgreSQL source's COPY data is taken off the connection's byte stream
//! (`db::postgres::copy_tap`) whatever `SRC_SSLMODE` says: `disable` and the default
//! `prefer` against a server without TLS (the SSLRequest answered `N`), read in every
//! native mode and compared with the source row by row. Over TLS, tls_postgres.rs checks
//! the same. `require` against a server without TLS fails in the driver's words.

use crate::common::assert_copies_tapped;
use crate::pg_e2e::{pg_env, run};
use crate::support::pg::pg;

const TABLE: &str = "CREATE TABLE t (id bigint PRIMARY KEY, name text, amount numeric(12,3), \
     at timestamptz, tags text[], doc jsonb);
     INSERT INTO t SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'name ' || g || repeat('é', g % 5) END,
       g / 8.0, timestamptz '2020-01-01 00:00+00' + g * interval '1 minute',
       ARRAY['a' || g, NULL], jsonb_build_object('g', g)
     FROM generate_series(1, 25000) g;";

fn except_both_ways(src: &str, dst: &str) {
    let rows = |db: &str, sql: &str| -> Vec<String> {
        pg().client(db)
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let sql = |schema: &str| {
        format!(
            "SELECT concat_ws('|', id, name, amount, at, tags, doc) FROM {schema}.t ORDER BY id"
        )
    };
    let source = rows(src, &sql("public"));
    assert_eq!(source.len(), 25_000);
    assert_eq!(rows(dst, &sql("staging")), source);
}

#[test]
fn copy_data_is_tapped_with_sslmode_disable_and_the_default_prefer() {
    let dir = tempfile::tempdir().unwrap();
    let src = pg().create_database("tap_src");
    pg().client(&src).batch_execute(TABLE).unwrap();
    for sslmode in ["", "disable", "prefer"] {
        for mode in ["DIRECT", "DUMP"] {
            let dst = pg().create_database("tap_dst");
            let out = dir.path().join(format!("out-{mode}-{sslmode}"));
            let mut env = pg_env(
                &src,
                &dst,
                &[
                    ("SRC_TABLES", "t"),
                    ("TRANSFER_MODE", mode),
                    ("OUTPUT_DIR", out.to_str().unwrap()),
                    ("SRC_CHUNK_SIZE", "4000"),
                    ("LOG_LEVEL", "debug"),
                    ("SRC_SSLMODE", sslmode),
                ],
            );
            // An empty SSLMODE: the key unset (prefer, the default).
            env.retain(|(k, v)| !(k == "SRC_SSLMODE" && v.is_empty()));
            let r = run(dir.path(), &[], &env);
            assert_eq!(r.code, 0, "{mode} {sslmode:?}: {}", r.all());
            assert_eq!(assert_copies_tapped(&r.stderr), 1, "{mode} {sslmode:?}");
            except_both_ways(&src, &dst);
        }
    }
}

#[test]
fn sslmode_require_against_a_server_without_tls_fails_in_the_drivers_words() {
    let dir = tempfile::tempdir().unwrap();
    let src = pg().create_database("tap_req");
    pg().client(&src).batch_execute(TABLE).unwrap();
    let dst = pg().create_database("tap_req_dst");
    let env = pg_env(
        &src,
        &dst,
        &[("SRC_TABLES", "t"), ("SRC_SSLMODE", "require")],
    );
    let r = run(dir.path(), &[], &env);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.all().contains("cannot connect to the source database")
            && r.all().contains("server does not support TLS"),
        "{}",
        r.all()
    );
}

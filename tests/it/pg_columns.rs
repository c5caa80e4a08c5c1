//! `[table:NAME] COLUMNS` / `EXCLUDE_COLUMNS` on a PostgreSQL source, in every mode: the
//! reader reads exactly the kept columns (an excluded array column among them), and the
//! staging table holds the source's values of those columns, row by row.

use crate::common::write;
use crate::pg_e2e::{pg_env, run};
use crate::support::pg::pg;

#[test]
fn kept_and_excluded_columns_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let src = pg().create_database("cols_src");
    pg().client(&src)
        .batch_execute(
            "CREATE TABLE items (id int PRIMARY KEY, tags text[], name text, qty numeric(8,2), seen timestamptz[]);
             INSERT INTO items SELECT g, ARRAY['a' || g, NULL], 'item ' || g, g / 4.0, ARRAY[now()]
             FROM generate_series(1, 2500) g;",
        )
        .unwrap();
    let ini = write(
        dir.path(),
        "c.ini",
        "[settings]\nSRC_TABLES = items, items2\n\n[table:items]\nEXCLUDE_COLUMNS = tags, seen\n\n[table:items2]\nCOLUMNS = qty, id\n",
    );
    pg().client(&src)
        .batch_execute("CREATE TABLE items2 AS SELECT * FROM items")
        .unwrap();
    for mode in ["DIRECT", "DUMP"] {
        let dst = pg().create_database("cols_dst");
        let out = dir.path().join(format!("out-{mode}"));
        let env = pg_env(
            &src,
            &dst,
            &[
                ("TRANSFER_MODE", mode),
                ("OUTPUT_DIR", out.to_str().unwrap()),
                ("SRC_CHUNK_SIZE", "1000"),
            ],
        );
        let r = run(dir.path(), &["--config", ini.to_str().unwrap()], &env);
        assert_eq!(r.code, 0, "{mode}: {}", r.all());
        let cols = |t: &str| -> Vec<String> {
            pg().client(&dst)
                .query(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'staging' AND table_name = $1 ORDER BY ordinal_position",
                    &[&t],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        assert_eq!(cols("items"), ["id", "name", "qty"], "{mode}");
        assert_eq!(cols("items2"), ["qty", "id"], "{mode}");
        // The rows, compared with the source's through text (both ways).
        let staged: Vec<String> = pg()
            .client(&dst)
            .query(
                "SELECT concat_ws('|', id, name, qty) FROM staging.items ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let source: Vec<String> = pg()
            .client(&src)
            .query(
                "SELECT concat_ws('|', id, name, qty) FROM items ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(staged.len(), 2500);
        assert_eq!(staged, source, "{mode}");
        let n: i64 = pg()
            .client(&dst)
            .query_one(
                "SELECT count(*) FROM staging.items2 WHERE qty = id / 4.0",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 2500, "{mode}");
    }
}

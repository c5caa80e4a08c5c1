//! Schema drift between merge runs (`SCHEMA_CHANGE`): a new column is added, a dropped one
//! kept (NULL for the rows merged from then on), a widened one widened; a narrowed one
//! fails the table with one line; `freeze` fails on any change.

use std::path::{Path, PathBuf};

use super::servers::Db;
use crate::common::{stage, write};

fn ini(dir: &Path, src: &Db, dst: &Db, extra: &str) -> PathBuf {
    write(
        dir,
        "d.ini",
        &format!(
            "{}{}[settings]\nSRC_TABLES = items\nWRITE_MODE = merge\n\n[table:items]\nSYNC_MODE = incremental\nINCREMENTAL_COLUMN = updated_at\nINCREMENTAL_SETTLE_SECONDS = 0\n{extra}",
            src.section("SRC"),
            dst.section("DST")
        ),
    )
}

fn run(dir: &Path, cfg: &Path) -> crate::common::Run {
    stage(dir, &["--config", cfg.to_str().unwrap()], &[])
}

fn drift(src: Db, dst: Db) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (bigint, smallint, modify) = match &src {
        Db::Pg(_) => ("bigint", "smallint", "ALTER COLUMN n TYPE"),
        Db::Maria(_) => ("BIGINT", "SMALLINT", "MODIFY n"),
    };
    src.exec(&format!(
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), n INT, updated_at {})",
        src.ts_type()
    ));
    src.exec("INSERT INTO items VALUES (1, 'a', 1, '2024-01-01 00:00:00'), (2, 'b', 2, '2024-01-01 00:00:00')");
    let cfg = ini(dir, &src, &dst, "");
    let r = run(dir, &cfg);
    assert_eq!(r.code, 0, "{}", r.all());
    src.exec("ALTER TABLE items ADD COLUMN extra VARCHAR(10)");
    src.exec("ALTER TABLE items DROP COLUMN name");
    src.exec(&format!("ALTER TABLE items {modify} {bigint}"));
    src.exec("UPDATE items SET extra = 'x', n = 5000000000, updated_at = '2024-01-02 00:00:00' WHERE id = 1");
    src.exec(
        "INSERT INTO items (id, n, updated_at, extra) VALUES (3, 3, '2024-01-02 00:00:00', 'y')",
    );
    let r = run(dir, &cfg);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        dst.rows("SELECT id, COALESCE(name, 'NULL'), n, COALESCE(extra, 'NULL') FROM items"),
        ["1|NULL|5000000000|x", "2|b|2|NULL", "3|NULL|3|y"],
        "the dropped column is kept (NULL for rows merged since), the new one added, n widened"
    );
    let logged = dst.rows("SELECT error_message FROM etl_logs WHERE status = 'schema_change'");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains("column n widened")
            && logged[0].contains("column extra added")
            && logged[0].contains("column name is no longer in the source"),
        "{logged:?}"
    );
    // Narrowing is not lossless: the table fails with one line, staging unchanged.
    src.exec("UPDATE items SET n = 1 WHERE id = 1");
    src.exec(&format!("ALTER TABLE items {modify} {smallint}"));
    src.exec("UPDATE items SET n = 7, updated_at = '2024-01-03 00:00:00' WHERE id = 2");
    let r = run(dir, &cfg);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("column n changed from") && r.all().contains("not a lossless widening"),
        "{}",
        r.all()
    );
    assert_eq!(dst.rows("SELECT n FROM items WHERE id = 2"), ["2"]);
    // freeze: any change fails.
    let cfg = ini(dir, &src, &dst, "SCHEMA_CHANGE = freeze\n");
    src.exec(&format!("ALTER TABLE items {modify} {bigint}"));
    src.exec("ALTER TABLE items ADD COLUMN more INT");
    let r = run(dir, &cfg);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("SCHEMA_CHANGE = freeze"), "{}", r.all());
}

#[test]
fn schema_drift_postgres_to_postgres() {
    drift(Db::pg("drift_src"), Db::pg("drift_dst"));
}

#[test]
fn schema_drift_mariadb_to_mariadb() {
    drift(Db::maria("drift_src"), Db::maria("drift_dst"));
}

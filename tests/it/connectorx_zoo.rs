//! CONNECTORX keeps every type: the PostgreSQL and MariaDB type zoos dumped to Parquet
//! through CONNECTORX hold the same schema and the same values, column by column and row by
//! row, as through DUMP (the native readers).

use std::path::Path;

use arrow::array::{Array, ArrayRef};
use arrow::compute::concat;
use arrow::datatypes::SchemaRef;

use crate::common::{only_manifest, read_parquet, stage, write};

/// `stage dump` of `table` in `mode`; returns the schema and each column's values.
fn dump(
    dir: &Path,
    source: &str,
    table: &str,
    mode: &str,
    section: &str,
) -> (SchemaRef, Vec<ArrayRef>) {
    let out = format!("out-{mode}");
    let ini = format!(
        "{source}[settings]\nSRC_TABLES = {table}\nTRANSFER_MODE = {mode}\nOUTPUT_DIR = {out}\nSRC_CHUNK_SIZE = 2\n{section}"
    );
    write(dir, &format!("{mode}.ini"), &ini);
    let r = stage(dir, &["dump", "--config", &format!("{mode}.ini")], &[]);
    assert_eq!(r.code, 0, "{mode}: {}", r.all());
    let (_, m) = only_manifest(&dir.join(&out));
    let mut batches = Vec::new();
    for p in m["tables"][0]["parts"].as_array().unwrap() {
        batches.extend(read_parquet(
            &dir.join(&out).join(p["path"].as_str().unwrap()),
        ));
    }
    let schema = batches[0].schema();
    let columns = (0..schema.fields().len())
        .map(|i| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            concat(&parts).unwrap()
        })
        .collect();
    (schema, columns)
}

/// Both modes give the same schema (types and source-type metadata) and equal values in
/// every column; rows are ordered by the key (PARTITION_NUM = 1 reads in one query, and
/// each zoo's rows come back in key order from a table this small).
fn same_in_both_modes(source: &str, table: &str, section: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (want_schema, want) = dump(dir.path(), source, table, "DUMP", section);
    let (got_schema, got) = dump(dir.path(), source, table, "CONNECTORX", section);
    let mut differing = Vec::new();
    for (i, f) in want_schema.fields().iter().enumerate() {
        let g = got_schema.field(i);
        if g.data_type() != f.data_type() {
            differing.push(format!(
                "{}: {} through DUMP, {} through CONNECTORX",
                f.name(),
                f.data_type(),
                g.data_type()
            ));
        } else if want[i].as_ref() != got[i].as_ref() {
            differing.push(format!(
                "{}: values differ\n  DUMP       {:?}\n  CONNECTORX {:?}",
                f.name(),
                want[i],
                got[i]
            ));
        }
    }
    assert!(
        differing.is_empty(),
        "{table}: {} columns differ:\n{}",
        differing.len(),
        differing.join("\n")
    );
    assert_eq!(want_schema, got_schema, "{table}: schema and metadata");
}

#[test]
fn postgres_type_zoo_through_connectorx_equals_dump_value_by_value() {
    let s = crate::support::pg();
    let db = crate::pg_e2e::zoo_source();
    let source = format!(
        "[database-source]\nSRC_DRIVER = postgres\nSRC_HOST = {}\nSRC_PORT = {}\nSRC_USERNAME = {}\nSRC_PASSWORD = {}\nSRC_DB = {db}\n\n",
        s.host, s.port, s.user, s.password
    );
    // ConnectorX 0.4.6 reads no PostgreSQL array: the other columns are compared through a
    // view, and reading an array is a clear error naming the column.
    s.client(&db)
        .batch_execute(
            "CREATE VIEW zoo_scalars AS SELECT id, i2, i4, i8, n38, n12, n50, nfree, f4, f8, t, vc, bc, nm, \"by\", b, d, tm, ts, tstz, iv, u, j, jb, ip, cd, mac, ttz, e, big_t, big_b FROM zoo",
        )
        .unwrap();
    same_in_both_modes(&source, "zoo_scalars", "");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.ini",
        &format!(
            "{source}[settings]\nSRC_TABLES = zoo\nTRANSFER_MODE = CONNECTORX\nOUTPUT_DIR = out\n"
        ),
    );
    let r = stage(dir.path(), &["dump", "--config", "a.ini"], &[]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("column ai") && r.all().contains("CONNECTORX cannot read arrays"),
        "{}",
        r.all()
    );
}

#[test]
fn mariadb_type_zoo_through_connectorx_equals_dump_value_by_value() {
    let s = crate::support::mariadb();
    let db = crate::mysql_e2e::zoo_source();
    let source = format!(
        "[database-source]\nSRC_DRIVER = mariadb\nSRC_HOST = {}\nSRC_PORT = {}\nSRC_USERNAME = {}\nSRC_PASSWORD = {}\nSRC_DB = {db}\n\n",
        s.host, s.port, s.user, s.password
    );
    same_in_both_modes(&source, "zoo", "");
}

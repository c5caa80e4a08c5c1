//! `WRITE_MODE = merge`: the SQL every destination shares. A merge load bulk-loads its rows
//! into a side table unique to the run (the shadow's name, through the loader's fast path),
//! then one transaction applies them to the staging table: of the rows with one key, the
//! last by the cursor (`INCREMENTAL_COLUMN`, then load order) wins, new keys are inserted,
//! existing ones updated — `INSERT … ON CONFLICT` (PostgreSQL, SQLite), `INSERT … ON
//! DUPLICATE KEY UPDATE` (MySQL/MariaDB), `MERGE … WITH (HOLDLOCK)` (SQL Server). The
//! side table carries the load order in [`SEQ_COLUMN`] (SQLite: its `rowid`).

use arrow::datatypes::SchemaRef;

use super::LoadTarget;
use crate::config::sync::SchemaChange;
use crate::dialect::Dialect;
use crate::error::{Error, Result};

/// The side table's load-order column (not a staging column).
pub const SEQ_COLUMN: &str = "stage_seq__";

/// What a merge load needs beyond the table: its key and its tie-break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSpec {
    /// Key columns, staging (lowercase) names, in key order.
    pub key: Vec<String>,
    /// Cursor columns (lowercase): of two rows with one key, the greater value wins; when
    /// empty or equal, the one loaded later.
    pub order: Vec<String>,
    /// `SCHEMA_CHANGE` ([`super::drift`]).
    pub schema_change: SchemaChange,
    /// Staging columns the source no longer has: set NULL by every merged row (filled in
    /// by the loader from [`super::drift::plan`]).
    pub dropped: Vec<String>,
}

impl MergeSpec {
    /// Lowercases the names (staging columns are lowercase).
    pub fn new(key: &[String], order: &[String]) -> Self {
        MergeSpec {
            key: key.iter().map(|k| k.to_lowercase()).collect(),
            order: order.iter().map(|k| k.to_lowercase()).collect(),
            schema_change: SchemaChange::Evolve,
            dropped: Vec::new(),
        }
    }
}

/// The spec of a merge load: a configuration error when the target has none or a key
/// column is not among the staging columns.
pub fn spec<'t>(target: &'t LoadTarget, schema: &SchemaRef) -> Result<&'t MergeSpec> {
    let spec = target.merge.as_ref().ok_or_else(|| {
        Error::config(format!(
            "staging table {}: WRITE_MODE = merge needs a key: set PRIMARY_KEY in [table:NAME] (the source table has no primary key)",
            target.display()
        ))
    })?;
    if spec.key.is_empty() {
        return Err(Error::config(format!(
            "staging table {}: WRITE_MODE = merge needs a key: set PRIMARY_KEY",
            target.display()
        )));
    }
    for k in spec.key.iter().chain(&spec.order) {
        if schema.field_with_name(k).is_err() {
            return Err(Error::config(format!(
                "staging table {}: column \"{k}\" (PRIMARY_KEY / INCREMENTAL_COLUMN) is not among the columns read",
                target.display()
            )));
        }
    }
    Ok(spec)
}

fn list(d: Dialect, names: &[String], prefix: &str) -> String {
    names
        .iter()
        .map(|n| format!("{prefix}{}", d.quote(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cursor expression a row is ranked by: the column, or the greatest of several
/// (NULLs ignored).
fn cursor(d: Dialect, order: &[String]) -> Option<String> {
    let q: Vec<String> = order.iter().map(|c| d.quote(c)).collect();
    match q.len() {
        0 => None,
        1 => Some(q[0].clone()),
        _ => Some(match d {
            Dialect::Postgres => format!("GREATEST({})", q.join(", ")),
            // Oracle is never a destination.
            Dialect::Mssql | Dialect::Oracle => format!(
                "(SELECT MAX(stage_v) FROM (VALUES {}) AS stage_c(stage_v))",
                q.iter()
                    .map(|c| format!("({c})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            // MySQL's GREATEST and SQLite's max() are NULL when any argument is.
            Dialect::Mysql | Dialect::Sqlite => {
                let all = q.join(", ");
                let args: Vec<String> = q.iter().map(|c| format!("COALESCE({c}, {all})")).collect();
                let f = if d == Dialect::Mysql {
                    "GREATEST"
                } else {
                    "MAX"
                };
                format!("{f}({})", args.join(", "))
            }
        }),
    }
}

/// The side table's rows, one per key: the last by cursor, then by load order.
pub fn dedup_select(d: Dialect, side: &str, columns: &[String], spec: &MergeSpec) -> String {
    let seq = match d {
        Dialect::Sqlite => "rowid".to_string(),
        _ => d.quote(SEQ_COLUMN),
    };
    let mut order = Vec::new();
    if let Some(c) = cursor(d, &spec.order) {
        // NULL is the smallest in descending order everywhere but PostgreSQL.
        let nulls = if d == Dialect::Postgres {
            " NULLS LAST"
        } else {
            ""
        };
        order.push(format!("{c} DESC{nulls}"));
    }
    order.push(format!("{seq} DESC"));
    let cols = list(d, columns, "");
    format!(
        "SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {} ORDER BY {}) AS stage_rn FROM {side}) stage_d WHERE stage_rn = 1",
        list(d, &spec.key, ""),
        order.join(", ")
    )
}

/// How many distinct keys the side table holds (its rows less this are the duplicates).
pub fn distinct_keys(d: Dialect, side: &str, spec: &MergeSpec) -> String {
    format!(
        "SELECT count(*) FROM (SELECT DISTINCT {} FROM {side}) stage_k",
        list(d, &spec.key, "")
    )
}

/// The statement that applies the side table to `table` (both quoted and qualified).
pub fn upsert(d: Dialect, table: &str, side: &str, columns: &[String], spec: &MergeSpec) -> String {
    let rest: Vec<&String> = columns.iter().filter(|c| !spec.key.contains(c)).collect();
    let cols = list(d, columns, "");
    let key = list(d, &spec.key, "");
    let select = dedup_select(d, side, columns, spec);
    let set = |f: &dyn Fn(&str) -> String| {
        rest.iter()
            .map(|c| format!("{} = {}", d.quote(c), f(&d.quote(c))))
            .chain(
                spec.dropped
                    .iter()
                    .map(|c| format!("{} = NULL", d.quote(c))),
            )
            .collect::<Vec<_>>()
            .join(", ")
    };
    match d {
        Dialect::Postgres | Dialect::Sqlite => {
            let action = if rest.is_empty() {
                "DO NOTHING".to_string()
            } else {
                let excluded = if d == Dialect::Postgres {
                    "EXCLUDED"
                } else {
                    "excluded"
                };
                format!("DO UPDATE SET {}", set(&|c| format!("{excluded}.{c}")))
            };
            format!("INSERT INTO {table} ({cols}) {select} ON CONFLICT ({key}) {action}")
        }
        Dialect::Mysql => {
            let update = if rest.is_empty() {
                let k = d.quote(&spec.key[0]);
                format!("{k} = {k}")
            } else {
                set(&|c| format!("VALUES({c})"))
            };
            format!("INSERT INTO {table} ({cols}) {select} ON DUPLICATE KEY UPDATE {update}")
        }
        // Oracle is never a destination.
        Dialect::Mssql | Dialect::Oracle => {
            let on = spec
                .key
                .iter()
                .map(|k| format!("stage_t.{0} = stage_s.{0}", d.quote(k)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let matched = if rest.is_empty() {
                String::new()
            } else {
                format!(
                    " WHEN MATCHED THEN UPDATE SET {}",
                    rest.iter()
                        .map(|c| format!("stage_t.{0} = stage_s.{0}", d.quote(c)))
                        .chain(
                            spec.dropped
                                .iter()
                                .map(|c| format!("stage_t.{} = NULL", d.quote(c)))
                        )
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!(
                "MERGE INTO {table} WITH (HOLDLOCK) AS stage_t USING ({select}) AS stage_s ON {on}{matched} WHEN NOT MATCHED BY TARGET THEN INSERT ({cols}) VALUES ({});",
                list(d, columns, "stage_s.")
            )
        }
    }
}

/// Logs how many rows of the window shared a key with a later one (they were not applied).
pub fn log_duplicates(table: &str, rows: u64, distinct: u64) {
    let removed = rows.saturating_sub(distinct);
    if removed > 0 {
        tracing::info!(table = %table, rows, removed, "rows with a key that a later row of this load also has were merged into that one (the last by INCREMENTAL_COLUMN, then load order, wins)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(order: &[&str]) -> MergeSpec {
        MergeSpec::new(
            &["id".into()],
            &order.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    fn cols() -> Vec<String> {
        vec!["id".into(), "name".into(), "updated_at".into()]
    }

    #[test]
    fn postgres_upserts_the_last_row_per_key() {
        let sql = upsert(
            Dialect::Postgres,
            "\"s\".\"t\"",
            "\"s\".\"side\"",
            &cols(),
            &spec(&["updated_at"]),
        );
        assert_eq!(
            sql,
            "INSERT INTO \"s\".\"t\" (\"id\", \"name\", \"updated_at\") SELECT \"id\", \"name\", \"updated_at\" FROM (SELECT \"id\", \"name\", \"updated_at\", ROW_NUMBER() OVER (PARTITION BY \"id\" ORDER BY \"updated_at\" DESC NULLS LAST, \"stage_seq__\" DESC) AS stage_rn FROM \"s\".\"side\") stage_d WHERE stage_rn = 1 ON CONFLICT (\"id\") DO UPDATE SET \"name\" = EXCLUDED.\"name\", \"updated_at\" = EXCLUDED.\"updated_at\""
        );
    }

    #[test]
    fn mysql_and_sqlite_forms() {
        let sql = upsert(Dialect::Mysql, "`t`", "`side`", &cols(), &spec(&[]));
        assert!(sql.ends_with("ORDER BY `stage_seq__` DESC) AS stage_rn FROM `side`) stage_d WHERE stage_rn = 1 ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `updated_at` = VALUES(`updated_at`)"), "{sql}");
        let sql = upsert(
            Dialect::Sqlite,
            "\"t\"",
            "\"side\"",
            &cols(),
            &spec(&["a", "b"]),
        );
        assert!(sql.contains("ORDER BY MAX(COALESCE(\"a\", \"a\", \"b\"), COALESCE(\"b\", \"a\", \"b\")) DESC, rowid DESC"), "{sql}");
        assert!(sql.ends_with("ON CONFLICT (\"id\") DO UPDATE SET \"name\" = excluded.\"name\", \"updated_at\" = excluded.\"updated_at\""), "{sql}");
        let only_key = upsert(Dialect::Sqlite, "t", "s", &["id".into()], &spec(&[]));
        assert!(only_key.ends_with("DO NOTHING"));
    }

    #[test]
    fn sql_server_merges_with_holdlock() {
        let sql = upsert(
            Dialect::Mssql,
            "[staging].[t]",
            "[staging].[side]",
            &cols(),
            &spec(&["updated_at"]),
        );
        assert_eq!(
            sql,
            "MERGE INTO [staging].[t] WITH (HOLDLOCK) AS stage_t USING (SELECT [id], [name], [updated_at] FROM (SELECT [id], [name], [updated_at], ROW_NUMBER() OVER (PARTITION BY [id] ORDER BY [updated_at] DESC, [stage_seq__] DESC) AS stage_rn FROM [staging].[side]) stage_d WHERE stage_rn = 1) AS stage_s ON stage_t.[id] = stage_s.[id] WHEN MATCHED THEN UPDATE SET stage_t.[name] = stage_s.[name], stage_t.[updated_at] = stage_s.[updated_at] WHEN NOT MATCHED BY TARGET THEN INSERT ([id], [name], [updated_at]) VALUES (stage_s.[id], stage_s.[name], stage_s.[updated_at]);"
        );
        let two = upsert(Dialect::Mssql, "t", "s", &cols(), &spec(&["a", "b"]));
        assert!(two.contains("ORDER BY (SELECT MAX(stage_v) FROM (VALUES ([a]), ([b])) AS stage_c(stage_v)) DESC"), "{two}");
    }

    #[test]
    fn distinct_key_count() {
        let s = MergeSpec::new(&["A".into(), "b".into()], &[]);
        assert_eq!(
            distinct_keys(Dialect::Postgres, "x", &s),
            "SELECT count(*) FROM (SELECT DISTINCT \"a\", \"b\" FROM x) stage_k"
        );
    }
}

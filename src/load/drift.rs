//! Schema drift between runs of a merge load (`SCHEMA_CHANGE`, #16): the staging table's
//! columns against the side table's (made from this run's source columns, so both are in
//! the destination's own spelling of types, read from its catalog).
//!
//! `evolve` (the default): a new source column is added to the staging table (nullable); a
//! dropped one stays and is set NULL by every row merged from then on; a lossless widening
//! (a larger integer, a longer `varchar`, a `decimal` with more digits on both sides of the
//! point, `varchar` → `text`) is applied; anything else fails the table with one line
//! naming the column, both types and the way out. `freeze`: any change fails the table.

use crate::config::sync::SchemaChange;
use crate::dialect::Dialect;
use crate::error::{Error, Result};

/// One column as a catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    /// Lowercase.
    pub name: String,
    /// As the catalog spells it (`integer`, `character varying(20)`, `decimal(10,2)`).
    pub ty: String,
    pub not_null: bool,
}

/// What a merge does to the staging table before applying its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Statements to run, in order (`ALTER TABLE …`).
    pub alters: Vec<String>,
    /// Staging columns the source no longer has: merged rows set them NULL.
    pub dropped: Vec<String>,
    /// One line per change, for the log and `etl_logs`.
    pub changes: Vec<String>,
}

/// Compares the staging table `staging` (its columns) with the side table's `wanted`
/// columns; `table` is the quoted, qualified staging table; `key` the merge key (its
/// columns' types may differ on purpose, e.g. MySQL's indexable `VARCHAR`).
pub fn plan(
    d: Dialect,
    shown: &str,
    table: &str,
    staging: &[CatalogColumn],
    wanted: &[CatalogColumn],
    key: &[String],
    mode: SchemaChange,
) -> Result<Drift> {
    let mut out = Drift::default();
    let fix = "reload the table whole (stage run --full-refresh, or WRITE_MODE = replace once)";
    for w in wanted {
        match staging.iter().find(|s| s.name == w.name) {
            None => {
                out.changes
                    .push(format!("column {} added ({})", w.name, w.ty));
                out.alters.push(match d {
                    Dialect::Mssql => {
                        format!("ALTER TABLE {table} ADD {} {} NULL", d.quote(&w.name), w.ty)
                    }
                    _ => format!(
                        "ALTER TABLE {table} ADD COLUMN {} {}",
                        d.quote(&w.name),
                        w.ty
                    ),
                });
            }
            Some(s) if key.contains(&w.name) || same_type(&s.ty, &w.ty) => {}
            Some(s) => {
                if mode == SchemaChange::Evolve && widens(&s.ty, &w.ty) {
                    out.changes.push(format!(
                        "column {} widened from {} to {}",
                        w.name, s.ty, w.ty
                    ));
                    out.alters.push(match d {
                        Dialect::Postgres => format!(
                            "ALTER TABLE {table} ALTER COLUMN {} TYPE {}",
                            d.quote(&w.name),
                            w.ty
                        ),
                        Dialect::Mysql => format!(
                            "ALTER TABLE {table} MODIFY {} {}{}",
                            d.quote(&w.name),
                            w.ty,
                            if s.not_null { " NOT NULL" } else { " NULL" }
                        ),
                        // SQLite keeps any value in any column: the declared type stays.
                        Dialect::Sqlite => continue,
                        _ => format!(
                            "ALTER TABLE {table} ALTER COLUMN {} {}",
                            d.quote(&w.name),
                            w.ty
                        ),
                    });
                } else {
                    return Err(Error::Check(format!(
                        "staging table {shown}: column {} changed from {} to {}, which {}: {fix}",
                        w.name,
                        s.ty,
                        w.ty,
                        if mode == SchemaChange::Freeze {
                            "SCHEMA_CHANGE = freeze does not allow"
                        } else {
                            "is not a lossless widening"
                        }
                    )));
                }
            }
        }
    }
    for s in staging {
        if wanted.iter().any(|w| w.name == s.name) {
            continue;
        }
        out.changes.push(format!(
            "column {} is no longer in the source: kept, NULL from now on",
            s.name
        ));
        out.dropped.push(s.name.clone());
        if s.not_null {
            match d {
                Dialect::Postgres => out.alters.push(format!(
                    "ALTER TABLE {table} ALTER COLUMN {} DROP NOT NULL",
                    d.quote(&s.name)
                )),
                Dialect::Mysql => out.alters.push(format!(
                    "ALTER TABLE {table} MODIFY {} {} NULL",
                    d.quote(&s.name),
                    s.ty
                )),
                _ => {
                    return Err(Error::Check(format!(
                        "staging table {shown}: column {} is no longer in the source but is NOT NULL in staging: {fix}",
                        s.name
                    )))
                }
            }
        }
    }
    if mode == SchemaChange::Freeze && !out.changes.is_empty() {
        return Err(Error::Check(format!(
            "staging table {shown}: the source's columns changed ({}) and SCHEMA_CHANGE = freeze: {fix}, or set SCHEMA_CHANGE = evolve",
            out.changes.join("; ")
        )));
    }
    Ok(out)
}

/// `WRITE_MODE = append` with `SCHEMA_CHANGE = evolve` into an existing table: the source
/// columns the staging table lacks, with their column types (`ddl`), to add as nullable
/// columns before the load. Staging columns the source dropped stay and get NULL in the
/// rows appended (their loads name only the source's columns). Types are not compared here:
/// a changed type fails the load at the database, loudly.
pub fn appended(
    target: &super::LoadTarget,
    existing: &[String],
    schema: &arrow::datatypes::SchemaRef,
    ddl: impl Fn(&arrow::datatypes::Field) -> Result<String>,
) -> Result<Vec<(String, String)>> {
    if target.write_mode != crate::config::WriteMode::Append
        || target.schema_change != SchemaChange::Evolve
        || existing.is_empty()
    {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for f in schema.fields() {
        if !existing.iter().any(|e| e == f.name()) {
            out.push((f.name().clone(), ddl(f)?));
            tracing::warn!(table = %target.display(), "schema change: column {} added ({})", f.name(), out.last().map(|c: &(String, String)| c.1.as_str()).unwrap_or(""));
        }
    }
    for e in existing {
        if schema.field_with_name(e).is_err() {
            tracing::warn!(table = %target.display(), "schema change: column {e} is no longer in the source: kept, NULL in the rows appended from now on");
        }
    }
    Ok(out)
}

fn norm(t: &str) -> String {
    t.trim().to_ascii_lowercase()
}

fn same_type(a: &str, b: &str) -> bool {
    norm(a) == norm(b)
}

/// `name(args)` → (name, args).
fn parts(t: &str) -> (String, Vec<u32>) {
    let t = norm(t);
    match t.split_once('(') {
        Some((name, rest)) => {
            let (inside, tail) = rest.split_once(')').unwrap_or((rest, ""));
            let args = inside
                .split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect();
            let tail = tail.trim();
            let name = if tail.is_empty() {
                name.trim().to_string()
            } else {
                format!("{} {tail}", name.trim())
            };
            (name, args)
        }
        None => (t, Vec::new()),
    }
}

/// The rank of an integer type (its width), `unsigned` as part of its family.
fn int_rank(name: &str) -> Option<(u8, bool)> {
    let unsigned = name.ends_with(" unsigned");
    let base = name.trim_end_matches(" unsigned");
    let rank = match base {
        "tinyint" => 1,
        "smallint" | "int2" => 2,
        "mediumint" => 3,
        "integer" | "int" | "int4" => 4,
        "bigint" | "int8" => 5,
        _ => return None,
    };
    Some((rank, unsigned))
}

/// Whether every value of `from` fits `to` unchanged.
pub fn widens(from: &str, to: &str) -> bool {
    let (f, fa) = parts(from);
    let (t, ta) = parts(to);
    if let (Some((a, ua)), Some((b, ub))) = (int_rank(&f), int_rank(&t)) {
        return ua == ub && b > a;
    }
    let text = |n: &str| matches!(n, "text" | "mediumtext" | "longtext");
    let varchar = |n: &str| matches!(n, "character varying" | "varchar" | "nvarchar");
    if varchar(&f) && (text(&t) || varchar(&t) && ta.first() >= fa.first()) {
        return true;
    }
    if f == "text" && matches!(t.as_str(), "mediumtext" | "longtext")
        || f == "mediumtext" && t == "longtext"
    {
        return true;
    }
    let decimal = |n: &str| matches!(n, "numeric" | "decimal");
    if decimal(&f) && decimal(&t) && fa.len() == 2 && ta.len() == 2 {
        let (p1, s1, p2, s2) = (fa[0], fa[1], ta[0], ta[1]);
        return s2 >= s1 && p2 - s2 >= p1 - s1 && (p2, s2) != (p1, s1);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, not_null: bool) -> CatalogColumn {
        CatalogColumn {
            name: name.into(),
            ty: ty.into(),
            not_null,
        }
    }

    #[test]
    fn widenings() {
        assert!(widens("integer", "bigint"));
        assert!(widens("int(11)", "bigint(20)"));
        assert!(!widens("bigint", "integer"));
        assert!(!widens("int unsigned", "bigint"));
        assert!(widens("character varying(10)", "character varying(20)"));
        assert!(widens("varchar(10)", "longtext"));
        assert!(!widens("character varying(20)", "character varying(10)"));
        assert!(widens("numeric(10,2)", "numeric(12,2)"));
        assert!(widens("decimal(10,2)", "decimal(12,4)"));
        assert!(!widens("numeric(10,2)", "numeric(10,3)"));
        assert!(!widens("integer", "text"));
        assert!(!widens("text", "integer"));
    }

    #[test]
    fn evolve_adds_keeps_and_widens_freeze_refuses() {
        let d = Dialect::Postgres;
        let staging = [
            col("id", "integer", true),
            col("n", "integer", false),
            col("gone", "text", true),
        ];
        let wanted = [
            col("id", "integer", true),
            col("n", "bigint", false),
            col("extra", "text", false),
        ];
        let key = ["id".to_string()];
        let p = plan(
            d,
            "s.t",
            "\"s\".\"t\"",
            &staging,
            &wanted,
            &key,
            SchemaChange::Evolve,
        )
        .unwrap();
        assert_eq!(
            p.alters,
            [
                "ALTER TABLE \"s\".\"t\" ALTER COLUMN \"n\" TYPE bigint",
                "ALTER TABLE \"s\".\"t\" ADD COLUMN \"extra\" text",
                "ALTER TABLE \"s\".\"t\" ALTER COLUMN \"gone\" DROP NOT NULL",
            ]
        );
        assert_eq!(p.dropped, ["gone"]);
        assert_eq!(p.changes.len(), 3);
        let e = plan(d, "s.t", "t", &staging, &wanted, &key, SchemaChange::Freeze).unwrap_err();
        assert!(e.to_string().contains("SCHEMA_CHANGE = freeze"), "{e}");
        let narrowed = [
            col("id", "integer", true),
            col("n", "smallint", false),
            col("gone", "text", true),
        ];
        let e = plan(
            d,
            "s.t",
            "t",
            &staging,
            &narrowed,
            &key,
            SchemaChange::Evolve,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "staging table s.t: column n changed from integer to smallint, which is not a lossless widening: reload the table whole (stage run --full-refresh, or WRITE_MODE = replace once)"
        );
        assert_eq!(
            plan(
                d,
                "s.t",
                "t",
                &staging,
                &staging,
                &key,
                SchemaChange::Freeze
            )
            .unwrap(),
            Drift::default()
        );
    }
}

//! The window's SQL per source database: the upper bound `U` as text (one expression over
//! the table), literals of a stored watermark, and the read's condition. Every value
//! travels as text at the column's full precision, never through a float.

use std::time::Duration;

use super::{Cursor, CursorType};
use crate::config::sync::CursorNulls;
use crate::config::Driver;
use crate::dialect::Dialect;

fn quoted(driver: Driver, cursor: &Cursor) -> Vec<String> {
    let d = Dialect::of(driver);
    cursor.columns.iter().map(|c| d.quote(c)).collect()
}

/// The greatest cursor value of the table (NULLs ignored), as SQL.
fn max_of(driver: Driver, cursor: &Cursor) -> String {
    let maxes: Vec<String> = quoted(driver, cursor)
        .iter()
        .map(|c| format!("MAX({c})"))
        .collect();
    if maxes.len() == 1 {
        return maxes[0].clone();
    }
    match driver {
        Driver::Postgres => format!("GREATEST({})", maxes.join(", ")),
        _ => {
            // MySQL's GREATEST and SQLite's max() are NULL when any argument is.
            let all = maxes.join(", ");
            let args: Vec<String> = maxes
                .iter()
                .map(|m| format!("COALESCE({m}, {all})"))
                .collect();
            let f = if driver == Driver::Sqlite {
                "MAX"
            } else {
                "GREATEST"
            };
            format!("{f}({})", args.join(", "))
        }
    }
}

/// `U` as a text expression over the table: `min(max(col), clock − settle)` for times,
/// the day before `clock − settle` at most for dates, `max(col)` for integers.
pub fn bound_expr(driver: Driver, cursor: &Cursor, settle: Duration) -> String {
    let m = max_of(driver, cursor);
    let s = settle.as_secs();
    match driver {
        Driver::Postgres => {
            let ago = format!("interval '{s} seconds'");
            match cursor.ty {
                CursorType::Timestamp => format!("(LEAST({m}, LOCALTIMESTAMP - {ago}))::text"),
                CursorType::TimestampTz => {
                    format!("(LEAST({m}, now() - {ago}) AT TIME ZONE 'UTC')::text")
                }
                CursorType::Date => {
                    format!("(LEAST({m}, (LOCALTIMESTAMP - {ago})::date - 1))::text")
                }
                CursorType::Integer => format!("({m})::text"),
            }
        }
        Driver::Sqlite => match cursor.ty {
            CursorType::Timestamp | CursorType::TimestampTz => format!(
                "CAST(MIN({m}, strftime('%Y-%m-%d %H:%M:%f', 'now', '-{s} seconds')) AS TEXT)"
            ),
            CursorType::Date => {
                format!("CAST(MIN({m}, date('now', '-{s} seconds', '-1 day')) AS TEXT)")
            }
            CursorType::Integer => format!("CAST({m} AS TEXT)"),
        },
        // MySQL/MariaDB (a UTC session); SQL Server and Oracle sources have no
        // incremental reads (`Source::snapshot`), the form is only for completeness.
        _ => match cursor.ty {
            CursorType::Timestamp | CursorType::TimestampTz => format!(
                "CAST(LEAST({m}, UTC_TIMESTAMP(6) - INTERVAL {s} SECOND) AS CHAR)"
            ),
            CursorType::Date => format!(
                "CAST(LEAST({m}, DATE(UTC_TIMESTAMP(6) - INTERVAL {s} SECOND) - INTERVAL 1 DAY) AS CHAR)"
            ),
            CursorType::Integer => format!("CAST({m} AS CHAR)"),
        },
    }
}

/// A stored watermark as a literal of the cursor's type.
pub fn literal(driver: Driver, ty: CursorType, text: &str) -> String {
    let d = Dialect::of(driver);
    if ty == CursorType::Integer {
        if let Ok(n) = text.trim().parse::<i128>() {
            return n.to_string();
        }
    }
    let q = d.quote_literal(text.trim());
    match (driver, ty) {
        (Driver::Postgres, CursorType::Timestamp) => format!("{q}::timestamp"),
        (Driver::Postgres, CursorType::TimestampTz) => {
            format!("({q}::timestamp AT TIME ZONE 'UTC')")
        }
        (Driver::Postgres, CursorType::Date) => format!("{q}::date"),
        (Driver::Mysql | Driver::Mariadb, CursorType::Date) => format!("CAST({q} AS DATE)"),
        (Driver::Mysql | Driver::Mariadb, _) => format!("CAST({q} AS DATETIME(6))"),
        _ => q,
    }
}

/// Every cursor column is NULL.
pub(super) fn all_null(driver: Driver, cursor: &Cursor) -> String {
    quoted(driver, cursor)
        .iter()
        .map(|c| format!("{c} IS NULL"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `count(*)` as text.
pub(super) fn count_text(driver: Driver) -> String {
    match driver {
        Driver::Postgres => "count(*)::text".into(),
        Driver::Sqlite => "CAST(count(*) AS TEXT)".into(),
        _ => "CAST(count(*) AS CHAR)".into(),
    }
}

/// The rows of the window `(lower, upper]`: any cursor column in it; with
/// `INCREMENTAL_NULLS = include` also the rows whose cursor is all NULL.
pub fn predicate(
    driver: Driver,
    cursor: &Cursor,
    lower: Option<&str>,
    upper: &str,
    nulls: CursorNulls,
) -> String {
    let u = literal(driver, cursor.ty, upper);
    let l = lower.map(|l| literal(driver, cursor.ty, l));
    let mut any: Vec<String> = quoted(driver, cursor)
        .iter()
        .map(|c| match &l {
            Some(l) => format!("({c} > {l} AND {c} <= {u})"),
            None => format!("{c} <= {u}"),
        })
        .collect();
    if nulls == CursorNulls::Include {
        any.push(format!("({})", all_null(driver, cursor)));
    }
    any.join(" OR ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(ty: CursorType, cols: &[&str]) -> Cursor {
        Cursor {
            columns: cols.iter().map(|c| c.to_string()).collect(),
            ty,
            declared: String::new(),
        }
    }

    #[test]
    fn upper_bounds_per_database() {
        let t = cursor(CursorType::Timestamp, &["updated_at"]);
        assert_eq!(
            bound_expr(Driver::Postgres, &t, Duration::from_secs(600)),
            "(LEAST(MAX(\"updated_at\"), LOCALTIMESTAMP - interval '600 seconds'))::text"
        );
        assert_eq!(
            bound_expr(Driver::Mariadb, &t, Duration::from_secs(5)),
            "CAST(LEAST(MAX(`updated_at`), UTC_TIMESTAMP(6) - INTERVAL 5 SECOND) AS CHAR)"
        );
        let i = cursor(CursorType::Integer, &["a", "b"]);
        assert_eq!(
            bound_expr(Driver::Sqlite, &i, Duration::ZERO),
            "CAST(MAX(COALESCE(MAX(\"a\"), MAX(\"a\"), MAX(\"b\")), COALESCE(MAX(\"b\"), MAX(\"a\"), MAX(\"b\"))) AS TEXT)"
        );
        assert_eq!(
            bound_expr(
                Driver::Postgres,
                &cursor(CursorType::TimestampTz, &["u"]),
                Duration::ZERO
            ),
            "(LEAST(MAX(\"u\"), now() - interval '0 seconds') AT TIME ZONE 'UTC')::text"
        );
    }

    #[test]
    fn windows_are_open_below_and_closed_above() {
        let t = cursor(CursorType::Timestamp, &["u", "c"]);
        assert_eq!(
            predicate(
                Driver::Postgres,
                &t,
                Some("2024-01-01 00:00:00.000001"),
                "2024-02-01 00:00:00",
                CursorNulls::Include
            ),
            "(\"u\" > '2024-01-01 00:00:00.000001'::timestamp AND \"u\" <= '2024-02-01 00:00:00'::timestamp) OR (\"c\" > '2024-01-01 00:00:00.000001'::timestamp AND \"c\" <= '2024-02-01 00:00:00'::timestamp) OR (\"u\" IS NULL AND \"c\" IS NULL)"
        );
        let i = cursor(CursorType::Integer, &["id"]);
        assert_eq!(
            predicate(Driver::Mysql, &i, None, "42", CursorNulls::Exclude),
            "`id` <= 42"
        );
        assert_eq!(
            literal(
                Driver::Mariadb,
                CursorType::Timestamp,
                "2024-01-01 10:00:00.123456"
            ),
            "CAST('2024-01-01 10:00:00.123456' AS DATETIME(6))"
        );
        // A watermark is text, never code.
        assert_eq!(
            literal(Driver::Sqlite, CursorType::Integer, "1; DROP TABLE x"),
            "'1; DROP TABLE x'"
        );
    }
}

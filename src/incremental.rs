//! Incremental sync (#16): the window `(L, U]` a run reads, and the watermark it leaves.
//!
//! * `L` is the stored watermark (`sync_metadata.watermark`, text at the column's full
//!   precision with its `cursor_type`); none on a table's first run.
//! * `U` is computed inside the source snapshot the rows are then read in
//!   ([`crate::source::Source::snapshot`]): for a temporal cursor
//!   `min(max(col), database clock − INCREMENTAL_SETTLE_SECONDS)`, for a date cursor the day
//!   before that instant's date (a day is whole only once it is over), for an integer
//!   `max(col)`. A row qualifies when any cursor column lies in `(L, U]`.
//! * `U ≤ L` (or an empty table): nothing is read and the watermark stays.
//! * The new watermark `U` commits in the destination transaction that applies the rows.
//!
//! `sql` renders the bound and predicate SQL per source database.

mod sql;

use std::cmp::Ordering;

use arrow::datatypes::DataType;

use crate::config::sync::{CursorNulls, SyncSettings};
use crate::config::Driver;
use crate::error::{Error, Result};
use crate::source::{Source, TableInfo};

pub use sql::{bound_expr, literal, predicate};

/// The type of a table's cursor columns, as stored in `sync_metadata.cursor_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorType {
    /// A timestamp without time zone: the database's wall clock.
    Timestamp,
    /// An instant (`timestamptz`, MySQL `TIMESTAMP`), compared in UTC.
    TimestampTz,
    Date,
    Integer,
}

impl CursorType {
    pub fn of(dt: &DataType) -> Option<CursorType> {
        Some(match dt {
            DataType::Timestamp(_, None) => CursorType::Timestamp,
            DataType::Timestamp(_, Some(_)) => CursorType::TimestampTz,
            DataType::Date32 | DataType::Date64 => CursorType::Date,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => CursorType::Integer,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            CursorType::Timestamp => "timestamp",
            CursorType::TimestampTz => "timestamptz",
            CursorType::Date => "date",
            CursorType::Integer => "integer",
        }
    }

    pub fn temporal(self) -> bool {
        self != CursorType::Integer
    }
}

/// A table's cursor: its columns (as the source spells them) and their one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub columns: Vec<String>,
    pub ty: CursorType,
    /// The source's declared type of the first column (for `stage plan`).
    pub declared: String,
}

impl Cursor {
    /// The cursor of `info` for `INCREMENTAL_COLUMN`: every column must exist and all
    /// must have one cursor type.
    pub fn of(info: &TableInfo, sync: &SyncSettings) -> Result<Cursor> {
        let shown = info.table.display();
        let mut columns = Vec::new();
        let mut ty: Option<CursorType> = None;
        let mut declared = String::new();
        for name in &sync.columns {
            let c = info
                .columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    Error::config(format!(
                        "table {shown}: INCREMENTAL_COLUMN \"{name}\" is not a column of the table"
                    ))
                })?;
            let t = CursorType::of(&c.arrow_type).ok_or_else(|| {
                Error::config(format!(
                    "table {shown}: INCREMENTAL_COLUMN \"{}\" is {}: a cursor must be a timestamp, date or integer column",
                    c.name, c.source_type
                ))
            })?;
            match ty {
                Some(prev) if prev != t => {
                    return Err(Error::config(format!(
                        "table {shown}: INCREMENTAL_COLUMN columns must have one type; \"{}\" is {} but the first is {}",
                        c.name,
                        t.name(),
                        prev.name()
                    )))
                }
                None => declared = c.source_type.clone(),
                _ => {}
            }
            ty = Some(t);
            columns.push(c.name.clone());
        }
        Ok(Cursor {
            columns,
            ty: ty.ok_or_else(|| Error::config(format!("table {shown}: no INCREMENTAL_COLUMN")))?,
            declared,
        })
    }

    /// `a, b` (lowercase, as staged): what `sync_metadata.cursor_columns` keeps.
    pub fn names(&self) -> String {
        self.columns
            .iter()
            .map(|c| c.to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What `sync_metadata` holds for a table's incremental state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub watermark: Option<String>,
    pub cursor_type: Option<String>,
    pub cursor_columns: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub last_full_refresh_at: Option<String>,
}

/// A run's window for one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub cursor: Cursor,
    /// `L`: the stored watermark (exclusive).
    pub lower: Option<String>,
    /// `U` (inclusive); `None`: the table has no cursor value yet.
    pub upper: Option<String>,
    /// The read's condition; `None` when nothing is to be read.
    pub condition: Option<String>,
}

impl Window {
    /// Nothing to read: `U ≤ L`, or no cursor value at all.
    pub fn is_empty(&self) -> bool {
        self.condition.is_none()
    }

    /// The watermark the run leaves: `U` when it moved forward, else `L`.
    pub fn watermark(&self) -> Option<String> {
        if self.is_empty() {
            self.lower.clone()
        } else {
            self.upper.clone().or_else(|| self.lower.clone())
        }
    }
}

/// Compares two watermarks of one cursor type (integers as numbers, dates and times as
/// their ISO text, which sorts in time order).
pub fn compare(ty: CursorType, a: &str, b: &str) -> Ordering {
    if ty == CursorType::Integer {
        if let (Ok(x), Ok(y)) = (a.trim().parse::<i128>(), b.trim().parse::<i128>()) {
            return x.cmp(&y);
        }
    }
    normalize(a).cmp(&normalize(b))
}

/// ISO text in one form: `T` as a space, no trailing zero fraction.
fn normalize(t: &str) -> String {
    let t = t.trim().replacen('T', " ", 1);
    match t.split_once('.') {
        Some((whole, frac)) if frac.chars().all(|c| c.is_ascii_digit()) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{frac}")
            }
        }
        _ => t,
    }
}

/// Fixes the window of `info`'s incremental read: call inside the read's snapshot. Checks
/// the NULL cursors (`INCREMENTAL_NULLS`) and that the stored state is this cursor's.
pub fn open(
    driver: Driver,
    src: &mut dyn Source,
    info: &TableInfo,
    sync: &SyncSettings,
    stored: &Stored,
) -> Result<Window> {
    let cursor = Cursor::of(info, sync)?;
    let shown = info.table.display();
    if let Some(t) = &stored.cursor_type {
        let same_columns = stored
            .cursor_columns
            .as_deref()
            .is_none_or(|c| c == cursor.names());
        if stored.watermark.is_some() && (t != cursor.ty.name() || !same_columns) {
            return Err(Error::config(format!(
                "table {shown}: the stored watermark is for cursor {} ({t}) but INCREMENTAL_COLUMN is now {} ({}): run `stage state reset --table {}` or `stage run --full-refresh --tables {}`",
                stored.cursor_columns.as_deref().unwrap_or("?"),
                cursor.names(),
                cursor.ty.name(),
                info.table.name,
                info.table.name
            )));
        }
    }
    let upper = src
        .select_text(info, &[bound_expr(driver, &cursor, sync.settle)], None)?
        .into_iter()
        .next()
        .flatten();
    if sync.nulls == CursorNulls::Error {
        let cond = sql::all_null(driver, &cursor);
        let n = src
            .select_text(info, &[sql::count_text(driver)], Some(&cond))?
            .into_iter()
            .next()
            .flatten()
            .unwrap_or_default();
        if n.trim() != "0" && !n.trim().is_empty() {
            return Err(Error::Check(format!(
                "table {shown}: {n} rows have a NULL {} (INCREMENTAL_COLUMN), which no window can hold: set INCREMENTAL_NULLS = include (read them every run) or exclude (never read them), or fill the column",
                cursor.names()
            )));
        }
    }
    let lower = stored.watermark.clone();
    let moves = match (&upper, &lower) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(u), Some(l)) => compare(cursor.ty, u, l) == Ordering::Greater,
    };
    let condition = if moves {
        let u = upper.as_deref().expect("moves has an upper bound");
        Some(predicate(driver, &cursor, lower.as_deref(), u, sync.nulls))
    } else {
        None
    };
    tracing::info!(table = %shown, cursor = %cursor.names(), from = ?lower, to = ?upper, empty = condition.is_none(), "incremental window (from, to]");
    Ok(Window {
        cursor,
        lower,
        upper,
        condition,
    })
}

/// `filter AND condition`: the window within the operator's `WHERE`.
pub fn and_filter(filter: Option<&str>, condition: &str) -> String {
    match filter {
        Some(f) => format!("({f}) AND ({condition})"),
        None => condition.to_string(),
    }
}

/// For `stage plan`: the rows whose cursor is all NULL, and the rows `window` holds (call
/// inside the snapshot the window was fixed in).
pub fn counts(
    driver: Driver,
    src: &mut dyn Source,
    info: &TableInfo,
    window: &Window,
) -> Result<(u64, u64)> {
    let count = |src: &mut dyn Source, cond: &str| -> Result<u64> {
        Ok(src
            .select_text(info, &[sql::count_text(driver)], Some(cond))?
            .into_iter()
            .next()
            .flatten()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0))
    };
    let nulls = count(src, &sql::all_null(driver, &window.cursor))?;
    let rows = match &window.condition {
        Some(c) => count(src, c)?,
        None => 0,
    };
    Ok((nulls, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_compare_by_type_and_full_precision() {
        use CursorType::*;
        assert_eq!(compare(Integer, "10", "9"), Ordering::Greater);
        assert_eq!(
            compare(
                Timestamp,
                "2024-01-01 10:00:00.000001",
                "2024-01-01 10:00:00"
            ),
            Ordering::Greater
        );
        assert_eq!(
            compare(
                Timestamp,
                "2024-01-01T10:00:00.500000",
                "2024-01-01 10:00:00.5"
            ),
            Ordering::Equal
        );
        assert_eq!(compare(Date, "2024-01-02", "2024-01-10"), Ordering::Less);
    }

    #[test]
    fn an_empty_window_keeps_the_watermark() {
        let w = Window {
            cursor: Cursor {
                columns: vec!["u".into()],
                ty: CursorType::Integer,
                declared: "bigint".into(),
            },
            lower: Some("7".into()),
            upper: Some("7".into()),
            condition: None,
        };
        assert!(w.is_empty());
        assert_eq!(w.watermark().as_deref(), Some("7"));
        let moved = Window {
            upper: Some("9".into()),
            condition: Some("x".into()),
            ..w
        };
        assert_eq!(moved.watermark().as_deref(), Some("9"));
    }
}

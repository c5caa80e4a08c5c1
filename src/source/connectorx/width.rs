//! `SRC_CHUNK_BYTES` for ConnectorX, which cuts batches by rows only: the rows per batch
//! (and per wave) come from the bytes per row measured on a sample of the table, so a table
//! of 2 MiB documents is read in batches of about `SRC_CHUNK_BYTES`, not `SRC_CHUNK_SIZE`
//! rows of them.
//!
//! The sample is the first `SAMPLE_ROWS` rows the server returns, measured on the server
//! (`octet_length`/`LENGTH`: the values' byte lengths, without sending them). Rows much
//! wider than the sample later in the table make batches larger than the bound by the
//! same factor; the native readers (DUMP, DIRECT) cut every batch by its real bytes.

use arrow::datatypes::DataType;

use super::TableInfo;
use crate::dialect::Dialect;

/// ConnectorX holds a batch several times over while it builds it (its buffer of 32 fetched
/// rows, builders that grow by doubling, the batches of a wave waiting in its channel, our
/// adapted copy): its batches aim at this fraction of `SRC_CHUNK_BYTES` (measured on 2 MiB
/// rows: peak RSS 1.06 GB at the full 64 MiB, 0.39 GB at a quarter).
pub(super) const CONNECTORX_SHARE: usize = 4;

/// Rows measured to estimate a row's width.
pub(super) const SAMPLE_ROWS: u64 = 100;

/// Bytes Arrow spends per value besides a variable-width value's own bytes: the widest
/// fixed-width types and the offsets of strings and binaries.
const FIXED_BYTES_PER_VALUE: u64 = 8;

fn variable_width(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
    )
}

/// The query that measures the sample: its row count and the sum of the byte lengths of its
/// variable-width values, as two integers; `None` when every column has a fixed width.
pub(super) fn sample_sql(d: Dialect, info: &TableInfo, from: &str) -> Option<String> {
    let lengths: Vec<String> = info
        .columns
        .iter()
        .filter(|c| variable_width(&c.arrow_type))
        .map(|c| {
            let q = d.quote(&c.name);
            let binary = matches!(
                c.arrow_type,
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView
            );
            let len = match d {
                Dialect::Postgres if binary => format!("octet_length({q})"),
                Dialect::Postgres => format!("octet_length(CAST({q} AS TEXT))"),
                Dialect::Mysql => format!("LENGTH({q})"),
                _ => format!("length(CAST({q} AS BLOB))"),
            };
            format!("COALESCE({len}, 0)")
        })
        .collect();
    if lengths.is_empty() {
        return None;
    }
    let cols: Vec<String> = info.columns.iter().map(|c| d.quote(&c.name)).collect();
    let sum = format!("SUM({})", lengths.join(" + "));
    let (count, total) = match d {
        Dialect::Mysql => (
            "CAST(COUNT(*) AS SIGNED)".to_string(),
            format!("CAST(COALESCE({sum}, 0) AS SIGNED)"),
        ),
        Dialect::Postgres => (
            "CAST(COUNT(*) AS BIGINT)".to_string(),
            format!("CAST(COALESCE({sum}, 0) AS BIGINT)"),
        ),
        _ => ("COUNT(*)".to_string(), format!("COALESCE({sum}, 0)")),
    };
    Some(format!(
        "SELECT {count} AS w_rows, {total} AS w_bytes FROM (SELECT {} FROM {from} LIMIT {SAMPLE_ROWS}) s",
        cols.join(", ")
    ))
}

/// Rows per batch: `chunk_rows`, or fewer when rows of `sample_bytes / sample_rows`
/// variable-width bytes (plus a fixed cost per column) would fill `chunk_bytes` first;
/// at least one.
pub(super) fn rows_per_batch(
    chunk_rows: usize,
    chunk_bytes: usize,
    columns: usize,
    sample_rows: u64,
    sample_bytes: u64,
) -> usize {
    let chunk_rows = chunk_rows.max(1);
    if sample_rows == 0 {
        return chunk_rows;
    }
    let per_row = sample_bytes.div_ceil(sample_rows) + FIXED_BYTES_PER_VALUE * columns as u64;
    let budget = (chunk_bytes / CONNECTORX_SHARE) as u64;
    let fit = (budget / per_row.max(1)).max(1);
    chunk_rows.min(usize::try_from(fit).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_rows_keep_the_row_bound_and_wide_rows_get_the_byte_bound() {
        // 100 rows of 40 bytes: 100,000 rows fit in a quarter of 64 MiB.
        assert_eq!(rows_per_batch(100_000, 64 << 20, 3, 100, 4_000), 100_000);
        // 2 MiB rows: 8 rows of 16 MiB, less the fixed bytes per column.
        assert_eq!(
            rows_per_batch(100_000, 64 << 20, 3, 100, 100 * (2 << 20)),
            7
        );
        // A single row wider than the bound is still read, one per batch.
        assert_eq!(rows_per_batch(100_000, 4 << 20, 3, 1, 8 << 20), 1);
        // An empty sample keeps the row bound.
        assert_eq!(rows_per_batch(100_000, 1, 3, 0, 0), 100_000);
    }
}

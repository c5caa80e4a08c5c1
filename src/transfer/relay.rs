//! DIRECT's and DUMP's use of [`crate::source::relay`]: one producer (a source's read, or
//! the archive's parts) and a consumer that stops at SIGINT/SIGTERM.

use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::interrupt;
use crate::source::{self, BatchSink, ReadOptions, Source, TableInfo};

/// Reads `info` on a thread of its own and hands each batch to `consume` here.
pub(super) fn pipe(
    src: &mut dyn Source,
    info: &TableInfo,
    opts: &ReadOptions,
    consume: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<u64> {
    relay(
        &info.table.display(),
        |sink| src.read(info, opts, sink),
        consume,
    )
}

/// Runs `produce` on a thread of its own with a one-batch channel to `consume`, which
/// runs here, checking for SIGINT/SIGTERM before each batch; returns what `produce` returns
/// (its row count). When both fail, the consumer's error is the cause.
pub(super) fn relay(
    table: &str,
    produce: impl FnOnce(&mut BatchSink<'_>) -> Result<u64> + Send,
    mut consume: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<u64> {
    source::relay::relay(table, vec![produce], |batch| {
        interrupt::check().and_then(|()| consume(batch))
    })
}

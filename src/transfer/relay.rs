//! DIRECT's and DUMP's use of [`crate::source::relay`]: one producer (a source's read, or
//! the archive's parts) and a consumer that stops at SIGINT/SIGTERM.

use arrow::record_batch::RecordBatch;

use super::heal::{Fault, Side};
use crate::error::Result;
use crate::interrupt;
use crate::source::{self, BatchSink, ReadOptions, Source, TableInfo};

/// Reads `info` on a thread of its own and hands each batch to `consume` here. A failure
/// is blamed on `consumer` when `consume` failed, else on the source. The fault-injection
/// step `read:<table>` is the table's first batch (see [`interrupt::pause_point`]).
pub(super) fn pipe(
    src: &mut dyn Source,
    info: &TableInfo,
    opts: &ReadOptions,
    consumer: Side,
    mut consume: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<u64, Fault> {
    let name = info.table.display();
    let mut first = true;
    let mut consumer_failed = false;
    relay(
        &name,
        |sink| src.read(info, opts, sink),
        |batch| {
            if std::mem::take(&mut first) {
                interrupt::pause_point(&format!("read:{name}"));
            }
            let r = consume(batch);
            consumer_failed = r.is_err();
            r
        },
    )
    .map_err(|error| Fault {
        side: if consumer_failed {
            consumer
        } else {
            Side::Source
        },
        error,
    })
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

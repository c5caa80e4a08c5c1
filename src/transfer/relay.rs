//! The thread-and-channel relay: a producer (a source's read, or the archive's parts) on a
//! thread of its own hands batches over a one-batch channel to a consumer on this thread.

use std::sync::mpsc;

use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::interrupt;
use crate::source::{BatchSink, ReadOptions, Source, TableInfo};

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
/// runs here; returns what `produce` returns (its row count). When both fail, the
/// consumer's error is the cause (the producer then only saw the channel close).
pub(super) fn relay(
    table: &str,
    produce: impl FnOnce(&mut BatchSink<'_>) -> Result<u64> + Send,
    mut consume: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<u64> {
    let (tx, rx) = mpsc::sync_channel::<RecordBatch>(1);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            produce(&mut |batch| {
                tx.send(batch)
                    .map_err(|_| Error::Check("consumer stopped".into()))
            })
        });
        let mut consumed: Result<()> = Ok(());
        for batch in rx.iter() {
            if let Err(e) = interrupt::check().and_then(|()| consume(batch)) {
                consumed = Err(e);
                break;
            }
        }
        drop(rx);
        let produced = match producer.join() {
            Ok(r) => r,
            Err(_) => Err(Error::Check(format!(
                "table {table}: the reader thread panicked"
            ))),
        };
        consumed?;
        produced
    })
}

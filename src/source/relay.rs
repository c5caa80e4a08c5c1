//! The thread-and-channel relay, written once: producers (a source's read, the archive's
//! parts, or the PostgreSQL parallel read's connections), each on a thread of its own, hand
//! batches over one one-batch channel to a consumer on the calling thread. Memory is bounded
//! by the batches being filled plus the one in the channel.

use std::sync::mpsc;

use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::source::BatchSink;

/// Runs each of `producers` on a thread of its own with one shared one-batch channel to
/// `consume`, which runs here; returns the sum of what the producers return (their row
/// counts). When the consumer fails, its error is the cause (the producers then only saw the
/// channel close); otherwise the first producer's error in order.
pub fn relay<P>(
    table: &str,
    producers: Vec<P>,
    mut consume: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<u64>
where
    P: FnOnce(&mut BatchSink<'_>) -> Result<u64> + Send,
{
    let which = if producers.len() == 1 { "the" } else { "a" };
    let (tx, rx) = mpsc::sync_channel::<RecordBatch>(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = producers
            .into_iter()
            .map(|produce| {
                let tx = tx.clone();
                scope.spawn(move || {
                    produce(&mut |batch| {
                        tx.send(batch)
                            .map_err(|_| Error::Check("consumer stopped".into()))
                    })
                })
            })
            .collect();
        drop(tx);
        let mut consumed: Result<()> = Ok(());
        for batch in rx.iter() {
            if let Err(e) = consume(batch) {
                consumed = Err(e);
                break;
            }
        }
        drop(rx);
        let mut total = 0;
        let mut failed = None;
        for w in workers {
            match w.join() {
                Ok(Ok(rows)) => total += rows,
                Ok(Err(e)) => {
                    failed.get_or_insert(e);
                }
                Err(_) => {
                    failed.get_or_insert(Error::Check(format!(
                        "table {table}: {which} reader thread panicked"
                    )));
                }
            }
        }
        consumed?;
        failed.map_or(Ok(total), Err)
    })
}

//! The PostgreSQL read over several connections (`READ_CONNECTIONS`): one snapshot
//! exported and shared, each connection copying a range of pages (`ctid`), the batches
//! relayed through one channel to the sink.

use super::{copy_into, CopyDecoder, PgSource};
use crate::db::postgres::{db_err, Conn};
use crate::error::{Error, Result};
use crate::source::relay::relay;
use crate::source::{BatchSink, ReadOptions, TableInfo, TableRef};
use crate::types::postgres::ReadAs;

/// A parallel read gives each connection at least this many pages (8 KiB each); smaller
/// tables are read over one connection.
const MIN_PAGES_PER_CONNECTION: i64 = 128;

impl PgSource {
    /// The table's size in pages when it can be read in parallel: an ordinary table (views
    /// and partitioned parents have no `ctid` ranges to split), PostgreSQL 14 or later (TID
    /// range scans; earlier servers would scan the whole table once per connection), and
    /// big enough for every connection to get `MIN_PAGES_PER_CONNECTION` pages.
    pub(super) fn parallel_pages(
        &self,
        table: &TableRef,
        connections: usize,
    ) -> Result<Option<i64>> {
        let row = self
            .conn
            .query(
                "SELECT c.relkind::text, c.relpages::int8, current_setting('server_version_num')::int \
                 FROM pg_catalog.pg_class c WHERE c.oid = $1::text::regclass",
                &[&Self::qualified(table)],
            )
            .map_err(db_err(format!(
                "table {}: reading its size",
                table.display()
            )))?;
        let Some(row) = row.first() else {
            return Ok(None);
        };
        let (kind, pages, version): (String, i64, i32) = (row.get(0), row.get(1), row.get(2));
        let why_not = if kind != "r" {
            Some("not an ordinary table")
        } else if version < 140_000 {
            Some("the server is older than PostgreSQL 14")
        } else if pages < MIN_PAGES_PER_CONNECTION * connections as i64 {
            Some("too small (by its pg_class.relpages)")
        } else {
            None
        };
        if let Some(why) = why_not {
            tracing::info!(table = %table.display(), reason = why, "READ_CONNECTIONS: reading over one connection");
            return Ok(None);
        }
        Ok(Some(pages))
    }

    /// Reads the table over `opts.connections` connections sharing one snapshot: this
    /// connection exports it inside a REPEATABLE READ transaction, the others adopt it, and
    /// each copies a range of pages (`ctid`); the last range is open-ended, so pages added
    /// since `relpages` was last updated are read too. Batches arrive interleaved; the rows
    /// are exactly those of one consistent snapshot.
    pub(super) fn read_parallel(
        &mut self,
        table: &TableInfo,
        select: &str,
        kinds: &[ReadAs],
        pages: i64,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let name = table.table.display();
        let n = opts.connections;
        let ctx = format!("table {name}: starting a parallel read");
        self.conn
            .batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(db_err(&ctx))?;
        let result = (|| -> Result<u64> {
            let snapshot: String = self
                .conn
                .query_one("SELECT pg_export_snapshot()")
                .map_err(db_err(&ctx))?
                .get(0);
            let mut extra = Vec::with_capacity(n - 1);
            for _ in 1..n {
                let conn = Conn::open(&self.endpoint, &self.db).map_err(|message| {
                    Error::database(
                        ctx.clone(),
                        true,
                        format!("opening another connection: {message}"),
                    )
                })?;
                conn.batch(&format!(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'"
                ))
                .map_err(db_err(&ctx))?;
                extra.push(conn);
            }
            let step = (pages + n as i64 - 1) / n as i64;
            let conns: Vec<&Conn> = std::iter::once(&self.conn).chain(extra.iter()).collect();
            tracing::info!(table = %name, connections = n, pages, "reading in parallel on one snapshot");
            // Each connection fills batches of chunk / n rows, so the rows held in memory are
            // about those of a single read: n batches being filled, one in the channel.
            let per_connection = (opts.chunk_rows / n).max(1);
            let mut producers = Vec::with_capacity(n);
            for (i, conn) in conns.into_iter().enumerate() {
                let lo = i as i64 * step;
                let (range, label) = if i + 1 == n {
                    (
                        format!("ctid >= '({lo},0)'::tid"),
                        format!("{name} (pages {lo}-)"),
                    )
                } else {
                    let hi = lo + step;
                    (
                        format!("ctid >= '({lo},0)'::tid AND ctid < '({hi},0)'::tid"),
                        format!("{name} (pages {lo}-{})", hi - 1),
                    )
                };
                let sql = format!("COPY ({select} WHERE {range}) TO STDOUT (FORMAT binary)");
                let decoder = CopyDecoder::new(&label, table.schema(), kinds, per_connection)?
                    .with_max_bytes((opts.chunk_bytes / n).max(1));
                producers.push(move |out: &mut BatchSink<'_>| copy_into(conn, &sql, decoder, out));
            }
            relay(&name, producers, &mut *sink)
        })();
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        if let Err(e) = self.conn.batch(end) {
            if result.is_ok() {
                return Err(db_err(format!("table {name}: ending the read"))(e));
            }
        }
        result
    }
}

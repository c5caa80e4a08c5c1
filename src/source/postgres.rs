//! PostgreSQL source. The Arrow schema comes from the catalog (`types::postgres`); rows are
//! read with `COPY (SELECT …) TO STDOUT (FORMAT binary)` and decoded from the byte stream
//! straight into Arrow builders — no per-row objects.
//!
//! * this file: the catalog (finding the table, its columns and how each is read) and the
//!   read over one connection;
//! * `parallel`: the read over several connections sharing one snapshot;
//! * `copy_decoder`: the binary COPY stream into Arrow batches, with
//!   `copy_columns` decoding each column's values into `copy_buffers`.

mod copy_buffers;
mod copy_columns;
mod copy_decoder;
mod parallel;

use std::collections::HashMap;

use std::task::{Context, Poll, Waker};

use futures::Stream;

use super::{BatchSink, ColumnInfo, ReadOptions, Source, TableInfo, TableRef};
use crate::config::Endpoint;
use crate::db::postgres::{db_err, Conn};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types::postgres::{self as pgt, CatalogType, ReadAs};

pub use copy_decoder::CopyDecoder;

const D: Dialect = Dialect::Postgres;

pub struct PgSource {
    conn: Conn,
    /// For the extra connections of a parallel read.
    endpoint: Endpoint,
    db: String,
    /// How to read each described table's columns, by qualified name.
    /// Each described table's columns (all of them, by name) and how to read them.
    plans: HashMap<String, Vec<(String, pgt::Mapping)>>,
}

impl PgSource {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let db = endpoint
            .database
            .clone()
            .unwrap_or_else(|| "postgres".into());
        let conn = Conn::open(endpoint, &db).map_err(|message| Error::Connect {
            side: "source",
            target: endpoint.describe(),
            message,
        })?;
        Ok(PgSource {
            conn,
            endpoint: endpoint.clone(),
            db,
            plans: HashMap::new(),
        })
    }

    fn qualified(table: &TableRef) -> String {
        D.qualify(
            Some(table.schema.as_deref().unwrap_or("public")),
            &table.name,
        )
    }

    /// The table's OID and its name as the catalog spells it: the exact name first, else
    /// the one table whose name matches case-insensitively.
    fn find_table(&mut self, table: &TableRef) -> Result<(u32, String)> {
        let schema = table.schema.as_deref().unwrap_or("public");
        let ctx = format!("table {}: reading the catalog", table.display());
        let rows = self
            .conn
            .query(
                "SELECT c.oid, c.relname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND lower(c.relname) = lower($2) \
                 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
                &[&schema, &table.name],
            )
            .map_err(db_err(&ctx))?;
        let found: Vec<(u32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        if let Some(exact) = found.iter().find(|(_, n)| *n == table.name) {
            return Ok(exact.clone());
        }
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::TableNotFound {
                table: table.display(),
                hint: format!(" (looked for a table or view in schema \"{schema}\")"),
            }),
            many => Err(Error::TableNotFound {
                table: table.display(),
                hint: format!(
                    " (no exact match in schema \"{schema}\"; it differs only in case from {}: list the exact name)",
                    many.iter().map(|(_, n)| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
}

impl Source for PgSource {
    fn server_version(&mut self) -> Result<String> {
        self.conn.server_version()
    }

    fn describe(&mut self, table: &TableRef) -> Result<TableInfo> {
        let (oid, real_name) = self.find_table(table)?;
        let ctx = format!("table {}: reading the catalog", table.display());
        let rows = self
            .conn
            .query(
                "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                        bt.typname::text, bt.typtype::text, \
                        CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, \
                        et.typname::text, et.typtype::text \
                 FROM pg_catalog.pg_attribute a \
                 JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
                 JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
                 LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A' \
                 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                &[&oid],
            )
            .map_err(db_err(&ctx))?;
        let mut columns = Vec::with_capacity(rows.len());
        let mut plans = Vec::with_capacity(rows.len());
        for r in &rows {
            let name: String = r.get(0);
            let shown: String = r.get(1);
            let not_null: bool = r.get(2);
            let typtype: String = r.get(4);
            let elem_name: Option<String> = r.get(6);
            let elem_typtype: Option<String> = r.get(7);
            let ct = CatalogType {
                typname: r.get(3),
                typtype: typtype.chars().next().unwrap_or('b'),
                typmod: r.get(5),
                element: elem_name.map(|n| {
                    (
                        n,
                        elem_typtype.and_then(|t| t.chars().next()).unwrap_or('b'),
                    )
                }),
            };
            let m = pgt::map_column(&ct, &shown);
            tracing::debug!(table = %table.display(), column = %name, source = %shown, arrow = %m.arrow_type, "column mapping");
            plans.push((name.clone(), m.clone()));
            columns.push(ColumnInfo {
                name,
                source_type: shown,
                arrow_type: m.arrow_type.clone(),
                nullable: !not_null,
                note: m.note,
            });
        }
        if columns.is_empty() {
            return Err(Error::Check(format!(
                "table {}: has no columns to stage",
                table.display()
            )));
        }
        let mut t = table.clone();
        t.name = real_name;
        self.plans.insert(Self::qualified(&t), plans);
        Ok(TableInfo {
            table: t,
            columns,
            filter: None,
        })
    }

    fn estimate_rows(&mut self, table: &TableRef) -> Option<u64> {
        // reltuples: -1 (never analysed) or the last VACUUM/ANALYZE's estimate.
        let sql = "SELECT c.reltuples::float8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND lower(c.relname) = lower($2) ORDER BY c.relname = $2 DESC LIMIT 1";
        let schema = table.schema.as_deref().unwrap_or("public");
        let rows = self.conn.query(sql, &[&schema, &table.name]).ok()?;
        let n: f64 = rows.first()?.get(0);
        (n >= 0.0).then_some(n as u64)
    }

    fn snapshot(&mut self, begin: bool) -> Result<()> {
        let sql = if begin {
            // A transaction left open by a failed attempt ends first.
            "ROLLBACK; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        } else {
            "COMMIT"
        };
        self.conn
            .batch(sql)
            .map_err(db_err("reading the source in one snapshot"))
    }

    fn select_text(
        &mut self,
        table: &TableInfo,
        exprs: &[String],
        cond: Option<&str>,
    ) -> Result<Vec<Option<String>>> {
        let from = table.from_clause(Self::qualified(&table.table));
        let sql = super::select_sql(exprs, &from, cond);
        let row = self.conn.query_one(&sql).map_err(db_err(format!(
            "table {}: reading the incremental window",
            table.table.display()
        )))?;
        Ok((0..exprs.len()).map(|i| row.get(i)).collect())
    }

    fn primary_key(&mut self, table: &TableInfo) -> Result<Vec<String>> {
        let rows = self
            .conn
            .query(
                "SELECT a.attname::text FROM pg_catalog.pg_index i \
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = $1::text::regclass AND i.indisprimary \
                 ORDER BY array_position(i.indkey::int2[], a.attnum)",
                &[&Self::qualified(&table.table)],
            )
            .map_err(db_err(format!(
                "table {}: reading the primary key",
                table.table.display()
            )))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn count_rows(&mut self, table: &TableInfo) -> Result<u64> {
        let sql = format!(
            "SELECT count(*) FROM {}",
            table.from_clause(Self::qualified(&table.table))
        );
        let row = self.conn.query_one(&sql).map_err(db_err(format!(
            "table {}: counting rows",
            table.table.display()
        )))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn key_bounds(&mut self, table: &TableInfo, column: &str) -> Result<Option<(i64, i64)>> {
        let c = Dialect::Postgres.quote(column);
        let sql = format!(
            "SELECT min({c})::bigint, max({c})::bigint FROM {}",
            table.from_clause(Self::qualified(&table.table))
        );
        let row = self.conn.query_one(&sql).map_err(db_err(format!(
            "table {}: the bounds of key {column}",
            table.table.display()
        )))?;
        let (lo, hi): (Option<i64>, Option<i64>) = (row.get(0), row.get(1));
        Ok(lo.zip(hi))
    }

    fn read(
        &mut self,
        table: &TableInfo,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let name = table.table.display();
        let key = Self::qualified(&table.table);
        let all = match self.plans.get(&key) {
            Some(p) => p.clone(),
            None => {
                self.describe(&table.table)?;
                self.plans.get(&key).cloned().unwrap_or_default()
            }
        };
        // The columns to read (COLUMNS / EXCLUDE_COLUMNS may have kept only some), each
        // still of the type the catalog gave when the schema was fixed.
        let plans: Vec<pgt::Mapping> = table
            .columns
            .iter()
            .map(|c| {
                all.iter()
                    .find(|(n, m)| *n == c.name && m.arrow_type == c.arrow_type)
                    .map(|(_, m)| m.clone())
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::Check(format!(
                    "table {name}: its columns changed since the catalog was read; run again"
                ))
            })?;
        let mut select = Vec::with_capacity(table.columns.len());
        for (c, p) in table.columns.iter().zip(&plans) {
            let quoted = D.quote(&c.name);
            select.push(match p.cast {
                Some(cast) => format!("{quoted}::{cast}"),
                None => quoted,
            });
        }
        let select = format!(
            "SELECT {} FROM {}",
            select.join(", "),
            table.from_clause(Self::qualified(&table.table))
        );
        let kinds: Vec<ReadAs> = plans.iter().map(|p| p.kind).collect();
        let chunk = opts.chunk_rows.max(1);
        // Parallel reads split the table by page (ctid), which a filtered read has not.
        if opts.connections > 1 && opts.row_limit.is_none() && table.filter.is_none() {
            if let Some(pages) = self.parallel_pages(&table.table, opts.connections)? {
                return self.read_parallel(table, &select, &kinds, pages, opts, sink);
            }
        }
        let sql = match opts.row_limit {
            Some(limit) => format!("COPY ({select} LIMIT {limit}) TO STDOUT (FORMAT binary)"),
            None => format!("COPY ({select}) TO STDOUT (FORMAT binary)"),
        };
        let decoder = CopyDecoder::new(&name, table.schema(), &kinds, chunk)?
            .with_max_bytes(opts.chunk_bytes);
        copy_into(&self.conn, &sql, decoder, sink)
    }
}

/// Runs one `COPY … TO STDOUT (FORMAT binary)` over `conn` through `decoder` into `sink`.
///
/// The connection's tap (`db::postgres::copy_tap`) takes the data off the byte stream in
/// large pieces; the driver's stream then only starts and ends the COPY (and reports its
/// errors). Data that reaches the stream anyway is decoded from there, in order.
fn copy_into(
    conn: &Conn,
    sql: &str,
    mut decoder: CopyDecoder,
    sink: &mut BatchSink<'_>,
) -> Result<u64> {
    let name = decoder.table.clone();
    let tap = conn.arm_tap();
    conn.block_on(async {
        let stream = conn
            .client()
            .copy_out(sql)
            .await
            .map_err(db_err(format!("table {name}: starting the read")))?;
        let mut stream = std::pin::pin!(stream);
        let mut taken = Vec::new();
        // Where the data came from: the tap's pieces and the driver's messages.
        let (mut tapped, mut streamed) = (0u64, 0u64);
        loop {
            // Tapped data first: what the tap took precedes anything the stream yields.
            let next = std::future::poll_fn(|cx| {
                if tap.take(&mut taken, cx) {
                    return Poll::Ready(Some(Ok(None)));
                }
                stream.as_mut().poll_next(cx).map_ok(Some)
            })
            .await;
            match next {
                Some(Ok(None)) => {
                    tapped += taken.len() as u64;
                    decoder.feed(&taken, sink)?;
                    taken.clear();
                }
                // One CopyData message per row: the error context is built only on an error.
                Some(Ok(Some(data))) => {
                    streamed += 1;
                    decoder.feed(&data, sink)?;
                }
                Some(Err(e)) => return Err(db_err(format!("table {name}: reading"))(e)),
                None => break,
            }
        }
        // The stream ended after the CopyDone the tap passed: its last data is taken now.
        if tap.take(&mut taken, &mut Context::from_waker(Waker::noop())) {
            tapped += taken.len() as u64;
            decoder.feed(&taken, sink)?;
        }
        tracing::debug!(table = %name, tapped_bytes = tapped, driver_messages = streamed, "COPY read");
        decoder.finish(sink)
    })
}

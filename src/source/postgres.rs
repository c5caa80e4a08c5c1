//! PostgreSQL source. The Arrow schema comes from the catalog (`types::postgres`); rows are
//! read with `COPY (SELECT …) TO STDOUT (FORMAT binary)` and decoded from the byte stream
//! straight into Arrow builders — no per-row objects.
//!
//! The binary COPY stream is an 11-byte signature, a 32-bit flags word and a header
//! extension; then per tuple a 16-bit field count and per field a 32-bit length (-1 = NULL)
//! and the value in its type's binary `send` format; a field count of -1 ends it.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::NullBufferBuilder;
use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    FixedSizeBinaryBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, ListArray, StringArray, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, FieldRef, SchemaRef};
use arrow::record_batch::RecordBatch;
use futures::StreamExt;

use super::{BatchSink, ColumnInfo, ReadOptions, Source, TableInfo, TableRef};
use crate::config::Endpoint;
use crate::db::postgres::{db_err, Conn};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types::postgres::{self as pgt, be_i16, be_i32, be_i64, expect_len, CatalogType, Kind};

const D: Dialect = Dialect::Postgres;

pub struct PgSource {
    conn: Conn,
    /// For the extra connections of a parallel read.
    endpoint: Endpoint,
    db: String,
    /// How to read each described table's columns, by qualified name.
    plans: HashMap<String, Vec<pgt::Mapping>>,
}

/// A parallel read gives each connection at least this many pages (8 KiB each); smaller
/// tables are read over one connection.
const MIN_PAGES_PER_CONNECTION: i64 = 128;

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
            columns.push(ColumnInfo {
                name,
                source_type: shown,
                arrow_type: m.arrow_type.clone(),
                nullable: !not_null,
                note: m.note.clone(),
            });
            plans.push(m);
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
        Ok(TableInfo { table: t, columns })
    }

    fn count_rows(&mut self, table: &TableInfo) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", Self::qualified(&table.table));
        let row = self.conn.query_one(&sql).map_err(db_err(format!(
            "table {}: counting rows",
            table.table.display()
        )))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn read(
        &mut self,
        table: &TableInfo,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let name = table.table.display();
        let key = Self::qualified(&table.table);
        let plans = match self.plans.get(&key) {
            Some(p) => p.clone(),
            None => {
                self.describe(&table.table)?;
                self.plans.get(&key).cloned().unwrap_or_default()
            }
        };
        let same = plans.len() == table.columns.len()
            && plans
                .iter()
                .zip(&table.columns)
                .all(|(p, c)| p.arrow_type == c.arrow_type);
        if !same {
            return Err(Error::Check(format!(
                "table {name}: its columns changed since the catalog was read; run again"
            )));
        }
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
            Self::qualified(&table.table)
        );
        let kinds: Vec<Kind> = plans.iter().map(|p| p.kind).collect();
        let chunk = opts.chunk_rows.max(1);
        if opts.connections > 1 && opts.row_limit.is_none() {
            if let Some(pages) = self.parallel_pages(&table.table, opts.connections)? {
                return self.read_parallel(table, &select, &kinds, pages, opts, sink);
            }
        }
        let sql = match opts.row_limit {
            Some(limit) => format!("COPY ({select} LIMIT {limit}) TO STDOUT (FORMAT binary)"),
            None => format!("COPY ({select}) TO STDOUT (FORMAT binary)"),
        };
        let decoder = CopyDecoder::new(&name, table.schema(), &kinds, chunk)?;
        copy_into(&self.conn, &sql, decoder, sink)
    }
}

impl PgSource {
    /// The table's size in pages when it can be read in parallel: an ordinary table (views
    /// and partitioned parents have no `ctid` ranges to split), PostgreSQL 14 or later (TID
    /// range scans; earlier servers would scan the whole table once per connection), and
    /// big enough for every connection to get `MIN_PAGES_PER_CONNECTION` pages.
    fn parallel_pages(&self, table: &TableRef, connections: usize) -> Result<Option<i64>> {
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
    fn read_parallel(
        &mut self,
        table: &TableInfo,
        select: &str,
        kinds: &[Kind],
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
            let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(1);
            std::thread::scope(|scope| -> Result<u64> {
                let mut workers = Vec::with_capacity(n);
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
                    let decoder = CopyDecoder::new(&label, table.schema(), kinds, per_connection)?;
                    let tx = tx.clone();
                    workers.push(scope.spawn(move || {
                        copy_into(conn, &sql, decoder, &mut |batch| {
                            tx.send(batch)
                                .map_err(|_| Error::Check("consumer stopped".into()))
                        })
                    }));
                }
                drop(tx);
                let mut consumed = Ok(());
                for batch in rx.iter() {
                    if let Err(e) = sink(batch) {
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
                                "table {name}: a reader thread panicked"
                            )));
                        }
                    }
                }
                // The consumer's error is the cause when both failed.
                consumed?;
                failed.map_or(Ok(total), Err)
            })
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

/// Runs one `COPY … TO STDOUT (FORMAT binary)` over `conn` through `decoder` into `sink`.
fn copy_into(
    conn: &Conn,
    sql: &str,
    mut decoder: CopyDecoder,
    sink: &mut BatchSink<'_>,
) -> Result<u64> {
    let name = decoder.table.clone();
    conn.block_on(async {
        let stream = conn
            .client()
            .copy_out(sql)
            .await
            .map_err(db_err(format!("table {name}: starting the read")))?;
        let mut stream = std::pin::pin!(stream);
        while let Some(data) = stream.next().await {
            let data = data.map_err(db_err(format!("table {name}: reading")))?;
            decoder.feed(&data, sink)?;
        }
        decoder.finish(sink)
    })
}

/// Decodes a binary COPY stream into Arrow batches of `chunk` rows.
///
/// Bytes may arrive split anywhere. The server sends one CopyData message per row, so whole
/// tuples are normally decoded straight from the message; a tuple cut across messages is
/// assembled in `pending` first.
pub struct CopyDecoder {
    table: String,
    schema: SchemaRef,
    cols: Vec<Col>,
    chunk: usize,
    in_batch: usize,
    /// Rows decoded so far (1-based row numbers in messages).
    rows: u64,
    header_done: bool,
    trailer_seen: bool,
    pending: Vec<u8>,
}

impl CopyDecoder {
    /// A decoder for columns of `schema` read as `kinds` (one per field).
    pub fn new(table: &str, schema: SchemaRef, kinds: &[Kind], chunk: usize) -> Result<Self> {
        if kinds.len() != schema.fields().len() {
            return Err(Error::Check(format!(
                "table {table}: {} column kinds for {} columns",
                kinds.len(),
                schema.fields().len()
            )));
        }
        let cols = schema
            .fields()
            .iter()
            .zip(kinds)
            .map(|(f, k)| Col::new(f.data_type(), *k, chunk))
            .collect::<Result<_>>()?;
        Ok(CopyDecoder {
            table: table.to_string(),
            schema,
            cols,
            chunk: chunk.max(1),
            in_batch: 0,
            rows: 0,
            header_done: false,
            trailer_seen: false,
            pending: Vec::new(),
        })
    }

    /// Decodes the next bytes of the stream, handing each full batch to `sink`.
    pub fn feed(&mut self, data: &[u8], sink: &mut BatchSink<'_>) -> Result<()> {
        if self.pending.is_empty() {
            let used = self.consume(data, sink)?;
            self.pending.extend_from_slice(&data[used..]);
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(data);
            let used = self.consume(&pending, sink)?;
            pending.drain(..used);
            self.pending = pending;
        }
        Ok(())
    }

    /// Ends the stream: hands over the last batch and returns the number of rows. A stream
    /// that stops before its trailer was cut off (a transient error: the read may be retried).
    pub fn finish(mut self, sink: &mut BatchSink<'_>) -> Result<u64> {
        if !self.trailer_seen {
            return Err(Error::database(
                format!("table {}: reading", self.table),
                true,
                "the COPY stream ended early (connection lost?)",
            ));
        }
        if self.in_batch > 0 {
            self.emit(sink)?;
        }
        Ok(self.rows)
    }

    fn malformed(&self, what: &str) -> Error {
        Error::database(
            format!("table {}: reading", self.table),
            false,
            format!("unexpected binary COPY data: {what}"),
        )
    }

    /// Decodes the whole tuples at the start of `buf`; the number of bytes used.
    fn consume(&mut self, buf: &[u8], sink: &mut BatchSink<'_>) -> Result<usize> {
        let mut pos = 0;
        if !self.header_done {
            if buf.len() < 19 {
                return Ok(0);
            }
            if &buf[..11] != pgt::COPY_SIGNATURE {
                return Err(self.malformed("no PGCOPY signature"));
            }
            let ext = be_i32(&buf[15..]);
            if ext < 0 {
                return Err(self.malformed("a negative header extension length"));
            }
            let skip = 19 + ext as usize;
            if buf.len() < skip {
                return Ok(0);
            }
            pos = skip;
            self.header_done = true;
        }
        let ncols = self.cols.len();
        while !self.trailer_seen {
            match tuple_len(&buf[pos..], ncols) {
                Ok(Some(TupleLen::Trailer)) => {
                    self.trailer_seen = true;
                    // Nothing follows the trailer.
                    pos = buf.len();
                }
                Ok(Some(TupleLen::Tuple(n))) => {
                    self.decode_tuple(&buf[pos..pos + n])?;
                    pos += n;
                    if self.in_batch == self.chunk {
                        self.emit(sink)?;
                    }
                }
                Ok(None) => break,
                Err(m) => return Err(self.malformed(&m)),
            }
        }
        Ok(pos)
    }

    /// Appends one whole tuple (its field count included; lengths already checked).
    fn decode_tuple(&mut self, tuple: &[u8]) -> Result<()> {
        self.rows += 1;
        let mut pos = 2;
        for (i, col) in self.cols.iter_mut().enumerate() {
            let len = be_i32(&tuple[pos..]);
            pos += 4;
            if len < 0 {
                col.append_null();
            } else {
                let v = &tuple[pos..pos + len as usize];
                pos += len as usize;
                if let Err(m) = col.append(v) {
                    return Err(Error::value(
                        &self.table,
                        self.schema.field(i).name(),
                        self.rows,
                        m,
                    ));
                }
            }
        }
        self.in_batch += 1;
        Ok(())
    }

    fn emit(&mut self, sink: &mut BatchSink<'_>) -> Result<()> {
        let first_row = self.rows - self.in_batch as u64;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.cols.len());
        for (i, col) in self.cols.iter_mut().enumerate() {
            let array = col.finish().map_err(|(row, m)| {
                Error::value(
                    &self.table,
                    self.schema.field(i).name(),
                    first_row + row as u64 + 1,
                    m,
                )
            })?;
            arrays.push(array);
        }
        self.in_batch = 0;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::archive(format!("table {}: building a batch", self.table), e))?;
        sink(batch)
    }
}

enum TupleLen {
    Tuple(usize),
    Trailer,
}

/// The length of the tuple at the start of `b`, `None` when `b` does not hold all of it.
fn tuple_len(b: &[u8], ncols: usize) -> Result<Option<TupleLen>, String> {
    if b.len() < 2 {
        return Ok(None);
    }
    let n = be_i16(b);
    if n == -1 {
        return Ok(Some(TupleLen::Trailer));
    }
    if n as usize != ncols {
        return Err(format!("a tuple of {n} fields, expected {ncols}"));
    }
    let mut pos = 2;
    for _ in 0..ncols {
        if b.len() < pos + 4 {
            return Ok(None);
        }
        let len = be_i32(&b[pos..]);
        pos += 4;
        if len > 0 {
            pos += len as usize;
        } else if len < -1 {
            return Err(format!("a field length of {len}"));
        }
    }
    Ok((b.len() >= pos).then_some(TupleLen::Tuple(pos)))
}

/// One column's builder, decoding binary values by kind.
enum Col {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder, bool),
    F32(Float32Builder),
    F64(Float64Builder),
    D128(Decimal128Builder, u8, i8),
    D256(Decimal256Builder, u8, i8),
    /// Text of any kind: plain, jsonb, numeric text, interval text.
    Text(TextBuf, Kind),
    Bytea(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Ts(TimestampMicrosecondBuilder),
    Uuid(FixedSizeBinaryBuilder),
    List {
        item: Box<Col>,
        field: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
    },
}

impl Col {
    fn new(dt: &DataType, kind: Kind, cap: usize) -> Result<Col> {
        let cap = cap.min(65_536);
        let bad =
            |e: arrow::error::ArrowError| Error::Check(format!("building a decimal column: {e}"));
        Ok(match dt {
            DataType::List(field) => {
                let mut offsets = Vec::with_capacity(cap + 1);
                offsets.push(0);
                Col::List {
                    item: Box::new(Col::new(field.data_type(), kind, cap)?),
                    field: field.clone(),
                    offsets,
                    nulls: NullBufferBuilder::new(cap),
                }
            }
            _ => match kind {
                Kind::Bool => Col::Bool(BooleanBuilder::with_capacity(cap)),
                Kind::Int2 => Col::I16(Int16Builder::with_capacity(cap)),
                Kind::Int4 => Col::I32(Int32Builder::with_capacity(cap)),
                Kind::Int8 => Col::I64(Int64Builder::with_capacity(cap), false),
                Kind::Oid => Col::I64(Int64Builder::with_capacity(cap), true),
                Kind::Float4 => Col::F32(Float32Builder::with_capacity(cap)),
                Kind::Float8 => Col::F64(Float64Builder::with_capacity(cap)),
                Kind::Decimal128(p, s) => Col::D128(
                    Decimal128Builder::with_capacity(cap)
                        .with_precision_and_scale(p, s)
                        .map_err(bad)?,
                    p,
                    s,
                ),
                Kind::Decimal256(p, s) => Col::D256(
                    Decimal256Builder::with_capacity(cap)
                        .with_precision_and_scale(p, s)
                        .map_err(bad)?,
                    p,
                    s,
                ),
                Kind::NumericText | Kind::Text | Kind::Jsonb | Kind::Interval => {
                    Col::Text(TextBuf::with_capacity(cap), kind)
                }
                Kind::Bytea => Col::Bytea(BinaryBuilder::with_capacity(cap, cap * 16)),
                Kind::Date => Col::Date(Date32Builder::with_capacity(cap)),
                Kind::Time => Col::Time(Time64MicrosecondBuilder::with_capacity(cap)),
                Kind::Timestamp => Col::Ts(TimestampMicrosecondBuilder::with_capacity(cap)),
                Kind::Timestamptz => {
                    Col::Ts(TimestampMicrosecondBuilder::with_capacity(cap).with_timezone("UTC"))
                }
                Kind::Uuid => Col::Uuid(FixedSizeBinaryBuilder::with_capacity(cap, 16)),
            },
        })
    }

    fn append(&mut self, v: &[u8]) -> Result<(), String> {
        match self {
            Col::Bool(b) => {
                expect_len(v, 1, "boolean")?;
                b.append_value(v[0] != 0);
            }
            Col::I16(b) => {
                expect_len(v, 2, "smallint")?;
                b.append_value(be_i16(v));
            }
            Col::I32(b) => {
                expect_len(v, 4, "integer")?;
                b.append_value(be_i32(v));
            }
            Col::I64(b, oid) => {
                if *oid {
                    expect_len(v, 4, "oid")?;
                    b.append_value(i64::from(be_i32(v) as u32));
                } else {
                    expect_len(v, 8, "bigint")?;
                    b.append_value(be_i64(v));
                }
            }
            Col::F32(b) => {
                expect_len(v, 4, "real")?;
                b.append_value(f32::from_bits(be_i32(v) as u32));
            }
            Col::F64(b) => {
                expect_len(v, 8, "double precision")?;
                b.append_value(f64::from_bits(be_i64(v) as u64));
            }
            Col::D128(b, p, s) => {
                let x = pgt::numeric_to_i128(v, *s)?;
                if pgt::decimal_digits_i128(x) > u32::from(*p) {
                    return Err(format!(
                        "the numeric value does not fit Decimal128({p},{s})"
                    ));
                }
                b.append_value(x);
            }
            Col::D256(b, p, s) => {
                let x = pgt::numeric_to_i256(v, *s)?;
                if !pgt::fits_precision_i256(x, *p) {
                    return Err(format!(
                        "the numeric value does not fit Decimal256({p},{s})"
                    ));
                }
                b.append_value(x);
            }
            Col::Text(b, kind) => match kind {
                Kind::Jsonb => match v.split_first() {
                    Some((1, rest)) => b.append(rest)?,
                    Some((ver, _)) => {
                        return Err(format!("jsonb binary version {ver} (expected 1)"))
                    }
                    None => return Err("an empty jsonb value".into()),
                },
                Kind::NumericText => b.append(pgt::numeric_to_text(v)?.as_bytes())?,
                Kind::Interval => {
                    expect_len(v, 16, "interval")?;
                    let text = pgt::interval_to_text(be_i32(&v[12..]), be_i32(&v[8..]), be_i64(v));
                    b.append(text.as_bytes())?;
                }
                _ => b.append(v)?,
            },
            Col::Bytea(b) => b.append_value(v),
            Col::Date(b) => {
                expect_len(v, 4, "date")?;
                b.append_value(pgt::pg_date_to_days(be_i32(v))?);
            }
            Col::Time(b) => {
                expect_len(v, 8, "time")?;
                b.append_value(be_i64(v));
            }
            Col::Ts(b) => {
                expect_len(v, 8, "timestamp")?;
                b.append_value(pgt::pg_timestamp_to_unix(be_i64(v))?);
            }
            Col::Uuid(b) => {
                expect_len(v, 16, "uuid")?;
                b.append_value(v).map_err(|e| e.to_string())?;
            }
            Col::List {
                item,
                offsets,
                nulls,
                ..
            } => {
                let (n, mut pos) = pgt::array_header(v)?;
                for _ in 0..n {
                    if v.len() < pos + 4 {
                        return Err("a truncated array value".into());
                    }
                    let len = be_i32(&v[pos..]);
                    pos += 4;
                    if len < 0 {
                        item.append_null();
                    } else {
                        let end = pos + len as usize;
                        if v.len() < end {
                            return Err("a truncated array value".into());
                        }
                        item.append(&v[pos..end])?;
                        pos = end;
                    }
                }
                let last = offsets.last().copied().unwrap_or(0);
                let next = i32::try_from(n)
                    .ok()
                    .and_then(|n| last.checked_add(n))
                    .ok_or("more array elements in one batch than an Arrow list holds")?;
                offsets.push(next);
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Col::Bool(b) => b.append_null(),
            Col::I16(b) => b.append_null(),
            Col::I32(b) => b.append_null(),
            Col::I64(b, _) => b.append_null(),
            Col::F32(b) => b.append_null(),
            Col::F64(b) => b.append_null(),
            Col::D128(b, ..) => b.append_null(),
            Col::D256(b, ..) => b.append_null(),
            Col::Text(b, _) => b.append_null(),
            Col::Bytea(b) => b.append_null(),
            Col::Date(b) => b.append_null(),
            Col::Time(b) => b.append_null(),
            Col::Ts(b) => b.append_null(),
            Col::Uuid(b) => b.append_null(),
            Col::List { offsets, nulls, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_null();
            }
        }
    }

    /// The column's array; a text value that is not UTF-8 is `Err((index, message))`.
    fn finish(&mut self) -> Result<ArrayRef, (usize, String)> {
        Ok(match self {
            Col::Bool(b) => Arc::new(b.finish()),
            Col::I16(b) => Arc::new(b.finish()),
            Col::I32(b) => Arc::new(b.finish()),
            Col::I64(b, _) => Arc::new(b.finish()),
            Col::F32(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::D128(b, ..) => Arc::new(b.finish()),
            Col::D256(b, ..) => Arc::new(b.finish()),
            Col::Text(b, _) => b.finish()?,
            Col::Bytea(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Time(b) => Arc::new(b.finish()),
            Col::Ts(b) => Arc::new(b.finish()),
            Col::Uuid(b) => Arc::new(b.finish()),
            Col::List {
                item,
                field,
                offsets,
                nulls,
            } => {
                let offs = std::mem::replace(offsets, vec![0]);
                let values = item.finish().map_err(|(element, m)| {
                    // The row holding the bad element.
                    let row = offs.partition_point(|&o| o as usize <= element) - 1;
                    (row, format!("an array element: {m}"))
                })?;
                // Offsets start at 0 and never decrease (checked when appended).
                let offs = OffsetBuffer::new(offs.into());
                Arc::new(ListArray::new(field.clone(), offs, values, nulls.finish()))
            }
        })
    }
}

/// Text values gathered as bytes and checked as UTF-8 once per batch (one pass over the
/// whole buffer instead of a call per value); a bad value is then found by its offsets.
struct TextBuf {
    offsets: Vec<i32>,
    values: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl TextBuf {
    fn with_capacity(cap: usize) -> Self {
        let mut offsets = Vec::with_capacity(cap + 1);
        offsets.push(0);
        TextBuf {
            offsets,
            values: Vec::with_capacity(cap * 16),
            nulls: NullBufferBuilder::new(cap),
        }
    }

    fn append(&mut self, v: &[u8]) -> Result<(), String> {
        self.values.extend_from_slice(v);
        let end = i32::try_from(self.values.len()).map_err(|_| {
            "more than 2 GiB of text in one batch of this column: lower SRC_CHUNK_SIZE".to_string()
        })?;
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }

    fn append_null(&mut self) {
        let last = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(last);
        self.nulls.append_null();
    }

    fn finish(&mut self) -> Result<ArrayRef, (usize, String)> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let values = std::mem::take(&mut self.values);
        let nulls = self.nulls.finish();
        if let Err(index) = check_utf8(&values, &offsets) {
            let value = &values[offsets[index] as usize..offsets[index + 1] as usize];
            let detail = match std::str::from_utf8(value) {
                Err(e) => e.to_string(),
                Ok(_) => "a character split between two values".to_string(),
            };
            return Err((index, format!("text is not valid UTF-8 ({detail})")));
        }
        // SAFETY: `check_utf8` proved `values` valid UTF-8 with every offset on a character
        // boundary; the offsets start at 0, never decrease and end at `values.len()` (each
        // append pushes the new end); `nulls`, when present, has one bit per value (every
        // append pushes one offset and one null bit).
        let array = unsafe {
            StringArray::new_unchecked(OffsetBuffer::new(offsets.into()), values.into(), nulls)
        };
        Ok(Arc::new(array))
    }
}

/// Checks a batch of text values in one SIMD pass (`simdutf8`; std's check was half of
/// decoding long text in the `pg_binary_copy` bench) and that no value boundary splits a
/// character. On failure: the index of the first bad value.
fn check_utf8(values: &[u8], offsets: &[i32]) -> Result<(), usize> {
    let value_at = |byte: usize| offsets.partition_point(|&o| o as usize <= byte) - 1;
    if simdutf8::basic::from_utf8(values).is_err() {
        let bad = simdutf8::compat::from_utf8(values)
            .err()
            .map_or(0, |e| e.valid_up_to());
        return Err(value_at(bad));
    }
    // A boundary inside a character starts with a continuation byte (0b10xx_xxxx).
    let inside = |o: &i32| values.get(*o as usize).is_some_and(|&b| (b as i8) < -0x40);
    match offsets.iter().position(inside) {
        // The value that ends at this boundary is the first one cut short.
        Some(i) => Err(i.saturating_sub(1)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Field, Int32Type};

    fn stream(tuples: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = pgt::COPY_SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        for t in tuples {
            out.extend_from_slice(&(t.len() as i16).to_be_bytes());
            for f in t {
                match f {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(b) => {
                        out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                        out.extend_from_slice(b);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn decoder(chunk: usize) -> CopyDecoder {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            Field::new("n", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        CopyDecoder::new("t", schema, &[Kind::Int4, Kind::Text], chunk).unwrap()
    }

    #[test]
    fn copy_decoder_takes_the_stream_split_anywhere() {
        let tuples: Vec<Vec<Option<Vec<u8>>>> = (0..5i32)
            .map(|i| {
                vec![
                    (i % 2 == 0).then(|| i.to_be_bytes().to_vec()),
                    Some(format!("row {i}").into_bytes()),
                ]
            })
            .collect();
        let data = stream(&tuples);
        for split in [1, 2, 3, 7, 19, 20, data.len()] {
            let mut d = decoder(2);
            let mut batches = Vec::new();
            let mut sink = |b: RecordBatch| {
                batches.push(b);
                Ok(())
            };
            for piece in data.chunks(split) {
                d.feed(piece, &mut sink).unwrap();
            }
            assert_eq!(d.finish(&mut sink).unwrap(), 5, "split {split}");
            let sizes: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
            assert_eq!(sizes, [2, 2, 1], "split {split}");
            let ns: Vec<Option<i32>> = batches
                .iter()
                .flat_map(|b| {
                    b.column(0)
                        .as_primitive::<Int32Type>()
                        .iter()
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(ns, [Some(0), None, Some(2), None, Some(4)], "split {split}");
            assert_eq!(batches[2].column(1).as_string::<i32>().value(0), "row 4");
        }
    }

    #[test]
    fn a_cut_or_malformed_stream_is_an_error() {
        let data = stream(&[vec![Some(1i32.to_be_bytes().to_vec()), None]]);
        let mut sink = |_: RecordBatch| Ok(());
        let mut d = decoder(10);
        d.feed(&data[..data.len() - 2], &mut sink).unwrap();
        assert!(d.finish(&mut sink).unwrap_err().is_transient());

        let mut bad = data;
        bad[19..21].copy_from_slice(&3i16.to_be_bytes());
        let err = decoder(10).feed(&bad, &mut sink).unwrap_err();
        assert!(
            err.to_string().contains("a tuple of 3 fields, expected 2"),
            "{err}"
        );

        // Text is checked per batch; the message still names the row (here the 4th, in
        // the second batch of 3).
        let mut rows: Vec<Vec<Option<Vec<u8>>>> = (0..5)
            .map(|_| vec![None, Some(b"fine \xc3\xa9".to_vec())])
            .collect();
        rows[3][1] = Some(vec![b'a', 0xc3]);
        let text = stream(&rows);
        let mut d = decoder(3);
        d.feed(&text, &mut sink).unwrap();
        let err = d.finish(&mut sink).unwrap_err();
        assert!(
            err.to_string().contains("table t, column s, row 4"),
            "{err}"
        );
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");

        // Two values that are each broken but valid together ("é" split in two).
        let rows = vec![
            vec![None, Some(b"ok".to_vec())],
            vec![None, Some(vec![b'a', 0xc3])],
            vec![None, Some(vec![0xa9, b'b'])],
        ];
        let mut d = decoder(10);
        d.feed(&stream(&rows), &mut sink).unwrap();
        let err = d.finish(&mut sink).unwrap_err();
        assert!(
            err.to_string().contains("table t, column s, row 2"),
            "{err}"
        );
    }

    #[test]
    fn arrays_decode_into_lists_with_null_elements() {
        let item = Field::new("item", DataType::Int32, true);
        let mut col = Col::new(&DataType::List(item.into()), Kind::Int4, 4).unwrap();
        let mut v = Vec::new();
        pgt::encode_array_header(3, true, 23, &mut v);
        for e in [Some(1i32), None, Some(-3)] {
            match e {
                Some(x) => {
                    v.extend_from_slice(&4i32.to_be_bytes());
                    v.extend_from_slice(&x.to_be_bytes());
                }
                None => v.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        col.append(&v).unwrap();
        col.append_null();
        let mut empty = Vec::new();
        pgt::encode_array_header(0, false, 23, &mut empty);
        col.append(&empty).unwrap();
        let a = col.finish().unwrap();
        let list = a.as_list::<i32>();
        assert_eq!(list.len(), 3);
        assert!(list.is_null(1));
        assert_eq!(list.value(2).len(), 0);
        let first = list.value(0);
        let ints = first.as_primitive::<Int32Type>();
        assert_eq!(
            (ints.value(0), ints.is_null(1), ints.value(2)),
            (1, true, -3)
        );
    }

    #[test]
    fn a_bad_text_array_element_names_its_row() {
        let item = Field::new("item", DataType::Utf8, true);
        let mut col = Col::new(&DataType::List(item.into()), Kind::Text, 4).unwrap();
        let array = |elems: &[&[u8]]| {
            let mut v = Vec::new();
            pgt::encode_array_header(elems.len(), false, 25, &mut v);
            for e in elems {
                v.extend_from_slice(&(e.len() as i32).to_be_bytes());
                v.extend_from_slice(e);
            }
            v
        };
        col.append(&array(&[b"a", b"b"])).unwrap();
        col.append_null();
        col.append(&array(&[b"c", b"\xff"])).unwrap();
        let (row, m) = col.finish().unwrap_err();
        assert_eq!(row, 2);
        assert!(m.contains("array element"), "{m}");
    }

    #[test]
    fn scalars_decode_from_send_formats() {
        let mut ts = Col::new(&Kind::Timestamptz.arrow_type(), Kind::Timestamptz, 2).unwrap();
        ts.append(&0i64.to_be_bytes()).unwrap();
        assert!(ts.append(&i64::MAX.to_be_bytes()).is_err());
        let a = ts.finish().unwrap();
        assert_eq!(
            a.as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(0),
            946_684_800_000_000
        );
        let mut iv = Col::new(&DataType::Utf8, Kind::Interval, 1).unwrap();
        let mut v = 1_500_000i64.to_be_bytes().to_vec();
        v.extend_from_slice(&2i32.to_be_bytes());
        v.extend_from_slice(&13i32.to_be_bytes());
        iv.append(&v).unwrap();
        assert_eq!(
            iv.finish().unwrap().as_string::<i32>().value(0),
            "P1Y1M2DT1.5S"
        );
        let mut j = Col::new(&DataType::Utf8, Kind::Jsonb, 1).unwrap();
        j.append(b"\x01{\"a\": 1}").unwrap();
        assert_eq!(
            j.finish().unwrap().as_string::<i32>().value(0),
            "{\"a\": 1}"
        );
    }

    /// The loader's COPY encoder and this decoder are inverse: a batch of every scalar kind
    /// survives encode → decode unchanged, fed in odd-sized pieces.
    #[test]
    fn loader_encoding_decodes_to_the_same_batch() {
        use arrow::array::{
            BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
            Float64Array, Int16Array, Int32Array, Int64Array, StringArray, Time64MicrosecondArray,
            TimestampMicrosecondArray,
        };
        let kinds = [
            Kind::Bool,
            Kind::Int2,
            Kind::Int4,
            Kind::Int8,
            Kind::Float8,
            Kind::Decimal128(15, 2),
            Kind::Text,
            Kind::Bytea,
            Kind::Date,
            Kind::Time,
            Kind::Timestamp,
            Kind::Timestamptz,
            Kind::Uuid,
        ];
        let fields: Vec<Field> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| Field::new(format!("c{i}"), k.arrow_type(), true))
            .collect();
        let schema = Arc::new(arrow::datatypes::Schema::new(fields));
        let uuid = [7u8; 16];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            Arc::new(Int16Array::from(vec![Some(i16::MIN), None, Some(i16::MAX)])),
            Arc::new(Int32Array::from(vec![Some(i32::MIN), None, Some(0)])),
            Arc::new(Int64Array::from(vec![Some(i64::MIN), None, Some(i64::MAX)])),
            Arc::new(Float64Array::from(vec![Some(-0.0), None, Some(f64::MAX)])),
            Arc::new(
                Decimal128Array::from(vec![Some(-999_999_999_999_999), None, Some(1)])
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
            Arc::new(StringArray::from(vec![Some("Ĳsselstein"), None, Some("")])),
            Arc::new(BinaryArray::from(vec![
                Some(&b"\x00"[..]),
                None,
                Some(&b""[..]),
            ])),
            Arc::new(Date32Array::from(vec![
                Some(-719_162),
                None,
                Some(2_932_896),
            ])),
            Arc::new(Time64MicrosecondArray::from(vec![
                Some(0),
                None,
                Some(86_399_999_999),
            ])),
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(-62_135_596_800_000_000),
                None,
                Some(253_402_300_799_999_999),
            ])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(0), None, Some(1_700_000_000_123_456)])
                    .with_timezone("UTC"),
            ),
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    vec![Some(uuid), None, Some([0u8; 16])].into_iter(),
                    16,
                )
                .unwrap(),
            ),
        ];
        let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
        let mut bytes = Vec::new();
        let mut nuls = vec![0; kinds.len()];
        crate::load::postgres::encode_batch(&batch, &mut bytes, &mut nuls, "t").unwrap();
        let mut d = CopyDecoder::new("t", schema, &kinds, 100).unwrap();
        let mut out = Vec::new();
        let mut sink = |b: RecordBatch| {
            out.push(b);
            Ok(())
        };
        for piece in bytes.chunks(13) {
            d.feed(piece, &mut sink).unwrap();
        }
        assert_eq!(d.finish(&mut sink).unwrap(), 3);
        assert_eq!(out, vec![batch]);
    }
}

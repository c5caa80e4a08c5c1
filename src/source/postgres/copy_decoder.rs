//! The binary COPY stream into Arrow batches.
//!
//! The stream is an 11-byte signature, a 32-bit flags word and a header extension; then
//! per tuple a 16-bit field count and per field a 32-bit length (-1 = NULL) and the value
//! in its type's binary `send` format; a field count of -1 ends it. Each column's values
//! are decoded by `copy_columns`.

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::copy_columns::Col;
use crate::error::{Error, Result};
use crate::source::BatchSink;
use crate::types::postgres::{self as pgt, be_i16, be_i32, ReadAs};

/// Bytes of a new piece appended at a time to complete a tuple cut off at a piece's end.
const PENDING_STEP: usize = 4096;

/// Decodes a binary COPY stream into Arrow batches of `chunk` rows.
///
/// Bytes may arrive split anywhere. The server sends one CopyData message per row, so whole
/// tuples are normally decoded straight from the message; a tuple cut across messages is
/// assembled in `pending` first.
///
/// When every column can drop its last values (all types but bytea and arrays), a tuple is
/// decoded in one walk over its fields, and one found cut off is undone; otherwise its
/// length is checked in a first walk (the two walks were 7 % of DIRECT's CPU).
pub struct CopyDecoder {
    pub(super) table: String,
    schema: SchemaRef,
    cols: Vec<Col>,
    /// Every column can truncate: tuples are decoded in one walk.
    one_walk: bool,
    chunk: usize,
    /// `SRC_CHUNK_BYTES`: a batch also ends once its tuples hold this many bytes.
    chunk_bytes: usize,
    /// Bytes of the tuples in the batch under construction.
    batch_bytes: usize,
    in_batch: usize,
    /// Rows decoded so far (1-based row numbers in messages).
    rows: u64,
    header_done: bool,
    trailer_seen: bool,
    pending: Vec<u8>,
}

impl CopyDecoder {
    /// A decoder for columns of `schema` read as `kinds` (one per field).
    pub fn new(table: &str, schema: SchemaRef, kinds: &[ReadAs], chunk: usize) -> Result<Self> {
        if kinds.len() != schema.fields().len() {
            return Err(Error::Check(format!(
                "table {table}: {} column kinds for {} columns",
                kinds.len(),
                schema.fields().len()
            )));
        }
        let cols: Vec<Col> = schema
            .fields()
            .iter()
            .zip(kinds)
            .map(|(f, k)| Col::new(f.data_type(), *k, chunk))
            .collect::<Result<_>>()?;
        let one_walk = cols.iter().all(Col::can_truncate);
        Ok(CopyDecoder {
            table: table.to_string(),
            schema,
            cols,
            one_walk,
            chunk: chunk.max(1),
            chunk_bytes: usize::MAX,
            batch_bytes: 0,
            in_batch: 0,
            rows: 0,
            header_done: false,
            trailer_seen: false,
            pending: Vec::new(),
        })
    }

    /// Also ends a batch once its tuples hold `bytes` bytes (`SRC_CHUNK_BYTES`), whichever
    /// of rows and bytes comes first.
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// Decodes the next bytes of the stream, handing each full batch to `sink`.
    ///
    /// A tuple cut off at the end of the last piece is completed in `pending` from the
    /// start of this one, a few KiB at a time (doubling for long tuples), and the rest is
    /// decoded in place: pieces of many tuples (`copy_tap`) are not copied whole.
    pub fn feed(&mut self, mut data: &[u8], sink: &mut BatchSink<'_>) -> Result<()> {
        while !self.pending.is_empty() {
            if data.is_empty() {
                return Ok(());
            }
            let mut pending = std::mem::take(&mut self.pending);
            let before = pending.len();
            let take = data.len().min(before.max(PENDING_STEP));
            pending.extend_from_slice(&data[..take]);
            let used = self.consume(&pending, sink)?;
            if used > before {
                // The cut-off tuple is complete; what followed it is decoded from `data`.
                data = &data[take - (pending.len() - used)..];
                pending.clear();
            } else {
                pending.drain(..used);
                data = &data[take..];
            }
            self.pending = pending;
        }
        let used = self.consume(data, sink)?;
        self.pending.extend_from_slice(&data[used..]);
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
            let found = if self.one_walk {
                self.decode_one_walk(&buf[pos..])?
            } else {
                match tuple_len(&buf[pos..], ncols) {
                    Ok(Some(TupleLen::Tuple(n))) => {
                        self.decode_tuple(&buf[pos..pos + n])?;
                        Ok(Some(TupleLen::Tuple(n)))
                    }
                    other => other,
                }
            };
            match found {
                Ok(Some(TupleLen::Trailer)) => {
                    self.trailer_seen = true;
                    // Nothing follows the trailer.
                    pos = buf.len();
                }
                Ok(Some(TupleLen::Tuple(n))) => {
                    pos += n;
                    self.batch_bytes += n;
                    if self.in_batch == self.chunk || self.batch_bytes >= self.chunk_bytes {
                        self.emit(sink)?;
                    }
                }
                Ok(None) => break,
                Err(m) => return Err(self.malformed(&m)),
            }
        }
        Ok(pos)
    }

    /// Decodes the tuple at the start of `b` in one walk; `Ok(None)` when `b` ends inside
    /// it (the fields appended so far are dropped again). `Err(message)` for a malformed
    /// stream; a value that cannot be decoded is an error naming its row.
    fn decode_one_walk(&mut self, b: &[u8]) -> Result<Result<Option<TupleLen>, String>> {
        if b.len() < 2 {
            return Ok(Ok(None));
        }
        let n = be_i16(b);
        if n == -1 {
            return Ok(Ok(Some(TupleLen::Trailer)));
        }
        if n as usize != self.cols.len() {
            return Ok(Err(format!(
                "a tuple of {n} fields, expected {}",
                self.cols.len()
            )));
        }
        let mut pos = 2;
        for i in 0..self.cols.len() {
            let len = match b.get(pos..pos + 4) {
                Some(l) => be_i32(l),
                None => return Ok(Ok(self.cut_off(i))),
            };
            pos += 4;
            if len < 0 {
                if len < -1 {
                    self.cut_off(i);
                    return Ok(Err(format!("a field length of {len}")));
                }
                self.cols[i].append_null();
                continue;
            }
            let Some(v) = b.get(pos..pos + len as usize) else {
                return Ok(Ok(self.cut_off(i)));
            };
            pos += len as usize;
            if let Err(m) = self.cols[i].append(v) {
                return Err(Error::value(
                    &self.table,
                    self.schema.field(i).name(),
                    self.rows + 1,
                    m,
                ));
            }
        }
        self.rows += 1;
        self.in_batch += 1;
        Ok(Ok(Some(TupleLen::Tuple(pos))))
    }

    /// Drops the values a cut-off tuple left in its first `fields` columns.
    fn cut_off(&mut self, fields: usize) -> Option<TupleLen> {
        for col in &mut self.cols[..fields] {
            col.truncate(self.in_batch);
        }
        None
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
        self.batch_bytes = 0;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::batch(&self.table, e))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::{DataType, Field, Int32Type};
    use std::sync::Arc;

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
        CopyDecoder::new("t", schema, &[ReadAs::Int4, ReadAs::Text], chunk).unwrap()
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
    fn long_and_short_tuples_cut_across_large_pieces_decode_whole() {
        // Tuples of a few bytes up to 30 KB, so a cut-off tuple is completed over several
        // steps of `PENDING_STEP` and more, and the rest of each piece decoded in place.
        let texts: Vec<String> = (0..40usize)
            .map(|i| {
                let len = [3, 30_000, 10, 4_096, 5_000, 1][i % 6] + i;
                (0..len)
                    .map(|j| char::from(b'a' + ((i + j) % 26) as u8))
                    .collect()
            })
            .collect();
        let tuples: Vec<Vec<Option<Vec<u8>>>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                vec![
                    Some((i as i32).to_be_bytes().to_vec()),
                    Some(t.clone().into_bytes()),
                ]
            })
            .collect();
        let data = stream(&tuples);
        for split in [1, 7, 64, 4_095, 5_000, 9_000, 50_000, data.len()] {
            let mut d = decoder(16);
            let mut got: Vec<(i32, String)> = Vec::new();
            let mut sink = |b: RecordBatch| {
                let n = b.column(0).as_primitive::<Int32Type>();
                let s = b.column(1).as_string::<i32>();
                got.extend((0..b.num_rows()).map(|r| (n.value(r), s.value(r).to_string())));
                Ok(())
            };
            for piece in data.chunks(split) {
                d.feed(piece, &mut sink).unwrap();
            }
            assert_eq!(d.finish(&mut sink).unwrap(), 40, "split {split}");
            let want: Vec<(i32, String)> = texts
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, t)| (i as i32, t))
                .collect();
            assert!(got == want, "split {split}: decoded values differ");
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
    fn batches_end_at_the_byte_limit_and_a_bad_value_names_its_row_past_earlier_batches() {
        // 600 tuples of 2 + (4 + 4) + (4 + 10) = 24 bytes each; a limit of 960 bytes ends
        // every batch after 40 tuples (the tuple that reaches the limit is the last).
        let tuples: Vec<Vec<Option<Vec<u8>>>> = (0..600i32)
            .map(|i| vec![Some(i.to_be_bytes().to_vec()), Some(b"0123456789".to_vec())])
            .collect();
        let mut d = decoder(10_000).with_max_bytes(960);
        let mut sizes = Vec::new();
        let mut last = -1;
        let mut sink = |b: RecordBatch| {
            sizes.push(b.num_rows());
            for v in b.column(0).as_primitive::<Int32Type>().values() {
                assert_eq!(*v, last + 1);
                last = *v;
            }
            Ok(())
        };
        d.feed(&stream(&tuples), &mut sink).unwrap();
        assert_eq!(d.finish(&mut sink).unwrap(), 600);
        assert_eq!(sizes, vec![40; 15]);

        // A 3-byte integer in the 518th tuple, past several batches of the first decoder.
        let mut bad = tuples;
        bad[517][0] = Some(vec![0, 0, 1]);
        let err = decoder(10_000)
            .feed(&stream(&bad), &mut |_| Ok(()))
            .unwrap_err();
        assert!(err.to_string().contains("column n, row 518"), "{err}");
    }
}

//! Writing a query's rows as they stream: an aligned table, CSV, JSON lines or Parquet, to
//! standard output or a file. Memory holds one batch (the table format: its first rows).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use arrow::array::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::cli::QueryFormat;
use crate::error::{Error, Result};
use crate::partial_file::PartialFile;

/// Rows the table format shows; the count of the others is printed below them.
const TABLE_ROWS: usize = 1000;

/// What a query wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub rows: u64,
}

enum Sink {
    Table {
        kept: Vec<RecordBatch>,
        kept_rows: usize,
        out: Box<dyn Write>,
    },
    Csv(arrow::csv::Writer<Box<dyn Write>>),
    Json(arrow::json::LineDelimitedWriter<Box<dyn Write>>),
    Parquet(ArrowWriter<BufWriter<File>>),
}

/// Streams `stream` into `format`, at `output` or on standard output. `on_batch` sees each
/// batch first (`stage diff` counts its changes there).
pub async fn write_stream(
    mut stream: SendableRecordBatchStream,
    format: QueryFormat,
    output: Option<&Path>,
    mut on_batch: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<Written> {
    let shown = output
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "standard output".into());
    let io = |e: std::io::Error| Error::archive(format!("writing the rows to {shown}"), e);
    let arrow_err =
        |e: arrow::error::ArrowError| Error::archive(format!("writing the rows to {shown}"), e);
    // A file is written under a partial name beside it and renamed when complete, so a
    // killed or failed query never leaves a truncated file under the name asked for (nor
    // destroys the file that was there).
    let partial = output.map(PartialFile::create).transpose().map_err(io)?;
    let open = || -> Result<Box<dyn Write>> {
        Ok(match &partial {
            Some(p) => Box::new(BufWriter::new(p.handle().map_err(io)?)),
            None => Box::new(BufWriter::new(std::io::stdout())),
        })
    };
    let mut sink = match format {
        QueryFormat::Table => Sink::Table {
            kept: Vec::new(),
            kept_rows: 0,
            out: open()?,
        },
        QueryFormat::Csv => Sink::Csv(
            arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(open()?),
        ),
        QueryFormat::Json => Sink::Json(arrow::json::LineDelimitedWriter::new(open()?)),
        QueryFormat::Parquet => {
            let Some(p) = &partial else {
                return Err(Error::config(
                    "--format parquet needs --output FILE (Parquet is not written to a terminal)",
                ));
            };
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .build();
            let file = BufWriter::new(p.handle().map_err(io)?);
            let w = ArrowWriter::try_new(file, stream.schema(), Some(props))
                .map_err(|e| Error::archive(format!("writing {shown}"), e))?;
            Sink::Parquet(w)
        }
    };
    let mut written = Written::default();
    let mut more = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| super::sql_error("running the query", e))?;
        on_batch(&batch)?;
        written.rows += batch.num_rows() as u64;
        match &mut sink {
            Sink::Table {
                kept, kept_rows, ..
            } => {
                let room = TABLE_ROWS - *kept_rows;
                if batch.num_rows() <= room {
                    *kept_rows += batch.num_rows();
                    kept.push(batch);
                } else {
                    if room > 0 {
                        kept.push(batch.slice(0, room));
                        *kept_rows += room;
                    }
                    more += (batch.num_rows() - room) as u64;
                }
            }
            Sink::Csv(w) => w.write(&batch).map_err(arrow_err)?,
            Sink::Json(w) => w.write(&batch).map_err(arrow_err)?,
            Sink::Parquet(w) => w
                .write(&batch)
                .map_err(|e| Error::archive(format!("writing {shown}"), e))?,
        }
    }
    match sink {
        Sink::Table { kept, mut out, .. } => {
            let text =
                arrow::util::pretty::pretty_format_batches_with_schema(stream.schema(), &kept)
                    .map_err(arrow_err)?;
            writeln!(out, "{text}").map_err(io)?;
            if more > 0 {
                writeln!(
                    out,
                    "… and {more} more rows ({} in all): use --format csv|json|parquet with --output for every row",
                    written.rows
                )
                .map_err(io)?;
            } else {
                writeln!(out, "({} rows)", written.rows).map_err(io)?;
            }
            out.flush().map_err(io)?;
        }
        Sink::Csv(w) => w.into_inner().flush().map_err(io)?,
        Sink::Json(mut w) => {
            w.finish().map_err(arrow_err)?;
            w.into_inner().flush().map_err(io)?;
        }
        Sink::Parquet(w) => {
            w.close()
                .map_err(|e| Error::archive(format!("writing {shown}"), e))?;
        }
    }
    if let Some(p) = partial {
        p.finish().map_err(io)?;
    }
    Ok(written)
}

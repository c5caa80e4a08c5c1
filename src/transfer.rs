//! The transfer modes wire the same pieces:
//!
//! ```text
//! DIRECT:  Source ──batches──▶ TableLoad (retry per batch) ──▶ swap
//! DUMP:    Source ──batches──▶ PartWriter ──▶ Manifest ──▶ load_manifest ──▶ TableLoad ──▶ swap
//! ```
//!
//! Reading and writing overlap: the source runs on its own thread and hands finished
//! batches over a channel that holds one, so at most three chunks are in memory per table.

use std::sync::mpsc;
use std::time::Duration;

use arrow::record_batch::{RecordBatch, RecordBatchReader};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::archive::{
    self, part_writer::sha256_hex, ColumnEntry, Manifest, PartEntry, PartWriter, Store, TableEntry,
    TableStatus,
};
use crate::config::{Config, Driver, RetryPolicy, TransferMode};
use crate::error::{signal_name, Error, ErrorClass, Result};
use crate::interrupt;
use crate::load::{self, Destination, LoadReport, LoadTarget};
use crate::progress::Progress;
use crate::source::{self, BatchSink, ReadOptions, Source, TableInfo, TableRef};

/// How one table ended.
#[derive(Debug, Clone)]
pub struct TableOutcome {
    pub table: String,
    pub rows: u64,
    pub error: Option<String>,
    /// The kind of failure, with `error`.
    pub class: Option<ErrorClass>,
}

impl TableOutcome {
    fn failed(table: String, e: &Error) -> TableOutcome {
        TableOutcome {
            table,
            rows: 0,
            error: Some(format!("{e:#}")),
            class: Some(e.class()),
        }
    }
}

/// What a run did, for the exit code and the last log lines.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub tables: Vec<TableOutcome>,
    /// Where the manifest was left, when one was kept.
    pub manifest: Option<String>,
}

impl RunSummary {
    pub fn failed(&self) -> usize {
        self.tables.iter().filter(|t| t.error.is_some()).count()
    }
}

/// The run's exit code from its tables: 0 when all succeeded; 128 + N when signal N
/// stopped it; 4 when every failure was a staging table locked by another run; else 1.
pub fn exit_code(tables: &[TableOutcome]) -> i32 {
    if let Some(signal) = interrupt::received() {
        return 128 + signal;
    }
    let classes: Vec<ErrorClass> = tables.iter().filter_map(|t| t.class).collect();
    if classes.is_empty() {
        0
    } else if classes.iter().all(|c| *c == ErrorClass::Locked) {
        4
    } else {
        1
    }
}

/// The outcome of a table the run did not start because a signal stopped it.
fn not_started(table: String, signal: i32) -> TableOutcome {
    TableOutcome::failed(table, &Error::Interrupted { signal })
}

/// `stage run` (load = true) and `stage dump` (load = false).
pub fn run(cfg: &Config, load: bool) -> Result<RunSummary> {
    let mode = cfg.settings.mode;
    if mode == TransferMode::Connectorx && !cfg!(feature = "connectorx") {
        return Err(Error::config(
            "[settings] TRANSFER_MODE = CONNECTORX is not available in this build of stage (built without the cargo feature `connectorx`); use DIRECT or DUMP, or rebuild with --features connectorx",
        ));
    }
    if mode == TransferMode::Direct && !load {
        return Err(Error::config(
            "stage dump writes the archive, which DIRECT mode does not: set [settings] TRANSFER_MODE = DUMP (or use --mode dump)",
        ));
    }
    if cfg.settings.read_connections > 1
        && (cfg.source.driver != Driver::Postgres || mode == TransferMode::Connectorx)
    {
        tracing::warn!(
            "[settings] READ_CONNECTIONS applies to PostgreSQL sources in DIRECT and DUMP mode; reading over one connection"
        );
    }
    interrupt::install();
    let run_id = archive::new_run_id();
    tracing::info!(run_id = %run_id, "run started");
    let mut src = source::open(&cfg.source)?;
    let mut dst = if load {
        Some(load::open(&cfg.destination)?)
    } else {
        None
    };
    let tables: Vec<TableRef> = cfg
        .settings
        .tables
        .iter()
        .map(|t| TableRef::new(t, cfg.source.schema.as_deref()))
        .collect();
    let progress = Progress::new(tables.len());
    match mode {
        TransferMode::Direct => {
            let dst = dst.as_mut().expect("DIRECT always loads");
            let mut summary = RunSummary::default();
            for (i, table) in tables.iter().enumerate() {
                let outcome = match interrupt::received() {
                    Some(signal) => not_started(table.display(), signal),
                    None => direct_table(
                        cfg,
                        &run_id,
                        src.as_mut(),
                        dst.as_mut(),
                        table,
                        i,
                        &progress,
                    ),
                };
                summary.tables.push(outcome);
            }
            Ok(summary)
        }
        _ => dump_and_load(
            cfg,
            &run_id,
            src.as_mut(),
            dst.as_deref_mut(),
            &tables,
            &progress,
        ),
    }
}

fn outcome(table: &TableRef, result: Result<u64>) -> TableOutcome {
    match result {
        Ok(rows) => TableOutcome {
            table: table.display(),
            rows,
            error: None,
            class: None,
        },
        Err(e) => {
            tracing::error!(table = %table.display(), "{e:#}");
            TableOutcome::failed(table.display(), &e)
        }
    }
}

/// Describes a table and counts its rows when `LOG_ROW_COUNT` asks (a failed count warns).
fn prepare(
    cfg: &Config,
    src: &mut dyn Source,
    table: &TableRef,
) -> Result<(TableInfo, Option<u64>)> {
    let info = src.describe(table)?;
    info.check_staging_names()?;
    let expected = if cfg.settings.log_row_count {
        match src.count_rows(&info) {
            Ok(n) => Some(match cfg.settings.row_limit {
                Some(limit) => n.min(limit),
                None => n,
            }),
            Err(e) => {
                tracing::warn!(table = %table.display(), "could not count rows: {e:#}");
                None
            }
        }
    } else {
        None
    };
    Ok((info, expected))
}

fn read_options(cfg: &Config) -> ReadOptions {
    ReadOptions {
        chunk_rows: cfg.settings.chunk_size,
        row_limit: cfg.settings.row_limit,
        zero_dates: cfg.settings.zero_dates,
        connections: cfg.settings.read_connections,
    }
}

fn target(cfg: &Config, run_id: &str, staging_table: String) -> LoadTarget {
    LoadTarget::new(
        cfg.destination.schema.clone(),
        staging_table,
        cfg.settings.write_mode,
        run_id,
        cfg.settings.lock_wait,
    )
}

fn direct_table(
    cfg: &Config,
    run_id: &str,
    src: &mut dyn Source,
    dst: &mut dyn Destination,
    table: &TableRef,
    index: usize,
    progress: &Progress,
) -> TableOutcome {
    let result = (|| {
        let (info, expected) = prepare(cfg, src, table)?;
        let bar = progress.table(index, &table.display(), expected);
        let staging = load::staging_schema(&info.schema());
        let mut loading = dst.begin(&target(cfg, run_id, table.staging_name()), &staging)?;
        let opts = read_options(cfg);
        let rows = pipe(src, &info, &opts, |batch| {
            interrupt::pause_point("read");
            let batch = load::to_staging(&batch, &staging)?;
            with_retry(&cfg.settings.retry, &table.display(), || {
                loading.write_batch(&batch)
            })?;
            interrupt::pause_point("load");
            bar.add(batch.num_rows() as u64);
            Ok(())
        })?;
        interrupt::check()?;
        let report = loading.commit(rows)?;
        report_nuls(table, &report);
        bar.finish(rows);
        Ok(rows)
    })();
    outcome(table, result)
}

fn report_nuls(table: &TableRef, report: &LoadReport) {
    for (column, n) in &report.nul_stripped {
        tracing::warn!(table = %table.display(), column = %column, values = n, "NUL characters stripped from text values (the destination cannot store them)");
    }
}

/// Reads `info` on a thread of its own and hands each batch to `consume` here.
fn pipe(
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
fn relay(
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

/// Retries `f` on transient errors: delay `min(max, base·2^n)` with jitter, capped at max.
pub fn with_retry(
    policy: &RetryPolicy,
    what: &str,
    mut f: impl FnMut() -> Result<()>,
) -> Result<()> {
    let mut attempt = 0u32;
    loop {
        match f() {
            Err(e) if e.is_transient() && attempt < policy.max_retries => {
                let delay = backoff(policy, attempt);
                tracing::warn!(table = %what, attempt = attempt + 1, delay_s = delay.as_secs_f64(), "transient error, retrying the batch: {e:#}");
                std::thread::sleep(delay);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The delay before retry `attempt` (0-based): `base·2^attempt` plus up to 50% jitter,
/// never above `max`.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.base_seconds * 2f64.powi(attempt.min(60) as i32);
    let jittered = exp * (1.0 + rand::random::<f64>() * 0.5);
    Duration::from_secs_f64(jittered.min(policy.max_seconds).max(0.0))
}

fn columns_entry(info: &TableInfo) -> Vec<ColumnEntry> {
    info.columns
        .iter()
        .map(|c| ColumnEntry {
            name: c.name.clone(),
            source_type: c.source_type.clone(),
            arrow_type: c.arrow_type.to_string(),
            nullable: c.nullable,
        })
        .collect()
}

fn dump_and_load(
    cfg: &Config,
    run_id: &str,
    src: &mut dyn Source,
    dst: Option<&mut (dyn Destination + 'static)>,
    tables: &[TableRef],
    progress: &Progress,
) -> Result<RunSummary> {
    let store = Store::open(&cfg.settings.output_dir)?;
    let _run_lock = archive::debris::RunLock::take(&store, run_id)?;
    for line in archive::debris::clean(&store, run_id)? {
        tracing::info!("archive cleaned up: {line}");
    }
    let started_at = chrono::Utc::now();
    let mut entries = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        entries.push(match interrupt::received() {
            Some(signal) => not_dumped(table, signal),
            None => dump_table(cfg, src, &store, run_id, table, i, progress),
        });
    }
    interrupt::pause_point("manifest");
    let manifest = Manifest {
        tool: "stage".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        run_id: run_id.to_string(),
        mode: cfg.settings.mode.name().into(),
        started_at: started_at.to_rfc3339(),
        finished_at: chrono::Utc::now().to_rfc3339(),
        source: archive::manifest::SourceEntry {
            driver: cfg.source.driver.name().into(),
            host: cfg.source.host.clone(),
            database: cfg.source.database.clone(),
        },
        interrupted: interrupt::received().map(|s| signal_name(s).to_string()),
        tables: entries,
    };
    let manifest_path = manifest.write(&store)?;
    let shown_manifest = format!("{}/{manifest_path}", store.root.trim_end_matches('/'));
    tracing::info!(manifest = %shown_manifest, "manifest written");
    let mut summary = RunSummary::default();
    let dst = match (dst, interrupt::received()) {
        (Some(dst), None) => dst,
        (_, signal) => {
            for e in &manifest.tables {
                summary.tables.push(TableOutcome {
                    table: e.source_table.clone(),
                    rows: e.rows,
                    error: e.error.clone(),
                    class: e.error.as_ref().map(|_| match signal {
                        Some(_) => ErrorClass::Interrupted,
                        None => ErrorClass::Other,
                    }),
                });
            }
            summary.manifest = Some(shown_manifest);
            return Ok(summary);
        }
    };
    summary.tables = load_manifest(cfg, &manifest, &store, dst, progress);
    if summary.failed() == 0 && cfg.settings.cleanup {
        for e in &manifest.tables {
            for p in &e.parts {
                store.delete(&p.path)?;
            }
        }
        store.delete(&manifest_path)?;
        tracing::info!("parts and manifest of this run deleted (CLEANUP_PARQUET_FILES)");
    } else {
        if summary.failed() > 0 {
            tracing::warn!(manifest = %shown_manifest, "kept this run's parts and manifest for: stage load --manifest {shown_manifest}");
        }
        summary.manifest = Some(shown_manifest);
    }
    Ok(summary)
}

/// The manifest entry of a table a signal kept the run from reading.
fn not_dumped(table: &TableRef, signal: i32) -> TableEntry {
    TableEntry {
        source_table: table.display(),
        staging_table: table.staging_name(),
        status: TableStatus::Failed,
        error: Some(Error::Interrupted { signal }.to_string()),
        rows: 0,
        columns: Vec::new(),
        parts: Vec::new(),
    }
}

fn dump_table(
    cfg: &Config,
    src: &mut dyn Source,
    store: &Store,
    run_id: &str,
    table: &TableRef,
    index: usize,
    progress: &Progress,
) -> TableEntry {
    let staging_table = table.staging_name();
    let mut entry = TableEntry {
        source_table: table.display(),
        staging_table: staging_table.clone(),
        status: TableStatus::Failed,
        error: None,
        rows: 0,
        columns: Vec::new(),
        parts: Vec::new(),
    };
    let result = (|| -> Result<(u64, Vec<PartEntry>)> {
        let (info, expected) = prepare(cfg, src, table)?;
        entry.columns = columns_entry(&info);
        let bar = progress.table(index, &table.display(), expected);
        let stem = archive::path_segment(&staging_table);
        let mut writer = PartWriter::new(
            store,
            archive::table_dir(&staging_table, run_id),
            stem,
            table.display(),
            info.schema(),
            cfg.settings.compression,
            cfg.settings.chunk_size,
        );
        let mut consume = |batch: RecordBatch| {
            interrupt::check()?;
            interrupt::pause_point("read");
            writer.write(&batch)?;
            bar.add(batch.num_rows() as u64);
            Ok(())
        };
        let read = if cfg.settings.mode == TransferMode::Connectorx {
            read_connectorx(cfg, src, &info, expected, &mut consume)
        } else {
            pipe(src, &info, &read_options(cfg), consume)
        };
        match read {
            Ok(rows) => {
                let parts = writer.finish()?;
                bar.finish(rows);
                Ok((rows, parts))
            }
            Err(e) => {
                writer.abort();
                Err(e)
            }
        }
    })();
    match result {
        Ok((rows, parts)) => {
            entry.status = TableStatus::Complete;
            entry.rows = rows;
            entry.parts = parts;
        }
        Err(e) => {
            tracing::error!(table = %table.display(), "{e:#}");
            entry.error = Some(format!("{e:#}"));
        }
    }
    entry
}

/// CONNECTORX mode: ConnectorX reads (partitioned when a partition column applies).
#[cfg(feature = "connectorx")]
fn read_connectorx(
    cfg: &Config,
    src: &mut dyn Source,
    info: &TableInfo,
    expected: Option<u64>,
    consume: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<u64> {
    if expected == Some(0) {
        // ConnectorX cannot type an empty SQLite result; there is nothing to read anyway.
        return Ok(0);
    }
    let column = partition_column(cfg, src, info)?;
    let reader = source::connectorx::CxReader::new(&cfg.source)?;
    let partition = column.as_deref().map(|c| (c, cfg.settings.partition_num));
    reader.read(info, &read_options(cfg), partition, consume)
}

#[cfg(not(feature = "connectorx"))]
fn read_connectorx(
    _cfg: &Config,
    _src: &mut dyn Source,
    _info: &TableInfo,
    _expected: Option<u64>,
    _consume: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<u64> {
    Err(Error::config(
        "[settings] TRANSFER_MODE = CONNECTORX: this build has no ConnectorX (cargo feature `connectorx`)",
    ))
}

/// `PARTITION_COLUMN` when set (it must be an integer column of the table), else a
/// single-column integer primary key, else none.
#[cfg_attr(not(feature = "connectorx"), allow(dead_code))]
fn partition_column(
    cfg: &Config,
    src: &mut dyn Source,
    info: &TableInfo,
) -> Result<Option<String>> {
    let is_int = |name: &str| {
        info.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| (c.name.clone(), c.arrow_type.is_integer()))
    };
    if let Some(wanted) = &cfg.settings.partition_column {
        return match is_int(wanted) {
            Some((name, true)) => Ok(Some(name)),
            Some((name, false)) => Err(Error::column(
                &info.table.display(),
                &name,
                "[settings] PARTITION_COLUMN must name an integer column",
            )),
            None => Err(Error::Check(format!(
                "table {}: [settings] PARTITION_COLUMN = \"{wanted}\" is not a column of this table",
                info.table.display()
            ))),
        };
    }
    if cfg.settings.partition_num <= 1 {
        return Ok(None);
    }
    let pk = src.primary_key(info)?;
    Ok(match pk.as_slice() {
        [one] => is_int(one).and_then(|(name, int)| int.then_some(name)),
        _ => None,
    })
}

/// Loads exactly the parts a manifest lists (`stage load`, and the load half of DUMP).
pub fn load_manifest(
    cfg: &Config,
    manifest: &Manifest,
    store: &Store,
    dst: &mut dyn Destination,
    progress: &Progress,
) -> Vec<TableOutcome> {
    let mut out = Vec::new();
    for (i, entry) in manifest.tables.iter().enumerate() {
        let table = TableRef::new(&entry.source_table, None);
        if let Some(signal) = interrupt::received() {
            out.push(not_started(entry.source_table.clone(), signal));
            continue;
        }
        if entry.status == TableStatus::Failed {
            out.push(TableOutcome {
                table: entry.source_table.clone(),
                rows: 0,
                error: Some(
                    entry
                        .error
                        .clone()
                        .unwrap_or_else(|| "the dump of this table failed".into()),
                ),
                class: Some(ErrorClass::Other),
            });
            continue;
        }
        let result = (|| {
            let bar = progress.table(i, &entry.source_table, Some(entry.rows));
            let target = target(cfg, &manifest.run_id, entry.staging_table.clone());
            let name = &entry.source_table;
            let open_part = |part: &PartEntry| -> Result<ParquetRecordBatchReader> {
                let data = read_part(store, name, part)?;
                let ctx = || format!("table {name}: reading {}", part.path);
                ParquetRecordBatchReaderBuilder::try_new(data)
                    .map_err(|e| Error::archive(ctx(), e))?
                    .with_batch_size(cfg.settings.chunk_size.min(65_536))
                    .build()
                    .map_err(|e| Error::archive(ctx(), e))
            };
            let first = entry.parts.first().ok_or_else(|| {
                Error::Check(format!(
                    "table {name}: the manifest lists no parts, so there is no schema to create the staging table from"
                ))
            })?;
            let first_reader = open_part(first)?;
            let staging = load::staging_schema(&first_reader.schema());
            let mut loading = dst.begin(&target, &staging)?;
            // Parts are read, hashed and decoded on a thread of their own while this one
            // loads: the database parses one batch while the next is decoded.
            let rows = relay(
                name,
                |sink| {
                    let mut rows = 0u64;
                    let (mut reader, mut part) = (first_reader, first);
                    let mut rest = entry.parts[1..].iter();
                    loop {
                        for batch in reader {
                            let batch = batch.map_err(|e| {
                                Error::archive(format!("table {name}: decoding {}", part.path), e)
                            })?;
                            rows += batch.num_rows() as u64;
                            sink(batch)?;
                        }
                        match rest.next() {
                            Some(next) => {
                                part = next;
                                reader = open_part(next)?;
                            }
                            None => return Ok(rows),
                        }
                    }
                },
                |batch| {
                    let batch = load::to_staging(&batch, &staging)?;
                    with_retry(&cfg.settings.retry, name, || loading.write_batch(&batch))?;
                    interrupt::pause_point("load");
                    bar.add(batch.num_rows() as u64);
                    Ok(())
                },
            )?;
            if rows != entry.rows {
                return Err(Error::Check(format!(
                    "table {}: the parts hold {rows} rows but the manifest says {}; not loaded",
                    entry.source_table, entry.rows
                )));
            }
            interrupt::check()?;
            let report = loading.commit(rows)?;
            report_nuls(&table, &report);
            bar.finish(rows);
            Ok(rows)
        })();
        out.push(outcome(&table, result));
    }
    out
}

/// Reads a part and checks it against the manifest's sha256.
fn read_part(store: &Store, table: &str, part: &PartEntry) -> Result<bytes::Bytes> {
    let data = store.get(&part.path)?;
    let actual = sha256_hex(&data);
    if actual != part.sha256 {
        return Err(Error::Check(format!(
            "table {table}: part {} has changed since the run (sha256 {actual}, manifest {}); nothing of this table was loaded",
            part.path, part.sha256
        )));
    }
    Ok(data)
}

/// `stage verify`: re-hashes every part and compares row counts with the staging table.
pub fn verify(
    manifest: &Manifest,
    store: &Store,
    mut dst: Option<&mut (dyn Destination + 'static)>,
    schema: Option<&str>,
) -> Vec<TableOutcome> {
    let mut out = Vec::new();
    for entry in &manifest.tables {
        let result = (|| -> Result<u64> {
            if entry.status == TableStatus::Failed {
                return Err(Error::Check(
                    "the dump of this table failed; nothing to verify".into(),
                ));
            }
            let mut rows = 0;
            for part in &entry.parts {
                let data = read_part(store, &entry.source_table, part)?;
                let meta = ParquetRecordBatchReaderBuilder::try_new(data).map_err(|e| {
                    Error::archive(
                        format!("table {}: reading {}", entry.source_table, part.path),
                        e,
                    )
                })?;
                let n = meta.metadata().file_metadata().num_rows() as u64;
                if n != part.rows {
                    return Err(Error::Check(format!(
                        "part {} holds {n} rows, the manifest says {}",
                        part.path, part.rows
                    )));
                }
                rows += n;
            }
            if let Some(dst) = dst.as_deref_mut() {
                let target = LoadTarget::new(
                    schema.map(str::to_string),
                    entry.staging_table.clone(),
                    crate::config::WriteMode::Replace,
                    &manifest.run_id,
                    Duration::ZERO,
                );
                match dst.count_rows(&target)? {
                    None => {
                        return Err(Error::Check(format!(
                            "staging table {} does not exist",
                            target.display()
                        )))
                    }
                    Some(n) if n != entry.rows => {
                        return Err(Error::Check(format!(
                            "staging table {} has {n} rows, the manifest says {}",
                            target.display(),
                            entry.rows
                        )))
                    }
                    Some(_) => {}
                }
            }
            Ok(rows)
        })();
        out.push(outcome(&TableRef::new(&entry.source_table, None), result));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_never_exceeds_the_cap() {
        let p = RetryPolicy {
            max_retries: 10,
            base_seconds: 0.5,
            max_seconds: 8.0,
        };
        for attempt in 0..40 {
            for _ in 0..50 {
                let d = backoff(&p, attempt).as_secs_f64();
                assert!(d <= 8.0, "attempt {attempt}: {d}");
                assert!(d >= (0.5 * 2f64.powi(attempt as i32)).min(8.0) - 1e-9);
            }
        }
    }

    #[test]
    fn retries_transient_errors_only_up_to_the_limit() {
        let p = RetryPolicy {
            max_retries: 2,
            base_seconds: 0.0,
            max_seconds: 0.0,
        };
        let mut calls = 0;
        let r = with_retry(&p, "t", || {
            calls += 1;
            Err(Error::database("x", true, "lost"))
        });
        assert!(r.is_err());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let _ = with_retry(&p, "t", || {
            calls += 1;
            Err(Error::database("x", false, "syntax"))
        });
        assert_eq!(calls, 1);
    }
}

//! Connections that heal: the run's source and destination connections, each opened when
//! first needed and reopened when found broken, and the retry of a table whose source read
//! failed with a transient error (`[settings] SOURCE_MAX_RETRIES`).
//!
//! A table is read again from the start on a fresh source connection; whatever the failed
//! attempt wrote is undone by the attempt itself (DIRECT drops its load, so the shadow or
//! the transaction goes; DUMP deletes the table's parts). A failure of the destination (or
//! of the archive) is never retried here: DIRECT retries destination batches on its own
//! (`DIRECT_MAX_RETRIES`).

use std::time::{Duration, Instant};

use super::retry::backoff;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::load::{self, Destination};
use crate::source::{self, Source};

/// Where a table's failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The source database (its connection, catalog or read).
    Source,
    /// The staging database.
    Destination,
    /// Neither connection: the archive, a check, a signal.
    Other,
}

/// A table attempt's error and the side it came from.
#[derive(Debug)]
pub(super) struct Fault {
    pub side: Side,
    pub error: Error,
}

/// Tags a result's error with the side it came from.
pub(super) trait Blame<T> {
    fn on(self, side: Side) -> Result<T, Fault>;
}

impl<T> Blame<T> for Result<T> {
    fn on(self, side: Side) -> Result<T, Fault> {
        self.map_err(|error| Fault { side, error })
    }
}

/// The run's two connections. Each is opened on first use; a connection that served an
/// earlier table is pinged before the next one and reopened when the ping fails, and one
/// that failed a table with a transient error is reopened before the next table.
pub(crate) struct Links<'c> {
    cfg: &'c Config,
    src: Option<Box<dyn Source>>,
    dst: Option<Box<dyn Destination>>,
    /// Whether each open connection has served a table since it was opened (a fresh one
    /// needs no ping).
    src_used: bool,
    dst_used: bool,
}

impl<'c> Links<'c> {
    /// No connection yet.
    pub(crate) fn new(cfg: &'c Config) -> Self {
        Links {
            cfg,
            src: None,
            dst: None,
            src_used: false,
            dst_used: false,
        }
    }

    /// With a destination connection already open (`stage load`).
    pub(crate) fn with_destination(cfg: &'c Config, dst: Box<dyn Destination>) -> Self {
        Links {
            dst: Some(dst),
            ..Links::new(cfg)
        }
    }

    /// The source connection, opened (ConnectorX over it in CONNECTORX mode) when there is none.
    pub(super) fn source(&mut self) -> Result<&mut dyn Source> {
        if self.src.is_none() {
            self.src = Some(source::open_for_run(self.cfg)?);
            self.src_used = false;
        }
        Ok(self.src.as_deref_mut().expect("just opened"))
    }

    /// The destination connection, opened when there is none.
    pub(super) fn destination(&mut self) -> Result<&mut dyn Destination> {
        if self.dst.is_none() {
            self.dst = Some(load::open(&self.cfg.destination)?);
            self.dst_used = false;
        }
        Ok(self.dst.as_deref_mut().expect("just opened"))
    }

    /// Both connections, each opened when there is none; a failure names its side.
    pub(super) fn both(&mut self) -> Result<(&mut dyn Source, &mut dyn Destination), Fault> {
        self.source().on(Side::Source)?;
        self.destination().on(Side::Destination)?;
        Ok((
            self.src.as_deref_mut().expect("opened"),
            self.dst.as_deref_mut().expect("opened"),
        ))
    }

    /// Before each table: pings each open connection that served an earlier table and
    /// closes it when the ping fails, so that the table opens a new one.
    pub(super) fn before_table(&mut self, table: &str) {
        if let Some(src) = self.src.as_deref_mut() {
            if self.src_used {
                if let Err(e) = src.ping() {
                    tracing::warn!(table = %table, "the source connection is broken; opening a new one: {e:#}");
                    self.src = None;
                }
            }
            self.src_used = true;
        }
        if let Some(dst) = self.dst.as_deref_mut() {
            if self.dst_used {
                if let Err(e) = dst.ping() {
                    tracing::warn!(table = %table, "the destination connection is broken; opening a new one: {e:#}");
                    self.dst = None;
                }
            }
            self.dst_used = true;
        }
    }

    /// After `table` failed: a connection that failed it with a transient error (a lost
    /// connection, a terminated backend) is closed, and the next table opens a new one.
    pub(super) fn after_failure(&mut self, table: &str, side: Side, error: &Error) {
        if !error.is_transient() {
            return;
        }
        let which = match side {
            Side::Source if self.src.take().is_some() => "source",
            Side::Destination if self.dst.take().is_some() => "destination",
            _ => return,
        };
        tracing::info!(table = %table, "the table failed on the {which} connection; the next table opens a new one");
    }

    /// Closes both connections.
    pub(super) fn close(&mut self) {
        self.src = None;
        self.dst = None;
    }

    /// Closes the source connection (once every table is read, or before a retry).
    pub(super) fn close_source(&mut self) {
        self.src = None;
    }
}

/// Runs `attempt` (one whole table: catalog, read, write) and runs it again from the start
/// on a new source connection while it fails on the source side with a transient error, at
/// most `SOURCE_MAX_RETRIES` times, waiting as DIRECT's batch retries do. Each retry logs
/// one WARN line. `attempt` must undo what it wrote before returning its error. `attempts`
/// counts the reads started.
pub(super) fn with_source_retries<T>(
    cfg: &Config,
    links: &mut Links<'_>,
    table: &str,
    attempts: &mut u32,
    mut attempt: impl FnMut(&mut Links<'_>) -> Result<T, Fault>,
) -> Result<T> {
    let max = cfg.settings.source_max_retries;
    let mut retries = 0u32;
    loop {
        *attempts += 1;
        let fault = match attempt(links) {
            Ok(v) => return Ok(v),
            Err(fault) => fault,
        };
        if fault.side == Side::Source && retryable(&fault.error) && retries < max {
            links.close_source();
            let delay = backoff(&cfg.settings.retry, retries);
            retries += 1;
            tracing::warn!(
                table = %table,
                attempt = %format!("{retries}/{max}"),
                delay_s = delay.as_secs_f64(),
                "the source read failed; reading the table again from the start on a new connection (attempt {retries}/{max}): {:#}",
                fault.error
            );
            wait(delay)?;
            continue;
        }
        links.after_failure(table, fault.side, &fault.error);
        return Err(fault.error);
    }
}

/// A source failure worth reading the table again for: a transient database error, or a
/// new connection that could not be opened yet (a restarting server refuses connections
/// for a moment).
fn retryable(e: &Error) -> bool {
    e.is_transient() || matches!(e, Error::Connect { .. })
}

/// Sleeps `delay`, or less when a signal arrives (then `Err(Interrupted)`).
fn wait(delay: Duration) -> Result<()> {
    let until = Instant::now() + delay;
    loop {
        interrupt::check()?;
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Needs, RawIni, RetryPolicy};

    fn config(retries: u32) -> Config {
        let ini = RawIni::parse(
            "[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = :memory:\n\n[database-destination]\nDST_DRIVER = sqlite\nDST_DB = :memory:\n\n[settings]\nSRC_TABLES = t\n",
        )
        .unwrap();
        let mut cfg = Config::from_parts(ini, &|_: &str| None, Needs { source: true }).unwrap();
        cfg.settings.source_max_retries = retries;
        cfg.settings.retry = RetryPolicy {
            max_retries: 0,
            base_seconds: 0.0,
            max_seconds: 0.0,
        };
        cfg
    }

    fn lost() -> Error {
        Error::database("table t: reading", true, "connection closed")
    }

    #[test]
    fn a_transient_source_failure_is_retried_up_to_the_limit() {
        for max in [0, 2] {
            let cfg = config(max);
            let mut links = Links::new(&cfg);
            let mut calls = 0;
            let r: Result<()> = with_source_retries(&cfg, &mut links, "t", &mut 0, |_| {
                calls += 1;
                Err(lost()).on(Side::Source)
            });
            assert!(r.unwrap_err().is_transient());
            assert_eq!(calls, max + 1);
        }
        let cfg = config(2);
        let mut links = Links::new(&cfg);
        let mut calls = 0;
        let r = with_source_retries(&cfg, &mut links, "t", &mut 0, |_| {
            calls += 1;
            if calls < 3 {
                Err(lost()).on(Side::Source)
            } else {
                Ok(calls)
            }
        });
        assert_eq!(r.unwrap(), 3);
    }

    #[test]
    fn destination_and_permanent_failures_are_not_retried() {
        let cfg = config(2);
        let mut links = Links::new(&cfg);
        for fault in [
            || Fault {
                side: Side::Destination,
                error: lost(),
            },
            || Fault {
                side: Side::Other,
                error: lost(),
            },
            || Fault {
                side: Side::Source,
                error: Error::database("table t: reading", false, "syntax error"),
            },
        ] {
            let mut calls = 0;
            let r: Result<()> = with_source_retries(&cfg, &mut links, "t", &mut 0, |_| {
                calls += 1;
                Err(fault())
            });
            assert!(r.is_err());
            assert_eq!(calls, 1);
        }
    }
}

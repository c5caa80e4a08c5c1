//! Progress: a live `[i/n] table: rows, rows/s` line on interactive terminals; one log
//! line per table otherwise (nightly jobs read logs, not bars).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One line per table in flight (several with `PARALLEL_TABLES`).
pub struct Progress {
    total: usize,
    /// On a terminal: the bars of the tables in flight, drawn together.
    multi: Option<MultiProgress>,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        Progress {
            total,
            multi: std::io::stderr()
                .is_terminal()
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Starts one table's progress; `expected` rows when they were counted.
    pub fn table(&self, index: usize, name: &str, expected: Option<u64>) -> TableProgress {
        let label = format!("[{}/{}] {name}", index + 1, self.total);
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new(expected.unwrap_or(0)));
            if expected.is_none() {
                bar.unset_length();
            }
            let template = if expected.is_some() {
                "{msg}: {human_pos}/{human_len} rows, {per_sec} {wide_bar}"
            } else {
                "{msg}: {human_pos} rows, {per_sec}"
            };
            bar.set_style(ProgressStyle::with_template(template).expect("static template"));
            bar.set_message(label.clone());
            bar
        });
        if self.multi.is_none() {
            match expected {
                Some(n) => tracing::info!(table = %name, rows = n, "{label}: started"),
                None => tracing::info!(table = %name, "{label}: started"),
            }
        }
        TableProgress {
            label,
            bar,
            started: Instant::now(),
        }
    }
}

pub struct TableProgress {
    label: String,
    bar: Option<ProgressBar>,
    started: Instant,
}

impl TableProgress {
    pub fn add(&self, rows: u64) {
        if let Some(b) = &self.bar {
            b.inc(rows);
        }
    }

    pub fn finish(&self, rows: u64) {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        tracing::info!(
            rows,
            seconds = format!("{secs:.2}"),
            rows_per_s = format!("{rate:.0}"),
            "{}: done",
            self.label
        );
    }
}

impl Drop for TableProgress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

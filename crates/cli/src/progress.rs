//! Progress of a long command: a line redrawn in place on a terminal, a plain line every
//! few seconds otherwise (a log, a pipe, CI).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a non-terminal gets a progress line.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Progress {
    started: Instant,
    /// What the count is of, shown after it ("file 12 MB", "statements").
    context: String,
    /// The count's unit ("rows", "lines").
    unit: &'static str,
    /// The count at the end, when known (for the share done and the time left).
    total: Option<u64>,
    terminal: bool,
    last_line: Arc<Mutex<Instant>>,
}

impl Progress {
    pub fn new(context: String, unit: &'static str) -> Progress {
        Progress {
            started: Instant::now(),
            context,
            unit,
            total: None,
            terminal: std::io::stderr().is_terminal(),
            last_line: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Progress towards a known total.
    pub fn towards(context: String, unit: &'static str, total: u64) -> Progress {
        Progress { total: Some(total), ..Progress::new(context, unit) }
    }

    /// Shows that `done` have been done.
    pub fn rows(&self, done: u64) {
        let elapsed = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / elapsed;
        let unit = self.unit;
        let of_total = match self.total {
            Some(total) if total > 0 => {
                let left = total.saturating_sub(done) as f64 / rate.max(1.0);
                format!(" of {total} ({:.0}%, {left:.0} s left)", 100.0 * done as f64 / total as f64)
            }
            _ => String::new(),
        };
        let context = &self.context;
        if self.terminal {
            eprint!("\r{context}: {done}{of_total} {unit}, {rate:.0} {unit}/s, {elapsed:.0} s   ");
        } else if let Ok(mut last) = self.last_line.lock()
            && last.elapsed() >= PLAIN_EVERY
        {
            *last = Instant::now();
            eprintln!("{context}: {done}{of_total} {unit} ({rate:.0}/s)");
        }
    }

    /// Ends the redrawn line.
    pub fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

//! The progress display on stderr: one line per subscription (and one for tenant-wide reads)
//! with the reads done, the reads known so far, and the resource type being read.
//!
//! It draws only when asked to and stderr is a terminal; otherwise every call is a cheap no-op,
//! so the collector reports progress unconditionally.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug)]
pub(crate) struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    pub(crate) fn new(requested: bool) -> Self {
        let multi = (requested && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress {
            multi,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn with_bar(&self, key: &str, f: impl FnOnce(&ProgressBar)) {
        let Some(multi) = &self.multi else {
            return;
        };
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(key.to_string()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<40} {pos:>5}/{len:<5} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(key.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        f(bar);
    }

    /// A read of `what` starts under `key`.
    pub(crate) fn start(&self, key: &str, what: &str) {
        self.with_bar(key, |bar| {
            bar.inc_length(1);
            bar.set_message(what.to_string());
        });
    }

    /// A read under `key` ended.
    pub(crate) fn finish_one(&self, key: &str) {
        self.with_bar(key, |bar| bar.inc(1));
    }

    /// Clears the display before the summary is printed.
    pub(crate) fn clear(&self) {
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for bar in bars.values() {
            bar.finish_and_clear();
        }
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}

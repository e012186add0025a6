//! The download bar: an indicatif bar on stderr when stderr is a terminal, nothing
//! otherwise (and nothing with `--log-as-json`, where every line must be one JSON object).
//! It is not a status line: it vanishes when the download ends.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub struct DownloadBar {
    bar: Option<ProgressBar>,
}

impl DownloadBar {
    /// A bar for a transfer of `total` bytes (unknown when `None`), labelled `label`.
    pub fn new(enabled: bool, label: &str, total: Option<u64>) -> DownloadBar {
        if !enabled || !std::io::stderr().is_terminal() {
            return DownloadBar { bar: None };
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                )
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        bar.set_message(label.to_string());
        DownloadBar { bar: Some(bar) }
    }

    pub fn set(&self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

//! `PrinterReporter`: the `report::Reporter` the commands hand to the back ends. Status
//! and plain lines go through the `Printer` (so its routing applies); downloads show the
//! indicatif bar while they run (on a terminal, without `--log-as-json`).

use std::sync::Mutex;

use super::Printer;
use super::progress::DownloadBar;
use crate::report::{Reporter, Status, Stream};

pub struct PrinterReporter {
    printer: Printer,
    /// Where the back end's warnings go: the choice of the command that built this.
    warnings: Stream,
    bar: Mutex<Option<DownloadBar>>,
}

impl PrinterReporter {
    pub fn new(printer: Printer, warnings: Stream) -> PrinterReporter {
        PrinterReporter {
            printer,
            warnings,
            bar: Mutex::new(None),
        }
    }
}

impl Reporter for PrinterReporter {
    fn status(&self, status: Status, msg: &str) {
        let stream = Printer::default_stream(status, self.warnings);
        self.printer.status_to(stream, status, msg)
    }

    fn status_to(&self, stream: Stream, status: Status, msg: &str) {
        self.printer.status_to(stream, status, msg)
    }

    fn line(&self, stream: Stream, text: &str) {
        self.printer.line(stream, text)
    }

    fn download_started(&self, what: &str, total: Option<u64>) {
        let name = what.rsplit('/').next().unwrap_or(what);
        let bar = DownloadBar::new(!self.printer.log_as_json(), name, total);
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
        }
    }

    fn download_progress(&self, done: u64) {
        if let Ok(b) = self.bar.lock()
            && let Some(bar) = b.as_ref()
        {
            bar.set(done);
        }
    }

    fn download_finished(&self) {
        if let Ok(mut b) = self.bar.lock()
            && let Some(bar) = b.take()
        {
            bar.finish();
        }
    }

    fn log_as_json(&self) -> bool {
        self.printer.log_as_json()
    }
}

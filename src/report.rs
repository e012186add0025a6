//! How back ends tell the user what they are doing without printing: the one `Reporter`
//! trait. `selfhosted` and `kubernetes` report status lines (`✅ ❌ ⚠ ℹ️ ⌛`), plain lines
//! (a child's output passed through) and download progress through it; the command layer
//! implements it with the `Printer` and an indicatif bar (`output::PrinterReporter`).
//!
//! A back end names the kind of a line, and a stream only where the official CLI writes
//! somewhere other than its defaults (a run file's per-app console output is all on
//! stdout, for example). Which stream a status line of a given kind goes to by default is
//! decided in one place, `output::Printer`. This module knows nothing of terminals, so
//! back ends may depend on it.

/// The kind of a status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failure,
    Warning,
    Info,
    Pending,
}

impl Status {
    /// The icon the official CLI prints before the message (two spaces follow it).
    pub fn icon(self) -> &'static str {
        match self {
            Status::Success => "✅",
            Status::Failure => "❌",
            Status::Warning => "⚠",
            Status::Info => "ℹ️",
            Status::Pending => "⌛",
        }
    }

    /// The `status` field of a `--log-as-json` line.
    pub fn name(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Warning => "warning",
            Status::Info => "info",
            Status::Pending => "pending",
        }
    }

    /// One status line without its newline: `<icon>  <msg>`, or with `json` the official
    /// `{"time","status","msg"}` object.
    pub fn line(self, msg: &str, json: bool) -> String {
        if json {
            serde_json::json!({
                "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                "status": self.name(),
                "msg": msg,
            })
            .to_string()
        } else {
            format!("{}  {}", self.icon(), msg)
        }
    }
}

/// One of the CLI's two output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What a back end reports while it works; implemented by the command layer.
pub trait Reporter: Send + Sync {
    /// A status line on the stream the official CLI uses for its kind (the implementation
    /// decides; warnings go where the caller that built the reporter said).
    fn status(&self, status: Status, msg: &str);

    /// A status line on a stream the official CLI chose for this one message.
    fn status_to(&self, stream: Stream, status: Status, msg: &str);

    /// A plain line (no icon, never JSON): e.g. one line of a child's output.
    fn line(&self, stream: Stream, text: &str);

    /// A download of `total` bytes (unknown when `None`) started; `what` names it.
    fn download_started(&self, _what: &str, _total: Option<u64>) {}

    /// `done` bytes of the current download have arrived.
    fn download_progress(&self, _done: u64) {}

    /// The current download ended.
    fn download_finished(&self) {}

    /// Whether status lines are JSON objects (`--log-as-json`), also in log files.
    fn log_as_json(&self) -> bool {
        false
    }
}

/// A reporter that reports nothing (unit tests, and callers that only want the result).
pub struct Silent;

impl Reporter for Silent {
    fn status(&self, _: Status, _: &str) {}
    fn status_to(&self, _: Stream, _: Status, _: &str) {}
    fn line(&self, _: Stream, _: &str) {}
}

/// One thing a [`Recorded`] reporter was told: the stream if named, the status if it is a
/// status line, the text.
#[cfg(test)]
pub(crate) type Record = (Option<Stream>, Option<Status>, String);

/// A reporter that records what it is told, for unit tests of the back ends.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Recorded(std::sync::Mutex<Vec<Record>>);

#[cfg(test)]
impl Recorded {
    /// Everything recorded since the last call.
    pub fn take(&self) -> Vec<Record> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

#[cfg(test)]
impl Reporter for Recorded {
    fn status(&self, status: Status, msg: &str) {
        self.0
            .lock()
            .unwrap()
            .push((None, Some(status), msg.into()));
    }
    fn status_to(&self, stream: Stream, status: Status, msg: &str) {
        self.0
            .lock()
            .unwrap()
            .push((Some(stream), Some(status), msg.into()));
    }
    fn line(&self, stream: Stream, text: &str) {
        self.0
            .lock()
            .unwrap()
            .push((Some(stream), None, text.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_official_shape() {
        assert_eq!(Status::Success.line("done", false), "✅  done");
        assert_eq!(Status::Info.line("x", false), "ℹ️  x");
        let v: serde_json::Value =
            serde_json::from_str(&Status::Warning.line("careful", true)).unwrap();
        assert_eq!(v["status"], "warning");
        assert_eq!(v["msg"], "careful");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
}

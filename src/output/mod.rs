//! The only code that writes to the terminal.
//!
//! * `Printer`: data goes to stdout, status lines (`✅ ℹ️ ⌛ ⚠ ❌`) to stderr; with
//!   `--log-as-json` each status line is one JSON object
//!   `{"time","status","msg"}` as the official CLI prints them.
//! * `table`: the official table layout (no borders, two spaces after every cell, blank
//!   columns dropped).
//! * `format`: `-o json|yaml` rendering.
//! * `usage`: the cobra-style usage block printed after a usage error.
//! * `progress`: the download progress bar (terminals only).
//!
//! A broken pipe while writing data (e.g. `dapr list | head -1`) is not an error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod format;
pub mod progress;
pub mod table;
pub mod usage;

use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failure,
    Warning,
    Info,
    Pending,
}

impl Status {
    fn icon(self) -> &'static str {
        match self {
            Status::Success => "✅",
            Status::Failure => "❌",
            Status::Warning => "⚠",
            Status::Info => "ℹ️",
            Status::Pending => "⌛",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Warning => "warning",
            Status::Info => "info",
            Status::Pending => "pending",
        }
    }
}

/// Passed into every command. Cheap to copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    log_as_json: bool,
}

impl Printer {
    pub fn new(log_as_json: bool) -> Printer {
        Printer { log_as_json }
    }

    pub fn log_as_json(&self) -> bool {
        self.log_as_json
    }

    /// Format one status line (without the trailing newline).
    pub fn status_line(&self, status: Status, msg: &str) -> String {
        if self.log_as_json {
            serde_json::json!({
                "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                "status": status.name(),
                "msg": msg,
            })
            .to_string()
        } else {
            format!("{}  {}", status.icon(), msg)
        }
    }

    pub fn status(&self, status: Status, msg: &str) {
        let line = self.status_line(status, msg);
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    pub fn success(&self, msg: &str) {
        self.status(Status::Success, msg)
    }
    pub fn failure(&self, msg: &str) {
        self.status(Status::Failure, msg)
    }
    pub fn warning(&self, msg: &str) {
        self.status(Status::Warning, msg)
    }
    pub fn info(&self, msg: &str) {
        self.status(Status::Info, msg)
    }
    pub fn pending(&self, msg: &str) {
        self.status(Status::Pending, msg)
    }

    /// A plain line on stderr (no icon), e.g. `WARNING: no application command found.`
    pub fn plain_err(&self, msg: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{msg}");
    }

    /// Data on stdout, written exactly as given (no newline added). A broken pipe is ignored.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    }

    /// A usage error the way cobra prints it: `Error: <msg>`, then the usage block.
    pub fn usage_error(&self, msg: &str, usage: &str) {
        let _ = write!(std::io::stderr().lock(), "Error: {msg}\n{usage}");
    }

    /// Text clap rendered itself (`--help`, `help <command>`): on stdout.
    pub fn help(&self, text: &str) {
        self.data(text)
    }

    /// Data on stdout followed by a newline.
    pub fn data_line(&self, text: &str) {
        self.data(&format!("{text}\n"))
    }
}

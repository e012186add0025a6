//! The only code that writes to the terminal.
//!
//! * `Printer`: data goes to stdout; status lines (`✅ ℹ️ ⌛ ⚠ ❌`) go to the stream the
//!   official CLI uses for them, decided here and only here: success, info and pending
//!   lines on stdout, failures on stderr, warnings where each call site says (the
//!   official CLI puts most on stdout, a few on stderr). A call site may name another
//!   stream where the official CLI does (e.g. `list`'s invalid-format failure is on
//!   stdout). With `-o json|yaml` the command uses [`Printer::for_document`], which moves
//!   every stdout-bound status or plain line to stderr so that stdout holds the document
//!   only. With `--log-as-json` each status line is one JSON object `{"time","status","msg"}`
//!   on the same stream the plain line would use.
//! * `reporter`: the `report::Reporter` the back ends talk to, implemented with the printer
//!   and the download bar.
//! * `table`: the official table layout (no borders, two spaces after every cell, blank
//!   columns dropped).
//! * `format`: `-o json|yaml` rendering.
//! * `usage`: the cobra-style usage block printed after a usage error (stderr).
//! * `progress`: the download progress bar (terminals only, on stderr).
//!
//! A broken pipe while writing (e.g. `dapr list | head -1`) is not an error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod format;
pub mod progress;
pub mod reporter;
pub mod table;
pub mod usage;

use std::io::Write;

pub use crate::report::{Status, Stream};
pub use reporter::PrinterReporter;

/// Passed into every command. Cheap to copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    log_as_json: bool,
    /// Stdout carries a `-o json|yaml` document: nothing else may go there.
    document: bool,
}

impl Printer {
    pub fn new(log_as_json: bool) -> Printer {
        Printer {
            log_as_json,
            document: false,
        }
    }

    /// This printer for a command whose stdout is a `-o json|yaml` document: status and
    /// plain lines bound for stdout go to stderr instead.
    pub fn for_document(self) -> Printer {
        Printer {
            document: true,
            ..self
        }
    }

    pub fn log_as_json(&self) -> bool {
        self.log_as_json
    }

    /// The stream a status line of `status` goes to unless its call site says otherwise
    /// (the official CLI's defaults); warnings have no default, `warnings` stands for the
    /// call site's choice.
    pub fn default_stream(status: Status, warnings: Stream) -> Stream {
        match status {
            Status::Success | Status::Info | Status::Pending => Stream::Stdout,
            Status::Failure => Stream::Stderr,
            Status::Warning => warnings,
        }
    }

    /// Where a line meant for `stream` really goes.
    fn route(&self, stream: Stream) -> Stream {
        if self.document {
            Stream::Stderr
        } else {
            stream
        }
    }

    fn write_line(&self, stream: Stream, line: &str) {
        let _ = match self.route(stream) {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}").and_then(|_| out.flush())
            }
            Stream::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
        };
    }

    /// One status line (without its newline), as plain text with its icon or as JSON.
    fn status_line(&self, status: Status, msg: &str) -> String {
        status.line(msg, self.log_as_json)
    }

    /// A status line on `stream`: for the call sites where the official CLI does not use
    /// the default stream of the line's kind.
    pub fn status_to(&self, stream: Stream, status: Status, msg: &str) {
        self.write_line(stream, &self.status_line(status, msg));
    }

    /// `✅  msg` on stdout.
    pub fn success(&self, msg: &str) {
        self.status_to(Stream::Stdout, Status::Success, msg)
    }
    /// `❌  msg` on stderr.
    pub fn failure(&self, msg: &str) {
        self.status_to(Stream::Stderr, Status::Failure, msg)
    }
    /// `⚠  msg` on the stream the call site names.
    pub fn warning(&self, stream: Stream, msg: &str) {
        self.status_to(stream, Status::Warning, msg)
    }
    /// `ℹ️  msg` on stdout.
    pub fn info(&self, msg: &str) {
        self.status_to(Stream::Stdout, Status::Info, msg)
    }
    /// `⌛  msg` on stdout.
    pub fn pending(&self, msg: &str) {
        self.status_to(Stream::Stdout, Status::Pending, msg)
    }

    /// A plain line (no icon, never JSON), e.g. `WARNING: no application command found.`
    pub fn line(&self, stream: Stream, text: &str) {
        self.write_line(stream, text)
    }

    /// The reporter back ends talk to, printing through this printer; their warnings go
    /// to `warnings`.
    pub fn reporter(&self, warnings: Stream) -> PrinterReporter {
        PrinterReporter::new(*self, warnings)
    }

    /// Data on stdout, written exactly as given (no newline added). A broken pipe is ignored.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    }

    /// Data on stdout followed by a newline.
    pub fn data_line(&self, text: &str) {
        self.data(&format!("{text}\n"))
    }

    /// A usage error the way cobra prints it: `Error: <msg>`, then the usage block, on stderr.
    pub fn usage_error(&self, msg: &str, usage: &str) {
        let _ = write!(std::io::stderr().lock(), "Error: {msg}\n{usage}");
    }

    /// Text clap rendered itself (`--help`, `help <command>`): on stdout.
    pub fn help(&self, text: &str) {
        self.data(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_streams_are_the_official_ones() {
        for warnings in [Stream::Stdout, Stream::Stderr] {
            for s in [Status::Success, Status::Info, Status::Pending] {
                assert_eq!(Printer::default_stream(s, warnings), Stream::Stdout);
            }
            assert_eq!(
                Printer::default_stream(Status::Failure, warnings),
                Stream::Stderr
            );
            assert_eq!(Printer::default_stream(Status::Warning, warnings), warnings);
        }
    }

    #[test]
    fn a_document_keeps_stdout_to_itself() {
        let p = Printer::new(false);
        assert_eq!(p.route(Stream::Stdout), Stream::Stdout);
        assert_eq!(p.route(Stream::Stderr), Stream::Stderr);
        let d = p.for_document();
        assert_eq!(d.route(Stream::Stdout), Stream::Stderr);
        assert_eq!(d.route(Stream::Stderr), Stream::Stderr);
        assert!(!d.log_as_json() && Printer::new(true).for_document().log_as_json());
    }
}

//! Shared error type for the CLI's back ends. Commands add context with `anyhow` at the
//! top; `bin/dapr.rs` prints an error once, as a `❌` status line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not determine the home directory; set HOME or use --runtime-path")]
    NoHome,
    /// An I/O failure: what was being done, on which path. The OS error is the source, so
    /// it is printed once, after the action (`cannot create directory /x: Not a directory`).
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Message(String),
}

impl Error {
    pub fn msg(m: impl Into<String>) -> Self {
        Error::Message(m.into())
    }

    /// An I/O error while doing `action` (`create directory`, `write`, ...) on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// An I/O error phrased the way the official (Go) CLI phrases it, e.g.
/// `open a/b: no such file or directory`, so messages users grep for stay the same.
pub fn go_style_io(op: &str, path: &std::path::Path, e: &std::io::Error) -> String {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => e.to_string(),
    };
    format!("{op} {}: {what}", path.display())
}

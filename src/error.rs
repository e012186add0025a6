//! Shared error type for the CLI's back ends. Commands add context with `anyhow` at the
//! top; `bin/dapr.rs` prints an error once, as a `❌` status line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not determine the home directory; set HOME or use --runtime-path")]
    NoHome,
    #[error("{path}: {source}")]
    Io {
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
}

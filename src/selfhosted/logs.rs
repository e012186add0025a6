//! Self-hosted logs (the official `dapr logs` is Kubernetes-only): finds the sidecar or app
//! log file of an app id and reads or follows it.
//!
//! Where logs are: a running instance's `daprdLogPath`/`appLogPath` metadata (run files),
//! or the files its CLI process holds open (single runs, Linux `/proc`); else the newest
//! `<appid>_{daprd,app}_<YYYYMMDDhhmmss>.log` in `<dapr dir>/logs` (single runs write there,
//! run files put a symlink there), then `./.dapr/logs` and `./*/.dapr/logs` (run-file
//! layouts). Limits: only files written by this CLI; a `console` log destination leaves
//! nothing to read.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::instances::Instance;

/// How many single-run log files per app and kind `dapr run` keeps in `<dapr dir>/logs`.
pub const KEEP_SINGLE_RUN_LOGS: usize = 10;

/// Which log of an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Daprd,
    App,
}

impl Source {
    pub fn kind(self) -> &'static str {
        match self {
            Source::Daprd => "daprd",
            Source::App => "app",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error(
        "no {kind} log found for app id {app_id} (looked in {dirs}); logs are written by `dapr run` and `dapr run -f` (log destination file or fileAndConsole)"
    )]
    NotFound {
        kind: &'static str,
        app_id: String,
        dirs: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The timestamp of `name` if it is `<app_id>_<kind>_<14 digits>.log`.
fn stamp_of<'a>(name: &'a str, app_id: &str, kind: &str) -> Option<&'a str> {
    let rest = name
        .strip_prefix(app_id)?
        .strip_prefix('_')?
        .strip_prefix(kind)?
        .strip_prefix('_')?;
    let ts = rest.strip_suffix(".log")?;
    (ts.len() == 14 && ts.bytes().all(|b| b.is_ascii_digit())).then_some(ts)
}

/// Log files of `app_id`/`kind` in `dir`, oldest first.
fn files_in(dir: &Path, app_id: &str, kind: &str) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            stamp_of(&name, app_id, kind).map(|ts| (ts.to_string(), e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Delete all but the newest `keep` daprd and app logs of `app_id` in `dir`.
pub fn prune(dir: &Path, app_id: &str, keep: usize) {
    for kind in ["daprd", "app"] {
        let files = files_in(dir, app_id, kind);
        let n = files.len().saturating_sub(keep);
        for (_, p) in files.into_iter().take(n) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Find the log file to show for `app_id`; `running` is its running instance, if any
/// (`instances::get`).
pub fn find(
    app_id: &str,
    source: Source,
    logs_dir: &Path,
    running: Option<&Instance>,
    cwd: &Path,
) -> Result<PathBuf, LogsError> {
    if let Some(i) = running {
        let p = match source {
            Source::Daprd => &i.daprd_log_path,
            Source::App => &i.app_log_path,
        };
        if !p.is_empty() && Path::new(p).is_file() {
            return Ok(PathBuf::from(p));
        }
        // A single run does not publish its log paths, but its CLI holds the files open
        // (Linux): this finds them whatever `--runtime-path` that run used.
        if i.cli_pid > 0
            && let Some(p) = open_log_of(i.cli_pid, app_id, source.kind())
        {
            return Ok(p);
        }
    }
    let mut dirs = vec![logs_dir.to_path_buf(), cwd.join(".dapr").join("logs")];
    for e in std::fs::read_dir(cwd).into_iter().flatten().flatten() {
        let d = e.path().join(".dapr").join("logs");
        if d.is_dir() {
            dirs.push(d);
        }
    }
    let newest = dirs
        .iter()
        .flat_map(|d| files_in(d, app_id, source.kind()))
        .filter(|(_, p)| p.is_file())
        .max_by(|a, b| a.0.cmp(&b.0));
    match newest {
        Some((_, p)) => Ok(p),
        None => Err(LogsError::NotFound {
            kind: source.kind(),
            app_id: app_id.to_string(),
            dirs: dirs
                .iter()
                .take(2)
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// A log file of `app_id`/`kind` that process `pid` has open (via `/proc/<pid>/fd`).
fn open_log_of(pid: u32, app_id: &str, kind: &str) -> Option<PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| stamp_of(n, app_id, kind).is_some())
        })
        .max()
}

/// The file's content (the last `tail` lines if given) and the offset where it ended.
pub fn read(path: &Path, tail: Option<usize>) -> Result<(String, u64), LogsError> {
    let io = |source| LogsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    let len = bytes.len() as u64;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let text = match tail {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            let mut t = lines[start..].join("\n");
            if !t.is_empty() {
                t.push('\n');
            }
            t
        }
        None => text,
    };
    Ok((text, len))
}

/// Follow `path` from `offset`, handing every new chunk to `emit` until `emit` returns
/// false. A file that shrinks (truncated) is re-read from its start.
pub fn follow(
    path: &Path,
    mut offset: u64,
    mut emit: impl FnMut(&str) -> bool,
) -> Result<(), LogsError> {
    let io = |source| LogsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len < offset {
            offset = 0;
        }
        if len > offset {
            let mut f = std::fs::File::open(path).map_err(io)?;
            f.seek(SeekFrom::Start(offset)).map_err(io)?;
            let mut buf = Vec::new();
            f.take(len - offset).read_to_end(&mut buf).map_err(io)?;
            offset += buf.len() as u64;
            pending.extend_from_slice(&buf);
            // Emit whole lines only, so that a line written in two parts stays whole.
            if let Some(end) = pending.iter().rposition(|&b| b == b'\n') {
                let chunk: Vec<u8> = pending.drain(..=end).collect();
                if !emit(&String::from_utf8_lossy(&chunk)) {
                    return Ok(());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_exactly() {
        assert_eq!(
            stamp_of("node_daprd_20260101120000.log", "node", "daprd"),
            Some("20260101120000")
        );
        assert_eq!(
            stamp_of("node_x_daprd_20260101120000.log", "node", "daprd"),
            None
        );
        assert_eq!(
            stamp_of("node_app_20260101120000.log", "node", "daprd"),
            None
        );
        assert_eq!(stamp_of("node_daprd_2026.log", "node", "daprd"), None);
    }

    #[test]
    fn prune_keeps_newest() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(d.path().join(format!("a_daprd_2026010112000{i}.log")), "x").unwrap();
        }
        prune(d.path(), "a", 2);
        let left = files_in(d.path(), "a", "daprd");
        assert_eq!(
            left.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
            ["20260101120003", "20260101120004"]
        );
    }
}

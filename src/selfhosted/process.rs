//! Process plumbing shared by `dapr run` (single app and run files): free ports, spawning
//! children in their own process group, stopping a whole group (SIGTERM, grace, SIGKILL),
//! copying a child's output line by line to the console and/or a log file, and the tiny
//! async HTTP/1.1 calls (status code only) used to poll and annotate a sidecar over TCP or
//! a Unix socket; the sidecar's address is the same `client::Target` the blocking client uses.
//!
//! Limits: Unix only. A grandchild that leaves its process group (`setsid`, daemons) is out
//! of reach. Output is forwarded per line, so a prompt without a newline shows up late.

use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;

use super::client::Target;
use crate::report::{Reporter, Status, Stream};

/// A free TCP port, chosen by the OS. The listener is returned so that several ports can be
/// held at once (and are therefore distinct) before being released together.
pub fn reserve_port() -> std::io::Result<(u16, TcpListener)> {
    let l = TcpListener::bind(("0.0.0.0", 0))?;
    Ok((l.local_addr()?.port(), l))
}

/// Whether `:<port>` can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// Send `sig` to every process of group `pgid`; false when the group is gone.
pub fn signal_group(pgid: u32, sig: Signal) -> bool {
    killpg(Pid::from_raw(pgid as i32), sig).is_ok()
}

/// Whether any live (non-zombie) process of group `pgid` still exists. Zombies are
/// ignored: an orphaned grandchild that died waits for init to reap it, which may be slow.
pub fn group_alive(pgid: u32) -> bool {
    if killpg(Pid::from_raw(pgid as i32), None).is_err() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        proc_state(pid).is_some_and(|(state, pgrp)| pgrp == pgid && state != 'Z' && state != 'X')
    })
}

/// State letter and process group of `/proc/<pid>/stat` (Linux).
fn proc_state(pid: &str) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let _ppid = f.next()?;
    let pgrp = f.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn from_status(st: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        match st.code() {
            Some(c) => Exit::Code(c),
            None => Exit::Signal(st.signal().unwrap_or(0)),
        }
    }

    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

/// Name of a signal number (`SIGTERM`), as the official messages print it.
pub fn signal_name(sig: i32) -> String {
    Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// Stop the process group led by `child`: SIGTERM to the group, wait up to `grace` for the
/// leader to exit and the group to empty, then SIGKILL the group. Reaps the leader.
/// Returns how the leader ended (None if it was already reaped earlier).
pub async fn stop_group(child: &mut Child, pgid: u32, grace: Duration) -> Option<Exit> {
    let mut exit = match child.try_wait() {
        Ok(Some(st)) => Some(Exit::from_status(st)),
        _ => None,
    };
    if !group_alive(pgid) {
        return exit.or_else(|| reap_now(child));
    }
    signal_group(pgid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    loop {
        if exit.is_none()
            && let Ok(Some(st)) = child.try_wait()
        {
            exit = Some(Exit::from_status(st));
        }
        if exit.is_some() && !group_alive(pgid) {
            return exit;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    signal_group(pgid, Signal::SIGKILL);
    if exit.is_none() {
        exit = tokio::time::timeout(Duration::from_secs(2), child.wait())
            .await
            .ok()
            .and_then(|r| r.ok())
            .map(Exit::from_status);
    }
    exit
}

fn reap_now(child: &mut Child) -> Option<Exit> {
    child.try_wait().ok().flatten().map(Exit::from_status)
}

/// A log file shared by the tasks that copy output into it.
#[derive(Debug, Clone)]
pub struct LogFile {
    pub path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl LogFile {
    /// Create (truncate) `path`, creating its directory (0755) first.
    pub fn create(path: &Path) -> std::io::Result<LogFile> {
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir)?;
        }
        let file = fs_err::File::create(path)?.into_parts().0;
        Ok(LogFile {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    pub fn write_line(&self, line: &str) {
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Where one stream of lines goes: a log file, the console, or both; optionally prefixed
/// (`== APP - <id> == `) on the console and in the file.
#[derive(Clone)]
pub struct Sink {
    pub file: Option<LogFile>,
    pub console: Option<Arc<dyn Reporter>>,
    pub prefix: String,
    /// `--log-as-json`: status lines are JSON objects, wherever they go.
    json: bool,
    /// Everything this sink shows on the console goes to stdout (the official run file's
    /// console writer is stdout for a child's both streams and for the CLI's lines about
    /// it); otherwise a child's stderr stays on stderr.
    stdout_only: bool,
    /// The copy tasks writing into this sink, so that a stop can wait for the last lines.
    pumps: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Sink {
    pub fn new(file: Option<LogFile>, console: Option<Arc<dyn Reporter>>, prefix: String) -> Sink {
        Sink {
            file,
            console,
            prefix,
            json: false,
            stdout_only: false,
            pumps: Arc::default(),
        }
    }

    /// Status lines as JSON (`--log-as-json`).
    pub fn json(mut self, on: bool) -> Sink {
        self.json = on;
        self
    }

    /// Show everything on stdout (run files), see [`Sink::stdout_only`].
    pub fn stdout_only(mut self) -> Sink {
        self.stdout_only = true;
        self
    }

    /// Wait (at most `timeout`) until every copy task into this sink reached EOF, so that a
    /// child's last lines are written before the CLI reports that it exited.
    pub async fn drain(&self, timeout: Duration) {
        let handles: Vec<_> = match self.pumps.lock() {
            Ok(mut v) => v.drain(..).collect(),
            Err(_) => return,
        };
        let _ = tokio::time::timeout(timeout, futures_util::future::join_all(handles)).await;
    }

    /// Write one line of child stdout (`err` = from stderr) to every destination.
    pub fn line(&self, line: &str, err: bool) {
        let text = format!("{}{}", self.prefix, line);
        if let Some(f) = &self.file {
            f.write_line(&text);
        }
        if let Some(c) = &self.console {
            let stream = if err && !self.stdout_only {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            c.line(stream, &text)
        }
    }

    /// A CLI status line about this app, written as the official run file does: a JSON
    /// object everywhere with `--log-as-json`; with its icon when it goes to the terminal
    /// alone; plain text into a log file (or a file and the terminal). On the terminal it
    /// is on stdout, whatever its kind (the official writer is stdout).
    pub fn status(&self, status: Status, msg: &str) {
        match (&self.file, &self.console) {
            (None, Some(c)) => c.status_to(Stream::Stdout, status, msg),
            (file, console) => {
                let line = if self.json {
                    status.line(msg, true)
                } else {
                    msg.to_string()
                };
                if let Some(f) = file {
                    f.write_line(&line);
                }
                if let Some(c) = console {
                    c.line(Stream::Stdout, &line);
                }
            }
        }
    }
}

/// Copy `reader` line by line into `sink` until EOF, as its own task. The supervisor waits
/// for it only briefly (`Sink::drain`): a grandchild may keep the pipe open after the child exits.
pub fn pump<R: AsyncRead + Unpin + Send + 'static>(reader: R, sink: Sink, err: bool) {
    let pumps = sink.pumps.clone();
    let handle = tokio::spawn(async move {
        let mut r = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while matches!(buf.last(), Some(b'\n' | b'\r')) {
                        buf.pop();
                    }
                    sink.line(&String::from_utf8_lossy(&buf), err);
                }
            }
        }
    });
    if let Ok(mut v) = pumps.lock() {
        v.push(handle);
    }
}

/// Cleans up if the CLI itself dies without a chance to (SIGKILL, OOM): a small `sh` that
/// reads the process groups to watch from a pipe only the CLI holds. EOF on that pipe means
/// the CLI is gone; the shell then SIGTERMs every group and SIGKILLs them 5 s later. A normal
/// stop disarms it first. (No `unsafe`, so no `PR_SET_PDEATHSIG`; this works on any Unix.)
pub struct Watchdog {
    child: Child,
    pipe: Option<tokio::process::ChildStdin>,
}

const WATCHDOG: &str = "gs=''; while read g; do gs=\"$gs -$g\"; done; [ -n \"$gs\" ] || exit 0; \
kill -s TERM -- $gs 2>/dev/null; sleep 5; kill -s KILL -- $gs 2>/dev/null";

impl Watchdog {
    /// None if no shell could be started (the run goes on without the safety net).
    pub fn spawn() -> Option<Watchdog> {
        let mut child = tokio::process::Command::new("/bin/sh")
            .args(["-c", WATCHDOG])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .ok()?;
        let pipe = child.stdin.take();
        Some(Watchdog { child, pipe })
    }

    /// Add a process group to clean up.
    pub async fn watch(&mut self, pgid: u32) {
        if let Some(p) = self.pipe.as_mut() {
            let _ = p.write_all(format!("{pgid}\n").as_bytes()).await;
            let _ = p.flush().await;
        }
    }

    /// The CLI is stopping normally: end the watchdog without it touching anything.
    pub async fn disarm(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// `disarm` the watchdog `spawn` returned, if it could start one.
    pub async fn disarm_any(watchdog: Option<Watchdog>) {
        if let Some(w) = watchdog {
            w.disarm().await;
        }
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns the status code.
pub async fn http_call(ep: &Target, method: &str, path: &str, body: &str) -> std::io::Result<u16> {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let fut = async {
        let mut resp = Vec::new();
        match ep {
            Target::Tcp(port) => {
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", *port)).await?;
                s.write_all(req.as_bytes()).await?;
                read_head(&mut s, &mut resp).await?;
            }
            Target::Unix(p) => {
                let mut s = tokio::net::UnixStream::connect(p).await?;
                s.write_all(req.as_bytes()).await?;
                read_head(&mut s, &mut resp).await?;
            }
        }
        parse_status(&resp)
    };
    tokio::time::timeout(Duration::from_secs(3), fut)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request timed out",
            ))
        })
}

async fn read_head<S: AsyncRead + Unpin>(s: &mut S, resp: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 1024];
    // Only the status line matters; stop at the end of the headers or EOF.
    while !resp.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        resp.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

fn parse_status(resp: &[u8]) -> std::io::Result<u16> {
    let head = String::from_utf8_lossy(resp);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed HTTP response")
        })
}

/// `PUT /v1.0/metadata/<key>` with a few retries (the sidecar may still be starting).
pub async fn put_metadata(ep: &Target, key: &str, value: &str) -> Result<(), String> {
    let mut delay = Duration::from_millis(50);
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        match http_call(ep, "PUT", &format!("/v1.0/metadata/{key}"), value).await {
            Ok(code) if (200..300).contains(&code) => return Ok(()),
            Ok(code) => last = format!("unexpected status code {code}"),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Whether the sidecar's outbound side is up: `GET /v1.0/healthz/outbound` answers 2xx.
/// A 404 also counts (a sidecar without that route is at least serving HTTP).
pub async fn sidecar_ready(ep: &Target) -> bool {
    matches!(http_call(ep, "GET", "/v1.0/healthz/outbound", "").await, Ok(c) if (200..300).contains(&c) || c == 404)
}

/// Poll until a TCP (or Unix socket) connection to `ep` succeeds, every 10 ms, up to `timeout`.
pub async fn wait_connect(ep: &Target, timeout: Duration) -> bool {
    let poll = async {
        loop {
            let ok = match ep {
                Target::Tcp(port) => tokio::net::TcpStream::connect(("127.0.0.1", *port))
                    .await
                    .is_ok(),
                Target::Unix(p) => tokio::net::UnixStream::connect(p).await.is_ok(),
            };
            if ok {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(timeout, poll).await.is_ok()
}

/// Search `PATH` for `cmd` the way a shell would (a name containing `/` is used as is).
pub fn find_in_path(cmd: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return if is_exec(&p) {
            Ok(p)
        } else if p.exists() {
            Err(format!("exec: \"{cmd}\": permission denied"))
        } else {
            Err(format!(
                "exec: \"{cmd}\": stat {cmd}: no such file or directory"
            ))
        };
    }
    if cmd.is_empty() {
        return Err("exec: no command".into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(cmd))
        .find(|p| is_exec(p))
        .ok_or_else(|| format!("exec: \"{cmd}\": executable file not found in $PATH"))
}

/// An io error as Go prints it (`no such file or directory`), for official-looking messages.
pub fn go_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Recorded;

    /// A one-request-per-connection HTTP server answering `status` and recording request heads.
    async fn serve_unix(path: PathBuf, status: u16, seen: Arc<Mutex<Vec<String>>>) {
        let l = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let resp = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
    }

    #[tokio::test]
    async fn sidecar_calls_work_over_a_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("dapr-x-http.socket");
        let seen = Arc::new(Mutex::new(Vec::new()));
        serve_unix(sock.clone(), 204, seen.clone()).await;
        let ep = Target::Unix(sock);
        assert!(sidecar_ready(&ep).await);
        put_metadata(&ep, "cliPID", "42").await.unwrap();
        let seen = seen.lock().unwrap();
        assert!(seen[0].starts_with("GET /v1.0/healthz/outbound HTTP/1.1\r\n"));
        assert!(seen[1].starts_with("PUT /v1.0/metadata/cliPID HTTP/1.1\r\n"));
        assert!(seen[1].ends_with("\r\n\r\n42"), "{}", seen[1]);
    }

    #[tokio::test]
    async fn not_ready_and_unreachable_sidecars() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        serve_unix(sock.clone(), 500, Arc::default()).await;
        assert!(!sidecar_ready(&Target::Unix(sock.clone())).await);
        assert!(
            put_metadata(&Target::Unix(sock), "k", "v")
                .await
                .unwrap_err()
                .contains("500")
        );
        let (port, l) = reserve_port().unwrap();
        drop(l);
        assert!(!sidecar_ready(&Target::Tcp(port)).await);
        assert!(!wait_connect(&Target::Tcp(port), Duration::from_millis(50)).await);
    }

    #[test]
    fn sinks_keep_or_merge_the_childs_streams() {
        // A single run: the child's stderr stays on stderr.
        let rec = Arc::new(Recorded::default());
        let single = Sink::new(None, Some(rec.clone()), String::new());
        single.line("out", false);
        single.line("err", true);
        // A run file: everything on stdout, prefixed; a status line about the app keeps
        // its icon when the console is its only writer.
        let multi = Sink::new(None, Some(rec.clone()), "== APP - a == ".into()).stdout_only();
        multi.line("err", true);
        multi.status(Status::Failure, "boom");
        assert_eq!(
            rec.take(),
            [
                (Some(Stream::Stdout), None, "out".to_string()),
                (Some(Stream::Stderr), None, "err".to_string()),
                (Some(Stream::Stdout), None, "== APP - a == err".to_string()),
                (
                    Some(Stream::Stdout),
                    Some(Status::Failure),
                    "boom".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_status_line_with_a_log_file_is_plain_in_both() {
        let dir = tempfile::tempdir().unwrap();
        let file = LogFile::create(&dir.path().join("logs/a.log")).unwrap();
        let rec = Arc::new(Recorded::default());
        let sink = Sink::new(Some(file.clone()), Some(rec.clone()), String::new()).stdout_only();
        sink.status(Status::Success, "Exited Dapr successfully");
        assert_eq!(
            std::fs::read_to_string(&file.path).unwrap(),
            "Exited Dapr successfully\n"
        );
        assert_eq!(
            rec.take(),
            [(
                Some(Stream::Stdout),
                None,
                "Exited Dapr successfully".to_string()
            )]
        );
        let json = Sink::new(Some(file.clone()), None, String::new()).json(true);
        json.status(Status::Info, "m");
        let text = std::fs::read_to_string(&file.path).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(
            (last["status"].as_str(), last["msg"].as_str()),
            (Some("info"), Some("m"))
        );
    }

    #[test]
    fn path_lookup_and_go_style_errors() {
        assert!(find_in_path("sh").is_ok());
        assert_eq!(
            find_in_path("no-such-cmd-h4b").unwrap_err(),
            "exec: \"no-such-cmd-h4b\": executable file not found in $PATH"
        );
        assert_eq!(find_in_path("").unwrap_err(), "exec: no command");
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(go_io_error(&e), "no such file or directory");
    }
}

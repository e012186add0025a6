//! Running the real `dapr` with its stdout and stderr captured apart, to pin the stream of
//! every line it prints. Every command gets a temp HOME and DAPR_RUNTIME_PATH (never the
//! developer's), `NO_COLOR=1`, a closed stdin, and no inherited `DAPR_*` settings that
//! would change what it does.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{bin, free_port, wait_until};

const STATESTORE: &str = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.in-memory\n  version: v1\n";
const CONFIG: &str =
    "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprConfig\nspec: {}\n";

/// An id unique to this test process (sidecars are machine-wide, tests run in parallel).
pub fn unique(name: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{}-{n}", std::process::id())
}

/// A temp directory that is both HOME and DAPR_RUNTIME_PATH of every `dapr` it starts.
pub struct Home {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Home {
    /// Nothing installed. `dapr init` finds no Redis (a closed port is named).
    pub fn bare() -> Home {
        let closed = format!("127.0.0.1:{}", free_port());
        Home {
            dir: tempfile::tempdir().unwrap(),
            vars: vec![("DAPR_INIT_REDIS_ADDRESS".into(), closed)],
        }
    }

    /// An install laid out by hand (no `dapr init`): `bin/daprd` (a link to this build's),
    /// an in-memory state store and the default configuration.
    pub fn installed() -> Home {
        let h = Home::bare();
        let d = h.dapr_dir();
        std::fs::create_dir_all(d.join("bin")).unwrap();
        std::fs::create_dir_all(d.join("components")).unwrap();
        std::os::unix::fs::symlink(bin("daprd"), d.join("bin/daprd")).unwrap();
        std::fs::write(d.join("components/statestore.yaml"), STATESTORE).unwrap();
        std::fs::write(d.join("config.yaml"), CONFIG).unwrap();
        h
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The install directory, `$DAPR_RUNTIME_PATH/.dapr`.
    pub fn dapr_dir(&self) -> PathBuf {
        self.path().join(".dapr")
    }

    /// `dapr <args>`, hermetic, started in this home.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin("dapr"));
        super::hermetic(&mut c, self.path())
            .args(args)
            .env("DAPR_RUNTIME_PATH", self.path())
            .env("NO_COLOR", "1")
            .current_dir(self.path())
            .stdin(Stdio::null());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// Run `dapr <args>` to its end (at most 60 s).
    pub fn run(&self, args: &[&str]) -> Streams {
        Running::spawn(self.cmd(args)).finish(Duration::from_secs(60))
    }

    /// Start `dapr <args>` in the background.
    pub fn start(&self, args: &[&str]) -> Running {
        Running::spawn(self.cmd(args))
    }
}

/// What a finished (or still running) `dapr` printed, stream by stream.
#[derive(Debug, Clone)]
pub struct Streams {
    /// The exit code; `None` while running.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Streams {
    /// Both streams, for failure messages.
    pub fn show(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// `needle` is on stdout and nowhere on stderr.
    #[track_caller]
    pub fn on_stdout(&self, needle: &str) {
        assert!(
            self.stdout.contains(needle) && !self.stderr.contains(needle),
            "{needle:?} must be on stdout only:\n{}",
            self.show()
        );
    }

    /// `needle` is on stderr and nowhere on stdout.
    #[track_caller]
    pub fn on_stderr(&self, needle: &str) {
        assert!(
            self.stderr.contains(needle) && !self.stdout.contains(needle),
            "{needle:?} must be on stderr only:\n{}",
            self.show()
        );
    }

    /// Every status line (`✅ ❌ ⚠ ℹ️ ⌛`) is on stdout: stderr has none.
    #[track_caller]
    pub fn no_status_on_stderr(&self) {
        let icons = ["✅  ", "❌  ", "⚠  ", "ℹ️  ", "⌛  "];
        let bad: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| icons.iter().any(|i| l.starts_with(i)))
            .collect();
        assert!(
            bad.is_empty(),
            "status lines on stderr {bad:?}:\n{}",
            self.show()
        );
    }

    /// The `--log-as-json` status objects on one stream (lines that parse as JSON objects
    /// with `time`, `status` and `msg`; daprd's own JSON logs have no `status`).
    pub fn json_statuses(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["time"].is_string() && v["msg"].is_string())
            .filter_map(|v| {
                Some((
                    v["status"].as_str()?.to_string(),
                    v["msg"].as_str()?.to_string(),
                ))
            })
            .collect()
    }
}

/// A `dapr` process whose stdout and stderr are read apart in the background. Dropping it
/// sends SIGTERM (so the CLI tears down what it started), then SIGKILL after 8 s.
pub struct Running {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    /// Each reader sets its flag at EOF.
    eof: [Arc<AtomicBool>; 2],
    code: Option<i32>,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let eof = [
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        ];
        let readers: [(Box<dyn Read + Send>, _, _); 2] = [
            (
                Box::new(child.stdout.take().unwrap()),
                out.clone(),
                eof[0].clone(),
            ),
            (
                Box::new(child.stderr.take().unwrap()),
                err.clone(),
                eof[1].clone(),
            ),
        ];
        for (mut r, buf, done) in readers {
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
                done.store(true, Ordering::SeqCst);
            });
        }
        Running {
            child,
            out,
            err,
            eof,
            code: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What was printed so far.
    pub fn snapshot(&self) -> Streams {
        Streams {
            code: self.code,
            stdout: String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&self.err.lock().unwrap()).into_owned(),
        }
    }

    /// Wait until stdout contains `needle`, failing the test (with everything printed so
    /// far) after `timeout`.
    #[track_caller]
    pub fn expect_stdout(&self, needle: &str, timeout: Duration) {
        let seen = wait_until(timeout, || {
            String::from_utf8_lossy(&self.out.lock().unwrap()).contains(needle)
        });
        assert!(
            seen,
            "{needle:?} not on stdout within {timeout:?}:\n{}",
            self.snapshot().show()
        );
    }

    /// SIGTERM, as `dapr stop` or a service manager sends it.
    pub fn term(&self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }

    fn try_code(&mut self) -> Option<i32> {
        if self.code.is_none()
            && let Some(st) = self.child.try_wait().unwrap()
        {
            use std::os::unix::process::ExitStatusExt;
            self.code = Some(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
        }
        self.code
    }

    /// Wait (at most `timeout`) for the process to end and for both streams to reach EOF;
    /// fails the test if it does not end.
    #[track_caller]
    pub fn finish(mut self, timeout: Duration) -> Streams {
        let ended = wait_until(timeout, || self.try_code().is_some());
        assert!(
            ended,
            "dapr did not end within {timeout:?}:\n{}",
            self.snapshot().show()
        );
        wait_until(Duration::from_secs(5), || {
            self.eof.iter().all(|e| e.load(Ordering::SeqCst))
        });
        self.snapshot()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.try_code().is_none() {
            self.term();
            if !wait_until(Duration::from_secs(8), || self.try_code().is_some()) {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

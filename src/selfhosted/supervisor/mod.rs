//! The process supervisor shared by `dapr run` (one app, [`single`]) and `dapr run -f`
//! (every app of a run template, [`multi`]): stop signals registered before any child
//! starts, a watchdog that cleans up if the CLI itself is killed, daprd and the app each
//! started in their own process group with their output copied into [`Sink`]s, the wait
//! for the sidecar to answer, the sidecar metadata the CLI stores, and the teardown (the
//! app's group first so it can still reach its sidecar, then daprd; SIGTERM, a grace
//! period, SIGKILL; a second stop signal SIGKILLs at once).
//!
//! The two modes differ only in policy, which lives in their submodules: a single run ends
//! when the app, the sidecar or the CLI stops and reports on the console; a run file ends
//! only on a stop signal and reports each app's events to that app's log writers. Nothing
//! here prints: everything goes through the `report::Reporter` and the sinks.
//!
//! Limits: Unix only; a grandchild that leaves its process group is out of reach.

pub mod multi;
pub mod single;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::signal::unix::{Signal as UnixSignal, SignalKind, signal};

use super::client::Target;
use super::process::{self, Exit, Sink, Watchdog};
use super::run::Prepared;
use crate::report::{Reporter, Status};

/// Grace period for the app's process group and for daprd after SIGTERM.
pub const GRACE: Duration = Duration::from_secs(5);
/// How long to wait for the sidecar to answer before carrying on with a warning.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// SIGINT, SIGTERM and SIGHUP, registered before any child starts so none is missed.
pub struct StopSignals {
    int: UnixSignal,
    term: UnixSignal,
    hup: UnixSignal,
}

impl StopSignals {
    pub fn register() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

/// What a run holds while it supervises its children.
pub struct Supervisor {
    pub signals: StopSignals,
    pub reporter: Arc<dyn Reporter>,
    watchdog: Option<Watchdog>,
}

impl Supervisor {
    /// Spawn the watchdog and register the stop signals. `None`, after reporting why, when
    /// the signal handlers cannot be installed (the run then ends with 1).
    pub async fn start(reporter: Arc<dyn Reporter>) -> Option<Supervisor> {
        let watchdog = Watchdog::spawn();
        match StopSignals::register() {
            Ok(signals) => Some(Supervisor {
                signals,
                reporter,
                watchdog,
            }),
            Err(e) => {
                reporter.status(
                    Status::Failure,
                    &format!("could not install signal handlers: {e}"),
                );
                Watchdog::disarm_any(watchdog).await;
                None
            }
        }
    }

    /// The run ended normally: the watchdog goes without touching anything.
    pub async fn finish(self) {
        Watchdog::disarm_any(self.watchdog).await;
    }

    /// Have the watchdog clean up process group `pgid` should the CLI die.
    async fn watch(&mut self, pgid: u32) {
        if let Some(w) = self.watchdog.as_mut() {
            w.watch(pgid).await;
        }
    }

    /// Start daprd in its own process group with its output copied to `out`; `Err` is the
    /// official message (`fork/exec <path>: <reason>`). daprd is given `DAPR_RUNTIME_PATH`
    /// of the install it comes from, so that what it keeps on disk follows `--runtime-path`
    /// rather than `$HOME` (the official CLI does not set it; an official daprd ignores it).
    pub async fn start_daprd(
        &mut self,
        p: &Prepared,
        out: &Sink,
        cwd: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Daprd, String> {
        let mut cmd = Command::new(&p.daprd);
        if let Some(rt) = runtime_path_of(&p.daprd) {
            cmd.env(crate::home::RUNTIME_PATH_ENV, rt);
        }
        cmd.args(&p.daprd_args)
            .envs(env.iter().cloned())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let child = spawn_pumped(&mut cmd, out).map_err(|e| {
            format!(
                "fork/exec {}: {}",
                p.daprd.display(),
                process::go_io_error(&e)
            )
        })?;
        let pid = child.id().unwrap_or(0);
        self.watch(pid).await;
        Ok(Daprd {
            child,
            pid,
            done: false,
        })
    }

    /// Start the app in its own process group with the run environment; its stdout and
    /// stderr are copied into `out`.
    pub async fn start_app(
        &mut self,
        program: &Path,
        args: &[String],
        p: &Prepared,
        out: &Sink,
        cwd: Option<&Path>,
        stdin: Stdio,
    ) -> std::io::Result<App> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(p.app_env.iter().cloned())
            .process_group(0)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Python block-buffers a piped stdout; keep its lines flowing as on a terminal.
        if std::env::var_os("PYTHONUNBUFFERED").is_none() {
            cmd.env("PYTHONUNBUFFERED", "1");
        }
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let child = spawn_pumped(&mut cmd, out)?;
        let pid = child.id().unwrap_or(0);
        self.watch(pid).await;
        Ok(App {
            child,
            pid,
            exit: None,
        })
    }

    /// Poll the sidecar every 10 ms until it answers, it exits, a stop signal arrives or
    /// `timeout` passes.
    pub async fn wait_ready(
        &mut self,
        ep: &Target,
        daprd: &mut Daprd,
        timeout: Duration,
    ) -> Readiness {
        let poll = async {
            while !process::sidecar_ready(ep).await {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            _ = poll => Readiness::Ready,
            st = daprd.child.wait() => Readiness::Exited(st.map(Exit::from_status).unwrap_or(Exit::Code(1))),
            _ = self.signals.recv() => Readiness::Interrupted,
            _ = tokio::time::sleep(timeout) => Readiness::TimedOut,
        }
    }

    /// Run `teardown` to its end; a second stop signal meanwhile SIGKILLs the process groups
    /// `pgids` at once (no more grace period), and the teardown then ends quickly.
    pub async fn guard_teardown<T>(
        &mut self,
        pgids: Vec<u32>,
        teardown: impl std::future::Future<Output = T>,
    ) -> T {
        tokio::pin!(teardown);
        tokio::select! {
            t = &mut teardown => t,
            _ = self.signals.recv() => {
                for pgid in pgids {
                    process::signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
                }
                teardown.await
            }
        }
    }
}

/// Spawn `cmd` (stdout and stderr piped) and copy both streams into `out`.
fn spawn_pumped(cmd: &mut Command, out: &Sink) -> std::io::Result<Child> {
    let mut child = cmd.spawn()?;
    if let Some(o) = child.stdout.take() {
        process::pump(o, out.clone(), false);
    }
    if let Some(e) = child.stderr.take() {
        process::pump(e, out.clone(), true);
    }
    Ok(child)
}

/// The directory holding the `.dapr` install `daprd` was found in (`<P>/.dapr/bin/daprd`).
fn runtime_path_of(daprd: &Path) -> Option<&Path> {
    let dot_dapr = daprd.parent()?.parent()?;
    (dot_dapr.file_name()? == ".dapr").then_some(dot_dapr.parent()?)
}

/// A started daprd (leader of its own process group).
pub struct Daprd {
    pub child: Child,
    pub pid: u32,
    /// It has ended (and was reaped); nothing left to stop.
    pub done: bool,
}

impl Daprd {
    /// SIGTERM daprd's group, SIGKILL after the grace period, let its last lines (copied
    /// into `out`) through; whether the group is gone.
    pub async fn stop(&mut self, out: &Sink) -> bool {
        if !self.done {
            let _ = process::stop_group(&mut self.child, self.pid, GRACE).await;
            self.done = true;
        }
        out.drain(Duration::from_secs(1)).await;
        !process::group_alive(self.pid)
    }
}

/// A started app (leader of its own process group).
pub struct App {
    pub child: Child,
    pub pid: u32,
    /// How it ended, once the supervisor saw it end by itself.
    pub exit: Option<Exit>,
}

impl App {
    /// SIGTERM the app's group, SIGKILL after the grace period, let its last lines (copied
    /// into `out`) through. Returns how the leader ended (`None` if it had been reaped
    /// before) and whether the whole group is gone.
    pub async fn stop(&mut self, out: &Sink) -> (Option<Exit>, bool) {
        let end = process::stop_group(&mut self.child, self.pid, GRACE).await;
        out.drain(Duration::from_secs(1)).await;
        (end, !process::group_alive(self.pid))
    }
}

/// One app with its sidecar, both started, and where their output goes.
pub struct Pair {
    pub prepared: Prepared,
    pub daprd: Daprd,
    pub app: Option<App>,
    pub dsink: Sink,
    pub asink: Sink,
}

impl Pair {
    /// The process groups of this pair (the app's first).
    pub fn groups(&self) -> Vec<u32> {
        self.app
            .as_ref()
            .map(|a| a.pid)
            .into_iter()
            .chain([self.daprd.pid])
            .collect()
    }
}

/// Outcome of waiting for a sidecar.
pub enum Readiness {
    Ready,
    Exited(Exit),
    TimedOut,
    Interrupted,
}

/// Store `key` in the sidecar's metadata (`PUT /v1.0/metadata/<key>`); a failure is only
/// a warning, handed to `warn`.
pub async fn store_metadata(ep: &Target, key: &str, value: &str, warn: impl Fn(&str)) {
    if let Err(e) = process::put_metadata(ep, key, value).await {
        warn(&format!("Could not update sidecar metadata for {key}: {e}"));
    }
}

/// Remove the socket files of a `-u` run.
pub fn cleanup_sockets(p: &Prepared) {
    for s in &p.sockets {
        let _ = std::fs::remove_file(s);
    }
}

/// Timestamp used in log file names (`YYYYMMDDhhmmss`, local time).
pub fn log_timestamp() -> String {
    chrono::Local::now().format("%Y%m%d%H%M%S").to_string()
}

/// How Go words a failed child (`exec.ExitError`), as the official CLI prints it for daprd:
/// `exit status 2`, `signal: killed`.
pub fn exit_text(e: Exit) -> String {
    use nix::sys::signal::Signal;
    match e {
        Exit::Code(c) => format!("exit status {c}"),
        Exit::Signal(s) => {
            let what = match Signal::try_from(s) {
                Ok(Signal::SIGKILL) => "killed".to_string(),
                Ok(Signal::SIGTERM) => "terminated".to_string(),
                Ok(Signal::SIGINT) => "interrupt".to_string(),
                Ok(Signal::SIGABRT) => "aborted".to_string(),
                Ok(Signal::SIGSEGV) => "segmentation fault".to_string(),
                _ => process::signal_name(s),
            };
            format!("signal: {what}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_are_worded_as_go_does() {
        assert_eq!(exit_text(Exit::Code(2)), "exit status 2");
        assert_eq!(exit_text(Exit::Signal(9)), "signal: killed");
        assert_eq!(exit_text(Exit::Signal(15)), "signal: terminated");
    }

    #[test]
    fn the_runtime_path_is_the_parent_of_dot_dapr() {
        assert_eq!(
            runtime_path_of(Path::new("/opt/x/.dapr/bin/daprd")),
            Some(Path::new("/opt/x"))
        );
        assert_eq!(runtime_path_of(Path::new("/usr/bin/daprd")), None);
    }
}

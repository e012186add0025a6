//! `dapr run` of one app: the policy of a single run over the shared [`Supervisor`]. The
//! run ends when the app exits, daprd exits, or the CLI gets a stop signal; every status
//! line goes to the console through the reporter (success and info on stdout, failures on
//! stderr, warnings on stdout, as the official command), and the children's output is
//! passed through on the stream it was written to.
//!
//! Beyond the official CLI, daprd's and the app's output are also copied into
//! `<dapr dir>/logs/<appid>_{daprd,app}_<ts>.log` so that `dapr logs` works for single runs;
//! those paths are not put in the sidecar metadata (the official `dapr list` shows blank
//! log columns for single runs).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use super::super::client::Target;
use super::super::logs;
use super::super::process::{self, Exit, LogFile, Sink};
use super::super::run::Prepared;
use super::{App, Daprd, READY_TIMEOUT, Readiness, Supervisor, exit_text, store_metadata};
use crate::report::{Reporter, Status, Stream};

/// Log file paths of a single run: `<logs>/<appid>_daprd_<ts>.log`, `<appid>_app_<ts>.log`.
fn single_run_logs(log_dir: &Path, app_id: &str, ts: &str) -> (PathBuf, PathBuf) {
    (
        log_dir.join(format!("{app_id}_daprd_{ts}.log")),
        log_dir.join(format!("{app_id}_app_{ts}.log")),
    )
}

/// Run one app with its sidecar until the app, the sidecar or the CLI stops. Returns the
/// exit code of the CLI: the app's own non-zero code, 1 for a sidecar failure, else 0.
pub async fn run_single(p: Prepared, reporter: Arc<dyn Reporter>, log_dir: Option<PathBuf>) -> i32 {
    let Some(mut sup) = Supervisor::start(reporter).await else {
        return 1;
    };
    let code = supervise(&mut sup, p, log_dir).await;
    sup.finish().await;
    code
}

async fn supervise(sup: &mut Supervisor, p: Prepared, log_dir: Option<PathBuf>) -> i32 {
    let r = sup.reporter.clone();
    if p.command.is_empty() {
        // A plain line on stdout (`fmt.Println` in the official CLI).
        r.line(Stream::Stdout, "WARNING: no application command found.");
    }
    match &p.endpoint {
        Target::Unix(http) => r.status(
            Status::Info,
            &format!(
                "Starting Dapr with id {}. HTTP Socket: {}. gRPC Socket: {}.",
                p.app_id,
                http.display(),
                p.sockets
                    .get(1)
                    .map(|s| s.display().to_string())
                    .unwrap_or_default()
            ),
        ),
        Target::Tcp(_) => r.status(
            Status::Info,
            &format!(
                "Starting Dapr with id {}. HTTP Port: {}. gRPC Port: {}",
                p.app_id, p.http_port, p.grpc_port
            ),
        ),
    }

    let ts = super::log_timestamp();
    let (dlog, alog) = match &log_dir {
        Some(dir) => {
            let (d, a) = single_run_logs(dir, &p.app_id, &ts);
            let d = LogFile::create(&d).ok();
            let a = if p.command.is_empty() {
                None
            } else {
                LogFile::create(&a).ok()
            };
            logs::prune(dir, &p.app_id, logs::KEEP_SINGLE_RUN_LOGS);
            (d, a)
        }
        None => (None, None),
    };
    let dsink = Sink::new(dlog, Some(r.clone()), String::new());
    let asink = Sink::new(alog, Some(r.clone()), String::new());

    let mut daprd = match sup.start_daprd(&p, &dsink, None, &[]).await {
        Ok(d) => d,
        Err(e) => {
            r.status(Status::Failure, &e);
            return 1;
        }
    };

    let quiet = p.app_port > 0;
    if !quiet {
        let target = match &p.endpoint {
            Target::Unix(s) => format!("HTTP socket {}", s.display()),
            Target::Tcp(port) => format!("HTTP port {port}"),
        };
        r.status(
            Status::Info,
            &format!("Checking if Dapr sidecar is listening on {target}"),
        );
    }
    match sup.wait_ready(&p.endpoint, &mut daprd, READY_TIMEOUT).await {
        Readiness::Ready => {
            if !quiet {
                let (target, grpc) = match p.sockets.get(1) {
                    Some(s) => (
                        format!("GRPC socket {}", s.display()),
                        Target::Unix(s.clone()),
                    ),
                    None => (
                        format!("GRPC port {}", p.grpc_port),
                        Target::Tcp(p.grpc_port),
                    ),
                };
                r.status(
                    Status::Info,
                    &format!("Checking if Dapr sidecar is listening on {target}"),
                );
                if !process::wait_connect(&grpc, Duration::from_secs(5)).await {
                    r.status(
                        Status::Warning,
                        &format!("Dapr sidecar is not listening on {target}"),
                    );
                    r.status(Status::Warning, "Dapr sidecar might not be responding.");
                }
                r.status(Status::Info, "Dapr sidecar is up and running.");
            }
        }
        Readiness::Exited(e) => {
            dsink.drain(Duration::from_millis(300)).await;
            r.status(
                Status::Failure,
                &format!("The daprd process exited with error code: {}", exit_text(e)),
            );
            super::cleanup_sockets(&p);
            return 1;
        }
        Readiness::TimedOut => {
            r.status(
                Status::Warning,
                &format!(
                    "Dapr sidecar is not listening on HTTP port: {}",
                    p.http_port
                ),
            );
            r.status(Status::Warning, "Dapr sidecar might not be responding.");
        }
        Readiness::Interrupted => {
            r.status(Status::Info, "\nterminated signal received: shutting down");
            stop_daprd(&mut daprd, &dsink, &*r).await;
            super::cleanup_sockets(&p);
            return 0;
        }
    }

    let mut app: Option<App> = None;
    if let Some((prog, args)) = p.command.split_first() {
        let started = match process::find_in_path(prog) {
            Err(e) => Err(format!("Failed to find command {prog}: {e}")),
            Ok(path) => sup
                .start_app(&path, args, &p, &asink, None, Stdio::inherit())
                .await
                .map_err(|e| {
                    format!(
                        "Failed to start command {prog}: {}",
                        process::go_io_error(&e)
                    )
                }),
        };
        match started {
            Ok(a) => app = Some(a),
            Err(msg) => {
                r.status(Status::Failure, &msg);
                if daprd.stop(&dsink).await {
                    r.status(
                        Status::Success,
                        "Start App failed, try to stop Dapr successfully",
                    );
                } else {
                    r.status(
                        Status::Failure,
                        "Start App failed, try to stop Dapr Error: daprd is still running",
                    );
                }
                super::cleanup_sockets(&p);
                return 1;
            }
        }
    }

    let warn = |msg: &str| r.status(Status::Warning, msg);
    let cli_pid = std::process::id().to_string();
    store_metadata(&p.endpoint, "cliPID", &cli_pid, warn).await;
    if let Some(a) = &app {
        r.status(
            Status::Info,
            &format!("Updating metadata for appPID: {}", a.pid),
        );
        store_metadata(&p.endpoint, "appPID", &a.pid.to_string(), warn).await;
        let cmd = p.command.join(" ");
        r.status(
            Status::Info,
            &format!("Updating metadata for app command: {cmd}"),
        );
        store_metadata(&p.endpoint, "appCommand", &cmd, warn).await;
    }
    if app.is_some() {
        r.status(
            Status::Success,
            "You're up and running! Both Dapr and your app logs will appear here.\n",
        );
    } else {
        r.status(
            Status::Success,
            "You're up and running! Dapr logs will appear here.\n",
        );
    }

    enum Ended {
        Signal,
        Daprd(Exit),
        App(Exit),
    }
    let ended = {
        let app_wait = async {
            match app.as_mut() {
                Some(a) => a.child.wait().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sup.signals.recv() => Ended::Signal,
            st = daprd.child.wait() => Ended::Daprd(st.map(Exit::from_status).unwrap_or(Exit::Code(1))),
            st = app_wait => Ended::App(st.map(Exit::from_status).unwrap_or(Exit::Code(1))),
        }
    };

    // Let the last lines of whichever process ended reach the console first.
    match ended {
        Ended::App(_) => asink.drain(Duration::from_millis(300)).await,
        Ended::Daprd(_) => dsink.drain(Duration::from_millis(300)).await,
        Ended::Signal => {}
    }
    let mut code = 0;
    match ended {
        Ended::Signal => {}
        Ended::App(e) => {
            if let Some(a) = app.as_mut() {
                a.exit = Some(e);
            }
            match e {
                Exit::Code(0) => r.status(Status::Success, "Exited App successfully"),
                Exit::Code(c) => {
                    r.status(
                        Status::Failure,
                        &format!("The App process exited with error code: {c}"),
                    );
                    code = c;
                }
                Exit::Signal(s) => {
                    r.status(
                        Status::Failure,
                        &format!(
                            "The App process was terminated by signal: {}",
                            process::signal_name(s)
                        ),
                    );
                    code = 1;
                }
            }
        }
        Ended::Daprd(e) => {
            daprd.done = true;
            if e.success() {
                r.status(Status::Success, "Exited Dapr successfully");
            } else {
                r.status(
                    Status::Failure,
                    &format!("The daprd process exited with error code: {}", exit_text(e)),
                );
                code = 1;
            }
        }
    }
    r.status(Status::Info, "\nterminated signal received: shutting down");

    // The app goes first so that it can still reach its sidecar while shutting down.
    let groups: Vec<u32> = app
        .as_ref()
        .map(|a| a.pid)
        .into_iter()
        .chain([daprd.pid])
        .collect();
    let code_so_far = code;
    let teardown = async {
        let mut code = code_so_far;
        if let Some(a) = app.as_mut() {
            let (_, gone) = a.stop(&asink).await;
            if a.exit.is_none() {
                if gone {
                    r.status(Status::Success, "Exited App successfully");
                } else {
                    r.status(
                        Status::Failure,
                        "Error exiting App: the app's processes are still running",
                    );
                    code = code.max(1);
                }
            }
        }
        if !daprd.done {
            stop_daprd(&mut daprd, &dsink, &*r).await;
        }
        code
    };
    let code = sup.guard_teardown(groups, teardown).await;
    super::cleanup_sockets(&p);
    code
}

/// Stop daprd and report it: `Exited Dapr successfully`, or the official error line.
async fn stop_daprd(daprd: &mut Daprd, out: &Sink, r: &dyn Reporter) {
    if daprd.stop(out).await {
        r.status(Status::Success, "Exited Dapr successfully");
    } else {
        r.status(
            Status::Failure,
            "Error exiting Dapr: daprd is still running",
        );
    }
}

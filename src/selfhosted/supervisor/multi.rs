//! `dapr run -f`: the policy of a run file over the shared [`Supervisor`]. Every app of
//! the template is started in order with its sidecar; an app or sidecar that exits does
//! not end the run (as in the official CLI), only a stop signal does. What concerns one
//! app (its children's output, prefixed `== APP - <id> == `, and the CLI's lines about it)
//! goes to that app's writers: its log files under `<appDirPath>/.dapr/logs` and/or the
//! console, where the official run file writes all of it to stdout, whatever its kind.

use std::io::IsTerminal;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use super::super::logs;
use super::super::process::{self, Exit, LogFile, Sink};
use super::super::run::Prepared;
use super::super::runfile::{AppSpec, Template, load, resolve_path};
use super::{App, Pair, READY_TIMEOUT, Readiness, Supervisor, exit_text, store_metadata};
use crate::home::DaprHome;
use crate::report::{Reporter, Status, Stream};

/// `dapr run -f <arg>` (`-` = stdin): start every app of the template and supervise them
/// until a stop signal. Returns the CLI's exit code.
pub async fn run_file(arg: &str, reporter: Arc<dyn Reporter>, log_as_json: bool) -> i32 {
    // `dapr stop -f` signals the CLI's process group; become its leader unless we are the
    // foreground job of a terminal (then the shell already made us one, and Ctrl-C must reach us).
    if !std::io::stdin().is_terminal() {
        let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
    }
    let Some(mut sup) = Supervisor::start(reporter).await else {
        return 1;
    };
    let code = supervise(&mut sup, arg, log_as_json).await;
    sup.finish().await;
    code
}

async fn supervise(sup: &mut Supervisor, arg: &str, log_as_json: bool) -> i32 {
    let r = sup.reporter.clone();
    // A path that names no template is reported as the official CLI does, before loading.
    let file = if arg == "-" {
        None
    } else {
        match resolve_path(arg) {
            Ok(path) => Some(path),
            Err(e) => {
                r.status(
                    Status::Failure,
                    &format!("Failed to get run file path: {e}"),
                );
                return 1;
            }
        }
    };
    // The official CLI prints these two failures on stdout.
    let template = match load(file.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            r.status_to(
                Stream::Stdout,
                Status::Failure,
                &format!("Error getting apps from config file: {e}"),
            );
            return 1;
        }
    };
    if template.apps.is_empty() {
        r.status_to(Stream::Stdout, Status::Failure, "No apps to run");
        return 1;
    }
    let file = template.path.display().to_string();
    let home_logs = DaprHome::resolve(None).ok().map(|h| h.root().join("logs"));
    let mut running: Vec<Pair> = Vec::new();

    for spec in &template.apps {
        let id = spec.app_id.clone();
        r.status(
            Status::Info,
            &format!("Validating config and starting app \"{id}\""),
        );
        let mut cfg = spec.run.clone();
        cfg.log_as_json = log_as_json;
        // The instance scan only matters for explicit ports (the app id is always set here).
        let others = if cfg.has_explicit_port() {
            super::super::instances::scan()
        } else {
            Vec::new()
        };
        let prepared = match super::super::run::prepare(&cfg, &spec.dapr_dir, &others) {
            Ok(p) => p,
            Err(e) => {
                r.status(
                    Status::Failure,
                    &format!("Error validating run config for app \"{id}\" present in {file}: {e}"),
                );
                teardown(sup, &mut running, false).await;
                return 1;
            }
        };
        match start_app(sup, spec, prepared, &template, home_logs.as_deref()).await {
            Ok(Some(pair)) => {
                r.status(
                    Status::Info,
                    &format!(
                        "Started Dapr with app id \"{id}\". HTTP Port: {}. gRPC Port: {}",
                        pair.prepared.http_port, pair.prepared.grpc_port
                    ),
                );
                r.status(
                    Status::Info,
                    &format!(
                        "Writing log files to directory : {}",
                        spec.app_dir.join(".dapr").join("logs").display()
                    ),
                );
                running.push(pair);
            }
            Ok(None) => {
                teardown(sup, &mut running, true).await;
                return 0;
            }
            Err(msg) => {
                // The official line goes to the app's writers, whose console is stdout.
                r.status_to(
                    Stream::Stdout,
                    Status::Failure,
                    &format!("Error starting Dapr and app (\"{id}\"): {msg}"),
                );
                teardown(sup, &mut running, false).await;
                return 1;
            }
        }
    }

    loop {
        tokio::select! {
            _ = sup.signals.recv() => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        for pair in &mut running {
            report_exits(pair).await;
        }
    }
    teardown(sup, &mut running, true).await;
    0
}

/// Report, to the app's writers, an app or sidecar that ended by itself since last time.
async fn report_exits(pair: &mut Pair) {
    if let Some(app) = pair.app.as_mut()
        && app.exit.is_none()
        && let Ok(Some(st)) = app.child.try_wait()
    {
        let e = Exit::from_status(st);
        app.exit = Some(e);
        pair.asink.drain(Duration::from_millis(300)).await;
        match e {
            Exit::Code(0) => pair
                .asink
                .status(Status::Success, "Exited App successfully"),
            Exit::Code(c) => pair.asink.status(
                Status::Failure,
                &format!("The App process exited with error code: exit status {c}"),
            ),
            Exit::Signal(s) => pair.asink.status(
                Status::Failure,
                &format!(
                    "The App process was terminated by signal: {}",
                    process::signal_name(s)
                ),
            ),
        }
    }
    if !pair.daprd.done
        && let Ok(Some(st)) = pair.daprd.child.try_wait()
    {
        pair.daprd.done = true;
        match Exit::from_status(st) {
            Exit::Code(0) => pair
                .dsink
                .status(Status::Success, "Exited Dapr successfully"),
            e => pair.dsink.status(
                Status::Failure,
                &format!("The daprd process exited with error code: {}", exit_text(e)),
            ),
        }
    }
}

/// Start one app and its sidecar. `Ok(None)`: a stop signal arrived while waiting.
async fn start_app(
    sup: &mut Supervisor,
    spec: &AppSpec,
    prepared: Prepared,
    template: &Template,
    home_logs: Option<&Path>,
) -> Result<Option<Pair>, String> {
    let r = sup.reporter.clone();
    let id = &spec.app_id;
    let log_dir = spec.app_dir.join(".dapr").join("logs");
    let ts = super::log_timestamp();
    let open = |kind: &str| -> Result<LogFile, String> {
        let p = log_dir.join(format!("{id}_{kind}_{ts}.log"));
        let f = LogFile::create(&p)
            .map_err(|e| format!("error creating log file {}: {e}", p.display()))?;
        // A link in `<dapr dir>/logs` lets `dapr logs` find the file after the run ends.
        if let Some(h) = home_logs
            && std::fs::create_dir_all(h).is_ok()
        {
            let link = h.join(format!("{id}_{kind}_{ts}.log"));
            let _ = std::fs::remove_file(&link);
            let _ = std::os::unix::fs::symlink(&p, &link);
            logs::prune(h, id, logs::KEEP_SINGLE_RUN_LOGS);
        }
        Ok(f)
    };
    let dfile = if spec.daprd_log.file() {
        Some(open("daprd")?)
    } else {
        None
    };
    let afile = if spec.app_log.file() && spec.command.is_some() {
        Some(open("app")?)
    } else {
        None
    };
    let json = r.log_as_json();
    let dsink = Sink::new(
        dfile.clone(),
        spec.daprd_log.console().then(|| r.clone()),
        String::new(),
    )
    .json(json)
    .stdout_only();
    let asink = Sink::new(
        afile.clone(),
        spec.app_log.console().then(|| r.clone()),
        format!("== APP - {id} == "),
    )
    .json(json)
    .stdout_only();
    let fail = |msg: String| {
        dsink.status(
            Status::Failure,
            &format!("Error starting Dapr and app (\"{id}\"): {msg}"),
        );
        msg
    };

    let mut denv: Vec<(String, String)> = Vec::new();
    if std::env::var_os("DAPR_HOST_IP").is_none() {
        denv.push(("DAPR_HOST_IP".into(), "127.0.0.1".into()));
    }
    let mut daprd = sup
        .start_daprd(&prepared, &dsink, Some(&spec.app_dir), &denv)
        .await
        .map_err(&fail)?;

    match sup
        .wait_ready(&prepared.endpoint, &mut daprd, READY_TIMEOUT)
        .await
    {
        Readiness::Ready => {}
        Readiness::TimedOut => {
            dsink.status(
                Status::Warning,
                &format!(
                    "Dapr sidecar is not listening on HTTP port: {}",
                    prepared.http_port
                ),
            );
            dsink.status(Status::Warning, "Dapr sidecar might not be responding.");
        }
        Readiness::Exited(e) => {
            return Err(fail(format!(
                "daprd exited before it was ready: {}",
                exit_text(e)
            )));
        }
        Readiness::Interrupted => {
            dsink.status(Status::Info, "termination signal received: shutting down");
            let _ = process::stop_group(&mut daprd.child, daprd.pid, super::GRACE).await;
            dsink.status(Status::Success, "Exited Dapr successfully");
            return Ok(None);
        }
    }

    let mut app: Option<App> = None;
    match &spec.command {
        None => r.status(
            Status::Warning,
            &format!(
                "No application command found for app \"{id}\" present in {}",
                template.path.display()
            ),
        ),
        Some(cmd) => {
            let started = if cmd[0].trim().is_empty() {
                Err("exec: no command".to_string())
            } else {
                // Through `sh` so that the command is looked up from the app's directory.
                let mut args: Vec<String> = vec!["-c".into(), "exec \"$@\"".into(), "sh".into()];
                args.extend(cmd.iter().cloned());
                sup.start_app(
                    Path::new("/bin/sh"),
                    &args,
                    &prepared,
                    &asink,
                    Some(&spec.app_dir),
                    Stdio::null(),
                )
                .await
                .map_err(|e| process::go_io_error(&e))
            };
            match started {
                Ok(a) => app = Some(a),
                Err(msg) => {
                    asink.status(
                        Status::Failure,
                        &format!("Error starting app process: {msg}"),
                    );
                    let _ = process::stop_group(&mut daprd.child, daprd.pid, super::GRACE).await;
                    return Err(fail(msg));
                }
            }
        }
    }

    let mut meta: Vec<(&str, String)> = vec![
        ("cliPID", std::process::id().to_string()),
        ("runTemplatePath", template.path.display().to_string()),
        ("runTemplateName", template.name.clone()),
    ];
    if let Some(f) = &afile {
        meta.push(("appLogPath", f.path.display().to_string()));
    }
    if let Some(f) = &dfile {
        meta.push(("daprdLogPath", f.path.display().to_string()));
    }
    if let Some(a) = &app {
        meta.push((
            "appCommand",
            spec.command.clone().unwrap_or_default().join(" "),
        ));
        meta.push(("appPID", a.pid.to_string()));
    }
    for (k, v) in meta {
        // The official CLI announces these three (to the daprd log) before storing them.
        match k {
            "cliPID" => dsink.status(Status::Info, &format!("Updating metadata for cliPID: {v}")),
            "appPID" => dsink.status(Status::Info, &format!("Updating metadata for appPID: {v}")),
            "appCommand" => dsink.status(
                Status::Info,
                &format!("Updating metadata for app command: {v}"),
            ),
            _ => {}
        }
        store_metadata(&prepared.endpoint, k, &v, |msg| {
            dsink.status(Status::Warning, msg)
        })
        .await;
    }
    dsink.status(
        Status::Success,
        "You're up and running! Dapr logs will appear here.",
    );

    Ok(Some(Pair {
        prepared,
        daprd,
        app,
        dsink,
        asink,
    }))
}

/// Stop every started app: its process group first (so it can still use its sidecar),
/// then its sidecar; all apps in parallel. `announce`: print the official shutdown line.
/// A second stop signal during the graceful stop SIGKILLs everything at once.
async fn teardown(sup: &mut Supervisor, running: &mut [Pair], announce: bool) {
    if announce {
        // A blank line, then the official line, both on stdout.
        sup.reporter.line(Stream::Stdout, "");
        sup.reporter.status(
            Status::Info,
            "Received signal to stop Dapr and app processes. Shutting down Dapr and app processes.",
        );
    }
    let groups: Vec<u32> = running.iter().flat_map(Pair::groups).collect();
    let stops = running.iter_mut().map(|pair| async move {
        pair.dsink
            .status(Status::Info, "termination signal received: shutting down");
        // The app's own log gets the line too, unless both only go to the console (one
        // writer there), as the official CLI does.
        if pair.app.is_some() && (pair.asink.file.is_some() || pair.dsink.file.is_some()) {
            pair.asink
                .status(Status::Info, "termination signal received: shutting down");
        }
        if let Some(app) = pair.app.as_mut() {
            let (end, _) = app.stop(&pair.asink).await;
            match app.exit.or(end) {
                Some(Exit::Code(c)) if c != 0 => pair.asink.status(
                    Status::Failure,
                    &format!("Error exiting App: exit status {c}"),
                ),
                _ => pair
                    .dsink
                    .status(Status::Success, "Exited App successfully"),
            }
        }
        pair.daprd.stop(&pair.dsink).await;
        pair.dsink
            .status(Status::Success, "Exited Dapr successfully");
        super::cleanup_sockets(&pair.prepared);
    });
    sup.guard_teardown(groups, futures_util::future::join_all(stops))
        .await;
}

//! Multi-app run templates (`dapr run -f <file|dir|->`): the official schema (`version`,
//! `name`, `common`, `apps`), its path resolution and precedence rules, and the supervisor
//! that starts every app with its sidecar, writes `<appDirPath>/.dapr/logs/<id>_{app,daprd}_<ts>.log`,
//! prefixes app output with `== APP - <id> == `, and tears everything down on SIGINT/SIGTERM.
//!
//! Limits: an app or sidecar that exits does not end the run (as in the official CLI); only a
//! signal does. Kubernetes keys (`containerImage`, ...) are validated but not used here.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Child;

use super::process::{self, Console, Exit, LogFile, Note, Sink};
use super::run::{self, Prepared, Readiness, RunConfig, StopSignals};
use crate::home::DaprHome;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("file {0:?} is not a YAML file")]
    NotYaml(String),
    #[error("stat {path}: {reason}")]
    Stat { path: String, reason: String },
    #[error("error reading {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("error parsing {path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("required field 'version' not found in the provided run template file")]
    NoVersion,
    #[error("required field 'appDirPath' not found in the provided app config file")]
    NoAppDir,
    #[error("invalid log destination type: {0}")]
    LogDestination(String),
    #[error("invalid containerImagePullPolicy: {0}, allowed values: Always, Never, IfNotPresent")]
    PullPolicy(String),
    #[error("duplicate appID {0:?}: every app of a run template needs its own id")]
    DuplicateAppId(String),
    #[error("could not determine the home directory")]
    NoHome,
}

/// Keys allowed both in `common` and in each app; in `apps` also the app-only keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Entry {
    pub config_file_path: String,
    pub app_protocol: String,
    pub api_listen_addresses: String,
    pub enable_profiling: bool,
    pub log_level: String,
    pub app_max_concurrency: i32,
    pub placement_host_address: String,
    pub scheduler_host_address: String,
    pub resources_path: String,
    pub resources_paths: Vec<String>,
    #[serde(rename = "appSSL")]
    pub app_ssl: bool,
    pub max_body_size: String,
    pub read_buffer_size: String,
    pub enable_app_health_check: bool,
    pub app_health_check_path: String,
    pub app_health_probe_interval: i32,
    pub app_health_probe_timeout: i32,
    pub app_health_threshold: i32,
    pub enable_api_logging: bool,
    pub runtime_path: String,
    pub env: BTreeMap<String, EnvValue>,
    pub daprd_log_destination: String,
    pub app_log_destination: String,
    #[serde(rename = "componentspath")]
    pub components_path: String,
    // App-only keys.
    pub app_dir_path: String,
    #[serde(rename = "appID")]
    pub app_id: String,
    pub app_channel_address: String,
    pub app_port: i32,
    #[serde(rename = "daprHTTPPort")]
    pub dapr_http_port: i32,
    #[serde(rename = "daprGRPCPort")]
    pub dapr_grpc_port: i32,
    #[serde(rename = "daprInternalGRPCPort")]
    pub dapr_internal_grpc_port: i32,
    pub metrics_port: i32,
    pub profile_port: i32,
    pub unix_domain_socket: String,
    pub command: Option<Vec<String>>,
    pub container_image: String,
    pub container_image_pull_policy: String,
    pub create_service: bool,
}

/// An `env:` value; YAML numbers and booleans are accepted and passed as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EnvValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl EnvValue {
    fn text(&self) -> String {
        match self {
            EnvValue::Text(s) => s.clone(),
            EnvValue::Int(i) => i.to_string(),
            EnvValue::Float(f) => f.to_string(),
            EnvValue::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawTemplate {
    version: i64,
    name: String,
    common: Entry,
    apps: Vec<Entry>,
}

/// Where a log stream goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Console,
    File,
    FileAndConsole,
}

impl Destination {
    fn parse(v: &str, default: Destination) -> Result<Destination, TemplateError> {
        match v {
            "" => Ok(default),
            "console" => Ok(Destination::Console),
            "file" => Ok(Destination::File),
            "fileAndConsole" => Ok(Destination::FileAndConsole),
            other => Err(TemplateError::LogDestination(other.to_string())),
        }
    }
    fn file(self) -> bool {
        self != Destination::Console
    }
    fn console(self) -> bool {
        self != Destination::File
    }
}

/// One app of a template, fully resolved.
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub app_id: String,
    pub app_dir: PathBuf,
    /// `<dapr dir>` for this app (where `bin/daprd` is).
    pub dapr_dir: PathBuf,
    pub run: RunConfig,
    /// `None` = no `command:` key (sidecar only).
    pub command: Option<Vec<String>>,
    pub app_log: Destination,
    pub daprd_log: Destination,
}

/// A loaded template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Absolute path of the template file (`runTemplatePath`); `<cwd>/-` when read from stdin.
    pub path: PathBuf,
    pub name: String,
    pub apps: Vec<AppSpec>,
}

/// Resolve `-f <arg>` to a template file: a `.yaml`/`.yml` file, or a directory holding
/// `dapr.yaml`. Returns an absolute path.
pub fn resolve_path(arg: &str) -> Result<PathBuf, TemplateError> {
    let p = absolute(Path::new(&expand_home(arg)));
    if stat(&p)?.is_dir() {
        let f = p.join("dapr.yaml");
        stat(&f)?;
        return Ok(f);
    }
    match p.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => Ok(p),
        _ => Err(TemplateError::NotYaml(p.display().to_string())),
    }
}

/// `p`'s metadata, or a `stat <path>: <reason>` error (Go wording).
fn stat(p: &Path) -> Result<std::fs::Metadata, TemplateError> {
    std::fs::metadata(p).map_err(|e| TemplateError::Stat {
        path: p.display().to_string(),
        reason: process::go_io_error(&e),
    })
}

fn absolute(p: &Path) -> PathBuf {
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    // Lexically drop `.` and `..` so the path matches what `dapr stop -f` computes.
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(h)) => h.join(rest).display().to_string(),
        _ => p.to_string(),
    }
}

/// Resolve a path from the template relative to `base`; it must exist.
fn existing(base: &Path, p: &str) -> Result<PathBuf, TemplateError> {
    let abs = absolute(&base.join(expand_home(p)));
    stat(&abs)?;
    Ok(abs)
}

/// Load the template at `file`, as [`resolve_path`] returned it; `None` (`-f -`) reads
/// stdin, and relative paths then resolve against the current directory.
pub fn load(file: Option<&Path>) -> Result<Template, TemplateError> {
    let (path, text, base) = if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| TemplateError::Read {
            path: path.display().to_string(),
            reason: process::go_io_error(&e),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (path.to_path_buf(), text, base)
    } else {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
            TemplateError::Read {
                path: "stdin".into(),
                reason: e.to_string(),
            }
        })?;
        let cwd = std::env::current_dir().unwrap_or_default();
        (cwd.join("-"), s, cwd)
    };
    parse(&path, &text, &base)
}

/// Parse and resolve a template's text; `base` is the directory relative paths start from.
pub fn parse(path: &Path, text: &str, base: &Path) -> Result<Template, TemplateError> {
    let raw: RawTemplate = if text.trim().is_empty() {
        RawTemplate::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| TemplateError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?
    };
    if raw.version == 0 {
        return Err(TemplateError::NoVersion);
    }
    let common = &raw.common;
    let common_resources: Vec<PathBuf> = common
        .resources_paths
        .iter()
        .chain(Some(&common.resources_path).filter(|s| !s.is_empty()))
        .map(|p| existing(base, p))
        .collect::<Result<_, _>>()?;
    let common_config = match common.config_file_path.as_str() {
        "" => None,
        p => Some(existing(base, p)?),
    };
    let mut apps = Vec::new();
    for a in &raw.apps {
        if a.app_dir_path.is_empty() {
            return Err(TemplateError::NoAppDir);
        }
        let app_dir = existing(base, &a.app_dir_path)?;
        if !a.container_image_pull_policy.is_empty()
            && !["Always", "Never", "IfNotPresent"]
                .contains(&a.container_image_pull_policy.as_str())
        {
            return Err(TemplateError::PullPolicy(
                a.container_image_pull_policy.clone(),
            ));
        }
        let runtime_path = first(&a.runtime_path, &common.runtime_path);
        let dapr_dir = if runtime_path.is_empty() {
            DaprHome::resolve(None)
                .map_err(|_| TemplateError::NoHome)?
                .root()
                .to_path_buf()
        } else {
            absolute(&base.join(expand_home(runtime_path))).join(".dapr")
        };

        let mut resources: Vec<PathBuf> = a
            .resources_paths
            .iter()
            .chain(Some(&a.resources_path).filter(|s| !s.is_empty()))
            .map(|p| existing(&app_dir, p))
            .collect::<Result<_, _>>()?;
        let local_resources = app_dir.join(".dapr").join("resources");
        if resources.is_empty() && local_resources.is_dir() {
            resources.push(local_resources);
        }
        if resources.is_empty() {
            resources = common_resources.clone();
        }
        let components_path = first(&a.components_path, &common.components_path);
        if resources.is_empty() && !components_path.is_empty() {
            resources.push(existing(&app_dir, components_path)?);
        }
        if resources.is_empty() {
            resources.push(dapr_dir.join("components"));
        }
        let local_config = app_dir.join(".dapr").join("config.yaml");
        let config = match a.config_file_path.as_str() {
            "" if local_config.is_file() => Some(local_config),
            "" => common_config.clone(),
            p => Some(existing(&app_dir, p)?),
        };

        let mut env: Vec<(String, String)> =
            a.env.iter().map(|(k, v)| (k.clone(), v.text())).collect();
        for (k, v) in &common.env {
            if !a.env.contains_key(k) {
                env.push((k.clone(), v.text()));
            }
        }

        let app_id = if a.app_id.is_empty() {
            app_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            a.app_id.clone()
        };
        let int = |x: i32, y: i32| if x != 0 { x } else { y };
        let port = |x: i32| if x > 0 { x } else { -1 };
        let d = RunConfig::default();
        let or_default = |v: &str, dflt: &str| {
            if v.is_empty() {
                dflt.to_string()
            } else {
                v.to_string()
            }
        };
        let opt_addr = |v: &str| {
            if v.is_empty() {
                None
            } else {
                Some(v.to_string())
            }
        };
        let run = RunConfig {
            app_id: app_id.clone(),
            app_port: port(a.app_port),
            app_channel_address: or_default(&a.app_channel_address, "127.0.0.1"),
            app_protocol: or_default(
                first(&a.app_protocol, &common.app_protocol),
                &d.app_protocol,
            ),
            http_port: port(a.dapr_http_port),
            grpc_port: port(a.dapr_grpc_port),
            internal_grpc_port: port(a.dapr_internal_grpc_port),
            metrics_port: port(a.metrics_port),
            profile_port: port(a.profile_port),
            enable_profiling: a.enable_profiling || common.enable_profiling,
            log_level: or_default(first(&a.log_level, &common.log_level), &d.log_level),
            app_max_concurrency: int(a.app_max_concurrency, common.app_max_concurrency),
            config,
            resources_paths: resources,
            components_path: None,
            placement_host_address: opt_addr(first(
                &a.placement_host_address,
                &common.placement_host_address,
            )),
            // As in the official CLI, an empty scheduler address in a template means the default.
            scheduler_host_address: opt_addr(first(
                &a.scheduler_host_address,
                &common.scheduler_host_address,
            )),
            app_ssl: a.app_ssl || common.app_ssl,
            max_body_size: or_default(
                first(&a.max_body_size, &common.max_body_size),
                &d.max_body_size,
            ),
            read_buffer_size: or_default(
                first(&a.read_buffer_size, &common.read_buffer_size),
                &d.read_buffer_size,
            ),
            unix_domain_socket: match a.unix_domain_socket.as_str() {
                "" => None,
                p => Some(existing(&app_dir, p)?),
            },
            enable_app_health_check: a.enable_app_health_check || common.enable_app_health_check,
            app_health_check_path: first(&a.app_health_check_path, &common.app_health_check_path)
                .to_string(),
            app_health_probe_interval: int(
                a.app_health_probe_interval,
                common.app_health_probe_interval,
            ),
            app_health_probe_timeout: int(
                a.app_health_probe_timeout,
                common.app_health_probe_timeout,
            ),
            app_health_threshold: int(a.app_health_threshold, common.app_health_threshold),
            enable_api_logging: a.enable_api_logging || common.enable_api_logging,
            dapr_listen_addresses: first(&a.api_listen_addresses, &common.api_listen_addresses)
                .to_string(),
            log_as_json: false,
            command: a.command.clone().unwrap_or_default(),
            env,
        };
        apps.push(AppSpec {
            app_id,
            app_dir,
            dapr_dir,
            run,
            command: a.command.clone().filter(|c| !c.is_empty()),
            app_log: Destination::parse(
                first(&a.app_log_destination, &common.app_log_destination),
                Destination::FileAndConsole,
            )?,
            daprd_log: Destination::parse(
                first(&a.daprd_log_destination, &common.daprd_log_destination),
                Destination::File,
            )?,
        });
    }
    for (i, a) in apps.iter().enumerate() {
        if apps[..i].iter().any(|b| b.app_id == a.app_id) {
            return Err(TemplateError::DuplicateAppId(a.app_id.clone()));
        }
    }
    Ok(Template {
        path: path.to_path_buf(),
        name: raw.name,
        apps,
    })
}

fn first<'a>(app: &'a str, common: &'a str) -> &'a str {
    if app.is_empty() { common } else { app }
}

/// One started app.
struct Running {
    prepared: Prepared,
    daprd: Child,
    daprd_pid: u32,
    daprd_done: bool,
    app: Option<(Child, u32)>,
    app_exit: Option<Exit>,
    dsink: Sink,
    asink: Sink,
}

/// `dapr run -f`: start every app of the template and supervise them until a stop signal.
/// Returns the CLI's exit code.
pub async fn run_file(arg: &str, console: Arc<dyn Console>, log_as_json: bool) -> i32 {
    let mut watchdog = process::Watchdog::spawn();
    let code = supervise(arg, console, log_as_json, &mut watchdog).await;
    process::Watchdog::disarm_any(watchdog).await;
    code
}

async fn supervise(
    arg: &str,
    console: Arc<dyn Console>,
    log_as_json: bool,
    watchdog: &mut Option<process::Watchdog>,
) -> i32 {
    // `dapr stop -f` signals the CLI's process group; become its leader unless we are the
    // foreground job of a terminal (then the shell already made us one, and Ctrl-C must reach us).
    if !std::io::stdin().is_terminal() {
        let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
    }
    let Some(mut signals) = StopSignals::register_or_report(&*console) else {
        return 1;
    };
    // A path that names no template is reported as the official CLI does, before loading.
    let file = if arg == "-" {
        None
    } else {
        match resolve_path(arg) {
            Ok(path) => Some(path),
            Err(e) => {
                console.note(Note::Failure, &format!("Failed to get run file path: {e}"));
                return 1;
            }
        }
    };
    let template = match load(file.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            console.note(
                Note::Failure,
                &format!("Error getting apps from config file: {e}"),
            );
            return 1;
        }
    };
    if template.apps.is_empty() {
        console.note(Note::Failure, "No apps to run");
        return 1;
    }
    let file = template.path.display().to_string();
    let home_logs = DaprHome::resolve(None).ok().map(|h| h.root().join("logs"));
    let mut running: Vec<Running> = Vec::new();

    for spec in &template.apps {
        let id = spec.app_id.clone();
        console.note(
            Note::Info,
            &format!("Validating config and starting app \"{id}\""),
        );
        let mut cfg = spec.run.clone();
        cfg.log_as_json = log_as_json;
        // The instance scan only matters for explicit ports (the app id is always set here).
        let others = if cfg.has_explicit_port() {
            super::instances::scan()
        } else {
            Vec::new()
        };
        let prepared = match run::prepare(&cfg, &spec.dapr_dir, &others) {
            Ok(p) => p,
            Err(e) => {
                console.note(
                    Note::Failure,
                    &format!("Error validating run config for app \"{id}\" present in {file}: {e}"),
                );
                teardown(&mut running, &*console, false, None).await;
                return 1;
            }
        };
        match start_app(
            spec,
            prepared,
            &template,
            &console,
            home_logs.as_deref(),
            &mut signals,
            watchdog,
        )
        .await
        {
            Ok(Some(r)) => {
                console.note(
                    Note::Info,
                    &format!(
                        "Started Dapr with app id \"{id}\". HTTP Port: {}. gRPC Port: {}",
                        r.prepared.http_port, r.prepared.grpc_port
                    ),
                );
                console.note(
                    Note::Info,
                    &format!(
                        "Writing log files to directory : {}",
                        spec.app_dir.join(".dapr").join("logs").display()
                    ),
                );
                running.push(r);
            }
            Ok(None) => {
                teardown(&mut running, &*console, true, Some(&mut signals)).await;
                return 0;
            }
            Err(msg) => {
                console.note(
                    Note::Failure,
                    &format!("Error starting Dapr and app (\"{id}\"): {msg}"),
                );
                teardown(&mut running, &*console, false, None).await;
                return 1;
            }
        }
    }

    loop {
        tokio::select! {
            _ = signals.recv() => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        for r in &mut running {
            if let Some((child, _)) = r.app.as_mut()
                && r.app_exit.is_none()
                && let Ok(Some(st)) = child.try_wait()
            {
                let e = Exit::from_status(st);
                r.app_exit = Some(e);
                r.asink.drain(Duration::from_millis(300)).await;
                match e {
                    Exit::Code(0) => r.asink.status(Note::Success, "Exited App successfully"),
                    Exit::Code(c) => r.asink.status(
                        Note::Failure,
                        &format!("The App process exited with error code: exit status {c}"),
                    ),
                    Exit::Signal(s) => r.asink.status(
                        Note::Failure,
                        &format!(
                            "The App process was terminated by signal: {}",
                            process::signal_name(s)
                        ),
                    ),
                }
            }
            if !r.daprd_done
                && let Ok(Some(st)) = r.daprd.try_wait()
            {
                r.daprd_done = true;
                match Exit::from_status(st) {
                    Exit::Code(0) => r.dsink.status(Note::Success, "Exited Dapr successfully"),
                    e => r.dsink.status(
                        Note::Failure,
                        &format!(
                            "The daprd process exited with error code: {}",
                            run::exit_text(e)
                        ),
                    ),
                }
            }
        }
    }
    teardown(&mut running, &*console, true, Some(&mut signals)).await;
    0
}

/// Start one app and its sidecar. `Ok(None)`: a stop signal arrived while waiting.
async fn start_app(
    spec: &AppSpec,
    prepared: Prepared,
    template: &Template,
    console: &Arc<dyn Console>,
    home_logs: Option<&Path>,
    signals: &mut StopSignals,
    watchdog: &mut Option<process::Watchdog>,
) -> Result<Option<Running>, String> {
    let id = &spec.app_id;
    let log_dir = spec.app_dir.join(".dapr").join("logs");
    let ts = run::log_timestamp();
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
            super::logs::prune(h, id, super::logs::KEEP_SINGLE_RUN_LOGS);
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
    let json = console.log_as_json();
    let dsink = Sink::new(
        dfile.clone(),
        spec.daprd_log.console().then(|| console.clone()),
        String::new(),
    )
    .json(json);
    let asink = Sink::new(
        afile.clone(),
        spec.app_log.console().then(|| console.clone()),
        format!("== APP - {id} == "),
    )
    .json(json);
    let fail = |msg: String| {
        dsink.status(
            Note::Failure,
            &format!("Error starting Dapr and app (\"{id}\"): {msg}"),
        );
        msg
    };

    let mut denv: Vec<(String, String)> = Vec::new();
    if std::env::var_os("DAPR_HOST_IP").is_none() {
        denv.push(("DAPR_HOST_IP".into(), "127.0.0.1".into()));
    }
    let mut daprd =
        run::spawn_daprd(&prepared, &dsink, Some(&spec.app_dir), &denv).map_err(&fail)?;
    let daprd_pid = daprd.id().unwrap_or(0);
    if let Some(w) = watchdog.as_mut() {
        w.watch(daprd_pid).await;
    }

    match run::wait_ready(
        &prepared.endpoint,
        &mut daprd,
        Some(signals),
        run::READY_TIMEOUT,
    )
    .await
    {
        Readiness::Ready => {}
        Readiness::TimedOut => {
            dsink.status(
                Note::Warning,
                &format!(
                    "Dapr sidecar is not listening on HTTP port: {}",
                    prepared.http_port
                ),
            );
            dsink.status(Note::Warning, "Dapr sidecar might not be responding.");
        }
        Readiness::Exited(e) => {
            return Err(fail(format!(
                "daprd exited before it was ready: {}",
                run::exit_text(e)
            )));
        }
        Readiness::Interrupted => {
            dsink.status(Note::Info, "termination signal received: shutting down");
            let _ = process::stop_group(&mut daprd, daprd_pid, run::GRACE).await;
            dsink.status(Note::Success, "Exited Dapr successfully");
            return Ok(None);
        }
    }

    let mut app = None;
    match &spec.command {
        None => console.note(
            Note::Warning,
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
                run::spawn_app(
                    Path::new("/bin/sh"),
                    &args,
                    &prepared,
                    &asink,
                    Some(&spec.app_dir),
                    Stdio::null(),
                )
                .map_err(|e| process::go_io_error(&e))
            };
            match started {
                Ok(child) => app = Some(run::watched(child, watchdog).await),
                Err(msg) => {
                    asink.status(Note::Failure, &format!("Error starting app process: {msg}"));
                    let _ = process::stop_group(&mut daprd, daprd_pid, run::GRACE).await;
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
    if let Some((_, pid)) = &app {
        meta.push((
            "appCommand",
            spec.command.clone().unwrap_or_default().join(" "),
        ));
        meta.push(("appPID", pid.to_string()));
    }
    for (k, v) in meta {
        // The official CLI announces these three (to the daprd log) before storing them.
        match k {
            "cliPID" => dsink.status(Note::Info, &format!("Updating metadata for cliPID: {v}")),
            "appPID" => dsink.status(Note::Info, &format!("Updating metadata for appPID: {v}")),
            "appCommand" => dsink.status(
                Note::Info,
                &format!("Updating metadata for app command: {v}"),
            ),
            _ => {}
        }
        run::store_metadata(&prepared.endpoint, k, &v, |msg| {
            dsink.status(Note::Warning, msg)
        })
        .await;
    }
    dsink.status(
        Note::Success,
        "You're up and running! Dapr logs will appear here.",
    );

    Ok(Some(Running {
        prepared,
        daprd,
        daprd_pid,
        daprd_done: false,
        app,
        app_exit: None,
        dsink,
        asink,
    }))
}

/// Stop every started app: its process group first (so it can still use its sidecar),
/// then its sidecar; all apps in parallel. `announce`: print the official shutdown line.
/// A second stop signal (`signals`) during the graceful stop SIGKILLs everything at once.
async fn teardown(
    running: &mut [Running],
    console: &dyn Console,
    announce: bool,
    signals: Option<&mut StopSignals>,
) {
    if announce {
        console.plain("");
        console.note(
            Note::Info,
            "Received signal to stop Dapr and app processes. Shutting down Dapr and app processes.",
        );
    }
    let pgids: Vec<u32> = running
        .iter()
        .flat_map(|r| {
            r.app
                .as_ref()
                .map(|(_, pid)| *pid)
                .into_iter()
                .chain([r.daprd_pid])
        })
        .collect();
    let stops = running.iter_mut().map(|r| async move {
        r.dsink
            .status(Note::Info, "termination signal received: shutting down");
        // The app's own log gets the line too, unless both only go to the console (one
        // writer there), as the official CLI does.
        if r.app.is_some() && (r.asink.file.is_some() || r.dsink.file.is_some()) {
            r.asink
                .status(Note::Info, "termination signal received: shutting down");
        }
        if let Some((child, pid)) = r.app.as_mut() {
            let pid = *pid;
            let end = process::stop_group(child, pid, run::GRACE).await;
            r.asink.drain(Duration::from_secs(1)).await;
            match r.app_exit.or(end) {
                Some(Exit::Code(c)) if c != 0 => r.asink.status(
                    Note::Failure,
                    &format!("Error exiting App: exit status {c}"),
                ),
                _ => r.dsink.status(Note::Success, "Exited App successfully"),
            }
        }
        if !r.daprd_done {
            let pid = r.daprd_pid;
            let _ = process::stop_group(&mut r.daprd, pid, run::GRACE).await;
            r.daprd_done = true;
        }
        r.dsink.drain(Duration::from_secs(1)).await;
        r.dsink.status(Note::Success, "Exited Dapr successfully");
        run::cleanup_sockets(&r.prepared);
    });
    let all = futures_util::future::join_all(stops);
    tokio::pin!(all);
    match signals {
        Some(sig) => tokio::select! {
            _ = &mut all => {}
            _ = sig.recv() => {
                run::force_kill(pgids);
                all.await;
            }
        },
        None => {
            all.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for p in [
            "webapp/resources",
            "backend/.dapr/resources",
            "resources",
            "rt/.dapr",
        ] {
            std::fs::create_dir_all(d.path().join(p)).unwrap();
        }
        std::fs::write(d.path().join("backend/.dapr/config.yaml"), "").unwrap();
        std::fs::write(d.path().join("config.yaml"), "").unwrap();
        d
    }

    const TEMPLATE: &str = "version: 1\nname: t\ncommon:\n  resourcesPath: ./resources\n  configFilePath: ./config.yaml\n  runtimePath: ./rt\n  logLevel: debug\n  env:\n    DEBUG: common\n    tty: sh\napps:\n  - appDirPath: ./webapp/\n    resourcesPaths: [./resources]\n    appPort: 8080\n    env:\n      DEBUG: app\n      PORT: 8080\n    command: [python3, app.py]\n  - appID: be\n    appDirPath: ./backend/\n    logLevel: warn\n    appLogDestination: file\n    daprdLogDestination: fileAndConsole\n";

    #[test]
    fn precedence_follows_the_official_rules() {
        let d = layout();
        let base = d.path();
        let t = parse(&base.join("dapr.yaml"), TEMPLATE, base).unwrap();
        assert_eq!(t.name, "t");
        let (web, be) = (&t.apps[0], &t.apps[1]);
        assert_eq!(web.app_id, "webapp", "appID defaults to the directory name");
        assert_eq!(web.run.resources_paths, [base.join("webapp/resources")]);
        assert_eq!(
            web.run.config,
            Some(base.join("config.yaml")),
            "common config applies"
        );
        assert_eq!(web.run.log_level, "debug");
        assert_eq!(web.run.app_port, 8080);
        assert_eq!(web.dapr_dir, base.join("rt/.dapr"));
        let env: BTreeMap<_, _> = web.run.env.iter().cloned().collect();
        assert_eq!(env["DEBUG"], "app");
        assert_eq!(env["tty"], "sh");
        assert_eq!(env["PORT"], "8080");
        assert_eq!(web.app_log, Destination::FileAndConsole);
        assert_eq!(web.daprd_log, Destination::File);

        assert_eq!(be.app_id, "be");
        assert_eq!(
            be.run.resources_paths,
            [base.join("backend/.dapr/resources")]
        );
        assert_eq!(be.run.config, Some(base.join("backend/.dapr/config.yaml")));
        assert_eq!(be.run.log_level, "warn");
        assert_eq!(be.run.app_port, -1);
        assert!(be.command.is_none());
        assert_eq!(be.app_log, Destination::File);
        assert_eq!(be.daprd_log, Destination::FileAndConsole);
    }

    #[test]
    fn errors_name_the_problem() {
        let d = layout();
        let base = d.path();
        let p = base.join("dapr.yaml");
        let err = |text: &str| parse(&p, text, base).unwrap_err().to_string();
        assert!(err("apps: []\n").contains("required field 'version'"));
        assert!(err("version: 1\napps:\n  - appID: x\n").contains("required field 'appDirPath'"));
        assert!(
            err("version: 1\napps:\n  - appDirPath: ./nope\n")
                .contains("nope: no such file or directory")
        );
        assert!(
            err("version: 1\napps:\n  - appDirPath: ./webapp\n    containerImagePullPolicy: Sometimes\n")
                .contains("invalid containerImagePullPolicy: Sometimes")
        );
        assert!(err("version: [1\n").contains("error parsing"));
        assert!(
            err("version: 1\napps:\n  - appDirPath: ./webapp\n  - appDirPath: ./backend\n    appID: webapp\n")
                .contains("duplicate appID \"webapp\"")
        );
        std::fs::write(base.join("x.txt"), "").unwrap();
        assert!(matches!(
            resolve_path(&base.join("x.txt").display().to_string()),
            Err(TemplateError::NotYaml(_))
        ));
        assert_eq!(
            resolve_path(&base.display().to_string()).ok(),
            None,
            "a directory needs dapr.yaml"
        );
        std::fs::write(&p, "version: 1\n").unwrap();
        assert_eq!(resolve_path(&base.display().to_string()).unwrap(), p);
    }
}

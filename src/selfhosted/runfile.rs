//! Multi-app run templates (`dapr run -f <file|dir|->`): the official schema (`version`,
//! `name`, `common`, `apps`), its path resolution and precedence rules, turned into one
//! `RunConfig` per app. Running them is `supervisor::multi`'s job.
//!
//! Limits: Kubernetes keys (`containerImage`, ...) are validated but not used here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::process;
use super::run::RunConfig;
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
    /// Whether this destination writes a log file.
    pub fn file(self) -> bool {
        self != Destination::Console
    }
    /// Whether this destination shows on the console.
    pub fn console(self) -> bool {
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

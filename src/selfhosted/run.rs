//! What `dapr run` runs: turns the run flags (or one app of a run template) into a daprd
//! command line and an app environment exactly as the official CLI does (ports, defaults,
//! argument order). Starting and supervising the processes is `supervisor`'s job.
//!
//! Limits: the scheduler version check of the official CLI is not done (our daprd always
//! accepts `--scheduler-host-address`).

use std::path::{Path, PathBuf};

use super::client::Target;
use super::instances::Sidecar;
use super::process;

/// Everything a run needs, with the official defaults (`-1` = pick a free port).
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub app_id: String,
    pub app_port: i32,
    pub app_channel_address: String,
    pub app_protocol: String,
    pub http_port: i32,
    pub grpc_port: i32,
    pub internal_grpc_port: i32,
    pub metrics_port: i32,
    pub profile_port: i32,
    pub enable_profiling: bool,
    pub log_level: String,
    pub app_max_concurrency: i32,
    /// `--config`; `None` = `<dapr dir>/config.yaml` (skipped when that file is missing).
    pub config: Option<PathBuf>,
    pub resources_paths: Vec<PathBuf>,
    /// `--components-path`; `None` = `<dapr dir>/components`. Dropped when resources paths exist.
    pub components_path: Option<PathBuf>,
    /// `None` = `localhost:50005`; `Some("")` disables placement.
    pub placement_host_address: Option<String>,
    /// `None` = `localhost:50006`; `Some("")` disables the scheduler.
    pub scheduler_host_address: Option<String>,
    pub app_ssl: bool,
    pub max_body_size: String,
    pub read_buffer_size: String,
    pub unix_domain_socket: Option<PathBuf>,
    pub enable_app_health_check: bool,
    pub app_health_check_path: String,
    pub app_health_probe_interval: i32,
    pub app_health_probe_timeout: i32,
    pub app_health_threshold: i32,
    pub enable_api_logging: bool,
    pub dapr_listen_addresses: String,
    pub log_as_json: bool,
    /// The app command (empty = sidecar only).
    pub command: Vec<String>,
    /// Extra app environment (run files), applied after the standard variables.
    pub env: Vec<(String, String)>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            app_id: String::new(),
            app_port: -1,
            app_channel_address: "127.0.0.1".into(),
            app_protocol: "http".into(),
            http_port: -1,
            grpc_port: -1,
            internal_grpc_port: -1,
            metrics_port: -1,
            profile_port: -1,
            enable_profiling: false,
            log_level: "info".into(),
            app_max_concurrency: -1,
            config: None,
            resources_paths: Vec::new(),
            components_path: None,
            placement_host_address: None,
            scheduler_host_address: None,
            app_ssl: false,
            max_body_size: "4Mi".into(),
            read_buffer_size: "4Ki".into(),
            unix_domain_socket: None,
            enable_app_health_check: false,
            app_health_check_path: String::new(),
            app_health_probe_interval: 0,
            app_health_probe_timeout: 0,
            app_health_threshold: 0,
            enable_api_logging: false,
            dapr_listen_addresses: String::new(),
            log_as_json: false,
            command: Vec::new(),
            env: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("error validating resources path \"[{list}]\" : stat {path}: {reason}")]
    ResourcesPath {
        list: String,
        path: String,
        reason: String,
    },
    #[error("invalid configuration for {name}. Port {port} is not available")]
    PortUnavailable { name: &'static str, port: i32 },
    #[error("could not find a free port: {0}")]
    NoFreePort(std::io::Error),
    #[error("invalid value {value:?} for {flag}: {reason}")]
    InvalidValue {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("error reading config file {path}: {reason}")]
    Config { path: String, reason: String },
}

/// A run ready to start: resolved ports, the daprd command line and the app environment.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub app_id: String,
    pub app_port: u16,
    pub http_port: u16,
    pub grpc_port: u16,
    pub metrics_port: u16,
    pub internal_grpc_port: u16,
    pub profile_port: i32,
    pub daprd: PathBuf,
    pub daprd_args: Vec<String>,
    pub app_env: Vec<(String, String)>,
    pub command: Vec<String>,
    /// Where the CLI talks to the sidecar (TCP port, or the HTTP socket with `-u`).
    pub endpoint: Target,
    /// Socket files the CLI removes on exit (`-u`).
    pub sockets: Vec<PathBuf>,
}

/// Validate `cfg` against the install dir `dapr_dir` and the running sidecars (ids and ports
/// come from the process table, so no sidecar is asked for its metadata), pick free ports
/// and build the daprd arguments (official order, §3.2 of the reference).
pub fn prepare(
    cfg: &RunConfig,
    dapr_dir: &Path,
    running: &[Sidecar],
) -> Result<Prepared, RunError> {
    let mut cfg = cfg.clone();
    if cfg.app_id.trim().is_empty() {
        cfg.app_id = silly_name(running);
    }
    // Resources: every path must exist; resources paths win over the components path.
    let resources: Vec<PathBuf> = if cfg.resources_paths.is_empty() {
        vec![
            cfg.components_path
                .clone()
                .unwrap_or_else(|| dapr_dir.join("components")),
        ]
    } else {
        cfg.resources_paths.clone()
    };
    for p in &resources {
        if let Err(e) = std::fs::metadata(p) {
            let list = resources
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ");
            return Err(RunError::ResourcesPath {
                list,
                path: p.display().to_string(),
                reason: process::go_io_error(&e),
            });
        }
    }

    let app_port = cfg.app_port.max(0) as u16;
    let mut held = Vec::new();
    let mut pick = |name: &'static str, want: i32| -> Result<u16, RunError> {
        if want > 0 {
            let taken = running
                .iter()
                .any(|i| [i.app_port, i.http_port, i.grpc_port].contains(&(want as u16)));
            if want > u16::MAX as i32 || taken || !process::port_is_free(want as u16) {
                return Err(RunError::PortUnavailable { name, port: want });
            }
            Ok(want as u16)
        } else {
            let (port, l) = process::reserve_port().map_err(RunError::NoFreePort)?;
            held.push(l);
            Ok(port)
        }
    };
    let http_port = pick("HTTPPort", cfg.http_port)?;
    let grpc_port = pick("GRPCPort", cfg.grpc_port)?;
    let metrics_port = pick("MetricsPort", cfg.metrics_port)?;
    let internal_grpc_port = pick("InternalGRPCPort", cfg.internal_grpc_port)?;
    let profile_port = if cfg.enable_profiling {
        pick("ProfilePort", cfg.profile_port)? as i32
    } else {
        -1
    };
    drop(held);

    let max_body = normalize_quantity("--max-body-size", &cfg.max_body_size)?;
    let read_buf = normalize_quantity("--read-buffer-size", &cfg.read_buffer_size)?;
    let protocol = cfg.app_protocol.trim().to_lowercase();
    let protocol = if protocol.is_empty() {
        "http".to_string()
    } else {
        protocol
    };
    if !["http", "https", "grpc", "grpcs", "h2c"].contains(&protocol.as_str()) {
        return Err(RunError::InvalidValue {
            flag: "--app-protocol",
            value: cfg.app_protocol.clone(),
            reason: "valid values are http, https, grpc, grpcs, h2c".into(),
        });
    }

    // Config: an explicit file must be readable, which reading it for mTLS checks (daprd
    // would fail later with a vaguer message); the default one is skipped when `dapr init`
    // has not created it.
    let config = cfg
        .config
        .clone()
        .or_else(|| Some(dapr_dir.join("config.yaml")).filter(|p| p.is_file()));
    let mtls = config
        .as_deref()
        .map(config_enables_mtls)
        .transpose()?
        .unwrap_or(false);

    let mut a: Vec<String> = Vec::new();
    let push = |a: &mut Vec<String>, k: &str, v: &str| {
        a.push(k.to_string());
        a.push(v.to_string());
    };
    if let Some(c) = &config {
        push(&mut a, "--config", &c.display().to_string());
    }
    push(&mut a, "--app-protocol", &protocol);
    if !cfg.dapr_listen_addresses.is_empty() {
        push(
            &mut a,
            "--dapr-listen-addresses",
            &cfg.dapr_listen_addresses,
        );
    }
    if cfg.enable_profiling {
        a.push("--enable-profiling".into());
    }
    push(&mut a, "--log-level", &cfg.log_level);
    push(
        &mut a,
        "--app-max-concurrency",
        &(if cfg.app_max_concurrency < 1 {
            -1
        } else {
            cfg.app_max_concurrency
        })
        .to_string(),
    );
    if let Some(addr) = with_default_port(cfg.placement_host_address.as_deref(), "localhost", 50005)
    {
        push(&mut a, "--placement-host-address", &addr);
    }
    if cfg.resources_paths.is_empty() {
        push(
            &mut a,
            "--components-path",
            &resources[0].display().to_string(),
        );
    } else {
        for p in &resources {
            push(&mut a, "--resources-path", &p.display().to_string());
        }
    }
    if cfg.app_ssl {
        a.push("--app-ssl".into());
    }
    push(&mut a, "--max-body-size", &max_body);
    push(&mut a, "--read-buffer-size", &read_buf);
    if cfg.enable_app_health_check {
        a.push("--enable-app-health-check".into());
        if !cfg.app_health_check_path.is_empty() {
            push(
                &mut a,
                "--app-health-check-path",
                &cfg.app_health_check_path,
            );
        }
        for (flag, v) in [
            ("--app-health-probe-interval", cfg.app_health_probe_interval),
            ("--app-health-probe-timeout", cfg.app_health_probe_timeout),
            ("--app-health-threshold", cfg.app_health_threshold),
        ] {
            if v != 0 {
                push(&mut a, flag, &v.to_string());
            }
        }
    }
    if cfg.enable_api_logging {
        a.push("--enable-api-logging".into());
    }
    if let Some(addr) = with_default_port(cfg.scheduler_host_address.as_deref(), "localhost", 50006)
    {
        push(&mut a, "--scheduler-host-address", &addr);
    }
    push(&mut a, "--app-id", &cfg.app_id);
    let channel = cfg.app_channel_address.trim();
    if !channel.is_empty() && channel != "127.0.0.1" {
        push(&mut a, "--app-channel-address", channel);
    }
    push(&mut a, "--app-port", &app_port.to_string());
    push(&mut a, "--dapr-http-port", &http_port.to_string());
    push(&mut a, "--dapr-grpc-port", &grpc_port.to_string());
    push(&mut a, "--profile-port", &profile_port.to_string());
    push(&mut a, "--metrics-port", &metrics_port.to_string());
    let mut sockets = Vec::new();
    let mut endpoint = Target::Tcp(http_port);
    if let Some(dir) = &cfg.unix_domain_socket {
        push(&mut a, "--unix-domain-socket", &dir.display().to_string());
        let http = dir.join(format!("dapr-{}-http.socket", cfg.app_id));
        sockets.push(http.clone());
        sockets.push(dir.join(format!("dapr-{}-grpc.socket", cfg.app_id)));
        endpoint = Target::Unix(http);
    }
    push(
        &mut a,
        "--dapr-internal-grpc-port",
        &internal_grpc_port.to_string(),
    );
    if mtls {
        a.push("--enable-mtls".into());
        push(&mut a, "--sentry-address", "localhost:50001");
    }
    if cfg.log_as_json {
        a.push("--log-as-json".into());
    }

    let mut env: Vec<(String, String)> = vec![
        ("APP_ID".into(), cfg.app_id.clone()),
        (
            "APP_CHANNEL_ADDRESS".into(),
            cfg.app_channel_address.clone(),
        ),
    ];
    if app_port > 0 {
        env.push(("APP_PORT".into(), app_port.to_string()));
    }
    env.push(("DAPR_HTTP_PORT".into(), http_port.to_string()));
    env.push(("DAPR_GRPC_PORT".into(), grpc_port.to_string()));
    env.push(("DAPR_METRICS_PORT".into(), metrics_port.to_string()));
    let app_protocol = match (protocol.as_str(), cfg.app_ssl) {
        ("http", true) => "https",
        ("grpc", true) => "grpcs",
        (p, _) => p,
    };
    env.push(("APP_PROTOCOL".into(), app_protocol.to_string()));
    env.extend(cfg.env.iter().cloned());

    Ok(Prepared {
        app_id: cfg.app_id.clone(),
        app_port,
        http_port,
        grpc_port,
        metrics_port,
        internal_grpc_port,
        profile_port,
        daprd: dapr_dir.join("bin").join("daprd"),
        daprd_args: a,
        app_env: env,
        command: cfg.command.clone(),
        endpoint,
        sockets,
    })
}

/// `None`/unset → `<host>:<port>`; a value without `:` gets the port; blank → disabled.
fn with_default_port(v: Option<&str>, host: &str, port: u16) -> Option<String> {
    match v.map(str::trim) {
        None => Some(format!("{host}:{port}")),
        Some("") => None,
        Some(h) if h.contains(':') => Some(h.to_string()),
        Some(h) => Some(format!("{h}:{port}")),
    }
}

fn config_enables_mtls(path: &Path) -> Result<bool, RunError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Cfg {
        spec: Option<Spec>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Spec {
        mtls: Option<Mtls>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Mtls {
        enabled: bool,
    }
    let err = |reason: String| RunError::Config {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(process::go_io_error(&e)))?;
    if text.trim().is_empty() {
        return Ok(false);
    }
    let cfg: Cfg = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
    Ok(cfg.spec.and_then(|s| s.mtls).is_some_and(|m| m.enabled))
}

/// Canonical Kubernetes-quantity form, as the official CLI passes sizes (`4000000` → `4M`,
/// `4Mi` stays); negative → `-1`.
pub fn normalize_quantity(flag: &'static str, v: &str) -> Result<String, RunError> {
    let s = v.trim();
    let bad = || RunError::InvalidValue {
        flag,
        value: v.to_string(),
        reason: "expected a size such as 4Mi, 4M or 4194304".into(),
    };
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let (binary, exp) = match suffix {
        "" => (false, 0),
        "k" => (false, 1),
        "M" => (false, 2),
        "G" => (false, 3),
        "T" => (false, 4),
        "P" => (false, 5),
        "E" => (false, 6),
        "Ki" => (true, 1),
        "Mi" => (true, 2),
        "Gi" => (true, 3),
        "Ti" => (true, 4),
        "Pi" => (true, 5),
        "Ei" => (true, 6),
        _ => return Err(bad()),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if n < 0.0 {
        return Ok("-1".into());
    }
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let bytes = (n * base.powi(exp)).round() as u128;
    if bytes == 0 {
        return Ok("0".into());
    }
    let units: &[&str] = if binary {
        &["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
    } else {
        &["", "k", "M", "G", "T", "P", "E"]
    };
    let base = base as u128;
    let mut value = bytes;
    let mut unit = 0;
    while unit + 1 < units.len() && value.is_multiple_of(base) {
        value /= base;
        unit += 1;
    }
    Ok(format!("{value}{}", units[unit]))
}

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "dapper", "eager", "fancy", "gentle", "happy", "icy", "jolly",
    "kind", "lively", "mellow", "nimble", "olive", "proud", "quick", "rosy", "sunny", "tidy",
    "upbeat", "vivid", "witty", "zesty",
];
const NOUNS: &[&str] = &[
    "badger", "beaver", "crane", "dolphin", "eagle", "falcon", "gecko", "heron", "ibis", "jaguar",
    "koala", "lemur", "marmot", "newt", "otter", "panda", "quail", "raven", "salmon", "tapir",
    "urchin", "vole", "walrus", "yak",
];

/// A random lower-case `adjective-animal` id not used by a running sidecar.
pub fn silly_name(running: &[Sidecar]) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    loop {
        let name = format!(
            "{}{}-{}",
            ADJECTIVES[rng.random_range(0..ADJECTIVES.len())],
            NOUNS[rng.random_range(0..NOUNS.len())],
            NOUNS[rng.random_range(0..NOUNS.len())]
        );
        if !running.iter().any(|i| i.app_id == name) {
            return name;
        }
    }
}

impl RunConfig {
    /// Whether a Dapr port was given explicitly: only then must the running instances be
    /// scanned, to refuse a port another sidecar uses.
    pub fn has_explicit_port(&self) -> bool {
        [
            self.http_port,
            self.grpc_port,
            self.metrics_port,
            self.internal_grpc_port,
        ]
        .iter()
        .any(|p| *p > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_canonical() {
        let n = |v| normalize_quantity("--max-body-size", v).unwrap();
        assert_eq!(n("4000000"), "4M");
        assert_eq!(n("4Mi"), "4Mi");
        assert_eq!(n("5M"), "5M");
        assert_eq!(n("16001"), "16001");
        assert_eq!(n("4096Ki"), "4Mi");
        assert_eq!(n("-5"), "-1");
        assert!(normalize_quantity("--max-body-size", "4XB").is_err());
    }

    #[test]
    fn placement_defaults() {
        assert_eq!(
            with_default_port(None, "localhost", 50005).as_deref(),
            Some("localhost:50005")
        );
        assert_eq!(
            with_default_port(Some("myhost"), "localhost", 50005).as_deref(),
            Some("myhost:50005")
        );
        assert_eq!(
            with_default_port(Some("h:1"), "localhost", 50005).as_deref(),
            Some("h:1")
        );
        assert_eq!(with_default_port(Some(" "), "localhost", 50005), None);
    }

    #[test]
    fn an_explicit_config_must_be_readable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("components")).unwrap();
        for (name, reason) in [
            ("nope.yaml", "no such file or directory"),
            ("components", "is a directory"),
        ] {
            let path = dir.path().join(name);
            let cfg = RunConfig {
                app_id: "foo".into(),
                config: Some(path.clone()),
                ..RunConfig::default()
            };
            assert_eq!(
                prepare(&cfg, dir.path(), &[]).unwrap_err().to_string(),
                format!("error reading config file {}: {reason}", path.display())
            );
        }
    }

    #[test]
    fn official_argument_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("components")).unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            "spec:\n  mtls:\n    enabled: true\n",
        )
        .unwrap();
        let cfg = RunConfig {
            app_id: "foo".into(),
            log_as_json: true,
            ..RunConfig::default()
        };
        let p = prepare(&cfg, dir.path(), &[]).unwrap();
        let flags: Vec<&str> = p
            .daprd_args
            .iter()
            .map(String::as_str)
            .filter(|a| a.starts_with("--"))
            .collect();
        assert_eq!(
            flags,
            [
                "--config",
                "--app-protocol",
                "--log-level",
                "--app-max-concurrency",
                "--placement-host-address",
                "--components-path",
                "--max-body-size",
                "--read-buffer-size",
                "--scheduler-host-address",
                "--app-id",
                "--app-port",
                "--dapr-http-port",
                "--dapr-grpc-port",
                "--profile-port",
                "--metrics-port",
                "--dapr-internal-grpc-port",
                "--enable-mtls",
                "--sentry-address",
                "--log-as-json"
            ]
        );
        let pos = |f: &str| p.daprd_args.iter().position(|a| a == f).unwrap();
        assert_eq!(p.daprd_args[pos("--app-max-concurrency") + 1], "-1");
        assert_eq!(p.daprd_args[pos("--app-port") + 1], "0");
        assert_eq!(p.daprd_args[pos("--profile-port") + 1], "-1");
    }

    #[test]
    fn optional_flags_and_app_environment() {
        let dir = tempfile::tempdir().unwrap();
        let res = dir.path().join("res");
        std::fs::create_dir_all(&res).unwrap();
        let cfg = RunConfig {
            app_id: "x".into(),
            app_port: 3000,
            app_channel_address: "localhost".into(),
            app_protocol: "grpc".into(),
            app_ssl: true,
            enable_profiling: true,
            placement_host_address: Some(String::new()),
            scheduler_host_address: Some("myhost".into()),
            max_body_size: "4000000".into(),
            read_buffer_size: "16001".into(),
            enable_app_health_check: true,
            app_health_check_path: "/h".into(),
            app_health_probe_interval: 3,
            resources_paths: vec![res.clone(), res.clone()],
            env: vec![("EXTRA".into(), "1".into())],
            ..RunConfig::default()
        };
        let p = prepare(&cfg, dir.path(), &[]).unwrap();
        let a = &p.daprd_args;
        let val = |f: &str| a.iter().position(|x| x == f).map(|i| a[i + 1].clone());
        assert!(
            !a.contains(&"--config".to_string()),
            "no default config file, no --config"
        );
        assert!(!a.contains(&"--placement-host-address".to_string()));
        assert!(!a.contains(&"--components-path".to_string()));
        assert_eq!(a.iter().filter(|x| *x == "--resources-path").count(), 2);
        assert_eq!(val("--scheduler-host-address").unwrap(), "myhost:50006");
        assert_eq!(val("--max-body-size").unwrap(), "4M");
        assert_eq!(val("--read-buffer-size").unwrap(), "16001");
        assert_eq!(val("--app-health-check-path").unwrap(), "/h");
        assert_eq!(val("--app-health-probe-interval").unwrap(), "3");
        assert!(
            val("--app-health-threshold").is_none(),
            "zero values are omitted"
        );
        assert_eq!(val("--app-channel-address").unwrap(), "localhost");
        assert!(
            a.contains(&"--app-ssl".to_string()) && a.contains(&"--enable-profiling".to_string())
        );
        assert!(val("--profile-port").unwrap().parse::<u16>().unwrap() > 0);
        let env: std::collections::HashMap<_, _> = p.app_env.iter().cloned().collect();
        assert_eq!(env["APP_PROTOCOL"], "grpcs");
        assert_eq!(env["APP_PORT"], "3000");
        assert_eq!(env["APP_CHANNEL_ADDRESS"], "localhost");
        assert_eq!(env["EXTRA"], "1");
        let bad = RunConfig {
            app_protocol: "ftp".into(),
            ..cfg
        };
        assert!(
            prepare(&bad, dir.path(), &[])
                .unwrap_err()
                .to_string()
                .contains("--app-protocol")
        );
    }
}

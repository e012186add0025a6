//! `daprd`'s command line and Configuration files, resolved into one [`Config`].
//!
//! Parsing follows the official daprd (spf13/pflag): `--flag value` and `--flag=value`,
//! bool flags as `--flag` or `--flag=true|false` (a bool never swallows the next argument),
//! single-dash long flags (`-app-id x`) rewritten to double dash, slice flags repeatable and
//! comma-separated. Flags the official CLI always passes but this sidecar does not act on
//! (placement, scheduler, profiling, mTLS, ...) are accepted and ignored. Every error is one
//! line naming the flag (or file and line) and what would be valid.
//!
//! Deliberate deviation: with no `--dapr-listen-addresses` the API listens on loopback only
//! (127.0.0.1 and, when available, ::1), where the official daprd listens on every
//! interface.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::log::Level;

/// Default `--max-body-size` (4Mi).
pub const DEFAULT_MAX_BODY_SIZE: usize = 4 << 20;
/// Default `--read-buffer-size` (4Ki).
pub const DEFAULT_READ_BUFFER_SIZE: usize = 4 << 10;

/// What the command line asked for, before validation.
#[derive(Parser, Debug, Default)]
#[command(
    name = "daprd",
    about = "A lightweight Dapr-compatible sidecar",
    disable_version_flag = true,
    allow_negative_numbers = true,
    args_override_self = true,
    dont_collapse_args_in_usage = true
)]
pub struct Flags {
    /// A unique ID for the app; used for name resolution and state key prefixes
    #[arg(long, default_value = "")]
    pub app_id: String,
    /// The port the app listens on; empty or 0 means no app
    #[arg(long, default_value = "")]
    pub app_port: String,
    /// Protocol of the app: http (https, grpc, grpcs, h2c are not supported yet)
    #[arg(long, default_value = "http")]
    pub app_protocol: String,
    /// Host the app listens on
    #[arg(long, default_value = "127.0.0.1")]
    pub app_channel_address: String,
    /// Max concurrent requests forwarded to the app; -1 = unlimited
    #[arg(long, default_value_t = -1)]
    pub app_max_concurrency: i64,
    /// HTTP API port
    #[arg(long, default_value = "3500")]
    pub dapr_http_port: String,
    /// gRPC API port
    #[arg(long, default_value = "50001")]
    pub dapr_grpc_port: String,
    /// Sidecar-to-sidecar port; empty or 0 picks one
    #[arg(long, default_value = "")]
    pub dapr_internal_grpc_port: String,
    /// Listen address of the sidecar-to-sidecar server
    #[arg(long, default_value = "")]
    pub dapr_internal_grpc_listen_address: String,
    /// Comma-separated listen addresses of the API servers (default: loopback only)
    #[arg(long, default_value = "")]
    pub dapr_listen_addresses: String,
    /// Optional port exposing only health and metadata routes
    #[arg(long, default_value = "")]
    pub dapr_public_port: String,
    /// Listen address of the public port (default: loopback)
    #[arg(long, default_value = "")]
    pub dapr_public_listen_address: String,
    /// Directory of resource files (components); repeatable or comma-separated
    #[arg(long, value_delimiter = ',')]
    pub resources_path: Vec<String>,
    /// Deprecated alias of --resources-path, used only when that flag is absent
    #[arg(long, default_value = "")]
    pub components_path: String,
    /// Path of a Configuration file; repeatable or comma-separated
    #[arg(long, value_delimiter = ',')]
    pub config: Vec<String>,
    /// standalone (kubernetes is not supported)
    #[arg(long, default_value = "standalone")]
    pub mode: String,
    /// Log level: debug, info, warn, error or fatal
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Log lines as JSON
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_bool)]
    pub log_as_json: bool,
    /// Write logs to this file instead of stdout
    #[arg(long, default_value = "")]
    pub log_file: String,
    /// Log every API call (unset: from the Configuration's logging.apiLogging.enabled)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub enable_api_logging: Option<bool>,
    /// Max request body size, a Kubernetes quantity (4Mi, 4M, 4000000)
    #[arg(long)]
    pub max_body_size: Option<String>,
    /// Deprecated: max request body size in MB
    #[arg(long)]
    pub dapr_http_max_request_size: Option<i64>,
    /// Max size of request headers, a Kubernetes quantity (4Ki)
    #[arg(long)]
    pub read_buffer_size: Option<String>,
    /// Deprecated: max size of request headers in KB
    #[arg(long)]
    pub dapr_http_read_buffer_size: Option<i64>,
    /// Prometheus metrics port (accepted; metrics are not served)
    #[arg(long, default_value = "9090")]
    pub metrics_port: String,
    /// Enable metrics (accepted; metrics are not served)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = parse_bool)]
    pub enable_metrics: bool,
    /// Probe the app's health periodically
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_bool)]
    pub enable_app_health_check: bool,
    /// Path probed on the app
    #[arg(long, default_value = "/healthz")]
    pub app_health_check_path: String,
    /// Seconds between probes (<=0: default 5)
    #[arg(long, default_value_t = 5)]
    pub app_health_probe_interval: i64,
    /// Timeout of one probe in milliseconds (<=0: default 500)
    #[arg(long, default_value_t = 500)]
    pub app_health_probe_timeout: i64,
    /// Consecutive failures before the app is unhealthy (<=0: default 3)
    #[arg(long, default_value_t = 3)]
    pub app_health_threshold: i64,
    /// Grace period for draining on shutdown
    #[arg(long, default_value_t = 5)]
    pub dapr_graceful_shutdown_seconds: i64,
    /// Print the version and exit
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_bool)]
    pub version: bool,
    /// Print build information and exit
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_bool)]
    pub build_info: bool,
    /// Path to a unix domain socket dir mount. If specified, Dapr API servers will use Unix Domain Sockets
    #[arg(long, default_value = "")]
    pub unix_domain_socket: String,

    // Accepted for compatibility with the official CLI; no effect here.
    #[arg(long, hide = true)]
    pub placement_host_address: Option<String>,
    #[arg(long, hide = true, value_delimiter = ',')]
    pub scheduler_host_address: Vec<String>,
    #[arg(long, hide = true)]
    pub scheduler_job_streams: Option<String>,
    #[arg(long, hide = true)]
    pub profile_port: Option<String>,
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub enable_profiling: Option<bool>,
    #[arg(long, hide = true)]
    pub metrics_listen_address: Option<String>,
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub app_ssl: Option<bool>,
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub enable_mtls: Option<bool>,
    #[arg(long, hide = true)]
    pub sentry_address: Option<String>,
    #[arg(long, hide = true, value_delimiter = ',')]
    pub sentry_request_jwt_audiences: Vec<String>,
    #[arg(long, hide = true)]
    pub control_plane_address: Option<String>,
    #[arg(long, hide = true)]
    pub control_plane_trust_domain: Option<String>,
    #[arg(long, hide = true)]
    pub control_plane_namespace: Option<String>,
    #[arg(long, hide = true)]
    pub trust_anchors_file: Option<String>,
    /// Comma-separated origins allowed by CORS ("*" for any); empty: no CORS headers
    #[arg(long, default_value = "")]
    pub allowed_origins: String,
    #[arg(long, hide = true)]
    pub dapr_block_shutdown_duration: Option<String>,
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub disable_builtin_k8s_secret_store: Option<bool>,
    #[arg(long, hide = true, value_delimiter = ',')]
    pub disable_init_endpoints: Vec<String>,
    #[arg(long, hide = true)]
    pub app_binding_options_timeout: Option<String>,
    #[arg(long, hide = true)]
    pub hot_reload_reconcile_interval: Option<String>,
    #[arg(long, hide = true)]
    pub actors_disseminate_timeout: Option<String>,
    #[arg(long, hide = true)]
    pub actors_service: Option<String>,
    #[arg(long, hide = true)]
    pub reminders_service: Option<String>,
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub wait: Option<bool>,
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err("valid values are true or false".to_string()),
    }
}

/// Periodic probing of the app (`--enable-app-health-check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppHealth {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub threshold: u32,
}

/// Settings read from `--config` files (`kind: Configuration`), merged in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeConfiguration {
    /// `spec.features` with `enabled: true`, in file order.
    pub enabled_features: Vec<String>,
    /// `spec.nameResolution`, passed to service invocation as is.
    pub name_resolution: Option<serde_json::Value>,
    /// `spec.logging.apiLogging.enabled`.
    pub api_logging: Option<bool>,
    /// `spec.logging.apiLogging.omitHealthChecks`.
    pub api_logging_omit_health_checks: bool,
}

/// Everything `daprd` needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub app_id: String,
    pub namespace: String,
    /// `None` when there is no app (`--app-port` empty or 0).
    pub app_port: Option<u16>,
    pub app_protocol: String,
    pub app_channel_address: String,
    /// `None` = unlimited.
    pub app_max_concurrency: Option<usize>,
    pub http_port: u16,
    pub grpc_port: u16,
    pub internal_grpc_port: Option<u16>,
    pub internal_grpc_listen_address: Option<IpAddr>,
    /// Where the HTTP API listens. The first address is required to bind; the rest too,
    /// except the implicit `::1` of the default, which is skipped if IPv6 is off.
    pub listen_addresses: Vec<IpAddr>,
    /// True when `listen_addresses` is the loopback default (not given on the command line).
    pub default_listen_addresses: bool,
    pub public_port: Option<u16>,
    pub public_listen_address: IpAddr,
    pub resources_paths: Vec<PathBuf>,
    /// What the `--config` files say (the files are read once, while resolving flags).
    pub configuration: RuntimeConfiguration,
    pub log_level: Level,
    pub log_as_json: bool,
    pub log_file: Option<PathBuf>,
    pub api_logging: bool,
    pub max_body_size: usize,
    pub read_buffer_size: usize,
    pub metrics_port: Option<u16>,
    pub enable_metrics: bool,
    pub app_health: Option<AppHealth>,
    pub graceful_shutdown: Duration,
    /// `--allowed-origins`: empty means no CORS handling at all, as upstream.
    pub allowed_origins: Vec<String>,
    /// `DAPR_API_TOKEN`: callers must send it as `dapr-api-token`.
    pub api_token: Option<String>,
    /// `APP_API_TOKEN`: sent to the app as `dapr-api-token`.
    pub app_api_token: Option<String>,
    /// `--unix-domain-socket`: when set, the HTTP and gRPC APIs listen only on
    /// `<dir>/dapr-<app-id>-{http,grpc}.socket` (the internal gRPC port stays TCP).
    pub unix_domain_socket: Option<PathBuf>,
}

/// What the command line resolved to: run, or print something and exit 0.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    /// `--version`, `--build-info`, `--help`: text to print on stdout, then exit 0.
    Print(String),
}

/// A command-line or Configuration error: one line, naming the flag or file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Rewrites single-dash long flags (`-app-id`) to double dash, as pflag does, leaving
/// values such as `-1` alone.
fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 {
                return a;
            }
            match a.to_str() {
                Some(s)
                    if s.len() > 2
                        && s.starts_with('-')
                        && !s.starts_with("--")
                        && s.as_bytes()[1].is_ascii_alphabetic() =>
                {
                    OsString::from(format!("-{s}"))
                }
                _ => a,
            }
        })
        .collect()
}

/// Flattens clap's multi-line error into one line without the usage hint.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .collect();
    if e.kind() == clap::error::ErrorKind::UnknownArgument
        && let Some(clap::error::ContextValue::String(arg)) =
            e.get(clap::error::ContextKind::InvalidArg)
    {
        let name = arg.split('=').next().unwrap_or(arg);
        return format!("unknown flag: {name} (see daprd --help for the valid flags)");
    }
    let joined = parts.join("; ");
    let line = joined
        .strip_prefix("error: ")
        .unwrap_or(&joined)
        .replace(":;", ":");
    // `'--flag <FLAG>'` / `'--flag[=<FLAG>]'` read better as plain `--flag`.
    let placeholder =
        regex::Regex::new(r"'(--[a-z0-9-]+)(?:\[=<[A-Z_]+>\]| <[A-Z_]+>)?'").expect("valid regex");
    placeholder.replace_all(&line, "$1").into_owned()
}

/// Parses the command line (and the Configuration files it names) from `std::env`.
pub fn from_env() -> Result<Command, ConfigError> {
    parse(std::env::args_os(), |k| std::env::var(k).ok())
}

/// Parses `args` (including the program name); `env` reads environment variables.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, ConfigError> {
    let flags = match Flags::try_parse_from(normalize_args(args)) {
        Ok(f) => f,
        Err(e) => {
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Ok(Command::Print(e.render().to_string()))
                }
                _ => Err(err(one_line(&e))),
            };
        }
    };
    if flags.version {
        // Printed from the marker (kept whole by `black_box`) so that the marker stays in
        // the binary, where `dapr version` finds it without running daprd.
        let marker = std::hint::black_box(crate::DAPRD_VERSION_MARKER);
        let version = marker
            .split_once('=')
            .map_or(crate::VERSION, |(_, v)| v.trim());
        return Ok(Command::Print(format!("{version}\n")));
    }
    if flags.build_info {
        return Ok(Command::Print(format!(
            "Version: {}\nGit Commit: unknown\nGit Version: {}\n",
            crate::VERSION,
            crate::VERSION
        )));
    }
    resolve(flags, &env).map(|c| Command::Run(Box::new(c)))
}

fn port_flag(flag: &str, value: &str) -> Result<Option<u16>, ConfigError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(p) if (1..=65535).contains(&p) => Ok(Some(p as u16)),
        _ => Err(err(format!(
            "invalid value '{value}' for --{flag}: expected a port number between 1 and 65535, or 0 for none"
        ))),
    }
}

fn required_port(flag: &str, value: &str) -> Result<u16, ConfigError> {
    port_flag(flag, value)?.ok_or_else(|| {
        err(format!(
            "invalid value '{value}' for --{flag}: expected a port number between 1 and 65535"
        ))
    })
}

fn ip_flag(flag: &str, value: &str) -> Result<Vec<IpAddr>, ConfigError> {
    let v = value.trim();
    match v {
        "localhost" => Ok(vec![IpAddr::from([127, 0, 0, 1])]),
        _ => v
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map(|ip| vec![ip])
            .map_err(|_| {
                err(format!(
                    "invalid value '{value}' for --{flag}: expected an IP address such as 127.0.0.1, ::1, 0.0.0.0 or localhost"
                ))
            }),
    }
}

/// Parses a Kubernetes resource quantity (`4Mi`, `4M`, `4k`, `4000000`, `1.5Gi`) into bytes.
pub fn parse_quantity(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let mult: f64 = match suffix {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    let bytes = (n * mult).ceil();
    if !(0.0..=usize::MAX as f64).contains(&bytes) {
        return None;
    }
    Some(bytes as usize)
}

fn resolve(f: Flags, env: &impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let app_id = f.app_id.trim().to_string();
    if app_id.is_empty() {
        return Err(err(
            "--app-id is required: give the app a non-empty ID, e.g. --app-id myapp",
        ));
    }
    if app_id.contains('.') {
        return Err(err(format!(
            "invalid value '{app_id}' for --app-id: the app ID must not contain '.'"
        )));
    }
    match f.mode.as_str() {
        "standalone" => {}
        "kubernetes" => {
            return Err(err(
                "--mode kubernetes is not supported yet by this daprd (valid: standalone)",
            ));
        }
        other => {
            return Err(err(format!(
                "invalid value '{other}' for --mode: valid values are standalone, kubernetes"
            )));
        }
    }
    let mut app_protocol = f.app_protocol.trim().to_ascii_lowercase();
    if app_protocol.is_empty() {
        app_protocol = "http".into();
    }
    if f.app_ssl == Some(true) {
        app_protocol = match app_protocol.as_str() {
            "http" => "https".into(),
            "grpc" => "grpcs".into(),
            p => p.into(),
        };
    }
    match app_protocol.as_str() {
        "http" => {}
        "https" | "grpc" | "grpcs" | "h2c" => {
            return Err(err(format!(
                "--app-protocol {app_protocol} is not supported yet by this daprd (supported: http)"
            )));
        }
        other => {
            return Err(err(format!(
                "invalid value '{other}' for --app-protocol: valid values are http, https, grpc, grpcs, h2c"
            )));
        }
    }
    let unix_domain_socket = match f.unix_domain_socket.trim() {
        "" => None,
        d => {
            let dir = PathBuf::from(d);
            if !dir.is_dir() {
                return Err(err(format!(
                    "--unix-domain-socket {d}: not an existing directory (give the directory that will hold dapr-<app-id>-http.socket and dapr-<app-id>-grpc.socket)"
                )));
            }
            Some(dir)
        }
    };
    if f.wait == Some(true) {
        return Err(err(
            "--wait is not supported by this daprd: poll /v1.0/healthz/outbound instead",
        ));
    }

    let app_port = port_flag("app-port", &f.app_port)?;
    let http_port = required_port("dapr-http-port", &f.dapr_http_port)?;
    let grpc_port = required_port("dapr-grpc-port", &f.dapr_grpc_port)?;
    if let Some(p) = app_port {
        if p == http_port {
            return Err(err(format!(
                "--app-port {p} must differ from --dapr-http-port {http_port}"
            )));
        }
        if p == grpc_port {
            return Err(err(format!(
                "--app-port {p} must differ from --dapr-grpc-port {grpc_port}"
            )));
        }
    }
    let internal_grpc_port = port_flag("dapr-internal-grpc-port", &f.dapr_internal_grpc_port)?;
    let internal_grpc_listen_address = match f.dapr_internal_grpc_listen_address.trim() {
        "" => None,
        v => Some(ip_flag("dapr-internal-grpc-listen-address", v)?[0]),
    };
    let public_port = port_flag("dapr-public-port", &f.dapr_public_port)?;
    let public_listen_address = match f.dapr_public_listen_address.trim() {
        "" => IpAddr::from([127, 0, 0, 1]),
        v => ip_flag("dapr-public-listen-address", v)?[0],
    };
    let (listen_addresses, default_listen_addresses) = if f.dapr_listen_addresses.trim().is_empty()
    {
        (
            vec![
                IpAddr::from([127, 0, 0, 1]),
                "::1".parse().expect("valid IPv6 literal"),
            ],
            true,
        )
    } else {
        let mut out = Vec::new();
        for a in f
            .dapr_listen_addresses
            .split(',')
            .filter(|a| !a.trim().is_empty())
        {
            for ip in ip_flag("dapr-listen-addresses", a)? {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
        (out, false)
    };
    // Metrics are not served, so a disabled port (-1) is as good as none.
    let metrics_port = match f.metrics_port.trim().parse::<i64>() {
        Ok(p) if p < 0 => None,
        _ => port_flag("metrics-port", &f.metrics_port)?,
    };

    let log_level = Level::parse(&f.log_level).ok_or_else(|| {
        err(format!(
            "invalid value '{}' for --log-level: valid values are debug, info, warn, error, fatal",
            f.log_level
        ))
    })?;

    let max_body_size = match (&f.max_body_size, f.dapr_http_max_request_size) {
        (Some(q), _) => parse_quantity(q).ok_or_else(|| {
            err(format!("invalid value '{q}' for --max-body-size: expected a size such as 4Mi, 4M or 4000000"))
        })?,
        (None, Some(mb)) if mb > 0 => (mb as usize) << 20,
        (None, Some(mb)) => {
            return Err(err(format!(
                "invalid value '{mb}' for --dapr-http-max-request-size: expected a positive number of MB"
            )));
        }
        (None, None) => DEFAULT_MAX_BODY_SIZE,
    };
    let read_buffer_size = match (&f.read_buffer_size, f.dapr_http_read_buffer_size) {
        (Some(q), _) => parse_quantity(q).ok_or_else(|| {
            err(format!("invalid value '{q}' for --read-buffer-size: expected a size such as 4Ki, 16Ki or 4096"))
        })?,
        (None, Some(kb)) if kb > 0 => (kb as usize) << 10,
        (None, Some(kb)) => {
            return Err(err(format!(
                "invalid value '{kb}' for --dapr-http-read-buffer-size: expected a positive number of KB"
            )));
        }
        (None, None) => DEFAULT_READ_BUFFER_SIZE,
    };

    let app_health = if f.enable_app_health_check {
        let interval = Duration::from_secs(if f.app_health_probe_interval > 0 {
            f.app_health_probe_interval as u64
        } else {
            5
        });
        let timeout = Duration::from_millis(if f.app_health_probe_timeout > 0 {
            f.app_health_probe_timeout as u64
        } else {
            500
        });
        if timeout >= interval {
            return Err(err(format!(
                "--app-health-probe-timeout ({} ms) must be less than --app-health-probe-interval ({} s)",
                timeout.as_millis(),
                interval.as_secs()
            )));
        }
        let mut path = f.app_health_check_path.clone();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        Some(AppHealth {
            path,
            interval,
            timeout,
            threshold: if f.app_health_threshold > 0 {
                f.app_health_threshold as u32
            } else {
                3
            },
        })
    } else {
        None
    };

    let mut resources_paths: Vec<PathBuf> = f
        .resources_path
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect();
    if resources_paths.is_empty() && !f.components_path.trim().is_empty() {
        resources_paths.push(PathBuf::from(f.components_path.trim()));
    }
    let config_files: Vec<PathBuf> = f
        .config
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect();
    let configuration = load_configurations(&config_files, env)?;
    let api_logging = f
        .enable_api_logging
        .or(configuration.api_logging)
        .unwrap_or(false);

    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    Ok(Config {
        namespace: non_empty("NAMESPACE").unwrap_or_else(|| "default".into()),
        app_id,
        app_port,
        app_protocol,
        app_channel_address: match f.app_channel_address.trim() {
            "" => "127.0.0.1".into(),
            a => a.into(),
        },
        app_max_concurrency: (f.app_max_concurrency > 0).then_some(f.app_max_concurrency as usize),
        http_port,
        grpc_port,
        internal_grpc_port,
        internal_grpc_listen_address,
        listen_addresses,
        default_listen_addresses,
        public_port,
        public_listen_address,
        resources_paths,
        configuration,
        log_level,
        log_as_json: f.log_as_json,
        log_file: (!f.log_file.trim().is_empty()).then(|| PathBuf::from(f.log_file.trim())),
        api_logging,
        max_body_size,
        read_buffer_size,
        metrics_port,
        enable_metrics: f.enable_metrics,
        app_health,
        graceful_shutdown: Duration::from_secs(f.dapr_graceful_shutdown_seconds.max(0) as u64),
        allowed_origins: f
            .allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect(),
        api_token: non_empty("DAPR_API_TOKEN"),
        app_api_token: non_empty("APP_API_TOKEN"),
        unix_domain_socket,
    })
}

/// Go's `os.ExpandEnv`: `${NAME}` and `$NAME` replaced by the variable (empty when unset).
pub fn expand_env(text: &str, env: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            if let Some(end) = inner.find('}') {
                out.push_str(&env(&inner[..end]).unwrap_or_default());
                rest = &inner[end + 1..];
                continue;
            }
            out.push('$');
            rest = after;
            continue;
        }
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if len == 0 {
            out.push('$');
        } else {
            out.push_str(&env(&after[..len]).unwrap_or_default());
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// One line `<file>:<line>:<column>: invalid Configuration YAML: <what>` from the YAML
/// parser's multi-line report.
fn yaml_error(file: &std::path::Path, line_offset: usize, report: &str) -> ConfigError {
    let first = report.lines().next().unwrap_or(report).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let located = regex::Regex::new(r"^line (\d+) column (\d+): (.*)$").expect("valid regex");
    match located.captures(first) {
        Some(c) => {
            let line = c[1].parse::<usize>().unwrap_or(0) + line_offset;
            err(format!(
                "{}:{line}:{}: invalid Configuration YAML: {}",
                file.display(),
                &c[2],
                &c[3]
            ))
        }
        None => err(format!(
            "{}: invalid Configuration YAML: {first}",
            file.display()
        )),
    }
}

/// Reads and merges the `--config` files; later files win field by field.
fn load_configurations(
    files: &[PathBuf],
    env: &impl Fn(&str) -> Option<String>,
) -> Result<RuntimeConfiguration, ConfigError> {
    let mut out = RuntimeConfiguration::default();
    let mut features: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for (fi, file) in files.iter().enumerate() {
        let text = fs_err::read_to_string(file).map_err(|e| err(format!("--config: {e}")))?;
        let text = expand_env(&text, env);
        // Line of the `---` that starts the current document (its content starts below it).
        let (mut dash_line, mut prev_newlines) = (1, 0);
        for (di, doc) in text.split("\n---").enumerate() {
            if di > 0 {
                dash_line += prev_newlines + 1;
            }
            prev_newlines = doc.matches('\n').count();
            let offset = if di == 0 { 0 } else { dash_line };
            if doc.trim().is_empty() {
                continue;
            }
            let doc = if di > 0 {
                doc.split_once('\n').map_or("", |(_, rest)| rest)
            } else {
                doc
            };
            let value: serde_json::Value = serde_saphyr::from_str(doc)
                .map_err(|e| yaml_error(file, offset, &e.to_string()))?;
            let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
            if !kind.is_empty() && kind != "Configuration" {
                continue;
            }
            let Some(spec) = value.get("spec") else {
                continue;
            };
            if let Some(list) = spec.get("features").and_then(|v| v.as_array()) {
                for (i, feat) in list.iter().enumerate() {
                    let Some(name) = feat.get("name").and_then(|n| n.as_str()) else {
                        return Err(err(format!(
                            "{}: spec.features[{i}].name must be a string such as HotReload (quote names YAML reads as booleans or numbers)",
                            file.display()
                        )));
                    };
                    let enabled = match feat.get("enabled") {
                        Some(serde_json::Value::Bool(b)) => *b,
                        Some(serde_json::Value::String(s)) => parse_bool(s).unwrap_or(false),
                        _ => false,
                    };
                    features.insert(name.to_string(), (fi * 10_000 + i, enabled));
                }
            }
            if let Some(nr) = spec.get("nameResolution") {
                out.name_resolution = Some(nr.clone());
            }
            if let Some(api) = spec.get("logging").and_then(|l| l.get("apiLogging")) {
                match api.get("enabled") {
                    Some(serde_json::Value::Bool(b)) => out.api_logging = Some(*b),
                    Some(serde_json::Value::String(s)) => out.api_logging = parse_bool(s).ok(),
                    _ => {}
                }
                if let Some(serde_json::Value::Bool(b)) = api.get("omitHealthChecks") {
                    out.api_logging_omit_health_checks = *b;
                }
            }
        }
    }
    let mut enabled: Vec<(usize, String)> = features
        .into_iter()
        .filter(|(_, (_, on))| *on)
        .map(|(n, (order, _))| (order, n))
        .collect();
    enabled.sort();
    out.enabled_features = enabled.into_iter().map(|(_, n)| n).collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, ConfigError> {
        let argv = std::iter::once("daprd")
            .chain(args.iter().copied())
            .map(OsString::from);
        match parse(argv, |_| None)? {
            Command::Run(c) => Ok(*c),
            Command::Print(p) => Err(err(format!("printed {p}"))),
        }
    }

    #[test]
    fn official_cli_arguments_are_accepted() {
        let c = run(&[
            "--app-id",
            "nodeapp",
            "--app-port",
            "3000",
            "--dapr-http-port",
            "3501",
            "--dapr-grpc-port",
            "50002",
            "--profile-port",
            "-1",
            "--metrics-port",
            "9091",
            "--dapr-internal-grpc-port",
            "47301",
            "--app-protocol",
            "http",
            "--app-max-concurrency",
            "-1",
            "--resources-path",
            "/a",
            "--resources-path",
            "/b,/c",
            "--placement-host-address",
            "localhost:50005",
            "--scheduler-host-address",
            "localhost:50006",
            "--max-body-size",
            "4Mi",
            "--read-buffer-size",
            "4Ki",
            "--enable-api-logging",
            "--enable-metrics=false",
            "-log-level",
            "debug",
        ])
        .unwrap();
        assert_eq!(c.app_id, "nodeapp");
        assert_eq!(c.app_port, Some(3000));
        assert_eq!(c.http_port, 3501);
        assert_eq!(c.internal_grpc_port, Some(47301));
        assert_eq!(c.resources_paths, ["/a", "/b", "/c"].map(PathBuf::from));
        assert!(c.api_logging);
        assert!(!c.enable_metrics);
        assert_eq!(c.log_level, Level::Debug);
        assert_eq!(c.max_body_size, 4 << 20);
        assert_eq!(c.app_max_concurrency, None);
        assert!(c.default_listen_addresses);
    }

    #[test]
    fn bool_flag_does_not_swallow_next_argument() {
        let c = run(&["--log-as-json", "--app-id", "x"]).unwrap();
        assert!(c.log_as_json);
        assert_eq!(c.app_id, "x");
        let e = run(&["--app-id", "x", "--log-as-json", "false"]).unwrap_err();
        assert!(e.0.contains("false"), "{e}");
    }

    #[test]
    fn errors_name_the_flag() {
        let e = run(&["--app-id", "x", "--bogus"]).unwrap_err();
        assert!(e.0.contains("--bogus") && !e.0.contains('\n'), "{e}");
        let e = run(&["--app-id", "x", "--app-port", "http"]).unwrap_err();
        assert!(e.0.contains("--app-port"), "{e}");
        let e = run(&["--app-id", "x", "--log-level", "loud"]).unwrap_err();
        assert!(e.0.contains("--log-level") && e.0.contains("debug"), "{e}");
        let e = run(&["--app-id", "a.b"]).unwrap_err();
        assert!(e.0.contains("--app-id"), "{e}");
        let e = run(&["--app-port", "3000"]).unwrap_err();
        assert!(e.0.contains("--app-id"), "{e}");
        let e = run(&["--app-id", "x", "--app-port", "3500"]).unwrap_err();
        assert!(e.0.contains("--dapr-http-port"), "{e}");
        let e = run(&["--app-id", "x", "--app-protocol", "grpc"]).unwrap_err();
        assert!(e.0.contains("not supported yet"), "{e}");
        let e = run(&["--app-id", "x", "--max-body-size", "lots"]).unwrap_err();
        assert!(e.0.contains("--max-body-size"), "{e}");
    }

    #[test]
    fn unix_domain_socket_takes_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let c = run(&["--app-id", "x", "--unix-domain-socket", d]).unwrap();
        assert_eq!(c.unix_domain_socket.as_deref(), Some(dir.path()));
        let missing = dir.path().join("nope");
        let e = run(&[
            "--app-id",
            "x",
            "--unix-domain-socket",
            missing.to_str().unwrap(),
        ])
        .unwrap_err();
        assert!(e.0.contains("--unix-domain-socket"), "{e}");
        let c = run(&["--app-id", "x"]).unwrap();
        assert!(c.unix_domain_socket.is_none());
    }

    #[test]
    fn components_path_is_an_alias_used_only_alone() {
        let c = run(&["--app-id", "x", "--components-path", "/old"]).unwrap();
        assert_eq!(c.resources_paths, [PathBuf::from("/old")]);
        let c = run(&[
            "--app-id",
            "x",
            "--components-path",
            "/old",
            "--resources-path",
            "/new",
        ])
        .unwrap();
        assert_eq!(c.resources_paths, [PathBuf::from("/new")]);
    }

    #[test]
    fn app_port_zero_means_no_app() {
        assert_eq!(
            run(&["--app-id", "x", "--app-port", "0"]).unwrap().app_port,
            None
        );
        assert_eq!(
            run(&["--app-id", "x", "--app-port="]).unwrap().app_port,
            None
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("4Mi"), Some(4 << 20));
        assert_eq!(parse_quantity("4M"), Some(4_000_000));
        assert_eq!(parse_quantity("4000000"), Some(4_000_000));
        assert_eq!(parse_quantity("4Ki"), Some(4096));
        assert_eq!(parse_quantity("1.5Ki"), Some(1536));
        assert_eq!(parse_quantity("4Q"), None);
        assert_eq!(parse_quantity("Mi"), None);
        let c = run(&["--app-id", "x", "--dapr-http-max-request-size", "16"]).unwrap();
        assert_eq!(c.max_body_size, 16 << 20);
        let c = run(&[
            "--app-id",
            "x",
            "--dapr-http-max-request-size",
            "16",
            "--max-body-size",
            "1Mi",
        ])
        .unwrap();
        assert_eq!(c.max_body_size, 1 << 20);
    }

    #[test]
    fn env_expansion() {
        let env = |k: &str| (k == "HOST").then(|| "h1".to_string());
        assert_eq!(
            expand_env("a ${HOST} $HOST ${NOPE}x $", &env),
            "a h1 h1 x $"
        );
    }

    #[test]
    fn configuration_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        let text = "kind: Configuration\nspec:\n  features: []\n---\nkind: Configuration\nspec:\n  features: [\n";
        std::fs::write(&file, text).unwrap();
        let e = load_configurations(std::slice::from_ref(&file), &|_| None).unwrap_err();
        assert!(e.0.starts_with(&format!("{}:7:", file.display())), "{e}");
        assert!(!e.0.contains('\n'), "{e}");
        std::fs::write(
            &file,
            "kind: Configuration\nspec:\n  features:\n  - name: ${F}\n    enabled: true\n",
        )
        .unwrap();
        let c = load_configurations(std::slice::from_ref(&file), &|k| {
            (k == "F").then(|| "HotReload".into())
        })
        .unwrap();
        assert_eq!(c.enabled_features, ["HotReload"]);
    }

    #[test]
    fn version_prints() {
        let argv = ["daprd", "--version"].map(OsString::from);
        assert!(
            matches!(parse(argv, |_| None).unwrap(), Command::Print(v) if v.trim() == crate::VERSION)
        );
    }
}

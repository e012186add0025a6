//! `daprd`'s command line, resolved into one [`Config`] (the `--config` files it names are
//! read by `resources::configuration`).
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

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

mod flags;
pub use flags::Flags;

use super::log::Level;
use super::resources::configuration::{self, RuntimeConfiguration};

/// Default `--max-body-size` (4Mi).
pub const DEFAULT_MAX_BODY_SIZE: usize = 4 << 20;
/// Default `--read-buffer-size` (4Ki).
pub const DEFAULT_READ_BUFFER_SIZE: usize = 4 << 10;

/// Periodic probing of the app (`--enable-app-health-check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppHealth {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub threshold: u32,
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
        "http" | "h2c" | "grpc" => {}
        "https" | "grpcs" => {
            return Err(err(format!(
                "--app-protocol {app_protocol} is not supported yet by this daprd (no TLS to the app; supported: http, h2c, grpc)"
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
    let configuration = configuration::load(&config_files, env).map_err(|e| err(e.to_string()))?;
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

#[cfg(test)]
mod tests;

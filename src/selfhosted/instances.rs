//! Running sidecars on this machine, found the way the official CLI finds them: every
//! process named `daprd`, its command-line flags, and its `GET /v1.0/metadata`
//! (`extended.cliPID`, `appPID`, `appCommand`, `runTemplatePath`, ...).
//!
//! No state files: a sidecar started by `dapr run`, `dapr run -f` or by hand is found the
//! same way. On Linux the process table is read from `/proc` (only `comm` for every
//! process, the rest only for `daprd`s); elsewhere through sysinfo. The metadata of all
//! sidecars is fetched in parallel with a short timeout, so one hung sidecar cannot stall
//! `dapr list` (the official CLI waits forever). Command lines are read as the kernel
//! stores them (NUL-separated), so paths with spaces survive.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::client::{self, Target};

/// One row of `dapr list`; the JSON/YAML keys are the official ones.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub app_id: String,
    pub http_port: u16,
    pub grpc_port: u16,
    pub app_port: u16,
    pub metrics_enabled: bool,
    pub command: String,
    pub age: String,
    pub created: String,
    pub daprd_pid: u32,
    pub cli_pid: u32,
    pub app_pid: u32,
    pub max_request_body_size: u64,
    pub http_read_buffer_size: u64,
    pub run_template_path: String,
    pub app_log_path: String,
    pub daprd_log_path: String,
    pub run_template_name: String,
}

/// A `daprd` process as seen in the process table, before asking it anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    pub pid: u32,
    pub app_id: String,
    pub http_port: u16,
    pub grpc_port: u16,
    pub app_port: u16,
    pub metrics_enabled: bool,
    /// The `--unix-domain-socket` directory, if the sidecar listens on one.
    pub unix_domain_socket: Option<String>,
    /// Process start, seconds since the Unix epoch (0 if unknown).
    pub start_time: u64,
}

impl Sidecar {
    /// Where its HTTP API listens (the socket `<dir>/dapr-<id>-http.socket` wins).
    pub fn http_target(&self) -> Target {
        match &self.unix_domain_socket {
            Some(dir) => Target::Unix(
                std::path::Path::new(dir).join(format!("dapr-{}-http.socket", self.app_id)),
            ),
            None => Target::Tcp(self.http_port),
        }
    }

    /// The same sidecar reached through the sockets in `dir` (the `-u` flag of `invoke`
    /// and `publish`); an empty `dir` changes nothing.
    pub fn with_socket_dir(mut self, dir: &str) -> Sidecar {
        if !dir.is_empty() {
            self.unix_domain_socket = Some(dir.to_string());
        }
        self
    }

    /// One request to its HTTP API.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<client::Response, client::ClientError> {
        client::request(&self.http_target(), method, path, headers, body, timeout)
    }
}

/// The official defaults used when a flag is absent from the command line.
const DEFAULT_HTTP_PORT: u16 = 3500;
const DEFAULT_GRPC_PORT: u16 = 50001;
/// Always the runtime defaults, as in the official CLI.
const MAX_REQUEST_BODY_SIZE: u64 = 4 * 1024 * 1024;
const HTTP_READ_BUFFER_SIZE: u64 = 4096;
const METADATA_TIMEOUT: Duration = Duration::from_millis(1500);

/// Parse `--flag value` and `--flag=value` pairs (single-dash forms too). A flag followed
/// by another flag (or nothing) is a boolean set to `true`.
pub fn parse_flags(args: &[String]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let Some(name) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        if let Some((k, v)) = name.split_once('=') {
            out.insert(k.to_string(), v.to_string());
            continue;
        }
        let is_value = |s: &str| !s.starts_with('-') || s.parse::<f64>().is_ok();
        match args.get(i) {
            Some(next) if is_value(next) => {
                out.insert(name.to_string(), next.clone());
                i += 1;
            }
            _ => {
                out.insert(name.to_string(), "true".to_string());
            }
        }
    }
    out
}

fn sidecar_from_cmdline(pid: u32, args: &[String], start_time: u64) -> Option<Sidecar> {
    let flags = parse_flags(args.get(1..).unwrap_or_default());
    let app_id = flags.get("app-id").cloned().unwrap_or_default();
    if app_id.is_empty() {
        return None;
    }
    let port = |k: &str, d: u16| flags.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    Some(Sidecar {
        pid,
        app_id,
        http_port: port("dapr-http-port", DEFAULT_HTTP_PORT),
        grpc_port: port("dapr-grpc-port", DEFAULT_GRPC_PORT),
        app_port: port("app-port", 0),
        metrics_enabled: flags.get("enable-metrics").is_none_or(|v| v != "false"),
        unix_domain_socket: flags
            .get("unix-domain-socket")
            .filter(|v| !v.is_empty())
            .cloned(),
        start_time,
    })
}

/// Every running `daprd` with an app id, ordered by pid. Never fails: unreadable
/// processes are skipped.
pub fn scan() -> Vec<Sidecar> {
    let mut found = scan_processes();
    found.sort_by_key(|s| s.pid);
    found
}

#[cfg(target_os = "linux")]
fn scan_processes() -> Vec<Sidecar> {
    // Cheap pass: `comm` only. The kernel sets it from the executable's basename.
    let mut pids = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim_end().eq_ignore_ascii_case("daprd") {
                pids.push(pid);
            }
        }
    }
    if pids.is_empty() {
        return Vec::new();
    }
    let boot = boot_time();
    pids.into_iter()
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            let start = start_time_linux(pid, boot);
            sidecar_from_cmdline(pid, &args, start)
        })
        .collect()
}

#[cfg(target_os = "linux")]
fn boot_time() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// Start time from `/proc/<pid>/stat` field 22 (clock ticks since boot). The tick rate is
/// 100 Hz on every Linux configuration the CLI targets (USER_HZ is fixed by the ABI).
#[cfg(target_os = "linux")]
fn start_time_linux(pid: u32, boot: u64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let ticks: u64 = rest
        .split_whitespace()
        .nth(19)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if boot == 0 { 0 } else { boot + ticks / 100 }
}

#[cfg(not(target_os = "linux"))]
fn scan_processes() -> Vec<Sidecar> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
    let mut sys = System::new();
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing()
            .with_cmd(UpdateKind::Always)
            .with_exe(UpdateKind::Always),
    );
    sys.processes()
        .iter()
        .filter_map(|(pid, p)| {
            let base = p
                .exe()
                .and_then(|e| e.file_name())
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_else(|| p.name().to_string_lossy().to_lowercase());
            if base != "daprd" && base != "daprd.exe" {
                return None;
            }
            let args: Vec<String> = p
                .cmd()
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            sidecar_from_cmdline(pid.as_u32(), &args, p.start_time())
        })
        .collect()
}

/// The sidecar serving `app_id`, without asking any sidecar for its metadata.
pub fn find(app_id: &str) -> Option<Sidecar> {
    scan().into_iter().find(|s| s.app_id == app_id)
}

/// The `extended` metadata the CLI stores in a sidecar; empty when unreachable.
#[derive(Debug, Default, Clone)]
struct Extended {
    app_command: String,
    app_pid: u32,
    cli_pid: u32,
    run_template_path: String,
    run_template_name: String,
    app_log_path: String,
    daprd_log_path: String,
}

fn fetch_extended(sidecar: &Sidecar) -> Extended {
    let Ok(resp) = sidecar.request("GET", "/v1.0/metadata", &[], b"", METADATA_TIMEOUT) else {
        return Extended::default();
    };
    if !resp.is_success() {
        return Extended::default();
    }
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    let ext = &v["extended"];
    let s = |k: &str| match &ext[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let n = |k: &str| s(k).trim().parse().unwrap_or(0);
    Extended {
        app_command: s("appCommand"),
        app_pid: n("appPID"),
        cli_pid: n("cliPID"),
        run_template_path: s("runTemplatePath"),
        run_template_name: s("runTemplateName"),
        app_log_path: s("appLogPath"),
        daprd_log_path: s("daprdLogPath"),
    }
}

/// `Ns`, `Nm`, `Nh` or `Nd`, truncated, as the official `age` package prints.
pub fn age(seconds: u64) -> String {
    match seconds {
        s if s <= 60 => format!("{s}s"),
        s if s <= 3600 => format!("{}m", s / 60),
        s if s <= 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// `YYYY-MM-DD HH:MM.SS` in local time (the official format, dot included).
pub fn created(epoch_seconds: u64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_opt(epoch_seconds as i64, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M.%S").to_string())
        .unwrap_or_default()
}

/// Every running sidecar with an app id, with its metadata.
pub fn list() -> anyhow::Result<Vec<Instance>> {
    let sidecars = scan();
    let now = now_secs();
    let extended: Vec<Extended> = std::thread::scope(|scope| {
        let handles: Vec<_> = sidecars
            .iter()
            .map(|s| scope.spawn(move || fetch_extended(s)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    Ok(sidecars
        .into_iter()
        .zip(extended)
        .map(|(s, e)| instance(s, e, now))
        .collect())
}

/// The running instance of `app_id` with its metadata; only its sidecar is asked.
pub fn get(app_id: &str) -> Option<Instance> {
    let sidecar = find(app_id)?;
    let now = now_secs();
    let extended = fetch_extended(&sidecar);
    Some(instance(sidecar, extended, now))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One row from what the process table and the sidecar's metadata say.
fn instance(s: Sidecar, e: Extended, now: u64) -> Instance {
    Instance {
        app_id: s.app_id,
        http_port: s.http_port,
        grpc_port: s.grpc_port,
        app_port: s.app_port,
        metrics_enabled: s.metrics_enabled,
        command: e.app_command,
        age: if s.start_time == 0 {
            String::new()
        } else {
            age(now.saturating_sub(s.start_time))
        },
        created: if s.start_time == 0 {
            String::new()
        } else {
            created(s.start_time)
        },
        daprd_pid: s.pid,
        cli_pid: e.cli_pid,
        app_pid: e.app_pid,
        max_request_body_size: MAX_REQUEST_BODY_SIZE,
        http_read_buffer_size: HTTP_READ_BUFFER_SIZE,
        run_template_path: e.run_template_path,
        app_log_path: e.app_log_path,
        daprd_log_path: e.daprd_log_path,
        run_template_name: e.run_template_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_both_flag_forms_and_booleans() {
        let f = parse_flags(&v(&[
            "--app-id",
            "x",
            "--dapr-http-port=3555",
            "--enable-api-logging",
            "--app-max-concurrency",
            "-1",
        ]));
        assert_eq!(f["app-id"], "x");
        assert_eq!(f["dapr-http-port"], "3555");
        assert_eq!(f["enable-api-logging"], "true");
        assert_eq!(f["app-max-concurrency"], "-1");
    }

    #[test]
    fn defaults_apply_and_rows_without_app_id_are_dropped() {
        let s = sidecar_from_cmdline(7, &v(&["daprd", "--app-id", "a"]), 0).unwrap();
        assert_eq!(
            (s.http_port, s.grpc_port, s.app_port, s.metrics_enabled),
            (3500, 50001, 0, true)
        );
        assert!(sidecar_from_cmdline(7, &v(&["daprd", "--dapr-http-port", "1"]), 0).is_none());
    }

    #[test]
    fn age_buckets() {
        assert_eq!(age(60), "60s");
        assert_eq!(age(61), "1m");
        assert_eq!(age(3601), "1h");
        assert_eq!(age(90_000), "1d");
    }
}

//! `dapr run`: run an app with a Dapr sidecar (`-- <command>`), or every app of a multi-app
//! run template (`-f <file|dir|->`). The flags are the official ones; the work is done by
//! `selfhosted::run`/`selfhosted::runfile` (what to run) and `selfhosted::supervisor` (running
//! it). Status lines go where the official command prints them (its warnings on stdout).
//! `-f -k` (run templates on Kubernetes) is answered by `kubernetes_run_file`, the single
//! hook the Kubernetes back end replaces.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

use crate::cli::Context;
use crate::output::Stream;
use crate::report::Reporter;
use crate::selfhosted::instances;
use crate::selfhosted::run::{self, RunConfig};
use crate::selfhosted::supervisor::{multi, single};

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Run Dapr and (optionally) your application side by side. Supported platforms: Self-hosted",
    after_help = "Examples:\n  # Run a .NET application\n  dapr run --app-id myapp --app-port 5000 -- dotnet run\n\n  # Run a Java application\n  dapr run --app-id myapp -- java -jar myapp.jar\n\n  # Run a NodeJs application that listens to port 3000\n  dapr run --app-id myapp --app-port 3000 -- node myapp.js\n\n  # Run a Python application\n  dapr run --app-id myapp -- python myapp.py\n\n  # Run sidecar only\n  dapr run --app-id myapp\n\n  # Run a gRPC application written in Go (listening on port 3000)\n  dapr run --app-id myapp --app-port 3000 --app-protocol grpc -- go run main.go\n\n  # Run sidecar only specifying dapr runtime installation directory\n  dapr run --app-id myapp --runtime-path /usr/local/dapr\n\n  # Run multiple apps by providing path of a run config file\n  dapr run --run-file dapr.yaml\n\n  # Run multiple apps by providing a directory path containing the run config file(dapr.yaml)\n  dapr run --run-file /path/to/directory\n\n  # Run the multi-app run template file from stdin\n  cat dapr.yaml | dapr run --run-file -"
)]
pub struct Args {
    /// The id for your application, used for service discovery
    #[arg(short = 'a', long, value_name = "string")]
    pub app_id: Option<String>,
    /// The port your application is listening on
    #[arg(short = 'p', long, default_value_t = -1, allow_negative_numbers = true, value_name = "int")]
    pub app_port: i32,
    /// The network address the application listens on
    #[arg(long, default_value = "127.0.0.1", value_name = "string")]
    pub app_channel_address: String,
    /// The protocol (grpc, grpcs, http, https, h2c) Dapr uses to talk to the application
    #[arg(short = 'P', long, default_value = "http", value_name = "string")]
    pub app_protocol: String,
    /// The HTTP port for Dapr to listen on
    #[arg(short = 'H', long, default_value_t = -1, allow_negative_numbers = true, value_name = "int")]
    pub dapr_http_port: i32,
    /// The gRPC port for Dapr to listen on
    #[arg(short = 'G', long, default_value_t = -1, allow_negative_numbers = true, value_name = "int")]
    pub dapr_grpc_port: i32,
    /// The gRPC port for the Dapr internal API to listen on
    #[arg(short = 'I', long, default_value_t = -1, allow_negative_numbers = true, value_name = "int")]
    pub dapr_internal_grpc_port: i32,
    /// The port of metrics on dapr
    #[arg(short = 'M', long, default_value_t = -1, allow_negative_numbers = true, value_name = "int")]
    pub metrics_port: i32,
    /// The port for the profile server to listen on
    #[arg(long, default_value_t = -1, allow_negative_numbers = true, value_name = "int")]
    pub profile_port: i32,
    /// Enable pprof profiling via an HTTP endpoint
    #[arg(long)]
    pub enable_profiling: bool,
    /// The log verbosity. Valid values are: debug, info, warn, error, fatal, or panic
    #[arg(long, default_value = "info", value_name = "string")]
    pub log_level: String,
    /// The concurrency level of the application, otherwise is unlimited
    #[arg(long, default_value_t = -1, allow_negative_numbers = true, value_name = "int")]
    pub app_max_concurrency: i32,
    /// Dapr configuration file
    #[arg(short = 'c', long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// The path for resources directory
    #[arg(long, value_delimiter = ',', value_name = "strings")]
    pub resources_path: Vec<PathBuf>,
    /// The path for components directory
    #[arg(short = 'd', long, hide = true, value_name = "string")]
    pub components_path: Option<PathBuf>,
    /// The address of the placement service. Format is either <hostname> for default port or <hostname>:<port> for custom port. Set to an empty string to disable placement
    #[arg(long, value_name = "string")]
    pub placement_host_address: Option<String>,
    /// The address of the scheduler service. Format is either <hostname> for default port or <hostname>:<port> for custom port. Set to an empty string to disable scheduler
    #[arg(long, value_name = "string")]
    pub scheduler_host_address: Option<String>,
    /// Enable https when Dapr invokes the application
    #[arg(long, hide = true)]
    pub app_ssl: bool,
    /// Max size of request body in MB
    #[arg(long, default_value = "4Mi", value_name = "string")]
    pub max_body_size: String,
    /// HTTP header read buffer in KB
    #[arg(long, default_value = "4Ki", value_name = "string")]
    pub read_buffer_size: String,
    /// Path to a unix domain socket dir. If specified, Dapr API servers will use Unix Domain Sockets
    #[arg(short = 'u', long, value_name = "string")]
    pub unix_domain_socket: Option<PathBuf>,
    /// Enable health checks for the application using the protocol defined with app-protocol
    #[arg(long)]
    pub enable_app_health_check: bool,
    /// Path used for health checks; HTTP only
    #[arg(long, default_value = "", value_name = "string")]
    pub app_health_check_path: String,
    /// Interval to probe for the health of the app in seconds
    #[arg(long, default_value_t = 0, value_name = "int")]
    pub app_health_probe_interval: i32,
    /// Timeout for app health probes in milliseconds
    #[arg(long, default_value_t = 0, value_name = "int")]
    pub app_health_probe_timeout: i32,
    /// Number of consecutive failures for the app to be considered unhealthy
    #[arg(long, default_value_t = 0, value_name = "int")]
    pub app_health_threshold: i32,
    /// Log API calls at INFO verbosity. Valid values are: true or false
    #[arg(long)]
    pub enable_api_logging: bool,
    /// Comma separated list of IP addresses that sidecar will listen to
    #[arg(long, default_value = "", value_name = "string")]
    pub dapr_listen_addresses: String,
    /// Path to the run template file for the list of apps to run
    #[arg(short = 'f', long, value_name = "string")]
    pub run_file: Option<String>,
    /// Run the multi-app run template against Kubernetes environment.
    #[arg(short = 'k', long)]
    pub kubernetes: bool,
    /// The command to run the application, after `--`
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    // cobra's notice for a flag marked deprecated (both are hidden from --help).
    if args.components_path.is_some() {
        ctx.printer.line(Stream::Stderr, "Flag --components-path has been deprecated, This flag is deprecated and will be removed in the future releases. Use \"resources-path\" flag instead");
    }
    if args.app_ssl {
        ctx.printer.line(Stream::Stderr, "Flag --app-ssl has been deprecated, This flag is deprecated and will be removed in the future releases. Use \"app-protocol\" flag with https or grpcs values instead");
    }
    let reporter: Arc<dyn Reporter> = Arc::new(ctx.printer.reporter(Stream::Stdout));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;

    if let Some(file) = &args.run_file {
        if args.kubernetes {
            return kubernetes_run_file(file, ctx);
        }
        let ignored = ignored_flags(&args);
        if !ignored.is_empty() {
            ctx.printer.warning(
                Stream::Stdout,
                &format!(
                    "The following flags are ignored when using --run-file and should be configured in the run file instead: {}",
                    ignored.join(", ")
                ),
            );
        }
        return Ok(rt.block_on(multi::run_file(file, reporter, ctx.log_as_json)));
    }

    let home = ctx.home()?;
    let cfg = RunConfig {
        app_id: args.app_id.unwrap_or_default(),
        app_port: args.app_port,
        app_channel_address: args.app_channel_address,
        app_protocol: args.app_protocol,
        http_port: args.dapr_http_port,
        grpc_port: args.dapr_grpc_port,
        internal_grpc_port: args.dapr_internal_grpc_port,
        metrics_port: args.metrics_port,
        profile_port: args.profile_port,
        enable_profiling: args.enable_profiling,
        log_level: args.log_level,
        app_max_concurrency: args.app_max_concurrency,
        config: args.config,
        resources_paths: args.resources_path,
        components_path: args.components_path,
        placement_host_address: args.placement_host_address,
        scheduler_host_address: args.scheduler_host_address,
        app_ssl: args.app_ssl,
        max_body_size: args.max_body_size,
        read_buffer_size: args.read_buffer_size,
        unix_domain_socket: args.unix_domain_socket,
        enable_app_health_check: args.enable_app_health_check,
        app_health_check_path: args.app_health_check_path,
        app_health_probe_interval: args.app_health_probe_interval,
        app_health_probe_timeout: args.app_health_probe_timeout,
        app_health_threshold: args.app_health_threshold,
        enable_api_logging: args.enable_api_logging,
        dapr_listen_addresses: args.dapr_listen_addresses,
        log_as_json: ctx.log_as_json,
        command: args.command,
        env: Vec::new(),
    };
    if cfg.unix_domain_socket.is_some() {
        ctx.printer.warning(
            Stream::Stdout,
            "Unix domain sockets are currently a preview feature",
        );
    }
    // The instance scan is only needed to keep a generated id or an explicit port unique.
    let needs_scan = cfg.app_id.trim().is_empty() || cfg.has_explicit_port();
    let running = if needs_scan {
        instances::scan()
    } else {
        Vec::new()
    };
    let prepared = run::prepare(&cfg, home.root(), &running)?;
    let log_dir = Some(home.root().join("logs"));
    Ok(rt.block_on(single::run_single(prepared, reporter, log_dir)))
}

/// `dapr run -f <file> -k`: deploy a run template to Kubernetes.
pub fn kubernetes_run_file(_file: &str, ctx: &Context) -> anyhow::Result<i32> {
    ctx.printer
        .failure("Kubernetes mode is not implemented yet");
    Ok(1)
}

/// Run flags that were set on the command line together with `-f` (they do not apply):
/// those whose value differs from the clap default.
fn ignored_flags(a: &Args) -> Vec<&'static str> {
    use clap::{Args as _, FromArgMatches};
    // The defaults, as clap itself fills them in for a bare `run`.
    let d = Args::augment_args(clap::Command::new("run"))
        .try_get_matches_from(["run"])
        .ok()
        .and_then(|m| Args::from_arg_matches(&m).ok())
        .unwrap_or_default();
    let mut v = Vec::new();
    let mut check = |set: bool, name: &'static str| {
        if set {
            v.push(name)
        }
    };
    check(a.app_id.is_some(), "app-id");
    check(a.app_port != d.app_port, "app-port");
    check(
        a.app_channel_address != d.app_channel_address,
        "app-channel-address",
    );
    check(a.app_protocol != d.app_protocol, "app-protocol");
    check(a.dapr_http_port != d.dapr_http_port, "dapr-http-port");
    check(a.dapr_grpc_port != d.dapr_grpc_port, "dapr-grpc-port");
    check(
        a.dapr_internal_grpc_port != d.dapr_internal_grpc_port,
        "dapr-internal-grpc-port",
    );
    check(a.metrics_port != d.metrics_port, "metrics-port");
    check(a.profile_port != d.profile_port, "profile-port");
    check(a.enable_profiling, "enable-profiling");
    check(a.log_level != d.log_level, "log-level");
    check(
        a.app_max_concurrency != d.app_max_concurrency,
        "app-max-concurrency",
    );
    check(a.config.is_some(), "config");
    check(!a.resources_path.is_empty(), "resources-path");
    check(a.components_path.is_some(), "components-path");
    check(a.placement_host_address.is_some(), "placement-host-address");
    check(a.scheduler_host_address.is_some(), "scheduler-host-address");
    check(a.app_ssl, "app-ssl");
    check(a.max_body_size != d.max_body_size, "max-body-size");
    check(a.read_buffer_size != d.read_buffer_size, "read-buffer-size");
    check(a.unix_domain_socket.is_some(), "unix-domain-socket");
    check(a.enable_app_health_check, "enable-app-health-check");
    check(!a.app_health_check_path.is_empty(), "app-health-check-path");
    check(
        a.app_health_probe_interval != 0,
        "app-health-probe-interval",
    );
    check(a.app_health_probe_timeout != 0, "app-health-probe-timeout");
    check(a.app_health_threshold != 0, "app-health-threshold");
    check(a.enable_api_logging, "enable-api-logging");
    check(!a.dapr_listen_addresses.is_empty(), "dapr-listen-addresses");
    check(!a.command.is_empty(), "command");
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn ignored(args: &[&str]) -> Vec<&'static str> {
        match crate::cli::Cli::try_parse_from(args).unwrap().command {
            Some(crate::cli::Command::Run(a)) => ignored_flags(&a),
            other => panic!("not a run: {other:?}"),
        }
    }

    #[test]
    fn flags_that_differ_from_their_defaults_are_reported() {
        assert!(ignored(&["dapr", "run", "-f", "x.yaml"]).is_empty());
        // A default given explicitly changes nothing, so it is not reported.
        assert_eq!(
            ignored(&[
                "dapr",
                "run",
                "-f",
                "x.yaml",
                "--log-level",
                "debug",
                "-p",
                "3000",
                "--max-body-size",
                "4Mi",
                "--read-buffer-size",
                "4Ki",
                "-P",
                "http",
            ]),
            ["app-port", "log-level"]
        );
    }
}

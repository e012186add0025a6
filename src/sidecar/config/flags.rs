//! daprd's command-line flags as clap declares them (names, defaults, help), before
//! validation; `super::resolve` turns them into a [`super::Config`].

use clap::Parser;

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
pub(super) fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err("valid values are true or false".to_string()),
    }
}

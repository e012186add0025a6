//! `dapr annotate -k`: add Dapr annotations to a Kubernetes manifest, offline. Reads a
//! file, a directory (every file, recursively, in name order), an http(s) URL or stdin
//! (`-`) and writes the result to stdout.

use std::io::Read;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::Context;
use crate::kubernetes::annotate::{AnnotateOptions, annotate};

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Add dapr annotations to a Kubernetes configuration. Supported platforms: Kubernetes",
    after_help = "Examples:\n\n  # Annotate the first deployment found in the input\n  kubectl get deploy -l app=node -o yaml | dapr annotate -k - | kubectl apply -f -\n\n  # Annotate multiple deployments by name in a chain\n  kubectl get deploy -o yaml | dapr annotate -k -r nodeapp - | dapr annotate -k -r pythonapp - | kubectl apply -f -\n\n  # Annotate deployment in a specific namespace from file or directory by name\n  dapr annotate -k -r nodeapp -n namespace mydeploy.yaml | kubectl apply -f -\n\n  # Annotate deployment from url by name\n  dapr annotate -k -r nodeapp --log-level debug https://raw.githubusercontent.com/dapr/quickstarts/master/tutorials/hello-kubernetes/deploy/node.yaml | kubectl apply -f -\n\n--------------------------------------------------------------------------------\nWARNING: If an app id is not provided, we will generate one using the format '<namespace>-<kind>-<name>'.\n--------------------------------------------------------------------------------"
)]
pub struct Args {
    /// The manifest: a file, a directory, an http(s) URL, or - for stdin
    #[arg(value_name = "FILE")]
    pub input: Option<String>,
    /// Apply annotations to Kubernetes resources
    #[arg(short = 'k', long)]
    pub kubernetes: bool,
    /// The resource to target to annotate
    #[arg(short = 'r', long, value_name = "string", default_value = "")]
    pub resource: String,
    /// The namespace the resource target is in (can only be set if --resource is also set)
    #[arg(short = 'n', long, value_name = "string", default_value = "")]
    pub namespace: String,
    /// The app id to annotate
    #[arg(short = 'a', long, value_name = "string", default_value = "")]
    pub app_id: String,
    /// The port to expose the app on
    #[arg(short = 'p', long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub app_port: i64,
    /// The config file to annotate
    #[arg(short = 'c', long, value_name = "string", default_value = "")]
    pub config: String,
    /// The protocol to use for the app: http (default), grpc, https, grpcs, h2c
    #[arg(long, value_name = "string", default_value = "")]
    pub app_protocol: String,
    /// Enable profiling
    #[arg(long)]
    pub enable_profile: bool,
    /// The log level to use
    #[arg(long, value_name = "string", default_value = "")]
    pub log_level: String,
    /// The secret to use for the API token
    #[arg(long, value_name = "string", default_value = "")]
    pub api_token_secret: String,
    /// The secret to use for the app token
    #[arg(long, value_name = "string", default_value = "")]
    pub app_token_secret: String,
    /// The maximum number of concurrent requests to allow
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub app_max_concurrency: i64,
    /// Enable metrics
    #[arg(long)]
    pub enable_metrics: bool,
    /// The port to expose the metrics on
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub metrics_port: i64,
    /// Enable debug
    #[arg(long)]
    pub enable_debug: bool,
    /// Environment variables to set (key value pairs, comma separated)
    #[arg(long, value_name = "string", default_value = "")]
    pub env: String,
    /// The CPU limit to set for the sidecar. See valid values here: https://kubernetes.io/docs/tasks/configure-pod-container/quality-service-pod/
    #[arg(long, value_name = "string", default_value = "")]
    pub cpu_limit: String,
    /// The memory limit to set for the sidecar. See valid values here: https://kubernetes.io/docs/tasks/configure-pod-container/quality-service-pod/
    #[arg(long, value_name = "string", default_value = "")]
    pub memory_limit: String,
    /// The CPU request to set for the sidecar. See valid values here: https://kubernetes.io/docs/tasks/configure-pod-container/quality-service-pod/
    #[arg(long, value_name = "string", default_value = "")]
    pub cpu_request: String,
    /// The memory request to set for the sidecar. See valid values here: https://kubernetes.io/docs/tasks/configure-pod-container/quality-service-pod/
    #[arg(long, value_name = "string", default_value = "")]
    pub memory_request: String,
    /// The addresses for sidecar to listen on. To listen on all IPv4 addresses, use 0.0.0.0. To listen on all IPv6 addresses, use [::]
    #[arg(long, value_name = "string", default_value = "")]
    pub listen_addresses: String,
    /// The delay to use for the liveness probe
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub liveness_probe_delay: i64,
    /// The timeout to use for the liveness probe
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub liveness_probe_timeout: i64,
    /// The period to use for the liveness probe
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub liveness_probe_period: i64,
    /// The threshold to use for the liveness probe
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub liveness_probe_threshold: i64,
    /// The delay to use for the readiness probe
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub readiness_probe_delay: i64,
    /// The timeout to use for the readiness probe
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub readiness_probe_timeout: i64,
    /// The period to use for the readiness probe
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub readiness_probe_period: i64,
    /// The threshold to use for the readiness probe
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub readiness_probe_threshold: i64,
    /// The image to use for the dapr sidecar container
    #[arg(long, value_name = "string", default_value = "")]
    pub dapr_image: String,
    /// Enable SSL for the app
    #[arg(long, hide = true)]
    pub app_ssl: bool,
    /// Max size of request body. Default is 4Mi
    #[arg(
        long,
        value_name = "string",
        default_value = "4Mi",
        allow_hyphen_values = true
    )]
    pub max_body_size: String,
    /// The size of the read buffer. Default is 4Ki
    #[arg(
        long,
        value_name = "string",
        default_value = "4Ki",
        allow_hyphen_values = true
    )]
    pub read_buffer_size: String,
    /// Enable streaming request body for HTTP
    #[arg(long)]
    pub http_stream_request_body: bool,
    /// The number of seconds to wait for the app to shutdown
    #[arg(long, value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub graceful_shutdown_seconds: i64,
    /// Enable API logging for the Dapr sidecar
    #[arg(long)]
    pub enable_api_logging: bool,
    /// Linux domain socket path to use for communicating with the Dapr sidecar
    #[arg(long, value_name = "string", default_value = "")]
    pub unix_domain_socket_path: String,
    /// List of pod volumes to be mounted to the sidecar container in read-only mode
    #[arg(long, value_name = "string", default_value = "")]
    pub volume_mounts: String,
    /// List of pod volumes to be mounted to the sidecar container in read-write mode
    #[arg(long, value_name = "string", default_value = "")]
    pub volume_mounts_rw: String,
    /// Disable the built-in Kubernetes secret store
    #[arg(long)]
    pub disable_builtin_k8s_secret_store: bool,
    /// Comma separated list of addresses for Dapr actor placement servers
    #[arg(long, value_name = "string", default_value = "")]
    pub placement_host_address: String,
}

fn read_dir_files(dir: &Path, out: &mut String) -> anyhow::Result<()> {
    let mut entries: Vec<_> = fs_err::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_dir_files(&p, out)?;
        } else {
            let text = fs_err::read_to_string(&p)?;
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            if !out.is_empty() {
                out.push_str("---\n");
            }
            out.push_str(&text);
        }
    }
    Ok(())
}

fn read_input(input: &str) -> anyhow::Result<String> {
    if input == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading stdin")?;
        return Ok(s);
    }
    if input.starts_with("http://") || input.starts_with("https://") {
        let resp = reqwest::blocking::get(input).with_context(|| format!("fetching {input}"))?;
        if !resp.status().is_success() {
            anyhow::bail!("unable to read from {input}: HTTP {}", resp.status());
        }
        return Ok(resp.text()?);
    }
    let path = Path::new(input);
    if path.is_dir() {
        let mut s = String::new();
        read_dir_files(path, &mut s)?;
        return Ok(s);
    }
    Ok(fs_err::read_to_string(path)?)
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let p = &ctx.printer;
    if !args.kubernetes {
        p.failure("annotate command is only supported for Kubernetes, please provide the -k flag");
        return Ok(1);
    }
    let Some(input) = args.input.as_deref().filter(|i| !i.is_empty()) else {
        p.failure("please specify a Kubernetes resource file");
        return Ok(1);
    };
    if !args.namespace.is_empty() && args.resource.is_empty() {
        p.failure("--resource is required when --namespace is provided.");
        return Ok(1);
    }
    let text = read_input(input)?;
    let opts = AnnotateOptions {
        resource: Some(args.resource).filter(|r| !r.is_empty()),
        namespace: Some(args.namespace).filter(|n| !n.is_empty()),
        app_id: args.app_id,
        app_port: args.app_port,
        config: args.config,
        app_protocol: args.app_protocol,
        enable_profile: args.enable_profile,
        log_level: args.log_level,
        api_token_secret: args.api_token_secret,
        app_token_secret: args.app_token_secret,
        // The official flag shadows the root --log-as-json; here the root flag serves both.
        log_as_json: ctx.log_as_json,
        app_max_concurrency: args.app_max_concurrency,
        enable_metrics: args.enable_metrics,
        metrics_port: args.metrics_port,
        enable_debug: args.enable_debug,
        env: args.env,
        cpu_limit: args.cpu_limit,
        memory_limit: args.memory_limit,
        cpu_request: args.cpu_request,
        memory_request: args.memory_request,
        listen_addresses: args.listen_addresses,
        liveness_probe_delay: args.liveness_probe_delay,
        liveness_probe_timeout: args.liveness_probe_timeout,
        liveness_probe_period: args.liveness_probe_period,
        liveness_probe_threshold: args.liveness_probe_threshold,
        readiness_probe_delay: args.readiness_probe_delay,
        readiness_probe_timeout: args.readiness_probe_timeout,
        readiness_probe_period: args.readiness_probe_period,
        readiness_probe_threshold: args.readiness_probe_threshold,
        dapr_image: args.dapr_image,
        app_ssl: args.app_ssl,
        max_body_size: args.max_body_size,
        read_buffer_size: args.read_buffer_size,
        http_stream_request_body: args.http_stream_request_body,
        graceful_shutdown_seconds: args.graceful_shutdown_seconds,
        enable_api_logging: args.enable_api_logging,
        unix_domain_socket_path: args.unix_domain_socket_path,
        volume_mounts: args.volume_mounts,
        volume_mounts_rw: args.volume_mounts_rw,
        disable_builtin_k8s_secret_store: args.disable_builtin_k8s_secret_store,
        placement_host_address: args.placement_host_address,
    };
    match annotate(&text, &opts) {
        Ok(out) => {
            p.data(&out);
            Ok(0)
        }
        Err(e) => {
            p.failure(&e.to_string());
            Ok(1)
        }
    }
}

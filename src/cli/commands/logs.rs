//! `dapr logs`: the official command is Kubernetes-only (`-k`, fetched from the daprd
//! container); self-hosted mode (without `-k`) prints the sidecar's (or with `--source app`
//! the app's) log file written by `dapr run` / `dapr run -f`, optionally following it.
//! Kubernetes mode (`-k`) is the Kubernetes back end's `logs`.

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::selfhosted::instances;
use crate::selfhosted::logs::{self, Source};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogSource {
    /// The Dapr sidecar's log
    #[default]
    Daprd,
    /// The application's output
    App,
}

#[derive(Debug, clap::Args)]
#[command(
    about = "Get Dapr sidecar logs for an application. Supported platforms: Kubernetes, Self-hosted",
    after_help = "Examples:\n  # Get logs of sample app from target pod in custom namespace\n  dapr logs -k --app-id sample --pod-name target --namespace custom\n\n  # Get the sidecar log of an app started with dapr run (self-hosted)\n  dapr logs --app-id sample\n\n  # Follow the app's own output (self-hosted)\n  dapr logs --app-id sample --source app --follow"
)]
pub struct Args {
    /// Get logs from a Kubernetes cluster
    #[arg(short = 'k', long)]
    pub kubernetes: bool,
    /// The application id for which logs are needed
    #[arg(short = 'a', long, required = true, value_name = "string")]
    pub app_id: String,
    /// The name of the pod in Kubernetes, in case your application has multiple pods (optional)
    #[arg(short = 'p', long, default_value = "", value_name = "string")]
    pub pod_name: String,
    /// The Kubernetes namespace in which your application is deployed
    #[arg(short = 'n', long, default_value = "default", value_name = "string")]
    pub namespace: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Self-hosted: which log to print, the sidecar's or the app's
    #[arg(long, value_enum, default_value_t = LogSource::Daprd)]
    pub source: LogSource,
    /// Keep printing new lines until interrupted (Ctrl-C)
    #[arg(long)]
    pub follow: bool,
    /// Self-hosted: print only the last N lines
    #[arg(long, value_name = "int")]
    pub tail: Option<usize>,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    if args.kubernetes {
        return kubernetes_logs(&args, ctx);
    }
    let home = ctx.home()?;
    let source = match args.source {
        LogSource::Daprd => Source::Daprd,
        LogSource::App => Source::App,
    };
    // Only this app's sidecar is asked for its metadata (its log paths and CLI pid).
    let running = instances::get(&args.app_id);
    let cwd = std::env::current_dir().unwrap_or_default();
    let path = logs::find(
        &args.app_id,
        source,
        &home.root().join("logs"),
        running.as_ref(),
        &cwd,
    )?;
    let (text, end) = logs::read(&path, args.tail)?;
    ctx.printer.data(&text);
    if args.follow {
        logs::follow(&path, end, |chunk| {
            ctx.printer.data(chunk);
            true
        })?;
        return Ok(0);
    }
    ctx.printer.success("Fetched logs");
    Ok(0)
}

/// `dapr logs -k`: the daprd container log of the app's pod (Kubernetes back end).
pub fn kubernetes_logs(args: &Args, ctx: &Context) -> anyhow::Result<i32> {
    let opts = crate::kubernetes::commands::LogsOptions {
        cluster: args.cluster.options(),
        app_id: args.app_id.clone(),
        pod_name: Some(args.pod_name.clone()).filter(|p| !p.is_empty()),
        namespace: args.namespace.clone(),
        follow: args.follow,
    };
    crate::kubernetes::commands::logs(&opts, &mut |text| ctx.printer.data(text))?;
    ctx.printer.success("Fetched logs");
    Ok(0)
}

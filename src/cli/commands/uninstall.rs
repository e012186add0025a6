//! `dapr uninstall [--all]`: remove the runtime (self-hosted), with the official messages.
//! No containers are removed (none are started by `dapr init` here); the official
//! `WARNING: <name> container does not exist` lines are printed for them instead. A directory that
//! cannot be removed is a failure (exit 1), unlike the official CLI (issue #1667).
//! With `-k` the Kubernetes back end deletes what `init -k` created (the CRDs only with
//! `--all`); there, as in the official CLI, a failure is printed and exits 0.

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands::{self as k8s, UninstallOptions};
use crate::output::{Status, Stream};
use crate::selfhosted::uninstall;

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Uninstall Dapr runtime. Supported platforms: Kubernetes and self-hosted",
    after_help = "Examples:
  # Uninstall from self-hosted mode (removes the runtime binaries)
  dapr uninstall

  # Uninstall from self-hosted mode and remove the whole install directory
  dapr uninstall --all

  # Uninstall from a custom install location
  dapr uninstall --all --runtime-path /opt/dapr

  # Uninstall from Kubernetes
  dapr uninstall -k

  # Uninstall from Kubernetes and remove CRDs
  dapr uninstall -k --all"
)]
pub struct Args {
    /// Uninstall Dapr from a Kubernetes cluster
    #[arg(short = 'k', long)]
    pub kubernetes: bool,
    /// Uninstall Dapr Redis and Zipkin installations from Kubernetes cluster
    #[arg(long)]
    pub dev: bool,
    /// The timeout for the Kubernetes uninstall
    #[arg(long, value_name = "uint", default_value_t = 300)]
    pub timeout: u32,
    /// Remove .dapr directory, Redis, Placement, Scheduler and Zipkin containers on local machine, and CRDs on a Kubernetes cluster
    #[arg(long)]
    pub all: bool,
    /// The Docker network from which to remove the Dapr runtime
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        env = "DAPR_NETWORK",
        hide_env = true
    )]
    pub network: String,
    /// The Kubernetes namespace to uninstall Dapr from
    #[arg(
        short = 'n',
        long,
        value_name = "string",
        default_value = "dapr-system"
    )]
    pub namespace: String,
    /// The container runtime to use. Supported values are docker (default) and podman
    #[arg(
        long,
        value_name = "string",
        default_value = "docker",
        env = "DAPR_CONTAINER_RUNTIME",
        hide_env = true
    )]
    pub container_runtime: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let p = &ctx.printer;
    let runtime = args.container_runtime.trim();
    if runtime != "docker" && runtime != "podman" {
        // On stdout, as the official uninstall prints this one failure.
        p.status_to(
            Stream::Stdout,
            Status::Failure,
            "Invalid container runtime. Supported values are docker and podman.",
        );
        return Ok(1);
    }
    if args.kubernetes {
        if ctx.runtime_path_given() {
            p.failure("--runtime-path is only valid for self-hosted mode");
            return Ok(1);
        }
        return run_kubernetes(&args, ctx);
    }
    p.info("Removing Dapr from your machine...");
    let home = ctx.home()?;
    // The official uninstall prints its warnings on stdout.
    let result = uninstall::uninstall(&home, args.all, &p.reporter(Stream::Stdout));
    match result {
        Ok(()) => {
            p.success("Dapr has been removed successfully");
            Ok(0)
        }
        Err(e) => {
            p.failure(&format!("Error removing Dapr: {e}"));
            Ok(1)
        }
    }
}

/// `dapr uninstall -k`. As the official CLI, a failure is printed and exits 0 (issue #1667).
fn run_kubernetes(args: &Args, ctx: &Context) -> anyhow::Result<i32> {
    let p = &ctx.printer;
    p.info("Removing Dapr from your cluster...");
    let opts = UninstallOptions {
        cluster: super::init::cluster_options(&args.cluster),
        namespace: args.namespace.clone(),
        all: args.all,
        dev: args.dev,
        timeout_secs: u64::from(args.timeout),
    };
    match k8s::uninstall(&opts) {
        // A plain line, on stdout with the command's other warnings.
        Ok(false) => p.line(Stream::Stdout, "WARNING: dapr release does not exist"),
        Ok(true) => {}
        Err(e) => {
            p.failure(&format!("Error removing Dapr: {e}"));
            return Ok(0);
        }
    }
    p.success("Dapr has been removed successfully");
    Ok(0)
}

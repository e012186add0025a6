//! `dapr configurations -k`: the Dapr configurations in the cluster as a table, JSON or YAML.

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands::{self as k8s, ResourceListOptions};
use crate::output::format::{INVALID_FORMAT, OutputFormat};

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "List all Dapr configurations. Supported platforms: Kubernetes",
    after_help = "Examples:\n\n  # List Kubernetes Dapr configurations\n  dapr configurations -k\n\n  # List Kubernetes Dapr configurations in a namespace\n  dapr configurations -k --namespace default\n\n  # Print a specific Kubernetes Dapr configuration\n  dapr configurations -k -n target\n\n  # List Kubernetes Dapr configurations in all namespaces\n  dapr configurations -k --all-namespaces"
)]
pub struct Args {
    /// List all Dapr configurations in a Kubernetes cluster
    #[arg(short = 'k', long, required = true)]
    pub kubernetes: bool,
    /// If true, list all Dapr configurations in all namespaces
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// List define namespace configurations in a Kubernetes cluster
    #[arg(long, value_name = "string", default_value = "")]
    pub namespace: String,
    /// The configuration name to be printed (optional)
    #[arg(short = 'n', long, value_name = "string", default_value = "")]
    pub name: String,
    /// Output format (options: json or yaml or list)
    #[arg(short = 'o', long, value_name = "string", default_value = "list")]
    pub output: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let Some(output) = OutputFormat::parse(&args.output) else {
        ctx.printer.failure(INVALID_FORMAT);
        return Ok(1);
    };
    let opts = ResourceListOptions {
        cluster: args.cluster.options(),
        namespace: Some(args.namespace).filter(|n| !n.is_empty()),
        all_namespaces: args.all_namespaces,
        name: Some(args.name).filter(|n| !n.is_empty()),
        output,
    };
    k8s::configurations(&opts, &ctx.printer)
}

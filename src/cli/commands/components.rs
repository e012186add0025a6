//! `dapr components -k`: the Dapr components in the cluster as a table, JSON or YAML.
//! Also the flags it shares with `dapr configurations -k` ([`ResourceListArgs`]).

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands::{self as k8s, ResourceListOptions};
use crate::output::format::{INVALID_FORMAT, OutputFormat};

/// The flags of `components -k` and `configurations -k` (help worded for components;
/// `configurations` rewords it with `mut_arg`).
#[derive(Debug, Default, clap::Args)]
pub struct ResourceListArgs {
    /// List all Dapr components in a Kubernetes cluster
    #[arg(short = 'k', long, required = true)]
    pub kubernetes: bool,
    /// If true, list all Dapr components in all namespaces
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Disable upcoming namespace warnings in command output
    #[arg(long)]
    pub no_namespace_warning: bool,
    /// List define namespace components in a Kubernetes cluster
    #[arg(long, value_name = "string", default_value = "")]
    pub namespace: String,
    /// The component name to be printed (optional)
    #[arg(short = 'n', long, value_name = "string", default_value = "")]
    pub name: String,
    /// Output format (options: json or yaml or list)
    #[arg(short = 'o', long, value_name = "string", default_value = "list")]
    pub output: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

impl ResourceListArgs {
    /// The back-end options; `None` after reporting an invalid `-o`.
    pub fn options(self, ctx: &Context) -> Option<ResourceListOptions> {
        let Some(output) = OutputFormat::parse(&self.output) else {
            ctx.printer.failure(INVALID_FORMAT);
            return None;
        };
        Some(ResourceListOptions {
            cluster: self.cluster.options(),
            namespace: Some(self.namespace).filter(|n| !n.is_empty()),
            all_namespaces: self.all_namespaces,
            no_namespace_warning: self.no_namespace_warning,
            name: Some(self.name).filter(|n| !n.is_empty()),
            output,
        })
    }
}

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "List all Dapr components. Supported platforms: Kubernetes",
    after_help = "Examples:\n\n  # List Kubernetes components\n  dapr components -k\n\n  # List define namespace Kubernetes components\n  dapr components -k --namespace default\n\n  # Print specific Kubernetes component\n  dapr components -k -n target\n\n  # List all namespaces Kubernetes components\n  dapr components -k --all-namespaces"
)]
pub struct Args {
    #[command(flatten)]
    pub list: ResourceListArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    match args.list.options(ctx) {
        Some(opts) => k8s::components(&opts, &ctx.printer),
        None => Ok(1),
    }
}

//! `dapr status -k`: the health of the Dapr control plane in the cluster.

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Show the health status of Dapr services. Supported platforms: Kubernetes",
    after_help = "Examples:\n\n  # Get status of Dapr services from Kubernetes\n  dapr status -k"
)]
pub struct Args {
    /// Show the health status of Dapr services on Kubernetes cluster
    #[arg(short = 'k', long, required = true)]
    pub kubernetes: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    crate::kubernetes::commands::status(&args.cluster.options(), &ctx.printer)
}

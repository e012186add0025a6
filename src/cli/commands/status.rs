//! `dapr status -k`: the health of the Dapr control plane in the cluster.

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands as k8s;
use crate::kubernetes::status;
use crate::output::{Stream, table};

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
    let p = &ctx.printer;
    let rows = k8s::status(&args.cluster.options(), &p.reporter(Stream::Stdout))?;
    if rows.is_empty() {
        p.failure("No status returned. Is Dapr initialized in your cluster?");
        return Ok(1);
    }
    p.data(&table::render(
        &status::STATUS_HEADERS,
        &status::table_cells(&rows),
    ));
    Ok(0)
}

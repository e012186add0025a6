//! `dapr configurations -k`: the Dapr configurations in the cluster as a table, JSON or YAML.

use super::components::{Kind, ResourceListArgs};
use crate::cli::Context;

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "List all Dapr configurations. Supported platforms: Kubernetes",
    after_help = "Examples:\n\n  # List Kubernetes Dapr configurations\n  dapr configurations -k\n\n  # List Kubernetes Dapr configurations in a namespace\n  dapr configurations -k --namespace default\n\n  # Print a specific Kubernetes Dapr configuration\n  dapr configurations -k -n target\n\n  # List Kubernetes Dapr configurations in all namespaces\n  dapr configurations -k --all-namespaces",
    mut_arg("kubernetes", |a| a.help("List all Dapr configurations in a Kubernetes cluster")),
    mut_arg("all_namespaces", |a| a.help("If true, list all Dapr configurations in all namespaces")),
    mut_arg("namespace", |a| a.help("List define namespace configurations in a Kubernetes cluster")),
    mut_arg("name", |a| a.help("The configuration name to be printed (optional)"))
)]
pub struct Args {
    #[command(flatten)]
    pub list: ResourceListArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    args.list.run(Kind::Configuration, ctx)
}

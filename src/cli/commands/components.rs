//! `dapr components -k`: the Dapr components in the cluster as a table, JSON or YAML.
//! Also the flags it shares with `dapr configurations -k` ([`ResourceListArgs`]).

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands::{self as k8s, ResourceListOptions};
use crate::kubernetes::resources;
use crate::output::format::{self, INVALID_FORMAT, OutputFormat};
use crate::output::{Stream, table};

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

/// Which resources a [`ResourceListArgs`] command lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Component,
    Configuration,
}

impl ResourceListArgs {
    /// List the resources of `kind` and print them as the table, JSON or YAML.
    pub fn run(self, kind: Kind, ctx: &Context) -> anyhow::Result<i32> {
        let Some(output) = OutputFormat::parse(&self.output) else {
            ctx.printer.failure(INVALID_FORMAT);
            return Ok(1);
        };
        let p = match output {
            OutputFormat::Table => ctx.printer,
            OutputFormat::Json | OutputFormat::Yaml => ctx.printer.for_document(),
        };
        // Unlike `list -k`, the official commands warn whatever the namespace flags say,
        // on stdout ahead of the table (on stderr here when stdout holds JSON or YAML).
        if !self.no_namespace_warning {
            p.warning(Stream::Stdout, k8s::NAMESPACE_WARNING);
        }
        let opts = ResourceListOptions {
            cluster: self.cluster.options(),
            namespace: Some(self.namespace).filter(|n| !n.is_empty() && !self.all_namespaces),
        };
        let reporter = p.reporter(Stream::Stdout);
        let items = match kind {
            Kind::Component => k8s::components(&opts, &reporter)?,
            Kind::Configuration => k8s::configurations(&opts, &reporter)?,
        };
        let name = Some(self.name.as_str()).filter(|n| !n.is_empty());
        match (output, kind) {
            (OutputFormat::Json, _) => p.data(&format::json(&resources::details(&items, name))),
            (OutputFormat::Yaml, _) => p.data(&format::yaml(&resources::details(&items, name))),
            (OutputFormat::Table, Kind::Component) => p.data(&table::render(
                &resources::COMPONENT_HEADERS,
                &resources::component_rows(&items, name),
            )),
            (OutputFormat::Table, Kind::Configuration) => p.data(&table::render(
                &resources::CONFIGURATION_HEADERS,
                &resources::configuration_rows(&items, name),
            )),
        }
        Ok(0)
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
    args.list.run(Kind::Component, ctx)
}

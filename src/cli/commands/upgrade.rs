//! `dapr upgrade -k --runtime-version V`: move the control plane to another version.

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands::{self as k8s, UpgradeOptions};
use crate::output::Stream;

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Upgrades or downgrades a Dapr control plane installation in a cluster. Supported platforms: Kubernetes",
    after_help = "Examples:\n\n  # Upgrade Dapr in Kubernetes to latest version\n  dapr upgrade -k\n\n  # Upgrade or downgrade to a specified version of Dapr runtime in Kubernetes\n  dapr upgrade --runtime-version 1.2 -k\n\n  # Upgrade or downgrade to a specified version of Dapr runtime in Kubernetes with a custom timeout\n  dapr upgrade --runtime-version 1.2 -k --timeout 600"
)]
pub struct Args {
    /// Upgrade or downgrade Dapr in a Kubernetes cluster
    #[arg(short = 'k', long, required = true)]
    pub kubernetes: bool,
    /// The version of the Dapr runtime to upgrade or downgrade to, for example: 1.0.0
    #[arg(long, value_name = "string", required = true)]
    pub runtime_version: String,
    /// The timeout for the Kubernetes upgrade
    #[arg(long, value_name = "uint", default_value_t = 300)]
    pub timeout: u64,
    /// Configure additional chart values, e.g. --set key=value
    #[arg(long = "set", value_name = "stringArray")]
    pub set: Vec<String>,
    /// Custom/private docker image repository URL
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        env = "DAPR_IMAGE_REGISTRY",
        hide_env = true
    )]
    pub image_registry: String,
    /// The image variant to use for the Dapr runtime, for example: mariner
    #[arg(long, value_name = "string", default_value = "")]
    pub image_variant: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let opts = UpgradeOptions {
        cluster: args.cluster.options(),
        runtime_version: args.runtime_version,
        timeout_secs: args.timeout,
        set: args.set,
        image_registry: Some(args.image_registry).filter(|r| !r.is_empty()),
        image_variant: Some(args.image_variant).filter(|v| !v.is_empty()),
    };
    let p = &ctx.printer;
    match k8s::upgrade(&opts, &p.reporter(Stream::Stdout))? {
        Ok(version) => {
            p.success(&format!(
                "Dapr control plane successfully upgraded to version {version}. Make sure your deployments are restarted to pick up the latest sidecar version."
            ));
            Ok(0)
        }
        Err(reason) => {
            p.failure(&format!("Failed to upgrade Dapr: {reason}"));
            Ok(1)
        }
    }
}

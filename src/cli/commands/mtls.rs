//! `dapr mtls -k`, `dapr mtls export`, `dapr mtls expiry`: the cluster's mTLS setting and
//! its trust chain.
//!
//! Limits: `mtls renew-certificate` is not implemented (it needs certificate generation).

use std::path::PathBuf;

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands as k8s;

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Check if mTLS is enabled. Supported platforms: Kubernetes",
    after_help = "Examples:\n\n  # Check if mTLS is enabled on the Kubernetes cluster\n  dapr mtls -k",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// Check if mTLS is enabled in a Kubernetes cluster
    #[arg(short = 'k', long)]
    pub kubernetes: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(subcommand)]
    pub command: Option<Sub>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Export the root CA, issuer cert and key from Kubernetes to local files
    Export {
        /// The output directory path to save the certs
        #[arg(short = 'o', long, value_name = "string", default_value = ".")]
        out: PathBuf,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Checks the expiry of the root Certificate Authority (CA) certificate
    Expiry {
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    match args.command {
        Some(Sub::Export { out, cluster }) => {
            k8s::mtls_export(&cluster.options(), &out, &ctx.printer)
        }
        Some(Sub::Expiry { cluster }) => k8s::mtls_expiry(&cluster.options(), &ctx.printer),
        None if args.kubernetes => k8s::mtls(&args.cluster.options(), &ctx.printer),
        None => {
            ctx.printer
                .failure("required flag(s) \"kubernetes\" not set");
            Ok(1)
        }
    }
}

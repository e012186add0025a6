//! `dapr mtls -k`, `dapr mtls export`, `dapr mtls expiry`: the cluster's mTLS setting and
//! its trust chain.
//! `dapr mtls renew-certificate -k` rotates the trust chain.

use std::path::PathBuf;

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands as k8s;

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Check if mTLS is enabled. Supported platforms: Kubernetes",
    after_help = "Examples:\n\n  # Check if mTLS is enabled on the Kubernetes cluster\n  dapr mtls -k",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    /// Check if mTLS is enabled in a Kubernetes cluster
    #[arg(short = 'k', long, required = true)]
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
    /// Rotates Dapr root certificate of your kubernetes cluster
    #[command(visible_aliases = ["renew-cert", "rnc"])]
    RenewCertificate(RenewArgs),
}

#[derive(Debug, clap::Args)]
pub struct RenewArgs {
    /// Renew certificates in a Kubernetes cluster
    #[arg(short = 'k', long, required = true)]
    pub kubernetes: bool,
    /// The root.key file which is used to generate root certificate
    #[arg(long, value_name = "string")]
    pub private_key: Option<PathBuf>,
    /// The root certificate file
    #[arg(long, value_name = "string")]
    pub ca_root_certificate: Option<PathBuf>,
    /// The issuer certificate private key
    #[arg(long, value_name = "string")]
    pub issuer_private_key: Option<PathBuf>,
    /// The issuer certificate
    #[arg(long, value_name = "string")]
    pub issuer_public_certificate: Option<PathBuf>,
    /// Max days before certificate expires
    #[arg(long, value_name = "uint", default_value_t = 365)]
    pub valid_until: u32,
    /// Restart Dapr control plane services
    #[arg(long)]
    pub restart: bool,
    /// The timeout for the certificate renewal
    #[arg(long, value_name = "uint", default_value_t = 300)]
    pub timeout: u64,
    /// The image variant to use for the Dapr runtime, for example: mariner
    #[arg(long, value_name = "string", default_value = "")]
    pub image_variant: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    match args.command {
        Some(Sub::Export { out, cluster }) => {
            k8s::mtls_export(&cluster.options(), &out, &ctx.printer)
        }
        Some(Sub::Expiry { cluster }) => k8s::mtls_expiry(&cluster.options(), &ctx.printer),
        Some(Sub::RenewCertificate(a)) => {
            let opts = k8s::RenewOptions {
                cluster: a.cluster.options(),
                private_key: a.private_key,
                ca_root_certificate: a.ca_root_certificate,
                issuer_private_key: a.issuer_private_key,
                issuer_public_certificate: a.issuer_public_certificate,
                valid_until_days: a.valid_until,
                restart: a.restart,
                timeout_secs: a.timeout,
            };
            k8s::renew_certificate(&opts, &ctx.printer)
        }
        // clap has already required -k here.
        None => k8s::mtls(&args.cluster.options(), &ctx.printer),
    }
}

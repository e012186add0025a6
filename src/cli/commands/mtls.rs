//! `dapr mtls -k`, `dapr mtls export`, `dapr mtls expiry`: the cluster's mTLS setting and
//! its trust chain.
//! `dapr mtls renew-certificate -k` rotates the trust chain.

use std::path::PathBuf;

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands as k8s;
use crate::output::Stream;

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

/// Go's default time format, e.g. `2027-11-26 10:00:00 +0000 UTC`.
fn go_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let p = &ctx.printer;
    let reporter = p.reporter(Stream::Stdout);
    match args.command {
        Some(Sub::Export { out, cluster }) => {
            let files = match k8s::trust_bundle(&cluster.options()) {
                Ok(f) => f,
                Err(e) => {
                    p.failure(&format!("error getting trust chain certificate: {e:#}"));
                    return Ok(1);
                }
            };
            let dir = k8s::write_trust_bundle(&out, &files)?;
            p.success(&format!(
                "Trust certs successfully exported to {}",
                dir.display()
            ));
            Ok(0)
        }
        // Like the official CLI, a failure is printed but exits 0.
        Some(Sub::Expiry { cluster }) => {
            match k8s::root_expiry(&cluster.options()) {
                Ok(after) => {
                    let hours = (after - chrono::Utc::now()).num_hours();
                    p.data(&format!(
                        "Root certificate expires in {hours} hours. Expiry date: {}",
                        go_time(after)
                    ));
                }
                Err(e) => p.failure(&format!("error getting root cert expiry: {e:#}")),
            }
            Ok(0)
        }
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
            p.pending("Starting certificate rotation");
            match k8s::renew_certificate(&opts, &reporter)? {
                Ok(expiry) => {
                    p.success(&format!(
                        "Certificate rotation is successful! Your new certificate is valid through {}",
                        expiry.format("%a, %d %b %Y %H:%M:%S UTC")
                    ));
                    Ok(0)
                }
                Err(reason) => {
                    p.failure(&format!("certificate rotation failed: {reason}"));
                    Ok(1)
                }
            }
        }
        // clap has already required -k here.
        None => match k8s::mtls(&args.cluster.options(), &reporter)? {
            Some(on) => {
                let state = if on { "enabled" } else { "disabled" };
                p.data(&format!(
                    "Mutual TLS is {state} in your Kubernetes cluster \n"
                ));
                Ok(0)
            }
            None => {
                p.failure("error checking mTLS: system configuration not found");
                Ok(1)
            }
        },
    }
}

//! `dapr init`: install the runtime into the install directory and write the default
//! components and configuration (self-hosted), or with `-k` the Dapr control plane into a
//! cluster through the Kubernetes back end (`--kubeconfig`/`--context` pick the cluster,
//! `--dry-run` prints the manifests instead). Every official flag is accepted so scripts
//! keep working; self-hosted-only flags are ignored with `-k` except the two the official
//! CLI rejects (`--runtime-path`, `--redis-stack`).
//!
//! Choices where this CLI differs from the official one (no containers are started):
//! * default runtime = the `daprd` shipped beside this `dapr` (same release, also used
//!   when `--runtime-version` names this release); an official release is downloaded
//!   only for another explicit `--runtime-version X`;
//! * default components = the official Redis `statestore` + `pubsub` when a Redis answers
//!   at localhost:6379 (`$DAPR_INIT_REDIS_ADDRESS` overrides), else a SQLite `statestore`
//!   in the install directory and no pub/sub component;
//! * re-running `init` reinstalls the binary and keeps every existing file (the official
//!   CLI refuses and asks for `dapr uninstall` first).

use crate::cli::Context;
use crate::kubernetes::client::{ClusterArgs, ClusterOptions};
use crate::kubernetes::commands::{self as k8s, InitOptions};
use crate::output::{Printer, Stream};
use crate::selfhosted::init::{self as backend, Components, RuntimeSource};

pub const REDIS_ADDRESS_ENV: &str = "DAPR_INIT_REDIS_ADDRESS";
const DEFAULT_REDIS_ADDRESS: &str = "localhost:6379";

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Install Dapr on supported hosting platforms. Supported platforms: Kubernetes and self-hosted",
    after_help = "Examples:
  # Initialize Dapr in self-hosted mode
  dapr init

  # Initialize Dapr in self-hosted mode with a specific runtime version
  dapr init --runtime-version 1.16.0

  # Initialize Dapr in slim self-hosted mode (no default components)
  dapr init -s

  # Initialize Dapr from an air-gapped installer bundle
  dapr init --from-dir /path/to/daprbundle

  # Initialize Dapr in a custom install location
  dapr init --runtime-path /opt/dapr

  # Initialize Dapr in Kubernetes and wait for the installation to complete
  dapr init -k --wait --timeout 600

  # See more at: https://docs.dapr.io/getting-started/"
)]
pub struct Args {
    /// Deploy Dapr to a Kubernetes cluster
    #[arg(short = 'k', long)]
    pub kubernetes: bool,
    /// Use Dev mode. Deploy Redis, Zipkin also in the Kubernetes cluster
    #[arg(long)]
    pub dev: bool,
    /// Wait for Kubernetes initialization to complete
    #[arg(long)]
    pub wait: bool,
    /// The wait timeout for the Kubernetes installation
    #[arg(long, value_name = "uint", default_value_t = 300)]
    pub timeout: u32,
    /// Exclude placement service, scheduler service, Redis and Zipkin containers from self-hosted installation
    #[arg(short = 's', long)]
    pub slim: bool,
    /// The version of the Dapr runtime to install, for example: 1.0.0
    #[arg(
        long,
        value_name = "string",
        default_value = "latest",
        env = "DAPR_RUNTIME_VERSION",
        hide_env = true
    )]
    pub runtime_version: String,
    /// The Kubernetes namespace to install Dapr in
    #[arg(
        short = 'n',
        long,
        value_name = "string",
        default_value = "dapr-system"
    )]
    pub namespace: String,
    /// Enable mTLS in your cluster
    #[arg(long, value_name = "bool", default_value_t = true, num_args = 0..=1, default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    pub enable_mtls: bool,
    /// Enable high availability (HA) mode
    #[arg(long)]
    pub enable_ha: bool,
    /// The Docker network on which to deploy the Dapr runtime
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        env = "DAPR_NETWORK",
        hide_env = true
    )]
    pub network: String,
    /// Use Dapr artifacts from local directory for self-hosted installation
    #[arg(long, value_name = "string", default_value = "")]
    pub from_dir: String,
    /// The image variant to use for the Dapr runtime, for example: mariner
    #[arg(long, value_name = "string", default_value = "")]
    pub image_variant: String,
    /// Self-hosted only. Specifies a volume for the scheduler service data directory
    #[arg(long, value_name = "string", default_value = "dapr_scheduler")]
    pub scheduler_volume: String,
    /// Override the scheduler broadcast host and port (self-hosted only)
    #[arg(long, value_name = "string", default_value = "")]
    pub scheduler_override_broadcast_host_port: String,
    /// Use Redis Stack instead of the basic Redis container (self-hosted only)
    #[arg(long)]
    pub redis_stack: bool,
    /// Configure additional Helm chart values, e.g. --set key=value
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
    /// The container runtime to use. Supported values are docker (default) and podman
    #[arg(
        long,
        value_name = "string",
        default_value = "docker",
        env = "DAPR_CONTAINER_RUNTIME",
        hide_env = true
    )]
    pub container_runtime: String,
    /// The root certificate file
    #[arg(long, value_name = "string", default_value = "")]
    pub ca_root_certificate: String,
    /// The issuer certificate private key
    #[arg(long, value_name = "string", default_value = "")]
    pub issuer_private_key: String,
    /// The issuer certificate
    #[arg(long, value_name = "string", default_value = "")]
    pub issuer_public_certificate: String,
    /// Kubernetes only: print the manifests that would be applied and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// The error for an `--image-variant` other than none or `mariner` (both modes check it,
/// each at its own place in the official order of checks).
fn unsupported_image_variant(variant: &str) -> Option<String> {
    (!variant.is_empty() && variant != "mariner")
        .then(|| format!("image variant {variant} is not supported"))
}

fn fail(p: &Printer, msg: &str) -> anyhow::Result<i32> {
    p.failure(msg);
    Ok(1)
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    // `-k --dry-run` prints the manifests: stdout is theirs alone.
    let printer = if args.kubernetes && args.dry_run {
        ctx.printer.for_document()
    } else {
        ctx.printer
    };
    let p = &printer;
    p.pending("Making the jump to hyperspace...");
    // Checked before the mode, as the official CLI does.
    if !args.image_registry.is_empty() && !args.from_dir.is_empty() {
        return fail(
            p,
            "both --image-registry and --from-dir flags cannot be given at the same time",
        );
    }
    if args.kubernetes {
        if ctx.runtime_path_given() {
            return fail(p, "--runtime-path is only valid for self-hosted mode");
        }
        if args.redis_stack {
            return fail(p, "--redis-stack is only valid for self-hosted mode");
        }
        if let Some(msg) = unsupported_image_variant(&args.image_variant) {
            return fail(p, &msg);
        }
        return run_kubernetes(args, p);
    }
    if args.dry_run {
        return fail(p, "--dry-run is only valid for Kubernetes mode");
    }
    let runtime = args.container_runtime.trim();
    if runtime != "docker" && runtime != "podman" {
        return fail(
            p,
            "Invalid container runtime. Supported values are docker and podman.",
        );
    }
    if let Some(msg) = unsupported_image_variant(&args.image_variant) {
        return fail(p, &msg);
    }
    if !args.image_registry.is_empty() {
        p.warning(
            Stream::Stdout,
            "Flag --image-registry is a preview feature and is subject to change.",
        );
    }
    let from_dir = !args.from_dir.is_empty();
    // The official registry checks, kept so scripts fail the same way even though no image
    // is pulled here.
    if !args.slim {
        if matches!(args.image_registry.trim(), "ghcr.io" | "docker.io") {
            return fail(
                p,
                "flag --image-registry not set correctly. It cannot be \"ghcr.io\" or \"docker.io\"",
            );
        }
        let default_registry = std::env::var("DAPR_DEFAULT_IMAGE_REGISTRY").unwrap_or_default();
        if args.image_registry.is_empty()
            && !from_dir
            && !default_registry.trim().is_empty()
            && !default_registry.trim().eq_ignore_ascii_case("ghcr")
        {
            return fail(
                p,
                "environment variable \"DAPR_DEFAULT_IMAGE_REGISTRY\" can only be set to GHCR",
            );
        }
    }
    if from_dir {
        p.warning(
            Stream::Stdout,
            "Local bundle installation using --from-dir flag is currently a preview feature and is subject to change. It is only available from CLI version 1.7 onwards.",
        );
    }

    let home = ctx.home()?;
    let version_arg = args.runtime_version.trim();
    let source = if from_dir {
        RuntimeSource::bundle(std::path::absolute(&args.from_dir)?)?
    } else if version_arg.is_empty()
        || version_arg == "latest"
        || version_arg.trim_start_matches('v') == crate::VERSION
    {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().map(|d| d.to_path_buf()).unwrap_or_default();
        RuntimeSource::Binary(dir.join(format!("daprd{}", std::env::consts::EXE_SUFFIX)))
    } else {
        let base = std::env::var(backend::RELEASE_BASE_URL_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| backend::DEFAULT_RELEASE_BASE_URL.to_string());
        RuntimeSource::Release {
            version: version_arg.to_string(),
            base_url: base,
        }
    };
    let version = backend::source_version(&source);
    let reinstall = home.daprd().exists();
    if reinstall {
        p.info(&format!(
            "{} already exists: reinstalling the runtime, keeping existing components and configuration",
            home.daprd().display()
        ));
    }
    p.info(&format!("Installing runtime version {version}"));

    let reporter = p.reporter(Stream::Stdout);
    let installed = backend::install_runtime(&home, &source, args.slim, &reporter)?;
    let bin = home.bin_dir();
    let path_hint = format!(
        "Dapr runtime installed to {}, you may run the following to add it to your path if you want to run daprd directly:",
        bin.display()
    );
    let export = format!("    export PATH=$PATH:{}", bin.display());
    // Two plain lines on stdout, as the official CLI prints them; with `--log-as-json`
    // one info line, so that every line stays one JSON object.
    if ctx.log_as_json {
        p.info(&format!("{path_hint} {}", export.trim()));
    } else {
        p.line(Stream::Stdout, &path_hint);
        p.line(Stream::Stdout, &export);
    }

    let redis_addr = std::env::var(REDIS_ADDRESS_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_REDIS_ADDRESS.to_string());
    let (components, config) = if args.slim || from_dir {
        (
            Components::Empty,
            crate::manifests::config_slim().to_string(),
        )
    } else if !args.network.is_empty() {
        (
            Components::Redis("dapr_redis:6379".into()),
            crate::manifests::config("dapr_zipkin"),
        )
    } else if backend::tcp_answers(&redis_addr) {
        (
            Components::Redis(redis_addr.clone()),
            crate::manifests::config("localhost"),
        )
    } else {
        (Components::Sqlite, crate::manifests::config("localhost"))
    };
    let written = backend::write_defaults(&home, &components, &config)?;

    if from_dir {
        p.success("Extracted binaries and completed components set up.");
    } else {
        p.success("Downloaded binaries and completed components set up.");
    }
    p.info(&format!(
        "daprd binary has been installed to {}.",
        bin.display()
    ));
    for extra in &installed.extras {
        p.info(&format!(
            "{extra} binary has been installed to {}.",
            bin.display()
        ));
    }
    let statestore = home.components_dir().join("statestore.yaml");
    match &components {
        Components::Redis(host) if written.contains(&statestore) && !args.network.is_empty() => {
            p.info(&format!(
                "The default statestore and pubsub components use the Redis of network {} at {host}.",
                args.network
            ))
        }
        Components::Redis(host) if written.contains(&statestore) => p.info(&format!(
            "Redis found at {host}: the default statestore and pubsub components use it."
        )),
        Components::Sqlite if written.contains(&statestore) => p.info(&format!(
            "No Redis answered at {redis_addr}: the default statestore and pubsub use SQLite ({} and {}), shared by every local app.",
            home.state_db().display(),
            home.pubsub_db().display()
        )),
        _ => {}
    }
    if reinstall {
        p.info("Existing components and configuration were kept.");
    }
    if !args.slim {
        p.info("No containers were started: daprd itself places actors and keeps reminders and jobs (no placement or scheduler service is needed); Redis and Zipkin are not started.");
    }
    p.success("Success! Dapr is up and running. To get started, go here: https://docs.dapr.io/getting-started");
    Ok(0)
}

/// The cluster flags of `init`, `uninstall` and `list`; `--context ""` means the current
/// context, as with kubectl (clap already refuses an empty `--kubeconfig`).
pub(crate) fn cluster_options(args: &ClusterArgs) -> ClusterOptions {
    let mut o = args.options();
    o.context = o.context.filter(|c| !c.is_empty());
    o
}

/// `dapr init -k` (the first line was printed by `run`): with `--dry-run` the manifests on
/// stdout; else the official preview warning and Helm note, the back end's progress, the
/// success line. Empty flag values mean "not given".
fn run_kubernetes(args: Args, p: &Printer) -> anyhow::Result<i32> {
    let given = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let file = |s: String| given(s).map(std::path::PathBuf::from);
    let opts = InitOptions {
        cluster: cluster_options(&args.cluster),
        namespace: args.namespace,
        runtime_version: args.runtime_version,
        image_variant: given(args.image_variant),
        image_registry: given(args.image_registry),
        enable_ha: args.enable_ha,
        enable_mtls: args.enable_mtls,
        wait: args.wait,
        timeout_secs: u64::from(args.timeout),
        dev: args.dev,
        set: args.set,
        dry_run: args.dry_run,
        ca_root_certificate: file(args.ca_root_certificate),
        issuer_private_key: file(args.issuer_private_key),
        issuer_public_certificate: file(args.issuer_public_certificate),
    };
    // The trust-chain files are read before anything else is printed.
    let plan = k8s::plan_init(&opts)?;
    if opts.dry_run {
        p.data(&plan.manifests());
        return Ok(0);
    }
    if opts.image_registry.is_some() {
        p.warning(
            Stream::Stdout,
            "Flag --image-registry is a preview feature and is subject to change.",
        );
    }
    p.info("Note: To install Dapr using Helm, see here: https://docs.dapr.io/getting-started/install-dapr-kubernetes/#install-with-helm-advanced\n");
    k8s::init(&opts, plan, &p.reporter(Stream::Stdout))?;
    p.success(&format!(
        "Success! Dapr has been installed to namespace {}. To verify, run `dapr status -k' in your terminal. To get started, go here: https://docs.dapr.io/getting-started",
        opts.namespace
    ));
    Ok(0)
}

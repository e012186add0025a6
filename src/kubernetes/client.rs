//! Connecting to a cluster: kubeconfig from `--kubeconfig`, else `KUBECONFIG`, else
//! `~/.kube/config`, with an optional `--context`. Also the table of kinds this back end
//! touches, so objects can be addressed without a discovery round trip.
//!
//! Limits: no in-cluster configuration and no discovery of kinds outside the table.

use std::path::PathBuf;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::ApiResource;

/// Where the cluster is (the official `--kubeconfig` and `--context` flags).
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// Errors of the Kubernetes back end.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error("cannot load kubeconfig{}: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Kubeconfig {
        path: Option<PathBuf>,
        message: String,
    },
    #[error("cannot connect to the cluster: {0}")]
    Connect(String),
    #[error("{object}: {message}")]
    Object { object: String, message: String },
    #[error("{0}")]
    Api(String),
    #[error("timed out after {secs}s waiting for {what}")]
    Timeout { secs: u64, what: String },
    #[error("{0}")]
    Manifest(#[from] super::manifests::ManifestError),
}

impl K8sError {
    /// An API error about one object, with the server's own message.
    pub fn object(object: impl Into<String>, e: kube::Error) -> K8sError {
        K8sError::Object {
            object: object.into(),
            message: server_message(&e),
        }
    }
}

/// The server's message for an API error (e.g. `Forbidden: ...`), else the error text.
pub fn server_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            if s.message.is_empty() {
                format!("{} ({})", s.reason, s.code)
            } else {
                s.message.clone()
            }
        }
        other => other.to_string(),
    }
}

/// True for a 404 from the API server.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Build a client for the selected cluster and context.
pub async fn connect(opts: &ClusterOptions) -> Result<Client, K8sError> {
    // kube is built with rustls+ring but leaves choosing the process-wide provider to us;
    // without this a test build that also links aws-lc-rs panics on first TLS use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc_err = |path: Option<PathBuf>, e: &dyn std::fmt::Display| K8sError::Kubeconfig {
        path,
        message: e.to_string(),
    };
    let kubeconfig = match &opts.kubeconfig {
        Some(p) => Kubeconfig::read_from(p).map_err(|e| kc_err(Some(p.clone()), &e))?,
        None => Kubeconfig::read().map_err(|e| {
            let path = std::env::var_os("KUBECONFIG")
                .map(PathBuf::from)
                .or_else(|| dirs::home_dir().map(|h| h.join(".kube").join("config")));
            kc_err(path, &e)
        })?,
    };
    let options = KubeConfigOptions {
        context: opts.context.clone(),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| kc_err(opts.kubeconfig.clone(), &e))?;
    Client::try_from(config).map_err(|e| K8sError::Connect(e.to_string()))
}

/// A kind this back end knows: how to address it and whether it lives in a namespace.
pub fn resource_for(api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let (plural, namespaced) = match kind {
        "Namespace" => ("namespaces", false),
        "CustomResourceDefinition" => ("customresourcedefinitions", false),
        "ClusterRole" => ("clusterroles", false),
        "ClusterRoleBinding" => ("clusterrolebindings", false),
        "MutatingWebhookConfiguration" => ("mutatingwebhookconfigurations", false),
        "ServiceAccount" => ("serviceaccounts", true),
        "Secret" => ("secrets", true),
        "ConfigMap" => ("configmaps", true),
        "Service" => ("services", true),
        "Pod" => ("pods", true),
        "Role" => ("roles", true),
        "RoleBinding" => ("rolebindings", true),
        "Deployment" => ("deployments", true),
        "StatefulSet" => ("statefulsets", true),
        "PodDisruptionBudget" => ("poddisruptionbudgets", true),
        "Component" => ("components", true),
        "Configuration" => ("configurations", true),
        "Subscription" => ("subscriptions", true),
        "Resiliency" => ("resiliencies", true),
        "HTTPEndpoint" => ("httpendpoints", true),
        _ => return None,
    };
    Some((
        ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
        },
        namespaced,
    ))
}

/// The `--kubeconfig` and `--context` flags, for `#[command(flatten)]` into any `-k` command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
    #[arg(long, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context)
    #[arg(long, value_name = "string")]
    pub context: Option<String>,
}

impl ClusterArgs {
    pub fn options(&self) -> ClusterOptions {
        ClusterOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

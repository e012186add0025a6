//! Entry points of the `-k` commands that read the cluster (`status`, `list`, `logs`,
//! `components`, `configurations`, `mtls`), and the helpers every entry point shares: a
//! small tokio runtime, the connection check, and the official post-command check of the
//! root certificate's expiry. The entry points that change the cluster (`init`,
//! `uninstall`, `upgrade`, `mtls renew-certificate`) are in `lifecycle` and re-exported
//! here, so that `commands` is the one door the command layer uses.
//!
//! Nothing here prints: each entry point returns data for the command layer to render, and
//! reports progress and warnings through the `report::Reporter` it is given.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use kube::Client;
use kube::api::DynamicObject;

use super::apply;
use super::client::{ClusterOptions, K8sError, connect};
use super::resources;
use super::status::{self, AppRow, StatusRow};
use crate::report::{Reporter, Status};

pub use super::lifecycle::{
    InitOptions, InitPlan, RenewOptions, UninstallOptions, UpgradeOptions, init, plan_init,
    render_init, renew_certificate, resolve_version, uninstall, upgrade,
};

/// The warning printed by `components`, `configurations` and `list` without a namespace.
pub const NAMESPACE_WARNING: &str = "In future releases, this command will only query the \"default\" namespace by default. Please use the --namespace flag for a specific namespace, or the --all-namespaces (-A) flag for all namespaces.";

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A client for the cluster, checked to answer.
pub(super) async fn client(cluster: &ClusterOptions) -> Result<Client, K8sError> {
    let c = connect(cluster).await?;
    apply::server_version(&c).await?;
    Ok(c)
}

/// The warning the official CLI prints after most `-k` commands when the root certificate
/// of the cluster expires within 30 days; `None` when it does not (or cannot be read).
pub fn expiry_warning(
    not_after: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let left = not_after - now;
    if left > chrono::Duration::days(30) {
        return None;
    }
    let date = not_after.format("%a, %d %b %Y %H:%M:%S UTC");
    let head = if left < chrono::Duration::zero() {
        "Dapr root certificate of your Kubernetes cluster has expired.".to_string()
    } else if left.num_days() == 0 {
        "Dapr root certificate of your Kubernetes cluster expires today.".to_string()
    } else {
        format!(
            "Dapr root certificate of your Kubernetes cluster expires in {} days.",
            left.num_days()
        )
    };
    Some(format!(
        "{head} Expiry date: {date}. \n Please see docs.dapr.io for certificate renewal instructions to avoid service interruptions."
    ))
}

/// The silent post-command check: warn when the root certificate is close to expiry.
async fn check_expiry(c: &Client, reporter: &dyn Reporter) {
    let Ok(after) = root_not_after(c).await else {
        return;
    };
    if let Some(msg) = expiry_warning(after, chrono::Utc::now()) {
        reporter.status(Status::Warning, &msg);
    }
}

/// Connect, run one read, then the official post-command check on the root certificate
/// (status, list, components, configurations and mtls all end with it).
fn read_cluster<T>(
    cluster: &ClusterOptions,
    reporter: &dyn Reporter,
    read: impl AsyncFnOnce(&Client) -> Result<T, K8sError>,
) -> anyhow::Result<T> {
    Ok(runtime()?.block_on(async {
        let c = client(cluster).await?;
        let out = read(&c).await?;
        check_expiry(&c, reporter).await;
        Ok::<_, K8sError>(out)
    })?)
}

/// `dapr status -k`: the control-plane rows (empty when Dapr is not installed).
pub fn status(cluster: &ClusterOptions, reporter: &dyn Reporter) -> anyhow::Result<Vec<StatusRow>> {
    read_cluster(cluster, reporter, async |c| {
        status::control_plane_status(c).await
    })
}

/// `dapr list -k` options.
#[derive(Debug, Clone)]
pub struct ListOptions {
    pub cluster: ClusterOptions,
    /// `None`: every namespace.
    pub namespace: Option<String>,
}

/// `dapr list -k`: the pods that carry a `daprd` container.
pub fn list(o: &ListOptions, reporter: &dyn Reporter) -> anyhow::Result<Vec<AppRow>> {
    let ns = o.namespace.as_deref();
    read_cluster(&o.cluster, reporter, async |c| {
        status::dapr_apps(c, ns).await
    })
}

/// `dapr logs -k` options.
#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub cluster: ClusterOptions,
    pub app_id: String,
    pub pod_name: Option<String>,
    /// Default `default`.
    pub namespace: String,
    pub follow: bool,
}

/// `dapr logs -k`: the `daprd` container's log of the app's pod, handed to `out` as it
/// arrives (all at once, or line by line with `follow` until the pod goes away).
pub fn logs(o: &LogsOptions, out: &mut dyn FnMut(&str)) -> anyhow::Result<()> {
    use futures_util::AsyncBufReadExt;
    use futures_util::TryStreamExt;
    runtime()?.block_on(async {
        let c = client(&o.cluster).await?;
        let pod = match o.pod_name.clone().filter(|p| !p.is_empty()) {
            Some(p) => p,
            None => {
                let apps = status::dapr_apps(&c, Some(&o.namespace)).await?;
                apps.into_iter()
                    .find(|a| a.app_id == o.app_id)
                    .map(|a| a.pod_name)
                    .ok_or_else(|| {
                        anyhow!(
                            "could not get logs. Please check app-id ({}) and namespace ({})",
                            o.app_id,
                            o.namespace
                        )
                    })?
            }
        };
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
            kube::Api::namespaced(c.clone(), &o.namespace);
        let params = kube::api::LogParams {
            container: Some("daprd".into()),
            follow: o.follow,
            ..Default::default()
        };
        let fail = |e: kube::Error| {
            anyhow!(
                "could not get logs. Please check pod-name ({pod}). Error - {}",
                super::client::server_message(&e)
            )
        };
        if o.follow {
            let mut lines = pods.log_stream(&pod, &params).await.map_err(fail)?.lines();
            while let Some(line) = lines.try_next().await.context("reading the log stream")? {
                out(&format!("{line}\n"));
            }
        } else {
            out(&pods.logs(&pod, &params).await.map_err(fail)?);
        }
        Ok::<_, anyhow::Error>(())
    })
}

/// Where `components -k` and `configurations -k` look.
#[derive(Debug, Clone)]
pub struct ResourceListOptions {
    pub cluster: ClusterOptions,
    /// `None`: every namespace.
    pub namespace: Option<String>,
}

/// `dapr components -k`: the Component resources (render them with `resources::*`).
pub fn components(
    o: &ResourceListOptions,
    reporter: &dyn Reporter,
) -> anyhow::Result<Vec<DynamicObject>> {
    list_resources(o, "Component", reporter)
}

/// `dapr configurations -k`: the Configuration resources.
pub fn configurations(
    o: &ResourceListOptions,
    reporter: &dyn Reporter,
) -> anyhow::Result<Vec<DynamicObject>> {
    list_resources(o, "Configuration", reporter)
}

fn list_resources(
    o: &ResourceListOptions,
    kind: &str,
    reporter: &dyn Reporter,
) -> anyhow::Result<Vec<DynamicObject>> {
    let ns = o.namespace.as_deref();
    read_cluster(&o.cluster, reporter, async |c| {
        resources::list_dapr(c, kind, ns).await
    })
}

/// `dapr mtls -k`: whether mTLS is on; `None` when the system configuration is missing.
pub fn mtls(cluster: &ClusterOptions, reporter: &dyn Reporter) -> anyhow::Result<Option<bool>> {
    let config = read_cluster(cluster, reporter, async |c| {
        resources::system_config(c).await
    })?;
    Ok(config.map(|c| resources::mtls_enabled(&c)))
}

/// The files of the trust bundle (`ca.crt`, `issuer.crt`, `issuer.key`) from the Secret in
/// the namespace of the system configuration.
pub(super) async fn bundle(c: &Client) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let config = resources::system_config(c)
        .await?
        .ok_or_else(|| anyhow!("system configuration not found"))?;
    let ns = config
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "dapr-system".into());
    Ok(resources::trust_bundle(c, &ns).await?)
}

/// One file of the trust bundle by name (`ca.crt`, `issuer.crt` or `issuer.key`).
pub(super) fn bundle_file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    files
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d.as_slice())
}

/// The expiry of the cluster's root certificate (`ca.crt` of the trust bundle).
async fn root_not_after(c: &Client) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let files = bundle(c).await?;
    bundle_file(&files, "ca.crt")
        .and_then(resources::pem_not_after)
        .ok_or_else(|| anyhow!("ca.crt of the trust bundle is not a PEM certificate"))
}

/// `dapr mtls export`: the trust bundle's files as read from the cluster.
pub fn trust_bundle(cluster: &ClusterOptions) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    runtime()?.block_on(async {
        let c = client(cluster).await?;
        bundle(&c).await
    })
}

/// Write the trust bundle's files into `out_dir` (created if needed; files 0600); returns
/// the directory as an absolute path.
pub fn write_trust_bundle(out_dir: &Path, files: &[(String, Vec<u8>)]) -> anyhow::Result<PathBuf> {
    fs_err::create_dir_all(out_dir)?;
    for (name, data) in files {
        let path = out_dir.join(name);
        fs_err::write(&path, data)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(std::path::absolute(out_dir).unwrap_or_else(|_| out_dir.to_path_buf()))
}

/// `dapr mtls expiry`: when the cluster's root certificate expires.
pub fn root_expiry(cluster: &ClusterOptions) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    runtime()?.block_on(async {
        let c = client(cluster).await?;
        root_not_after(&c).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_warning_wording() {
        let now = chrono::DateTime::<chrono::Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let at = |d: i64| expiry_warning(now + chrono::Duration::hours(d), now);
        assert_eq!(at(24 * 31), None);
        let w = at(24 * 10 - 1).unwrap();
        assert!(
            w.starts_with(
                "Dapr root certificate of your Kubernetes cluster expires in 9 days. Expiry date: "
            ),
            "{w}"
        );
        assert!(w.ends_with("UTC. \n Please see docs.dapr.io for certificate renewal instructions to avoid service interruptions."));
        assert!(at(2).unwrap().contains("expires today."));
        assert!(at(-2).unwrap().contains("has expired."));
    }
}

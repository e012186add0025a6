//! The `-k` entry points that change the cluster: `init` (apply the control plane),
//! `uninstall`, `upgrade` and `mtls renew-certificate`. Each returns what the command
//! layer needs to print its closing line and reports its steps (`⌛`/`✅`, info lines,
//! warnings) through the `report::Reporter`; nothing here prints. Messages and exit codes
//! follow the official CLI (the reference notes, cli.md §4).
//!
//! Failures the official CLI reports with a fixed prefix (`Failed to upgrade Dapr: `,
//! `certificate rotation failed: `) come back as the inner `Err(reason)`; anything else
//! (no cluster, a bad kubeconfig) is the outer error.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use kube::Client;

use super::apply;
use super::client::{ClusterOptions, K8sError};
use super::commands::{bundle_file, client, runtime};
use super::manifests::{self, CHART_VERSION, Object, RenderOptions, TrustChain};
use super::resources;
use super::status;
use crate::report::{Reporter, Status};

/// `dapr init -k` options (the official flags).
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub cluster: ClusterOptions,
    /// `-n/--namespace`, default `dapr-system`.
    pub namespace: String,
    /// `--runtime-version`, default `latest` (= the embedded chart version).
    pub runtime_version: String,
    pub image_variant: Option<String>,
    pub image_registry: Option<String>,
    pub enable_ha: bool,
    /// `--enable-mtls`, default true.
    pub enable_mtls: bool,
    pub wait: bool,
    /// `--timeout` in seconds, default 300.
    pub timeout_secs: u64,
    pub dev: bool,
    pub set: Vec<String>,
    /// Print the manifests, touch nothing.
    pub dry_run: bool,
    pub ca_root_certificate: Option<PathBuf>,
    pub issuer_private_key: Option<PathBuf>,
    pub issuer_public_certificate: Option<PathBuf>,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            cluster: ClusterOptions::default(),
            namespace: "dapr-system".into(),
            runtime_version: "latest".into(),
            image_variant: None,
            image_registry: None,
            enable_ha: false,
            enable_mtls: true,
            wait: false,
            timeout_secs: 300,
            dev: false,
            set: Vec::new(),
            dry_run: false,
            ca_root_certificate: None,
            issuer_private_key: None,
            issuer_public_certificate: None,
        }
    }
}

/// `latest` (or empty) means the embedded chart's version.
pub fn resolve_version(v: &str) -> String {
    if v.is_empty() || v == "latest" {
        CHART_VERSION.to_string()
    } else {
        v.trim_start_matches('v').to_string()
    }
}

fn trust_chain(o: &InitOptions) -> anyhow::Result<Option<TrustChain>> {
    let files = [
        ("--ca-root-certificate", &o.ca_root_certificate),
        ("--issuer-private-key", &o.issuer_private_key),
        ("--issuer-public-certificate", &o.issuer_public_certificate),
    ];
    if files.iter().all(|(_, p)| p.is_none()) {
        return Ok(None);
    }
    let mut texts = Vec::new();
    for (flag, p) in files {
        let p = p.as_ref().filter(|p| !p.as_os_str().is_empty());
        let p = p.ok_or_else(|| anyhow!("non empty value of {flag} must be provided"))?;
        texts.push(fs_err::read_to_string(p)?);
    }
    Ok(Some(TrustChain {
        ca_cert: texts.remove(0),
        issuer_key: texts.remove(0),
        issuer_cert: texts.remove(0),
    }))
}

/// What `init -k` will apply, checked before anything is printed or touched.
pub struct InitPlan {
    objects: Vec<Object>,
    /// The trust chain came from the user's files (not to be replaced by the cluster's).
    user_chain: bool,
}

impl InitPlan {
    /// The manifests as one YAML stream (`--dry-run`).
    pub fn manifests(&self) -> String {
        manifests::to_yaml_stream(&self.objects)
    }
}

/// Read the trust-chain files and render the objects `init -k` applies.
pub fn plan_init(o: &InitOptions) -> anyhow::Result<InitPlan> {
    let chain = trust_chain(o)?;
    let user_chain = chain.is_some();
    let objects = manifests::render(&RenderOptions {
        namespace: o.namespace.clone(),
        version: resolve_version(&o.runtime_version),
        image_variant: o.image_variant.clone(),
        registry: o.image_registry.clone(),
        ha: o.enable_ha,
        mtls: o.enable_mtls,
        sets: o.set.clone(),
        dev: o.dev,
        trust_chain: chain,
    })?;
    Ok(InitPlan {
        objects,
        user_chain,
    })
}

/// Render what `init -k` would apply.
pub fn render_init(o: &InitOptions) -> anyhow::Result<Vec<Object>> {
    Ok(plan_init(o)?.objects)
}

/// The complete trust chain already in Secret `dapr-trust-bundle` of `ns`, if any.
async fn existing_chain(c: &Client, ns: &str) -> Option<TrustChain> {
    let files = resources::trust_bundle(c, ns).await.ok()?;
    let text = |key: &str| String::from_utf8(bundle_file(&files, key)?.to_vec()).ok();
    Some(TrustChain {
        ca_cert: text("ca.crt")?,
        issuer_cert: text("issuer.crt")?,
        issuer_key: text("issuer.key")?,
    })
}

/// Re-applying the control plane must keep the cluster's trust chain: once this CLI has
/// applied the bundle's data (a user chain at init, a renewed one), leaving it out of a
/// later server-side apply would delete it, and sentry would mint a new root. So the
/// chain in the cluster is applied again, as the official upgrade passes it to Helm.
async fn keep_trust_chain(c: &Client, ns: &str, objects: &mut [Object]) {
    if let Some(chain) = existing_chain(c, ns).await {
        manifests::set_trust_chain(objects, &chain);
    }
}

/// `dapr init -k`: apply `plan` (and wait with `--wait`), reporting the official
/// `Deploying the Dapr control plane ...` step and, with `--dev`, the dev lines.
pub fn init(o: &InitOptions, plan: InitPlan, reporter: &dyn Reporter) -> anyhow::Result<()> {
    let InitPlan {
        mut objects,
        user_chain,
    } = plan;
    let step = format!(
        "Deploying the Dapr control plane with {} version to your cluster...",
        o.runtime_version
    );
    reporter.status(Status::Pending, &step);
    let timeout = Duration::from_secs(o.timeout_secs);
    let skipped = runtime()?.block_on(async {
        let c = client(&o.cluster).await?;
        if !user_chain {
            keep_trust_chain(&c, &o.namespace, &mut objects).await;
        }
        let skipped: Vec<String> = apply::apply_all(&c, &objects, timeout, reporter)
            .await?
            .iter()
            .map(|x| x.describe())
            .collect();
        if o.wait {
            apply::wait_workloads(&c, &objects, timeout, reporter).await?;
        }
        Ok::<_, K8sError>(skipped)
    })?;
    reporter.status(Status::Success, &step);
    if o.dev {
        // The official lines (its Redis chart is 17.14.5; Zipkin comes at latest).
        reporter.status(
            Status::Success,
            "Deploying the Dapr Redis with 17.14.5 version to your cluster...",
        );
        reporter.status(
            Status::Success,
            "Deploying the Dapr Zipkin with latest version to your cluster...",
        );
        let dev_resources = objects
            .iter()
            .filter(|x| x.create_only && x.api_version() == "dapr.io/v1alpha1")
            .filter(|x| !skipped.contains(&x.describe()));
        for x in dev_resources {
            let what = if x.kind() == "Component" {
                "component"
            } else {
                "zipkin configuration"
            };
            reporter.status(
                Status::Info,
                &format!(
                    "Applying \"{}\" {what} to Kubernetes \"default\" namespace.",
                    x.name()
                ),
            );
        }
    }
    Ok(())
}

/// `dapr uninstall -k` options.
#[derive(Debug, Clone)]
pub struct UninstallOptions {
    pub cluster: ClusterOptions,
    pub namespace: String,
    /// Also delete the CRDs (and with them every Dapr resource).
    pub all: bool,
    /// Also delete the `--dev` Redis and Zipkin (not the default components, as upstream).
    pub dev: bool,
    pub timeout_secs: u64,
}

impl Default for UninstallOptions {
    fn default() -> Self {
        UninstallOptions {
            cluster: ClusterOptions::default(),
            namespace: "dapr-system".into(),
            all: false,
            dev: false,
            timeout_secs: 300,
        }
    }
}

/// `dapr uninstall -k`: deletes what `init -k` created, in reverse order. The namespace,
/// the scheduler volumes and objects created at run time stay, as with the official CLI.
/// Returns whether there was a control plane to remove.
pub fn uninstall(o: &UninstallOptions) -> anyhow::Result<bool> {
    let objects = manifests::render(&RenderOptions {
        namespace: o.namespace.clone(),
        dev: o.dev,
        ha: true,
        ..Default::default()
    })?;
    let doomed: Vec<&Object> = objects
        .iter()
        .filter(|obj| obj.kind() != "Namespace")
        .filter(|obj| o.all || obj.kind() != "CustomResourceDefinition")
        .rev()
        .collect();
    let existed = runtime()?.block_on(async {
        let c = client(&o.cluster).await?;
        let mut existed = 0;
        // `--dev` removes Redis and Zipkin (the official CLI's two dev Helm releases); the
        // default components and appconfig, which it applies with kubectl, stay.
        let dev_release =
            |x: &Object| x.create_only && o.dev && x.api_version() != "dapr.io/v1alpha1";
        for obj in doomed.iter().filter(|x| !x.create_only || dev_release(x)) {
            let was = apply::delete_one(&c, obj).await?;
            if was && !obj.create_only && obj.kind() != "CustomResourceDefinition" {
                existed += 1;
            }
        }
        wait_pods_gone(&c, &o.namespace, Duration::from_secs(o.timeout_secs)).await;
        Ok::<_, K8sError>(existed)
    })?;
    Ok(existed > 0)
}

/// Wait (at most `timeout`) until the control-plane pods in `ns` are gone. The official
/// CLI does not wait at all; this only spares `status -k` right after from stale rows, so
/// it stops as soon as nothing is removing them (no pod terminating and none gone for
/// 3 s, e.g. a server without a garbage collector). Pods are matched on their `app`
/// label here rather than with a set-based selector.
async fn wait_pods_gone(c: &Client, ns: &str, timeout: Duration) {
    use std::time::Instant;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(c.clone(), ns);
    let deadline = Instant::now() + timeout;
    let (mut last, mut last_change) = (usize::MAX, Instant::now());
    while Instant::now() < deadline {
        let Ok(list) = pods.list(&kube::api::ListParams::default()).await else {
            return;
        };
        let left: Vec<_> = list
            .items
            .iter()
            .filter(|p| {
                status::CONTROL_PLANE_APPS
                    .iter()
                    .any(|app| status::has_app_label(&p.metadata, app))
            })
            .collect();
        if left.is_empty() {
            return;
        }
        if left.len() != last {
            (last, last_change) = (left.len(), Instant::now());
        }
        let terminating = left.iter().any(|p| p.metadata.deletion_timestamp.is_some());
        if !terminating && last_change.elapsed() > Duration::from_secs(3) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The installed control plane as the official CLI finds it from the status rows: the
/// namespace of the first row and the version of the operator (else of the first row),
/// announced with the official info line. `None` when nothing is installed.
fn detect(rows: &[status::StatusRow], reporter: &dyn Reporter) -> Option<(String, String)> {
    let first = rows.first()?;
    let ns = first.namespace.clone();
    let version = rows
        .iter()
        .find(|r| r.name == "dapr-operator")
        .unwrap_or(first)
        .version
        .clone();
    reporter.status(
        Status::Info,
        &format!("Dapr control plane version {version} detected in namespace {ns}"),
    );
    Some((ns, version))
}

/// `dapr upgrade -k` options.
#[derive(Debug, Clone)]
pub struct UpgradeOptions {
    pub cluster: ClusterOptions,
    pub runtime_version: String,
    pub timeout_secs: u64,
    pub set: Vec<String>,
    pub image_registry: Option<String>,
    pub image_variant: Option<String>,
}

fn parse_semver(v: &str) -> Option<semver::Version> {
    let v = v.trim_start_matches('v');
    // Drop an image variant suffix such as `-mariner`.
    let v = v.strip_suffix("-mariner").unwrap_or(v);
    semver::Version::parse(v).ok()
}

/// `dapr upgrade -k --runtime-version V`: re-renders the control plane for V in the
/// detected namespace, keeping HA and mTLS as they are, and waits for it. `Ok(Ok(V))` is
/// the version upgraded to; `Ok(Err(reason))` follows `Failed to upgrade Dapr: `.
pub fn upgrade(
    o: &UpgradeOptions,
    reporter: &dyn Reporter,
) -> anyhow::Result<Result<String, String>> {
    let rt = runtime()?;
    let c = rt.block_on(client(&o.cluster))?;
    let rows = rt.block_on(status::control_plane_status(&c))?;
    let Some((ns, current)) = detect(&rows, reporter) else {
        return Ok(Err("dapr is not installed in your cluster".into()));
    };
    let target = resolve_version(&o.runtime_version);
    let (Some(cur_v), Some(new_v)) = (parse_semver(&current), parse_semver(&target)) else {
        return Ok(Err(format!(
            "Upgrade failed, the current installed version ({current}) or the target version ({target}) does not have semantic versioning"
        )));
    };
    let ha = rows
        .iter()
        .any(|r| r.name != "dapr-scheduler-server" && r.replicas > 1);
    let mtls = rt
        .block_on(resources::system_config(&c))?
        .is_none_or(|cfg| resources::mtls_enabled(&cfg));
    reporter.status(Status::Info, "Starting upgrade...");
    let mut objects = manifests::render(&RenderOptions {
        namespace: ns.clone(),
        version: target.clone(),
        image_variant: o.image_variant.clone(),
        registry: o.image_registry.clone(),
        ha,
        mtls,
        sets: o.set.clone(),
        ..Default::default()
    })?;
    if new_v < cur_v {
        reporter.status(Status::Info, "Downgrade detected, skipping CRDs.");
        objects.retain(|x| x.kind() != "CustomResourceDefinition");
    }
    let timeout = Duration::from_secs(o.timeout_secs);
    let res = rt.block_on(async {
        keep_trust_chain(&c, &ns, &mut objects).await;
        apply::apply_all(&c, &objects, timeout, reporter).await?;
        apply::wait_workloads(&c, &objects, timeout, reporter).await
    });
    Ok(res.map(|_| target).map_err(|e| e.to_string()))
}

/// `dapr mtls renew-certificate -k` options.
#[derive(Debug, Clone)]
pub struct RenewOptions {
    pub cluster: ClusterOptions,
    /// `--private-key`: an EC root key to sign a new root with.
    pub private_key: Option<PathBuf>,
    pub ca_root_certificate: Option<PathBuf>,
    pub issuer_private_key: Option<PathBuf>,
    pub issuer_public_certificate: Option<PathBuf>,
    /// `--valid-until` in days (default 365) for generated certificates.
    pub valid_until_days: u32,
    /// `--restart`: restart the control plane so it picks the new chain up.
    pub restart: bool,
    pub timeout_secs: u64,
}

fn read_cert_file(p: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            "no such file or directory".to_string()
        } else {
            e.to_string()
        };
        format!("open {}: {why}", p.display())
    })
}

/// The workloads restarted by `--restart`, as the official CLI names them.
const RESTARTED: [(&str, &str); 4] = [
    ("Deployment", "dapr-sentry"),
    ("Deployment", "dapr-sidecar-injector"),
    ("Deployment", "dapr-operator"),
    ("StatefulSet", "dapr-placement-server"),
];

/// `dapr mtls renew-certificate -k`: put a new trust chain (given, or generated) into the
/// trust bundle and optionally restart the control plane. `Ok(Ok(t))` is the new root's
/// expiry; `Ok(Err(reason))` follows `certificate rotation failed: `.
pub fn renew_certificate(
    o: &RenewOptions,
    reporter: &dyn Reporter,
) -> anyhow::Result<Result<chrono::DateTime<chrono::Utc>, String>> {
    let given = [
        &o.ca_root_certificate,
        &o.issuer_private_key,
        &o.issuer_public_certificate,
    ];
    let chain = if given.iter().any(|p| p.is_some()) {
        if given
            .iter()
            .any(|p| p.as_ref().is_none_or(|p| p.as_os_str().is_empty()))
        {
            return Ok(Err("all required flags for this certificate rotation path, \"ca-root-certificate\", \"issuer-private-key\" and \"issuer-public-certificate\" are not present".into()));
        }
        reporter.status(Status::Info, "Using provided certificates");
        let mut texts = Vec::new();
        for p in given.into_iter().flatten() {
            match read_cert_file(p) {
                Ok(t) => texts.push(t),
                Err(e) => return Ok(Err(e)),
            }
        }
        TrustChain {
            ca_cert: texts.remove(0),
            issuer_key: texts.remove(0),
            issuer_cert: texts.remove(0),
        }
    } else if let Some(key) = o.private_key.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        reporter.status(
            Status::Info,
            "Using password file to generate root certificate",
        );
        let pem = match read_cert_file(key) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        match super::certs::generate(Some(&pem), o.valid_until_days, chrono::Utc::now()) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e.to_string())),
        }
    } else {
        reporter.status(Status::Info, "generating fresh certificates");
        super::certs::generate(None, o.valid_until_days, chrono::Utc::now())?
    };
    let Some(expiry) = resources::pem_not_after(chain.ca_cert.as_bytes()) else {
        return Ok(Err("the root certificate is not a PEM certificate".into()));
    };
    reporter.status(
        Status::Info,
        "Updating certifcates in your Kubernetes cluster",
    );
    let rt = runtime()?;
    let c = rt.block_on(client(&o.cluster))?;
    let rows = rt.block_on(status::control_plane_status(&c))?;
    let Some((ns, version)) = detect(&rows, reporter) else {
        return Ok(Err("dapr is not installed in your cluster".into()));
    };
    let bundle = manifests::render(&RenderOptions {
        namespace: ns.clone(),
        version: version.clone(),
        trust_chain: Some(chain),
        ..Default::default()
    })?
    .into_iter()
    .filter(|x| x.name() == "dapr-trust-bundle")
    .collect::<Vec<_>>();
    let timeout = Duration::from_secs(o.timeout_secs);
    let res = rt.block_on(async {
        for obj in &bundle {
            apply::apply_one(&c, obj).await?;
        }
        if !o.restart {
            return Ok(());
        }
        let mut workloads = Vec::new();
        for (kind, name) in RESTARTED {
            let short = if kind == "Deployment" {
                "deployment"
            } else {
                "statefulsets"
            };
            reporter.status(Status::Info, &format!("Restarting {short}/{name}.."));
            workloads.push(apply::restart(&c, kind, &ns, name).await?);
        }
        apply::wait_workloads(&c, &workloads, timeout, reporter).await?;
        reporter.status(
            Status::Success,
            "All control plane services have restarted successfully!",
        );
        Ok::<_, K8sError>(())
    });
    Ok(res.map(|_| expiry).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_means_the_embedded_chart() {
        assert_eq!(resolve_version("latest"), CHART_VERSION);
        assert_eq!(resolve_version("v1.17.2"), "1.17.2");
    }

    #[test]
    fn variant_suffixes_do_not_hide_the_version() {
        assert_eq!(
            parse_semver("1.17.2-mariner"),
            semver::Version::parse("1.17.2").ok()
        );
        assert_eq!(parse_semver("edge"), None);
    }
}

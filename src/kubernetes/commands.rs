//! Entry points of the `-k` commands: each takes its options and the `Printer`, runs the
//! back end on a small tokio runtime and returns the exit code. Messages and exit codes
//! follow the official CLI (see the reference notes, cli.md §1.9 and §4).
//!
//! Limits: `init -k` starts after the official first line (`Making the jump to
//! hyperspace...`), which the caller prints for both modes.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use kube::Client;

use super::apply::{self, Progress};
use super::client::{ClusterOptions, K8sError, connect};
use super::manifests::{self, CHART_VERSION, Object, RenderOptions, TrustChain};
use super::resources;
use super::status;
use crate::output::Printer;
use crate::output::format::{self, OutputFormat};
use crate::output::table;

/// The warning printed by `components`, `configurations` and `list` without a namespace.
pub const NAMESPACE_WARNING: &str = "In future releases, this command will only query the \"default\" namespace by default. Please use the --namespace flag for a specific namespace, or the --all-namespaces (-A) flag for all namespaces.";

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn client(cluster: &ClusterOptions) -> Result<Client, K8sError> {
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
async fn check_expiry(c: &Client, printer: &Printer) {
    let Ok(after) = root_not_after(c).await else {
        return;
    };
    if let Some(msg) = expiry_warning(after, chrono::Utc::now()) {
        printer.warning(&msg);
    }
}

/// Connect, run one read, then the official post-command check on the root certificate
/// (status, list, components, configurations and mtls all end with it).
fn read_cluster<T>(
    cluster: &ClusterOptions,
    printer: &Printer,
    read: impl AsyncFnOnce(&Client) -> Result<T, K8sError>,
) -> anyhow::Result<T> {
    Ok(runtime()?.block_on(async {
        let c = client(cluster).await?;
        let out = read(&c).await?;
        check_expiry(&c, printer).await;
        Ok::<_, K8sError>(out)
    })?)
}

/// Progress lines through the printer (`⌛` when a step starts, `✅` when it is done).
struct PrinterProgress<'a>(&'a Printer);
impl Progress for PrinterProgress<'_> {
    fn pending(&self, msg: &str) {
        self.0.pending(msg)
    }
    fn done(&self, msg: &str) {
        self.0.success(msg)
    }
    fn warn(&self, msg: &str) {
        self.0.warning(msg)
    }
}

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

/// Render what `init -k` would apply.
pub fn render_init(o: &InitOptions) -> anyhow::Result<Vec<Object>> {
    render_with_chain(o, trust_chain(o)?)
}

fn render_with_chain(o: &InitOptions, chain: Option<TrustChain>) -> anyhow::Result<Vec<Object>> {
    Ok(manifests::render(&RenderOptions {
        namespace: o.namespace.clone(),
        version: resolve_version(&o.runtime_version),
        image_variant: o.image_variant.clone(),
        registry: o.image_registry.clone(),
        ha: o.enable_ha,
        mtls: o.enable_mtls,
        sets: o.set.clone(),
        dev: o.dev,
        trust_chain: chain,
    })?)
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

/// `dapr init -k`.
pub fn init(o: &InitOptions, printer: &Printer) -> anyhow::Result<i32> {
    let chain = trust_chain(o)?;
    let user_chain = chain.is_some();
    let mut objects = render_with_chain(o, chain)?;
    if o.dry_run {
        printer.data(&manifests::to_yaml_stream(&objects));
        return Ok(0);
    }
    if o.image_registry.as_deref().is_some_and(|r| !r.is_empty()) {
        printer.warning("Flag --image-registry is a preview feature and is subject to change.");
    }
    printer.info("Note: To install Dapr using Helm, see here: https://docs.dapr.io/getting-started/install-dapr-kubernetes/#install-with-helm-advanced\n");
    let step = format!(
        "Deploying the Dapr control plane with {} version to your cluster...",
        o.runtime_version
    );
    printer.pending(&step);
    let progress = PrinterProgress(printer);
    let timeout = Duration::from_secs(o.timeout_secs);
    let skipped = runtime()?.block_on(async {
        let c = client(&o.cluster).await?;
        if !user_chain {
            keep_trust_chain(&c, &o.namespace, &mut objects).await;
        }
        let skipped: Vec<String> = apply::apply_all(&c, &objects, timeout, &progress)
            .await?
            .iter()
            .map(|x| x.describe())
            .collect();
        if o.wait {
            apply::wait_workloads(&c, &objects, timeout, &progress).await?;
        }
        Ok::<_, K8sError>(skipped)
    })?;
    printer.success(&step);
    if o.dev {
        // The official lines (its Redis chart is 17.14.5; Zipkin comes at latest).
        printer.success("Deploying the Dapr Redis with 17.14.5 version to your cluster...");
        printer.success("Deploying the Dapr Zipkin with latest version to your cluster...");
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
            printer.info(&format!(
                "Applying \"{}\" {what} to Kubernetes \"default\" namespace.",
                x.name()
            ));
        }
    }
    printer.success(&format!(
        "Success! Dapr has been installed to namespace {}. To verify, run `dapr status -k' in your terminal. To get started, go here: https://docs.dapr.io/getting-started",
        o.namespace
    ));
    Ok(0)
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
pub fn uninstall(o: &UninstallOptions, printer: &Printer) -> anyhow::Result<i32> {
    printer.info("Removing Dapr from your cluster...");
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
    let result = runtime()?.block_on(async {
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
    });
    match result {
        Ok(0) => printer.plain_err("WARNING: dapr release does not exist"),
        Ok(_) => {}
        // As the official CLI: the error is printed and the exit code stays 0 (issue #1667).
        Err(e) => {
            printer.failure(&format!("Error removing Dapr: {e}"));
            return Ok(0);
        }
    }
    printer.success("Dapr has been removed successfully");
    Ok(0)
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

/// Table cells of rows: each row's serialized fields in declaration order (the column
/// order of [`status::StatusRow`] and [`status::AppRow`]), values as text.
fn cells<T: serde::Serialize>(rows: &[T]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| match serde_json::to_value(r) {
            Ok(serde_json::Value::Object(m)) => m
                .into_iter()
                .map(|(_, v)| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// `dapr status -k`.
pub fn status(cluster: &ClusterOptions, printer: &Printer) -> anyhow::Result<i32> {
    let rows = read_cluster(cluster, printer, async |c| {
        status::control_plane_status(c).await
    })?;
    if rows.is_empty() {
        printer.failure("No status returned. Is Dapr initialized in your cluster?");
        return Ok(1);
    }
    let cells = cells(&rows);
    printer.data(&table::render(
        &[
            "NAME",
            "NAMESPACE",
            "HEALTHY",
            "STATUS",
            "REPLICAS",
            "VERSION",
            "AGE",
            "CREATED",
        ],
        &cells,
    ));
    Ok(0)
}

/// `dapr list -k` options.
#[derive(Debug, Clone)]
pub struct ListOptions {
    pub cluster: ClusterOptions,
    /// `--namespace`; `None` (and not `-A`) lists every namespace after a warning.
    pub namespace: Option<String>,
    pub all_namespaces: bool,
    pub output: OutputFormat,
}

fn scope(namespace: &Option<String>, all: bool, printer: &Printer) -> Option<String> {
    let ns = namespace.clone().filter(|n| !n.is_empty());
    if ns.is_none() && !all {
        printer.warning(NAMESPACE_WARNING);
    }
    if all { None } else { ns }
}

/// `dapr list -k`.
pub fn list(o: &ListOptions, printer: &Printer) -> anyhow::Result<i32> {
    let ns = scope(&o.namespace, o.all_namespaces, printer);
    let rows = read_cluster(&o.cluster, printer, async |c| {
        status::dapr_apps(c, ns.as_deref()).await
    })?;
    match o.output {
        OutputFormat::Json => printer.data(&format::json(&rows)),
        OutputFormat::Yaml => printer.data(&format::yaml(&rows)),
        OutputFormat::Table => {
            printer.data(&table::render(
                &["NAMESPACE", "APP ID", "APP PORT", "AGE", "CREATED"],
                &cells(&rows),
            ));
        }
    }
    Ok(0)
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

/// `dapr logs -k`: the `daprd` container's log of the app's pod.
pub fn logs(o: &LogsOptions, printer: &Printer) -> anyhow::Result<i32> {
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
                printer.data_line(&line);
            }
        } else {
            let text = pods.logs(&pod, &params).await.map_err(fail)?;
            printer.data(&text);
        }
        Ok::<_, anyhow::Error>(())
    })?;
    printer.success("Fetched logs");
    Ok(0)
}

/// Options shared by `components -k` and `configurations -k`.
#[derive(Debug, Clone)]
pub struct ResourceListOptions {
    pub cluster: ClusterOptions,
    pub namespace: Option<String>,
    pub all_namespaces: bool,
    /// `--no-namespace-warning`: leave out the namespace warning.
    pub no_namespace_warning: bool,
    /// `-n/--name`: only the resource with this name (case-insensitive).
    pub name: Option<String>,
    pub output: OutputFormat,
}

fn print_resources(o: &ResourceListOptions, kind: &str, printer: &Printer) -> anyhow::Result<i32> {
    // Unlike `list -k`, the official commands warn whatever the namespace flags say, and
    // on stdout, ahead of the table or the JSON/YAML.
    if !o.no_namespace_warning {
        let line = printer.status_line(crate::output::Status::Warning, NAMESPACE_WARNING);
        printer.data_line(&line);
    }
    let ns = o.namespace.clone().filter(|_| !o.all_namespaces);
    let items = read_cluster(&o.cluster, printer, async |c| {
        resources::list_dapr(c, kind, ns.as_deref()).await
    })?;
    let name = o.name.as_deref().filter(|n| !n.is_empty());
    match o.output {
        OutputFormat::Json => printer.data(&format::json(&resources::details(&items, name))),
        OutputFormat::Yaml => printer.data(&format::yaml(&resources::details(&items, name))),
        OutputFormat::Table if kind == "Component" => printer.data(&table::render(
            &resources::COMPONENT_HEADERS,
            &resources::component_rows(&items, name),
        )),
        OutputFormat::Table => printer.data(&table::render(
            &resources::CONFIGURATION_HEADERS,
            &resources::configuration_rows(&items, name),
        )),
    }
    Ok(0)
}

/// `dapr components -k`.
pub fn components(o: &ResourceListOptions, printer: &Printer) -> anyhow::Result<i32> {
    print_resources(o, "Component", printer)
}

/// `dapr configurations -k`.
pub fn configurations(o: &ResourceListOptions, printer: &Printer) -> anyhow::Result<i32> {
    print_resources(o, "Configuration", printer)
}

/// `dapr mtls -k`.
pub fn mtls(cluster: &ClusterOptions, printer: &Printer) -> anyhow::Result<i32> {
    let config = read_cluster(cluster, printer, async |c| {
        resources::system_config(c).await
    })?;
    let Some(config) = config else {
        printer.failure("error checking mTLS: system configuration not found");
        return Ok(1);
    };
    let state = if resources::mtls_enabled(&config) {
        "enabled"
    } else {
        "disabled"
    };
    printer.data(&format!(
        "Mutual TLS is {state} in your Kubernetes cluster \n"
    ));
    Ok(0)
}

async fn bundle(c: &Client) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
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
fn bundle_file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
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

/// `dapr mtls export -o DIR`.
pub fn mtls_export(
    cluster: &ClusterOptions,
    out_dir: &std::path::Path,
    printer: &Printer,
) -> anyhow::Result<i32> {
    let files = runtime()?.block_on(async {
        let c = client(cluster).await?;
        bundle(&c).await
    });
    let files = match files {
        Ok(f) => f,
        Err(e) => {
            printer.failure(&format!("error getting trust chain certificate: {e:#}"));
            return Ok(1);
        }
    };
    fs_err::create_dir_all(out_dir)?;
    for (name, data) in files {
        let path = out_dir.join(&name);
        fs_err::write(&path, data)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let abs = std::path::absolute(out_dir).unwrap_or_else(|_| out_dir.to_path_buf());
    printer.success(&format!(
        "Trust certs successfully exported to {}",
        abs.display()
    ));
    Ok(0)
}

/// Go's default time format, e.g. `2027-11-26 10:00:00 +0000 UTC`.
fn go_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// `dapr mtls expiry`. Like the official CLI, a failure is printed but exits 0.
pub fn mtls_expiry(cluster: &ClusterOptions, printer: &Printer) -> anyhow::Result<i32> {
    let res = runtime()?.block_on(async {
        let c = client(cluster).await?;
        root_not_after(&c).await
    });
    match res {
        Ok(after) => {
            let hours = (after - chrono::Utc::now()).num_hours();
            printer.data(&format!(
                "Root certificate expires in {hours} hours. Expiry date: {}",
                go_time(after)
            ));
        }
        Err(e) => printer.failure(&format!("error getting root cert expiry: {e:#}")),
    }
    Ok(0)
}

/// The installed control plane as the official CLI finds it from the status rows: the
/// namespace of the first row and the version of the operator (else of the first row),
/// announced with the official info line. `None` when nothing is installed.
fn detect(rows: &[status::StatusRow], printer: &Printer) -> Option<(String, String)> {
    let first = rows.first()?;
    let ns = first.namespace.clone();
    let version = rows
        .iter()
        .find(|r| r.name == "dapr-operator")
        .unwrap_or(first)
        .version
        .clone();
    printer.info(&format!(
        "Dapr control plane version {version} detected in namespace {ns}"
    ));
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
/// detected namespace, keeping HA and mTLS as they are, and waits for it.
pub fn upgrade(o: &UpgradeOptions, printer: &Printer) -> anyhow::Result<i32> {
    let rt = runtime()?;
    let c = rt.block_on(client(&o.cluster))?;
    let rows = rt.block_on(status::control_plane_status(&c))?;
    let Some((ns, current)) = detect(&rows, printer) else {
        printer.failure("Failed to upgrade Dapr: dapr is not installed in your cluster");
        return Ok(1);
    };
    let target = resolve_version(&o.runtime_version);
    let (Some(cur_v), Some(new_v)) = (parse_semver(&current), parse_semver(&target)) else {
        printer.failure(&format!(
            "Failed to upgrade Dapr: Upgrade failed, the current installed version ({current}) or the target version ({target}) does not have semantic versioning"
        ));
        return Ok(1);
    };
    let ha = rows
        .iter()
        .any(|r| r.name != "dapr-scheduler-server" && r.replicas > 1);
    let mtls = rt
        .block_on(resources::system_config(&c))?
        .is_none_or(|cfg| resources::mtls_enabled(&cfg));
    printer.info("Starting upgrade...");
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
        printer.info("Downgrade detected, skipping CRDs.");
        objects.retain(|x| x.kind() != "CustomResourceDefinition");
    }
    let timeout = Duration::from_secs(o.timeout_secs);
    let progress = PrinterProgress(printer);
    let res = rt.block_on(async {
        keep_trust_chain(&c, &ns, &mut objects).await;
        apply::apply_all(&c, &objects, timeout, &progress).await?;
        apply::wait_workloads(&c, &objects, timeout, &progress).await
    });
    if let Err(e) = res {
        printer.failure(&format!("Failed to upgrade Dapr: {e}"));
        return Ok(1);
    }
    printer.success(&format!(
        "Dapr control plane successfully upgraded to version {target}. Make sure your deployments are restarted to pick up the latest sidecar version."
    ));
    Ok(0)
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

    #[test]
    fn latest_means_the_embedded_chart() {
        assert_eq!(resolve_version("latest"), CHART_VERSION);
        assert_eq!(resolve_version("v1.17.2"), "1.17.2");
    }
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
/// trust bundle, optionally restart the control plane, and report the new expiry.
pub fn renew_certificate(o: &RenewOptions, printer: &Printer) -> anyhow::Result<i32> {
    let fail = |msg: String| {
        printer.failure(&format!("certificate rotation failed: {msg}"));
        Ok(1)
    };
    printer.pending("Starting certificate rotation");
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
            return fail("all required flags for this certificate rotation path, \"ca-root-certificate\", \"issuer-private-key\" and \"issuer-public-certificate\" are not present".into());
        }
        printer.info("Using provided certificates");
        let mut texts = Vec::new();
        for p in given.into_iter().flatten() {
            match read_cert_file(p) {
                Ok(t) => texts.push(t),
                Err(e) => return fail(e),
            }
        }
        TrustChain {
            ca_cert: texts.remove(0),
            issuer_key: texts.remove(0),
            issuer_cert: texts.remove(0),
        }
    } else if let Some(key) = o.private_key.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        printer.info("Using password file to generate root certificate");
        let pem = match read_cert_file(key) {
            Ok(t) => t,
            Err(e) => return fail(e),
        };
        match super::certs::generate(Some(&pem), o.valid_until_days, chrono::Utc::now()) {
            Ok(c) => c,
            Err(e) => return fail(e.to_string()),
        }
    } else {
        printer.info("generating fresh certificates");
        super::certs::generate(None, o.valid_until_days, chrono::Utc::now())?
    };
    let Some(expiry) = resources::pem_not_after(chain.ca_cert.as_bytes()) else {
        return fail("the root certificate is not a PEM certificate".into());
    };
    printer.info("Updating certifcates in your Kubernetes cluster");
    let rt = runtime()?;
    let c = rt.block_on(client(&o.cluster))?;
    let rows = rt.block_on(status::control_plane_status(&c))?;
    let Some((ns, version)) = detect(&rows, printer) else {
        return fail("dapr is not installed in your cluster".into());
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
            printer.info(&format!("Restarting {short}/{name}.."));
            workloads.push(apply::restart(&c, kind, &ns, name).await?);
        }
        apply::wait_workloads(&c, &workloads, timeout, &PrinterProgress(printer)).await?;
        printer.success("All control plane services have restarted successfully!");
        Ok::<_, K8sError>(())
    });
    if let Err(e) = res {
        return fail(e.to_string());
    }
    printer.success(&format!(
        "Certificate rotation is successful! Your new certificate is valid through {}",
        expiry.format("%a, %d %b %Y %H:%M:%S UTC")
    ));
    Ok(0)
}

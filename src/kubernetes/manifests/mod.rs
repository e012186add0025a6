//! The control plane as Kubernetes objects: the YAML under `assets/kubernetes/` (the
//! official chart's objects at default values for Dapr 1.18.3) is embedded in the binary,
//! filled in from the install options (namespace, version, registry, HA, mTLS, `--set`)
//! and returned in the order it must be applied.
//!
//! Limits: this is not Helm. `--set` accepts only the chart values listed in
//! [`SUPPORTED_SET_KEYS`]; anything else is refused with the list of valid keys. The CRD
//! schemas are our own structural descriptions of the Dapr types, not the chart's
//! generated ones.

use serde_json::{Value, json};

/// The chart version whose objects are embedded; also the default runtime version.
pub const CHART_VERSION: &str = "1.18.3";
/// The registry of the official images.
pub const DEFAULT_REGISTRY: &str = "ghcr.io/dapr";
/// Replicas of operator, sentry, injector and placement in HA mode (`global.ha.replicaCount`).
pub const HA_REPLICAS: i64 = 3;

/// The seven Dapr CRDs, in the order the chart lists them.
pub const CRD_NAMES: [&str; 7] = [
    "components.dapr.io",
    "configurations.dapr.io",
    "httpendpoints.dapr.io",
    "mcpservers.dapr.io",
    "resiliencies.dapr.io",
    "subscriptions.dapr.io",
    "workflowaccesspolicies.dapr.io",
];

const CRDS: [&str; 7] = [
    include_str!("../../../assets/kubernetes/crds/components.yaml"),
    include_str!("../../../assets/kubernetes/crds/configuration.yaml"),
    include_str!("../../../assets/kubernetes/crds/httpendpoints.yaml"),
    include_str!("../../../assets/kubernetes/crds/mcpservers.yaml"),
    include_str!("../../../assets/kubernetes/crds/resiliency.yaml"),
    include_str!("../../../assets/kubernetes/crds/subscription.yaml"),
    include_str!("../../../assets/kubernetes/crds/workflowaccesspolicy.yaml"),
];

/// Template files and the `app.kubernetes.io/component` label of their objects.
const TEMPLATES: [(&str, &str); 7] = [
    ("rbac", include_str!("../../../assets/kubernetes/rbac.yaml")),
    (
        "sentry",
        include_str!("../../../assets/kubernetes/sentry.yaml"),
    ),
    (
        "operator",
        include_str!("../../../assets/kubernetes/operator.yaml"),
    ),
    (
        "placement",
        include_str!("../../../assets/kubernetes/placement.yaml"),
    ),
    (
        "scheduler",
        include_str!("../../../assets/kubernetes/scheduler.yaml"),
    ),
    (
        "sidecar-injector",
        include_str!("../../../assets/kubernetes/injector.yaml"),
    ),
    (
        "config",
        include_str!("../../../assets/kubernetes/config.yaml"),
    ),
];
const HA_TEMPLATE: &str = include_str!("../../../assets/kubernetes/ha.yaml");
const DEV_TEMPLATE: &str = include_str!("../../../assets/kubernetes/dev.yaml");

/// `--set` keys understood by the renderer (a subset of the chart's values).
pub const SUPPORTED_SET_KEYS: [&str; 13] = [
    "global.ha.enabled",
    "global.ha.replicaCount",
    "global.mtls.enabled",
    "global.tag",
    "global.registry",
    "global.imagePullPolicy",
    "global.logAsJson",
    "dapr_operator.logLevel",
    "dapr_sentry.logLevel",
    "dapr_placement.logLevel",
    "dapr_scheduler.logLevel",
    "dapr_sidecar_injector.logLevel",
    "dapr_operator.watchInterval",
];

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("embedded manifest {file} is invalid: {message}")]
    Embedded { file: String, message: String },
    #[error("invalid --set value {0:?}: expected key=value")]
    SetSyntax(String),
    #[error("unsupported --set key {key:?}; supported keys: {}", SUPPORTED_SET_KEYS.join(", "))]
    SetKey { key: String },
    #[error("invalid --set value for {key}: {value:?} ({expected})")]
    SetValue {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error(
        "invalid namespace {0:?}: must be a lowercase RFC 1123 label (a-z, 0-9, '-', at most 63 characters)"
    )]
    Namespace(String),
    #[error("invalid runtime version {0:?}: expected a version such as {CHART_VERSION}")]
    Version(String),
}

/// What the user asked for; `Default` is the official CLI's defaults.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub namespace: String,
    /// Runtime version (image tag without variant), e.g. `1.18.3`.
    pub version: String,
    /// `--image-variant`, e.g. `mariner` → tag `1.18.3-mariner`.
    pub image_variant: Option<String>,
    /// `--image-registry`; `None` = `ghcr.io/dapr`.
    pub registry: Option<String>,
    pub ha: bool,
    pub mtls: bool,
    /// `--set` arguments as given (each may hold `k1=v1,k2=v2`).
    pub sets: Vec<String>,
    /// `--dev`: Redis, Zipkin and the default components in `default`.
    pub dev: bool,
    /// A user-supplied trust chain (`--ca-root-certificate` and the issuer pair).
    pub trust_chain: Option<TrustChain>,
}

/// PEM texts put into the trust bundle at creation, so sentry uses them instead of
/// generating its own root.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustChain {
    pub ca_cert: String,
    pub issuer_cert: String,
    pub issuer_key: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            namespace: "dapr-system".into(),
            version: CHART_VERSION.into(),
            image_variant: None,
            registry: None,
            ha: false,
            mtls: true,
            sets: Vec::new(),
            dev: false,
            trust_chain: None,
        }
    }
}

/// One object to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub value: Value,
    /// Created only when absent, never overwritten (the `--dev` objects: re-running init
    /// must not rotate the Redis password or undo a user's edits to the components).
    pub create_only: bool,
}

impl Object {
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or_default()
    }
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }
    pub fn namespace(&self) -> Option<&str> {
        self.value["metadata"]["namespace"].as_str()
    }
    /// `Kind/name` or `Kind namespace/name`, as used in progress and error messages.
    pub fn describe(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{} {}/{}", self.kind(), ns, self.name()),
            None => format!("{} {}", self.kind(), self.name()),
        }
    }
}

/// The effective chart values after flags and `--set`.
#[derive(Debug, Clone)]
struct Values {
    namespace: String,
    tag: String,
    registry: String,
    pull_policy: String,
    ha: bool,
    ha_replicas: i64,
    mtls: bool,
    log_as_json: bool,
    log_levels: Vec<(String, String)>,
    watch_interval: Option<String>,
}

fn parse_bool(key: &str, v: &str) -> Result<bool, ManifestError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ManifestError::SetValue {
            key: key.into(),
            value: v.into(),
            expected: "true or false",
        }),
    }
}

/// Split `--set` arguments like Helm does for simple values (`a=1,b=2`).
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, ManifestError> {
    let mut out = Vec::new();
    for arg in sets {
        for part in arg.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| ManifestError::SetSyntax(part.to_string()))?;
            let k = k.trim();
            if !SUPPORTED_SET_KEYS.contains(&k) {
                return Err(ManifestError::SetKey { key: k.to_string() });
            }
            out.push((k.to_string(), v.to_string()));
        }
    }
    Ok(out)
}

fn valid_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn resolve(opts: &RenderOptions) -> Result<Values, ManifestError> {
    if !valid_dns_label(&opts.namespace) {
        return Err(ManifestError::Namespace(opts.namespace.clone()));
    }
    let version = opts.version.trim_start_matches('v');
    if version.is_empty()
        || !version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+_".contains(c))
    {
        return Err(ManifestError::Version(opts.version.clone()));
    }
    let mut tag = version.to_string();
    if let Some(variant) = opts.image_variant.as_deref().filter(|v| !v.is_empty()) {
        tag = format!("{tag}-{variant}");
    }
    let mut v = Values {
        namespace: opts.namespace.clone(),
        tag,
        registry: opts
            .registry
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| DEFAULT_REGISTRY.into()),
        pull_policy: "IfNotPresent".into(),
        ha: opts.ha,
        ha_replicas: HA_REPLICAS,
        mtls: opts.mtls,
        log_as_json: false,
        log_levels: Vec::new(),
        watch_interval: None,
    };
    for (key, val) in parse_sets(&opts.sets)? {
        match key.as_str() {
            "global.ha.enabled" => v.ha = parse_bool(&key, &val)?,
            "global.mtls.enabled" => v.mtls = parse_bool(&key, &val)?,
            "global.logAsJson" => v.log_as_json = parse_bool(&key, &val)?,
            "global.ha.replicaCount" => {
                v.ha_replicas =
                    val.parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| ManifestError::SetValue {
                            key: key.clone(),
                            value: val.clone(),
                            expected: "a positive integer",
                        })?
            }
            "global.tag" => v.tag = val,
            "global.registry" => v.registry = val,
            "global.imagePullPolicy" => {
                if !["Always", "IfNotPresent", "Never"].contains(&val.as_str()) {
                    return Err(ManifestError::SetValue {
                        key,
                        value: val,
                        expected: "Always, IfNotPresent or Never",
                    });
                }
                v.pull_policy = val
            }
            "dapr_operator.watchInterval" => v.watch_interval = Some(val),
            _ => {
                // The remaining supported keys are the per-component log levels.
                if !["debug", "info", "warn", "error", "fatal"].contains(&val.as_str()) {
                    return Err(ManifestError::SetValue {
                        key,
                        value: val,
                        expected: "debug, info, warn, error or fatal",
                    });
                }
                let component = key.split('.').next().unwrap_or_default().to_string();
                v.log_levels.push((component, val));
            }
        }
    }
    Ok(v)
}

fn substitute(text: &str, v: &Values, redis_password: &str) -> String {
    text.replace("__NAMESPACE__", &v.namespace)
        .replace("__REGISTRY__", &v.registry)
        .replace("__TAG__", &v.tag)
        .replace("__MTLS__", if v.mtls { "true" } else { "false" })
        .replace("__REDIS_PASSWORD__", redis_password)
}

/// Parse a multi-document YAML text into JSON values, skipping empty documents.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| ManifestError::Embedded {
            file: file.into(),
            message: e.to_string(),
        })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// The chart's `global.k8sLabels`, except `managed-by`: the chart writes `Helm` (the
/// release service), but no Helm release exists for these objects, so saying `Helm`
/// would send tools that trust the label (and people) looking for one. Nothing in the
/// official CLI, the operator or the injector reads this label; selectors use `app`.
fn common_labels(component: &str, tag: &str) -> Value {
    json!({
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "dapr-cli",
        "app.kubernetes.io/name": "dapr",
        "app.kubernetes.io/part-of": "dapr",
        "app.kubernetes.io/version": tag,
    })
}

fn merge_labels(target: &mut Value, labels: &Value) {
    if !target.is_object() {
        *target = json!({});
    }
    if let (Some(t), Some(l)) = (target.as_object_mut(), labels.as_object()) {
        for (k, v) in l {
            t.insert(k.clone(), v.clone());
        }
    }
}

fn app_label(obj: &Value) -> Option<String> {
    obj["metadata"]["labels"]["app"]
        .as_str()
        .map(str::to_string)
}

fn anti_affinity(app: &str) -> Value {
    json!({"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100,
        "podAffinityTerm": {
            "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": [app]}]},
            "topologyKey": "topology.kubernetes.io/zone",
        }
    }]})
}

/// Replace the value after `flag` in container args (left alone when the flag is absent).
fn set_arg(args: &mut [Value], flag: &str, value: &str) {
    if let Some(i) = args.iter().position(|a| a == flag)
        && i + 1 < args.len()
    {
        args[i + 1] = json!(value);
    }
}

/// Per-object adjustments that depend on values: labels, HA, pull policy, log flags.
fn adjust(obj: &mut Value, component: &str, v: &Values) {
    let labels = common_labels(component, &v.tag);
    merge_labels(&mut obj["metadata"]["labels"], &labels);
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    if kind == "PodDisruptionBudget" {
        merge_labels(&mut obj["spec"]["selector"]["matchLabels"], &labels);
    }
    if kind != "Deployment" && kind != "StatefulSet" {
        return;
    }
    let app = app_label(obj).unwrap_or_default();
    merge_labels(&mut obj["spec"]["template"]["metadata"]["labels"], &labels);
    let subchart = match component {
        "operator" => "dapr_operator",
        "sentry" => "dapr_sentry",
        "placement" => "dapr_placement",
        "scheduler" => "dapr_scheduler",
        _ => "dapr_sidecar_injector",
    };
    let spec = &mut obj["spec"]["template"]["spec"];
    if let Some(containers) = spec["containers"].as_array_mut() {
        for c in containers {
            c["imagePullPolicy"] = json!(v.pull_policy);
            let Some(args) = c["args"].as_array_mut() else {
                continue;
            };
            if let Some((_, level)) = v.log_levels.iter().rev().find(|(s, _)| s == subchart) {
                set_arg(args, "--log-level", level);
            }
            if v.log_as_json {
                args.push(json!("--log-as-json"));
            }
            if subchart == "dapr_operator"
                && let Some(w) = &v.watch_interval
            {
                set_arg(args, "--watch-interval", w);
            }
        }
        if subchart == "dapr_sidecar_injector"
            && let Some(env) = spec["containers"][0]["env"].as_array_mut()
        {
            for e in env {
                if e["name"] == "SIDECAR_IMAGE_PULL_POLICY" {
                    e["value"] = json!(v.pull_policy);
                }
            }
        }
    }
    if !v.ha || app == "dapr-scheduler-server" {
        return;
    }
    obj["spec"]["replicas"] = json!(v.ha_replicas);
    obj["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"] = anti_affinity(&app);
    if app == "dapr-placement-server" {
        placement_ha(obj, v);
    }
}

/// Placement in HA mode: raft peers by pod DNS name and a persistent raft log.
fn placement_ha(obj: &mut Value, v: &Values) {
    let peers: Vec<String> = (0..v.ha_replicas)
        .map(|i| {
            format!(
                "dapr-placement-server-{i}=dapr-placement-server-{i}.dapr-placement-server.{}.svc.cluster.local:8201",
                v.namespace
            )
        })
        .collect();
    let container = &mut obj["spec"]["template"]["spec"]["containers"][0];
    if let Some(args) = container["args"].as_array_mut() {
        let extra = [
            "--id".to_string(),
            "$(PLACEMENT_ID)".to_string(),
            "--initial-cluster".to_string(),
            peers.join(","),
            "--raft-logstore-path".to_string(),
            "/var/run/dapr/raft-log/cluster-v2-nonroot-$(PLACEMENT_ID)".to_string(),
        ];
        for (i, a) in extra.into_iter().enumerate() {
            args.insert(i, json!(a));
        }
    }
    if let Some(mounts) = container["volumeMounts"].as_array_mut() {
        mounts.push(json!({"name": "raft-log", "mountPath": "/var/run/dapr/raft-log"}));
    }
    obj["spec"]["volumeClaimTemplates"] = json!([{
        "metadata": {"name": "raft-log"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }]);
}

/// Helm's install order by kind, with the two kinds Helm does not know last.
fn kind_rank(kind: &str) -> usize {
    const ORDER: [&str; 15] = [
        "Namespace",
        "CustomResourceDefinition",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "StatefulSet",
        "MutatingWebhookConfiguration",
        "Configuration",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// The seven CRDs alone, in the order of [`CRD_NAMES`] (`render` applies them right after the namespace).
pub fn crds() -> Result<Vec<Object>, ManifestError> {
    let mut out = Vec::new();
    for (i, text) in CRDS.iter().enumerate() {
        for value in parse_documents(CRD_NAMES[i], text)? {
            out.push(Object {
                value,
                create_only: false,
            });
        }
    }
    Ok(out)
}

/// Render every object to apply, in apply order: the namespace, the CRDs, the control
/// plane (47 objects at defaults), then the `--dev` objects.
pub fn render(opts: &RenderOptions) -> Result<Vec<Object>, ManifestError> {
    let v = resolve(opts)?;
    let mut objects = vec![Object {
        value: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": v.namespace}}),
        create_only: false,
    }];
    objects.extend(crds()?);
    let mut templated = Vec::new();
    let mut files: Vec<(&str, &str)> = TEMPLATES.to_vec();
    if v.ha {
        files.push(("ha", HA_TEMPLATE));
    }
    for (component, text) in files {
        for mut value in parse_documents(component, &substitute(text, &v, ""))? {
            let component = match component {
                "ha" => match app_label(&value).as_deref() {
                    Some("dapr-operator") => "operator",
                    Some("dapr-sentry") => "sentry",
                    Some("dapr-placement-server") => "placement",
                    _ => "sidecar-injector",
                },
                c => c,
            };
            adjust(&mut value, component, &v);
            templated.push(Object {
                value,
                create_only: false,
            });
        }
    }
    if let Some(chain) = &opts.trust_chain {
        set_trust_chain(&mut templated, chain);
    }
    // A stable sort keeps the file order within a kind (sentry before operator, ...).
    templated.sort_by_key(|o| kind_rank(o.kind()));
    objects.extend(templated);
    if opts.dev {
        let password = random_password();
        for value in parse_documents("dev", &substitute(DEV_TEMPLATE, &v, &password))? {
            objects.push(Object {
                value,
                create_only: true,
            });
        }
    }
    Ok(objects)
}

/// Put `chain` into the trust-bundle Secret and ConfigMap among `objects`.
pub fn set_trust_chain(objects: &mut [Object], chain: &TrustChain) {
    for o in objects
        .iter_mut()
        .filter(|o| o.name() == "dapr-trust-bundle")
    {
        fill_trust_bundle(&mut o.value, chain);
    }
}

fn fill_trust_bundle(obj: &mut Value, chain: &TrustChain) {
    use base64::Engine;
    let b64 = |s: &str| json!(base64::engine::general_purpose::STANDARD.encode(s));
    if obj["kind"] == "Secret" {
        obj["data"] = json!({
            "ca.crt": b64(&chain.ca_cert),
            "issuer.crt": b64(&chain.issuer_cert),
            "issuer.key": b64(&chain.issuer_key),
        });
    } else {
        obj["data"] = json!({"ca.crt": chain.ca_cert});
    }
}

fn random_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Multi-document YAML, each document introduced by `---` (what `--dry-run` prints).
pub fn to_yaml_stream(objects: &[Object]) -> String {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&crate::output::format::yaml(&o.value));
    }
    out
}

#[cfg(test)]
mod tests;

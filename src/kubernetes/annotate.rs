//! `dapr annotate`: add the Dapr sidecar annotations to one workload in a YAML stream,
//! offline. Documents other than the annotated one pass through byte for byte; the
//! annotated one is re-serialised with sorted keys (comments are lost), as in the
//! official CLI.
//!
//! Limits: one resource per run (chain runs through pipes for more); a `List` document
//! is always re-serialised.

use std::collections::BTreeMap;

use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum AnnotateError {
    #[error("error parsing value of {flag}: {message}")]
    Size { flag: &'static str, message: String },
    #[error("{0}")]
    Yaml(String),
}

/// The annotate flags (official defaults: -1 and "" mean unset).
#[derive(Debug, Clone)]
pub struct AnnotateOptions {
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub app_id: String,
    pub app_port: i64,
    pub config: String,
    pub app_protocol: String,
    pub enable_profile: bool,
    pub log_level: String,
    pub api_token_secret: String,
    pub app_token_secret: String,
    pub log_as_json: bool,
    pub app_max_concurrency: i64,
    pub enable_metrics: bool,
    pub metrics_port: i64,
    pub enable_debug: bool,
    pub env: String,
    pub cpu_limit: String,
    pub memory_limit: String,
    pub cpu_request: String,
    pub memory_request: String,
    pub listen_addresses: String,
    pub liveness_probe_delay: i64,
    pub liveness_probe_timeout: i64,
    pub liveness_probe_period: i64,
    pub liveness_probe_threshold: i64,
    pub readiness_probe_delay: i64,
    pub readiness_probe_timeout: i64,
    pub readiness_probe_period: i64,
    pub readiness_probe_threshold: i64,
    pub dapr_image: String,
    pub app_ssl: bool,
    pub max_body_size: String,
    pub read_buffer_size: String,
    pub http_stream_request_body: bool,
    pub graceful_shutdown_seconds: i64,
    pub enable_api_logging: bool,
    pub unix_domain_socket_path: String,
    pub volume_mounts: String,
    pub volume_mounts_rw: String,
    pub disable_builtin_k8s_secret_store: bool,
    pub placement_host_address: String,
}

impl Default for AnnotateOptions {
    /// The library defaults: nothing set (the CLI's size defaults are "4Mi"/"4Ki").
    fn default() -> Self {
        AnnotateOptions {
            resource: None,
            namespace: None,
            app_id: String::new(),
            app_port: -1,
            config: String::new(),
            app_protocol: String::new(),
            enable_profile: false,
            log_level: String::new(),
            api_token_secret: String::new(),
            app_token_secret: String::new(),
            log_as_json: false,
            app_max_concurrency: -1,
            enable_metrics: false,
            metrics_port: -1,
            enable_debug: false,
            env: String::new(),
            cpu_limit: String::new(),
            memory_limit: String::new(),
            cpu_request: String::new(),
            memory_request: String::new(),
            listen_addresses: String::new(),
            liveness_probe_delay: -1,
            liveness_probe_timeout: -1,
            liveness_probe_period: -1,
            liveness_probe_threshold: -1,
            readiness_probe_delay: -1,
            readiness_probe_timeout: -1,
            readiness_probe_period: -1,
            readiness_probe_threshold: -1,
            dapr_image: String::new(),
            app_ssl: false,
            max_body_size: "-1".into(),
            read_buffer_size: "-1".into(),
            http_stream_request_body: false,
            graceful_shutdown_seconds: -1,
            enable_api_logging: false,
            unix_domain_socket_path: String::new(),
            volume_mounts: String::new(),
            volume_mounts_rw: String::new(),
            disable_builtin_k8s_secret_store: false,
            placement_host_address: String::new(),
        }
    }
}

/// A Kubernetes quantity (`4Mi`, `4Ki`, `1G`, `512`) in bytes.
pub fn quantity_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {s:?}"))?;
    let mult: f64 = match unit {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        other => return Err(format!("unknown unit {other:?} in {s:?}")),
    };
    Ok((n * mult).round() as u64)
}

/// The annotations the options ask for, in a fixed order.
pub fn annotations(o: &AnnotateOptions) -> Result<Vec<(&'static str, String)>, AnnotateError> {
    let mut a: Vec<(&'static str, String)> = Vec::new();
    let mut s = |k: &'static str, v: &str| {
        if !v.is_empty() {
            a.push((k, v.to_string()));
        }
    };
    s("dapr.io/config", &o.config);
    s("dapr.io/app-protocol", &o.app_protocol);
    s("dapr.io/log-level", &o.log_level);
    s("dapr.io/api-token-secret", &o.api_token_secret);
    s("dapr.io/app-token-secret", &o.app_token_secret);
    s("dapr.io/env", &o.env);
    s("dapr.io/sidecar-cpu-limit", &o.cpu_limit);
    s("dapr.io/sidecar-memory-limit", &o.memory_limit);
    s("dapr.io/sidecar-cpu-request", &o.cpu_request);
    s("dapr.io/sidecar-memory-request", &o.memory_request);
    s("dapr.io/sidecar-listen-addresses", &o.listen_addresses);
    s("dapr.io/sidecar-image", &o.dapr_image);
    s(
        "dapr.io/unix-domain-socket-path",
        &o.unix_domain_socket_path,
    );
    s("dapr.io/volume-mounts", &o.volume_mounts);
    s("dapr.io/volume-mounts-rw", &o.volume_mounts_rw);
    s("dapr.io/placement-host-address", &o.placement_host_address);
    let ints = [
        ("dapr.io/app-port", o.app_port),
        ("dapr.io/app-max-concurrency", o.app_max_concurrency),
        ("dapr.io/metrics-port", o.metrics_port),
        (
            "dapr.io/sidecar-liveness-probe-delay-seconds",
            o.liveness_probe_delay,
        ),
        (
            "dapr.io/sidecar-liveness-probe-timeout-seconds",
            o.liveness_probe_timeout,
        ),
        (
            "dapr.io/sidecar-liveness-probe-period-seconds",
            o.liveness_probe_period,
        ),
        (
            "dapr.io/sidecar-liveness-probe-threshold",
            o.liveness_probe_threshold,
        ),
        (
            "dapr.io/sidecar-readiness-probe-delay-seconds",
            o.readiness_probe_delay,
        ),
        (
            "dapr.io/sidecar-readiness-probe-timeout-seconds",
            o.readiness_probe_timeout,
        ),
        (
            "dapr.io/sidecar-readiness-probe-period-seconds",
            o.readiness_probe_period,
        ),
        (
            "dapr.io/sidecar-readiness-probe-threshold",
            o.readiness_probe_threshold,
        ),
        (
            "dapr.io/graceful-shutdown-seconds",
            o.graceful_shutdown_seconds,
        ),
    ];
    for (k, v) in ints {
        if v != -1 {
            a.push((k, v.to_string()));
        }
    }
    let bools = [
        ("dapr.io/enable-profiling", o.enable_profile),
        ("dapr.io/log-as-json", o.log_as_json),
        ("dapr.io/enable-metrics", o.enable_metrics),
        ("dapr.io/enable-debug", o.enable_debug),
        ("dapr.io/app-ssl", o.app_ssl),
        (
            "dapr.io/http-stream-request-body",
            o.http_stream_request_body,
        ),
        ("dapr.io/enable-api-logging", o.enable_api_logging),
        (
            "dapr.io/disable-builtin-k8s-secret-store",
            o.disable_builtin_k8s_secret_store,
        ),
    ];
    for (k, v) in bools {
        if v {
            a.push((k, "true".into()));
        }
    }
    for (flag, key, v) in [
        ("max-body-size", "dapr.io/max-body-size", &o.max_body_size),
        (
            "read-buffer-size",
            "dapr.io/read-buffer-size",
            &o.read_buffer_size,
        ),
    ] {
        if v != "-1" && !v.is_empty() {
            let n = quantity_bytes(v).map_err(|message| AnnotateError::Size { flag, message })?;
            a.push((key, n.to_string()));
        }
    }
    Ok(a)
}

/// Split a YAML stream into documents at `---` lines (document text kept as written).
pub fn split_documents(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if t == "---" || t.starts_with("--- ") {
            docs.push(std::mem::take(&mut cur));
            continue;
        }
        cur.push_str(line);
    }
    docs.push(cur);
    docs.into_iter()
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

/// Where a kind keeps its pod annotations.
fn annotation_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind.to_ascii_lowercase().as_str() {
        "pod" => &["metadata"],
        "deployment" | "replicaset" | "statefulset" | "daemonset" | "job" => {
            &["spec", "template", "metadata"]
        }
        "cronjob" => &["spec", "jobTemplate", "spec", "template", "metadata"],
        _ => return None,
    })
}

fn is_target(doc: &Value, o: &AnnotateOptions) -> bool {
    let Some(kind) = doc["kind"].as_str() else {
        return false;
    };
    if annotation_path(kind).is_none() {
        return false;
    }
    let Some(res) = o.resource.as_deref().filter(|r| !r.is_empty()) else {
        return true;
    };
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default");
    name.eq_ignore_ascii_case(res)
        && o.namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .is_none_or(|n| n == ns)
}

fn apply(doc: &mut Value, o: &AnnotateOptions, extra: &[(&'static str, String)]) {
    let kind = doc["kind"].as_str().unwrap_or_default().to_string();
    let name = doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ns = doc["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let mut target = &mut *doc;
    for seg in annotation_path(&kind).unwrap_or(&[]) {
        if !target[*seg].is_object() {
            target[*seg] = json!({});
        }
        target = &mut target[*seg];
    }
    if !target["annotations"].is_object() {
        target["annotations"] = json!({});
    }
    let ann = target["annotations"].as_object_mut().expect("object");
    let existing_id = ann
        .get("dapr.io/app-id")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let app_id = if !o.app_id.is_empty() {
        o.app_id.clone()
    } else {
        existing_id.unwrap_or_else(|| format!("{ns}-{}-{name}", kind.to_ascii_lowercase()))
    };
    ann.insert("dapr.io/enabled".into(), json!("true"));
    ann.insert("dapr.io/app-id".into(), json!(app_id));
    for (k, v) in extra {
        ann.insert(k.to_string(), json!(v));
    }
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(b.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        o => o.clone(),
    }
}

fn to_yaml(v: &Value) -> String {
    crate::output::format::yaml(&sorted(v))
}

/// Annotate the first matching resource of `input`; returns the whole stream.
pub fn annotate(input: &str, o: &AnnotateOptions) -> Result<String, AnnotateError> {
    let extra = annotations(o)?;
    let mut done = false;
    let mut out = Vec::new();
    for (i, text) in split_documents(input).into_iter().enumerate() {
        let doc: Value = serde_saphyr::from_str(&text)
            .map_err(|e| AnnotateError::Yaml(format!("document {}: {e}", i + 1)))?;
        if doc["kind"]
            .as_str()
            .is_some_and(|k| k.eq_ignore_ascii_case("List"))
        {
            let mut doc = doc;
            if let Some(items) = doc["items"].as_array_mut() {
                for item in items {
                    if !done && is_target(item, o) {
                        apply(item, o, &extra);
                        done = true;
                    }
                }
            }
            out.push(to_yaml(&doc));
        } else if !done && is_target(&doc, o) {
            let mut doc = doc;
            apply(&mut doc, o, &extra);
            done = true;
            out.push(to_yaml(&doc));
        } else {
            let mut t = text;
            if !t.ends_with('\n') {
                t.push('\n');
            }
            out.push(t);
        }
    }
    Ok(out.join("---\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: mypod\nspec:\n  containers:\n  - name: c\n    image: nginx\n";
    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nodeapp\nspec:\n  template:\n    metadata:\n      annotations:\n        dapr.io/enabled: \"false\"\n        dapr.io/app-id: node-app\n        keep: me\n    spec:\n      containers:\n      - name: node\n        image: node\n";

    fn parse(s: &str) -> Vec<Value> {
        split_documents(s)
            .iter()
            .map(|d| serde_saphyr::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn pod_gets_enabled_and_a_default_app_id() {
        let out = annotate(POD, &AnnotateOptions::default()).unwrap();
        let v = &parse(&out)[0];
        assert_eq!(v["metadata"]["annotations"]["dapr.io/enabled"], "true");
        assert_eq!(
            v["metadata"]["annotations"]["dapr.io/app-id"],
            "default-pod-mypod"
        );
        let ns = POD.replace("name: mypod\n", "name: mypod\n  namespace: test\n");
        let v = &parse(&annotate(&ns, &AnnotateOptions::default()).unwrap())[0];
        assert_eq!(
            v["metadata"]["annotations"]["dapr.io/app-id"],
            "test-pod-mypod"
        );
    }

    #[test]
    fn deployment_annotations_are_overwritten_and_kept() {
        let o = AnnotateOptions {
            app_id: "nodeapp".into(),
            app_port: 3000,
            ..Default::default()
        };
        let v = &parse(&annotate(DEPLOY, &o).unwrap())[0];
        let ann = &v["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(ann["dapr.io/enabled"], "true");
        assert_eq!(ann["dapr.io/app-id"], "nodeapp");
        assert_eq!(ann["dapr.io/app-port"], "3000");
        assert_eq!(ann["keep"], "me");
    }

    #[test]
    fn only_the_chosen_resource_is_touched_and_others_pass_verbatim() {
        let svc = "# a comment\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n";
        let second = DEPLOY.replace("nodeapp", "other");
        let input = format!("{svc}---\n{DEPLOY}---\n{second}");
        let o = AnnotateOptions {
            resource: Some("OTHER".into()),
            app_id: "x".into(),
            ..Default::default()
        };
        let out = annotate(&input, &o).unwrap();
        let docs = split_documents(&out);
        assert_eq!(docs[0], svc);
        assert_eq!(docs[1], DEPLOY);
        let v: Value = serde_saphyr::from_str(&docs[2]).unwrap();
        assert_eq!(
            v["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-id"],
            "x"
        );
        // Without --resource the first workload is chosen.
        let out = annotate(&input, &AnnotateOptions::default()).unwrap();
        assert_ne!(split_documents(&out)[1], DEPLOY);
        assert_eq!(split_documents(&out)[2], second);
    }

    #[test]
    fn namespace_narrows_the_match_and_lists_are_walked() {
        let a = DEPLOY.replace("name: nodeapp\n", "name: nodeapp\n  namespace: test\n");
        let b = DEPLOY.replace("name: nodeapp\n", "name: nodeapp\n  namespace: test1\n");
        let o = AnnotateOptions {
            resource: Some("nodeapp".into()),
            namespace: Some("test1".into()),
            app_id: "y".into(),
            ..Default::default()
        };
        let out = annotate(&format!("{a}---\n{b}"), &o).unwrap();
        assert_eq!(split_documents(&out)[0], a);
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: nodeapp\n  spec: {}\n";
        let v = &parse(&annotate(list, &AnnotateOptions::default()).unwrap())[0];
        assert_eq!(
            v["items"][0]["spec"]["template"]["metadata"]["annotations"]["dapr.io/enabled"],
            "true"
        );
    }

    #[test]
    fn sizes_are_bytes_and_bad_sizes_are_errors() {
        let o = AnnotateOptions {
            max_body_size: "4Mi".into(),
            read_buffer_size: "4Ki".into(),
            ..Default::default()
        };
        let a = annotations(&o).unwrap();
        assert!(a.contains(&("dapr.io/max-body-size", "4194304".into())));
        assert!(a.contains(&("dapr.io/read-buffer-size", "4096".into())));
        let bad = AnnotateOptions {
            max_body_size: "lots".into(),
            ..Default::default()
        };
        assert!(
            annotate(POD, &bad)
                .unwrap_err()
                .to_string()
                .starts_with("error parsing value of max-body-size")
        );
    }
}

//! Reading the cluster: control-plane status (by the `app` labels the official CLI uses),
//! Dapr-enabled pods (`list -k`), and the age/created columns shared by the tables.
//!
//! Limits: like the official CLI, only pods are read; a Deployment without pods (e.g.
//! scaled to zero) does not appear.

use chrono::{DateTime, Local, Utc};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::client::{K8sError, server_message};

/// The `app` label values the status table looks for, in display order.
pub const CONTROL_PLANE_APPS: [&str; 6] = [
    "dapr-operator",
    "dapr-sentry",
    "dapr-placement",
    "dapr-placement-server",
    "dapr-sidecar-injector",
    "dapr-scheduler-server",
];

/// One row of `dapr status -k`; the field order is the table's column order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusRow {
    pub name: String,
    pub namespace: String,
    pub healthy: String,
    pub status: String,
    pub replicas: usize,
    pub version: String,
    pub age: String,
    pub created: String,
}

/// The official AGE column: `Ns` up to a minute, `Nm` up to an hour, `Nh` up to a day, else `Nd`.
pub fn age(created: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - created).num_seconds().max(0);
    if secs <= 60 {
        format!("{secs}s")
    } else if secs <= 3600 {
        format!("{}m", secs / 60)
    } else if secs <= 86400 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}d", secs / 86400)
    }
}

/// The official CREATED column, in local time: `YYYY-MM-DD HH:MM.SS`.
pub fn created(ts: DateTime<Utc>) -> String {
    ts.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M.%S")
        .to_string()
}

fn creation(meta: &kube::api::ObjectMeta) -> DateTime<Utc> {
    meta.creation_timestamp
        .as_ref()
        .map(|t| DateTime::<Utc>::from_timestamp(t.0.as_second(), 0).unwrap_or_default())
        .unwrap_or_else(Utc::now)
}

/// The creation time of an object as (AGE, CREATED).
pub fn age_and_created(meta: &kube::api::ObjectMeta) -> (String, String) {
    let c = creation(meta);
    (age(c, Utc::now()), created(c))
}

/// `Running`, `Waiting (<reason>)`, `Terminated`, or the pod phase, from the first container.
pub fn pod_state(p: &Pod) -> String {
    let status = p.status.as_ref();
    if let Some(state) = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|cs| cs.state.as_ref())
    {
        if state.running.is_some() {
            return "Running".into();
        }
        if let Some(w) = &state.waiting {
            return format!("Waiting ({})", w.reason.clone().unwrap_or_default());
        }
        if state.terminated.is_some() {
            return "Terminated".into();
        }
    }
    status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into())
}

fn first_container_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .is_some_and(|c| c.ready)
}

/// Build a status row from the pods carrying one `app` label.
pub fn status_row(app: &str, pods: &[Pod]) -> Option<StatusRow> {
    let first = pods.first()?;
    let healthy = pods.iter().any(first_container_ready);
    let mut status = "Running".to_string();
    for p in pods {
        let s = pod_state(p);
        if s != "Running" {
            status = s;
        }
    }
    let image = first
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let version = image
        .rsplit_once(':')
        .map(|(_, t)| t.to_string())
        .unwrap_or_default();
    let (age, created) = age_and_created(&first.metadata);
    Some(StatusRow {
        name: app.to_string(),
        namespace: first.metadata.namespace.clone().unwrap_or_default(),
        healthy: if healthy { "True" } else { "False" }.into(),
        status,
        replicas: pods.len(),
        version,
        age,
        created,
    })
}

/// Whether an object carries the label `app=<app>`.
pub fn has_app_label(meta: &kube::api::ObjectMeta, app: &str) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get("app"))
        .is_some_and(|v| v == app)
}

/// The status table rows; empty when Dapr is not installed anywhere.
pub async fn control_plane_status(client: &Client) -> Result<Vec<StatusRow>, K8sError> {
    let pods: Api<Pod> = Api::all(client.clone());
    let mut rows = Vec::new();
    for app in CONTROL_PLANE_APPS {
        let list = pods
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await
            .map_err(|e| {
                K8sError::Api(format!(
                    "listing pods with label app={app}: {}",
                    server_message(&e)
                ))
            })?;
        // The server filtered already; filtering again keeps a server that ignores
        // selectors from putting every pod in every row.
        let mut items: Vec<Pod> = list
            .items
            .into_iter()
            .filter(|p| has_app_label(&p.metadata, app))
            .collect();
        items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        if let Some(row) = status_row(app, &items) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The columns of `status -k`, in the order of [`StatusRow`]'s fields.
pub const STATUS_HEADERS: [&str; 8] = [
    "NAME",
    "NAMESPACE",
    "HEALTHY",
    "STATUS",
    "REPLICAS",
    "VERSION",
    "AGE",
    "CREATED",
];

/// The columns of `list -k`, in the order of [`AppRow`]'s fields.
pub const APP_HEADERS: [&str; 5] = ["NAMESPACE", "APP ID", "APP PORT", "AGE", "CREATED"];

/// Table cells of rows: each row's serialized fields in declaration order (the column
/// order of [`StatusRow`] and [`AppRow`]), values as text.
pub fn table_cells<T: Serialize>(rows: &[T]) -> Vec<Vec<String>> {
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

/// One Dapr-enabled pod (`list -k`); JSON keys as the official CLI's, the field order
/// is the table's column order.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppRow {
    pub namespace: String,
    pub app_id: String,
    pub app_port: String,
    pub age: String,
    pub created: String,
    #[serde(skip)]
    pub pod_name: String,
}

/// The value after `flag` in an argument list (`--flag value` or `--flag=value`).
pub fn arg_value(args: &[String], flag: &str) -> Option<String> {
    let prefix = format!("{flag}=");
    for (i, a) in args.iter().enumerate() {
        if a == flag {
            return args.get(i + 1).cloned();
        }
        if let Some(v) = a.strip_prefix(&prefix) {
            return Some(v.to_string());
        }
    }
    None
}

/// The args (command + args) of a pod's `daprd` container, if it has one.
pub fn daprd_args(p: &Pod) -> Option<Vec<String>> {
    let spec = p.spec.as_ref()?;
    let c = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == "daprd")?;
    Some(
        c.command
            .iter()
            .flatten()
            .chain(c.args.iter().flatten())
            .cloned()
            .collect(),
    )
}

/// Pods with a `daprd` container in `namespace` (all namespaces when `None`), sorted by
/// namespace descending like the official CLI.
pub async fn dapr_apps(client: &Client, namespace: Option<&str>) -> Result<Vec<AppRow>, K8sError> {
    let pods: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let list = pods
        .list(&ListParams::default())
        .await
        .map_err(|e| K8sError::Api(format!("listing pods: {}", server_message(&e))))?;
    let mut rows = Vec::new();
    for p in &list.items {
        let Some(args) = daprd_args(p) else { continue };
        let (age, created) = age_and_created(&p.metadata);
        rows.push(AppRow {
            namespace: p.metadata.namespace.clone().unwrap_or_default(),
            app_id: arg_value(&args, "--app-id").unwrap_or_default(),
            app_port: arg_value(&args, "--app-port").unwrap_or_default(),
            age,
            created,
            pod_name: p.metadata.name.clone().unwrap_or_default(),
        });
    }
    rows.sort_by(|a, b| b.namespace.cmp(&a.namespace).then(a.app_id.cmp(&b.app_id)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn age_buckets_follow_the_official_cli() {
        let t0 = DateTime::<Utc>::from_timestamp(1_000_000, 0).unwrap();
        let at = |s: i64| age(t0, t0 + chrono::Duration::seconds(s));
        assert_eq!(at(5), "5s");
        assert_eq!(at(60), "60s");
        assert_eq!(at(61), "1m");
        assert_eq!(at(3600), "60m");
        assert_eq!(at(3601), "1h");
        assert_eq!(at(86401), "1d");
    }

    #[test]
    fn status_row_reads_health_state_and_version() {
        let running = pod(json!({"metadata": {"name": "a", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "ghcr.io/dapr/operator:1.18.3"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": true,
                "restartCount": 0, "state": {"running": {}}}]}}));
        let waiting = pod(json!({"metadata": {"name": "b", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "ghcr.io/dapr/operator:1.18.3"}]},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}));
        let row = status_row("dapr-operator", &[running.clone(), waiting]).unwrap();
        assert_eq!(row.healthy, "True");
        assert_eq!(row.status, "Waiting (ImagePullBackOff)");
        assert_eq!(row.replicas, 2);
        assert_eq!(row.version, "1.18.3");
        assert_eq!(status_row("x", &[running]).unwrap().status, "Running");
        assert!(status_row("x", &[]).is_none());
    }

    #[test]
    fn arg_value_handles_both_forms() {
        let args: Vec<String> = ["/daprd", "--app-id", "a1", "--app-port=80"]
            .map(String::from)
            .to_vec();
        assert_eq!(arg_value(&args, "--app-id").as_deref(), Some("a1"));
        assert_eq!(arg_value(&args, "--app-port").as_deref(), Some("80"));
        assert_eq!(arg_value(&args, "--config"), None);
    }
}

//! Stand-ins for the parts of a cluster the real API server does not run, so that what
//! the CLI reads (`init -k --wait`, `status -k`, `list -k`, `uninstall -k`) behaves as on a
//! cluster. A background thread, every 100 ms, through the API only (as the real
//! controllers do, with the test's `system:masters` token):
//!
//! * **serviceaccount controller** (kube-controller-manager): creates the `default`
//!   ServiceAccount of every namespace, which the `ServiceAccount` admission plugin needs
//!   before it admits a pod there;
//! * **deployment + replicaset controllers**: one set of pods per Deployment template
//!   (label `pod-template-hash`, owned by the Deployment directly, no ReplicaSet object),
//!   pods of an older template deleted (a rollout done at once), `spec.replicas` kept;
//! * **statefulset controller**: pods `<name>-<ordinal>` with `hostname`/`subdomain`, and
//!   for each `volumeClaimTemplate` a PersistentVolumeClaim `<template>-<pod>` created and
//!   mounted as the controller does;
//! * the **Dapr sidecar injector's webhook**, for the pods this helper creates only: once
//!   the `dapr-sidecar-injector` MutatingWebhookConfiguration exists, pods of templates
//!   annotated `dapr.io/enabled` get the `daprd` container (`k8s_fake::injector`);
//! * **kubelet** (and scheduler): every pod gets a `Running` status with ready containers
//!   through the `pods/status` subresource (pods are never bound to a node, so deleting
//!   one removes it at once);
//! * **deployment/statefulset status**: `observedGeneration`, `replicas`,
//!   `updatedReplicas`, `readyReplicas`, `availableReplicas` through the `status`
//!   subresource, which is what `--wait` and `upgrade` read;
//! * **garbage collector**: pods whose owning Deployment/StatefulSet is gone are deleted
//!   (PVCs stay, as on a cluster).
//!
//! Not stood in for: the namespace controller (namespaces never finish terminating), pod
//! logs (no kubelet to proxy to), anything the Dapr control plane itself would do
//! (sentry filling the trust bundle: tests do that as another client).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Rest, collection_path};
use crate::k8s_fake::injector;

/// The running helper; stops (and is joined) on drop.
pub struct Controllers {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Controllers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Controllers {
    pub fn start(rest: Rest) -> Controllers {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut errors = BTreeSet::new();
            while !flag.load(Ordering::SeqCst) {
                if let Err(e) = reconcile(&rest) {
                    // Say each distinct failure once: a refused pod is a finding.
                    if errors.insert(e.clone()) {
                        eprintln!("k8s_real controllers: {e}");
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Controllers {
            stop,
            thread: Some(thread),
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn name_of(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or_default()
}

fn namespace_of(v: &Value) -> &str {
    v["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// FNV-1a of the template, as a short hex label value.
fn template_hash(template: &Value) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in template.to_string().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:x}")[..10].to_string()
}

fn reconcile(rest: &Rest) -> Result<(), String> {
    service_accounts(rest)?;
    let workloads: Vec<(&str, Value)> = ["deployments", "statefulsets"]
        .into_iter()
        .flat_map(|kind| {
            rest.list("apps", kind, "")
                .into_iter()
                .map(move |w| (kind, w))
        })
        .collect();
    let owners: BTreeSet<&str> = workloads
        .iter()
        .filter_map(|(_, w)| w["metadata"]["uid"].as_str())
        .collect();
    let mut pods = Vec::new();
    for p in rest.list("", "pods", "") {
        match p["metadata"]["ownerReferences"][0]["uid"].as_str() {
            // Garbage collector: the owner is gone (first, so that a recreated
            // StatefulSet's pods can take their names back).
            Some(uid) if !owners.contains(uid) => {
                rest.delete_path(&pod_path(&p));
            }
            // Kubelet, for pods made by anything else (kubectl run, the tests).
            None if p["status"]["phase"] != "Running" => {
                run_pod(rest, &p)?;
                pods.push(p);
            }
            _ => pods.push(p),
        }
    }
    let mut errors = Vec::new();
    for (kind, w) in &workloads {
        if let Err(e) = workload(rest, kind, w, &pods) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// The `default` ServiceAccount of every (active) namespace.
fn service_accounts(rest: &Rest) -> Result<(), String> {
    let have: BTreeSet<String> = rest
        .list("", "serviceaccounts", "")
        .iter()
        .filter(|sa| name_of(sa) == "default")
        .map(|sa| namespace_of(sa).to_string())
        .collect();
    for ns in rest.list("", "namespaces", "") {
        let ns_name = name_of(&ns);
        if have.contains(ns_name) || ns["status"]["phase"] == "Terminating" {
            continue;
        }
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns_name}});
        match rest.create(&sa) {
            Ok(_) => {}
            Err(e) if e.contains("AlreadyExists") || e.contains(" 409 ") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn pod_path(p: &Value) -> String {
    format!(
        "{}/{}",
        collection_path("", "pods", namespace_of(p)),
        name_of(p)
    )
}

fn run_pod(rest: &Rest, pod: &Value) -> Result<(), String> {
    let path = format!("{}/status", pod_path(pod));
    rest.merge_path(
        &path,
        &json!({"status": crate::k8s_fake::pod_status(pod, false)}),
    )
    .map(|_| ())
}

/// The injector's webhook and sidecar image, when the webhook configuration exists.
fn injector_config(rest: &Rest) -> Option<(String, String)> {
    let webhook = rest.get_path(
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/dapr-sidecar-injector",
    )?;
    let ns = injector::control_plane_namespace(&webhook);
    let deployment = rest.get_path(&format!(
        "/apis/apps/v1/namespaces/{ns}/deployments/dapr-sidecar-injector"
    ));
    let image = injector::sidecar_image(deployment.as_ref());
    Some((ns, image))
}

/// One Deployment or StatefulSet: its pods, their status, its status.
fn workload(rest: &Rest, plural: &str, w: &Value, all_pods: &[Value]) -> Result<(), String> {
    let is_sts = plural == "statefulsets";
    let (ns, name) = (namespace_of(w), name_of(w));
    let uid = w["metadata"]["uid"].as_str().unwrap_or_default();
    let replicas = w["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let template = &w["spec"]["template"];
    let hash = template_hash(template);
    let mut pods: Vec<&Value> = all_pods
        .iter()
        .filter(|p| p["metadata"]["ownerReferences"][0]["uid"] == uid)
        .collect();
    // Pods of another template go (a rolling update done at once), extra pods too.
    for p in &pods {
        if p["metadata"]["labels"]["pod-template-hash"] != hash.as_str() {
            rest.delete_path(&pod_path(p));
        }
    }
    pods.retain(|p| p["metadata"]["labels"]["pod-template-hash"] == hash.as_str());
    pods.sort_by_key(|p| name_of(p).to_string());
    while pods.len() > replicas {
        let p = pods.pop().unwrap();
        rest.delete_path(&pod_path(p));
    }
    let taken: BTreeSet<String> = pods.iter().map(|p| name_of(p).to_string()).collect();
    let mut ready = pods
        .iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .count();
    for p in &pods {
        if p["status"]["phase"] != "Running" {
            run_pod(rest, p)?;
            ready += 1;
        }
    }
    let injector = if pods.len() < replicas {
        injector_config(rest)
    } else {
        None
    };
    let mut ordinal = 0;
    for _ in pods.len()..replicas {
        let pod_name = if is_sts {
            while taken.contains(&format!("{name}-{ordinal}")) {
                ordinal += 1;
            }
            ordinal += 1;
            format!("{name}-{}", ordinal - 1)
        } else {
            let suffix = &uuid::Uuid::new_v4().simple().to_string()[..5];
            format!("{name}-{hash}-{suffix}")
        };
        let mut pod = new_pod(w, &pod_name, &hash, is_sts);
        if is_sts {
            claims(rest, w, &pod_name, &mut pod)?;
        }
        if let Some((cp_ns, image)) = &injector {
            injector::inject(&mut pod, cp_ns, image);
        }
        let created = rest
            .create(&pod)
            .map_err(|e| format!("{plural} {ns}/{name}: {e}"))?;
        run_pod(rest, &created)?;
        ready += 1;
    }
    let generation = w["metadata"]["generation"].clone();
    let status = json!({
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": if is_sts { json!(replicas) } else { Value::Null },
    });
    let current = &w["status"];
    let same = [
        "observedGeneration",
        "replicas",
        "readyReplicas",
        "updatedReplicas",
    ]
    .iter()
    .all(|f| current[f] == status[f]);
    if !same {
        let path = format!("{}/{name}/status", collection_path("apps", plural, ns));
        rest.merge_path(&path, &json!({ "status": status }))?;
    }
    Ok(())
}

/// A pod of the workload's template, owned by it.
fn new_pod(w: &Value, pod_name: &str, hash: &str, is_sts: bool) -> Value {
    let template = &w["spec"]["template"];
    let mut meta = template["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    let m = meta.as_object_mut().unwrap();
    m.insert("name".into(), json!(pod_name));
    m.insert("namespace".into(), json!(namespace_of(w)));
    let labels = m.entry("labels").or_insert_with(|| json!({}));
    labels["pod-template-hash"] = json!(hash);
    if is_sts {
        labels["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
    }
    m.insert(
        "ownerReferences".into(),
        json!([{
            "apiVersion": "apps/v1",
            "kind": if is_sts { "StatefulSet" } else { "Deployment" },
            "name": name_of(w),
            "uid": w["metadata"]["uid"],
            "controller": true,
        }]),
    );
    let mut spec = template["spec"].clone();
    if is_sts {
        spec["hostname"] = json!(pod_name);
        if let Some(svc) = w["spec"]["serviceName"].as_str() {
            spec["subdomain"] = json!(svc);
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}

/// The statefulset controller's volume claims: a PVC per template and pod, mounted.
fn claims(rest: &Rest, w: &Value, pod_name: &str, pod: &mut Value) -> Result<(), String> {
    let ns = namespace_of(w);
    let existing: BTreeMap<String, Value> = rest
        .list("", "persistentvolumeclaims", ns)
        .into_iter()
        .map(|c| (name_of(&c).to_string(), c))
        .collect();
    for t in w["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let claim = format!("{}-{pod_name}", name_of(t));
        if !existing.contains_key(&claim) {
            let mut meta = t["metadata"].clone();
            meta["name"] = json!(claim);
            meta["namespace"] = json!(ns);
            let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": meta, "spec": t["spec"]});
            rest.create(&pvc)
                .map_err(|e| format!("volume claim of {ns}/{}: {e}", name_of(w)))?;
        }
        let volumes = &mut pod["spec"]["volumes"];
        if !volumes.is_array() {
            *volumes = json!([]);
        }
        volumes.as_array_mut().unwrap().push(json!({
            "name": name_of(t),
            "persistentVolumeClaim": {"claimName": claim},
        }));
    }
    Ok(())
}

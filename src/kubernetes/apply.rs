//! Applying rendered objects and waiting for them: server-side apply with field manager
//! `dapr-cli` (forced, so re-running `init` or `upgrade` takes back fields another
//! manager changed), CRDs waited on until `Established`, workloads until ready. On a
//! server without server-side apply it creates or JSON-merge-patches, as `kubectl apply`.
//!
//! Limits: readiness is polled (every 250 ms), not watched; a rollout that never becomes
//! ready is reported at the timeout with what its pods are waiting for.
//!
//! A StatefulSet whose spec changes outside the fields a server lets change (switching
//! HA on or off adds or removes placement's `volumeClaimTemplates`) is refused by a real
//! API server (422, "updates to statefulset spec for fields other than ..."); it is then
//! deleted (its pods with it, its volume claims kept) and applied again, as
//! `kubectl apply --force` would.

use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::Value;

use super::client::{K8sError, is_not_found, resource_for, server_message};
use super::manifests::Object;
use crate::report::{Reporter, Status};

/// The field manager recorded on every object this CLI applies.
pub const FIELD_MANAGER: &str = "dapr-cli";

fn api_for(client: &Client, obj: &Object) -> Result<Api<DynamicObject>, K8sError> {
    let (ar, namespaced) =
        resource_for(obj.api_version(), obj.kind()).ok_or_else(|| K8sError::Object {
            object: obj.describe(),
            message: format!("unsupported kind {} {}", obj.api_version(), obj.kind()),
        })?;
    Ok(match (namespaced, obj.namespace()) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        (true, None) => Api::default_namespaced_with(client.clone(), &ar),
        (false, _) => Api::all_with(client.clone(), &ar),
    })
}

/// The object as the body of a create request.
fn dynamic(obj: &Object) -> Result<DynamicObject, K8sError> {
    serde_json::from_value(obj.value.clone()).map_err(|e| K8sError::Object {
        object: obj.describe(),
        message: e.to_string(),
    })
}

/// Apply one object: server-side apply, or create-if-absent for `create_only` objects.
/// Returns whether the object was written (false = left as it was).
pub async fn apply_one(client: &Client, obj: &Object) -> Result<bool, K8sError> {
    let api = api_for(client, obj)?;
    if obj.create_only {
        if api
            .get_opt(obj.name())
            .await
            .map_err(|e| K8sError::object(obj.describe(), e))?
            .is_some()
        {
            return Ok(false);
        }
        api.create(&PostParams::default(), &dynamic(obj)?)
            .await
            .map_err(|e| K8sError::object(obj.describe(), e))?;
        return Ok(true);
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api
        .patch(obj.name(), &params, &Patch::Apply(&obj.value))
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if apply_unsupported(&e) => create_or_merge(&api, obj).await,
        Err(e) if obj.kind() == "StatefulSet" && immutable_spec(&e) => {
            recreate(&api, obj, &params).await
        }
        Err(e) => Err(K8sError::object(obj.describe(), e)),
    }
}

/// A real server's answer to a StatefulSet spec change it does not allow in place.
fn immutable_spec(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 422
        && s.message.contains("updates to statefulset spec for fields other than"))
}

/// Delete the object (dependents in the background) and apply it again once it is gone.
async fn recreate(
    api: &Api<DynamicObject>,
    obj: &Object,
    params: &PatchParams,
) -> Result<bool, K8sError> {
    let fail = |e| K8sError::object(obj.describe(), e);
    match api.delete(obj.name(), &DeleteParams::background()).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(fail(e)),
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get_opt(obj.name()).await.map_err(fail)?.is_some() {
        if Instant::now() >= deadline {
            return Err(K8sError::Object {
                object: obj.describe(),
                message: "deleted to be recreated with a changed spec, but still there after 60s"
                    .into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.patch(obj.name(), params, &Patch::Apply(&obj.value))
        .await
        .map_err(fail)?;
    Ok(true)
}

/// A server without server-side apply: the patch type refused (415, or 400 naming the
/// media/content/patch type), the verb refused (405), or the patch taken as an ordinary
/// one of a missing object (404). A real server with apply answers none of these for a
/// well-formed apply (a missing namespace, also 404, fails again in the fallback with
/// the server's message).
fn apply_unsupported(e: &kube::Error) -> bool {
    let kube::Error::Api(s) = e else {
        return false;
    };
    let msg = s.message.to_lowercase();
    [404, 405, 415].contains(&s.code)
        || (s.code == 400
            && ["media type", "content type", "content-type", "patch type"]
                .iter()
                .any(|t| msg.contains(t)))
}

/// What `kubectl apply` does without server-side apply: create the object, or JSON
/// merge-patch it with the manifest.
async fn create_or_merge(api: &Api<DynamicObject>, obj: &Object) -> Result<bool, K8sError> {
    let fail = |e| K8sError::object(obj.describe(), e);
    let manager = Some(FIELD_MANAGER.to_string());
    if api.get_opt(obj.name()).await.map_err(fail)?.is_none() {
        let params = PostParams {
            field_manager: manager,
            ..Default::default()
        };
        api.create(&params, &dynamic(obj)?).await.map_err(fail)?;
    } else {
        let params = PatchParams {
            field_manager: manager,
            ..Default::default()
        };
        api.patch(obj.name(), &params, &Patch::Merge(&obj.value))
            .await
            .map_err(fail)?;
    }
    Ok(true)
}

/// Delete one object; a missing object is not an error. Returns whether it existed.
pub async fn delete_one(client: &Client, obj: &Object) -> Result<bool, K8sError> {
    let api = api_for(client, obj)?;
    match api.delete(obj.name(), &DeleteParams::background()).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(K8sError::object(obj.describe(), e)),
    }
}

/// Whether a CRD reports `Established=True`.
fn crd_established(v: &Value) -> bool {
    v["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    })
}

/// Readiness of a Deployment or StatefulSet from its status: (ready, wanted, is_ready).
pub fn workload_readiness(v: &Value) -> (i64, i64, bool) {
    let wanted = v["spec"]["replicas"].as_i64().unwrap_or(1);
    let st = &v["status"];
    let generation = v["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = st["observedGeneration"].as_i64().unwrap_or(0);
    let ready = st["readyReplicas"].as_i64().unwrap_or(0);
    let updated = st["updatedReplicas"].as_i64().unwrap_or(0);
    let ok = if v["kind"] == "Deployment" {
        let available = st["availableReplicas"].as_i64().unwrap_or(0);
        observed >= generation && updated >= wanted && available >= wanted && ready >= wanted
    } else {
        observed >= generation && ready >= wanted && updated >= wanted
    };
    (ready, wanted, ok)
}

async fn get_value(client: &Client, obj: &Object) -> Result<Option<Value>, K8sError> {
    let api = api_for(client, obj)?;
    let got = api
        .get_opt(obj.name())
        .await
        .map_err(|e| K8sError::object(obj.describe(), e))?;
    Ok(got.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)))
}

/// Whether discovery already lists the CRD's resource in every served version (what
/// matters for creating its objects; a server that sets no status conditions, as simple
/// fakes do, is still usable).
async fn crd_served(client: &Client, crd: &Value) -> bool {
    let spec = &crd["spec"];
    let (Some(group), Some(plural)) = (spec["group"].as_str(), spec["names"]["plural"].as_str())
    else {
        return false;
    };
    let versions: Vec<&str> = spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"] == true)
        .filter_map(|v| v["name"].as_str())
        .collect();
    for v in &versions {
        match client
            .list_api_group_resources(&format!("{group}/{v}"))
            .await
        {
            Ok(list) if list.resources.iter().any(|r| r.name == plural) => {}
            _ => return false,
        }
    }
    !versions.is_empty()
}

/// Wait until every CRD among `objects` is Established (or served by discovery, for a
/// server that reports no conditions).
pub async fn wait_crds(
    client: &Client,
    objects: &[Object],
    timeout: Duration,
) -> Result<(), K8sError> {
    let deadline = Instant::now() + timeout;
    for crd in objects
        .iter()
        .filter(|o| o.kind() == "CustomResourceDefinition")
    {
        loop {
            let state = get_value(client, crd).await?;
            if state.as_ref().is_some_and(crd_established) {
                break;
            }
            // Discovery lists a CRD's resource only once it is established, so being
            // served is enough on a server that keeps no (or other) conditions.
            if state.is_some() && crd_served(client, &crd.value).await {
                break;
            }
            if Instant::now() >= deadline {
                return Err(K8sError::Timeout {
                    secs: timeout.as_secs(),
                    what: format!("{} to be Established", crd.describe()),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Why the pods of a workload are not ready, e.g. `pod dapr-sentry-0: Waiting (ImagePullBackOff)`.
async fn pod_problems(client: &Client, obj: &Object) -> String {
    let Some(app) = obj.value["spec"]["selector"]["matchLabels"]["app"].as_str() else {
        return String::new();
    };
    let pods: Api<k8s_openapi::api::core::v1::Pod> =
        Api::namespaced(client.clone(), obj.namespace().unwrap_or("default"));
    let Ok(list) = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
    else {
        return String::new();
    };
    let mut out = Vec::new();
    for p in list.items {
        let name = p.metadata.name.clone().unwrap_or_default();
        let state = super::status::pod_state(&p);
        if state != "Running" {
            out.push(format!("pod {name}: {state}"));
        }
    }
    out.join("; ")
}

/// Wait until every Deployment/StatefulSet among `objects` is ready, reporting each.
pub async fn wait_workloads(
    client: &Client,
    objects: &[Object],
    timeout: Duration,
    reporter: &dyn Reporter,
) -> Result<(), K8sError> {
    let deadline = Instant::now() + timeout;
    for w in objects
        .iter()
        .filter(|o| o.kind() == "Deployment" || o.kind() == "StatefulSet")
    {
        reporter.status(
            Status::Pending,
            &format!("Waiting for {} to be ready...", w.name()),
        );
        loop {
            let state = get_value(client, w).await?;
            let (ready, wanted, ok) = state
                .as_ref()
                .map(workload_readiness)
                .unwrap_or((0, 0, false));
            if ok {
                reporter.status(
                    Status::Success,
                    &format!("{} is ready ({ready}/{wanted})", w.name()),
                );
                break;
            }
            if Instant::now() >= deadline {
                let why = pod_problems(client, w).await;
                return Err(K8sError::Object {
                    object: w.describe(),
                    message: format!(
                        "not ready after {}s: {ready}/{wanted} replicas ready{}",
                        timeout.as_secs(),
                        if why.is_empty() {
                            String::new()
                        } else {
                            format!(" ({why})")
                        }
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// Wait until `obj` is not being deleted (gone, or never marked). A CRD deleted a moment
/// ago (`uninstall -k --all`) lingers until its finalizer has removed its custom
/// resources, and a namespace until it is emptied: applied meanwhile, it would vanish
/// (the CRD) or refuse new content (the namespace).
async fn wait_not_terminating(
    client: &Client,
    obj: &Object,
    deadline: Instant,
    reporter: &dyn Reporter,
) -> Result<(), K8sError> {
    let mut said = false;
    while get_value(client, obj)
        .await?
        .is_some_and(|v| v["metadata"]["deletionTimestamp"].is_string())
    {
        if !said {
            reporter.status(
                Status::Pending,
                &format!("Waiting for {} to finish deleting...", obj.describe()),
            );
            said = true;
        }
        if Instant::now() >= deadline {
            return Err(K8sError::Object {
                object: obj.describe(),
                message: "still being deleted; wait until it is gone, then run the command again"
                    .into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// Apply `objects` in order. CRDs are waited on (Established) before anything that may be
/// a custom resource is applied; a namespace or CRD still being deleted is waited out
/// first. Returns the create-only objects left as they were.
pub async fn apply_all<'a>(
    client: &Client,
    objects: &'a [Object],
    crd_timeout: Duration,
    reporter: &dyn Reporter,
) -> Result<Vec<&'a Object>, K8sError> {
    let mut skipped = Vec::new();
    let mut crds_waited = false;
    let deadline = Instant::now() + crd_timeout;
    for obj in objects {
        if obj.kind() == "Namespace" || obj.kind() == "CustomResourceDefinition" {
            wait_not_terminating(client, obj, deadline, reporter).await?;
        }
        if !crds_waited && obj.kind() != "Namespace" && obj.kind() != "CustomResourceDefinition" {
            wait_crds(client, objects, crd_timeout).await?;
            crds_waited = true;
        }
        if !apply_one(client, obj).await? {
            reporter.status(
                Status::Warning,
                &format!("{} already exists, skipping", obj.describe()),
            );
            skipped.push(obj);
        }
    }
    Ok(skipped)
}

/// Read the server's version, to fail early with a clear message when it is unreachable.
/// A server that answers but does not serve `/version` (an error status) is reachable:
/// `None`, not an error.
pub async fn server_version(client: &Client) -> Result<Option<String>, K8sError> {
    match client.apiserver_version().await {
        Ok(v) => Ok(Some(v.git_version)),
        Err(kube::Error::Api(_)) => Ok(None),
        Err(e) => Err(K8sError::Connect(server_message(&e))),
    }
}

/// `kubectl rollout restart`: stamp the pod template so the workload rolls its pods.
/// Returns the workload as an [`Object`] to wait on.
pub async fn restart(
    client: &Client,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Object, K8sError> {
    let obj = Object {
        value: serde_json::json!({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}}),
        create_only: false,
    };
    let api = api_for(client, &obj)?;
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }}}}});
    let got = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| K8sError::object(obj.describe(), e))?;
    let mut value = serde_json::to_value(got).unwrap_or(Value::Null);
    value["apiVersion"] = serde_json::json!("apps/v1");
    value["kind"] = serde_json::json!(kind);
    Ok(Object {
        value,
        create_only: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: message.into(),
            ..Default::default()
        }))
    }

    #[test]
    fn only_a_forbidden_statefulset_spec_change_recreates() {
        let real = "StatefulSet.apps \"dapr-placement-server\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
        assert!(immutable_spec(&api_error(422, real)));
        assert!(!immutable_spec(&api_error(403, real)));
        assert!(!immutable_spec(&api_error(
            422,
            "Deployment.apps \"x\" is invalid: spec.selector: Invalid value: field is immutable"
        )));
    }

    #[test]
    fn only_a_missing_apply_falls_back() {
        for (code, msg) in [
            (415, "the body of the request was in an unknown format"),
            (405, "method not allowed"),
            (404, "configmaps \"c\" not found"),
            (400, "unsupported patch type: application/apply-patch+yaml"),
            (400, "Unsupported Media Type"),
        ] {
            assert!(apply_unsupported(&api_error(code, msg)), "{code} {msg}");
        }
        for (code, msg) in [
            (400, "the API version in the data (v2) does not match"),
            (422, "Deployment.apps \"x\" is invalid"),
            (409, "Apply failed with 1 conflict"),
            (403, "forbidden"),
        ] {
            assert!(!apply_unsupported(&api_error(code, msg)), "{code} {msg}");
        }
    }
}

use super::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn roundtrip<T: DeserializeOwned + Serialize>(v: &Value) -> Value {
    let typed: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
    serde_json::to_value(typed).unwrap()
}

/// k8s-openapi drops unknown fields silently: a typed round trip that changes the
/// object reveals a misspelled or misplaced field.
fn typed_roundtrip(v: &Value) -> Option<Value> {
    use k8s_openapi::api::{admissionregistration, apps, core, policy, rbac};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
    Some(match v["kind"].as_str()? {
        "Namespace" => roundtrip::<core::v1::Namespace>(v),
        "CustomResourceDefinition" => roundtrip::<apiextensions::v1::CustomResourceDefinition>(v),
        "ServiceAccount" => roundtrip::<core::v1::ServiceAccount>(v),
        "Secret" => roundtrip::<core::v1::Secret>(v),
        "ConfigMap" => roundtrip::<core::v1::ConfigMap>(v),
        "Service" => roundtrip::<core::v1::Service>(v),
        "ClusterRole" => roundtrip::<rbac::v1::ClusterRole>(v),
        "ClusterRoleBinding" => roundtrip::<rbac::v1::ClusterRoleBinding>(v),
        "Role" => roundtrip::<rbac::v1::Role>(v),
        "RoleBinding" => roundtrip::<rbac::v1::RoleBinding>(v),
        "Deployment" => roundtrip::<apps::v1::Deployment>(v),
        "StatefulSet" => roundtrip::<apps::v1::StatefulSet>(v),
        "PodDisruptionBudget" => roundtrip::<policy::v1::PodDisruptionBudget>(v),
        "MutatingWebhookConfiguration" => {
            roundtrip::<admissionregistration::v1::MutatingWebhookConfiguration>(v)
        }
        _ => return None,
    })
}

/// The typed round trip drops empty lists (`rules: []`); compare without them.
fn strip_empty(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.as_array().is_some_and(|a| a.is_empty()))
                .map(|(k, x)| (k.clone(), strip_empty(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_empty).collect()),
        o => o.clone(),
    }
}

fn all_option_sets() -> Vec<RenderOptions> {
    vec![
        RenderOptions::default(),
        RenderOptions {
            ha: true,
            mtls: false,
            dev: true,
            ..Default::default()
        },
    ]
}

#[test]
fn defaults_render_the_charts_47_objects_after_the_namespace() {
    let objs = render(&RenderOptions::default()).unwrap();
    assert_eq!(objs.len(), 48);
    assert_eq!(objs[0].kind(), "Namespace");
    let crds: Vec<&str> = objs[1..8].iter().map(|o| o.name()).collect();
    assert_eq!(crds, CRD_NAMES);
    let count = |k: &str| objs.iter().filter(|o| o.kind() == k).count();
    assert_eq!(count("ServiceAccount"), 5);
    assert_eq!(count("ClusterRole"), 5);
    assert_eq!(count("ClusterRoleBinding"), 5);
    assert_eq!(count("Role"), 4);
    assert_eq!(count("RoleBinding"), 4);
    assert_eq!(count("Deployment"), 3);
    assert_eq!(count("StatefulSet"), 2);
    assert_eq!(count("Service"), 7);
    assert_eq!(count("PodDisruptionBudget"), 1);
    assert_eq!(objs.last().unwrap().name(), "daprsystem");
    let op = objs
        .iter()
        .find(|o| o.name() == "dapr-operator" && o.kind() == "Deployment")
        .unwrap();
    assert_eq!(
        op.value["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/dapr/operator:1.18.3"
    );
    assert_eq!(
        op.value["metadata"]["labels"]["app.kubernetes.io/version"],
        "1.18.3"
    );
}

#[test]
fn every_builtin_object_survives_a_typed_round_trip() {
    for opts in all_option_sets() {
        for o in render(&opts).unwrap() {
            if let Some(mut back) = typed_roundtrip(&o.value) {
                // k8s-openapi adds the (implied) type meta to embedded claim templates.
                if let Some(vcts) = back
                    .pointer_mut("/spec/volumeClaimTemplates")
                    .and_then(|v| v.as_array_mut())
                {
                    for t in vcts.iter_mut().filter_map(|t| t.as_object_mut()) {
                        t.remove("apiVersion");
                        t.remove("kind");
                    }
                }
                assert_eq!(
                    strip_empty(&back),
                    strip_empty(&o.value),
                    "{}",
                    o.describe()
                );
            } else {
                assert_eq!(
                    o.api_version(),
                    "dapr.io/v1alpha1",
                    "{} has no typed check",
                    o.describe()
                );
            }
        }
    }
}

#[test]
fn ha_mtls_namespace_registry_and_variant_are_filled_in() {
    let objs = render(&RenderOptions {
        namespace: "ns1".into(),
        version: "1.17.0".into(),
        image_variant: Some("mariner".into()),
        registry: Some("localhost:5000/dapr".into()),
        ha: true,
        mtls: false,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(objs.len(), 52);
    let text = to_yaml_stream(&objs);
    assert!(!text.contains("__"), "unfilled placeholder");
    assert!(!text.contains("dapr-system"));
    let get = |k: &str, n: &str| {
        objs.iter()
            .find(|o| o.kind() == k && o.name() == n)
            .unwrap()
    };
    let place = &get("StatefulSet", "dapr-placement-server").value;
    assert_eq!(place["spec"]["replicas"], 3);
    assert_eq!(
        place["spec"]["template"]["spec"]["containers"][0]["image"],
        "localhost:5000/dapr/placement:1.17.0-mariner"
    );
    assert_eq!(
        get("Deployment", "dapr-sentry").value["spec"]["replicas"],
        3
    );
    assert_eq!(
        get("StatefulSet", "dapr-scheduler-server").value["spec"]["replicas"],
        3
    );
    assert_eq!(
        get("Configuration", "daprsystem").value["spec"]["mtls"]["enabled"],
        false
    );
}

#[test]
fn set_values_are_checked() {
    let with = |s: &str| {
        render(&RenderOptions {
            sets: vec![s.into()],
            ..Default::default()
        })
    };
    assert!(matches!(
        with("foo.bar=1"),
        Err(ManifestError::SetKey { .. })
    ));
    assert!(matches!(
        with("global.ha.enabled=maybe"),
        Err(ManifestError::SetValue { .. })
    ));
    assert!(matches!(with("novalue"), Err(ManifestError::SetSyntax(_))));
    let objs = with("global.ha.enabled=true,dapr_operator.logLevel=debug").unwrap();
    let op = objs
        .iter()
        .find(|o| o.name() == "dapr-operator" && o.kind() == "Deployment")
        .unwrap();
    assert_eq!(op.value["spec"]["replicas"], 3);
    let args = op.value["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    let i = args.iter().position(|a| a == "--log-level").unwrap();
    assert_eq!(args[i + 1], "debug");
}

#[test]
fn yaml_stream_parses_back_to_the_same_objects() {
    for opts in all_option_sets() {
        let objs = render(&opts).unwrap();
        let back = parse_documents("stream", &to_yaml_stream(&objs)).unwrap();
        let orig: Vec<Value> = objs.into_iter().map(|o| o.value).collect();
        assert_eq!(back, orig);
    }
}

/// The chart's Services (reference §1.5): `name:port→target` per port, and the selector.
#[test]
fn services_have_the_charts_ports_and_selectors() {
    let objs = render(&RenderOptions::default()).unwrap();
    let want: [(&str, &str, &[&str]); 7] = [
        (
            "dapr-api",
            "dapr-operator",
            &["grpc:443→6500", "legacy:80→6500", "metrics:9090→9090"],
        ),
        ("dapr-webhook", "dapr-operator", &[":443→19443"]),
        (
            "dapr-sentry",
            "dapr-sentry",
            &["grpc:443→50001", "metrics:9090→9090"],
        ),
        (
            "dapr-placement-server",
            "dapr-placement-server",
            &["api:50005→", "raft-node:8201→", "metrics:9090→9090"],
        ),
        (
            "dapr-scheduler-server-a",
            "dapr-scheduler-server",
            &[
                "api:443→50006",
                "etcd-client:2379→",
                "etcd-peer:2380→",
                "metrics:9090→9090",
            ],
        ),
        (
            "dapr-scheduler-server",
            "dapr-scheduler-server",
            &[
                "api:50006→",
                "etcd-client:2379→",
                "etcd-peer:2380→",
                "metrics:9090→9090",
            ],
        ),
        (
            "dapr-sidecar-injector",
            "dapr-sidecar-injector",
            &["https:443→https", "metrics:9090→9090"],
        ),
    ];
    let services: Vec<&Object> = objs.iter().filter(|o| o.kind() == "Service").collect();
    assert_eq!(services.len(), want.len());
    for (name, app, ports) in want {
        let svc = services.iter().find(|o| o.name() == name).unwrap();
        assert_eq!(svc.value["spec"]["selector"], json!({"app": app}), "{name}");
        let got: Vec<String> = svc.value["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let target = match &p["targetPort"] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    n => n.to_string(),
                };
                format!(
                    "{}:{}→{target}",
                    p["name"].as_str().unwrap_or_default(),
                    p["port"]
                )
            })
            .collect();
        assert_eq!(got, ports, "{name}");
    }
}

#[test]
fn scheduler_pdb_selector_matches_its_pods() {
    let objs = render(&RenderOptions::default()).unwrap();
    let pdb = objs
        .iter()
        .find(|o| o.kind() == "PodDisruptionBudget")
        .unwrap();
    let sts = objs
        .iter()
        .find(|o| o.name() == "dapr-scheduler-server" && o.kind() == "StatefulSet")
        .unwrap();
    let pod_labels = sts.value["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap();
    for (k, v) in pdb.value["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(pod_labels.get(k), Some(v), "{k}");
    }
}

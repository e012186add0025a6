//! What the Dapr sidecar injector's webhook does to a pod (a subset: the `daprd`
//! container with its args and ports, and the labels), shared by the fake API server and
//! the stand-in controllers of the real one (`k8s_real::controllers`).

use serde_json::{Value, json};

/// The control-plane namespace the injector's webhook configuration points at.
pub fn control_plane_namespace(webhook: &Value) -> String {
    webhook["webhooks"][0]["clientConfig"]["service"]["namespace"]
        .as_str()
        .unwrap_or("dapr-system")
        .to_string()
}

/// The sidecar image the injector Deployment is configured with (`SIDECAR_IMAGE`).
pub fn sidecar_image(injector: Option<&Value>) -> String {
    injector
        .and_then(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()?
                .iter()
                .find(|e| e["name"] == "SIDECAR_IMAGE")
                .and_then(|e| e["value"].as_str().map(str::to_string))
        })
        .unwrap_or_else(|| "ghcr.io/dapr/daprd:1.18.3".into())
}

/// Add the `daprd` container to a pod annotated `dapr.io/enabled` that has none yet;
/// returns its app id when it did.
pub fn inject(pod: &mut Value, cp_ns: &str, image: &str) -> Option<String> {
    let ann = pod["metadata"]["annotations"].clone();
    let enabled = ann["dapr.io/enabled"]
        .as_str()
        .is_some_and(|v| ["true", "1", "yes", "on", "y"].contains(&v));
    let has_daprd = pod["spec"]["containers"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["name"] == "daprd"));
    if !enabled || has_daprd {
        return None;
    }
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let app_id = ann["dapr.io/app-id"].as_str().unwrap_or(name).to_string();
    let mut args: Vec<String> = [
        "/daprd",
        "--dapr-http-port",
        "3500",
        "--dapr-grpc-port",
        "50001",
        "--dapr-internal-grpc-port",
        "50002",
        "--dapr-listen-addresses",
        "[::1],127.0.0.1",
        "--dapr-public-port",
        "3501",
        "--app-id",
        &app_id,
        "--app-protocol",
        "http",
        "--log-level",
        "info",
        "--mode",
        "kubernetes",
        "--control-plane-address",
        &format!("dapr-api.{cp_ns}.svc.cluster.local:443"),
    ]
    .map(String::from)
    .to_vec();
    if let Some(port) = ann["dapr.io/app-port"].as_str() {
        args.extend(["--app-port".to_string(), port.to_string()]);
    }
    if let Some(cfg) = ann["dapr.io/config"].as_str() {
        args.extend(["--config".to_string(), cfg.to_string()]);
    }
    let sidecar = json!({
        "name": "daprd",
        "image": image,
        "args": args,
        "ports": [
            {"name": "dapr-http", "containerPort": 3500},
            {"name": "dapr-grpc", "containerPort": 50001},
            {"name": "dapr-internal", "containerPort": 50002},
            {"name": "dapr-metrics", "containerPort": 9090},
        ],
    });
    if let Some(cs) = pod["spec"]["containers"].as_array_mut() {
        cs.push(sidecar);
    }
    let labels = &mut pod["metadata"]["labels"];
    labels["dapr.io/sidecar-injected"] = json!("true");
    labels["dapr.io/app-id"] = json!(app_id);
    Some(app_id)
}

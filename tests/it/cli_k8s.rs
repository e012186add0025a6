//! Kubernetes mode, end to end without a cluster: the real `dapr` binary (and the
//! installed `kubectl`) against the loopback fake API server in `k8s_fake/`.

#[path = "k8s_fake/mod.rs"]
mod k8s_fake;

use std::path::Path;
use std::process::{Command, Output};

use k8s_fake::FakeApi;

fn kubectl(kubeconfig: &Path, cache: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .output()
        .expect("kubectl must be installed")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn kubectl_can_apply_and_get_against_the_fake() {
    let api = FakeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let kc = api.write_kubeconfig(dir.path());
    let cache = dir.path().join("cache");
    let manifest = dir.path().join("m.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: team-a\n  labels:\n    app: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    )
    .unwrap();
    let out = kubectl(
        &kc,
        &cache,
        &[
            "apply",
            "--validate=false",
            "-f",
            manifest.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("deployment.apps/web created"),
        "{}",
        text(&out)
    );
    // Applying again goes through kubectl's patch path.
    let out = kubectl(
        &kc,
        &cache,
        &[
            "apply",
            "--validate=false",
            "-f",
            manifest.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("deployment.apps/web"), "{}", text(&out));
    // The fake controller created two pods for the Deployment.
    assert!(support_wait(|| api.list("", "pods").len() == 2));
    let out = kubectl(
        &kc,
        &cache,
        &["get", "pods", "-n", "team-a", "-l", "app=web", "-o", "json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["items"][0]["status"]["phase"], "Running");
    let out = kubectl(&kc, &cache, &["get", "deployment", "web", "-n", "team-a"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("web"));
    let out = kubectl(&kc, &cache, &["get", "deployment", "nope", "-n", "team-a"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not found"), "{}", text(&out));
    // Server-side apply records the field manager.
    let out = kubectl(
        &kc,
        &cache,
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "tester",
            "--validate=false",
            "-f",
            manifest.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let dep = api.get("apps", "deployments", "team-a", "web").unwrap();
    assert_eq!(dep["metadata"]["managedFields"][0]["manager"], "tester");
}

fn support_wait(cond: impl FnMut() -> bool) -> bool {
    crate::support::wait_until(std::time::Duration::from_secs(5), cond)
}

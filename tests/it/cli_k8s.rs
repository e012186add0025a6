//! Kubernetes mode, end to end without a cluster: the real `dapr` binary (and the
//! installed `kubectl`) against the loopback fake API server in `k8s_fake/`.

use std::path::Path;
use std::process::{Command, Output};

use crate::k8s_cluster::{Cluster, on_both};
use crate::k8s_fake::FakeApi;

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

/// `kubectl apply --validate=false <extra> -f <file>` (the fake serves no OpenAPI).
fn kubectl_apply(kubeconfig: &Path, cache: &Path, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["apply", "--validate=false"];
    args.extend_from_slice(extra);
    args.extend(["-f", file.to_str().unwrap()]);
    kubectl(kubeconfig, cache, &args)
}

/// `kubectl apply <extra> -f <file>` on a test cluster: validated against the OpenAPI the
/// real server serves (`--validate=true`, strict in
/// kubectl 1.25+), unvalidated on the fake (it serves none).
fn apply_on(c: &Cluster, cache: &Path, file: &Path, extra: &[&str]) -> Output {
    if !c.is_real() {
        return kubectl_apply(&c.kubeconfig, cache, file, extra);
    }
    let mut args = vec!["apply", "--validate=true"];
    args.extend_from_slice(extra);
    args.extend(["-f", file.to_str().unwrap()]);
    kubectl(&c.kubeconfig, cache, &args)
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
    let out = succeeded(kubectl_apply(&kc, &cache, &manifest, &[]));
    assert_says(&out, "deployment.apps/web created");
    // Applying again goes through kubectl's patch path.
    let out = succeeded(kubectl_apply(&kc, &cache, &manifest, &[]));
    assert_says(&out, "deployment.apps/web");
    // The fake controller created two pods for the Deployment.
    assert!(support_wait(|| api.list("", "pods").len() == 2));
    let out = succeeded(kubectl(
        &kc,
        &cache,
        &["get", "pods", "-n", "team-a", "-l", "app=web", "-o", "json"],
    ));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["items"][0]["status"]["phase"], "Running");
    let out = succeeded(kubectl(
        &kc,
        &cache,
        &["get", "deployment", "web", "-n", "team-a"],
    ));
    assert!(String::from_utf8_lossy(&out.stdout).contains("web"));
    let out = kubectl(&kc, &cache, &["get", "deployment", "nope", "-n", "team-a"]);
    assert!(!out.status.success());
    assert_says(&out, "not found");
    // Server-side apply records the field manager.
    succeeded(kubectl_apply(
        &kc,
        &cache,
        &manifest,
        &["--server-side", "--field-manager", "tester"],
    ));
    let dep = api.get("apps", "deployments", "team-a", "web").unwrap();
    assert_eq!(dep["metadata"]["managedFields"][0]["manager"], "tester");
}

/// `out`, after asserting that its command succeeded.
#[track_caller]
fn succeeded(out: Output) -> Output {
    assert!(out.status.success(), "{}", text(&out));
    out
}

/// The command said `needle` (on stdout or stderr).
fn assert_says(out: &Output, needle: &str) {
    assert!(text(out).contains(needle), "{needle:?} in {}", text(out));
}

/// The command exited with `code` and said `needle`.
fn assert_exit_says(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    assert_says(out, needle);
}

/// A self-signed P-256 root for `cluster.local`, valid for `days`, as sentry makes one:
/// (certificate path, key path) in `dir`.
fn self_signed_root(
    dir: &Path,
    cert: &str,
    key: &str,
    days: u32,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join(cert), dir.join(key));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            &days.to_string(),
            "-subj",
            "/CN=cluster.local",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(st.status.success(), "{}", text(&st));
    (cert, key)
}

fn support_wait(cond: impl FnMut() -> bool) -> bool {
    wait_secs(5, cond)
}

fn wait_secs(secs: u64, cond: impl FnMut() -> bool) -> bool {
    crate::support::wait_until(std::time::Duration::from_secs(secs), cond)
}

use dapr_cli::kubernetes::client::ClusterOptions;
use dapr_cli::kubernetes::commands::{self as k8s, InitOptions};
use dapr_cli::report::Silent;

/// `dapr upgrade -k` to the embedded chart's version (over an install of it: in place).
const UPGRADE_IN_PLACE: &[&str] = &[
    "upgrade",
    "-k",
    "--runtime-version",
    "1.18.3",
    "--timeout",
    "20",
];

/// Table rows of stdout split on runs of two or more spaces, header skipped.
/// (A leading `⚠` warning line, as `components -k` prints, is not a row either.)
fn rows(out: &Output) -> Vec<Vec<String>> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip_while(|l| l.starts_with('⚠'))
        .skip(1)
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        })
        .collect()
}

/// Whether the Deployment `dapr-system/<name>` was written by a server-side apply with the
/// dapr-cli field manager: the fake's request log, or the real server's managed fields.
fn applied_by_dapr_cli(c: &Cluster, plural: &str, name: &str) -> bool {
    match c.api.fake() {
        Some(f) => f.requests().iter().any(|r| {
            r.starts_with(&format!(
                "PATCH /apis/apps/v1/namespaces/dapr-system/{plural}/{name}?"
            )) && r.contains("fieldManager=dapr-cli")
                && r.contains("application/apply-patch+yaml")
        }),
        None => c
            .api
            .get("apps", plural, "dapr-system", name)
            .and_then(|d| d["metadata"]["managedFields"].as_array().cloned())
            .is_some_and(|m| {
                m.iter()
                    .any(|f| f["manager"] == "dapr-cli" && f["operation"] == "Apply")
            }),
    }
}

/// Nothing was written to the cluster: no request but GETs on the fake; on a real server
/// (whose own controllers write), no Dapr namespace or CRD.
#[track_caller]
fn assert_nothing_written(c: &Cluster) {
    match c.api.fake() {
        Some(f) => assert_eq!(writes(f), Vec::<String>::new()),
        None => {
            assert!(!c.api.exists("", "namespaces", "", "dapr-system"));
            assert!(
                c.api
                    .list("apiextensions.k8s.io", "customresourcedefinitions")
                    .is_empty()
            );
        }
    }
}

/// Requests that change something on the fake (anything but GET).
fn writes(api: &FakeApi) -> Vec<String> {
    api.requests()
        .into_iter()
        .filter(|r| !r.starts_with("GET "))
        .collect()
}

#[test]
fn init_dry_run_prints_the_manifests_and_touches_nothing() {
    let c = Cluster::new();
    let out = succeeded(c.dapr(&["init", "-k", "--dry-run"]));
    let yaml = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(yaml.starts_with("---\n"), "{yaml}");
    assert_eq!(yaml.matches("---\n").count(), 48);
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
    assert_eq!(docs.len(), 48);
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds[0], "Namespace");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "CustomResourceDefinition")
            .count(),
        dapr_cli::kubernetes::manifests::CRD_NAMES.len()
    );
    assert!(yaml.contains("image: ghcr.io/dapr/sentry:1.18.3"), "{yaml}");
    // Stdout holds the manifests alone: the first status line goes to stderr, and there
    // is no Helm note and no success line.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err, "⌛  Making the jump to hyperspace...\n");
    assert_eq!(writes(c.fake()), Vec::<String>::new());
    assert!(!c.api.exists("", "namespaces", "", "dapr-system"));

    // The install flags reach the rendering; no cluster is needed at all.
    let out = succeeded(
        Command::new(crate::support::bin("dapr"))
            .args([
                "init",
                "-k",
                "--dry-run",
                "-n",
                "dapr-cli-tests",
                "--enable-ha",
                "--enable-mtls=false",
                "--runtime-version",
                "1.17.0",
                "--image-variant",
                "mariner",
                "--image-registry",
                "registry.example/dapr",
            ])
            .env_remove("KUBECONFIG")
            .env("HOME", c.dir.path())
            .env("DAPR_RUNTIME_PATH", c.dir.path())
            .env_remove("DAPR_RUNTIME_VERSION")
            .env_remove("DAPR_IMAGE_REGISTRY")
            .output()
            .unwrap(),
    );
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let sentry = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "dapr-sentry")
        .expect("dapr-sentry Deployment");
    assert_eq!(sentry["metadata"]["namespace"], "dapr-cli-tests");
    assert_eq!(sentry["spec"]["replicas"], 3);
    assert_eq!(
        sentry["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/dapr/sentry:1.17.0-mariner"
    );
    let config = docs
        .iter()
        .find(|d| d["kind"] == "Configuration" && d["metadata"]["name"] == "daprsystem")
        .expect("daprsystem Configuration");
    assert_eq!(config["spec"]["mtls"]["enabled"], false);
}

#[test]
fn init_k_rejects_self_hosted_only_flags_and_bad_values() {
    let c = Cluster::new();
    let dir = c.dir.path().to_str().unwrap();
    let kc = c.kubeconfig.to_str().unwrap();
    for (args, msg) in [
        (
            vec!["init", "-k", "--runtime-path", dir],
            "--runtime-path is only valid for self-hosted mode",
        ),
        (
            vec!["init", "-k", "--redis-stack"],
            "--redis-stack is only valid for self-hosted mode",
        ),
        (
            vec![
                "init",
                "-k",
                "--image-registry",
                "r.example",
                "--from-dir",
                dir,
            ],
            "both --image-registry and --from-dir flags cannot be given at the same time",
        ),
        (
            vec!["init", "-k", "--image-variant", "alpine"],
            "image variant alpine is not supported",
        ),
        (
            vec!["init", "-k", "--ca-root-certificate", kc],
            "non empty value of --issuer-private-key must be provided",
        ),
        (
            vec!["init", "--dry-run"],
            "--dry-run is only valid for Kubernetes mode",
        ),
    ] {
        let out = c.dapr(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("❌  {msg}\n")),
            "{args:?}: {}",
            text(&out)
        );
        assert!(
            text(&out).starts_with("⌛  Making the jump to hyperspace...\n"),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert_eq!(writes(c.fake()), Vec::<String>::new());
    assert!(
        std::fs::read_dir(c.dir.path())
            .unwrap()
            .all(|e| e.unwrap().file_name() == "kubeconfig"),
        "self-hosted init did not run"
    );
}

on_both!(init_installs_the_control_plane_and_status_mtls_uninstall_see_it);
fn init_installs_the_control_plane_and_status_mtls_uninstall_see_it(c: &Cluster) {
    let out = succeeded(c.init(&[]));
    // Each line once, all on stdout as the official CLI prints them.
    assert!(out.stderr.is_empty(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stdout).to_string();
    for line in [
        "⌛  Making the jump to hyperspace...\n",
        "ℹ️  Note: To install Dapr using Helm, see here: https://docs.dapr.io/getting-started/install-dapr-kubernetes/#install-with-helm-advanced\n\n",
        "⌛  Deploying the Dapr control plane with latest version to your cluster...\n",
        "✅  Success! Dapr has been installed to namespace dapr-system. To verify, run `dapr status -k' in your terminal. To get started, go here: https://docs.dapr.io/getting-started\n",
    ] {
        assert_eq!(err.matches(line).count(), 1, "{line:?} in {err}");
    }
    assert!(
        err.starts_with("⌛  Making the jump to hyperspace...\n"),
        "{err}"
    );
    for crd in dapr_cli::kubernetes::manifests::CRD_NAMES {
        let v = c
            .api
            .get("apiextensions.k8s.io", "customresourcedefinitions", "", crd)
            .expect(crd);
        assert_eq!(v["metadata"]["managedFields"][0]["manager"], "dapr-cli");
    }
    let pods = c.api.list("", "pods");
    assert_eq!(
        pods.len(),
        7,
        "1 operator, 1 sentry, 1 placement, 1 injector, 3 scheduler"
    );
    // Requests were server-side applies with the dapr-cli field manager.
    assert!(applied_by_dapr_cli(c, "deployments", "dapr-operator"));

    let out = succeeded(c.dapr(&["status", "-k"]));
    let table = rows(&out);
    let find = |n: &str| {
        table
            .iter()
            .find(|r| r[0] == n)
            .unwrap_or_else(|| panic!("{n} in {table:?}"))
            .clone()
    };
    for (name, replicas) in [
        ("dapr-operator", "1"),
        ("dapr-sentry", "1"),
        ("dapr-placement-server", "1"),
        ("dapr-sidecar-injector", "1"),
        ("dapr-scheduler-server", "3"),
    ] {
        let r = find(name);
        assert_eq!(
            r[1..6],
            ["dapr-system", "True", "Running", replicas, "1.18.3"],
            "{r:?}"
        );
    }
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("NAME "));

    let out = succeeded(c.dapr(&["mtls", "-k"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Mutual TLS is enabled in your Kubernetes cluster \n"
    );

    // Idempotent: a second init succeeds and changes nothing that matters.
    let before = c.api.list("", "pods").len();
    c.install(&[]);
    assert_eq!(c.api.list("", "pods").len(), before);

    let out = succeeded(c.dapr(&["uninstall", "-k", "--timeout", "10"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ℹ️  Removing Dapr from your cluster...\n✅  Dapr has been removed successfully\n"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out));
    assert!(c.api.list("", "pods").is_empty());
    assert!(!c.api.exists(
        "rbac.authorization.k8s.io",
        "clusterroles",
        "",
        "dapr-operator-admin"
    ));
    assert!(
        c.api.exists(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "",
            "components.dapr.io"
        ),
        "CRDs stay without --all"
    );
    assert!(
        c.api.exists("", "namespaces", "", "dapr-system"),
        "the namespace stays"
    );

    let out = c.dapr(&["status", "-k"]);
    assert_exit_says(
        &out,
        1,
        "No status returned. Is Dapr initialized in your cluster?",
    );
    let out = c.dapr(&["mtls", "-k"]);
    assert_exit_says(
        &out,
        1,
        "error checking mTLS: system configuration not found",
    );

    // Uninstalling again is fine (the release is gone); --all also removes the CRDs.
    let out = succeeded(c.dapr(&["uninstall", "-k", "--all"]));
    assert_says(&out, "WARNING: dapr release does not exist");
    // A real server removes a CRD once its finalizer has deleted the custom resources
    // (moments later); the fake at once.
    assert!(wait_secs(20, || !c.api.exists(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "",
        "components.dapr.io"
    )));
}

#[test]
fn a_failed_rollout_names_the_object_and_why() {
    let c = Cluster::new();
    c.fake().fail_rollout("dapr-sentry");
    let out = c.dapr(&["init", "-k", "--wait", "--timeout", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("Success!"), "{}", text(&out));
    let msg = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(msg.contains("Deployment dapr-system/dapr-sentry"), "{msg}");
    assert!(msg.contains("ImagePullBackOff"), "{msg}");
    let out = c.dapr(&["status", "-k"]);
    assert!(out.status.success());
    let sentry = rows(&out)
        .into_iter()
        .find(|r| r[0] == "dapr-sentry")
        .unwrap();
    assert_eq!(sentry[2..4], ["False", "Waiting (ImagePullBackOff)"]);
}

#[test]
fn bad_kubeconfig_and_unreachable_cluster_are_clear_errors() {
    let c = Cluster::new();
    let err = k8s::status(
        &ClusterOptions {
            kubeconfig: Some(c.dir.path().join("missing")),
            context: None,
        },
        &Silent,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("missing"), "{err:#}");
    let err = k8s::status(
        &ClusterOptions {
            kubeconfig: Some(c.kubeconfig.clone()),
            context: Some("other".into()),
        },
        &Silent,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("cannot connect"), "{err:#}");
    let out = c.dapr(&["status", "-k", "--context", "nope"]);
    assert_exit_says(&out, 1, "nope");
}

on_both!(ha_without_mtls_in_a_custom_namespace);
fn ha_without_mtls_in_a_custom_namespace(c: &Cluster) {
    let out = succeeded(c.init(&["-n", "dapr-cli-tests", "--enable-ha", "--enable-mtls=false"]));
    assert_says(
        &out,
        "Success! Dapr has been installed to namespace dapr-cli-tests.",
    );
    let out = c.dapr(&["status", "-k"]);
    let table = rows(&out);
    for name in [
        "dapr-operator",
        "dapr-sentry",
        "dapr-placement-server",
        "dapr-sidecar-injector",
        "dapr-scheduler-server",
    ] {
        let r = table.iter().find(|r| r[0] == name).unwrap();
        assert_eq!(r[1..5], ["dapr-cli-tests", "True", "Running", "3"], "{r:?}");
    }
    assert_eq!(c.api.list("policy", "poddisruptionbudgets").len(), 5);
    let out = c.dapr(&["mtls", "-k"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Mutual TLS is disabled in your Kubernetes cluster \n"
    );
    // Upgrade infers HA from the replica counts and keeps mTLS off.
    succeeded(c.dapr(&[
        "upgrade",
        "-k",
        "--runtime-version",
        "1.18.4",
        "--timeout",
        "20",
    ]));
    let sentry = c
        .api
        .get("apps", "deployments", "dapr-cli-tests", "dapr-sentry")
        .unwrap();
    assert_eq!(sentry["spec"]["replicas"], 3);
    let cfg = c
        .api
        .get("dapr.io", "configurations", "dapr-cli-tests", "daprsystem")
        .unwrap();
    assert_eq!(cfg["spec"]["mtls"]["enabled"], false);
}

fn component(ns: &str, name: &str, scopes: &[&str]) -> serde_json::Value {
    serde_json::json!({"apiVersion": "dapr.io/v1alpha1", "kind": "Component",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": "state.redis", "version": "v1", "metadata": [{"name": "redisHost", "value": "redis:6379"}]},
        "scopes": scopes})
}

on_both!(components_and_configurations_tables_and_json);
fn components_and_configurations_tables_and_json(c: &Cluster) {
    // Without the CRDs the list is empty, not an error.
    // The warning comes first, on stdout, as the official command prints it.
    let out = succeeded(c.dapr(&["components", "-k"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "⚠  {}\nNAMESPACE  NAME  TYPE  VERSION  SCOPES  CREATED  AGE  \n",
            dapr_cli::kubernetes::commands::NAMESPACE_WARNING
        )
    );

    c.install(&["--dev"]);
    c.api.create(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "test"}}),
    );
    c.api.create(component("test", "statestore2", &["app1"]));
    let out = succeeded(c.dapr(&["components", "-k"]));
    let table = rows(&out);
    assert_eq!(table.len(), 3, "{table:?}");
    assert_eq!(
        table[0][..5],
        ["test", "statestore2", "state.redis", "v1", "app1"]
    );
    assert!(table[1..].iter().all(|r| r[0] == "default"));
    let names: Vec<&str> = table[1..].iter().map(|r| r[1].as_str()).collect();
    assert!(
        names.contains(&"statestore") && names.contains(&"pubsub"),
        "{names:?}"
    );

    // As the official command: the warning comes even with --namespace or -A, unless
    // --no-namespace-warning.
    for args in [
        &["components", "-k", "--namespace", "test"][..],
        &["configurations", "-k", "-A"],
    ] {
        let out = succeeded(c.dapr(args));
        assert_eq!(
            text(&out).matches("In future releases").count(),
            1,
            "{args:?}: {}",
            text(&out)
        );
    }
    let out = succeeded(c.dapr(&[
        "components",
        "-k",
        "--namespace",
        "test",
        "-o",
        "json",
        "--no-namespace-warning",
    ]));
    assert!(!text(&out).contains("In future releases"), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // With `-o json` the warning moves to stderr: stdout holds the document alone.
    let warned = succeeded(c.dapr(&["components", "-k", "--namespace", "test", "-o", "json"]));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&warned.stdout).unwrap(),
        v,
        "{}",
        text(&warned)
    );
    assert_eq!(
        String::from_utf8_lossy(&warned.stderr),
        format!("⚠  {}\n", dapr_cli::kubernetes::commands::NAMESPACE_WARNING)
    );
    assert_eq!(
        v,
        serde_json::json!([{"name": "statestore2", "namespace": "test",
        "spec": {"type": "state.redis", "version": "v1", "metadata": [{"name": "redisHost", "value": "redis:6379"}]}}])
    );
    let out = c.dapr(&["components", "-k", "-A", "-n", "PUBSUB", "-o", "yaml"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("name: pubsub"),
        "{}",
        text(&out)
    );
    let out = c.dapr(&["components", "-k", "-o", "xml"]);
    assert_eq!(out.status.code(), Some(1));

    // daprsystem is hidden; appconfig (from --dev) has tracing on.
    let out = succeeded(c.dapr(&["configurations", "-k", "-A"]));
    let table = rows(&out);
    assert_eq!(table.len(), 1, "{table:?}");
    assert_eq!(table[0][..4], ["default", "appconfig", "true", "false"]);
}

on_both!(list_and_logs_find_dapr_apps);
fn list_and_logs_find_dapr_apps(c: &Cluster) {
    c.install(&[]);
    c.api.create(serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nodeapp", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "node"}},
            "template": {"metadata": {"labels": {"app": "node"},
                "annotations": {"dapr.io/enabled": "true", "dapr.io/app-id": "nodeapp", "dapr.io/app-port": "3000"}},
                "spec": {"containers": [{"name": "node", "image": "node:20"}]}}}}));
    assert!(support_wait(|| {
        c.api
            .list("", "pods")
            .iter()
            .any(|p| p["metadata"]["labels"]["dapr.io/app-id"] == "nodeapp")
    }));

    // Without --namespace or -A: the official warning, then every namespace. Control-plane
    // pods have no daprd container and are not listed.
    let out = succeeded(c.dapr(&["list", "-k", "-o", "json"]));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "⚠  {}",
            dapr_cli::kubernetes::commands::NAMESPACE_WARNING
        )),
        "{}",
        text(&out)
    );
    let apps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let apps = apps.as_array().unwrap();
    assert_eq!(apps.len(), 1, "{apps:?}");
    assert_eq!(apps[0]["namespace"], "default");
    assert_eq!(apps[0]["appId"], "nodeapp");
    assert_eq!(apps[0]["appPort"], "3000");
    assert!(apps[0]["created"].as_str().is_some_and(|s| s.len() == 19));
    assert!(apps[0]["age"].as_str().is_some_and(|s| s.ends_with('s')));

    let out = succeeded(c.dapr(&["list", "-k", "--namespace", "default"]));
    assert!(!text(&out).contains("In future releases"), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("NAMESPACE  APP ID   APP PORT  AGE  CREATED  "),
        "{}",
        text(&out)
    );
    let table = rows(&out);
    assert_eq!(table.len(), 1, "{table:?}");
    assert_eq!(table[0][..3], ["default", "nodeapp", "3000"]);

    let out = succeeded(c.dapr(&["list", "-k", "-A", "-o", "yaml"]));
    assert!(!text(&out).contains("In future releases"), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("appId: nodeapp"),
        "{}",
        text(&out)
    );
    let out = succeeded(c.dapr(&["list", "-k", "--namespace", "dapr-system", "-o", "json"]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]");
    let out = c.dapr(&["list", "-k", "-o", "xml"]);
    assert_exit_says(&out, 1, "An invalid output format was specified.");
    let out = c.dapr(&["list", "-k", "--context", "other"]);
    assert_exit_says(&out, 1, "cannot connect to the cluster");
    if c.is_real() {
        return; // No kubelet to serve pod logs.
    }

    let logs = |app: &str, pod: Option<String>| {
        let mut text = String::new();
        k8s::logs(
            &k8s::LogsOptions {
                cluster: c.options(),
                app_id: app.into(),
                pod_name: pod,
                namespace: "default".into(),
                follow: false,
            },
            &mut |chunk| text.push_str(chunk),
        )
        .map(|()| text)
    };
    let text = logs("nodeapp", None).unwrap();
    assert!(
        text.contains("dapr initialized. Status: Running.") && text.contains("app_id=nodeapp"),
        "{text}"
    );
    let err = logs("ghost", None).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "could not get logs. Please check app-id (ghost) and namespace (default)"
    );
    let err = logs("nodeapp", Some("nopod".into())).unwrap_err();
    assert!(
        format!("{err:#}")
            .starts_with("could not get logs. Please check pod-name (nopod). Error - "),
        "{err:#}"
    );
}

on_both!(upgrade_and_downgrade_keep_the_trust_bundle);
fn upgrade_and_downgrade_keep_the_trust_bundle(c: &Cluster) {
    let out = c.dapr(&["upgrade", "-k", "--runtime-version", "1.18.3"]);
    assert_exit_says(&out, 1, "dapr is not installed in your cluster");
    c.install(&["--runtime-version", "1.17.0"]);
    // Sentry would fill the trust bundle; do it as another field manager would.
    c.api.merge(
        "",
        "secrets",
        "dapr-system",
        "dapr-trust-bundle",
        serde_json::json!({"data": {"ca.crt": "Y2E="}}),
    );

    let out = succeeded(c.dapr(&[
        "upgrade",
        "-k",
        "--runtime-version",
        "1.18.3",
        "--timeout",
        "20",
    ]));
    let t = text(&out);
    assert!(
        t.contains("Dapr control plane version 1.17.0 detected in namespace dapr-system"),
        "{t}"
    );
    assert!(
        t.contains("Dapr control plane successfully upgraded to version 1.18.3."),
        "{t}"
    );
    let op = c
        .api
        .get("apps", "deployments", "dapr-system", "dapr-operator")
        .unwrap();
    assert_eq!(
        op["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/dapr/operator:1.18.3"
    );
    let status = c.dapr(&["status", "-k"]);
    assert!(
        rows(&status).iter().all(|r| r[5] == "1.18.3"),
        "{}",
        text(&status)
    );
    let secret = c
        .api
        .get("", "secrets", "dapr-system", "dapr-trust-bundle")
        .unwrap();
    assert_eq!(secret["data"]["ca.crt"], "Y2E=");

    let out = succeeded(c.dapr(&["upgrade", "-k", "--runtime-version", "1.17.9"]));
    assert_says(&out, "Downgrade detected, skipping CRDs.");
}

on_both!(mtls_export_and_expiry_read_the_trust_bundle);
fn mtls_export_and_expiry_read_the_trust_bundle(c: &Cluster) {
    c.install(&[]);
    let out = c.dapr(&[
        "mtls",
        "export",
        "-o",
        c.dir.path().join("none").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "sentry has not filled the bundle yet: {}",
        text(&out)
    );

    // Make a real self-signed root valid for 10 days, as sentry would store it.
    let (cert, key) = self_signed_root(c.dir.path(), "ca.pem", "ca.key", 10);
    use base64::Engine;
    let b64 =
        |p: &Path| base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).unwrap());
    c.api.merge(
        "",
        "secrets",
        "dapr-system",
        "dapr-trust-bundle",
        serde_json::json!({"data": {
        "ca.crt": b64(&cert), "issuer.crt": b64(&cert), "issuer.key": b64(&key)}}),
    );

    let dir = c.dir.path().join("certs");
    let out = succeeded(c.dapr(&["mtls", "export", "-o", dir.to_str().unwrap()]));
    assert!(
        text(&out).contains(&format!(
            "Trust certs successfully exported to {}",
            dir.display()
        )),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(dir.join("ca.crt")).unwrap(),
        std::fs::read(&cert).unwrap()
    );
    assert_eq!(
        std::fs::read(dir.join("issuer.key")).unwrap(),
        std::fs::read(&key).unwrap()
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dir.join("issuer.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    // Less than 30 days left: the -k commands end with the official warning.
    let out = c.dapr(&["status", "-k"]);
    assert!(out.status.success());
    assert_says(
        &out,
        "Dapr root certificate of your Kubernetes cluster expires in 9 days. Expiry date: ",
    );

    let out = c.dapr(&["mtls", "expiry"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(s.starts_with("Root certificate expires in 2"), "{s}");
    let hours: i64 = s.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!((238..=240).contains(&hours), "{s}");
    assert!(
        s.contains("Expiry date: ") && s.ends_with("+0000 UTC"),
        "{s}"
    );
}

#[test]
fn annotate_reads_files_dirs_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nodeapp\nspec:\n  template:\n    metadata:\n      labels:\n        app: node\n    spec:\n      containers:\n      - name: node\n        image: node\n";
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: nodeapp\n";
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("a-svc.yaml"), svc).unwrap();
    std::fs::write(dir.path().join("sub/b-deploy.yaml"), deploy).unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = Command::new(crate::support::bin("dapr"))
            .arg("annotate")
            .args(args)
            .env("HOME", dir.path())
            .env("DAPR_RUNTIME_PATH", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        // The command may exit before reading stdin (flag errors): a broken pipe is fine.
        let _ = input.write_all(stdin.unwrap_or_default().as_bytes());
        drop(input);
        child.wait_with_output().unwrap()
    };
    let out = succeeded(run(
        &[
            "-k",
            "-a",
            "nodeapp",
            "-p",
            "3000",
            dir.path().to_str().unwrap(),
        ],
        None,
    ));
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(s.starts_with(svc), "{s}");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&s).unwrap();
    let ann = &docs[1]["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(ann["dapr.io/enabled"], "true");
    assert_eq!(ann["dapr.io/app-id"], "nodeapp");
    assert_eq!(ann["dapr.io/app-port"], "3000");
    assert_eq!(ann["dapr.io/max-body-size"], "4194304");
    assert_eq!(ann["dapr.io/read-buffer-size"], "4096");

    let out = succeeded(run(
        &[
            "-k",
            "-r",
            "nodeapp",
            "-n",
            "default",
            "--log-level",
            "debug",
            "-",
        ],
        Some(deploy),
    ));
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(
        docs[0]["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-id"],
        "default-deployment-nodeapp"
    );
    assert_eq!(
        docs[0]["spec"]["template"]["metadata"]["annotations"]["dapr.io/log-level"],
        "debug"
    );

    let out = run(&["-"], Some(deploy));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(
            "annotate command is only supported for Kubernetes, please provide the -k flag"
        )
    );
    let out = run(&["-k"], None);
    assert!(text(&out).contains("please specify a Kubernetes resource file"));
    let out = run(&["-k", "-n", "x", "-"], Some(deploy));
    assert!(text(&out).contains("--resource is required when --namespace is provided."));
    let out = run(&["-k", "--max-body-size", "lots", "-"], Some(deploy));
    assert_exit_says(&out, 1, "error parsing value of max-body-size");
}

/// Every rendered object (defaults, and HA + dev) against the official Kubernetes JSON
/// schemas in strict mode. Needs PyPI `kubernetes-validate`; `assets/kubernetes/validate.sh`
/// installs it in a throw-away virtualenv and runs this test with `KUBERNETES_VALIDATE` set.
#[test]
#[ignore = "needs kubernetes-validate from PyPI; run through assets/kubernetes/validate.sh"]
fn rendered_manifests_pass_kubernetes_validate_strict() {
    let tool =
        std::env::var("KUBERNETES_VALIDATE").unwrap_or_else(|_| "kubernetes-validate".into());
    let dir = tempfile::tempdir().unwrap();
    for (i, o) in [
        InitOptions::default(),
        InitOptions {
            enable_ha: true,
            dev: true,
            ..Default::default()
        },
    ]
    .iter()
    .enumerate()
    {
        let objects = k8s::render_init(o).unwrap();
        let file = dir.path().join(format!("render-{i}.yaml"));
        std::fs::write(
            &file,
            dapr_cli::kubernetes::manifests::to_yaml_stream(&objects),
        )
        .unwrap();
        for version in ["1.29.0", "1.33.0"] {
            let out = Command::new(&tool)
                .args(["--strict", "--quiet", "-k", version])
                .arg(&file)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
            assert!(
                out.status.success(),
                "kubernetes-validate {version} on {}:\n{}",
                file.display(),
                text(&out)
            );
        }
    }
}

on_both!(kubectl_sees_the_dapr_crds_and_dapr_sees_what_kubectl_applied);
fn kubectl_sees_the_dapr_crds_and_dapr_sees_what_kubectl_applied(c: &Cluster) {
    c.install(&[]);
    let cache = c.dir.path().join("cache");
    let file = c.dir.path().join("statestore.yaml");
    std::fs::write(&file, "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\n  namespace: default\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: redis:6379\nscopes:\n- app1\n").unwrap();
    let out = succeeded(apply_on(c, &cache, &file, &[]));
    assert_says(&out, "component.dapr.io/statestore created");
    let out = kubectl(
        &c.kubeconfig,
        &cache,
        &["get", "components", "-A", "-o", "name"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "component.dapr.io/statestore\n",
        "{}",
        text(&out)
    );
    let out = kubectl(
        &c.kubeconfig,
        &cache,
        &[
            "get",
            "crd",
            "configurations.dapr.io",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "True",
        "{}",
        text(&out)
    );
    let out = c.dapr(&["components", "-k", "--namespace", "default"]);
    let table = rows(&out);
    assert_eq!(
        table[0][..5],
        ["default", "statestore", "state.redis", "v1", "app1"],
        "{}",
        text(&out)
    );
    if c.is_real() {
        // kubectl's validation is on against the real server: a misspelled field of a
        // Dapr resource is refused by the CRD's schema.
        let bad = c.dir.path().join("bad.yaml");
        std::fs::write(&bad, "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: bad\n  namespace: default\nspec:\n  type: state.redis\n  vesion: v1\n").unwrap();
        let out = apply_on(c, &cache, &bad, &[]);
        assert!(!out.status.success(), "{}", text(&out));
        assert_says(&out, "vesion");
    }
    succeeded(kubectl(
        &c.kubeconfig,
        &cache,
        &["delete", "-f", file.to_str().unwrap()],
    ));
    assert_eq!(rows(&c.dapr(&["components", "-k", "-A"])).len(), 0);
}

#[test]
fn the_fake_serves_watches_and_followed_logs() {
    use futures_util::{AsyncBufReadExt, StreamExt, TryStreamExt};
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};
    use kube::api::{Api, WatchEvent, WatchParams};
    let c = Cluster::new();
    c.api.create(serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]}}));
    c.fake().set_log("default", "p1", "app", "line 1\n");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = dapr_cli::kubernetes::client::connect(&c.options()).await.unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let mut events = cms.watch(&WatchParams::default().labels("team=a").timeout(5), "0").await.unwrap().boxed();
        c.api.create(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "default"}}));
        c.api.create(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mine", "namespace": "default", "labels": {"team": "a"}}}));
        let first = tokio::time::timeout(std::time::Duration::from_secs(5), events.try_next()).await.unwrap().unwrap().unwrap();
        match first {
            WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("mine")),
            other => panic!("unexpected {other:?}"),
        }

        let pods: Api<Pod> = Api::namespaced(client, "default");
        let params = kube::api::LogParams { follow: true, ..Default::default() };
        let mut lines = pods.log_stream("p1", &params).await.unwrap().lines();
        assert_eq!(lines.try_next().await.unwrap().as_deref(), Some("line 1"));
        c.fake().set_log("default", "p1", "app", "line 1\nline 2\n");
        assert_eq!(lines.try_next().await.unwrap().as_deref(), Some("line 2"));
        c.api.delete("", "pods", "default", "p1");
        let end = tokio::time::timeout(std::time::Duration::from_secs(5), lines.try_next()).await.unwrap().unwrap();
        assert_eq!(end, None, "the followed stream ends with the pod");
    });
}

#[test]
fn an_apply_refused_by_the_server_names_the_object_and_the_servers_message() {
    let c = Cluster::new();
    c.fake().forbid(
        "clusterroles",
        "dapr-operator-admin",
        "User \"dev\" cannot create resource \"clusterroles\"",
    );
    let out = c.init(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).ends_with(
            "❌  ClusterRole dapr-operator-admin: clusterroles.rbac.authorization.k8s.io \"dapr-operator-admin\" is forbidden: User \"dev\" cannot create resource \"clusterroles\"\n"
        ),
        "{}",
        text(&out)
    );
    // Objects before it in the apply order were applied; later ones were not.
    assert!(
        c.api
            .exists("", "serviceaccounts", "dapr-system", "dapr-operator")
    );
    assert!(
        !c.api
            .exists("apps", "deployments", "dapr-system", "dapr-operator")
    );
}

on_both!(a_user_trust_chain_goes_into_the_trust_bundle);
fn a_user_trust_chain_goes_into_the_trust_bundle(c: &Cluster) {
    let (cert, key) = self_signed_root(c.dir.path(), "root.pem", "root.key", 400);
    // All three files are required.
    let (cert_s, key_s) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let out = c.init(&["--ca-root-certificate", cert_s, "--issuer-private-key", ""]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_says(
        &out,
        "❌  non empty value of --issuer-private-key must be provided",
    );
    c.install(&[
        "--ca-root-certificate",
        cert_s,
        "--issuer-private-key",
        key_s,
        "--issuer-public-certificate",
        cert_s,
    ]);
    let cm = c
        .api
        .get("", "configmaps", "dapr-system", "dapr-trust-bundle")
        .unwrap();
    assert_eq!(
        cm["data"]["ca.crt"].as_str().unwrap(),
        std::fs::read_to_string(&cert).unwrap()
    );
    let dir = c.dir.path().join("out");
    succeeded(c.dapr(&["mtls", "export", "-o", dir.to_str().unwrap()]));
    assert_eq!(
        std::fs::read(dir.join("issuer.key")).unwrap(),
        std::fs::read(&key).unwrap()
    );
    let out = c.dapr(&["status", "-k"]);
    assert!(
        !text(&out).contains("Dapr root certificate"),
        "no warning for a 400-day root: {}",
        text(&out)
    );
    // The chain survives what re-applies the control plane without naming it: the
    // fields dapr-cli applied with it are not dropped (server-side apply would).
    let bundle = || {
        let s = c.api.get("", "secrets", "dapr-system", "dapr-trust-bundle");
        let m = c
            .api
            .get("", "configmaps", "dapr-system", "dapr-trust-bundle");
        (s.unwrap()["data"].clone(), m.unwrap()["data"].clone())
    };
    let before = bundle();
    assert!(before.0["issuer.key"].is_string(), "{before:?}");
    for args in [
        UPGRADE_IN_PLACE,
        &["init", "-k", "--wait", "--timeout", "20"],
    ] {
        let out = c.dapr(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert_eq!(bundle(), before, "after {args:?}");
    }
}

on_both!(uninstall_dev_removes_the_dev_resources_and_keeps_user_edits_on_reinit);
fn uninstall_dev_removes_the_dev_resources_and_keeps_user_edits_on_reinit(c: &Cluster) {
    let out = succeeded(c.init(&["--dev"]));
    // The official --dev lines, in order, before the final success line.
    let t = text(&out);
    let lines = [
        "✅  Deploying the Dapr control plane with latest version to your cluster...\n",
        "✅  Deploying the Dapr Redis with 17.14.5 version to your cluster...\n",
        "✅  Deploying the Dapr Zipkin with latest version to your cluster...\n",
        "ℹ️  Applying \"statestore\" component to Kubernetes \"default\" namespace.\n",
        "ℹ️  Applying \"pubsub\" component to Kubernetes \"default\" namespace.\n",
        "ℹ️  Applying \"appconfig\" zipkin configuration to Kubernetes \"default\" namespace.\n",
        "✅  Success! Dapr has been installed to namespace dapr-system.",
    ];
    let at: Vec<usize> = lines
        .iter()
        .map(|l| t.find(l).unwrap_or_else(|| panic!("{l:?} in {t}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{t}");
    let pw = c
        .api
        .get("", "secrets", "default", "dapr-dev-redis")
        .unwrap()["data"]
        .clone();
    // Re-running init leaves the create-only dev objects alone (no new Redis password).
    let out = succeeded(c.init(&["--dev"]));
    assert!(
        !text(&out).contains("Applying \"statestore\""),
        "{}",
        text(&out)
    );
    assert_says(
        &out,
        "Component default/statestore already exists, skipping",
    );
    assert_eq!(
        c.api
            .get("", "secrets", "default", "dapr-dev-redis")
            .unwrap()["data"],
        pw
    );
    assert!(
        c.api
            .exists("apps", "statefulsets", "default", "dapr-dev-redis-master")
    );
    succeeded(c.dapr(&["uninstall", "-k", "--dev"]));
    // As the official --dev uninstall (the Redis and Zipkin Helm releases only): the
    // default components and appconfig, applied with kubectl there, stay listed.
    for (plural, name) in [
        ("components", "statestore"),
        ("components", "pubsub"),
        ("configurations", "appconfig"),
    ] {
        assert!(c.api.exists("dapr.io", plural, "default", name), "{name}");
    }
    assert!(!c.api.exists("", "secrets", "default", "dapr-dev-redis"));
    assert!(
        !c.api
            .exists("apps", "deployments", "default", "dapr-dev-zipkin")
    );
    assert!(c.api.list("", "pods").is_empty());
}

#[test]
fn logs_follow_streams_until_the_pod_goes_away() {
    let c = Cluster::new();
    c.install(&[]);
    c.api.create(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "annotations": {"dapr.io/enabled": "true", "dapr.io/app-id": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}}));
    let opts = k8s::LogsOptions {
        cluster: c.options(),
        app_id: "web".into(),
        pod_name: None,
        namespace: "default".into(),
        follow: true,
    };
    let got = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = got.clone();
    let follower = std::thread::spawn(move || {
        k8s::logs(&opts, &mut |chunk| sink.lock().unwrap().push_str(chunk))
            .map_err(|e| e.to_string())
    });
    assert!(
        support_wait(|| got
            .lock()
            .unwrap()
            .contains("dapr initialized. Status: Running.")),
        "the log so far: {:?}",
        got.lock().unwrap()
    );
    assert!(
        !follower.is_finished(),
        "--follow keeps streaming while the pod lives"
    );
    c.api.delete("", "pods", "default", "web");
    assert!(support_wait(|| follower.is_finished()));
    assert_eq!(follower.join().unwrap(), Ok(()));
}

on_both!(kubeconfig_comes_from_the_environment_and_context_selects_the_cluster);
fn kubeconfig_comes_from_the_environment_and_context_selects_the_cluster(c: &Cluster) {
    let run = |args: &[&str]| {
        Command::new(crate::support::bin("dapr"))
            .args(args)
            .env("KUBECONFIG", &c.kubeconfig)
            .env("HOME", c.dir.path())
            .env("DAPR_RUNTIME_PATH", c.dir.path())
            .env_remove("DAPR_RUNTIME_VERSION")
            .env_remove("DAPR_IMAGE_REGISTRY")
            .output()
            .unwrap()
    };
    // `--context other` points at a closed port: init fails before touching anything.
    for cmd in [&["init", "-k"][..], &["list", "-k"], &["status", "-k"]] {
        let out = run(&[cmd, &["--context", "other"]].concat());
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {}", text(&out));
        assert!(
            text(&out).contains("cannot connect to the cluster"),
            "{cmd:?}: {}",
            text(&out)
        );
    }
    let out = run(&["uninstall", "-k", "--context", "other"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "as the official CLI (issue #1667)"
    );
    assert_says(
        &out,
        "❌  Error removing Dapr: cannot connect to the cluster",
    );
    assert_nothing_written(c);

    succeeded(run(&[
        "init",
        "-k",
        "--wait",
        "--timeout",
        "20",
        "--context",
        c.context(),
    ]));
    let out = succeeded(run(&["status", "-k"]));
    assert_eq!(rows(&out).len(), 5);
    assert!(
        rows(&out)
            .iter()
            .all(|r| r[2] == "True" && r[3] == "Running")
    );
    succeeded(run(&["status", "-k", "--context", c.context()]));
    // `--context ""` means the current context.
    succeeded(run(&["list", "-k", "-A", "--context", ""]));
    succeeded(run(&["uninstall", "-k", "--timeout", "10"]));
    assert!(c.api.list("", "pods").is_empty());
}

on_both!(renew_certificate_rotates_the_trust_bundle_and_restarts_the_control_plane);
fn renew_certificate_rotates_the_trust_bundle_and_restarts_the_control_plane(c: &Cluster) {
    c.install(&[]);
    let op_pod = |c: &Cluster| {
        c.api
            .list("", "pods")
            .into_iter()
            .find(|p| p["metadata"]["labels"]["app"] == "dapr-operator")
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
    };
    let before = op_pod(c).unwrap();
    let out = succeeded(c.dapr(&[
        "mtls",
        "renew-certificate",
        "-k",
        "--valid-until",
        "20",
        "--restart",
        "--timeout",
        "20",
    ]));
    let t = text(&out);
    for line in [
        "Starting certificate rotation",
        "generating fresh certificates",
        "Updating certifcates in your Kubernetes cluster",
        "Dapr control plane version 1.18.3 detected in namespace dapr-system",
        "Restarting deployment/dapr-sentry..",
        "All control plane services have restarted successfully!",
        "Certificate rotation is successful! Your new certificate is valid through ",
    ] {
        assert!(t.contains(line), "missing {line:?} in {t}");
    }
    assert!(
        support_wait(|| op_pod(c).is_some_and(|p| p != before)),
        "operator pod replaced"
    );
    // The new root lasts 20 days, so status now warns.
    let out = c.dapr(&["status", "-k"]);
    assert_says(
        &out,
        "Dapr root certificate of your Kubernetes cluster expires in 19 days.",
    );
    let dir = c.dir.path().join("exported");
    assert!(
        c.dapr(&["mtls", "export", "-o", dir.to_str().unwrap()])
            .status
            .success()
    );
    let cm = c
        .api
        .get("", "configmaps", "dapr-system", "dapr-trust-bundle")
        .unwrap();
    assert_eq!(
        cm["data"]["ca.crt"].as_str().unwrap(),
        std::fs::read_to_string(dir.join("ca.crt")).unwrap()
    );

    // Renewing with the exported chain (a provided path) and with a root key (rnc alias).
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let out = succeeded(c.dapr(&[
        "mtls",
        "renew-cert",
        "-k",
        "--ca-root-certificate",
        &p("ca.crt"),
        "--issuer-private-key",
        &p("issuer.key"),
        "--issuer-public-certificate",
        &p("issuer.crt"),
    ]));
    assert!(text(&out).contains("Using provided certificates"));
    let key = c.dir.path().join("root.key");
    let st = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", text(&st));
    let out = succeeded(c.dapr(&[
        "mtls",
        "rnc",
        "-k",
        "--private-key",
        key.to_str().unwrap(),
        "--valid-until",
        "400",
    ]));
    assert_says(&out, "Using password file to generate root certificate");
    assert!(!text(&c.dapr(&["status", "-k"])).contains("Dapr root certificate"));
    // A SEC1 ("EC PRIVATE KEY") root key as `openssl ecparam -genkey` writes it.
    let sec1 = c.dir.path().join("sec1.key");
    let st = Command::new("openssl")
        .args([
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
        ])
        .arg(&sec1)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", text(&st));
    succeeded(c.dapr(&["mtls", "rnc", "-k", "--private-key", sec1.to_str().unwrap()]));

    // Negative paths.
    let out = c.dapr(&[
        "mtls",
        "renew-certificate",
        "-k",
        "--ca-root-certificate",
        "x",
    ]);
    assert_exit_says(
        &out,
        1,
        "certificate rotation failed: all required flags for this certificate rotation path",
    );
    let out = c.dapr(&[
        "mtls",
        "renew-certificate",
        "-k",
        "--ca-root-certificate",
        "invalid_cert_file.pem",
        "--issuer-private-key",
        "invalid_cert_key.pem",
        "--issuer-public-certificate",
        "invalid_cert_file.pem",
    ]);
    assert_exit_says(
        &out,
        1,
        "certificate rotation failed: open invalid_cert_file.pem: no such file or directory",
    );
    let out = c.dapr(&[
        "mtls",
        "renew-certificate",
        "-k",
        "--private-key",
        "invalid_root_key.pem",
    ]);
    assert_says(
        &out,
        "certificate rotation failed: open invalid_root_key.pem: no such file or directory",
    );
}

/// Where a resource lives on a real API server: (group/version, namespaced), from the
/// fake's table of built-in kinds plus the two Dapr kinds the CLI reads.
fn api_route(plural: &str) -> Option<(String, bool)> {
    let dapr = "dapr.io/v1alpha1 components Component namespaced\n\
                dapr.io/v1alpha1 configurations Configuration namespaced";
    crate::k8s_fake::BUILTIN
        .lines()
        .chain(dapr.lines())
        .find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[1] == plural).then(|| (f[0].to_string(), f[3] == "namespaced"))
        })
}

/// Why a request the `dapr` binary sent would be refused by a real API server, if it would:
/// the route must exist for the kind (group/version, namespaced or not), named and write
/// requests of namespaced kinds need a namespace, server-side applies carry
/// `fieldManager=dapr-cli` and `force=true`, other patches no `force`.
fn unlike_a_real_request(line: &str) -> Option<String> {
    let (method, rest) = line.split_once(' ')?;
    let (target, ctype) = rest.rsplit_once(" [")?;
    let ctype = ctype.trim_end_matches(']');
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // Discovery and the OpenAPI documents (older kubectl releases read `/openapi/v2` and
    // `/swagger-2.0.0.pb-v1` before some commands).
    let discovery = ["/version", "/api", "/apis", "/api/v1", "/openapi/v2"];
    if discovery.contains(&path) || path == "/swagger-2.0.0.pb-v1" {
        return (method != "GET").then(|| format!("{method} on discovery"));
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (gv, rest): (String, &[&str]) = match segs.as_slice() {
        ["api", v, rest @ ..] => (v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return Some("not an API path".into()),
    };
    if rest.is_empty() {
        return (method != "GET").then(|| format!("{method} on discovery"));
    }
    let (ns, rest) = match rest {
        ["namespaces", ns, r, more @ ..] => (Some(*ns), [&[*r], more].concat()),
        other => (None, other.to_vec()),
    };
    let plural = rest[0];
    let Some((want_gv, namespaced)) = api_route(plural) else {
        return Some(format!("unexpected resource {plural}"));
    };
    if want_gv != gv {
        return Some(format!("{plural} is served at {want_gv}, not {gv}"));
    }
    if ns.is_some() && !namespaced {
        return Some(format!("{plural} is cluster-scoped"));
    }
    let named = rest.len() > 1;
    if namespaced && ns.is_none() && (named || method != "GET") {
        return Some(format!(
            "{method} of namespaced {plural} without a namespace"
        ));
    }
    let q: Vec<&str> = query.split('&').collect();
    match method {
        "PATCH" if ctype.starts_with("application/apply-patch+yaml") => {
            if !(q.contains(&"fieldManager=dapr-cli") && q.contains(&"force=true")) {
                return Some("apply without fieldManager=dapr-cli&force=true".into());
            }
        }
        "PATCH" => {
            if q.iter().any(|p| p.starts_with("force=")) {
                return Some("force on a non-apply patch".into());
            }
            if ![
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/json-patch+json",
            ]
            .iter()
            .any(|t| ctype.starts_with(t))
            {
                return Some(format!("patch content type {ctype}"));
            }
        }
        "GET" | "DELETE" | "POST" | "PUT" => {}
        other => return Some(format!("method {other}")),
    }
    None
}

on_both!(walkthrough_with_kubectl_and_every_request_is_one_a_real_api_server_accepts);
fn walkthrough_with_kubectl_and_every_request_is_one_a_real_api_server_accepts(c: &Cluster) {
    c.install(&[]);
    let cache = c.dir.path().join("cache");
    let file = c.dir.path().join("app.yaml");
    std::fs::write(
        &file,
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: redis-master:6379\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nodeapp\n  labels:\n    app: node\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: node\n  template:\n    metadata:\n      labels:\n        app: node\n      annotations:\n        dapr.io/enabled: \"true\"\n        dapr.io/app-id: nodeapp\n        dapr.io/app-port: \"3000\"\n    spec:\n      containers:\n      - name: node\n        image: ghcr.io/dapr/samples/hello-k8s-node:latest\n        ports:\n        - containerPort: 3000\n",
    )
    .unwrap();
    succeeded(apply_on(c, &cache, &file, &[]));
    assert!(support_wait(|| {
        c.api
            .list("", "pods")
            .iter()
            .any(|p| p["metadata"]["labels"]["dapr.io/app-id"] == "nodeapp")
    }));

    let out = succeeded(c.dapr(&["list", "-k"]));
    let table = rows(&out);
    assert_eq!(table.len(), 1, "{}", text(&out));
    assert_eq!(table[0][..3], ["default", "nodeapp", "3000"]);

    let out = succeeded(c.dapr(&["components", "-k"]));
    let table = rows(&out);
    assert_eq!(table.len(), 1, "{}", text(&out));
    assert_eq!(
        table[0][..4],
        ["default", "statestore", "state.redis", "v1"]
    );

    if !c.is_real() {
        // No kubelet behind the real server to serve pod logs.
        let out = succeeded(c.dapr(&["logs", "-k", "--app-id", "nodeapp"]));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("app_id=nodeapp"), "{}", text(&out));
        assert_says(&out, "✅  Fetched logs");
    }

    for args in [
        &["status", "-k"][..],
        &["configurations", "-k", "-A", "-o", "json"],
        &["mtls", "-k"],
        UPGRADE_IN_PLACE,
        &["uninstall", "-k", "--all", "--timeout", "10"],
    ] {
        let out = c.dapr(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    let Some(fake) = c.api.fake() else {
        return; // The real server itself refused any request unlike a real one.
    };
    // The check itself bites on the mistakes it is for.
    for wrong in [
        "PATCH /api/v1/secrets/x?fieldManager=dapr-cli&force=true [application/apply-patch+yaml]",
        "PATCH /api/v1/namespaces/d/clusterroles/x?fieldManager=dapr-cli&force=true [application/apply-patch+yaml]",
        "PATCH /apis/apps/v1/namespaces/d/poddisruptionbudgets/x?fieldManager=dapr-cli&force=true [application/apply-patch+yaml]",
        "PATCH /api/v1/namespaces/d/secrets/x?fieldManager=other [application/apply-patch+yaml]",
        "PATCH /api/v1/namespaces/d/secrets/x?force=true [application/merge-patch+json]",
        "POST /api/v1/pods [application/json]",
    ] {
        assert!(unlike_a_real_request(wrong).is_some(), "{wrong}");
    }
    let requests = fake.requests();
    let applies = requests
        .iter()
        .filter(|r| r.starts_with("PATCH ") && r.contains("apply-patch+yaml"))
        .count();
    assert!(
        applies >= 2 * 48,
        "init and upgrade apply everything: {applies}"
    );
    assert!(requests.iter().any(|r| r.starts_with("DELETE ")));
    // kubectl's own requests are in the log too; they pass the same check.
    let bad: Vec<String> = requests
        .into_iter()
        .filter_map(|r| unlike_a_real_request(&r).map(|why| format!("{r}: {why}")))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn the_fake_refuses_what_a_real_server_refuses() {
    let api = FakeApi::start();
    let http = reqwest::blocking::Client::new();
    let url = |p: &str| format!("{}{p}", api.url());
    let apply = |path: &str, body: serde_json::Value| {
        http.patch(url(path))
            .query(&[("fieldManager", "dapr-cli"), ("force", "true")])
            .header("content-type", "application/apply-patch+yaml")
            .body(body.to_string())
            .send()
            .unwrap()
    };
    let cm = |av: &str, ns: &str| {
        serde_json::json!({"apiVersion": av, "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": ns}})
    };
    let r = apply(
        "/api/v1/namespaces/default/configmaps/c",
        cm("v2", "default"),
    );
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .unwrap()
            .contains("does not match the expected API version")
    );
    let r = apply("/api/v1/namespaces/default/configmaps/c", cm("v1", "other"));
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .unwrap()
            .contains("namespace of the provided object")
    );
    let r = apply("/api/v1/configmaps/c", cm("v1", "default"));
    assert_eq!(r.status(), 404);
    let r = apply(
        "/api/v1/namespaces/default/configmaps/c",
        cm("v1", "default"),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let r = http
        .patch(url("/api/v1/namespaces/default/configmaps/c?force=true"))
        .header("content-type", "application/merge-patch+json")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 422);
    // A cluster-scoped object drops the namespace it was sent with.
    let r = apply(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/r",
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "r", "namespace": "default"}, "rules": []}),
    );
    assert_eq!(r.status(), 201);
    let role = api
        .get("rbac.authorization.k8s.io", "clusterroles", "", "r")
        .unwrap();
    assert!(role["metadata"]["namespace"].is_null(), "{role}");
}

#[test]
fn a_plainer_api_server_is_enough() {
    // No /version, CRDs without status conditions, no garbage collector, label selectors
    // ignored: all allowed of a standard server or a simple fake. `dapr` still installs,
    // reports and uninstalls, and never waits out its 300 s default timeout.
    let c = Cluster::new();
    c.fake().plainer();
    c.install(&[]);
    // Without server-side apply, objects are created (and re-applied) as kubectl would.
    c.install(&[]);
    let requests = c.fake().requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("POST /apis/apps/v1/namespaces/dapr-system/deployments")),
        "{requests:#?}"
    );
    assert!(
        requests.iter().any(|r| r
            .starts_with("PATCH /apis/apps/v1/namespaces/dapr-system/deployments/dapr-operator?")
            && r.contains("application/merge-patch+json")),
        "{requests:#?}"
    );
    assert!(
        c.api
            .exists("dapr.io", "configurations", "dapr-system", "daprsystem")
    );
    c.api
        .create(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}));

    let out = succeeded(c.dapr(&["status", "-k"]));
    let table = rows(&out);
    let names: Vec<&str> = table.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "dapr-operator",
            "dapr-sentry",
            "dapr-placement-server",
            "dapr-sidecar-injector",
            "dapr-scheduler-server"
        ],
        "{}",
        text(&out)
    );
    let scheduler = &table[4];
    assert_eq!(scheduler[4], "3", "{scheduler:?}");
    assert_eq!(table[0][4], "1", "{:?}", table[0]);

    let mut child = crate::support::KillOnDrop(
        Command::new(crate::support::bin("dapr"))
            .args(["uninstall", "-k", "--kubeconfig"])
            .arg(&c.kubeconfig)
            .env_remove("KUBECONFIG")
            .env("HOME", c.dir.path())
            .env("DAPR_RUNTIME_PATH", c.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut status = None;
    assert!(
        crate::support::wait_until(std::time::Duration::from_secs(60), || {
            status = child.0.try_wait().unwrap();
            status.is_some()
        }),
        "uninstall -k waited for pods nothing deletes"
    );
    assert!(status.unwrap().success());
    assert!(
        !c.api
            .exists("apps", "deployments", "dapr-system", "dapr-operator")
    );
}

on_both!(kubectl_applies_the_dry_run_output);
fn kubectl_applies_the_dry_run_output(c: &Cluster) {
    let out = succeeded(c.dapr(&["init", "-k", "--dry-run"]));
    let file = c.dir.path().join("dapr.yaml");
    std::fs::write(&file, &out.stdout).unwrap();
    let cache = c.dir.path().join("cache");
    // kubectl maps every kind before it applies anything, so in one pass it cannot map the
    // daprsystem Configuration whose CRD is in the same file ("ensure CRDs are installed
    // first", as with any CRD and its objects); every other object goes through.
    let only_the_config_is_unmapped = |out: &Output, dry: &str| {
        let t = text(out);
        assert_eq!(t.matches(&format!("created{dry}\n")).count(), 47, "{t}");
        assert!(
            t.contains(r#"no matches for kind "Configuration" in version "dapr.io/v1alpha1""#),
            "{t}"
        );
        assert_eq!(t.matches("error:").count(), 1, "{t}");
    };
    let out = apply_on(c, &cache, &file, &["--dry-run=client"]);
    only_the_config_is_unmapped(&out, " (dry run)");
    assert_nothing_written(c);
    let out = apply_on(c, &cache, &file, &[]);
    only_the_config_is_unmapped(&out, "");
    let out = succeeded(apply_on(c, &cache, &file, &[]));
    assert_says(&out, "configuration.dapr.io/daprsystem created");
    // dapr reads a control plane kubectl installed.
    assert!(support_wait(|| c.api.list("", "pods").len() == 7));
    let out = succeeded(c.dapr(&["status", "-k"]));
    assert_eq!(rows(&out).len(), 5, "{}", text(&out));
    let out = c.dapr(&["mtls", "-k"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Mutual TLS is enabled in your Kubernetes cluster \n"
    );
}

#[test]
fn the_fakes_server_side_apply_drops_what_the_manager_no_longer_applies() {
    let api = FakeApi::start();
    let http = reqwest::blocking::Client::new();
    let apply = |manager: &str, data: serde_json::Value| {
        let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default"}, "data": data});
        let r = http
            .patch(format!(
                "{}/api/v1/namespaces/default/configmaps/c",
                api.url()
            ))
            .query(&[("fieldManager", manager), ("force", "true")])
            .header("content-type", "application/apply-patch+yaml")
            .body(body.to_string())
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().unwrap());
    };
    apply("a", serde_json::json!({"x": "1", "y": "2"}));
    api.merge(
        "",
        "configmaps",
        "default",
        "c",
        serde_json::json!({"data": {"z": "3"}}),
    );
    apply("a", serde_json::json!({"x": "1"}));
    let cm = api.get("", "configmaps", "default", "c").unwrap();
    assert_eq!(cm["data"], serde_json::json!({"x": "1", "z": "3"}));
}

on_both!(mtls_without_k_is_a_usage_error_but_its_subcommands_need_no_k);
fn mtls_without_k_is_a_usage_error_but_its_subcommands_need_no_k(c: &Cluster) {
    let out = c.dapr(&["mtls"]);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("Error: required flag(s) \"kubernetes\" not set\nUsage:\n  dapr mtls"),
        "{}",
        text(&out)
    );
    // `mtls expiry` reports the missing control plane and exits 0, as the official one.
    let out = c.dapr(&["mtls", "expiry"]);
    assert_exit_says(&out, 0, "error getting root cert expiry");
}

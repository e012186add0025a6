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

use dapr_cli::kubernetes::client::ClusterOptions;
use dapr_cli::kubernetes::commands::{self as k8s, InitOptions, UninstallOptions};
use dapr_cli::output::Printer;

/// A fake API server, a kubeconfig for it and a temp dir, for one test.
struct Cluster {
    api: FakeApi,
    kubeconfig: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        let api = FakeApi::start();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = api.write_kubeconfig(dir.path());
        Cluster {
            api,
            kubeconfig,
            dir,
        }
    }

    fn options(&self) -> ClusterOptions {
        ClusterOptions {
            kubeconfig: Some(self.kubeconfig.clone()),
            context: None,
        }
    }

    fn init(&self, mut o: InitOptions) -> anyhow::Result<i32> {
        o.cluster = self.options();
        k8s::init(&o, &Printer::new(false))
    }

    /// Run the real `dapr` binary with `--kubeconfig` appended.
    fn dapr(&self, args: &[&str]) -> Output {
        Command::new(crate::support::bin("dapr"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("NO_COLOR", "1")
            .env("HOME", self.dir.path())
            .output()
            .unwrap()
    }
}

fn quick() -> InitOptions {
    InitOptions {
        wait: true,
        timeout_secs: 20,
        ..Default::default()
    }
}

/// Table rows of stdout split on runs of two or more spaces, header skipped.
fn rows(out: &Output) -> Vec<Vec<String>> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
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

#[test]
fn init_dry_run_renders_without_a_cluster() {
    // The printing path (`init -k --dry-run`) is exercised through the binary once `init`
    // routes `-k` here; rendering needs no cluster at all.
    let objects = k8s::render_init(&InitOptions::default()).unwrap();
    let text = dapr_cli::kubernetes::manifests::to_yaml_stream(&objects);
    assert_eq!(text.matches("---\n").count(), 48);
    assert!(text.contains("image: ghcr.io/dapr/sentry:1.18.3"));
}

#[test]
fn init_installs_the_control_plane_and_status_mtls_uninstall_see_it() {
    let c = Cluster::new();
    assert_eq!(c.init(quick()).unwrap(), 0);
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
    assert!(c.api.requests().iter().any(|r| {
        r.starts_with("PATCH /apis/apps/v1/namespaces/dapr-system/deployments/dapr-operator?")
            && r.contains("fieldManager=dapr-cli")
            && r.contains("application/apply-patch+yaml")
    }));

    let out = c.dapr(&["status", "-k"]);
    assert!(out.status.success(), "{}", text(&out));
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

    let out = c.dapr(&["mtls", "-k"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Mutual TLS is enabled in your Kubernetes cluster \n"
    );

    // Idempotent: a second init succeeds and changes nothing that matters.
    let before = c.api.list("", "pods").len();
    assert_eq!(c.init(quick()).unwrap(), 0);
    assert_eq!(c.api.list("", "pods").len(), before);

    let code = k8s::uninstall(
        &UninstallOptions {
            cluster: c.options(),
            timeout_secs: 10,
            ..Default::default()
        },
        &Printer::new(false),
    )
    .unwrap();
    assert_eq!(code, 0);
    assert!(c.api.list("", "pods").is_empty());
    assert!(
        c.api
            .get(
                "rbac.authorization.k8s.io",
                "clusterroles",
                "",
                "dapr-operator-admin"
            )
            .is_none()
    );
    assert!(
        c.api
            .get(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "",
                "components.dapr.io"
            )
            .is_some(),
        "CRDs stay without --all"
    );
    assert!(
        c.api.get("", "namespaces", "", "dapr-system").is_some(),
        "the namespace stays"
    );

    let out = c.dapr(&["status", "-k"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("No status returned. Is Dapr initialized in your cluster?"),
        "{}",
        text(&out)
    );
    let out = c.dapr(&["mtls", "-k"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("error checking mTLS: system configuration not found"),
        "{}",
        text(&out)
    );

    // Uninstalling again is fine; --all also removes the CRDs.
    let code = k8s::uninstall(
        &UninstallOptions {
            cluster: c.options(),
            all: true,
            ..Default::default()
        },
        &Printer::new(false),
    )
    .unwrap();
    assert_eq!(code, 0);
    assert!(
        c.api
            .get(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "",
                "components.dapr.io"
            )
            .is_none()
    );
}

#[test]
fn a_failed_rollout_names_the_object_and_why() {
    let c = Cluster::new();
    c.api.fail_rollout("dapr-sentry");
    let err = c
        .init(InitOptions {
            wait: true,
            timeout_secs: 2,
            ..Default::default()
        })
        .unwrap_err();
    let msg = format!("{err:#}");
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
        &Printer::new(false),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("missing"), "{err:#}");
    let err = k8s::status(
        &ClusterOptions {
            kubeconfig: Some(c.kubeconfig.clone()),
            context: Some("other".into()),
        },
        &Printer::new(false),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("cannot connect"), "{err:#}");
    let out = c.dapr(&["status", "-k", "--context", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("nope"), "{}", text(&out));
}

#[test]
fn ha_without_mtls_in_a_custom_namespace() {
    let c = Cluster::new();
    let o = InitOptions {
        namespace: "dapr-cli-tests".into(),
        enable_ha: true,
        enable_mtls: false,
        ..quick()
    };
    assert_eq!(c.init(o).unwrap(), 0);
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
}

//! Kubernetes-mode cases found by running the suite against a real API server
//! (`k8s_real`), kept as tests on both back ends (`on_both!`). The fake learned to refuse
//! the same (see the notes on each test); what it still cannot stage is in `cli_k8s.rs`.

use std::process::Output;

use crate::k8s_cluster::{Cluster, on_both};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn succeeded(out: Output) -> Output {
    assert!(out.status.success(), "{}", text(&out));
    out
}

/// The `status -k` row of one control-plane service: [NAME, NAMESPACE, HEALTHY, STATUS, REPLICAS, ...].
fn status_row(c: &Cluster, name: &str) -> Vec<String> {
    let out = succeeded(c.dapr(&["status", "-k"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .find(|r| r[0] == name)
        .unwrap_or_else(|| panic!("{name} in {}", text(&out)))
}

fn wait_secs(secs: u64, cond: impl FnMut() -> bool) -> bool {
    crate::support::wait_until(std::time::Duration::from_secs(secs), cond)
}

// Switching HA on or off changes placement's `volumeClaimTemplates`, which a real server
// refuses to change in place (422 "updates to statefulset spec for fields other than
// ..."); the fake accepted it until it learned the same rule. `dapr` recreates the
// StatefulSet, so `upgrade --set global.ha.enabled=true` and a re-`init` without
// `--enable-ha` both work.
on_both!(switching_ha_recreates_the_placement_statefulset);
fn switching_ha_recreates_the_placement_statefulset(c: &Cluster) {
    c.install(&[]);
    let placement = || {
        c.api
            .get(
                "apps",
                "statefulsets",
                "dapr-system",
                "dapr-placement-server",
            )
            .expect("placement StatefulSet")
    };
    assert!(placement()["spec"]["volumeClaimTemplates"].is_null());
    let uid = placement()["metadata"]["uid"].clone();

    let out = succeeded(c.dapr(&[
        "upgrade",
        "-k",
        "--runtime-version",
        "1.18.3",
        "--set",
        "global.ha.enabled=true",
        "--timeout",
        "30",
    ]));
    assert!(
        text(&out).contains("Dapr control plane successfully upgraded to version 1.18.3."),
        "{}",
        text(&out)
    );
    let sts = placement();
    assert_ne!(sts["metadata"]["uid"], uid, "recreated");
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "raft-log"
    );
    assert!(wait_secs(10, || status_row(c, "dapr-placement-server")
        [2..5]
        == ["True", "Running", "3"]));
    // The other workloads were changed in place.
    assert_eq!(
        c.api
            .get("apps", "deployments", "dapr-system", "dapr-operator")
            .unwrap()["spec"]["replicas"],
        3
    );

    // And back: a plain init takes HA off again.
    c.install(&[]);
    let sts = placement();
    assert_eq!(sts["spec"]["replicas"], 1);
    assert!(sts["spec"]["volumeClaimTemplates"].is_null(), "{sts}");
    assert!(wait_secs(10, || status_row(c, "dapr-placement-server")
        [2..5]
        == ["True", "Running", "1"]));
}

// `uninstall -k --all` deletes the CRDs, but a real server keeps each one (Terminating)
// until its finalizer has deleted its custom resources. An `init -k` right after applied
// the still-terminating CRDs, which then vanished: it waited out its whole timeout for
// them to be Established. It now waits for them to go first. (The fake deletes at once.)
on_both!(init_right_after_uninstall_all_waits_for_the_old_crds_to_go);
fn init_right_after_uninstall_all_waits_for_the_old_crds_to_go(c: &Cluster) {
    c.install(&[]);
    c.api.create(serde_json::json!({"apiVersion": "dapr.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "statestore", "namespace": "default"},
        "spec": {"type": "state.redis", "version": "v1", "metadata": [{"name": "redisHost", "value": "redis:6379"}]}}));
    succeeded(c.dapr(&["uninstall", "-k", "--all", "--timeout", "10"]));
    // (The CRD finalizer takes seconds, more on a busy machine.)
    let out = c.dapr(&["init", "-k", "--wait", "--timeout", "120"]);
    assert!(out.status.success(), "{}", text(&out));
    for crd in dapr_cli::kubernetes::manifests::CRD_NAMES {
        let v = c
            .api
            .get("apiextensions.k8s.io", "customresourcedefinitions", "", crd)
            .unwrap_or_else(|| panic!("{crd} is there again"));
        assert!(v["metadata"]["deletionTimestamp"].is_null(), "{v}");
    }
    assert!(
        c.api
            .exists("dapr.io", "configurations", "dapr-system", "daprsystem")
    );
    assert!(
        c.api.list("dapr.io", "components").is_empty(),
        "the old component went with the old CRD"
    );
    succeeded(c.dapr(&["mtls", "-k"]));
}

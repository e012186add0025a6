//! A loopback fake of the Kubernetes API server, good enough for the real `dapr` binary
//! (kube-rs) and the installed `kubectl` to talk to through a kubeconfig.
//!
//! It serves: `/version`, legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`),
//! CRUD of namespaced and cluster objects of the kinds the Dapr control plane uses plus
//! any kind registered by a CustomResourceDefinition (which gets `Established` at once),
//! server-side apply, JSON merge / strategic merge (approximated as merge) / JSON patch,
//! list with label and field selectors (also as a `Table` for `kubectl get`), watch
//! (newline-delimited events), pod logs (with follow), and cascading deletes of owned
//! pods and namespace contents.
//!
//! A small controller (every 50 ms) plays the kubelet and the workload controllers:
//! Deployments and StatefulSets get Running, Ready pods and a ready status; pods of
//! templates annotated `dapr.io/enabled: "true"` get a `daprd` container like the
//! injector adds, once the injector's webhook configuration exists. A rollout can be made
//! to fail (`fail_rollout`): its pods stay `Waiting (ImagePullBackOff)`.
//!
//! Server-side apply removes the fields a manager applied before and leaves out now
//! (field ownership per leaf; lists are atomic), as a real server does.
//!
//! Like a real server it refuses (400) create and apply bodies whose apiVersion, kind or
//! namespace differ from the URL, answers 404 to named or write requests of a namespaced
//! kind without a namespace, 422 to `force` on a non-apply patch, and 422 to a StatefulSet
//! spec change outside the fields a real server lets change. List items come
//! without type meta. `plainer()` turns it into a barer standard server (no `/version`,
//! no server-side apply, no CRD conditions, no garbage collector, selectors ignored).
//!
//! Limits: no schema validation, no admission, no OpenAPI documents (use kubectl
//! `--validate=false`), no authentication, strategic merge patch treated as JSON merge.
#![allow(dead_code)]

pub mod injector;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One kind the fake serves.
#[derive(Debug, Clone)]
struct ResDef {
    group: String,
    version: String,
    plural: String,
    kind: String,
    namespaced: bool,
}

impl ResDef {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Identity of a stored object: (group, plural, namespace or "", name).
type Key = (String, String, String, String);

#[derive(Debug, Clone)]
struct Event {
    rv: u64,
    kind: &'static str,
    group: String,
    plural: String,
    namespace: String,
    object: Value,
}

#[derive(Default)]
struct Store {
    defs: Vec<ResDef>,
    objects: BTreeMap<Key, Value>,
    rv: u64,
    events: Vec<Event>,
    failing: HashSet<String>,
    /// A plainer server (see [`FakeApi::plainer`]).
    plain: bool,
    /// Writes refused with 403: (plural, name) → message.
    forbidden: BTreeMap<(String, String), String>,
    logs: BTreeMap<(String, String, String), String>,
    /// CRDs being deleted, since when (see `start_crd_deletion`).
    terminating: BTreeMap<Key, std::time::Instant>,
    /// Every request as `METHOD path?query` with the content type, for assertions.
    requests: Vec<String>,
    /// Server-side apply ownership: object → leaf field path (JSON pointer) → manager.
    owners: BTreeMap<Key, BTreeMap<String, String>>,
}

/// The built-in kinds served, one a line: `apiVersion plural Kind scope`, as a real server
/// (1.33) places them.
pub const BUILTIN: &str = "\
v1 namespaces Namespace cluster
v1 pods Pod namespaced
v1 services Service namespaced
v1 configmaps ConfigMap namespaced
v1 secrets Secret namespaced
v1 serviceaccounts ServiceAccount namespaced
v1 events Event namespaced
v1 persistentvolumeclaims PersistentVolumeClaim namespaced
v1 nodes Node cluster
apps/v1 deployments Deployment namespaced
apps/v1 statefulsets StatefulSet namespaced
apps/v1 replicasets ReplicaSet namespaced
apps/v1 daemonsets DaemonSet namespaced
batch/v1 jobs Job namespaced
rbac.authorization.k8s.io/v1 clusterroles ClusterRole cluster
rbac.authorization.k8s.io/v1 clusterrolebindings ClusterRoleBinding cluster
rbac.authorization.k8s.io/v1 roles Role namespaced
rbac.authorization.k8s.io/v1 rolebindings RoleBinding namespaced
policy/v1 poddisruptionbudgets PodDisruptionBudget namespaced
admissionregistration.k8s.io/v1 mutatingwebhookconfigurations MutatingWebhookConfiguration cluster
apiextensions.k8s.io/v1 customresourcedefinitions CustomResourceDefinition cluster
coordination.k8s.io/v1 leases Lease namespaced
";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Store {
    fn new() -> Store {
        let mut s = Store::default();
        for line in BUILTIN.lines() {
            let [api_version, plural, kind, scope] = line.split(' ').collect::<Vec<_>>()[..] else {
                panic!("bad BUILTIN line {line:?}");
            };
            let (group, version) = split_api_version(api_version);
            s.defs.push(ResDef {
                group,
                version,
                plural: plural.to_string(),
                kind: kind.to_string(),
                namespaced: scope == "namespaced",
            });
        }
        for ns in ["default", "kube-system"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            s.insert_new(("".into(), "namespaces".into(), "".into(), ns.into()), obj);
        }
        s
    }

    fn def(&self, group: &str, version: &str, plural: &str) -> Option<ResDef> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
            .cloned()
    }

    fn def_by_kind(&self, group: &str, kind: &str) -> Option<ResDef> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.kind == kind)
            .cloned()
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn record(&mut self, kind: &'static str, key: &Key, object: &Value) {
        let rv = self.rv;
        self.events.push(Event {
            rv,
            kind,
            group: key.0.clone(),
            plural: key.1.clone(),
            namespace: key.2.clone(),
            object: object.clone(),
        });
    }

    /// Store a new object, filling in server-set metadata.
    fn insert_new(&mut self, key: Key, mut obj: Value) -> Value {
        let rv = self.next_rv();
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
        meta["resourceVersion"] = json!(rv.to_string());
        meta["creationTimestamp"] = json!(now());
        meta["generation"] = json!(1);
        if !key.2.is_empty() {
            meta["namespace"] = json!(key.2);
        }
        if let Some(m) = meta.as_object_mut() {
            m.remove("managedFields");
            // A cluster-scoped object has no namespace, whatever the body said.
            if key.2.is_empty() {
                m.remove("namespace");
            }
        }
        if key.1 == "customresourcedefinitions" {
            self.register_crd(&mut obj);
        }
        if key.1 == "pods" {
            self.inject_sidecar(&mut obj);
        }
        self.objects.insert(key.clone(), obj.clone());
        self.record("ADDED", &key, &obj);
        obj
    }

    /// Replace a stored object; bumps generation when the spec changed.
    fn update(&mut self, key: &Key, mut obj: Value) -> Value {
        let old = self.objects.get(key).cloned().unwrap_or(Value::Null);
        let rv = self.next_rv();
        for f in ["uid", "creationTimestamp", "namespace", "deletionTimestamp"] {
            if !old["metadata"][f].is_null() {
                obj["metadata"][f] = old["metadata"][f].clone();
            }
        }
        let mut generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        if old["spec"] != obj["spec"] {
            generation += 1;
        }
        obj["metadata"]["generation"] = json!(generation);
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        if obj.get("status").is_none() && !old["status"].is_null() {
            obj["status"] = old["status"].clone();
        }
        if key.1 == "customresourcedefinitions" {
            self.register_crd(&mut obj);
        }
        self.objects.insert(key.clone(), obj.clone());
        self.record("MODIFIED", key, &obj);
        obj
    }

    fn set_status(&mut self, key: &Key, status: Value) {
        let Some(mut obj) = self.objects.get(key).cloned() else {
            return;
        };
        if obj["status"] == status {
            return;
        }
        let rv = self.next_rv();
        obj["status"] = status;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.objects.insert(key.clone(), obj.clone());
        self.record("MODIFIED", key, &obj);
    }

    /// Record that `manager` set the fields of `change` (a merge patch or an applied
    /// object): its leaves become that manager's, its nulls are nobody's.
    fn take_fields(&mut self, key: &Key, manager: &str, change: &Value) {
        let owned = self.owners.entry(key.clone()).or_default();
        let mut leaves = Vec::new();
        leaf_paths(change, String::new(), &mut leaves);
        for (path, value) in leaves {
            owned.retain(|p, _| !(p.starts_with(&format!("{path}/")) || *p == path));
            if !value.is_null() {
                owned.insert(path, manager.to_string());
            }
        }
    }

    /// Server-side apply of `applied` by `manager` onto `obj`: fields the manager applied
    /// before and leaves out now are removed (unless another manager took them since),
    /// then the applied fields are merged in and owned by it.
    fn apply_fields(&mut self, key: &Key, manager: &str, obj: &mut Value, applied: &Value) {
        let mut leaves = Vec::new();
        leaf_paths(applied, String::new(), &mut leaves);
        let now: HashSet<String> = leaves.into_iter().map(|(p, _)| p).collect();
        let owned = self.owners.entry(key.clone()).or_default();
        let stale: Vec<String> = owned
            .iter()
            .filter(|(p, m)| *m == manager && !now.contains(*p))
            .map(|(p, _)| p.clone())
            .collect();
        for p in stale {
            owned.remove(&p);
            if let Some((parent, last)) = p.rsplit_once('/')
                && let Some(Value::Object(m)) = obj.pointer_mut(parent)
            {
                m.remove(&last.replace("~1", "/").replace("~0", "~"));
            }
        }
        merge_patch(obj, applied);
        self.take_fields(key, manager, applied);
    }

    fn remove(&mut self, key: &Key) -> Option<Value> {
        self.owners.remove(key);
        let obj = self.objects.remove(key)?;
        self.next_rv();
        self.record("DELETED", key, &obj);
        let uid = obj["metadata"]["uid"].clone();
        // Cascade: owned objects, namespace contents, custom resources of a CRD.
        let doomed: Vec<Key> = self
            .objects
            .iter()
            .filter(|(k, v)| {
                (!self.plain
                    && v["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|o| o.iter().any(|r| r["uid"] == uid)))
                    || (key.1 == "namespaces" && k.2 == key.3)
                    || (key.1 == "customresourcedefinitions"
                        && obj["spec"]["group"] == k.0.as_str()
                        && obj["spec"]["names"]["plural"] == k.1.as_str())
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.remove(&k);
        }
        if key.1 == "customresourcedefinitions" {
            let group = obj["spec"]["group"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let plural = obj["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.defs
                .retain(|d| !(d.group == group && d.plural == plural));
        }
        if key.1 == "pods" {
            self.logs
                .retain(|(ns, pod, _), _| !(ns == &key.2 && pod == &key.3));
        }
        Some(obj)
    }

    fn register_crd(&mut self, crd: &mut Value) {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default().to_string();
        let plural = spec["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let kind = spec["names"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let namespaced = spec["scope"] != "Cluster";
        self.defs
            .retain(|d| !(d.group == group && d.plural == plural));
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"] == true {
                self.defs.push(ResDef {
                    group: group.clone(),
                    version: v["name"].as_str().unwrap_or_default().to_string(),
                    plural: plural.clone(),
                    kind: kind.clone(),
                    namespaced,
                });
            }
        }
        if self.plain {
            return;
        }
        let t = now();
        crd["status"] = json!({
            "acceptedNames": spec["names"].clone(),
            "storedVersions": spec["versions"].as_array().into_iter().flatten()
                .filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect::<Vec<_>>(),
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "lastTransitionTime": t},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "lastTransitionTime": t},
            ],
        });
    }

    /// What the Dapr injector does to an annotated pod, once its webhook configuration
    /// exists (see [`injector::inject`]); the sidecar gets a log.
    fn inject_sidecar(&mut self, pod: &mut Value) {
        let webhook = (
            "admissionregistration.k8s.io".to_string(),
            "mutatingwebhookconfigurations".to_string(),
            String::new(),
            "dapr-sidecar-injector".to_string(),
        );
        let Some(cp_ns) = self
            .objects
            .get(&webhook)
            .map(injector::control_plane_namespace)
        else {
            return;
        };
        let image = injector::sidecar_image(self.objects.get(&(
            "apps".into(),
            "deployments".into(),
            cp_ns.clone(),
            "dapr-sidecar-injector".into(),
        )));
        let Some(app_id) = injector::inject(pod, &cp_ns, &image) else {
            return;
        };
        let ns = pod["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let pod_name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.logs.insert(
            (ns, pod_name, "daprd".into()),
            format!(
                "time=\"{t}\" level=info msg=\"Starting Dapr Runtime -- version 1.18.3\" app_id={app_id}\ntime=\"{t}\" level=info msg=\"dapr initialized. Status: Running.\" app_id={app_id}\n",
                t = now()
            ),
        );
    }

    fn pods_owned_by(&self, uid: &Value) -> Vec<(Key, Value)> {
        self.objects
            .iter()
            .filter(|(k, v)| {
                k.1 == "pods"
                    && v["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|o| o.iter().any(|r| &r["uid"] == uid))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// One pass of the fake controllers and kubelet.
    /// As a real server: a deleted CRD stays (with a deletion timestamp) while its
    /// finalizer removes its custom resources, here for 500 ms; the controller finishes it.
    /// `None` when the object is not a CRD (or on a plainer server): delete it at once.
    fn start_crd_deletion(&mut self, key: &Key) -> Option<Value> {
        if self.plain || key.1 != "customresourcedefinitions" {
            return None;
        }
        let mut crd = self.objects.get(key)?.clone();
        if crd["metadata"]["deletionTimestamp"].is_null() {
            crd["metadata"]["deletionTimestamp"] = json!(now());
            crd["metadata"]["finalizers"] = json!(["customresourcecleanup.apiextensions.k8s.io"]);
            crd = self.update(key, crd);
            self.terminating
                .insert(key.clone(), std::time::Instant::now());
        }
        Some(crd)
    }

    fn reconcile(&mut self) {
        let done: Vec<Key> = self
            .terminating
            .iter()
            .filter(|(_, t)| t.elapsed() > Duration::from_millis(500))
            .map(|(k, _)| k.clone())
            .collect();
        for k in done {
            self.terminating.remove(&k);
            self.remove(&k);
        }
        let workloads: Vec<(Key, Value)> = self
            .objects
            .iter()
            .filter(|(k, _)| k.0 == "apps" && (k.1 == "deployments" || k.1 == "statefulsets"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, w) in workloads {
            self.reconcile_workload(&key, &w);
        }
        // Bare pods (created directly) become Running.
        let bare: Vec<Key> = self
            .objects
            .iter()
            .filter(|(k, v)| k.1 == "pods" && v["status"]["phase"].is_null())
            .map(|(k, _)| k.clone())
            .collect();
        for k in bare {
            let pod = self.objects[&k].clone();
            let status = pod_status(&pod, false);
            self.set_status(&k, status);
        }
    }

    fn reconcile_workload(&mut self, key: &Key, w: &Value) {
        let uid = w["metadata"]["uid"].clone();
        let replicas = w["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        let template = &w["spec"]["template"];
        let hash = format!("{:x}", fnv(&template.to_string()));
        let hash = &hash[..hash.len().min(10)];
        let failing = self.failing.contains(&key.3);
        let mut pods = self.pods_owned_by(&uid);
        // A changed template replaces the pods (a rolling update done at once).
        for (k, p) in &pods {
            if p["metadata"]["labels"]["pod-template-hash"] != hash {
                self.remove(k);
            }
        }
        pods.retain(|(_, p)| p["metadata"]["labels"]["pod-template-hash"] == hash);
        let is_sts = key.1 == "statefulsets";
        while pods.len() > replicas {
            let (k, _) = pods.pop().unwrap();
            self.remove(&k);
        }
        let mut i = 0;
        while pods.len() < replicas {
            let name = if is_sts {
                loop {
                    let n = format!("{}-{i}", key.3);
                    i += 1;
                    if !pods.iter().any(|(k, _)| k.3 == n) {
                        break n;
                    }
                }
            } else {
                let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].to_string();
                format!("{}-{hash}-{suffix}", key.3)
            };
            let mut meta = template["metadata"].clone();
            if !meta.is_object() {
                meta = json!({});
            }
            meta["name"] = json!(name);
            meta["labels"]["pod-template-hash"] = json!(hash);
            meta["ownerReferences"] = json!([{
                "apiVersion": "apps/v1",
                "kind": if is_sts { "StatefulSet" } else { "Deployment" },
                "name": key.3, "uid": uid, "controller": true,
            }]);
            let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"].clone()});
            let pkey: Key = ("".into(), "pods".into(), key.2.clone(), name);
            let mut pod = self.insert_new(pkey.clone(), pod);
            let status = pod_status(&pod, failing);
            pod["status"] = status.clone();
            self.set_status(&pkey, status);
            pods.push((pkey, pod));
        }
        let ready = if failing { 0 } else { replicas };
        let generation = w["metadata"]["generation"].clone();
        let mut status = json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
        });
        if is_sts {
            status["currentReplicas"] = json!(replicas);
            status["availableReplicas"] = json!(ready);
        } else {
            status["availableReplicas"] = json!(ready);
            status["unavailableReplicas"] = json!(replicas - ready);
        }
        self.set_status(key, status);
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// The status a kubelet reports for a pod whose containers all started and are ready, or
/// (`failing`) whose image cannot be pulled. Also used by the real server's stand-in kubelet
/// (`k8s_real::controllers`).
pub fn pod_status(pod: &Value, failing: bool) -> Value {
    let t = now();
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let state = if failing {
                json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{}\"", c["image"].as_str().unwrap_or_default())}})
            } else {
                json!({"running": {"startedAt": t}})
            };
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": !failing,
                   "restartCount": 0, "started": !failing, "state": state})
        })
        .collect();
    let ready = if failing { "False" } else { "True" };
    json!({
        "phase": if failing { "Pending" } else { "Running" },
        "podIP": "10.244.0.10",
        "podIPs": [{"ip": "10.244.0.10"}],
        "hostIP": "10.0.0.1",
        "hostIPs": [{"ip": "10.0.0.1"}],
        "startTime": t,
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": t},
            {"type": "ContainersReady", "status": ready, "lastTransitionTime": t},
            {"type": "Ready", "status": ready, "lastTransitionTime": t},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
        ],
        "containerStatuses": statuses,
    })
}

/// The running fake: its port and a handle on its state.
pub struct FakeApi {
    pub port: u16,
    store: Arc<Mutex<Store>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl FakeApi {
    /// Start on a free loopback port, in a background thread with its own runtime.
    pub fn start() -> FakeApi {
        let store = Arc::new(Mutex::new(Store::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = store.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let ctl = st.clone();
                let controller = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        ctl.lock().unwrap().reconcile();
                    }
                });
                let app = Router::new().fallback(handle).with_state(st);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
                controller.abort();
            });
            // Streams still open (watch, follow) are dropped with the runtime.
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        FakeApi {
            port,
            store,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Write a kubeconfig for this server (context `fake`, plus an unused `other` context
    /// pointing nowhere, so `--context` selection can be tested).
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n- name: other\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n- name: other\n  context:\n    cluster: other\n    user: fake\ncurrent-context: fake\nusers:\n- name: fake\n  user:\n    token: fake-token\n",
            url = self.url()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Behave like a plainer (still standard) server: no `/version`, no server-side apply
    /// (415), CRDs get no status conditions (served as soon as created), no garbage
    /// collection of owned objects, and label selectors ignored on lists.
    pub fn plainer(&self) {
        self.store.lock().unwrap().plain = true;
    }

    /// Make every rollout of the Deployment/StatefulSet `name` fail (pods never ready).
    pub fn fail_rollout(&self, name: &str) {
        self.store.lock().unwrap().failing.insert(name.to_string());
    }

    /// Refuse every write (create, update, patch, delete) of one object with 403 Forbidden.
    pub fn forbid(&self, plural: &str, name: &str, why: &str) {
        self.store
            .lock()
            .unwrap()
            .forbidden
            .insert((plural.to_string(), name.to_string()), why.to_string());
    }

    /// A stored object by group ("" for core), plural, namespace ("" for cluster) and name.
    pub fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (
            group.to_string(),
            plural.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.store.lock().unwrap().objects.get(&key).cloned()
    }

    /// Whether the object exists (arguments as for [`FakeApi::get`]).
    pub fn exists(&self, group: &str, plural: &str, namespace: &str, name: &str) -> bool {
        self.get(group, plural, namespace, name).is_some()
    }

    /// All stored objects of one kind (every namespace).
    pub fn list(&self, group: &str, plural: &str) -> Vec<Value> {
        let s = self.store.lock().unwrap();
        s.objects
            .iter()
            .filter(|(k, _)| k.0 == group && k.1 == plural)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Store an object as a client would create it (kind must be known).
    pub fn create(&self, obj: Value) {
        let mut s = self.store.lock().unwrap();
        let (group, _) = split_api_version(obj["apiVersion"].as_str().unwrap_or_default());
        let def = s
            .def_by_kind(&group, obj["kind"].as_str().unwrap_or_default())
            .expect("known kind");
        let ns = if def.namespaced {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        let name = obj["metadata"]["name"].as_str().unwrap().to_string();
        s.insert_new((group, def.plural, ns, name), obj);
    }

    /// Requests seen so far (`METHOD path?query [content-type]`).
    pub fn requests(&self) -> Vec<String> {
        self.store.lock().unwrap().requests.clone()
    }

    /// Set the log text of a pod's container.
    pub fn set_log(&self, ns: &str, pod: &str, container: &str, text: &str) {
        self.store
            .lock()
            .unwrap()
            .logs
            .insert((ns.into(), pod.into(), container.into()), text.into());
    }

    /// Merge-patch a stored object as another client would (e.g. sentry filling the trust bundle).
    pub fn merge(&self, group: &str, plural: &str, namespace: &str, name: &str, patch: Value) {
        let key = (
            group.to_string(),
            plural.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        let mut s = self.store.lock().unwrap();
        let mut obj = s.objects.get(&key).cloned().expect("object to patch");
        merge_patch(&mut obj, &patch);
        s.take_fields(&key, "test-client", &patch);
        s.update(&key, obj);
    }

    /// Delete an object as a client would (with cascades).
    pub fn delete(&self, group: &str, plural: &str, namespace: &str, name: &str) {
        let key = (
            group.to_string(),
            plural.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.store.lock().unwrap().remove(&key);
    }
}

fn split_api_version(av: &str) -> (String, String) {
    match av.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), av.to_string()),
    }
}

fn status_error(code: u16, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code});
    (
        StatusCode::from_u16(code).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A real server's answer for a path it does not serve.
fn no_route() -> Response {
    status_error(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
    )
}

fn json_response(code: StatusCode, v: &Value) -> Response {
    (code, [("content-type", "application/json")], v.to_string()).into_response()
}

fn not_found(d: &ResDef, name: &str) -> Response {
    let what = if d.group.is_empty() {
        d.plural.clone()
    } else {
        format!("{}.{}", d.plural, d.group)
    };
    status_error(404, "NotFound", format!("{what} \"{name}\" not found"))
}

fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                urlencoding::decode(&s.replace('+', " "))
                    .map(|c| c.into_owned())
                    .unwrap_or_default()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Whether `value` is in a selector's set, `(x, y)`.
fn in_set(set: &str, value: &str) -> bool {
    set.trim()
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .any(|v| v.trim() == value)
}

/// Label selector: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`.
fn labels_match(selector: &str, labels: &Value) -> bool {
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for ch in selector.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    terms.push(cur);
    terms
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .all(|t| {
            let get = |k: &str| labels[k.trim()].as_str().map(str::to_string);
            if let Some((k, v)) = t.split_once("!=") {
                get(k).as_deref() != Some(v.trim())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                get(k).as_deref() == Some(v.trim())
            } else if let Some(k) = t.strip_prefix('!') {
                get(k).is_none()
            } else if let Some((k, set)) = t.split_once(" notin ") {
                !get(k).is_some_and(|v| in_set(set, &v))
            } else if let Some((k, set)) = t.split_once(" in ") {
                get(k).is_some_and(|v| in_set(set, &v))
            } else {
                get(t).is_some()
            }
        })
}

/// Field selector on dotted paths (`metadata.name=x`, `status.phase!=Running`).
fn fields_match(selector: &str, obj: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|t| {
        let (path, want, neg) = if let Some((p, v)) = t.split_once("!=") {
            (p, v, true)
        } else if let Some((p, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
            (p, v, false)
        } else {
            return true;
        };
        let mut cur = obj;
        for seg in path.split('.') {
            cur = &cur[seg];
        }
        let have = match cur {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        (have == want) != neg
    })
}

fn selected(q: &BTreeMap<String, String>, obj: &Value) -> bool {
    q.get("labelSelector")
        .is_none_or(|s| labels_match(s, &obj["metadata"]["labels"]))
        && q.get("fieldSelector").is_none_or(|s| fields_match(s, obj))
}

/// The leaves of an object as (JSON pointer, value); lists count as one leaf (atomic),
/// and the identifying fields (type meta, name, namespace) and status are left out.
fn leaf_paths(v: &Value, prefix: String, out: &mut Vec<(String, Value)>) {
    const SKIP: [&str; 5] = [
        "/apiVersion",
        "/kind",
        "/metadata/name",
        "/metadata/namespace",
        "/status",
    ];
    if SKIP.contains(&prefix.as_str()) {
        return;
    }
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                leaf_paths(x, format!("{prefix}/{k}"), out);
            }
        }
        _ if prefix.is_empty() => {}
        other => out.push((prefix, other.clone())),
    }
}

/// RFC 7386 merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().unwrap();
            for (k, v) in p {
                if k.starts_with("$") {
                    continue;
                }
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    for op in ops.as_array().ok_or("JSON patch must be a list")? {
        let path = op["path"].as_str().ok_or("op without path")?;
        let (parent_path, last) = path.rsplit_once('/').ok_or("bad path")?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let parent = target
            .pointer_mut(parent_path)
            .ok_or(format!("path {path} not found"))?;
        match op["op"].as_str().unwrap_or_default() {
            "add" | "replace" => match parent {
                Value::Object(m) => {
                    m.insert(last, op["value"].clone());
                }
                Value::Array(a) if last == "-" => a.push(op["value"].clone()),
                Value::Array(a) => {
                    let i: usize = last.parse().map_err(|_| "bad index")?;
                    if op["op"] == "add" {
                        a.insert(i.min(a.len()), op["value"].clone())
                    } else if i < a.len() {
                        a[i] = op["value"].clone()
                    }
                }
                _ => return Err(format!("cannot patch {path}")),
            },
            "remove" => match parent {
                Value::Object(m) => {
                    m.remove(&last);
                }
                Value::Array(a) => {
                    let i: usize = last.parse().map_err(|_| "bad index")?;
                    if i < a.len() {
                        a.remove(i);
                    }
                }
                _ => return Err(format!("cannot remove {path}")),
            },
            "test" => {}
            other => return Err(format!("unsupported op {other}")),
        }
    }
    Ok(())
}

fn discovery_resources(s: &Store, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for d in s
        .defs
        .iter()
        .filter(|d| d.group == group && d.version == version)
    {
        let singular = d.kind.to_lowercase();
        let short: &[&str] = match d.plural.as_str() {
            "customresourcedefinitions" => &["crd", "crds"],
            "deployments" => &["deploy"],
            "pods" => &["po"],
            "services" => &["svc"],
            "configmaps" => &["cm"],
            "namespaces" => &["ns"],
            "serviceaccounts" => &["sa"],
            "statefulsets" => &["sts"],
            "poddisruptionbudgets" => &["pdb"],
            "persistentvolumeclaims" => &["pvc"],
            "replicasets" => &["rs"],
            "daemonsets" => &["ds"],
            "events" => &["ev"],
            "nodes" => &["no"],
            _ => &[],
        };
        resources.push(json!({
            "name": d.plural, "singularName": singular, "namespaced": d.namespaced, "kind": d.kind,
            "shortNames": short,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        }));
        if d.plural == "pods" {
            resources.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}));
        }
        resources.push(json!({"name": format!("{}/status", d.plural), "singularName": "", "namespaced": d.namespaced,
                              "kind": d.kind, "verbs": ["get", "patch", "update"]}));
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn discovery_groups(s: &Store) -> Value {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in s.defs.iter().filter(|d| !d.group.is_empty()) {
        let vs = groups.entry(d.group.clone()).or_default();
        if !vs.contains(&d.version) {
            vs.push(d.version.clone());
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, mut vs)| {
            // Prefer the newest version (v2alpha1 over v1alpha1, v1 over v1beta1).
            vs.sort();
            vs.reverse();
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": versions, "preferredVersion": versions[0].clone()})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// A parsed resource path.
struct Target {
    def: ResDef,
    namespace: String,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(s: &Store, segs: &[&str]) -> Option<Target> {
    let (group, version, rest) = match segs {
        ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
        _ => return None,
    };
    let (namespace, rest): (String, &[&str]) = match rest {
        ["namespaces", ns, res, ..]
            if s.def(&group, &version, res).is_some_and(|d| d.namespaced) =>
        {
            (ns.to_string(), &rest[2..])
        }
        _ => (String::new(), rest),
    };
    let (res, name, sub) = match rest {
        [res] => (*res, None, None),
        [res, name] => (*res, Some(name.to_string()), None),
        [res, name, sub] => (*res, Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    let def = s.def(&group, &version, res)?;
    Some(Target {
        def,
        namespace,
        name,
        sub,
    })
}

fn with_type_meta(d: &ResDef, mut v: Value) -> Value {
    v["apiVersion"] = json!(d.api_version());
    v["kind"] = json!(d.kind);
    v
}

async fn handle(
    State(st): State<Arc<Mutex<Store>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_string();
    let q = query_map(&uri);
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    st.lock().unwrap().requests.push(format!(
        "{method} {}{} [{ctype}]",
        uri.path(),
        uri.query().map(|q| format!("?{q}")).unwrap_or_default()
    ));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["version"]) if st.lock().unwrap().plain => {
            return no_route();
        }
        ("GET", ["version"]) => {
            return json_response(
                StatusCode::OK,
                &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake",
                "gitCommit": "0000000", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
            );
        }
        ("GET", ["api"]) => {
            return json_response(
                StatusCode::OK,
                &json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
            );
        }
        ("GET", ["apis"]) => {
            return json_response(StatusCode::OK, &discovery_groups(&st.lock().unwrap()));
        }
        ("GET", ["api", v]) => {
            return json_response(
                StatusCode::OK,
                &discovery_resources(&st.lock().unwrap(), "", v),
            );
        }
        ("GET", ["apis", g, v]) => {
            let s = st.lock().unwrap();
            if !s.defs.iter().any(|d| d.group == *g && d.version == *v) {
                return no_route();
            }
            return json_response(StatusCode::OK, &discovery_resources(&s, g, v));
        }
        _ => {}
    }
    let target = { parse_path(&st.lock().unwrap(), &segs) };
    let Some(t) = target else {
        return no_route();
    };
    let d = t.def.clone();
    // A namespaced kind has only a (read-only) cluster-wide collection route.
    if d.namespaced && t.namespace.is_empty() && (t.name.is_some() || method != Method::GET) {
        return no_route();
    }
    if method != Method::GET {
        let name = t.name.clone().or_else(|| {
            serde_json::from_slice::<Value>(&body).ok()?["metadata"]["name"]
                .as_str()
                .map(str::to_string)
        });
        if let Some(name) = name
            && let Some(why) = st
                .lock()
                .unwrap()
                .forbidden
                .get(&(d.plural.clone(), name.clone()))
        {
            let what = if d.group.is_empty() {
                d.plural.clone()
            } else {
                format!("{}.{}", d.plural, d.group)
            };
            return status_error(
                403,
                "Forbidden",
                format!("{what} \"{name}\" is forbidden: {why}"),
            );
        }
    }
    let key = |name: &str| {
        (
            d.group.clone(),
            d.plural.clone(),
            t.namespace.clone(),
            name.to_string(),
        )
    };
    match (method.as_str(), t.name.as_deref(), t.sub.as_deref()) {
        ("GET", None, None) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            watch(st, t, q)
        }
        ("GET", None, None) => {
            let s = st.lock().unwrap();
            let items: Vec<Value> = s
                .objects
                .iter()
                .filter(|(k, _)| {
                    k.0 == d.group
                        && k.1 == d.plural
                        && (t.namespace.is_empty() || k.2 == t.namespace)
                })
                .filter(|(_, v)| s.plain || selected(&q, v))
                .map(|(_, v)| {
                    // As a real server: list items carry no type meta, the list does.
                    let mut v = v.clone();
                    if let Some(m) = v.as_object_mut() {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    v
                })
                .collect();
            if accept.contains("as=Table") {
                return json_response(StatusCode::OK, &as_table(&d, &items, s.rv));
            }
            json_response(
                StatusCode::OK,
                &json!({"kind": format!("{}List", d.kind), "apiVersion": d.api_version(),
                "metadata": {"resourceVersion": s.rv.to_string()}, "items": items}),
            )
        }
        ("GET", Some(name), None | Some("status")) => {
            let s = st.lock().unwrap();
            match s.objects.get(&key(name)) {
                Some(v) if accept.contains("as=Table") => json_response(
                    StatusCode::OK,
                    &as_table(&d, &[with_type_meta(&d, v.clone())], s.rv),
                ),
                Some(v) => json_response(StatusCode::OK, &with_type_meta(&d, v.clone())),
                None => not_found(&d, name),
            }
        }
        ("GET", Some(name), Some("log")) => pod_log(st, &t.namespace, name, &q),
        ("POST", None, None) => {
            let obj: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    return status_error(400, "BadRequest", format!("invalid JSON body: {e}"));
                }
            };
            if let Some(resp) = body_mismatch(&d, &t.namespace, &obj) {
                return resp;
            }
            let Some(name) = obj["metadata"]["name"].as_str().map(str::to_string) else {
                return status_error(
                    422,
                    "Invalid",
                    format!("{} is invalid: metadata.name: Required value", d.kind),
                );
            };
            let mut s = st.lock().unwrap();
            if let Some(resp) = check_namespace(&s, &d, &t.namespace) {
                return resp;
            }
            if s.objects.contains_key(&key(&name)) {
                return status_error(
                    409,
                    "AlreadyExists",
                    format!("{} \"{name}\" already exists", d.plural),
                );
            }
            let created = s.insert_new(key(&name), with_type_meta(&d, obj));
            json_response(StatusCode::CREATED, &created)
        }
        ("PUT", Some(name), sub) => {
            let obj: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    return status_error(400, "BadRequest", format!("invalid JSON body: {e}"));
                }
            };
            let mut s = st.lock().unwrap();
            let Some(old) = s.objects.get(&key(name)).cloned() else {
                return not_found(&d, name);
            };
            let new = if sub == Some("status") {
                let mut o = old;
                o["status"] = obj["status"].clone();
                o
            } else {
                obj
            };
            if let Some(refused) = refuse_immutable(&d, &s.objects[&key(name)], &new) {
                return refused;
            }
            let updated = s.update(&key(name), with_type_meta(&d, new));
            json_response(StatusCode::OK, &updated)
        }
        ("PATCH", Some(name), None | Some("status")) => {
            patch(st, &d, &t.namespace, name, &ctype, &q, &body)
        }
        ("DELETE", Some(name), None) => {
            let mut s = st.lock().unwrap();
            if let Some(marked) = s.start_crd_deletion(&key(name)) {
                return json_response(StatusCode::OK, &with_type_meta(&d, marked));
            }
            match s.remove(&key(name)) {
                Some(v) => json_response(StatusCode::OK, &with_type_meta(&d, v)),
                None => not_found(&d, name),
            }
        }
        _ => status_error(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on {path}"),
        ),
    }
}

/// What a real API server refuses in a create or apply body: type meta that is not the
/// URL's (an apply body must carry both), or a namespace other than the URL's (a
/// cluster-scoped kind ignores it).
fn body_mismatch(d: &ResDef, ns: &str, obj: &Value) -> Option<Response> {
    let bad = |m: String| Some(status_error(400, "BadRequest", m));
    match obj["apiVersion"].as_str() {
        Some(av) if av != d.api_version() => {
            return bad(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                d.api_version()
            ));
        }
        None => return bad("Object 'apiVersion' is missing".into()),
        _ => {}
    }
    match obj["kind"].as_str() {
        Some(k) if k != d.kind => {
            return bad(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                d.kind
            ));
        }
        None => return bad("Object 'Kind' is missing".into()),
        _ => {}
    }
    match obj["metadata"]["namespace"].as_str() {
        Some(body_ns) if d.namespaced && !body_ns.is_empty() && body_ns != ns => bad(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ),
        _ => None,
    }
}

fn check_namespace(s: &Store, d: &ResDef, ns: &str) -> Option<Response> {
    if d.namespaced
        && !s
            .objects
            .contains_key(&("".into(), "namespaces".into(), "".into(), ns.to_string()))
    {
        return Some(status_error(
            404,
            "NotFound",
            format!("namespaces \"{ns}\" not found"),
        ));
    }
    None
}

/// What a real server refuses to change in place: a StatefulSet's spec outside the
/// fields it lets change (422, its message).
fn refuse_immutable(d: &ResDef, old: &Value, new: &Value) -> Option<Response> {
    const MUTABLE: [&str; 7] = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    if d.kind != "StatefulSet" {
        return None;
    }
    let fixed = |v: &Value| {
        let mut spec = v["spec"].as_object().cloned().unwrap_or_default();
        spec.retain(|k, _| !MUTABLE.contains(&k.as_str()));
        spec
    };
    (fixed(old) != fixed(new)).then(|| {
        status_error(
            422,
            "Invalid",
            format!(
                "StatefulSet.apps {:?} is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                old["metadata"]["name"].as_str().unwrap_or_default()
            ),
        )
    })
}

fn patch(
    st: Arc<Mutex<Store>>,
    d: &ResDef,
    ns: &str,
    name: &str,
    ctype: &str,
    q: &BTreeMap<String, String>,
    body: &[u8],
) -> Response {
    let key = (
        d.group.clone(),
        d.plural.clone(),
        ns.to_string(),
        name.to_string(),
    );
    let mut s = st.lock().unwrap();
    let existing = s.objects.get(&key).cloned();
    let text = String::from_utf8_lossy(body).into_owned();
    if ctype.starts_with("application/apply-patch+yaml") && s.plain {
        return status_error(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, \
             application/strategic-merge-patch+json"
                .into(),
        );
    }
    if ctype.starts_with("application/apply-patch+yaml") {
        let Some(manager) = q.get("fieldManager").filter(|m| !m.is_empty()) else {
            return status_error(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into());
        };
        let applied: Value = match serde_saphyr::from_str(&text) {
            Ok(v) => v,
            Err(e) => return status_error(400, "BadRequest", format!("error decoding YAML: {e}")),
        };
        if let Some(resp) = body_mismatch(d, ns, &applied) {
            return resp;
        }
        if applied["metadata"]["name"] != name {
            return status_error(
                400,
                "BadRequest",
                "the name of the object does not match the name on the URL".into(),
            );
        }
        let entry = json!([{"manager": manager, "operation": "Apply", "apiVersion": d.api_version(),
                            "time": now(), "fieldsType": "FieldsV1", "fieldsV1": {}}]);
        let result = match existing {
            None => {
                if let Some(resp) = check_namespace(&s, d, ns) {
                    return resp;
                }
                let mut obj = applied.clone();
                obj["metadata"]["managedFields"] = Value::Null;
                s.take_fields(&key, manager, &applied);
                let mut created = s.insert_new(key.clone(), with_type_meta(d, obj));
                created["metadata"]["managedFields"] = entry;
                s.objects.insert(key, created.clone());
                return json_response(StatusCode::CREATED, &created);
            }
            Some(mut obj) => {
                let (before, owners) = (obj.clone(), s.owners.get(&key).cloned());
                s.apply_fields(&key, manager, &mut obj, &applied);
                if let Some(refused) = refuse_immutable(d, &before, &obj) {
                    match owners {
                        Some(o) => s.owners.insert(key, o),
                        None => s.owners.remove(&key),
                    };
                    return refused;
                }
                obj["metadata"]["managedFields"] = entry;
                s.update(&key, with_type_meta(d, obj))
            }
        };
        return json_response(StatusCode::OK, &result);
    }
    if q.contains_key("force") {
        return status_error(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch".into(),
        );
    }
    let Some(mut obj) = existing else {
        return not_found(d, name);
    };
    let before = obj.clone();
    let patch: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return status_error(400, "BadRequest", format!("invalid patch: {e}")),
    };
    if ctype.starts_with("application/json-patch+json") {
        if let Err(e) = json_patch(&mut obj, &patch) {
            return status_error(422, "Invalid", e);
        }
    } else {
        merge_patch(&mut obj, &patch);
        let manager = q
            .get("fieldManager")
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        s.take_fields(&key, &manager, &patch);
    }
    if let Some(refused) = refuse_immutable(d, &before, &obj) {
        return refused;
    }
    let updated = s.update(&key, with_type_meta(d, obj));
    json_response(StatusCode::OK, &updated)
}

fn as_table(d: &ResDef, items: &[Value], rv: u64) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|v| {
            let mut cells = vec![v["metadata"]["name"].clone()];
            if d.kind == "Pod" {
                cells.push(v["status"]["phase"].clone());
            }
            cells.push(json!("0s"));
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                               "metadata": v["metadata"].clone()}})
        })
        .collect();
    let mut cols =
        vec![json!({"name": "Name", "type": "string", "format": "name", "description": "Name"})];
    if d.kind == "Pod" {
        cols.push(
            json!({"name": "Status", "type": "string", "format": "", "description": "Phase"}),
        );
    }
    cols.push(json!({"name": "Age", "type": "string", "format": "", "description": "Age"}));
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()},
           "columnDefinitions": cols, "rows": rows})
}

fn watch(st: Arc<Mutex<Store>>, t: Target, q: BTreeMap<String, String>) -> Response {
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(30)
        .min(60);
    let since: u64 = q
        .get("resourceVersion")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let d = t.def.clone();
    let ns = t.namespace.clone();
    let matches = move |e: &Event| {
        e.group == d.group && e.plural == d.plural && (ns.is_empty() || e.namespace == ns)
    };
    // Initial state: with no resourceVersion, every current object as ADDED.
    let (initial, start_rv) = {
        let s = st.lock().unwrap();
        let mut initial = Vec::new();
        if since == 0 {
            for (k, v) in &s.objects {
                if k.0 == t.def.group
                    && k.1 == t.def.plural
                    && (t.namespace.is_empty() || k.2 == t.namespace)
                    && selected(&q, v)
                {
                    initial.push(
                        json!({"type": "ADDED", "object": with_type_meta(&t.def, v.clone())}),
                    );
                }
            }
        }
        (initial, if since == 0 { s.rv } else { since })
    };
    let def = t.def.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let stream = futures_util::stream::unfold(
        (
            initial
                .into_iter()
                .collect::<std::collections::VecDeque<Value>>(),
            start_rv,
        ),
        move |(mut queue, mut rv)| {
            let st = st.clone();
            let matches = matches.clone();
            let q = q.clone();
            let def = def.clone();
            async move {
                loop {
                    if let Some(ev) = queue.pop_front() {
                        let line = format!("{ev}\n");
                        return Some((Ok::<Bytes, std::io::Error>(Bytes::from(line)), (queue, rv)));
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    {
                        let s = st.lock().unwrap();
                        for e in s.events.iter().filter(|e| e.rv > rv) {
                            if matches(e) && selected(&q, &e.object) {
                                queue.push_back(json!({"type": e.kind, "object": with_type_meta(&def, e.object.clone())}));
                            }
                        }
                        rv = s.rv;
                    }
                    if queue.is_empty() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        },
    );
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn pod_log(st: Arc<Mutex<Store>>, ns: &str, pod: &str, q: &BTreeMap<String, String>) -> Response {
    let s = st.lock().unwrap();
    let key = (
        "".to_string(),
        "pods".to_string(),
        ns.to_string(),
        pod.to_string(),
    );
    let Some(p) = s.objects.get(&key) else {
        return status_error(404, "NotFound", format!("pods \"{pod}\" not found"));
    };
    let containers: Vec<String> = p["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match q.get("container") {
        Some(c) => c.clone(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return status_error(
                400,
                "BadRequest",
                format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
                    containers.join(" ")
                ),
            );
        }
    };
    if !containers.contains(&container) {
        return status_error(
            400,
            "BadRequest",
            format!("container {container} is not valid for pod {pod}"),
        );
    }
    let text = s
        .logs
        .get(&(ns.to_string(), pod.to_string(), container.clone()))
        .cloned()
        .unwrap_or_default();
    drop(s);
    if q.get("follow").is_none_or(|f| f != "true") {
        return (StatusCode::OK, [("content-type", "text/plain")], text).into_response();
    }
    // Follow: the text so far, then whatever is appended, until the pod is deleted.
    let (ns, pod) = (ns.to_string(), pod.to_string());
    let stream =
        futures_util::stream::unfold((Some(text.clone()), text.len()), move |(first, sent)| {
            let st = st.clone();
            let (ns, pod, container) = (ns.clone(), pod.clone(), container.clone());
            async move {
                if let Some(f) = first {
                    return Some((Ok::<Bytes, std::io::Error>(Bytes::from(f)), (None, sent)));
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let s = st.lock().unwrap();
                    if !s
                        .objects
                        .contains_key(&("".into(), "pods".into(), ns.clone(), pod.clone()))
                    {
                        return None;
                    }
                    let cur = s
                        .logs
                        .get(&(ns.clone(), pod.clone(), container.clone()))
                        .cloned()
                        .unwrap_or_default();
                    if cur.len() > sent {
                        let more = cur[sent..].to_string();
                        return Some((Ok(Bytes::from(more)), (None, cur.len())));
                    }
                }
            }
        });
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Body::from_stream(stream))
        .unwrap()
}

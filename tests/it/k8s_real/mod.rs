//! A real Kubernetes API server on loopback for the Kubernetes tests: upstream's
//! `kube-apiserver` and `etcd`, built from Go modules by `tests/peers/kube/build.sh` and
//! cached outside the checkout. Each [`RealApi`] is one cluster of its own: etcd on free
//! ports with a temporary data directory, kube-apiserver on a free `--secure-port` of
//! 127.0.0.1 with a certificate made here (a CA and a serving certificate for
//! `127.0.0.1`/`localhost`), a generated bearer token in group `system:masters`,
//! `--authorization-mode=RBAC`, a generated service-account signing key, and the default
//! admission plugins. The kubeconfig it writes trusts the CA (no insecure skip).
//!
//! There is no kube-controller-manager, scheduler or kubelet: [`controllers`] stands in
//! for the few controllers the tests need (see there). Both processes and the helper stop
//! when the value is dropped.
//!
//! Without the binaries, [`RealApi::start`] prints one `SKIP` line and returns `None`,
//! unless `DAPR_KUBE_REQUIRED` is set (as `.ci/run` does after building them): then it
//! panics, so CI cannot pass by skipping.
#![allow(dead_code)]

pub mod controllers;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{KillOnDrop, free_port};

/// The Kubernetes version `tests/peers/kube/go.mod` pins (the cache folder's name).
pub fn pinned_version() -> String {
    let gomod = include_str!("../../peers/kube/go.mod");
    gomod
        .lines()
        .find_map(|l| {
            let l = l.trim().trim_start_matches("require").trim();
            l.strip_prefix("k8s.io/kubernetes v")
                .map(|v| v.split_whitespace().next().unwrap_or(v).to_string())
        })
        .expect("tests/peers/kube/go.mod requires k8s.io/kubernetes")
}

/// Where `build.sh` caches the binaries of the pinned version.
fn cache_dir() -> Option<PathBuf> {
    let root = match std::env::var_os("DAPR_KUBE_CACHE") {
        Some(p) => PathBuf::from(p),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".cache")))?
            .join("dapr-cli/kube"),
    };
    Some(root.join(pinned_version()))
}

/// The two binaries: `DAPR_KUBE_APISERVER` / `DAPR_ETCD`, else the cache.
fn binaries() -> Result<(PathBuf, PathBuf), String> {
    let dir = cache_dir();
    let pick = |var: &str, name: &str| -> Result<PathBuf, String> {
        let p = match std::env::var_os(var) {
            Some(p) => PathBuf::from(p),
            None => dir
                .as_ref()
                .map(|d| d.join(name))
                .ok_or_else(|| format!("no HOME to find the cache of {name}"))?,
        };
        if p.is_file() {
            Ok(p)
        } else {
            Err(format!("no {name} at {}", p.display()))
        }
    };
    Ok((
        pick("DAPR_KUBE_APISERVER", "kube-apiserver")?,
        pick("DAPR_ETCD", "etcd")?,
    ))
}

/// The API version a group's kinds are addressed with here.
fn group_version(group: &str) -> &'static str {
    match group {
        "dapr.io" => "v1alpha1",
        _ => "v1",
    }
}

/// The URL path of a collection: `/api/v1[/namespaces/ns]/plural` or the `/apis` form.
pub fn collection_path(group: &str, plural: &str, namespace: &str) -> String {
    let base = if group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group}/{}", group_version(group))
    };
    if namespace.is_empty() {
        format!("{base}/{plural}")
    } else {
        format!("{base}/namespaces/{namespace}/{plural}")
    }
}

/// A blocking client with the cluster's CA and token (shared with the controllers).
#[derive(Clone)]
pub struct Rest {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Rest {
    fn new(base: String, token: String, ca_pem: &str) -> Rest {
        let http = reqwest::blocking::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Rest { base, token, http }
    }

    /// One request; `(status, body as JSON or Null)`.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.header("content-type", content_type).body(b.to_string());
        }
        match req.send() {
            Ok(r) => {
                let code = r.status().as_u16();
                let text = r.text().unwrap_or_default();
                (code, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(e) => (0, Value::String(e.to_string())),
        }
    }

    pub fn get_path(&self, path: &str) -> Option<Value> {
        let (code, v) = self.call(reqwest::Method::GET, path, "", None);
        (code == 200).then_some(v)
    }

    /// `POST` an object to its collection; the created object, or the server's answer.
    pub fn create(&self, obj: &Value) -> Result<Value, String> {
        let kind = obj["kind"].as_str().unwrap_or_default();
        let av = obj["apiVersion"].as_str().unwrap_or_default();
        let (ar, namespaced) = dapr_cli::kubernetes::client::resource_for(av, kind)
            .or_else(|| extra_kind(av, kind))
            .unwrap_or_else(|| panic!("unknown kind {av} {kind}"));
        let ns = if namespaced {
            obj["metadata"]["namespace"].as_str().unwrap_or("default")
        } else {
            ""
        };
        let path = collection_path(&ar.group, &ar.plural, ns);
        let (code, v) = self.call(reqwest::Method::POST, &path, "application/json", Some(obj));
        if (200..300).contains(&code) {
            Ok(v)
        } else {
            Err(format!("POST {path}: {code} {v}"))
        }
    }

    /// JSON merge patch of `path` (an object, or its `/status`).
    pub fn merge_path(&self, path: &str, patch: &Value) -> Result<Value, String> {
        let (code, v) = self.call(
            reqwest::Method::PATCH,
            path,
            "application/merge-patch+json",
            Some(patch),
        );
        if code == 200 {
            Ok(v)
        } else {
            Err(format!("PATCH {path}: {code} {v}"))
        }
    }

    pub fn delete_path(&self, path: &str) -> u16 {
        self.call(reqwest::Method::DELETE, path, "", None).0
    }

    /// Items of a list (every namespace when `namespace` is empty).
    pub fn list(&self, group: &str, plural: &str, namespace: &str) -> Vec<Value> {
        self.get_path(&collection_path(group, plural, namespace))
            .and_then(|v| v["items"].as_array().cloned())
            .unwrap_or_default()
    }
}

/// Kinds the tests create that the CLI's own table does not know.
fn extra_kind(av: &str, kind: &str) -> Option<(kube::core::ApiResource, bool)> {
    let plural = match kind {
        "PersistentVolumeClaim" => "persistentvolumeclaims",
        "Event" => "events",
        _ => return None,
    };
    let (group, version) = av.split_once('/').unwrap_or(("", av));
    Some((
        kube::core::ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: av.into(),
            kind: kind.into(),
            plural: plural.into(),
        },
        true,
    ))
}

/// A running etcd + kube-apiserver pair, its credentials and the stand-in controllers.
pub struct RealApi {
    pub port: u16,
    pub rest: Rest,
    token: String,
    ca_pem: String,
    controllers: Option<controllers::Controllers>,
    // Drop order: the helper, then the API server, then etcd, then the files.
    apiserver: KillOnDrop,
    etcd: KillOnDrop,
    dir: tempfile::TempDir,
}

impl Drop for RealApi {
    fn drop(&mut self) {
        self.controllers.take();
    }
}

/// A CA, a serving certificate for 127.0.0.1 signed by it, and a service-account key:
/// (ca.crt, server.crt, server.key, sa.pub, sa.key) as PEM.
fn credentials() -> [String; 5] {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "dapr-cli tests kube CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut server =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server
        .signed_by(&server_key, &Issuer::new(ca, &ca_key))
        .unwrap();
    let sa_key = KeyPair::generate().unwrap();
    [
        ca_cert.pem(),
        server_cert.pem(),
        server_key.serialize_pem(),
        sa_key.public_key_pem(),
        sa_key.serialize_pem(),
    ]
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl RealApi {
    /// Start a cluster for test `test`, or print `SKIP` and return `None` when the
    /// binaries are not built (see the module docs).
    pub fn start(test: &str) -> Option<RealApi> {
        let (apiserver, etcd) = match binaries() {
            Ok(b) => b,
            Err(why) => {
                let msg = format!(
                    "{why} (build them with tests/peers/kube/build.sh, or set DAPR_KUBE_APISERVER and DAPR_ETCD)"
                );
                if std::env::var_os("DAPR_KUBE_REQUIRED").is_some() {
                    panic!("DAPR_KUBE_REQUIRED is set but {msg}");
                }
                let _ = writeln!(std::io::stderr(), "SKIP {test}: {msg}");
                return None;
            }
        };
        let mut last = String::new();
        // A free port can be taken between choosing and binding: try a few times.
        for _ in 0..3 {
            match RealApi::try_start(&apiserver, &etcd) {
                Ok(api) => return Some(api),
                Err(e) => last = e,
            }
        }
        panic!("the real API server did not start: {last}");
    }

    fn try_start(apiserver: &Path, etcd: &Path) -> Result<RealApi, String> {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let [ca, server_crt, server_key, sa_pub, sa_key] = credentials();
        for (name, text) in [
            ("ca.crt", &ca),
            ("server.crt", &server_crt),
            ("server.key", &server_key),
            ("sa.pub", &sa_pub),
            ("sa.key", &sa_key),
        ] {
            std::fs::write(d.join(name), text).unwrap();
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        std::fs::write(
            d.join("tokens.csv"),
            format!("{token},dapr-cli-tests,dapr-cli-tests,\"system:masters\"\n"),
        )
        .unwrap();

        let (client, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let etcd_log = d.join("etcd.log");
        let etcd = KillOnDrop(
            Command::new(etcd)
                .args(["--name", "test", "--data-dir"])
                .arg(d.join("etcd"))
                .args(["--listen-client-urls", &client_url])
                .args(["--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &peer_url])
                .args(["--initial-advertise-peer-urls", &peer_url])
                .args(["--initial-cluster", &format!("test={peer_url}")])
                .args(["--unsafe-no-fsync", "--log-level", "warn"])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&etcd_log).unwrap())
                .spawn()
                .map_err(|e| format!("cannot start etcd: {e}"))?,
        );

        let port = free_port();
        let log = d.join("kube-apiserver.log");
        let file = |n: &str| d.join(n).to_str().unwrap().to_string();
        let mut apiserver = KillOnDrop(
            Command::new(apiserver)
                .args(["--etcd-servers", &client_url])
                .args([
                    "--bind-address",
                    "127.0.0.1",
                    "--advertise-address",
                    "127.0.0.1",
                ])
                .args(["--secure-port", &port.to_string()])
                .args(["--tls-cert-file", &file("server.crt")])
                .args(["--tls-private-key-file", &file("server.key")])
                .args(["--cert-dir", &file("certs")])
                .args(["--token-auth-file", &file("tokens.csv")])
                .args(["--authorization-mode", "RBAC"])
                .args([
                    "--service-account-issuer",
                    "https://kubernetes.default.svc.cluster.local",
                ])
                .args(["--service-account-key-file", &file("sa.pub")])
                .args(["--service-account-signing-key-file", &file("sa.key")])
                .args(["--service-cluster-ip-range", "10.96.0.0/16"])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .map_err(|e| format!("cannot start kube-apiserver: {e}"))?,
        );

        let rest = Rest::new(format!("https://127.0.0.1:{port}"), token.clone(), &ca);
        let start = Instant::now();
        loop {
            if rest.call(reqwest::Method::GET, "/readyz", "", None).0 == 200 {
                break;
            }
            if let Ok(Some(st)) = apiserver.0.try_wait() {
                return Err(format!(
                    "kube-apiserver exited ({st}):\n{}\n--- etcd:\n{}",
                    tail(&log, 20),
                    tail(&etcd_log, 10)
                ));
            }
            if start.elapsed() > Duration::from_secs(90) {
                return Err(format!(
                    "kube-apiserver not ready after 90 s:\n{}",
                    tail(&log, 30)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let controllers = controllers::Controllers::start(rest.clone());
        Ok(RealApi {
            port,
            rest,
            token,
            ca_pem: ca,
            controllers: Some(controllers),
            apiserver,
            etcd,
            dir,
        })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The name of the kubeconfig's context for this server.
    pub const CONTEXT: &'static str = "real";

    /// Write a kubeconfig for this server: context `real` (current, namespace `default`,
    /// the CA inline and the token), plus an unused `other` context pointing nowhere.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\n- name: other\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: real\n  context:\n    cluster: real\n    user: tester\n    namespace: default\n- name: other\n  context:\n    cluster: other\n    user: tester\ncurrent-context: real\nusers:\n- name: tester\n  user:\n    token: {token}\n",
            url = self.url(),
            token = self.token,
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The API server's log so far (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.dir.path().join("kube-apiserver.log"), lines)
    }

    fn object_path(group: &str, plural: &str, namespace: &str, name: &str) -> String {
        format!("{}/{name}", collection_path(group, plural, namespace))
    }

    /// An object by group ("" for core), plural, namespace ("" for cluster) and name.
    pub fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.rest
            .get_path(&Self::object_path(group, plural, namespace, name))
    }

    pub fn exists(&self, group: &str, plural: &str, namespace: &str, name: &str) -> bool {
        self.get(group, plural, namespace, name).is_some()
    }

    /// All objects of one kind (every namespace).
    pub fn list(&self, group: &str, plural: &str) -> Vec<Value> {
        self.rest.list(group, plural, "")
    }

    /// Create an object as a client would; panics with the server's answer if refused.
    pub fn create(&self, obj: Value) {
        if let Err(e) = self.rest.create(&obj) {
            panic!("{e}");
        }
    }

    /// Merge-patch an object as another client would (e.g. sentry filling the trust bundle).
    pub fn merge(&self, group: &str, plural: &str, namespace: &str, name: &str, patch: Value) {
        let path = Self::object_path(group, plural, namespace, name);
        if let Err(e) = self.rest.merge_path(&path, &patch) {
            panic!("{e}");
        }
    }

    /// Delete an object as a client would (background propagation).
    pub fn delete(&self, group: &str, plural: &str, namespace: &str, name: &str) {
        let code = self
            .rest
            .delete_path(&Self::object_path(group, plural, namespace, name));
        assert!(code == 200 || code == 202 || code == 404, "DELETE: {code}");
    }
}

//! The one place the Kubernetes tests get a cluster from: the loopback fake
//! (`k8s_fake`, always there) or a real `kube-apiserver` with etcd (`k8s_real`, when
//! `tests/peers/kube/build.sh` has built them), behind one [`Cluster`] with a kubeconfig,
//! a temp dir and the same object helpers. [`on_both!`] runs one test body against both:
//! `<test>::fake` and `<test>::real`.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::k8s_fake::FakeApi;
use crate::k8s_real::RealApi;

/// The API server behind a [`Cluster`].
pub enum Backend {
    Fake(FakeApi),
    Real(RealApi),
}

impl Backend {
    /// An object by group ("" for core), plural, namespace ("" for cluster) and name.
    pub fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        match self {
            Backend::Fake(f) => f.get(group, plural, namespace, name),
            Backend::Real(r) => r.get(group, plural, namespace, name),
        }
    }

    pub fn exists(&self, group: &str, plural: &str, namespace: &str, name: &str) -> bool {
        self.get(group, plural, namespace, name).is_some()
    }

    /// Every object of one kind, all namespaces.
    pub fn list(&self, group: &str, plural: &str) -> Vec<Value> {
        match self {
            Backend::Fake(f) => f.list(group, plural),
            Backend::Real(r) => r.list(group, plural),
        }
    }

    /// Create an object as a client would.
    pub fn create(&self, obj: Value) {
        match self {
            Backend::Fake(f) => f.create(obj),
            Backend::Real(r) => r.create(obj),
        }
    }

    /// Merge-patch an object as another client would (e.g. sentry filling the trust bundle).
    pub fn merge(&self, group: &str, plural: &str, namespace: &str, name: &str, patch: Value) {
        match self {
            Backend::Fake(f) => f.merge(group, plural, namespace, name, patch),
            Backend::Real(r) => r.merge(group, plural, namespace, name, patch),
        }
    }

    pub fn delete(&self, group: &str, plural: &str, namespace: &str, name: &str) {
        match self {
            Backend::Fake(f) => f.delete(group, plural, namespace, name),
            Backend::Real(r) => r.delete(group, plural, namespace, name),
        }
    }

    /// The fake, for what only it can stage or record (requests, failing rollouts, 403s).
    pub fn fake(&self) -> Option<&FakeApi> {
        match self {
            Backend::Fake(f) => Some(f),
            Backend::Real(_) => None,
        }
    }
}

/// An API server, a kubeconfig for it and a temp dir, for one test.
pub struct Cluster {
    pub api: Backend,
    pub kubeconfig: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// A cluster on the fake API server.
    pub fn new() -> Cluster {
        let api = FakeApi::start();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = api.write_kubeconfig(dir.path());
        Cluster {
            api: Backend::Fake(api),
            kubeconfig,
            dir,
        }
    }

    /// A cluster on a real API server; `None` (after a `SKIP` line) when it is not built.
    pub fn real(test: &str) -> Option<Cluster> {
        let api = RealApi::start(test)?;
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = api.write_kubeconfig(dir.path());
        Some(Cluster {
            api: Backend::Real(api),
            kubeconfig,
            dir,
        })
    }

    /// The fake behind this cluster; panics on a real one.
    pub fn fake(&self) -> &FakeApi {
        self.api.fake().expect("a test of the fake only")
    }

    pub fn is_real(&self) -> bool {
        matches!(self.api, Backend::Real(_))
    }

    /// The kubeconfig's current context (the other one, `other`, points nowhere).
    pub fn context(&self) -> &'static str {
        if self.is_real() {
            RealApi::CONTEXT
        } else {
            "fake"
        }
    }

    pub fn options(&self) -> dapr_cli::kubernetes::client::ClusterOptions {
        dapr_cli::kubernetes::client::ClusterOptions {
            kubeconfig: Some(self.kubeconfig.clone()),
            context: None,
        }
    }

    /// `dapr init -k --wait --timeout 20` plus `extra`, through the binary.
    pub fn init(&self, extra: &[&str]) -> Output {
        let mut args = vec!["init", "-k", "--wait", "--timeout", "20"];
        args.extend_from_slice(extra);
        self.dapr(&args)
    }

    /// As `init`, and it must succeed.
    pub fn install(&self, extra: &[&str]) {
        let out = self.init(extra);
        assert!(
            out.status.success(),
            "dapr init -k {extra:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run the real `dapr` binary with `--kubeconfig` appended.
    pub fn dapr(&self, args: &[&str]) -> Output {
        Command::new(crate::support::bin("dapr"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("NO_COLOR", "1")
            .env("HOME", self.dir.path())
            .env("DAPR_RUNTIME_PATH", self.dir.path())
            .env_remove("KUBECONFIG")
            .env_remove("DAPR_RUNTIME_VERSION")
            .env_remove("DAPR_IMAGE_REGISTRY")
            .output()
            .unwrap()
    }
}

/// Run the test body `fn $body(c: &Cluster)` against the fake (`$body::fake`) and a real
/// API server (`$body::real`; a `SKIP` line when it is not built).
macro_rules! on_both {
    ($body:ident) => {
        mod $body {
            #[test]
            fn fake() {
                super::$body(&$crate::k8s_cluster::Cluster::new());
            }

            #[test]
            fn real() {
                if let Some(c) =
                    $crate::k8s_cluster::Cluster::real(concat!(module_path!(), "::real"))
                {
                    super::$body(&c);
                }
            }
        }
    };
}
pub(crate) use on_both;

//! Kubernetes back end: renders the embedded control-plane manifests, applies them with
//! server-side apply through `kube` (create / merge patch on a server without it), and
//! reads the cluster for `status`, `list`, `logs`, `components`, `configurations` and
//! `mtls`. Nothing here prints: results come back as data, progress and warnings go
//! through the `report::Reporter` the command layer implements. [`commands`] is the door
//! the `-k` commands use.
//!
//! Limits: no Helm. Installs are recognised by the control plane's `app` labels (the
//! same ones the official CLI reads), not by Helm release secrets, so an install made
//! by this CLI cannot be managed with `helm` and vice versa.
//!
//! * `manifests` — embedded YAML (`assets/kubernetes/`), rendering and apply order
//! * `client` — kubeconfig/context, errors, the table of kinds
//! * `apply` — server-side apply, deletes, readiness waits
//! * `status` — control-plane status rows, Dapr-enabled pods
//! * `resources` — components/configurations tables, trust bundle, certificate expiry
//! * `certs` — trust-chain generation for `mtls renew-certificate`
//! * `annotate` — the offline manifest annotator
//! * `commands` — one entry point per reading `-k` command, and the shared helpers
//! * `lifecycle` — `init`, `uninstall`, `upgrade`, `renew-certificate` (re-exported by `commands`)

pub mod annotate;
pub mod apply;
pub mod certs;
pub mod client;
pub mod commands;
pub mod lifecycle;
pub mod manifests;
pub mod resources;
pub mod status;

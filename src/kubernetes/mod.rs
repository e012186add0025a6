//! Kubernetes back end: renders the embedded control-plane manifests, applies them with
//! server-side apply through `kube` (create / merge patch on a server without it), and
//! reads the cluster for `status`, `list`, `logs`, `components`, `configurations` and
//! `mtls`. The back-end modules never print; progress goes through the
//! [`apply::Progress`] trait and results come back as data. Only [`commands`] (the entry
//! points the `-k` commands call) talks to the `Printer`.
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
//! * `commands` — one entry point per `-k` command

pub mod annotate;
pub mod apply;
pub mod certs;
pub mod client;
pub mod commands;
pub mod manifests;
pub mod resources;
pub mod status;

//! Kubernetes back end: renders the embedded control-plane manifests, applies them with
//! server-side apply through `kube`, and reads the cluster for `status`, `list`, `logs`,
//! `components`, `configurations` and `mtls`. It never prints; progress goes through the
//! [`apply::Progress`] trait and results come back as data.
//!
//! Limits: no Helm. Installs are recognised by the control plane's `app` labels (the
//! same ones the official CLI reads), not by Helm release secrets.

pub mod annotate;
pub mod apply;
pub mod certs;
pub mod client;
pub mod commands;
pub mod manifests;
pub mod resources;
pub mod status;

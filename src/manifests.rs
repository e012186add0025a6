//! Assets embedded in the binary (default component files; Kubernetes manifests live with
//! the Kubernetes back end).

//! Kubernetes back end (not implemented yet).

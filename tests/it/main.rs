//! The integration-test binary: one module per area. Every test starts real processes
//! (`dapr`, `daprd`, `redis-server`, sample apps) on free loopback ports.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

mod cli_k8s;
mod cli_k8s_real;
mod cli_publish;
mod cli_run;
mod cli_selfhosted;
mod cli_streams;
mod conformance;
mod fuzz_corpus;
mod installer;
mod interop_official;
mod interop_official_invoke;
mod k8s_cluster;
mod k8s_fake;
mod k8s_real;
mod resources;
mod sidecar_actor_timers;
mod sidecar_actors;
mod sidecar_api;
mod sidecar_bindings;
mod sidecar_e2e;
mod sidecar_grpc;
mod sidecar_grpc_app;
mod sidecar_hostile;
mod sidecar_invoke;
mod sidecar_jobs;
mod sidecar_lock_config;
mod sidecar_pubsub;
mod sidecar_sdk_actors;
mod sidecar_sdk_go;
mod sidecar_sdk_java;
mod sidecar_sdk_lock_config;
mod sidecar_sdk_pubsub;
mod sidecar_secrets;
mod sidecar_workflow_durability;
mod sidecar_workflows;

//! `daprd`: a Dapr-compatible sidecar.
//!
//! Reads like a start-up script: `config` (flags) → `runtime::build` (load components, bind
//! every port, failing early with the flag's name) → `runtime::run` (serve until SIGTERM,
//! SIGINT or `POST /v1.0/shutdown`) → drain. The API layer (`api`) is protocol-facing;
//! `components` hold the stores; `invoke` carries service invocation to other sidecars.
//! Nothing here depends on the CLI modules.

pub mod api;
pub mod components;
pub mod config;
pub mod invoke;
pub mod log;
pub mod runtime;

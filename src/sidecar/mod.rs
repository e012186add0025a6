//! `daprd`: a Dapr-compatible sidecar.
//!
//! Reads like a start-up script: `config` (flags) → `runtime::build` (read resources, start
//! components, bind every port, failing early with the flag's name) → `runtime::run` (serve
//! until SIGTERM, SIGINT or `POST /v1.0/shutdown`) → drain.
//!
//! * `resources`: every YAML kind daprd reads (Component, Configuration, ...);
//! * `components`: the registry of component types and the running components;
//! * `api`: one protocol-neutral API per building block under thin HTTP and gRPC adapters,
//!   one error table;
//! * `app_channel`: calls to this sidecar's own app, and its health;
//! * `invoke`: service invocation to other sidecars and name resolution;
//! * `pubsub`: the subscriptions a sidecar serves and the delivery of their events;
//! * `bindings`: output binding invocations and the input bindings a sidecar reads;
//! * `resiliency`: the one place outbound calls get their retry policy;
//! * `server`: accepting and serving connections with a sidecar's limits;
//! * `messages`, `body`, `log`: shared pieces.
//!
//! Nothing here depends on the CLI modules.

pub mod actors;
pub mod api;
pub mod app_channel;
pub mod bindings;
pub mod body;
pub mod components;
pub mod config;
pub mod invoke;
pub mod log;
pub mod messages;
pub mod pubsub;
pub mod resiliency;
pub mod resources;
pub mod runtime;
pub mod scheduler;
pub mod server;
pub mod workflows;

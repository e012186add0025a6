//! The sidecar's API layer: a protocol-neutral core (`core`) under a thin HTTP adapter
//! (`http`; gRPC later). Errors are typed where they arise and mapped to Dapr's
//! `{"errorCode","message"}` bodies and status codes in one table (`error`).

pub mod core;
pub mod error;
pub mod grpc;
pub mod http;

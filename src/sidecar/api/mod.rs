//! The sidecar's API layer: HTTP today (gRPC later), over the protocol-neutral components.
//! Errors are typed where they arise and mapped to Dapr's `{"errorCode","message"}` bodies
//! in one place (`error`).

pub mod error;
pub mod http;

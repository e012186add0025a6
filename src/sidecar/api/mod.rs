//! The sidecar's API: one protocol-neutral API per building block (`universal`), under
//! thin adapters that only decode requests and encode results (`http`, `grpc`; one module
//! per block in each), and one table of errors (`error`) both adapters render from.
//!
//! A new building block adds `universal/<block>.rs` (typed requests and responses, the
//! calls into its components), a field of [`universal::Api`], and `http/<block>.rs` plus
//! `grpc/<block>.rs` with the routes and RPCs.

pub mod error;
pub mod grpc;
pub mod http;
pub mod universal;

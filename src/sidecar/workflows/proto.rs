//! The generated Durable Task types and the `TaskHubSidecarService` server and client.
#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/_.rs"));

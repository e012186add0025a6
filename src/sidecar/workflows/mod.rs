//! Workflows.

pub mod proto;

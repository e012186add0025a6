//! State stores: one trait, several implementations, one conformance suite
//! (`tests/conformance.rs`) run against every one of them.
//!
//! Stores receive keys that the API layer has already prefixed (`appid||key`, see
//! `keyPrefix`), and values as opaque bytes: the API layer decides how JSON is encoded.
//! ETags are opaque strings to callers; each store mints its own (Redis: integers from 1,
//! SQLite and in-memory: UUIDs), as the official components do.

use std::collections::HashMap;

use async_trait::async_trait;
use bytes::Bytes;

pub mod memory;
pub mod redis;
pub mod sqlite;

/// Request-level metadata (`metadata.*` query parameters or body `metadata`).
pub type Metadata = HashMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Concurrency {
    FirstWrite,
    #[default]
    LastWrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    #[default]
    Eventual,
    Strong,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateOptions {
    pub concurrency: Concurrency,
    pub consistency: Consistency,
}

/// One write. `etag: None` (or an empty string, which the API layer maps to `None`) means
/// "no ETag given".
#[derive(Debug, Clone, Default)]
pub struct SetRequest {
    pub key: String,
    pub value: Bytes,
    pub etag: Option<String>,
    pub metadata: Metadata,
    pub options: StateOptions,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteRequest {
    pub key: String,
    pub etag: Option<String>,
    pub metadata: Metadata,
    pub options: StateOptions,
}

#[derive(Debug, Clone)]
pub enum TransactionOp {
    Upsert(SetRequest),
    Delete(DeleteRequest),
}

/// A value read back. `metadata` is returned to HTTP callers as `metadata.<k>` headers
/// (e.g. `ttlExpireTime`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetResponse {
    pub data: Bytes,
    pub etag: Option<String>,
    pub metadata: Metadata,
}

/// Capabilities reported in `GET /v1.0/metadata` (`components[].capabilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Etag,
    Transactional,
    Ttl,
    DeleteWithPrefix,
    KeysLike,
}

impl Feature {
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Etag => "ETAG",
            Feature::Transactional => "TRANSACTIONAL",
            Feature::Ttl => "TTL",
            Feature::DeleteWithPrefix => "DELETE_WITH_PREFIX",
            Feature::KeysLike => "KEYS_LIKE",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The ETag given does not match the stored one (HTTP 409, gRPC Aborted).
    #[error("possible etag mismatch. error from state store: {0}")]
    EtagMismatch(String),
    /// The ETag given cannot be an ETag of this store (HTTP 400, gRPC InvalidArgument).
    #[error("invalid etag value: {0}")]
    EtagInvalid(String),
    /// Bad request metadata, such as a non-numeric `ttlInSeconds` (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// Anything else: connection, I/O, corrupt data (HTTP 500).
    #[error("{0}")]
    Other(String),
}

#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// The component type, e.g. `state.redis`.
    fn component_type(&self) -> &'static str;
    fn features(&self) -> &'static [Feature];
    /// `Ok(None)` when the key does not exist (or has expired).
    async fn get(&self, key: &str, metadata: &Metadata) -> Result<Option<GetResponse>, StateError>;
    async fn set(&self, req: SetRequest) -> Result<(), StateError>;
    /// Deleting a missing key without an ETag succeeds.
    async fn delete(&self, req: DeleteRequest) -> Result<(), StateError>;
    /// All or nothing where the backend allows it (SQLite, in-memory); Redis runs the
    /// operations in one MULTI/EXEC like the official component.
    async fn transact(&self, ops: Vec<TransactionOp>, metadata: &Metadata) -> Result<(), StateError>;
    /// Flush and release resources on shutdown.
    async fn close(&self) {}
}

//! State stores: one trait, several implementations (each registered by one row in
//! `components::registry`), one conformance suite (`tests/it/conformance/state.rs`) run
//! against every one of them, and the key-prefix strategy (`keyPrefix`).
//!
//! Stores receive keys that the API layer has already prefixed (`appid||key`, see
//! `keyPrefix`), and values as opaque bytes: the API layer decides how JSON is encoded.
//! ETags are opaque strings to callers; each store mints its own (Redis: integers from 1,
//! SQLite and in-memory: UUIDs), as the official components do.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::Instance;
use super::registry::Context;
use crate::sidecar::resources::{Component, ResourceError};

pub mod memory;
pub mod redis;
pub mod sqlite;

/// Request-level metadata (`metadata.*` query parameters or body `metadata`).
pub type Metadata = HashMap<String, String>;

/// Write concurrency. `Unspecified` (the request named none) behaves as last-write, but
/// only an explicit `LastWrite` makes the Redis store ignore a given ETag, as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Concurrency {
    FirstWrite,
    LastWrite,
    #[default]
    Unspecified,
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

/// What a store is, declared once per implementation: its component type (e.g.
/// `state.redis`) and the capabilities it reports.
#[derive(Debug)]
pub struct StoreKind {
    pub component_type: &'static str,
    pub features: &'static [Feature],
}

#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    fn kind(&self) -> &'static StoreKind;
    /// The component type, e.g. `state.redis`.
    fn component_type(&self) -> &'static str {
        self.kind().component_type
    }
    fn features(&self) -> &'static [Feature] {
        self.kind().features
    }
    /// `Ok(None)` when the key does not exist (or has expired).
    async fn get(&self, key: &str, metadata: &Metadata) -> Result<Option<GetResponse>, StateError>;
    async fn set(&self, req: SetRequest) -> Result<(), StateError>;
    /// Deleting a missing key without an ETag succeeds.
    async fn delete(&self, req: DeleteRequest) -> Result<(), StateError>;
    /// All or nothing where the backend allows it (SQLite, in-memory); Redis runs the
    /// operations in one MULTI/EXEC like the official component.
    async fn transact(
        &self,
        ops: Vec<TransactionOp>,
        metadata: &Metadata,
    ) -> Result<(), StateError>;
    /// Flush and release resources on shutdown.
    async fn close(&self) {}
}

/// A running state store as the API uses it: the store and how keys are prefixed in it.
pub struct StateComponent {
    pub store: Arc<dyn StateStore>,
    pub prefix: KeyPrefix,
}

impl StateComponent {
    /// The instance a state factory's `create` returns.
    pub fn instance(
        store: Arc<dyn StateStore>,
        component: &Component,
        ctx: &Context,
    ) -> Result<Instance, ResourceError> {
        Ok(Instance::State(StateComponent {
            store,
            prefix: KeyPrefix::from_component(component, &ctx.app_id)?,
        }))
    }
}

/// The checks every state store shares (today: `keyPrefix`); each type's `validate` calls it.
pub fn validate_common(component: &Component, ctx: &Context) -> Result<(), ResourceError> {
    KeyPrefix::from_component(component, &ctx.app_id).map(|_| ())
}

/// Capabilities of a state store for metadata: its features, plus `ACTOR` when it has both
/// ETags and transactions (as upstream).
pub fn capabilities(features: &[Feature]) -> Vec<String> {
    let mut caps: Vec<String> = features.iter().map(|f| f.as_str().to_string()).collect();
    if features.contains(&Feature::Etag) && features.contains(&Feature::Transactional) {
        caps.push("ACTOR".into());
    }
    caps
}

/// How state keys are prefixed in the store (component metadata `keyPrefix`), so that keys
/// written by official daprd and by this one are the same: `appid` (default) ⇒
/// `<appid>||<key>`, `name` ⇒ `<component>||<key>`, `namespace` ⇒ `<NAMESPACE>.<appid>||<key>`
/// (the app id alone when `NAMESPACE` is unset), `none` ⇒ `<key>`, anything else `X` ⇒
/// `X||<key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefix {
    prefix: Option<String>,
}

impl KeyPrefix {
    pub fn from_component(component: &Component, app_id: &str) -> Result<KeyPrefix, ResourceError> {
        let raw = component.meta("keyPrefix").unwrap_or("").trim();
        let prefix = match raw.to_ascii_lowercase().as_str() {
            "" | "appid" => Some(app_id.to_string()),
            "name" => Some(component.name.clone()),
            "namespace" => match std::env::var("NAMESPACE").ok().filter(|n| !n.is_empty()) {
                Some(ns) => Some(format!("{ns}.{app_id}")),
                None => Some(app_id.to_string()),
            },
            "none" => None,
            _ => Some(raw.to_string()),
        };
        if let Some(p) = &prefix
            && p.contains("||")
        {
            return Err(component.field_error(
                "keyPrefix",
                format!("{p:?} must not contain '||'; use appid, name, namespace, none or a custom prefix"),
            ));
        }
        Ok(KeyPrefix { prefix })
    }

    /// The prefix itself (`None` for `keyPrefix: none`).
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// The key as stored: `<prefix>||<key>`.
    pub fn apply(&self, key: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}||{key}"),
            None => key.to_string(),
        }
    }

    /// The key as the app sees it: everything after the first `||` (upstream strips the first
    /// segment whatever it is, which matters for keys written with another prefix).
    pub fn strip<'a>(&self, stored: &'a str) -> &'a str {
        match (&self.prefix, stored.split_once("||")) {
            (Some(_), Some((_, rest))) => rest,
            _ => stored,
        }
    }
}

/// The largest TTL accepted, in seconds: the longest duration the official runtime can
/// represent (Go's `time.Duration`, about 292 years). Larger values would overflow the
/// expiry time of every store.
pub const MAX_TTL_SECONDS: i64 = i64::MAX / 1_000_000_000;

/// Checks a TTL in seconds: within [`MAX_TTL_SECONDS`] (negative values mean no expiry).
pub fn check_ttl(ttl: i64, what: &str) -> Result<i64, String> {
    if ttl > MAX_TTL_SECONDS {
        Err(format!(
            "{what} {ttl} is too large; the largest is {MAX_TTL_SECONDS} seconds (about 292 \
             years), or -1 for no expiry"
        ))
    } else {
        Ok(ttl)
    }
}

/// Request metadata `ttlInSeconds`: `None` when absent; a non-integer or an out-of-range
/// value is a bad request.
pub(crate) fn request_ttl(metadata: &Metadata) -> Result<Option<i64>, StateError> {
    match metadata.get("ttlInSeconds") {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => {
            let ttl = v.trim().parse::<i64>().map_err(|_| {
                StateError::BadRequest(format!(
                    "metadata ttlInSeconds {v:?} is not an integer; use seconds, or -1 for no expiry"
                ))
            })?;
            check_ttl(ttl, "metadata ttlInSeconds")
                .map(Some)
                .map_err(StateError::BadRequest)
        }
    }
}

/// `now` plus `ms` milliseconds, or `None` when that is not a representable time (a key
/// written elsewhere with an absurd TTL must not break reads).
pub(crate) fn expiry_after_ms(
    now: chrono::DateTime<chrono::Utc>,
    ms: i64,
) -> Option<chrono::DateTime<chrono::Utc>> {
    now.checked_add_signed(chrono::TimeDelta::try_milliseconds(ms)?)
}

/// `now` plus a TTL checked by [`request_ttl`] (which keeps it representable).
pub(crate) fn expiry_after_secs(
    now: chrono::DateTime<chrono::Utc>,
    secs: i64,
) -> Option<chrono::DateTime<chrono::Utc>> {
    now.checked_add_signed(chrono::TimeDelta::try_seconds(secs)?)
}

/// RFC 3339 UTC with seconds, as Go formats `ttlExpireTime`.
pub(crate) fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

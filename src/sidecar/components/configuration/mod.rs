//! Configuration stores: one trait, the implementations (today `configuration.redis`, each
//! registered by one row in `components::registry`) and one conformance suite
//! (`tests/it/conformance/configuration.rs`).
//!
//! A store answers reads of keys (no keys: every key) and pushes changes of the keys a
//! subscription names (no keys: every key) into the subscription's channel until
//! [`ConfigurationStore::unsubscribe`] drops it, which ends the receiving side.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::mpsc;

pub mod redis;

/// Request-level metadata (`metadata.*` query parameters or gRPC `metadata`).
pub type Metadata = HashMap<String, String>;

/// One configuration item as the official API shows it. JSON leaves out empty fields, as
/// Go's `omitempty` on upstream's `configuration.Item`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Item {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub metadata: HashMap<String, String>,
}

/// Items by key.
pub type Items = BTreeMap<String, Item>;

/// Where a subscription's changes go: one message per change, the changed keys' items (a
/// deleted key has an empty item).
pub type Updates = mpsc::UnboundedSender<Items>;

#[derive(Debug, thiserror::Error)]
pub enum ConfigurationError {
    /// No subscription with that id (unsubscribe).
    #[error("subscription with id {0} does not exist")]
    NoSubscription(String),
    #[error("{0}")]
    Other(String),
}

#[async_trait]
pub trait ConfigurationStore: Send + Sync + 'static {
    /// The items of `keys`, or of every key when `keys` is empty; keys without a value are
    /// left out.
    async fn get(&self, keys: &[String], metadata: &Metadata) -> Result<Items, ConfigurationError>;
    /// Starts pushing changes of `keys` (every key when empty) to `updates`; the
    /// subscription id.
    async fn subscribe(
        &self,
        keys: &[String],
        metadata: &Metadata,
        updates: Updates,
    ) -> Result<String, ConfigurationError>;
    /// Stops the subscription `id` (its channel closes).
    async fn unsubscribe(&self, id: &str) -> Result<(), ConfigurationError>;
    /// Capabilities reported in metadata (none for the official configuration stores).
    fn features(&self) -> Vec<String> {
        Vec::new()
    }
    /// Stops listening and releases connections on shutdown.
    async fn close(&self) {}
}

//! Secret stores: one trait, the self-hosted implementations (`secretstores.local.env`,
//! `secretstores.local.file`), each registered by one row in `components::registry`, and
//! one conformance suite (`tests/it/conformance/secretstores.rs`) run against both. They
//! serve the secrets API and resolve other components' `secretKeyRef`s.

pub mod env;
pub mod file;

use std::collections::BTreeMap;

use async_trait::async_trait;

/// One secret: its keys and values (a single-valued secret has one key, its own name).
pub type Secret = BTreeMap<String, String>;

/// Request-level metadata (`metadata.*` query parameters or gRPC metadata).
pub type Metadata = std::collections::HashMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No secret of that name (the official stores answer an error, as here).
    #[error("secret {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

#[async_trait]
pub trait SecretStore: Send + Sync + 'static {
    /// The secret `name`.
    async fn get(&self, name: &str, metadata: &Metadata) -> Result<Secret, SecretError>;
    /// Every secret of the store, by name.
    async fn bulk(&self, metadata: &Metadata) -> Result<BTreeMap<String, Secret>, SecretError>;
    /// Capabilities reported in metadata (e.g. `MULTIPLE_KEY_VALUES_PER_SECRET`).
    fn features(&self) -> Vec<String> {
        Vec::new()
    }
}

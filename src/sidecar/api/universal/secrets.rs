//! Secrets: one secret or all of them from a secret store, under the resiliency policy for
//! the component, within the Configuration's `secrets.scopes`: a secret the scope of its
//! store denies is refused (`ERR_PERMISSION_DENIED`), and left out of a bulk read.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::components::secretstores::{Metadata, Secret, SecretStore};
use crate::sidecar::components::{Category, ComponentStore};
use crate::sidecar::resiliency::{Outcome, Resiliency, Target};
use crate::sidecar::resources::configuration::SecretScope;

pub struct SecretsApi {
    components: Arc<ComponentStore>,
    resiliency: Resiliency,
    scopes: Vec<SecretScope>,
}

impl SecretsApi {
    pub fn new(components: Arc<ComponentStore>, resiliency: Resiliency) -> SecretsApi {
        SecretsApi {
            components,
            resiliency,
            scopes: Vec::new(),
        }
    }

    /// Applies the Configuration's `secrets.scopes`.
    pub fn set_scopes(&mut self, scopes: Vec<SecretScope>) {
        self.scopes = scopes;
    }

    /// Whether this app may read `key` from `store` (no scope for the store: yes).
    fn allowed(&self, store: &str, key: &str) -> bool {
        self.scopes
            .iter()
            .find(|s| s.store_name == store)
            .is_none_or(|s| s.allows(key))
    }

    fn store(&self, name: &str) -> Result<&Arc<dyn SecretStore>, ApiError> {
        if self.components.count(Category::SecretStores) == 0 {
            return Err(ApiError::secret_stores_not_configured());
        }
        self.components
            .secret_store(name)
            .ok_or_else(|| ApiError::secret_store_not_found(name))
    }

    pub async fn get(
        &self,
        store: &str,
        key: &str,
        metadata: &Metadata,
    ) -> Result<Secret, ApiError> {
        let s = self.store(store)?;
        if !self.allowed(store, key) {
            return Err(ApiError::secret_permission_denied(store, key));
        }
        self.resiliency
            .policy(Target::Component(store))
            .run(|_| async { Outcome::Done(s.get(key, metadata).await) })
            .await
            .map_err(|e| ApiError::secret_get(store, key, e))
    }

    pub async fn bulk(
        &self,
        store: &str,
        metadata: &Metadata,
    ) -> Result<BTreeMap<String, Secret>, ApiError> {
        let s = self.store(store)?;
        self.resiliency
            .policy(Target::Component(store))
            .run(|_| async { Outcome::Done(s.bulk(metadata).await) })
            .await
            .map(|mut all| {
                all.retain(|key, _| self.allowed(store, key));
                all
            })
            .map_err(|e| ApiError::secret_bulk_get(store, e))
    }
}

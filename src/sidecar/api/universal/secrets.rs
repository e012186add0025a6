//! Secrets: one secret or all of them from a secret store, under the resiliency policy for
//! the component. Limits: Configuration `secrets.scopes` (per-app access policies) are not
//! applied yet.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::components::secretstores::{Metadata, Secret, SecretStore};
use crate::sidecar::components::{Category, ComponentStore};
use crate::sidecar::resiliency::{Outcome, Resiliency, Target};

pub struct SecretsApi {
    components: Arc<ComponentStore>,
    resiliency: Resiliency,
}

impl SecretsApi {
    pub fn new(components: Arc<ComponentStore>, resiliency: Resiliency) -> SecretsApi {
        SecretsApi {
            components,
            resiliency,
        }
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
            .map_err(|e| ApiError::secret_bulk_get(store, e))
    }
}

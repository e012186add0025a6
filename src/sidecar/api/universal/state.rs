//! State management: save, get, bulk get, delete, transactions and the (unsupported)
//! query API over the state stores of the component store. Validates keys, applies the
//! component's key prefix, calls the store under the resiliency policy for the component,
//! and turns store errors into rows of the error table. How values are encoded on the wire
//! (JSON re-serialisation over HTTP, raw bytes over gRPC) is the adapters' business.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::components::state::{
    DeleteRequest, Feature, GetResponse, Metadata, SetRequest, StateComponent, StateError,
    TransactionOp,
};
use crate::sidecar::components::{Category, ComponentStore};
use crate::sidecar::resiliency::{Outcome, Resiliency, Target};

/// One result of a bulk get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItem {
    pub key: String,
    pub data: Option<Bytes>,
    pub etag: Option<String>,
    pub metadata: Metadata,
    pub error: Option<String>,
}

pub struct StateApi {
    app_id: String,
    components: Arc<ComponentStore>,
    resiliency: Resiliency,
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.contains("||") {
        Err(ApiError::illegal_key(key))
    } else {
        Ok(())
    }
}

impl StateApi {
    pub fn new(app_id: &str, components: Arc<ComponentStore>, resiliency: Resiliency) -> Self {
        StateApi {
            app_id: app_id.to_string(),
            components,
            resiliency,
        }
    }

    /// The store named `name`, or the table's error for a missing one.
    pub fn store(&self, name: &str) -> Result<&StateComponent, ApiError> {
        if self.components.count(Category::State) == 0 {
            return Err(ApiError::state_store_not_configured(name, &self.app_id));
        }
        self.components
            .state(name)
            .ok_or_else(|| ApiError::state_store_not_found(name, &self.app_id))
    }

    /// One store call under the resiliency policy for the component.
    async fn call<T, F, Fut>(&self, store: &str, mut f: F) -> Result<T, StateError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StateError>>,
    {
        self.resiliency
            .policy(Target::Component(store))
            .run(|_| {
                let call = f();
                async move { Outcome::Done(call.await) }
            })
            .await
    }

    /// Saves items one after the other (not atomically, as upstream's bulk set).
    pub async fn save(&self, store: &str, items: Vec<SetRequest>) -> Result<(), ApiError> {
        let entry = self.store(store)?;
        for item in &items {
            check_key(&item.key)?;
        }
        for mut item in items {
            item.key = entry.prefix.apply(&item.key);
            self.call(store, || entry.store.set(item.clone()))
                .await
                .map_err(|e| ApiError::state_save(store, &e))?;
        }
        Ok(())
    }

    /// `Ok(None)` when the key does not exist.
    pub async fn get(
        &self,
        store: &str,
        key: &str,
        metadata: &Metadata,
    ) -> Result<Option<GetResponse>, ApiError> {
        let entry = self.store(store)?;
        check_key(key)?;
        let stored = entry.prefix.apply(key);
        self.call(store, || entry.store.get(&stored, metadata))
            .await
            .map_err(|e| ApiError::state_get(store, key, &e))
    }

    /// Reads `keys` with at most `parallelism` reads in flight; per-key failures are
    /// reported in the item, not as an error of the call.
    pub async fn bulk_get(
        &self,
        store: &str,
        keys: Vec<String>,
        parallelism: usize,
        metadata: &Metadata,
    ) -> Result<Vec<BulkItem>, ApiError> {
        let entry = self.store(store)?;
        for k in &keys {
            check_key(k)?;
        }
        let reads = keys.into_iter().map(|key| async move {
            let stored = entry.prefix.apply(&key);
            let got = self
                .call(store, || entry.store.get(&stored, metadata))
                .await;
            let (data, etag, metadata, error) = match got {
                Ok(Some(r)) => (Some(r.data), r.etag, r.metadata, None),
                Ok(None) => (None, None, Metadata::new(), None),
                Err(e) => (None, None, Metadata::new(), Some(e.to_string())),
            };
            BulkItem {
                key,
                data,
                etag,
                metadata,
                error,
            }
        });
        Ok(futures_util::stream::iter(reads)
            .buffered(parallelism.max(1))
            .collect()
            .await)
    }

    pub async fn delete(&self, store: &str, mut req: DeleteRequest) -> Result<(), ApiError> {
        let entry = self.store(store)?;
        check_key(&req.key)?;
        let key = std::mem::take(&mut req.key);
        req.key = entry.prefix.apply(&key);
        self.call(store, || entry.store.delete(req.clone()))
            .await
            .map_err(|e| ApiError::state_delete(&key, &e))
    }

    /// Deletes one by one, as upstream's default bulk delete; the first failure stops.
    pub async fn bulk_delete(&self, store: &str, reqs: Vec<DeleteRequest>) -> Result<(), ApiError> {
        for req in reqs {
            self.delete(store, req).await?;
        }
        Ok(())
    }

    pub async fn transact(
        &self,
        store: &str,
        mut ops: Vec<TransactionOp>,
        metadata: &Metadata,
    ) -> Result<(), ApiError> {
        let entry = self.store(store)?;
        if !entry.store.features().contains(&Feature::Transactional) {
            return Err(ApiError::state_store_not_transactional(store));
        }
        for op in &mut ops {
            let key = match op {
                TransactionOp::Upsert(r) => &mut r.key,
                TransactionOp::Delete(r) => &mut r.key,
            };
            check_key(key)?;
            *key = entry.prefix.apply(key);
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.call(store, || entry.store.transact(ops.clone(), metadata))
            .await
            .map_err(|e| ApiError::state_transaction(&e))
    }

    /// None of the stores this daprd implements supports the query API (as upstream for
    /// in-memory and sqlite; Redis needs RedisJSON, which is not supported here).
    pub fn query(&self, store: &str) -> Result<(), ApiError> {
        self.store(store)?;
        Err(ApiError::state_query_unsupported())
    }
}

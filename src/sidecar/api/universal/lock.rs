//! Distributed lock (alpha): `TryLock` and `Unlock` with upstream's validation order
//! (expiry first, then a lock store configured, resource id, owner, the store by name) and
//! its lock keys (`lock||<appid>||<resource>`, component metadata `keyPrefix`). Every store
//! call goes through the resiliency policy for the component.

use std::sync::Arc;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::components::lock::{LockComponent, UnlockStatus};
use crate::sidecar::components::{Category, ComponentStore};
use crate::sidecar::resiliency::{Outcome, Resiliency, Target};

/// `TryLockRequest` / `UnlockRequest` (no expiry for unlock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockRequest {
    pub store_name: String,
    pub resource_id: String,
    pub lock_owner: String,
    pub expiry_in_seconds: i32,
}

pub struct LockApi {
    app_id: String,
    components: Arc<ComponentStore>,
    resiliency: Resiliency,
}

impl LockApi {
    pub fn new(app_id: &str, components: Arc<ComponentStore>, resiliency: Resiliency) -> LockApi {
        LockApi {
            app_id: app_id.to_string(),
            components,
            resiliency,
        }
    }

    fn store(&self, req: &LockRequest) -> Result<&LockComponent, ApiError> {
        if self.components.count(Category::Lock) == 0 {
            return Err(ApiError::lock_store_not_configured(&req.store_name));
        }
        if req.resource_id.is_empty() {
            return Err(ApiError::lock_resource_id_empty());
        }
        if req.lock_owner.is_empty() {
            return Err(ApiError::lock_owner_empty());
        }
        self.components
            .lock(&req.store_name)
            .ok_or_else(|| ApiError::lock_store_not_found(&req.store_name))
    }

    /// `true` when this call took the lock.
    pub async fn try_lock(&self, req: &LockRequest) -> Result<bool, ApiError> {
        if req.expiry_in_seconds <= 0 {
            return Err(ApiError::lock_expiry_not_positive());
        }
        let lock = self.store(req)?;
        let key = lock
            .prefix
            .key(&req.resource_id)
            .map_err(|e| ApiError::try_lock(&self.app_id, e))?;
        self.resiliency
            .policy(Target::Component(&req.store_name))
            .run(|_| async {
                Outcome::Done(
                    lock.store
                        .try_lock(&key, &req.lock_owner, req.expiry_in_seconds)
                        .await,
                )
            })
            .await
            .map_err(|e| ApiError::try_lock(&self.app_id, e))
    }

    pub async fn unlock(&self, req: &LockRequest) -> Result<UnlockStatus, ApiError> {
        let lock = self.store(req)?;
        let key = lock
            .prefix
            .key(&req.resource_id)
            .map_err(|e| ApiError::unlock(&self.app_id, e))?;
        self.resiliency
            .policy(Target::Component(&req.store_name))
            .run(|_| async { Outcome::Done(lock.store.unlock(&key, &req.lock_owner).await) })
            .await
            .map_err(|e| ApiError::unlock(&self.app_id, e))
    }
}

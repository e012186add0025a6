//! `TryLockAlpha1` and `UnlockAlpha1`.

use dapr::dapr::proto::runtime::v1 as pb;
use tonic::Status;

use crate::sidecar::api::universal::Api;
use crate::sidecar::api::universal::lock::LockRequest;

pub async fn try_lock(api: &Api, r: pb::TryLockRequest) -> Result<pb::TryLockResponse, Status> {
    let success = api
        .lock
        .try_lock(&LockRequest {
            store_name: r.store_name,
            resource_id: r.resource_id,
            lock_owner: r.lock_owner,
            expiry_in_seconds: r.expiry_in_seconds,
        })
        .await?;
    Ok(pb::TryLockResponse { success })
}

pub async fn unlock(api: &Api, r: pb::UnlockRequest) -> Result<pb::UnlockResponse, Status> {
    let status = api
        .lock
        .unlock(&LockRequest {
            store_name: r.store_name,
            resource_id: r.resource_id,
            lock_owner: r.lock_owner,
            expiry_in_seconds: 0,
        })
        .await?;
    Ok(pb::UnlockResponse {
        status: status as i32,
    })
}

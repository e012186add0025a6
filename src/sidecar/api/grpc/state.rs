//! State RPCs: `GetState`, `GetBulkState`, `SaveState`, `DeleteState`,
//! `DeleteBulkState`, `ExecuteStateTransaction`. Semantics follow the official gRPC API
//! where it differs from HTTP: `SaveState` stores the value bytes verbatim unless the item's
//! metadata says `contentType=application/json`; `GetState` of a missing key is an empty
//! response, not an error.

use bytes::Bytes;
use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use serde_json::Value;
use tonic::Status;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::api::universal::Api;
use crate::sidecar::components::state::{
    Concurrency, Consistency, DeleteRequest, Metadata, SetRequest, StateOptions, TransactionOp,
};

const JSON: &str = "application/json";

fn concurrency(v: i32) -> Concurrency {
    match common::state_options::StateConcurrency::try_from(v) {
        Ok(common::state_options::StateConcurrency::ConcurrencyFirstWrite) => {
            Concurrency::FirstWrite
        }
        Ok(common::state_options::StateConcurrency::ConcurrencyLastWrite) => Concurrency::LastWrite,
        _ => Concurrency::Unspecified,
    }
}

fn consistency(v: i32) -> Consistency {
    match common::state_options::StateConsistency::try_from(v) {
        Ok(common::state_options::StateConsistency::ConsistencyStrong) => Consistency::Strong,
        _ => Consistency::Eventual,
    }
}

fn options(o: Option<common::StateOptions>) -> StateOptions {
    match o {
        None => StateOptions::default(),
        Some(o) => StateOptions {
            concurrency: concurrency(o.concurrency),
            consistency: consistency(o.consistency),
        },
    }
}

fn etag(e: Option<common::Etag>) -> Option<String> {
    e.map(|e| e.value).filter(|v| !v.is_empty())
}

fn require_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        Err(ApiError::bad_field("\"key\" is a required field"))
    } else {
        Ok(())
    }
}

/// The stored bytes of a gRPC write: verbatim, or compact re-serialised JSON when the item
/// says `contentType=application/json` (as upstream, which decodes such values first).
fn stored_value(value: Vec<u8>, metadata: &Metadata) -> Result<Bytes, ApiError> {
    let json = metadata
        .get("contentType")
        .is_some_and(|c| c.eq_ignore_ascii_case(JSON));
    if !json {
        return Ok(Bytes::from(value));
    }
    let v: Value = serde_json::from_slice(&value).map_err(|e| {
        ApiError::bad_field(format!(
            "value is not valid JSON although metadata contentType is {JSON}: {e}"
        ))
    })?;
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(ApiError::malformed_request)
}

fn set_request(item: common::StateItem) -> Result<SetRequest, ApiError> {
    require_key(&item.key)?;
    Ok(SetRequest {
        value: stored_value(item.value, &item.metadata)?,
        key: item.key,
        etag: etag(item.etag),
        metadata: item.metadata,
        options: options(item.options),
    })
}

fn delete_request(item: common::StateItem) -> Result<DeleteRequest, ApiError> {
    require_key(&item.key)?;
    Ok(DeleteRequest {
        key: item.key,
        etag: etag(item.etag),
        metadata: item.metadata,
        options: options(item.options),
    })
}

pub async fn get(api: &Api, r: pb::GetStateRequest) -> Result<pb::GetStateResponse, Status> {
    require_key(&r.key)?;
    let got = api.state.get(&r.store_name, &r.key, &r.metadata).await?;
    Ok(match got {
        Some(g) => pb::GetStateResponse {
            data: g.data.to_vec(),
            etag: g.etag.unwrap_or_default(),
            metadata: g.metadata,
        },
        None => pb::GetStateResponse::default(),
    })
}

pub async fn get_bulk(
    api: &Api,
    r: pb::GetBulkStateRequest,
) -> Result<pb::GetBulkStateResponse, Status> {
    let parallelism = usize::try_from(r.parallelism)
        .ok()
        .filter(|p| *p > 0)
        .unwrap_or(100);
    let items = api
        .state
        .bulk_get(&r.store_name, r.keys, parallelism, &r.metadata)
        .await?
        .into_iter()
        .map(|i| pb::BulkStateItem {
            key: i.key,
            data: i.data.map(|d| d.to_vec()).unwrap_or_default(),
            etag: i.etag.unwrap_or_default(),
            error: i.error.unwrap_or_default(),
            metadata: i.metadata,
        })
        .collect();
    Ok(pb::GetBulkStateResponse { items })
}

pub async fn save(api: &Api, r: pb::SaveStateRequest) -> Result<(), Status> {
    api.state.store(&r.store_name)?;
    let items = r
        .states
        .into_iter()
        .map(set_request)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(api.state.save(&r.store_name, items).await?)
}

pub async fn delete(api: &Api, r: pb::DeleteStateRequest) -> Result<(), Status> {
    api.state.store(&r.store_name)?;
    require_key(&r.key)?;
    let req = DeleteRequest {
        key: r.key,
        etag: etag(r.etag),
        metadata: r.metadata,
        options: options(r.options),
    };
    Ok(api.state.delete(&r.store_name, req).await?)
}

pub async fn delete_bulk(api: &Api, r: pb::DeleteBulkStateRequest) -> Result<(), Status> {
    api.state.store(&r.store_name)?;
    let reqs = r
        .states
        .into_iter()
        .map(delete_request)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(api.state.bulk_delete(&r.store_name, reqs).await?)
}

pub async fn transact(api: &Api, r: pb::ExecuteStateTransactionRequest) -> Result<(), Status> {
    api.state.store(&r.store_name)?;
    let mut ops = Vec::with_capacity(r.operations.len());
    for op in r.operations {
        let item = op.request.unwrap_or_default();
        ops.push(match op.operation_type.as_str() {
            "upsert" => TransactionOp::Upsert(set_request(item)?),
            "delete" => TransactionOp::Delete(delete_request(item)?),
            other => return Err(ApiError::unsupported_state_operation(other).into()),
        });
    }
    Ok(api.state.transact(&r.store_name, ops, &r.metadata).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_reencoded_only_when_declared() {
        let mut m = Metadata::new();
        assert_eq!(
            stored_value(b"{ \"a\" : 1 }".to_vec(), &m).unwrap(),
            &b"{ \"a\" : 1 }"[..]
        );
        m.insert("contentType".into(), JSON.into());
        assert_eq!(
            stored_value(b"{ \"a\" : 1 }".to_vec(), &m).unwrap(),
            &b"{\"a\":1}"[..]
        );
        assert!(stored_value(b"nope".to_vec(), &m).is_err());
    }
}

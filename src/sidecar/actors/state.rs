//! Actor state in the state store marked `actorStateStore: "true"`: keys
//! `<appid>||<type>||<id>||<key>` (the component's `keyPrefix` does not apply), every
//! operation with metadata `partitionKey=<appid>||<type>||<id>`, as upstream. Reads need no
//! active actor; a transaction needs the actor active on this sidecar
//! (`ERR_ACTOR_INSTANCE_MISSING`). `ttlInSeconds` needs the `ActorStateTTL` feature.

use bytes::Bytes;

use super::ActorRuntime;
use crate::sidecar::api::error::ApiError;
use crate::sidecar::components::state::{
    DeleteRequest, Metadata, SetRequest, StateComponent, TransactionOp,
};

/// One operation of a transaction, decoded by the adapters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorStateOp {
    Upsert {
        key: String,
        /// Stored as given (the HTTP adapter re-serialises the JSON value first).
        value: Bytes,
        etag: Option<String>,
        metadata: Metadata,
    },
    Delete {
        key: String,
        etag: Option<String>,
    },
}

/// A value read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActorStateValue {
    /// `None` when the key does not exist.
    pub data: Option<Bytes>,
    pub metadata: Metadata,
}

const NOT_CONFIGURED: &str = "actors: state store does not exist or incorrectly configured. \
     Have you set the property '{\"name\": \"actorStateStore\", \"value\": \"true\"}' in your \
     state store component file?";

impl ActorRuntime {
    fn actor_store(&self) -> Result<&StateComponent, String> {
        self.components
            .actor_state_store()
            .map(|(_, s)| s)
            .ok_or_else(|| NOT_CONFIGURED.to_string())
    }

    fn base_key(&self, actor_type: &str, actor_id: &str) -> String {
        format!("{}||{actor_type}||{actor_id}", self.app_id)
    }

    pub async fn get_state(
        &self,
        actor_type: &str,
        actor_id: &str,
        key: &str,
    ) -> Result<ActorStateValue, ApiError> {
        self.hosting().await?;
        let store = self.actor_store().map_err(ApiError::actor_state_get)?;
        let base = self.base_key(actor_type, actor_id);
        let meta = Metadata::from([("partitionKey".to_string(), base.clone())]);
        let got = store
            .store
            .get(&format!("{base}||{key}"), &meta)
            .await
            .map_err(ApiError::actor_state_get)?;
        Ok(match got {
            None => ActorStateValue::default(),
            Some(r) => ActorStateValue {
                data: Some(r.data),
                metadata: r.metadata,
            },
        })
    }

    pub async fn transact_state(
        &self,
        actor_type: &str,
        actor_id: &str,
        ops: Vec<ActorStateOp>,
    ) -> Result<(), ApiError> {
        self.hosting().await?;
        if !self.is_active(actor_type, actor_id) {
            return Err(ApiError::actor_instance_missing());
        }
        let base = self.base_key(actor_type, actor_id);
        let partition = Metadata::from([("partitionKey".to_string(), base.clone())]);
        let mut store_ops = Vec::with_capacity(ops.len());
        for op in ops {
            store_ops.push(match op {
                ActorStateOp::Upsert {
                    key,
                    value,
                    etag,
                    mut metadata,
                } => {
                    if key.is_empty() {
                        return Err(ApiError::actor_state_transaction("missing key"));
                    }
                    if !self.state_ttl && metadata.contains_key("ttlInSeconds") {
                        return Err(ApiError::actor_state_transaction(
                            "ttlInSeconds is not supported without the \"ActorStateTTL\" feature enabled",
                        ));
                    }
                    metadata.extend(partition.clone());
                    TransactionOp::Upsert(SetRequest {
                        key: format!("{base}||{key}"),
                        value,
                        etag: etag.filter(|e| !e.is_empty()),
                        metadata,
                        ..Default::default()
                    })
                }
                ActorStateOp::Delete { key, etag } => {
                    if key.is_empty() {
                        return Err(ApiError::actor_state_transaction("missing key"));
                    }
                    TransactionOp::Delete(DeleteRequest {
                        key: format!("{base}||{key}"),
                        etag: etag.filter(|e| !e.is_empty()),
                        metadata: partition.clone(),
                        ..Default::default()
                    })
                }
            });
        }
        let store = self
            .actor_store()
            .map_err(ApiError::actor_state_transaction)?;
        store
            .store
            .transact(store_ops, &partition)
            .await
            .map_err(ApiError::actor_state_transaction)
    }
}

//! `InvokeActor`, `GetActorState` and `ExecuteActorStateTransaction`. Request metadata
//! becomes the app call's headers; upsert values (`Any.value`) are stored as given. An app
//! error reply marked `X-DaprErrorResponseHeader` has no gRPC form of its own: it answers
//! `ERR_ACTOR_INVOKE_METHOD` with the app's status and body in the message.

use bytes::Bytes;
use dapr::dapr::proto::runtime::v1 as pb;
use http::{HeaderMap, HeaderName, HeaderValue};
use tonic::Status;

use crate::sidecar::actors::reminders::{BYTES_VALUE, Reminder, ReminderRequest};
use crate::sidecar::actors::state::ActorStateOp;
use crate::sidecar::actors::timers::TimerRequest;
use crate::sidecar::actors::{ActorCall, CallError};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::api::universal::Api;

pub async fn invoke(
    api: &Api,
    r: pb::InvokeActorRequest,
) -> Result<pb::InvokeActorResponse, Status> {
    let mut headers = HeaderMap::new();
    for (k, v) in &r.metadata {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
            headers.append(k, v);
        }
    }
    let call = ActorCall {
        actor_type: r.actor_type,
        actor_id: r.actor_id,
        method: r.method,
        query: None,
        headers,
        body: Bytes::from(r.data),
    };
    match api.actors.invoke(call).await {
        Ok(reply) => Ok(pb::InvokeActorResponse {
            data: reply.body.to_vec(),
        }),
        Err(CallError::Api(e)) => Err(e.into()),
        Err(CallError::App(reply)) => Err(ApiError::actor_invoke(reply.error_text()).into()),
    }
}

pub async fn get_state(
    api: &Api,
    r: pb::GetActorStateRequest,
) -> Result<pb::GetActorStateResponse, Status> {
    let v = api
        .actors
        .get_state(&r.actor_type, &r.actor_id, &r.key)
        .await?;
    Ok(pb::GetActorStateResponse {
        data: v.data.map(|d| d.to_vec()).unwrap_or_default(),
        metadata: v.metadata,
    })
}

pub async fn transact(api: &Api, r: pb::ExecuteActorStateTransactionRequest) -> Result<(), Status> {
    let mut ops = Vec::with_capacity(r.operations.len());
    for op in r.operations {
        ops.push(match op.operation_type.as_str() {
            "upsert" => ActorStateOp::Upsert {
                key: op.key,
                value: Bytes::from(op.value.map(|v| v.value).unwrap_or_default()),
                etag: None,
                metadata: op.metadata,
            },
            "delete" => ActorStateOp::Delete {
                key: op.key,
                etag: None,
            },
            other => {
                return Err(Status::unimplemented(format!(
                    "operation type {other} not supported"
                )));
            }
        });
    }
    api.actors
        .transact_state(&r.actor_type, &r.actor_id, ops)
        .await?;
    Ok(())
}

/// gRPC `bytes data` reaches the app JSON-encoded (a base64 string), as upstream's
/// `json.Marshal([]byte)`; no data stays absent.
pub(super) fn bytes_as_json(data: &[u8]) -> Option<String> {
    use base64::Engine;
    (!data.is_empty()).then(|| {
        serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(data))
            .to_string()
    })
}

pub async fn register_timer(api: &Api, r: pb::RegisterActorTimerRequest) -> Result<(), Status> {
    let req = TimerRequest {
        data: bytes_as_json(&r.data),
        actor_type: r.actor_type,
        actor_id: r.actor_id,
        name: r.name,
        due_time: r.due_time,
        period: r.period,
        ttl: r.ttl,
        callback: r.callback,
    };
    Ok(api.actors.create_timer(req).await?)
}

pub async fn unregister_timer(api: &Api, r: pb::UnregisterActorTimerRequest) -> Result<(), Status> {
    Ok(api
        .actors
        .delete_timer(&r.actor_type, &r.actor_id, &r.name)
        .await?)
}

pub async fn register_reminder(
    api: &Api,
    r: pb::RegisterActorReminderRequest,
) -> Result<(), Status> {
    let failure_policy = super::jobs::policy(r.failure_policy);
    let req = ReminderRequest {
        data: bytes_as_json(&r.data),
        actor_type: r.actor_type,
        actor_id: r.actor_id,
        name: r.name,
        due_time: r.due_time,
        period: r.period,
        ttl: r.ttl,
        overwrite: r.overwrite,
        failure_policy,
    };
    Ok(api.actors.create_reminder(req).await?)
}

pub async fn unregister_reminder(
    api: &Api,
    r: pb::UnregisterActorReminderRequest,
) -> Result<(), Status> {
    Ok(api
        .actors
        .delete_reminder(&r.actor_type, &r.actor_id, &r.name)
        .await?)
}

/// Reminder data as upstream answers it: an `Any` holding a `BytesValue` of the JSON.
fn reminder_data(r: &Reminder) -> Option<prost_types::Any> {
    use prost::Message;
    r.data.as_ref().map(|d| prost_types::Any {
        type_url: BYTES_VALUE.into(),
        value: d.as_bytes().to_vec().encode_to_vec(),
    })
}

pub async fn get_reminder(
    api: &Api,
    r: pb::GetActorReminderRequest,
) -> Result<pb::GetActorReminderResponse, Status> {
    let rem = api
        .actors
        .get_reminder(&r.actor_type, &r.actor_id, &r.name)
        .await?;
    Ok(pb::GetActorReminderResponse {
        data: reminder_data(&rem),
        actor_type: rem.actor_type,
        actor_id: rem.actor_id,
        due_time: rem.due_time,
        period: rem.period,
        ttl: rem.ttl,
    })
}

pub async fn list_reminders(
    api: &Api,
    r: pb::ListActorRemindersRequest,
) -> Result<pb::ListActorRemindersResponse, Status> {
    let list = api
        .actors
        .list_reminders(&r.actor_type, r.actor_id.as_deref())
        .await?;
    Ok(pb::ListActorRemindersResponse {
        reminders: list
            .into_iter()
            .map(|rem| pb::NamedActorReminder {
                name: rem.name.clone(),
                reminder: Some(pb::ActorReminder {
                    data: reminder_data(&rem),
                    actor_type: rem.actor_type,
                    actor_id: rem.actor_id,
                    due_time: rem.due_time,
                    period: rem.period,
                    ttl: rem.ttl,
                }),
            })
            .collect(),
    })
}

pub async fn unregister_reminders_by_type(
    api: &Api,
    r: pb::UnregisterActorRemindersByTypeRequest,
) -> Result<pb::UnregisterActorRemindersByTypeResponse, Status> {
    api.actors
        .delete_reminders(&r.actor_type, r.actor_id.as_deref())
        .await?;
    Ok(pb::UnregisterActorRemindersByTypeResponse {})
}

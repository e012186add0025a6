//! Actor routes: `/v1.0/actors/{type}/{id}/method/{method}` (GET, POST, PUT, DELETE: the
//! body, query and headers go to the app, whose status, headers and body come back),
//! `/v1.0/actors/{type}/{id}/state` (POST, PUT: a JSON array of `upsert`/`delete`
//! operations, 204) and `/v1.0/actors/{type}/{id}/state/{key}` (GET: 200 with the stored
//! JSON, 204 when missing, metadata as `metadata.<k>` headers). Field names of the
//! operations are matched case-insensitively, as Go's decoder does; upsert values are
//! stored as their JSON text. Timers (`.../timers/{name}`: POST, PUT, DELETE) and reminders
//! (`.../reminders/{name}`: POST, PUT, GET, DELETE) take upstream's JSON bodies.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Map, Value};

use super::edge::read_body;
use super::{HttpState, St, empty_or_error, json_response};
use crate::sidecar::actors::reminders::ReminderRequest;
use crate::sidecar::actors::state::ActorStateOp;
use crate::sidecar::actors::timers::TimerRequest;
use crate::sidecar::actors::{ActorCall, CallError};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::components::state::Metadata;

pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/method/{method}",
            get(invoke).post(invoke).put(invoke).delete(invoke),
        )
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/state",
            post(transaction).put(transaction),
        )
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/state/{key}",
            get(get_state),
        )
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/reminders/{name}",
            post(create_reminder)
                .put(create_reminder)
                .get(get_reminder)
                .delete(delete_reminder),
        )
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/timers/{name}",
            post(create_timer).put(create_timer).delete(delete_timer),
        )
}

async fn create_reminder(
    State(s): St,
    Path((actor_type, actor_id, name)): Path<(String, String, String)>,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_body(&s, body).await?;
        let m = body_object(&bytes)?;
        let overwrite = match member(&m, "overwrite") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(ApiError::actor_malformed(
                    "field \"overwrite\" must be a boolean",
                ));
            }
        };
        // Upstream reads `failure_policy` only (the Python SDK's `failurePolicy` is ignored).
        let failure_policy = match m.get("failure_policy").filter(|v| !v.is_null()) {
            None => None,
            Some(v) => super::jobs::failure_policy(v)?,
        };
        let req = ReminderRequest {
            actor_type,
            actor_id,
            name,
            due_time: string_member(&m, "dueTime")?.unwrap_or_default(),
            period: string_member(&m, "period")?.unwrap_or_default(),
            ttl: string_member(&m, "ttl")?.unwrap_or_default(),
            data: member(&m, "data").map(Value::to_string),
            overwrite,
            failure_policy,
        };
        s.api.actors.create_reminder(req).await
    }
    .await;
    empty_or_error(result)
}

async fn get_reminder(
    State(s): St,
    Path((actor_type, actor_id, name)): Path<(String, String, String)>,
) -> Response {
    match s
        .api
        .actors
        .get_reminder(&actor_type, &actor_id, &name)
        .await
    {
        Err(e) => e.into_response(),
        Ok(r) => {
            let mut out = Map::new();
            out.insert("actorID".into(), r.actor_id.into());
            out.insert("actorType".into(), r.actor_type.into());
            if let Some(d) = r.data {
                out.insert(
                    "data".into(),
                    serde_json::from_str(&d).unwrap_or(Value::String(d)),
                );
            }
            for (k, v) in [
                ("dueTime", r.due_time),
                ("period", r.period),
                ("ttl", r.ttl),
            ] {
                if let Some(v) = v {
                    out.insert(k.into(), v.into());
                }
            }
            json_response(StatusCode::OK, Value::Object(out).to_string())
        }
    }
}

async fn delete_reminder(
    State(s): St,
    Path((actor_type, actor_id, name)): Path<(String, String, String)>,
) -> Response {
    empty_or_error(
        s.api
            .actors
            .delete_reminder(&actor_type, &actor_id, &name)
            .await,
    )
}

async fn create_timer(
    State(s): St,
    Path((actor_type, actor_id, name)): Path<(String, String, String)>,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_body(&s, body).await?;
        let m = body_object(&bytes)?;
        let req = TimerRequest {
            actor_type,
            actor_id,
            name,
            due_time: string_member(&m, "dueTime")?.unwrap_or_default(),
            period: string_member(&m, "period")?.unwrap_or_default(),
            ttl: string_member(&m, "ttl")?.unwrap_or_default(),
            callback: string_member(&m, "callback")?.unwrap_or_default(),
            data: member(&m, "data").map(Value::to_string),
        };
        s.api.actors.create_timer(req).await
    }
    .await;
    empty_or_error(result)
}

async fn delete_timer(
    State(s): St,
    Path((actor_type, actor_id, name)): Path<(String, String, String)>,
) -> Response {
    empty_or_error(
        s.api
            .actors
            .delete_timer(&actor_type, &actor_id, &name)
            .await,
    )
}

/// A JSON object body (an empty body reads as `{}`).
fn body_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(bytes).map_err(ApiError::actor_malformed)? {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::actor_malformed("the body must be a JSON object")),
    }
}

async fn invoke(
    State(s): St,
    Path((actor_type, actor_id, method)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = match read_body(&s, body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let call = ActorCall {
        actor_type,
        actor_id,
        method,
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    match s.api.actors.invoke(call).await {
        Ok(r) | Err(CallError::App(r)) => {
            let mut res = Response::new(Body::from(r.body));
            *res.status_mut() = r.status;
            *res.headers_mut() = r.headers;
            res
        }
        Err(CallError::Api(e)) => e.into_response(),
    }
}

async fn get_state(
    State(s): St,
    Path((actor_type, actor_id, key)): Path<(String, String, String)>,
) -> Response {
    match s.api.actors.get_state(&actor_type, &actor_id, &key).await {
        Err(e) => e.into_response(),
        Ok(v) => {
            let mut res = match v.data {
                None => StatusCode::NO_CONTENT.into_response(),
                Some(d) => json_response(StatusCode::OK, d),
            };
            for (k, v) in v.metadata {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::try_from(format!("metadata.{k}")),
                    HeaderValue::from_str(&v),
                ) {
                    res.headers_mut().insert(n, v);
                }
            }
            res
        }
    }
}

async fn transaction(
    State(s): St,
    Path((actor_type, actor_id)): Path<(String, String)>,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_body(&s, body).await?;
        let ops = decode_ops(&bytes)?;
        s.api
            .actors
            .transact_state(&actor_type, &actor_id, ops)
            .await
    }
    .await;
    empty_or_error(result)
}

/// A member by name, case-insensitively (Go's `encoding/json`).
fn member<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name)
        .or_else(|| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn string_member(m: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match member(m, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::actor_malformed(format!(
            "field {name:?} must be a string"
        ))),
    }
}

fn decode_ops(body: &[u8]) -> Result<Vec<ActorStateOp>, ApiError> {
    let ops: Vec<Value> = serde_json::from_slice(body).map_err(ApiError::actor_malformed)?;
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let Value::Object(op) = op else {
            return Err(ApiError::actor_malformed(
                "an operation must be a JSON object",
            ));
        };
        let operation = string_member(&op, "operation")?.unwrap_or_default();
        let Some(Value::Object(req)) = member(&op, "request") else {
            return Err(ApiError::actor_state_transaction("request data is empty"));
        };
        let key = string_member(req, "key")?.unwrap_or_default();
        let etag = string_member(req, "etag")?;
        out.push(match operation.as_str() {
            "upsert" => {
                let mut metadata = Metadata::new();
                if let Some(m) = member(req, "metadata") {
                    let Value::Object(m) = m else {
                        return Err(ApiError::actor_malformed("metadata must be an object"));
                    };
                    for (k, v) in m {
                        let Value::String(v) = v else {
                            return Err(ApiError::actor_malformed(format!(
                                "metadata {k:?} must be a string"
                            )));
                        };
                        metadata.insert(k.clone(), v.clone());
                    }
                }
                let value = member(req, "value").cloned().unwrap_or(Value::Null);
                ActorStateOp::Upsert {
                    key,
                    value: Bytes::from(value.to_string()),
                    etag,
                    metadata,
                }
            }
            "delete" => ActorStateOp::Delete { key, etag },
            "" => return Err(ApiError::actor_state_transaction("operation is empty")),
            other => {
                return Err(ApiError::actor_state_transaction(format!(
                    "operation type {other} not supported"
                )));
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_decode_as_upstream() {
        let ops = decode_ops(
            br#"[{"operation":"upsert","request":{"key":"k","value":"x","metadata":{"ttlInSeconds":"5"}}},
                 {"Operation":"delete","Request":{"Key":"d","etag":"3"}}]"#,
        )
        .unwrap();
        assert_eq!(
            ops,
            [
                ActorStateOp::Upsert {
                    key: "k".into(),
                    value: Bytes::from_static(b"\"x\""),
                    etag: None,
                    metadata: Metadata::from([("ttlInSeconds".into(), "5".into())]),
                },
                ActorStateOp::Delete {
                    key: "d".into(),
                    etag: Some("3".into())
                }
            ]
        );
        let bad = decode_ops(br#"[{"operation":"merge","request":{"key":"k"}}]"#).unwrap_err();
        assert_eq!(bad.code(), "ERR_ACTOR_STATE_TRANSACTION_SAVE");
        assert_eq!(
            decode_ops(b"{").unwrap_err().code(),
            "ERR_MALFORMED_REQUEST"
        );
    }
}

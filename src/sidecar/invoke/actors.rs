//! Actor calls over the sidecar-to-sidecar hop. The caller's sidecar sends `PUT
//! /actors/{type}/{id}/method/{method}` to the owner's internal address, marked with
//! `x-dapr-internal-actor` so the owner runs it in its own turn and never forwards it again
//! (its ring may briefly disagree). The app's reply travels back unchanged; an app error to
//! pass through (`X-DaprErrorResponseHeader`) is marked `x-dapr-internal-actor-app-error`;
//! a sidecar error carries `x-dapr-internal-actor-error: <kind>` and the Dapr error body.

use std::sync::{Arc, Weak};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;

use super::Invoker;
use super::headers::{DAPR_CALLEE_APP_ID, DAPR_CALLER_APP_ID, INTERNAL_TARGET_NAMESPACE};
use super::resolver::ResolverError;
use crate::sidecar::actors::{ActorCall, ActorReply, ActorRuntime, CallError};
use crate::sidecar::api::error::{ApiError, ErrorKind};
use crate::sidecar::app_channel::http::build_uri;

pub const INTERNAL_ACTOR: HeaderName = HeaderName::from_static("x-dapr-internal-actor");
const ACTOR_APP_ERROR: HeaderName = HeaderName::from_static("x-dapr-internal-actor-app-error");
const ACTOR_ERROR: HeaderName = HeaderName::from_static("x-dapr-internal-actor-error");

/// Why a forwarded call failed.
#[derive(Debug)]
pub enum ForwardError {
    /// The owner could not be reached (gone): the caller refreshes its ring and retries.
    Unreachable(ApiError),
    Call(CallError),
}

impl Invoker {
    pub fn set_actor_runtime(&self, rt: &Arc<ActorRuntime>) {
        let _ = self.actors.set(Arc::downgrade(rt));
    }

    /// The address other sidecars dial, as registered.
    pub fn advertise(&self) -> &str {
        &self.advertise
    }

    /// Records this sidecar's hosted actor types in the registry.
    pub async fn set_actor_types(&self, types: Vec<String>) -> Result<(), ResolverError> {
        let reg = self.registry.clone();
        tokio::task::spawn_blocking(move || reg.set_actor_types(&types))
            .await
            .map_err(|e| ResolverError::Config(e.to_string()))?
    }

    /// Live actor hosts of this namespace: `(type, address, app id)`.
    pub async fn actor_hosts(&self) -> Result<Vec<(String, String, String)>, ResolverError> {
        let reg = self.registry.clone();
        let ns = self.namespace.clone();
        tokio::task::spawn_blocking(move || reg.actor_hosts(&ns))
            .await
            .map_err(|e| ResolverError::Config(e.to_string()))?
    }

    /// Sends one actor call to the sidecar at `address` (app `app_id`).
    pub async fn forward_actor(
        &self,
        address: &str,
        app_id: &str,
        call: &ActorCall,
    ) -> Result<ActorReply, ForwardError> {
        let path = format!(
            "actors/{}/{}/method/{}",
            call.actor_type, call.actor_id, call.method
        );
        let uri = build_uri(address, &path, call.query.as_deref())
            .map_err(|e| ForwardError::Call(CallError::Api(ApiError::actor_invoke(e))))?;
        let mut headers = call.headers.clone();
        super::headers::strip_request(&mut headers);
        headers.remove(header::HOST);
        headers.remove(super::headers::DAPR_API_TOKEN);
        headers.insert(INTERNAL_ACTOR, HeaderValue::from_static("1"));
        headers.insert(DAPR_CALLER_APP_ID, self.app_id_hv.clone());
        headers.insert(INTERNAL_TARGET_NAMESPACE, self.namespace_hv.clone());
        if let Ok(v) = HeaderValue::from_str(app_id) {
            headers.insert(DAPR_CALLEE_APP_ID, v);
        }
        let mut req = http::Request::new(Body::from(call.body.clone()));
        *req.method_mut() = http::Method::PUT;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        let res = match self.client.request(req).await {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Err(ForwardError::Unreachable(ApiError::actor_invoke(format!(
                    "cannot reach the actor host {app_id} at {address}: {e}"
                ))));
            }
            Err(e) => {
                return Err(ForwardError::Call(CallError::Api(ApiError::actor_invoke(
                    format!("error forwarding to the actor host {app_id} at {address}: {e}"),
                ))));
            }
        };
        let (parts, body) = res.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| ForwardError::Call(CallError::Api(ApiError::actor_invoke(e))))?;
        let mut h = parts.headers;
        if h.contains_key(super::headers::INTERNAL_ERROR) {
            // Not an actor host any more (wrong target): the ring is stale.
            return Err(ForwardError::Unreachable(ApiError::actor_invoke(format!(
                "the sidecar at {address} does not serve app {app_id}"
            ))));
        }
        if let Some(kind) = h.remove(ACTOR_ERROR) {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            let e = match kind.to_str().ok().and_then(ErrorKind::from_actor_hop) {
                Some(k) => ApiError::new(k, message),
                None => ApiError::actor_invoke(message),
            };
            return Err(ForwardError::Call(CallError::Api(e)));
        }
        let app_error = h.remove(ACTOR_APP_ERROR).is_some();
        let reply = ActorReply {
            status: parts.status,
            headers: h,
            body,
        };
        if app_error {
            Err(ForwardError::Call(CallError::App(reply)))
        } else {
            Ok(reply)
        }
    }

    /// The callee side: runs a forwarded call in this sidecar's actor runtime.
    pub(super) async fn handle_actor(
        &self,
        method: &str,
        query: Option<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response<Body> {
        let rt = self.actors.get().and_then(Weak::upgrade);
        let parts: Vec<&str> = method.splitn(5, '/').collect();
        let call = match (rt, parts.as_slice()) {
            (Some(rt), ["actors", ty, id, "method", m]) => {
                let call = ActorCall {
                    actor_type: ty.to_string(),
                    actor_id: id.to_string(),
                    method: m.to_string(),
                    query,
                    headers,
                    body,
                };
                rt.invoke_forwarded(call).await
            }
            (None, _) => Err(CallError::Api(ApiError::actor_runtime_not_found())),
            _ => Err(CallError::Api(ApiError::actor_invoke(format!(
                "bad forwarded actor call {method:?}"
            )))),
        };
        match call {
            Ok(r) => reply_response(r, None),
            Err(CallError::App(r)) => reply_response(r, Some(HeaderValue::from_static("1"))),
            Err(CallError::Api(e)) => {
                let mut res = Response::new(Body::from(e.body()));
                *res.status_mut() = e.status();
                let h = res.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                if let Ok(v) = HeaderValue::from_str(&e.kind.name()) {
                    h.insert(ACTOR_ERROR, v);
                } else {
                    h.insert(ACTOR_ERROR, HeaderValue::from_static("unknown"));
                }
                res
            }
        }
    }
}

fn reply_response(r: ActorReply, app_error: Option<HeaderValue>) -> Response<Body> {
    let mut res = Response::new(Body::from(r.body));
    *res.status_mut() = if r.status.as_u16() == 0 {
        StatusCode::OK
    } else {
        r.status
    };
    *res.headers_mut() = r.headers;
    res.headers_mut().remove(header::CONTENT_LENGTH);
    res.headers_mut().remove(header::TRANSFER_ENCODING);
    if let Some(v) = app_error {
        res.headers_mut().insert(ACTOR_APP_ERROR, v);
    }
    res
}

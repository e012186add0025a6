//! The callee side of the sidecar-to-sidecar hop: an HTTP/1.1 server on the internal port.
//! A request is `VERB /<method>?<query>` with the caller's (already filtered) headers, the
//! `dapr-caller-*`/`dapr-callee-app-id` headers and `x-dapr-internal-target-namespace`.
//! It is checked to be meant for this app (a stale registration may point another sidecar
//! here), then sent to the local app channel; the app's answer goes back unchanged. Errors
//! made here carry `x-dapr-internal-error: <kind>` (a kind of the error table) and the
//! Dapr error body, so the caller reports the same error; a gRPC app's status travels in
//! `x-dapr-internal-grpc-*` headers (`headers::put_grpc_reply`). Limits: no access control (no
//! caller identity without mTLS), no gRPC.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::Invoker;
use super::headers::{
    DAPR_CALLEE_APP_ID, INTERNAL_ERROR, INTERNAL_TARGET_NAMESPACE, decode_method, put_grpc_reply,
    strip_request,
};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::body::LimitedBody;
use crate::sidecar::messages::InvokeRequest;

/// Accepts connections until `shutdown`, then waits up to 5 s for open ones to finish.
pub(super) async fn serve(
    invoker: Arc<Invoker>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = Box::pin(crate::sidecar::server::incoming(listener));
    let mut shutdown = std::pin::pin!(shutdown);
    let mut builder = http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(crate::sidecar::server::HEADER_READ_TIMEOUT);
    loop {
        let stream = tokio::select! {
            Some(Ok(s)) = futures_util::StreamExt::next(&mut connections) => s,
            _ = &mut shutdown => break,
        };
        let inv = invoker.clone();
        let service = service_fn(move |req| {
            let inv = inv.clone();
            async move { Ok::<_, Infallible>(inv.handle_internal(req).await) }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(connections);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

/// An error made by this sidecar, marked for the caller with its kind.
fn hop_error(e: &ApiError, wrong_target: bool) -> Response<Body> {
    let mut res = Response::new(Body::from(e.body()));
    *res.status_mut() = e.status();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let kind = if wrong_target {
        HeaderValue::from_static("wrong-target")
    } else {
        HeaderValue::from_str(&e.kind.name()).unwrap_or(HeaderValue::from_static("DirectInvoke"))
    };
    h.insert(INTERNAL_ERROR, kind);
    res
}

impl Invoker {
    /// One call from another sidecar.
    async fn handle_internal(&self, req: Request<Incoming>) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let h = &mut parts.headers;
        let ns_ok = h
            .get(INTERNAL_TARGET_NAMESPACE)
            .is_none_or(|ns| ns.as_bytes() == self.namespace.as_bytes());
        let id_ok = h
            .get(DAPR_CALLEE_APP_ID)
            .is_some_and(|id| id.as_bytes() == self.app_id.as_bytes());
        if !ns_ok || !id_ok {
            let callee = h
                .get(DAPR_CALLEE_APP_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let e = ApiError::direct_invoke(
                callee,
                format_args!(
                    "this sidecar serves app {} in namespace {}",
                    self.app_id, self.namespace
                ),
            );
            return hop_error(&e, true);
        }
        h.remove(INTERNAL_TARGET_NAMESPACE);
        strip_request(h);
        let Some(method) = decode_method(parts.uri.path().trim_start_matches('/')) else {
            let e = ApiError::direct_invoke(&self.app_id, "the method is not UTF-8");
            return hop_error(&e, false);
        };
        if parts
            .headers
            .remove(super::actors::INTERNAL_ACTOR)
            .is_some()
        {
            let body = match http_body_util::BodyExt::collect(LimitedBody::new(body, self.max_body))
                .await
            {
                Ok(c) => c.to_bytes(),
                Err(_) => {
                    let e = ApiError::body_too_large(self.max_body);
                    return hop_error(&e, false);
                }
            };
            let query = parts.uri.query().map(str::to_owned);
            return self.handle_actor(&method, query, parts.headers, body).await;
        }
        let req = InvokeRequest {
            method,
            verb: parts.method,
            query: parts.uri.query().map(str::to_owned),
            metadata: parts.headers,
            body: Body::new(LimitedBody::new(body, self.max_body)),
        };
        match self.channel.invoke(req).await {
            Ok(r) => {
                let mut res = Response::new(r.body);
                *res.status_mut() = r.status;
                *res.headers_mut() = r.metadata;
                put_grpc_reply(r.grpc.as_deref(), res.headers_mut());
                res
            }
            Err(e) => hop_error(&self.channel_error(&self.app_id, e), false),
        }
    }
}

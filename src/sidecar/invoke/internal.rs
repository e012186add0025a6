//! The callee side of the sidecar-to-sidecar hop, on the internal port. Each connection
//! speaks HTTP/1.1 or HTTP/2 (told apart by its first bytes); a gRPC request there is the
//! official protocol (`official::server`), anything else our own hop: `VERB /<method>?<query>`
//! with the caller's (already filtered) headers, the `dapr-caller-*`/`dapr-callee-app-id`
//! headers and `x-dapr-internal-target-namespace`. Either way the call is checked to be meant
//! for this app (a stale registration may point another sidecar here), then sent to the
//! local app channel; the app's answer goes back unchanged. On our hop, errors made here carry
//! `x-dapr-internal-error: <kind>` (a kind of the error table) and the Dapr error body, so the
//! caller reports the same error; a gRPC app's status travels in `x-dapr-internal-grpc-*`
//! headers (`headers::put_grpc_reply`). Limits: no access control (no caller identity without
//! mTLS).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Request, Response, Version, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tower::ServiceExt as _;

use super::Invoker;
use super::headers::{
    DAPR_CALLEE_APP_ID, INTERNAL_ERROR, INTERNAL_TARGET_NAMESPACE, decode_method, put_grpc_reply,
    strip_request,
};
use super::official;
use crate::sidecar::api::error::ApiError;
use crate::sidecar::body::LimitedBody;
use crate::sidecar::messages::InvokeRequest;

/// The path prefix of the official protocol's methods.
const OFFICIAL_SERVICE: &str = "/dapr.proto.internals.v1.ServiceInvocation/";

/// Accepts connections until `shutdown`, then waits up to 5 s for open ones to finish.
pub(super) async fn serve(
    invoker: Arc<Invoker>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = Box::pin(crate::sidecar::server::incoming(listener));
    let mut shutdown = std::pin::pin!(shutdown);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(crate::sidecar::server::HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let grpc = official::server::service(invoker.clone());
    loop {
        let stream = tokio::select! {
            Some(Ok(s)) = futures_util::StreamExt::next(&mut connections) => s,
            _ = &mut shutdown => break,
        };
        let (inv, grpc) = (invoker.clone(), grpc.clone());
        let service = service_fn(move |req: Request<Incoming>| {
            let (inv, grpc) = (inv.clone(), grpc.clone());
            async move {
                if is_official(&req) {
                    let res = match grpc.oneshot(req).await {
                        Ok(r) => r.map(Body::new),
                        Err(never) => match never {},
                    };
                    return Ok::<_, Infallible>(res);
                }
                Ok::<_, Infallible>(inv.handle_internal(req).await)
            }
        });
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let _ = watcher.watch(conn).await;
        });
    }
    drop(connections);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

/// A call of the official protocol: gRPC over HTTP/2 to one of its methods.
fn is_official<B>(req: &Request<B>) -> bool {
    req.version() == Version::HTTP_2
        && req.uri().path().starts_with(OFFICIAL_SERVICE)
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
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
    /// Whether a call from another sidecar (its headers) is meant for this app: the callee
    /// app id it names, and the namespace if it names one.
    pub(super) fn check_target(&self, h: &HeaderMap) -> Result<(), ApiError> {
        let ns_ok = h
            .get(INTERNAL_TARGET_NAMESPACE)
            .is_none_or(|ns| ns.as_bytes() == self.namespace.as_bytes());
        let id_ok = h
            .get(DAPR_CALLEE_APP_ID)
            .is_some_and(|id| id.as_bytes() == self.app_id.as_bytes());
        if ns_ok && id_ok {
            return Ok(());
        }
        let callee = h
            .get(DAPR_CALLEE_APP_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Err(ApiError::direct_invoke(
            callee,
            format_args!(
                "this sidecar serves app {} in namespace {}",
                self.app_id, self.namespace
            ),
        ))
    }

    /// One call from another sidecar on our own hop.
    async fn handle_internal(&self, req: Request<Incoming>) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        if let Err(e) = self.check_target(&parts.headers) {
            return hop_error(&e, true);
        }
        let h = &mut parts.headers;
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

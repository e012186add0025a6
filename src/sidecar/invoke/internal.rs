//! The callee side of the sidecar-to-sidecar hop: an HTTP/1.1 server on the internal port.
//! A request is `VERB /<method>?<query>` with the caller's (already filtered) headers, the
//! `dapr-caller-*`/`dapr-callee-app-id` headers and `x-dapr-internal-target-namespace`.
//! It is checked to be meant for this app (a stale registration may point another sidecar
//! here), then sent to the local app; the app's answer goes back unchanged. Errors made here
//! carry `x-dapr-internal-error` so the caller can tell them from the app's own answers.
//! Limits: no access control (no caller identity without mTLS), no gRPC.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::IntoResponse;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::channel::{ChannelError, LimitedBody};
use super::headers::{
    DAPR_CALLEE_APP_ID, INTERNAL_ERROR, INTERNAL_TARGET_NAMESPACE, strip_hop_by_hop, strip_request,
};
use super::{Invoker, invoke_error, too_large};

/// Accepts connections until `shutdown`, then waits up to 5 s for open ones to finish.
pub(super) async fn serve(
    invoker: Arc<Invoker>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let inv = invoker.clone();
                let service = service_fn(move |req| {
                    let inv = inv.clone();
                    async move { Ok::<_, Infallible>(inv.handle_internal(req).await) }
                });
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
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
            let mut res = invoke_error(
                h.get(DAPR_CALLEE_APP_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
                &format_args!(
                    "this sidecar serves app {} in namespace {}",
                    self.app_id, self.namespace
                ),
            );
            res.headers_mut()
                .insert(INTERNAL_ERROR, HeaderValue::from_static("wrong-target"));
            return res;
        }
        h.remove(INTERNAL_TARGET_NAMESPACE);
        strip_request(h);
        let method = parts.uri.path().trim_start_matches('/').to_owned();
        let query = parts.uri.query().map(str::to_owned);
        let body = Body::new(LimitedBody::new(body, self.max_body));
        let req = Request::from_parts(parts, body);
        let mut res = match self.channel.call(req, &method, query.as_deref()).await {
            Ok(mut res) => {
                strip_hop_by_hop(res.headers_mut());
                return res;
            }
            Err(ChannelError::TooLarge(_)) => too_large(self.max_body),
            Err(e) => invoke_error(&self.app_id, &e),
        };
        let kind = if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "too-large"
        } else {
            "app"
        };
        res.headers_mut()
            .insert(INTERNAL_ERROR, HeaderValue::from_static(kind));
        res.into_response()
    }
}

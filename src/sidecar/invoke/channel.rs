//! The app channel: how this sidecar calls its own app over HTTP/1.1 (pooled keep-alive
//! connections, `TCP_NODELAY`), honouring `--app-max-concurrency`, `APP_API_TOKEN` and the
//! app's health as reported by the health prober. Limits: plain HTTP only (no `https`,
//! `grpc`, `h2c` app protocols yet).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::headers::DAPR_API_TOKEN;

/// Why a call to the app failed (the sidecar turns these into `ERR_DIRECT_INVOKE`).
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("app channel is not initialized")]
    NoApp,
    #[error("app is not in a healthy state")]
    Unhealthy,
    #[error("{0}")]
    Request(String),
    #[error("request body is larger than the maximum of {0} bytes")]
    TooLarge(usize),
}

/// A pooled HTTP/1.1 client with `TCP_NODELAY` (small requests must not wait for Nagle).
pub fn http_client() -> Client<HttpConnector, Body> {
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    conn.set_connect_timeout(Some(Duration::from_secs(5)));
    conn.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(conn)
}

pub struct AppChannel {
    pub(crate) client: Client<HttpConnector, Body>,
    /// `host:port` of the app, or `None` when the sidecar has no app.
    authority: Option<String>,
    token: Option<HeaderValue>,
    limit: Option<Arc<Semaphore>>,
    healthy: AtomicBool,
}

impl AppChannel {
    pub fn new(
        address: &str,
        port: Option<u16>,
        token: Option<&str>,
        max_concurrency: Option<usize>,
    ) -> Result<AppChannel, String> {
        let authority = match port.filter(|p| *p != 0) {
            None => None,
            Some(p) => {
                let host = if address.contains(':') && !address.starts_with('[') {
                    format!("[{address}]")
                } else {
                    address.to_owned()
                };
                let a = format!("{host}:{p}");
                a.parse::<http::uri::Authority>()
                    .map_err(|e| format!("--app-channel-address {address:?}: {e}"))?;
                Some(a)
            }
        };
        let token = match token.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(HeaderValue::from_str(t).map_err(|_| {
                "APP_API_TOKEN contains characters not allowed in a header".to_owned()
            })?),
        };
        Ok(AppChannel {
            client: http_client(),
            authority,
            token,
            limit: max_concurrency
                .filter(|n| *n > 0)
                .map(|n| Arc::new(Semaphore::new(n))),
            healthy: AtomicBool::new(true),
        })
    }

    pub fn authority(&self) -> Option<&str> {
        self.authority.as_deref()
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Release);
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Sends `req` (headers already cleaned; its URI is replaced) to `/<method>?<query>` on
    /// the app. The response body holds the concurrency permit until fully read.
    pub async fn call(
        &self,
        mut req: Request<Body>,
        method: &str,
        query: Option<&str>,
    ) -> Result<Response<Body>, ChannelError> {
        let authority = self.authority.as_deref().ok_or(ChannelError::NoApp)?;
        if !self.is_healthy() {
            return Err(ChannelError::Unhealthy);
        }
        *req.uri_mut() = build_uri(authority, method, query).map_err(ChannelError::Request)?;
        if let Some(t) = &self.token {
            req.headers_mut().insert(DAPR_API_TOKEN, t.clone());
        }
        let permit = match &self.limit {
            Some(s) => Some(
                s.clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| ChannelError::Request(e.to_string()))?,
            ),
            None => None,
        };
        let res = self
            .client
            .request(req)
            .await
            .map_err(|e| map_client_error(&e))?;
        Ok(match permit {
            None => res.map(Body::new),
            Some(p) => res.map(|b| {
                Body::new(PermitBody {
                    inner: b,
                    _permit: p,
                })
            }),
        })
    }
}

/// `http://<authority>/<method>[?<query>]`.
pub fn build_uri(authority: &str, method: &str, query: Option<&str>) -> Result<Uri, String> {
    let mut s = String::with_capacity(
        8 + authority.len() + method.len() + query.map_or(0, |q| q.len() + 1),
    );
    s.push_str("http://");
    s.push_str(authority);
    s.push('/');
    s.push_str(method.trim_start_matches('/'));
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        s.push('?');
        s.push_str(q);
    }
    Uri::try_from(s).map_err(|e| format!("invalid method {method:?}: {e}"))
}

/// Turns a client error into text, or `TooLarge` when the body limit cut the stream.
pub fn map_client_error(e: &hyper_util::client::legacy::Error) -> ChannelError {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut detail = String::new();
    while let Some(s) = src {
        if let Some(l) = s.downcast_ref::<BodyLimitExceeded>() {
            return ChannelError::TooLarge(l.0);
        }
        if s.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            return ChannelError::TooLarge(0);
        }
        let t = s.to_string();
        if !detail.contains(&t) {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&t);
        }
        src = s.source();
    }
    ChannelError::Request(detail)
}

/// The error a size-limited body yields once it passes the limit.
#[derive(Debug, thiserror::Error)]
#[error("request body is larger than the maximum of {0} bytes")]
pub struct BodyLimitExceeded(pub usize);

/// A body that fails with [`BodyLimitExceeded`] once more than `limit` bytes have passed,
/// so an oversized streamed body is cut off instead of forwarded.
pub struct LimitedBody<B> {
    inner: B,
    remaining: usize,
    limit: usize,
}

impl<B> LimitedBody<B> {
    pub fn new(inner: B, limit: usize) -> Self {
        LimitedBody {
            inner,
            remaining: limit,
            limit,
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> hyper::body::Body for LimitedBody<B>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    if d.len() > self.remaining {
                        let limit = self.limit;
                        return Poll::Ready(Some(Err(Box::new(BodyLimitExceeded(limit)))));
                    }
                    self.remaining -= d.len();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that releases the app-concurrency permit when dropped.
struct PermitBody {
    inner: Incoming,
    _permit: OwnedSemaphorePermit,
}

impl hyper::body::Body for PermitBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, hyper::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_building() {
        assert_eq!(
            build_uri("127.0.0.1:80", "a/b", Some("x=1"))
                .unwrap()
                .to_string(),
            "http://127.0.0.1:80/a/b?x=1"
        );
        assert_eq!(
            build_uri("127.0.0.1:80", "", None).unwrap().to_string(),
            "http://127.0.0.1:80/"
        );
        assert!(build_uri("127.0.0.1:80", "a b", None).is_err());
    }

    #[test]
    fn ipv6_channel_address() {
        let c = AppChannel::new("::1", Some(8080), None, None).unwrap();
        assert_eq!(c.authority(), Some("[::1]:8080"));
        assert!(
            AppChannel::new("127.0.0.1", None, None, None)
                .unwrap()
                .authority()
                .is_none()
        );
        assert!(
            AppChannel::new("127.0.0.1", Some(0), None, None)
                .unwrap()
                .authority()
                .is_none()
        );
    }
}

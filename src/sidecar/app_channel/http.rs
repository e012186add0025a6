//! HTTP apps: pooled HTTP/1.1 keep-alive connections with `TCP_NODELAY` (small requests
//! must not wait for Nagle), `VERB http://<address>:<port>/<method>?<query>`, the app token
//! as `dapr-api-token`; with `--app-protocol h2c`, HTTP/2 without TLS (prior knowledge, one
//! multiplexed connection) instead. The client and URI helpers are shared with the
//! sidecar-to-sidecar hop and calls to external HTTP endpoints, which speak the same HTTP/1.1.

use std::time::Duration;

use axum::body::Body;
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::ChannelError;
use crate::sidecar::body::LimitedBody;
use crate::sidecar::body::{BodyLimitExceeded, is_too_large};
use crate::sidecar::invoke::headers::{DAPR_API_TOKEN, method_path, strip_hop_by_hop};
use crate::sidecar::messages::{InvokeRequest, InvokeResponse};

/// How long a pooled connection may sit idle before it is closed (Go's default transport
/// keeps idle connections 90 s too).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A pooled HTTP/1.1 client with `TCP_NODELAY` whose idle connections close after
/// [`POOL_IDLE_TIMEOUT`].
pub fn http_client() -> Client<HttpConnector, Body> {
    http_client_idle(POOL_IDLE_TIMEOUT)
}

/// [`http_client`] with another idle timeout. The pool needs a timer to act on it at all:
/// without one, idle connections were never closed.
pub fn http_client_idle(idle: Duration) -> Client<HttpConnector, Body> {
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    conn.set_connect_timeout(Some(Duration::from_secs(5)));
    conn.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(idle)
        .build(conn)
}

/// An HTTP/2 client without TLS (h2c with prior knowledge) for `--app-protocol h2c`, with
/// `TCP_NODELAY`, keep-alive pings and the same idle timeout as [`http_client`].
pub fn h2c_client() -> Client<HttpConnector, Body> {
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    conn.set_connect_timeout(Some(Duration::from_secs(5)));
    conn.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .timer(TokioTimer::new())
        .http2_only(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .build(conn)
}

/// An HTTP app at one address.
pub struct HttpApp {
    client: Client<HttpConnector, Body>,
    authority: String,
    token: Option<HeaderValue>,
    h2c: bool,
}

impl HttpApp {
    /// An app spoken to in HTTP/1.1, or in HTTP/2 without TLS when `h2c`.
    pub fn new(
        address: &str,
        port: u16,
        token: Option<&str>,
        h2c: bool,
    ) -> Result<HttpApp, String> {
        let authority = authority(address, port)?;
        let token = match token.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(HeaderValue::from_str(t).map_err(|_| {
                "APP_API_TOKEN contains characters not allowed in a header".to_owned()
            })?),
        };
        Ok(HttpApp {
            client: if h2c { h2c_client() } else { http_client() },
            authority,
            token,
            h2c,
        })
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Whether the app speaks HTTP/2 without TLS (`--app-protocol h2c`).
    pub fn is_h2c(&self) -> bool {
        self.h2c
    }

    /// One `GET <path>` through the app's client within `timeout`; 2xx = healthy.
    pub async fn probe(&self, path: &str, timeout: Duration) -> bool {
        let Ok(uri) = build_uri(&self.authority, path, None) else {
            return false;
        };
        let mut req = Request::new(Body::empty());
        *req.uri_mut() = uri;
        let call = async {
            let res = self.send(req).await.ok()?;
            Some(res.status().is_success())
        };
        matches!(tokio::time::timeout(timeout, call).await, Ok(Some(true)))
    }

    /// Sends `req` (metadata already cleaned by the invoker) to the app; its reply bounded
    /// by `max_body` (declared lengths checked now, streamed ones as they are read).
    pub async fn invoke(
        &self,
        req: InvokeRequest,
        max_body: usize,
    ) -> Result<InvokeResponse, ChannelError> {
        let uri = build_uri(&self.authority, &req.method, req.query.as_deref())
            .map_err(ChannelError::Request)?;
        let mut http_req = Request::new(req.body);
        *http_req.method_mut() = req.verb;
        *http_req.uri_mut() = uri;
        *http_req.headers_mut() = req.metadata;
        let res = self.send(http_req).await?;
        let declared = res
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_body as u64) {
            return Err(ChannelError::ReplyTooLarge(max_body));
        }
        let (mut parts, body) = res.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(InvokeResponse::http(
            parts.status,
            parts.headers,
            Body::new(LimitedBody::new(body, max_body)),
        ))
    }

    /// Sends a request to the app with its token.
    pub(super) async fn send(
        &self,
        mut req: Request<Body>,
    ) -> Result<Response<Incoming>, ChannelError> {
        if let Some(t) = &self.token {
            req.headers_mut().insert(DAPR_API_TOKEN, t.clone());
        }
        self.client
            .request(req)
            .await
            .map_err(|e| map_client_error(&e))
    }
}

/// `<address>:<port>` (IPv6 addresses in brackets), checked; the error names
/// `--app-channel-address`.
pub fn authority(address: &str, port: u16) -> Result<String, String> {
    let host = if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]")
    } else {
        address.to_owned()
    };
    let authority = format!("{host}:{port}");
    authority
        .parse::<http::uri::Authority>()
        .map_err(|e| format!("--app-channel-address {address:?}: {e}"))?;
    Ok(authority)
}

/// `http://<authority>/<method>[?<query>]`, the (decoded) method percent-encoded where a
/// path needs it.
pub fn build_uri(authority: &str, method: &str, query: Option<&str>) -> Result<Uri, String> {
    let path = method_path(method.trim_start_matches('/'));
    let mut s =
        String::with_capacity(8 + authority.len() + path.len() + query.map_or(0, |q| q.len() + 1));
    s.push_str("http://");
    s.push_str(authority);
    s.push('/');
    s.push_str(&path);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        s.push('?');
        s.push_str(q);
    }
    Uri::try_from(s).map_err(|e| format!("invalid method {method:?}: {e}"))
}

/// Turns a client error into text, or `RequestTooLarge` when the body limit cut the
/// request's stream.
pub fn map_client_error(e: &hyper_util::client::legacy::Error) -> ChannelError {
    if is_too_large(e) {
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = src {
            if let Some(l) = s.downcast_ref::<BodyLimitExceeded>() {
                return ChannelError::RequestTooLarge(l.0);
            }
            src = s.source();
        }
        return ChannelError::RequestTooLarge(0);
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut detail = String::new();
    while let Some(s) = src {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: without a pool timer idle connections stayed open forever (a burst of
    /// calls left one descriptor per connection on both sides).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_pooled_connections_are_closed() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let open = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counter = open.clone();
        tokio::spawn(async move {
            loop {
                let (s, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                let counter = counter.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|_req| async {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, std::convert::Infallible>(Response::new(Body::from("ok")))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                        .await;
                    counter.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        let client = http_client_idle(Duration::from_millis(300));
        let calls = (0..20).map(|_| {
            let req = Request::get(format!("http://{addr}/"))
                .body(Body::empty())
                .unwrap();
            client.request(req)
        });
        for r in futures_util::future::join_all(calls).await {
            let _ = http_body_util::BodyExt::collect(r.unwrap().into_body()).await;
        }
        assert!(
            open.load(Ordering::SeqCst) > 1,
            "the burst opened several connections"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while open.load(Ordering::SeqCst) > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} idle connections still open",
                open.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

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
        assert_eq!(
            build_uri("127.0.0.1:80", "a b/ü", None)
                .unwrap()
                .to_string(),
            "http://127.0.0.1:80/a%20b/%C3%BC"
        );
    }
}

//! HTTP apps: pooled HTTP/1.1 keep-alive connections with `TCP_NODELAY` (small requests
//! must not wait for Nagle), `VERB http://<address>:<port>/<method>?<query>`, the app token
//! as `dapr-api-token`. The client and URI helpers are shared with the sidecar-to-sidecar
//! hop and calls to external HTTP endpoints, which speak the same HTTP/1.1.

use std::time::Duration;

use axum::body::Body;
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::ChannelError;
use crate::sidecar::body::{BodyLimitExceeded, is_too_large};
use crate::sidecar::invoke::headers::DAPR_API_TOKEN;
use crate::sidecar::messages::InvokeRequest;

/// A pooled HTTP/1.1 client with `TCP_NODELAY`.
pub fn http_client() -> Client<HttpConnector, Body> {
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    conn.set_connect_timeout(Some(Duration::from_secs(5)));
    conn.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(conn)
}

/// An HTTP app at one address.
pub struct HttpApp {
    client: Client<HttpConnector, Body>,
    authority: String,
    token: Option<HeaderValue>,
}

impl HttpApp {
    pub fn new(address: &str, port: u16, token: Option<&str>) -> Result<HttpApp, String> {
        let host = if address.contains(':') && !address.starts_with('[') {
            format!("[{address}]")
        } else {
            address.to_owned()
        };
        let authority = format!("{host}:{port}");
        authority
            .parse::<http::uri::Authority>()
            .map_err(|e| format!("--app-channel-address {address:?}: {e}"))?;
        let token = match token.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(HeaderValue::from_str(t).map_err(|_| {
                "APP_API_TOKEN contains characters not allowed in a header".to_owned()
            })?),
        };
        Ok(HttpApp {
            client: http_client(),
            authority,
            token,
        })
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Sends `req` (metadata already cleaned by the invoker) to the app.
    pub async fn call(&self, req: InvokeRequest) -> Result<Response<Incoming>, ChannelError> {
        let uri = build_uri(&self.authority, &req.method, req.query.as_deref())
            .map_err(ChannelError::Request)?;
        let mut http_req = Request::new(req.body);
        *http_req.method_mut() = req.verb;
        *http_req.uri_mut() = uri;
        *http_req.headers_mut() = req.metadata;
        if let Some(t) = &self.token {
            http_req.headers_mut().insert(DAPR_API_TOKEN, t.clone());
        }
        self.client
            .request(http_req)
            .await
            .map_err(|e| map_client_error(&e))
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
}

//! Service invocation over HTTP: `/v1.0/invoke/{appId}/method/{method...}` with any verb,
//! and every request no other route matched (routed by the `dapr-app-id` header or Basic
//! auth, as upstream). Builds the protocol-neutral request (verb, raw query, headers,
//! streamed body) and returns the app's answer as it came: status, headers and body.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::{HttpState, St};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::invoke::basic_app_id;
use crate::sidecar::invoke::headers::{DAPR_APP_ID, decode_method};
use crate::sidecar::messages::InvokeRequest;

pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new().route("/v1.0/invoke/{*rest}", any(handle))
}

pub(super) async fn handle(State(s): St, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (target, method) = match find_target(parts.uri.path(), &parts.headers) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    // The method as the caller meant it: percent-encoding undone, as Go's server does for
    // the official runtime (`%2e%2e` is `..`, refused later like any traversal).
    let Some(method) = decode_method(&method) else {
        return ApiError::direct_invoke(&target, "invalid method name: not UTF-8 once decoded")
            .into_response();
    };
    let req = InvokeRequest {
        method,
        verb: parts.method,
        query: parts.uri.query().map(str::to_owned),
        metadata: parts.headers,
        body,
    };
    match s.api.invoke.invoke(&target, req).await {
        Ok(r) => {
            // A new response is HTTP/1.1 whatever the app spoke (1.0 for Python's
            // `http.server`), so hyper keeps the connection alive.
            let mut res = Response::new(r.body);
            *res.status_mut() = r.status;
            *res.headers_mut() = r.metadata;
            res
        }
        Err(e) => e.into_response(),
    }
}

/// Target app id and raw method from the header, Basic auth or URL (in that order, as the
/// official runtime does).
fn find_target(path: &str, headers: &HeaderMap) -> Result<(String, String), ApiError> {
    if let Some(id) = headers
        .get(DAPR_APP_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
    {
        return Ok((id.to_owned(), path.to_owned()));
    }
    if let Some(id) = headers.get(header::AUTHORIZATION).and_then(basic_app_id) {
        return Ok((id, path.to_owned()));
    }
    let rest = path.trim_start_matches('/');
    let rest = rest
        .strip_prefix("v1.0/")
        .map(|r| r.trim_start_matches('/'));
    if let Some(rest) = rest.and_then(|r| r.strip_prefix("invoke/")) {
        let (id, method) = match rest.find("/method/") {
            Some(i) => (&rest[..i], &rest[i + "/method/".len()..]),
            None => match rest.strip_suffix("/method") {
                Some(id) => (id, ""),
                None => ("", ""),
            },
        };
        if !id.is_empty() {
            let id = urlencoding::decode(&id.replace('+', " "))
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| id.to_owned());
            if !id.is_empty() {
                return Ok((id, method.to_owned()));
            }
        }
    }
    Err(ApiError::direct_invoke_no_app_id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};
    use base64::Engine as _;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn targets_from_url_header_and_basic_auth() {
        let none = HeaderMap::new();
        assert_eq!(
            find_target("/v1.0/invoke/app/method/a/b", &none).unwrap(),
            ("app".into(), "a/b".into())
        );
        assert_eq!(
            find_target("/v1.0/invoke/my%2Eapp/method/x", &none).unwrap(),
            ("my.app".into(), "x".into())
        );
        assert_eq!(
            find_target("/v1.0/invoke/app/method", &none).unwrap(),
            ("app".into(), "".into())
        );
        assert_eq!(
            find_target("/neworder", &h(&[("dapr-app-id", "node")])).unwrap(),
            ("node".into(), "/neworder".into())
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("dapr-app-id:py");
        let auth = h(&[("authorization", &format!("Basic {basic}"))]);
        assert_eq!(
            find_target("/x/y", &auth).unwrap(),
            ("py".into(), "/x/y".into())
        );
        let e = find_target("/foo", &none).unwrap_err();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert!(e.message.contains("dapr-app-id"));
        assert!(find_target("/v1.0/invoke//method/x", &none).is_err());
    }
}

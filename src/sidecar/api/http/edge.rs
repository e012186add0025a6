//! What happens to every request before its route: path cleaning (`path.Clean`), CORS,
//! the header limit, `DAPR_API_TOKEN`, the body limit, and API logging. Also the body
//! readers the handlers share.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{HttpState, St};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::log;

pub(super) fn clean_request(mut req: Request) -> Request {
    let path = req.uri().path();
    let dirty = (path.len() > 1 && path.ends_with('/'))
        || path.contains("//")
        || path.contains("/./")
        || path.contains("/../")
        || path.ends_with("/.")
        || path.ends_with("/..");
    if !dirty {
        return req;
    }
    let cleaned = clean_path(path);
    let pq = match req.uri().query() {
        Some(q) => format!("{cleaned}?{q}"),
        None => cleaned,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(p) = pq.parse() {
        parts.path_and_query = Some(p);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Go's `path.Clean` for absolute paths (which also drops a trailing slash).
pub fn clean_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

fn token_exempt(method: &Method, path: &str) -> bool {
    method == Method::GET && matches!(path, "/v1.0/healthz" | "/v1.0/healthz/outbound")
}

/// CORS (only with `--allowed-origins`): answers preflights before any other check, and
/// marks responses to allowed origins.
pub(super) async fn edge(state: St, req: Request, next: Next) -> Response {
    let s = &state.0;
    let origin = match req.headers().get(header::ORIGIN) {
        Some(o) if !s.allowed_origins.is_empty() => o.clone(),
        _ => return guard(state, req, next).await,
    };
    let allowed = s
        .allowed_origins
        .iter()
        .any(|a| a == "*" || a.as_bytes() == origin.as_bytes());
    if !allowed {
        return guard(state, req, next).await;
    }
    let allow_origin = if s.allowed_origins.iter().any(|a| a == "*") {
        HeaderValue::from_static("*")
    } else {
        origin
    };
    if req.method() == Method::OPTIONS
        && let Some(method) = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .cloned()
    {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, method);
        if let Some(asked) = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        }
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        return res;
    }
    let mut res = guard(state, req, next).await;
    res.headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    res
}

/// Bytes of the request head as sent on the wire (HTTP/1.1 framing).
fn head_size(req: &Request) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 12;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    line + headers + 2
}

/// Header limit, API token, body limit and API logging.
async fn guard(State(s): St, mut req: Request, next: Next) -> Response {
    if head_size(&req) > s.max_header_bytes {
        drain(req.into_body()).await;
        let mut res = (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "431 Request Header Fields Too Large",
        )
            .into_response();
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    if let Some(token) = &s.api_token {
        let ok = req
            .headers()
            .get("dapr-api-token")
            .is_some_and(|v| v.as_bytes() == token.as_bytes());
        if !ok && !token_exempt(req.method(), req.uri().path()) {
            drain(req.into_body()).await;
            let mut res = (StatusCode::UNAUTHORIZED, "invalid api token\n").into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return res;
        }
        req.headers_mut().remove("dapr-api-token");
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared.filter(|len| *len > s.max_body_size as u64) {
        // Read and drop what the client is sending (within bounds) so that it gets to read
        // this answer: a client still writing when the connection closes sees only a broken
        // pipe. The connection is not reused either way.
        if len <= DISCARD_MAX {
            discard(req.into_body()).await;
        }
        let mut res = ApiError::body_too_large(s.max_body_size).into_response();
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    if !s.api_logging
        || (s.api_logging_omit_health_checks && req.uri().path().starts_with("/v1.0/healthz"))
    {
        return next.run(req).await;
    }
    let start = Instant::now();
    let method = format!("{} {}", req.method(), req.uri().path());
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let res = next.run(req).await;
    let code = res.status().as_u16().to_string();
    let duration = start.elapsed().as_millis().to_string();
    log::log_with(
        log::Level::Info,
        log::scope::API_LOG,
        "HTTP API Called",
        &[
            ("method", &method),
            ("useragent", &agent),
            ("code", &code),
            ("duration", &duration),
        ],
    );
    res
}

/// The largest refused body read (and dropped) before answering; larger ones are refused
/// unread.
const DISCARD_MAX: u64 = 64 << 20;

/// Reads and drops a refused body, up to [`DISCARD_MAX`] bytes and for at most 10 s.
async fn discard(body: Body) {
    use futures_util::StreamExt;
    let mut data = body.into_data_stream();
    let mut seen = 0u64;
    let reading = async {
        while let Some(Ok(chunk)) = data.next().await {
            seen += chunk.len() as u64;
            if seen > DISCARD_MAX {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), reading).await;
}

/// Reads and drops a small unread body so the keep-alive connection stays usable (hyper
/// closes a connection whose request body was left unread; Go's server drains it).
pub(super) async fn drain(body: Body) {
    let _ = axum::body::to_bytes(body, 64 * 1024).await;
}

/// Reads a body up to `--max-body-size` (chunked bodies have no Content-Length to check).
pub(super) async fn read_body(s: &HttpState, body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, s.max_body_size)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|src| src.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if too_large {
                ApiError::body_too_large(s.max_body_size)
            } else {
                ApiError::body_read(e)
            }
        })
}

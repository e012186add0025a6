//! The protocol-neutral messages of service invocation, passed between the API adapters,
//! the invoker, the sidecar-to-sidecar hop and the app channel. The HTTP adapter builds
//! them from HTTP requests, the gRPC adapter from `InvokeServiceRequest`s; the app channel
//! turns them into calls of the app's own protocol.

use axum::body::Body;
use http::{HeaderMap, Method, StatusCode};

/// A call of one method of an app.
#[derive(Debug)]
pub struct InvokeRequest {
    /// The method, decoded: the path on an HTTP app (without the leading `/`; the HTTP
    /// adapter undoes the caller's percent-encoding, the app channel encodes it again), the
    /// method name on a gRPC app. Normalized by the invoker (`invoke::headers`).
    pub method: String,
    /// The HTTP verb (gRPC callers give one in `http_extension`, else `POST`).
    pub verb: Method,
    /// The raw query string, forwarded unchanged.
    pub query: Option<String>,
    /// Caller metadata: HTTP headers or gRPC metadata, `content-type` included.
    pub metadata: HeaderMap,
    /// The payload, streamed.
    pub body: Body,
}

impl InvokeRequest {
    pub fn new(method: impl Into<String>, verb: Method, body: Body) -> InvokeRequest {
        InvokeRequest {
            method: method.into(),
            verb,
            query: None,
            metadata: HeaderMap::new(),
            body,
        }
    }
}

/// An app's answer, whatever it was (2xx or not): errors made by a sidecar are
/// `ApiError`s instead.
#[derive(Debug)]
pub struct InvokeResponse {
    /// The app's status, as an HTTP status.
    pub status: StatusCode,
    /// The app's headers (hop-by-hop headers removed), `content-type` included.
    pub metadata: HeaderMap,
    /// The payload, streamed; fails with `body::BodyLimitExceeded` past `--max-body-size`.
    pub body: Body,
}

//! The protocol-neutral messages of service invocation, passed between the API adapters,
//! the invoker, the sidecar-to-sidecar hop and the app channel. The HTTP adapter builds
//! them from HTTP requests, the gRPC adapter from `InvokeServiceRequest`s; the app channel
//! turns them into calls of the app's own protocol.

use axum::body::Body;
use bytes::Bytes;
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
    /// The app's status, as an HTTP status (a gRPC app's code mapped as the official
    /// runtime maps it, e.g. `NotFound` → 404).
    pub status: StatusCode,
    /// The app's headers (hop-by-hop headers removed), `content-type` included.
    pub metadata: HeaderMap,
    /// The payload, streamed; fails with `body::BodyLimitExceeded` past `--max-body-size`.
    /// For a gRPC app's error, the status as JSON (`{"code":5,"message":"..."}`).
    pub body: Body,
    /// Set when the app speaks gRPC: its status and data type as it sent them, which the
    /// gRPC API returns unchanged (the HTTP API uses `status` and `body`).
    pub grpc: Option<Box<GrpcReply>>,
}

impl InvokeResponse {
    /// An answer of an HTTP app.
    pub fn http(status: StatusCode, metadata: HeaderMap, body: Body) -> InvokeResponse {
        InvokeResponse {
            status,
            metadata,
            body,
            grpc: None,
        }
    }
}

/// What a gRPC app's answer holds beyond an HTTP answer: its status (any code, `0` = OK),
/// its trailers, and the type of its `data`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GrpcReply {
    pub code: i32,
    pub message: String,
    /// `grpc-status-details-bin`: an encoded `google.rpc.Status`; empty when the app sent
    /// none.
    pub details: Bytes,
    /// The app's trailers (reserved `grpc-*` names removed).
    pub trailers: HeaderMap,
    /// `data.type_url` of the app's `InvokeResponse` (empty for untyped bytes).
    pub type_url: String,
    /// `content_type` of the app's `InvokeResponse`, as sent (the `content-type` header
    /// says `application/x-protobuf` for typed data, as upstream's HTTP API does).
    pub content_type: String,
}

//! gRPC apps (`--app-protocol grpc`): this sidecar as a client of the app's
//! `dapr.proto.runtime.v1.AppCallback` over one plaintext HTTP/2 connection (connected on
//! first use, re-established when it drops), with `APP_API_TOKEN` as metadata
//! `dapr-api-token` and `--max-body-size` as the message size limit.
//!
//! Invocation follows the official runtime: `OnInvoke` gets the method, the body as
//! `data`, the caller's content type and `http_extension` (verb, query); caller headers
//! travel as gRPC metadata, the IANA permanent HTTP headers among them renamed `dapr-<name>`
//! (`dapr-content-type`, `dapr-accept`, ...). The answer's `data` is the body and its
//! `content_type` the `content-type` header. An error status of the app is an answer too:
//! for HTTP callers the mapped HTTP status with the status as JSON, for gRPC callers the
//! status itself ([`GrpcReply`]). A call that never reached the app (no connection, ...) is
//! a [`ChannelError`] instead. The status mapping is in `grpc_status`, pub/sub in
//! `grpc_pubsub`. Limits: no TLS (`grpcs`), no tracing headers generated (`traceparent`
//! passes through as is).

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1::app_callback_health_check_client::AppCallbackHealthCheckClient;
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::ChannelError;
use super::grpc_status::{http_status_from_code, status_json};
use crate::sidecar::body::is_too_large;
use crate::sidecar::messages::{GrpcReply, InvokeRequest, InvokeResponse};

const ON_INVOKE: &str = "/dapr.proto.runtime.v1.AppCallback/OnInvoke";

/// Room for a message's own fields around a body of `--max-body-size`.
const ENVELOPE_SLACK: usize = 64 * 1024;

/// Request headers the official runtime renames `dapr-<name>` for a gRPC app (the IANA
/// permanent HTTP headers), so they cannot clash with HTTP/2 and gRPC's own.
const PERMANENT: [&str; 28] = [
    "accept",
    "accept-charset",
    "accept-language",
    "accept-ranges",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "cache-control",
    "content-type",
    "content-length",
    "cookie",
    "date",
    "expect",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-schedule-tag-match",
    "if-unmodified-since",
    "max-forwards",
    "origin",
    "pragma",
    "referer",
    "via",
    "warning",
];

/// Response headers and trailers that describe the HTTP/2 or gRPC transport, not the app's
/// answer.
fn transport_header(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "content-length"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "upgrade"
            | "grpc-status"
            | "grpc-message"
            | "grpc-status-details-bin"
    )
}

/// A gRPC app at one address.
pub struct GrpcApp {
    channel: Channel,
    authority: String,
    token: Option<AsciiMetadataValue>,
    /// `--max-body-size`.
    max_body: usize,
}

impl GrpcApp {
    /// Sets up the (lazy) connection; must run inside the Tokio runtime.
    pub fn new(
        address: &str,
        port: u16,
        token: Option<&str>,
        max_body: usize,
    ) -> Result<GrpcApp, String> {
        let authority = super::http::authority(address, port)?;
        let endpoint = Endpoint::from_shared(format!("http://{authority}"))
            .map_err(|e| format!("--app-channel-address {address:?}: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20));
        let token = match token.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(AsciiMetadataValue::try_from(t).map_err(|_| {
                "APP_API_TOKEN contains characters not allowed in gRPC metadata".to_owned()
            })?),
        };
        Ok(GrpcApp {
            channel: endpoint.connect_lazy(),
            authority,
            token,
            max_body,
        })
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The shared connection (cheap to clone).
    pub(super) fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The largest message taken from the app.
    pub(super) fn max_message(&self) -> usize {
        self.max_body.saturating_add(ENVELOPE_SLACK)
    }

    /// A request to the app with `metadata` and the app token.
    pub(super) fn request<T>(&self, msg: T, metadata: MetadataMap) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        *r.metadata_mut() = metadata;
        if let Some(t) = &self.token {
            r.metadata_mut().insert("dapr-api-token", t.clone());
        }
        r
    }

    /// `OnInvoke`. The request body is read whole (at most `max_body` bytes, as the invoker
    /// bounded it); so is the answer.
    pub async fn invoke(
        &self,
        req: InvokeRequest,
        max_body: usize,
    ) -> Result<InvokeResponse, ChannelError> {
        let data = match req.body.collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) if is_too_large(&e) => return Err(ChannelError::RequestTooLarge(max_body)),
            Err(e) => return Err(ChannelError::Request(format!("reading the request: {e}"))),
        };
        let content_type = req
            .metadata
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let verb = common::http_extension::Verb::from_str_name(req.verb.as_str())
            .unwrap_or(common::http_extension::Verb::None);
        let msg = common::InvokeRequest {
            method: req.method,
            data: Some(prost_types::Any {
                type_url: String::new(),
                value: data.into(),
            }),
            content_type,
            http_extension: Some(common::HttpExtension {
                verb: verb as i32,
                querystring: req.query.unwrap_or_default(),
            }),
        };
        let request = self.request(msg, outgoing_metadata(&req.metadata));
        let mut grpc = tonic::client::Grpc::new(self.channel())
            .max_decoding_message_size(self.max_message())
            .max_encoding_message_size(self.max_message());
        grpc.ready()
            .await
            .map_err(|e| ChannelError::Request(format!("the app's gRPC channel: {e}")))?;
        let codec =
            tonic_prost::ProstCodec::<common::InvokeRequest, common::InvokeResponse>::default();
        let path = http::uri::PathAndQuery::from_static(ON_INVOKE);
        let (headers, mut stream) = match grpc.server_streaming(request, path, codec).await {
            Ok(r) => {
                let (headers, stream, _) = r.into_parts();
                (headers.into_headers(), stream)
            }
            Err(s) => return app_error(s, &HeaderMap::new(), max_body),
        };
        let msg = match stream.message().await {
            Ok(Some(m)) => m,
            Ok(None) => {
                let s = Status::internal("the app answered OnInvoke without a message");
                return app_error(s, &headers, max_body);
            }
            Err(s) => return app_error(s, &headers, max_body),
        };
        let trailers = match stream.trailers().await {
            Ok(t) => t.map(MetadataMap::into_headers).unwrap_or_default(),
            Err(s) => return app_error(s, &headers, max_body),
        };
        let data = msg.data.unwrap_or_default();
        if data.value.len() > max_body {
            return Err(ChannelError::ReplyTooLarge(max_body));
        }
        let mut metadata = response_headers(&headers);
        // A typed `Any` is protobuf whatever the app named, for HTTP callers, as upstream.
        let content_type = if data.type_url.is_empty() {
            msg.content_type.as_str()
        } else {
            "application/x-protobuf"
        };
        if let Ok(v) = HeaderValue::from_str(content_type)
            && !content_type.is_empty()
        {
            metadata.insert(header::CONTENT_TYPE, v);
        }
        Ok(InvokeResponse {
            status: StatusCode::OK,
            metadata,
            body: Body::from(data.value),
            grpc: Some(Box::new(GrpcReply {
                code: 0,
                message: String::new(),
                details: Bytes::new(),
                trailers: clean_trailers(trailers),
                type_url: data.type_url,
                content_type: msg.content_type,
            })),
        })
    }

    /// `AppCallbackHealthCheck.HealthCheck` within `timeout`: healthy when it answers OK.
    pub async fn health_check(&self, timeout: Duration) -> bool {
        let mut c = AppCallbackHealthCheckClient::new(self.channel());
        let call = c.health_check(self.request((), MetadataMap::new()));
        matches!(tokio::time::timeout(timeout, call).await, Ok(Ok(_)))
    }
}

/// Whether `s` is a failure to reach the app (connection refused, reset, ...) rather than
/// a status the app sent.
pub(super) fn is_transport(s: &Status) -> bool {
    std::error::Error::source(s).is_some()
}

/// `s` with the chain of errors behind it, for log lines and `ERR_DIRECT_INVOKE`.
pub(super) fn describe(s: &Status) -> String {
    let mut out = format!("{:?}: {}", s.code(), s.message());
    let mut src = std::error::Error::source(s);
    while let Some(e) = src {
        let t = e.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = e.source();
    }
    out
}

/// The answer for an error status of the app; a [`ChannelError`] when the call did not
/// reach the app or the answer was over the limit.
fn app_error(
    s: Status,
    headers: &HeaderMap,
    max_body: usize,
) -> Result<InvokeResponse, ChannelError> {
    if is_transport(&s) {
        return Err(ChannelError::Request(describe(&s)));
    }
    if s.code() == Code::OutOfRange && s.message().starts_with("Error, decoded message length") {
        return Err(ChannelError::ReplyTooLarge(max_body));
    }
    let code = s.code() as i32;
    let mut metadata = response_headers(headers);
    metadata.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(InvokeResponse {
        status: http_status_from_code(code),
        metadata,
        body: Body::from(status_json(code, s.message(), s.details())),
        grpc: Some(Box::new(GrpcReply {
            code,
            message: s.message().to_owned(),
            details: Bytes::copy_from_slice(s.details()),
            trailers: clean_trailers(s.metadata().clone().into_headers()),
            type_url: String::new(),
            content_type: String::new(),
        })),
    })
}

/// Caller headers as gRPC metadata for the app: gRPC's own names (`grpc-*`), binary
/// values and hop-by-hop headers dropped, permanent HTTP headers renamed `dapr-<name>`.
fn outgoing_metadata(headers: &HeaderMap) -> MetadataMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        if n.starts_with("grpc-") || n.ends_with("-bin") || n == "te" {
            continue;
        }
        if PERMANENT.contains(&n) {
            if matches!(
                n,
                "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade"
            ) {
                continue;
            }
            if let Ok(renamed) = HeaderName::from_bytes(format!("dapr-{n}").as_bytes()) {
                out.append(renamed, value.clone());
            }
        } else {
            out.append(name.clone(), value.clone());
        }
    }
    MetadataMap::from_headers(out)
}

/// The app's response headers as HTTP headers, as the official runtime writes them: the
/// transport's own and binary ones dropped, other `grpc-*` names prefixed with `dapr-`.
fn response_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let n = name.as_str();
        if transport_header(n) || n.ends_with("-bin") {
            continue;
        }
        if n.starts_with("grpc-") {
            if let Ok(renamed) = HeaderName::from_bytes(format!("dapr-{n}").as_bytes()) {
                out.append(renamed, value.clone());
            }
        } else {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Trailers without the transport's own entries.
fn clean_trailers(mut trailers: HeaderMap) -> HeaderMap {
    let drop: Vec<HeaderName> = trailers
        .keys()
        .filter(|k| transport_header(k.as_str()))
        .cloned()
        .collect();
    for k in drop {
        trailers.remove(k);
    }
    trailers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_headers_become_metadata() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("content-type", "text/plain"),
            ("accept", "*/*"),
            ("x-custom", "1"),
            ("user-agent", "curl"),
            ("grpc-timeout", "1S"),
            ("connection", "close"),
            ("traceparent", "00-abc"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let md = outgoing_metadata(&h).into_headers();
        let mut names: Vec<&str> = md.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "dapr-accept",
                "dapr-content-type",
                "traceparent",
                "user-agent",
                "x-custom"
            ]
        );
    }

    #[test]
    fn app_headers_become_http_headers() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("content-type", "application/grpc"),
            ("grpc-accept-encoding", "gzip"),
            ("x-reply", "1"),
            ("x-trace-bin", "AAEC"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let out = response_headers(&h);
        let mut names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["dapr-grpc-accept-encoding", "x-reply"]);
    }
}

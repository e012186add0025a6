//! The caller side towards official sidecars: one `CallLocalStream` per call, the request
//! body sent whole (it is buffered by the caller so a refused connection can be retried),
//! the answer streamed back as it arrives. A status the callee's app gave is its answer
//! (any code); a gRPC error is the callee sidecar's failure.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Body;
use bytes::Bytes;
use dapr::dapr::proto::common::v1 as common;
use futures_util::stream;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::proto::service_invocation_client::ServiceInvocationClient;
use super::proto::{
    ApiVersion, InternalInvokeRequest, InternalInvokeRequestStream, InternalInvokeResponse,
    ListStringValue,
};
use super::{grpc_reply, headers_from_metadata, metadata_from_headers, payloads, verb_to_proto};
use crate::sidecar::api::grpc::status::rpc_error;
use crate::sidecar::app_channel::grpc_status::{http_status_from_code, status_json};
use crate::sidecar::body::LimitedBody;
use crate::sidecar::invoke::headers::DESTINATION_APP_ID;
use crate::sidecar::messages::InvokeResponse;

/// Request bodies go out in chunks of this size, as upstream's stream buffer.
const CHUNK: usize = 2 << 10;

/// One gRPC channel (HTTP/2 connection, made on first use) per official peer address.
#[derive(Default)]
pub struct Peers {
    channels: Mutex<HashMap<String, Channel>>,
}

impl Peers {
    fn channel(&self, addr: &str) -> Result<Channel, String> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(addr) {
            return Ok(c.clone());
        }
        let c = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("invalid address {addr}: {e}"))?
            .tcp_nodelay(true)
            .connect_lazy();
        map.insert(addr.to_owned(), c.clone());
        Ok(c)
    }

    /// Forgets the connection to `addr` (after it failed), so the next call dials again.
    pub fn forget(&self, addr: &str) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(addr);
    }
}

/// What to send.
pub struct Call<'a> {
    pub app_id: &'a str,
    pub method: &'a str,
    pub query: Option<&'a str>,
    pub verb: &'a Method,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
}

/// Why a call failed.
pub enum Failure {
    /// The connection could not be made: nothing reached the peer, the call may be retried.
    Connect(String),
    /// The peer sidecar answered with an error, or the connection broke during the call.
    Status(Status),
}

impl Failure {
    /// As the official caller words it (`rpc error: code = ... desc = ...`).
    pub fn detail(&self) -> String {
        match self {
            Failure::Connect(e) => e.clone(),
            Failure::Status(s) => rpc_error(s),
        }
    }
}

/// Calls `call.app_id`'s app through the official sidecar at `addr`.
pub async fn call(
    peers: &Peers,
    addr: &str,
    call: Call<'_>,
    max_body: usize,
) -> Result<InvokeResponse, Failure> {
    let channel = peers.channel(addr).map_err(Failure::Connect)?;
    let limit = max_body.saturating_add(1 << 20);
    let mut client = ServiceInvocationClient::new(channel)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let chunks = request_chunks(&call);
    let mut answer = match client.call_local_stream(stream::iter(chunks)).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(classify(s)),
    };
    let lead = match answer.message().await {
        Ok(Some(m)) => m,
        Ok(None) => {
            return Err(Failure::Status(Status::internal(
                "the callee sidecar closed the stream without an answer",
            )));
        }
        Err(s) => return Err(classify(s)),
    };
    let Some(head) = lead.response.filter(|r| r.status.is_some()) else {
        return Err(Failure::Status(Status::internal(
            "response does not contain the required fields in the leading chunk",
        )));
    };
    let body = Body::new(LimitedBody::new(
        Body::from_stream(payloads(lead.payload, answer, "response", Code::Internal)),
        max_body,
    ));
    Ok(response(head, body))
}

/// The leading chunk (routing metadata, method, verb, query, content type) and the body in
/// numbered chunks.
fn request_chunks(call: &Call<'_>) -> Vec<InternalInvokeRequestStream> {
    let mut metadata = metadata_from_headers(call.headers);
    metadata.insert(
        DESTINATION_APP_ID.as_str().to_owned(),
        ListStringValue {
            values: vec![call.app_id.to_owned()],
        },
    );
    let content_type = call
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let request = InternalInvokeRequest {
        ver: ApiVersion::V1 as i32,
        metadata,
        message: Some(common::InvokeRequest {
            method: call.method.to_owned(),
            data: None,
            content_type,
            http_extension: Some(common::HttpExtension {
                verb: verb_to_proto(call.verb),
                querystring: call.query.unwrap_or("").to_owned(),
            }),
        }),
        actor: None,
    };
    let mut out = vec![InternalInvokeRequestStream {
        request: Some(request),
        payload: None,
    }];
    for (seq, part) in call.body.chunks(CHUNK).enumerate() {
        let payload = Some(common::StreamPayload {
            data: part.to_vec(),
            seq: seq as u64,
        });
        if seq == 0 {
            out[0].payload = payload;
        } else {
            out.push(InternalInvokeRequestStream {
                request: None,
                payload,
            });
        }
    }
    out
}

/// The callee app's answer: an HTTP status (>= 100) is an HTTP app's, anything lower a gRPC
/// app's code (its error shown to HTTP callers as upstream shows it).
fn response(head: InternalInvokeResponse, body: Body) -> InvokeResponse {
    let status = head.status.unwrap_or_default();
    let message = head.message.unwrap_or_default();
    let mut metadata = headers_from_metadata(&head.headers);
    let (type_url, content_type) = match message.data {
        Some(a) => (a.type_url, message.content_type),
        None => (String::new(), message.content_type),
    };
    if status.code >= 100 {
        if let Ok(v) = HeaderValue::from_str(&content_type)
            && !content_type.is_empty()
        {
            metadata.insert(header::CONTENT_TYPE, v);
        }
        let code = u16::try_from(status.code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return InvokeResponse::http(code, metadata, body);
    }
    let reply = grpc_reply(status, &head.trailers, type_url, content_type);
    let (code, body) = if reply.code == 0 {
        let shown = if reply.type_url.is_empty() {
            reply.content_type.as_str()
        } else {
            "application/x-protobuf"
        };
        if let Ok(v) = HeaderValue::from_str(shown)
            && !shown.is_empty()
        {
            metadata.insert(header::CONTENT_TYPE, v);
        }
        (StatusCode::OK, body)
    } else {
        metadata.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let json = status_json(reply.code, &reply.message, &reply.details);
        (http_status_from_code(reply.code), Body::from(json))
    };
    InvokeResponse {
        status: code,
        metadata,
        body,
        grpc: Some(Box::new(reply)),
    }
}

/// A connection that could not be made is retryable; anything else is the peer's answer.
fn classify(s: Status) -> Failure {
    if s.code() == Code::Unavailable && connect_failed(&s) {
        return Failure::Connect(format!("{}: {}", s.message(), chain(&s)));
    }
    Failure::Status(s)
}

fn connect_failed(s: &Status) -> bool {
    let mut src = std::error::Error::source(s);
    while let Some(e) = src {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            )
        {
            return true;
        }
        if e.to_string().contains("tcp connect error") {
            return true;
        }
        src = e.source();
    }
    false
}

fn chain(s: &Status) -> String {
    let mut out = Vec::new();
    let mut src = std::error::Error::source(s);
    while let Some(e) = src {
        out.push(e.to_string());
        src = e.source();
    }
    out.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_goes_in_numbered_chunks_after_the_request() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        let body = Bytes::from(vec![7u8; CHUNK * 2 + 5]);
        let c = Call {
            app_id: "b",
            method: "m/x",
            query: Some("a=1"),
            verb: &Method::PUT,
            headers: &h,
            body,
        };
        let chunks = request_chunks(&c);
        assert_eq!(chunks.len(), 3);
        let req = chunks[0].request.as_ref().unwrap();
        assert_eq!(req.metadata["destination-app-id"].values, vec!["b"]);
        let msg = req.message.as_ref().unwrap();
        assert_eq!(
            (msg.method.as_str(), msg.content_type.as_str()),
            ("m/x", "text/plain")
        );
        let ext = msg.http_extension.as_ref().unwrap();
        assert_eq!((ext.verb, ext.querystring.as_str()), (4, "a=1"));
        let seqs: Vec<u64> = chunks
            .iter()
            .map(|c| c.payload.as_ref().unwrap().seq)
            .collect();
        assert_eq!(seqs, vec![0, 1, 2]);
        assert!(chunks[1].request.is_none());
        let empty = Call {
            body: Bytes::new(),
            ..c
        };
        let chunks = request_chunks(&empty);
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].payload.is_none());
    }

    #[test]
    fn statuses_of_http_and_grpc_apps() {
        let head = |code: i32, ct: &str, type_url: Option<&str>| InternalInvokeResponse {
            status: Some(super::super::proto::Status {
                code,
                message: "nope".into(),
                details: vec![],
            }),
            headers: [(
                "X-Reply".to_string(),
                ListStringValue {
                    values: vec!["1".into()],
                },
            )]
            .into(),
            trailers: Default::default(),
            message: Some(common::InvokeResponse {
                data: type_url.map(|t| prost_types::Any {
                    type_url: t.into(),
                    value: vec![],
                }),
                content_type: ct.into(),
            }),
        };
        let r = response(head(404, "text/plain", None), Body::empty());
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.metadata["content-type"], "text/plain");
        assert_eq!(r.metadata["x-reply"], "1");
        assert!(r.grpc.is_none());
        let r = response(head(0, "", Some("type.googleapis.com/a.B")), Body::empty());
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.metadata["content-type"], "application/x-protobuf");
        assert_eq!(r.grpc.as_ref().unwrap().type_url, "type.googleapis.com/a.B");
        let r = response(head(5, "", None), Body::empty());
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.grpc.as_ref().unwrap().code, 5);
        assert_eq!(r.metadata["content-type"], "application/json");
    }
}

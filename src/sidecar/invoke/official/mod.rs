//! The official runtime's sidecar-to-sidecar protocol (`dapr.proto.internals.v1.ServiceInvocation`
//! over gRPC), so that an official `daprd` and ours call each other's apps:
//! - [`server`]: served on our internal port beside our own HTTP/1.1 hop (an HTTP/2 gRPC
//!   request there is one of these), for official callers;
//! - [`client`]: used by our caller side for a target whose registry row was written by the
//!   official name resolver (it does not know our `hop` column; see `resolver`).
//!
//! Between two of our sidecars the HTTP/1.1 hop stays: it is cheaper on loopback and carries
//! our error kinds. This module holds the message conversions both directions share.
//!
//! Limits: only app calls (`CallLocal`, `CallLocalStream`); actor calls across runtimes need
//! the official placement service (`CallActor*` answer `Unimplemented`), and gRPC proxying
//! (`dapr-app-id` metadata on an app's own gRPC call) is not bridged.

pub mod client;
pub mod server;

#[allow(clippy::all, missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/dapr.proto.internals.v1.rs"));
}

use std::collections::HashMap;

use bytes::Bytes;
use dapr::dapr::proto::common::v1::StreamPayload;
use dapr::dapr::proto::common::v1::http_extension::Verb;
use futures_util::stream::{self, Stream};
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method};
use prost::Message as _;
use tonic::{Code, Status, Streaming};

use self::proto::{InternalInvokeRequestStream, InternalInvokeResponseStream, ListStringValue};
use super::headers::INTERNAL_ERROR;
use crate::sidecar::messages::GrpcReply;

/// The metadata map of the protocol: header name → values.
pub type Metadata = HashMap<String, ListStringValue>;

/// Headers as protocol metadata (names as HTTP/2 spells them, lowercase). Our own hop's
/// `x-dapr-internal-*` headers, `content-length` and `host` stay behind.
pub fn metadata_from_headers(headers: &HeaderMap) -> Metadata {
    let mut out: Metadata = HashMap::with_capacity(headers.keys_len());
    for (name, value) in headers {
        let n = name.as_str();
        if n.starts_with("x-dapr-internal-")
            || name == header::CONTENT_LENGTH
            || name == header::HOST
        {
            continue;
        }
        out.entry(n.to_owned())
            .or_default()
            .values
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    out
}

/// Protocol metadata as headers. Binary (`*-bin`) entries, names HTTP cannot carry and
/// `content-length` are left out, as is anything claiming to be our own hop's headers.
pub fn headers_from_metadata(md: &Metadata) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(md.len());
    for (k, list) in md {
        let lower = k.to_ascii_lowercase();
        if lower.ends_with("-bin")
            || lower.starts_with(':')
            || lower == "content-length"
            || lower.starts_with("x-dapr-internal-")
            || lower == INTERNAL_ERROR.as_str()
        {
            continue;
        }
        let Ok(name) = HeaderName::from_bytes(lower.as_bytes()) else {
            continue;
        };
        for v in &list.values {
            if let Ok(v) = HeaderValue::from_str(v) {
                out.append(name.clone(), v);
            }
        }
    }
    out
}

/// The protocol's verb for an HTTP method (an unknown one is sent as `POST`, as upstream).
pub fn verb_to_proto(m: &Method) -> i32 {
    Verb::from_str_name(m.as_str()).unwrap_or(Verb::Post) as i32
}

/// The HTTP method for the protocol's verb: `NONE` (a gRPC caller's) is `POST`.
pub fn verb_from_proto(v: i32) -> Method {
    match Verb::try_from(v).unwrap_or(Verb::None) {
        Verb::None => Method::POST,
        v => Method::from_bytes(v.as_str_name().as_bytes()).unwrap_or(Method::POST),
    }
}

/// A gRPC app's status details as the protocol carries them (a list of `Any`), from the
/// encoded `google.rpc.Status` we keep.
pub fn details_to_proto(details: &[u8]) -> Vec<prost_types::Any> {
    dapr::google::rpc::Status::decode(details)
        .map(|s| s.details)
        .unwrap_or_default()
}

/// The encoded `google.rpc.Status` for a status from the protocol ([`GrpcReply::details`]);
/// empty when there are no details.
pub fn details_from_proto(code: i32, message: &str, details: Vec<prost_types::Any>) -> Bytes {
    if details.is_empty() {
        return Bytes::new();
    }
    dapr::google::rpc::Status {
        code,
        message: message.to_owned(),
        details,
    }
    .encode_to_vec()
    .into()
}

/// A gRPC app's answer beyond HTTP, as a [`GrpcReply`], from a protocol status below 100.
pub fn grpc_reply(
    status: proto::Status,
    trailers: &Metadata,
    type_url: String,
    content_type: String,
) -> GrpcReply {
    GrpcReply {
        code: status.code,
        details: details_from_proto(status.code, &status.message, status.details),
        message: status.message,
        trailers: headers_from_metadata(trailers),
        type_url,
        content_type,
    }
}

/// A message of a streamed call: an optional leading part (the request or the response)
/// and an optional chunk of the body.
pub trait Chunk: Send + 'static {
    /// Whether the leading part is present, and the chunk.
    fn split(self) -> (bool, Option<StreamPayload>);
}

impl Chunk for InternalInvokeRequestStream {
    fn split(self) -> (bool, Option<StreamPayload>) {
        (self.request.is_some(), self.payload)
    }
}

impl Chunk for InternalInvokeResponseStream {
    fn split(self) -> (bool, Option<StreamPayload>) {
        (self.response.is_some(), self.payload)
    }
}

/// The body carried by a streamed call: the leading message's chunk (`first`), then each
/// following message's, in sequence. A gap in the numbering or a repeated leading part
/// ends it with an error of `code` (the side reading it: `InvalidArgument` for a request,
/// `Internal` for an answer), worded as upstream.
pub fn payloads<T: Chunk>(
    first: Option<StreamPayload>,
    chunks: Streaming<T>,
    side: &'static str,
    code: Code,
) -> impl Stream<Item = Result<Bytes, Status>> + Send + 'static {
    stream::unfold(
        (first, Some(chunks), 0u64),
        move |(mut pending, chunks, seq)| async move {
            let mut chunks = chunks?;
            loop {
                if let Some(p) = pending.take() {
                    if p.seq != seq {
                        let why = format!(
                            "invalid sequence number received: {} (expected: {seq})",
                            p.seq
                        );
                        return Some((Err(Status::new(code, why)), (None, None, seq)));
                    }
                    return Some((Ok(Bytes::from(p.data)), (None, Some(chunks), seq + 1)));
                }
                match chunks.message().await {
                    Ok(Some(m)) => match m.split() {
                        (true, _) => {
                            let why = format!("{side} metadata found in non-leading chunk");
                            return Some((Err(Status::new(code, why)), (None, None, seq)));
                        }
                        (false, p) => pending = p,
                    },
                    Ok(None) => return None,
                    Err(e) => return Some((Err(e), (None, None, seq))),
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trip_keeps_values_and_drops_hop_internals() {
        let mut h = HeaderMap::new();
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-a", HeaderValue::from_static("2"));
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        h.insert("content-length", HeaderValue::from_static("3"));
        h.insert(
            "x-dapr-internal-target-namespace",
            HeaderValue::from_static("default"),
        );
        let md = metadata_from_headers(&h);
        assert_eq!(md["x-a"].values, vec!["1", "2"]);
        assert!(!md.contains_key("content-length"));
        assert!(!md.contains_key("x-dapr-internal-target-namespace"));
        // The official caller spells names as Go canonicalises them, and sends binary ones.
        let mut md = md;
        md.insert(
            "X-Forwarded-For".into(),
            ListStringValue {
                values: vec!["127.0.0.1".into()],
            },
        );
        md.insert(
            "grpc-trace-bin".into(),
            ListStringValue {
                values: vec!["AAA=".into()],
            },
        );
        let back = headers_from_metadata(&md);
        assert_eq!(back.get_all("x-a").iter().count(), 2);
        assert_eq!(back["x-forwarded-for"], "127.0.0.1");
        assert!(back.get("grpc-trace-bin").is_none());
        assert_eq!(back["content-type"], "text/plain");
    }

    #[test]
    fn verbs() {
        assert_eq!(verb_from_proto(verb_to_proto(&Method::GET)), Method::GET);
        assert_eq!(
            verb_from_proto(verb_to_proto(&Method::PATCH)),
            Method::PATCH
        );
        assert_eq!(verb_from_proto(0), Method::POST);
        let odd = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(verb_to_proto(&odd), Verb::Post as i32);
    }

    #[test]
    fn details_round_trip() {
        let any = prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: vec![1, 2],
        };
        let enc = details_from_proto(5, "gone", vec![any.clone()]);
        assert_eq!(details_to_proto(&enc), vec![any]);
        assert!(details_from_proto(5, "gone", vec![]).is_empty());
    }
}

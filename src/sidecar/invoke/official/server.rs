//! The callee side for official callers: `ServiceInvocation.CallLocal` and `CallLocalStream`
//! on our internal port. The request is checked to be meant for this app, as on our own hop,
//! then goes to the local app channel; the app's answer goes back whatever its status, with
//! the status code the protocol uses (the HTTP status of an HTTP app, the gRPC code of a gRPC
//! app). Failures of the app channel are gRPC errors worded as upstream's
//! (`error invoking app channel: ...`), which the official caller reports as `ERR_DIRECT_INVOKE`.

use std::sync::Arc;

use axum::body::Body;
use dapr::dapr::proto::common::v1 as common;
use futures_util::stream::{self, BoxStream, StreamExt};
use http::{HeaderValue, header};
use http_body_util::{BodyDataStream, BodyExt};
use tonic::{Code, Request, Response, Status, Streaming};

use super::proto::service_invocation_server::{ServiceInvocation, ServiceInvocationServer};
use super::proto::{
    InternalInvokeRequest, InternalInvokeRequestStream, InternalInvokeResponse,
    InternalInvokeResponseStream,
};
use super::{
    details_to_proto, headers_from_metadata, metadata_from_headers, payloads, proto,
    verb_from_proto,
};
use crate::sidecar::body::{LimitedBody, is_too_large};
use crate::sidecar::invoke::Invoker;
use crate::sidecar::invoke::headers::strip_request;
use crate::sidecar::messages::{InvokeRequest, InvokeResponse};

const ACTORS: &str = "actor calls from another runtime's sidecar are not supported by this daprd \
     (they need the official placement service)";

/// The service for `invoker`, accepting messages up to its body limit (plus room for the
/// metadata).
pub fn service(invoker: Arc<Invoker>) -> ServiceInvocationServer<Hop> {
    let limit = invoker.max_body.saturating_add(1 << 20);
    ServiceInvocationServer::new(Hop { invoker })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit)
}

pub struct Hop {
    invoker: Arc<Invoker>,
}

impl Hop {
    /// The checks of our own hop, then the app.
    async fn call(&self, r: InternalInvokeRequest, body: Body) -> Result<InvokeResponse, Status> {
        let inv = &self.invoker;
        let Some(msg) = r.message else {
            return Err(Status::invalid_argument(
                "parsing InternalInvokeRequest error: field Message is nil",
            ));
        };
        let mut metadata = headers_from_metadata(&r.metadata);
        if let Err(e) = inv.check_target(&metadata) {
            return Err(Status::not_found(e.message));
        }
        strip_request(&mut metadata);
        if let Ok(v) = HeaderValue::from_str(&msg.content_type)
            && !msg.content_type.is_empty()
        {
            metadata.insert(header::CONTENT_TYPE, v);
        }
        let ext = msg.http_extension.unwrap_or_default();
        let req = InvokeRequest {
            method: msg.method,
            verb: verb_from_proto(ext.verb),
            query: (!ext.querystring.is_empty()).then_some(ext.querystring),
            metadata,
            body: Body::new(LimitedBody::new(body, inv.max_body)),
        };
        inv.channel
            .invoke(req)
            .await
            .map_err(|e| Status::internal(format!("error invoking app channel: {e}")))
    }
}

#[tonic::async_trait]
impl ServiceInvocation for Hop {
    async fn call_actor(
        &self,
        _: Request<InternalInvokeRequest>,
    ) -> Result<Response<InternalInvokeResponse>, Status> {
        Err(Status::unimplemented(ACTORS))
    }

    async fn call_local(
        &self,
        req: Request<InternalInvokeRequest>,
    ) -> Result<Response<InternalInvokeResponse>, Status> {
        let mut r = req.into_inner();
        let data = r
            .message
            .as_mut()
            .and_then(|m| m.data.take())
            .map(|a| a.value)
            .unwrap_or_default();
        let res = self.call(r, Body::from(data)).await?;
        let (mut head, body) = response_head(res);
        let data = match body.collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) => return Err(body_error(&e, self.invoker.max_body)),
        };
        if let Some(m) = head.message.as_mut() {
            m.data.get_or_insert_with(Default::default).value = data.into();
        }
        Ok(Response::new(head))
    }

    type CallLocalStreamStream = BoxStream<'static, Result<InternalInvokeResponseStream, Status>>;

    async fn call_local_stream(
        &self,
        req: Request<Streaming<InternalInvokeRequestStream>>,
    ) -> Result<Response<Self::CallLocalStreamStream>, Status> {
        let mut chunks = req.into_inner();
        let leading = "parsing InternalInvokeRequest error: request does not contain the required \
                       fields in the leading chunk";
        let first = chunks
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument(leading))?;
        let request = match first.request {
            Some(r) if r.message.is_some() => r,
            _ => return Err(Status::invalid_argument(leading)),
        };
        let body = Body::from_stream(payloads(
            first.payload,
            chunks,
            "request",
            Code::InvalidArgument,
        ));
        let res = self.call(request, body).await?;
        let (head, body) = response_head(res);
        let limit = self.invoker.max_body;
        let lead = InternalInvokeResponseStream {
            response: Some(head),
            payload: None,
        };
        let rest = BodyDataStream::new(body)
            .filter(|r| std::future::ready(!matches!(r, Ok(b) if b.is_empty())))
            .enumerate()
            .map(move |(seq, r)| match r {
                Ok(data) => Ok(InternalInvokeResponseStream {
                    response: None,
                    payload: Some(common::StreamPayload {
                        data: data.into(),
                        seq: seq as u64,
                    }),
                }),
                Err(e) => Err(body_error(&e, limit)),
            });
        Ok(Response::new(
            stream::once(std::future::ready(Ok(lead)))
                .chain(rest)
                .boxed(),
        ))
    }

    type CallActorStreamStream = BoxStream<'static, Result<InternalInvokeResponse, Status>>;

    async fn call_actor_stream(
        &self,
        _: Request<InternalInvokeRequest>,
    ) -> Result<Response<Self::CallActorStreamStream>, Status> {
        Err(Status::unimplemented(ACTORS))
    }
}

/// The leading part of the answer (status, headers, content type, data type) and the body
/// to send after it. A gRPC app's error carries no data (its status says it all).
fn response_head(res: InvokeResponse) -> (InternalInvokeResponse, Body) {
    let InvokeResponse {
        status,
        metadata,
        body,
        grpc,
    } = res;
    match grpc {
        Some(g) => {
            let body = if g.code == 0 { body } else { Body::empty() };
            let head = InternalInvokeResponse {
                status: Some(proto::Status {
                    code: g.code,
                    message: g.message,
                    details: details_to_proto(&g.details),
                }),
                headers: metadata_from_headers(&metadata),
                trailers: metadata_from_headers(&g.trailers),
                message: Some(common::InvokeResponse {
                    data: Some(prost_types::Any {
                        type_url: g.type_url,
                        value: Vec::new(),
                    }),
                    content_type: g.content_type,
                }),
            };
            (head, body)
        }
        None => {
            let content_type = metadata
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let head = InternalInvokeResponse {
                status: Some(proto::Status {
                    code: i32::from(status.as_u16()),
                    message: String::new(),
                    details: Vec::new(),
                }),
                headers: metadata_from_headers(&metadata),
                trailers: Default::default(),
                message: Some(common::InvokeResponse {
                    data: None,
                    content_type,
                }),
            };
            (head, body)
        }
    }
}

/// A failure reading the app's answer (over `--max-body-size`, or the app went away).
fn body_error(e: &axum::Error, limit: usize) -> Status {
    if is_too_large(e) {
        Status::resource_exhausted(format!(
            "the app's response is larger than the limit of {limit} bytes"
        ))
    } else {
        Status::internal(format!(
            "error invoking app channel: reading the response: {e}"
        ))
    }
}

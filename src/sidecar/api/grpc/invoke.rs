//! `InvokeService`: the protocol-neutral request built straight from the gRPC message
//! (verb and query from `http_extension`, caller metadata, content type, data), and the
//! app's answer returned as an `InvokeResponse`. A non-2xx answer of an HTTP app becomes a
//! gRPC error with the mapped code and header `dapr-http-status`; a gRPC app's status is
//! returned as the app sent it (code, message, details), its trailers with its headers.
//! Errors made by a sidecar (unknown app, callee unreachable, reply too large, ...) render
//! from the error table.

use std::collections::HashMap;

use axum::body::Body;
use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use http::HeaderValue;
use http_body_util::BodyExt;
use tonic::metadata::{AsciiMetadataValue, KeyAndValueRef, MetadataMap};
use tonic::{Code, Response, Status};

use super::status::{code_from_http, with_info};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::api::universal::Api;
use crate::sidecar::body::is_too_large;
use crate::sidecar::messages::InvokeRequest;

/// Header (response metadata) carrying the app's HTTP status on `InvokeService`.
pub const DAPR_HTTP_STATUS: &str = "dapr-http-status";

/// gRPC request metadata that is transport detail, not caller metadata for the app.
fn skip_metadata(name: &str) -> bool {
    matches!(
        name,
        "content-type" | "te" | "content-length" | "user-agent" | "dapr-api-token"
    ) || name.starts_with("grpc-")
        || name.starts_with(':')
}

/// App response headers not returned as gRPC response metadata.
fn skip_response_header(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "content-length"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "date"
    ) || name.starts_with("grpc-")
}

pub async fn invoke(
    api: &Api,
    max_body: usize,
    metadata: &MetadataMap,
    req: pb::InvokeServiceRequest,
) -> Result<Response<common::InvokeResponse>, Status> {
    if req.id.is_empty() {
        return Err(ApiError::direct_invoke_no_app_id().into());
    }
    let msg = req.message.unwrap_or_default();
    let (verb, query) = match &msg.http_extension {
        Some(ext) => {
            use common::http_extension::Verb;
            let verb = match Verb::try_from(ext.verb).unwrap_or(Verb::None) {
                Verb::None => http::Method::POST,
                v => http::Method::from_bytes(v.as_str_name().as_bytes())
                    .unwrap_or(http::Method::POST),
            };
            (
                verb,
                Some(ext.querystring.clone()).filter(|q| !q.is_empty()),
            )
        }
        None => (http::Method::POST, None),
    };
    let mut headers = http::HeaderMap::new();
    for kv in metadata.iter() {
        if let KeyAndValueRef::Ascii(k, v) = kv
            && !skip_metadata(k.as_str())
            && let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(k.as_str().as_bytes()),
                HeaderValue::from_bytes(v.as_bytes()),
            )
        {
            headers.append(name, value);
        }
    }
    if let Ok(ct) = HeaderValue::from_str(&msg.content_type)
        && !msg.content_type.is_empty()
    {
        headers.insert(http::header::CONTENT_TYPE, ct);
    }
    let data = msg.data.map(|a| a.value).unwrap_or_default();
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(data.len()));
    // gRPC methods are raw strings (no percent-decoding), as upstream.
    let call = InvokeRequest {
        method: msg.method,
        verb,
        query,
        metadata: headers,
        body: Body::from(data),
    };
    let res = api.invoke.invoke(&req.id, call).await?;
    let body = match res.body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if is_too_large(&e) => {
            return Err(ApiError::invoke_reply_too_large(&req.id, max_body).into());
        }
        Err(e) => {
            return Err(ApiError::direct_invoke(
                &req.id,
                format_args!("reading the app's response: {e}"),
            )
            .into());
        }
    };
    let status = res.status.as_u16();
    let (content_type, type_url) = match &res.grpc {
        Some(g) => (g.content_type.clone(), g.type_url.clone()),
        None => (
            res.metadata
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            String::new(),
        ),
    };
    let mut out_meta = MetadataMap::new();
    for (name, value) in &res.metadata {
        if skip_response_header(name.as_str()) {
            continue;
        }
        if let Ok(v) = AsciiMetadataValue::try_from(value.as_bytes())
            && let Ok(k) = tonic::metadata::AsciiMetadataKey::from_bytes(name.as_ref())
        {
            out_meta.append(k, v);
        }
    }
    if let Some(g) = &res.grpc {
        for (name, value) in &g.trailers {
            if !skip_response_header(name.as_str()) {
                out_meta.as_mut().append(name.clone(), value.clone());
            }
        }
        if g.code != Code::Ok as i32 {
            return Err(Status::with_details_and_metadata(
                Code::from_i32(g.code),
                g.message.clone(),
                g.details.clone(),
                out_meta,
            ));
        }
    }
    if code_from_http(status) != Code::Ok {
        if let Ok(v) = AsciiMetadataValue::try_from(status.to_string()) {
            out_meta.insert(DAPR_HTTP_STATUS, v);
        }
        let text = res.status.canonical_reason().unwrap_or("").to_string();
        let mut detail = String::from_utf8_lossy(&body).into_owned();
        if detail.len() > 64 * 1024 {
            let mut cut = 64 * 1024;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        let meta = HashMap::from([
            ("http.code".to_string(), status.to_string()),
            ("http.error_message".to_string(), detail),
        ]);
        let mut st = with_info(code_from_http(status), text.clone(), &text, meta);
        st.metadata_mut().as_mut().extend(out_meta.into_headers());
        return Err(st);
    }
    let mut out = Response::new(common::InvokeResponse {
        data: Some(prost_types::Any {
            type_url,
            value: body.to_vec(),
        }),
        content_type,
    });
    *out.metadata_mut() = out_meta;
    Ok(out)
}

//! `POST|PUT /v1.0/bindings/{name}`: the body is `{"data": any, "metadata": {..},
//! "operation": ".."}` (field names matched case-insensitively, as Go's decoder does);
//! `data` is passed on re-serialised as JSON (a JSON string keeps its quotes; no `data` is
//! `null`); `metadata.*` query parameters are merged over the body's metadata, and the
//! `traceparent`, `tracestate` and `baggage` headers are added. The answer: the binding's
//! data with `200` (`Content-Type: application/json`), `204` when it
//! answered nothing; its response metadata as `metadata.<key>` headers, also on error.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use super::decode::{metadata_map, opt_string, parse_query, take};
use super::edge::read_body;
use super::{HttpState, St};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::components::bindings::{InvokeRequest, Metadata};

pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new().route("/v1.0/bindings/{name}", post(invoke).put(invoke))
}

/// The request body as the binding receives it.
fn request(body: &[u8]) -> Result<InvokeRequest, ApiError> {
    let mut m = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(ApiError::malformed_request(
                "the body must be a JSON object with data, metadata and operation",
            ));
        }
        Err(e) => return Err(ApiError::malformed_request(e)),
    };
    let data = take(&mut m, "data").unwrap_or(Value::Null);
    Ok(InvokeRequest {
        operation: opt_string(take(&mut m, "operation"), "operation")?.unwrap_or_default(),
        metadata: metadata_map(take(&mut m, "metadata"), "metadata")?,
        data: Bytes::from(serde_json::to_vec(&data).unwrap_or_default()),
    })
}

fn with_metadata(mut res: Response, metadata: &Metadata) -> Response {
    for (k, v) in metadata {
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(format!("metadata.{k}")),
            HeaderValue::try_from(v.as_str()),
        ) {
            res.headers_mut().append(k, v);
        }
    }
    res
}

async fn invoke(
    State(s): St,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let req = async {
        let body = read_body(&s, body).await?;
        let mut req = request(&body)?;
        let (query, _) = parse_query(q.as_deref());
        req.metadata.extend(query);
        for h in ["traceparent", "tracestate"] {
            if let Some(v) = headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
            {
                req.metadata.insert(h.to_string(), v.to_string());
            }
        }
        let baggage: Vec<&str> = headers
            .get_all("baggage")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !baggage.is_empty() {
            req.metadata.insert("baggage".into(), baggage.join(","));
        }
        Ok::<_, ApiError>(req)
    }
    .await;
    let req = match req {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match s.api.bindings.invoke(&name, req).await {
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Ok(Some(r)) => {
            // As upstream's `respondWithData`: always JSON (only `metadata.*` headers are
            // set before it).
            let mut res = (StatusCode::OK, r.data).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            with_metadata(res, &r.metadata)
        }
        Err(f) => with_metadata(f.error.into_response(), &f.metadata),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_as_upstream_decodes_them() {
        let r = request(br#"{"Data":"hi","METADATA":{"k":"v"},"operation":"create"}"#).unwrap();
        assert_eq!(r.data.as_ref(), br#""hi""#);
        assert_eq!(r.metadata["k"], "v");
        assert_eq!(r.operation, "create");
        let r = request(br#"{"operation":"get"}"#).unwrap();
        assert_eq!(r.data.as_ref(), b"null");
        for bad in [
            &b""[..],
            b"[1]",
            br#"{"metadata":{"k":1}}"#,
            br#"{"operation":5}"#,
        ] {
            let e = request(bad).unwrap_err();
            assert_eq!(
                e.code(),
                "ERR_MALFORMED_REQUEST",
                "{}",
                String::from_utf8_lossy(bad)
            );
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        }
    }
}

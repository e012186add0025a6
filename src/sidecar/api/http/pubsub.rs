//! Publish routes: `POST|PUT /v1.0/publish/{pubsub}/{topic...}` (the body is the payload,
//! `Content-Type` its content type, `metadata.*` query parameters the publish metadata) and
//! bulk publish on `/v1.0-alpha1/publish/bulk/...` and `/v1.0/publish/bulk/...` (a JSON
//! array of `{"entryId","event","contentType","metadata"}`).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::decode::{metadata_map, opt_string, parse_query, take};
use super::edge::read_body;
use super::{HttpState, St, empty_or_error, json_response};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::api::universal::pubsub::{BulkPublishEntry, PublishEvent};
use crate::sidecar::pubsub::cloudevents;

pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route(
            "/v1.0/publish/{pubsub}/{*topic}",
            post(publish).put(publish),
        )
        .route(
            "/v1.0-alpha1/publish/bulk/{pubsub}/{*topic}",
            post(bulk).put(bulk),
        )
        .route("/v1.0/publish/bulk/{pubsub}/{*topic}", post(bulk).put(bulk))
}

fn header_str(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn publish(
    State(s): St,
    Path((pubsub, topic)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let data = read_body(&s, body).await?;
        let (metadata, _) = parse_query(q.as_deref());
        s.api
            .pubsub
            .publish(PublishEvent {
                pubsub_name: pubsub,
                topic,
                data,
                content_type: Some(header_str(&headers, header::CONTENT_TYPE.as_str()))
                    .filter(|c| !c.is_empty()),
                metadata,
                traceparent: header_str(&headers, "traceparent"),
                tracestate: header_str(&headers, "tracestate"),
            })
            .await
    }
    .await;
    empty_or_error(result)
}

/// One bulk entry's event as bytes: a JSON string as its text unless the entry's content
/// type is JSON, any other value as JSON.
fn event_bytes(event: Value, content_type: &str) -> Bytes {
    match event {
        Value::String(s) if !cloudevents::is_json(content_type) => Bytes::from(s),
        other => Bytes::from(serde_json::to_vec(&other).unwrap_or_default()),
    }
}

async fn bulk(
    State(s): St,
    Path((pubsub, topic)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    let result = async {
        let body = read_body(&s, body).await?;
        let (metadata, _) = parse_query(q.as_deref());
        let bad = |e: String| ApiError::pubsub_events(&topic, &pubsub, e);
        let items = match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Array(a)) => a,
            Ok(_) => return Err(bad("expected a JSON array of entries".into())),
            Err(e) => return Err(bad(e.to_string())),
        };
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let Value::Object(mut m) = item else {
                return Err(bad("each entry must be a JSON object".into()));
            };
            let content_type =
                opt_string(take(&mut m, "contentType"), "contentType")?.unwrap_or_default();
            entries.push(BulkPublishEntry {
                entry_id: opt_string(take(&mut m, "entryId"), "entryId")?.unwrap_or_default(),
                event: event_bytes(take(&mut m, "event").unwrap_or(Value::Null), &content_type),
                content_type,
                metadata: metadata_map(take(&mut m, "metadata"), "metadata")?,
            });
        }
        s.api
            .pubsub
            .bulk_publish(&pubsub, &topic, entries, &metadata)
            .await
    }
    .await;
    match result {
        Ok(failed) if failed.is_empty() => StatusCode::NO_CONTENT.into_response(),
        Ok(failed) => {
            let list: Vec<Value> = failed
                .iter()
                .map(|f| json!({"entryId": f.entry_id, "error": f.error}))
                .collect();
            let body = json!({"failedEntries": list, "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE"});
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::to_vec(&body).unwrap_or_default(),
            )
        }
        Err(e) => e.into_response(),
    }
}

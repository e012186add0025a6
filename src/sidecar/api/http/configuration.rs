//! Configuration routes, on `/v1.0/` and `/v1.0-alpha1/`: `GET configuration/{store}?key=..`
//! (the items by key, `204` when there are none), `GET configuration/{store}/subscribe?key=..`
//! (`{"id":..}`; changes are then POSTed to the app) and
//! `GET configuration/{store}/{id}/unsubscribe` (`{"ok":true}`, or `500`
//! `{"ok":false,"message":..}`), with `metadata.*` query parameters as request metadata.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::decode::parse_query;
use super::{HttpState, St, json_response, no_content};
use crate::sidecar::api::error::ErrorKind;

pub(super) fn routes() -> Router<Arc<HttpState>> {
    let mut r = Router::new();
    for v in ["v1.0", "v1.0-alpha1"] {
        r = r
            .route(&format!("/{v}/configuration/{{store}}"), get(read))
            .route(
                &format!("/{v}/configuration/{{store}}/subscribe"),
                get(subscribe),
            )
            .route(
                &format!("/{v}/configuration/{{store}}/{{id}}/unsubscribe"),
                get(unsubscribe),
            );
    }
    r
}

/// `metadata.*` and every `key` parameter, in order.
fn keys_and_metadata(
    q: Option<&str>,
) -> (
    Vec<String>,
    crate::sidecar::components::configuration::Metadata,
) {
    let (metadata, rest) = parse_query(q);
    let keys = rest
        .into_iter()
        .filter(|(k, _)| k == "key")
        .map(|(_, v)| v)
        .collect();
    (keys, metadata)
}

async fn read(State(s): St, Path(store): Path<String>, RawQuery(q): RawQuery) -> Response {
    let (keys, metadata) = keys_and_metadata(q.as_deref());
    match s.api.configuration.get(&store, &keys, &metadata).await {
        Ok(items) if items.is_empty() => no_content(),
        Ok(items) => json_response(
            StatusCode::OK,
            serde_json::to_vec(&items).unwrap_or_default(),
        ),
        Err(e) => e.into_response(),
    }
}

async fn subscribe(State(s): St, Path(store): Path<String>, RawQuery(q): RawQuery) -> Response {
    let (keys, metadata) = keys_and_metadata(q.as_deref());
    match s
        .api
        .configuration
        .subscribe_app(&store, &keys, &metadata)
        .await
    {
        Ok(id) => json_response(StatusCode::OK, json!({ "id": id }).to_string()),
        Err(e) => e.into_response(),
    }
}

async fn unsubscribe(State(s): St, Path((store, id)): Path<(String, String)>) -> Response {
    match s.api.configuration.unsubscribe(&store, &id).await {
        Ok(()) => json_response(StatusCode::OK, json!({ "ok": true }).to_string()),
        // The store's refusal has upstream's own body; lookup errors are ordinary errors.
        Err(e) if e.kind == ErrorKind::ConfigurationUnsubscribe => json_response(
            e.status(),
            json!({ "ok": false, "message": e.message }).to_string(),
        ),
        Err(e) => e.into_response(),
    }
}

//! Secret routes: `GET /v1.0/secrets/{store}/{key}` (the secret's keys and values) and
//! `GET /v1.0/secrets/{store}/bulk` (every secret, by name), with `metadata.*` query
//! parameters as request metadata.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::decode::parse_query;
use super::{HttpState, St, json_response};

pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/v1.0/secrets/{store}/bulk", get(bulk))
        .route("/v1.0/secrets/{store}/{key}", get(secret))
}

async fn secret(
    State(s): St,
    Path((store, key)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let (metadata, _) = parse_query(q.as_deref());
    match s.api.secrets.get(&store, &key, &metadata).await {
        Ok(v) => json_response(StatusCode::OK, serde_json::to_vec(&v).unwrap_or_default()),
        Err(e) => e.into_response(),
    }
}

async fn bulk(State(s): St, Path(store): Path<String>, RawQuery(q): RawQuery) -> Response {
    let (metadata, _) = parse_query(q.as_deref());
    match s.api.secrets.bulk(&store, &metadata).await {
        Ok(v) => json_response(StatusCode::OK, serde_json::to_vec(&v).unwrap_or_default()),
        Err(e) => e.into_response(),
    }
}

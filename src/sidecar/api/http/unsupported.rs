//! Building blocks without components in this daprd: publish and output bindings answer the official "not found / not configured" errors instead of falling back to
//! invocation.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::edge::drain;
use super::{HttpState, St};
use crate::sidecar::api::error::ApiError;

pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route(
            "/v1.0/publish/{pubsub}/{*topic}",
            post(publish).put(publish),
        )
        .route(
            "/v1.0-alpha1/publish/bulk/{pubsub}/{*topic}",
            post(publish).put(publish),
        )
        .route("/v1.0/bindings/{name}", post(binding).put(binding))
}

async fn publish(
    State(s): St,
    Path((pubsub, _topic)): Path<(String, String)>,
    body: Body,
) -> Response {
    drain(body).await;
    ApiError::pubsub_not_found(&pubsub, &s.api.app_id).into_response()
}

async fn binding(Path(name): Path<String>, body: Body) -> Response {
    drain(body).await;
    ApiError::output_binding_not_found(&name).into_response()
}

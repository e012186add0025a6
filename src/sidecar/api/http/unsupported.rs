//! Building blocks without components in this daprd: publish and output bindings answer the official "not found / not configured" errors instead of falling back to
//! invocation.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::HttpState;
use super::edge::drain;
use crate::sidecar::api::error::ApiError;

pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new().route("/v1.0/bindings/{name}", post(binding).put(binding))
}

async fn binding(Path(name): Path<String>, body: Body) -> Response {
    drain(body).await;
    ApiError::output_binding_not_found(&name).into_response()
}

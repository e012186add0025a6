//! The HTTP API adapter (`/v1.0/...`): one module per building block that decodes requests
//! the way the official daprd does (Go-style case-insensitive JSON field names,
//! `metadata.*` query parameters, `If-Match`), calls the protocol-neutral [`Api`], and
//! encodes results with upstream's status codes; errors render from the error table.
//!
//! [`router`] builds the routes (testable with `oneshot`, no socket); [`service`] wraps it
//! with what happens before routing: path cleaning (`path.Clean`, trailing slash stripped).
//! The edge middleware ([`edge`]) enforces the header limit (`--read-buffer-size`),
//! `DAPR_API_TOKEN` and `--max-body-size`, answers CORS and does API logging. Unmatched
//! routes go to service invocation, as upstream.
//! Not served: the state query API answers `ERR_STATE_STORE_NOT_SUPPORTED`.

mod actors;
mod bindings;
mod configuration;
mod decode;
mod edge;
mod invoke;
mod jobs;
mod lock;
mod metadata;
mod pubsub;
mod secrets;
mod state;
#[cfg(test)]
mod tests;
mod workflows;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};

pub use edge::clean_path;

use super::error::ApiError;
use super::universal::Api;

/// What the HTTP handlers share.
pub struct HttpState {
    pub api: Arc<Api>,
    pub max_body_size: usize,
    /// Request line plus headers larger than this get 431: `--read-buffer-size` plus the
    /// 4 KiB of slack Go's `MaxHeaderBytes` allows.
    pub max_header_bytes: usize,
    pub api_token: Option<String>,
    pub api_logging: bool,
    pub api_logging_omit_health_checks: bool,
    /// `--allowed-origins`; empty: no CORS headers.
    pub allowed_origins: Vec<String>,
}

impl HttpState {
    /// Default limits and no token, logging or CORS (tests, embedders).
    pub fn new(api: Arc<Api>) -> HttpState {
        HttpState {
            api,
            max_body_size: crate::sidecar::config::DEFAULT_MAX_BODY_SIZE,
            max_header_bytes: crate::sidecar::config::DEFAULT_READ_BUFFER_SIZE + 4096,
            api_token: None,
            api_logging: false,
            api_logging_omit_health_checks: false,
            allowed_origins: Vec::new(),
        }
    }
}

type St = State<Arc<HttpState>>;

/// The full API router (served on every `--dapr-listen-addresses` address).
pub fn router(state: Arc<HttpState>) -> Router {
    metadata::routes()
        .merge(actors::routes())
        .merge(state::routes())
        .merge(secrets::routes())
        .merge(pubsub::routes())
        .merge(lock::routes())
        .merge(configuration::routes())
        .merge(bindings::routes())
        .merge(jobs::routes())
        .merge(workflows::routes())
        .merge(invoke::routes())
        .fallback(invoke::handle)
        .method_not_allowed_fallback(invoke::handle)
        .layer(middleware::from_fn_with_state(state.clone(), edge::edge))
        .with_state(state)
}

/// The `--dapr-public-port` router: health and metadata only, no API token.
pub fn public_router(state: Arc<HttpState>) -> Router {
    metadata::public_routes().with_state(state)
}

/// A router wrapped with path cleaning, ready for `axum::serve`.
pub fn service(router: Router) -> tower::util::MapRequest<Router, fn(Request) -> Request> {
    tower::ServiceExt::map_request(router, edge::clean_request as fn(Request) -> Request)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status(), self.body())
    }
}

fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut res = (status, body.into()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `204` on success, the error's own response otherwise.
fn empty_or_error(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => no_content(),
        Err(e) => e.into_response(),
    }
}

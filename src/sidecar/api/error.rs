//! One error type for every API response the sidecar itself generates (as opposed to the
//! app's responses, which pass through untouched). Renders Dapr's JSON error body
//! `{"errorCode":"ERR_...","message":"..."}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::sidecar::components::state::StateError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn body(&self) -> String {
        serde_json::json!({ "errorCode": self.code, "message": self.message }).to_string()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status.as_u16(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, self.body()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    }
}

/// The table of errors the API generates: Dapr's error code, HTTP status and message for
/// each, in one place. A gRPC adapter maps `status` to a gRPC code the same way.
impl ApiError {
    pub fn malformed_request(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERR_MALFORMED_REQUEST",
            format!("failed deserializing HTTP body: {detail}"),
        )
    }

    /// A request field problem with a message of its own (e.g. `"key" is a required field`).
    pub fn bad_field(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ERR_MALFORMED_REQUEST", message)
    }

    pub fn illegal_key(key: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERR_MALFORMED_REQUEST",
            format!("input key/keyPrefix '{key}' can't contain '||'"),
        )
    }

    pub fn state_store_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERR_STATE_STORE_NOT_FOUND",
            format!("state store {name} is not found"),
        )
    }

    pub fn state_store_not_configured(name: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_STATE_STORE_NOT_CONFIGURED",
            format!("state store {name} is not configured"),
        )
    }

    pub fn state_store_not_transactional(name: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_STATE_STORE_NOT_SUPPORTED",
            format!("state store {name} doesn't support transaction"),
        )
    }

    pub fn state_query_unsupported() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_STATE_STORE_NOT_SUPPORTED",
            "state store does not support querying",
        )
    }

    pub fn unsupported_state_operation(op: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERR_NOT_SUPPORTED_STATE_OPERATION",
            format!("operation type {op} not supported"),
        )
    }

    /// A store error during save: 409 for an ETag mismatch, 400 for an invalid ETag or bad
    /// request metadata, 500 otherwise.
    pub fn state_save(store: &str, e: &StateError) -> Self {
        Self::new(
            state_status(e),
            "ERR_STATE_SAVE",
            format!("failed saving state in state store {store}: {e}"),
        )
    }

    pub fn state_delete(key: &str, e: &StateError) -> Self {
        Self::new(
            state_status(e),
            "ERR_STATE_DELETE",
            format!("failed deleting state with key {key}: {e}"),
        )
    }

    pub fn state_get(store: &str, key: &str, e: &StateError) -> Self {
        Self::new(
            state_status(e),
            "ERR_STATE_GET",
            format!("fail to get {key} from state store {store}: {e}"),
        )
    }

    /// Any store failure during a transaction is a 500, ETag mismatches included, as upstream.
    pub fn state_transaction(e: &StateError) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_STATE_TRANSACTION",
            format!("error while executing state transaction: {e}"),
        )
    }

    /// The request body exceeds `--max-body-size`. Upstream fails the body read with
    /// `ERR_BODY_READ`; the status here is 413 so clients can tell the cause.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ERR_BODY_READ",
            format!(
                "failed to read request body: the body is larger than the limit of {limit} bytes (--max-body-size)"
            ),
        )
    }

    pub fn body_read(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERR_BODY_READ",
            format!("failed to read request body: {e}"),
        )
    }

    pub fn health_not_ready(targets: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_HEALTH_NOT_READY",
            format!("dapr is not ready: [{targets}]"),
        )
    }

    pub fn outbound_not_ready() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_OUTBOUND_HEALTH_NOT_READY",
            "dapr outbound is not ready",
        )
    }

    pub fn health_appid_mismatch() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_HEALTH_APPID_NOT_MATCH",
            "dapr app-id does not match",
        )
    }

    /// Publishing: this daprd loads no pub/sub component, so every name is unknown (as
    /// upstream answers for an unknown name, even with zero pub/sub components).
    pub fn pubsub_not_found(name: &str) -> Self {
        if name.is_empty() {
            return Self::new(
                StatusCode::NOT_FOUND,
                "ERR_PUBSUB_EMPTY",
                "pubsub name is empty",
            );
        }
        Self::new(
            StatusCode::NOT_FOUND,
            "ERR_PUBSUB_NOT_FOUND",
            format!("pubsub {name} is not found"),
        )
    }

    /// Output bindings: none are loaded by this daprd.
    pub fn output_binding_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_INVOKE_OUTPUT_BINDING",
            format!("error invoking output binding {name}: couldn't find output binding {name}"),
        )
    }

    /// Secrets: no secret store is loaded by this daprd.
    pub fn secret_stores_not_configured() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_SECRET_STORES_NOT_CONFIGURED",
            "secret store is not configured",
        )
    }

    pub fn direct_invoke_no_app_id() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ERR_DIRECT_INVOKE",
            "failed getting app id either from the URL path or the header dapr-app-id",
        )
    }
}

fn state_status(e: &StateError) -> StatusCode {
    match e {
        StateError::EtagMismatch(_) => StatusCode::CONFLICT,
        StateError::EtagInvalid(_) | StateError::BadRequest(_) => StatusCode::BAD_REQUEST,
        StateError::Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

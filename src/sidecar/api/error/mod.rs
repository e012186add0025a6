//! The one error table: every error the sidecar itself answers with (as opposed to an app's
//! own answers, which pass through untouched) is an [`ApiError`] of one [`ErrorKind`], and
//! each kind has one row: the Dapr error code, the HTTP status, the gRPC code and the
//! `google.rpc.ErrorInfo` reason the official runtime attaches. The HTTP adapter renders
//! `{"errorCode","message"}` with the row's status; the gRPC adapter renders a status with
//! the row's code and an `ErrorInfo` detail. Neither looks at codes or messages to decide.
//!
//! Messages follow the official runtime's wording (`pkg/messages`, `pkg/api/errors`).

use http::StatusCode;

use crate::sidecar::components::state::StateError;

mod blocks;
mod table;

pub use table::{ErrorKind, Row};

/// An error the sidecar answers with: a row of the table, the message, and the
/// `ErrorInfo` metadata beyond `errorCode` (e.g. `appID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub metadata: Vec<(&'static str, String)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let row = self.row();
        write!(f, "{} ({}): {}", row.code, row.http.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
            metadata: Vec::new(),
        }
    }

    fn with(mut self, key: &'static str, value: &str) -> ApiError {
        self.metadata.push((key, value.to_string()));
        self
    }

    pub fn row(&self) -> Row {
        self.kind.row()
    }

    pub fn code(&self) -> &'static str {
        self.row().code
    }

    pub fn status(&self) -> StatusCode {
        self.row().http
    }

    /// Dapr's JSON error body.
    pub fn body(&self) -> String {
        serde_json::json!({ "errorCode": self.code(), "message": self.message }).to_string()
    }

    // ---- request decoding ----

    pub fn malformed_request(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::MalformedRequest,
            format!("failed deserializing HTTP body: {detail}"),
        )
    }

    /// A request field problem with a message of its own (e.g. `"key" is a required field`).
    pub fn bad_field(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::MalformedRequest, message)
    }

    /// The request body exceeds `--max-body-size`. Upstream fails the body read with
    /// `ERR_BODY_READ`; the status here is 413 so clients can tell the cause.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            ErrorKind::BodyTooLarge,
            format!(
                "failed to read request body: the body is larger than the limit of {limit} bytes (--max-body-size)"
            ),
        )
    }

    pub fn body_read(e: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::BodyRead,
            format!("failed to read request body: {e}"),
        )
    }

    /// An API this daprd does not serve (yet).
    pub fn unimplemented(api: &str) -> Self {
        Self::new(
            ErrorKind::ApiUnimplemented,
            format!("{api} is not supported by this daprd"),
        )
    }

    // ---- state ----

    pub fn illegal_key(key: &str) -> Self {
        Self::new(
            ErrorKind::StateIllegalKey,
            format!("input key/keyPrefix '{key}' can't contain '||'"),
        )
    }

    pub fn state_store_not_found(name: &str, app_id: &str) -> Self {
        Self::new(
            ErrorKind::StateStoreNotFound,
            format!("state store {name} is not found"),
        )
        .with("appID", app_id)
    }

    pub fn state_store_not_configured(name: &str, app_id: &str) -> Self {
        Self::new(
            ErrorKind::StateStoreNotConfigured,
            format!("state store {name} is not configured"),
        )
        .with("appID", app_id)
    }

    pub fn state_store_not_transactional(name: &str) -> Self {
        Self::new(
            ErrorKind::StateTransactionsNotSupported,
            format!("state store {name} doesn't support transaction"),
        )
    }

    pub fn state_query_unsupported() -> Self {
        Self::new(
            ErrorKind::StateQueryNotSupported,
            "state store does not support querying",
        )
    }

    pub fn unsupported_state_operation(op: &str) -> Self {
        Self::new(
            ErrorKind::StateNotSupportedOperation,
            format!("operation type {op} not supported"),
        )
    }

    /// A store error during save: 409 for an ETag mismatch, 400 for an invalid ETag or bad
    /// request metadata, 500 otherwise.
    pub fn state_save(store: &str, e: &StateError) -> Self {
        let kind = match e {
            StateError::EtagMismatch(_) => ErrorKind::StateSaveEtagMismatch,
            StateError::EtagInvalid(_) | StateError::BadRequest(_) => {
                ErrorKind::StateSaveBadRequest
            }
            StateError::Other(_) => ErrorKind::StateSave,
        };
        Self::new(
            kind,
            format!("failed saving state in state store {store}: {e}"),
        )
    }

    pub fn state_delete(key: &str, e: &StateError) -> Self {
        let kind = match e {
            StateError::EtagMismatch(_) => ErrorKind::StateDeleteEtagMismatch,
            StateError::EtagInvalid(_) | StateError::BadRequest(_) => {
                ErrorKind::StateDeleteBadRequest
            }
            StateError::Other(_) => ErrorKind::StateDelete,
        };
        Self::new(kind, format!("failed deleting state with key {key}: {e}"))
    }

    pub fn state_get(store: &str, key: &str, e: &StateError) -> Self {
        let kind = match e {
            StateError::EtagInvalid(_) | StateError::BadRequest(_) => ErrorKind::StateGetBadRequest,
            StateError::EtagMismatch(_) | StateError::Other(_) => ErrorKind::StateGet,
        };
        Self::new(
            kind,
            format!("fail to get {key} from state store {store}: {e}"),
        )
    }

    /// Any store failure during a transaction is a 500, ETag mismatches included, as upstream.
    pub fn state_transaction(e: &StateError) -> Self {
        Self::new(
            ErrorKind::StateTransaction,
            format!("error while executing state transaction: {e}"),
        )
    }

    // ---- health ----

    pub fn health_not_ready(targets: &str) -> Self {
        Self::new(
            ErrorKind::HealthNotReady,
            format!("dapr is not ready: [{targets}]"),
        )
    }

    pub fn outbound_not_ready() -> Self {
        Self::new(
            ErrorKind::HealthOutboundNotReady,
            "dapr outbound is not ready",
        )
    }

    pub fn health_appid_mismatch() -> Self {
        Self::new(ErrorKind::HealthAppIdNotMatch, "dapr app-id does not match")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn actor_rows_follow_upstream() {
        let missing = ApiError::actor_instance_missing();
        assert_eq!(
            (missing.code(), missing.status(), missing.row().grpc),
            (
                "ERR_ACTOR_INSTANCE_MISSING",
                StatusCode::BAD_REQUEST,
                Code::Internal
            )
        );
        let depth = ApiError::actor_stack_depth(2);
        assert_eq!(depth.row().grpc, Code::ResourceExhausted);
        assert!(
            ApiError::actor_runtime_not_found()
                .message
                .contains("actorStateStore value: \"true\"")
        );
    }

    #[test]
    fn rows_follow_upstream() {
        let nf = ApiError::state_store_not_found("s", "app1");
        assert_eq!(nf.status(), StatusCode::BAD_REQUEST);
        assert_eq!(nf.row().grpc, Code::InvalidArgument);
        assert_eq!(nf.row().reason, Some("DAPR_STATE_NOT_FOUND"));
        assert_eq!(nf.metadata, [("appID", "app1".to_string())]);
        assert_eq!(
            ApiError::state_store_not_configured("s", "a").row().grpc,
            Code::FailedPrecondition
        );
        let etag = ApiError::state_save("s", &StateError::EtagMismatch("x".into()));
        assert_eq!(
            (etag.status(), etag.row().grpc),
            (StatusCode::CONFLICT, Code::Aborted)
        );
        let big = ApiError::invoke_reply_too_large("b", 10);
        assert_eq!(big.code(), "ERR_DIRECT_INVOKE");
        assert_eq!(big.row().grpc, Code::ResourceExhausted);
        assert_eq!(ErrorKind::from_hop(&big.kind.name()), Some(big.kind));
        assert_eq!(ErrorKind::from_hop("StateSave"), None);
    }
}

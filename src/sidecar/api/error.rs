//! The one error table: every error the sidecar itself answers with (as opposed to an app's
//! own answers, which pass through untouched) is an [`ApiError`] of one [`ErrorKind`], and
//! each kind has one row: the Dapr error code, the HTTP status, the gRPC code and the
//! `google.rpc.ErrorInfo` reason the official runtime attaches. The HTTP adapter renders
//! `{"errorCode","message"}` with the row's status; the gRPC adapter renders a status with
//! the row's code and an `ErrorInfo` detail. Neither looks at codes or messages to decide.
//!
//! Messages follow the official runtime's wording (`pkg/messages`, `pkg/api/errors`).

use http::StatusCode;
use tonic::Code;

use crate::sidecar::components::state::StateError;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The Dapr error code (`errorCode` over HTTP, `ErrorInfo.metadata.errorCode` over gRPC).
    pub code: &'static str,
    pub http: StatusCode,
    pub grpc: Code,
    /// The `ErrorInfo.reason` of the official runtime's structured errors; `None` where it
    /// sends none (the Dapr code is sent instead).
    pub reason: Option<&'static str>,
}

/// Every error the sidecar answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    MalformedRequest,
    BodyRead,
    BodyTooLarge,
    ApiUnimplemented,
    StateStoreNotFound,
    StateStoreNotConfigured,
    StateIllegalKey,
    StateTransactionsNotSupported,
    StateQueryNotSupported,
    StateNotSupportedOperation,
    StateSave,
    StateSaveEtagMismatch,
    StateSaveBadRequest,
    StateGet,
    StateGetBadRequest,
    StateDelete,
    StateDeleteEtagMismatch,
    StateDeleteBadRequest,
    StateTransaction,
    HealthNotReady,
    HealthOutboundNotReady,
    HealthAppIdNotMatch,
    PubSubEmpty,
    PubSubNotFound,
    PubSubTopicEmpty,
    PubSubRequestMetadata,
    PubSubCloudEventsSer,
    PubSubEventsSer,
    PubSubPublishMessage,
    /// The component's topic scoping refuses this app the topic.
    PubSubForbidden,
    OutputBindingNotFound,
    SecretStoresNotConfigured,
    SecretStoreNotFound,
    SecretGet,
    /// The Configuration's `secrets.scopes` deny the secret.
    SecretPermissionDenied,
    /// Invocation failed in a sidecar: target unknown, callee unreachable, app unreachable.
    DirectInvoke,
    DirectInvokeNoAppId,
    /// The app's reply is larger than `--max-body-size`.
    DirectInvokeReplyTooLarge,
    LockStoreNotConfigured,
    LockStoreNotFound,
    LockResourceIdEmpty,
    LockOwnerEmpty,
    LockExpiryNotPositive,
    LockTry,
    LockUnlock,
    ConfigurationStoreNotConfigured,
    ConfigurationStoreNotFound,
    ConfigurationGet,
    ConfigurationSubscribe,
    ConfigurationUnsubscribe,
    /// A subscription needs the app, and this sidecar has none.
    AppChannelNil,
    /// The actor runtime did not start (no actor state store while the app hosts actors).
    ActorRuntimeNotFound,
    /// An actor call failed in a sidecar, or the app answered other than 200.
    ActorInvokeMethod,
    /// A state transaction for an actor that is not active on this sidecar.
    ActorInstanceMissing,
    ActorStateGet,
    ActorStateTransactionSave,
    /// A nested (reentrant) call beyond the app's `reentrancy.maxStackDepth`.
    ActorStackDepth,
    /// Bad actor type, id, method or key (upstream's `invalid request: ...`).
    ActorBadRequest,
    /// The actor runtime is shutting down.
    ActorRuntimeClosed,
}

impl ErrorKind {
    /// The table.
    pub const fn row(self) -> Row {
        use ErrorKind::*;
        const fn r(
            code: &'static str,
            http: StatusCode,
            grpc: Code,
            reason: Option<&'static str>,
        ) -> Row {
            Row {
                code,
                http,
                grpc,
                reason,
            }
        }
        const BAD: StatusCode = StatusCode::BAD_REQUEST;
        const E500: StatusCode = StatusCode::INTERNAL_SERVER_ERROR;
        match self {
            MalformedRequest => r("ERR_MALFORMED_REQUEST", BAD, Code::InvalidArgument, None),
            BodyRead => r("ERR_BODY_READ", BAD, Code::InvalidArgument, None),
            BodyTooLarge => r(
                "ERR_BODY_READ",
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::ResourceExhausted,
                None,
            ),
            ApiUnimplemented => r(
                "ERR_API_UNIMPLEMENTED",
                StatusCode::NOT_IMPLEMENTED,
                Code::Unimplemented,
                None,
            ),
            StateStoreNotFound => r(
                "ERR_STATE_STORE_NOT_FOUND",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_STATE_NOT_FOUND"),
            ),
            StateStoreNotConfigured => r(
                "ERR_STATE_STORE_NOT_CONFIGURED",
                E500,
                Code::FailedPrecondition,
                Some("DAPR_STATE_NOT_CONFIGURED"),
            ),
            StateIllegalKey => r(
                "ERR_MALFORMED_REQUEST",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_STATE_ILLEGAL_KEY"),
            ),
            StateTransactionsNotSupported => r(
                "ERR_STATE_STORE_NOT_SUPPORTED",
                E500,
                Code::Unimplemented,
                Some("DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED"),
            ),
            StateQueryNotSupported => r(
                "ERR_STATE_STORE_NOT_SUPPORTED",
                E500,
                Code::Internal,
                Some("DAPR_STATE_QUERYING_NOT_SUPPORTED"),
            ),
            StateNotSupportedOperation => r(
                "ERR_NOT_SUPPORTED_STATE_OPERATION",
                BAD,
                Code::InvalidArgument,
                None,
            ),
            StateSave => r("ERR_STATE_SAVE", E500, Code::Internal, None),
            StateSaveEtagMismatch => r("ERR_STATE_SAVE", StatusCode::CONFLICT, Code::Aborted, None),
            StateSaveBadRequest => r("ERR_STATE_SAVE", BAD, Code::InvalidArgument, None),
            StateGet => r("ERR_STATE_GET", E500, Code::Internal, None),
            StateGetBadRequest => r("ERR_STATE_GET", BAD, Code::InvalidArgument, None),
            StateDelete => r("ERR_STATE_DELETE", E500, Code::Internal, None),
            StateDeleteEtagMismatch => r(
                "ERR_STATE_DELETE",
                StatusCode::CONFLICT,
                Code::Aborted,
                None,
            ),
            StateDeleteBadRequest => r("ERR_STATE_DELETE", BAD, Code::InvalidArgument, None),
            StateTransaction => r("ERR_STATE_TRANSACTION", E500, Code::Internal, None),
            HealthNotReady => r("ERR_HEALTH_NOT_READY", E500, Code::Internal, None),
            HealthOutboundNotReady => {
                r("ERR_OUTBOUND_HEALTH_NOT_READY", E500, Code::Internal, None)
            }
            HealthAppIdNotMatch => r("ERR_HEALTH_APPID_NOT_MATCH", E500, Code::Internal, None),
            PubSubEmpty => r(
                "ERR_PUBSUB_EMPTY",
                StatusCode::NOT_FOUND,
                Code::InvalidArgument,
                Some("DAPR_PUBSUB_NAME_EMPTY"),
            ),
            PubSubNotFound => r(
                "ERR_PUBSUB_NOT_FOUND",
                StatusCode::NOT_FOUND,
                Code::InvalidArgument,
                Some("DAPR_PUBSUB_NOT_FOUND"),
            ),
            PubSubTopicEmpty => r(
                "ERR_TOPIC_NAME_EMPTY",
                StatusCode::NOT_FOUND,
                Code::InvalidArgument,
                Some("DAPR_PUBSUB_TOPIC_NAME_EMPTY"),
            ),
            PubSubRequestMetadata => r(
                "ERR_PUBSUB_REQUEST_METADATA",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_PUBSUB_METADATA_DESERIALIZATION"),
            ),
            PubSubCloudEventsSer => r(
                "ERR_PUBSUB_CLOUD_EVENTS_SER",
                E500,
                Code::InvalidArgument,
                Some("DAPR_PUBSUB_CLOUD_EVENT_CREATION"),
            ),
            PubSubEventsSer => r(
                "ERR_PUBSUB_EVENTS_SER",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_PUBSUB_UNMARSHAL_EVENTS"),
            ),
            PubSubPublishMessage => r(
                "ERR_PUBSUB_PUBLISH_MESSAGE",
                E500,
                Code::Internal,
                Some("DAPR_PUBSUB_PUBLISH_MESSAGE"),
            ),
            PubSubForbidden => r(
                "ERR_PUBSUB_FORBIDDEN",
                StatusCode::FORBIDDEN,
                Code::PermissionDenied,
                Some("DAPR_PUBSUB_FORBIDDEN"),
            ),
            OutputBindingNotFound => r(
                "ERR_INVOKE_OUTPUT_BINDING",
                E500,
                Code::Internal,
                Some("DAPR_BINDING_INVOKE_OUTPUT_BINDING"),
            ),
            SecretStoresNotConfigured => r(
                "ERR_SECRET_STORES_NOT_CONFIGURED",
                E500,
                Code::FailedPrecondition,
                None,
            ),
            SecretStoreNotFound => r(
                "ERR_SECRET_STORE_NOT_FOUND",
                StatusCode::UNAUTHORIZED,
                Code::InvalidArgument,
                None,
            ),
            SecretGet => r("ERR_SECRET_GET", E500, Code::Internal, None),
            SecretPermissionDenied => r(
                "ERR_PERMISSION_DENIED",
                StatusCode::FORBIDDEN,
                Code::PermissionDenied,
                None,
            ),
            DirectInvoke => r("ERR_DIRECT_INVOKE", E500, Code::Internal, None),
            DirectInvokeNoAppId => r(
                "ERR_DIRECT_INVOKE",
                StatusCode::NOT_FOUND,
                Code::NotFound,
                None,
            ),
            DirectInvokeReplyTooLarge => {
                r("ERR_DIRECT_INVOKE", E500, Code::ResourceExhausted, None)
            }
            LockStoreNotConfigured => r(
                "ERR_LOCK_STORE_NOT_CONFIGURED",
                E500,
                Code::FailedPrecondition,
                Some("DAPR_LOCK_NOT_CONFIGURED"),
            ),
            LockStoreNotFound => r(
                "ERR_LOCK_STORE_NOT_FOUND",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_LOCK_NOT_FOUND"),
            ),
            LockResourceIdEmpty => r(
                "ERR_MALFORMED_REQUEST",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_LOCK_RESOURCE_ID_EMPTY"),
            ),
            LockOwnerEmpty => r(
                "ERR_MALFORMED_REQUEST",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_LOCK_OWNER_EMPTY"),
            ),
            LockExpiryNotPositive => r(
                "ERR_MALFORMED_REQUEST",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_LOCK_EXPIRY_NOT_POSITIVE"),
            ),
            LockTry => r(
                "ERR_TRY_LOCK",
                E500,
                Code::Internal,
                Some("DAPR_LOCK_TRY_LOCK_FAILED"),
            ),
            LockUnlock => r(
                "ERR_UNLOCK",
                E500,
                Code::Internal,
                Some("DAPR_LOCK_UNLOCK_FAILED"),
            ),
            ConfigurationStoreNotConfigured => r(
                "ERR_CONFIGURATION_STORE_NOT_CONFIGURED",
                E500,
                Code::FailedPrecondition,
                None,
            ),
            ConfigurationStoreNotFound => r(
                "ERR_CONFIGURATION_STORE_NOT_FOUND",
                BAD,
                Code::InvalidArgument,
                None,
            ),
            ConfigurationGet => r("ERR_CONFIGURATION_GET", E500, Code::Internal, None),
            ConfigurationSubscribe => r(
                "ERR_CONFIGURATION_SUBSCRIBE",
                E500,
                Code::InvalidArgument,
                None,
            ),
            ConfigurationUnsubscribe => {
                r("ERR_CONFIGURATION_UNSUBSCRIBE", E500, Code::Internal, None)
            }
            AppChannelNil => r("ERR_APP_CHANNEL_NIL", E500, Code::Internal, None),
            ActorRuntimeNotFound => r("ERR_ACTOR_RUNTIME_NOT_FOUND", E500, Code::Internal, None),
            ActorInvokeMethod => r("ERR_ACTOR_INVOKE_METHOD", E500, Code::Internal, None),
            ActorInstanceMissing => r("ERR_ACTOR_INSTANCE_MISSING", BAD, Code::Internal, None),
            ActorStateGet => r("ERR_ACTOR_STATE_GET", E500, Code::Internal, None),
            ActorStateTransactionSave => r(
                "ERR_ACTOR_STATE_TRANSACTION_SAVE",
                E500,
                Code::Internal,
                None,
            ),
            ActorStackDepth => r("ERR_ACTOR_STACK_DEPTH", E500, Code::ResourceExhausted, None),
            ActorBadRequest => r("ERR_BAD_REQUEST", BAD, Code::InvalidArgument, None),
            ActorRuntimeClosed => r(
                "ERR_ACTOR_RUNTIME_CLOSED",
                StatusCode::SERVICE_UNAVAILABLE,
                Code::Unavailable,
                None,
            ),
        }
    }

    /// A stable name of the kind, for the sidecar-to-sidecar hop (`x-dapr-internal-error`).
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    /// The kinds a callee sidecar may report on the sidecar-to-sidecar hop.
    /// The kinds an owner's actor runtime reports on a forwarded call.
    pub fn from_actor_hop(name: &str) -> Option<ErrorKind> {
        use ErrorKind::*;
        [
            ActorInvokeMethod,
            ActorRuntimeNotFound,
            ActorRuntimeClosed,
            ActorStackDepth,
            ActorBadRequest,
            ActorInstanceMissing,
            MalformedRequest,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    pub fn from_hop(name: &str) -> Option<ErrorKind> {
        use ErrorKind::*;
        [DirectInvoke, BodyTooLarge, DirectInvokeReplyTooLarge]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

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

    // ---- building blocks without components in this daprd ----

    // ---- pub/sub ----

    /// An unknown pub/sub (also the answer when none is loaded, as upstream).
    pub fn pubsub_not_found(name: &str, app_id: &str) -> Self {
        if name.is_empty() {
            return Self::new(ErrorKind::PubSubEmpty, "pubsub name is empty");
        }
        Self::new(
            ErrorKind::PubSubNotFound,
            format!("pubsub {name} is not found"),
        )
        .with("appID", app_id)
    }

    /// The component's scoping (`allowedTopics`, `protectedTopics`, `publishingScopes`)
    /// refuses `app_id` the topic.
    pub fn pubsub_forbidden(topic: &str, app_id: &str) -> Self {
        Self::new(
            ErrorKind::PubSubForbidden,
            format!("topic {topic} is not allowed for app id {app_id}"),
        )
        .with("topic", topic)
    }

    pub fn pubsub_topic_empty(pubsub: &str) -> Self {
        Self::new(
            ErrorKind::PubSubTopicEmpty,
            format!("topic is empty in pubsub {pubsub}"),
        )
    }

    pub fn pubsub_request_metadata(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::PubSubRequestMetadata,
            format!("failed deserializing metadata. Error: {detail}"),
        )
    }

    pub fn pubsub_cloud_event(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::PubSubCloudEventsSer,
            format!("cannot create cloudevent: {detail}"),
        )
    }

    pub fn pubsub_events(topic: &str, pubsub: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::PubSubEventsSer,
            format!(
                "error when unmarshaling the request for topic {topic} pubsub {pubsub}: {detail}"
            ),
        )
    }

    pub fn pubsub_publish(topic: &str, pubsub: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::PubSubPublishMessage,
            format!("error when publishing to topic {topic} in pubsub {pubsub}: {detail}"),
        )
    }

    /// An output binding invocation failed (unknown binding, operation, or the binding's
    /// own error).
    pub fn invoke_output_binding(name: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::OutputBindingNotFound,
            format!("error invoking output binding {name}: {detail}"),
        )
    }

    // ---- secrets ----

    pub fn secret_stores_not_configured() -> Self {
        Self::new(
            ErrorKind::SecretStoresNotConfigured,
            "secret store is not configured",
        )
    }

    pub fn secret_store_not_found(store: &str) -> Self {
        Self::new(
            ErrorKind::SecretStoreNotFound,
            format!("failed finding secret store with key {store}"),
        )
    }

    pub fn secret_permission_denied(store: &str, key: &str) -> Self {
        Self::new(
            ErrorKind::SecretPermissionDenied,
            format!("access denied by policy to get {key:?} from {store:?}"),
        )
    }

    pub fn secret_get(store: &str, key: &str, e: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::SecretGet,
            format!("failed getting secret with key {key} from secret store {store}: {e}"),
        )
    }

    pub fn secret_bulk_get(store: &str, e: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::SecretGet,
            format!("failed getting secrets from secret store {store}: {e}"),
        )
    }

    // ---- service invocation ----

    pub fn direct_invoke_no_app_id() -> Self {
        Self::new(
            ErrorKind::DirectInvokeNoAppId,
            "failed getting app id either from the URL path or the header dapr-app-id",
        )
    }

    /// Invocation of `app_id` failed in a sidecar (not in the app).
    pub fn direct_invoke(app_id: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::DirectInvoke,
            format!("failed to invoke, id: {app_id}, err: {detail}"),
        )
        .with("appID", app_id)
    }

    pub fn invoke_reply_too_large(app_id: &str, limit: usize) -> Self {
        Self::new(
            ErrorKind::DirectInvokeReplyTooLarge,
            format!(
                "failed to invoke, id: {app_id}, err: the app's response is larger than the \
                 limit of {limit} bytes (--max-body-size)"
            ),
        )
        .with("appID", app_id)
    }
}

impl ApiError {
    // ---- distributed lock (upstream `pkg/api/errors/lock.go`: the legacy codes, with
    // the structured reasons) ----

    pub fn lock_store_not_configured(store: &str) -> Self {
        Self::new(
            ErrorKind::LockStoreNotConfigured,
            format!("lock {store} is not configured"),
        )
    }

    pub fn lock_store_not_found(store: &str) -> Self {
        Self::new(
            ErrorKind::LockStoreNotFound,
            format!("lock {store} is not found"),
        )
    }

    pub fn lock_resource_id_empty() -> Self {
        Self::new(ErrorKind::LockResourceIdEmpty, "lock resource id is empty")
    }

    pub fn lock_owner_empty() -> Self {
        Self::new(ErrorKind::LockOwnerEmpty, "lock owner is empty")
    }

    pub fn lock_expiry_not_positive() -> Self {
        Self::new(
            ErrorKind::LockExpiryNotPositive,
            "expiry in seconds is not positive",
        )
    }

    /// Upstream's message is fixed; the cause goes to the `ErrorInfo` metadata `error`.
    pub fn try_lock(app_id: &str, e: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::LockTry, "failed to try acquiring lock")
            .with("appID", app_id)
            .with("error", &e.to_string())
    }

    pub fn unlock(app_id: &str, e: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::LockUnlock, "failed to release lock")
            .with("appID", app_id)
            .with("error", &e.to_string())
    }

    // ---- configuration (upstream `pkg/messages`) ----

    pub fn configuration_stores_not_configured() -> Self {
        Self::new(
            ErrorKind::ConfigurationStoreNotConfigured,
            "configuration stores not configured",
        )
    }

    pub fn configuration_store_not_found(store: &str) -> Self {
        Self::new(
            ErrorKind::ConfigurationStoreNotFound,
            format!("configuration store {store} not found"),
        )
    }

    /// `keys` render as Go prints a string slice: `[a b]`.
    pub fn configuration_get(store: &str, keys: &[String], e: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ConfigurationGet,
            format!(
                "failed to get [{}] from Configuration store {store}: {e}",
                keys.join(" ")
            ),
        )
    }

    pub fn configuration_subscribe(
        store: &str,
        keys: &[String],
        e: impl std::fmt::Display,
    ) -> Self {
        Self::new(
            ErrorKind::ConfigurationSubscribe,
            format!(
                "failed to subscribe [{}] from Configuration store {store}: {e}",
                keys.join(" ")
            ),
        )
    }

    pub fn configuration_unsubscribe(id: &str, e: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ConfigurationUnsubscribe,
            format!("failed to unsubscribe to configuration request {id}: {e}"),
        )
    }

    pub fn app_channel_nil_configuration() -> Self {
        Self::new(
            ErrorKind::AppChannelNil,
            "app channel is not initialized. cannot subscribe to configuration updates",
        )
    }
}

impl ApiError {
    // ---- actors (upstream `pkg/messages/predefined.go`, `pkg/api/errors/actor.go`) ----

    pub fn actor_runtime_not_found() -> Self {
        Self::new(
            ErrorKind::ActorRuntimeNotFound,
            "the state store is not configured to use the actor runtime. Have you set the - name: \
             actorStateStore value: \"true\" in your state store component file?",
        )
    }

    pub fn actor_invoke(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ActorInvokeMethod,
            format!("error invoke actor method: {detail}"),
        )
    }

    pub fn actor_instance_missing() -> Self {
        Self::new(ErrorKind::ActorInstanceMissing, "actor instance is missing")
    }

    pub fn actor_state_get(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ActorStateGet,
            format!("error getting actor state: {detail}"),
        )
    }

    pub fn actor_state_transaction(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ActorStateTransactionSave,
            format!("error saving actor transaction state: {detail}"),
        )
    }

    pub fn actor_stack_depth(max: u32) -> Self {
        Self::new(
            ErrorKind::ActorStackDepth,
            format!("maximum stack depth exceeded: the reentrant call chain is deeper than {max}"),
        )
    }

    pub fn actor_bad_request(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ActorBadRequest,
            format!("invalid request: {detail}"),
        )
    }

    /// Bad JSON in an actor request body (`ERR_MALFORMED_REQUEST`).
    pub fn actor_malformed(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::MalformedRequest,
            format!("failed deserializing HTTP body: {detail}"),
        )
    }

    pub fn actor_runtime_closed() -> Self {
        Self::new(ErrorKind::ActorRuntimeClosed, "actor runtime is closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

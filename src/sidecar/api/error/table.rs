//! The rows: one per [`ErrorKind`], taken from the official runtime's `pkg/messages` and
//! `pkg/api/errors`.

use http::StatusCode;
use tonic::Code;

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
    ActorReminderCreate,
    ActorReminderGet,
    ActorReminderDelete,
    ActorReminderNotFound,
    ActorReminderAlreadyExists,
    /// Reminder operations need the actor type hosted by this sidecar.
    ActorReminderNonHosted,
    ActorTimerCreate,
    ActorTimerDelete,
    /// `dapr.internal.*` types belong to the workflow engine.
    ActorTypeReserved,
    /// Jobs: no job in the request (gRPC).
    SchedulerEmpty,
    /// Jobs: the name is empty or contains `|`.
    SchedulerJobNameEmpty,
    /// Jobs: neither a schedule nor a due time.
    SchedulerScheduleEmpty,
    /// Jobs: a name in the HTTP body (it belongs in the URL only).
    SchedulerJobName,
    /// Jobs: the scheduler refused the job (bad schedule, repeats, due time, ttl).
    SchedulerScheduleJob,
    /// Jobs: a job of that name exists and `overwrite` is false.
    SchedulerJobExists,
    SchedulerGetJob,
    SchedulerDeleteJob,
    SchedulerListJobs,
    /// Workflows: an empty instance id (every call but start).
    WorkflowInstanceIdMissing,
    /// Workflows: a new instance id longer than 64 bytes.
    WorkflowInstanceIdTooLong,
    /// Workflows: a new instance id with other than letters, digits, `-` and `_`.
    WorkflowInstanceIdInvalid,
    WorkflowNameMissing,
    WorkflowEventNameMissing,
    /// Workflows: no instance with that id (get over HTTP, terminate, purge).
    WorkflowInstanceNotFound,
    /// Workflows: the `appID` of a cross-app call is not a valid app id.
    WorkflowAppIdInvalid,
    WorkflowStart,
    WorkflowGet,
    WorkflowTerminate,
    WorkflowRaiseEvent,
    WorkflowPause,
    WorkflowResume,
    WorkflowPurge,
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
            ActorReminderCreate => r("ERR_ACTOR_REMINDER_CREATE", E500, Code::Internal, None),
            ActorReminderGet => r("ERR_ACTOR_REMINDER_GET", E500, Code::Internal, None),
            ActorReminderDelete => r("ERR_ACTOR_REMINDER_DELETE", E500, Code::Internal, None),
            ActorReminderNotFound => r(
                "ERR_ACTOR_REMINDER_NOT_FOUND",
                StatusCode::NOT_FOUND,
                Code::NotFound,
                None,
            ),
            ActorReminderAlreadyExists => r(
                "ERR_ACTOR_REMINDER_ALREADY_EXISTS",
                StatusCode::CONFLICT,
                Code::AlreadyExists,
                None,
            ),
            ActorReminderNonHosted => r(
                "ERR_ACTOR_REMINDER_NON_HOSTED",
                StatusCode::FORBIDDEN,
                Code::PermissionDenied,
                None,
            ),
            ActorTimerCreate => r("ERR_ACTOR_TIMER_CREATE", E500, Code::Internal, None),
            ActorTimerDelete => r("ERR_ACTOR_TIMER_DELETE", E500, Code::Internal, None),
            ActorTypeReserved => r(
                "ERR_ACTOR_TYPE_RESERVED",
                StatusCode::FORBIDDEN,
                Code::PermissionDenied,
                None,
            ),
            // Kit errors without a legacy tag: `errorCode` is the ErrorInfo reason.
            SchedulerEmpty => r(
                "DAPR_SCHEDULER_EMPTY",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_SCHEDULER_EMPTY"),
            ),
            SchedulerJobNameEmpty => r(
                "DAPR_SCHEDULER_JOB_NAME_EMPTY",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_SCHEDULER_JOB_NAME_EMPTY"),
            ),
            SchedulerScheduleEmpty => r(
                "DAPR_SCHEDULER_SCHEDULE_EMPTY",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_SCHEDULER_SCHEDULE_EMPTY"),
            ),
            SchedulerJobName => r(
                "DAPR_SCHEDULER_JOB_NAME",
                BAD,
                Code::InvalidArgument,
                Some("DAPR_SCHEDULER_JOB_NAME"),
            ),
            SchedulerScheduleJob => r(
                "DAPR_SCHEDULER_SCHEDULE_JOB",
                E500,
                Code::Internal,
                Some("DAPR_SCHEDULER_SCHEDULE_JOB"),
            ),
            SchedulerJobExists => r(
                "DAPR_SCHEDULER_SCHEDULE_JOB",
                StatusCode::CONFLICT,
                Code::AlreadyExists,
                Some("DAPR_SCHEDULER_SCHEDULE_JOB"),
            ),
            SchedulerGetJob => r(
                "DAPR_SCHEDULER_GET_JOB",
                E500,
                Code::Internal,
                Some("DAPR_SCHEDULER_GET_JOB"),
            ),
            SchedulerDeleteJob => r(
                "DAPR_SCHEDULER_DELETE_JOB",
                E500,
                Code::Internal,
                Some("DAPR_SCHEDULER_DELETE_JOB"),
            ),
            SchedulerListJobs => r(
                "DAPR_SCHEDULER_LIST_JOBS",
                E500,
                Code::Internal,
                Some("DAPR_SCHEDULER_LIST_JOBS"),
            ),
            WorkflowInstanceIdMissing => r(
                "ERR_INSTANCE_ID_PROVIDED_MISSING",
                BAD,
                Code::InvalidArgument,
                None,
            ),
            WorkflowInstanceIdTooLong => {
                r("ERR_INSTANCE_ID_TOO_LONG", BAD, Code::InvalidArgument, None)
            }
            WorkflowInstanceIdInvalid => {
                r("ERR_INSTANCE_ID_INVALID", BAD, Code::InvalidArgument, None)
            }
            WorkflowNameMissing => r(
                "ERR_WORKFLOW_NAME_MISSING",
                BAD,
                Code::InvalidArgument,
                None,
            ),
            WorkflowEventNameMissing => r(
                "ERR_WORKFLOW_EVENT_NAME_MISSING",
                BAD,
                Code::InvalidArgument,
                None,
            ),
            WorkflowInstanceNotFound => r(
                "ERR_INSTANCE_ID_NOT_FOUND",
                StatusCode::NOT_FOUND,
                Code::NotFound,
                None,
            ),
            WorkflowAppIdInvalid => r("ERR_BAD_REQUEST", BAD, Code::InvalidArgument, None),
            WorkflowStart => r("ERR_START_WORKFLOW", E500, Code::Internal, None),
            WorkflowGet => r("ERR_GET_WORKFLOW", E500, Code::Internal, None),
            WorkflowTerminate => r("ERR_TERMINATE_WORKFLOW", E500, Code::Internal, None),
            WorkflowRaiseEvent => r("ERR_RAISE_EVENT_WORKFLOW", E500, Code::Internal, None),
            WorkflowPause => r("ERR_PAUSE_WORKFLOW", E500, Code::Internal, None),
            WorkflowResume => r("ERR_RESUME_WORKFLOW", E500, Code::Internal, None),
            WorkflowPurge => r("ERR_PURGE_WORKFLOW", E500, Code::Internal, None),
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

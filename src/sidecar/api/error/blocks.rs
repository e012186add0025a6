//! The constructors of the building blocks' errors (pub/sub, secrets, invocation, locks,
//! configuration, jobs, actors, workflows), with the official messages.

use super::{ApiError, ErrorKind};

impl ApiError {
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
    // ---- jobs (upstream `pkg/api/errors/scheduler.go`; metadata `appID`, `namespace`) ----

    fn job_meta(self, app_id: &str, namespace: &str) -> Self {
        self.with("appID", app_id).with("namespace", namespace)
    }

    pub fn scheduler_empty(app_id: &str, namespace: &str) -> Self {
        Self::new(ErrorKind::SchedulerEmpty, "Job is empty").job_meta(app_id, namespace)
    }

    pub fn scheduler_job_name_empty(app_id: &str, namespace: &str) -> Self {
        Self::new(ErrorKind::SchedulerJobNameEmpty, "Name is empty").job_meta(app_id, namespace)
    }

    pub fn scheduler_schedule_empty(app_id: &str, namespace: &str) -> Self {
        Self::new(ErrorKind::SchedulerScheduleEmpty, "Schedule is empty")
            .job_meta(app_id, namespace)
    }

    /// A `name` in the HTTP body.
    pub fn scheduler_url_name(app_id: &str, namespace: &str) -> Self {
        Self::new(
            ErrorKind::SchedulerJobName,
            "Set the job name in the url only",
        )
        .job_meta(app_id, namespace)
    }

    /// The scheduler refused the job; `exists` when a job of that name is there already
    /// and `overwrite` was false (409 / `AlreadyExists`).
    pub fn scheduler_schedule_job(
        app_id: &str,
        namespace: &str,
        exists: bool,
        detail: impl std::fmt::Display,
    ) -> Self {
        let kind = if exists {
            ErrorKind::SchedulerJobExists
        } else {
            ErrorKind::SchedulerScheduleJob
        };
        Self::new(kind, format!("failed to schedule job due to: {detail}"))
            .job_meta(app_id, namespace)
    }

    pub fn scheduler_get_job(
        app_id: &str,
        namespace: &str,
        detail: impl std::fmt::Display,
    ) -> Self {
        Self::new(
            ErrorKind::SchedulerGetJob,
            format!("failed to get job due to: {detail}"),
        )
        .job_meta(app_id, namespace)
    }

    pub fn scheduler_delete_job(
        app_id: &str,
        namespace: &str,
        detail: impl std::fmt::Display,
    ) -> Self {
        Self::new(
            ErrorKind::SchedulerDeleteJob,
            format!("failed to delete job due to: {detail}"),
        )
        .job_meta(app_id, namespace)
    }

    pub fn scheduler_list_jobs(
        app_id: &str,
        namespace: &str,
        detail: impl std::fmt::Display,
    ) -> Self {
        Self::new(
            ErrorKind::SchedulerListJobs,
            format!("failed to list jobs due to: {detail}"),
        )
        .job_meta(app_id, namespace)
    }

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

    pub fn actor_reminder_create(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ActorReminderCreate,
            format!("error creating actor reminder: {detail}"),
        )
    }

    pub fn actor_reminder_get(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ActorReminderGet,
            format!("error getting actor reminder: {detail}"),
        )
    }

    pub fn actor_reminder_delete(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ActorReminderDelete,
            format!("error deleting actor reminder: {detail}"),
        )
    }

    pub fn actor_reminder_not_found(name: &str) -> Self {
        Self::new(
            ErrorKind::ActorReminderNotFound,
            format!("actor reminder not found: {name}"),
        )
    }

    pub fn actor_reminder_exists(name: &str) -> Self {
        Self::new(
            ErrorKind::ActorReminderAlreadyExists,
            format!("actor reminder already exists: {name}"),
        )
    }

    pub fn actor_reminder_non_hosted() -> Self {
        Self::new(
            ErrorKind::ActorReminderNonHosted,
            "operations on actor reminders are only possible on hosted actor types",
        )
    }

    pub fn actor_timer_create(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ActorTimerCreate,
            format!("error creating actor timer: {detail}"),
        )
    }

    pub fn actor_timer_delete(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::ActorTimerDelete,
            format!("error deleting actor timer: {detail}"),
        )
    }

    pub fn actor_type_reserved(actor_type: &str) -> Self {
        Self::new(
            ErrorKind::ActorTypeReserved,
            format!("actor type {actor_type} is reserved for internal use"),
        )
    }
}

impl ApiError {
    // ---- workflows (upstream `pkg/messages/predefined.go`, `pkg/api/errors/workflow.go`) ----

    pub fn workflow_instance_id_missing() -> Self {
        Self::new(
            ErrorKind::WorkflowInstanceIdMissing,
            "no instance ID was provided",
        )
    }

    pub fn workflow_instance_id_too_long(max: usize) -> Self {
        Self::new(
            ErrorKind::WorkflowInstanceIdTooLong,
            format!("workflow instance ID exceeds the max length of {max} characters"),
        )
    }

    pub fn workflow_instance_id_invalid(id: &str) -> Self {
        Self::new(
            ErrorKind::WorkflowInstanceIdInvalid,
            format!(
                "workflow instance ID '{id}' is invalid: only alphanumeric and underscore characters are allowed"
            ),
        )
    }

    pub fn workflow_name_missing() -> Self {
        Self::new(
            ErrorKind::WorkflowNameMissing,
            "workflow name is not configured",
        )
    }

    pub fn workflow_event_name_missing() -> Self {
        Self::new(
            ErrorKind::WorkflowEventNameMissing,
            "missing workflow event name",
        )
    }

    pub fn workflow_instance_not_found(id: &str) -> Self {
        Self::new(
            ErrorKind::WorkflowInstanceNotFound,
            format!("unable to find workflow with the provided instance ID: {id}"),
        )
    }

    pub fn workflow_app_id_invalid(app_id: &str) -> Self {
        Self::new(
            ErrorKind::WorkflowAppIdInvalid,
            format!(
                "invalid workflow app ID '{app_id}': only alphanumeric, '-' and '_' characters are allowed"
            ),
        )
    }

    pub fn workflow_start(name: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::WorkflowStart,
            format!("error starting workflow '{name}': {detail}"),
        )
    }

    pub fn workflow_get(id: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::WorkflowGet,
            format!(
                "error while getting workflow info on instance '{id}': failed to get workflow metadata for '{id}': {detail}"
            ),
        )
    }

    pub fn workflow_terminate(id: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::WorkflowTerminate,
            format!(
                "error terminating workflow '{id}': failed to terminate workflow {id}: {detail}"
            ),
        )
    }

    pub fn workflow_raise_event(id: &str, event: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::WorkflowRaiseEvent,
            format!(
                "error raising event on workflow '{id}': failed to raise event {event} on workflow {id}: {detail}"
            ),
        )
    }

    pub fn workflow_pause(id: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::WorkflowPause,
            format!("error pausing workflow {id}: failed to pause workflow {id}: {detail}"),
        )
    }

    pub fn workflow_resume(id: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::WorkflowResume,
            format!("error resuming workflow {id}: failed to resume workflow {id}: {detail}"),
        )
    }

    pub fn workflow_purge(id: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::WorkflowPurge,
            format!("error purging workflow {id}: failed to Purge workflow {id}: {detail}"),
        )
    }
}

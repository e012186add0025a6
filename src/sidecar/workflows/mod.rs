//! Workflows: the Durable Task engine inside daprd. The official workflow SDKs (Python
//! `dapr.ext.workflow`, JS `@dapr/dapr`, Go, Java) connect to daprd's gRPC port and speak
//! the Durable Task sidecar protocol ([`proto`], served by [`service`]): a worker opens
//! `GetWorkItems` and receives orchestrator work items (the instance's history and its new
//! events) and activity work items; it answers with `CompleteOrchestratorTask` (the
//! actions the orchestrator took) and `CompleteActivityTask`. The engine ([`engine`])
//! replays nothing itself: it keeps each instance's history and inbox, turns actions into
//! history events and work (activities, durable timers, child workflows, events), runs one
//! orchestrator turn at a time per instance, and keeps every instance in the actor state
//! store ([`state`], upstream's key layout) so a restarted sidecar resumes every running
//! instance without running completed activities again.
//!
//! Limits: one sidecar runs an app's instances (two sidecars of one app id would both
//! resume them); instances live in the sidecar of the app that started them (no
//! cross-app workflows); `CreateDetachedWorkflow`, rerun and versioning stalls are not
//! implemented.

pub mod engine;
pub mod proto;
pub mod service;
pub mod state;

use chrono::{DateTime, Utc};

pub use engine::Engine;

/// An instance's runtime status (upstream's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Completed,
    ContinuedAsNew,
    Failed,
    Canceled,
    Terminated,
    Pending,
    Suspended,
    Stalled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Completed => "COMPLETED",
            Status::ContinuedAsNew => "CONTINUED_AS_NEW",
            Status::Failed => "FAILED",
            Status::Canceled => "CANCELED",
            Status::Terminated => "TERMINATED",
            Status::Pending => "PENDING",
            Status::Suspended => "SUSPENDED",
            Status::Stalled => "STALLED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Failed | Status::Terminated | Status::Canceled
        )
    }
}

/// Why an instance failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error_type: String,
    pub error_message: String,
    pub stack_trace: Option<String>,
}

/// What the client APIs report of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    pub instance_id: String,
    pub name: String,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub last_updated_at: DateTime<Utc>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub custom_status: Option<String>,
    pub failure: Option<Failure>,
    pub parent_instance_id: Option<String>,
    pub execution_id: Option<String>,
}

/// Errors of the engine's client operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WfError {
    /// The text the SDKs look for.
    #[error("no such instance exists")]
    NotFound,
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("orchestration has not yet completed")]
    NotCompleted,
    #[error("{0}")]
    Internal(String),
}

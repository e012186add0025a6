//! Actors: method calls, state reads and state transactions, over the sidecar's actor
//! runtime (`sidecar::actors`), which owns the turns, the table of active actors and
//! placement. Errors come from the table's actor rows.

use std::sync::Arc;

use crate::sidecar::actors::reminders::{Reminder, ReminderRequest};
use crate::sidecar::actors::state::{ActorStateOp, ActorStateValue};
use crate::sidecar::actors::timers::TimerRequest;
use crate::sidecar::actors::{ActorCall, ActorReply, ActorRuntime, CallError};
use crate::sidecar::api::error::ApiError;

pub struct ActorsApi {
    runtime: Arc<ActorRuntime>,
}

impl ActorsApi {
    pub fn new(runtime: Arc<ActorRuntime>) -> ActorsApi {
        ActorsApi { runtime }
    }

    /// The runtime (started once the app answers, closed on shutdown).
    pub fn runtime(&self) -> &Arc<ActorRuntime> {
        &self.runtime
    }

    pub async fn invoke(&self, call: ActorCall) -> Result<ActorReply, CallError> {
        self.runtime.invoke(call).await
    }

    pub async fn get_state(
        &self,
        actor_type: &str,
        actor_id: &str,
        key: &str,
    ) -> Result<ActorStateValue, ApiError> {
        self.runtime.get_state(actor_type, actor_id, key).await
    }

    pub async fn transact_state(
        &self,
        actor_type: &str,
        actor_id: &str,
        ops: Vec<ActorStateOp>,
    ) -> Result<(), ApiError> {
        self.runtime.transact_state(actor_type, actor_id, ops).await
    }

    pub async fn create_timer(&self, req: TimerRequest) -> Result<(), ApiError> {
        self.runtime.create_timer(req).await
    }

    pub async fn delete_timer(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        self.runtime.delete_timer(actor_type, actor_id, name).await
    }

    pub async fn create_reminder(&self, req: ReminderRequest) -> Result<(), ApiError> {
        self.runtime.create_reminder(req).await
    }

    pub async fn get_reminder(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
    ) -> Result<Reminder, ApiError> {
        self.runtime.get_reminder(actor_type, actor_id, name).await
    }

    pub async fn delete_reminder(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        self.runtime
            .delete_reminder(actor_type, actor_id, name)
            .await
    }

    pub async fn list_reminders(
        &self,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<Vec<Reminder>, ApiError> {
        self.runtime.list_reminders(actor_type, actor_id).await
    }

    pub async fn delete_reminders(
        &self,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<(), ApiError> {
        self.runtime.delete_reminders(actor_type, actor_id).await
    }
}

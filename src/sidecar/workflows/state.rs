//! One workflow instance: its committed history, its inbox of events not yet shown to the
//! orchestrator, and its custom status; what its status is (read off the history); and how
//! it is kept in the actor state store, in upstream's layout: under the actor prefix
//! `<appid>||dapr.internal.<ns>.<appid>.workflow||<instanceId>||`, the keys
//! `history-NNNNNN` and `inbox-NNNNNN` (protobuf `HistoryEvent`s), `customStatus`
//! (protobuf `StringValue`) and `metadata` (`BackendWorkflowStateMetadata`).
//!
//! Besides, the engine keeps one key of its own, `<appid>||dapr.internal.<ns>.<appid>.
//! workflow||index` (JSON: instance id → last known status), to find the instances to
//! resume after a restart without a key scan.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use prost::Message;

use super::proto::{self, HistoryEvent, OrchestrationStatus, history_event::EventType};
use super::{Failure, InstanceInfo, Status};
use crate::sidecar::components::state::{
    DeleteRequest, Metadata, SetRequest, StateComponent, TransactionOp,
};

#[derive(Debug, Clone, Default)]
pub struct Instance {
    pub id: String,
    pub history: Vec<HistoryEvent>,
    pub inbox: Vec<HistoryEvent>,
    pub custom_status: Option<String>,
    pub generation: u64,
    /// How many history and inbox entries the store holds (to delete the extra ones).
    pub stored_history: usize,
    pub stored_inbox: usize,
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// A new event stamped now.
pub fn event(event_id: i32, kind: EventType) -> HistoryEvent {
    HistoryEvent {
        event_id,
        timestamp: Some(timestamp(Utc::now())),
        event_type: Some(kind),
    }
}

impl Instance {
    pub fn new(id: &str) -> Instance {
        Instance {
            id: id.to_string(),
            ..Default::default()
        }
    }

    fn all_events(&self) -> impl Iterator<Item = &HistoryEvent> {
        self.history.iter()
    }

    pub fn started(&self) -> Option<&proto::ExecutionStartedEvent> {
        self.all_events().find_map(|e| match &e.event_type {
            Some(EventType::ExecutionStarted(s)) => Some(s),
            _ => None,
        })
    }

    /// The `executionStarted` waiting in the inbox (an instance created but not run yet).
    pub fn pending_start(&self) -> Option<&proto::ExecutionStartedEvent> {
        self.inbox.iter().find_map(|e| match &e.event_type {
            Some(EventType::ExecutionStarted(s)) => Some(s),
            _ => None,
        })
    }

    pub fn completed(&self) -> Option<&proto::ExecutionCompletedEvent> {
        self.all_events().find_map(|e| match &e.event_type {
            Some(EventType::ExecutionCompleted(c)) => Some(c),
            _ => None,
        })
    }

    pub fn execution_id(&self) -> Option<String> {
        self.started()
            .or_else(|| self.pending_start())
            .and_then(|s| s.workflow_instance.as_ref())
            .and_then(|w| w.execution_id.clone())
    }

    pub fn status(&self) -> Status {
        if let Some(c) = self.completed() {
            return Status::from_proto(c.workflow_status);
        }
        if self.started().is_none() {
            return Status::Pending;
        }
        let suspended = self
            .all_events()
            .filter_map(|e| match &e.event_type {
                Some(EventType::ExecutionSuspended(_)) => Some(true),
                Some(EventType::ExecutionResumed(_)) => Some(false),
                _ => None,
            })
            .last()
            .unwrap_or(false);
        if suspended {
            Status::Suspended
        } else {
            Status::Running
        }
    }

    pub fn is_terminal(&self) -> bool {
        self.status().is_terminal()
    }

    /// What the client APIs report.
    pub fn info(&self) -> InstanceInfo {
        let start = self.started().or_else(|| self.pending_start());
        let created = self
            .history
            .iter()
            .chain(&self.inbox)
            .find(|e| matches!(e.event_type, Some(EventType::ExecutionStarted(_))))
            .and_then(|e| e.timestamp.as_ref())
            .and_then(from_timestamp)
            .unwrap_or_else(Utc::now);
        let updated = self
            .history
            .iter()
            .chain(&self.inbox)
            .filter_map(|e| e.timestamp.as_ref().and_then(from_timestamp))
            .max()
            .unwrap_or(created);
        let completed = self.completed();
        InstanceInfo {
            instance_id: self.id.clone(),
            name: start.map(|s| s.name.clone()).unwrap_or_default(),
            status: self.status(),
            created_at: created,
            last_updated_at: updated,
            input: start.and_then(|s| s.input.clone()),
            output: completed.and_then(|c| c.result.clone()),
            custom_status: self.custom_status.clone(),
            failure: completed
                .and_then(|c| c.failure_details.as_ref())
                .map(|f| Failure {
                    error_type: f.error_type.clone(),
                    error_message: f.error_message.clone(),
                    stack_trace: f.stack_trace.clone(),
                }),
            parent_instance_id: start
                .and_then(|s| s.parent_instance.as_ref())
                .and_then(|p| p.workflow_instance.as_ref())
                .map(|w| w.instance_id.clone()),
            execution_id: self.execution_id(),
        }
    }

    /// The protobuf state of `GetInstance`.
    pub fn workflow_state(&self, with_payloads: bool) -> proto::WorkflowState {
        let i = self.info();
        let completed_at = self
            .history
            .iter()
            .find(|e| matches!(e.event_type, Some(EventType::ExecutionCompleted(_))))
            .and_then(|e| e.timestamp);
        proto::WorkflowState {
            instance_id: i.instance_id,
            name: i.name,
            version: None,
            workflow_status: i.status.to_proto() as i32,
            scheduled_start_timestamp: self
                .started()
                .or_else(|| self.pending_start())
                .and_then(|s| s.scheduled_start_timestamp),
            created_timestamp: Some(timestamp(i.created_at)),
            last_updated_timestamp: Some(timestamp(i.last_updated_at)),
            input: i.input.filter(|_| with_payloads),
            output: i.output.filter(|_| with_payloads),
            custom_status: i.custom_status.filter(|_| with_payloads),
            failure_details: self
                .completed()
                .and_then(|c| c.failure_details.clone())
                .filter(|_| with_payloads),
            execution_id: i.execution_id,
            completed_timestamp: completed_at,
            parent_instance_id: i.parent_instance_id,
        }
    }
}

/// Where one app's workflow state lives in the actor state store.
#[derive(Clone)]
pub struct Layout {
    /// `<appid>||dapr.internal.<ns>.<appid>.workflow`
    base: String,
}

impl Layout {
    pub fn new(app_id: &str, namespace: &str) -> Layout {
        Layout {
            base: format!("{app_id}||dapr.internal.{namespace}.{app_id}.workflow"),
        }
    }

    fn prefix(&self, id: &str) -> String {
        format!("{}||{id}", self.base)
    }

    fn partition(&self, id: &str) -> Metadata {
        Metadata::from([("partitionKey".to_string(), self.prefix(id))])
    }

    fn index_key(&self) -> String {
        format!("{}||index", self.base)
    }

    /// Reads an instance; `None` when it has no metadata.
    pub async fn load(&self, store: &StateComponent, id: &str) -> Result<Option<Instance>, String> {
        let p = self.prefix(id);
        let meta = self.partition(id);
        let get = |k: String| {
            let meta = meta.clone();
            async move {
                store
                    .store
                    .get(&k, &meta)
                    .await
                    .map_err(|e| e.to_string())
                    .map(|r| r.map(|r| r.data))
            }
        };
        let Some(m) = get(format!("{p}||metadata")).await? else {
            return Ok(None);
        };
        let m = proto::BackendWorkflowStateMetadata::decode(m.as_ref())
            .map_err(|e| format!("workflow {id}: bad metadata: {e}"))?;
        let mut inst = Instance::new(id);
        inst.generation = m.generation;
        for (len, list, kind) in [
            (m.history_length, &mut inst.history, "history"),
            (m.inbox_length, &mut inst.inbox, "inbox"),
        ] {
            for i in 0..len {
                let data = get(format!("{p}||{kind}-{i:06}"))
                    .await?
                    .ok_or_else(|| format!("workflow {id}: {kind}-{i:06} is missing"))?;
                list.push(
                    HistoryEvent::decode(data.as_ref())
                        .map_err(|e| format!("workflow {id}: bad {kind}-{i:06}: {e}"))?,
                );
            }
        }
        if let Some(cs) = get(format!("{p}||customStatus")).await? {
            inst.custom_status = String::decode(cs.as_ref()).ok();
        }
        inst.stored_history = inst.history.len();
        inst.stored_inbox = inst.inbox.len();
        Ok(Some(inst))
    }

    /// Writes an instance in one transaction: history entries from `history_from` on, the
    /// whole inbox, the custom status and the metadata; entries beyond the new lengths are
    /// deleted.
    pub async fn save(
        &self,
        store: &StateComponent,
        inst: &mut Instance,
        history_from: usize,
    ) -> Result<(), String> {
        let p = self.prefix(&inst.id);
        let meta = self.partition(&inst.id);
        let mut ops = Vec::new();
        let set = |key: String, value: Vec<u8>| {
            TransactionOp::Upsert(SetRequest {
                key,
                value: Bytes::from(value),
                metadata: meta.clone(),
                ..Default::default()
            })
        };
        let del = |key: String| {
            TransactionOp::Delete(DeleteRequest {
                key,
                metadata: meta.clone(),
                ..Default::default()
            })
        };
        let from = history_from.min(inst.history.len());
        for (i, e) in inst.history.iter().enumerate().skip(from) {
            ops.push(set(format!("{p}||history-{i:06}"), e.encode_to_vec()));
        }
        for i in inst.history.len()..inst.stored_history {
            ops.push(del(format!("{p}||history-{i:06}")));
        }
        for (i, e) in inst.inbox.iter().enumerate() {
            ops.push(set(format!("{p}||inbox-{i:06}"), e.encode_to_vec()));
        }
        for i in inst.inbox.len()..inst.stored_inbox {
            ops.push(del(format!("{p}||inbox-{i:06}")));
        }
        match &inst.custom_status {
            Some(cs) => ops.push(set(format!("{p}||customStatus"), cs.encode_to_vec())),
            None => ops.push(del(format!("{p}||customStatus"))),
        }
        inst.generation += 1;
        let m = proto::BackendWorkflowStateMetadata {
            inbox_length: inst.inbox.len() as u64,
            history_length: inst.history.len() as u64,
            generation: inst.generation,
        };
        ops.push(set(format!("{p}||metadata"), m.encode_to_vec()));
        store
            .store
            .transact(ops, &meta)
            .await
            .map_err(|e| e.to_string())?;
        inst.stored_history = inst.history.len();
        inst.stored_inbox = inst.inbox.len();
        Ok(())
    }

    /// Deletes every key of an instance.
    pub async fn purge(&self, store: &StateComponent, inst: &Instance) -> Result<(), String> {
        let p = self.prefix(&inst.id);
        let meta = self.partition(&inst.id);
        let mut ops = Vec::new();
        let mut keys = vec![format!("{p}||metadata"), format!("{p}||customStatus")];
        keys.extend(
            (0..inst.stored_history.max(inst.history.len()))
                .map(|i| format!("{p}||history-{i:06}")),
        );
        keys.extend(
            (0..inst.stored_inbox.max(inst.inbox.len())).map(|i| format!("{p}||inbox-{i:06}")),
        );
        for key in keys {
            ops.push(TransactionOp::Delete(DeleteRequest {
                key,
                metadata: meta.clone(),
                ..Default::default()
            }));
        }
        store
            .store
            .transact(ops, &meta)
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn read_index(
        &self,
        store: &StateComponent,
    ) -> Result<BTreeMap<String, String>, String> {
        let got = store
            .store
            .get(&self.index_key(), &Metadata::new())
            .await
            .map_err(|e| e.to_string())?;
        Ok(match got {
            None => BTreeMap::new(),
            Some(r) => serde_json::from_slice(&r.data).unwrap_or_default(),
        })
    }

    pub async fn write_index(
        &self,
        store: &StateComponent,
        index: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        store
            .store
            .set(SetRequest {
                key: self.index_key(),
                value: Bytes::from(serde_json::to_vec(index).unwrap_or_default()),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())
    }
}

impl Status {
    pub fn from_proto(v: i32) -> Status {
        match OrchestrationStatus::try_from(v).unwrap_or(OrchestrationStatus::Running) {
            OrchestrationStatus::Running => Status::Running,
            OrchestrationStatus::Completed => Status::Completed,
            OrchestrationStatus::ContinuedAsNew => Status::ContinuedAsNew,
            OrchestrationStatus::Failed => Status::Failed,
            OrchestrationStatus::Canceled => Status::Canceled,
            OrchestrationStatus::Terminated => Status::Terminated,
            OrchestrationStatus::Pending => Status::Pending,
            OrchestrationStatus::Suspended => Status::Suspended,
            OrchestrationStatus::Stalled => Status::Stalled,
        }
    }

    pub fn to_proto(self) -> OrchestrationStatus {
        match self {
            Status::Running => OrchestrationStatus::Running,
            Status::Completed => OrchestrationStatus::Completed,
            Status::ContinuedAsNew => OrchestrationStatus::ContinuedAsNew,
            Status::Failed => OrchestrationStatus::Failed,
            Status::Canceled => OrchestrationStatus::Canceled,
            Status::Terminated => OrchestrationStatus::Terminated,
            Status::Pending => OrchestrationStatus::Pending,
            Status::Suspended => OrchestrationStatus::Suspended,
            Status::Stalled => OrchestrationStatus::Stalled,
        }
    }
}

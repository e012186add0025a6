//! The engine: instances, their turns, and the work handed to connected workers.
//!
//! - **Instances** are loaded from the store on first use and kept in memory, each behind
//!   an async lock held while it changes (one change at a time, saved before anything else
//!   sees it).
//! - **A turn**: when an instance has events in its inbox and no turn in flight, a
//!   `WorkflowRequest` (the history, and as new events a `workflowStarted` stamped now plus
//!   the inbox) goes to a connected worker. Its `CompleteOrchestratorTask` appends those
//!   events to the history and turns each action into a history event whose `eventId` is
//!   the action's id, and into work: activities are dispatched, timers armed, child
//!   workflows started, events raised on their target, completion recorded (and reported
//!   to the parent). Results come back into the inbox (`eventId` -1) and start the next
//!   turn.
//! - **Work** waits in a queue while no worker is connected; a worker that disconnects
//!   gives its unanswered work back to the queue.
//! - **Restart**: the index names the instances; those not finished are loaded, their
//!   scheduled activities without a result dispatched again, their timers armed again, and
//!   a turn runs if their inbox holds events.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use super::proto::{
    self, HistoryEvent, history_event::EventType, workflow_action::WorkflowActionType,
};
use super::state::{Instance, Layout, event, from_timestamp, timestamp};
use super::{InstanceInfo, Status, WfError};
use crate::sidecar::components::ComponentStore;
use crate::sidecar::components::state::StateComponent;
use crate::sidecar::log::{self, scope};

type Sink = mpsc::UnboundedSender<Result<proto::WorkItem, tonic::Status>>;

/// How long the client calls that wait for a state change wait at most when the caller
/// gives no deadline of its own (start, suspend, resume, terminate).
const CHANGE_WAIT: Duration = Duration::from_secs(10);

/// A unit of work for a worker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Work {
    Turn(String),
    Activity {
        instance: String,
        execution: String,
        task_id: i32,
    },
}

/// A turn handed to a worker and not answered yet.
struct InFlight {
    token: String,
    new_events: Vec<HistoryEvent>,
    /// How many inbox events the turn shows.
    inbox_taken: usize,
}

/// An instance in memory.
struct Slot {
    inst: Option<Instance>,
    turn: Option<InFlight>,
    /// Activities scheduled by the current execution and not answered yet.
    activities: HashSet<i32>,
    /// Timers of the current execution not fired yet.
    timers: HashSet<i32>,
}

#[derive(Default)]
struct Workers {
    streams: Vec<(u64, Sink)>,
    next: usize,
    next_id: u64,
    /// Work handed to each stream and not answered yet.
    handed: HashMap<Work, u64>,
}

pub struct Engine {
    app_id: String,
    layout: Layout,
    components: Arc<ComponentStore>,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    workers: Mutex<Workers>,
    queue: Mutex<VecDeque<Work>>,
    work_ready: Arc<tokio::sync::Notify>,
    /// Bumped on every change of an instance (waiters re-check).
    changed: watch::Sender<u64>,
    index: tokio::sync::Mutex<Option<BTreeMap<String, String>>>,
    me: Weak<Engine>,
}

/// Effects of a change, run once the instance is saved and unlocked.
enum Effect {
    Dispatch(Work),
    Timer {
        instance: String,
        execution: String,
        id: i32,
        at: DateTime<Utc>,
    },
    StartChild {
        id: String,
        started: proto::ExecutionStartedEvent,
    },
    Raise {
        target: String,
        name: String,
        input: Option<String>,
    },
    Terminate {
        target: String,
        reason: Option<String>,
        recurse: bool,
    },
    Notify {
        parent: String,
        event: HistoryEvent,
    },
    Index {
        id: String,
        status: Status,
    },
}

fn new_execution_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Engine {
    pub fn new(app_id: &str, namespace: &str, components: Arc<ComponentStore>) -> Arc<Engine> {
        Arc::new_cyclic(|me| Engine {
            app_id: app_id.to_string(),
            layout: Layout::new(app_id, namespace),
            components,
            slots: Mutex::new(HashMap::new()),
            workers: Mutex::new(Workers::default()),
            queue: Mutex::new(VecDeque::new()),
            work_ready: Arc::new(tokio::sync::Notify::new()),
            changed: watch::Sender::new(0),
            index: tokio::sync::Mutex::new(None),
            me: me.clone(),
        })
    }

    fn store(&self) -> Result<&StateComponent, WfError> {
        self.components
            .actor_state_store()
            .map(|(_, s)| s)
            .ok_or_else(|| {
                WfError::Internal(
                    "the workflow engine needs a state store with actorStateStore: \"true\"".into(),
                )
            })
    }

    /// Starts the dispatcher and resumes the instances left running (called once the
    /// components are up).
    pub async fn run(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(engine) = me.upgrade() else { return };
                engine.dispatch_all().await;
                let ready = engine.work_ready.clone();
                drop(engine);
                tokio::select! {
                    _ = ready.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        });
        if self.store().is_err() {
            return;
        }
        let index = match self.read_index().await {
            Ok(i) => i,
            Err(e) => {
                log::warn(
                    scope::RUNTIME,
                    &format!("workflows: cannot read the index: {e}"),
                );
                return;
            }
        };
        let mut resumed = 0;
        for (id, status) in index {
            if matches!(
                status.as_str(),
                "COMPLETED" | "FAILED" | "TERMINATED" | "CANCELED"
            ) {
                continue;
            }
            match self.slot(&id).await {
                Ok(slot) => {
                    let effects = {
                        let mut s = slot.lock().await;
                        recover(&mut s)
                    };
                    self.run_effects(effects).await;
                    resumed += 1;
                }
                Err(e) => log::warn(scope::RUNTIME, &format!("workflows: cannot load {id}: {e}")),
            }
        }
        if resumed > 0 {
            log::info(
                scope::RUNTIME,
                &format!("workflows: resumed {resumed} running instance(s)"),
            );
        }
    }

    async fn read_index(&self) -> Result<BTreeMap<String, String>, String> {
        let mut idx = self.index.lock().await;
        if idx.is_none() {
            let store = self.store().map_err(|e| e.to_string())?;
            *idx = Some(self.layout.read_index(store).await?);
        }
        Ok(idx.clone().unwrap_or_default())
    }

    async fn set_index(&self, id: &str, status: Option<Status>) -> Result<(), String> {
        let store = self.store().map_err(|e| e.to_string())?;
        let mut idx = self.index.lock().await;
        if idx.is_none() {
            *idx = Some(self.layout.read_index(store).await?);
        }
        let map = idx.get_or_insert_with(BTreeMap::new);
        match status {
            Some(s) => {
                if map.get(id).map(String::as_str) == Some(s.as_str()) {
                    return Ok(());
                }
                map.insert(id.to_string(), s.as_str().to_string());
            }
            None => {
                map.remove(id);
            }
        }
        self.layout.write_index(store, map).await
    }

    /// The slot of an instance, loaded from the store when first asked for.
    async fn slot(&self, id: &str) -> Result<Arc<tokio::sync::Mutex<Slot>>, WfError> {
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .map_err(|_| WfError::Internal("poisoned".into()))?;
            if let Some(s) = slots.get(id) {
                return Ok(s.clone());
            }
            let s = Arc::new(tokio::sync::Mutex::new(Slot {
                inst: None,
                turn: None,
                activities: HashSet::new(),
                timers: HashSet::new(),
            }));
            slots.insert(id.to_string(), s.clone());
            s
        };
        let mut s = slot.lock().await;
        if s.inst.is_none() {
            let store = self.store()?;
            s.inst = self
                .layout
                .load(store, id)
                .await
                .map_err(WfError::Internal)?;
        }
        drop(s);
        Ok(slot)
    }

    async fn save(&self, inst: &mut Instance, history_from: usize) -> Result<(), WfError> {
        let store = self.store()?;
        self.layout
            .save(store, inst, history_from)
            .await
            .map_err(WfError::Internal)
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn enqueue(&self, work: Work) {
        if let Ok(mut q) = self.queue.lock() {
            q.push_back(work);
        }
        self.work_ready.notify_one();
    }

    // ---- client operations ----

    /// Creates an instance; waits until its first turn ran unless `start_at` is set.
    pub async fn start(
        &self,
        name: &str,
        instance_id: &str,
        input: Option<String>,
        start_at: Option<DateTime<Utc>>,
    ) -> Result<(), WfError> {
        let started = proto::ExecutionStartedEvent {
            name: name.to_string(),
            input,
            workflow_instance: Some(proto::WorkflowInstance {
                instance_id: instance_id.to_string(),
                execution_id: Some(new_execution_id()),
            }),
            scheduled_start_timestamp: start_at.map(timestamp),
            ..Default::default()
        };
        self.create(instance_id, started, start_at).await?;
        if start_at.is_none() {
            self.wait_for(instance_id, CHANGE_WAIT, |i| i.status != Status::Pending)
                .await?;
        }
        Ok(())
    }

    /// Creates (or re-creates a finished) instance with its `executionStarted` in the inbox.
    async fn create(
        &self,
        id: &str,
        started: proto::ExecutionStartedEvent,
        start_at: Option<DateTime<Utc>>,
    ) -> Result<(), WfError> {
        let slot = self.slot(id).await?;
        let mut s = slot.lock().await;
        if let Some(old) = &s.inst
            && !old.is_terminal()
        {
            return Err(WfError::AlreadyExists(format!(
                "an active workflow with ID '{id}' already exists"
            )));
        }
        let mut inst = Instance::new(id);
        if let Some(old) = &s.inst {
            inst.stored_history = old.stored_history;
            inst.stored_inbox = old.stored_inbox;
            inst.generation = old.generation;
        }
        inst.inbox
            .push(event(-1, EventType::ExecutionStarted(started)));
        self.save(&mut inst, 0).await?;
        s.inst = Some(inst);
        s.turn = None;
        s.activities.clear();
        s.timers.clear();
        drop(s);
        self.set_index(id, Some(Status::Pending))
            .await
            .map_err(WfError::Internal)?;
        self.bump();
        match start_at {
            Some(at) if at > Utc::now() => {
                let me = self.me.clone();
                let id = id.to_string();
                tokio::spawn(async move {
                    sleep_until(at).await;
                    if let Some(e) = me.upgrade() {
                        e.enqueue(Work::Turn(id));
                    }
                });
            }
            _ => self.enqueue(Work::Turn(id.to_string())),
        }
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<InstanceInfo>, WfError> {
        let slot = self.slot(id).await?;
        let s = slot.lock().await;
        Ok(s.inst.as_ref().map(Instance::info))
    }

    /// The protobuf state (`GetInstance`), `None` when unknown.
    pub async fn workflow_state(
        &self,
        id: &str,
        with_payloads: bool,
    ) -> Result<Option<proto::WorkflowState>, WfError> {
        let slot = self.slot(id).await?;
        let s = slot.lock().await;
        Ok(s.inst.as_ref().map(|i| i.workflow_state(with_payloads)))
    }

    pub async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, WfError> {
        let slot = self.slot(id).await?;
        let s = slot.lock().await;
        s.inst
            .as_ref()
            .map(|i| i.history.clone())
            .ok_or(WfError::NotFound)
    }

    pub async fn list_ids(&self) -> Result<Vec<String>, WfError> {
        Ok(self
            .read_index()
            .await
            .map_err(WfError::Internal)?
            .into_keys()
            .collect())
    }

    /// Waits (at most `limit`) until `done` holds for the instance; its state then.
    pub async fn wait_for(
        &self,
        id: &str,
        limit: Duration,
        done: impl Fn(&InstanceInfo) -> bool,
    ) -> Result<Option<InstanceInfo>, WfError> {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            rx.borrow_and_update();
            let info = self.get(id).await?;
            match &info {
                None => return Ok(None),
                Some(i) if done(i) => return Ok(info),
                Some(_) => {}
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Ok(info);
            }
        }
    }

    /// Adds a client event to an instance's inbox and runs a turn. Events for a finished
    /// instance are dropped.
    async fn push(&self, id: &str, kind: EventType) -> Result<(), WfError> {
        let slot = self.slot(id).await?;
        let mut s = slot.lock().await;
        let Some(inst) = s.inst.as_mut() else {
            return Err(WfError::NotFound);
        };
        if inst.is_terminal() {
            return Ok(());
        }
        inst.inbox.push(event(-1, kind));
        let from = inst.history.len();
        self.save(inst, from).await?;
        drop(s);
        self.bump();
        self.enqueue(Work::Turn(id.to_string()));
        Ok(())
    }

    pub async fn raise_event(
        &self,
        id: &str,
        name: &str,
        input: Option<String>,
    ) -> Result<(), WfError> {
        self.push(
            id,
            EventType::EventRaised(proto::EventRaisedEvent {
                name: name.to_string(),
                input,
            }),
        )
        .await
    }

    pub async fn suspend(&self, id: &str, reason: Option<String>) -> Result<(), WfError> {
        self.push(
            id,
            EventType::ExecutionSuspended(proto::ExecutionSuspendedEvent { input: reason }),
        )
        .await?;
        self.wait_for(id, CHANGE_WAIT, |i| {
            i.status == Status::Suspended || i.status.is_terminal()
        })
        .await
        .map(|_| ())
    }

    pub async fn resume(&self, id: &str, reason: Option<String>) -> Result<(), WfError> {
        self.push(
            id,
            EventType::ExecutionResumed(proto::ExecutionResumedEvent { input: reason }),
        )
        .await?;
        self.wait_for(id, CHANGE_WAIT, |i| i.status != Status::Suspended)
            .await
            .map(|_| ())
    }

    /// Terminates an instance (and, with `recursive`, its children): the orchestrator sees
    /// `executionTerminated`; if no worker finishes it in time, the engine records the
    /// termination itself.
    pub async fn terminate(
        &self,
        id: &str,
        output: Option<String>,
        recursive: bool,
    ) -> Result<(), WfError> {
        self.push(
            id,
            EventType::ExecutionTerminated(proto::ExecutionTerminatedEvent {
                input: output.clone(),
                recurse: recursive,
            }),
        )
        .await?;
        let wait = if self.connected_workers() == 0 {
            Duration::ZERO
        } else {
            CHANGE_WAIT
        };
        let done = self.wait_for(id, wait, |i| i.status.is_terminal()).await?;
        if done.is_some_and(|i| !i.status.is_terminal()) {
            self.force_terminate(id, output).await?;
        }
        Ok(())
    }

    async fn force_terminate(&self, id: &str, output: Option<String>) -> Result<(), WfError> {
        let slot = self.slot(id).await?;
        let mut s = slot.lock().await;
        let Some(inst) = s.inst.as_mut() else {
            return Err(WfError::NotFound);
        };
        if inst.is_terminal() {
            return Ok(());
        }
        let from = inst.history.len();
        let taken = std::mem::take(&mut inst.inbox);
        inst.history.push(event(
            -1,
            EventType::WorkflowStarted(proto::WorkflowStartedEvent::default()),
        ));
        inst.history.extend(
            taken
                .into_iter()
                .filter(|e| !matches!(e.event_type, Some(EventType::ExecutionStarted(_)))),
        );
        inst.history.push(event(
            -1,
            EventType::ExecutionCompleted(proto::ExecutionCompletedEvent {
                workflow_status: proto::OrchestrationStatus::Terminated as i32,
                result: output,
                failure_details: None,
            }),
        ));
        self.save(inst, from).await?;
        let effects = finished(inst);
        s.turn = None;
        s.activities.clear();
        s.timers.clear();
        drop(s);
        self.bump();
        self.run_effects(effects).await;
        Ok(())
    }

    /// Deletes a finished instance (and, with `recursive`, its children); how many.
    pub async fn purge(&self, id: &str, recursive: bool) -> Result<u32, WfError> {
        let slot = self.slot(id).await?;
        let mut s = slot.lock().await;
        let Some(inst) = s.inst.as_ref() else {
            return Err(WfError::NotFound);
        };
        if !inst.is_terminal() {
            return Err(WfError::NotCompleted);
        }
        let children = children(inst);
        self.layout
            .purge(self.store()?, inst)
            .await
            .map_err(WfError::Internal)?;
        s.inst = None;
        drop(s);
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(id);
        }
        self.set_index(id, None).await.map_err(WfError::Internal)?;
        self.bump();
        let mut count = 1;
        if recursive {
            for child in children {
                if let Ok(n) = Box::pin(self.purge(&child, true)).await {
                    count += n;
                }
            }
        }
        Ok(count)
    }

    pub fn connected_workers(&self) -> usize {
        self.workers.lock().map_or(0, |w| w.streams.len())
    }

    // ---- workers ----

    /// A worker's `GetWorkItems` stream: work goes to `sink` until it closes.
    pub fn connect(&self, sink: Sink) -> u64 {
        let id = {
            let Ok(mut w) = self.workers.lock() else {
                return 0;
            };
            w.next_id += 1;
            let id = w.next_id;
            w.streams.push((id, sink));
            id
        };
        self.work_ready.notify_one();
        id
    }

    /// Shutdown: every work-item stream ends (workers reconnect to the next sidecar).
    pub fn close(&self) {
        if let Ok(mut w) = self.workers.lock() {
            w.streams.clear();
        }
    }

    /// A worker went away: its unanswered work goes back to the queue.
    pub fn disconnect(&self, stream: u64) {
        let orphaned: Vec<Work> = match self.workers.lock() {
            Ok(mut w) => {
                w.streams.retain(|(id, _)| *id != stream);
                let lost: Vec<Work> = w
                    .handed
                    .iter()
                    .filter(|(_, s)| **s == stream)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in &lost {
                    w.handed.remove(k);
                }
                lost
            }
            Err(_) => return,
        };
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            for work in orphaned {
                if let Work::Turn(id) = &work
                    && let Ok(slot) = me.slot(id).await
                {
                    slot.lock().await.turn = None;
                }
                me.enqueue(work);
            }
        });
    }

    /// Hands queued work to workers, round robin, while there are both.
    async fn dispatch_all(&self) {
        loop {
            if self.connected_workers() == 0 {
                return;
            }
            let Some(work) = self.queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                return;
            };
            let Some((item, token_turn)) = self.prepare(&work).await else {
                continue;
            };
            let sent = {
                let Ok(mut w) = self.workers.lock() else {
                    return;
                };
                let mut sent = None;
                while !w.streams.is_empty() {
                    let n = w.next % w.streams.len();
                    w.next = w.next.wrapping_add(1);
                    let (sid, sink) = w.streams[n].clone();
                    // Recorded first: the answer may come back before `send` returns.
                    w.handed.insert(work.clone(), sid);
                    if sink.send(Ok(item.clone())).is_ok() {
                        sent = Some(sid);
                        break;
                    }
                    w.handed.remove(&work);
                    w.streams.remove(n);
                }
                sent
            };
            if sent.is_none() {
                // No worker took it: undo and keep it for later.
                if let (Work::Turn(id), Some(_)) = (&work, token_turn)
                    && let Ok(slot) = self.slot(id).await
                {
                    slot.lock().await.turn = None;
                }
                if let Ok(mut q) = self.queue.lock() {
                    q.push_front(work);
                }
                return;
            }
        }
    }

    /// The work item for `work`, `None` when there is nothing to do (any more).
    async fn prepare(&self, work: &Work) -> Option<(proto::WorkItem, Option<String>)> {
        match work {
            Work::Turn(id) => {
                let slot = self.slot(id).await.ok()?;
                let mut s = slot.lock().await;
                if s.turn.is_some() {
                    return None;
                }
                let inst = s.inst.as_ref()?;
                if inst.inbox.is_empty() || inst.is_terminal() {
                    return None;
                }
                if let Some(at) = inst
                    .pending_start()
                    .and_then(|p| p.scheduled_start_timestamp.as_ref())
                    .and_then(from_timestamp)
                    && at > Utc::now()
                    && inst.started().is_none()
                {
                    return None;
                }
                let mut new_events = vec![event(
                    -1,
                    EventType::WorkflowStarted(proto::WorkflowStartedEvent::default()),
                )];
                new_events.extend(inst.inbox.iter().cloned());
                let token = uuid::Uuid::new_v4().to_string();
                let request = proto::WorkflowRequest {
                    instance_id: id.clone(),
                    execution_id: inst.execution_id(),
                    past_events: inst.history.clone(),
                    new_events: new_events.clone(),
                };
                let taken = inst.inbox.len();
                s.turn = Some(InFlight {
                    token: token.clone(),
                    new_events,
                    inbox_taken: taken,
                });
                Some((
                    proto::WorkItem {
                        request: Some(proto::work_item::Request::WorkflowRequest(request)),
                        completion_token: token.clone(),
                    },
                    Some(token),
                ))
            }
            Work::Activity {
                instance,
                execution,
                task_id,
            } => {
                let slot = self.slot(instance).await.ok()?;
                let s = slot.lock().await;
                if !s.activities.contains(task_id) {
                    return None;
                }
                let inst = s.inst.as_ref()?;
                if inst.execution_id().as_deref() != Some(execution.as_str()) {
                    return None;
                }
                let scheduled = inst.history.iter().find_map(|e| match &e.event_type {
                    Some(EventType::TaskScheduled(t)) if e.event_id == *task_id => Some(t),
                    _ => None,
                })?;
                let request = proto::ActivityRequest {
                    name: scheduled.name.clone(),
                    version: scheduled.version.clone(),
                    input: scheduled.input.clone(),
                    workflow_instance: Some(proto::WorkflowInstance {
                        instance_id: instance.clone(),
                        execution_id: Some(execution.clone()),
                    }),
                    task_id: *task_id,
                    parent_trace_context: None,
                    task_execution_id: scheduled.task_execution_id.clone(),
                };
                Some((
                    proto::WorkItem {
                        request: Some(proto::work_item::Request::ActivityRequest(request)),
                        completion_token: uuid::Uuid::new_v4().to_string(),
                    },
                    None,
                ))
            }
        }
    }

    fn answered(&self, work: &Work) {
        if let Ok(mut w) = self.workers.lock() {
            w.handed.remove(work);
        }
    }

    /// `CompleteActivityTask`: the result enters the inbox once (later answers for the same
    /// task are ignored) and a turn follows.
    pub async fn complete_activity(&self, res: proto::ActivityResponse) -> Result<(), WfError> {
        let slot = self.slot(&res.instance_id).await?;
        let mut s = slot.lock().await;
        if !s.activities.contains(&res.task_id) {
            return Ok(());
        }
        let Some(inst) = s.inst.as_mut() else {
            return Ok(());
        };
        let execution = inst.execution_id().unwrap_or_default();
        let task_execution_id = inst
            .history
            .iter()
            .find_map(|e| match &e.event_type {
                Some(EventType::TaskScheduled(t)) if e.event_id == res.task_id => {
                    Some(t.task_execution_id.clone())
                }
                _ => None,
            })
            .unwrap_or_default();
        let kind = match res.failure_details {
            Some(f) => EventType::TaskFailed(proto::TaskFailedEvent {
                task_scheduled_id: res.task_id,
                failure_details: Some(f),
                task_execution_id,
            }),
            None => EventType::TaskCompleted(proto::TaskCompletedEvent {
                task_scheduled_id: res.task_id,
                result: res.result,
                task_execution_id,
            }),
        };
        inst.inbox.push(event(-1, kind));
        let from = inst.history.len();
        self.save(inst, from).await?;
        s.activities.remove(&res.task_id);
        drop(s);
        self.answered(&Work::Activity {
            instance: res.instance_id.clone(),
            execution,
            task_id: res.task_id,
        });
        self.bump();
        self.enqueue(Work::Turn(res.instance_id));
        Ok(())
    }

    /// `CompleteOrchestratorTask`: applies the turn's actions.
    pub async fn complete_turn(&self, res: proto::WorkflowResponse) -> Result<(), WfError> {
        let id = res.instance_id.clone();
        let slot = self.slot(&id).await?;
        let mut s = slot.lock().await;
        let Some(turn) = s.turn.take() else {
            return Ok(());
        };
        if !res.completion_token.is_empty() && res.completion_token != turn.token {
            // A stale answer to an earlier dispatch.
            s.turn = Some(turn);
            return Ok(());
        }
        let Some(inst) = s.inst.as_mut() else {
            return Ok(());
        };
        let mut effects = Vec::new();
        let history_from = apply_turn(&self.app_id, inst, turn, res, &mut effects);
        let from = history_from.min(inst.stored_history);
        if let Err(e) = self.save(inst, from).await {
            // Not saved: the turn runs again from what the store holds.
            s.inst = None;
            drop(s);
            self.answered(&Work::Turn(id.clone()));
            self.enqueue(Work::Turn(id));
            return Err(e);
        }
        let status = inst.status();
        if status.is_terminal() {
            effects.extend(finished(inst));
            s.activities.clear();
            s.timers.clear();
        } else {
            if history_from == 0 {
                // continue-as-new: the old execution's work no longer counts.
                s.activities.clear();
                s.timers.clear();
            }
            for e in &effects {
                match e {
                    Effect::Dispatch(Work::Activity { task_id, .. }) => {
                        s.activities.insert(*task_id);
                    }
                    Effect::Timer { id, .. } => {
                        s.timers.insert(*id);
                    }
                    _ => {}
                }
            }
            effects.push(Effect::Index {
                id: id.clone(),
                status,
            });
            if !s.inst.as_ref().is_some_and(|i| i.inbox.is_empty()) {
                effects.push(Effect::Dispatch(Work::Turn(id.clone())));
            }
        }
        drop(s);
        self.answered(&Work::Turn(id));
        self.bump();
        self.run_effects(effects).await;
        Ok(())
    }

    async fn timer_fired(&self, id: &str, execution: &str, timer: i32, at: DateTime<Utc>) {
        let Ok(slot) = self.slot(id).await else {
            return;
        };
        let mut s = slot.lock().await;
        if !s.timers.remove(&timer) {
            return;
        }
        let Some(inst) = s.inst.as_mut() else { return };
        if inst.execution_id().as_deref() != Some(execution) || inst.is_terminal() {
            return;
        }
        inst.inbox.push(event(
            -1,
            EventType::TimerFired(proto::TimerFiredEvent {
                fire_at: Some(timestamp(at)),
                timer_id: timer,
            }),
        ));
        let from = inst.history.len();
        if let Err(e) = self.save(inst, from).await {
            log::warn(
                scope::RUNTIME,
                &format!("workflow {id}: cannot save a fired timer: {e}"),
            );
            s.timers.insert(timer);
            return;
        }
        drop(s);
        self.bump();
        self.enqueue(Work::Turn(id.to_string()));
    }

    /// Boxed: effects start other instances' changes, which run effects in turn.
    fn run_effects(
        &self,
        effects: Vec<Effect>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.run_effects_inner(effects))
    }

    async fn run_effects_inner(&self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Dispatch(w) => self.enqueue(w),
                Effect::Timer {
                    instance,
                    execution,
                    id,
                    at,
                } => {
                    // The Python SDK's "wait for ever" sentinel (year 9999) is never armed.
                    if at.timestamp() > 253_000_000_000 {
                        continue;
                    }
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        sleep_until(at).await;
                        if let Some(e) = me.upgrade() {
                            e.timer_fired(&instance, &execution, id, at).await;
                        }
                    });
                }
                Effect::StartChild { id, started } => {
                    let parent = started
                        .parent_instance
                        .as_ref()
                        .and_then(|p| p.workflow_instance.as_ref())
                        .map(|w| w.instance_id.clone())
                        .unwrap_or_default();
                    let task = started
                        .parent_instance
                        .as_ref()
                        .map_or(-1, |p| p.task_scheduled_id);
                    if let Err(e) = self.create(&id, started, None).await {
                        // The parent learns that its child could not start.
                        let failed = event(
                            -1,
                            EventType::ChildWorkflowInstanceFailed(
                                proto::ChildWorkflowInstanceFailedEvent {
                                    task_scheduled_id: task,
                                    failure_details: Some(proto::TaskFailureDetails {
                                        error_type: "WorkflowError".into(),
                                        error_message: e.to_string(),
                                        ..Default::default()
                                    }),
                                },
                            ),
                        );
                        self.deliver(&parent, failed).await;
                    }
                }
                Effect::Raise {
                    target,
                    name,
                    input,
                } => {
                    if let Err(e) = self.raise_event(&target, &name, input).await {
                        log::warn(scope::RUNTIME, &format!("workflow event to {target}: {e}"));
                    }
                }
                Effect::Terminate {
                    target,
                    reason,
                    recurse,
                } => {
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        if let Some(e) = me.upgrade() {
                            let _ = e.terminate(&target, reason, recurse).await;
                        }
                    });
                }
                Effect::Notify { parent, event } => self.deliver(&parent, event).await,
                Effect::Index { id, status } => {
                    if let Err(e) = self.set_index(&id, Some(status)).await {
                        log::warn(scope::RUNTIME, &format!("workflows: index: {e}"));
                    }
                }
            }
        }
    }

    /// Puts an engine-made event into an instance's inbox (a child's result).
    async fn deliver(&self, id: &str, ev: HistoryEvent) {
        let Some(kind) = ev.event_type else { return };
        if let Err(e) = self.push(id, kind).await {
            log::warn(
                scope::RUNTIME,
                &format!("workflow {id}: cannot deliver an event: {e}"),
            );
        }
    }
}

async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(d) = (at - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

/// The ids of an instance's children.
fn children(inst: &Instance) -> Vec<String> {
    inst.history
        .iter()
        .filter_map(|e| match &e.event_type {
            Some(EventType::ChildWorkflowInstanceCreated(c)) => Some(c.instance_id.clone()),
            _ => None,
        })
        .collect()
}

/// The default id of a child workflow (as the Python and Go SDKs make it themselves).
fn child_id(parent: &str, action_id: i32) -> String {
    let hex = format!("{:x}", 0x10000 + i64::from(action_id));
    format!("{parent}:{}", &hex[hex.len().saturating_sub(4)..])
}

/// What follows the end of an instance: the index, its parent's inbox.
fn finished(inst: &Instance) -> Vec<Effect> {
    let mut effects = vec![Effect::Index {
        id: inst.id.clone(),
        status: inst.status(),
    }];
    let Some(parent) = inst.started().and_then(|s| s.parent_instance.clone()) else {
        return effects;
    };
    let Some(parent_id) = parent.workflow_instance.map(|w| w.instance_id) else {
        return effects;
    };
    let Some(done) = inst.completed() else {
        return effects;
    };
    let kind = if done.workflow_status == proto::OrchestrationStatus::Completed as i32 {
        EventType::ChildWorkflowInstanceCompleted(proto::ChildWorkflowInstanceCompletedEvent {
            task_scheduled_id: parent.task_scheduled_id,
            result: done.result.clone(),
        })
    } else {
        EventType::ChildWorkflowInstanceFailed(proto::ChildWorkflowInstanceFailedEvent {
            task_scheduled_id: parent.task_scheduled_id,
            failure_details: Some(done.failure_details.clone().unwrap_or_else(|| {
                proto::TaskFailureDetails {
                    error_type: "WorkflowTerminated".into(),
                    error_message: format!(
                        "child workflow {} ended as {}",
                        inst.id,
                        Status::from_proto(done.workflow_status).as_str()
                    ),
                    ..Default::default()
                }
            })),
        })
    };
    effects.push(Effect::Notify {
        parent: parent_id,
        event: event(-1, kind),
    });
    effects
}

/// Applies a worker's answer to a turn: the shown events enter the history, each action
/// becomes a history event (with the action's id) and work. Returns the index from which
/// the history changed (0 after continue-as-new).
fn apply_turn(
    app_id: &str,
    inst: &mut Instance,
    turn: InFlight,
    res: proto::WorkflowResponse,
    effects: &mut Vec<Effect>,
) -> usize {
    let mut history_from = inst.history.len();
    let mut new_events = turn.new_events;
    if let Some(Some(EventType::WorkflowStarted(w))) =
        new_events.first_mut().map(|e| e.event_type.as_mut())
    {
        w.version = res.version.clone();
    }
    let terminated = new_events.iter().find_map(|e| match &e.event_type {
        Some(EventType::ExecutionTerminated(t)) => Some(t.clone()),
        _ => None,
    });
    inst.history.extend(new_events);
    let taken = turn.inbox_taken.min(inst.inbox.len());
    inst.inbox.drain(..taken);
    inst.custom_status = res.custom_status;
    let execution = inst.execution_id().unwrap_or_default();
    let name = inst.started().map(|s| s.name.clone()).unwrap_or_default();
    let mut completed = false;
    let mut continue_as_new: Option<proto::CompleteWorkflowAction> = None;
    for action in res.actions {
        let id = action.id;
        let Some(kind) = action.workflow_action_type else {
            continue;
        };
        if completed {
            break;
        }
        match kind {
            WorkflowActionType::ScheduleTask(t) => {
                inst.history.push(event(
                    id,
                    EventType::TaskScheduled(proto::TaskScheduledEvent {
                        name: t.name,
                        version: t.version,
                        input: t.input,
                        parent_trace_context: None,
                        task_execution_id: t.task_execution_id,
                    }),
                ));
                effects.push(Effect::Dispatch(Work::Activity {
                    instance: inst.id.clone(),
                    execution: execution.clone(),
                    task_id: id,
                }));
            }
            WorkflowActionType::CreateTimer(t) => {
                let at = t
                    .fire_at
                    .as_ref()
                    .and_then(from_timestamp)
                    .unwrap_or_else(Utc::now);
                inst.history.push(event(
                    id,
                    EventType::TimerCreated(proto::TimerCreatedEvent {
                        fire_at: t.fire_at,
                        name: t.name,
                        origin: t.origin.map(timer_origin),
                    }),
                ));
                effects.push(Effect::Timer {
                    instance: inst.id.clone(),
                    execution: execution.clone(),
                    id,
                    at,
                });
            }
            WorkflowActionType::CreateChildWorkflow(c) => {
                let child = if c.instance_id.is_empty() {
                    child_id(&inst.id, id)
                } else {
                    c.instance_id
                };
                inst.history.push(event(
                    id,
                    EventType::ChildWorkflowInstanceCreated(
                        proto::ChildWorkflowInstanceCreatedEvent {
                            instance_id: child.clone(),
                            name: c.name.clone(),
                            version: c.version.clone(),
                            input: c.input.clone(),
                            parent_trace_context: None,
                        },
                    ),
                ));
                effects.push(Effect::StartChild {
                    id: child.clone(),
                    started: proto::ExecutionStartedEvent {
                        name: c.name,
                        version: c.version,
                        input: c.input,
                        workflow_instance: Some(proto::WorkflowInstance {
                            instance_id: child,
                            execution_id: Some(new_execution_id()),
                        }),
                        parent_instance: Some(proto::ParentInstanceInfo {
                            task_scheduled_id: id,
                            name: Some(name.clone()),
                            version: None,
                            workflow_instance: Some(proto::WorkflowInstance {
                                instance_id: inst.id.clone(),
                                execution_id: Some(execution.clone()),
                            }),
                            app_id: Some(app_id.to_string()),
                            app_namespace: None,
                        }),
                        ..Default::default()
                    },
                });
            }
            WorkflowActionType::SendEvent(e) => {
                let target = e.instance.map(|i| i.instance_id).unwrap_or_default();
                inst.history.push(event(
                    id,
                    EventType::EventSent(proto::EventSentEvent {
                        instance_id: target.clone(),
                        name: e.name.clone(),
                        input: e.data.clone(),
                    }),
                ));
                effects.push(Effect::Raise {
                    target,
                    name: e.name,
                    input: e.data,
                });
            }
            WorkflowActionType::CompleteWorkflow(c) => {
                if c.workflow_status == proto::OrchestrationStatus::ContinuedAsNew as i32 {
                    continue_as_new = Some(c);
                    break;
                }
                inst.history.push(event(
                    id,
                    EventType::ExecutionCompleted(proto::ExecutionCompletedEvent {
                        workflow_status: c.workflow_status,
                        result: c.result,
                        failure_details: c.failure_details,
                    }),
                ));
                completed = true;
            }
            WorkflowActionType::TerminateWorkflow(t) => {
                effects.push(Effect::Terminate {
                    target: t.instance_id,
                    reason: t.reason,
                    recurse: t.recurse,
                });
            }
        }
    }
    if let Some(c) = continue_as_new {
        let mut started = inst.started().cloned().unwrap_or_default();
        started.input = c.result;
        started.workflow_instance = Some(proto::WorkflowInstance {
            instance_id: inst.id.clone(),
            execution_id: Some(new_execution_id()),
        });
        let mut inbox = vec![event(-1, EventType::ExecutionStarted(started))];
        inbox.extend(c.carryover_events);
        inbox.append(&mut inst.inbox);
        inst.history.clear();
        inst.inbox = inbox;
        history_from = 0;
        effects.retain(|e| {
            !matches!(
                e,
                Effect::Dispatch(Work::Activity { .. }) | Effect::Timer { .. }
            )
        });
        return history_from;
    }
    if !completed && let Some(t) = terminated {
        // The orchestrator did not end itself on termination: the engine records it.
        inst.history.push(event(
            -1,
            EventType::ExecutionCompleted(proto::ExecutionCompletedEvent {
                workflow_status: proto::OrchestrationStatus::Terminated as i32,
                result: t.input,
                failure_details: None,
            }),
        ));
        completed = true;
    }
    if completed {
        inst.inbox.clear();
        effects.retain(|e| {
            !matches!(
                e,
                Effect::Dispatch(Work::Activity { .. }) | Effect::Timer { .. }
            )
        });
        if let Some(t) = inst.history.iter().find_map(|e| match &e.event_type {
            Some(EventType::ExecutionTerminated(t)) if t.recurse => Some(t.clone()),
            _ => None,
        }) {
            for child in children(inst) {
                effects.push(Effect::Terminate {
                    target: child,
                    reason: t.input.clone(),
                    recurse: true,
                });
            }
        }
    }
    history_from
}

fn timer_origin(o: proto::create_timer_action::Origin) -> proto::timer_created_event::Origin {
    use proto::create_timer_action::Origin as A;
    use proto::timer_created_event::Origin as H;
    match o {
        A::CreateTimer(x) => H::CreateTimer(x),
        A::ExternalEvent(x) => H::ExternalEvent(x),
        A::ActivityRetry(x) => H::ActivityRetry(x),
        A::ChildWorkflowRetry(x) => H::ChildWorkflowRetry(x),
    }
}

/// After a restart: the work an instance was waiting for is started again.
fn recover(s: &mut Slot) -> Vec<Effect> {
    let mut effects = Vec::new();
    let Some(inst) = s.inst.as_ref() else {
        return effects;
    };
    if inst.is_terminal() {
        return effects;
    }
    let execution = inst.execution_id().unwrap_or_default();
    let mut answered_tasks = HashSet::new();
    let mut fired = HashSet::new();
    for e in inst.history.iter().chain(&inst.inbox) {
        match &e.event_type {
            Some(EventType::TaskCompleted(t)) => {
                answered_tasks.insert(t.task_scheduled_id);
            }
            Some(EventType::TaskFailed(t)) => {
                answered_tasks.insert(t.task_scheduled_id);
            }
            Some(EventType::TimerFired(t)) => {
                fired.insert(t.timer_id);
            }
            _ => {}
        }
    }
    for e in &inst.history {
        match &e.event_type {
            Some(EventType::TaskScheduled(_)) if !answered_tasks.contains(&e.event_id) => {
                s.activities.insert(e.event_id);
                effects.push(Effect::Dispatch(Work::Activity {
                    instance: inst.id.clone(),
                    execution: execution.clone(),
                    task_id: e.event_id,
                }));
            }
            Some(EventType::TimerCreated(t)) if !fired.contains(&e.event_id) => {
                s.timers.insert(e.event_id);
                effects.push(Effect::Timer {
                    instance: inst.id.clone(),
                    execution: execution.clone(),
                    id: e.event_id,
                    at: t
                        .fire_at
                        .as_ref()
                        .and_then(from_timestamp)
                        .unwrap_or_else(Utc::now),
                });
            }
            _ => {}
        }
    }
    if !inst.inbox.is_empty() {
        effects.push(Effect::Dispatch(Work::Turn(inst.id.clone())));
    }
    effects
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_ids_follow_the_sdks() {
        assert_eq!(child_id("abc", 1), "abc:0001");
        assert_eq!(child_id("abc", 0x1f), "abc:001f");
    }

    fn turn_with(inst: &Instance) -> InFlight {
        let mut new_events = vec![event(-1, EventType::WorkflowStarted(Default::default()))];
        new_events.extend(inst.inbox.iter().cloned());
        InFlight {
            token: "t".into(),
            new_events,
            inbox_taken: inst.inbox.len(),
        }
    }

    fn action(id: i32, kind: WorkflowActionType) -> proto::WorkflowAction {
        proto::WorkflowAction {
            id,
            workflow_action_type: Some(kind),
        }
    }

    #[test]
    fn actions_become_history_events_with_their_ids() {
        let mut inst = Instance::new("i1");
        inst.inbox.push(event(
            -1,
            EventType::ExecutionStarted(proto::ExecutionStartedEvent {
                name: "wf".into(),
                workflow_instance: Some(proto::WorkflowInstance {
                    instance_id: "i1".into(),
                    execution_id: Some("e1".into()),
                }),
                ..Default::default()
            }),
        ));
        let turn = turn_with(&inst);
        let res = proto::WorkflowResponse {
            instance_id: "i1".into(),
            actions: vec![
                action(
                    1,
                    WorkflowActionType::ScheduleTask(proto::ScheduleTaskAction {
                        name: "a".into(),
                        ..Default::default()
                    }),
                ),
                action(
                    2,
                    WorkflowActionType::CreateTimer(proto::CreateTimerAction::default()),
                ),
                action(
                    3,
                    WorkflowActionType::CreateChildWorkflow(proto::CreateChildWorkflowAction {
                        name: "c".into(),
                        ..Default::default()
                    }),
                ),
            ],
            custom_status: Some("\"cs\"".into()),
            ..Default::default()
        };
        let mut effects = Vec::new();
        let from = apply_turn("app", &mut inst, turn, res, &mut effects);
        assert_eq!(from, 0);
        assert!(inst.inbox.is_empty());
        let ids: Vec<i32> = inst.history.iter().map(|e| e.event_id).collect();
        assert_eq!(ids, [-1, -1, 1, 2, 3]);
        assert_eq!(inst.status(), Status::Running);
        assert_eq!(inst.custom_status.as_deref(), Some("\"cs\""));
        assert!(matches!(&effects[2], Effect::StartChild { id, .. } if id == "i1:0003"));

        // Completion ends the instance; later actions are ignored.
        inst.inbox.push(event(
            -1,
            EventType::TaskCompleted(proto::TaskCompletedEvent {
                task_scheduled_id: 1,
                ..Default::default()
            }),
        ));
        let turn = turn_with(&inst);
        let res = proto::WorkflowResponse {
            instance_id: "i1".into(),
            actions: vec![
                action(
                    4,
                    WorkflowActionType::CompleteWorkflow(proto::CompleteWorkflowAction {
                        workflow_status: proto::OrchestrationStatus::Completed as i32,
                        result: Some("42".into()),
                        ..Default::default()
                    }),
                ),
                action(
                    5,
                    WorkflowActionType::ScheduleTask(proto::ScheduleTaskAction::default()),
                ),
            ],
            ..Default::default()
        };
        let mut effects = Vec::new();
        apply_turn("app", &mut inst, turn, res, &mut effects);
        assert_eq!(inst.status(), Status::Completed);
        assert_eq!(inst.info().output.as_deref(), Some("42"));
        assert!(effects.is_empty());
    }

    #[test]
    fn continue_as_new_restarts_the_history() {
        let mut inst = Instance::new("m");
        inst.inbox.push(event(
            -1,
            EventType::ExecutionStarted(proto::ExecutionStartedEvent {
                name: "monitor".into(),
                input: Some("1".into()),
                ..Default::default()
            }),
        ));
        let turn = turn_with(&inst);
        let res = proto::WorkflowResponse {
            instance_id: "m".into(),
            actions: vec![action(
                1,
                WorkflowActionType::CompleteWorkflow(proto::CompleteWorkflowAction {
                    workflow_status: proto::OrchestrationStatus::ContinuedAsNew as i32,
                    result: Some("2".into()),
                    carryover_events: vec![event(
                        -1,
                        EventType::EventRaised(proto::EventRaisedEvent {
                            name: "x".into(),
                            input: None,
                        }),
                    )],
                    ..Default::default()
                }),
            )],
            ..Default::default()
        };
        let mut effects = Vec::new();
        assert_eq!(apply_turn("app", &mut inst, turn, res, &mut effects), 0);
        assert!(inst.history.is_empty());
        assert_eq!(inst.inbox.len(), 2);
        assert_eq!(inst.pending_start().unwrap().input.as_deref(), Some("2"));
        assert_eq!(inst.status(), Status::Pending);
    }
}

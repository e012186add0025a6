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

mod progress;
mod turn;
mod workers;

use crate::sidecar::scheduler::timing::sleep_until;
use turn::{children, finished, new_execution_id, recover};

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
}

//! What moves an instance on: answers to turns and activities, fired timers, and the
//! effects of a saved change (work, timers, children, events, the parent's inbox).

use super::turn::apply_turn;
use super::*;

impl Engine {
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

    pub(super) async fn timer_fired(
        &self,
        id: &str,
        execution: &str,
        timer: i32,
        at: DateTime<Utc>,
    ) {
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
    pub(super) fn run_effects(
        &self,
        effects: Vec<Effect>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.run_effects_inner(effects))
    }

    pub(super) async fn run_effects_inner(&self, effects: Vec<Effect>) {
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
    pub(super) async fn deliver(&self, id: &str, ev: HistoryEvent) {
        let Some(kind) = ev.event_type else { return };
        if let Err(e) = self.push(id, kind).await {
            log::warn(
                scope::RUNTIME,
                &format!("workflow {id}: cannot deliver an event: {e}"),
            );
        }
    }
}

//! A turn's answer applied to an instance, and what an instance needs after a restart.

use super::*;

pub(super) fn new_execution_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The ids of an instance's children.
pub(super) fn children(inst: &Instance) -> Vec<String> {
    inst.history
        .iter()
        .filter_map(|e| match &e.event_type {
            Some(EventType::ChildWorkflowInstanceCreated(c)) => Some(c.instance_id.clone()),
            _ => None,
        })
        .collect()
}

/// The default id of a child workflow (as the Python and Go SDKs make it themselves).
pub(super) fn child_id(parent: &str, action_id: i32) -> String {
    let hex = format!("{:x}", 0x10000 + i64::from(action_id));
    format!("{parent}:{}", &hex[hex.len().saturating_sub(4)..])
}

/// What follows the end of an instance: the index, its parent's inbox.
pub(super) fn finished(inst: &Instance) -> Vec<Effect> {
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
pub(super) fn apply_turn(
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

pub(super) fn timer_origin(
    o: proto::create_timer_action::Origin,
) -> proto::timer_created_event::Origin {
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
pub(super) fn recover(s: &mut Slot) -> Vec<Effect> {
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

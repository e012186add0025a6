//! Workers: the `GetWorkItems` streams, and the queue of work handed to them round robin.

use super::*;

impl Engine {
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
    pub(super) async fn dispatch_all(&self) {
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
    pub(super) async fn prepare(&self, work: &Work) -> Option<(proto::WorkItem, Option<String>)> {
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

    pub(super) fn answered(&self, work: &Work) {
        if let Ok(mut w) = self.workers.lock() {
            w.handed.remove(work);
        }
    }
}

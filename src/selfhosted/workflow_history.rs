//! `dapr workflow history`: an instance's history events as the official CLI tabulates
//! them (its `pkg/workflow/history.go`): ordered by event id where both events have one,
//! else by time; a PLAY counter that grows at every orchestrator (re)start; the time since
//! the previous event; a status, a one-line summary and, in the wide form, the event's
//! attributes (`input=...;result=...`). Event types carry the official CLI's names
//! (`OrchestratorStarted`, `SubOrchCreated`, ...).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::workflow::{status_name, time_of};
use crate::sidecar::workflows::proto::{self as dt, history_event::EventType};

/// One event as `history -o wide|json|yaml` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HistoryRow {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(rename = "appID")]
    pub app_id: String,
    pub play: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    #[serde(rename = "eventId", skip_serializing_if = "Option::is_none")]
    pub event_id: Option<i32>,
    /// RFC 3339, whole seconds.
    pub timestamp: String,
    pub elapsed: String,
    pub status: String,
    pub details: Option<String>,
    #[serde(rename = "executionId", skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attrs: Option<String>,
}

/// One event as `history` (short) shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HistoryShortRow {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(rename = "eventId")]
    pub event_id: String,
    pub elapsed: String,
    pub status: String,
    pub details: String,
}

/// The official CLI's name of an event type.
fn type_name(e: Option<&EventType>) -> &'static str {
    match e {
        Some(EventType::ExecutionStarted(_)) => "ExecutionStarted",
        Some(EventType::ExecutionCompleted(_)) => "ExecutionCompleted",
        Some(EventType::ExecutionTerminated(_)) => "ExecutionTerminated",
        Some(EventType::TaskScheduled(_)) => "TaskScheduled",
        Some(EventType::TaskCompleted(_)) => "TaskCompleted",
        Some(EventType::TaskFailed(_)) => "TaskFailed",
        Some(EventType::ChildWorkflowInstanceCreated(_)) => "SubOrchCreated",
        Some(EventType::ChildWorkflowInstanceCompleted(_)) => "SubOrchCompleted",
        Some(EventType::ChildWorkflowInstanceFailed(_)) => "SubOrchFailed",
        Some(EventType::TimerCreated(_)) => "TimerCreated",
        Some(EventType::TimerFired(_)) => "TimerFired",
        Some(EventType::WorkflowStarted(_)) => "OrchestratorStarted",
        Some(EventType::EventSent(_)) => "EventSent",
        Some(EventType::EventRaised(_)) => "EventRaised",
        Some(EventType::ContinueAsNew(_)) => "ContinueAsNew",
        Some(EventType::ExecutionSuspended(_)) => "ExecutionSuspended",
        Some(EventType::ExecutionResumed(_)) => "ExecutionResumed",
        None => "Unknown",
    }
}

fn name_of(e: Option<&EventType>) -> Option<String> {
    match e? {
        EventType::TaskScheduled(t) => Some(t.name.clone()),
        EventType::ChildWorkflowInstanceCreated(c) => Some(c.name.clone()),
        EventType::TimerCreated(t) => t.name.clone(),
        EventType::EventRaised(r) => Some(r.name.clone()),
        EventType::EventSent(s) => Some(s.name.clone()),
        EventType::ExecutionStarted(s) => Some(s.name.clone()),
        _ => None,
    }
}

fn status_of(e: Option<&EventType>) -> String {
    match e {
        Some(EventType::TaskFailed(_)) => "FAILED".into(),
        Some(EventType::ExecutionCompleted(c)) => status_name(c.workflow_status).into(),
        Some(EventType::ExecutionTerminated(_)) => "TERMINATED".into(),
        Some(EventType::ExecutionSuspended(_)) => "SUSPENDED".into(),
        Some(EventType::ExecutionResumed(_)) => "RESUMED".into(),
        _ => "RUNNING".into(),
    }
}

fn rfc3339(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn details_of(first: Option<DateTime<Utc>>, ev: &dt::HistoryEvent) -> Option<String> {
    match ev.event_type.as_ref()? {
        EventType::TaskScheduled(t) => {
            let ver = t
                .version
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!(" v{v}"))
                .unwrap_or_default();
            Some(format!("activity={}{ver}", t.name))
        }
        EventType::TimerCreated(t) => {
            Some(format!("fireAt={}", rfc3339(time_of(t.fire_at.as_ref()))))
        }
        EventType::EventRaised(r) => Some(format!("event={}", r.name)),
        EventType::EventSent(s) => Some(format!("event={} -> {}", s.name, s.instance_id)),
        EventType::ExecutionStarted(_) => Some("orchestration start".into()),
        EventType::WorkflowStarted(_) => Some("replay cycle start".into()),
        EventType::TaskCompleted(c) => Some(format!("eventId={}", c.task_scheduled_id)),
        EventType::ExecutionCompleted(_) => {
            let at = time_of(ev.timestamp.as_ref());
            let took = match (first, at) {
                (Some(f), Some(a)) => a.signed_duration_since(f),
                _ => chrono::TimeDelta::zero(),
            };
            Some(format!("execDuration={}", humanize(took)))
        }
        _ => None,
    }
}

/// A payload shown in the attributes: a JSON string unquoted, cut at `limit` characters.
fn trim(v: Option<&str>, limit: usize) -> String {
    let Some(v) = v else {
        return String::new();
    };
    let s = match serde_json::from_str::<serde_json::Value>(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => v.to_string(),
    };
    if s.chars().count() <= limit {
        return s;
    }
    format!("{}…", s.chars().take(limit).collect::<String>())
}

fn attrs_of(ev: &dt::HistoryEvent) -> (Vec<(&'static str, String)>, Option<String>) {
    let mut a = Vec::new();
    let mut exec = None;
    let fire = |t: &Option<prost_types::Timestamp>| rfc3339(time_of(t.as_ref()));
    match ev.event_type.as_ref() {
        Some(EventType::ExecutionStarted(s)) => {
            exec = s
                .workflow_instance
                .as_ref()
                .and_then(|w| w.execution_id.clone());
            a.push(("input", trim(s.input.as_deref(), 120)));
        }
        Some(EventType::TaskScheduled(t)) => {
            exec = Some(t.task_execution_id.clone()).filter(|x| !x.is_empty());
            a.push(("input", trim(t.input.as_deref(), 120)));
        }
        Some(EventType::TaskCompleted(c)) => {
            exec = Some(c.task_execution_id.clone()).filter(|x| !x.is_empty());
            a.push(("scheduledId", c.task_scheduled_id.to_string()));
            a.push(("result", trim(c.result.as_deref(), 120)));
        }
        Some(EventType::TaskFailed(f)) => {
            exec = Some(f.task_execution_id.clone()).filter(|x| !x.is_empty());
            a.push(("scheduledId", f.task_scheduled_id.to_string()));
            if let Some(d) = &f.failure_details {
                a.push(("errorType", d.error_type.clone()));
                a.push(("errorMsg", trim(Some(&d.error_message), 160)));
                if d.is_non_retriable {
                    a.push(("nonRetriable", "true".into()));
                }
            }
        }
        Some(EventType::TimerCreated(t)) => {
            if let Some(n) = &t.name {
                a.push(("timerName", n.clone()));
            }
            a.push(("fireAt", fire(&t.fire_at)));
        }
        Some(EventType::TimerFired(t)) => {
            a.push(("timerId", t.timer_id.to_string()));
            a.push(("fireAt", fire(&t.fire_at)));
        }
        Some(EventType::EventRaised(r)) => {
            a.push(("eventName", r.name.clone()));
            a.push(("payload", trim(r.input.as_deref(), 120)));
        }
        Some(EventType::EventSent(s)) => {
            a.push(("eventName", s.name.clone()));
            a.push(("payload", trim(s.input.as_deref(), 120)));
            a.push(("targetInstance", s.instance_id.clone()));
        }
        Some(EventType::ExecutionCompleted(c)) => {
            a.push(("output", trim(c.result.as_deref(), 160)));
            if let Some(d) = &c.failure_details {
                a.push(("failureType", d.error_type.clone()));
                a.push(("failureMessage", trim(Some(&d.error_message), 160)));
            }
        }
        _ => {}
    }
    (a, exec)
}

/// A short human duration: `0.25s`, `3m 4s`, `2h 5m`, `1d 3h`.
pub fn humanize(d: chrono::TimeDelta) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 60_000 {
        return format!("{:.2}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    if s < 3600 {
        return format!("{}m {}s", s / 60, s % 60);
    }
    if s < 86_400 {
        return format!("{}h {}m", s / 3600, (s % 3600) / 60);
    }
    format!("{}d {}h", s / 86_400, (s % 86_400) / 3600)
}

/// The rows of `events` (in any order) at `now`.
pub fn history_rows(
    namespace: &str,
    app_id: &str,
    mut events: Vec<dt::HistoryEvent>,
    now: DateTime<Utc>,
) -> Vec<HistoryRow> {
    let at = |e: &dt::HistoryEvent| time_of(e.timestamp.as_ref());
    events.sort_by(|a, b| {
        if a.event_id > 0 && b.event_id > 0 {
            return a.event_id.cmp(&b.event_id);
        }
        at(a).cmp(&at(b)).then(a.event_id.cmp(&b.event_id))
    });
    let first = events.first().and_then(at);
    let mut prev = first;
    let mut play = 0;
    let mut rows = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        let ts = at(ev);
        let kind = ev.event_type.as_ref();
        if matches!(kind, Some(EventType::WorkflowStarted(_))) {
            play += 1;
        }
        let elapsed = match (i, ts, prev) {
            (0, Some(t), _) => format!("Age:{}", humanize(now.signed_duration_since(t))),
            (_, Some(t), Some(p)) => humanize(t.signed_duration_since(p)),
            _ => humanize(chrono::TimeDelta::zero()),
        };
        prev = ts.or(prev);
        let mut event_id = (ev.event_id > 0).then_some(ev.event_id);
        if matches!(
            kind,
            Some(EventType::TaskScheduled(_) | EventType::TimerCreated(_))
        ) && event_id.is_none()
        {
            event_id = Some(0);
        }
        let (attrs, execution_id) = attrs_of(ev);
        let attrs: Vec<String> = attrs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        rows.push(HistoryRow {
            namespace: namespace.to_string(),
            app_id: app_id.to_string(),
            play,
            kind: type_name(kind).to_string(),
            name: name_of(kind),
            event_id,
            timestamp: rfc3339(ts),
            elapsed,
            status: status_of(kind),
            details: details_of(first, ev),
            execution_id,
            attrs: (!attrs.is_empty()).then(|| attrs.join(";")),
        });
    }
    rows
}

/// The short form of wide rows (`-` for what is missing).
pub fn short_history(rows: &[HistoryRow]) -> Vec<HistoryShortRow> {
    rows.iter()
        .map(|w| HistoryShortRow {
            kind: w.kind.clone(),
            name: w.name.clone().unwrap_or_else(|| "-".into()),
            event_id: w
                .event_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into()),
            elapsed: w.elapsed.clone(),
            status: w.status.clone(),
            details: w.details.clone().unwrap_or_else(|| "-".into()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i32, secs: i64, kind: EventType) -> dt::HistoryEvent {
        dt::HistoryEvent {
            event_id: id,
            timestamp: Some(prost_types::Timestamp {
                seconds: 1_767_355_200 + secs,
                nanos: 0,
            }),
            event_type: Some(kind),
        }
    }

    #[test]
    fn rows_as_the_official_cli() {
        let events = vec![
            ev(
                -1,
                3,
                EventType::TaskCompleted(dt::TaskCompletedEvent {
                    task_scheduled_id: 1,
                    result: Some("\"done\"".into()),
                    ..Default::default()
                }),
            ),
            ev(
                -1,
                0,
                EventType::WorkflowStarted(dt::WorkflowStartedEvent::default()),
            ),
            ev(
                -1,
                0,
                EventType::ExecutionStarted(dt::ExecutionStartedEvent {
                    name: "wf".into(),
                    input: Some("42".into()),
                    ..Default::default()
                }),
            ),
            ev(
                1,
                1,
                EventType::TaskScheduled(dt::TaskScheduledEvent {
                    name: "act".into(),
                    ..Default::default()
                }),
            ),
            ev(
                -1,
                3,
                EventType::WorkflowStarted(dt::WorkflowStartedEvent::default()),
            ),
        ];
        let now = DateTime::from_timestamp(1_767_355_200 + 65, 0).unwrap();
        let rows = history_rows("default", "app", events, now);
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "OrchestratorStarted",
                "ExecutionStarted",
                "TaskScheduled",
                "TaskCompleted",
                "OrchestratorStarted"
            ]
        );
        assert_eq!(rows[0].elapsed, "Age:1m 5s");
        assert_eq!(rows[2].elapsed, "1.00s");
        assert_eq!(rows[4].play, 2);
        assert_eq!(rows[2].details.as_deref(), Some("activity=act"));
        assert_eq!(rows[3].attrs.as_deref(), Some("scheduledId=1;result=done"));
        assert_eq!(rows[1].attrs.as_deref(), Some("input=42"));
        let short = short_history(&rows);
        assert_eq!(short[0].name, "-");
        assert_eq!(short[2].event_id, "1");
        assert_eq!(short[1].name, "wf");
        let json = serde_json::to_value(&rows[3]).unwrap();
        assert_eq!(json["type"], "TaskCompleted");
        assert!(json.get("eventId").is_none());
    }

    #[test]
    fn long_payloads_are_cut() {
        let long = format!("\"{}\"", "x".repeat(200));
        let t = trim(Some(&long), 120);
        assert_eq!(t.chars().count(), 121);
        assert!(t.ends_with('…'));
    }
}

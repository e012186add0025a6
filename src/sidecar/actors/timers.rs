//! Actor timers: in memory, per active actor, lost on restart and dropped when the actor is
//! deactivated (upstream's "Actor runtime features: timers"). A timer fires by calling the
//! app's `PUT /actors/{type}/{id}/method/timer/{name}` with `{"callback","data","dueTime",
//! "period"}` in the actor's turn, first at `dueTime` (now when empty), then every `period`
//! counted from the previous scheduled time (not from the end of the callback), until its
//! repetitions (`R<n>/`) are used up or its `ttl` passes. A failing callback does not stop
//! it. Registering a name again replaces the timer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, header};

use super::{ActorCall, ActorRuntime};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::log::{self, scope};
use crate::sidecar::scheduler::timing::{self, Period, sleep_until};

/// A timer as registered (HTTP body or gRPC request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimerRequest {
    pub actor_type: String,
    pub actor_id: String,
    pub name: String,
    pub due_time: String,
    pub period: String,
    pub ttl: String,
    pub callback: String,
    /// The `data` member as JSON text (gRPC bytes arrive JSON-encoded as a base64 string).
    pub data: Option<String>,
}

type TimerKey = (String, String, String);

/// The timers of one sidecar.
#[derive(Default)]
pub(super) struct Timers {
    running: Mutex<HashMap<TimerKey, (u64, tokio::task::AbortHandle)>>,
    generation: AtomicU64,
}

impl Timers {
    fn insert(&self, key: TimerKey, generation: u64, handle: tokio::task::AbortHandle) {
        if let Ok(mut m) = self.running.lock()
            && let Some((_, old)) = m.insert(key, (generation, handle))
        {
            old.abort();
        }
    }

    /// Stops one timer; whether it existed.
    pub(super) fn remove(&self, key: &TimerKey) -> bool {
        let Ok(mut m) = self.running.lock() else {
            return false;
        };
        m.remove(key).map(|(_, h)| h.abort()).is_some()
    }

    /// A timer task that ended by itself leaves the table (unless replaced meanwhile).
    fn finished(&self, key: &TimerKey, generation: u64) {
        if let Ok(mut m) = self.running.lock()
            && m.get(key).is_some_and(|(g, _)| *g == generation)
        {
            m.remove(key);
        }
    }

    /// Stops every timer of one actor (on its deactivation).
    pub(super) fn remove_actor(&self, actor_type: &str, actor_id: &str) {
        if let Ok(mut m) = self.running.lock() {
            m.retain(|(t, i, _), (_, h)| {
                let keep = t != actor_type || i != actor_id;
                if !keep {
                    h.abort();
                }
                keep
            });
        }
    }

    pub(super) fn clear(&self) {
        if let Ok(mut m) = self.running.lock() {
            for (_, (_, h)) in m.drain() {
                h.abort();
            }
        }
    }
}

/// When and how often a timer or reminder fires, read from its strings.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub first: DateTime<Utc>,
    pub period: Option<Period>,
    pub expires: Option<DateTime<Utc>>,
}

/// Reads `dueTime`, `period` and `ttl` (the ttl counts from the due time); an already
/// expired ttl is refused, as upstream does.
pub(super) fn plan(
    name: &str,
    due_time: &str,
    period: &str,
    ttl: &str,
    now: DateTime<Utc>,
) -> Result<Plan, String> {
    let first = if due_time.trim().is_empty() {
        now
    } else {
        timing::parse_time(due_time, now).map_err(|e| format!("invalid dueTime: {e}"))?
    };
    let period = if period.trim().is_empty() {
        None
    } else {
        Some(timing::parse_period(period).map_err(|e| format!("invalid period: {e}"))?)
    };
    let expires = if ttl.trim().is_empty() {
        None
    } else {
        let at = timing::parse_time(ttl, first).map_err(|e| format!("invalid ttl: {e}"))?;
        if at <= now {
            return Err(format!(
                "{name} has already expired: dueTime: {due_time} TTL: {ttl}"
            ));
        }
        Some(at)
    };
    Ok(Plan {
        first,
        period,
        expires,
    })
}

impl ActorRuntime {
    /// Registers (or replaces) a timer of an actor hosted by this sidecar.
    pub async fn create_timer(self: &Arc<Self>, req: TimerRequest) -> Result<(), ApiError> {
        super::check_reserved(&req.actor_type)?;
        super::validate_name("actorType", &req.actor_type)?;
        super::validate_name("actorId", &req.actor_id)?;
        super::validate_name("name", &req.name)?;
        let hosting = self.hosting().await?;
        if !hosting.config.types.contains_key(&req.actor_type) {
            return Err(ApiError::actor_timer_create("actor type not registered"));
        }
        let plan = plan(
            &format!("timer {}", req.name),
            &req.due_time,
            &req.period,
            &req.ttl,
            Utc::now(),
        )
        .map_err(ApiError::actor_timer_create)?;
        let key = (
            req.actor_type.clone(),
            req.actor_id.clone(),
            req.name.clone(),
        );
        let generation = self.timers.generation.fetch_add(1, Ordering::Relaxed);
        let me = Arc::downgrade(self);
        let task_key = key.clone();
        let handle = tokio::spawn(async move {
            run_timer(me.clone(), req, plan).await;
            if let Some(rt) = me.upgrade() {
                rt.timers.finished(&task_key, generation);
            }
        });
        self.timers.insert(key, generation, handle.abort_handle());
        Ok(())
    }

    /// Stops a timer; stopping one that does not exist is not an error (as upstream).
    pub async fn delete_timer(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        super::check_reserved(actor_type)?;
        super::validate_name("actorType", actor_type)?;
        super::validate_name("actorId", actor_id)?;
        super::validate_name("name", name)?;
        self.hosting().await?;
        self.timers
            .remove(&(actor_type.into(), actor_id.into(), name.into()));
        Ok(())
    }
}

async fn run_timer(rt: Weak<ActorRuntime>, req: TimerRequest, plan: Plan) {
    let body = serde_json::json!({
        "callback": req.callback,
        "data": req.data.as_deref().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()),
        "dueTime": req.due_time,
        "period": req.period,
    });
    let body = Bytes::from(body.to_string());
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut at = plan.first;
    let mut fired: u32 = 0;
    loop {
        sleep_until(at).await;
        if plan.expires.is_some_and(|e| at >= e) {
            return;
        }
        let Some(runtime) = rt.upgrade() else { return };
        let call = ActorCall {
            actor_type: req.actor_type.clone(),
            actor_id: req.actor_id.clone(),
            method: format!("timer/{}", req.name),
            query: None,
            headers: headers.clone(),
            body: body.clone(),
        };
        if let Err(e) = runtime.invoke_here(call).await {
            log::warn(
                scope::RUNTIME,
                &format!(
                    "error invoking timer {} on actor {}/{}: {}",
                    req.name,
                    req.actor_type,
                    req.actor_id,
                    super::describe(&e)
                ),
            );
        }
        drop(runtime);
        fired += 1;
        let Some(period) = plan.period else { return };
        if period.repeats.is_some_and(|n| fired >= n) {
            return;
        }
        match period.every.add_to(at) {
            Some(next) if next > at => at = next,
            // A zero period would spin: fire once only.
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_read_due_period_and_ttl() {
        let now = Utc::now();
        let p = plan("t", "", "R3/PT1S", "", now).unwrap();
        assert_eq!(p.first, now);
        assert_eq!(p.period.unwrap().repeats, Some(3));
        let p = plan("t", "2s", "1s", "10s", now).unwrap();
        assert_eq!(p.first, now + chrono::TimeDelta::seconds(2));
        assert_eq!(p.expires, Some(now + chrono::TimeDelta::seconds(12)));
        assert!(
            plan("t", "", "", "-1s", now)
                .unwrap_err()
                .contains("already expired")
        );
        assert!(
            plan("t", "soon", "", "", now)
                .unwrap_err()
                .contains("dueTime")
        );
        assert!(
            plan("t", "", "R0/PT1S", "", now)
                .unwrap_err()
                .contains("period")
        );
    }
}

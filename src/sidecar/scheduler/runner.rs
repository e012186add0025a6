//! The trigger loop of one sidecar: find due triggers this sidecar may deliver, claim each
//! with a compare-and-swap (a lease, renewed while delivering), deliver it, then record the
//! outcome: the next trigger, a retry under the failure policy, or the end of the job.
//!
//! The loop sleeps until the earliest time it knows of, at most [`POLL`], or until woken
//! (a job written here, actor types or the reminder target changed): other sidecars write
//! to the same table, so it looks again at least that often.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

use super::plan::following;
use super::store::{Eligible, Row};
use super::{Deliver, Delivered, FailurePolicy, Inner, JobOwner, Trigger};
use crate::sidecar::log;

/// The log scope of the scheduler's lines.
const SCOPE: &str = "dapr.runtime.scheduler";

/// The longest the loop sleeps without looking at the table.
const POLL: Duration = Duration::from_millis(100);
/// How long a claim holds a trigger; renewed every third of it while the delivery runs.
const LEASE: Duration = Duration::from_secs(30);
/// Rows taken per look.
const BATCH: u32 = 64;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The triggers this sidecar is delivering: key and claim token.
type InFlight = Arc<Mutex<HashMap<String, i64>>>;

impl Inner {
    fn eligible(&self, app: &dyn Deliver) -> Eligible {
        let reminders_ready = self
            .reminders
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        Eligible {
            namespace: self.namespace.clone(),
            app_id: app.available().then(|| self.app_id.clone()),
            actor_types: if reminders_ready {
                self.actor_types
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
            } else {
                Vec::new()
            },
        }
    }

    fn target(&self, owner: &JobOwner, app: &Arc<dyn Deliver>) -> Option<Arc<dyn Deliver>> {
        match owner {
            JobOwner::App => Some(app.clone()),
            JobOwner::ActorReminder { .. } => self
                .reminders
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

pub(super) async fn run(inner: Arc<Inner>, app: Arc<dyn Deliver>) {
    let mut stop = inner.stop.subscribe();
    // Open the table now: metadata reports the scheduler, and a file that cannot be used
    // is said at start-up rather than at the first job.
    match inner.store.call(|_| ()).await {
        Ok(()) => log::info(
            SCOPE,
            &format!(
                "scheduler running in-process: {}",
                inner.store.address().unwrap_or_default()
            ),
        ),
        Err(e) => log::warn(SCOPE, &format!("scheduler: {e}")),
    }
    let in_flight: InFlight = Arc::default();
    let mut deliveries = JoinSet::new();
    let mut failing = false;
    loop {
        if stop.borrow().is_some() {
            break;
        }
        while deliveries.try_join_next().is_some() {}
        let who = inner.eligible(app.as_ref());
        let mut wait = POLL;
        if !who.is_empty() {
            let now = now_ms();
            match inner.store.call(move |db| db.due(&who, now, BATCH)).await {
                Ok(Ok((rows, nearest))) => {
                    failing = false;
                    for row in rows {
                        if in_flight
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .contains_key(&row.key)
                        {
                            continue;
                        }
                        claim(&inner, &app, &in_flight, &mut deliveries, row).await;
                    }
                    if let Some(n) = nearest {
                        let until = u64::try_from(n - now_ms()).unwrap_or(0);
                        wait = wait.min(Duration::from_millis(until));
                    }
                }
                Ok(Err(e)) | Err(e) => {
                    // Warn once per outage, not on every look.
                    if !failing {
                        log::warn(SCOPE, &format!("reading due jobs failed: {e}"));
                    }
                    failing = true;
                    wait = Duration::from_secs(1);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = inner.wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
    let grace = stop.borrow().unwrap_or_default();
    if tokio::time::timeout(grace, async {
        while deliveries.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        // Unfinished deliveries: their triggers are released to be fired again (by another
        // sidecar, or on the next start) rather than waiting for the lease to run out.
        deliveries.abort_all();
        let keys: Vec<(String, i64)> = in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        let n = keys.len();
        let _ = inner
            .store
            .call(move |db| {
                let now = now_ms();
                for (key, token) in keys {
                    let _ = db.renew(&key, token, now);
                }
            })
            .await;
        log::warn(
            SCOPE,
            &format!(
                "{} job deliveries did not finish within {}s; their triggers fire again later",
                n,
                grace.as_secs()
            ),
        );
    }
}

/// Claims `row`'s pending trigger; on success, delivers it in the background.
async fn claim(
    inner: &Arc<Inner>,
    app: &Arc<dyn Deliver>,
    in_flight: &InFlight,
    deliveries: &mut JoinSet<()>,
    row: Row,
) {
    // An expired trigger is not delivered: the job is over.
    if row.expiry_ms.is_some_and(|e| row.due_ms > e) {
        let (key, token) = (row.key.clone(), row.token);
        let _ = inner
            .store
            .call(move |db| db.complete(&key, token, row.triggered, None))
            .await;
        return;
    }
    let Some(target) = inner.target(&row.owner, app) else {
        return;
    };
    let lease = now_ms() + ms(LEASE);
    let probe = row.clone();
    let token = match inner.store.call(move |db| db.claim(&probe, lease)).await {
        Ok(Ok(Some(t))) => t,
        // Another sidecar took it, or the row changed: nothing to do.
        Ok(Ok(None)) => return,
        Ok(Err(e)) | Err(e) => {
            log::warn(SCOPE, &format!("claiming job {} failed: {e}", row.name));
            return;
        }
    };
    in_flight
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(row.key.clone(), token);
    let inner = inner.clone();
    let in_flight = in_flight.clone();
    deliveries.spawn(async move {
        let key = row.key.clone();
        fire(&inner, target, row, token).await;
        in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    });
}

/// Delivers one claimed trigger and records the outcome.
async fn fire(inner: &Arc<Inner>, target: Arc<dyn Deliver>, row: Row, token: i64) {
    let trigger = Trigger {
        owner: row.owner.clone(),
        name: row.name.clone(),
        data: row.spec.data.clone(),
        spec: row.spec.clone(),
    };
    let delivery = target.deliver(trigger);
    tokio::pin!(delivery);
    let mut renew = tokio::time::interval(LEASE / 3);
    renew.tick().await;
    let outcome = loop {
        tokio::select! {
            d = &mut delivery => break d,
            _ = renew.tick() => {
                let (key, lease) = (row.key.clone(), now_ms() + ms(LEASE));
                let _ = inner.store.call(move |db| db.renew(&key, token, lease)).await;
            }
        }
    };
    let now = now_ms();
    let retry = match (&outcome, row.spec.failure_policy) {
        (Delivered::Success, _) => None,
        (Delivered::Failed(_), Some(FailurePolicy::Drop)) => None,
        (
            Delivered::Failed(_),
            Some(FailurePolicy::Constant {
                interval,
                max_retries,
            }),
        ) => max_retries
            .is_none_or(|m| row.attempt < m)
            .then(|| now.saturating_add(ms(interval))),
        (Delivered::Failed(_), None) => None,
    };
    if let Delivered::Failed(why) = &outcome {
        let what = match retry {
            Some(_) => format!("retrying (attempt {})", row.attempt + 1),
            None => "giving up on this trigger".to_string(),
        };
        log::warn(
            SCOPE,
            &format!("delivering job {} failed: {why}; {what}", row.name),
        );
    }
    let key = row.key.clone();
    let result = match retry {
        Some(at) => {
            let attempt = row.attempt + 1;
            inner
                .store
                .call(move |db| db.retry_at(&key, token, attempt, at))
                .await
        }
        None => {
            let triggered = row.triggered.saturating_add(1);
            let next = following(&row.spec, triggered, row.due_ms, row.expiry_ms, now);
            inner
                .store
                .call(move |db| db.complete(&key, token, triggered, next))
                .await
        }
    };
    match result {
        Ok(Ok(_)) => {}
        Ok(Err(e)) | Err(e) => log::warn(
            SCOPE,
            &format!("recording the trigger of job {} failed: {e}", row.name),
        ),
    }
    inner.wake.notify_one();
}

//! Actor reminders: durable, kept by the in-process scheduler ([`crate::sidecar::scheduler`])
//! as jobs owned by `(type, id)`, the way upstream keeps them in its Scheduler service
//! (≥ 1.15): a reminder's period becomes the schedule `@every <Go duration>` with `R<n>/`
//! as its repeats (calendar periods — years, months, days — are refused, as upstream
//! does), `dueTime` and `ttl` are kept as given, `data` as a `BytesValue` of its JSON.
//!
//! The scheduler file is shared by the sidecars of the machine, so a reminder outlives the
//! sidecar that registered it and each trigger is taken by exactly one sidecar hosting the
//! type; that sidecar calls the actor through placement (forwarding it to the id's owner),
//! `PUT /actors/{type}/{id}/method/remind/{name}` with `{"data","dueTime":"","period":""}`
//! (upstream leaves the times empty for scheduler-fired reminders), in the actor's turn. A
//! failed call is retried per the reminder's failure policy (default: every 1 s, 3 times).

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use prost::Message;

use super::{ActorCall, ActorRuntime, CallError, Phase};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::log::{self, scope};
use crate::sidecar::scheduler::timing::{self, go_duration_string};
use crate::sidecar::scheduler::{
    Deliver, Delivered, FailurePolicy, JobData, JobOwner, JobSpec, Scheduler, SchedulerError,
    StoredJob, Trigger,
};

/// The type URL of reminder data (a `google.protobuf.BytesValue` holding the JSON).
pub const BYTES_VALUE: &str = "type.googleapis.com/google.protobuf.BytesValue";

/// Set by an app on a reminder reply to cancel the reminder.
const REMINDER_CANCEL: &str = "x-daprremindercancel";

/// A reminder as registered (HTTP body or gRPC request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReminderRequest {
    pub actor_type: String,
    pub actor_id: String,
    pub name: String,
    pub due_time: String,
    pub period: String,
    pub ttl: String,
    /// The `data` member as JSON text (gRPC bytes arrive JSON-encoded as a base64 string).
    pub data: Option<String>,
    /// `None` means overwrite (upstream's default for reminders).
    pub overwrite: Option<bool>,
    pub failure_policy: Option<FailurePolicy>,
}

/// A reminder read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reminder {
    pub actor_type: String,
    pub actor_id: String,
    pub name: String,
    pub due_time: Option<String>,
    /// In schedule form: `@every 1s`.
    pub period: Option<String>,
    /// Only when it was registered as an absolute RFC 3339 time (as upstream).
    pub ttl: Option<String>,
    /// JSON text.
    pub data: Option<String>,
}

impl Reminder {
    fn from_job(job: StoredJob) -> Option<Reminder> {
        let JobOwner::ActorReminder {
            actor_type,
            actor_id,
        } = job.owner
        else {
            return None;
        };
        Some(Reminder {
            actor_type,
            actor_id,
            name: job.name,
            due_time: job.spec.due_time,
            period: job.spec.schedule,
            ttl: job
                .spec
                .ttl
                .filter(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
            data: job.spec.data.as_ref().and_then(data_json),
        })
    }
}

/// The JSON text inside reminder data.
fn data_json(d: &JobData) -> Option<String> {
    let bytes = if d.type_url == BYTES_VALUE {
        Vec::<u8>::decode(d.value.as_slice()).ok()?
    } else {
        d.value.clone()
    };
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// The job a reminder is kept as.
fn job_spec(req: &ReminderRequest) -> Result<JobSpec, String> {
    let (schedule, repeats) = if req.period.trim().is_empty() {
        (None, None)
    } else {
        let period = timing::parse_period(&req.period)?;
        let every = period.every.as_fixed().ok_or_else(|| {
            format!(
                "period {:?} has years, months or days, which reminders do not support",
                req.period
            )
        })?;
        if every.is_zero() {
            return Err(format!("period {:?} must be longer than zero", req.period));
        }
        (
            Some(format!("@every {}", go_duration_string(every))),
            period.repeats,
        )
    };
    let due_time = match req.due_time.trim() {
        // A one-shot reminder without a due time fires now.
        "" if schedule.is_none() => Some("0s".to_string()),
        "" => None,
        t => Some(t.to_string()),
    };
    Ok(JobSpec {
        schedule,
        repeats,
        due_time,
        ttl: Some(req.ttl.trim().to_string()).filter(|t| !t.is_empty()),
        data: req.data.as_ref().map(|d| JobData {
            type_url: BYTES_VALUE.into(),
            value: d.as_bytes().to_vec().encode_to_vec(),
        }),
        failure_policy: req.failure_policy,
    })
}

impl ActorRuntime {
    /// Reminders are kept by `scheduler`, which sends their triggers back here.
    pub fn set_scheduler(self: &Arc<Self>, scheduler: Scheduler) {
        scheduler.set_reminder_target(Arc::new(ReminderTarget(Arc::downgrade(self))));
        let _ = self.scheduler.set(scheduler);
    }

    /// The scheduler, after checking that `actor_type` may have reminders here.
    async fn reminders_for(&self, actor_type: &str) -> Result<&Scheduler, ApiError> {
        super::check_reserved(actor_type)?;
        super::validate_name("actorType", actor_type)?;
        let hosting = self.hosting().await?;
        if !hosting.config.types.contains_key(actor_type) {
            return Err(ApiError::actor_reminder_non_hosted());
        }
        self.scheduler
            .get()
            .ok_or_else(|| ApiError::actor_reminder_create("the scheduler is not running"))
    }

    pub async fn create_reminder(&self, req: ReminderRequest) -> Result<(), ApiError> {
        let scheduler = self.reminders_for(&req.actor_type).await?;
        super::validate_name("actorId", &req.actor_id)?;
        super::validate_name("name", &req.name)?;
        let spec = job_spec(&req).map_err(ApiError::actor_reminder_create)?;
        let owner = JobOwner::ActorReminder {
            actor_type: req.actor_type.clone(),
            actor_id: req.actor_id.clone(),
        };
        match scheduler
            .schedule(owner, &req.name, spec, req.overwrite.unwrap_or(true))
            .await
        {
            Ok(()) => Ok(()),
            Err(SchedulerError::AlreadyExists) => Err(ApiError::actor_reminder_exists(&req.name)),
            Err(e) => Err(ApiError::actor_reminder_create(e)),
        }
    }

    pub async fn get_reminder(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
    ) -> Result<Reminder, ApiError> {
        let scheduler = self.reminders_for(actor_type).await?;
        super::validate_name("actorId", actor_id)?;
        super::validate_name("name", name)?;
        let owner = JobOwner::ActorReminder {
            actor_type: actor_type.into(),
            actor_id: actor_id.into(),
        };
        match scheduler.get(&owner, name).await {
            Ok(Some(job)) => {
                Reminder::from_job(job).ok_or_else(|| ApiError::actor_reminder_not_found(name))
            }
            Ok(None) | Err(SchedulerError::NotFound) => {
                Err(ApiError::actor_reminder_not_found(name))
            }
            Err(e) => Err(ApiError::actor_reminder_get(e)),
        }
    }

    /// Deleting a reminder that does not exist is not an error (as upstream).
    pub async fn delete_reminder(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let scheduler = self.reminders_for(actor_type).await?;
        super::validate_name("actorId", actor_id)?;
        super::validate_name("name", name)?;
        let owner = JobOwner::ActorReminder {
            actor_type: actor_type.into(),
            actor_id: actor_id.into(),
        };
        match scheduler.delete(&owner, name).await {
            Ok(_) | Err(SchedulerError::NotFound) => Ok(()),
            Err(e) => Err(ApiError::actor_reminder_delete(e)),
        }
    }

    /// The reminders of a type (of one id when given).
    pub async fn list_reminders(
        &self,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<Vec<Reminder>, ApiError> {
        let scheduler = self.reminders_for(actor_type).await?;
        let jobs = scheduler
            .list_reminders(actor_type, actor_id)
            .await
            .map_err(ApiError::actor_reminder_get)?;
        Ok(jobs.into_iter().filter_map(Reminder::from_job).collect())
    }

    /// Deletes the reminders of a type (of one id when given).
    pub async fn delete_reminders(
        &self,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<(), ApiError> {
        let scheduler = self.reminders_for(actor_type).await?;
        scheduler
            .delete_reminders(actor_type, actor_id)
            .await
            .map(|_| ())
            .map_err(ApiError::actor_reminder_delete)
    }
}

/// Receives reminder triggers from the scheduler and calls the actor.
struct ReminderTarget(Weak<ActorRuntime>);

#[async_trait]
impl Deliver for ReminderTarget {
    async fn deliver(&self, trigger: Trigger) -> Delivered {
        let Some(rt) = self.0.upgrade() else {
            return Delivered::Failed("the actor runtime is gone".into());
        };
        let JobOwner::ActorReminder {
            actor_type,
            actor_id,
        } = trigger.owner
        else {
            return Delivered::Failed("not a reminder".into());
        };
        let mut body = serde_json::Map::new();
        if let Some(data) = trigger.data.as_ref().and_then(data_json) {
            let value = serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data));
            body.insert("data".into(), value);
        }
        body.insert("dueTime".into(), "".into());
        body.insert("period".into(), "".into());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let call = ActorCall {
            actor_type: actor_type.clone(),
            actor_id: actor_id.clone(),
            method: format!("remind/{}", trigger.name),
            query: None,
            headers,
            body: Bytes::from(serde_json::Value::Object(body).to_string()),
        };
        match rt.invoke(call).await {
            Ok(reply) => {
                let cancel = reply
                    .headers
                    .get(REMINDER_CANCEL)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                if cancel && let Some(s) = rt.scheduler.get() {
                    let owner = JobOwner::ActorReminder {
                        actor_type,
                        actor_id,
                    };
                    if let Err(e) = s.delete(&owner, &trigger.name).await {
                        log::warn(
                            scope::RUNTIME,
                            &format!("cannot cancel reminder {}: {e}", trigger.name),
                        );
                    }
                }
                Delivered::Success
            }
            Err(e @ CallError::Api(_)) | Err(e @ CallError::App(_)) => {
                Delivered::Failed(super::describe(&e))
            }
        }
    }

    fn available(&self) -> bool {
        self.0
            .upgrade()
            .is_some_and(|rt| matches!(*rt.phase.borrow(), Phase::Running(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(due: &str, period: &str) -> ReminderRequest {
        ReminderRequest {
            due_time: due.into(),
            period: period.into(),
            ..Default::default()
        }
    }

    #[test]
    fn periods_become_every_schedules_with_repeats() {
        let s = job_spec(&req("", "R5/PT1M30S")).unwrap();
        assert_eq!(s.schedule.as_deref(), Some("@every 1m30s"));
        assert_eq!(s.repeats, Some(5));
        assert_eq!(s.due_time, None);
        let s = job_spec(&req("2s", "1s")).unwrap();
        assert_eq!(s.schedule.as_deref(), Some("@every 1s"));
        assert_eq!(s.due_time.as_deref(), Some("2s"));
        let s = job_spec(&req("", "")).unwrap();
        assert_eq!((s.schedule, s.due_time.as_deref()), (None, Some("0s")));
        assert!(job_spec(&req("", "P1D")).unwrap_err().contains("days"));
        assert!(job_spec(&req("", "R0/PT1S")).is_err());
        assert!(job_spec(&req("", "0s")).is_err());
    }

    #[test]
    fn data_is_kept_as_bytes_value_of_its_json() {
        let mut r = req("1s", "");
        r.data = Some(r#"{"a":1}"#.into());
        let d = job_spec(&r).unwrap().data.unwrap();
        assert_eq!(d.type_url, BYTES_VALUE);
        assert_eq!(data_json(&d).as_deref(), Some(r#"{"a":1}"#));
    }
}

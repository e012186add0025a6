//! Jobs: schedule, get, delete, delete by name prefix and list this app's jobs, over the
//! in-process [`Scheduler`]. Checks and errors as upstream's `pkg/api/universal/jobs.go`:
//! the job's name (not empty, no `|`), a schedule or a due time, then whatever the
//! scheduler refuses (`DAPR_SCHEDULER_SCHEDULE_JOB`, 409 when the name exists and
//! `overwrite` is false). Deleting a job that does not exist succeeds; getting one is
//! `DAPR_SCHEDULER_GET_JOB`.

use crate::sidecar::api::error::ApiError;
use crate::sidecar::scheduler::{
    FailurePolicy, JobData, JobOwner, JobSpec, Scheduler, SchedulerError, StoredJob,
};

/// `runtime.v1.Job`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Job {
    pub name: String,
    pub schedule: Option<String>,
    pub repeats: Option<u32>,
    pub due_time: Option<String>,
    pub ttl: Option<String>,
    pub data: Option<JobData>,
    pub failure_policy: Option<FailurePolicy>,
}

impl From<StoredJob> for Job {
    fn from(j: StoredJob) -> Job {
        Job {
            name: j.name,
            schedule: j.spec.schedule,
            repeats: j.spec.repeats,
            due_time: j.spec.due_time,
            ttl: j.spec.ttl,
            data: j.spec.data,
            failure_policy: j.spec.failure_policy,
        }
    }
}

pub struct JobsApi {
    scheduler: Scheduler,
}

impl JobsApi {
    pub fn new(scheduler: Scheduler) -> JobsApi {
        JobsApi { scheduler }
    }

    /// The scheduler, shared with the actor runtime (reminders) and the start-up code.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    fn ids(&self) -> (&str, &str) {
        (self.scheduler.app_id(), self.scheduler.namespace())
    }

    fn check_name(&self, name: &str) -> Result<(), ApiError> {
        let (app, ns) = self.ids();
        if name.is_empty() || name.contains('|') {
            return Err(ApiError::scheduler_job_name_empty(app, ns));
        }
        Ok(())
    }

    /// `ScheduleJob`; `job` is `None` when the request carried none.
    pub async fn schedule(&self, job: Option<Job>, overwrite: bool) -> Result<(), ApiError> {
        let (app, ns) = self.ids();
        let job = job.ok_or_else(|| ApiError::scheduler_empty(app, ns))?;
        self.check_name(&job.name)?;
        if job.schedule.is_none() && job.due_time.is_none() {
            return Err(ApiError::scheduler_schedule_empty(app, ns));
        }
        let spec = JobSpec {
            schedule: job.schedule,
            repeats: job.repeats,
            due_time: job.due_time,
            ttl: job.ttl,
            data: job.data,
            failure_policy: job.failure_policy,
        };
        self.scheduler
            .schedule(JobOwner::App, &job.name, spec, overwrite)
            .await
            .map_err(|e| match e {
                SchedulerError::AlreadyExists => ApiError::scheduler_schedule_job(
                    app,
                    ns,
                    true,
                    format!("job {} already exists", job.name),
                ),
                SchedulerError::Invalid(why) => ApiError::scheduler_schedule_job(
                    app,
                    ns,
                    false,
                    format!("job failed validation: {why}"),
                ),
                other => ApiError::scheduler_schedule_job(app, ns, false, other),
            })
    }

    pub async fn get(&self, name: &str) -> Result<Job, ApiError> {
        self.check_name_for_read(name)?;
        let (app, ns) = self.ids();
        match self.scheduler.get(&JobOwner::App, name).await {
            Ok(Some(j)) => Ok(j.into()),
            Ok(None) => Err(ApiError::scheduler_get_job(
                app,
                ns,
                format!("job not found: {name}"),
            )),
            Err(e) => Err(ApiError::scheduler_get_job(app, ns, e)),
        }
    }

    /// Deletes a job; one that does not exist is not an error.
    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        self.check_name_for_read(name)?;
        let (app, ns) = self.ids();
        self.scheduler
            .delete(&JobOwner::App, name)
            .await
            .map(|_| ())
            .map_err(|e| ApiError::scheduler_delete_job(app, ns, e))
    }

    /// Deletes the jobs whose name starts with `prefix` (all of them without one).
    pub async fn delete_by_prefix(&self, prefix: Option<&str>) -> Result<(), ApiError> {
        let (app, ns) = self.ids();
        self.scheduler
            .delete_jobs_by_prefix(prefix.unwrap_or(""))
            .await
            .map(|_| ())
            .map_err(|e| ApiError::scheduler_delete_job(app, ns, e))
    }

    pub async fn list(&self) -> Result<Vec<Job>, ApiError> {
        let (app, ns) = self.ids();
        self.scheduler
            .list_jobs()
            .await
            .map(|jobs| jobs.into_iter().map(Job::from).collect())
            .map_err(|e| ApiError::scheduler_list_jobs(app, ns, e))
    }

    /// Get and delete check only that the name is there, as upstream.
    fn check_name_for_read(&self, name: &str) -> Result<(), ApiError> {
        if name.is_empty() {
            let (app, ns) = self.ids();
            return Err(ApiError::scheduler_job_name_empty(app, ns));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sidecar::api::error::ErrorKind;

    fn api() -> JobsApi {
        JobsApi::new(Scheduler::in_memory("default", "app1"))
    }

    fn job(name: &str) -> Job {
        Job {
            name: name.into(),
            schedule: Some("@daily".into()),
            ..Job::default()
        }
    }

    #[tokio::test]
    async fn errors_as_upstream() {
        let a = api();
        let kind = |r: Result<(), ApiError>| r.unwrap_err().kind;
        assert_eq!(
            kind(a.schedule(None, false).await),
            ErrorKind::SchedulerEmpty
        );
        assert_eq!(
            kind(a.schedule(Some(job("")), false).await),
            ErrorKind::SchedulerJobNameEmpty
        );
        assert_eq!(
            kind(a.schedule(Some(job("a|b")), false).await),
            ErrorKind::SchedulerJobNameEmpty
        );
        let none = Job {
            schedule: None,
            ..job("j")
        };
        assert_eq!(
            kind(a.schedule(Some(none), false).await),
            ErrorKind::SchedulerScheduleEmpty
        );
        let bad = Job {
            repeats: Some(0),
            ..job("j")
        };
        let e = a.schedule(Some(bad), false).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::SchedulerScheduleJob);
        assert!(e.message.contains("repeats must be greater than 0"), "{e}");
        assert_eq!(
            e.metadata,
            [
                ("appID", "app1".to_string()),
                ("namespace", "default".to_string())
            ]
        );
        a.schedule(Some(job("j")), false).await.unwrap();
        let e = a.schedule(Some(job("j")), false).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::SchedulerJobExists);
        assert_eq!(e.status(), http::StatusCode::CONFLICT);
        a.schedule(Some(job("j")), true).await.unwrap();
        let got = a.get("j").await.unwrap();
        assert_eq!(got.schedule.as_deref(), Some("@daily"));
        // Stored with the default failure policy, as upstream returns it.
        assert_eq!(got.failure_policy, Some(FailurePolicy::DEFAULT));
        assert_eq!(a.list().await.unwrap().len(), 1);
        a.delete("j").await.unwrap();
        a.delete("j").await.unwrap();
        let e = a.get("j").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::SchedulerGetJob);
        assert_eq!(e.message, "failed to get job due to: job not found: j");
        assert_eq!(kind(a.delete("").await), ErrorKind::SchedulerJobNameEmpty);
    }
}

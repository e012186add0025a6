//! Jobs: `ScheduleJob`, `GetJob`, `DeleteJob`, `DeleteJobsByPrefix`, `ListJobs` and their
//! `*Alpha1` twins, decoded into the universal [`Job`] and back.

use std::time::Duration;

use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use tonic::Status;

use crate::sidecar::api::universal::Api;
use crate::sidecar::api::universal::jobs::Job;
use crate::sidecar::scheduler::{FailurePolicy, JobData};

use common::job_failure_policy::Policy;

fn duration(d: Option<prost_types::Duration>) -> Duration {
    d.map(|d| {
        Duration::new(
            u64::try_from(d.seconds).unwrap_or(0),
            u32::try_from(d.nanos).unwrap_or(0),
        )
    })
    .unwrap_or_default()
}

/// Also read for actor reminders.
pub(super) fn policy(p: Option<common::JobFailurePolicy>) -> Option<FailurePolicy> {
    match p?.policy? {
        Policy::Drop(_) => Some(FailurePolicy::Drop),
        Policy::Constant(c) => Some(FailurePolicy::Constant {
            interval: duration(c.interval),
            max_retries: c.max_retries,
        }),
    }
}

fn policy_pb(p: Option<FailurePolicy>) -> Option<common::JobFailurePolicy> {
    let policy = match p? {
        FailurePolicy::Drop => Policy::Drop(common::JobFailurePolicyDrop {}),
        FailurePolicy::Constant {
            interval,
            max_retries,
        } => Policy::Constant(common::JobFailurePolicyConstant {
            interval: Some(prost_types::Duration {
                seconds: i64::try_from(interval.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(interval.subsec_nanos()).unwrap_or(0),
            }),
            max_retries,
        }),
    };
    Some(common::JobFailurePolicy {
        policy: Some(policy),
    })
}

fn job(j: pb::Job) -> Job {
    Job {
        name: j.name,
        schedule: j.schedule,
        repeats: j.repeats,
        due_time: j.due_time,
        ttl: j.ttl,
        // The Python SDK always sends an `Any`, empty when there is no data.
        data: j
            .data
            .filter(|a| !(a.type_url.is_empty() && a.value.is_empty()))
            .map(|a| JobData {
                type_url: a.type_url,
                value: a.value,
            }),
        failure_policy: policy(j.failure_policy),
    }
}

fn job_pb(j: Job) -> pb::Job {
    pb::Job {
        name: j.name,
        schedule: j.schedule,
        repeats: j.repeats,
        due_time: j.due_time,
        ttl: j.ttl,
        data: j.data.map(|d| prost_types::Any {
            type_url: d.type_url,
            value: d.value,
        }),
        failure_policy: policy_pb(j.failure_policy),
    }
}

pub async fn schedule(
    api: &Api,
    r: pb::ScheduleJobRequest,
) -> Result<pb::ScheduleJobResponse, Status> {
    api.jobs.schedule(r.job.map(job), r.overwrite).await?;
    Ok(pb::ScheduleJobResponse {})
}

pub async fn get(api: &Api, r: pb::GetJobRequest) -> Result<pb::GetJobResponse, Status> {
    let j = api.jobs.get(&r.name).await?;
    Ok(pb::GetJobResponse {
        job: Some(job_pb(j)),
    })
}

pub async fn delete(api: &Api, r: pb::DeleteJobRequest) -> Result<pb::DeleteJobResponse, Status> {
    api.jobs.delete(&r.name).await?;
    Ok(pb::DeleteJobResponse {})
}

pub async fn delete_by_prefix(api: &Api, prefix: Option<String>) -> Result<(), Status> {
    api.jobs.delete_by_prefix(prefix.as_deref()).await?;
    Ok(())
}

pub async fn list(api: &Api) -> Result<Vec<pb::Job>, Status> {
    Ok(api.jobs.list().await?.into_iter().map(job_pb).collect())
}

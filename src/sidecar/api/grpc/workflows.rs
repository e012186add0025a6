//! Workflows: `StartWorkflow`, `GetWorkflow`, `TerminateWorkflow`, `RaiseEventWorkflow`,
//! `PauseWorkflow`, `ResumeWorkflow`, `PurgeWorkflow`, served as both `*Beta1` and
//! `*Alpha1`. As upstream, getting an instance that does not exist is not an error: the
//! answer carries only the instance id.
//!
//! The `app_id` field of newer protos is not in the messages this daprd is built with; it
//! is skipped as an unknown field (calls always address this app's workflows).

use dapr::dapr::proto::runtime::v1 as pb;
use tonic::Status;

use crate::sidecar::api::universal::Api;
use crate::sidecar::api::universal::workflows::{StartRequest, Workflow};
use crate::sidecar::workflows::state::timestamp;

fn encode(w: Workflow) -> pb::GetWorkflowResponse {
    pb::GetWorkflowResponse {
        instance_id: w.instance_id,
        workflow_name: w.workflow_name,
        created_at: Some(timestamp(w.created_at)),
        last_updated_at: Some(timestamp(w.last_updated_at)),
        runtime_status: w.runtime_status.to_string(),
        properties: w.properties.into_iter().collect(),
    }
}

pub async fn start(
    api: &Api,
    r: pb::StartWorkflowRequest,
) -> Result<pb::StartWorkflowResponse, Status> {
    let req = StartRequest {
        instance_id: r.instance_id,
        workflow_name: r.workflow_name,
        input: r.input,
        options: r.options,
        app_id: None,
    };
    let instance_id = api.workflows().start(req).await?;
    Ok(pb::StartWorkflowResponse { instance_id })
}

pub async fn get(api: &Api, r: pb::GetWorkflowRequest) -> Result<pb::GetWorkflowResponse, Status> {
    Ok(match api.workflows().get(&r.instance_id, None).await? {
        Some(w) => encode(w),
        None => pb::GetWorkflowResponse {
            instance_id: r.instance_id,
            ..Default::default()
        },
    })
}

pub async fn terminate(api: &Api, r: pb::TerminateWorkflowRequest) -> Result<(), Status> {
    Ok(api.workflows().terminate(&r.instance_id, None).await?)
}

pub async fn raise_event(api: &Api, r: pb::RaiseEventWorkflowRequest) -> Result<(), Status> {
    Ok(api
        .workflows()
        .raise_event(&r.instance_id, &r.event_name, r.event_data, None)
        .await?)
}

pub async fn pause(api: &Api, r: pb::PauseWorkflowRequest) -> Result<(), Status> {
    Ok(api.workflows().pause(&r.instance_id, None).await?)
}

pub async fn resume(api: &Api, r: pb::ResumeWorkflowRequest) -> Result<(), Status> {
    Ok(api.workflows().resume(&r.instance_id, None).await?)
}

pub async fn purge(api: &Api, r: pb::PurgeWorkflowRequest) -> Result<(), Status> {
    Ok(api.workflows().purge(&r.instance_id, None).await?)
}

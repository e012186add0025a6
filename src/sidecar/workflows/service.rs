//! `TaskHubSidecarService` on daprd's gRPC port: decodes each RPC for the [`Engine`] and
//! encodes its answer. Errors carry the texts the SDKs look for (`no such instance
//! exists`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::proto::{self, task_hub_sidecar_service_server::TaskHubSidecarService};
use super::state::from_timestamp;
use super::{Engine, WfError};

pub use super::proto::task_hub_sidecar_service_server::TaskHubSidecarServiceServer;

pub struct TaskHub {
    engine: Arc<Engine>,
}

impl TaskHub {
    pub fn server(engine: Arc<Engine>) -> TaskHubSidecarServiceServer<TaskHub> {
        TaskHubSidecarServiceServer::new(TaskHub { engine })
    }
}

impl From<WfError> for Status {
    fn from(e: WfError) -> Status {
        match e {
            WfError::NotFound => Status::not_found(e.to_string()),
            WfError::AlreadyExists(m) => Status::already_exists(m),
            WfError::Invalid(m) => Status::invalid_argument(m),
            WfError::NotCompleted => Status::failed_precondition(e.to_string()),
            WfError::Internal(m) => Status::internal(m),
        }
    }
}

/// The work stream of one worker; closing it gives its unanswered work back.
pub struct WorkStream {
    rx: mpsc::UnboundedReceiver<Result<proto::WorkItem, Status>>,
    engine: Arc<Engine>,
    id: u64,
}

impl Stream for WorkStream {
    type Item = Result<proto::WorkItem, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for WorkStream {
    fn drop(&mut self) {
        self.engine.disconnect(self.id);
    }
}

/// A caller's deadline (`grpc-timeout`), else a day: waits end when the client gives up.
fn deadline<T>(r: &Request<T>) -> Duration {
    r.metadata()
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (n, unit) = v.split_at(v.len().checked_sub(1)?);
            let n: u64 = n.parse().ok()?;
            Some(match unit {
                "H" => Duration::from_secs(n * 3600),
                "M" => Duration::from_secs(n * 60),
                "S" => Duration::from_secs(n),
                "m" => Duration::from_millis(n),
                "u" => Duration::from_micros(n),
                _ => Duration::from_nanos(n),
            })
        })
        .unwrap_or(Duration::from_secs(86_400))
}

impl TaskHub {
    async fn instance(
        &self,
        id: &str,
        with_payloads: bool,
    ) -> Result<proto::GetInstanceResponse, Status> {
        Ok(match self.engine.workflow_state(id, with_payloads).await? {
            None => proto::GetInstanceResponse::default(),
            Some(s) => proto::GetInstanceResponse {
                exists: true,
                workflow_state: Some(s),
            },
        })
    }

    async fn wait(
        &self,
        r: Request<proto::GetInstanceRequest>,
        done: impl Fn(&super::InstanceInfo) -> bool,
    ) -> Result<Response<proto::GetInstanceResponse>, Status> {
        let limit = deadline(&r);
        let r = r.into_inner();
        self.engine.wait_for(&r.instance_id, limit, done).await?;
        Ok(Response::new(
            self.instance(&r.instance_id, r.get_inputs_and_outputs)
                .await?,
        ))
    }
}

#[tonic::async_trait]
impl TaskHubSidecarService for TaskHub {
    async fn hello(&self, _r: Request<()>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    async fn start_instance(
        &self,
        r: Request<proto::CreateInstanceRequest>,
    ) -> Result<Response<proto::CreateInstanceResponse>, Status> {
        let r = r.into_inner();
        if r.name.is_empty() {
            return Err(Status::invalid_argument("a workflow name is required"));
        }
        let id = if r.instance_id.is_empty() {
            uuid::Uuid::new_v4().simple().to_string()
        } else {
            r.instance_id
        };
        let start_at = r
            .scheduled_start_timestamp
            .as_ref()
            .and_then(from_timestamp)
            .filter(|t| *t > Utc::now());
        self.engine.start(&r.name, &id, r.input, start_at).await?;
        Ok(Response::new(proto::CreateInstanceResponse {
            instance_id: id,
        }))
    }

    async fn get_instance(
        &self,
        r: Request<proto::GetInstanceRequest>,
    ) -> Result<Response<proto::GetInstanceResponse>, Status> {
        let r = r.into_inner();
        Ok(Response::new(
            self.instance(&r.instance_id, r.get_inputs_and_outputs)
                .await?,
        ))
    }

    async fn wait_for_instance_start(
        &self,
        r: Request<proto::GetInstanceRequest>,
    ) -> Result<Response<proto::GetInstanceResponse>, Status> {
        self.wait(r, |i| i.status != super::Status::Pending).await
    }

    async fn wait_for_instance_completion(
        &self,
        r: Request<proto::GetInstanceRequest>,
    ) -> Result<Response<proto::GetInstanceResponse>, Status> {
        self.wait(r, |i| i.status.is_terminal()).await
    }

    async fn raise_event(
        &self,
        r: Request<proto::RaiseEventRequest>,
    ) -> Result<Response<proto::RaiseEventResponse>, Status> {
        let r = r.into_inner();
        self.engine
            .raise_event(&r.instance_id, &r.name, r.input)
            .await?;
        Ok(Response::new(proto::RaiseEventResponse {}))
    }

    async fn terminate_instance(
        &self,
        r: Request<proto::TerminateRequest>,
    ) -> Result<Response<proto::TerminateResponse>, Status> {
        let r = r.into_inner();
        self.engine
            .terminate(&r.instance_id, r.output, r.recursive)
            .await?;
        Ok(Response::new(proto::TerminateResponse {}))
    }

    async fn suspend_instance(
        &self,
        r: Request<proto::SuspendRequest>,
    ) -> Result<Response<proto::SuspendResponse>, Status> {
        let r = r.into_inner();
        self.engine.suspend(&r.instance_id, r.reason).await?;
        Ok(Response::new(proto::SuspendResponse {}))
    }

    async fn resume_instance(
        &self,
        r: Request<proto::ResumeRequest>,
    ) -> Result<Response<proto::ResumeResponse>, Status> {
        let r = r.into_inner();
        self.engine.resume(&r.instance_id, r.reason).await?;
        Ok(Response::new(proto::ResumeResponse {}))
    }

    async fn purge_instances(
        &self,
        r: Request<proto::PurgeInstancesRequest>,
    ) -> Result<Response<proto::PurgeInstancesResponse>, Status> {
        let r = r.into_inner();
        let id = match r.request {
            Some(proto::purge_instances_request::Request::InstanceId(id)) => id,
            _ => {
                return Err(Status::unimplemented(
                    "multi-instance purge is not implemented",
                ));
            }
        };
        let n = self.engine.purge(&id, r.recursive).await?;
        Ok(Response::new(proto::PurgeInstancesResponse {
            deleted_instance_count: i32::try_from(n).unwrap_or(i32::MAX),
            is_complete: Some(true),
        }))
    }

    type GetWorkItemsStream = WorkStream;

    async fn get_work_items(
        &self,
        _r: Request<proto::GetWorkItemsRequest>,
    ) -> Result<Response<WorkStream>, Status> {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.engine.connect(tx);
        Ok(Response::new(WorkStream {
            rx,
            engine: self.engine.clone(),
            id,
        }))
    }

    async fn complete_activity_task(
        &self,
        r: Request<proto::ActivityResponse>,
    ) -> Result<Response<proto::CompleteTaskResponse>, Status> {
        self.engine.complete_activity(r.into_inner()).await?;
        Ok(Response::new(proto::CompleteTaskResponse {}))
    }

    async fn complete_orchestrator_task(
        &self,
        r: Request<proto::WorkflowResponse>,
    ) -> Result<Response<proto::CompleteTaskResponse>, Status> {
        self.engine.complete_turn(r.into_inner()).await?;
        Ok(Response::new(proto::CompleteTaskResponse {}))
    }

    async fn complete_workflow_task(
        &self,
        r: Request<proto::WorkflowResponse>,
    ) -> Result<Response<proto::CompleteTaskResponse>, Status> {
        self.engine.complete_turn(r.into_inner()).await?;
        Ok(Response::new(proto::CompleteTaskResponse {}))
    }

    async fn list_instance_i_ds(
        &self,
        r: Request<proto::ListInstanceIDsRequest>,
    ) -> Result<Response<proto::ListInstanceIDsResponse>, Status> {
        let r = r.into_inner();
        let ids = self.engine.list_ids().await?;
        let start: usize = r
            .continuation_token
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let size = r
            .page_size
            .filter(|n| *n > 0)
            .map_or(ids.len(), |n| n as usize);
        let page: Vec<String> = ids.iter().skip(start).take(size).cloned().collect();
        let next = start + page.len();
        Ok(Response::new(proto::ListInstanceIDsResponse {
            instance_ids: page,
            continuation_token: (next < ids.len()).then(|| next.to_string()),
        }))
    }

    async fn get_instance_history(
        &self,
        r: Request<proto::GetInstanceHistoryRequest>,
    ) -> Result<Response<proto::GetInstanceHistoryResponse>, Status> {
        let events = self.engine.history(&r.into_inner().instance_id).await?;
        Ok(Response::new(proto::GetInstanceHistoryResponse { events }))
    }
}

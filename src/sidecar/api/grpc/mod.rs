//! The gRPC API adapter: `dapr.proto.runtime.v1.Dapr` on `--dapr-grpc-port` or the
//! `--unix-domain-socket` socket (plaintext h2c), so the official SDKs' gRPC clients
//! (Python `DaprClient`, JS in gRPC mode, the Rust `dapr` crate) work against this daprd.
//! Messages and the service trait come from the `dapr` crate's generated code. The trait is
//! implemented here by one-line delegations to one module per building block (`state`,
//! `invoke`, `metadata`), which decode the messages, call the protocol-neutral [`Api`] and
//! encode the results; errors render from the error table (`status`).
//!
//! Limits: only state, pub/sub, bindings, secrets, configuration, locks, metadata, shutdown,
//! invocation, jobs, actors and workflows are served; every other RPC (crypto, conversation,
//! ...) answers `ERR_API_UNIMPLEMENTED` (`Unimplemented`). No gRPC
//! reflection, no proxying of unknown services to gRPC apps, no TLS.

mod actors;
mod bindings;
mod configuration;
mod invoke;
mod jobs;
mod lock;
mod metadata;
mod pubsub;
mod secrets;
mod state;
pub mod status;
mod workflows;

pub use invoke::DAPR_HTTP_STATUS;

use std::future::Future;
use std::sync::Arc;

use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::dapr_server::{Dapr, DaprServer};
use futures_util::stream::BoxStream;
use tokio::net::{TcpListener, UnixListener};
use tonic::service::interceptor::InterceptedService;
use tonic::{Code, Request, Response, Status};

use super::error::ApiError;
use super::universal::Api;

/// The `Dapr` service implementation.
pub struct GrpcApi {
    api: Arc<Api>,
    /// `--max-body-size`: the largest message, and the largest reply taken from an app.
    max_body: usize,
}

impl GrpcApi {
    pub fn new(api: Arc<Api>, max_body: usize) -> GrpcApi {
        GrpcApi { api, max_body }
    }
}

/// How the gRPC API is served, from daprd's flags and environment.
#[derive(Debug, Clone, Default)]
pub struct GrpcSettings {
    /// `--max-body-size`: bounds received and sent messages.
    pub max_msg: usize,
    /// `DAPR_API_TOKEN`: required as metadata `dapr-api-token` on every call when set.
    pub api_token: Option<String>,
    /// `--enable-api-logging`: one `gRPC API Called` line per call.
    pub api_logging: bool,
}

/// Where the gRPC API listens: a TCP port, or the `--unix-domain-socket` socket.
pub enum GrpcListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl From<TcpListener> for GrpcListener {
    fn from(l: TcpListener) -> GrpcListener {
        GrpcListener::Tcp(l)
    }
}

impl From<UnixListener> for GrpcListener {
    fn from(l: UnixListener) -> GrpcListener {
        GrpcListener::Unix(l)
    }
}

/// Serves the gRPC API on a TCP or Unix listener until `shutdown` resolves, then lets open
/// calls finish (see [`GrpcSettings`] for the limits, token and API logging).
pub async fn serve_with(
    api: Arc<Api>,
    listener: impl Into<GrpcListener>,
    settings: GrpcSettings,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let max_msg = settings.max_msg;
    let taskhub =
        crate::sidecar::workflows::service::TaskHub::server(api.workflow_engine().clone())
            .max_decoding_message_size(max_msg)
            .max_encoding_message_size(max_msg);
    let svc = DaprServer::new(GrpcApi::new(api, max_msg))
        .max_decoding_message_size(max_msg)
        .max_encoding_message_size(max_msg);
    let token = settings.api_token.filter(|t| !t.is_empty());
    let hub_token = token.clone();
    let svc = InterceptedService::new(svc, move |req: Request<()>| check_token(&token, req));
    let svc = ApiLog {
        inner: svc,
        enabled: settings.api_logging,
    };
    let taskhub = ApiLog {
        inner: InterceptedService::new(taskhub, move |req: Request<()>| {
            check_token(&hub_token, req)
        }),
        enabled: settings.api_logging,
    };
    // Pings find peers that went away without closing, so their connections are released.
    let router = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .add_service(svc)
        .add_service(taskhub);
    match listener.into() {
        GrpcListener::Tcp(l) => {
            router
                .serve_with_incoming_shutdown(crate::sidecar::server::incoming(l), shutdown)
                .await
        }
        GrpcListener::Unix(l) => {
            router
                .serve_with_incoming_shutdown(crate::sidecar::server::incoming(l), shutdown)
                .await
        }
    }
    .map_err(std::io::Error::other)
}

/// Scope of the API log lines of gRPC calls (the HTTP ones use `dapr.runtime.http-info`).
const GRPC_API_LOG: &str = "dapr.runtime.grpc-info";

/// Logs each call as upstream's `--enable-api-logging` does: method, user agent, gRPC
/// code and duration. Unary calls that fail carry `grpc-status` in the response headers
/// (trailers-only response); calls without it succeeded.
#[derive(Clone)]
struct ApiLog<S> {
    inner: S,
    enabled: bool,
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for ApiLog<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B, R> tower::Service<http::Request<B>> for ApiLog<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if !self.enabled {
            return Box::pin(self.inner.call(req));
        }
        let method = req.uri().path().to_string();
        let agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let start = std::time::Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            if let Ok(r) = &res {
                let code = r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(Code::Ok, Code::from_i32);
                // Go's names for the codes, as upstream prints them.
                let code = match code {
                    Code::Ok => "OK".to_string(),
                    Code::Cancelled => "Canceled".to_string(),
                    c => format!("{c:?}"),
                };
                let duration = start.elapsed().as_millis().to_string();
                crate::sidecar::log::log_with(
                    crate::sidecar::log::Level::Info,
                    GRPC_API_LOG,
                    "gRPC API Called",
                    &[
                        ("method", &method),
                        ("useragent", &agent),
                        ("code", &code),
                        ("duration", &duration),
                    ],
                );
            }
            res
        })
    }
}

fn check_token(token: &Option<String>, req: Request<()>) -> Result<Request<()>, Status> {
    let Some(token) = token else {
        return Ok(req);
    };
    match req.metadata().get("dapr-api-token") {
        None => Err(Status::unauthenticated(
            "missing api token in request metadata",
        )),
        Some(v) if v.as_bytes() == token.as_bytes() => Ok(req),
        Some(_) => Err(Status::unauthenticated(
            "authentication error: api token mismatch",
        )),
    }
}

// ---- the service ----
/// Implements the `Dapr` trait: the RPCs written out in the macro call, plus an
/// `Unimplemented` answer for each RPC listed after them.
macro_rules! dapr_service {
    (
        { $($implemented:tt)* }
        $($rpc:ident => $name:ident($req:ty) -> $resp:ty;)*
    ) => {
        #[tonic::async_trait]
        impl Dapr for GrpcApi {
            $($implemented)*
            $(
                async fn $name(&self, _request: Request<$req>) -> Result<Response<$resp>, Status> {
                    Err(ApiError::unimplemented(stringify!($rpc)).into())
                }
            )*
        }
    };
}

type Stream<T> = BoxStream<'static, Result<T, Status>>;

dapr_service! {
    {
        type SubscribeTopicEventsAlpha1Stream = Stream<pb::SubscribeTopicEventsResponseAlpha1>;
        type SubscribeConfigurationAlpha1Stream = Stream<pb::SubscribeConfigurationResponse>;
        type SubscribeConfigurationStream = Stream<pb::SubscribeConfigurationResponse>;
        type EncryptAlpha1Stream = Stream<pb::EncryptResponse>;
        type DecryptAlpha1Stream = Stream<pb::DecryptResponse>;

        async fn invoke_service(&self, r: Request<pb::InvokeServiceRequest>) -> Result<Response<common::InvokeResponse>, Status> {
            let (metadata, _, req) = r.into_parts();
            invoke::invoke(&self.api, self.max_body, &metadata, req).await
        }

        async fn get_state(&self, r: Request<pb::GetStateRequest>) -> Result<Response<pb::GetStateResponse>, Status> {
            state::get(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn get_bulk_state(&self, r: Request<pb::GetBulkStateRequest>) -> Result<Response<pb::GetBulkStateResponse>, Status> {
            state::get_bulk(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn save_state(&self, r: Request<pb::SaveStateRequest>) -> Result<Response<()>, Status> {
            state::save(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn delete_state(&self, r: Request<pb::DeleteStateRequest>) -> Result<Response<()>, Status> {
            state::delete(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn delete_bulk_state(&self, r: Request<pb::DeleteBulkStateRequest>) -> Result<Response<()>, Status> {
            state::delete_bulk(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn execute_state_transaction(&self, r: Request<pb::ExecuteStateTransactionRequest>) -> Result<Response<()>, Status> {
            state::transact(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn publish_event(&self, r: Request<pb::PublishEventRequest>) -> Result<Response<()>, Status> {
            let (metadata, _, req) = r.into_parts();
            pubsub::publish(&self.api, &metadata, req).await.map(Response::new)
        }

        async fn bulk_publish_event(&self, r: Request<pb::BulkPublishRequest>) -> Result<Response<pb::BulkPublishResponse>, Status> {
            pubsub::bulk_publish(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn bulk_publish_event_alpha1(&self, r: Request<pb::BulkPublishRequest>) -> Result<Response<pb::BulkPublishResponse>, Status> {
            pubsub::bulk_publish(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn subscribe_topic_events_alpha1(&self, r: Request<tonic::Streaming<pb::SubscribeTopicEventsRequestAlpha1>>) -> Result<Response<Self::SubscribeTopicEventsAlpha1Stream>, Status> {
            pubsub::subscribe_stream(self.api.clone(), r.into_inner()).await.map(Response::new)
        }

        async fn invoke_binding(&self, r: Request<pb::InvokeBindingRequest>) -> Result<Response<pb::InvokeBindingResponse>, Status> {
            let (metadata, _, req) = r.into_parts();
            bindings::invoke(&self.api, &metadata, req).await.map(Response::new)
        }

        async fn get_secret(&self, r: Request<pb::GetSecretRequest>) -> Result<Response<pb::GetSecretResponse>, Status> {
            secrets::get(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn get_bulk_secret(&self, r: Request<pb::GetBulkSecretRequest>) -> Result<Response<pb::GetBulkSecretResponse>, Status> {
            secrets::bulk(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn get_metadata(&self, _r: Request<pb::GetMetadataRequest>) -> Result<Response<pb::GetMetadataResponse>, Status> {
            Ok(Response::new(metadata::get(&self.api).await))
        }

        async fn set_metadata(&self, r: Request<pb::SetMetadataRequest>) -> Result<Response<()>, Status> {
            metadata::set(&self.api, r.into_inner());
            Ok(Response::new(()))
        }

        async fn shutdown(&self, r: Request<pb::ShutdownRequest>) -> Result<Response<()>, Status> {
            metadata::shutdown(&self.api, r.metadata());
            Ok(Response::new(()))
        }

        async fn invoke_actor(&self, r: Request<pb::InvokeActorRequest>) -> Result<Response<pb::InvokeActorResponse>, Status> {
            actors::invoke(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn get_actor_state(&self, r: Request<pb::GetActorStateRequest>) -> Result<Response<pb::GetActorStateResponse>, Status> {
            actors::get_state(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn execute_actor_state_transaction(&self, r: Request<pb::ExecuteActorStateTransactionRequest>) -> Result<Response<()>, Status> {
            actors::transact(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn register_actor_timer(&self, r: Request<pb::RegisterActorTimerRequest>) -> Result<Response<()>, Status> {
            actors::register_timer(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn unregister_actor_timer(&self, r: Request<pb::UnregisterActorTimerRequest>) -> Result<Response<()>, Status> {
            actors::unregister_timer(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn register_actor_reminder(&self, r: Request<pb::RegisterActorReminderRequest>) -> Result<Response<()>, Status> {
            actors::register_reminder(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn unregister_actor_reminder(&self, r: Request<pb::UnregisterActorReminderRequest>) -> Result<Response<()>, Status> {
            actors::unregister_reminder(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn get_actor_reminder(&self, r: Request<pb::GetActorReminderRequest>) -> Result<Response<pb::GetActorReminderResponse>, Status> {
            actors::get_reminder(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn list_actor_reminders(&self, r: Request<pb::ListActorRemindersRequest>) -> Result<Response<pb::ListActorRemindersResponse>, Status> {
            actors::list_reminders(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn unregister_actor_reminders_by_type(&self, r: Request<pb::UnregisterActorRemindersByTypeRequest>) -> Result<Response<pb::UnregisterActorRemindersByTypeResponse>, Status> {
            actors::unregister_reminders_by_type(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn try_lock_alpha1(&self, r: Request<pb::TryLockRequest>) -> Result<Response<pb::TryLockResponse>, Status> {
            lock::try_lock(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn unlock_alpha1(&self, r: Request<pb::UnlockRequest>) -> Result<Response<pb::UnlockResponse>, Status> {
            lock::unlock(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn get_configuration(&self, r: Request<pb::GetConfigurationRequest>) -> Result<Response<pb::GetConfigurationResponse>, Status> {
            configuration::get(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn get_configuration_alpha1(&self, r: Request<pb::GetConfigurationRequest>) -> Result<Response<pb::GetConfigurationResponse>, Status> {
            configuration::get(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn subscribe_configuration(&self, r: Request<pb::SubscribeConfigurationRequest>) -> Result<Response<Self::SubscribeConfigurationStream>, Status> {
            configuration::subscribe(self.api.clone(), r.into_inner()).await.map(Response::new)
        }

        async fn subscribe_configuration_alpha1(&self, r: Request<pb::SubscribeConfigurationRequest>) -> Result<Response<Self::SubscribeConfigurationAlpha1Stream>, Status> {
            configuration::subscribe(self.api.clone(), r.into_inner()).await.map(Response::new)
        }

        async fn unsubscribe_configuration(&self, r: Request<pb::UnsubscribeConfigurationRequest>) -> Result<Response<pb::UnsubscribeConfigurationResponse>, Status> {
            Ok(Response::new(configuration::unsubscribe(&self.api, r.into_inner()).await))
        }

        async fn unsubscribe_configuration_alpha1(&self, r: Request<pb::UnsubscribeConfigurationRequest>) -> Result<Response<pb::UnsubscribeConfigurationResponse>, Status> {
            Ok(Response::new(configuration::unsubscribe(&self.api, r.into_inner()).await))
        }
        async fn schedule_job(&self, r: Request<pb::ScheduleJobRequest>) -> Result<Response<pb::ScheduleJobResponse>, Status> {
            jobs::schedule(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn schedule_job_alpha1(&self, r: Request<pb::ScheduleJobRequest>) -> Result<Response<pb::ScheduleJobResponse>, Status> {
            jobs::schedule(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn get_job(&self, r: Request<pb::GetJobRequest>) -> Result<Response<pb::GetJobResponse>, Status> {
            jobs::get(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn get_job_alpha1(&self, r: Request<pb::GetJobRequest>) -> Result<Response<pb::GetJobResponse>, Status> {
            jobs::get(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn delete_job(&self, r: Request<pb::DeleteJobRequest>) -> Result<Response<pb::DeleteJobResponse>, Status> {
            jobs::delete(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn delete_job_alpha1(&self, r: Request<pb::DeleteJobRequest>) -> Result<Response<pb::DeleteJobResponse>, Status> {
            jobs::delete(&self.api, r.into_inner()).await.map(Response::new)
        }

        async fn delete_jobs_by_prefix(&self, r: Request<pb::DeleteJobsByPrefixRequest>) -> Result<Response<pb::DeleteJobsByPrefixResponse>, Status> {
            jobs::delete_by_prefix(&self.api, r.into_inner().name_prefix).await?;
            Ok(Response::new(pb::DeleteJobsByPrefixResponse {}))
        }

        async fn delete_jobs_by_prefix_alpha1(&self, r: Request<pb::DeleteJobsByPrefixRequestAlpha1>) -> Result<Response<pb::DeleteJobsByPrefixResponseAlpha1>, Status> {
            jobs::delete_by_prefix(&self.api, r.into_inner().name_prefix).await?;
            Ok(Response::new(pb::DeleteJobsByPrefixResponseAlpha1 {}))
        }

        async fn list_jobs(&self, _r: Request<pb::ListJobsRequest>) -> Result<Response<pb::ListJobsResponse>, Status> {
            let jobs = jobs::list(&self.api).await?;
            Ok(Response::new(pb::ListJobsResponse { jobs }))
        }

        async fn list_jobs_alpha1(&self, _r: Request<pb::ListJobsRequestAlpha1>) -> Result<Response<pb::ListJobsResponseAlpha1>, Status> {
            let jobs = jobs::list(&self.api).await?;
            Ok(Response::new(pb::ListJobsResponseAlpha1 { jobs }))
        }

        async fn start_workflow_beta1(&self, r: Request<pb::StartWorkflowRequest>) -> Result<Response<pb::StartWorkflowResponse>, Status> {
            workflows::start(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn get_workflow_beta1(&self, r: Request<pb::GetWorkflowRequest>) -> Result<Response<pb::GetWorkflowResponse>, Status> {
            workflows::get(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn purge_workflow_beta1(&self, r: Request<pb::PurgeWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::purge(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn terminate_workflow_beta1(&self, r: Request<pb::TerminateWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::terminate(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn pause_workflow_beta1(&self, r: Request<pb::PauseWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::pause(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn resume_workflow_beta1(&self, r: Request<pb::ResumeWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::resume(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn raise_event_workflow_beta1(&self, r: Request<pb::RaiseEventWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::raise_event(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn start_workflow_alpha1(&self, r: Request<pb::StartWorkflowRequest>) -> Result<Response<pb::StartWorkflowResponse>, Status> {
            workflows::start(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn get_workflow_alpha1(&self, r: Request<pb::GetWorkflowRequest>) -> Result<Response<pb::GetWorkflowResponse>, Status> {
            workflows::get(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn purge_workflow_alpha1(&self, r: Request<pb::PurgeWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::purge(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn terminate_workflow_alpha1(&self, r: Request<pb::TerminateWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::terminate(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn pause_workflow_alpha1(&self, r: Request<pb::PauseWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::pause(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn resume_workflow_alpha1(&self, r: Request<pb::ResumeWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::resume(&self.api, r.into_inner()).await.map(Response::new)
        }
        async fn raise_event_workflow_alpha1(&self, r: Request<pb::RaiseEventWorkflowRequest>) -> Result<Response<()>, Status> {
            workflows::raise_event(&self.api, r.into_inner()).await.map(Response::new)
        }
    }
    QueryStateAlpha1 => query_state_alpha1(pb::QueryStateRequest) -> pb::QueryStateResponse;
    EncryptAlpha1 => encrypt_alpha1(tonic::Streaming<pb::EncryptRequest>) -> Self::EncryptAlpha1Stream;
    DecryptAlpha1 => decrypt_alpha1(tonic::Streaming<pb::DecryptRequest>) -> Self::DecryptAlpha1Stream;
    SubtleGetKeyAlpha1 => subtle_get_key_alpha1(pb::SubtleGetKeyRequest) -> pb::SubtleGetKeyResponse;
    SubtleEncryptAlpha1 => subtle_encrypt_alpha1(pb::SubtleEncryptRequest) -> pb::SubtleEncryptResponse;
    SubtleDecryptAlpha1 => subtle_decrypt_alpha1(pb::SubtleDecryptRequest) -> pb::SubtleDecryptResponse;
    SubtleWrapKeyAlpha1 => subtle_wrap_key_alpha1(pb::SubtleWrapKeyRequest) -> pb::SubtleWrapKeyResponse;
    SubtleUnwrapKeyAlpha1 => subtle_unwrap_key_alpha1(pb::SubtleUnwrapKeyRequest) -> pb::SubtleUnwrapKeyResponse;
    SubtleSignAlpha1 => subtle_sign_alpha1(pb::SubtleSignRequest) -> pb::SubtleSignResponse;
    SubtleVerifyAlpha1 => subtle_verify_alpha1(pb::SubtleVerifyRequest) -> pb::SubtleVerifyResponse;
    ConverseAlpha1 => converse_alpha1(pb::ConversationRequest) -> pb::ConversationResponse;
    ConverseAlpha2 => converse_alpha2(pb::ConversationRequestAlpha2) -> pb::ConversationResponseAlpha2;
    CreateIndexAlpha1 => create_index_alpha1(pb::CreateIndexRequestAlpha1) -> ();
    GetIndexAlpha1 => get_index_alpha1(pb::GetIndexRequestAlpha1) -> pb::GetIndexResponseAlpha1;
    ListIndexesAlpha1 => list_indexes_alpha1(pb::ListIndexesRequestAlpha1) -> pb::ListIndexesResponseAlpha1;
    DeleteIndexAlpha1 => delete_index_alpha1(pb::DeleteIndexRequestAlpha1) -> ();
    IndexDocumentsAlpha1 => index_documents_alpha1(pb::IndexDocumentsRequestAlpha1) -> pb::IndexDocumentsResponseAlpha1;
    GetDocumentsAlpha1 => get_documents_alpha1(pb::GetDocumentsRequestAlpha1) -> pb::GetDocumentsResponseAlpha1;
    DeleteDocumentsAlpha1 => delete_documents_alpha1(pb::DeleteDocumentsRequestAlpha1) -> pb::DeleteDocumentsResponseAlpha1;
    SearchAlpha1 => search_alpha1(pb::SearchRequestAlpha1) -> pb::SearchResponseAlpha1;
    CreateCollectionAlpha1 => create_collection_alpha1(pb::CreateCollectionRequestAlpha1) -> ();
    GetCollectionAlpha1 => get_collection_alpha1(pb::GetCollectionRequestAlpha1) -> pb::GetCollectionResponseAlpha1;
    ListCollectionsAlpha1 => list_collections_alpha1(pb::ListCollectionsRequestAlpha1) -> pb::ListCollectionsResponseAlpha1;
    DeleteCollectionAlpha1 => delete_collection_alpha1(pb::DeleteCollectionRequestAlpha1) -> ();
    UpsertVectorsAlpha1 => upsert_vectors_alpha1(pb::UpsertVectorsRequestAlpha1) -> pb::UpsertVectorsResponseAlpha1;
    DeleteVectorsAlpha1 => delete_vectors_alpha1(pb::DeleteVectorsRequestAlpha1) -> pb::DeleteVectorsResponseAlpha1;
    GetVectorsAlpha1 => get_vectors_alpha1(pb::GetVectorsRequestAlpha1) -> pb::GetVectorsResponseAlpha1;
    QueryVectorsAlpha1 => query_vectors_alpha1(pb::QueryVectorsRequestAlpha1) -> pb::QueryVectorsResponseAlpha1;
    BatchQueryVectorsAlpha1 => batch_query_vectors_alpha1(pb::BatchQueryVectorsRequestAlpha1) -> pb::BatchQueryVectorsResponseAlpha1;
}

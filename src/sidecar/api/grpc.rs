//! The gRPC API adapter: `dapr.proto.runtime.v1.Dapr` on `--dapr-grpc-port` or the
//! `--unix-domain-socket` socket (plaintext h2c), so the official SDKs' gRPC clients
//! (Python `DaprClient`, JS in gRPC mode, the Rust `dapr` crate) work against this daprd.
//! Messages and the service trait come from the `dapr` crate's generated code; every call
//! is decoded here and handed to the protocol-neutral [`Core`] (state, metadata, shutdown)
//! or to the [`Invoker`] (service invocation, built as the equivalent HTTP request so both
//! APIs share one path).
//!
//! Semantics follow the official gRPC API where it differs from HTTP: `SaveState` stores
//! the value bytes verbatim unless the item's metadata says `contentType=application/json`;
//! `GetState` of a missing key is an empty response, not an error; a non-2xx answer of an
//! HTTP app to `InvokeService` becomes a gRPC error with header `dapr-http-status`.
//! Errors carry a `google.rpc.Status` with an `ErrorInfo` detail (domain `dapr.io`) whose
//! metadata holds the Dapr error code (`errorCode: ERR_...`).
//! Limits: only state, metadata, shutdown and invocation are served; every other RPC
//! (pub/sub, bindings, secrets, actors, configuration, workflows, jobs, crypto, locks, ...)
//! answers `Unimplemented`, except `PublishEvent`, which answers "pubsub not found" as the
//! official runtime does when no such component exists. No gRPC reflection, no proxying of
//! unknown services to gRPC apps, no TLS.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::dapr_server::{Dapr, DaprServer};
use futures_util::stream::BoxStream;
use http::StatusCode;
use http_body_util::BodyExt;
use prost::Message as _;
use serde_json::Value;
use tokio::net::{TcpListener, UnixListener};
use tonic::metadata::{AsciiMetadataValue, KeyAndValueRef, MetadataMap};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

use super::core::{Core, ShutdownRequest};
use super::error::ApiError;
use crate::sidecar::components::state::{
    Concurrency, Consistency, DeleteRequest, Metadata, SetRequest, StateOptions, TransactionOp,
};
use crate::sidecar::invoke::Invoker;

/// Header (response metadata) carrying the app's HTTP status on `InvokeService`.
pub const DAPR_HTTP_STATUS: &str = "dapr-http-status";

/// The `Dapr` service implementation.
pub struct GrpcApi {
    core: Arc<Core>,
    /// `None` only in tests without an invoker: `InvokeService` then fails.
    invoker: Option<Arc<Invoker>>,
    max_body: usize,
}

impl GrpcApi {
    pub fn new(core: Arc<Core>, invoker: Option<Arc<Invoker>>, max_body: usize) -> GrpcApi {
        GrpcApi {
            core,
            invoker,
            max_body,
        }
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
    core: Arc<Core>,
    invoker: Option<Arc<Invoker>>,
    listener: impl Into<GrpcListener>,
    settings: GrpcSettings,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let max_msg = settings.max_msg;
    let svc = DaprServer::new(GrpcApi::new(core, invoker, max_msg))
        .max_decoding_message_size(max_msg)
        .max_encoding_message_size(max_msg);
    let token = settings.api_token.filter(|t| !t.is_empty());
    let svc = InterceptedService::new(svc, move |req: Request<()>| check_token(&token, req));
    let svc = ApiLog {
        inner: svc,
        enabled: settings.api_logging,
    };
    let router = tonic::transport::Server::builder().add_service(svc);
    match listener.into() {
        GrpcListener::Tcp(l) => {
            let incoming = TcpIncoming::from(l).with_nodelay(Some(true));
            router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
        }
        GrpcListener::Unix(l) => {
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(l);
            router
                .serve_with_incoming_shutdown(incoming, shutdown)
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

// ---- errors ----

/// `google.rpc.ErrorInfo`, which the `dapr` crate does not generate.
#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    domain: String,
    #[prost(map = "string, string", tag = "3")]
    metadata: HashMap<String, String>,
}

/// A status with a `google.rpc.Status` detail holding one `ErrorInfo`.
fn status_with_info(
    code: Code,
    message: String,
    reason: &str,
    metadata: HashMap<String, String>,
) -> Status {
    let info = ErrorInfo {
        reason: reason.to_string(),
        domain: "dapr.io".into(),
        metadata,
    };
    let details = dapr::google::rpc::Status {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: info.encode_to_vec(),
        }],
    };
    Status::with_details(code, message, Bytes::from(details.encode_to_vec()))
}

/// The gRPC code the official runtime uses for an API error: by Dapr error code where the
/// two protocols differ, else derived from the HTTP status.
fn grpc_code(e: &ApiError) -> Code {
    match e.code {
        "ERR_STATE_STORE_NOT_FOUND" | "ERR_PUBSUB_NOT_FOUND" | "ERR_PUBSUB_EMPTY" => {
            return Code::InvalidArgument;
        }
        "ERR_STATE_STORE_NOT_CONFIGURED" => return Code::FailedPrecondition,
        "ERR_STATE_STORE_NOT_SUPPORTED" => return Code::Unimplemented,
        _ => {}
    }
    match e.status {
        StatusCode::BAD_REQUEST => Code::InvalidArgument,
        StatusCode::CONFLICT => Code::Aborted,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        _ => Code::Internal,
    }
}

/// The `ErrorInfo.reason` upstream sends for its structured errors; the Dapr error code
/// for the others (upstream sends no detail for those).
fn reason(e: &ApiError) -> &'static str {
    match e.code {
        "ERR_STATE_STORE_NOT_FOUND" => "DAPR_STATE_NOT_FOUND",
        "ERR_STATE_STORE_NOT_CONFIGURED" => "DAPR_STATE_NOT_CONFIGURED",
        "ERR_STATE_STORE_NOT_SUPPORTED" => "DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED",
        "ERR_MALFORMED_REQUEST" if e.message.contains("can't contain '||'") => {
            "DAPR_STATE_ILLEGAL_KEY"
        }
        "ERR_PUBSUB_NOT_FOUND" => "DAPR_PUBSUB_NOT_FOUND",
        code => code,
    }
}

fn api_status(e: ApiError, app_id: &str) -> Status {
    let mut meta = HashMap::from([("errorCode".to_string(), e.code.to_string())]);
    if e.code == "ERR_STATE_STORE_NOT_FOUND" || e.code == "ERR_PUBSUB_NOT_FOUND" {
        meta.insert("appID".into(), app_id.to_string());
    }
    status_with_info(grpc_code(&e), e.message.clone(), reason(&e), meta)
}

fn unsupported(rpc: &str) -> Status {
    Status::unimplemented(format!("{rpc} is not supported by this daprd"))
}

// ---- request decoding ----

const JSON: &str = "application/json";

fn concurrency(v: i32) -> Concurrency {
    match common::state_options::StateConcurrency::try_from(v) {
        Ok(common::state_options::StateConcurrency::ConcurrencyFirstWrite) => {
            Concurrency::FirstWrite
        }
        Ok(common::state_options::StateConcurrency::ConcurrencyLastWrite) => Concurrency::LastWrite,
        _ => Concurrency::Unspecified,
    }
}

fn consistency(v: i32) -> Consistency {
    match common::state_options::StateConsistency::try_from(v) {
        Ok(common::state_options::StateConsistency::ConsistencyStrong) => Consistency::Strong,
        _ => Consistency::Eventual,
    }
}

fn options(o: Option<common::StateOptions>) -> StateOptions {
    match o {
        None => StateOptions::default(),
        Some(o) => StateOptions {
            concurrency: concurrency(o.concurrency),
            consistency: consistency(o.consistency),
        },
    }
}

fn etag(e: Option<common::Etag>) -> Option<String> {
    e.map(|e| e.value).filter(|v| !v.is_empty())
}

fn require_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        Err(ApiError::bad_field("\"key\" is a required field"))
    } else {
        Ok(())
    }
}

/// The stored bytes of a gRPC write: verbatim, or compact re-serialised JSON when the item
/// says `contentType=application/json` (as upstream, which decodes such values first).
fn stored_value(value: Vec<u8>, metadata: &Metadata) -> Result<Bytes, ApiError> {
    let json = metadata
        .get("contentType")
        .is_some_and(|c| c.eq_ignore_ascii_case(JSON));
    if !json {
        return Ok(Bytes::from(value));
    }
    let v: Value = serde_json::from_slice(&value).map_err(|e| {
        ApiError::bad_field(format!(
            "value is not valid JSON although metadata contentType is {JSON}: {e}"
        ))
    })?;
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(ApiError::malformed_request)
}

fn set_request(item: common::StateItem) -> Result<SetRequest, ApiError> {
    require_key(&item.key)?;
    Ok(SetRequest {
        value: stored_value(item.value, &item.metadata)?,
        key: item.key,
        etag: etag(item.etag),
        metadata: item.metadata,
        options: options(item.options),
    })
}

fn delete_request(item: common::StateItem) -> Result<DeleteRequest, ApiError> {
    require_key(&item.key)?;
    Ok(DeleteRequest {
        key: item.key,
        etag: etag(item.etag),
        metadata: item.metadata,
        options: options(item.options),
    })
}

// ---- metadata mapping ----

fn str_of(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn i32_of(v: &Value, k: &str) -> i32 {
    v.get(k)
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(0)
}

fn strings_of(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Converts the `GET /v1.0/metadata` document of [`Core::metadata`] into its proto form,
/// so both APIs report the same facts.
fn metadata_response(doc: &Value) -> pb::GetMetadataResponse {
    let components = doc
        .get("components")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| pb::RegisteredComponents {
                    name: str_of(c, "name"),
                    r#type: str_of(c, "type"),
                    version: str_of(c, "version"),
                    capabilities: strings_of(c, "capabilities"),
                })
                .collect()
        })
        .unwrap_or_default();
    let extended = doc
        .get("extended")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    let app_connection_properties =
        doc.get("appConnectionProperties")
            .map(|a| pb::AppConnectionProperties {
                port: i32_of(a, "port"),
                protocol: str_of(a, "protocol"),
                channel_address: str_of(a, "channelAddress"),
                max_concurrency: i32_of(a, "maxConcurrency"),
                health: a.get("health").map(|h| pb::AppConnectionHealthProperties {
                    health_check_path: str_of(h, "healthCheckPath"),
                    health_probe_interval: str_of(h, "healthProbeInterval"),
                    health_probe_timeout: str_of(h, "healthProbeTimeout"),
                    health_threshold: i32_of(h, "healthThreshold"),
                }),
            });
    let actor_runtime = doc.get("actorRuntime").map(|a| {
        use pb::actor_runtime::ActorRuntimeStatus;
        let status = ActorRuntimeStatus::from_str_name(&str_of(a, "runtimeStatus"))
            .unwrap_or(ActorRuntimeStatus::Disabled);
        pb::ActorRuntime {
            runtime_status: status as i32,
            active_actors: Vec::new(),
            host_ready: a.get("hostReady").and_then(Value::as_bool).unwrap_or(false),
            placement: str_of(a, "placement"),
        }
    });
    pb::GetMetadataResponse {
        id: str_of(doc, "id"),
        runtime_version: str_of(doc, "runtimeVersion"),
        enabled_features: strings_of(doc, "enabledFeatures"),
        registered_components: components,
        extended_metadata: extended,
        app_connection_properties,
        actor_runtime,
        ..Default::default()
    }
}

// ---- invocation ----

/// Characters escaped in the method part of the invocation URL: those a URI path cannot
/// hold, plus `?` and `#` so a method name never turns into a query or fragment.
const PATH_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// gRPC request metadata that is transport detail, not caller metadata for the app.
fn skip_metadata(name: &str) -> bool {
    matches!(
        name,
        "content-type" | "te" | "content-length" | "user-agent" | "dapr-api-token"
    ) || name.starts_with("grpc-")
        || name.starts_with(':')
}

/// App response headers not returned as gRPC response metadata.
fn skip_response_header(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "content-length"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "date"
    ) || name.starts_with("grpc-")
}

/// gRPC code for an app's HTTP status, as the official runtime maps it.
fn code_from_http(status: u16) -> Code {
    match status {
        200..=299 => Code::Ok,
        408 => Code::Cancelled,
        500 => Code::Unknown,
        400 => Code::InvalidArgument,
        504 => Code::DeadlineExceeded,
        404 => Code::NotFound,
        409 => Code::AlreadyExists,
        403 => Code::PermissionDenied,
        401 => Code::Unauthenticated,
        429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// A sidecar-generated invocation failure (as opposed to the app's own answer): its JSON
/// error body names one of the invoker's codes.
fn sidecar_error(body: &[u8]) -> Option<ApiError> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let code = v.get("errorCode")?.as_str()?;
    let code: &'static str = match code {
        "ERR_DIRECT_INVOKE" => "ERR_DIRECT_INVOKE",
        "ERR_BODY_TOO_LARGE" => "ERR_BODY_TOO_LARGE",
        _ => return None,
    };
    Some(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        code,
        v.get("message")?.as_str()?.to_string(),
    ))
}

impl GrpcApi {
    async fn invoke(
        &self,
        metadata: &MetadataMap,
        req: pb::InvokeServiceRequest,
    ) -> Result<Response<common::InvokeResponse>, Status> {
        let app_id = self.core.app_id().to_string();
        let Some(invoker) = &self.invoker else {
            return Err(api_status(ApiError::direct_invoke_no_app_id(), &app_id));
        };
        if req.id.is_empty() {
            return Err(api_status(ApiError::direct_invoke_no_app_id(), &app_id));
        }
        let msg = req.message.unwrap_or_default();
        let (verb, query) = match &msg.http_extension {
            Some(ext) => {
                use common::http_extension::Verb;
                let verb = match Verb::try_from(ext.verb).unwrap_or(Verb::None) {
                    Verb::None => "POST",
                    v => v.as_str_name(),
                };
                (verb, ext.querystring.as_str())
            }
            None => ("POST", ""),
        };
        let id = urlencoding::encode(&req.id);
        let method = percent_encoding::utf8_percent_encode(&msg.method, PATH_ESCAPE);
        let mut uri = format!("/v1.0/invoke/{id}/method/{method}");
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(query);
        }
        let mut builder = http::Request::builder().method(verb).uri(&uri);
        for kv in metadata.iter() {
            if let KeyAndValueRef::Ascii(k, v) = kv
                && !skip_metadata(k.as_str())
            {
                builder = builder.header(k.as_str(), v.as_bytes());
            }
        }
        if !msg.content_type.is_empty() {
            builder = builder.header(http::header::CONTENT_TYPE, &msg.content_type);
        }
        let data = msg.data.map(|a| a.value).unwrap_or_default();
        builder = builder.header(http::header::CONTENT_LENGTH, data.len());
        let http_req = builder.body(Body::from(data)).map_err(|e| {
            api_status(
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    crate::sidecar::invoke::ERR_DIRECT_INVOKE,
                    format!("invalid invocation request: {e}"),
                ),
                &app_id,
            )
        })?;

        let res = invoker.handle_http(http_req).await;
        let (parts, body) = res.into_parts();
        let body = http_body_util::Limited::new(body, self.max_body)
            .collect()
            .await
            .map_err(|e| {
                let too_large = e.is::<http_body_util::LengthLimitError>();
                if too_large {
                    api_status(ApiError::body_too_large(self.max_body), &app_id)
                } else {
                    Status::internal(format!("failed to read the app's response: {e}"))
                }
            })?
            .to_bytes();
        let status = parts.status.as_u16();
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if status >= 300
            && let Some(e) = sidecar_error(&body)
        {
            return Err(api_status(e, &app_id));
        }
        let mut headers = MetadataMap::new();
        for (name, value) in &parts.headers {
            if skip_response_header(name.as_str()) {
                continue;
            }
            if let Ok(v) = AsciiMetadataValue::try_from(value.as_bytes())
                && let Ok(k) = tonic::metadata::AsciiMetadataKey::from_bytes(name.as_ref())
            {
                headers.append(k, v);
            }
        }
        if code_from_http(status) != Code::Ok {
            if let Ok(v) = AsciiMetadataValue::try_from(status.to_string()) {
                headers.insert(DAPR_HTTP_STATUS, v);
            }
            let text = parts.status.canonical_reason().unwrap_or("").to_string();
            let mut detail = String::from_utf8_lossy(&body).into_owned();
            if detail.len() > 64 * 1024 {
                let mut cut = 64 * 1024;
                while !detail.is_char_boundary(cut) {
                    cut -= 1;
                }
                detail.truncate(cut);
            }
            let meta = HashMap::from([
                ("http.code".to_string(), status.to_string()),
                ("http.error_message".to_string(), detail),
            ]);
            let mut st = status_with_info(code_from_http(status), text.clone(), &text, meta);
            st.metadata_mut().as_mut().extend(headers.into_headers());
            return Err(st);
        }
        let mut res = Response::new(common::InvokeResponse {
            data: Some(prost_types::Any {
                type_url: String::new(),
                value: body.to_vec(),
            }),
            content_type,
        });
        *res.metadata_mut() = headers;
        Ok(res)
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
                    Err(unsupported(stringify!($rpc)))
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

        async fn invoke_service(
            &self,
            request: Request<pb::InvokeServiceRequest>,
        ) -> Result<Response<common::InvokeResponse>, Status> {
            let (metadata, _, req) = request.into_parts();
            self.invoke(&metadata, req).await
        }

        async fn get_state(
            &self,
            request: Request<pb::GetStateRequest>,
        ) -> Result<Response<pb::GetStateResponse>, Status> {
            let r = request.into_inner();
            let id = self.core.app_id();
            require_key(&r.key).map_err(|e| api_status(e, id))?;
            let got = self
                .core
                .get_state(&r.store_name, &r.key, &r.metadata)
                .await
                .map_err(|e| api_status(e, id))?;
            Ok(Response::new(match got {
                Some(g) => pb::GetStateResponse {
                    data: g.data.to_vec(),
                    etag: g.etag.unwrap_or_default(),
                    metadata: g.metadata,
                },
                None => pb::GetStateResponse::default(),
            }))
        }

        async fn get_bulk_state(
            &self,
            request: Request<pb::GetBulkStateRequest>,
        ) -> Result<Response<pb::GetBulkStateResponse>, Status> {
            let r = request.into_inner();
            let parallelism = usize::try_from(r.parallelism).ok().filter(|p| *p > 0).unwrap_or(100);
            let items = self
                .core
                .bulk_get_state(&r.store_name, r.keys, parallelism, &r.metadata)
                .await
                .map_err(|e| api_status(e, self.core.app_id()))?;
            let items = items
                .into_iter()
                .map(|i| pb::BulkStateItem {
                    key: i.key,
                    data: i.data.map(|d| d.to_vec()).unwrap_or_default(),
                    etag: i.etag.unwrap_or_default(),
                    error: i.error.unwrap_or_default(),
                    metadata: i.metadata,
                })
                .collect();
            Ok(Response::new(pb::GetBulkStateResponse { items }))
        }

        async fn save_state(
            &self,
            request: Request<pb::SaveStateRequest>,
        ) -> Result<Response<()>, Status> {
            let r = request.into_inner();
            let id = self.core.app_id();
            self.core.store(&r.store_name).map_err(|e| api_status(e, id))?;
            let items = r
                .states
                .into_iter()
                .map(set_request)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| api_status(e, id))?;
            self.core
                .save_state(&r.store_name, items)
                .await
                .map_err(|e| api_status(e, id))?;
            Ok(Response::new(()))
        }

        async fn delete_state(
            &self,
            request: Request<pb::DeleteStateRequest>,
        ) -> Result<Response<()>, Status> {
            let r = request.into_inner();
            let id = self.core.app_id();
            self.core.store(&r.store_name).map_err(|e| api_status(e, id))?;
            require_key(&r.key).map_err(|e| api_status(e, id))?;
            let req = DeleteRequest {
                key: r.key,
                etag: etag(r.etag),
                metadata: r.metadata,
                options: options(r.options),
            };
            self.core
                .delete_state(&r.store_name, req)
                .await
                .map_err(|e| api_status(e, id))?;
            Ok(Response::new(()))
        }

        async fn delete_bulk_state(
            &self,
            request: Request<pb::DeleteBulkStateRequest>,
        ) -> Result<Response<()>, Status> {
            let r = request.into_inner();
            let id = self.core.app_id();
            self.core.store(&r.store_name).map_err(|e| api_status(e, id))?;
            let reqs = r
                .states
                .into_iter()
                .map(delete_request)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| api_status(e, id))?;
            // One by one, as upstream's default bulk delete; the first failure stops.
            for req in reqs {
                self.core
                    .delete_state(&r.store_name, req)
                    .await
                    .map_err(|e| api_status(e, id))?;
            }
            Ok(Response::new(()))
        }

        async fn execute_state_transaction(
            &self,
            request: Request<pb::ExecuteStateTransactionRequest>,
        ) -> Result<Response<()>, Status> {
            let r = request.into_inner();
            let id = self.core.app_id();
            self.core.store(&r.store_name).map_err(|e| api_status(e, id))?;
            let mut ops = Vec::with_capacity(r.operations.len());
            for op in r.operations {
                let item = op.request.unwrap_or_default();
                let op = match op.operation_type.as_str() {
                    "upsert" => TransactionOp::Upsert(set_request(item).map_err(|e| api_status(e, id))?),
                    "delete" => TransactionOp::Delete(delete_request(item).map_err(|e| api_status(e, id))?),
                    other => return Err(api_status(ApiError::unsupported_state_operation(other), id)),
                };
                ops.push(op);
            }
            self.core
                .transact_state(&r.store_name, ops, &r.metadata)
                .await
                .map_err(|e| api_status(e, id))?;
            Ok(Response::new(()))
        }

        async fn publish_event(
            &self,
            request: Request<pb::PublishEventRequest>,
        ) -> Result<Response<()>, Status> {
            let e = ApiError::pubsub_not_found(&request.into_inner().pubsub_name);
            Err(api_status(e, self.core.app_id()))
        }

        async fn get_metadata(
            &self,
            _request: Request<pb::GetMetadataRequest>,
        ) -> Result<Response<pb::GetMetadataResponse>, Status> {
            Ok(Response::new(metadata_response(&self.core.metadata())))
        }

        async fn set_metadata(
            &self,
            request: Request<pb::SetMetadataRequest>,
        ) -> Result<Response<()>, Status> {
            let r = request.into_inner();
            self.core.set_extended(&r.key, r.value);
            Ok(Response::new(()))
        }

        async fn shutdown(
            &self,
            request: Request<pb::ShutdownRequest>,
        ) -> Result<Response<()>, Status> {
            let force = request.metadata().get("dapr-force-shutdown");
            self.core.request_shutdown(ShutdownRequest::from_force_header(
                force.and_then(|v| v.to_str().ok()),
            ));
            Ok(Response::new(()))
        }
    }
    QueryStateAlpha1 => query_state_alpha1(pb::QueryStateRequest) -> pb::QueryStateResponse;
    BulkPublishEventAlpha1 => bulk_publish_event_alpha1(pb::BulkPublishRequest) -> pb::BulkPublishResponse;
    BulkPublishEvent => bulk_publish_event(pb::BulkPublishRequest) -> pb::BulkPublishResponse;
    SubscribeTopicEventsAlpha1 => subscribe_topic_events_alpha1(tonic::Streaming<pb::SubscribeTopicEventsRequestAlpha1>) -> Self::SubscribeTopicEventsAlpha1Stream;
    InvokeBinding => invoke_binding(pb::InvokeBindingRequest) -> pb::InvokeBindingResponse;
    GetSecret => get_secret(pb::GetSecretRequest) -> pb::GetSecretResponse;
    GetBulkSecret => get_bulk_secret(pb::GetBulkSecretRequest) -> pb::GetBulkSecretResponse;
    RegisterActorTimer => register_actor_timer(pb::RegisterActorTimerRequest) -> ();
    UnregisterActorTimer => unregister_actor_timer(pb::UnregisterActorTimerRequest) -> ();
    RegisterActorReminder => register_actor_reminder(pb::RegisterActorReminderRequest) -> ();
    UnregisterActorReminder => unregister_actor_reminder(pb::UnregisterActorReminderRequest) -> ();
    UnregisterActorRemindersByType => unregister_actor_reminders_by_type(pb::UnregisterActorRemindersByTypeRequest) -> pb::UnregisterActorRemindersByTypeResponse;
    ListActorReminders => list_actor_reminders(pb::ListActorRemindersRequest) -> pb::ListActorRemindersResponse;
    GetActorState => get_actor_state(pb::GetActorStateRequest) -> pb::GetActorStateResponse;
    GetActorReminder => get_actor_reminder(pb::GetActorReminderRequest) -> pb::GetActorReminderResponse;
    ExecuteActorStateTransaction => execute_actor_state_transaction(pb::ExecuteActorStateTransactionRequest) -> ();
    InvokeActor => invoke_actor(pb::InvokeActorRequest) -> pb::InvokeActorResponse;
    GetConfigurationAlpha1 => get_configuration_alpha1(pb::GetConfigurationRequest) -> pb::GetConfigurationResponse;
    GetConfiguration => get_configuration(pb::GetConfigurationRequest) -> pb::GetConfigurationResponse;
    SubscribeConfigurationAlpha1 => subscribe_configuration_alpha1(pb::SubscribeConfigurationRequest) -> Self::SubscribeConfigurationAlpha1Stream;
    SubscribeConfiguration => subscribe_configuration(pb::SubscribeConfigurationRequest) -> Self::SubscribeConfigurationStream;
    UnsubscribeConfigurationAlpha1 => unsubscribe_configuration_alpha1(pb::UnsubscribeConfigurationRequest) -> pb::UnsubscribeConfigurationResponse;
    UnsubscribeConfiguration => unsubscribe_configuration(pb::UnsubscribeConfigurationRequest) -> pb::UnsubscribeConfigurationResponse;
    TryLockAlpha1 => try_lock_alpha1(pb::TryLockRequest) -> pb::TryLockResponse;
    UnlockAlpha1 => unlock_alpha1(pb::UnlockRequest) -> pb::UnlockResponse;
    EncryptAlpha1 => encrypt_alpha1(tonic::Streaming<pb::EncryptRequest>) -> Self::EncryptAlpha1Stream;
    DecryptAlpha1 => decrypt_alpha1(tonic::Streaming<pb::DecryptRequest>) -> Self::DecryptAlpha1Stream;
    SubtleGetKeyAlpha1 => subtle_get_key_alpha1(pb::SubtleGetKeyRequest) -> pb::SubtleGetKeyResponse;
    SubtleEncryptAlpha1 => subtle_encrypt_alpha1(pb::SubtleEncryptRequest) -> pb::SubtleEncryptResponse;
    SubtleDecryptAlpha1 => subtle_decrypt_alpha1(pb::SubtleDecryptRequest) -> pb::SubtleDecryptResponse;
    SubtleWrapKeyAlpha1 => subtle_wrap_key_alpha1(pb::SubtleWrapKeyRequest) -> pb::SubtleWrapKeyResponse;
    SubtleUnwrapKeyAlpha1 => subtle_unwrap_key_alpha1(pb::SubtleUnwrapKeyRequest) -> pb::SubtleUnwrapKeyResponse;
    SubtleSignAlpha1 => subtle_sign_alpha1(pb::SubtleSignRequest) -> pb::SubtleSignResponse;
    SubtleVerifyAlpha1 => subtle_verify_alpha1(pb::SubtleVerifyRequest) -> pb::SubtleVerifyResponse;
    StartWorkflowAlpha1 => start_workflow_alpha1(pb::StartWorkflowRequest) -> pb::StartWorkflowResponse;
    GetWorkflowAlpha1 => get_workflow_alpha1(pb::GetWorkflowRequest) -> pb::GetWorkflowResponse;
    PurgeWorkflowAlpha1 => purge_workflow_alpha1(pb::PurgeWorkflowRequest) -> ();
    TerminateWorkflowAlpha1 => terminate_workflow_alpha1(pb::TerminateWorkflowRequest) -> ();
    PauseWorkflowAlpha1 => pause_workflow_alpha1(pb::PauseWorkflowRequest) -> ();
    ResumeWorkflowAlpha1 => resume_workflow_alpha1(pb::ResumeWorkflowRequest) -> ();
    RaiseEventWorkflowAlpha1 => raise_event_workflow_alpha1(pb::RaiseEventWorkflowRequest) -> ();
    StartWorkflowBeta1 => start_workflow_beta1(pb::StartWorkflowRequest) -> pb::StartWorkflowResponse;
    GetWorkflowBeta1 => get_workflow_beta1(pb::GetWorkflowRequest) -> pb::GetWorkflowResponse;
    PurgeWorkflowBeta1 => purge_workflow_beta1(pb::PurgeWorkflowRequest) -> ();
    TerminateWorkflowBeta1 => terminate_workflow_beta1(pb::TerminateWorkflowRequest) -> ();
    PauseWorkflowBeta1 => pause_workflow_beta1(pb::PauseWorkflowRequest) -> ();
    ResumeWorkflowBeta1 => resume_workflow_beta1(pb::ResumeWorkflowRequest) -> ();
    RaiseEventWorkflowBeta1 => raise_event_workflow_beta1(pb::RaiseEventWorkflowRequest) -> ();
    ScheduleJobAlpha1 => schedule_job_alpha1(pb::ScheduleJobRequest) -> pb::ScheduleJobResponse;
    ScheduleJob => schedule_job(pb::ScheduleJobRequest) -> pb::ScheduleJobResponse;
    GetJobAlpha1 => get_job_alpha1(pb::GetJobRequest) -> pb::GetJobResponse;
    GetJob => get_job(pb::GetJobRequest) -> pb::GetJobResponse;
    DeleteJobAlpha1 => delete_job_alpha1(pb::DeleteJobRequest) -> pb::DeleteJobResponse;
    DeleteJob => delete_job(pb::DeleteJobRequest) -> pb::DeleteJobResponse;
    DeleteJobsByPrefixAlpha1 => delete_jobs_by_prefix_alpha1(pb::DeleteJobsByPrefixRequestAlpha1) -> pb::DeleteJobsByPrefixResponseAlpha1;
    DeleteJobsByPrefix => delete_jobs_by_prefix(pb::DeleteJobsByPrefixRequest) -> pb::DeleteJobsByPrefixResponse;
    ListJobsAlpha1 => list_jobs_alpha1(pb::ListJobsRequestAlpha1) -> pb::ListJobsResponseAlpha1;
    ListJobs => list_jobs(pb::ListJobsRequest) -> pb::ListJobsResponse;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_follow_upstream() {
        let nf = ApiError::state_store_not_found("s");
        assert_eq!(grpc_code(&nf), Code::InvalidArgument);
        assert_eq!(
            grpc_code(&ApiError::state_store_not_configured("s")),
            Code::FailedPrecondition
        );
        assert_eq!(
            grpc_code(&ApiError::illegal_key("a||b")),
            Code::InvalidArgument
        );
        assert_eq!(
            reason(&ApiError::illegal_key("a||b")),
            "DAPR_STATE_ILLEGAL_KEY"
        );
        let st = api_status(nf, "app1");
        assert_eq!(st.message(), "state store s is not found");
        let details = dapr::google::rpc::Status::decode(st.details()).unwrap();
        let info = ErrorInfo::decode(details.details[0].value.as_slice()).unwrap();
        assert_eq!(info.reason, "DAPR_STATE_NOT_FOUND");
        assert_eq!(info.metadata["errorCode"], "ERR_STATE_STORE_NOT_FOUND");
        assert_eq!(info.metadata["appID"], "app1");
    }

    #[test]
    fn json_values_are_reencoded_only_when_declared() {
        let mut m = Metadata::new();
        assert_eq!(
            stored_value(b"{ \"a\" : 1 }".to_vec(), &m).unwrap(),
            &b"{ \"a\" : 1 }"[..]
        );
        m.insert("contentType".into(), JSON.into());
        assert_eq!(
            stored_value(b"{ \"a\" : 1 }".to_vec(), &m).unwrap(),
            &b"{\"a\":1}"[..]
        );
        assert!(stored_value(b"nope".to_vec(), &m).is_err());
    }

    #[test]
    fn http_status_to_grpc_code() {
        assert_eq!(code_from_http(204), Code::Ok);
        assert_eq!(code_from_http(404), Code::NotFound);
        assert_eq!(code_from_http(500), Code::Unknown);
        assert_eq!(code_from_http(418), Code::Unknown);
    }
}

//! `--app-protocol grpc`: daprd as a client of the app's `dapr.proto.runtime.v1.AppCallback`.
//! The app is a real tonic server written here with the `dapr` crate's generated service
//! traits (it echoes what it received, fails with a status and details on demand, and records
//! pub/sub calls); daprd is a real process invoked over its HTTP and gRPC APIs, directly and
//! through a second sidecar. Pub/sub calls go through an in-process `AppChannel` against the
//! same app. The official SDKs as gRPC apps: the JS SDK's `DaprServer` in gRPC mode
//! (`tests/sdk/js_grpc_app.mjs`) and the Python SDK's `dapr.ext.grpc.App`
//! (`tests/sdk/python_grpc_app.py`). Also `--app-protocol h2c`, the other protocol besides
//! HTTP/1.1 that daprd speaks to apps.

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::app_callback_alpha_server::{
    AppCallbackAlpha, AppCallbackAlphaServer,
};
use dapr::dapr::proto::runtime::v1::app_callback_health_check_server::{
    AppCallbackHealthCheck, AppCallbackHealthCheckServer,
};
use dapr::dapr::proto::runtime::v1::app_callback_server::{AppCallback, AppCallbackServer};
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use dapr_cli::sidecar::api::grpc::status::ErrorInfo;
use dapr_cli::sidecar::app_channel::events::{
    BulkData, BulkEntry, BulkTopicEvent, EntryStatus, EventStatus, TopicEvent,
};
use dapr_cli::sidecar::app_channel::{AppChannel, AppSettings, ChannelError};
use dapr_cli::sidecar::messages::InvokeRequest;
use dapr_cli::sidecar::resiliency::Resiliency;
use prost::Message as _;
use serde_json::{Value, json};
use tonic::metadata::{KeyAndValueRef, MetadataMap};
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

use crate::sidecar_api::sidecar::{Daprd, Opts, client, spawn, start};
use crate::sidecar_grpc::{js_sdk_dir, sdk_script, sidecar_child};
use crate::support::{free_port, wait_until};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) const STRING_VALUE: &str = "type.googleapis.com/google.protobuf.StringValue";

/// What the test app records and how it answers.
pub(crate) struct AppState {
    healthy: AtomicBool,
    /// `ListTopicSubscriptions` answers `Unimplemented`.
    no_subscriptions: AtomicBool,
    events: Mutex<Vec<(pb::TopicEventRequest, HashMap<String, String>)>>,
    bulk: Mutex<Vec<pb::TopicEventBulkRequest>>,
}

impl AppState {
    pub(crate) fn new() -> Arc<AppState> {
        Arc::new(AppState {
            healthy: AtomicBool::new(true),
            no_subscriptions: AtomicBool::new(false),
            events: Mutex::new(Vec::new()),
            bulk: Mutex::new(Vec::new()),
        })
    }
}

struct TestApp(Arc<AppState>);

/// The request metadata the app saw, ASCII entries only.
fn metadata_map(md: &MetadataMap) -> HashMap<String, String> {
    md.iter()
        .filter_map(|kv| match kv {
            KeyAndValueRef::Ascii(k, v) => {
                Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))
            }
            KeyAndValueRef::Binary(..) => None,
        })
        .collect()
}

fn not_found_with_details() -> Status {
    let info = ErrorInfo {
        reason: "MISSING".into(),
        domain: "test.example".into(),
        metadata: [("order".to_string(), "42".to_string())].into(),
    };
    let details = dapr::google::rpc::Status {
        code: Code::NotFound as i32,
        message: "no such order".into(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: info.encode_to_vec(),
        }],
    };
    let mut md = MetadataMap::new();
    md.insert("x-app-trailer", "t".parse().unwrap());
    Status::with_details_and_metadata(
        Code::NotFound,
        "no such order",
        details.encode_to_vec().into(),
        md,
    )
}

#[tonic::async_trait]
impl AppCallback for TestApp {
    async fn on_invoke(
        &self,
        req: Request<common::InvokeRequest>,
    ) -> Result<Response<common::InvokeResponse>, Status> {
        let (md, _, msg) = req.into_parts();
        let reply = |data: prost_types::Any, content_type: &str| {
            let mut r = Response::new(common::InvokeResponse {
                data: Some(data),
                content_type: content_type.into(),
            });
            r.metadata_mut().insert("x-reply", "1".parse().unwrap());
            Ok(r)
        };
        let bytes = |v: Vec<u8>| prost_types::Any {
            type_url: String::new(),
            value: v,
        };
        match msg.method.as_str() {
            "fail" => Err(not_found_with_details()),
            "unknown" => Err(Status::unimplemented("unknown is not implemented")),
            "typed" => reply(
                prost_types::Any {
                    type_url: STRING_VALUE.into(),
                    value: b"\n\x02hi".to_vec(),
                },
                "",
            ),
            "big" => reply(bytes(vec![b'b'; 64 << 10]), "text/plain"),
            _ => {
                let ext = msg.http_extension.unwrap_or_default();
                let verb = common::http_extension::Verb::try_from(ext.verb)
                    .map(|v| v.as_str_name())
                    .unwrap_or("?");
                let data = msg.data.map(|a| a.value).unwrap_or_default();
                let echo = json!({
                    "method": msg.method,
                    "verb": verb,
                    "query": ext.querystring,
                    "content_type": msg.content_type,
                    "data": String::from_utf8_lossy(&data),
                    "metadata": metadata_map(&md),
                });
                reply(bytes(echo.to_string().into_bytes()), "application/json")
            }
        }
    }

    async fn list_topic_subscriptions(
        &self,
        _req: Request<()>,
    ) -> Result<Response<pb::ListTopicSubscriptionsResponse>, Status> {
        if self.0.no_subscriptions.load(Ordering::SeqCst) {
            return Err(Status::unimplemented("no subscriptions here"));
        }
        Ok(Response::new(pb::ListTopicSubscriptionsResponse {
            subscriptions: vec![
                pb::TopicSubscription {
                    pubsub_name: "pubsub".into(),
                    topic: "orders".into(),
                    metadata: [("rawPayload".to_string(), "true".to_string())].into(),
                    routes: None,
                    dead_letter_topic: "poison".into(),
                    bulk_subscribe: None,
                },
                pb::TopicSubscription {
                    pubsub_name: "pubsub".into(),
                    topic: "routed".into(),
                    metadata: HashMap::new(),
                    routes: Some(pb::TopicRoutes {
                        rules: vec![pb::TopicRule {
                            r#match: "event.type == \"big\"".into(),
                            path: "/big-orders".into(),
                        }],
                        default: "/orders".into(),
                    }),
                    dead_letter_topic: String::new(),
                    bulk_subscribe: Some(pb::BulkSubscribeConfig {
                        enabled: true,
                        max_messages_count: 50,
                        max_await_duration_ms: 200,
                    }),
                },
            ],
        }))
    }

    async fn on_topic_event(
        &self,
        req: Request<pb::TopicEventRequest>,
    ) -> Result<Response<pb::TopicEventResponse>, Status> {
        let (md, _, ev) = req.into_parts();
        let data = String::from_utf8_lossy(&ev.data).into_owned();
        self.0.events.lock().unwrap().push((ev, metadata_map(&md)));
        use pb::topic_event_response::TopicEventResponseStatus as S;
        let status = match data.as_str() {
            "\"retry\"" => S::Retry as i32,
            "\"drop\"" => S::Drop as i32,
            "\"weird\"" => 42,
            "\"unimplemented\"" => return Err(Status::unimplemented("no handler")),
            "\"boom\"" => return Err(Status::internal("boom")),
            _ => S::Success as i32,
        };
        Ok(Response::new(pb::TopicEventResponse { status }))
    }

    async fn list_input_bindings(
        &self,
        _req: Request<()>,
    ) -> Result<Response<pb::ListInputBindingsResponse>, Status> {
        Ok(Response::new(pb::ListInputBindingsResponse::default()))
    }

    async fn on_binding_event(
        &self,
        _req: Request<pb::BindingEventRequest>,
    ) -> Result<Response<pb::BindingEventResponse>, Status> {
        Err(Status::unimplemented("no bindings"))
    }

    /// Only the Alpha1 service handles batches: daprd must fall back to it.
    async fn on_bulk_topic_event(
        &self,
        _req: Request<pb::TopicEventBulkRequest>,
    ) -> Result<Response<pb::TopicEventBulkResponse>, Status> {
        Err(Status::unimplemented("use the alpha service"))
    }

    async fn on_job_event(
        &self,
        _req: Request<pb::JobEventRequest>,
    ) -> Result<Response<pb::JobEventResponse>, Status> {
        Err(Status::unimplemented("no jobs"))
    }
}

#[tonic::async_trait]
impl AppCallbackAlpha for TestApp {
    async fn on_bulk_topic_event_alpha1(
        &self,
        req: Request<pb::TopicEventBulkRequest>,
    ) -> Result<Response<pb::TopicEventBulkResponse>, Status> {
        let bulk = req.into_inner();
        use pb::topic_event_response::TopicEventResponseStatus as S;
        // e1 succeeds, e2 is dropped, e3 retried, the others are not named.
        let statuses = [("e1", S::Success), ("e2", S::Drop), ("e3", S::Retry)]
            .into_iter()
            .map(|(id, s)| pb::TopicEventBulkResponseEntry {
                entry_id: id.into(),
                status: s as i32,
            })
            .collect();
        self.0.bulk.lock().unwrap().push(bulk);
        Ok(Response::new(pb::TopicEventBulkResponse { statuses }))
    }

    async fn on_job_event_alpha1(
        &self,
        _req: Request<pb::JobEventRequest>,
    ) -> Result<Response<pb::JobEventResponse>, Status> {
        Err(Status::unimplemented("no jobs"))
    }
}

#[tonic::async_trait]
impl AppCallbackHealthCheck for TestApp {
    async fn health_check(
        &self,
        _req: Request<()>,
    ) -> Result<Response<pb::HealthCheckResponse>, Status> {
        if self.0.healthy.load(Ordering::SeqCst) {
            Ok(Response::new(pb::HealthCheckResponse {}))
        } else {
            Err(Status::unavailable("not now"))
        }
    }
}

/// Serves the test app on a free loopback port (on the current runtime).
pub(crate) async fn serve_app(state: Arc<AppState>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = tonic::transport::Server::builder()
        .add_service(AppCallbackServer::new(TestApp(state.clone())))
        .add_service(AppCallbackAlphaServer::new(TestApp(state.clone())))
        .add_service(AppCallbackHealthCheckServer::new(TestApp(state)))
        .serve_with_incoming(incoming);
    tokio::spawn(server);
    port
}

fn grpc_app_opts(app_id: &str, home: &std::path::Path, app_port: u16) -> Opts {
    Opts::new(app_id, home)
        .app_port(app_port)
        .arg("--app-protocol")
        .arg("grpc")
}

async fn connect(d: &Daprd) -> DaprClient<Channel> {
    let url = format!("http://127.0.0.1:{}", d.grpc_port);
    for _ in 0..50 {
        if let Ok(c) = DaprClient::connect(url.clone()).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot connect to the gRPC API at {url}\n{}", d.log());
}

fn invoke_request(
    app: &str,
    method: &str,
    verb: common::http_extension::Verb,
    query: &str,
    data: &[u8],
) -> pb::InvokeServiceRequest {
    pb::InvokeServiceRequest {
        id: app.into(),
        message: Some(common::InvokeRequest {
            method: method.into(),
            data: Some(prost_types::Any {
                type_url: String::new(),
                value: data.to_vec(),
            }),
            content_type: "text/plain".into(),
            http_extension: Some(common::HttpExtension {
                verb: verb as i32,
                querystring: query.into(),
            }),
        }),
    }
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The `not_found_with_details` status as the HTTP API renders it.
fn not_found_json() -> Value {
    json!({"code": 5, "message": "no such order", "details": [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "MISSING", "domain": "test.example", "metadata": {"order": "42"}
    }]})
}

/// Checks the app's status as a gRPC caller gets it: unchanged, with details and trailers.
fn assert_app_status(e: &Status) {
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    assert_eq!(e.message(), "no such order");
    let details = dapr::google::rpc::Status::decode(e.details()).unwrap();
    assert_eq!(details.code, Code::NotFound as i32);
    let info = ErrorInfo::decode(details.details[0].value.as_slice()).unwrap();
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("MISSING", "test.example")
    );
    assert_eq!(
        e.metadata()
            .get("x-app-trailer")
            .and_then(|v| v.to_str().ok()),
        Some("t"),
        "{e:?}"
    );
    assert!(
        e.metadata().get("dapr-http-status").is_none(),
        "a gRPC app's status is not an HTTP status: {e:?}"
    );
}

#[test]
fn a_grpc_app_is_invoked_over_the_http_api() {
    let rt = runtime();
    let app_port = rt.block_on(serve_app(AppState::new()));
    let home = tempfile::tempdir().unwrap();
    let d = start(
        &grpc_app_opts("gapp", home.path(), app_port)
            .arg("--max-body-size")
            .arg("16Ki")
            .env("APP_API_TOKEN", "app-secret"),
    );
    assert!(
        d.log().contains("application protocol: grpc"),
        "{}",
        d.log()
    );
    rt.block_on(async {
        let c = reqwest::Client::new();
        let md: Value = c
            .get(d.url("/v1.0/metadata"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(md["appConnectionProperties"]["protocol"], "grpc", "{md}");
        let res = c
            .put(d.url("/v1.0/invoke/gapp/method/echo?x=1&y=two"))
            .header("content-type", "text/plain")
            .header("x-custom", "abc")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(header(res.headers(), "content-type"), "application/json");
        assert_eq!(header(res.headers(), "x-reply"), "1");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["method"], "echo", "{v}");
        assert_eq!(v["verb"], "PUT", "{v}");
        assert_eq!(v["query"], "x=1&y=two", "{v}");
        assert_eq!(v["content_type"], "text/plain", "{v}");
        assert_eq!(v["data"], "hello", "{v}");
        let md = &v["metadata"];
        assert_eq!(md["x-custom"], "abc", "{v}");
        assert_eq!(md["dapr-content-type"], "text/plain", "{v}");
        assert_eq!(md["dapr-api-token"], "app-secret", "{v}");
        assert_eq!(md["dapr-caller-app-id"], "gapp", "{v}");

        // Verbs and nested methods; a body-less GET.
        let v: Value = c
            .get(d.url("/v1.0/invoke/gapp/method/orders/list"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (v["method"].as_str(), v["verb"].as_str()),
            (Some("orders/list"), Some("GET"))
        );
        assert_eq!(v["data"], "");

        // The app's error status: the mapped HTTP status and the status as JSON.
        let res = c
            .post(d.url("/v1.0/invoke/gapp/method/fail"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(header(res.headers(), "content-type"), "application/json");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v, not_found_json());
        let res = c
            .post(d.url("/v1.0/invoke/gapp/method/unknown"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 501);
        let v: Value = res.json().await.unwrap();
        assert_eq!(
            v,
            json!({"code": 12, "message": "unknown is not implemented"})
        );

        // Typed data is protobuf for HTTP callers.
        let res = c
            .get(d.url("/v1.0/invoke/gapp/method/typed"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            header(res.headers(), "content-type"),
            "application/x-protobuf"
        );
        assert_eq!(res.bytes().await.unwrap().as_ref(), b"\n\x02hi");

        // A reply over --max-body-size is the sidecar's own error.
        let res = c
            .get(d.url("/v1.0/invoke/gapp/method/big"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 500);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE", "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("larger than the limit of 16384 bytes"),
            "{v}"
        );
    });
}

#[test]
fn a_grpc_app_is_invoked_over_the_grpc_api_directly_and_through_another_sidecar() {
    use common::http_extension::Verb;
    let rt = runtime();
    let app_port = rt.block_on(serve_app(AppState::new()));
    let home = tempfile::tempdir().unwrap();
    let d = start(&grpc_app_opts("gapp2", home.path(), app_port));
    // A second sidecar without an app, sharing name resolution (same HOME).
    let caller = start(&Opts::new("caller", home.path()));
    rt.block_on(async {
        for (via, d) in [("gapp2's sidecar", &d), ("another sidecar", &caller)] {
            let mut c = connect(d).await;
            let mut req =
                tonic::Request::new(invoke_request("gapp2", "echo", Verb::Post, "q=1", b"ping"));
            req.metadata_mut()
                .insert("x-grpc-caller", "yes".parse().unwrap());
            let res = c.invoke_service(req).await.unwrap();
            assert_eq!(
                res.metadata().get("x-reply").and_then(|v| v.to_str().ok()),
                Some("1"),
                "{via}"
            );
            let body = res.into_inner();
            assert_eq!(body.content_type, "application/json", "{via}");
            let v: Value = serde_json::from_slice(&body.data.unwrap().value).unwrap();
            assert_eq!(v["method"], "echo", "{via}: {v}");
            assert_eq!(v["verb"], "POST", "{via}: {v}");
            assert_eq!(v["query"], "q=1", "{via}: {v}");
            assert_eq!(v["content_type"], "text/plain", "{via}: {v}");
            assert_eq!(v["data"], "ping", "{via}: {v}");
            assert_eq!(v["metadata"]["x-grpc-caller"], "yes", "{via}: {v}");
            let me = if via == "another sidecar" {
                "caller"
            } else {
                "gapp2"
            };
            assert_eq!(v["metadata"]["dapr-caller-app-id"], me, "{via}: {v}");

            // The app's status comes back unchanged: code, message, details, trailers.
            let e = c
                .invoke_service(invoke_request("gapp2", "fail", Verb::Get, "", b""))
                .await
                .unwrap_err();
            assert_app_status(&e);
            let e = c
                .invoke_service(invoke_request("gapp2", "unknown", Verb::Get, "", b""))
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::Unimplemented, "{via}: {e:?}");
            assert_eq!(e.message(), "unknown is not implemented");

            // Typed data keeps its type.
            let res = c
                .invoke_service(invoke_request("gapp2", "typed", Verb::Get, "", b""))
                .await
                .unwrap()
                .into_inner();
            let data = res.data.unwrap();
            assert_eq!(data.type_url, STRING_VALUE, "{via}");
            assert_eq!(data.value, b"\n\x02hi");
        }
        // Over the other sidecar's HTTP API, the same mapping as locally.
        let res = reqwest::Client::new()
            .post(caller.url("/v1.0/invoke/gapp2/method/fail"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(res.json::<Value>().await.unwrap(), not_found_json());
    });
}

#[test]
fn grpc_health_check_marks_the_app_unhealthy_and_healthy_again() {
    let rt = runtime();
    let state = AppState::new();
    let app_port = rt.block_on(serve_app(state.clone()));
    let home = tempfile::tempdir().unwrap();
    let d = start(
        &grpc_app_opts("ghealth", home.path(), app_port)
            .arg("--enable-app-health-check")
            .arg("--app-health-probe-interval")
            .arg("1")
            .arg("--app-health-threshold")
            .arg("1")
            // Ignored for gRPC apps, as upstream: nothing serves this path.
            .arg("--app-health-check-path")
            .arg("/nowhere"),
    );
    let http = client();
    let url = d.url("/v1.0/invoke/ghealth/method/echo");
    let ok = || {
        http.post(&url)
            .send()
            .map(|r| r.status() == 200)
            .unwrap_or(false)
    };
    assert!(ok(), "healthy app answers:\n{}", d.log());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !d.log().contains("App entered unhealthy status"),
        "the HealthCheck RPC answered OK:\n{}",
        d.log()
    );

    state.healthy.store(false, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(10), || d
            .log()
            .contains("App entered unhealthy status")),
        "{}",
        d.log()
    );
    let res = http.post(&url).send().unwrap();
    assert_eq!(res.status(), 500);
    let v: Value = res.json().unwrap();
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("app is not in a healthy state"),
        "{v}"
    );

    state.healthy.store(true, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(10), || d
            .log()
            .contains("App entered healthy status")),
        "{}",
        d.log()
    );
    assert!(ok(), "{}", d.log());
    drop(rt);
}

fn channel_to(port: u16, token: Option<&str>) -> AppChannel {
    AppChannel::new(
        &AppSettings {
            port: Some(port),
            address: "127.0.0.1".into(),
            protocol: "grpc".into(),
            token: token.map(str::to_string),
            max_concurrency: None,
            max_body_size: 4 << 20,
        },
        Resiliency::default(),
    )
    .unwrap()
}

fn event(data: &str) -> TopicEvent {
    let envelope = json!({
        "id": "ev-1", "source": "publisher", "type": "com.dapr.event.sent",
        "specversion": "1.0", "datacontenttype": "application/json",
        "data": serde_json::from_str::<Value>(data).unwrap(),
        "topic": "orders", "pubsubname": "pubsub", "traceparent": "00-abc-def-01",
        "priority": 3
    });
    TopicEvent {
        pubsub_name: "pubsub".into(),
        topic: "orders".into(),
        path: "/orders".into(),
        envelope: envelope.as_object().unwrap().clone(),
        metadata: [("Kafka-Key".to_string(), "k1".to_string())].into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_and_events_through_the_grpc_app_channel() {
    let state = AppState::new();
    let port = serve_app(state.clone()).await;
    let ch = channel_to(port, Some("app-secret"));

    let subs = ch.subscriptions().await.unwrap();
    assert_eq!(subs.len(), 2, "{subs:?}");
    assert_eq!(
        (subs[0].pubsub_name.as_str(), subs[0].topic.as_str()),
        ("pubsub", "orders")
    );
    assert_eq!(subs[0].metadata["rawPayload"], "true");
    assert_eq!(subs[0].dead_letter_topic.as_deref(), Some("poison"));
    // No routes: every event, with an empty path, as upstream.
    assert_eq!(subs[0].routes.rules.len(), 1);
    assert_eq!(
        (
            subs[0].routes.rules[0].matcher.as_str(),
            subs[0].routes.rules[0].path.as_str()
        ),
        ("", "")
    );
    assert_eq!(subs[1].routes.rules[0].matcher, "event.type == \"big\"");
    assert_eq!(subs[1].routes.rules[0].path, "/big-orders");
    assert_eq!(subs[1].routes.default, "/orders");
    assert!(subs[1].bulk.enabled);
    assert_eq!(
        (
            subs[1].bulk.max_messages_count,
            subs[1].bulk.max_await_duration_ms
        ),
        (50, 200)
    );
    state.no_subscriptions.store(true, Ordering::SeqCst);
    assert!(
        ch.subscriptions().await.unwrap().is_empty(),
        "Unimplemented = no subscriptions"
    );

    // One event: the envelope's fields, data as bytes, the rest as extensions.
    let st = ch.topic_event(&event(r#"{"orderId":7}"#)).await.unwrap();
    assert_eq!(st, EventStatus::Success);
    let (ev, md) = state.events.lock().unwrap().last().cloned().unwrap();
    assert_eq!((ev.id.as_str(), ev.source.as_str()), ("ev-1", "publisher"));
    assert_eq!(
        (ev.r#type.as_str(), ev.spec_version.as_str()),
        ("com.dapr.event.sent", "1.0")
    );
    assert_eq!(ev.data_content_type, "application/json");
    assert_eq!(ev.data, br#"{"orderId":7}"#);
    assert_eq!(
        (ev.topic.as_str(), ev.pubsub_name.as_str(), ev.path.as_str()),
        ("orders", "pubsub", "/orders")
    );
    let ext = ev.extensions.unwrap().fields;
    let mut keys: Vec<&str> = ext.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["priority", "pubsubname", "topic", "traceparent"]);
    assert_eq!(
        md.get("kafka-key").map(String::as_str),
        Some("k1"),
        "{md:?}"
    );
    assert_eq!(
        md.get("dapr-api-token").map(String::as_str),
        Some("app-secret")
    );

    // The app's verdicts; Unimplemented drops; other errors are failures to retry.
    let verdict = |data: &'static str| {
        let ch = &ch;
        async move { ch.topic_event(&event(data)).await }
    };
    assert_eq!(verdict(r#""retry""#).await.unwrap(), EventStatus::Retry);
    assert_eq!(verdict(r#""drop""#).await.unwrap(), EventStatus::Drop);
    assert_eq!(verdict(r#""weird""#).await.unwrap(), EventStatus::Retry);
    assert_eq!(
        verdict(r#""unimplemented""#).await.unwrap(),
        EventStatus::Drop
    );
    let e = verdict(r#""boom""#).await.unwrap_err().to_string();
    assert!(e.contains("ev-1") && e.contains("boom"), "{e}");

    // A raw payload (data_base64) arrives as its bytes.
    let mut raw = event("null");
    raw.envelope.remove("data");
    raw.envelope
        .insert("datacontenttype".into(), json!("application/octet-stream"));
    raw.envelope.insert("data_base64".into(), json!("AAH/"));
    ch.topic_event(&raw).await.unwrap();
    let (ev, _) = state.events.lock().unwrap().last().cloned().unwrap();
    assert_eq!(ev.data, [0, 1, 255]);

    // A batch: OnBulkTopicEvent is unimplemented, so it goes to OnBulkTopicEventAlpha1.
    let entry = |id: &str, event: BulkData| BulkEntry {
        entry_id: id.into(),
        event,
        content_type: "application/cloudevents+json".into(),
        metadata: HashMap::new(),
    };
    let batch = BulkTopicEvent {
        id: "batch-1".into(),
        pubsub_name: "pubsub".into(),
        topic: "orders".into(),
        path: "/orders".into(),
        metadata: HashMap::new(),
        entries: vec![
            entry("e1", BulkData::CloudEvent(event(r#"{"n":1}"#).envelope)),
            entry("e2", BulkData::Raw(bytes::Bytes::from_static(b"raw"))),
            entry("e3", BulkData::CloudEvent(event(r#"{"n":3}"#).envelope)),
            entry("e4", BulkData::CloudEvent(event(r#"{"n":4}"#).envelope)),
        ],
    };
    let statuses = ch.bulk_topic_event(&batch).await.unwrap();
    let expect = |id: &str, status| EntryStatus {
        entry_id: id.into(),
        status,
    };
    assert_eq!(
        statuses,
        [
            expect("e1", EventStatus::Success),
            expect("e2", EventStatus::Drop),
            expect("e3", EventStatus::Retry),
            expect("e4", EventStatus::Retry),
        ]
    );
    let got = state.bulk.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (got.id.as_str(), got.r#type.as_str()),
        ("batch-1", "com.dapr.event.sent.bulk")
    );
    use pb::topic_event_bulk_request_entry::Event;
    match &got.entries[0].event {
        Some(Event::CloudEvent(ce)) => assert_eq!(ce.data, br#"{"n":1}"#),
        other => panic!("{other:?}"),
    }
    assert_eq!(got.entries[1].event, Some(Event::Bytes(b"raw".to_vec())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_is_not_listening_is_a_channel_error() {
    let port = free_port();
    let ch = channel_to(port, None);
    let e = ch.subscriptions().await.unwrap_err().to_string();
    assert!(e.contains("error getting topic list from app"), "{e}");
    let e = ch.topic_event(&event("1")).await.unwrap_err().to_string();
    assert!(e.contains("error returned from app"), "{e}");
    // Not an app status (no HTTP 503 answer): the invoker's ERR_DIRECT_INVOKE.
    let req = InvokeRequest::new("m", axum::http::Method::POST, axum::body::Body::empty());
    let e = ch.invoke(req).await.unwrap_err();
    assert!(matches!(e, ChannelError::Request(_)), "{e:?}");
}

/// daprd on fixed ports (an SDK app must know them before daprd starts); waits until its
/// outbound health answers.
fn start_on(opts: &Opts, http_port: u16) -> Daprd {
    let mut d = spawn(opts, http_port);
    let http = client();
    let url = d.url("/v1.0/healthz/outbound");
    let up = wait_until(Duration::from_secs(30), || {
        matches!(d.child.0.try_wait(), Ok(Some(_)))
            || http
                .get(&url)
                .send()
                .map(|r| r.status() == 204)
                .unwrap_or(false)
    });
    assert!(
        up && d.child.0.try_wait().unwrap().is_none(),
        "daprd did not start:\n{}",
        d.log()
    );
    d
}

#[test]
fn js_sdk_dapr_server_in_grpc_mode_is_invoked_through_daprd() {
    let dir = js_sdk_dir();
    let home = tempfile::tempdir().unwrap();
    let (app_port, http_port, grpc_port) = (free_port(), free_port(), free_port());
    // The app first: DaprServer.start() waits for its sidecar, which waits for the app.
    let mut cmd = Command::new("node");
    crate::support::without_developer_env(&mut cmd)
        .arg(sdk_script("js_grpc_app.mjs"))
        .current_dir(&dir)
        .env("APP_ID", "jsgrpcapp")
        .env("APP_PORT", app_port.to_string())
        .env("DAPR_HTTP_PORT", http_port.to_string())
        .env("DAPR_GRPC_PORT", grpc_port.to_string());
    let mut app = sidecar_child(cmd);
    assert!(
        wait_until(Duration::from_secs(30), || std::net::TcpStream::connect((
            "127.0.0.1",
            app_port
        ))
        .is_ok()),
        "the JS app did not listen:\n{}",
        app.output()
    );
    let d = start_on(
        &grpc_app_opts("jsgrpcapp", home.path(), app_port).grpc_port(grpc_port),
        http_port,
    );
    let status = app.wait_with_timeout(Duration::from_secs(60));
    assert!(
        status.is_some_and(|s| s.success()),
        "JS SDK gRPC app checks failed ({status:?}):\n{}\n--- daprd log:\n{}",
        app.output(),
        d.log()
    );
}

#[test]
fn python_sdk_grpc_app_is_invoked_through_daprd() {
    use common::http_extension::Verb;
    let probe = Command::new("python3")
        .args(["-c", "import dapr.ext.grpc"])
        .output()
        .expect("python3 must be installed");
    assert!(
        probe.status.success(),
        "the official Python SDK's gRPC app extension is not importable; install it with: \
         python3 -m pip install \"dapr[grpc]==1.19.*\"\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let app_port = free_port();
    let mut cmd = Command::new("python3");
    crate::support::without_developer_env(&mut cmd)
        .arg(sdk_script("python_grpc_app.py"))
        .env("APP_PORT", app_port.to_string());
    let app = sidecar_child(cmd);
    assert!(
        wait_until(Duration::from_secs(30), || std::net::TcpStream::connect((
            "127.0.0.1",
            app_port
        ))
        .is_ok()),
        "the Python app did not listen:\n{}",
        app.output()
    );
    let home = tempfile::tempdir().unwrap();
    let d = start(
        &grpc_app_opts("pygrpcapp", home.path(), app_port)
            .arg("--enable-app-health-check")
            .arg("--app-health-probe-interval")
            .arg("1"),
    );
    let rt = runtime();
    let fail = |what: &str| {
        format!(
            "{what}\n--- app:\n{}\n--- daprd:\n{}",
            app.output(),
            d.log()
        )
    };
    rt.block_on(async {
        let res = reqwest::Client::new()
            .post(d.url("/v1.0/invoke/pygrpcapp/method/echo?a=1"))
            .header("content-type", "text/plain")
            .header("x-custom", "abc")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", fail("echo over HTTP"));
        assert_eq!(header(res.headers(), "content-type"), "application/json");
        assert_eq!(header(res.headers(), "x-py"), "yes", "{}", fail("headers"));
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["text"], "hello", "{v}");
        assert_eq!(v["content_type"], "text/plain", "{v}");
        assert_eq!(v["metadata"]["x-custom"], json!(["abc"]), "{v}");
        assert_eq!(
            v["metadata"]["dapr-content-type"],
            json!(["text/plain"]),
            "{v}"
        );

        // An exception in the handler is the app's UNKNOWN status.
        let res = reqwest::Client::new()
            .post(d.url("/v1.0/invoke/pygrpcapp/method/fail"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 500, "{}", fail("fail over HTTP"));
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["code"], 2, "{v}");
        assert!(v["message"].as_str().unwrap().contains("boom"), "{v}");

        let mut c = connect(&d).await;
        let res = c
            .invoke_service(invoke_request(
                "pygrpcapp",
                "echo",
                Verb::Put,
                "b=2",
                b"ping",
            ))
            .await
            .unwrap_or_else(|e| panic!("{}", fail(&format!("{e:?}"))))
            .into_inner();
        assert_eq!(res.content_type, "application/json");
        let v: Value = serde_json::from_slice(&res.data.unwrap().value).unwrap();
        assert_eq!(v["text"], "ping", "{v}");
        // Proto replies keep their type for gRPC callers.
        let res = c
            .invoke_service(invoke_request("pygrpcapp", "proto", Verb::Post, "", b""))
            .await
            .unwrap()
            .into_inner();
        let data = res.data.unwrap();
        assert_eq!(data.type_url, STRING_VALUE);
        assert_eq!(data.value, b"\n\x07from-py");
        let e = c
            .invoke_service(invoke_request("pygrpcapp", "nope", Verb::Post, "", b""))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unimplemented, "{e:?}");
    });
    // The app registered a health check: the prober finds it healthy.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !d.log().contains("App entered unhealthy status"),
        "{}",
        fail("health")
    );
    drop(app);
}

/// An HTTP app served by axum (HTTP/1.1 and HTTP/2 prior knowledge): `/healthz` answers
/// while `healthy`, every other path echoes the HTTP version and method it was called with.
async fn h2c_app(healthy: Arc<AtomicBool>) -> u16 {
    use axum::extract::Request as HttpRequest;
    use axum::response::IntoResponse;
    let handle = move |req: HttpRequest| {
        let healthy = healthy.clone();
        async move {
            if req.uri().path() == "/healthz" {
                let ok = healthy.load(Ordering::SeqCst);
                let status = if ok { 200 } else { 503 };
                return (axum::http::StatusCode::from_u16(status).unwrap(), "").into_response();
            }
            let version = format!("{:?}", req.version());
            let method = req.method().to_string();
            let path = req.uri().path().to_string();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let out = json!({
                "version": version, "method": method, "path": path,
                "body": String::from_utf8_lossy(&body),
            });
            ([("content-type", "application/json")], out.to_string()).into_response()
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(handle)).await;
    });
    port
}

#[test]
fn an_h2c_app_is_spoken_to_in_http2_and_probed_over_it() {
    let rt = runtime();
    let healthy = Arc::new(AtomicBool::new(true));
    let app_port = rt.block_on(h2c_app(healthy.clone()));
    let home = tempfile::tempdir().unwrap();
    let d = start(
        &Opts::new("h2capp", home.path())
            .app_port(app_port)
            .arg("--app-protocol")
            .arg("h2c")
            .arg("--enable-app-health-check")
            .arg("--app-health-probe-interval")
            .arg("1")
            .arg("--app-health-threshold")
            .arg("1"),
    );
    let http = client();
    let url = d.url("/v1.0/invoke/h2capp/method/orders/new");
    let res = http.put(&url).body("o-1").send().unwrap();
    assert_eq!(res.status(), 200, "{}", d.log());
    let v: Value = res.json().unwrap();
    assert_eq!(
        v,
        json!({"version": "HTTP/2.0", "method": "PUT", "path": "/orders/new", "body": "o-1"})
    );
    let md: Value = http
        .get(d.url("/v1.0/metadata"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(md["appConnectionProperties"]["protocol"], "h2c", "{md}");

    healthy.store(false, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(10), || d
            .log()
            .contains("App entered unhealthy status")),
        "the probe reaches /healthz over HTTP/2:\n{}",
        d.log()
    );
    healthy.store(true, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(10), || d
            .log()
            .contains("App entered healthy status")),
        "{}",
        d.log()
    );
    drop(rt);
}

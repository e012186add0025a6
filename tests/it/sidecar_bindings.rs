//! Bindings through a real daprd: cron input bindings firing an HTTP app's route (after the
//! `OPTIONS` probe, or without it for `direction: input`) and a gRPC app's
//! `OnBindingEvent` (whose answer is sent on to an output binding); output round trips
//! over the HTTP and gRPC APIs through `bindings.localstorage`, `bindings.http`,
//! `bindings.redis` and `bindings.postgresql` with upstream's status and error codes; and
//! the official SDKs (Python `invoke_binding`, JS `binding.send` and
//! `DaprServer.binding.receive`).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::app_callback_server::{AppCallback, AppCallbackServer};
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use serde_json::{Value, json};
use tonic::{Request, Response, Status};

use crate::sidecar_api::sidecar::{Opts, client, start, write_component};
use crate::sidecar_grpc::{js_sdk_dir, run_script, sdk_script};
use crate::support::postgres::Postgres;
use crate::support::{self, Redis, free_port, wait_until};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Requests an HTTP app received: (method, path, headers).
type Seen = Arc<Mutex<Vec<(String, String, HashMap<String, String>)>>>;

/// An HTTP app on `port`: `/cronjob` answers `OPTIONS` and `POST`; `/forced` only `POST`;
/// every other path is 404.
async fn http_app(port: u16, seen: Seen) {
    use axum::extract::{Request as AxRequest, State};
    use axum::routing::{options, post};
    async fn record(State(s): State<Seen>, r: AxRequest) -> &'static str {
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        s.lock()
            .unwrap()
            .push((r.method().to_string(), r.uri().path().to_string(), headers));
        "ok"
    }
    let app = axum::Router::new()
        .route("/cronjob", post(record).options(record))
        .route("/forced", post(record))
        .route("/nothere-either", options(|| async { "" }))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
}

#[test]
fn cron_input_bindings_fire_the_http_app_route() {
    let rt = runtime();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "cronjob",
        "bindings.cron",
        &[("schedule", "@every 1s")],
    );
    // Its route does not answer OPTIONS: the app has not subscribed.
    write_component(
        &res,
        "quiet",
        "bindings.cron",
        &[("schedule", "@every 1s"), ("route", "/nothere")],
    );
    // An explicit input direction skips the probe (the app only answers POST there).
    write_component(
        &res,
        "forced",
        "bindings.cron",
        &[("schedule", "*/1 * * * * *"), ("direction", "input")],
    );
    let app_port = free_port();
    let seen: Seen = Arc::default();
    rt.block_on(http_app(app_port, seen.clone()));
    let d = start(
        &Opts::new("cronapp", home.path())
            .resources(&res)
            .app_port(app_port),
    );
    let posts = |path: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == "POST" && p == path)
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(15), || posts("/cronjob") >= 2
            && posts("/forced") >= 2),
        "cron events did not arrive: {:?}\n{}",
        seen.lock().unwrap(),
        d.log()
    );
    let all = seen.lock().unwrap().clone();
    assert!(
        all.iter()
            .any(|(m, p, _)| m == "OPTIONS" && p == "/cronjob"),
        "{all:?}"
    );
    assert!(
        !all.iter().any(|(m, p, _)| m == "OPTIONS" && p == "/forced"),
        "{all:?}"
    );
    assert!(
        !all.iter().any(|(m, p, _)| m == "POST" && p == "/nothere"),
        "{all:?}"
    );
    let (_, _, headers) = all
        .iter()
        .find(|(m, p, _)| m == "POST" && p == "/cronjob")
        .unwrap();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["timezone"], "Local");
    assert!(headers["readtimeutc"].ends_with("+0000 UTC"), "{headers:?}");
    assert!(
        d.log().contains("app has not subscribed to binding quiet."),
        "{}",
        d.log()
    );

    // Metadata lists the bindings with upstream's capability.
    let meta: Value = client()
        .get(d.url("/v1.0/metadata"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let cron = meta["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cronjob")
        .unwrap()
        .clone();
    assert_eq!(
        cron,
        json!({"name": "cronjob", "type": "bindings.cron", "version": "v1", "capabilities": ["INPUT_BINDING"]})
    );

    // Shutdown stops the schedule.
    let mut d = d;
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        d.wait_exit(Duration::from_secs(10)).is_some(),
        "{}",
        d.log()
    );
    let n = posts("/cronjob");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(posts("/cronjob"), n);
}

/// A gRPC app taking the input binding `grpccron`; its answer sends `{"n":1}` on to the
/// output binding `files`.
#[derive(Default)]
struct GrpcApp {
    events: Mutex<Vec<pb::BindingEventRequest>>,
}

struct GrpcAppService(Arc<GrpcApp>);

#[tonic::async_trait]
impl AppCallback for GrpcAppService {
    async fn on_invoke(
        &self,
        _r: Request<common::InvokeRequest>,
    ) -> Result<Response<common::InvokeResponse>, Status> {
        Err(Status::unimplemented("no"))
    }
    async fn list_topic_subscriptions(
        &self,
        _r: Request<()>,
    ) -> Result<Response<pb::ListTopicSubscriptionsResponse>, Status> {
        Ok(Response::new(pb::ListTopicSubscriptionsResponse::default()))
    }
    async fn on_topic_event(
        &self,
        _r: Request<pb::TopicEventRequest>,
    ) -> Result<Response<pb::TopicEventResponse>, Status> {
        Err(Status::unimplemented("no"))
    }
    async fn list_input_bindings(
        &self,
        _r: Request<()>,
    ) -> Result<Response<pb::ListInputBindingsResponse>, Status> {
        Ok(Response::new(pb::ListInputBindingsResponse {
            bindings: vec!["grpccron".into()],
        }))
    }
    async fn on_binding_event(
        &self,
        r: Request<pb::BindingEventRequest>,
    ) -> Result<Response<pb::BindingEventResponse>, Status> {
        self.0.events.lock().unwrap().push(r.into_inner());
        Ok(Response::new(pb::BindingEventResponse {
            to: vec!["files".into()],
            data: br#"{"n": 1}"#.to_vec(),
            ..Default::default()
        }))
    }
    async fn on_bulk_topic_event(
        &self,
        _r: Request<pb::TopicEventBulkRequest>,
    ) -> Result<Response<pb::TopicEventBulkResponse>, Status> {
        Err(Status::unimplemented("no"))
    }
    async fn on_job_event(
        &self,
        _r: Request<pb::JobEventRequest>,
    ) -> Result<Response<pb::JobEventResponse>, Status> {
        Err(Status::unimplemented("no"))
    }
}

#[test]
fn cron_input_binding_reaches_a_grpc_app_whose_answer_goes_to_an_output_binding() {
    let rt = runtime();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    let files = home.path().join("files");
    write_component(
        &res,
        "grpccron",
        "bindings.cron",
        &[("schedule", "@every 1s")],
    );
    // Not listed by the app: never read.
    write_component(
        &res,
        "unlisted",
        "bindings.cron",
        &[("schedule", "@every 1s")],
    );
    write_component(
        &res,
        "files",
        "bindings.localstorage",
        &[("rootPath", files.to_str().unwrap())],
    );
    let app = Arc::new(GrpcApp::default());
    let port = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(AppCallbackServer::new(GrpcAppService(app.clone())))
                .serve_with_incoming(incoming),
        );
        port
    });
    let d = start(
        &Opts::new("grpccronapp", home.path())
            .resources(&res)
            .app_port(port)
            .arg("--app-protocol")
            .arg("grpc"),
    );
    let stored = || std::fs::read_dir(&files).map(|r| r.count()).unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(15), || app.events.lock().unwrap().len()
            >= 2
            && stored() >= 2),
        "events: {}, files: {}\n{}",
        app.events.lock().unwrap().len(),
        stored(),
        d.log()
    );
    let events = app.events.lock().unwrap().clone();
    assert!(events.iter().all(|e| e.name == "grpccron"), "{events:?}");
    assert!(events[0].data.is_empty());
    assert_eq!(events[0].metadata["timeZone"], "Local");
    let first = std::fs::read_dir(&files)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(std::fs::read_to_string(first).unwrap(), r#"{"n":1}"#);
    assert!(
        d.log()
            .contains("app has not subscribed to binding unlisted."),
        "{}",
        d.log()
    );
}

/// An echo server for `bindings.http`: `POST /api/orders` answers the body with 201 and
/// `x-order: 7`; anything else 404.
async fn web_server() -> u16 {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/api/orders",
        post(|body: bytes::Bytes| async move {
            (axum::http::StatusCode::CREATED, [("x-order", "7")], body)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[test]
fn output_bindings_over_the_http_and_grpc_apis() {
    let rt = runtime();
    let redis = Redis::start();
    let pg = Postgres::start();
    let web = rt.block_on(web_server());
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    let files = home.path().join("files");
    write_component(
        &res,
        "files",
        "bindings.localstorage",
        &[("rootPath", files.to_str().unwrap())],
    );
    write_component(
        &res,
        "web",
        "bindings.http",
        &[("url", &format!("http://127.0.0.1:{web}/api"))],
    );
    write_component(
        &res,
        "cache",
        "bindings.redis",
        &[("redisHost", &redis.addr())],
    );
    write_component(
        &res,
        "db",
        "bindings.postgresql",
        &[("connectionString", &pg.connection_string())],
    );
    write_component(
        &res,
        "db2",
        "bindings.postgres",
        &[("url", &pg.url()), ("direction", "output")],
    );
    let d = start(&Opts::new("outputs", home.path()).resources(&res));
    let c = client();
    let post = |name: &str, body: &str| {
        let r = c
            .post(d.url(&format!("/v1.0/bindings/{name}")))
            .body(body.to_string())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().unwrap())
    };

    // localstorage: a JSON string is stored as its text.
    let (s, _, body) = post(
        "files",
        r#"{"operation":"create","data":"hi there","metadata":{"fileName":"a.txt"}}"#,
    );
    assert_eq!((s, body.as_str()), (200, r#"{"fileName":"a.txt"}"#));
    assert_eq!(
        std::fs::read_to_string(files.join("a.txt")).unwrap(),
        "hi there"
    );
    let (s, h, body) = post(
        "files",
        r#"{"operation":"get","metadata":{"fileName":"a.txt"}}"#,
    );
    assert_eq!((s, body.as_str()), (200, "hi there"));
    assert_eq!(h["content-type"], "application/json");
    let (s, _, body) = post(
        "files",
        r#"{"operation":"delete","metadata":{"fileName":"a.txt"}}"#,
    );
    assert_eq!((s, body.as_str()), (204, ""));

    // http: the answer and its status and headers as metadata.* headers.
    let (s, h, body) = post(
        "web",
        r#"{"operation":"post","data":{"id":7},"metadata":{"path":"orders"}}"#,
    );
    assert_eq!((s, body.as_str()), (200, r#"{"id":7}"#));
    assert_eq!(h["metadata.statuscode"], "201");
    assert_eq!(h["metadata.x-order"], "7");
    let (s, h, body) = post(
        "web",
        r#"{"operation":"get","metadata":{"path":"nothing"}}"#,
    );
    assert_eq!(s, 500, "{body}");
    assert_eq!(
        h["metadata.statuscode"], "404",
        "metadata comes back on error too"
    );
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["errorCode"], "ERR_INVOKE_OUTPUT_BINDING");
    assert_eq!(
        e["message"],
        "error invoking output binding web: received status code 404"
    );

    // redis: with a TTL; query metadata merges over the body's.
    let r = c
        .post(d.url("/v1.0/bindings/cache?metadata.ttlInSeconds=50"))
        .body(r#"{"operation":"create","data":{"v":1},"metadata":{"key":"k"}}"#)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(redis.cli(&["GET", "k"]).trim(), r#"{"v":1}"#);
    let ttl: i64 = redis.cli(&["TTL", "k"]).trim().parse().unwrap();
    assert!((1..=50).contains(&ttl), "{ttl}");
    let (s, _, body) = post("cache", r#"{"operation":"get","metadata":{"key":"k"}}"#);
    assert_eq!((s, body.as_str()), (200, r#"{"v":1}"#));

    // postgresql: rows written by exec are read back by a later query, over both names.
    let (s, h, _) = post(
        "db",
        r#"{"operation":"exec","metadata":{"sql":"CREATE TABLE orders (id int, item text)"}}"#,
    );
    assert_eq!(s, 200);
    assert_eq!(h["metadata.operation"], "exec");
    for (id, item) in [(1, "apple"), (2, "pear")] {
        let body = json!({"operation": "exec", "metadata": {"sql": "INSERT INTO orders VALUES ($1, $2)", "params": json!([id, item]).to_string()}});
        let (s, h, _) = post("db", &body.to_string());
        assert_eq!(
            (s, h["metadata.rows-affected"].to_str().unwrap()),
            (200, "1")
        );
    }
    let (s, _, body) = post(
        "db2",
        r#"{"operation":"query","metadata":{"sql":"SELECT id, item FROM orders ORDER BY id"}}"#,
    );
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!([[1, "apple"], [2, "pear"]])
    );

    // Errors, as upstream.
    let err = |name: &str, body: &str| {
        let (s, _, b) = post(name, body);
        let v: Value = serde_json::from_str(&b).unwrap_or(Value::Null);
        (
            s,
            v["errorCode"].as_str().unwrap_or("").to_string(),
            v["message"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(
        err("nosuch", r#"{"operation":"create"}"#),
        (
            500,
            "ERR_INVOKE_OUTPUT_BINDING".into(),
            "error invoking output binding nosuch: couldn't find output binding nosuch".into()
        )
    );
    assert_eq!(
        err("files", r#"{"data":1}"#),
        (
            500,
            "ERR_INVOKE_OUTPUT_BINDING".into(),
            "error invoking output binding files: operation field is missing from request".into()
        )
    );
    let (s, code, msg) = err("db", r#"{"operation":"create"}"#);
    assert_eq!((s, code.as_str()), (500, "ERR_INVOKE_OUTPUT_BINDING"));
    assert!(
        msg.ends_with("does not support operation create. supported operations:exec query close"),
        "{msg}"
    );
    let (s, code, _) = err("files", "not json");
    assert_eq!((s, code.as_str()), (400, "ERR_MALFORMED_REQUEST"));
    let (s, code, msg) = err(
        "db",
        r#"{"operation":"query","metadata":{"sql":"SELECT * FROM nosuch"}}"#,
    );
    assert_eq!((s, code.as_str()), (500, "ERR_INVOKE_OUTPUT_BINDING"));
    assert!(msg.contains("nosuch"), "{msg}");

    // The gRPC API.
    rt.block_on(async {
        let mut g = DaprClient::connect(format!("http://127.0.0.1:{}", d.grpc_port))
            .await
            .unwrap();
        let r = g
            .invoke_binding(pb::InvokeBindingRequest {
                name: "db".into(),
                operation: "query".into(),
                metadata: HashMap::from([
                    ("sql".into(), "SELECT item FROM orders WHERE id = $1".into()),
                    ("params".into(), "[2]".into()),
                ]),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.data, br#"[["pear"]]"#);
        assert_eq!(r.metadata["operation"], "query");
        let r = g
            .invoke_binding(pb::InvokeBindingRequest {
                name: "files".into(),
                operation: "create".into(),
                data: b"raw bytes".to_vec(),
                metadata: HashMap::from([("fileName".into(), "g.bin".into())]),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.data, br#"{"fileName":"g.bin"}"#);
        let e = g
            .invoke_binding(pb::InvokeBindingRequest {
                name: "nosuch".into(),
                operation: "get".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Internal);
        assert_eq!(
            e.message(),
            "error invoking output binding nosuch: couldn't find output binding nosuch"
        );
    });
    assert_eq!(std::fs::read(files.join("g.bin")).unwrap(), b"raw bytes");
    let meta: Value = client()
        .get(d.url("/v1.0/metadata"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let db2 = meta["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "db2")
        .unwrap()
        .clone();
    assert_eq!(db2["capabilities"], json!(["OUTPUT_BINDING"]));
}

#[test]
fn python_sdk_invokes_output_bindings() {
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    let files = home.path().join("files");
    write_component(
        &res,
        "files",
        "bindings.localstorage",
        &[("rootPath", files.to_str().unwrap())],
    );
    let d = start(&Opts::new("pybind", home.path()).resources(&res));
    let mut cmd = Command::new("python3");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("python_bindings.py"))
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string());
    run_script(cmd, "Python SDK bindings", &d);
    assert_eq!(
        std::fs::read_to_string(files.join("py.txt")).unwrap(),
        "from python"
    );
}

fn js_bindings(protocol: &str) {
    let dir = js_sdk_dir();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    let files = home.path().join("files");
    write_component(
        &res,
        "files",
        "bindings.localstorage",
        &[("rootPath", files.to_str().unwrap())],
    );
    write_component(
        &res,
        "jscron",
        "bindings.cron",
        &[("schedule", "@every 1s")],
    );
    let app_port = free_port();
    let app_id = format!("js{protocol}bind");
    let mut opts = Opts::new(&app_id, home.path())
        .resources(&res)
        .app_port(app_port);
    if protocol == "grpc" {
        opts = opts.arg("--app-protocol").arg("grpc");
    }
    let d = start(&opts);
    let mut cmd = Command::new("node");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("js_bindings.mjs"))
        .current_dir(&dir)
        .env("PROTOCOL", protocol)
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("APP_PORT", app_port.to_string());
    run_script(cmd, &format!("JS SDK bindings ({protocol})"), &d);
    assert_eq!(
        std::fs::read_to_string(files.join("js.txt")).unwrap(),
        r#"{"from":"js"}"#
    );
}

#[test]
fn js_sdk_binding_send_and_receive_over_http() {
    js_bindings("http");
}

#[test]
fn js_sdk_binding_send_and_receive_over_grpc() {
    js_bindings("grpc");
}

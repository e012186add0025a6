//! Service invocation through real sidecars.
//!
//! Two layers: in-process tests build the invocation parts of two (or more) sidecars (app
//! channel, invoker and the real HTTP API adapter, without components), with real echo
//! apps on loopback and a shared registry file; process tests (`daprd_*`) spawn two real
//! `daprd` binaries sharing a temp HOME.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dapr_cli::sidecar::api::http::{self as http_api, HttpState};
use dapr_cli::sidecar::api::universal::Api;
use dapr_cli::sidecar::api::universal::metadata::SidecarInfo;
use dapr_cli::sidecar::app_channel::{self, AppChannel, AppSettings};
use dapr_cli::sidecar::components::ComponentStore;
use dapr_cli::sidecar::invoke::{InvokeConfig, Invoker};
use dapr_cli::sidecar::resiliency::Resiliency;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::{self, KillOnDrop};

/// An echo app: answers with JSON describing the request. `x-status: N` picks the status;
/// every answer carries `x-echo: <name>`.
async fn echo_app(name: &'static str) -> (u16, tokio::task::JoinHandle<()>) {
    let app =
        axum::Router::new().fallback(move |req: Request| async move { echo(name, req).await });
    let (addr, task) = serve(app).await;
    (addr.port(), task)
}

/// Serves `app` on a free loopback port until the test's runtime ends.
async fn serve(app: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

async fn echo(name: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut headers = BTreeMap::new();
    for (k, v) in &parts.headers {
        headers.insert(k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned());
    }
    let status = parts
        .headers
        .get("x-status")
        .and_then(|v| v.to_str().ok()?.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let out = json!({
        "app": name,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    let mut res = (status, axum::Json(out)).into_response();
    res.headers_mut()
        .insert("x-echo", HeaderValue::from_static("yes"));
    res
}

/// One in-process sidecar: its invoker and an API server in front of it.
struct Side {
    inv: Arc<Invoker>,
    api: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    internal: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Side {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.api, path)
    }

    /// Stops the internal server without deregistering (like a crash, but our pid lives).
    async fn stop_internal(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.internal.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// The settings of one in-process sidecar (the invoker's and its app channel's).
struct Cfg {
    app_id: String,
    app_port: Option<u16>,
    app_protocol: String,
    internal_port: Option<u16>,
    max_body_size: usize,
    app_api_token: Option<String>,
    app_max_concurrency: Option<usize>,
    api_token: Option<String>,
    name_resolution: Option<Value>,
}

fn config(app_id: &str, app_port: Option<u16>, db: &Path) -> Cfg {
    Cfg {
        app_id: app_id.into(),
        app_port,
        app_protocol: "http".into(),
        internal_port: None,
        max_body_size: 4 << 20,
        app_api_token: None,
        app_max_concurrency: None,
        api_token: None,
        name_resolution: Some(json!({
            "component": "sqlite",
            "configuration": { "connectionString": db.to_string_lossy() }
        })),
    }
}

/// Builds the app channel and the invoker as daprd does; errors as daprd prints them.
async fn start(cfg: Cfg) -> Result<Side, String> {
    let channel = AppChannel::new(
        &AppSettings {
            port: cfg.app_port,
            address: "127.0.0.1".into(),
            protocol: cfg.app_protocol.clone(),
            token: cfg.app_api_token.clone(),
            max_concurrency: cfg.app_max_concurrency,
            max_body_size: cfg.max_body_size,
        },
        Resiliency::default(),
    )?;
    let invoke = InvokeConfig {
        app_id: cfg.app_id.clone(),
        namespace: "default".into(),
        internal_port: cfg.internal_port,
        internal_listen_address: None,
        max_body_size: cfg.max_body_size,
        api_token: cfg.api_token.clone(),
        name_resolution: cfg.name_resolution.clone(),
    };
    let inv = Invoker::bind(invoke, Arc::new(channel), Resiliency::default())
        .await
        .map_err(|e| e.to_string())?;
    let inv = Arc::new(inv);
    let (stop, stopped) = oneshot::channel::<()>();
    let internal = tokio::spawn(inv.clone().serve_internal(async move {
        let _ = stopped.await;
    }));
    let api = Arc::new(Api::new(
        SidecarInfo {
            app_id: cfg.app_id.clone(),
            ..Default::default()
        },
        Arc::new(ComponentStore::default()),
        Some(inv.clone()),
        Resiliency::default(),
    ));
    let state = HttpState {
        max_body_size: cfg.max_body_size,
        api_token: cfg.api_token.clone(),
        ..HttpState::new(api)
    };
    let router = http_api::router(Arc::new(state));
    let (addr, _) = serve_service(router).await;
    app_channel::health::wait_for_app(inv.channel()).await;
    Ok(Side {
        inv,
        api: addr,
        stop: Some(stop),
        internal: Some(internal),
    })
}

async fn side(cfg: Cfg) -> Side {
    start(cfg).await.expect("sidecar starts")
}

/// Serves the API router with daprd's path cleaning on a free loopback port.
async fn serve_service(router: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use axum::ServiceExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = ServiceExt::<Request>::into_make_service(http_api::service(router));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, svc).await;
    });
    (addr, task)
}

/// Two sidecars `a` and `b`, each with an echo app, sharing a registry in `dir`.
async fn pair(dir: &Path, tweak_b: impl FnOnce(&mut Cfg)) -> (Side, Side) {
    pair_with(dir, |_| {}, tweak_b).await
}

/// [`pair`], with a say in both sidecars' configs.
async fn pair_with(
    dir: &Path,
    tweak_a: impl FnOnce(&mut Cfg),
    tweak_b: impl FnOnce(&mut Cfg),
) -> (Side, Side) {
    let db = dir.join("nr.db");
    let (pa, _) = echo_app("a").await;
    let (pb, _) = echo_app("b").await;
    let mut ca = config("a", Some(pa), &db);
    tweak_a(&mut ca);
    let a = side(ca).await;
    let mut cb = config("b", Some(pb), &db);
    tweak_b(&mut cb);
    let b = side(cb).await;
    (a, b)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// GETs `path` through sidecar `side` and reads the JSON answer.
async fn get_json(c: &reqwest::Client, side: &Side, path: &str) -> (StatusCode, HeaderMap, Value) {
    json_of(c.get(side.url(path)).send().await.unwrap()).await
}

/// The `message` of an error answer.
fn message(v: &Value) -> &str {
    v["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {v}"))
}

async fn json_of(res: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    let mut headers = HeaderMap::new();
    for (k, v) in res.headers() {
        headers.insert(
            axum::http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    let text = res.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, headers, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_by_url_with_every_verb_query_headers_and_body() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = pair(dir.path(), |_| {}).await;
    let c = client();
    for verb in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        let res = c
            .request(
                verb.parse().unwrap(),
                a.url("/v1.0/invoke/b/method/orders/42?x=1&y=a%20b"),
            )
            .header("x-custom", "hello")
            .header("dapr-caller-app-id", "spoofed")
            .header("content-type", "text/plain")
            .body(if verb == "GET" {
                String::new()
            } else {
                format!("payload-{verb}")
            })
            .send()
            .await
            .unwrap();
        let (status, headers, v) = json_of(res).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(headers.get("x-echo").unwrap(), "yes");
        assert_eq!(v["app"], "b");
        assert_eq!(v["method"], verb);
        assert_eq!(v["path"], "/orders/42");
        assert_eq!(v["query"], "x=1&y=a%20b");
        let h = &v["headers"];
        assert_eq!(h["x-custom"], "hello");
        assert_eq!(h["content-type"], "text/plain");
        assert_eq!(
            h["dapr-caller-app-id"], "a",
            "caller-supplied value must be overwritten"
        );
        assert_eq!(h["dapr-callee-app-id"], "b");
        assert_eq!(h["dapr-caller-namespace"], "default");
        assert!(h["x-forwarded-for"].is_string(), "{h}");
        assert!(h["forwarded"].as_str().unwrap().starts_with("for="), "{h}");
        assert!(h.get("x-dapr-internal-target-namespace").is_none(), "{h}");
        if verb != "GET" {
            assert_eq!(v["body"], format!("payload-{verb}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_status_headers_and_body_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = pair(dir.path(), |_| {}).await;
    let c = client();
    for code in [201u16, 404, 500, 503] {
        let res = c
            .post(a.url("/v1.0/invoke/b/method/status"))
            .header("x-status", code.to_string())
            .body("x")
            .send()
            .await
            .unwrap();
        let (status, headers, v) = json_of(res).await;
        assert_eq!(status.as_u16(), code);
        assert_eq!(headers.get("x-echo").unwrap(), "yes");
        assert_eq!(headers.get("content-type").unwrap(), "application/json");
        assert_eq!(v["app"], "b", "the app's own body comes back: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_basic_auth_routing_and_missing_app_id() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = pair(dir.path(), |_| {}).await;
    let c = client();
    let res = c
        .post(a.url("/neworder//x/?q=1"))
        .header("dapr-app-id", "b")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, _, v) = json_of(res).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["app"], "b");
    assert_eq!(v["path"], "/neworder/x");
    assert_eq!(v["query"], "q=1");
    assert!(v["headers"].get("dapr-app-id").is_none(), "{v}");

    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("dapr-app-id:b");
    let res = c
        .get(a.url("/orders"))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    let (status, _, v) = json_of(res).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (v["app"].as_str(), v["path"].as_str()),
        (Some("b"), Some("/orders"))
    );

    let (status, _, v) = get_json(&c, &a, "/no/such/route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE");
    assert_eq!(
        v["message"],
        "failed getting app id either from the URL path or the header dapr-app-id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_app_self_invocation_and_namespace_form() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = pair(dir.path(), |_| {}).await;
    let c = client();
    let (status, _, v) = get_json(&c, &a, "/v1.0/invoke/nope/method/x").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE");
    assert!(
        message(&v).starts_with("failed to invoke, id: nope, err: "),
        "{v}"
    );

    // Direct calls: failures of a sidecar are errors of the table, the app's own answers
    // (whatever their status) are answers.
    use dapr_cli::sidecar::api::error::ErrorKind;
    use dapr_cli::sidecar::messages::InvokeRequest;
    let direct = |status: &str| {
        let mut req = InvokeRequest::new("x", axum::http::Method::GET, axum::body::Body::empty());
        req.metadata
            .insert("x-status", HeaderValue::from_str(status).unwrap());
        req
    };
    let e = a.inv.invoke("nope", direct("200")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::DirectInvoke);
    assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let res = a
        .inv
        .invoke("b", direct("500"))
        .await
        .expect("the app's own 500");
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.metadata["x-echo"], "yes");

    // Self-invocation goes straight to the local app: no forwarding headers.
    let (status, _, v) = get_json(&c, &a, "/v1.0/invoke/a/method/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["app"], "a");
    assert_eq!(v["headers"]["dapr-callee-app-id"], "a");
    assert!(v["headers"].get("x-forwarded-for").is_none(), "{v}");

    // `appid.namespace` resolves in that namespace; `b` lives in `default` only.
    let res = c
        .get(a.url("/v1.0/invoke/b.default/method/ns"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res).await.2["app"], "b");
    let (status, _, v) = get_json(&c, &a, "/v1.0/invoke/b.prod/method/ns").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(message(&v).contains("id: b,"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_api_token_unhealthy_app_and_app_without_channel() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = pair(dir.path(), |c| c.app_api_token = Some("app-secret".into())).await;
    let c = client();
    let res = c
        .get(a.url("/v1.0/invoke/b/method/t"))
        .header("dapr-api-token", "caller-token")
        .send()
        .await
        .unwrap();
    let (_, _, v) = json_of(res).await;
    assert_eq!(v["headers"]["dapr-api-token"], "app-secret");

    b.inv.channel().set_healthy(false);
    let (status, _, v) = get_json(&c, &a, "/v1.0/invoke/b/method/t").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE");
    assert!(message(&v).contains("app is not in a healthy state"), "{v}");
    b.inv.channel().set_healthy(true);

    // A sidecar without an app can be called but has nothing to forward to.
    let _n = side(config("noapp", None, &dir.path().join("nr.db"))).await;
    let (status, _, v) = get_json(&c, &a, "/v1.0/invoke/noapp/method/t").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        message(&v).contains("app channel is not initialized"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_token_is_stripped_when_the_caller_enforces_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = pair_with(dir.path(), |c| c.api_token = Some("tok".into()), |_| {}).await;
    let res = client()
        .get(a.url("/v1.0/invoke/b/method/t"))
        .header("dapr-api-token", "tok")
        .send()
        .await
        .unwrap();
    let (status, _, v) = json_of(res).await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["headers"].get("dapr-api-token").is_none(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_is_enforced_for_sized_and_streamed_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = pair_with(dir.path(), |c| c.max_body_size = 1000, |_| {}).await;
    let c = client();
    let res = c
        .post(a.url("/v1.0/invoke/b/method/big"))
        .body(vec![b'x'; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    let res = c
        .post(a.url("/v1.0/invoke/b/method/ok"))
        .body(vec![b'x'; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // The limit bounds replies too: the echo of 800 bytes (plus the request's headers) is
    // more than the caller's sidecar takes, which answers with its own error.
    for target in ["b", "a"] {
        let res = c
            .post(a.url(&format!("/v1.0/invoke/{target}/method/echo")))
            .body(vec![b'x'; 800])
            .send()
            .await
            .unwrap();
        let (status, _, v) = json_of(res).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
        assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE", "{v}");
        assert!(
            message(&v).starts_with(&format!("failed to invoke, id: {target}, err: "))
                && message(&v).contains("response is larger than the limit of 1000 bytes"),
            "{v}"
        );
    }
    // A chunked body (no content-length) is cut off at the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b'y'; 300])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let res = c
        .post(a.url("/v1.0/invoke/b/method/stream"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(status, 413, "{text}");
    assert!(
        text.contains("ERR_BODY_READ") && text.contains("larger than the limit of 1000 bytes"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_over_instances_and_failover_when_one_stops() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nr.db");
    let (pa, _) = echo_app("a").await;
    let (p1, _) = echo_app("c1").await;
    let (p2, _) = echo_app("c2").await;
    let a = side(config("a", Some(pa), &db)).await;
    let mut c1 = side(config("c", Some(p1), &db)).await;
    let _c2 = side(config("c", Some(p2), &db)).await;
    let c = client();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let res = c
            .get(a.url("/v1.0/invoke/c/method/rr"))
            .send()
            .await
            .unwrap();
        seen.insert(json_of(res).await.2["app"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec!["c1", "c2"]);
    // One instance's internal port closes (its row stays: same pid): calls still succeed,
    // via the connection-failure retry.
    c1.stop_internal().await;
    for _ in 0..4 {
        let (status, _, v) = get_json(&c, &a, "/v1.0/invoke/c/method/rr").await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_callee_fails_fast_with_err_direct_invoke() {
    let dir = tempfile::tempdir().unwrap();
    let (a, mut b) = pair(dir.path(), |_| {}).await;
    let c = client();
    let res = c
        .get(a.url("/v1.0/invoke/b/method/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    b.stop_internal().await;
    let started = std::time::Instant::now();
    let res = c
        .post(a.url("/v1.0/invoke/b/method/x"))
        .body("again")
        .send()
        .await
        .unwrap();
    let (status, _, v) = json_of(res).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE");
    assert!(
        message(&v).starts_with("failed to invoke, id: b, err: "),
        "{v}"
    );
    // Bounded: three short retries, not the official 1 s each (a loose bound, not a benchmark).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    b.inv.deregister().await;
    let (status, _, v) = get_json(&c, &a, "/v1.0/invoke/b/method/x").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(message(&v).contains("couldn't find service: b"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_errors_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nr.db");
    let mut cfg = config("a", None, &db);
    cfg.app_protocol = "grpcs".into();
    let e = start(cfg).await.err().expect("grpcs refused");
    assert!(
        e.contains("--app-protocol") && e.contains("not supported"),
        "{e}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = config("a", None, &db);
    cfg.internal_port = Some(taken.local_addr().unwrap().port());
    let e = start(cfg).await.err().expect("port in use");
    assert!(e.contains("--dapr-internal-grpc-port"), "{e}");
    let mut cfg = config("a", None, &db);
    cfg.name_resolution = Some(json!({"component": "consul"}));
    let e = start(cfg).await.err().expect("consul refused");
    assert!(e.contains("nameResolution") && e.contains("consul"), "{e}");
    // A registry file named in the Configuration must open.
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let bad = blocker.join("sub").join("nr.db");
    let e = start(config("a", None, &bad))
        .await
        .err()
        .expect("unopenable registry");
    assert!(e.contains(&*bad.to_string_lossy()), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_http_url_targets() {
    let dir = tempfile::tempdir().unwrap();
    let (ext, _) = echo_app("external").await;
    let a = side(config("a", None, &dir.path().join("nr.db"))).await;
    let c = client();
    for target in [
        format!("http://127.0.0.1:{ext}"),
        format!("http%3A%2F%2F127.0.0.1%3A{ext}"),
    ] {
        let res = c
            .post(a.url(&format!("/v1.0/invoke/{target}/method/hook/1?x=2")))
            .header("x-status", "202")
            .body("ping")
            .send()
            .await
            .unwrap();
        let (status, _, v) = json_of(res).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{v}");
        assert_eq!(v["app"], "external");
        assert_eq!(
            (v["path"].as_str(), v["query"].as_str()),
            (Some("/hook/1"), Some("x=2"))
        );
        assert_eq!(v["body"], "ping");
        assert_eq!(v["headers"]["dapr-caller-app-id"], "a");
        assert_eq!(v["headers"]["host"], format!("127.0.0.1:{ext}"));
    }
    let (status, _, v) = get_json(&c, &a, "/v1.0/invoke/https%3A%2F%2Fexample.com/method/x").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(message(&v).contains("not supported"), "{v}");
}

/// Bodies flow through both sidecars as they are produced: the response's second chunk is
/// only produced after the client saw the first, and the request's second chunk is only sent
/// after the app saw the first. A sidecar that buffered would deadlock (bounded by timeouts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_streamed_both_ways() {
    use tokio::sync::{Mutex, mpsc};
    type Gate = Arc<Mutex<Option<oneshot::Receiver<()>>>>;
    let (resp_go_tx, resp_go_rx) = oneshot::channel::<()>();
    let (req_seen_tx, req_seen_rx) = oneshot::channel::<()>();
    let resp_gate: Gate = Arc::new(Mutex::new(Some(resp_go_rx)));
    let req_seen = Arc::new(Mutex::new(Some(req_seen_tx)));
    let app = axum::Router::new()
        .route(
            "/download",
            axum::routing::get(move || {
                let gate = resp_gate.clone();
                async move {
                    let (tx, rx) = mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
                    tokio::spawn(async move {
                        let _ = tx.send(Ok(bytes::Bytes::from_static(b"first;"))).await;
                        if let Some(go) = gate.lock().await.take() {
                            let _ = go.await;
                        }
                        let _ = tx.send(Ok(bytes::Bytes::from_static(b"second"))).await;
                    });
                    axum::body::Body::from_stream(tokio_stream_from(rx))
                }
            }),
        )
        .route(
            "/upload",
            axum::routing::post(move |req: Request| {
                let seen = req_seen.clone();
                async move {
                    let mut body = req.into_body();
                    let mut got = Vec::new();
                    while let Some(frame) = body.frame().await {
                        if let Ok(data) = frame.unwrap().into_data() {
                            got.extend_from_slice(&data);
                            if let Some(s) = seen.lock().await.take() {
                                let _ = s.send(());
                            }
                        }
                    }
                    String::from_utf8(got).unwrap()
                }
            }),
        );
    let port = serve(app).await.0.port();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nr.db");
    let (pa, _) = echo_app("a").await;
    let a = side(config("a", Some(pa), &db)).await;
    let _s = side(config("streamer", Some(port), &db)).await;
    let c = client();
    let limit = Duration::from_secs(10);

    let mut res = c
        .get(a.url("/v1.0/invoke/streamer/method/download"))
        .send()
        .await
        .unwrap();
    let first = tokio::time::timeout(limit, res.chunk())
        .await
        .expect("first chunk arrives before the app finishes");
    assert_eq!(first.unwrap().unwrap(), "first;");
    resp_go_tx.send(()).unwrap();
    let mut rest = Vec::new();
    while let Some(c) = tokio::time::timeout(limit, res.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        rest.extend_from_slice(&c);
    }
    assert_eq!(rest, b"second");

    let (tx, rx) = mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
    let send = tokio::spawn({
        let url = a.url("/v1.0/invoke/streamer/method/upload");
        let c = c.clone();
        async move {
            c.post(url)
                .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)))
                .send()
                .await
        }
    });
    tx.send(Ok(bytes::Bytes::from_static(b"one;")))
        .await
        .unwrap();
    tokio::time::timeout(limit, req_seen_rx)
        .await
        .expect("app sees the first chunk before the rest is sent")
        .unwrap();
    tx.send(Ok(bytes::Bytes::from_static(b"two")))
        .await
        .unwrap();
    drop(tx);
    let res = tokio::time::timeout(limit, send)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.text().await.unwrap(), "one;two");
}

/// A `Stream` over an mpsc receiver (no tokio-stream dependency).
fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_max_concurrency_limits_calls_in_flight_to_the_app() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // An app that holds each request 100 ms and records the most it saw at once.
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (n, p) = (now.clone(), peak.clone());
    let app = axum::Router::new().fallback(move || {
        let (n, p) = (n.clone(), p.clone());
        async move {
            let cur = n.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(cur, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            n.fetch_sub(1, Ordering::SeqCst);
            "done"
        }
    });
    let port = serve(app).await.0.port();
    let dir = tempfile::tempdir().unwrap();
    let run = |limit: Option<usize>, id: &'static str| {
        let mut cfg = config(id, Some(port), &dir.path().join("nr.db"));
        cfg.app_max_concurrency = limit;
        async move {
            let s = side(cfg).await;
            let c = client();
            let calls = (0..4).map(|_| {
                c.get(s.url(&format!("/v1.0/invoke/{id}/method/slow")))
                    .send()
            });
            for r in futures_util::future::join_all(calls).await {
                assert_eq!(r.unwrap().text().await.unwrap(), "done");
            }
        }
    };
    run(Some(1), "limited").await;
    assert_eq!(
        peak.swap(0, Ordering::SeqCst),
        1,
        "--app-max-concurrency 1 must serialise calls"
    );
    run(None, "unlimited").await;
    assert!(
        peak.load(Ordering::SeqCst) > 1,
        "without a limit calls overlap"
    );
}

// ---------------------------------------------------------------------------------------
// Real daprd processes.

struct Daprd {
    child: KillOnDrop,
    http: u16,
}

fn spawn_daprd(home: &Path, app_id: &str, app_port: u16, extra_env: &[(&str, &str)]) -> Daprd {
    let (http, grpc, internal, metrics) = (
        support::free_port(),
        support::free_port(),
        support::free_port(),
        support::free_port(),
    );
    let mut cmd = Command::new(support::bin("daprd"));
    support::hermetic(&mut cmd, home)
        .args(["--app-id", app_id, "--app-port", &app_port.to_string()])
        .args([
            "--dapr-http-port",
            &http.to_string(),
            "--dapr-grpc-port",
            &grpc.to_string(),
        ])
        .args([
            "--dapr-internal-grpc-port",
            &internal.to_string(),
            "--metrics-port",
            &metrics.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let child = KillOnDrop(cmd.spawn().expect("spawn daprd"));
    let url = format!("http://127.0.0.1:{http}/v1.0/healthz");
    let up = support::wait_until(Duration::from_secs(15), || {
        reqwest::blocking::get(&url)
            .map(|r| r.status().as_u16() == 204)
            .unwrap_or(false)
    });
    assert!(up, "daprd {app_id} did not become healthy");
    Daprd { child, http }
}

/// GETs `url` and reads its status and JSON body.
fn blocking_get(c: &reqwest::blocking::Client, url: String) -> (u16, Value) {
    let res = c.get(url).send().unwrap();
    (res.status().as_u16(), res.json().unwrap())
}

fn blocking_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[test]
fn daprd_two_sidecars_invoke_and_callee_killed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let home = tempfile::tempdir().unwrap();
    let (pa, pb) = rt.block_on(async { (echo_app("a").await.0, echo_app("b").await.0) });
    let a = spawn_daprd(home.path(), "a", pa, &[]);
    let mut b = spawn_daprd(home.path(), "b", pb, &[("APP_API_TOKEN", "app-secret")]);
    let c = blocking_client();
    let base = format!("http://127.0.0.1:{}", a.http);

    for verb in ["GET", "POST", "PUT", "DELETE"] {
        let res = c
            .request(
                verb.parse().unwrap(),
                format!("{base}/v1.0/invoke/b/method/m/1?k=v"),
            )
            .header("x-custom", "1")
            .header("x-status", "201")
            .body("data")
            .send()
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
        assert_eq!(res.headers().get("x-echo").unwrap(), "yes");
        let v: Value = res.json().unwrap();
        assert_eq!(
            (v["app"].as_str(), v["method"].as_str()),
            (Some("b"), Some(verb))
        );
        assert_eq!(
            (v["path"].as_str(), v["query"].as_str()),
            (Some("/m/1"), Some("k=v"))
        );
        assert_eq!(v["headers"]["x-custom"], "1");
        assert_eq!(v["headers"]["dapr-caller-app-id"], "a");
        assert_eq!(v["headers"]["dapr-callee-app-id"], "b");
        assert_eq!(v["headers"]["dapr-api-token"], "app-secret");
    }
    let res = c
        .post(format!("{base}/neworder"))
        .header("dapr-app-id", "b")
        .body("x")
        .send()
        .unwrap();
    let v: Value = res.json().unwrap();
    assert_eq!(
        (v["app"].as_str(), v["path"].as_str()),
        (Some("b"), Some("/neworder"))
    );

    assert_eq!(
        blocking_get(&c, format!("{base}/v1.0/invoke/a/method/self")).1["app"],
        "a"
    );

    let (status, v) = blocking_get(&c, format!("{base}/v1.0/invoke/ghost/method/x"));
    assert_eq!(status, 500);
    assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE");
    let (status, v) = blocking_get(&c, format!("{base}/nothing/here"));
    assert_eq!(status, 404);
    assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE");

    // Kill the callee's sidecar: the next call errors promptly instead of hanging.
    let _ = b.child.0.kill();
    let _ = b.child.0.wait();
    let (status, v) = blocking_get(&c, format!("{base}/v1.0/invoke/b/method/x"));
    assert_eq!(status, 500);
    assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE");
    assert!(
        message(&v).starts_with("failed to invoke, id: b, err: "),
        "{v}"
    );
    drop(b);
}

#[test]
fn daprd_starts_without_a_usable_registry_and_says_why_lookups_fail() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // HOME is a file: $HOME/.dapr cannot be created.
    let home = dir.path().join("home-is-a-file");
    std::fs::write(&home, "").unwrap();
    let pa = rt.block_on(async { echo_app("solo").await.0 });
    let d = spawn_daprd(&home, "solo", pa, &[]);
    let c = blocking_client();
    let base = format!("http://127.0.0.1:{}", d.http);
    assert_eq!(
        blocking_get(&c, format!("{base}/v1.0/invoke/solo/method/me")).1["app"],
        "solo"
    );
    let (status, v) = blocking_get(&c, format!("{base}/v1.0/invoke/other/method/x"));
    assert_eq!(status, 500);
    assert!(
        message(&v).contains("name resolution is unavailable"),
        "{v}"
    );
}

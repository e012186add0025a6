//! Service invocation between our daprd and the official one, both directions: each runtime
//! fronts an app, both register in one `nameresolution.sqlite` file (the official SQLite
//! resolver, ours reading and writing the same file), and each invokes the other's app.
//! Our sidecar calls the official one with the official internal gRPC protocol
//! (`dapr.proto.internals.v1.ServiceInvocation/CallLocalStream`) and serves it on its own
//! internal port.
//!
//! Checked per direction: verb, method path, query, body (small, and 300 KB through the
//! chunked stream both ways), the caller's headers and the `dapr-caller-app-id` the app sees,
//! the app's status (2xx and not), response headers and content type; calls keep working for
//! longer than the registrations' refresh periods (the official resolver drops rows older than
//! 5 s); a missing app id is an `ERR_DIRECT_INVOKE` through either runtime; the gRPC API
//! of ours (`InvokeService`) reaches the official side too; and the official side calls our
//! gRPC app (`--app-protocol grpc`): its data, its typed answer, and its error status with
//! details rendered by the official HTTP API.
//!
//! Needs the official binary (see `interop_official.rs`); without it each test prints `SKIP`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::interop_official::{both_logs, name_resolution_config, official, start_official};
use crate::sidecar_api::sidecar::{Daprd, Opts, client, start};
use crate::support::wait_until;

/// An app that tells what it received: `/status/<n>` answers status n; `/raw` echoes the
/// body as is; anything else answers JSON with the verb, path, query, headers and body.
/// Every answer carries `x-served-by: <name>`.
async fn serve_echo(name: &'static str) -> u16 {
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| async move {
            let by = [("x-served-by", name)];
            let path = uri.path().to_string();
            if let Some(code) = path.strip_prefix("/status/") {
                let code = StatusCode::from_u16(code.parse().unwrap()).unwrap();
                return (code, by, format!("status from {name}")).into_response();
            }
            if path == "/raw" {
                return (by, [("content-type", "application/octet-stream")], body).into_response();
            }
            let headers: BTreeMap<String, String> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let seen = json!({
                "method": method.as_str(),
                "path": path,
                "query": uri.query().unwrap_or(""),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            (by, axum::Json(seen)).into_response()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn send(req: reqwest::blocking::RequestBuilder) -> Reply {
    let r = req.send().unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().unwrap().to_vec(),
    }
}

/// Waits until `caller` reaches `target`'s app (both sidecars have registered).
fn wait_reachable(caller: &Daprd, target: &str, callee: &Daprd) {
    let ok = wait_until(Duration::from_secs(30), || {
        client()
            .get(caller.url(&format!("/v1.0/invoke/{target}/method/ping")))
            .send()
            .is_ok_and(|r| r.status() == 200)
    });
    assert!(
        ok,
        "{target} never reachable\n{}",
        both_logs(caller, callee)
    );
}

/// A home for the sidecars of one test: an empty resources directory and the Configuration
/// naming the name-resolution file both runtimes share.
fn shared_home() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    std::fs::create_dir_all(&res).unwrap();
    let config = name_resolution_config(home.path());
    (home, res, config)
}

/// `InvokeService` through the gRPC API on `port`.
async fn invoke_grpc(
    port: u16,
    app_id: &str,
    message: dapr::dapr::proto::common::v1::InvokeRequest,
) -> Result<tonic::Response<dapr::dapr::proto::common::v1::InvokeResponse>, tonic::Status> {
    use dapr::dapr::proto::runtime::v1 as pb;
    let mut c = pb::dapr_client::DaprClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    c.invoke_service(pb::InvokeServiceRequest {
        id: app_id.into(),
        message: Some(message),
    })
    .await
}

#[test]
fn invocation_across_runtimes_both_ways() {
    let Some(bin) = official("invocation_across_runtimes_both_ways") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (official_app, our_app) = rt.block_on(async {
        (
            serve_echo("official-app").await,
            serve_echo("ours-app").await,
        )
    });
    let (home, res, config) = shared_home();
    let theirs = start_official(&bin, "official-app", home.path(), &res, Some(official_app));
    let ours = start(
        &Opts::new("ours-app", home.path())
            .resources(&res)
            .app_port(our_app)
            .arg("--config")
            .arg(config.to_str().unwrap()),
    );
    wait_reachable(&ours, "official-app", &theirs);
    wait_reachable(&theirs, "ours-app", &ours);

    for (caller, callee_id, caller_id, label) in [
        (&ours, "official-app", "ours-app", "ours -> official"),
        (&theirs, "ours-app", "official-app", "official -> ours"),
    ] {
        let logs = || {
            both_logs(
                caller,
                if label.starts_with("ours") {
                    &theirs
                } else {
                    &ours
                },
            )
        };
        // A POST with a query, a JSON body and a header of the caller's.
        let r = send(
            client()
                .post(caller.url(&format!(
                    "/v1.0/invoke/{callee_id}/method/orders/new?priority=high&x=1"
                )))
                .header("x-trace-me", "abc")
                .json(&json!({"orderId": 7})),
        );
        assert_eq!(r.status, 200, "{label}: {}\n{}", r.text(), logs());
        let seen = r.json();
        assert_eq!(seen["method"], "POST", "{label}");
        assert_eq!(seen["path"], "/orders/new", "{label}");
        assert_eq!(seen["query"], "priority=high&x=1", "{label}");
        assert_eq!(
            serde_json::from_str::<Value>(seen["body"].as_str().unwrap()).unwrap(),
            json!({"orderId": 7}),
            "{label}"
        );
        let h = &seen["headers"];
        assert_eq!(h["x-trace-me"], "abc", "{label}: {h}");
        assert_eq!(h["dapr-caller-app-id"], caller_id, "{label}: {h}");
        assert_eq!(h["dapr-callee-app-id"], callee_id, "{label}: {h}");
        assert!(
            h["content-type"]
                .as_str()
                .is_some_and(|c| c.starts_with("application/json")),
            "{label}: {h}"
        );
        assert_eq!(r.headers["x-served-by"], callee_id, "{label}");
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{label}: {:?}",
            r.headers
        );

        // Other verbs, and an app status that is not 2xx: passed through with its body.
        for verb in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
            let r = send(client().request(
                verb.clone(),
                caller.url(&format!("/v1.0/invoke/{callee_id}/method/v")),
            ));
            assert_eq!(r.status, 200, "{label} {verb}: {}", r.text());
            assert_eq!(r.json()["method"], verb.as_str(), "{label}");
        }
        let r =
            send(client().get(caller.url(&format!("/v1.0/invoke/{callee_id}/method/status/418"))));
        assert_eq!(r.status, 418, "{label}: {}", r.text());
        assert_eq!(r.text(), format!("status from {callee_id}"), "{label}");
        assert_eq!(r.headers["x-served-by"], callee_id, "{label}");

        // 300 KB each way: many chunks of the stream, in order.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let r = send(
            client()
                .put(caller.url(&format!("/v1.0/invoke/{callee_id}/method/raw")))
                .header("content-type", "application/octet-stream")
                .body(big.clone()),
        );
        assert_eq!(r.status, 200, "{label}: {}", r.text());
        assert_eq!(r.body.len(), big.len(), "{label}");
        assert!(r.body == big, "{label}: the body came back changed");

        // A missing app: the caller's ERR_DIRECT_INVOKE.
        let r = send(client().post(caller.url("/v1.0/invoke/nobody-here/method/x")));
        assert_eq!(r.status, 500, "{label}: {}", r.text());
        assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE", "{label}");
    }

    // Registrations stay visible to each other beyond the refresh periods: 12 s of calls.
    let start_at = Instant::now();
    let mut calls = 0;
    while start_at.elapsed() < Duration::from_secs(12) {
        for (caller, callee_id) in [(&ours, "official-app"), (&theirs, "ours-app")] {
            let r = send(client().get(caller.url(&format!("/v1.0/invoke/{callee_id}/method/t"))));
            assert_eq!(
                r.status,
                200,
                "call {calls} to {callee_id} after {:?}: {}\n{}",
                start_at.elapsed(),
                r.text(),
                both_logs(&ours, &theirs)
            );
            calls += 1;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn grpc_invoke_service_reaches_the_official_side() {
    let Some(bin) = official("grpc_invoke_service_reaches_the_official_side") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let official_app = rt.block_on(serve_echo("official-app"));
    let (home, res, config) = shared_home();
    let theirs = start_official(&bin, "official-app", home.path(), &res, Some(official_app));
    let ours = start(
        &Opts::new("caller", home.path())
            .resources(&res)
            .arg("--config")
            .arg(config.to_str().unwrap()),
    );
    wait_reachable(&ours, "official-app", &theirs);
    use dapr::dapr::proto::common::v1 as common;
    let reply = rt.block_on(invoke_grpc(
        ours.grpc_port,
        "official-app",
        common::InvokeRequest {
            method: "hello".into(),
            data: Some(prost_types::Any {
                type_url: String::new(),
                value: b"{\"n\":1}".to_vec(),
            }),
            content_type: "application/json".into(),
            http_extension: Some(common::HttpExtension {
                verb: common::http_extension::Verb::Put as i32,
                querystring: "q=2".into(),
            }),
        },
    ));
    let reply = reply
        .unwrap_or_else(|s| panic!("{s:?}\n{}", both_logs(&ours, &theirs)))
        .into_inner();
    let data = reply.data.unwrap_or_default();
    let seen: Value = serde_json::from_slice(&data.value).unwrap();
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["path"], "/hello");
    assert_eq!(seen["query"], "q=2");
    assert_eq!(seen["body"], "{\"n\":1}");
    assert_eq!(seen["headers"]["dapr-caller-app-id"], "caller");
    assert!(reply.content_type.starts_with("application/json"));
}

#[test]
fn the_official_side_calls_our_grpc_app() {
    let Some(bin) = official("the_official_side_calls_our_grpc_app") else {
        return;
    };
    use crate::sidecar_grpc_app::{AppState, STRING_VALUE, serve_app};
    use dapr::dapr::proto::common::v1 as common;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(serve_app(AppState::new()));
    let (home, res, config) = shared_home();
    let ours = start(
        &Opts::new("ours-grpc", home.path())
            .resources(&res)
            .app_port(app)
            .arg("--app-protocol")
            .arg("grpc")
            .arg("--config")
            .arg(config.to_str().unwrap()),
    );
    let theirs = start_official(&bin, "official-caller", home.path(), &res, None);
    let ok = wait_until(Duration::from_secs(30), || {
        client()
            .post(theirs.url("/v1.0/invoke/ours-grpc/method/echo"))
            .send()
            .is_ok_and(|r| r.status() == 200)
    });
    assert!(
        ok,
        "ours-grpc never reachable\n{}",
        both_logs(&theirs, &ours)
    );

    // Through the official HTTP API: the app's data, and its error status as upstream shows it.
    let r = send(
        client()
            .put(theirs.url("/v1.0/invoke/ours-grpc/method/echo?x=1"))
            .header("content-type", "text/plain")
            .body("hi"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let echo = r.json();
    assert_eq!(echo["method"], "echo");
    assert_eq!(echo["verb"], "PUT");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(echo["data"], "hi");
    assert_eq!(echo["metadata"]["dapr-caller-app-id"], "official-caller");
    let r = send(client().post(theirs.url("/v1.0/invoke/ours-grpc/method/fail")));
    assert_eq!(r.status, 404, "{}", r.text());
    let status = r.json();
    assert_eq!(status["code"], 5, "{status}");
    assert_eq!(status["message"], "no such order", "{status}");
    assert_eq!(status["details"][0]["reason"], "MISSING", "{status}");

    // Through the official gRPC API: a typed answer keeps its type.
    let reply = rt.block_on(invoke_grpc(
        theirs.grpc_port,
        "ours-grpc",
        common::InvokeRequest {
            method: "typed".into(),
            data: None,
            content_type: String::new(),
            http_extension: None,
        },
    ));
    let data = reply
        .unwrap_or_else(|s| panic!("{s:?}\n{}", both_logs(&theirs, &ours)))
        .into_inner()
        .data
        .unwrap_or_default();
    assert_eq!(data.type_url, STRING_VALUE);
    assert_eq!(data.value, b"\n\x02hi");
}

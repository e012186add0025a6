//! Actors through a real daprd and an in-test actor app (axum) that records overlapping
//! calls per actor id: 1,000 concurrent calls over 100 ids with no two calls of one id
//! overlapping, idle deactivation (`DELETE /actors/{type}/{id}`) and the metadata's
//! `activeActors`, reentrancy up to `maxStackDepth`, app errors passed on as upstream
//! (`ERR_ACTOR_INVOKE_METHOD`, `X-DaprErrorResponseHeader`), actor state transactions and
//! reads over HTTP and gRPC with the Redis key layout checked with `redis-cli`, and the
//! errors of a sidecar without an actor state store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use serde_json::{Value, json};

use crate::sidecar_api::sidecar::{Daprd, Opts, start, write_component};
use crate::support::{Redis, wait_until};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What the actor app saw.
#[derive(Default)]
struct App {
    /// Calls in progress per `type/id`.
    busy: Mutex<HashMap<String, usize>>,
    /// Calls that started while another call of the same actor was in progress.
    overlaps: AtomicUsize,
    calls: AtomicUsize,
    deactivated: Mutex<Vec<String>>,
    /// The sidecar's HTTP port, for nested calls.
    dapr_port: AtomicU16,
    /// Reentrancy ids the app received, by method.
    reentrancy_ids: Mutex<Vec<(String, String)>>,
    /// Every `type/id` this app ran a call for.
    seen: Mutex<std::collections::BTreeSet<String>>,
    /// Answer `/dapr/config` with a 1 h idle timeout.
    long_idle: std::sync::atomic::AtomicBool,
}

type St = State<Arc<App>>;

async fn config(State(app): St) -> axum::Json<Value> {
    let idle = if app.long_idle.load(Ordering::SeqCst) {
        "1h"
    } else {
        "1s"
    };
    axum::Json(json!({
        "entities": ["Counter", "Nested"],
        "actorIdleTimeout": idle,
        "actorScanInterval": "0h0m0s200ms0\u{3bc}s",
        "entitiesConfig": [
            {"entities": ["Nested"], "actorIdleTimeout": "1h",
             "reentrancy": {"enabled": true, "maxStackDepth": 3}}
        ]
    }))
}

async fn method(
    State(app): St,
    Path((ty, id, method)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let key = format!("{ty}/{id}");
    app.seen.lock().unwrap().insert(key.clone());
    {
        let mut busy = app.busy.lock().unwrap();
        let n = busy.entry(key.clone()).or_default();
        if *n > 0 && ty != "Nested" {
            app.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        *n += 1;
    }
    app.calls.fetch_add(1, Ordering::SeqCst);
    let reentrancy = headers
        .get("dapr-reentrancy-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    app.reentrancy_ids
        .lock()
        .unwrap()
        .push((method.clone(), reentrancy.clone()));
    let res = match method.as_str() {
        "fail" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "custom-error" => (
            StatusCode::CONFLICT,
            [("x-daprerrorresponseheader", "true"), ("x-detail", "d1")],
            "custom",
        )
            .into_response(),
        m if m.starts_with("nest") => {
            // nestN calls nest(N-1) of the same actor through the sidecar, in the same
            // reentrant stack; nest0 answers.
            let n: u32 = m[4..].parse().unwrap();
            if n == 0 {
                (StatusCode::OK, "bottom").into_response()
            } else {
                let port = app.dapr_port.load(Ordering::SeqCst);
                let r = reqwest::Client::new()
                    .post(format!(
                        "http://127.0.0.1:{port}/v1.0/actors/{ty}/{id}/method/nest{}",
                        n - 1
                    ))
                    .header("dapr-reentrancy-id", &reentrancy)
                    .send()
                    .await
                    .unwrap();
                let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
                (status, r.text().await.unwrap()).into_response()
            }
        }
        _ => {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let echo = headers
                .get("x-test")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (
                StatusCode::OK,
                [("x-echo", echo)],
                format!("{key}/{method}:{body}"),
            )
                .into_response()
        }
    };
    *app.busy.lock().unwrap().get_mut(&key).unwrap() -= 1;
    res
}

async fn deactivate(State(app): St, Path((ty, id)): Path<(String, String)>) -> StatusCode {
    app.deactivated.lock().unwrap().push(format!("{ty}/{id}"));
    StatusCode::OK
}

/// Serves the actor app on a free port.
async fn serve(app: Arc<App>) -> u16 {
    let router = axum::Router::new()
        .route("/dapr/config", get(config))
        .route("/actors/{ty}/{id}/method/{method}", put(method))
        .route("/actors/{ty}/{id}", delete(deactivate))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

/// A daprd for the actor app, with an actor state store in `redis` (none when `None`).
fn sidecar(
    rt: &tokio::runtime::Runtime,
    redis: Option<&Redis>,
) -> (Daprd, Arc<App>, tempfile::TempDir) {
    let app = Arc::new(App::default());
    let port = rt.block_on(serve(app.clone()));
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    match redis {
        Some(r) => write_component(
            &res,
            "actorstore",
            "state.redis",
            &[("redisHost", &r.addr()), ("actorStateStore", "true")],
        ),
        None => write_component(&res, "plain", "state.in-memory", &[]),
    }
    let d = start(
        &Opts::new("actorapp", home.path())
            .resources(&res)
            .app_port(port),
    );
    app.dapr_port.store(d.http_port, Ordering::SeqCst);
    (d, app, home)
}

async fn call(d: &Daprd, path: &str, body: &str) -> (u16, HeaderMap, String) {
    let r = reqwest::Client::new()
        .post(d.url(path))
        .header("x-test", "t1")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let mut headers = HeaderMap::new();
    for (k, v) in r.headers() {
        headers.insert(k.clone(), v.clone());
    }
    (status, headers, r.text().await.unwrap())
}

async fn metadata(d: &Daprd) -> Value {
    reqwest::get(d.url("/v1.0/metadata"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn active(meta: &Value, ty: &str) -> i64 {
    meta["actorRuntime"]["activeActors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == ty)
        .map_or(-1, |a| a["count"].as_i64().unwrap())
}

#[test]
fn turns_load_and_idle_deactivation() {
    let rt = runtime();
    let redis = Redis::start();
    let (d, app, _home) = sidecar(&rt, Some(&redis));
    rt.block_on(async {
        // One call first: the runtime is up once the app has answered `/dapr/config`.
        let (status, headers, body) = call(&d, "/v1.0/actors/Counter/a0/method/hello", "x").await;
        assert_eq!((status, body.as_str()), (200, "Counter/a0/hello:x"));
        assert_eq!(headers["x-echo"], "t1", "caller headers reach the app");

        let started = std::time::Instant::now();
        let calls = (0..1000).map(|i| {
            let d = &d;
            async move {
                let id = format!("a{}", i % 100);
                call(d, &format!("/v1.0/actors/Counter/{id}/method/m{i}"), "p").await
            }
        });
        let results = futures_util::future::join_all(calls).await;
        for (i, (status, _, body)) in results.iter().enumerate() {
            assert_eq!(*status, 200, "call {i}: {body}");
            assert_eq!(body, &format!("Counter/a{}/m{i}:p", i % 100));
        }
        assert_eq!(
            app.overlaps.load(Ordering::SeqCst),
            0,
            "two calls of one actor overlapped"
        );
        // 10 calls per id of 2 ms each, serialised per id: at least 20 ms.
        assert!(started.elapsed() >= Duration::from_millis(20));

        let meta = metadata(&d).await;
        assert_eq!(meta["actorRuntime"]["runtimeStatus"], "RUNNING");
        assert_eq!(meta["actorRuntime"]["hostReady"], true);
        assert_eq!(meta["actorRuntime"]["placement"], "placement: connected");
        assert_eq!(active(&meta, "Counter"), 100, "{meta}");
        assert_eq!(active(&meta, "Nested"), 0, "{meta}");
    });
    // Idle for 1 s (scanned every 200 ms): every actor gets its DELETE.
    assert!(
        wait_until(Duration::from_secs(5), || app
            .deactivated
            .lock()
            .unwrap()
            .len()
            >= 100),
        "deactivated: {}",
        app.deactivated.lock().unwrap().len()
    );
    let mut gone = app.deactivated.lock().unwrap().clone();
    gone.sort();
    gone.dedup();
    assert_eq!(gone.len(), 100);
    assert!(gone.contains(&"Counter/a42".to_string()));
    rt.block_on(async {
        assert_eq!(active(&metadata(&d).await, "Counter"), 0);
        // A deactivated actor is activated again by its next call.
        let (status, _, _) = call(&d, "/v1.0/actors/Counter/a42/method/again", "").await;
        assert_eq!(status, 200);
        assert_eq!(active(&metadata(&d).await, "Counter"), 1);
    });
}

#[test]
fn reentrancy_errors_and_state() {
    let rt = runtime();
    let redis = Redis::start();
    let (d, app, _home) = sidecar(&rt, Some(&redis));
    rt.block_on(async {
        // Reentrancy: nest2 → nest1 → nest0 is a stack of 3 calls (the limit).
        let (status, _, body) = call(&d, "/v1.0/actors/Nested/n1/method/nest2", "").await;
        assert_eq!((status, body.as_str()), (200, "bottom"));
        let ids = app.reentrancy_ids.lock().unwrap().clone();
        assert_eq!(ids.len(), 3);
        assert!(!ids[0].1.is_empty(), "daprd generates a reentrancy id");
        assert!(ids.iter().all(|(_, id)| id == &ids[0].1), "{ids:?}");
        // One more level is refused.
        let (status, _, body) = call(&d, "/v1.0/actors/Nested/n1/method/nest3", "").await;
        assert_eq!(status, 500);
        assert!(body.contains("ERR_ACTOR_STACK_DEPTH"), "{body}");
        // Types without reentrancy get no id.
        call(&d, "/v1.0/actors/Counter/c1/method/plain", "").await;
        let ids = app.reentrancy_ids.lock().unwrap().clone();
        assert_eq!(ids.last().unwrap(), &("plain".to_string(), String::new()));

        // App errors.
        let (status, _, body) = call(&d, "/v1.0/actors/Counter/c1/method/fail", "").await;
        assert_eq!(status, 500);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["errorCode"], "ERR_ACTOR_INVOKE_METHOD");
        assert_eq!(
            v["message"],
            "error invoke actor method: error from actor service: (500) boom"
        );
        let (status, headers, body) =
            call(&d, "/v1.0/actors/Counter/c1/method/custom-error", "").await;
        assert_eq!((status, body.as_str()), (409, "custom"));
        assert_eq!(headers["x-detail"], "d1");
        // A type nobody hosts; a bad id.
        let (status, _, body) = call(&d, "/v1.0/actors/Nobody/x/method/m", "").await;
        assert_eq!(status, 500, "{body}");
        assert!(
            body.contains("ERR_ACTOR_INVOKE_METHOD") && body.contains("Nobody/x"),
            "{body}"
        );
        let (status, _, body) = call(&d, "/v1.0/actors/Counter/a%5Cb/method/m", "").await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("ERR_BAD_REQUEST"), "{body}");
        // State: a transaction needs the actor active here.
        let txn = json!([
            {"operation": "upsert", "request": {"key": "k1", "value": {"a": 1}}},
            {"operation": "upsert", "request": {"key": "k2", "value": "text"}},
        ])
        .to_string();
        let (status, _, body) = call(&d, "/v1.0/actors/Counter/cold/state", &txn).await;
        assert_eq!(status, 400);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["errorCode"], "ERR_ACTOR_INSTANCE_MISSING");
        assert_eq!(v["message"], "actor instance is missing");

        let (status, _, body) = call(&d, "/v1.0/actors/Counter/c1/state", &txn).await;
        assert_eq!(status, 204, "{body}");
        let r = reqwest::get(d.url("/v1.0/actors/Counter/c1/state/k1"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.text().await.unwrap(), r#"{"a":1}"#);
        let r = reqwest::get(d.url("/v1.0/actors/Counter/c1/state/k2"))
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), r#""text""#);
        let r = reqwest::get(d.url("/v1.0/actors/Counter/c1/state/none"))
            .await
            .unwrap();
        assert_eq!(r.status(), 204);

        // gRPC: read, then a transaction that deletes k1 and writes raw bytes.
        let mut g = DaprClient::connect(format!("http://127.0.0.1:{}", d.grpc_port))
            .await
            .unwrap();
        let got = g
            .get_actor_state(pb::GetActorStateRequest {
                actor_type: "Counter".into(),
                actor_id: "c1".into(),
                key: "k1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.data, br#"{"a":1}"#);
        g.execute_actor_state_transaction(pb::ExecuteActorStateTransactionRequest {
            actor_type: "Counter".into(),
            actor_id: "c1".into(),
            operations: vec![
                pb::TransactionalActorStateOperation {
                    operation_type: "delete".into(),
                    key: "k1".into(),
                    ..Default::default()
                },
                pb::TransactionalActorStateOperation {
                    operation_type: "upsert".into(),
                    key: "k3".into(),
                    value: Some(prost_types::Any {
                        type_url: String::new(),
                        value: b"raw".to_vec(),
                    }),
                    ..Default::default()
                },
            ],
        })
        .await
        .unwrap();
        let r = reqwest::get(d.url("/v1.0/actors/Counter/c1/state/k1"))
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let e = g
            .execute_actor_state_transaction(pb::ExecuteActorStateTransactionRequest {
                actor_type: "Counter".into(),
                actor_id: "never".into(),
                operations: vec![],
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Internal);
        assert!(e.message().contains("actor instance is missing"));
        // gRPC InvokeActor.
        let r = g
            .invoke_actor(pb::InvokeActorRequest {
                actor_type: "Counter".into(),
                actor_id: "c1".into(),
                method: "viagrpc".into(),
                data: b"g".to_vec(),
                metadata: HashMap::from([("x-test".to_string(), "t2".to_string())]),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.data, b"Counter/c1/viagrpc:g");
        // ttlInSeconds needs the ActorStateTTL feature.
        let ttl = json!([{"operation": "upsert",
            "request": {"key": "t", "value": 1, "metadata": {"ttlInSeconds": "60"}}}])
        .to_string();
        let (status, _, body) = call(&d, "/v1.0/actors/Counter/c1/state", &ttl).await;
        assert_eq!(status, 500);
        assert!(
            body.contains("ERR_ACTOR_STATE_TRANSACTION_SAVE") && body.contains("ActorStateTTL"),
            "{body}"
        );
    });
    // The official key layout: <appid>||<type>||<id>||<key>.
    assert_eq!(
        redis
            .cli(&["HGET", "actorapp||Counter||c1||k2", "data"])
            .trim(),
        r#""text""#
    );
    assert_eq!(
        redis
            .cli(&["HGET", "actorapp||Counter||c1||k3", "data"])
            .trim(),
        "raw"
    );
    assert_eq!(
        redis.cli(&["EXISTS", "actorapp||Counter||c1||k1"]).trim(),
        "0"
    );
    assert_eq!(app.overlaps.load(Ordering::SeqCst), 0);
}

#[test]
fn hosted_actors_without_an_actor_state_store() {
    let rt = runtime();
    let (d, _app, _home) = sidecar(&rt, None);
    assert!(
        wait_until(Duration::from_secs(10), || d.log().contains(
            "hosted actors: state store must be present to initialize the actor runtime"
        )),
        "{}",
        d.log()
    );
    rt.block_on(async {
        let (status, _, body) = call(&d, "/v1.0/actors/Counter/a/method/m", "").await;
        assert_eq!(status, 500);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["errorCode"], "ERR_ACTOR_RUNTIME_NOT_FOUND");
        assert!(v["message"].as_str().unwrap().contains("actorStateStore"));
        assert_eq!(
            metadata(&d).await["actorRuntime"]["runtimeStatus"],
            "DISABLED"
        );
    });
}

/// Three sidecars (one in-test app each) sharing one registry host `Counter`: 1,000
/// concurrent calls over 100 ids never overlap for one id, and every id runs in exactly one
/// of them whichever sidecar is called, and after one sidecar is killed
/// (SIGKILL) its ids move to the others and calls keep succeeding.
#[test]
fn placement_across_three_sidecars() {
    let rt = runtime();
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "actorstore",
        "state.redis",
        &[("redisHost", &redis.addr()), ("actorStateStore", "true")],
    );
    let mut nodes: Vec<(Daprd, Arc<App>)> = (0..3)
        .map(|_| {
            let app = Arc::new(App::default());
            app.long_idle.store(true, Ordering::SeqCst);
            let port = rt.block_on(serve(app.clone()));
            let d = start(
                &Opts::new("actorapp", home.path())
                    .resources(&res)
                    .app_port(port),
            );
            app.dapr_port.store(d.http_port, Ordering::SeqCst);
            (d, app)
        })
        .collect();
    let ids: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
    // Every sidecar's runtime is up and its ring has the three hosts (refreshed every 500 ms).
    rt.block_on(async {
        for (d, _) in &nodes {
            let (status, _, body) = call(d, "/v1.0/actors/Nested/warm/method/nest0", "").await;
            assert_eq!(status, 200, "{body}");
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // 1,000 concurrent calls: ten per id, spread over the three sidecars.
        let calls = ids.iter().enumerate().flat_map(|(i, id)| {
            let nodes = &nodes;
            (0..10).map(move |k| (i + k) % 3).map(move |n| async move {
                let r = call(
                    &nodes[n].0,
                    &format!("/v1.0/actors/Counter/{id}/method/m"),
                    "b",
                )
                .await;
                (id.clone(), r)
            })
        });
        for (id, (status, _, body)) in futures_util::future::join_all(calls).await {
            assert_eq!((status, body), (200, format!("Counter/{id}/m:b")));
        }
    });
    let seen = |app: &App| -> Vec<String> {
        app.seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|k| k.strip_prefix("Counter/").map(str::to_string))
            .collect()
    };
    let mut all = Vec::new();
    for (d, app) in &nodes {
        let mine = seen(app);
        let meta = rt.block_on(metadata(d));
        assert_eq!(active(&meta, "Counter"), mine.len() as i64, "{meta}");
        assert!(!mine.is_empty() && mine.len() < 100, "{}", mine.len());
        all.extend(mine);
        assert_eq!(app.overlaps.load(Ordering::SeqCst), 0);
        assert!(
            app.deactivated
                .lock()
                .unwrap()
                .iter()
                .all(|k| !k.starts_with("Counter/"))
        );
    }
    all.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(all, want, "each id is active in exactly one sidecar");

    // SIGKILL the third sidecar: its ids move to the other two.
    let (mut dead, dead_app) = nodes.pop().unwrap();
    let moved = seen(&dead_app);
    dead.child.0.kill().unwrap();
    let _ = dead.child.0.wait();
    rt.block_on(async {
        let calls = ids.iter().enumerate().map(|(i, id)| {
            let nodes = &nodes;
            async move {
                let r = call(
                    &nodes[i % 2].0,
                    &format!("/v1.0/actors/Counter/{id}/method/again"),
                    "",
                )
                .await;
                (id.clone(), r)
            }
        });
        for (id, (status, _, body)) in futures_util::future::join_all(calls).await {
            assert_eq!((status, body), (200, format!("Counter/{id}/again:")));
        }
    });
    let mut total = 0;
    let mut after = Vec::new();
    for (d, app) in &nodes {
        let meta = rt.block_on(metadata(d));
        total += active(&meta, "Counter");
        after.extend(seen(app));
        assert_eq!(app.overlaps.load(Ordering::SeqCst), 0);
    }
    assert_eq!(total, 100);
    for id in &moved {
        assert!(after.contains(id), "{id} did not move");
    }
    after.sort();
    assert_eq!(after, want);

    // A new sidecar joins: the actors its ring slots take are deactivated where they were
    // (DELETE to their app), and run in the new one from then on.
    let app = Arc::new(App::default());
    app.long_idle.store(true, Ordering::SeqCst);
    let port = rt.block_on(serve(app.clone()));
    let d = start(
        &Opts::new("actorapp", home.path())
            .resources(&res)
            .app_port(port),
    );
    app.dapr_port.store(d.http_port, Ordering::SeqCst);
    rt.block_on(async {
        let (status, _, body) = call(&d, "/v1.0/actors/Nested/warm/method/nest0", "").await;
        assert_eq!(status, 200, "{body}");
    });
    nodes.push((d, app));
    let given_up = || -> Vec<String> {
        let mut v: Vec<String> = nodes[..2]
            .iter()
            .flat_map(|(_, a)| a.deactivated.lock().unwrap().clone())
            .filter_map(|k| k.strip_prefix("Counter/").map(str::to_string))
            .collect();
        v.sort();
        v
    };
    assert!(
        wait_until(Duration::from_secs(5), || !given_up().is_empty()),
        "no actor was rebalanced"
    );
    std::thread::sleep(Duration::from_millis(1000));
    let given_up = given_up();
    let total: i64 = nodes
        .iter()
        .map(|(d, _)| active(&rt.block_on(metadata(d)), "Counter"))
        .sum();
    assert_eq!(total as usize, 100 - given_up.len());
    rt.block_on(async {
        for id in &ids {
            let (status, _, body) = call(
                &nodes[0].0,
                &format!("/v1.0/actors/Counter/{id}/method/third"),
                "",
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    });
    assert_eq!(seen(&nodes[2].1), given_up);
    let total: i64 = nodes
        .iter()
        .map(|(d, _)| active(&rt.block_on(metadata(d)), "Counter"))
        .sum();
    assert_eq!(total, 100);
}

//! Distributed lock and configuration through a real daprd backed by a real Redis: 100
//! concurrent TryLocks (HTTP and gRPC) with exactly one winner, expiry, unlock statuses and
//! the official errors; configuration reads, and a change made with `redis-cli SET`
//! reaching a subscribed HTTP app and a gRPC subscriber within one second.

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::sidecar_api::sidecar::{Daprd, Opts, start, write_component};
use crate::support::Redis;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn post(d: &Daprd, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(d.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(d: &Daprd, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(d.url(path))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn grpc(d: &Daprd) -> DaprClient<tonic::transport::Channel> {
    DaprClient::connect(format!("http://127.0.0.1:{}", d.grpc_port))
        .await
        .unwrap()
}

fn lock_body(resource: &str, owner: &str, expiry: i64) -> Value {
    json!({"resourceId": resource, "lockOwner": owner, "expiryInSeconds": expiry})
}

#[test]
fn locks_over_http_and_grpc() {
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "lockstore",
        "lock.redis",
        &[("redisHost", &redis.addr())],
    );
    write_component(
        &res,
        "configstore",
        "configuration.redis",
        &[("redisHost", &redis.addr())],
    );
    let d = start(&Opts::new("locker", home.path()).resources(&res));
    runtime().block_on(async {
        // 100 concurrent TryLocks on one resource: exactly one winner.
        let tries = (0..100).map(|i| {
            let d = &d;
            async move {
                post(
                    d,
                    "/v1.0-alpha1/lock/lockstore",
                    lock_body("res", &format!("o{i}"), 30),
                )
                .await
            }
        });
        let answers = futures_util::future::join_all(tries).await;
        assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
        let winners: Vec<usize> = answers
            .iter()
            .enumerate()
            .filter(|(_, (_, b))| b == &json!({"success": true}))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(winners.len(), 1, "{answers:?}");
        assert!(answers.iter().all(|(_, b)| b.get("success").is_some()));
        let owner = format!("o{}", winners[0]);
        // The official key layout, holding the owner.
        assert_eq!(redis.cli(&["GET", "lock||locker||res"]).trim(), owner);

        // Unlock statuses as numbers: belongs to others (2), success (0), missing (1).
        let unlock = |o: String| {
            let d = &d;
            async move {
                post(
                    d,
                    "/v1.0-alpha1/unlock/lockstore",
                    json!({"resourceId": "res", "lockOwner": o}),
                )
                .await
            }
        };
        assert_eq!(unlock("intruder".into()).await, (200, json!({"status": 2})));
        assert_eq!(unlock(owner.clone()).await, (200, json!({"status": 0})));
        assert_eq!(unlock(owner.clone()).await, (200, json!({"status": 1})));

        // After expiry another owner takes it (proto field names are accepted too).
        let short = json!({"resource_id": "short", "lock_owner": "a", "expiry_in_seconds": "1"});
        assert_eq!(
            post(&d, "/v1.0-alpha1/lock/lockstore", short).await,
            (200, json!({"success": true}))
        );
        assert_eq!(
            post(
                &d,
                "/v1.0-alpha1/lock/lockstore",
                lock_body("short", "b", 5)
            )
            .await,
            (200, json!({"success": false}))
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(
            post(
                &d,
                "/v1.0-alpha1/lock/lockstore",
                lock_body("short", "b", 5)
            )
            .await,
            (200, json!({"success": true}))
        );

        // Errors.
        let err = |status: u16, code: &str, message: &str| {
            (status, json!({"errorCode": code, "message": message}))
        };
        assert_eq!(
            post(&d, "/v1.0-alpha1/lock/lockstore", lock_body("x", "a", 0)).await,
            err(
                400,
                "ERR_MALFORMED_REQUEST",
                "expiry in seconds is not positive"
            )
        );
        assert_eq!(
            post(&d, "/v1.0-alpha1/lock/lockstore", lock_body("", "a", 5)).await,
            err(400, "ERR_MALFORMED_REQUEST", "lock resource id is empty")
        );
        assert_eq!(
            post(
                &d,
                "/v1.0-alpha1/unlock/lockstore",
                json!({"resourceId": "x"})
            )
            .await,
            err(400, "ERR_MALFORMED_REQUEST", "lock owner is empty")
        );
        assert_eq!(
            post(&d, "/v1.0-alpha1/lock/nosuch", lock_body("x", "a", 5)).await,
            err(400, "ERR_LOCK_STORE_NOT_FOUND", "lock nosuch is not found")
        );
        assert_eq!(
            post(&d, "/v1.0-alpha1/lock/lockstore", lock_body("a||b", "a", 5)).await,
            err(500, "ERR_TRY_LOCK", "failed to try acquiring lock")
        );
        let (status, e) = post(
            &d,
            "/v1.0-alpha1/lock/lockstore",
            json!({"expiryInSeconds": "soon"}),
        )
        .await;
        assert_eq!(
            (status, e["errorCode"].as_str()),
            (400, Some("ERR_MALFORMED_REQUEST"))
        );

        // The same over gRPC: 100 concurrent TryLockAlpha1, one winner.
        let c = grpc(&d).await;
        let tries = (0..100).map(|i| {
            let mut c = c.clone();
            async move {
                c.try_lock_alpha1(pb::TryLockRequest {
                    store_name: "lockstore".into(),
                    resource_id: "grpc-res".into(),
                    lock_owner: format!("g{i}"),
                    expiry_in_seconds: 30,
                })
                .await
                .unwrap()
                .into_inner()
                .success
            }
        });
        let won = futures_util::future::join_all(tries).await;
        assert_eq!(won.iter().filter(|w| **w).count(), 1);
        let owner = format!("g{}", won.iter().position(|w| *w).unwrap());
        let mut c2 = c.clone();
        let unlock = |o: &str| {
            let req = pb::UnlockRequest {
                store_name: "lockstore".into(),
                resource_id: "grpc-res".into(),
                lock_owner: o.into(),
            };
            let mut c = c2.clone();
            async move { c.unlock_alpha1(req).await.unwrap().into_inner().status }
        };
        use pb::unlock_response::Status as S;
        assert_eq!(unlock("other").await, S::LockBelongsToOthers as i32);
        assert_eq!(unlock(&owner).await, S::Success as i32);
        assert_eq!(unlock(&owner).await, S::LockDoesNotExist as i32);
        let e = c2
            .try_lock_alpha1(pb::TryLockRequest {
                store_name: "nosuch".into(),
                resource_id: "r".into(),
                lock_owner: "o".into(),
                expiry_in_seconds: 5,
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(e.message(), "lock nosuch is not found");
        let e = c2
            .try_lock_alpha1(pb::TryLockRequest {
                store_name: "lockstore".into(),
                resource_id: "r".into(),
                lock_owner: "o".into(),
                expiry_in_seconds: -1,
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);

        // Metadata lists both components, without capabilities (as upstream).
        let (_, md) = get(&d, "/v1.0/metadata").await;
        let comps = md["components"].as_array().unwrap();
        for (name, ty) in [
            ("lockstore", "lock.redis"),
            ("configstore", "configuration.redis"),
        ] {
            let c = comps
                .iter()
                .find(|c| c["name"] == name)
                .unwrap_or_else(|| panic!("{md}"));
            assert_eq!(c["type"], ty);
            assert_eq!(c["version"], "v1");
            assert!(c.get("capabilities").is_none(), "{c}");
        }

        // Without an app, an HTTP subscription has nowhere to go.
        assert_eq!(
            get(&d, "/v1.0/configuration/configstore/subscribe?key=a").await,
            err(
                500,
                "ERR_APP_CHANNEL_NIL",
                "app channel is not initialized. cannot subscribe to configuration updates"
            )
        );
    });
}

/// Every request the app receives: path, JSON body, arrival time.
type Received = mpsc::UnboundedReceiver<(String, Value, Instant)>;

/// An HTTP app answering 200 to everything and reporting what it received.
async fn recording_app() -> (u16, Received) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |req: Request| {
        let tx = tx.clone();
        async move {
            let path = req.uri().path().to_string();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let _ = tx.send((path, json, Instant::now()));
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, rx)
}

/// The next request the app got on `/configuration/...`, within `limit`.
async fn next_change(rx: &mut Received, limit: Duration) -> Option<(String, Value, Instant)> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(r)) if r.0.starts_with("/configuration/") => return Some(r),
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
}

#[test]
fn configuration_changes_reach_http_and_grpc_subscribers() {
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "configstore",
        "configuration.redis",
        &[("redisHost", &redis.addr())],
    );
    let rt = runtime();
    let (app_port, mut received) = rt.block_on(recording_app());
    let d = start(
        &Opts::new("configured", home.path())
            .resources(&res)
            .app_port(app_port),
    );
    rt.block_on(async {
        // Reads, on both API versions.
        assert_eq!(get(&d, "/v1.0/configuration/configstore?key=color").await.0, 204);
        redis.cli(&["SET", "color", "blue||1"]);
        redis.cli(&["SET", "size", "large"]);
        for v in ["v1.0", "v1.0-alpha1"] {
            assert_eq!(
                get(&d, &format!("/{v}/configuration/configstore?key=color&key=size&key=none")).await,
                (200, json!({"color": {"value": "blue", "version": "1"}, "size": {"value": "large"}}))
            );
        }
        let (status, all) = get(&d, "/v1.0/configuration/configstore").await;
        assert_eq!(status, 200);
        assert_eq!(all.as_object().unwrap().len(), 2, "{all}");

        // An HTTP subscription: a redis-cli SET reaches the app within one second.
        let (status, sub) = get(&d, "/v1.0/configuration/configstore/subscribe?key=color").await;
        assert_eq!(status, 200, "{sub}");
        let id = sub["id"].as_str().unwrap().to_string();
        assert!(!id.is_empty());
        let t0 = Instant::now();
        redis.cli(&["SET", "color", "red||2"]);
        let (path, body, at) = next_change(&mut received, Duration::from_secs(2))
            .await
            .unwrap_or_else(|| panic!("no change reached the app\n{}", d.log()));
        assert!(at.duration_since(t0) < Duration::from_secs(1), "{:?}", at.duration_since(t0));
        assert_eq!(path, "/configuration/configstore/color");
        assert_eq!(
            body,
            json!({"id": id, "items": {"color": {"value": "red", "version": "2"}}})
        );
        // Other keys are not this subscription's.
        redis.cli(&["SET", "size", "small"]);
        assert!(next_change(&mut received, Duration::from_millis(400)).await.is_none());

        // A gRPC subscriber (every key): first the id, then the changes.
        let mut c = grpc(&d).await;
        let mut stream = c
            .subscribe_configuration(pb::SubscribeConfigurationRequest {
                store_name: "configstore".into(),
                keys: vec![],
                metadata: Default::default(),
            })
            .await
            .unwrap()
            .into_inner();
        let first = stream.next().await.unwrap().unwrap();
        assert!(!first.id.is_empty() && first.items.is_empty());
        let t0 = Instant::now();
        redis.cli(&["SET", "size", "medium||7"]);
        let change = tokio::time::timeout(Duration::from_secs(1), stream.next())
            .await
            .expect("a change within 1 s")
            .unwrap()
            .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert_eq!(change.id, first.id);
        assert_eq!(change.items["size"].value, "medium");
        assert_eq!(change.items["size"].version, "7");
        // A deletion: the HTTP app (subscribed to color) and the stream get an empty item.
        redis.cli(&["DEL", "color"]);
        let change = tokio::time::timeout(Duration::from_secs(1), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(change.items["color"].value, "");
        let (_, body, _) = next_change(&mut received, Duration::from_secs(1)).await.unwrap();
        assert_eq!(body, json!({"id": id, "items": {"color": {}}}));

        // Unsubscribing over gRPC ends the stream; an unknown id is ok: false.
        let ok = c
            .unsubscribe_configuration(pb::UnsubscribeConfigurationRequest {
                store_name: "configstore".into(),
                id: first.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(ok.ok, "{ok:?}");
        let end = tokio::time::timeout(Duration::from_secs(2), stream.next()).await.unwrap();
        assert!(end.is_none(), "{end:?}");
        let not = c
            .unsubscribe_configuration_alpha1(pb::UnsubscribeConfigurationRequest {
                store_name: "configstore".into(),
                id: "nope".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!not.ok && not.message.contains("nope"), "{not:?}");

        // HTTP unsubscribe: ok, then the app hears nothing more; a second time is 500.
        assert_eq!(
            get(&d, &format!("/v1.0/configuration/configstore/{id}/unsubscribe")).await,
            (200, json!({"ok": true}))
        );
        redis.cli(&["SET", "color", "green"]);
        assert!(next_change(&mut received, Duration::from_millis(400)).await.is_none());
        let (status, again) =
            get(&d, &format!("/v1.0-alpha1/configuration/configstore/{id}/unsubscribe")).await;
        assert_eq!(status, 500);
        assert_eq!(again["ok"], false);
        assert!(again["message"].as_str().unwrap().contains(&id), "{again}");

        // gRPC reads and errors.
        let items = c
            .get_configuration(pb::GetConfigurationRequest {
                store_name: "configstore".into(),
                keys: vec!["color".into()],
                metadata: Default::default(),
            })
            .await
            .unwrap()
            .into_inner()
            .items;
        assert_eq!(items["color"].value, "green");
        let e = c
            .get_configuration_alpha1(pb::GetConfigurationRequest {
                store_name: "nosuch".into(),
                keys: vec![],
                metadata: Default::default(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (tonic::Code::InvalidArgument, "configuration store nosuch not found")
        );
        assert_eq!(
            get(&d, "/v1.0/configuration/nosuch?key=a").await,
            (
                400,
                json!({"errorCode": "ERR_CONFIGURATION_STORE_NOT_FOUND", "message": "configuration store nosuch not found"})
            )
        );
        // No lock store here.
        assert_eq!(
            post(&d, "/v1.0-alpha1/lock/lockstore", lock_body("r", "o", 5)).await,
            (
                500,
                json!({"errorCode": "ERR_LOCK_STORE_NOT_CONFIGURED", "message": "lock lockstore is not configured"})
            )
        );
    });
}

//! Actor timers and reminders through real daprd processes and an in-test actor app
//! (axum) that records every callback (`PUT /actors/{type}/{id}/method/timer/{name}` and
//! `.../remind/{name}`) with its body and time, the deactivations, and any overlap of two
//! calls of one actor (timers and reminders run in the actor's turn like method calls).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use serde_json::{Value, json};

use crate::sidecar_api::sidecar::{Daprd, Opts, start, write_component};
use crate::support::{Redis, wait_until};

/// One callback the app received.
#[derive(Debug, Clone)]
struct Callback {
    kind: String,
    actor: String,
    name: String,
    body: Value,
    at: Instant,
}

#[derive(Default)]
struct App {
    busy: Mutex<HashMap<String, usize>>,
    overlaps: AtomicUsize,
    callbacks: Mutex<Vec<Callback>>,
    deactivated: Mutex<Vec<String>>,
    /// Reminder names whose next N deliveries fail with 500.
    fail: Mutex<HashMap<String, usize>>,
}

impl App {
    fn of(&self, kind: &str, actor: &str, name: &str) -> Vec<Callback> {
        self.callbacks
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.kind == kind && c.actor == actor && c.name == name)
            .cloned()
            .collect()
    }

    fn count(&self, kind: &str, actor: &str, name: &str) -> usize {
        self.of(kind, actor, name).len()
    }
}

type St = State<Arc<App>>;

async fn config() -> axum::Json<Value> {
    axum::Json(json!({
        "entities": ["Clock"],
        "actorIdleTimeout": "1s",
        "actorScanInterval": "100ms",
    }))
}

fn enter(app: &App, key: &str) {
    let mut busy = app.busy.lock().unwrap();
    let n = busy.entry(key.to_string()).or_default();
    if *n > 0 {
        app.overlaps.fetch_add(1, Ordering::SeqCst);
    }
    *n += 1;
}

fn leave(app: &App, key: &str) {
    *app.busy.lock().unwrap().get_mut(key).unwrap() -= 1;
}

async fn callback(
    State(app): St,
    Path((ty, id, kind, name)): Path<(String, String, String, String)>,
    body: String,
) -> Response {
    let key = format!("{ty}/{id}");
    enter(&app, &key);
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    app.callbacks.lock().unwrap().push(Callback {
        kind: kind.clone(),
        actor: key.clone(),
        name: name.clone(),
        body,
        at: Instant::now(),
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let fail = {
        let mut f = app.fail.lock().unwrap();
        match f.get_mut(&name) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    };
    leave(&app, &key);
    if fail {
        (StatusCode::INTERNAL_SERVER_ERROR, "not now").into_response()
    } else {
        StatusCode::OK.into_response()
    }
}

async fn method(
    State(app): St,
    Path((ty, id, method)): Path<(String, String, String)>,
) -> Response {
    let key = format!("{ty}/{id}");
    enter(&app, &key);
    if method == "slow" {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    leave(&app, &key);
    (StatusCode::OK, method).into_response()
}

async fn deactivate(State(app): St, Path((ty, id)): Path<(String, String)>) -> StatusCode {
    app.deactivated.lock().unwrap().push(format!("{ty}/{id}"));
    StatusCode::OK
}

async fn serve(app: Arc<App>) -> u16 {
    let router = axum::Router::new()
        .route("/dapr/config", get(config))
        .route("/actors/{ty}/{id}/method/{kind}/{name}", put(callback))
        .route("/actors/{ty}/{id}/method/{method}", put(method))
        .route("/actors/{ty}/{id}", delete(deactivate))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A daprd for a new app in `home` (sidecars sharing `home` share the registry and the
/// scheduler file).
fn sidecar(
    rt: &tokio::runtime::Runtime,
    redis: &Redis,
    home: &std::path::Path,
) -> (Daprd, Arc<App>) {
    let app = Arc::new(App::default());
    let port = rt.block_on(serve(app.clone()));
    let res = home.join("resources");
    write_component(
        &res,
        "actorstore",
        "state.redis",
        &[
            ("redisHost", redis.addr().as_str()),
            ("actorStateStore", "true"),
        ],
    );
    let d = start(&Opts::new("clockapp", home).resources(&res).app_port(port));
    (d, app)
}

async fn send(d: &Daprd, method: reqwest::Method, path: &str, body: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .request(method, d.url(path))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(d: &Daprd, path: &str, body: &str) -> (u16, String) {
    send(d, reqwest::Method::POST, path, body).await
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["errorCode"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn timers_fire_on_schedule_in_the_turn_and_stop() {
    let rt = runtime();
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let (d, app) = sidecar(&rt, &redis, home.path());
    rt.block_on(async {
        // Three firings of R3/PT1S, 100 ms after registration, with the registered strings.
        let (s, b) = post(
            &d,
            "/v1.0/actors/Clock/c1/timers/t1",
            r#"{"dueTime":"100ms","period":"R3/PT1S","callback":"cb","data":{"x":[1,2]}}"#,
        )
        .await;
        assert_eq!((s, b.as_str()), (204, ""));
        let registered = Instant::now();
        // A frequent timer on the same actor, with slow method calls in between: never two
        // at once.
        assert_eq!(
            post(
                &d,
                "/v1.0/actors/Clock/c1/timers/fast",
                r#"{"period":"100ms"}"#
            )
            .await
            .0,
            204
        );
        for _ in 0..3 {
            assert_eq!(
                post(&d, "/v1.0/actors/Clock/c1/method/slow", "").await.0,
                200
            );
        }
        assert!(app.count("timer", "Clock/c1", "fast") >= 3);
        let (s, _) = send(
            &d,
            reqwest::Method::DELETE,
            "/v1.0/actors/Clock/c1/timers/fast",
            "",
        )
        .await;
        assert_eq!(s, 204);
        let stopped = app.count("timer", "Clock/c1", "fast");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            app.count("timer", "Clock/c1", "fast") <= stopped + 1,
            "a deleted timer stops"
        );

        assert!(wait_until(Duration::from_secs(5), || app
            .count("timer", "Clock/c1", "t1")
            == 3));
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let fired = app.of("timer", "Clock/c1", "t1");
        assert_eq!(fired.len(), 3, "R3 fires three times");
        assert_eq!(
            fired[0].body,
            json!({"callback":"cb","data":{"x":[1,2]},"dueTime":"100ms","period":"R3/PT1S"})
        );
        let first = fired[0].at - registered;
        assert!(
            first < Duration::from_millis(900),
            "first firing after dueTime: {first:?}"
        );
        // Schedule-based: firing k is due at 100 ms + k periods after registration (a late
        // firing does not push the next one back). The app sees it a little later.
        for (k, f) in fired.iter().enumerate() {
            let at = f.at - registered;
            let due = Duration::from_millis(100) + Duration::from_secs(k as u64);
            assert!(
                at + Duration::from_millis(50) >= due && at < due + Duration::from_millis(800),
                "firing {k} at {at:?}, due at {due:?}"
            );
        }

        // gRPC: data bytes reach the app as a base64 JSON string; ttl ends a timer.
        let mut c = DaprClient::connect(format!("http://127.0.0.1:{}", d.grpc_port))
            .await
            .unwrap();
        c.register_actor_timer(pb::RegisterActorTimerRequest {
            actor_type: "Clock".into(),
            actor_id: "c3".into(),
            name: "g".into(),
            period: "200ms".into(),
            ttl: "700ms".into(),
            data: b"hi".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let g = app.of("timer", "Clock/c3", "g");
        assert!(
            (3..=4).contains(&g.len()),
            "ttl 700ms at period 200ms: {}",
            g.len()
        );
        assert_eq!(g[0].body["data"], json!("aGk="));
        assert_eq!(g[0].body["callback"], json!(""));
        c.unregister_actor_timer(pb::UnregisterActorTimerRequest {
            actor_type: "Clock".into(),
            actor_id: "c3".into(),
            name: "g".into(),
        })
        .await
        .unwrap();

        // A deactivated actor loses its timers: c2 idles out (1 s) before its timer's 3 s.
        assert_eq!(
            post(&d, "/v1.0/actors/Clock/c2/method/hello", "").await.0,
            200
        );
        assert_eq!(
            post(
                &d,
                "/v1.0/actors/Clock/c2/timers/late",
                r#"{"dueTime":"3s"}"#
            )
            .await
            .0,
            204
        );
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert!(
            app.deactivated
                .lock()
                .unwrap()
                .contains(&"Clock/c2".to_string())
        );
        assert_eq!(app.count("timer", "Clock/c2", "late"), 0);

        // Errors.
        let (s, b) = post(&d, "/v1.0/actors/Other/o1/timers/t", r#"{"period":"1s"}"#).await;
        assert_eq!(
            (s, code(&b).as_str()),
            (500, "ERR_ACTOR_TIMER_CREATE"),
            "{b}"
        );
        let (s, b) = post(
            &d,
            "/v1.0/actors/Clock/c1/timers/t",
            r#"{"period":"R0/PT1S"}"#,
        )
        .await;
        assert_eq!(
            (s, code(&b).as_str()),
            (500, "ERR_ACTOR_TIMER_CREATE"),
            "{b}"
        );
        let (s, b) = post(
            &d,
            "/v1.0/actors/Clock/c1/timers/t",
            r#"{"dueTime":"soon"}"#,
        )
        .await;
        assert_eq!(
            (s, code(&b).as_str()),
            (500, "ERR_ACTOR_TIMER_CREATE"),
            "{b}"
        );
        let (s, b) = post(&d, "/v1.0/actors/Clock/c1/timers/t", "{").await;
        assert_eq!(
            (s, code(&b).as_str()),
            (400, "ERR_MALFORMED_REQUEST"),
            "{b}"
        );
        let (s, b) = post(
            &d,
            "/v1.0/actors/dapr.internal.default.clockapp.workflow/w/timers/t",
            "{}",
        )
        .await;
        assert_eq!(
            (s, code(&b).as_str()),
            (403, "ERR_ACTOR_TYPE_RESERVED"),
            "{b}"
        );
        assert_eq!(
            app.overlaps.load(Ordering::SeqCst),
            0,
            "timers run in the actor's turn"
        );
    });
}

async fn get_json(d: &Daprd, path: &str) -> (u16, Value) {
    let r = reqwest::get(d.url(path)).await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn reminders_fire_once_across_sidecars_and_survive_a_restart() {
    let rt = runtime();
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let (a, app_a) = sidecar(&rt, &redis, home.path());
    let (b, app_b) = sidecar(&rt, &redis, home.path());
    rt.block_on(async {
        // Both rings hold both sidecars (refreshed every 500 ms).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Four firings of R4/PT1S between two sidecars hosting the type: each trigger once,
        // always in the app of the sidecar owning the id.
        let (s, body) = post(
            &a,
            "/v1.0/actors/Clock/c1/reminders/r1",
            r#"{"dueTime":"0s","period":"R4/PT1S","data":{"n":1},"reminderName":"ignored"}"#,
        )
        .await;
        assert_eq!((s, body.as_str()), (204, ""));
        let (s, got) = get_json(&b, "/v1.0/actors/Clock/c1/reminders/r1").await;
        assert_eq!(s, 200);
        assert_eq!(
            got,
            json!({"actorID":"c1","actorType":"Clock","data":{"n":1},"dueTime":"0s","period":"@every 1s"})
        );
        // overwrite: false on an existing name is refused.
        let (s, body) = post(
            &a,
            "/v1.0/actors/Clock/c1/reminders/r1",
            r#"{"dueTime":"1h","overwrite":false}"#,
        )
        .await;
        assert_eq!(
            body,
            r#"{"errorCode":"ERR_ACTOR_REMINDER_ALREADY_EXISTS","message":"actor reminder already exists: r1"}"#
        );
        assert_eq!(s, 409);
        let total = || app_a.count("remind", "Clock/c1", "r1") + app_b.count("remind", "Clock/c1", "r1");
        assert!(wait_until(Duration::from_secs(8), || total() >= 4));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(total(), 4, "R4 fires four times in all");
        let (na, nb) = (
            app_a.count("remind", "Clock/c1", "r1"),
            app_b.count("remind", "Clock/c1", "r1"),
        );
        assert!(na == 0 || nb == 0, "one owner runs the actor: {na} + {nb}");
        let fired = [app_a.of("remind", "Clock/c1", "r1"), app_b.of("remind", "Clock/c1", "r1")].concat();
        assert_eq!(fired[0].body, json!({"data":{"n":1},"dueTime":"","period":""}));

        // A reminder whose repetitions are used up is gone; delete is idempotent.
        let (s, got) = get_json(&a, "/v1.0/actors/Clock/c1/reminders/r1").await;
        assert_eq!((s, got["errorCode"].as_str()), (404, Some("ERR_ACTOR_REMINDER_NOT_FOUND")));
        assert_eq!(post(&a, "/v1.0/actors/Clock/c1/reminders/r2", r#"{"dueTime":"1h"}"#).await.0, 204);
        for _ in 0..2 {
            let (s, _) = send(&a, reqwest::Method::DELETE, "/v1.0/actors/Clock/c1/reminders/r2", "").await;
            assert_eq!(s, 204);
        }
        let (s, got) = get_json(&a, "/v1.0/actors/Clock/c1/reminders/r2").await;
        assert_eq!((s, got["errorCode"].as_str()), (404, Some("ERR_ACTOR_REMINDER_NOT_FOUND")));

        // A failing delivery is retried (default policy: three retries 1 s apart).
        app_a.fail.lock().unwrap().insert("flaky".into(), 2);
        app_b.fail.lock().unwrap().insert("flaky".into(), 2);
        assert_eq!(post(&a, "/v1.0/actors/Clock/c7/reminders/flaky", "{}").await.0, 204);
        let flaky = || app_a.count("remind", "Clock/c7", "flaky") + app_b.count("remind", "Clock/c7", "flaky");
        assert!(wait_until(Duration::from_secs(8), || flaky() >= 3));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(flaky(), 3, "two failures, then delivered");

        // Errors.
        let (s, body) = post(&a, "/v1.0/actors/Other/o/reminders/r", r#"{"dueTime":"1s"}"#).await;
        assert_eq!((s, code(&body).as_str()), (403, "ERR_ACTOR_REMINDER_NON_HOSTED"), "{body}");
        let (s, body) = post(&a, "/v1.0/actors/Clock/c1/reminders/r", r#"{"period":"P1M"}"#).await;
        assert_eq!((s, code(&body).as_str()), (500, "ERR_ACTOR_REMINDER_CREATE"), "{body}");
        let (s, body) = post(&a, "/v1.0/actors/dapr.internal.x/c1/reminders/r", "{}").await;
        assert_eq!((s, code(&body).as_str()), (403, "ERR_ACTOR_TYPE_RESERVED"), "{body}");

        // gRPC: register, get, list, unregister by type.
        let mut c = DaprClient::connect(format!("http://127.0.0.1:{}", b.grpc_port))
            .await
            .unwrap();
        for id in ["g1", "g2"] {
            c.register_actor_reminder(pb::RegisterActorReminderRequest {
                actor_type: "Clock".into(),
                actor_id: id.into(),
                name: "later".into(),
                due_time: "1h".into(),
                data: b"hi".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap();
        }
        let got = c
            .get_actor_reminder(pb::GetActorReminderRequest {
                actor_type: "Clock".into(),
                actor_id: "g1".into(),
                name: "later".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.due_time.as_deref(), Some("1h"));
        let data = got.data.unwrap();
        assert_eq!(data.type_url, "type.googleapis.com/google.protobuf.BytesValue");
        assert!(data.value.ends_with(b"\"aGk=\""), "{:?}", data.value);
        let list = c
            .list_actor_reminders(pb::ListActorRemindersRequest {
                actor_type: "Clock".into(),
                actor_id: None,
            })
            .await
            .unwrap()
            .into_inner();
        let mut names: Vec<String> = list
            .reminders
            .iter()
            .map(|r| format!("{}/{}", r.reminder.as_ref().unwrap().actor_id, r.name))
            .collect();
        names.sort();
        assert_eq!(names, ["g1/later", "g2/later"]);
        c.unregister_actor_reminders_by_type(pb::UnregisterActorRemindersByTypeRequest {
            actor_type: "Clock".into(),
            actor_id: None,
        })
        .await
        .unwrap();
        let err = c
            .get_actor_reminder(pb::GetActorReminderRequest {
                actor_type: "Clock".into(),
                actor_id: "g2".into(),
                name: "later".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);

        // Durable: registered, then every sidecar is killed; a new one fires it.
        assert_eq!(
            post(&a, "/v1.0/actors/Clock/d1/reminders/after", r#"{"dueTime":"2s","data":"x"}"#).await.0,
            204
        );
    });
    assert_eq!(
        app_a.overlaps.load(Ordering::SeqCst) + app_b.overlaps.load(Ordering::SeqCst),
        0
    );
    a.signal(nix::sys::signal::Signal::SIGKILL);
    b.signal(nix::sys::signal::Signal::SIGKILL);
    drop((a, b));
    let (c, app_c) = sidecar(&rt, &redis, home.path());
    assert!(wait_until(Duration::from_secs(8), || app_c
        .count("remind", "Clock/d1", "after")
        == 1));
    let fired = app_c.of("remind", "Clock/d1", "after");
    assert_eq!(fired[0].body, json!({"data":"x","dueTime":"","period":""}));
    assert_eq!(
        app_a.count("remind", "Clock/d1", "after") + app_b.count("remind", "Clock/d1", "after"),
        0
    );
    drop(c);
}

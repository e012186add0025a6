//! Pub/sub through a real daprd: publishing over HTTP (envelopes, raw payloads, overrides,
//! bulk, errors), programmatic subscriptions of an HTTP app (routes and rules, `RETRY`,
//! `DROP`, 404, dead-letter topics, raw payloads, bulk delivery), declarative
//! `Subscription` resources, subscriptions in metadata, and at-least-once delivery over
//! Redis Streams across a subscriber killed and restarted, and over the server-less default
//! `dapr init` writes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sidecar_api::sidecar::{Daprd, Opts, client, start};
use crate::support::{self, KillOnDrop, Redis, wait_until};

/// One event an app received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

/// An HTTP app: `GET /dapr/subscribe` answers `subscriptions`; every `POST` is recorded and
/// answered by the route's behaviour: `success`, `retry-once` (RETRY the first time an
/// event id is seen), `drop`, `404`, `bulk` (every entry SUCCESS).
pub struct App {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Received>>>,
    _rt: tokio::runtime::Runtime,
}

impl App {
    pub fn start(subscriptions: Value, behaviours: &[(&str, &str)]) -> App {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let behaviours: HashMap<String, String> = behaviours
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = seen.clone();
        let retried: Arc<Mutex<Vec<String>>> = Arc::default();
        let app = axum::Router::new().fallback(move |req: Request| {
            let (log, subs, behaviours, retried) = (
                log.clone(),
                subscriptions.clone(),
                behaviours.clone(),
                retried.clone(),
            );
            async move { handle(req, &log, &subs, &behaviours, &retried).await }
        });
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        App {
            port,
            seen,
            _rt: rt,
        }
    }

    pub fn on(&self, path: &str) -> Vec<Received> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` received at least `n` events.
    pub fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let ok = wait_until(timeout, || self.on(path).len() >= n);
        let got = self.on(path);
        assert!(
            ok,
            "{path}: {} of {n} events within {timeout:?}: {got:?}",
            got.len()
        );
        got
    }
}

async fn handle(
    req: Request,
    log: &Mutex<Vec<Received>>,
    subs: &Value,
    behaviours: &HashMap<String, String>,
    retried: &Mutex<Vec<String>>,
) -> Response {
    let path = req.uri().path().to_string();
    if req.method() == axum::http::Method::GET && path == "/dapr/subscribe" {
        return axum::Json(subs.clone()).into_response();
    }
    if req.method() != axum::http::Method::POST {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let bytes = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    log.lock().unwrap().push(Received {
        at: Instant::now(),
        path: path.clone(),
        headers,
        body: body.clone(),
    });
    match behaviours
        .get(&path)
        .map(String::as_str)
        .unwrap_or("success")
    {
        "retry-once" => {
            let id = body["id"].as_str().unwrap_or("").to_string();
            let mut r = retried.lock().unwrap();
            if r.contains(&id) {
                axum::Json(json!({"status": "SUCCESS"})).into_response()
            } else {
                r.push(id);
                axum::Json(json!({"status": "RETRY"})).into_response()
            }
        }
        "drop" => axum::Json(json!({"status": "DROP"})).into_response(),
        "404" => axum::http::StatusCode::NOT_FOUND.into_response(),
        "bulk" => {
            let statuses: Vec<Value> = body["entries"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| json!({"entryId": e["entryId"], "status": "SUCCESS"}))
                        .collect()
                })
                .unwrap_or_default();
            axum::Json(json!({ "statuses": statuses })).into_response()
        }
        _ => axum::http::StatusCode::OK.into_response(),
    }
}

/// Writes a component file with `yaml` metadata entries into `dir`.
pub fn component(dir: &Path, name: &str, ty: &str, meta: &[(&str, &str)]) {
    crate::sidecar_api::sidecar::write_component(dir, name, ty, meta);
}

fn publish(
    d: &Daprd,
    pubsub: &str,
    topic: &str,
    ct: &str,
    body: &str,
    query: &str,
) -> (u16, Value) {
    let url = d.url(&format!("/v1.0/publish/{pubsub}/{topic}{query}"));
    let r = client()
        .post(url)
        .header("content-type", ct)
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn healthy(d: &Daprd) {
    let ok = wait_until(Duration::from_secs(20), || {
        client()
            .get(d.url("/v1.0/healthz"))
            .send()
            .is_ok_and(|r| r.status() == 204)
    });
    assert!(ok, "{}", d.log());
}

#[test]
fn publish_and_programmatic_subscriptions_over_in_memory() {
    let subs = json!([
        {"pubsubname": "pubsub", "topic": "orders", "route": "/orders"},
        {"pubsubname": "pubsub", "topic": "rules", "routes": {
            "rules": [{"match": "event.type == \"widget\"", "path": "/widgets"}],
            "default": "/other"}},
        {"pubsubname": "pubsub", "topic": "retry", "route": "/retry"},
        {"pubsubname": "pubsub", "topic": "drop", "route": "/drop", "deadLetterTopic": "dead"},
        {"pubsubname": "pubsub", "topic": "dead", "route": "/dead"},
        {"pubsubname": "pubsub", "topic": "gone", "route": "/gone"},
        {"pubsubname": "pubsub", "topic": "raw", "route": "/raw", "metadata": {"rawPayload": "true"}},
        {"pubsubname": "pubsub", "topic": "bulk", "route": "/bulk",
         "bulkSubscribe": {"enabled": true, "maxMessagesCount": 5, "maxAwaitDurationMs": 200}}
    ]);
    let app = App::start(
        subs,
        &[
            ("/retry", "retry-once"),
            ("/drop", "drop"),
            ("/gone", "404"),
            ("/bulk", "bulk"),
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    component(&res, "pubsub", "pubsub.in-memory", &[]);
    let d = start(
        &Opts::new("subscriber", home.path())
            .resources(&res)
            .app_port(app.port),
    );
    healthy(&d);

    // The envelope as the official runtime builds it, delivered as a CloudEvent.
    assert_eq!(
        publish(&d, "pubsub", "orders", "application/json", r#"{"a":1}"#, "").0,
        204
    );
    let got = app.wait_for("/orders", 1, Duration::from_secs(10));
    let ce = &got[0].body;
    assert_eq!(ce["data"], json!({"a": 1}), "{ce}");
    assert_eq!(ce["datacontenttype"], "application/json");
    assert_eq!(ce["source"], "subscriber");
    assert_eq!(ce["type"], "com.dapr.event.sent");
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(
        (ce["topic"].as_str(), ce["pubsubname"].as_str()),
        (Some("orders"), Some("pubsub"))
    );
    assert!(ce["id"].as_str().is_some_and(|i| i.len() == 36), "{ce}");
    assert_eq!(
        got[0].headers["content-type"],
        "application/cloudevents+json"
    );
    assert_eq!(got[0].headers["pubsubname"], "pubsub");

    // Route rules pick the route; overrides set the type.
    let widget = json!({"id": "w1", "source": "shop", "type": "widget", "specversion": "1.0",
        "datacontenttype": "application/json", "data": {"n": 1}});
    assert_eq!(
        publish(
            &d,
            "pubsub",
            "rules",
            "application/cloudevents+json",
            &widget.to_string(),
            ""
        )
        .0,
        204
    );
    assert_eq!(
        publish(
            &d,
            "pubsub",
            "rules",
            "text/plain",
            "hello",
            "?metadata.cloudevent.type=gadget"
        )
        .0,
        204
    );
    let w = app.wait_for("/widgets", 1, Duration::from_secs(10));
    assert_eq!(
        (w[0].body["id"].as_str(), w[0].body["source"].as_str()),
        (Some("w1"), Some("shop"))
    );
    let o = app.wait_for("/other", 1, Duration::from_secs(10));
    assert_eq!(
        (o[0].body["type"].as_str(), o[0].body["data"].as_str()),
        (Some("gadget"), Some("hello"))
    );

    // RETRY comes back; DROP goes to the dead-letter topic; 404 is not retried.
    publish(&d, "pubsub", "retry", "text/plain", "again", "");
    let r = app.wait_for("/retry", 2, Duration::from_secs(30));
    assert_eq!(r[0].body["id"], r[1].body["id"]);
    let redelivery = r[1].at - r[0].at;
    publish(&d, "pubsub", "drop", "text/plain", "unwanted", "");
    let dead = app.wait_for("/dead", 1, Duration::from_secs(10));
    assert_eq!(dead[0].body["data"], "unwanted", "{:?}", dead[0].body);
    publish(&d, "pubsub", "gone", "text/plain", "nobody", "");
    app.wait_for("/gone", 1, Duration::from_secs(10));

    // A raw payload travels without an envelope; the subscriber side wraps it.
    let (st, _) = publish(
        &d,
        "pubsub",
        "raw",
        "application/json",
        r#"{"cli": "is_working"}"#,
        "?metadata.rawPayload=true",
    );
    assert_eq!(st, 204);
    let raw = app.wait_for("/raw", 1, Duration::from_secs(10));
    let b64 = raw[0].body["data_base64"].as_str().expect("data_base64");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
        br#"{"cli": "is_working"}"#
    );

    // Bulk publish, delivered in the bulk format.
    let entries = json!([
        {"entryId": "1", "event": {"k": 1}, "contentType": "application/json"},
        {"entryId": "2", "event": "two", "contentType": "text/plain"},
        {"entryId": "3", "event": {"k": 3}, "contentType": "application/json"}
    ]);
    let r = client()
        .post(d.url("/v1.0-alpha1/publish/bulk/pubsub/bulk"))
        .body(entries.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let batches = app.wait_for("/bulk", 1, Duration::from_secs(10));
    let total: usize = wait_then(
        || {
            app.on("/bulk")
                .iter()
                .map(|b| b.body["entries"].as_array().map_or(0, Vec::len))
                .sum()
        },
        3,
    );
    assert_eq!(total, 3);
    assert_eq!(batches[0].body["type"], "com.dapr.event.sent.bulk");
    assert_eq!(batches[0].headers["content-type"], "application/json");

    // Errors of the table.
    let (st, e) = publish(&d, "nope", "t", "text/plain", "x", "");
    assert_eq!(
        (st, e["errorCode"].as_str()),
        (404, Some("ERR_PUBSUB_NOT_FOUND"))
    );
    let (st, e) = publish(
        &d,
        "pubsub",
        "t",
        "text/plain",
        "x",
        "?metadata.rawPayload=maybe",
    );
    assert_eq!(
        (st, e["errorCode"].as_str()),
        (400, Some("ERR_PUBSUB_REQUEST_METADATA"))
    );
    let (st, e) = publish(
        &d,
        "pubsub",
        "t",
        "application/cloudevents+json",
        "not json",
        "",
    );
    assert_eq!(
        (st, e["errorCode"].as_str()),
        (500, Some("ERR_PUBSUB_CLOUD_EVENTS_SER"))
    );
    let dup = json!([{"entryId": "1", "event": 1}, {"entryId": "1", "event": 2}]);
    let r = client()
        .post(d.url("/v1.0-alpha1/publish/bulk/pubsub/bulk"))
        .body(dup.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.json::<Value>().unwrap()["errorCode"],
        "ERR_PUBSUB_EVENTS_SER"
    );

    // Metadata lists the subscriptions.
    let meta: Value = client()
        .get(d.url("/v1.0/metadata"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let subs = meta["subscriptions"].as_array().expect("subscriptions");
    assert_eq!(subs.len(), 8, "{meta}");
    let orders = subs.iter().find(|s| s["topic"] == "orders").unwrap();
    assert_eq!(orders["type"], "PROGRAMMATIC");
    assert_eq!(orders["rules"], json!([{"path": "/orders"}]));

    // Nothing was delivered twice that should not have been, well past the redelivery
    // interval the RETRY case showed.
    std::thread::sleep(redelivery * 2);
    assert_eq!(app.on("/gone").len(), 1, "404 is not retried");
    assert_eq!(app.on("/drop").len(), 1, "DROP is not retried");
}

/// `f()` once it reaches `n` (at most 10 s), else its last value.
fn wait_then(f: impl Fn() -> usize, n: usize) -> usize {
    wait_until(Duration::from_secs(10), || f() >= n);
    f()
}

#[test]
fn declarative_subscriptions_are_served_and_scoped() {
    let app = App::start(json!([]), &[]);
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    component(&res, "pubsub", "pubsub.in-memory", &[]);
    std::fs::write(
        res.join("subs.yaml"),
        "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: mine\nspec:\n  pubsubname: pubsub\n  topic: decl\n  routes:\n    default: /decl\nscopes:\n- declapp\n---\napiVersion: dapr.io/v1alpha1\nkind: Subscription\nmetadata:\n  name: theirs\nspec:\n  pubsubname: pubsub\n  topic: other\n  route: /other\nscopes:\n- someone-else\n",
    )
    .unwrap();
    let d = start(
        &Opts::new("declapp", home.path())
            .resources(&res)
            .app_port(app.port),
    );
    healthy(&d);
    publish(&d, "pubsub", "decl", "text/plain", "d", "");
    publish(&d, "pubsub", "other", "text/plain", "o", "");
    app.wait_for("/decl", 1, Duration::from_secs(10));
    let meta: Value = client()
        .get(d.url("/v1.0/metadata"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let subs = meta["subscriptions"].as_array().expect("subscriptions");
    assert_eq!(subs.len(), 1, "{meta}");
    assert_eq!(subs[0]["type"], "DECLARATIVE");
    assert!(app.on("/other").is_empty(), "out of scope");
}

/// Topic scoping in the component's metadata: a topic outside `allowedTopics` or the app's
/// `publishingScopes` is refused with 403 `ERR_PUBSUB_FORBIDDEN`; a subscription outside
/// `subscriptionScopes` is not served.
#[test]
fn topic_scopes_refuse_publishing_and_subscribing() {
    let subs = json!([
        {"pubsubname": "pubsub", "topic": "open", "route": "/open"},
        {"pubsubname": "pubsub", "topic": "closed", "route": "/closed"},
    ]);
    let app = App::start(subs, &[]);
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    component(
        &res,
        "pubsub",
        "pubsub.in-memory",
        &[
            ("allowedTopics", "open, closed, theirs"),
            ("publishingScopes", "scoped=open,closed;other=theirs"),
            ("subscriptionScopes", "scoped=open"),
        ],
    );
    let d = start(
        &Opts::new("scoped", home.path())
            .resources(&res)
            .app_port(app.port),
    );
    healthy(&d);
    for topic in ["theirs", "elsewhere"] {
        let (status, body) = publish(&d, "pubsub", topic, "text/plain", "x", "");
        assert_eq!(status, 403, "{topic}: {body}");
        assert_eq!(body["errorCode"], "ERR_PUBSUB_FORBIDDEN", "{body}");
        assert_eq!(
            body["message"],
            format!("topic {topic} is not allowed for app id scoped")
        );
    }
    assert_eq!(publish(&d, "pubsub", "open", "text/plain", "o", "").0, 204);
    assert_eq!(
        publish(&d, "pubsub", "closed", "text/plain", "c", "").0,
        204
    );
    app.wait_for("/open", 1, Duration::from_secs(10));
    let meta: Value = client()
        .get(d.url("/v1.0/metadata"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let subs = meta["subscriptions"].as_array().expect("subscriptions");
    assert_eq!(subs.len(), 1, "{meta}");
    assert_eq!(subs[0]["topic"], "open");
    std::thread::sleep(Duration::from_millis(300));
    assert!(app.on("/closed").is_empty(), "not in subscriptionScopes");
    assert!(
        d.log()
            .contains("subscription to topic closed on pubsub pubsub is not allowed"),
        "{}",
        d.log()
    );
}

/// Spawns a subscriber daprd for `app_id` with `res` and `app_port`.
fn subscriber(home: &Path, res: &Path, app_id: &str, app_port: u16) -> Daprd {
    let d = start(&Opts::new(app_id, home).resources(res).app_port(app_port));
    healthy(&d);
    d
}

/// The subscriber app (tests/apps/subscriber/app.py, its own process) on `port`, appending
/// each event's data to `out`.
fn subscriber_app(port: u16, out: &Path) -> KillOnDrop {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/subscriber/app.py");
    let mut cmd = std::process::Command::new("python3");
    support::without_developer_env(&mut cmd)
        .arg(app)
        .arg(port.to_string())
        .arg(out)
        .stdout(std::process::Stdio::null());
    KillOnDrop(cmd.spawn().expect("python3 must be installed"))
}

/// 1,000 messages published through one sidecar to a subscriber app with its own sidecar;
/// after 300 the app and its sidecar are killed (SIGKILL), after 600 both start again.
/// Every message must arrive at least once.
fn every_message_arrives_across_a_killed_subscriber(home: &Path, res: &Path) {
    let out = home.join("received.jsonl");
    let port = support::free_port();
    let publisher = start(&Opts::new("publisher", home).resources(res));
    let mut app = subscriber_app(port, &out);
    let mut sub = subscriber(home, res, "orders-app", port);
    let send = |i: usize| {
        let (st, e) = publish(
            &publisher,
            "pubsub",
            "orders",
            "application/json",
            &format!("{{\"n\":{i}}}"),
            "",
        );
        assert_eq!(st, 204, "{e}");
    };
    for i in 0..1000 {
        if i == 300 {
            let _ = app.0.kill();
            let _ = app.0.wait();
            sub.signal(nix::sys::signal::Signal::SIGKILL);
            sub.wait_exit(Duration::from_secs(10));
        }
        if i == 600 {
            app = subscriber_app(port, &out);
            sub = subscriber(home, res, "orders-app", port);
        }
        send(i);
    }
    let seen = || -> std::collections::HashSet<i64> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["n"].as_i64())
            .collect()
    };
    // Messages the killed sidecar held come back after the broker's processing timeout
    // (30 s for the default SQLite pubsub).
    let all = wait_until(Duration::from_secs(90), || seen().len() == 1000);
    let seen = seen();
    let missing: Vec<i64> = (0..1000).filter(|n| !seen.contains(n)).collect();
    assert!(
        all,
        "{} missing: {:?}\n{}",
        missing.len(),
        &missing[..missing.len().min(20)],
        sub.log()
    );
    drop(app);
}

#[test]
fn every_message_arrives_across_a_subscriber_killed_and_restarted_over_redis() {
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    component(
        &res,
        "pubsub",
        "pubsub.redis",
        &[
            ("redisHost", &redis.addr()),
            ("processingTimeout", "2s"),
            ("redeliverInterval", "500ms"),
        ],
    );
    every_message_arrives_across_a_killed_subscriber(home.path(), &res);
}

#[test]
fn every_message_arrives_across_a_killed_subscriber_over_the_default_components() {
    // `dapr init` with no Redis: the default pubsub needs no server and is shared by every
    // local app.
    let home = tempfile::tempdir().unwrap();
    let mut init = std::process::Command::new(support::bin("dapr"));
    let no_redis = format!("127.0.0.1:{}", support::free_port());
    support::hermetic(&mut init, home.path())
        .arg("init")
        .env("DAPR_RUNTIME_PATH", home.path())
        .env("DAPR_INIT_REDIS_ADDRESS", no_redis);
    let out = init.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let res = home.path().join(".dapr/components");
    let pubsub = std::fs::read_to_string(res.join("pubsub.yaml")).unwrap();
    assert!(pubsub.contains("pubsub.sqlite"), "{pubsub}");
    every_message_arrives_across_a_killed_subscriber(home.path(), &res);
}

//! Interop with the official Dapr runtime: our daprd and an official `daprd` side by side on
//! one `redis-server`.
//!
//! - state written through one runtime is read through the other, both directions, with
//!   ETags: the ETag one hands out is accepted by the other, a stale one is refused by both,
//!   and a delete with the other's ETag works;
//! - actor state: our daprd hosts an actor type (an in-test app) and writes actor state; the
//!   official runtime refuses its actor state API without a placement service (it has no
//!   way to read it there), so the Redis records are compared instead: ours under upstream's
//!   actor key `appid||type||id||key`, beside the official runtime's record of the same value
//!   (fields `data` and `version`, same bytes);
//! - pub/sub through one `pubsub.redis`: published through one runtime, delivered to a
//!   subscriber app behind the other, both directions, with the CloudEvent fields checked.
//!
//! Service invocation between the runtimes is in `interop_official_invoke.rs`.
//!
//! The official binary is `$DAPR_OFFICIAL_DAPRD`, else the one `bench/official-daprd.sh`
//! caches (`${DAPR_OFFICIAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dapr-cli/official}/<version>/daprd`,
//! the version `bench/official/go.mod` requires). Without it each test prints a `SKIP` line
//! on the terminal (not captured by the test harness) and returns, unless
//! `DAPR_OFFICIAL_REQUIRED` is set (as `.ci/run` does after building it): then it fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::extract::Path as UrlPath;
use axum::routing::{delete, get, put};
use serde_json::{Value, json};

use crate::sidecar_api::sidecar::{Daprd, Opts, client, start, write_component};
use crate::sidecar_pubsub::App as SubscriberApp;
use crate::support::{KillOnDrop, Redis, free_port, hermetic, wait_until};

/// The official daprd to test against, or `None` after printing why the test is skipped.
pub(crate) fn official(test: &str) -> Option<PathBuf> {
    let found = match std::env::var_os("DAPR_OFFICIAL_DAPRD").filter(|v| !v.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                panic!(
                    "DAPR_OFFICIAL_DAPRD={} does not name a file (unset it to skip the interop tests)",
                    p.display()
                );
            }
            Ok(p)
        }
        None => {
            let cached = cached_path();
            match &cached {
                Some(p) if p.is_file() => Ok(p.clone()),
                _ => Err(cached),
            }
        }
    };
    match found {
        Ok(p) => Some(p),
        Err(looked) => {
            // Straight to the terminal: the harness captures `println!`/`eprintln!` of
            // passing tests, and a skip must be seen.
            let where_ = looked.map_or("(no HOME)".into(), |p| p.display().to_string());
            if std::env::var_os("DAPR_OFFICIAL_REQUIRED").is_some() {
                panic!("DAPR_OFFICIAL_REQUIRED is set but there is no official daprd at {where_}");
            }
            let _ = writeln!(
                std::io::stderr(),
                "SKIP interop_official::{test}: no official daprd (set DAPR_OFFICIAL_DAPRD or run bench/official-daprd.sh; looked for {where_})"
            );
            None
        }
    }
}

/// Where `bench/official-daprd.sh` caches the binary of the version the wrapper requires.
fn cached_path() -> Option<PathBuf> {
    let gomod = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/official/go.mod"),
    )
    .ok()?;
    let version = gomod.lines().find_map(|l| {
        let l = l.trim().trim_start_matches("require").trim();
        l.strip_prefix("github.com/dapr/dapr v")
            .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
    })?;
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let root = env("DAPR_OFFICIAL_CACHE").or_else(|| {
        env("XDG_CACHE_HOME")
            .or_else(|| env("HOME").map(|h| h.join(".cache")))
            .map(|c| c.join("dapr-cli/official"))
    })?;
    Some(root.join(version).join("daprd"))
}

/// Starts the official daprd: loopback listeners only, the SQLite name resolver on a file in
/// `home` (never mDNS, which would multicast), `DAPR_HOST_IP=127.0.0.1`, no placement.
pub(crate) fn start_official(
    bin: &Path,
    app_id: &str,
    home: &Path,
    res: &Path,
    app: Option<u16>,
) -> Daprd {
    let config = name_resolution_config(home);
    for _ in 0..3 {
        let (http, grpc) = (free_port(), free_port());
        let log_path = home.join(format!("official-{app_id}-{http}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(bin);
        cmd.args(["--app-id", app_id])
            .args(["--dapr-http-port", &http.to_string()])
            .args(["--dapr-grpc-port", &grpc.to_string()])
            .args(["--dapr-internal-grpc-port", &free_port().to_string()])
            .args(["--metrics-port", &free_port().to_string()])
            .args(["--dapr-listen-addresses", "127.0.0.1"])
            .args(["--dapr-internal-grpc-listen-address", "127.0.0.1"])
            .args(["--metrics-listen-address", "127.0.0.1"])
            .arg("--resources-path")
            .arg(res)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        if let Some(p) = app {
            cmd.args(["--app-port", &p.to_string()]);
        }
        hermetic(&mut cmd, home).env("DAPR_HOST_IP", "127.0.0.1");
        let mut d = Daprd {
            child: KillOnDrop(cmd.spawn().expect("spawn the official daprd")),
            http_port: http,
            grpc_port: grpc,
            log_path,
        };
        let c = client();
        let ready = |path: &str| {
            c.get(format!("http://127.0.0.1:{http}{path}"))
                .send()
                .map(|r| r.status() == 204)
                .unwrap_or(false)
        };
        let up = wait_until(Duration::from_secs(30), || {
            matches!(d.child.0.try_wait(), Ok(Some(_))) || ready("/v1.0/healthz/outbound")
        });
        if up && d.child.0.try_wait().unwrap().is_none() {
            // With an app: also wait for the app channel (subscriptions are read by then).
            if app.is_some() {
                assert!(
                    wait_until(Duration::from_secs(30), || ready("/v1.0/healthz")),
                    "official daprd: app channel not ready:\n{}",
                    d.log()
                );
            }
            return d;
        }
        if !d.log().contains("address already in use") {
            panic!("the official daprd did not start:\n{}", d.log());
        }
    }
    panic!("the official daprd did not start after 3 attempts");
}

/// A Configuration (written once in `home`) naming the SQLite name resolver on
/// `home/nameresolution.db`: the official sidecars use it, and ours too when they must find
/// official ones.
pub(crate) fn name_resolution_config(home: &Path) -> PathBuf {
    let config = home.join("nameresolution-config.yaml");
    if !config.exists() {
        std::fs::write(
            &config,
            format!(
                "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: interop\nspec:\n  nameResolution:\n    component: sqlite\n    configuration:\n      connectionString: \"{}\"\n",
                home.join("nameresolution.db").display()
            ),
        )
        .unwrap();
    }
    config
}

/// Starts ours with the same resources (and the same app id where state must be shared).
fn start_ours(app_id: &str, home: &Path, res: &Path, app: Option<u16>) -> Daprd {
    let mut o = Opts::new(app_id, home).resources(res);
    if let Some(p) = app {
        o = o.app_port(p);
    }
    start(&o)
}

struct Reply {
    status: u16,
    etag: Option<String>,
    body: String,
}

fn send(req: reqwest::blocking::RequestBuilder) -> Reply {
    let r = req.send().unwrap();
    Reply {
        status: r.status().as_u16(),
        etag: r
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string()),
        body: r.text().unwrap(),
    }
}

fn save(d: &Daprd, items: Value) -> Reply {
    send(client().post(d.url("/v1.0/state/statestore")).json(&items))
}

fn get_state(d: &Daprd, key: &str) -> Reply {
    send(client().get(d.url(&format!("/v1.0/state/statestore/{key}"))))
}

pub(crate) fn both_logs(a: &Daprd, b: &Daprd) -> String {
    format!(
        "--- {} ---\n{}\n--- {} ---\n{}",
        a.log_path.display(),
        a.log(),
        b.log_path.display(),
        b.log()
    )
}

#[test]
fn state_across_runtimes_with_etags() {
    let Some(bin) = official("state_across_runtimes_with_etags") else {
        return;
    };
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "statestore",
        "state.redis",
        &[("redisHost", &redis.addr())],
    );
    // The same app id on both sides: keys are `<appid>||<key>`.
    let ours = start_ours("shared", home.path(), &res, None);
    let theirs = start_official(&bin, "shared", home.path(), &res, None);
    let logs = || both_logs(&ours, &theirs);

    for (writer, reader, w, r) in [
        (&ours, &theirs, "ours", "official"),
        (&theirs, &ours, "official", "ours"),
    ] {
        let key = format!("from-{w}");
        let value = json!({"writer": w, "n": [1, 2, 3], "s": "ü ||"});
        let s = save(writer, json!([{"key": key, "value": value}]));
        assert_eq!(s.status, 204, "{w} save: {}\n{}", s.body, logs());
        // The reader sees the value and the writer's ETag.
        let at_writer = get_state(writer, &key);
        let at_reader = get_state(reader, &key);
        assert_eq!(
            at_reader.status, 200,
            "{r} get of {w}'s key: {}",
            at_reader.body
        );
        let got: Value = serde_json::from_str(&at_reader.body).unwrap();
        assert_eq!(got, value, "{r} read {w}'s value");
        assert!(at_writer.etag.is_some(), "{w} gave no ETag");
        assert_eq!(
            at_reader.etag, at_writer.etag,
            "{r} and {w} disagree on the ETag"
        );
        let etag = at_reader.etag.clone().unwrap();

        // A plain string value too (stored as JSON text by both).
        let s = save(
            writer,
            json!([{"key": format!("{key}-text"), "value": "plain"}]),
        );
        assert_eq!(s.status, 204);
        assert_eq!(get_state(reader, &format!("{key}-text")).body, r#""plain""#);

        // The reader updates with the writer's ETag: accepted; the ETag moves on.
        let s = save(
            reader,
            json!([{"key": key, "value": {"by": r}, "etag": etag}]),
        );
        assert_eq!(s.status, 204, "{r} save with {w}'s ETag: {}", s.body);
        let after = get_state(writer, &key);
        assert_eq!(
            serde_json::from_str::<Value>(&after.body).unwrap(),
            json!({"by": r})
        );
        assert_ne!(
            after.etag.as_deref(),
            Some(etag.as_str()),
            "ETag did not change"
        );
        assert_eq!(after.etag, get_state(reader, &key).etag);

        // The stale ETag is refused by both runtimes, and nothing changes.
        for (d, name) in [(writer, w), (reader, r)] {
            let s = save(
                d,
                json!([{"key": key, "value": {"stale": name}, "etag": etag}]),
            );
            assert_eq!(s.status, 409, "{name} save with a stale ETag: {}", s.body);
            let del = send(
                client()
                    .delete(d.url(&format!("/v1.0/state/statestore/{key}")))
                    .header("if-match", &etag),
            );
            assert_eq!(
                del.status, 409,
                "{name} delete with a stale ETag: {}",
                del.body
            );
        }
        assert_eq!(
            serde_json::from_str::<Value>(&get_state(reader, &key).body).unwrap(),
            json!({"by": r})
        );

        // The writer deletes with the ETag the reader handed out: gone for both.
        let current = get_state(reader, &key).etag.unwrap();
        let del = send(
            client()
                .delete(writer.url(&format!("/v1.0/state/statestore/{key}")))
                .header("if-match", &current),
        );
        assert_eq!(del.status, 204, "{w} delete with {r}'s ETag: {}", del.body);
        assert_eq!(get_state(reader, &key).status, 204);
        assert_eq!(get_state(writer, &key).status, 204);
    }

    // A transaction through ours, read back through the official runtime by bulk get.
    let tx = send(
        client()
            .post(ours.url("/v1.0/state/statestore/transaction"))
            .json(&json!({"operations": [
                {"operation": "upsert", "request": {"key": "t1", "value": 1}},
                {"operation": "upsert", "request": {"key": "t2", "value": {"x": true}}}
            ]})),
    );
    assert_eq!(tx.status, 204, "ours transaction: {}", tx.body);
    let bulk = send(
        client()
            .post(theirs.url("/v1.0/state/statestore/bulk"))
            .json(&json!({"keys": ["t1", "t2"]})),
    );
    assert_eq!(bulk.status, 200, "official bulk get: {}", bulk.body);
    let mut items: Vec<Value> = serde_json::from_str(&bulk.body).unwrap();
    items.sort_by_key(|i| i["key"].as_str().unwrap().to_string());
    assert_eq!(items[0]["data"], json!(1), "{}", bulk.body);
    assert_eq!(items[1]["data"], json!({"x": true}), "{}", bulk.body);
    assert_eq!(
        items[0]["etag"],
        json!(get_state(&ours, "t1").etag.unwrap())
    );
    // The Redis record both runtimes share: `shared||t2`, fields data and version.
    assert_eq!(
        redis.cli(&["HGET", "shared||t2", "data"]).trim(),
        r#"{"x":true}"#
    );
}

/// An actor app: hosts `Counter`, answers every method `ok`.
async fn serve_actor_app() -> u16 {
    let router = axum::Router::new()
        .route(
            "/dapr/config",
            get(|| async {
                axum::Json(json!({"entities": ["Counter"], "actorIdleTimeout": "1h"}))
            }),
        )
        .route(
            "/actors/{ty}/{id}/method/{m}",
            put(|UrlPath((_, _, _)): UrlPath<(String, String, String)>| async { "ok" }),
        )
        .route(
            "/actors/{ty}/{id}",
            delete(|UrlPath((_, _)): UrlPath<(String, String)>| async { "" }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

#[test]
fn actor_state_layout_across_runtimes() {
    let Some(bin) = official("actor_state_layout_across_runtimes") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let app_port = rt.block_on(serve_actor_app());
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "statestore",
        "state.redis",
        &[("redisHost", &redis.addr()), ("actorStateStore", "true")],
    );
    let ours = start_ours("actorapp", home.path(), &res, Some(app_port));
    // Activate Counter/c1 on ours, then write its state.
    let call = send(client().put(ours.url("/v1.0/actors/Counter/c1/method/touch")));
    assert_eq!(call.status, 200, "actor call through ours: {}", call.body);
    let value = json!({"count": 7, "name": "c1"});
    let tx = send(
        client()
            .post(ours.url("/v1.0/actors/Counter/c1/state"))
            .json(&json!([{"operation": "upsert", "request": {"key": "k1", "value": value}}])),
    );
    assert_eq!(tx.status, 204, "ours actor state: {}", tx.body);
    let ours_read = send(client().get(ours.url("/v1.0/actors/Counter/c1/state/k1")));
    assert_eq!(ours_read.status, 200, "{}", ours_read.body);
    assert_eq!(
        serde_json::from_str::<Value>(&ours_read.body).unwrap(),
        value
    );

    // The official runtime, same app id and store, no placement service.
    let theirs = start_official(&bin, "actorapp", home.path(), &res, None);
    let their_read = send(client().get(theirs.url("/v1.0/actors/Counter/c1/state/k1")));
    if their_read.status == 200 {
        // A version that serves actor state without placement: it must read ours.
        assert_eq!(
            serde_json::from_str::<Value>(&their_read.body).unwrap(),
            value,
            "official read of ours' actor state"
        );
    } else {
        // Without placement the official actor runtime is disabled: it says so
        // (1.18: 400 `ERR_ACTOR_NO_PLACEMENT`).
        let err: Value = serde_json::from_str(&their_read.body).unwrap_or(Value::Null);
        assert_eq!(
            (their_read.status, err["errorCode"].as_str()),
            (400, Some("ERR_ACTOR_NO_PLACEMENT")),
            "official actor state without placement: {}",
            their_read.body
        );
    }

    // The records side by side: ours' actor state under upstream's actor key layout
    // `<appid>||<type>||<id>||<key>`, the official runtime's record of the same value under
    // `<appid>||<key>`. Same hash fields, same bytes, same first version.
    let s = save(&theirs, json!([{"key": "k1", "value": value}]));
    assert_eq!(s.status, 204, "official save: {}", s.body);
    let fields = |key: &str| {
        let mut f: Vec<String> = redis
            .cli(&["HKEYS", key])
            .lines()
            .map(str::to_string)
            .collect();
        f.sort();
        f
    };
    let actor_key = "actorapp||Counter||c1||k1";
    assert_eq!(fields(actor_key), ["data", "version"], "ours actor record");
    assert_eq!(
        fields("actorapp||k1"),
        ["data", "version"],
        "official record"
    );
    // Both store the value as compact JSON text. Compared as JSON: the official runtime
    // re-encodes objects and does not keep the order of their members from one run to the
    // next.
    let data = |key: &str| redis.cli(&["HGET", key, "data"]);
    let parsed = |key: &str| serde_json::from_str::<Value>(data(key).trim()).unwrap();
    assert_eq!(parsed(actor_key), value, "ours actor record");
    assert_eq!(parsed("actorapp||k1"), value, "official record");
    assert_eq!(data(actor_key).len(), data("actorapp||k1").len());
    assert_eq!(redis.cli(&["HGET", actor_key, "version"]).trim(), "1");
    assert_eq!(redis.cli(&["HGET", "actorapp||k1", "version"]).trim(), "1");
    // Nothing else was written under the actor's prefix.
    assert_eq!(
        redis.cli(&["KEYS", "actorapp||Counter||*"]).trim(),
        actor_key
    );
}

#[test]
fn pubsub_across_runtimes() {
    let Some(bin) = official("pubsub_across_runtimes") else {
        return;
    };
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "pubsub",
        "pubsub.redis",
        &[("redisHost", &redis.addr())],
    );
    let subs = |topic: &str| json!([{"pubsubname": "pubsub", "topic": topic, "route": "/events"}]);
    // Direction 1: published through ours, delivered by the official runtime.
    let app1 = SubscriberApp::start(subs("to-official"), &[]);
    let official_sub = start_official(&bin, "sub-official", home.path(), &res, Some(app1.port));
    let ours_pub = start_ours("pub-ours", home.path(), &res, None);
    // Direction 2: published through the official runtime, delivered by ours.
    let app2 = SubscriberApp::start(subs("to-ours"), &[]);
    let ours_sub = start_ours("sub-ours", home.path(), &res, Some(app2.port));
    let official_pub = start_official(&bin, "pub-official", home.path(), &res, None);

    for (publisher, subscriber, app, topic, source, label) in [
        (
            &ours_pub,
            &official_sub,
            &app1,
            "to-official",
            "pub-ours",
            "ours -> official",
        ),
        (
            &official_pub,
            &ours_sub,
            &app2,
            "to-ours",
            "pub-official",
            "official -> ours",
        ),
    ] {
        let order = json!({"orderId": 42, "label": label});
        // Each subscriber creates its consumer group when it subscribes; until then a
        // message may precede it, so publish until the first one arrives (at most 30 s).
        let mut sent = 0u32;
        let delivered = wait_until(Duration::from_secs(30), || {
            if !app.on("/events").is_empty() {
                return true;
            }
            let r = send(
                client()
                    .post(publisher.url(&format!("/v1.0/publish/pubsub/{topic}")))
                    .json(&order),
            );
            assert_eq!(r.status, 204, "{label}: publish: {}", r.body);
            sent += 1;
            std::thread::sleep(Duration::from_millis(500));
            !app.on("/events").is_empty()
        });
        assert!(
            delivered,
            "{label}: nothing delivered after {} publishes\n{}",
            sent,
            both_logs(publisher, subscriber)
        );
        let ev = &app.on("/events")[0];
        assert_eq!(ev.body["data"], order, "{label}: {:?}", ev.body);
        assert_eq!(ev.body["topic"], topic, "{label}");
        assert_eq!(ev.body["pubsubname"], "pubsub", "{label}");
        assert_eq!(ev.body["source"], source, "{label}");
        assert_eq!(ev.body["type"], "com.dapr.event.sent", "{label}");
        assert_eq!(ev.body["datacontenttype"], "application/json", "{label}");
        assert_eq!(ev.body["specversion"], "1.0", "{label}");
        assert!(ev.body["id"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(
            ev.headers
                .get("content-type")
                .is_some_and(|c| c.starts_with("application/cloudevents+json")),
            "{label}: {:?}",
            ev.headers
        );
        // A second message, published once now that the group exists, arrives too.
        let next = json!({"orderId": 43});
        let r = send(
            client()
                .post(publisher.url(&format!("/v1.0/publish/pubsub/{topic}")))
                .json(&next),
        );
        assert_eq!(r.status, 204, "{}", r.body);
        assert!(
            wait_until(Duration::from_secs(15), || app
                .on("/events")
                .iter()
                .any(|e| e.body["data"] == next)),
            "{label}: the second message did not arrive\n{}",
            both_logs(publisher, subscriber)
        );
    }
}

//! The official SDKs' actors against our daprd with a Redis state store marked
//! `actorStateStore: "true"`: the Python SDK (a Flask app hosting the type through
//! `dapr.ext.flask.DaprActor`, an `ActorProxy` with an `ActorInterface`) and the JS SDK
//! (`DaprServer` with `server.actor`, an `AbstractActor`, `ActorProxyBuilder` over HTTP and
//! over gRPC). Calls, turns, state (checked in Redis under `appid||type||id||key`) and idle
//! deactivation are one test per SDK and protocol; timers and reminders registered from
//! inside the actor are two more.

use std::process::Command;

use crate::sidecar_api::sidecar::{Daprd, Opts, start, write_component};
use crate::sidecar_grpc::{js_sdk_dir, run_script, sdk_script};
use crate::support::{self, Redis, free_port};

/// A daprd for `app_id` as `dapr run --app-port` starts it, its actor state in `redis`.
fn daprd(app_id: &str, app_port: u16, redis: &Redis, home: &std::path::Path) -> Daprd {
    let res = home.join("resources");
    write_component(
        &res,
        "actorstore",
        "state.redis",
        &[("redisHost", &redis.addr()), ("actorStateStore", "true")],
    );
    start(&Opts::new(app_id, home).resources(&res).app_port(app_port))
}

/// Runs `tests/sdk/python_actors.py` with `PART=part`.
fn python_actors(part: &str) {
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let app_port = free_port();
    let d = daprd("pyactors", app_port, &redis, home.path());
    let mut cmd = Command::new("python3");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("python_actors.py"))
        .env("PART", part)
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("APP_ID", "pyactors")
        .env("APP_PORT", app_port.to_string())
        .env("REDIS_PORT", redis.port.to_string());
    run_script(cmd, &format!("Python SDK actors ({part})"), &d);
}

/// Runs `tests/sdk/js_actors.mjs` with `PART=part`, the clients over `protocol`.
fn js_actors(protocol: &str, part: &str) {
    let dir = js_sdk_dir();
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let app_port = free_port();
    let app_id = format!("js{protocol}actors");
    let d = daprd(&app_id, app_port, &redis, home.path());
    let mut cmd = Command::new("node");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("js_actors.mjs"))
        .current_dir(&dir)
        .env("PROTOCOL", protocol)
        .env("PART", part)
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("APP_ID", &app_id)
        .env("APP_PORT", app_port.to_string())
        .env("REDIS_PORT", redis.port.to_string());
    run_script(cmd, &format!("JS SDK actors ({protocol}, {part})"), &d);
}

#[test]
fn python_sdk_actor_calls_state_and_deactivation() {
    python_actors("basic");
}

#[test]
fn python_sdk_actor_timers() {
    python_actors("timers");
}

#[test]
fn python_sdk_actor_reminders() {
    python_actors("reminders");
}

#[test]
fn js_sdk_actor_calls_state_and_deactivation_over_http() {
    js_actors("http", "basic");
}

#[test]
fn js_sdk_actor_calls_state_and_deactivation_over_grpc() {
    js_actors("grpc", "basic");
}

#[test]
fn js_sdk_actor_timers_over_http() {
    js_actors("http", "timers");
}

#[test]
fn js_sdk_actor_timers_over_grpc() {
    js_actors("grpc", "timers");
}

#[test]
fn js_sdk_actor_reminders_over_http() {
    js_actors("http", "reminders");
}

#[test]
fn js_sdk_actor_reminders_over_grpc() {
    js_actors("grpc", "reminders");
}

//! The official SDKs' lock and configuration APIs against our daprd with Redis-backed
//! `lockstore` and `configstore`: the Python SDK (`try_lock`, `unlock`, `get_configuration`,
//! `subscribe_configuration`, `unsubscribe_configuration`) and the JS SDK (`lock` over HTTP
//! and gRPC, `configuration.get` / `subscribe` / `subscribeWithKeys` over gRPC). The scripts
//! change values with `redis-cli`, as an operator would.

use std::process::Command;

use crate::sidecar_api::sidecar::{Daprd, Opts, start, write_component};
use crate::sidecar_grpc::{js_sdk_dir, run_script, sdk_script};
use crate::support::{self, Redis};

fn daprd(app_id: &str, redis: &Redis, home: &std::path::Path) -> Daprd {
    let res = home.join("resources");
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
    start(&Opts::new(app_id, home).resources(&res))
}

#[test]
fn python_sdk_locks_and_configuration() {
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let d = daprd("pylocks", &redis, home.path());
    let mut cmd = Command::new("python3");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("python_lock_config.py"))
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("REDIS_PORT", redis.port.to_string());
    run_script(cmd, "Python SDK locks and configuration", &d);
}

#[test]
fn js_sdk_locks_and_configuration() {
    let dir = js_sdk_dir();
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let d = daprd("jslocks", &redis, home.path());
    let mut cmd = Command::new("node");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("js_lock_config.mjs"))
        .current_dir(&dir)
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("REDIS_PORT", redis.port.to_string());
    run_script(cmd, "JS SDK locks and configuration", &d);
}

//! The official SDKs' pub/sub against our daprd: the Python SDK (publish, streaming
//! `subscribe_with_handler`, a Flask subscriber) and the JS SDK (`DaprClient.pubsub.publish`,
//! `DaprServer.pubsub.subscribe` over HTTP).

use std::process::Command;

use crate::sidecar_api::sidecar::{Opts, start, write_component};
use crate::sidecar_grpc::{js_sdk_dir, run_script, sdk_script};
use crate::support::{self, free_port};

#[test]
fn python_sdk_publish_streaming_and_flask_subscriber() {
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(&res, "pubsub", "pubsub.in-memory", &[]);
    let app_port = free_port();
    let d = start(
        &Opts::new("pysub", home.path())
            .resources(&res)
            .app_port(app_port),
    );
    let mut cmd = Command::new("python3");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("python_pubsub.py"))
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("APP_ID", "pysub")
        .env("APP_PORT", app_port.to_string());
    run_script(cmd, "Python SDK pub/sub", &d);
}

#[test]
fn js_sdk_publish_and_subscribe_over_http() {
    let dir = js_sdk_dir();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(&res, "pubsub", "pubsub.in-memory", &[]);
    let app_port = free_port();
    let d = start(
        &Opts::new("jssub", home.path())
            .resources(&res)
            .app_port(app_port),
    );
    let mut cmd = Command::new("node");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("js_pubsub.mjs"))
        .current_dir(&dir)
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("APP_ID", "jssub")
        .env("APP_PORT", app_port.to_string());
    run_script(cmd, "JS SDK pub/sub (HTTP)", &d);
}

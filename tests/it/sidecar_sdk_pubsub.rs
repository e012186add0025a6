//! The official SDKs' pub/sub against our daprd: the Python SDK (publish, streaming
//! `subscribe_with_handler`, a Flask subscriber) and the JS SDK (`DaprClient.pubsub.publish`,
//! `DaprServer.pubsub.subscribe` over HTTP and over gRPC, the app then on the gRPC app channel).

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

/// The JS SDK's `DaprServer` subscribed, and `DaprClient` publishing, over `protocol`.
fn js_pubsub(protocol: &str) {
    let dir = js_sdk_dir();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(&res, "pubsub", "pubsub.in-memory", &[]);
    let app_port = free_port();
    let app_id = format!("js{protocol}sub");
    let mut opts = Opts::new(&app_id, home.path())
        .resources(&res)
        .app_port(app_port);
    if protocol == "grpc" {
        opts = opts.arg("--app-protocol").arg("grpc");
    }
    let d = start(&opts);
    let mut cmd = Command::new("node");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("js_pubsub.mjs"))
        .current_dir(&dir)
        .env("PROTOCOL", protocol)
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("APP_ID", &app_id)
        .env("APP_PORT", app_port.to_string());
    run_script(cmd, &format!("JS SDK pub/sub ({protocol})"), &d);
}

#[test]
fn js_sdk_publish_and_subscribe_over_http() {
    js_pubsub("http");
}

#[test]
fn js_sdk_publish_and_subscribe_over_grpc() {
    js_pubsub("grpc");
}

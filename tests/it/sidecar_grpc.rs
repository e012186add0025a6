//! daprd's gRPC API (`dapr.proto.runtime.v1.Dapr` on `--dapr-grpc-port`) against a real
//! process: with the `dapr` crate's tonic client (state, errors and their codes, bulk,
//! transactions, metadata, shutdown, API token, message size, InvokeService to a real HTTP
//! app), and with the official Python SDK (`tests/sdk/python_state.py`).

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use prost::Message as _;
use tonic::Code;
use tonic::transport::Channel;

use crate::sidecar_api::sidecar::{Daprd, Opts, start, write_component};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A daprd with an in-memory `statestore` (or no component at all), plus its temp dir.
fn daprd(
    app_id: &str,
    with_store: bool,
    tweak: impl FnOnce(Opts) -> Opts,
) -> (Daprd, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let mut opts = Opts::new(app_id, home.path());
    if with_store {
        let res = home.path().join("resources");
        write_component(&res, "statestore", "state.in-memory", &[]);
        opts = opts.resources(&res);
    }
    (start(&tweak(opts)), home)
}

/// An async GET on daprd's HTTP API (the blocking client cannot run inside a runtime).
async fn http_get(d: &Daprd, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(d.url(path))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
}

async fn connect(d: &Daprd) -> DaprClient<Channel> {
    let url = format!("http://127.0.0.1:{}", d.grpc_port);
    for _ in 0..50 {
        if let Ok(c) = DaprClient::connect(url.clone()).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot connect to the gRPC API at {url}\n{}", d.log());
}

fn item(key: &str, value: &[u8], etag: Option<&str>) -> common::StateItem {
    common::StateItem {
        key: key.into(),
        value: value.to_vec(),
        etag: etag.map(|e| common::Etag { value: e.into() }),
        ..Default::default()
    }
}

fn save(store: &str, items: Vec<common::StateItem>) -> pb::SaveStateRequest {
    pb::SaveStateRequest {
        store_name: store.into(),
        states: items,
    }
}

fn get(store: &str, key: &str) -> pb::GetStateRequest {
    pb::GetStateRequest {
        store_name: store.into(),
        key: key.into(),
        ..Default::default()
    }
}

fn delete(key: &str, etag: Option<&str>) -> pb::DeleteStateRequest {
    pb::DeleteStateRequest {
        store_name: "statestore".into(),
        key: key.into(),
        etag: etag.map(|e| common::Etag { value: e.into() }),
        ..Default::default()
    }
}

#[test]
fn state_round_trip_etags_and_error_codes() {
    let (d, _home) = daprd("grpcstate", true, |o| o);
    runtime().block_on(async {
        let mut c = connect(&d).await;
        // Values are stored verbatim, even bytes that are not UTF-8 or JSON.
        let raw: &[u8] = b"\x00\xffnot json";
        c.save_state(save("statestore", vec![item("k", raw, None)]))
            .await
            .unwrap();
        let got = c
            .get_state(get("statestore", "k"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.data, raw);
        assert!(!got.etag.is_empty(), "an in-memory store has etags");
        let http = http_get(&d, "/v1.0/state/statestore/k").await;
        assert_eq!(
            http.bytes().await.unwrap().as_ref(),
            raw,
            "HTTP reads the same bytes"
        );

        // Missing key: an empty answer, not an error.
        let missing = c
            .get_state(get("statestore", "nope"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((missing.data.len(), missing.etag.as_str()), (0, ""));

        // ETag mismatch is ABORTED and changes nothing; the right ETag works.
        let e = c
            .save_state(save("statestore", vec![item("k", b"v2", Some("12345"))]))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Aborted, "{e:?}");
        assert!(
            e.message()
                .starts_with("failed saving state in state store statestore"),
            "{e:?}"
        );
        let e = c
            .delete_state(delete("k", Some("12345")))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Aborted, "{e:?}");
        assert_eq!(
            c.get_state(get("statestore", "k"))
                .await
                .unwrap()
                .into_inner()
                .data,
            raw
        );
        c.save_state(save("statestore", vec![item("k", b"v2", Some(&got.etag))]))
            .await
            .unwrap();
        let now = c
            .get_state(get("statestore", "k"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(now.data, b"v2");
        assert_ne!(now.etag, got.etag);
        c.delete_state(delete("k", Some(&now.etag))).await.unwrap();
        assert!(
            c.get_state(get("statestore", "k"))
                .await
                .unwrap()
                .into_inner()
                .data
                .is_empty()
        );

        // A JSON value declared as such is decoded and stored compactly, as upstream.
        let mut j = item("j", b"{ \"a\" : 1 }", None);
        j.metadata
            .insert("contentType".into(), "application/json".into());
        c.save_state(save("statestore", vec![j])).await.unwrap();
        assert_eq!(
            c.get_state(get("statestore", "j"))
                .await
                .unwrap()
                .into_inner()
                .data,
            b"{\"a\":1}"
        );

        // Error codes and messages.
        let e = c
            .save_state(save("nope", vec![item("k", b"v", None)]))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Code::InvalidArgument, "state store nope is not found")
        );
        assert!(
            !e.details().is_empty(),
            "google.rpc.Status details are attached"
        );
        let e = c.get_state(get("statestore", "a||b")).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().contains("can't contain '||'"), "{e:?}");
        let e = c.get_state(get("statestore", "")).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        let e = c
            .save_state(save("statestore", vec![item("", b"v", None)]))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        let e = c
            .publish_event(pb::PublishEventRequest {
                pubsub_name: "pubsub".into(),
                topic: "t".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Code::InvalidArgument, "pubsub pubsub is not found")
        );
        let e = c
            .get_secret(pb::GetSecretRequest::default())
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Code::FailedPrecondition, "secret store is not configured")
        );
        let e = c
            .invoke_binding(pb::InvokeBindingRequest::default())
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (
                Code::Internal,
                "error invoking output binding : operation field is missing from request"
            )
        );
    });
}

#[test]
fn no_state_store_is_failed_precondition() {
    let (d, _home) = daprd("grpcnostore", false, |o| o);
    runtime().block_on(async {
        let mut c = connect(&d).await;
        let e = c.get_state(get("statestore", "k")).await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        assert_eq!(e.message(), "state store statestore is not configured");
    });
}

#[test]
fn bulk_get_bulk_delete_and_transactions() {
    let (d, _home) = daprd("grpcbulk", true, |o| o);
    runtime().block_on(async {
        let mut c = connect(&d).await;
        c.save_state(save(
            "statestore",
            vec![
                item("a", b"1", None),
                item("b", b"2", None),
                item("c", b"3", None),
            ],
        ))
        .await
        .unwrap();
        let bulk = c
            .get_bulk_state(pb::GetBulkStateRequest {
                store_name: "statestore".into(),
                keys: vec!["a".into(), "zz".into(), "c".into()],
                parallelism: 2,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let got: Vec<(&str, &[u8], bool)> = bulk
            .items
            .iter()
            .map(|i| (i.key.as_str(), i.data.as_slice(), i.etag.is_empty()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", &b"1"[..], false),
                ("zz", &b""[..], true),
                ("c", &b"3"[..], false)
            ]
        );

        c.delete_bulk_state(pb::DeleteBulkStateRequest {
            store_name: "statestore".into(),
            states: vec![item("a", b"", None), item("b", b"", None)],
        })
        .await
        .unwrap();
        for k in ["a", "b"] {
            assert!(
                c.get_state(get("statestore", k))
                    .await
                    .unwrap()
                    .into_inner()
                    .data
                    .is_empty()
            );
        }

        let op = |kind: &str, key: &str, value: &[u8]| pb::TransactionalStateOperation {
            operation_type: kind.into(),
            request: Some(item(key, value, None)),
        };
        c.execute_state_transaction(pb::ExecuteStateTransactionRequest {
            store_name: "statestore".into(),
            operations: vec![op("upsert", "t1", b"x"), op("delete", "c", b"")],
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(
            c.get_state(get("statestore", "t1"))
                .await
                .unwrap()
                .into_inner()
                .data,
            b"x"
        );
        assert!(
            c.get_state(get("statestore", "c"))
                .await
                .unwrap()
                .into_inner()
                .data
                .is_empty()
        );

        let e = c
            .execute_state_transaction(pb::ExecuteStateTransactionRequest {
                store_name: "statestore".into(),
                operations: vec![op("upsert", "t2", b"y"), op("merge", "t1", b"")],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Code::InvalidArgument, "operation type merge not supported")
        );
        assert!(
            c.get_state(get("statestore", "t2"))
                .await
                .unwrap()
                .into_inner()
                .data
                .is_empty(),
            "a rejected transaction applies nothing"
        );
    });
}

#[test]
fn metadata_set_metadata_and_shutdown() {
    let (mut d, _home) = daprd("grpcmeta", true, |o| o);
    runtime().block_on(async {
        let mut c = connect(&d).await;
        c.set_metadata(pb::SetMetadataRequest {
            key: "fromGrpc".into(),
            value: "yes".into(),
        })
        .await
        .unwrap();
        let md = c
            .get_metadata(pb::GetMetadataRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(md.id, "grpcmeta");
        assert!(!md.runtime_version.is_empty());
        assert_eq!(
            md.extended_metadata.get("fromGrpc").map(String::as_str),
            Some("yes")
        );
        assert_eq!(
            md.extended_metadata.get("daprRuntimeVersion"),
            Some(&md.runtime_version)
        );
        let store = md
            .registered_components
            .iter()
            .find(|r| r.name == "statestore")
            .expect("statestore listed");
        assert_eq!(
            (store.r#type.as_str(), store.version.as_str()),
            ("state.in-memory", "v1")
        );
        assert!(store.capabilities.iter().any(|c| c == "ETAG"), "{store:?}");
        let app = md
            .app_connection_properties
            .expect("app connection properties");
        assert_eq!(
            (app.protocol.as_str(), app.channel_address.as_str()),
            ("http", "127.0.0.1")
        );
        // The HTTP API reports the same document.
        let http: serde_json::Value = http_get(&d, "/v1.0/metadata").await.json().await.unwrap();
        assert_eq!(http["extended"]["fromGrpc"], "yes");
        assert_eq!(http["id"], md.id.as_str());

        c.shutdown(pb::ShutdownRequest {}).await.unwrap();
    });
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("daprd exits after Shutdown");
    assert!(
        status.success(),
        "graceful shutdown exits 0: {status:?}\n{}",
        d.log()
    );
}

#[test]
fn api_token_message_size_and_api_logging() {
    let (d, _home) = daprd("grpctoken", true, |o| {
        o.env("DAPR_API_TOKEN", "s3cret")
            .arg("--max-body-size")
            .arg("1Ki")
            .arg("--enable-api-logging")
    });
    runtime().block_on(async {
        let mut c = connect(&d).await;
        let e = c.get_metadata(pb::GetMetadataRequest {}).await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        let with_token = |r: pb::GetStateRequest, token: &str| {
            let mut req = tonic::Request::new(r);
            req.metadata_mut()
                .insert("dapr-api-token", token.parse().unwrap());
            req
        };
        let e = c
            .get_state(with_token(get("statestore", "k"), "wrong"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        let ok = c
            .get_state(with_token(get("statestore", "k"), "s3cret"))
            .await
            .unwrap();
        assert!(ok.into_inner().data.is_empty());

        // A message over --max-body-size is refused and nothing is stored.
        let mut req =
            tonic::Request::new(save("statestore", vec![item("big", &[b'x'; 4096], None)]));
        req.metadata_mut()
            .insert("dapr-api-token", "s3cret".parse().unwrap());
        let e = c.save_state(req).await.unwrap_err();
        assert!(
            matches!(e.code(), Code::OutOfRange | Code::ResourceExhausted),
            "{e:?}"
        );
        let left = c
            .get_state(with_token(get("statestore", "big"), "s3cret"))
            .await
            .unwrap();
        assert!(left.into_inner().data.is_empty());
    });
    // One API log line per call, with the gRPC method and code.
    let log = d.log();
    let calls: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("gRPC API Called"))
        .collect();
    assert!(calls.len() >= 4, "{log}");
    assert!(
        calls
            .iter()
            .any(|l| l.contains("/dapr.proto.runtime.v1.Dapr/GetMetadata")
                && l.contains("Unauthenticated")),
        "{log}"
    );
    assert!(
        calls
            .iter()
            .any(|l| l.contains("/dapr.proto.runtime.v1.Dapr/GetState") && l.contains("code=OK")),
        "{log}"
    );
}

/// An HTTP app: `/echo` answers `echo:<body>` and reports what it got in headers;
/// `/json` answers `{"echo":"<body>"}`; `/missing` answers 404; `/big` answers 64 KiB
/// (with a content-length), `/big-stream` the same chunked.
async fn echo_app() -> u16 {
    async fn handle(req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        match parts.uri.path() {
            "/missing" => return (StatusCode::NOT_FOUND, "no such thing").into_response(),
            "/big" => return vec![b'b'; 64 << 10].into_response(),
            "/big-stream" => {
                let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'b'; 1 << 10]));
                let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
                return body.into_response();
            }
            "/json" => {
                let text = String::from_utf8_lossy(&body);
                let out = serde_json::json!({ "echo": text }).to_string();
                return ([("content-type", "application/json")], out).into_response();
            }
            _ => {}
        }
        let mut h = HeaderMap::new();
        h.insert("content-type", "text/plain".parse().unwrap());
        h.insert("x-echo-method", parts.method.as_str().parse().unwrap());
        h.insert("x-echo-path", parts.uri.path().parse().unwrap());
        h.insert(
            "x-echo-query",
            parts.uri.query().unwrap_or("").parse().unwrap(),
        );
        let ct = parts.headers.get("content-type").cloned();
        h.insert(
            "x-echo-content-type",
            ct.unwrap_or_else(|| "".parse().unwrap()),
        );
        let caller = parts.headers.get("dapr-caller-app-id").cloned();
        h.insert(
            "x-echo-caller",
            caller.unwrap_or_else(|| "".parse().unwrap()),
        );
        let mut out = b"echo:".to_vec();
        out.extend_from_slice(&body);
        (StatusCode::OK, h, out).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(handle)).await;
    });
    port
}

fn invoke(
    app: &str,
    method: &str,
    verb: common::http_extension::Verb,
    query: &str,
    data: &[u8],
) -> pb::InvokeServiceRequest {
    pb::InvokeServiceRequest {
        id: app.into(),
        message: Some(common::InvokeRequest {
            method: method.into(),
            data: Some(prost_types::Any {
                type_url: String::new(),
                value: data.to_vec(),
            }),
            content_type: "text/plain".into(),
            http_extension: Some(common::HttpExtension {
                verb: verb as i32,
                querystring: query.into(),
            }),
        }),
    }
}

#[test]
fn invoke_service_reaches_the_http_app() {
    let rt = runtime();
    let app_port = rt.block_on(echo_app());
    let (d, _home) = daprd("grpcinvoke", false, |o| o.app_port(app_port));
    rt.block_on(async {
        use common::http_extension::Verb;
        let mut c = connect(&d).await;
        let res = c
            .invoke_service(invoke(
                "grpcinvoke",
                "echo",
                Verb::Put,
                "a=1&b=two",
                b"ping",
            ))
            .await
            .unwrap();
        let h = res.metadata().clone();
        let body = res.into_inner();
        assert_eq!(body.data.unwrap().value, b"echo:ping");
        assert_eq!(body.content_type, "text/plain");
        let header = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(header("x-echo-method"), "PUT");
        assert_eq!(header("x-echo-path"), "/echo");
        assert_eq!(header("x-echo-query"), "a=1&b=two");
        assert_eq!(header("x-echo-content-type"), "text/plain");
        assert_eq!(header("x-echo-caller"), "grpcinvoke");

        // A non-2xx answer of the app is a gRPC error carrying the HTTP status.
        let e = c
            .invoke_service(invoke("grpcinvoke", "missing", Verb::Get, "", b""))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
        assert_eq!(
            e.metadata()
                .get("dapr-http-status")
                .and_then(|v| v.to_str().ok()),
            Some("404")
        );

        // An app id nobody registered: the invoker's error, not an app status.
        let e = c
            .invoke_service(invoke("nobody-here", "echo", Verb::Post, "", b"x"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Internal, "{e:?}");
        assert!(
            e.message().contains("failed to invoke, id: nobody-here"),
            "{e:?}"
        );
        assert!(e.metadata().get("dapr-http-status").is_none());
    });
}

/// A reply over `--max-body-size` is the sidecar's own error (not the app's answer), over
/// gRPC (whether the app declares its length or streams) and over HTTP.
#[test]
fn too_large_replies_are_the_sidecars_own_error() {
    let rt = runtime();
    let app_port = rt.block_on(echo_app());
    let (d, _home) = daprd("bigreply", false, |o| {
        o.app_port(app_port).arg("--max-body-size").arg("16Ki")
    });
    rt.block_on(async {
        use common::http_extension::Verb;
        let mut c = connect(&d).await;
        let ok = c
            .invoke_service(invoke("bigreply", "echo", Verb::Post, "", b"small"))
            .await
            .unwrap();
        assert_eq!(ok.into_inner().data.unwrap().value, b"echo:small");
        for method in ["big", "big-stream"] {
            let e = c
                .invoke_service(invoke("bigreply", method, Verb::Get, "", b""))
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::ResourceExhausted, "{method}: {e:?}");
            assert!(
                e.message()
                    .starts_with("failed to invoke, id: bigreply, err: ")
                    && e.message().contains("larger than the limit of 16384 bytes"),
                "{method}: {e:?}"
            );
            assert!(
                e.metadata().get("dapr-http-status").is_none(),
                "{method}: not an app status: {e:?}"
            );
            let details = dapr::google::rpc::Status::decode(e.details()).unwrap();
            let info = &details.details[0];
            assert!(info.type_url.ends_with("google.rpc.ErrorInfo"), "{info:?}");
            let text = String::from_utf8_lossy(&info.value);
            assert!(text.contains("ERR_DIRECT_INVOKE"), "{method}: {text}");
        }
        let res = http_get(&d, "/v1.0/invoke/bigreply/method/big").await;
        assert_eq!(res.status().as_u16(), 500);
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(v["errorCode"], "ERR_DIRECT_INVOKE", "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("larger than the limit of 16384 bytes"),
            "{v}"
        );
    });
}

pub(crate) fn sdk_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(name)
}

/// Runs the Python SDK script against `d`; panics with its output unless it passed.
fn run_python_sdk(d: &Daprd, app_id: &str, extra_env: &[(&str, &str)]) {
    let probe = Command::new("python3")
        .args(["-c", "import dapr.clients"])
        .output()
        .expect("python3 must be installed");
    assert!(
        probe.status.success(),
        "the official Python Dapr SDK is not importable; install it with: \
         python3 -m pip install \"dapr==1.19.*\"\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let mut cmd = Command::new("python3");
    cmd.arg(sdk_script("python_state.py"))
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("H7_APP_ID", app_id)
        .env("H7_INVOKE_APP", app_id)
        .env("DAPR_HEALTH_TIMEOUT", "10")
        .env("DAPR_API_TIMEOUT_SECONDS", "10");
    crate::support::without_developer_env(&mut cmd);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    run_script(cmd, "Python SDK", d);
}

/// Runs an SDK check script (60 s at most); panics with its output unless it exits 0.
pub(crate) fn run_script(cmd: Command, what: &str, d: &Daprd) {
    let mut child = sidecar_child(cmd);
    let status = child.wait_with_timeout(Duration::from_secs(60));
    let out = child.output();
    assert!(
        status.is_some_and(|s| s.success()),
        "{what} checks failed ({status:?}):\n{out}\n--- daprd log:\n{}",
        d.log()
    );
}

/// A child process with its output in a temp file, killed on drop.
pub(crate) struct Script {
    child: crate::support::KillOnDrop,
    out: tempfile::NamedTempFile,
}

pub(crate) fn sidecar_child(mut cmd: Command) -> Script {
    let out = tempfile::NamedTempFile::new().unwrap();
    let f = out.reopen().unwrap();
    cmd.stdout(f.try_clone().unwrap()).stderr(f);
    Script {
        child: crate::support::KillOnDrop(cmd.spawn().expect("spawn python3")),
        out,
    }
}

impl Script {
    pub(crate) fn wait_with_timeout(
        &mut self,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let mut status = None;
        crate::support::wait_until(timeout, || {
            status = self.child.0.try_wait().unwrap();
            status.is_some()
        });
        status
    }

    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(self.out.path()).unwrap_or_default()
    }
}

#[test]
fn python_sdk_state_metadata_and_invoke() {
    let rt = runtime();
    let app_port = rt.block_on(echo_app());
    let (d, _home) = daprd("pysdk", true, |o| o.app_port(app_port));
    // Invocation over HTTP (the SDK's default), then over gRPC InvokeService.
    run_python_sdk(&d, "pysdk", &[]);
    run_python_sdk(
        &d,
        "pysdk",
        &[("DAPR_API_METHOD_INVOCATION_PROTOCOL", "grpc")],
    );
    drop(rt);
}

/// The directory of the JS SDK scripts; panics with the install command when the official
/// JS SDK is not installed there.
pub(crate) fn js_sdk_dir() -> PathBuf {
    let dir = sdk_script("");
    let probe = Command::new("node")
        .args(["--input-type=module", "-e", "await import('@dapr/dapr')"])
        .current_dir(&dir)
        .output()
        .expect("node must be installed");
    assert!(
        probe.status.success(),
        "the official JS Dapr SDK is not installed in tests/sdk; install it with: \
         npm ci --prefix tests/sdk\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    dir
}

#[test]
fn js_sdk_in_grpc_mode() {
    let dir = js_sdk_dir();
    let rt = runtime();
    let app_port = rt.block_on(echo_app());
    let (d, _home) = daprd("jssdk", true, |o| o.app_port(app_port));
    let mut cmd = Command::new("node");
    crate::support::without_developer_env(&mut cmd)
        .arg(sdk_script("js_grpc.mjs"))
        .current_dir(&dir)
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("H7_INVOKE_APP", "jssdk");
    run_script(cmd, "JS SDK (gRPC)", &d);
    drop(rt);
}

/// What `dapr init` writes into `~/.dapr` (config with Zipkin tracing, a Redis state store
/// that is also the actor store, a Redis pub/sub), pointed at `redis`.
fn dapr_init_home(home: &std::path::Path, redis: &crate::support::Redis) -> PathBuf {
    let dot = home.join(".dapr");
    let comps = dot.join("components");
    std::fs::create_dir_all(&comps).unwrap();
    std::fs::write(
        dot.join("config.yaml"),
        "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprConfig\n\
         spec:\n  tracing:\n    samplingRate: \"1\"\n    zipkin:\n      \
         endpointAddress: http://localhost:9411/api/v2/spans\n",
    )
    .unwrap();
    for (name, ty, extra) in [
        (
            "statestore",
            "state.redis",
            "  - name: actorStateStore\n    value: \"true\"\n",
        ),
        ("pubsub", "pubsub.redis", ""),
    ] {
        std::fs::write(
            comps.join(format!("{name}.yaml")),
            format!(
                "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
                 spec:\n  type: {ty}\n  version: v1\n  metadata:\n  - name: redisHost\n    \
                 value: {}\n  - name: redisPassword\n    value: \"\"\n{extra}",
                redis.addr()
            ),
        )
        .unwrap();
    }
    dot
}

/// daprd started with every flag `dapr run` passes and the files `dapr init` writes; the JS
/// SDK in its default (HTTP) mode is both the client and the app (`DaprServer`).
#[test]
fn js_sdk_in_default_http_mode_as_dapr_run_starts_it() {
    let dir = js_sdk_dir();
    let redis = crate::support::Redis::start();
    let home = tempfile::tempdir().unwrap();
    let dot = dapr_init_home(home.path(), &redis);
    let app_port = crate::support::free_port();
    let config = dot.join("config.yaml");
    let opts = Opts::new("jshttp", home.path())
        .resources(&dot.join("components"))
        .app_port(app_port)
        .arg("--app-protocol=http")
        .arg("--app-max-concurrency=-1")
        .arg(&format!("--config={}", config.display()))
        .arg("--scheduler-host-address=localhost:50006")
        .arg("--max-body-size=4Mi")
        .arg("--read-buffer-size=4Ki")
        .arg("--log-level=info");
    let mut d = start(&opts);
    let mut cmd = Command::new("node");
    crate::support::without_developer_env(&mut cmd)
        .arg(sdk_script("js_http.mjs"))
        .current_dir(&dir)
        .env("APP_ID", "jshttp")
        .env("APP_PORT", app_port.to_string())
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string());
    run_script(cmd, "JS SDK (HTTP)", &d);

    // What the SDK wrote is in the official Redis layout, and its metadata option (sent
    // as `metadata.ttlInSeconds` in the query) set the key's TTL.
    assert_eq!(
        redis.cli(&["HGET", "jshttp||js-obj", "data"]).trim(),
        r#"{"a":1,"b":[true,null],"c":{"d":"e"}}"#
    );
    let ttl: i64 = redis
        .cli(&["TTL", "jshttp||js-ttl"])
        .trim()
        .parse()
        .unwrap();
    assert!((1..=100).contains(&ttl), "TTL of js-ttl: {ttl}");
    assert!(
        d.log()
            .contains("Component loaded: pubsub (pubsub.redis/v1)"),
        "the pubsub.redis component dapr init writes is loaded:\n{}",
        d.log()
    );
    // The script ended with the SDK's `sidecar.shutdown()`.
    let status = d.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", d.log());
}

#[test]
fn busy_grpc_port_fails_start_up_naming_the_flag() {
    let home = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let mut cmd = Command::new(crate::support::bin("daprd"));
    crate::support::hermetic(&mut cmd, home.path());
    let child = cmd
        .args(["--app-id", "busygrpc"])
        .args(["--dapr-http-port", &crate::support::free_port().to_string()])
        .args(["--dapr-grpc-port", &port.to_string()])
        .args([
            "--dapr-internal-grpc-port",
            &crate::support::free_port().to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = crate::support::KillOnDrop(child);
    let mut status = None;
    crate::support::wait_until(Duration::from_secs(10), || {
        status = child.0.try_wait().unwrap();
        status.is_some()
    });
    let status = status.expect("daprd exits when the gRPC port is taken");
    assert!(!status.success());
    let mut out = String::new();
    for pipe in [
        child
            .0
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read>),
        child
            .0
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut p = pipe;
        let _ = p.read_to_string(&mut out);
    }
    assert!(out.contains("--dapr-grpc-port"), "{out}");
    assert!(out.contains("address already in use"), "{out}");
    drop(busy);
}

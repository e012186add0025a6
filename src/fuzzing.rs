//! Entry points of the fuzz targets (`fuzz/fuzz_targets/*.rs`, run with `cargo +nightly
//! fuzz`) and of the stable corpus replay (`tests/it/fuzz_corpus.rs`): one function per
//! target, taking the raw input. Each one feeds the input to the real parsers or the real
//! API adapters, with no sockets and no files written, and panics only when the code under
//! test does (a panic, or a broken invariant checked here with `assert!`).
//!
//! Limits: the API targets run against in-memory and SQLite (`:memory:`) state stores and
//! an environment secret store (checked by `components::plan` and created by their
//! registry factories), with no invoker, so service invocation stops after the target and
//! method are parsed; no Redis, and no hyper connection (the HTTP target drives the router
//! with `oneshot`, so hyper's own request-head parsing is not exercised).
//!
//! The SQLite store works on its own thread ([`SQLITE_WORKER_THREAD`]): a panic there is a
//! crash for libFuzzer (its panic hook aborts the process) but only an error answer for
//! the caller, so the corpus replay watches that thread's panics itself.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};
use prost::Message;
use tower::ServiceExt;

use crate::selfhosted::runfile;
use crate::sidecar::api::grpc::GrpcApi;
use crate::sidecar::api::http::{HttpState, clean_path, router, service};
use crate::sidecar::api::universal::Api;
use crate::sidecar::api::universal::metadata::SidecarInfo;
use crate::sidecar::components::{self, ComponentStore, Context};
use crate::sidecar::resiliency::Resiliency;
use crate::sidecar::resources::{self, Component, configuration};

/// The app id the targets run as.
const APP_ID: &str = "fuzzapp";

/// The API targets' SQLite store.
const SQLITE_STORE: &str = "fuzzsqlite";

/// The name of the thread the API targets' SQLite store runs its statements on.
pub const SQLITE_WORKER_THREAD: &str = "sqlite-fuzzsqlite";

/// `fuzz_targets/component_yaml.rs`: a resources file's text through
/// `resources::components` and, when it loads, `components::plan` (type, version and
/// metadata validation; no I/O). Errors must name the file they come from.
pub fn component_yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let file = Path::new("/fuzz/components/input.yaml");
    match resources::components(file, &text, APP_ID) {
        Ok(found) => {
            if let Err(e) = components::plan(found, &Context::new(APP_ID)) {
                check_names_file(&e.to_string(), file);
            }
        }
        Err(e) => check_names_file(&e.to_string(), file),
    }
}

/// `fuzz_targets/configuration_yaml.rs`: a `--config` file's text through
/// `configuration::parse`.
pub fn configuration_yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let file = Path::new("/fuzz/config.yaml");
    if let Err(e) = configuration::parse(file, &text) {
        check_names_file(&e.to_string(), file);
    }
}

/// `fuzz_targets/runfile_yaml.rs`: a multi-app run file through `runfile::parse`, with
/// relative paths resolved against `tests/apps` (which holds `node/` and `python/`).
pub fn runfile_yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apps"));
    if let Ok(t) = runfile::parse(&base.join("dapr.yaml"), &text, base) {
        // Relative app directories resolve against the template's directory.
        for app in &t.apps {
            assert!(
                app.app_dir.is_absolute(),
                "relative app dir {:?}",
                app.app_dir
            );
        }
    }
}

fn check_names_file(message: &str, file: &Path) {
    assert!(
        message.contains(&*file.to_string_lossy()),
        "error does not name its file: {message}"
    );
}

/// The components every API target runs with: an in-memory state store keyed by app id,
/// one without a key prefix, a SQLite one, and an environment secret store.
const API_COMPONENTS: &str = r#"apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.in-memory
  version: v1
  metadata:
  - name: actorStateStore
    value: "true"
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: plain
spec:
  type: state.in-memory
  version: v1
  metadata:
  - name: keyPrefix
    value: none
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: fuzzsqlite
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: ":memory:"
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: envsecrets
spec:
  type: secretstores.local.env
  version: v1
  metadata:
  - name: prefix
    value: FUZZ_
"#;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    static COMPONENTS: Vec<Component> =
        resources::components(Path::new("fuzzing.rs"), API_COMPONENTS, APP_ID)
            .expect("the fuzz components load");
}

/// A fresh API (empty stores) for one input.
///
/// The SQLite store is started only for inputs that name it: its worker thread and
/// database cost several times a whole input's run otherwise.
async fn fresh_api(input: &[u8]) -> Arc<Api> {
    let with_sqlite = memchr::memmem::find(input, SQLITE_STORE.as_bytes()).is_some();
    let mut found = COMPONENTS.with(Clone::clone);
    found.retain(|c| with_sqlite || c.name != SQLITE_STORE);
    let ctx = Context::new(APP_ID);
    let plan = components::plan(found, &ctx).expect("the fuzz components validate");
    // `ComponentStore::start` without its "Component loaded" log lines (one per input
    // would drown the fuzzer's output): each planned component from its factory.
    let mut store = ComponentStore::default();
    for (c, factory) in plan.start {
        let instance = (factory.create)(c.clone(), ctx.clone())
            .await
            .expect("the fuzz components start");
        store.insert(c, factory.category(), instance);
    }
    let info = SidecarInfo {
        app_id: APP_ID.into(),
        runtime_version: "fuzz".into(),
        ..Default::default()
    };
    Arc::new(Api::new(info, Arc::new(store), None, Resiliency::default()))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(f))
}

/// Requests per input at most (each input is a short session against one fresh sidecar).
const MAX_REQUESTS: usize = 16;

/// `fuzz_targets/http_api.rs`: a session of HTTP requests through the real router
/// (`api::http::service(router(..))`) over the stores `statestore`, `plain`, `fuzzsqlite`
/// and `envsecrets`: state save/get/delete/bulk/transaction/query,
/// publish, bindings, metadata, secrets, shutdown and invocation (target and method
/// parsing; no invoker). The input is text close to HTTP/1.1, requests separated by a
/// line `---`:
///
/// ```text
/// @token s3cret              (optional first line: DAPR_API_TOKEN for the session)
/// POST /v1.0/state/statestore?metadata.ttlInSeconds=5
/// content-type: application/json
///
/// [{"key":"k","value":1}]
/// ---
/// GET /v1.0/state/statestore/k
/// ```
///
/// Request lines or URIs hyper would refuse are skipped; `Content-Length` is set from the
/// body (unless `transfer-encoding: chunked` is given: the body then streams in two
/// chunks). Checked besides "no panic": `clean_path` is Go's `path.Clean`, an error
/// answered as JSON is `{"errorCode","message"}`, and a 204 has no body.
pub fn http_api(data: &[u8]) {
    let (token, rest) = match data.strip_prefix(b"@token ") {
        Some(r) => {
            let end = memchr::memchr(b'\n', r).unwrap_or(r.len());
            (
                Some(String::from_utf8_lossy(&r[..end]).into_owned()),
                r.get(end + 1..).unwrap_or_default(),
            )
        }
        None => (None, data),
    };
    let requests: Vec<Request<Body>> = split(rest, b"\n---\n")
        .filter_map(http_request)
        .take(MAX_REQUESTS)
        .collect();
    if requests.is_empty() {
        return;
    }
    block_on(async {
        let state = Arc::new(HttpState {
            max_body_size: 2048,
            max_header_bytes: 2048,
            api_token: token,
            allowed_origins: vec!["http://allowed.example".into()],
            ..HttpState::new(fresh_api(rest).await)
        });
        let app = router(state);
        for req in requests {
            check_clean_path(req.uri().path());
            let res = service(app.clone())
                .oneshot(req)
                .await
                .expect("the router is infallible");
            let (parts, body) = res.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            if parts.status == http::StatusCode::NO_CONTENT {
                assert!(body.is_empty(), "204 with a body: {body:?}");
            }
            let json = parts
                .headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            if json && parts.status.as_u16() >= 400 {
                let doc: serde_json::Value = serde_json::from_slice(&body)
                    .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {body:?}"));
                assert!(
                    doc.get("errorCode").is_some_and(|c| c.is_string())
                        && doc.get("message").is_some_and(|m| m.is_string()),
                    "error body without errorCode/message: {doc}"
                );
            }
        }
    });
}

/// Splits `data` on every `sep`.
fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memmem::find(r, sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// One request block: request line, header lines, blank line, body.
fn http_request(block: &[u8]) -> Option<Request<Body>> {
    let (head, body) = match memchr::memmem::find(block, b"\n\n") {
        Some(i) => (&block[..i], &block[i + 2..]),
        None => (block, &b""[..]),
    };
    let mut lines = head.split(|b| *b == b'\n');
    let line = lines.next()?;
    let (method, target) = match memchr::memchr(b' ', line) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &b"/"[..]),
    };
    let method = Method::from_bytes(method).ok()?;
    let uri = Uri::try_from(target).ok()?;
    let mut req = Request::builder().method(method).uri(uri);
    let mut chunked = false;
    for h in lines {
        let Some(colon) = memchr::memchr(b':', h) else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&h[..colon]),
            HeaderValue::from_bytes(h[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        // hyper frames the body: its length is the one the request arrived with.
        if name == header::CONTENT_LENGTH {
            continue;
        }
        if name == header::TRANSFER_ENCODING {
            chunked |= value.as_bytes().eq_ignore_ascii_case(b"chunked");
        }
        req = req.header(name, value);
    }
    let body = Bytes::copy_from_slice(body);
    let body = if chunked {
        let (a, b) = body.split_at(body.len() / 2);
        let chunks = [Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)];
        Body::from_stream(futures_util::stream::iter(
            chunks.map(Ok::<_, std::convert::Infallible>),
        ))
    } else {
        if !body.is_empty() {
            req = req.header(header::CONTENT_LENGTH, body.len());
        }
        Body::from(body)
    };
    req.body(body).ok()
}

/// `clean_path` is Go's `path.Clean` of an absolute path: rooted, no empty, `.` or `..`
/// segment, idempotent.
fn check_clean_path(path: &str) {
    let cleaned = clean_path(path);
    assert!(cleaned.starts_with('/'), "{path:?} -> {cleaned:?}");
    if cleaned != "/" {
        assert!(
            cleaned[1..]
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".."),
            "{path:?} -> {cleaned:?}"
        );
    }
    assert_eq!(clean_path(&cleaned), cleaned, "not idempotent for {path:?}");
}

/// The gRPC requests `grpc_api` decodes, by selector byte (modulo their number).
const GRPC_METHODS: &[&str] = &[
    "SaveState",
    "GetState",
    "GetBulkState",
    "DeleteState",
    "DeleteBulkState",
    "ExecuteStateTransaction",
    "InvokeService",
    "GetSecret",
    "GetBulkSecret",
    "GetMetadata",
    "SetMetadata",
    "PublishEvent",
    "Shutdown",
];

/// The selector byte of a gRPC method in `grpc_api` inputs (for seeds).
pub fn grpc_selector(method: &str) -> Option<u8> {
    GRPC_METHODS
        .iter()
        .position(|m| *m == method)
        .map(|i| i as u8)
}

/// `fuzz_targets/grpc_api.rs`: a session of `dapr.proto.runtime.v1.Dapr` calls. The input
/// is a sequence of frames `[selector: u8][length: u16 LE][protobuf bytes]` (a short last
/// frame takes what is left); each frame decodes as the request message of
/// `GRPC_METHODS[selector % len]` and, when it decodes, is passed to that method of
/// `GrpcApi` (the `Dapr` trait) as `daprd` would after tonic's decoding.
pub fn grpc_api(data: &[u8]) {
    let mut frames = Vec::new();
    let mut rest = data;
    while let [sel, rest2 @ ..] = rest {
        let (len, body) = match rest2 {
            [a, b, body @ ..] => (u16::from_le_bytes([*a, *b]) as usize, body),
            _ => (0, &[][..]),
        };
        let len = len.min(body.len());
        frames.push((*sel as usize % GRPC_METHODS.len(), &body[..len]));
        rest = &body[len..];
        if frames.len() == MAX_REQUESTS {
            break;
        }
    }
    if frames.is_empty() {
        return;
    }
    block_on(async {
        let grpc = GrpcApi::new(fresh_api(data).await, 2048);
        for (sel, bytes) in frames {
            grpc_call(&grpc, GRPC_METHODS[sel], bytes).await;
        }
    });
}

async fn grpc_call(grpc: &GrpcApi, method: &str, bytes: &[u8]) {
    use dapr::dapr::proto::runtime::v1 as pb;
    use dapr::dapr::proto::runtime::v1::dapr_server::Dapr;
    use tonic::Request as R;

    macro_rules! call {
        ($msg:ty, $rpc:ident) => {
            if let Ok(m) = <$msg>::decode(bytes) {
                let _ = grpc.$rpc(R::new(m)).await;
            }
        };
    }
    match method {
        "SaveState" => call!(pb::SaveStateRequest, save_state),
        "GetState" => call!(pb::GetStateRequest, get_state),
        "GetBulkState" => call!(pb::GetBulkStateRequest, get_bulk_state),
        "DeleteState" => call!(pb::DeleteStateRequest, delete_state),
        "DeleteBulkState" => call!(pb::DeleteBulkStateRequest, delete_bulk_state),
        "ExecuteStateTransaction" => {
            call!(
                pb::ExecuteStateTransactionRequest,
                execute_state_transaction
            )
        }
        "InvokeService" => call!(pb::InvokeServiceRequest, invoke_service),
        "GetSecret" => call!(pb::GetSecretRequest, get_secret),
        "GetBulkSecret" => call!(pb::GetBulkSecretRequest, get_bulk_secret),
        "GetMetadata" => call!(pb::GetMetadataRequest, get_metadata),
        "SetMetadata" => call!(pb::SetMetadataRequest, set_metadata),
        "PublishEvent" => call!(pb::PublishEventRequest, publish_event),
        "Shutdown" => call!(pb::ShutdownRequest, shutdown),
        other => unreachable!("no gRPC method {other}"),
    }
}

/// One target's entry point.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/corpus/<name>/` and `fuzz/fuzz_targets/<name>.rs` are
/// named.
pub const TARGETS: &[(&str, Target)] = &[
    ("component_yaml", component_yaml),
    ("configuration_yaml", configuration_yaml),
    ("runfile_yaml", runfile_yaml),
    ("http_api", http_api),
    ("grpc_api", grpc_api),
];

//! Bindings conformance: output bindings (`bindings.localstorage`, `bindings.http`,
//! `bindings.redis`, `bindings.postgresql`) through one set of checks written over
//! `Arc<dyn OutputBinding>` (a write then a read gives back what was written; operations
//! outside the list are refused), each started through the registry as daprd starts it;
//! then each type's own operations; then the input binding `bindings.cron`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dapr_cli::sidecar::components::bindings::{
    BindingComponent, Handler, InvokeRequest, Metadata, OutputBinding, ReadEvent,
};
use dapr_cli::sidecar::components::{self, ComponentStore, Context};
use dapr_cli::sidecar::resources::{Component, ResourceError};
use serde_json::{Value, json};

use crate::support::Redis;
use crate::support::postgres::Postgres;

/// Starts `c` as daprd does and returns the running store (the binding lives in it).
async fn start(c: Component) -> Result<(ComponentStore, String), ResourceError> {
    let ctx = Context::new("myapp");
    let name = c.name.clone();
    let plan = components::plan(vec![c], &ctx)?;
    Ok((ComponentStore::start(plan, &ctx).await?, name))
}

fn binding(s: &(ComponentStore, String)) -> &BindingComponent {
    s.0.binding(&s.1).expect("a started binding")
}

fn output(s: &(ComponentStore, String)) -> Arc<dyn OutputBinding> {
    binding(s).output.clone().expect("an output binding")
}

fn req(operation: &str, data: &[u8], md: &[(&str, &str)]) -> InvokeRequest {
    InvokeRequest {
        operation: operation.into(),
        data: Bytes::copy_from_slice(data),
        metadata: md
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A started output binding, a write and a read that gives back `expected`, and what
/// keeps its server or directory alive.
struct Fixture {
    store: (ComponentStore, String),
    write: InvokeRequest,
    read: InvokeRequest,
    expected: Bytes,
    _keep: Box<dyn std::any::Any>,
}

async fn localstorage() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let c = Component::new("files", "bindings.localstorage")
        .with_meta("rootPath", dir.path().join("root").to_str().unwrap());
    Fixture {
        store: start(c).await.unwrap(),
        write: req("create", b"hello files", &[("fileName", "a/b.txt")]),
        read: req("get", b"", &[("fileName", "a/b.txt")]),
        expected: Bytes::from_static(b"hello files"),
        _keep: Box::new(dir),
    }
}

/// A tiny HTTP server: `POST /store` keeps the body, `GET /store` answers it, `GET
/// /missing` is 404 with a header, `GET /echo-headers` answers the request headers.
async fn http_server() -> u16 {
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::routing::get;
    let stored: Arc<Mutex<Bytes>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/api/store",
            get(|State(s): State<Arc<Mutex<Bytes>>>| async move { s.lock().unwrap().clone() })
                .post(
                    |State(s): State<Arc<Mutex<Bytes>>>, body: Bytes| async move {
                        *s.lock().unwrap() = body;
                        axum::http::StatusCode::CREATED
                    },
                ),
        )
        .route(
            "/api/missing",
            get(|| async {
                (
                    axum::http::StatusCode::NOT_FOUND,
                    [("x-why", "gone")],
                    "nope",
                )
            }),
        )
        .route(
            "/api/echo-headers",
            get(|h: HeaderMap| async move {
                let m: serde_json::Map<String, Value> = h
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                    .collect();
                axum::Json(Value::Object(m))
            }),
        )
        .with_state(stored);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

async fn http() -> Fixture {
    let port = http_server().await;
    let c = Component::new("web", "bindings.http")
        .with_meta("url", &format!("http://127.0.0.1:{port}/api/"));
    Fixture {
        store: start(c).await.unwrap(),
        write: req("post", b"{\"n\":1}", &[("path", "/store")]),
        read: req("get", b"", &[("path", "store")]),
        expected: Bytes::from_static(b"{\"n\":1}"),
        _keep: Box::new(()),
    }
}

async fn redis() -> Fixture {
    let server = Redis::start();
    let c = Component::new("cache", "bindings.redis").with_meta("redisHost", &server.addr());
    Fixture {
        store: start(c).await.unwrap(),
        write: req("create", b"hello redis", &[("key", "k1")]),
        read: req("get", b"", &[("key", "k1")]),
        expected: Bytes::from_static(b"hello redis"),
        _keep: Box::new(server),
    }
}

async fn postgres() -> Fixture {
    let server = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let c = Component::new("db", "bindings.postgresql")
        .with_meta("connectionString", &server.connection_string());
    let store = start(c).await.unwrap();
    output(&store)
        .invoke(req(
            "exec",
            b"",
            &[("sql", "CREATE TABLE t (id int PRIMARY KEY, v text)")],
        ))
        .await
        .unwrap();
    Fixture {
        store,
        write: req(
            "exec",
            b"",
            &[
                ("sql", "INSERT INTO t (id, v) VALUES ($1, $2)"),
                ("params", r#"[1, "hello pg"]"#),
            ],
        ),
        read: req(
            "query",
            b"",
            &[("sql", "SELECT v FROM t WHERE id = $1"), ("params", "[1]")],
        ),
        expected: Bytes::from_static(br#"[["hello pg"]]"#),
        _keep: Box::new(server),
    }
}

mod cases {
    use super::*;

    pub async fn write_then_read(f: Fixture) {
        let out = output(&f.store);
        out.invoke(f.write.clone()).await.unwrap();
        let got = out
            .invoke(f.read.clone())
            .await
            .unwrap()
            .expect("a read answers data");
        assert_eq!(
            got.data,
            f.expected,
            "{}",
            String::from_utf8_lossy(&got.data)
        );
    }

    pub async fn operations_are_listed_and_others_refused(f: Fixture) {
        let out = output(&f.store);
        let ops = out.operations();
        assert!(ops.contains(&f.write.operation.as_str()), "{ops:?}");
        assert!(ops.contains(&f.read.operation.as_str()), "{ops:?}");
        assert!(out.invoke(req("frobnicate", b"", &[])).await.is_err());
        // Output-only types list no input and report their capability.
        let b = binding(&f.store);
        assert!(b.input.is_none());
        assert_eq!(b.capabilities(), ["OUTPUT_BINDING"]);
    }
}

macro_rules! conformance {
    ($($ty:ident),*) => {
        $(
            mod $ty {
                #[tokio::test]
                async fn write_then_read() {
                    super::cases::write_then_read(super::$ty().await).await;
                }
                #[tokio::test]
                async fn operations_are_listed_and_others_refused() {
                    super::cases::operations_are_listed_and_others_refused(super::$ty().await).await;
                }
            }
        )*
    };
}

conformance!(localstorage, http, redis, postgres);

#[tokio::test]
async fn localstorage_create_get_list_delete() {
    let f = localstorage().await;
    let out = output(&f.store);
    // The answer names the file relative to the root; a JSON string is stored unquoted.
    let r = out
        .invoke(req("create", br#""plain""#, &[("fileName", "x/y.txt")]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&r.data).unwrap(),
        json!({"fileName": "x/y.txt"})
    );
    // Base64 is decoded, as upstream.
    out.invoke(req("create", b"aGVsbG8=", &[("fileName", "b64")]))
        .await
        .unwrap();
    let got = out
        .invoke(req("get", b"", &[("fileName", "b64")]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.data.as_ref(), b"hello");
    // No name: a UUID.
    let r = out.invoke(req("create", b"x", &[])).await.unwrap().unwrap();
    let name = serde_json::from_slice::<Value>(&r.data).unwrap()["fileName"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(name.len(), 36, "{name}");
    let list = out.invoke(req("list", b"", &[])).await.unwrap().unwrap();
    let list: Vec<String> = serde_json::from_slice(&list.data).unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(
        list.iter()
            .any(|p| p.ends_with("/x/y.txt") && p.starts_with('/')),
        "{list:?}"
    );
    // `..` does not leave the root.
    let escaped = out
        .invoke(req("get", b"", &[("fileName", "../../x/y.txt")]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(escaped.data.as_ref(), b"plain");
    assert!(
        out.invoke(req("delete", b"", &[("fileName", "x/y.txt")]))
            .await
            .unwrap()
            .is_none()
    );
    let e = out
        .invoke(req("get", b"", &[("fileName", "x/y.txt")]))
        .await
        .unwrap_err();
    assert!(e.message.contains("file not found"), "{e}");
    let e = out
        .invoke(req("list", b"", &[("fileName", "b64")]))
        .await
        .unwrap_err();
    assert!(e.message.contains("not a directory"), "{e}");
}

#[tokio::test]
async fn http_status_headers_and_errors() {
    let f = http().await;
    let out = output(&f.store);
    let r = out.invoke(f.write.clone()).await.unwrap().unwrap();
    assert_eq!(r.metadata["statusCode"], "201");
    assert_eq!(r.metadata["status"], "201 Created");
    let e = out
        .invoke(req("get", b"", &[("path", "missing")]))
        .await
        .unwrap_err();
    assert_eq!(e.message, "received status code 404");
    assert_eq!(e.metadata["statusCode"], "404");
    assert_eq!(e.metadata["X-Why"], "gone");
    // Not an error when the request says so; the body comes back.
    let r = out
        .invoke(req(
            "get",
            b"",
            &[("path", "missing"), ("errorIfNot2XX", "false")],
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.data.as_ref(), b"nope");
    // Capitalised metadata keys are headers; Accept defaults to JSON.
    let r = out
        .invoke(req(
            "get",
            b"",
            &[
                ("path", "echo-headers"),
                ("X-Token", "abc"),
                ("lower", "no"),
            ],
        ))
        .await
        .unwrap()
        .unwrap();
    let h: Value = serde_json::from_slice(&r.data).unwrap();
    assert_eq!(h["x-token"], "abc");
    assert_eq!(h["accept"], "application/json; charset=utf-8");
    assert!(h.get("lower").is_none(), "{h}");
}

#[tokio::test]
async fn redis_ttl_get_delete_and_increment() {
    let f = redis().await;
    let out = output(&f.store);
    out.invoke(req(
        "create",
        b"v",
        &[("key", "ttl"), ("ttlInSeconds", "100")],
    ))
    .await
    .unwrap();
    let server = f._keep.downcast_ref::<Redis>().unwrap();
    let ttl: i64 = server.cli(&["TTL", "ttl"]).trim().parse().unwrap();
    assert!((1..=100).contains(&ttl), "{ttl}");
    assert!(
        out.invoke(req(
            "create",
            b"v",
            &[("key", "bad"), ("ttlInSeconds", "x")]
        ))
        .await
        .is_err()
    );
    assert_eq!(server.cli(&["EXISTS", "bad"]).trim(), "0");
    out.invoke(req("increment", b"", &[("key", "n")]))
        .await
        .unwrap();
    out.invoke(req("increment", b"", &[("key", "n")]))
        .await
        .unwrap();
    let n = out
        .invoke(req("get", b"", &[("key", "n")]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n.data.as_ref(), b"2");
    // GETDEL with `delete: true`; a missing key is empty data, not an error.
    let v = out
        .invoke(req("get", b"", &[("key", "ttl"), ("delete", "true")]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.data.as_ref(), b"v");
    let gone = out
        .invoke(req("get", b"", &[("key", "ttl")]))
        .await
        .unwrap()
        .unwrap();
    assert!(gone.data.is_empty());
    assert!(
        out.invoke(req("delete", b"", &[("key", "n")]))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(server.cli(&["EXISTS", "n"]).trim(), "0");
    let e = out.invoke(req("get", b"", &[])).await.unwrap_err();
    assert!(e.message.contains("missing key"), "{e}");
}

#[tokio::test]
async fn postgres_exec_query_types_and_close() {
    let f = postgres().await;
    let out = output(&f.store);
    let r = out
        .invoke(req(
            "exec",
            b"",
            &[("sql", "CREATE TABLE k (i int8, f float8, b bool, j jsonb, d date, n numeric, t timestamptz, u uuid, x text); INSERT INTO k VALUES (1, 1.5, true, '{\"a\":[1]}', '2024-01-02', 12.50, '2024-01-02T03:04:05Z', '00000000-0000-0000-0000-000000000001', NULL)")],
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.metadata["rows-affected"], "1");
    for k in ["operation", "sql", "start-time", "end-time", "duration"] {
        assert!(r.metadata.contains_key(k), "{k}: {:?}", r.metadata);
    }
    let r = out
        .invoke(req("query", b"", &[("sql", "SELECT * FROM k")]))
        .await
        .unwrap()
        .unwrap();
    let rows: Value = serde_json::from_slice(&r.data).unwrap();
    assert_eq!(
        rows,
        json!([[1, 1.5, true, {"a": [1]}, "2024-01-02T00:00:00Z", 12.5, "2024-01-02T03:04:05Z", "00000000-0000-0000-0000-000000000001", null]])
    );
    // Parameters are converted by the server to the column's type.
    let r = out
        .invoke(req(
            "exec",
            b"",
            &[
                ("sql", "UPDATE k SET d = $1, j = $2 WHERE i = $3"),
                ("params", r#"["2025-05-06", {"b": 2}, "1"]"#),
            ],
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.metadata["rows-affected"], "1");
    let r = out
        .invoke(req("query", b"", &[("sql", "SELECT d, j FROM k")]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&r.data).unwrap(),
        json!([["2025-05-06T00:00:00Z", {"b": 2}]])
    );
    let e = out
        .invoke(req("query", b"", &[("sql", "SELECT * FROM nosuch")]))
        .await
        .unwrap_err();
    assert!(e.message.contains("nosuch"), "{e}");
    let e = out.invoke(req("exec", b"", &[])).await.unwrap_err();
    assert_eq!(e.message, "required metadata not set: sql");
    let e = out
        .invoke(req("exec", b"", &[("sql", "SELECT 1"), ("params", "{}")]))
        .await
        .unwrap_err();
    assert!(e.message.contains("params"), "{e}");
    assert!(out.invoke(req("close", b"", &[])).await.unwrap().is_none());
    let e = out
        .invoke(req("query", b"", &[("sql", "SELECT 1")]))
        .await
        .unwrap_err();
    assert_eq!(e.message, "component is closed");
}

#[tokio::test]
async fn postgres_unreachable_fails_start_naming_the_field() {
    let port = crate::support::free_port();
    let c = Component::new("db", "bindings.postgres")
        .with_meta(
            "url",
            &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        )
        .with_meta("timeout", "2s");
    let e = start(c).await.err().unwrap().to_string();
    assert!(e.contains("url") && e.contains("connect"), "{e}");
}

/// Records cron events.
#[derive(Default)]
struct Recorder(Mutex<Vec<Metadata>>);

#[async_trait::async_trait]
impl Handler for Recorder {
    async fn handle(&self, event: ReadEvent) -> Result<Bytes, String> {
        assert!(event.data.is_empty());
        self.0.lock().unwrap().push(event.metadata);
        Err("the app failed; cron goes on".into())
    }
}

#[tokio::test]
async fn cron_fires_on_schedule_until_closed() {
    let c = Component::new("tick", "bindings.cron").with_meta("schedule", "@every 1s");
    let s = start(c).await.unwrap();
    let b = binding(&s);
    assert!(b.output.is_none());
    assert_eq!(b.capabilities(), ["INPUT_BINDING"]);
    assert_eq!(b.route, "tick");
    let rec = Arc::new(Recorder::default());
    let reader = b.input.clone().unwrap().read(rec.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    reader.close().await;
    let n = rec.0.lock().unwrap().len();
    assert!((2..=4).contains(&n), "{n} events in 3.5 s");
    let first = rec.0.lock().unwrap()[0].clone();
    assert_eq!(first["timeZone"], "Local");
    assert!(first["readTimeUTC"].ends_with("+0000 UTC"), "{first:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rec.0.lock().unwrap().len(), n, "no event after close");
}

#[tokio::test]
async fn direction_and_route_metadata() {
    // An input-only type told to be output only runs nothing.
    let c = Component::new("tick", "bindings.cron")
        .with_meta("schedule", "* * * * *")
        .with_meta("direction", "output")
        .with_meta("route", "/elsewhere");
    let s = start(c).await.unwrap();
    let b = binding(&s);
    assert!(b.input.is_none() && b.output.is_none());
    assert_eq!(b.route, "/elsewhere");
    let c = Component::new("tick", "bindings.cron")
        .with_meta("schedule", "* * * * *")
        .with_meta("direction", "in");
    let e = start(c).await.err().unwrap().to_string();
    assert!(e.contains("direction"), "{e}");
    let c = Component::new("tick", "bindings.cron").with_meta("schedule", "every minute");
    let e = start(c).await.err().unwrap().to_string();
    assert!(e.contains("schedule"), "{e}");
}

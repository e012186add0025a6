//! daprd's HTTP API against a real process: state routes and their error codes, metadata,
//! health, API token, body limit, start-up failures and shutdown.

/// Sidecar test helpers, shared with `sidecar_e2e`.
#[path = "support/sidecar.rs"]
pub(crate) mod sidecar;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::support::{free_port, wait_until};
use sidecar::{Opts, client, start, write_component};

/// A daprd with an in-memory `statestore`, plus its temp dir.
fn with_memory_store(app_id: &str, extra: &[&str]) -> (sidecar::Daprd, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(&res, "statestore", "state.in-memory", &[]);
    let mut opts = Opts::new(app_id, home.path()).resources(&res);
    for a in extra {
        opts = opts.arg(a);
    }
    (start(&opts), home)
}

/// POSTs `body` to `path` on `d`.
fn post(
    c: &reqwest::blocking::Client,
    d: &sidecar::Daprd,
    path: &str,
    body: impl Into<reqwest::blocking::Body>,
) -> reqwest::blocking::Response {
    c.post(d.url(path)).body(body).send().unwrap()
}

/// GETs `path` on `d`.
fn get(
    c: &reqwest::blocking::Client,
    d: &sidecar::Daprd,
    path: &str,
) -> reqwest::blocking::Response {
    c.get(d.url(path)).send().unwrap()
}

/// Asserts that `resp` is an error answer with `status` and `error_code`.
fn assert_error(resp: reqwest::blocking::Response, status: u16, error_code: &str) {
    let (st, code, _) = error_of(resp);
    assert_eq!((st, code.as_str()), (status, error_code));
}

/// Whether `/v1.0/healthz` of `d` turns 204 within 5 s.
fn becomes_healthy(c: &reqwest::blocking::Client, d: &sidecar::Daprd) -> bool {
    wait_until(Duration::from_secs(5), || {
        c.get(d.url("/v1.0/healthz"))
            .send()
            .map(|r| r.status() == 204)
            .unwrap_or(false)
    })
}

fn error_of(resp: reqwest::blocking::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().unwrap_or(Value::Null);
    (
        status,
        body["errorCode"].as_str().unwrap_or_default().to_string(),
        body["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn state_errors_have_official_codes() {
    let (d, _home) = with_memory_store("errapp", &[]);
    let c = client();

    let (st, code, msg) = error_of(post(&c, &d, "/v1.0/state/nope", "[]"));
    assert_eq!(
        (st, code.as_str(), msg.as_str()),
        (
            400,
            "ERR_STATE_STORE_NOT_FOUND",
            "state store nope is not found"
        )
    );

    assert_error(
        post(&c, &d, "/v1.0/state/statestore", "[{\"key\":"),
        400,
        "ERR_MALFORMED_REQUEST",
    );

    let (st, code, msg) = error_of(post(&c, &d, "/v1.0/state/statestore", r#"[{"value":1}]"#));
    assert_eq!(
        (st, code.as_str(), msg.as_str()),
        (400, "ERR_MALFORMED_REQUEST", "\"key\" is a required field")
    );

    let (st, code, msg) = error_of(get(&c, &d, "/v1.0/state/statestore/a||b"));
    assert_eq!((st, code.as_str()), (400, "ERR_MALFORMED_REQUEST"));
    assert!(msg.contains("can't contain '||'"), "{msg}");

    // ETag mismatch on save and delete.
    let r = post(
        &c,
        &d,
        "/v1.0/state/statestore",
        r#"[{"key":"k","value":"v1"}]"#,
    );
    assert_eq!(r.status(), 204);
    let r = get(&c, &d, "/v1.0/state/statestore/k");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(r.text().unwrap(), "\"v1\"");
    let stale = r#"[{"key":"k","value":"v2","etag":"not-the-etag"}]"#;
    let (st, code, msg) = error_of(post(&c, &d, "/v1.0/state/statestore", stale));
    assert_eq!((st, code.as_str()), (409, "ERR_STATE_SAVE"), "{msg}");
    assert!(
        msg.starts_with("failed saving state in state store statestore"),
        "{msg}"
    );
    assert_error(
        c.delete(d.url("/v1.0/state/statestore/k"))
            .header("If-Match", "not-the-etag")
            .send()
            .unwrap(),
        409,
        "ERR_STATE_DELETE",
    );
    // The right ETag works, and the value survived the failed attempts.
    let fresh = json!([{"key": "k", "value": {"n": 2}, "etag": etag}]).to_string();
    assert_eq!(post(&c, &d, "/v1.0/state/statestore", fresh).status(), 204);
    assert_eq!(
        get(&c, &d, "/v1.0/state/statestore/k").text().unwrap(),
        r#"{"n":2}"#
    );
    let etag = get(&c, &d, "/v1.0/state/statestore/k").headers()["etag"].clone();
    let r = c
        .delete(d.url("/v1.0/state/statestore/k"))
        .header("If-Match", etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get(&c, &d, "/v1.0/state/statestore/k").status(), 204);
}

#[test]
fn no_state_store_configured_is_500() {
    let home = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("nostore", home.path()));
    assert_error(
        get(&client(), &d, "/v1.0/state/statestore/k"),
        500,
        "ERR_STATE_STORE_NOT_CONFIGURED",
    );
}

#[test]
fn bulk_get_and_transaction() {
    let (d, _home) = with_memory_store("bulkapp", &[]);
    let c = client();
    let save = json!([{"key": "a", "value": {"x": 1}}, {"key": "b", "value": "text"}]).to_string();
    assert_eq!(post(&c, &d, "/v1.0/state/statestore", save).status(), 204);

    let r = post(
        &c,
        &d,
        "/v1.0/state/statestore/bulk",
        r#"{"keys":["a","b","missing"]}"#,
    );
    assert_eq!(r.status(), 200);
    let items: Value = r.json().unwrap();
    assert_eq!(items[0]["key"], "a");
    assert_eq!(items[0]["data"], json!({"x": 1}));
    assert!(items[0]["etag"].is_string());
    assert_eq!(items[1]["data"], "text");
    assert_eq!(items[2], json!({"key": "missing"}));

    // Request field names are matched case-insensitively, as upstream.
    let tx = json!({"operations": [
        {"operation": "upsert", "request": {"Key": "c", "Value": [1, 2]}},
        {"operation": "delete", "request": {"key": "a"}},
    ]})
    .to_string();
    assert_eq!(
        post(&c, &d, "/v1.0/state/statestore/transaction", tx).status(),
        204
    );
    assert_eq!(
        get(&c, &d, "/v1.0/state/statestore/c").text().unwrap(),
        "[1,2]"
    );
    assert_eq!(get(&c, &d, "/v1.0/state/statestore/a").status(), 204);

    let bad = r#"{"operations":[{"operation":"merge","request":{"key":"c"}}]}"#;
    let (st, code, msg) = error_of(post(&c, &d, "/v1.0/state/statestore/transaction", bad));
    assert_eq!(
        (st, code.as_str(), msg.as_str()),
        (
            400,
            "ERR_NOT_SUPPORTED_STATE_OPERATION",
            "operation type merge not supported"
        )
    );
    // A failed transaction leaves the data alone.
    assert_eq!(
        get(&c, &d, "/v1.0/state/statestore/c").text().unwrap(),
        "[1,2]"
    );
}

#[test]
fn metadata_put_and_get() {
    let (d, _home) = with_memory_store("metaapp", &[]);
    let c = client();
    let r = c
        .put(d.url("/v1.0/metadata/cliPID"))
        .body("4242")
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = get(&c, &d, "/v1.0/metadata");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let m: Value = r.json().unwrap();
    assert_eq!(m["id"], "metaapp");
    assert_eq!(m["extended"]["cliPID"], "4242");
    assert!(m["extended"]["daprRuntimeVersion"].is_string());
    assert_eq!(m["components"][0]["name"], "statestore");
    assert_eq!(m["components"][0]["type"], "state.in-memory");
    let caps: Vec<&str> = m["components"][0]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        caps.contains(&"ETAG") && caps.contains(&"ACTOR"),
        "{caps:?}"
    );
    assert_eq!(m["appConnectionProperties"]["protocol"], "http");
    assert!(
        m["appConnectionProperties"].get("port").is_none(),
        "no app ⇒ no port: {m}"
    );
    // No app: the actor runtime runs as a client only (no hosted types).
    assert_eq!(m["actorRuntime"]["runtimeStatus"], "RUNNING", "{m}");
    assert_eq!(m["actorRuntime"]["activeActors"], json!([]), "{m}");
}

#[test]
fn body_over_the_limit_is_413() {
    let (d, _home) = with_memory_store("bodyapp", &["--max-body-size", "1Ki"]);
    let big = json!([{"key": "k", "value": "x".repeat(2048)}]).to_string();
    assert_error(
        post(&client(), &d, "/v1.0/state/statestore", big),
        413,
        "ERR_BODY_READ",
    );
    let small = json!([{"key": "k", "value": "x".repeat(100)}]).to_string();
    assert_eq!(
        post(&client(), &d, "/v1.0/state/statestore", small).status(),
        204
    );
}

#[test]
fn api_token_is_enforced_except_for_health() {
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(&res, "statestore", "state.in-memory", &[]);
    let d = start(
        &Opts::new("tokenapp", home.path())
            .resources(&res)
            .env("DAPR_API_TOKEN", "s3cret"),
    );
    let c = client();
    let r = get(&c, &d, "/v1.0/metadata");
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().unwrap().trim(), "invalid api token");
    let r = c
        .get(d.url("/v1.0/state/statestore/k"))
        .header("dapr-api-token", "wrong")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(d.url("/v1.0/metadata"))
        .header("dapr-api-token", "s3cret")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get(&c, &d, "/v1.0/healthz").status(), 204);
    assert_eq!(get(&c, &d, "/v1.0/healthz/outbound").status(), 204);
}

#[test]
fn healthz_waits_for_the_app_port() {
    let home = tempfile::tempdir().unwrap();
    let app_port = free_port();
    let d = start(&Opts::new("waitapp", home.path()).app_port(app_port));
    let c = client();
    // The API answers before the app listens; only /healthz waits.
    assert_error(get(&c, &d, "/v1.0/healthz"), 500, "ERR_HEALTH_NOT_READY");
    assert_eq!(get(&c, &d, "/v1.0/healthz/outbound").status(), 204);
    assert_eq!(get(&c, &d, "/v1.0/metadata").status(), 200);

    let _app = std::net::TcpListener::bind(("127.0.0.1", app_port)).unwrap();
    let ready = becomes_healthy(&c, &d);
    assert!(ready, "healthz never turned 204:\n{}", d.log());
    assert!(
        d.log().contains("dapr initialized. Status: Running."),
        "{}",
        d.log()
    );
}

#[test]
fn invoking_an_unknown_app_id_fails_with_direct_invoke() {
    let (d, _home) = with_memory_store("caller", &[]);
    assert_error(
        post(
            &client(),
            &d,
            "/v1.0/invoke/nobody-runs-this/method/neworder",
            "{}",
        ),
        500,
        "ERR_DIRECT_INVOKE",
    );
}

#[test]
fn bad_flag_exits_non_zero_naming_the_flag() {
    let home = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["--app-id", "x", "--no-such-flag"], "--no-such-flag"),
        (
            vec!["--app-id", "x", "--dapr-http-port", "seventy"],
            "--dapr-http-port",
        ),
        (
            vec!["--app-id", "x", "--log-level", "chatty"],
            "--log-level",
        ),
        (vec!["--app-port", "3000"], "--app-id"),
    ] {
        let out = crate::support::hermetic(
            std::process::Command::new(crate::support::bin("daprd")).args(&args),
            home.path(),
        )
        .output()
        .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one line expected: {stderr}"
        );
    }
    let out = crate::support::hermetic(
        std::process::Command::new(crate::support::bin("daprd")).arg("--version"),
        home.path(),
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

#[test]
fn port_in_use_exits_non_zero() {
    let home = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let mut d = sidecar::spawn(&Opts::new("busyapp", home.path()), port);
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("daprd should exit");
    assert!(!status.success());
    let log = d.log();
    assert!(
        log.contains(&format!(
            "failed to listen on 127.0.0.1:{port} (--dapr-http-port): address already in use"
        )),
        "{log}"
    );
}

#[test]
fn malformed_component_file_names_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    std::fs::create_dir_all(&res).unwrap();
    let file = res.join("broken.yaml");
    std::fs::write(
        &file,
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: [state.redis\n",
    )
    .unwrap();
    let mut d = sidecar::spawn(
        &Opts::new("brokenapp", home.path()).resources(&res),
        free_port(),
    );
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("daprd should exit");
    assert!(!status.success());
    let log = d.log();
    assert!(log.contains(&file.display().to_string()), "{log}");
    let located = (5..=7).any(|line| log.contains(&format!("{}:{line}", file.display())));
    assert!(located, "no line number: {log}");
}

#[test]
fn sigterm_exits_zero() {
    let (mut d, _home) = with_memory_store("termapp", &[]);
    d.signal(Signal::SIGTERM);
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("daprd should exit on SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", d.log());
    assert!(d.log().contains("Dapr runtime stopped"), "{}", d.log());
}

#[test]
fn shutdown_api_exits_zero_and_force_exits_one() {
    let (mut d, _home) = with_memory_store("shutapp", &["--enable-api-logging"]);
    assert_eq!(get(&client(), &d, "/v1.0/metadata").status(), 200);
    let r = client().post(d.url("/v1.0/shutdown")).send().unwrap();
    assert_eq!(r.status(), 204);
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("daprd should exit after /v1.0/shutdown");
    assert_eq!(status.code(), Some(0), "{}", d.log());
    assert!(d.log().contains("HTTP API Called"), "{}", d.log());

    let (mut d, _home) = with_memory_store("forceapp", &[]);
    let r = client()
        .post(d.url("/v1.0/shutdown"))
        .header("dapr-force-shutdown", "true")
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("daprd should exit on forced shutdown");
    assert_eq!(status.code(), Some(1));
}

/// A tiny app answering every request with the status in `status` (health probes included).
fn fake_app(status: Arc<AtomicU16>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 1024];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            if seen.is_empty() {
                continue;
            }
            let code = status.load(Ordering::SeqCst);
            let _ = write!(
                conn,
                "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    port
}

#[test]
fn app_health_probes_follow_the_app() {
    let home = tempfile::tempdir().unwrap();
    let status = Arc::new(AtomicU16::new(200));
    let app_port = fake_app(status.clone());
    let d = start(
        &Opts::new("probed", home.path())
            .app_port(app_port)
            .arg("--enable-app-health-check")
            .arg("--app-health-probe-interval=1")
            .arg("--app-health-threshold")
            .arg("1"),
    );
    let c = client();
    assert!(becomes_healthy(&c, &d));
    let m: Value = get(&c, &d, "/v1.0/metadata").json().unwrap();
    assert_eq!(m["appConnectionProperties"]["port"], app_port);
    assert_eq!(
        m["appConnectionProperties"]["health"]["healthCheckPath"],
        "/healthz"
    );
    assert_eq!(m["appConnectionProperties"]["health"]["healthThreshold"], 1);

    status.store(500, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(5), || d
            .log()
            .contains("App entered unhealthy status")),
        "{}",
        d.log()
    );
    status.store(204, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(5), || d
            .log()
            .contains("App entered healthy status")),
        "{}",
        d.log()
    );
}

#[test]
fn query_api_is_not_supported_by_these_stores() {
    let (d, _home) = with_memory_store("queryapp", &[]);
    assert_error(
        post(&client(), &d, "/v1.0-alpha1/state/statestore/query", "{}"),
        500,
        "ERR_STATE_STORE_NOT_SUPPORTED",
    );
    assert_error(
        post(&client(), &d, "/v1.0-alpha1/state/other/query", "{}"),
        400,
        "ERR_STATE_STORE_NOT_FOUND",
    );
}

/// Sends one request on `conn` (headers and body in separate writes, as Python's
/// http.client does) and returns the response status, or `None` if the connection died.
fn exchange(conn: &mut std::net::TcpStream, port: u16, path: &str, body: &str) -> Option<u16> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).ok()?;
    std::thread::sleep(Duration::from_millis(20));
    conn.write_all(body.as_bytes()).ok()?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap_or(0));
            if seen.len() >= end + 4 + len {
                return head.get(9..12)?.parse().ok();
            }
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn keep_alive_connections_survive_error_answers() {
    let home = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("keepalive", home.path()).env("DAPR_API_TOKEN", "t"));
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", d.http_port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for i in 0..3 {
        let status = exchange(&mut conn, d.http_port, "/v1.0/metadata", r#"{"a":1}"#);
        assert_eq!(status, Some(401), "request {i} on the same connection");
    }
}

#[test]
fn sigterm_drains_in_flight_requests() {
    // An app that answers after 800 ms and says when a request has arrived.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app_port = listener.local_addr().unwrap().port();
    let (arrived_tx, arrived) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let arrived_tx = arrived_tx.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                if seen.starts_with(b"GET /slow") {
                    let _ = arrived_tx.send(());
                }
                std::thread::sleep(Duration::from_millis(800));
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow",
                );
            });
        }
    });
    let home = tempfile::tempdir().unwrap();
    let mut d = start(&Opts::new("drainer", home.path()).app_port(app_port));
    let c = client();
    assert!(becomes_healthy(&c, &d));
    let url = d.url("/v1.0/invoke/drainer/method/slow");
    let call = std::thread::spawn(move || {
        let r = client().get(url).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    });
    // SIGTERM while the call is in flight (the app holds it).
    arrived
        .recv_timeout(Duration::from_secs(10))
        .expect("the call reached the app");
    d.signal(Signal::SIGTERM);
    assert_eq!(
        call.join().unwrap(),
        (200, "slow".to_string()),
        "{}",
        d.log()
    );
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("daprd should exit");
    assert_eq!(status.code(), Some(0), "{}", d.log());
}

#[test]
fn ttl_metadata_comes_back_as_headers() {
    let (d, _home) = with_memory_store("ttlapp", &[]);
    let c = client();
    let save = json!([{"key": "t", "value": 1, "metadata": {"ttlInSeconds": "100"}}]).to_string();
    assert_eq!(post(&c, &d, "/v1.0/state/statestore", save).status(), 204);
    let r = get(&c, &d, "/v1.0/state/statestore/t");
    assert_eq!(r.status(), 200);
    let expires = r
        .headers()
        .get("metadata.ttlExpireTime")
        .expect("metadata.ttlExpireTime header");
    assert!(expires.to_str().unwrap().ends_with('Z'), "{expires:?}");
    let bad = json!([{"key": "t", "value": 1, "metadata": {"ttlInSeconds": "soon"}}]).to_string();
    assert_error(
        post(&c, &d, "/v1.0/state/statestore", bad),
        400,
        "ERR_STATE_SAVE",
    );
}

/// `metadata.*` query parameters on a save apply to every item, over the item's own.
#[test]
fn save_takes_metadata_from_the_query() {
    let (d, _home) = with_memory_store("qmetaapp", &[]);
    let c = client();
    let save = json!([
        {"key": "q1", "value": 1},
        {"key": "q2", "value": 2, "metadata": {"ttlInSeconds": "soon"}}
    ])
    .to_string();
    let r = post(
        &c,
        &d,
        "/v1.0/state/statestore?metadata.ttlInSeconds=100",
        save,
    );
    assert_eq!(r.status(), 204, "{:?}", r.text());
    for key in ["q1", "q2"] {
        let r = get(&c, &d, &format!("/v1.0/state/statestore/{key}"));
        assert_eq!(r.status(), 200);
        assert!(
            r.headers().get("metadata.ttlExpireTime").is_some(),
            "{key} has a TTL: {:?}",
            r.headers()
        );
    }
}

/// An app speaking HTTP/1.0 (Python's `http.server` default): the caller still gets an
/// HTTP/1.1 answer, with the app's status, headers and body.
#[test]
fn http_1_0_app_answers_reach_the_caller_as_http_1_1() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app_port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(4) {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.0 418 I'm a teapot\r\nContent-Type: text/plain\r\nX-App: yes\r\n\
                  Content-Length: 6\r\n\r\nteapot",
            );
        }
    });
    let home = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("oldapp", home.path()).app_port(app_port));
    let r = post(&client(), &d, "/v1.0/invoke/oldapp/method/brew", "x");
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.status(), 418);
    assert_eq!(r.headers()["x-app"], "yes");
    assert_eq!(r.text().unwrap(), "teapot");

    // A caller speaking h2c (prior knowledge) is answered over h2; the app still gets HTTP/1.1.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (version, status, body) = rt.block_on(async {
        use http_body_util::BodyExt;
        let h2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let uri = d.url("/v1.0/invoke/oldapp/method/brew").parse().unwrap();
        let r = tokio::time::timeout(Duration::from_secs(10), h2.get(uri))
            .await
            .expect("h2c answer in time")
            .unwrap();
        let (version, status) = (r.version(), r.status().as_u16());
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (version, status, body)
    });
    assert_eq!(version, axum::http::Version::HTTP_2);
    assert_eq!(status, 418);
    assert_eq!(&body[..], b"teapot");
}

/// Building blocks this daprd has no components for (pub/sub, output bindings, secrets)
/// answer on their own routes with the official "not found / not configured" errors,
/// instead of falling back to service invocation.
#[test]
fn publish_bindings_and_secrets_answer_with_their_own_errors() {
    let (d, _home) = with_memory_store("blocksapp", &[]);
    let c = client();
    let (st, code, msg) = error_of(
        c.post(d.url("/v1.0/publish/pubsub/orders/new"))
            .header("content-type", "application/json")
            .body(r#"{"a":1}"#)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (st, code.as_str(), msg.as_str()),
        (404, "ERR_PUBSUB_NOT_FOUND", "pubsub pubsub is not found")
    );
    assert_error(
        post(&c, &d, "/v1.0-alpha1/publish/bulk/pubsub/orders", "[]"),
        404,
        "ERR_PUBSUB_NOT_FOUND",
    );
    let (st, code, msg) = error_of(post(
        &c,
        &d,
        "/v1.0/bindings/mybinding",
        r#"{"operation":"create","data":{}}"#,
    ));
    assert_eq!(
        (st, code.as_str(), msg.as_str()),
        (
            500,
            "ERR_INVOKE_OUTPUT_BINDING",
            "error invoking output binding mybinding: couldn't find output binding mybinding"
        )
    );
    for path in ["/v1.0/secrets/vault/db", "/v1.0/secrets/vault/bulk"] {
        let (st, code, msg) = error_of(get(&c, &d, path));
        assert_eq!(
            (st, code.as_str(), msg.as_str()),
            (
                500,
                "ERR_SECRET_STORES_NOT_CONFIGURED",
                "secret store is not configured"
            ),
            "{path}"
        );
    }
}

/// `--read-buffer-size` bounds the request headers as upstream's HTTP server does (the
/// limit plus Go's 4 KiB of slack): larger headers get 431.
#[test]
fn headers_over_the_read_buffer_size_are_431() {
    let (d, _home) = with_memory_store("hdrapp", &["--read-buffer-size", "4Ki"]);
    let c = client();
    let ok = c
        .get(d.url("/v1.0/metadata"))
        .header("x-big", "a".repeat(6000))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
    let big = c
        .get(d.url("/v1.0/metadata"))
        .header("x-big", "a".repeat(9000))
        .send()
        .unwrap();
    assert_eq!(big.status(), 431);
    // Health stays reachable with ordinary headers.
    let r = get(&c, &d, "/v1.0/healthz/outbound");
    assert_eq!(r.status(), 204);
}

#[test]
fn json_logs_are_one_object_per_line() {
    let (d, _home) = with_memory_store("jsonlog", &["--log-as-json"]);
    let log = d.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["app_id"] == "jsonlog" && l["type"] == "log" && l["scope"].is_string())
    );
    let msgs: Vec<&str> = lines.iter().filter_map(|l| l["msg"].as_str()).collect();
    assert!(
        msgs.contains(&"Component loaded: statestore (state.in-memory/v1)"),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"All outstanding components processed"),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&format!("HTTP server is running on port {}", d.http_port).as_str()),
        "{msgs:?}"
    );
}

#[test]
fn cors_only_with_allowed_origins() {
    let (d, _home) = with_memory_store("corsapp", &["--allowed-origins", "http://a.example"]);
    let c = client();
    let r = c
        .request(reqwest::Method::OPTIONS, d.url("/v1.0/state/statestore"))
        .header("Origin", "http://a.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://a.example"
    );
    assert_eq!(r.headers()["access-control-allow-methods"], "POST");
    let r = c
        .get(d.url("/v1.0/metadata"))
        .header("Origin", "http://a.example")
        .send()
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://a.example"
    );
    let r = c
        .get(d.url("/v1.0/metadata"))
        .header("Origin", "http://b.example")
        .send()
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let (d, _home) = with_memory_store("nocors", &[]);
    let r = c
        .get(d.url("/v1.0/metadata"))
        .header("Origin", "http://a.example")
        .send()
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// One HTTP/1.1 exchange over a Unix socket: the status and the body.
fn unix_http(sock: &std::path::Path, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: unix\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {resp:?}"));
    let (head, rest) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let rest = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // One chunk is all these small answers use: "<hex>\r\n<data>\r\n0\r\n\r\n".
        rest.split_once("\r\n")
            .map(|(_, d)| d.split("\r\n").next().unwrap_or_default())
            .unwrap_or_default()
    } else {
        rest
    };
    (status, rest.to_string())
}

#[test]
fn unix_domain_socket_serves_the_api_instead_of_tcp() {
    let home = tempfile::tempdir().unwrap();
    let sockets = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(&res, "statestore", "state.in-memory", &[]);
    let app_id = "udsapp";
    // A stale socket file from a sidecar that died is replaced.
    let http_sock = sockets.path().join(format!("dapr-{app_id}-http.socket"));
    let grpc_sock = sockets.path().join(format!("dapr-{app_id}-grpc.socket"));
    drop(std::os::unix::net::UnixListener::bind(&http_sock).unwrap());
    assert!(http_sock.exists());

    let opts = Opts::new(app_id, home.path())
        .resources(&res)
        .arg("--unix-domain-socket")
        .arg(sockets.path().to_str().unwrap());
    let mut d = sidecar::spawn(&opts, free_port());
    let up = wait_until(Duration::from_secs(10), || {
        std::os::unix::net::UnixStream::connect(&http_sock).is_ok()
            || matches!(d.child.0.try_wait(), Ok(Some(_)))
    });
    assert!(up && d.child.0.try_wait().unwrap().is_none(), "{}", d.log());
    assert!(grpc_sock.exists(), "{}", d.log());

    let (status, body) = unix_http(&http_sock, "GET", "/v1.0/metadata", "");
    assert_eq!(status, 200, "{body}");
    let meta: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(meta["id"], app_id);
    let (status, body) = unix_http(
        &http_sock,
        "POST",
        "/v1.0/state/statestore",
        r#"[{"key":"k1","value":{"n":7}}]"#,
    );
    assert_eq!(status, 204, "{body}");
    let (status, body) = unix_http(&http_sock, "GET", "/v1.0/state/statestore/k1", "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"n": 7})
    );

    // The TCP API port is not bound at all.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", d.http_port)).is_err(),
        "HTTP port {} should not listen",
        d.http_port
    );
    let log = d.log();
    assert!(
        log.contains(&format!(
            "HTTP server listening on UNIX socket: {}",
            http_sock.display()
        )),
        "{log}"
    );

    // `dapr list` finds the sidecar and reads its metadata over the socket.
    let list = crate::support::hermetic(
        std::process::Command::new(crate::support::bin("dapr")).args(["list", "-o", "json"]),
        home.path(),
    )
    .output()
    .unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    let rows: Vec<Value> = serde_json::from_str(&list).unwrap_or_default();
    let row = rows
        .iter()
        .find(|r| r["daprdPid"] == d.pid())
        .unwrap_or_else(|| panic!("not listed: {list}"));
    assert_eq!(row["appId"], app_id, "{list}");

    // A second daprd on the same sockets is refused while the first listens.
    let mut second = sidecar::spawn(&opts, free_port());
    let status = second
        .wait_exit(Duration::from_secs(10))
        .expect("a second daprd on a live socket must exit");
    assert!(!status.success());
    assert!(
        second.log().contains("--unix-domain-socket"),
        "{}",
        second.log()
    );
    assert!(http_sock.exists(), "the live socket is kept");

    d.signal(Signal::SIGTERM);
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("daprd should exit on SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", d.log());
    assert!(
        !http_sock.exists() && !grpc_sock.exists(),
        "sockets removed"
    );
}

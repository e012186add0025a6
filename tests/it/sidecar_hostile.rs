//! daprd and dapr under hostile or careless input: one regression test per finding of the
//! hostile-input review (issue 8). Each would crash, hang, leak or mislead before its fix.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use serde_json::Value;

use crate::sidecar_api::sidecar::{Daprd, Opts, client, spawn, start, write_component};
use crate::support::{self, free_port, wait_until};

fn alive(d: &Daprd) -> bool {
    client()
        .get(d.url("/v1.0/healthz/outbound"))
        .send()
        .is_ok_and(|r| r.status() == 204)
}

fn with_store(app_id: &str, home: &std::path::Path) -> Daprd {
    let res = home.join("resources");
    write_component(&res, "statestore", "state.in-memory", &[]);
    start(&Opts::new(app_id, home).resources(&res))
}

/// Finding 1: one state save with an absurd TTL aborted the sidecar (HTTP and gRPC).
#[test]
fn an_absurd_ttl_is_a_bad_request_not_a_crash() {
    let home = tempfile::tempdir().unwrap();
    let d = with_store("ttlcrash", home.path());
    let r = client()
        .post(d.url("/v1.0/state/statestore"))
        .body(r#"[{"key":"k","value":1,"metadata":{"ttlInSeconds":"9000000000000"}}]"#)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let e: Value = r.json().unwrap();
    assert_eq!(e["errorCode"], "ERR_STATE_SAVE", "{e}");
    assert!(e["message"].as_str().unwrap().contains("too large"), "{e}");
    assert!(alive(&d), "{}", d.log());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut g = DaprClient::connect(format!("http://127.0.0.1:{}", d.grpc_port))
            .await
            .unwrap();
        let e = g
            .save_state(pb::SaveStateRequest {
                store_name: "statestore".into(),
                states: vec![common::StateItem {
                    key: "k".into(),
                    value: b"1".to_vec(),
                    metadata: [("ttlInSeconds".to_string(), "9000000000000".to_string())].into(),
                    ..Default::default()
                }],
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    });
    assert!(alive(&d), "{}", d.log());
    let r = client()
        .get(d.url("/v1.0/state/statestore/k"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "nothing was stored");
}

/// Writes `head` (an unfinished request) on a new connection.
fn half_sent(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    s
}

/// Finding 5: requests whose headers never finish held their connection forever.
#[test]
fn slow_headers_are_cut_off_and_do_not_lock_others_out() {
    let home = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("slowloris", home.path()));
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..200).map(|_| half_sent(d.http_port)).collect();
    // Others are served meanwhile.
    let r = client()
        .get(d.url("/v1.0/healthz/outbound"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // The unfinished ones are closed once the header deadline (10 s) passes.
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 512];
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("the server kept the unfinished request open: {e}"));
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(
            n == 0 || text.starts_with("HTTP/1.1 408"),
            "expected the server to give up on the request: {text:?}"
        );
    }
    let took = started.elapsed();
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(20)).contains(&took),
        "{took:?}"
    );
}

/// The soft and hard open-file limits of a running process.
fn nofile(pid: i32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_string();
    let f: Vec<&str> = line.split_whitespace().collect();
    (f[3].to_string(), f[4].to_string())
}

/// Finding 6: daprd and `dapr run` kept the soft open-file limit, and daprd said nothing
/// when accept failed for want of descriptors.
#[test]
fn open_file_limits_are_raised_and_exhaustion_is_logged_and_survived() {
    let home = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("nofile", home.path()).ulimit("-Sn 256"));
    let (soft, hard) = nofile(d.pid());
    assert_eq!(soft, hard, "daprd raised its soft limit to the hard one");

    // `dapr run`'s children get the raised limit too.
    let dapr = |args: &[&str]| {
        let mut cmd = std::process::Command::new("sh");
        support::hermetic(&mut cmd, home.path())
            .args(["-c", "ulimit -Sn 256 && exec \"$0\" \"$@\""])
            .arg(support::bin("dapr"))
            .args(args)
            .env("DAPR_RUNTIME_PATH", home.path())
            .stdin(std::process::Stdio::null());
        cmd.output().unwrap()
    };
    let init = dapr(&["init", "--slim"]);
    assert!(init.status.success(), "{init:?}");
    let out = home.path().join("app-limit");
    let script = format!("ulimit -Sn > {}", out.display());
    let run = dapr(&[
        "run",
        "--app-id",
        "nofileapp",
        "--dapr-http-port",
        &free_port().to_string(),
        "--dapr-grpc-port",
        &free_port().to_string(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let app_soft = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("the app did not run ({e}): {run:?}"));
    assert_eq!(app_soft.trim(), hard, "the app inherited the raised limit");

    // A hard limit this low runs out under 200 connections: daprd says so, waits, and
    // serves again once they are gone.
    let low = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("fewfiles", low.path()).ulimit("-n 64"));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], d.http_port));
    let conns: Vec<TcpStream> = (0..200)
        .map_while(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok())
        .collect();
    let logged = wait_until(Duration::from_secs(10), || {
        d.log().contains("cannot accept connections")
    });
    assert!(logged, "{}", d.log());
    assert!(d.log().contains("open file limit 64"), "{}", d.log());
    drop(conns);
    let served = wait_until(Duration::from_secs(20), || alive(&d));
    assert!(served, "{}", d.log());
}

/// An HTTP app recording the raw request target of everything it is sent.
fn recording_app() -> (u16, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&got);
                let target = line.split(' ').nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(target);
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    (port, seen)
}

/// `GET <target>` sent as raw bytes (an HTTP client library would normalize `%2e%2e`
/// itself): the status and the body.
fn raw_get(port: u16, target: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Finding 7: encoded traversal and forbidden characters reached the app undecoded.
#[test]
fn encoded_traversal_and_forbidden_characters_never_reach_the_app() {
    let (app_port, seen) = recording_app();
    let home = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("traversal", home.path()).app_port(app_port));
    assert!(wait_until(Duration::from_secs(5), || {
        client()
            .get(d.url("/v1.0/healthz"))
            .send()
            .is_ok_and(|r| r.status() == 204)
    }));
    for bad in [
        "%2e%2e/%2e%2e/etc/passwd",
        "a/%2E%2E/%2e%2e/%2e%2e/etc/passwd",
        "x%00y",
        "x%0d%0aInjected:%20yes",
        "x%3Fq=1",
        "x%23frag",
    ] {
        let (status, body) = raw_get(d.http_port, &format!("/v1.0/invoke/traversal/method/{bad}"));
        assert_eq!(status, 500, "{bad}: {body}");
        let e: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(e["errorCode"], "ERR_DIRECT_INVOKE", "{bad}: {e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("invalid method name"),
            "{bad}: {e}"
        );
    }
    // Legitimate encodings reach the app as the caller meant them.
    for (good, target) in [("a%20b/c", "/a%20b/c"), ("x/%2e/y", "/x/y")] {
        let (status, body) = raw_get(
            d.http_port,
            &format!("/v1.0/invoke/traversal/method/{good}"),
        );
        assert_eq!(status, 200, "{good}: {body}");
        assert_eq!(
            seen.lock().unwrap().last().map(String::as_str),
            Some(target)
        );
    }
    // Besides the two calls, the app saw only the sidecar's own start-up read of its actor
    // configuration.
    let seen = seen.lock().unwrap().clone();
    let calls: Vec<&String> = seen.iter().filter(|t| *t != "/dapr/config").collect();
    assert_eq!(calls.len(), 2, "{seen:?}");
}

/// Finding 8: the 100-header cap answered an empty 431 to requests the official server
/// takes; only the total header size is limited.
#[test]
fn many_small_headers_are_fine_and_only_their_total_size_is_limited() {
    let home = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("headers", home.path()));
    for count in [99, 100, 300] {
        let mut req = client().get(d.url("/v1.0/healthz/outbound"));
        for i in 0..count {
            req = req.header(format!("x-h{i}"), "v");
        }
        assert_eq!(
            req.send().unwrap().status().as_u16(),
            204,
            "{count} headers"
        );
    }
    let big = "v".repeat(2000);
    let mut req = client().get(d.url("/v1.0/healthz/outbound"));
    for i in 0..5 {
        req = req.header(format!("x-big{i}"), big.as_str());
    }
    assert_eq!(req.send().unwrap().status().as_u16(), 431);
}

/// Finding 9: an absurd `--app-max-concurrency` panicked; a huge file in the resources
/// path was read whole.
#[test]
fn absurd_start_up_values_are_handled() {
    let (app_port, _) = recording_app();
    let home = tempfile::tempdir().unwrap();
    let d = start(
        &Opts::new("maxconc", home.path())
            .app_port(app_port)
            .arg("--app-max-concurrency")
            .arg("9223372036854775807"),
    );
    let r = client()
        .get(d.url("/v1.0/invoke/maxconc/method/hello"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", d.log());

    let res = home.path().join("bigres");
    std::fs::create_dir_all(&res).unwrap();
    let huge = res.join("huge.yaml");
    // Sparse: 5 GB on paper, nothing on disk.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(5 << 30)
        .unwrap();
    let mut d = spawn(
        &Opts::new("bigres", home.path()).resources(&res),
        free_port(),
    );
    let status = d.wait_exit(Duration::from_secs(10)).expect("daprd exits");
    assert!(!status.success());
    let log = d.log();
    assert!(
        log.contains(&huge.display().to_string())
            && log.contains("over the limit of 16777216 bytes"),
        "{log}"
    );
}

/// Finding 10: unclear errors. `dapr invoke` over the body limit said "broken pipe"; an
/// `envRef` to an unset variable was not named; `init --runtime-path <file>` printed the OS
/// error twice without saying what it was doing.
#[test]
fn errors_say_what_went_wrong() {
    let home = tempfile::tempdir().unwrap();
    let d = start(
        &Opts::new("smallbody", home.path())
            .arg("--max-body-size")
            .arg("1Ki"),
    );
    let data = home.path().join("data.json");
    std::fs::write(&data, format!("\"{}\"", "x".repeat(5000))).unwrap();
    let mut cmd = std::process::Command::new(support::bin("dapr"));
    support::hermetic(&mut cmd, home.path()).args([
        "invoke",
        "--app-id",
        "smallbody",
        "--method",
        "m",
        "--data-file",
        data.to_str().unwrap(),
    ]);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error invoking app smallbody: 413 Payload Too Large")
            && stderr.contains("larger than the limit of 1024 bytes"),
        "{stderr}"
    );
    assert!(alive(&d));

    let res = home.path().join("envres");
    std::fs::create_dir_all(&res).unwrap();
    std::fs::write(
        res.join("redis.yaml"),
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    envRef: H8_SURELY_UNSET_REDIS_HOST\n",
    )
    .unwrap();
    let mut d = spawn(
        &Opts::new("envref", home.path()).resources(&res),
        free_port(),
    );
    let status = d.wait_exit(Duration::from_secs(10)).expect("daprd exits");
    assert!(!status.success());
    assert!(
        d.log().contains("field redisHost")
            && d.log()
                .contains("envRef H8_SURELY_UNSET_REDIS_HOST, which is not set"),
        "{}",
        d.log()
    );

    let file = home.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let mut cmd = std::process::Command::new(support::bin("dapr"));
    support::hermetic(&mut cmd, home.path())
        .args(["init", "--slim", "--runtime-path"])
        .arg(&file);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{} is not a directory", file.display()))
            && stderr.contains("--runtime-path"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("Not a directory").count(), 0, "{stderr}");
}

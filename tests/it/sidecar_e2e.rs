//! The issue's acceptance test: the walkthrough's Node order service and Python generator,
//! each beside its own daprd, talking through service invocation and a `statestore`
//! (redis, sqlite, in-memory); plus kill -9 durability of acknowledged SQLite writes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::sidecar_api::sidecar::{Opts, client, start, write_component};
use crate::support::{KillOnDrop, Redis, free_port, wait_until};

fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

/// Last order id the node app returns from `GET /order`, if any.
fn current_order(app_port: u16) -> Option<u64> {
    let r = client()
        .get(format!("http://127.0.0.1:{app_port}/order"))
        .send()
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    r.json::<Value>().ok()?["orderId"].as_u64()
}

/// Runs the walkthrough with `statestore` of the given type, then `check`s the latest order.
fn walkthrough(component_type: &str, metadata: &[(&str, &str)], check: impl FnOnce(u64)) {
    let home = tempfile::tempdir().unwrap();
    let node_res = home.path().join("node-resources");
    let py_res = home.path().join("python-resources");
    write_component(&node_res, "statestore", component_type, metadata);
    write_component(&py_res, "statestore", component_type, metadata);

    let app_port = free_port();
    // Both sidecars share HOME, so they find each other through name resolution.
    let node_d = start(
        &Opts::new("nodeapp", home.path())
            .app_port(app_port)
            .resources(&node_res),
    );
    let node = KillOnDrop(
        crate::support::without_developer_env(&mut Command::new("node"))
            .arg(apps_dir().join("node/app.js"))
            .env("APP_PORT", app_port.to_string())
            .env("DAPR_HTTP_PORT", node_d.http_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node must be installed"),
    );
    let py_d = start(&Opts::new("pythonapp", home.path()).resources(&py_res));
    let mut py = KillOnDrop(
        crate::support::without_developer_env(&mut Command::new("python3"))
            .arg(apps_dir().join("python/app.py"))
            .env("DAPR_HTTP_PORT", py_d.http_port.to_string())
            .env("ORDER_INTERVAL", "0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 must be installed"),
    );
    let last_sent = Arc::new(AtomicU64::new(0));
    {
        let last_sent = last_sent.clone();
        let out = py.0.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(n) = line
                    .strip_prefix("sent ")
                    .and_then(|n| n.trim().parse().ok())
                {
                    last_sent.store(n, Ordering::SeqCst);
                }
            }
        });
    }

    let flowing = wait_until(Duration::from_secs(20), || {
        last_sent.load(Ordering::SeqCst) >= 5
    });
    assert!(
        flowing,
        "orders did not flow\n--- nodeapp daprd:\n{}\n--- pythonapp daprd:\n{}",
        node_d.log(),
        py_d.log()
    );
    // Every acknowledged order was saved before the app answered, so the stored order is at
    // least the last acknowledged one; and it is one the generator sent, so the generator
    // acknowledges it soon.
    let before = last_sent.load(Ordering::SeqCst);
    let seen = current_order(app_port).expect("GET /order returns the latest order");
    assert!(
        seen >= before,
        "stored order {seen} is older than acknowledged order {before}"
    );
    assert!(
        wait_until(Duration::from_secs(5), || last_sent.load(Ordering::SeqCst)
            >= seen),
        "stored order {seen} was never sent (last sent {})",
        last_sent.load(Ordering::SeqCst)
    );
    assert!(
        wait_until(Duration::from_secs(5), || current_order(app_port)
            .is_some_and(|n| n > seen)),
        "orders stopped at {seen}"
    );
    let latest = current_order(app_port).unwrap();
    check(latest);
    drop(py);
    drop(node);
}

#[test]
fn walkthrough_with_redis() {
    let redis = Redis::start();
    walkthrough(
        "state.redis",
        &[("redisHost", &redis.addr()), ("redisPassword", "")],
        |latest| {
            let fields = redis.cli(&["HGETALL", "nodeapp||order"]);
            let lines: Vec<&str> = fields.lines().collect();
            assert!(
                lines.contains(&"data") && lines.contains(&"version"),
                "HGETALL: {fields}"
            );
            let data = lines[lines.iter().position(|l| *l == "data").unwrap() + 1];
            let v: Value = serde_json::from_str(data).unwrap();
            assert!(v["orderId"].as_u64().unwrap() >= latest, "{data}");
        },
    );
}

#[test]
fn walkthrough_with_sqlite() {
    let db = tempfile::tempdir().unwrap();
    let path = db.path().join("state.db");
    walkthrough(
        "state.sqlite",
        &[("connectionString", path.to_str().unwrap())],
        |_| {},
    );
    assert!(path.exists());
}

#[test]
fn walkthrough_with_in_memory() {
    walkthrough("state.in-memory", &[], |_| {});
}

#[test]
fn acknowledged_sqlite_writes_survive_kill_9() {
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    let db = home.path().join("state.db");
    write_component(
        &res,
        "statestore",
        "state.sqlite",
        &[("connectionString", db.to_str().unwrap())],
    );
    let opts = Opts::new("durable", home.path()).resources(&res);
    let mut d = start(&opts);

    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, url) = (acked.clone(), stop.clone(), d.url("/v1.0/state/statestore"));
        std::thread::spawn(move || {
            let c = client();
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let body = format!(r#"[{{"key":"k{i}","value":{{"n":{i}}}}}]"#);
                match c.post(&url).body(body).send() {
                    Ok(r) if r.status() == 204 => acked.lock().unwrap().push(i),
                    _ => break,
                }
                i += 1;
            }
        })
    };
    assert!(
        wait_until(Duration::from_secs(20), || acked.lock().unwrap().len()
            >= 200),
        "writes too slow"
    );
    d.signal(Signal::SIGKILL);
    d.wait_exit(Duration::from_secs(5)).expect("daprd killed");
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();

    let d2 = start(&opts);
    let c = client();
    for i in acked {
        let r = c
            .get(d2.url(&format!("/v1.0/state/statestore/k{i}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged write k{i} lost");
        assert_eq!(r.text().unwrap(), format!(r#"{{"n":{i}}}"#));
    }
}

//! Benchmark helper for `bench/sidecar.sh` (not part of the product).
//!
//! - `loadgen echo --port P [--actor-type T]`: a minimal hyper HTTP/1.1 echo app (POST and PUT
//!   echo the body, other verbs answer `ok`). With `--actor-type` it also hosts actor type T:
//!   `GET /dapr/config` lists it (1 h idle timeout), so actor calls
//!   (`PUT /actors/T/{id}/method/{m}`) echo their body too.
//! - `loadgen load --url U [--rate 1000] [--duration 10] [--connections 16] [--body 1024]
//!   [--warmup 2] [--ids N]`: constant-rate load. A `{id}` in U becomes the slot number modulo
//!   N in each request (e.g. actor ids). Each connection owns every C-th slot of one global
//!   schedule (slot i is due at start + i/rate) and latency is measured from the slot's due
//!   time, not from when it was sent, so a stall is charged to every request it delays
//!   (no coordinated omission, as in wrk2). Prints p50/p90/p99/p99.9/max in ms and a
//!   `RESULT` line for scripts.
//!   `--method GET` sends GETs without a body (e.g. state reads); `--json T` sends the JSON
//!   text T with `{id}` replaced as in the URL and `{pad}` by `--body` bytes of `x` (e.g. a
//!   state save `[{"key":"k{id}","value":"{pad}"}]`).
//!   With `--stamp 1` each body is JSON `{"t":<unix µs of the slot's release>,"pad":"x…"}`
//!   (sent as `application/json`) so a `sink` can measure end-to-end latency.
//! - `loadgen sink --port P [--pubsub pubsub] [--topic orders]`: a subscriber app. It lists
//!   one subscription on `GET /dapr/subscribe`, answers every delivery `SUCCESS`, and measures
//!   each stamped event's age on arrival (the CloudEvent's `data.t`). `GET /stats` prints a
//!   `RESULT` line (count, receive rate between first and last arrival, latency percentiles);
//!   `POST /reset` starts over.
//! - `loadgen startup --daprd PATH [--runs 20] [--extra "ARGS"]`: spawns `daprd` (no app, free
//!   ports, plus the whitespace-separated ARGS, e.g. `--config FILE`) and polls
//!   `GET /v1.0/healthz/outbound` every 0.5 ms until 204; prints min/median/max.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool whose output is the point

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

fn args() -> (String, HashMap<String, String>) {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_default();
    let mut map = HashMap::new();
    while let Some(k) = it.next() {
        let k = k.trim_start_matches("--").to_owned();
        let v = it.next().unwrap_or_default();
        map.insert(k, v);
    }
    (mode, map)
}

fn num<T: std::str::FromStr>(m: &HashMap<String, String>, k: &str, default: T) -> T {
    m.get(k).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let (mode, opts) = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let code = match mode.as_str() {
        "echo" => rt.block_on(echo(num(&opts, "port", 0), opts.get("actor-type").cloned())),
        "load" => rt.block_on(load(&opts)),
        "sink" => rt.block_on(sink(&opts)),
        "startup" => startup(&opts),
        _ => {
            eprintln!(
                "usage: loadgen echo --port P [--actor-type T] | load --url U [...] | sink --port P [--pubsub N --topic T] | startup --daprd PATH [--runs N] [--extra ARGS]"
            );
            2
        }
    };
    std::process::exit(code);
}

async fn echo(port: u16, actor_type: Option<String>) -> i32 {
    // The actor configuration `GET /dapr/config` answers when the app hosts a type.
    let config = actor_type.map(|t| {
        Bytes::from(format!(
            r#"{{"entities":["{t}"],"actorIdleTimeout":"1h","actorScanInterval":"30s"}}"#
        ))
    });
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo: cannot listen on 127.0.0.1:{port}: {e}");
            return 1;
        }
    };
    println!(
        "listening on {}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let config = config.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| {
                let config = config.clone();
                async move {
                    let echoes = matches!(*req.method(), hyper::Method::POST | hyper::Method::PUT);
                    if req.method() == hyper::Method::GET
                        && req.uri().path() == "/dapr/config"
                        && let Some(c) = config
                    {
                        let mut res = Response::new(Full::new(c));
                        res.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        return Ok::<_, Infallible>(res);
                    }
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_default();
                    let out = if echoes {
                        body
                    } else {
                        Bytes::from_static(b"ok")
                    };
                    Ok::<_, Infallible>(Response::new(Full::new(out)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn load(opts: &HashMap<String, String>) -> i32 {
    let Some(url) = opts.get("url").cloned() else {
        eprintln!("load: --url is required");
        return 2;
    };
    let rate: f64 = num(opts, "rate", 1000.0);
    let duration: f64 = num(opts, "duration", 10.0);
    let warmup: f64 = num(opts, "warmup", 2.0);
    let conns: usize = num(opts, "connections", 16);
    let body_len: usize = num(opts, "body", 1024);
    // `{id}` in the URL: slot number modulo `ids`, one URI per id, built up front.
    let ids: u64 = num::<u64>(opts, "ids", 1).max(1);
    let uris: std::sync::Arc<Vec<hyper::Uri>> = std::sync::Arc::new(if url.contains("{id}") {
        match (0..ids)
            .map(|i| url.replace("{id}", &i.to_string()).parse())
            .collect::<Result<_, _>>()
        {
            Ok(u) => u,
            Err(e) => {
                eprintln!("load: bad --url {url}: {e}");
                return 2;
            }
        }
    } else {
        Vec::new()
    });
    let uri: hyper::Uri = match url.replace("{id}", "0").parse() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("load: bad --url {url}: {e}");
            return 2;
        }
    };
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let stamp = num::<u8>(opts, "stamp", 0) == 1;
    let get = opts
        .get("method")
        .is_some_and(|m| m.eq_ignore_ascii_case("GET"));
    // `--json`: one body per id, built up front like the URIs.
    let json_bodies: std::sync::Arc<Vec<Bytes>> = std::sync::Arc::new(match opts.get("json") {
        Some(t) => {
            let t = t.replace("{pad}", &"x".repeat(body_len));
            (0..ids)
                .map(|i| Bytes::from(t.replace("{id}", &i.to_string())))
                .collect()
        }
        None => Vec::new(),
    });
    let body = Bytes::from(vec![b'x'; body_len]);
    let pad = "x".repeat(body_len.saturating_sub(30));
    // Wall-clock time of `epoch`, so a slot's release instant can be stamped as Unix µs.
    let epoch = Instant::now();
    let epoch_wall = unix_micros();
    let total_slots = ((warmup + duration) * rate) as u64;
    let warm_slots = (warmup * rate) as u64;
    let start = Instant::now() + Duration::from_millis(200);
    // One pacer thread keeps the schedule (tokio timers tick in whole milliseconds, too
    // coarse here) and hands each slot to its connection with the instant it was released;
    // a connection still busy with an earlier request queues it, and that wait counts.
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, bool, u64)>();
        senders.push(tx);
        let (uri, uris, authority, body, pad, json_bodies) = (
            uri.clone(),
            uris.clone(),
            authority.clone(),
            body.clone(),
            pad.clone(),
            json_bodies.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            let mut sender = None;
            while let Some((released, measured, slot)) = rx.recv().await {
                if sender.is_none() {
                    sender = connect(&authority).await;
                }
                let ok = match sender.as_mut() {
                    None => false,
                    Some(s) => {
                        let (ctype, body) = if get {
                            ("", Bytes::new())
                        } else if !json_bodies.is_empty() {
                            let b = json_bodies[(slot % json_bodies.len() as u64) as usize].clone();
                            ("application/json", b)
                        } else if stamp {
                            let t = epoch_wall + released.duration_since(epoch).as_micros() as u64;
                            let json = format!(r#"{{"t":{t},"pad":"{pad}"}}"#);
                            ("application/json", Bytes::from(json))
                        } else {
                            ("application/octet-stream", body.clone())
                        };
                        let target = match uris.len() {
                            0 => uri.clone(),
                            n => uris[(slot % n as u64) as usize].clone(),
                        };
                        let mut req = Request::builder()
                            .method(if get { "GET" } else { "POST" })
                            .uri(target)
                            .header("host", authority.as_str());
                        if !ctype.is_empty() {
                            req = req.header("content-type", ctype);
                        }
                        let req = req.body(Full::new(body)).expect("request");
                        match s.send_request(req).await {
                            Ok(res) => {
                                let good = res.status().is_success();
                                good && res.into_body().collect().await.is_ok()
                            }
                            Err(_) => false,
                        }
                    }
                };
                if !ok {
                    sender = None;
                    errors += 1;
                }
                if measured {
                    lat.push(released.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            (lat, errors)
        }));
    }
    let pacer = std::thread::spawn(move || {
        for slot in 0..total_slots {
            let due = start + Duration::from_secs_f64(slot as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let _ = senders[(slot % conns as u64) as usize].send((
                Instant::now(),
                slot >= warm_slots,
                slot,
            ));
        }
    });
    let _ = tokio::task::spawn_blocking(move || pacer.join()).await;
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    all.sort_unstable();
    if all.is_empty() {
        eprintln!("load: no samples");
        return 1;
    }
    let pct = |p: f64| all[((p / 100.0) * (all.len() - 1) as f64).round() as usize] as f64 / 1000.0;
    let elapsed = start.elapsed().as_secs_f64() - warmup;
    println!(
        "{} requests in {:.1}s ({:.0}/s), {} errors; latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        all.len(),
        elapsed,
        all.len() as f64 / elapsed.max(0.001),
        errors,
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(99.9),
        pct(100.0)
    );
    println!(
        "RESULT p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} n={} errors={}",
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(99.9),
        pct(100.0),
        all.len(),
        errors
    );
    if errors > 0 { 1 } else { 0 }
}

fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// What the sink has seen since the last reset.
#[derive(Default)]
struct SinkStats {
    latencies_us: Vec<u32>,
    first: Option<Instant>,
    last: Option<Instant>,
    unstamped: u64,
}

impl SinkStats {
    fn record(&mut self, body: &[u8]) {
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        let stamp = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|ev| ev.pointer("/data/t").and_then(|t| t.as_u64()));
        match stamp {
            Some(t) => {
                let age = unix_micros().saturating_sub(t);
                self.latencies_us.push(age.min(u32::MAX as u64) as u32);
            }
            None => self.unstamped += 1,
        }
    }

    fn report(&self) -> String {
        let mut all = self.latencies_us.clone();
        all.sort_unstable();
        let n = all.len() as u64 + self.unstamped;
        let span = match (self.first, self.last) {
            (Some(a), Some(b)) => (b - a).as_secs_f64(),
            _ => 0.0,
        };
        let rate = if span > 0.0 {
            (n - 1) as f64 / span
        } else {
            0.0
        };
        let pct = |p: f64| {
            if all.is_empty() {
                0.0
            } else {
                all[((p / 100.0) * (all.len() - 1) as f64).round() as usize] as f64 / 1000.0
            }
        };
        format!(
            "RESULT received={n} span_s={span:.3} rate_per_s={rate:.0} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3}\n",
            pct(50.0),
            pct(90.0),
            pct(99.0),
            pct(99.9),
            pct(100.0)
        )
    }
}

async fn sink(opts: &HashMap<String, String>) -> i32 {
    let port: u16 = num(opts, "port", 0);
    let pubsub = opts
        .get("pubsub")
        .cloned()
        .unwrap_or_else(|| "pubsub".into());
    let topic = opts
        .get("topic")
        .cloned()
        .unwrap_or_else(|| "orders".into());
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sink: cannot listen on 127.0.0.1:{port}: {e}");
            return 1;
        }
    };
    let subscriptions = Bytes::from(
        serde_json::json!([{ "pubsubname": pubsub, "topic": topic, "route": "/events" }])
            .to_string(),
    );
    let stats = std::sync::Arc::new(std::sync::Mutex::new(SinkStats::default()));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (stats, subscriptions) = (stats.clone(), subscriptions.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let (stats, subscriptions) = (stats.clone(), subscriptions.clone());
                async move {
                    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_default();
                    let out = match (method.as_str(), path.as_str()) {
                        ("GET", "/dapr/subscribe") => subscriptions,
                        ("POST", "/events") => {
                            stats.lock().map(|mut s| s.record(&body)).ok();
                            Bytes::from_static(br#"{"status":"SUCCESS"}"#)
                        }
                        ("GET", "/stats") => stats
                            .lock()
                            .map(|s| Bytes::from(s.report()))
                            .unwrap_or_default(),
                        ("POST", "/reset") => {
                            stats.lock().map(|mut s| *s = SinkStats::default()).ok();
                            Bytes::from_static(b"ok")
                        }
                        _ => Bytes::from_static(b"ok"),
                    };
                    let mut res = Response::new(Full::new(out));
                    res.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, Infallible>(res)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn connect(authority: &str) -> Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(authority).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(sender)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// One raw `GET /v1.0/healthz/outbound`; true on a 204.
fn outbound_ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let req = format!(
        "GET /v1.0/healthz/outbound HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    buf[..n].starts_with(b"HTTP/1.1 204")
}

fn startup(opts: &HashMap<String, String>) -> i32 {
    let Some(daprd) = opts.get("daprd") else {
        eprintln!("startup: --daprd is required");
        return 2;
    };
    let runs: usize = num(opts, "runs", 20);
    let extra: Vec<&str> = opts
        .get("extra")
        .map(|a| a.split_whitespace().collect())
        .unwrap_or_default();
    let mut times = Vec::new();
    for i in 0..runs {
        let (http, grpc, internal, metrics) = (free_port(), free_port(), free_port(), free_port());
        let t0 = Instant::now();
        let child = std::process::Command::new(daprd)
            .args(["--app-id", &format!("startup{i}")])
            .args([
                "--dapr-http-port",
                &http.to_string(),
                "--dapr-grpc-port",
                &grpc.to_string(),
            ])
            .args([
                "--dapr-internal-grpc-port",
                &internal.to_string(),
                "--metrics-port",
                &metrics.to_string(),
            ])
            .args(&extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("startup: cannot run {daprd}: {e}");
                return 1;
            }
        };
        let mut ready = None;
        while t0.elapsed() < Duration::from_secs(10) {
            if outbound_ready(http) {
                ready = Some(t0.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let _ = child.kill();
        let _ = child.wait();
        match ready {
            Some(t) => times.push(t.as_secs_f64() * 1000.0),
            None => {
                eprintln!(
                    "startup: daprd did not answer 204 on /v1.0/healthz/outbound within 10 s"
                );
                return 1;
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let med = times[times.len() / 2];
    println!(
        "startup to /v1.0/healthz/outbound 204 over {} runs: min {:.2} ms, median {:.2} ms, max {:.2} ms",
        times.len(),
        times[0],
        med,
        times[times.len() - 1]
    );
    println!(
        "RESULT startup_median_ms={med:.2} min_ms={:.2} max_ms={:.2}",
        times[0],
        times[times.len() - 1]
    );
    0
}

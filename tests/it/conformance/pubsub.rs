//! Pub/sub broker conformance: one set of behaviour checks, written once over
//! `Arc<dyn PubSub>` and run against `pubsub.in-memory`, `pubsub.redis` (a real
//! `redis-server` per test) and `pubsub.sqlite` (a temp dir per test), each started through
//! the component registry as daprd starts it. Then broker-specific checks: the Redis wire
//! layout shared with official daprd, reclaiming from a dead consumer, surviving a Redis
//! restart; SQLite polling between connections and clean-up; in-memory wildcards; metadata
//! errors naming file, line and field.
//!
//! Which cases apply to which broker is said by the `conformance!` lines: every broker runs
//! the common cases; the durable ones (Redis, SQLite) also run the durable cases (what is
//! published while nobody listens, competing consumers of one consumer id, the messages of
//! a crashed subscriber). In-memory delivers to every subscription (no competing consumers)
//! and forgets everything when the sidecar stops. Timings are shortened for tests: a message
//! nobody acknowledged is due again after 1 s.

use std::collections::{BTreeMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use dapr_cli::sidecar::components::pubsub::{
    Ack, Handler, Message, Metadata, PubSub, PublishRequest, SubscribeRequest, Subscription,
};
use dapr_cli::sidecar::components::{self, Context};
use dapr_cli::sidecar::resources::{self, Component};
use tokio::time::Instant;

use super::start_pubsub;
use crate::support;

/// `processingTimeout` in tests, in milliseconds.
const PROCESSING_TIMEOUT_MS: u64 = 1000;

enum Backend {
    /// In-memory brokers are per sidecar: every "broker" of a test is this one.
    Memory(Arc<dyn PubSub>),
    Redis(support::Redis),
    Sqlite(tempfile::TempDir),
}

/// A backing store and the brokers started on it.
pub struct Fixture {
    backend: Backend,
}

impl Fixture {
    async fn memory() -> Fixture {
        let b = start_pubsub(Component::new("pubsub", "pubsub.in-memory"))
            .await
            .unwrap();
        Fixture {
            backend: Backend::Memory(b),
        }
    }

    async fn redis() -> Fixture {
        Fixture {
            backend: Backend::Redis(support::Redis::start()),
        }
    }

    async fn sqlite() -> Fixture {
        Fixture {
            backend: Backend::Sqlite(tempfile::tempdir().unwrap()),
        }
    }

    fn durable(&self) -> bool {
        !matches!(self.backend, Backend::Memory(_))
    }

    /// The component of a broker with `consumerID` `consumer`; `extra` entries win over the
    /// test defaults.
    fn component(&self, consumer: &str, extra: &[(&str, &str)]) -> Component {
        let (ty, defaults): (&str, Vec<(&str, String)>) = match &self.backend {
            Backend::Memory(_) => ("pubsub.in-memory", vec![]),
            Backend::Redis(r) => (
                "pubsub.redis",
                vec![
                    ("redisHost", r.addr()),
                    ("processingTimeout", PROCESSING_TIMEOUT_MS.to_string()),
                    ("redeliverInterval", "200ms".into()),
                ],
            ),
            Backend::Sqlite(dir) => (
                "pubsub.sqlite",
                vec![
                    (
                        "connectionString",
                        dir.path().join("pubsub.db").to_str().unwrap().to_string(),
                    ),
                    ("processingTimeout", PROCESSING_TIMEOUT_MS.to_string()),
                    ("pollInterval", "50ms".into()),
                    ("cleanupInterval", "1".into()),
                ],
            ),
        };
        let mut c = Component::new("pubsub", ty);
        if !matches!(self.backend, Backend::Memory(_)) {
            c = c.with_meta("consumerID", consumer);
        }
        for (k, v) in extra {
            c = c.with_meta(k, v);
        }
        for (k, v) in defaults {
            c = c.with_meta(k, &v);
        }
        c
    }

    async fn broker_with(&self, consumer: &str, extra: &[(&str, &str)]) -> Arc<dyn PubSub> {
        match &self.backend {
            Backend::Memory(b) => b.clone(),
            _ => start_pubsub(self.component(consumer, extra)).await.unwrap(),
        }
    }

    /// A broker of app `myapp` (the default consumer id).
    async fn broker(&self) -> Arc<dyn PubSub> {
        self.broker_with("myapp", &[]).await
    }
}

type Policy = Box<dyn Fn(&Message, usize) -> Ack + Send + Sync>;

/// A handler that records every delivery; `policy` gets the message and how many times its
/// payload was delivered before.
struct Recorder {
    got: Mutex<Vec<Message>>,
    in_call: AtomicUsize,
    calls: AtomicUsize,
    delay: Duration,
    policy: Policy,
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Recorder::with(Duration::ZERO, |_, _| Ack::Done)
    }

    fn with(
        delay: Duration,
        policy: impl Fn(&Message, usize) -> Ack + Send + Sync + 'static,
    ) -> Arc<Recorder> {
        Arc::new(Recorder {
            got: Mutex::new(Vec::new()),
            in_call: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            delay,
            policy: Box::new(policy),
        })
    }

    fn got(&self) -> Vec<Message> {
        self.got.lock().unwrap().clone()
    }

    fn payloads(&self) -> Vec<String> {
        self.got()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.data).into_owned())
            .collect()
    }

    fn count(&self, payload: &str) -> usize {
        self.payloads().iter().filter(|p| *p == payload).count()
    }

    fn distinct(&self) -> HashSet<String> {
        self.payloads().into_iter().collect()
    }

    async fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&Recorder) -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {timeout:?}; got {:?}",
                self.payloads()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, msg: Message) -> Ack {
        self.in_call.fetch_add(1, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let seen = {
            let mut got = self.got.lock().unwrap();
            let seen = got.iter().filter(|m| m.data == msg.data).count();
            got.push(msg.clone());
            seen
        };
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let ack = (self.policy)(&msg, seen);
        self.in_call.fetch_sub(1, Ordering::SeqCst);
        ack
    }
}

fn req(topic: &str, data: &str) -> PublishRequest {
    PublishRequest {
        topic: topic.to_string(),
        data: Bytes::copy_from_slice(data.as_bytes()),
        ..Default::default()
    }
}

async fn publish(b: &Arc<dyn PubSub>, topic: &str, data: &str) {
    b.publish(req(topic, data)).await.unwrap();
}

async fn subscribe(b: &Arc<dyn PubSub>, topic: &str, rec: &Arc<Recorder>) -> Subscription {
    b.subscribe(
        SubscribeRequest {
            topic: topic.to_string(),
            metadata: Metadata::new(),
        },
        rec.clone(),
    )
    .await
    .unwrap()
}

const WAIT: Duration = Duration::from_secs(15);

mod cases {
    use super::*;

    /// Data bytes (not UTF-8, not JSON) and the publish metadata arrive as published.
    pub async fn roundtrip(fx: &Fixture) {
        let b = fx.broker().await;
        let rec = Recorder::new();
        let sub = subscribe(&b, "orders", &rec).await;
        let mut metadata = Metadata::new();
        metadata.insert("rawPayload".into(), "true".into());
        metadata.insert("ünïcode key".into(), "\"quoted\" value".into());
        let data = Bytes::from_static(b"\x00\xff{\"not\": json");
        b.publish(PublishRequest {
            topic: "orders".into(),
            data: data.clone(),
            metadata: metadata.clone(),
            content_type: Some("application/octet-stream".into()),
        })
        .await
        .unwrap();
        rec.wait_for("the message", WAIT, |r| !r.got().is_empty())
            .await;
        let got = rec.got().remove(0);
        assert_eq!(got.topic, "orders");
        assert_eq!(got.data, data);
        assert_eq!(got.metadata, metadata);
        sub.close().await;
    }

    /// With one worker, first deliveries come in publish order.
    pub async fn ordering(fx: &Fixture) {
        let b = fx.broker_with("myapp", &[("concurrency", "1")]).await;
        let rec = Recorder::new();
        let sub = subscribe(&b, "seq", &rec).await;
        let expected: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
        for m in &expected {
            publish(&b, "seq", m).await;
        }
        rec.wait_for("50 messages", WAIT, |r| r.got().len() >= 50)
            .await;
        assert_eq!(rec.payloads(), expected);
        sub.close().await;
    }

    /// 500 messages, each delivered at least once.
    pub async fn many(fx: &Fixture) {
        let b = fx.broker().await;
        let rec = Recorder::new();
        let sub = subscribe(&b, "bulk", &rec).await;
        for i in 0..500 {
            publish(&b, "bulk", &format!("n{i}")).await;
        }
        rec.wait_for("500 distinct messages", Duration::from_secs(60), |r| {
            r.distinct().len() == 500
        })
        .await;
        sub.close().await;
    }

    /// A message answered Retry is delivered again; once answered Done, it is not.
    pub async fn retry_redelivers(fx: &Fixture) {
        let b = fx.broker().await;
        let rec = Recorder::with(Duration::ZERO, |_, seen| {
            if seen == 0 { Ack::Retry } else { Ack::Done }
        });
        let sub = subscribe(&b, "flaky", &rec).await;
        publish(&b, "flaky", "again").await;
        publish(&b, "flaky", "and-again").await;
        rec.wait_for("both messages twice", WAIT, |r| {
            r.count("again") >= 2 && r.count("and-again") >= 2
        })
        .await;
        // Acknowledged: not delivered a third time, even after the redelivery timeout.
        tokio::time::sleep(Duration::from_millis(PROCESSING_TIMEOUT_MS * 2 + 500)).await;
        assert_eq!(rec.count("again"), 2, "{:?}", rec.payloads());
        assert_eq!(rec.count("and-again"), 2, "{:?}", rec.payloads());
        sub.close().await;
    }

    /// Each subscription gets its topic's messages only.
    pub async fn topics_independent(fx: &Fixture) {
        let b = fx.broker().await;
        let (ra, rb) = (Recorder::new(), Recorder::new());
        let sa = subscribe(&b, "topic-a", &ra).await;
        let sb = subscribe(&b, "topic-b", &rb).await;
        publish(&b, "topic-a", "to-a").await;
        publish(&b, "topic-b", "to-b").await;
        publish(&b, "topic-c", "to-nobody").await;
        ra.wait_for("topic-a's message", WAIT, |r| !r.got().is_empty())
            .await;
        rb.wait_for("topic-b's message", WAIT, |r| !r.got().is_empty())
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(ra.payloads(), ["to-a"]);
        assert_eq!(rb.payloads(), ["to-b"]);
        assert!(ra.got().iter().all(|m| m.topic == "topic-a"));
        sa.close().await;
        sb.close().await;
    }

    /// `close` lets the call in flight finish, starts no other (even for messages already
    /// fetched) and none after it returns; for the durable brokers, what the closed
    /// subscription did not acknowledge (answered Retry while closing, or still queued) goes
    /// to the next subscription of the same consumer id.
    pub async fn close_is_graceful(fx: &Fixture) {
        let b = fx.broker_with("myapp", &[("concurrency", "1")]).await;
        let rec = Recorder::with(Duration::from_millis(1000), |m, _| {
            if &m.data[..] == b"c1" {
                Ack::Retry
            } else {
                Ack::Done
            }
        });
        let sub = subscribe(&b, "closing", &rec).await;
        for m in ["c1", "c2", "c3"] {
            publish(&b, "closing", m).await;
        }
        rec.wait_for("the first call", WAIT, |r| {
            r.calls.load(Ordering::SeqCst) >= 1
        })
        .await;
        sub.close().await;
        assert_eq!(
            rec.in_call.load(Ordering::SeqCst),
            0,
            "a call outlived close"
        );
        assert_eq!(rec.payloads(), ["c1"], "calls started while closing");
        tokio::time::sleep(Duration::from_millis(PROCESSING_TIMEOUT_MS + 500)).await;
        assert_eq!(
            rec.calls.load(Ordering::SeqCst),
            1,
            "a handler call started after close returned"
        );
        if !fx.durable() {
            return;
        }
        let next = Recorder::new();
        let sub = subscribe(&b, "closing", &next).await;
        next.wait_for("what the closed subscription left", WAIT, |r| {
            ["c1", "c2", "c3"].iter().all(|m| r.count(m) > 0)
        })
        .await;
        sub.close().await;
    }

    /// Two consumer ids (two apps) each get every message.
    pub async fn fan_out(fx: &Fixture) {
        let (a, b) = (
            fx.broker_with("app-a", &[]).await,
            fx.broker_with("app-b", &[]).await,
        );
        let (ra, rb) = (Recorder::new(), Recorder::new());
        let sa = subscribe(&a, "news", &ra).await;
        let sb = subscribe(&b, "news", &rb).await;
        for i in 0..20 {
            publish(&a, "news", &format!("f{i}")).await;
        }
        for r in [&ra, &rb] {
            r.wait_for("20 messages", WAIT, |r| r.distinct().len() == 20)
                .await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(ra.got().len(), 20, "{:?}", ra.payloads());
        assert_eq!(rb.got().len(), 20, "{:?}", rb.payloads());
        sa.close().await;
        sb.close().await;
    }

    /// Durable: what is published while the subscriber is away is delivered when it
    /// subscribes again with the same consumer id, from a fresh broker (a restarted sidecar).
    pub async fn resubscribe_gets_what_was_published_meanwhile(fx: &Fixture) {
        let b = fx.broker().await;
        let rec = Recorder::new();
        let sub = subscribe(&b, "later", &rec).await;
        publish(&b, "later", "before").await;
        rec.wait_for("the first message", WAIT, |r| r.count("before") == 1)
            .await;
        sub.close().await;
        for m in ["while-1", "while-2"] {
            publish(&b, "later", m).await;
        }
        let again = fx.broker().await;
        let rec = Recorder::new();
        let sub = subscribe(&again, "later", &rec).await;
        rec.wait_for("what was published meanwhile", WAIT, |r| {
            r.count("while-1") == 1 && r.count("while-2") == 1
        })
        .await;
        assert_eq!(rec.count("before"), 0, "acknowledged before the restart");
        sub.close().await;
    }

    /// Durable: messages published before the consumer group's first subscription are
    /// delivered to it (a group starts at the beginning of what is stored).
    pub async fn first_subscriber_gets_earlier_messages(fx: &Fixture) {
        let b = fx.broker().await;
        publish(&b, "early", "e1").await;
        publish(&b, "early", "e2").await;
        let rec = Recorder::new();
        let sub = subscribe(&b, "early", &rec).await;
        rec.wait_for("the earlier messages", WAIT, |r| r.distinct().len() == 2)
            .await;
        sub.close().await;
    }

    /// Durable: two subscribers with one consumer id (two instances of an app) share the
    /// messages: each goes to one of them.
    pub async fn competing_consumers(fx: &Fixture) {
        // A long processing timeout: no redelivery may blur "exactly one of them".
        let extra = [("processingTimeout", "30s"), ("queueDepth", "5")];
        let (a, b) = (
            fx.broker_with("myapp", &extra).await,
            fx.broker_with("myapp", &extra).await,
        );
        let slow = || Recorder::with(Duration::from_millis(5), |_, _| Ack::Done);
        let (ra, rb) = (slow(), slow());
        let sa = subscribe(&a, "work", &ra).await;
        let sb = subscribe(&b, "work", &rb).await;
        for i in 0..100 {
            publish(&a, "work", &format!("w{i}")).await;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all: HashSet<String> = ra.distinct().union(&rb.distinct()).cloned().collect();
            if all.len() == 100 {
                break;
            }
            assert!(Instant::now() < deadline, "{} of 100 delivered", all.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            ra.got().len() + rb.got().len(),
            100,
            "each message to one subscriber: {:?} / {:?}",
            ra.payloads(),
            rb.payloads()
        );
        sa.close().await;
        sb.close().await;
    }

    /// Durable: a subscriber that dies (its runtime stops: no close, no acknowledgement)
    /// while handling a message; the next subscriber of its consumer id gets the message
    /// after `processingTimeout`.
    pub async fn dead_consumers_messages_are_redelivered(fx: &Fixture) {
        let doomed = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
        let (handling_tx, handling_rx) = tokio::sync::oneshot::channel();
        let c = fx.component("myapp", &[]);
        doomed.spawn(async move {
            let b = start_pubsub(c).await.unwrap();
            let hang = Arc::new(Hang(Mutex::new(Some(handling_tx))));
            let sub = b
                .subscribe(
                    SubscribeRequest {
                        topic: "fragile".into(),
                        metadata: Metadata::new(),
                    },
                    hang,
                )
                .await
                .unwrap();
            let _ = subscribed_tx.send(());
            std::future::pending::<()>().await;
            drop((b, sub));
        });
        tokio::time::timeout(WAIT, subscribed_rx)
            .await
            .unwrap()
            .unwrap();
        let b = fx.broker().await;
        publish(&b, "fragile", "orphan").await;
        tokio::time::timeout(WAIT, handling_rx)
            .await
            .unwrap()
            .unwrap();
        doomed.shutdown_background();
        let crashed = Instant::now();
        let rec = Recorder::new();
        let sub = subscribe(&b, "fragile", &rec).await;
        rec.wait_for("the dead subscriber's message", WAIT, |r| {
            r.count("orphan") == 1
        })
        .await;
        assert!(
            crashed.elapsed() < Duration::from_millis(PROCESSING_TIMEOUT_MS * 8),
            "redelivered {:?} after the crash",
            crashed.elapsed()
        );
        sub.close().await;
    }

    /// A handler that signals its first call and never answers.
    struct Hang(Mutex<Option<tokio::sync::oneshot::Sender<()>>>);

    #[async_trait]
    impl Handler for Hang {
        async fn handle(&self, _msg: Message) -> Ack {
            if let Some(tx) = self.0.lock().unwrap().take() {
                let _ = tx.send(());
            }
            std::future::pending::<Ack>().await
        }
    }
}

/// `conformance!(<broker>, <fixture>)` runs the cases every broker passes;
/// `conformance!(<broker>, <fixture>, durable)` adds those of the durable brokers.
macro_rules! conformance {
    ($broker:ident, $make:path) => {
        mod $broker {
            use super::*;
            conformance!(@every $make);
        }
    };
    ($broker:ident, $make:path, durable) => {
        mod $broker {
            use super::*;
            conformance!(@every $make);
            conformance!(@case $make; resubscribe_gets_what_was_published_meanwhile,
                first_subscriber_gets_earlier_messages, competing_consumers,
                dead_consumers_messages_are_redelivered);
        }
    };
    (@every $make:path) => {
        conformance!(@case $make; roundtrip, ordering, many, retry_redelivers,
            topics_independent, close_is_graceful, fan_out);
    };
    (@case $make:path; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fx = $make().await;
                cases::$case(&fx).await;
            }
        )*
    };
}

conformance!(memory, Fixture::memory);
conformance!(redis, Fixture::redis, durable);
conformance!(sqlite, Fixture::sqlite, durable);

/// The official layout, shared with official daprd, and Redis-specific behaviour.
mod redis_streams {
    use super::*;

    async fn broker(redis: &support::Redis, extra: &[(&str, &str)]) -> Arc<dyn PubSub> {
        let fx_component = {
            let mut c = Component::new("pubsub", "pubsub.redis");
            for (k, v) in extra {
                c = c.with_meta(k, v);
            }
            c.with_meta("redisHost", &redis.addr())
                .with_meta("processingTimeout", &PROCESSING_TIMEOUT_MS.to_string())
                .with_meta("redeliverInterval", "200ms")
        };
        start_pubsub(fx_component).await.unwrap()
    }

    /// Entries as the official runtime writes them (`data` and, since 1.11, `metadata`;
    /// older ones without it) are delivered.
    #[tokio::test]
    async fn entries_written_by_official_daprd_are_delivered() {
        let redis = support::Redis::start();
        let ce = r#"{"specversion":"1.0","id":"1","source":"other","type":"com.dapr.event.sent","datacontenttype":"application/json","data":{"a":1},"topic":"orders","pubsubname":"pubsub"}"#;
        redis.cli(&["XADD", "orders", "*", "data", ce]);
        redis.cli(&["XADD", "orders", "*", "data", ce, "metadata", "{}"]);
        redis.cli(&[
            "XADD",
            "orders",
            "*",
            "data",
            ce,
            "metadata",
            r#"{"rawPayload":"false","k":"v"}"#,
        ]);
        let b = broker(&redis, &[]).await;
        let rec = Recorder::new();
        let sub = subscribe(&b, "orders", &rec).await;
        rec.wait_for("three entries", WAIT, |r| r.got().len() == 3)
            .await;
        let got = rec.got();
        assert!(got.iter().all(|m| m.data == ce.as_bytes()));
        assert!(got[0].metadata.is_empty() && got[1].metadata.is_empty());
        assert_eq!(got[2].metadata.get("k").map(String::as_str), Some("v"));
        assert_eq!(
            redis.cli(&["XPENDING", "orders", "myapp"]).lines().next(),
            Some("0"),
            "all acknowledged"
        );
        sub.close().await;
    }

    /// What we publish is a stream entry with exactly the fields `data` and `metadata` (a
    /// JSON object, keys sorted as Go writes them); the consumer group and consumer are
    /// named after the app id.
    #[tokio::test]
    async fn published_entries_have_the_official_fields() {
        let redis = support::Redis::start();
        let b = broker(&redis, &[]).await;
        let mut metadata = Metadata::new();
        metadata.insert("b".into(), "2".into());
        metadata.insert("a".into(), "1".into());
        b.publish(PublishRequest {
            topic: "orders".into(),
            data: Bytes::from_static(b"{\"id\":1}"),
            metadata,
            content_type: None,
        })
        .await
        .unwrap();
        publish(&b, "orders", "plain").await;
        let range = redis.cli(&["XRANGE", "orders", "-", "+"]);
        let lines: Vec<&str> = range.lines().collect();
        assert_eq!(lines.len(), 10, "{range}");
        assert_eq!(
            &lines[1..5],
            ["data", "{\"id\":1}", "metadata", r#"{"a":"1","b":"2"}"#]
        );
        assert_eq!(&lines[6..10], ["data", "plain", "metadata", "{}"]);
        let rec = Recorder::new();
        let sub = subscribe(&b, "orders", &rec).await;
        rec.wait_for("both", WAIT, |r| r.got().len() == 2).await;
        let groups = redis.cli(&["XINFO", "GROUPS", "orders"]);
        assert!(groups.lines().any(|l| l == "myapp"), "{groups}");
        let consumers = redis.cli(&["XINFO", "CONSUMERS", "orders", "myapp"]);
        assert!(consumers.lines().any(|l| l == "myapp"), "{consumers}");
        sub.close().await;
    }

    /// An entry another consumer of the group read and never acknowledged (an official
    /// sidecar that died) is taken over once idle for `processingTimeout`, not before.
    #[tokio::test]
    async fn reclaims_from_a_dead_consumer_after_processing_timeout() {
        let redis = support::Redis::start();
        redis.cli(&["XGROUP", "CREATE", "jobs", "myapp", "0", "MKSTREAM"]);
        redis.cli(&["XADD", "jobs", "*", "data", "abandoned", "metadata", "{}"]);
        let read = redis.cli(&[
            "XREADGROUP",
            "GROUP",
            "myapp",
            "ghost",
            "COUNT",
            "1",
            "STREAMS",
            "jobs",
            ">",
        ]);
        assert!(read.contains("abandoned"), "{read}");
        let ghost_read = Instant::now();
        let b = broker(&redis, &[]).await;
        let rec = Recorder::new();
        let sub = subscribe(&b, "jobs", &rec).await;
        rec.wait_for("the abandoned entry", WAIT, |r| r.count("abandoned") == 1)
            .await;
        assert!(
            ghost_read.elapsed() >= Duration::from_millis(PROCESSING_TIMEOUT_MS * 9 / 10),
            "taken over after {:?}",
            ghost_read.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            redis.cli(&["XPENDING", "jobs", "myapp"]).lines().next(),
            Some("0")
        );
        sub.close().await;
    }

    /// A handler slower than `processingTimeout` keeps its message: the broker refreshes
    /// what it holds instead of delivering it a second time.
    #[tokio::test]
    async fn a_slow_handler_is_not_raced() {
        let redis = support::Redis::start();
        let b = broker(&redis, &[]).await;
        let rec = Recorder::with(Duration::from_millis(PROCESSING_TIMEOUT_MS * 3), |_, _| {
            Ack::Done
        });
        let sub = subscribe(&b, "slow", &rec).await;
        publish(&b, "slow", "take-your-time").await;
        rec.wait_for("the call", WAIT, |r| r.calls.load(Ordering::SeqCst) == 1)
            .await;
        tokio::time::sleep(Duration::from_millis(PROCESSING_TIMEOUT_MS * 3 + 500)).await;
        assert_eq!(rec.count("take-your-time"), 1);
        sub.close().await;
    }

    /// `maxLenApprox` trims the stream on publish (`MAXLEN ~`).
    #[tokio::test]
    async fn max_len_approx_trims_the_stream() {
        let redis = support::Redis::start();
        let b = broker(&redis, &[("maxLenApprox", "10")]).await;
        for i in 0..500 {
            publish(&b, "capped", &format!("{i}")).await;
        }
        let len: usize = redis.cli(&["XLEN", "capped"]).trim().parse().unwrap();
        assert!(len < 250, "XLEN {len}");
    }

    /// A dead Redis gives errors, not hangs; once it is back (empty, as after a restart
    /// without persistence), publishing works again and the subscription, which recreates its
    /// consumer group, receives.
    #[tokio::test]
    async fn subscriptions_survive_a_redis_restart() {
        let port = support::free_port();
        let dir = tempfile::tempdir().unwrap();
        let server = redis_on(port, dir.path());
        let addr = format!("127.0.0.1:{port}");
        let c = Component::new("pubsub", "pubsub.redis")
            .with_meta("redisHost", &addr)
            .with_meta("dialTimeout", "500ms")
            .with_meta("readTimeout", "500ms")
            .with_meta("processingTimeout", "1s")
            .with_meta("redeliverInterval", "200ms");
        let b = start_pubsub(c).await.unwrap();
        let rec = Recorder::new();
        let sub = subscribe(&b, "durable", &rec).await;
        publish(&b, "durable", "one").await;
        rec.wait_for("the first message", WAIT, |r| r.count("one") == 1)
            .await;

        drop(server);
        let started = Instant::now();
        let err = b.publish(req("durable", "lost")).await;
        assert!(err.is_err(), "publish to a dead Redis succeeded");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "publish took {:?}",
            started.elapsed()
        );

        let _server = redis_on(port, dir.path());
        let deadline = Instant::now() + WAIT;
        while b.publish(req("durable", "two")).await.is_err() {
            assert!(Instant::now() < deadline, "publish never recovered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rec.wait_for(
            "a message after the restart",
            Duration::from_secs(30),
            |r| r.count("two") == 1,
        )
        .await;
        sub.close().await;
    }

    fn redis_on(port: u16, dir: &std::path::Path) -> support::KillOnDrop {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        let child = support::KillOnDrop(child);
        assert!(
            support::wait_until(Duration::from_secs(5), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "redis-server on {port}"
        );
        child
    }
}

/// SQLite: between connections (other processes), clean-up, trimming.
mod sqlite_file {
    use super::*;

    fn component(db: &str, consumer: &str, extra: &[(&str, &str)]) -> Component {
        let mut c = Component::new("pubsub", "pubsub.sqlite");
        for (k, v) in extra {
            c = c.with_meta(k, v);
        }
        c.with_meta("connectionString", db)
            .with_meta("consumerID", consumer)
            .with_meta("processingTimeout", "1s")
            .with_meta("pollInterval", "50ms")
            .with_meta("cleanupInterval", "1")
    }

    fn rows(db: &std::path::Path, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Two brokers on one file through differently spelled connection strings share no
    /// in-process wake-up, as two daprd processes: polling delivers, and a consumer id's
    /// messages are split between them.
    #[tokio::test]
    async fn brokers_on_one_file_share_messages_by_polling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        let plain = path.to_str().unwrap().to_string();
        let uri = format!("file:{plain}");
        let publisher = start_pubsub(component(&plain, "pub", &[])).await.unwrap();
        let a = start_pubsub(component(&uri, "sub", &[("queueDepth", "3")]))
            .await
            .unwrap();
        let b = start_pubsub(component(&plain, "sub", &[("queueDepth", "3")]))
            .await
            .unwrap();
        let slow = || Recorder::with(Duration::from_millis(10), |_, _| Ack::Done);
        let (ra, rb) = (slow(), slow());
        let sa = subscribe(&a, "t", &ra).await;
        let sb = subscribe(&b, "t", &rb).await;
        for i in 0..60 {
            publish(&publisher, "t", &format!("p{i}")).await;
        }
        let deadline = Instant::now() + WAIT;
        while ra.distinct().len() + rb.distinct().len() < 60 {
            assert!(Instant::now() < deadline, "not all delivered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(ra.got().len() + rb.got().len(), 60);
        assert!(
            !ra.got().is_empty() && !rb.got().is_empty(),
            "both competed: {} / {}",
            ra.got().len(),
            rb.got().len()
        );
        sa.close().await;
        sb.close().await;
    }

    /// What every group acknowledged is deleted; what a group has not, is kept; a topic
    /// nobody reads is trimmed to `maxLenApprox`.
    #[tokio::test]
    async fn growth_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pubsub.db");
        let db = path.to_str().unwrap();
        let b = start_pubsub(component(db, "myapp", &[("maxLenApprox", "10")]))
            .await
            .unwrap();
        let rec = Recorder::new();
        let sub = subscribe(&b, "read", &rec).await;
        for i in 0..30 {
            publish(&b, "read", &format!("r{i}")).await;
            publish(&b, "unread", &format!("u{i}")).await;
        }
        rec.wait_for("30 messages", WAIT, |r| r.distinct().len() == 30)
            .await;
        let deadline = Instant::now() + WAIT;
        let count = |topic: &str| {
            rows(
                &path,
                &format!("SELECT COUNT(*) FROM pubsub_messages WHERE topic = '{topic}'"),
            )
        };
        while count("read") > 0 || count("unread") > 10 {
            assert!(
                Instant::now() < deadline,
                "read: {}, unread: {}",
                count("read"),
                count("unread")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(count("unread"), 10, "trimmed to maxLenApprox, not below");
        assert_eq!(rows(&path, "SELECT COUNT(*) FROM pubsub_pending"), 0);
        sub.close().await;

        // A second group that has not read yet keeps messages alive.
        let other = start_pubsub(component(db, "other", &[])).await.unwrap();
        let rec2 = Recorder::new();
        subscribe(&other, "kept", &rec2).await.close().await;
        let rec = Recorder::new();
        let sub = subscribe(&b, "kept", &rec).await;
        for i in 0..5 {
            publish(&b, "kept", &format!("k{i}")).await;
        }
        rec.wait_for("5 messages", WAIT, |r| r.distinct().len() == 5)
            .await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(count("kept"), 5, "group other has not read them");
        sub.close().await;
    }
}

/// In-memory: wildcard subscriptions.
mod in_memory {
    use super::*;

    #[tokio::test]
    async fn wildcard_subscriptions() {
        let b = start_pubsub(Component::new("pubsub", "pubsub.in-memory"))
            .await
            .unwrap();
        assert_eq!(b.features(), ["SUBSCRIBE_WILDCARDS"]);
        let rec = Recorder::new();
        let sub = subscribe(&b, "topic*", &rec).await;
        for t in ["topic1", "topic", "mytopic", "topicX"] {
            publish(&b, t, t).await;
        }
        rec.wait_for("two matches", WAIT, |r| r.got().len() >= 2)
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let topics: Vec<String> = rec.got().into_iter().map(|m| m.topic).collect();
        assert_eq!(topics, ["topic1", "topicX"]);
        sub.close().await;
    }
}

/// Metadata mistakes fail start-up naming the file, the line and the field.
#[test]
fn metadata_errors_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pubsub.yaml");
    let cases: BTreeMap<&str, (&str, usize)> = [
        (
            "type: pubsub.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: localhost:6379\n  - name: concurrency\n    value: \"none\"\n",
            ("concurrency", 11),
        ),
        (
            "type: pubsub.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: localhost:6379\n  - name: maxLenApprox\n    value: \"5\"\n  - name: streamTTL\n    value: 1h\n",
            ("streamTTL", 13),
        ),
        (
            "type: pubsub.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: localhost:6379\n  - name: processingTimeout\n    value: whenever\n",
            ("processingTimeout", 11),
        ),
        (
            "type: pubsub.sqlite\n  version: v1\n  metadata:\n  - name: connectionString\n    value: \":memory:\"\n",
            ("connectionString", 9),
        ),
        (
            "type: pubsub.sqlite\n  version: v1\n  metadata:\n  - name: connectionString\n    value: x.db\n  - name: queueDepth\n    value: \"0\"\n",
            ("queueDepth", 11),
        ),
    ]
    .into_iter()
    .collect();
    for (spec, (field, line)) in cases {
        let text = format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\nspec:\n  {spec}"
        );
        let parsed = resources::components(&file, &text, "myapp").unwrap();
        let err = components::plan(parsed, &Context::new("myapp"))
            .err()
            .unwrap_or_else(|| panic!("{field} accepted"))
            .to_string();
        let at = format!("{}:{line}:", file.display());
        assert!(
            err.starts_with(&at) && err.contains(&format!("field {field}:")),
            "expected {at} ... field {field}: got {err}"
        );
    }
}

//! `pubsub.sqlite`: a durable broker that needs no server, for apps on one machine (what
//! `dapr init` sets up when no Redis answers). **Not an official Dapr component type**: an
//! official daprd cannot load it; our sidecars share messages through one SQLite file
//! (`connectionString`, a file path or a `file:` URI; WAL mode, so several processes can
//! use it at once).
//!
//! Its semantics follow `pubsub.redis`, with a table per concept instead of a stream:
//!
//! * `pubsub_messages` holds each published message (`topic`, `data`, `metadata` as a JSON
//!   object, an ever-increasing id);
//! * `pubsub_groups` has one row per topic and consumer group (`consumerID`, default the app
//!   id) with the newest message id handed to the group. A new group starts at 0: it gets
//!   every message of the topic still stored. Different groups each get every message
//!   (fan-out); the subscriptions of one group, in any process, compete (each message goes
//!   to one of them);
//! * `pubsub_pending` has a row per message handed to a group and not acknowledged yet.
//!   [`Ack::Done`] deletes it; [`Ack::Retry`] leaves it, due again `processingTimeout` after
//!   the answer; a subscriber that dies leaves its rows, due `processingTimeout` after their
//!   delivery. A live subscriber refreshes the rows of messages it still holds (every third
//!   of `processingTimeout`), so a slow handler is not raced by a second delivery. On close,
//!   what was fetched but not handled, and what was answered Retry while closing, is handed
//!   back: due at once for the group's next subscriber.
//!
//! Subscribers poll every `pollInterval` (100 ms) for new or due messages (a cheap read;
//! the write lock is only taken when there is something to claim) and are woken at once by
//! a publish in the same process. Messages every group has acknowledged are deleted every
//! `cleanupInterval` (10 s), as are the oldest of a topic beyond `maxLenApprox` (optional,
//! as Redis `MAXLEN ~`). Messages of a topic no group has subscribed to yet are kept until
//! one does (or `maxLenApprox` trims them). Each handler call is preceded by a committed
//! claim and each acknowledgement is committed before the next; WAL with
//! `synchronous=NORMAL` keeps both across a crash of the process (not a power loss).
//!
//! Metadata: `connectionString` (required), `consumerID`, `processingTimeout` (30 s),
//! `pollInterval` (100 ms), `queueDepth` (100), `concurrency` (10), `maxLenApprox`,
//! `cleanupInterval` (10 s), `timeout` (20 s), `busyTimeout` (5 s). Plain integers are
//! milliseconds for `processingTimeout` and `pollInterval` (as `pubsub.redis`), seconds for
//! the others (as `state.sqlite`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, watch};

use super::{
    Ack, Handler, Message, Metadata, PubSub, PubSubError, PublishRequest, SubscribeRequest,
    Subscription, workers,
};
use crate::sidecar::components::metadata::{meta_duration, meta_int};
use crate::sidecar::components::sqlite::Worker;
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::log::{self, scope};
use crate::sidecar::resources::{Component, ResourceError};

mod sql;
use sql::*;

const MS: Duration = Duration::from_millis(1);
const SECS: Duration = Duration::from_secs(1);

/// The schema version this daprd writes (`pubsub_metadata`).
const SCHEMA: i64 = 1;

/// Validated component metadata.
#[derive(Debug, Clone)]
pub struct Config {
    pub connection_string: String,
    pub consumer_id: String,
    pub processing_timeout: Duration,
    pub poll_interval: Duration,
    pub queue_depth: usize,
    pub concurrency: usize,
    pub max_len: Option<u64>,
    pub cleanup_interval: Duration,
    pub timeout: Duration,
    pub busy_timeout: Duration,
}

impl Config {
    pub fn from_component(c: &Component, ctx: &Context) -> Result<Config, ResourceError> {
        let connection_string = c
            .meta("connectionString")
            .map(str::trim)
            .unwrap_or("")
            .to_string();
        if connection_string.is_empty() {
            return Err(c.field_error(
                "connectionString",
                "required; set it to a database file path (e.g. pubsub.db) or a file: URI",
            ));
        }
        if connection_string == ":memory:" || connection_string.contains("mode=memory") {
            return Err(c.field_error(
                "connectionString",
                "pubsub.sqlite shares messages through a file; give a file path, or use \
                 pubsub.in-memory for a broker inside one sidecar",
            ));
        }
        let consumer_id = c
            .meta("consumerID")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(&ctx.app_id)
            .to_string();
        if consumer_id.is_empty() {
            return Err(c.field_error("consumerID", "required when daprd runs without an app id"));
        }
        let positive = |field: &str, default: Duration, unit: Duration| {
            let d = meta_duration(c, field, default, unit)?;
            if d.is_zero() {
                return Err(c.field_error(field, "must be positive"));
            }
            Ok(d)
        };
        let processing_timeout = positive("processingTimeout", Duration::from_secs(30), MS)?;
        let poll_interval = positive("pollInterval", Duration::from_millis(100), MS)?;
        let cleanup_interval = positive("cleanupInterval", Duration::from_secs(10), SECS)?;
        let timeout = positive("timeout", Duration::from_secs(20), SECS)?;
        let busy_timeout = meta_duration(c, "busyTimeout", Duration::from_secs(5), SECS)?;
        let count = |field: &str, default: i64| -> Result<usize, ResourceError> {
            let n = meta_int(c, field, default)?;
            if !(1..=100_000).contains(&n) {
                return Err(c.field_error(field, format!("{n} is out of range; use 1 to 100000")));
            }
            Ok(n as usize)
        };
        let queue_depth = count("queueDepth", 100)?;
        let concurrency = count("concurrency", 10)?;
        let max_len = meta_int(c, "maxLenApprox", 0)?;
        if max_len < 0 {
            return Err(c.field_error("maxLenApprox", "must be 0 (unlimited) or positive"));
        }
        Ok(Config {
            connection_string,
            consumer_id,
            processing_timeout,
            poll_interval,
            queue_depth,
            concurrency,
            max_len: (max_len > 0).then_some(max_len as u64),
            cleanup_interval,
            timeout,
            busy_timeout,
        })
    }
}

/// The connection, on a thread of its own ([`Worker`]).
struct Db {
    worker: Worker,
}

impl Db {
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, String> {
        match self.worker.call(f).await {
            Ok(result) => result.map_err(|e| format!("sqlite: {e}")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn close(&self) {
        self.worker.close();
    }
}

/// Publish notifications per database file, shared by every broker of this process.
static WAKERS: LazyLock<Mutex<HashMap<PathBuf, Weak<watch::Sender<u64>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn waker_for(key: PathBuf) -> Arc<watch::Sender<u64>> {
    let mut wakers = WAKERS.lock().unwrap_or_else(|p| p.into_inner());
    wakers.retain(|_, w| w.strong_count() > 0);
    if let Some(w) = wakers.get(&key).and_then(Weak::upgrade) {
        return w;
    }
    let w = Arc::new(watch::channel(0u64).0);
    wakers.insert(key, Arc::downgrade(&w));
    w
}

/// Message ids this process holds (queued or being handled), per topic and group.
type InFlight = Mutex<HashMap<(String, String), HashSet<i64>>>;

struct Shared {
    db: Db,
    config: Config,
    /// This broker's name in `pubsub_pending.consumer` (diagnostics only).
    consumer: String,
    waker: Arc<watch::Sender<u64>>,
    in_flight: InFlight,
}

impl Shared {
    fn key(&self, topic: &str) -> (String, String) {
        (topic.to_string(), self.config.consumer_id.clone())
    }

    fn held(&self, topic: &str) -> HashSet<i64> {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&self.key(topic))
            .cloned()
            .unwrap_or_default()
    }

    fn hold(&self, topic: &str, id: i64) {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(self.key(topic))
            .or_default()
            .insert(id);
    }

    fn release(&self, topic: &str, id: i64) {
        let mut held = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let key = self.key(topic);
        if let Some(ids) = held.get_mut(&key) {
            ids.remove(&id);
            if ids.is_empty() {
                held.remove(&key);
            }
        }
    }

    fn wake(&self) {
        self.waker.send_modify(|n| *n = n.wrapping_add(1));
    }

    async fn settle(&self, topic: &str, id: i64, at: Option<i64>) -> Result<(), String> {
        let (topic, group) = self.key(topic);
        match at {
            None => {
                self.db
                    .call(move |conn| {
                        conn.prepare_cached(
                            "DELETE FROM pubsub_pending
                              WHERE topic = ?1 AND consumer_group = ?2 AND message_id = ?3",
                        )?
                        .execute(params![topic, group, id])
                        .map(|_| ())
                    })
                    .await
            }
            Some(at) => {
                self.db
                    .call(move |conn| set_delivered_at(conn, &topic, &group, &[id], at))
                    .await
            }
        }
    }
}

pub struct SqlitePubSub {
    shared: Arc<Shared>,
    cleanup: tokio::task::JoinHandle<()>,
}

impl SqlitePubSub {
    /// Opens (creating if needed) the database and its tables, and starts the clean-up.
    pub async fn open(c: &Component, ctx: &Context) -> Result<SqlitePubSub, ResourceError> {
        let config = Config::from_component(c, ctx)?;
        let worker_config = config.clone();
        let worker = Worker::start(
            format!("sqlite-pubsub-{}", c.name),
            c,
            config.timeout,
            move || open_connection(&worker_config),
        )
        .await?;
        let path = Path::new(&config.connection_string);
        let key = if config.connection_string.starts_with("file:") {
            PathBuf::from(&config.connection_string)
        } else {
            fs_err::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        };
        let shared = Arc::new(Shared {
            db: Db { worker },
            consumer: format!(
                "{}-{}",
                config.consumer_id,
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            config,
            waker: waker_for(key),
            in_flight: Mutex::new(HashMap::new()),
        });
        let cleanup = tokio::spawn(cleanup_loop(Arc::downgrade(&shared)));
        Ok(SqlitePubSub { shared, cleanup })
    }
}

impl Drop for SqlitePubSub {
    fn drop(&mut self) {
        self.cleanup.abort();
        self.shared.db.close();
    }
}

async fn cleanup_loop(shared: Weak<Shared>) {
    loop {
        let Some(every) = shared.upgrade().map(|s| s.config.cleanup_interval) else {
            return;
        };
        tokio::time::sleep(every).await;
        let Some(s) = shared.upgrade() else { return };
        let max_len = s.config.max_len;
        if let Err(e) = s.db.call(move |conn| cleanup(conn, max_len)).await {
            log::warn(
                scope::COMPONENTS,
                &format!("sqlite pub/sub: clean-up failed (retried later): {e}"),
            );
        }
    }
}

/// One subscription's running state.
struct Sub {
    shared: Arc<Shared>,
    topic: Arc<str>,
    tx: mpsc::Sender<(i64, Message)>,
    stop: watch::Receiver<bool>,
    /// Messages answered Retry while closing, handed back with the queued ones.
    returned: Mutex<Vec<i64>>,
}

impl Sub {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Claims and queues messages until stopped.
    async fn fetch_loop(self: Arc<Self>) {
        let shared = &self.shared;
        let config = &shared.config;
        let mut wake = shared.waker.subscribe();
        let mut backoff = workers::Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let heartbeat_every = config.processing_timeout / 3;
        let mut last_heartbeat = tokio::time::Instant::now();
        while !self.stopping() {
            let room = self.tx.capacity();
            let mut wait = config.poll_interval;
            if room > 0 {
                let (topic, group) = shared.key(&self.topic);
                let consumer = shared.consumer.clone();
                let held = shared.held(&self.topic);
                let timeout = ms(config.processing_timeout);
                let claimed = shared
                    .db
                    .call(move |conn| {
                        claim(
                            conn,
                            &topic,
                            &group,
                            &consumer,
                            room,
                            &held,
                            now_ms(),
                            timeout,
                        )
                    })
                    .await;
                match claimed {
                    Ok(batch) if !batch.is_empty() => {
                        backoff.reset();
                        if !self.enqueue(batch).await {
                            break;
                        }
                        continue;
                    }
                    Ok(_) => backoff.reset(),
                    Err(e) => {
                        log::warn(
                            scope::COMPONENTS,
                            &format!(
                                "sqlite pub/sub: cannot fetch messages of {}: {e}",
                                self.topic
                            ),
                        );
                        wait = backoff.next_delay();
                    }
                }
            }
            if last_heartbeat.elapsed() >= heartbeat_every {
                last_heartbeat = tokio::time::Instant::now();
                let ids: Vec<i64> = shared.held(&self.topic).into_iter().collect();
                if !ids.is_empty() {
                    let (topic, group) = shared.key(&self.topic);
                    if let Err(e) = shared
                        .db
                        .call(move |conn| set_delivered_at(conn, &topic, &group, &ids, now_ms()))
                        .await
                    {
                        log::warn(
                            scope::COMPONENTS,
                            &format!("sqlite pub/sub: cannot refresh held messages: {e}"),
                        );
                    }
                }
            }
            tokio::select! {
                _ = Subscription::stopped(self.stop.clone()) => break,
                _ = wake.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn enqueue(&self, batch: Vec<(i64, Message)>) -> bool {
        let mut batch = batch.into_iter();
        while let Some((id, msg)) = batch.next() {
            self.shared.hold(&self.topic, id);
            let sent = tokio::select! {
                biased;
                _ = Subscription::stopped(self.stop.clone()) => false,
                sent = self.tx.send((id, msg)) => sent.is_ok(),
            };
            if !sent {
                self.shared.release(&self.topic, id);
                let mut returned = self.returned.lock().unwrap_or_else(|p| p.into_inner());
                returned.push(id);
                returned.extend(batch.map(|(id, _)| id));
                return false;
            }
        }
        true
    }
}

#[async_trait]
impl PubSub for SqlitePubSub {
    async fn publish(&self, req: PublishRequest) -> Result<(), PubSubError> {
        let metadata = metadata_json(&req.metadata);
        let topic = req.topic;
        let data = req.data;
        self.shared
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO pubsub_messages (topic, data, metadata, published_at)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![topic, data.as_ref(), metadata, now_ms()])
                .map(|_| ())
            })
            .await
            .map_err(|e| PubSubError::Other(format!("sqlite pub/sub: error from publish: {e}")))?;
        self.shared.wake();
        Ok(())
    }

    async fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Arc<dyn Handler>,
    ) -> Result<Subscription, PubSubError> {
        if req.topic.is_empty() {
            return Err(PubSubError::BadRequest("the topic is empty".into()));
        }
        let shared = self.shared.clone();
        let (topic, group) = shared.key(&req.topic);
        shared
            .db
            .call(move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO pubsub_groups (topic, consumer_group, last_id, created_at)
                     VALUES (?1, ?2, 0, ?3)",
                    params![topic, group, now_ms()],
                )
                .map(|_| ())
            })
            .await
            .map_err(|e| PubSubError::Other(format!("sqlite pub/sub: cannot subscribe: {e}")))?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (tx, queue) = workers::queue(shared.config.queue_depth);
        let topic: Arc<str> = Arc::from(req.topic.as_str());
        let sub = Arc::new(Sub {
            shared: shared.clone(),
            topic: topic.clone(),
            tx,
            stop: stop_rx.clone(),
            returned: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(async move {
            let fetching = tokio::spawn(sub.clone().fetch_loop());
            let settle_sub = sub.clone();
            let settle = move |id: i64, ack: Ack| {
                let sub = settle_sub.clone();
                async move {
                    let result = match ack {
                        Ack::Done => sub.shared.settle(&sub.topic, id, None).await,
                        Ack::Retry if sub.stopping() => {
                            sub.returned
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(id);
                            Ok(())
                        }
                        // Due again processingTimeout from now.
                        Ack::Retry => sub.shared.settle(&sub.topic, id, Some(now_ms())).await,
                    };
                    if let Err(e) = result {
                        // Left as it was: delivered again after processingTimeout.
                        log::warn(
                            scope::COMPONENTS,
                            &format!(
                                "sqlite pub/sub: cannot settle message {id} of {}: {e}",
                                sub.topic
                            ),
                        );
                    }
                    sub.shared.release(&sub.topic, id);
                }
            };
            workers::run(
                shared.config.concurrency,
                queue.clone(),
                handler,
                topic.clone(),
                stop_rx,
                settle,
            )
            .await;
            let _ = fetching.await;
            // Hand back what was fetched but not handled: due at once for the group.
            let mut back = workers::drain(&queue).await;
            back.extend(std::mem::take(
                &mut *sub.returned.lock().unwrap_or_else(|p| p.into_inner()),
            ));
            for id in &back {
                shared.release(&topic, *id);
            }
            if !back.is_empty() {
                let (t, g) = shared.key(&topic);
                match shared
                    .db
                    .call(move |conn| set_delivered_at(conn, &t, &g, &back, 0))
                    .await
                {
                    Ok(()) => shared.wake(),
                    Err(e) => log::warn(
                        scope::COMPONENTS,
                        &format!(
                            "sqlite pub/sub: cannot hand back messages of {topic} (delivered \
                             again after processingTimeout): {e}"
                        ),
                    ),
                }
            }
        });
        Ok(Subscription::new(stop_tx, vec![task]))
    }

    async fn close(&self) {
        self.cleanup.abort();
        self.shared.db.close();
    }
}

/// Registry row: checks the metadata without touching the file.
pub fn validate(c: &Component, ctx: &Context) -> Result<(), ResourceError> {
    Config::from_component(c, ctx).map(|_| ())
}

/// Registry row: opens (creating if needed) the database.
pub fn create(c: Component, ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let broker = SqlitePubSub::open(&c, &ctx).await?;
        Ok(Instance::PubSub(Arc::new(broker)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_defaults_and_errors_name_the_field() {
        let ctx = Context::new("app");
        let base = || Component::new("p", "pubsub.sqlite").with_meta("connectionString", "x.db");
        let c = Config::from_component(&base(), &ctx).unwrap();
        assert_eq!(c.consumer_id, "app");
        assert_eq!(c.processing_timeout, Duration::from_secs(30));
        assert_eq!(c.poll_interval, Duration::from_millis(100));
        assert_eq!((c.queue_depth, c.concurrency, c.max_len), (100, 10, None));
        let c =
            Config::from_component(&base().with_meta("processingTimeout", "250"), &ctx).unwrap();
        assert_eq!(c.processing_timeout, Duration::from_millis(250));
        for (field, value) in [
            ("connectionString", ":memory:"),
            ("processingTimeout", "0"),
            ("concurrency", "0"),
            ("maxLenApprox", "-3"),
            ("pollInterval", "often"),
        ] {
            let c = Component::new("p", "pubsub.sqlite")
                .with_meta(
                    "connectionString",
                    if field == "connectionString" {
                        value
                    } else {
                        "x.db"
                    },
                )
                .with_meta(field, value);
            let e = Config::from_component(&c, &ctx).unwrap_err().to_string();
            assert!(e.contains(&format!("field {field}")), "{e}");
        }
        let e = Config::from_component(&Component::new("p", "pubsub.sqlite"), &ctx)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("field connectionString") && e.contains("required"),
            "{e}"
        );
    }
}

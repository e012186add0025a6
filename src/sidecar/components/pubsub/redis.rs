//! `pubsub.redis` on Redis Streams, with the official layout and metadata so that official
//! daprd and this one can share a Redis:
//!
//! * one stream per topic (the key is the topic name); a message is
//!   `XADD <topic> [MAXLEN ~ <maxLenApprox> | MINID ~ <now - streamTTL>] * data <bytes>
//!   metadata <JSON object of the publish metadata>`;
//! * consumer group and consumer name are both `consumerID` (default: the app id), created
//!   with `XGROUP CREATE <topic> <group> 0 MKSTREAM` (an existing group is kept), so apps
//!   with different ids each get every message and instances of one app compete;
//! * new messages are read with `XREADGROUP GROUP <g> <g> COUNT <queueDepth> BLOCK
//!   <readTimeout> STREAMS <topic> >` on a connection of the subscription's own, queued
//!   (at most `queueDepth`) and handled by `concurrency` workers; [`Ack::Done`] is `XACK`ed;
//! * a message answered [`Ack::Retry`], or never answered (the sidecar died), stays pending:
//!   every `redeliverInterval` the group's pending list is scanned (`XPENDING`) and entries
//!   idle for `processingTimeout` are taken over with `XCLAIM` and delivered again. Either
//!   being 0 disables this (as upstream), and with it redelivery.
//!
//! Beyond upstream: entries this sidecar still holds (queued or being handled) are skipped
//! by the scan and their idle time is reset (`XCLAIM ... JUSTID`), so a slow handler does not
//! get its message delivered a second time; on close, queued entries and those answered
//! Retry while closing are handed back (`XCLAIM ... IDLE <processingTimeout>`), so the next
//! subscription of the group takes them at once instead of after `processingTimeout`; a
//! failing read backs off (100 ms doubling to 5 s) instead of spinning, and a lost group
//! (Redis restarted without persistence) is created again. Upstream since 1.17 also `XACK`s
//! what the handler failed on; we leave it pending, so Retry means redelivery.
//!
//! Metadata: the connection keys of `state.redis` (`redisHost`, `redisPassword`,
//! `redisUsername`, `redisDB`, `redisType`, `enableTLS`, timeouts, `redisMaxRetries`,
//! `redisMinRetryInterval`, `redisMaxRetryInterval`; see `components::redis`), `consumerID`,
//! `processingTimeout` (60 s), `redeliverInterval` (15 s), `queueDepth` (100),
//! `concurrency` (10 handler calls at a time per subscription), `maxLenApprox` or
//! `streamTTL`. Plain integers are milliseconds, except for `streamTTL` (seconds, as dapr/kit
//! decodes durations).
//!
//! Every command is bounded by the connection timeouts (`components::redis`). Limits: single
//! node, no TLS; a stream entry deleted while pending (trimming) is dropped from the pending
//! list by Redis 7's `XCLAIM`, and left there (harmlessly) by older servers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{RedisError, Value};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, watch};

use super::{
    Ack, Handler, Message, Metadata, PubSub, PubSubError, PublishRequest, SubscribeRequest,
    Subscription, workers,
};
use crate::sidecar::components::metadata::{meta_duration, meta_int};
use crate::sidecar::components::redis::{self, Client, MS, Settings};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::log::{self, scope};
use crate::sidecar::resources::{Component, ResourceError};

/// How the stream is trimmed on publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// `MAXLEN ~ n`.
    MaxLen(u64),
    /// `MINID ~ <now - ttl>`: entries older than the TTL go.
    MaxAge(Duration),
}

/// Validated component metadata.
#[derive(Debug, Clone)]
pub struct Config {
    pub connection: Settings,
    pub consumer_id: String,
    pub processing_timeout: Duration,
    pub redeliver_interval: Duration,
    pub queue_depth: usize,
    pub concurrency: usize,
    pub trim: Option<Trim>,
}

impl Config {
    pub fn from_component(c: &Component, ctx: &Context) -> Result<Config, ResourceError> {
        let connection = Settings::from_component(c, redis::PUBSUB)?;
        let consumer_id = c
            .meta("consumerID")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(&ctx.app_id)
            .to_string();
        if consumer_id.is_empty() {
            return Err(c.field_error("consumerID", "required when daprd runs without an app id"));
        }
        let processing_timeout =
            meta_duration(c, "processingTimeout", Duration::from_secs(60), MS)?;
        let redeliver_interval =
            meta_duration(c, "redeliverInterval", Duration::from_secs(15), MS)?;
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
        let ttl = meta_duration(c, "streamTTL", Duration::ZERO, Duration::from_secs(1))?;
        let trim = match (max_len, ttl.is_zero()) {
            (0, true) => None,
            (0, false) => Some(Trim::MaxAge(ttl)),
            (n, true) => Some(Trim::MaxLen(n as u64)),
            (_, false) => {
                return Err(c.field_error(
                    "streamTTL",
                    "cannot be combined with maxLenApprox; choose one way to trim the stream",
                ));
            }
        };
        Ok(Config {
            connection,
            consumer_id,
            processing_timeout,
            redeliver_interval,
            queue_depth,
            concurrency,
            trim,
        })
    }

    fn reclaims(&self) -> bool {
        !self.processing_timeout.is_zero() && !self.redeliver_interval.is_zero()
    }
}

/// Stream entry ids this sidecar holds (queued or being handled), per topic.
type InFlight = Mutex<HashMap<String, HashSet<String>>>;

struct Shared {
    client: Client,
    conn: ConnectionManager,
    config: Config,
    in_flight: InFlight,
}

pub struct RedisPubSub {
    shared: Arc<Shared>,
}

impl RedisPubSub {
    /// Connects (and authenticates) to the configured server.
    pub async fn connect(c: &Component, ctx: &Context) -> Result<RedisPubSub, ResourceError> {
        let config = Config::from_component(c, ctx)?;
        let client = Client::new(c, config.connection.clone())?;
        let conn = client.connect(Duration::ZERO).await.map_err(|e| e.at(c))?;
        Ok(RedisPubSub {
            shared: Arc::new(Shared {
                client,
                conn,
                config,
                in_flight: Mutex::new(HashMap::new()),
            }),
        })
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// Go's `json.Marshal` of a `map[string]string`: keys sorted.
fn metadata_json(metadata: &Metadata) -> String {
    let sorted: BTreeMap<&String, &String> = metadata.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_else(|_| "{}".to_string())
}

impl Shared {
    fn address(&self) -> String {
        self.client.settings.address()
    }

    fn group(&self) -> &str {
        &self.config.consumer_id
    }

    async fn run<T: ::redis::FromRedisValue>(
        &self,
        what: &str,
        cmd: &::redis::Cmd,
    ) -> Result<T, String> {
        let mut conn = self.conn.clone();
        self.client
            .bounded(what, Duration::ZERO, cmd.query_async::<T>(&mut conn))
            .await?
            .map_err(|e| format!("redis {}: {what} failed: {e}", self.address()))
    }

    /// `XGROUP CREATE <topic> <group> 0 MKSTREAM`; an existing group is fine.
    async fn create_group(&self, topic: &str) -> Result<(), String> {
        let mut cmd = ::redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(topic)
            .arg(self.group())
            .arg("0")
            .arg("MKSTREAM");
        match self.run::<Value>("XGROUP CREATE", &cmd).await {
            Ok(_) => Ok(()),
            Err(e) if e.contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn hold(&self, topic: &str, id: &str) {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(topic.to_string())
            .or_default()
            .insert(id.to_string());
    }

    fn release(&self, topic: &str, id: &str) {
        let mut held = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ids) = held.get_mut(topic) {
            ids.remove(id);
            if ids.is_empty() {
                held.remove(topic);
            }
        }
    }

    fn holds(&self, topic: &str, id: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .is_some_and(|ids| ids.contains(id))
    }

    async fn ack(&self, topic: &str, id: &str) {
        let mut cmd = ::redis::cmd("XACK");
        cmd.arg(topic).arg(self.group()).arg(id);
        if let Err(e) = self.run::<i64>("XACK", &cmd).await {
            // It stays pending and is delivered again after processingTimeout.
            log::warn(
                scope::COMPONENTS,
                &format!("redis streams: cannot acknowledge message {id} of {topic}: {e}"),
            );
        }
    }

    /// `XCLAIM` to ourselves without delivering: resets the idle time of entries we hold
    /// (`idle: None`), or sets it so that they are due at once (hand-back).
    async fn touch(&self, topic: &str, ids: &[String], idle: Option<Duration>) {
        if ids.is_empty() {
            return;
        }
        let mut cmd = ::redis::cmd("XCLAIM");
        cmd.arg(topic).arg(self.group()).arg(self.group()).arg(0);
        for id in ids {
            cmd.arg(id);
        }
        if let Some(idle) = idle {
            cmd.arg("IDLE").arg(ms(idle));
        }
        cmd.arg("JUSTID");
        if let Err(e) = self.run::<Value>("XCLAIM", &cmd).await {
            log::debug(
                scope::COMPONENTS,
                &format!("redis streams: cannot refresh pending messages of {topic}: {e}"),
            );
        }
    }
}

/// A decoded stream entry; `fields: None` when the entry no longer exists.
struct Entry {
    id: String,
    fields: Option<HashMap<String, Vec<u8>>>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn bytes(v: Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b,
        Value::SimpleString(s) => s.into_bytes(),
        Value::Int(i) => i.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

/// Entries as `XREADGROUP`, `XCLAIM` and `XRANGE` return them: `[[id, [field, value, ...]]]`.
fn entries(v: Value) -> Vec<Entry> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(mut pair) = item else {
            continue; // a deleted entry, as servers before 7 answer XCLAIM
        };
        if pair.len() != 2 {
            continue;
        }
        let raw_fields = pair.pop().unwrap_or_default();
        let Some(id) = text(&pair[0]) else { continue };
        let fields = match raw_fields {
            Value::Array(flat) => {
                let mut map = HashMap::new();
                let mut it = flat.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    if let Some(k) = text(&k) {
                        map.insert(k, bytes(v));
                    }
                }
                Some(map)
            }
            Value::Map(pairs) => Some(
                pairs
                    .into_iter()
                    .filter_map(|(k, v)| Some((text(&k)?, bytes(v))))
                    .collect(),
            ),
            _ => None,
        };
        out.push(Entry { id, fields });
    }
    out
}

/// The entries of `XREADGROUP`'s `[[stream, entries]]` answer (nil when nothing came).
fn read_entries(v: Value) -> Vec<Entry> {
    let streams = match v {
        Value::Array(streams) => streams,
        Value::Map(pairs) => pairs
            .into_iter()
            .map(|(k, v)| Value::Array(vec![k, v]))
            .collect(),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for s in streams {
        if let Value::Array(mut pair) = s
            && pair.len() == 2
        {
            out.extend(entries(pair.pop().unwrap_or_default()));
        }
    }
    out
}

/// The message of a stream entry: `data` as bytes, `metadata` as a JSON object of strings.
fn message(topic: &str, id: &str, mut fields: HashMap<String, Vec<u8>>) -> Message {
    let data = fields.remove("data").unwrap_or_default();
    let metadata = match fields.remove("metadata") {
        None => Metadata::new(),
        Some(raw) => serde_json::from_slice::<Metadata>(&raw).unwrap_or_else(|e| {
            log::warn(
                scope::COMPONENTS,
                &format!("redis streams: cannot read the metadata of message {id} of {topic}: {e}"),
            );
            Metadata::new()
        }),
    };
    Message {
        topic: topic.to_string(),
        data: Bytes::from(data),
        metadata,
    }
}

/// The id after `id` (`ms-seq` ⇒ `ms-(seq+1)`), for paging through `XPENDING`.
fn successor(id: &str) -> Option<String> {
    let (ms, seq) = id.split_once('-')?;
    let seq: u64 = seq.parse().ok()?;
    Some(match seq.checked_add(1) {
        Some(next) => format!("{ms}-{next}"),
        None => format!("{}-0", ms.parse::<u64>().ok()?.checked_add(1)?),
    })
}

/// One subscription's running state.
struct Sub {
    shared: Arc<Shared>,
    topic: Arc<str>,
    tx: mpsc::Sender<(String, Message)>,
    stop: watch::Receiver<bool>,
    /// Entries answered Retry while closing, handed back with the queued ones.
    returned: Mutex<Vec<String>>,
}

impl Sub {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Queues entries for the workers; false once the subscription stops.
    async fn enqueue(&self, found: Vec<Entry>) -> bool {
        let mut found = found.into_iter();
        while let Some(Entry { id, fields }) = found.next() {
            let Some(fields) = fields else {
                // Trimmed away while pending: nothing left to deliver.
                self.shared.ack(&self.topic, &id).await;
                continue;
            };
            let msg = message(&self.topic, &id, fields);
            self.shared.hold(&self.topic, &id);
            let sent = tokio::select! {
                biased;
                _ = Subscription::stopped(self.stop.clone()) => false,
                sent = self.tx.send((id.clone(), msg)) => sent.is_ok(),
            };
            if !sent {
                self.shared.release(&self.topic, &id);
                let mut returned = self.returned.lock().unwrap_or_else(|p| p.into_inner());
                returned.push(id);
                returned.extend(found.filter(|e| e.fields.is_some()).map(|e| e.id));
                return false;
            }
        }
        true
    }

    /// Reads new entries with `XREADGROUP ... >` until stopped.
    async fn read_loop(self: Arc<Self>, mut reader: ConnectionManager) {
        let shared = &self.shared;
        let block = shared.client.settings.read_timeout;
        let mut backoff = workers::Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut cmd = ::redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(shared.group())
            .arg(shared.group())
            .arg("COUNT")
            .arg(shared.config.queue_depth)
            .arg("BLOCK")
            .arg(ms(block))
            .arg("STREAMS")
            .arg(&*self.topic)
            .arg(">");
        while !self.stopping() {
            let read = tokio::select! {
                biased;
                _ = Subscription::stopped(self.stop.clone()) => break,
                read = shared.client.bounded("XREADGROUP", block, cmd.query_async::<Value>(&mut reader)) => read,
            };
            let failure = match read {
                Ok(Ok(v)) => {
                    backoff.reset();
                    if !self.enqueue(read_entries(v)).await {
                        break;
                    }
                    continue;
                }
                Ok(Err(e)) => self.read_failed(e).await,
                Err(timeout) => timeout,
            };
            log::warn(
                scope::COMPONENTS,
                &format!(
                    "redis streams: error reading from stream {}: {failure}",
                    self.topic
                ),
            );
            tokio::select! {
                _ = Subscription::stopped(self.stop.clone()) => break,
                _ = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
    }

    /// What a failed read means; a lost group is created again.
    async fn read_failed(&self, e: RedisError) -> String {
        let text = e.to_string();
        if text.contains("NOGROUP") {
            log::warn(
                scope::COMPONENTS,
                &format!(
                    "redis streams: consumer group {} of stream {} is gone (Redis lost its data, \
                     or the group or stream was deleted); creating it again",
                    self.shared.group(),
                    self.topic
                ),
            );
            if let Err(e) = self.shared.create_group(&self.topic).await {
                return e;
            }
        }
        format!("redis {}: {text}", self.shared.address())
    }

    /// Every `redeliverInterval`: takes over entries idle for `processingTimeout`.
    async fn reclaim_loop(self: Arc<Self>) {
        let every = self.shared.config.redeliver_interval;
        loop {
            if let Err(e) = self.reclaim().await {
                log::warn(
                    scope::COMPONENTS,
                    &format!(
                        "redis streams: error reclaiming pending messages of {}: {e}",
                        self.topic
                    ),
                );
            }
            tokio::select! {
                _ = Subscription::stopped(self.stop.clone()) => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// One pass over the group's pending list (`XPENDING`, a page of `queueDepth` at a time).
    async fn reclaim(&self) -> Result<(), String> {
        let shared = &self.shared;
        let timeout = shared.config.processing_timeout;
        let page = shared.config.queue_depth;
        let mut start = "-".to_string();
        while !self.stopping() {
            let mut cmd = ::redis::cmd("XPENDING");
            cmd.arg(&*self.topic)
                .arg(shared.group())
                .arg(&start)
                .arg("+")
                .arg(page);
            let pending: Vec<(String, String, u64, u64)> = shared.run("XPENDING", &cmd).await?;
            let Some(last) = pending.last().map(|p| p.0.clone()) else {
                break;
            };
            let mut due = Vec::new();
            let mut held = Vec::new();
            for (id, _consumer, idle_ms, _deliveries) in &pending {
                let idle = Duration::from_millis(*idle_ms);
                if shared.holds(&self.topic, id) {
                    if idle >= timeout / 2 {
                        held.push(id.clone());
                    }
                } else if idle >= timeout {
                    due.push(id.clone());
                }
            }
            shared.touch(&self.topic, &held, None).await;
            if !due.is_empty() {
                let mut cmd = ::redis::cmd("XCLAIM");
                cmd.arg(&*self.topic)
                    .arg(shared.group())
                    .arg(shared.group())
                    .arg(ms(timeout));
                for id in &due {
                    cmd.arg(id);
                }
                let claimed: Value = shared.run("XCLAIM", &cmd).await?;
                if !self.enqueue(entries(claimed)).await {
                    break;
                }
            }
            if pending.len() < page {
                break;
            }
            match successor(&last) {
                Some(next) => start = next,
                None => break,
            }
        }
        Ok(())
    }
}

#[async_trait]
impl PubSub for RedisPubSub {
    async fn publish(&self, req: PublishRequest) -> Result<(), PubSubError> {
        let shared = &self.shared;
        let mut cmd = ::redis::cmd("XADD");
        cmd.arg(&req.topic);
        match shared.config.trim {
            None => {}
            Some(Trim::MaxLen(n)) => {
                cmd.arg("MAXLEN").arg("~").arg(n);
            }
            Some(Trim::MaxAge(ttl)) => {
                cmd.arg("MINID")
                    .arg("~")
                    .arg(now_ms().saturating_sub(ms(ttl)));
            }
        }
        cmd.arg("*")
            .arg("data")
            .arg(req.data.as_ref())
            .arg("metadata")
            .arg(metadata_json(&req.metadata));
        shared
            .run::<String>("XADD", &cmd)
            .await
            .map(|_| ())
            .map_err(|e| PubSubError::Other(format!("redis streams: error from publish: {e}")))
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
        shared
            .create_group(&req.topic)
            .await
            .map_err(PubSubError::Other)?;
        // XREADGROUP BLOCK holds its connection, so each subscription reads on its own.
        let reader = shared
            .client
            .connect(shared.client.settings.read_timeout)
            .await
            .map_err(|e| PubSubError::Other(e.to_string()))?;
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
            let reading = tokio::spawn(sub.clone().read_loop(reader));
            let reclaiming = shared
                .config
                .reclaims()
                .then(|| tokio::spawn(sub.clone().reclaim_loop()));
            let settle_sub = sub.clone();
            let settle = move |id: String, ack: Ack| {
                let sub = settle_sub.clone();
                async move {
                    match ack {
                        Ack::Done => sub.shared.ack(&sub.topic, &id).await,
                        Ack::Retry if sub.stopping() => sub
                            .returned
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(id.clone()),
                        Ack::Retry => {}
                    }
                    sub.shared.release(&sub.topic, &id);
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
            let _ = reading.await;
            if let Some(r) = reclaiming {
                let _ = r.await;
            }
            // Hand back what was fetched but not handled, so the group's next reader takes
            // it at its first reclaim pass.
            let mut back = workers::drain(&queue).await;
            back.extend(std::mem::take(
                &mut *sub.returned.lock().unwrap_or_else(|p| p.into_inner()),
            ));
            for id in &back {
                shared.release(&topic, id);
            }
            if shared.config.reclaims() {
                shared
                    .touch(&topic, &back, Some(shared.config.processing_timeout))
                    .await;
            }
        });
        Ok(Subscription::new(stop_tx, vec![task]))
    }
}

/// Registry row: checks the metadata without connecting.
pub fn validate(c: &Component, ctx: &Context) -> Result<(), ResourceError> {
    Config::from_component(c, ctx).map(|_| ())
}

/// Registry row: connects (and authenticates) to the server.
pub fn create(c: Component, ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let broker = RedisPubSub::connect(&c, &ctx).await?;
        Ok(Instance::PubSub(Arc::new(broker)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_written_as_go_marshals_it() {
        let mut m = Metadata::new();
        m.insert("b".into(), "2".into());
        m.insert("a".into(), "\"1\"".into());
        assert_eq!(metadata_json(&m), r#"{"a":"\"1\"","b":"2"}"#);
        assert_eq!(metadata_json(&Metadata::new()), "{}");
    }

    #[test]
    fn pending_pages_continue_after_the_last_id() {
        assert_eq!(
            successor("1700000000000-0").as_deref(),
            Some("1700000000000-1")
        );
        assert_eq!(
            successor(&format!("5-{}", u64::MAX)).as_deref(),
            Some("6-0")
        );
        assert_eq!(successor("junk"), None);
    }

    #[test]
    fn entries_decode_fields_and_deleted_ones() {
        let v = Value::Array(vec![
            Value::Array(vec![
                Value::BulkString(b"1-0".to_vec()),
                Value::Array(vec![
                    Value::BulkString(b"data".to_vec()),
                    Value::BulkString(b"\x00\xff".to_vec()),
                    Value::BulkString(b"metadata".to_vec()),
                    Value::BulkString(br#"{"k":"v"}"#.to_vec()),
                ]),
            ]),
            Value::Array(vec![Value::BulkString(b"2-0".to_vec()), Value::Nil]),
            Value::Nil,
        ]);
        let got = entries(v);
        assert_eq!(got.len(), 2);
        let msg = message("t", &got[0].id, got[0].fields.clone().unwrap());
        assert_eq!(&msg.data[..], b"\x00\xff");
        assert_eq!(msg.metadata.get("k").map(String::as_str), Some("v"));
        assert_eq!(got[1].id, "2-0");
        assert!(got[1].fields.is_none());
    }

    #[test]
    fn limits_are_checked_naming_the_field() {
        let ctx = Context::new("app");
        let base = || Component::new("p", "pubsub.redis").with_meta("redisHost", "localhost");
        let c = Config::from_component(&base(), &ctx).unwrap();
        assert_eq!(c.consumer_id, "app");
        assert_eq!(c.processing_timeout, Duration::from_secs(60));
        assert_eq!(c.redeliver_interval, Duration::from_secs(15));
        assert_eq!((c.queue_depth, c.concurrency, c.trim), (100, 10, None));
        let c = Config::from_component(
            &base()
                .with_meta("processingTimeout", "1500")
                .with_meta("redeliverInterval", "2s")
                .with_meta("maxLenApprox", "10"),
            &ctx,
        )
        .unwrap();
        assert_eq!(c.processing_timeout, Duration::from_millis(1500));
        assert_eq!(c.redeliver_interval, Duration::from_secs(2));
        assert_eq!(c.trim, Some(Trim::MaxLen(10)));
        for (field, value) in [
            ("concurrency", "0"),
            ("queueDepth", "many"),
            ("processingTimeout", "soon"),
            ("maxLenApprox", "-1"),
            ("streamTTL", "1h"),
        ] {
            let mut c = base().with_meta(field, value);
            if field == "streamTTL" {
                c = c.with_meta("maxLenApprox", "5");
            }
            let e = Config::from_component(&c, &ctx).unwrap_err().to_string();
            assert!(e.contains(&format!("field {field}")), "{e}");
        }
    }
}

//! `pubsub.in-memory`: an in-process event bus, per sidecar (no metadata). Publisher and
//! subscriber must be the same daprd; nothing survives a restart.
//!
//! As upstream: every subscription of a topic receives every message (fan-out, also between
//! subscriptions of one app), a subscription topic ending in `*` matches every topic that
//! starts with what precedes the `*` (but not that prefix alone; feature
//! `SUBSCRIBE_WILDCARDS`), messages published while nobody subscribes are dropped, and one
//! subscription's handler is called for one message at a time, in publish order.
//!
//! Unlike upstream (which retries a failing handler ten times, 100 ms apart, then drops the
//! message), an [`Ack::Retry`] is redelivered until the handler answers [`Ack::Done`]: after
//! 100 ms, doubling per attempt up to 5 s, without holding up the messages behind it. This
//! keeps the at-least-once cases of the conformance suite true for every broker. Delivered
//! messages carry the publish metadata (upstream hands the subscription's metadata instead).
//! On close, queued and waiting-for-redelivery messages are dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{
    Ack, Handler, Message, PubSub, PubSubError, PublishRequest, SubscribeRequest, Subscription,
    workers,
};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

/// First redelivery delay after [`Ack::Retry`]; doubles per attempt up to [`RETRY_MAX`].
pub const RETRY_MIN: Duration = Duration::from_millis(100);
pub const RETRY_MAX: Duration = Duration::from_secs(5);

struct Sub {
    id: u64,
    pattern: String,
    tx: mpsc::UnboundedSender<Message>,
}

#[derive(Default)]
struct Bus {
    subs: Mutex<Vec<Sub>>,
    next_id: AtomicU64,
    closed: AtomicBool,
}

impl Bus {
    fn remove(&self, id: u64) {
        self.subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|s| s.id != id);
    }
}

/// Whether a subscription to `pattern` receives messages of `topic`.
pub fn matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => pattern == topic || (topic.starts_with(prefix) && topic != prefix),
        None => pattern == topic,
    }
}

#[derive(Default)]
pub struct MemoryPubSub {
    bus: Arc<Bus>,
}

impl MemoryPubSub {
    pub fn new() -> MemoryPubSub {
        MemoryPubSub::default()
    }
}

#[async_trait]
impl PubSub for MemoryPubSub {
    async fn publish(&self, req: PublishRequest) -> Result<(), PubSubError> {
        if self.bus.closed.load(Ordering::Acquire) {
            return Err(PubSubError::Other("component is closed".into()));
        }
        let msg = Message {
            topic: req.topic,
            data: req.data,
            metadata: req.metadata,
        };
        let subs = self.bus.subs.lock().unwrap_or_else(|p| p.into_inner());
        for s in subs.iter().filter(|s| matches(&s.pattern, &msg.topic)) {
            // A closed receiver means that subscription is stopping: nothing to deliver to.
            let _ = s.tx.send(msg.clone());
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Arc<dyn Handler>,
    ) -> Result<Subscription, PubSubError> {
        if self.bus.closed.load(Ordering::Acquire) {
            return Err(PubSubError::Other("component is closed".into()));
        }
        if req.topic.is_empty() {
            return Err(PubSubError::BadRequest("the topic is empty".into()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.bus.next_id.fetch_add(1, Ordering::Relaxed);
        self.bus
            .subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Sub {
                id,
                pattern: req.topic.clone(),
                tx,
            });
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(deliver(self.bus.clone(), id, rx, handler, stop_rx));
        Ok(Subscription::new(stop_tx, vec![task]))
    }

    fn features(&self) -> Vec<String> {
        vec!["SUBSCRIBE_WILDCARDS".to_string()]
    }

    async fn close(&self) {
        self.bus.closed.store(true, Ordering::Release);
        self.bus
            .subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// One subscription: new messages in publish order, and retried ones when due.
async fn deliver(
    bus: Arc<Bus>,
    id: u64,
    mut rx: mpsc::UnboundedReceiver<Message>,
    handler: Arc<dyn Handler>,
    stop: watch::Receiver<bool>,
) {
    // Waiting redeliveries by due time (and a sequence number, for equal times).
    let mut retries: BTreeMap<(Instant, u64), (Message, u32)> = BTreeMap::new();
    let mut seq = 0u64;
    loop {
        let due = retries.keys().next().map(|(at, _)| *at);
        let (msg, attempts) = tokio::select! {
            biased;
            _ = Subscription::stopped(stop.clone()) => break,
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                match retries.pop_first() {
                    Some((_, entry)) => entry,
                    None => continue,
                }
            }
            next = rx.recv() => match next {
                Some(msg) => (msg, 0),
                None => break,
            },
        };
        let topic = msg.topic.clone();
        if workers::call(&handler, &topic, msg.clone()).await == Ack::Retry {
            let attempts = attempts.saturating_add(1);
            let delay = RETRY_MIN
                .saturating_mul(1u32 << (attempts - 1).min(16))
                .min(RETRY_MAX);
            seq += 1;
            retries.insert((Instant::now() + delay, seq), (msg, attempts));
        }
    }
    bus.remove(id);
}

/// Registry row: no metadata to check.
pub fn validate(_c: &Component, _ctx: &Context) -> Result<(), ResourceError> {
    Ok(())
}

/// Registry row.
pub fn create(_c: Component, _ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move { Ok(Instance::PubSub(Arc::new(MemoryPubSub::new()))) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_longer_topics_with_the_prefix() {
        assert!(matches("orders", "orders"));
        assert!(!matches("orders", "orders2"));
        assert!(matches("topic*", "topic1"));
        assert!(matches("topic*", "topicX/y"));
        assert!(!matches("topic*", "topic"));
        assert!(!matches("topic*", "mytopic"));
        assert!(matches("topic*", "topic*"));
    }
}

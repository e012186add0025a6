//! Pub/sub brokers: one trait, the implementations (each registered by one row in
//! `components::registry`), and one conformance suite (`tests/it/conformance/pubsub.rs`)
//! run against every one of them.
//!
//! A broker moves opaque message bytes (the CloudEvent envelope the publishing sidecar
//! built, or a raw payload) with a metadata map, per topic. Delivery is at least once: a
//! subscriber's [`Handler`] answers [`Ack::Done`] (delivered, or deliberately dropped) or
//! [`Ack::Retry`] (the broker delivers the message again later, after its redelivery
//! interval). What the app answered, dead-letter topics and routing are the delivery
//! engine's business (`sidecar::pubsub`), not the broker's.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

pub mod memory;
pub mod redis;
pub mod scopes;
pub mod sqlite;
mod workers;

/// Publish-time or message metadata.
pub type Metadata = HashMap<String, String>;

/// One message to publish.
#[derive(Debug, Clone, Default)]
pub struct PublishRequest {
    pub topic: String,
    pub data: Bytes,
    /// The request's metadata (`metadata.*`), stored with the message where the broker can
    /// (Redis: the `metadata` field of the stream entry).
    pub metadata: Metadata,
    pub content_type: Option<String>,
}

/// One message delivered to a subscriber.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub topic: String,
    pub data: Bytes,
    pub metadata: Metadata,
}

/// A subscriber's verdict on one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Done with it: delivered, or dropped on purpose. The broker forgets it.
    Done,
    /// Not delivered: the broker delivers it again later.
    Retry,
}

/// Receives a subscription's messages; may be called concurrently.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, msg: Message) -> Ack;
}

/// What to subscribe to.
#[derive(Debug, Clone, Default)]
pub struct SubscribeRequest {
    pub topic: String,
    /// The subscription's metadata (from `/dapr/subscribe`, a Subscription resource, or a
    /// streaming subscription).
    pub metadata: Metadata,
}

#[derive(Debug, thiserror::Error)]
pub enum PubSubError {
    /// The request cannot be served as given (bad metadata, ...).
    #[error("{0}")]
    BadRequest(String),
    /// Connection, I/O, the server refused.
    #[error("{0}")]
    Other(String),
}

/// A running subscription; [`Subscription::close`] stops it gracefully.
pub struct Subscription {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Subscription {
    /// A subscription whose `tasks` watch `stop` (see [`Subscription::stopped`]).
    pub fn new(
        stop: tokio::sync::watch::Sender<bool>,
        tasks: Vec<tokio::task::JoinHandle<()>>,
    ) -> Self {
        Subscription { stop, tasks }
    }

    /// Resolves when the subscription is being closed (for the broker's tasks).
    pub async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Stops taking new messages, lets the handler calls in flight finish (what they do not
    /// acknowledge stays with the broker), and returns once the broker's tasks are done.
    pub async fn close(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

#[async_trait]
pub trait PubSub: Send + Sync + 'static {
    /// Stores one message; returns once the broker has it (durably, where it can).
    async fn publish(&self, req: PublishRequest) -> Result<(), PubSubError>;
    /// Starts delivering `req.topic`'s messages to `handler`.
    async fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Arc<dyn Handler>,
    ) -> Result<Subscription, PubSubError>;
    /// Capabilities reported in metadata (e.g. `SUBSCRIBE_WILDCARDS`).
    fn features(&self) -> Vec<String> {
        Vec::new()
    }
    /// Flush and release resources on shutdown (after every subscription closed).
    async fn close(&self) {}
}

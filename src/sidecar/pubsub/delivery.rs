//! One subscription's delivery: from the broker's message to the app's verdict (see the
//! module above for the rules), with batching for `bulkSubscribe`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use super::Target;
use super::cloudevents;
use super::routing::{self, Expr};
use crate::sidecar::app_channel::events::{
    BulkData, BulkEntry, BulkTopicEvent, EventStatus, TopicEvent, TopicSubscription,
};
use crate::sidecar::app_channel::{AppChannel, ChannelError};
use crate::sidecar::components::pubsub::{Ack, Handler, Message, PubSub, PublishRequest};
use crate::sidecar::log::{self, scope};

/// An event on its way to a streaming subscriber, and where its verdict goes.
pub struct StreamDelivery {
    pub event: TopicEvent,
    pub reply: oneshot::Sender<EventStatus>,
}

/// The `id` of an envelope, for log lines.
pub fn event_id(ce: &Map<String, Value>) -> String {
    ce.get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The app's subscriptions, asked with the official retries (3, backing off up to 10 s).
pub async fn app_subscriptions(
    channel: &AppChannel,
) -> Result<Vec<TopicSubscription>, ChannelError> {
    let mut wait = Duration::from_millis(500);
    let mut tries = 0;
    loop {
        match channel.subscriptions().await {
            Ok(s) => return Ok(s),
            Err(e) if tries >= 3 => return Err(e),
            Err(_) => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
                tries += 1;
            }
        }
    }
}

/// A subscription's handler of broker messages.
pub struct Delivery {
    pubsub_name: String,
    topic: String,
    rules: Vec<(Expr, String)>,
    default_path: String,
    raw: bool,
    target: Target,
    dead_letter: Option<(Arc<dyn PubSub>, String)>,
    batches: Option<mpsc::Sender<Pending>>,
}

/// One entry waiting in a batch.
struct Pending {
    path: String,
    entry: BulkEntry,
    reply: oneshot::Sender<EventStatus>,
}

impl Delivery {
    pub fn new(
        sub: &TopicSubscription,
        target: Target,
        dead_letter: Option<(Arc<dyn PubSub>, String)>,
    ) -> Result<Delivery, String> {
        let mut rules = Vec::new();
        for r in &sub.routes.rules {
            // A rule without a condition takes every event (gRPC apps list one for a
            // subscription without routes).
            let expr = if r.matcher.trim().is_empty() {
                Expr::Lit(Value::Bool(true))
            } else {
                routing::parse(&r.matcher)
                    .map_err(|e| format!("route rule {:?}: {e}", r.matcher))?
            };
            // Paths go to the app as declared: gRPC apps match them exactly.
            rules.push((expr, r.path.clone()));
        }
        let raw = sub
            .metadata
            .get("rawPayload")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let batches = match (&target, sub.bulk.enabled) {
            (Target::App(channel), true) => Some(start_batcher(
                channel.clone(),
                sub.pubsub_name.clone(),
                sub.topic.clone(),
                sub.metadata.clone(),
                if sub.bulk.max_messages_count == 0 {
                    100
                } else {
                    sub.bulk.max_messages_count as usize
                },
                Duration::from_millis(if sub.bulk.max_await_duration_ms == 0 {
                    1000
                } else {
                    sub.bulk.max_await_duration_ms
                }),
            )),
            _ => None,
        };
        Ok(Delivery {
            pubsub_name: sub.pubsub_name.clone(),
            topic: sub.topic.clone(),
            rules,
            default_path: sub.routes.default.clone(),
            raw,
            target,
            dead_letter,
            batches,
        })
    }

    /// The route for `ce`: the first matching rule, else the default; `None` when neither.
    fn route(&self, ce: &Map<String, Value>) -> Option<String> {
        self.rules
            .iter()
            .find(|(e, _)| routing::matches(e, ce))
            .map(|(_, p)| p.clone())
            .or_else(|| Some(self.default_path.clone()).filter(|p| !p.is_empty()))
    }

    /// A message given up on: to the dead-letter topic when one is configured (the broker
    /// keeps it if that fails), else acknowledged.
    async fn give_up(&self, msg: &Message, why: &str) -> Ack {
        let Some((broker, topic)) = &self.dead_letter else {
            log::warn(
                scope::RUNTIME,
                &format!(
                    "dropping a message of topic {} on pubsub {}: {why}",
                    self.topic, self.pubsub_name
                ),
            );
            return Ack::Done;
        };
        let req = PublishRequest {
            topic: topic.clone(),
            data: msg.data.clone(),
            metadata: msg.metadata.clone(),
            content_type: None,
        };
        match broker.publish(req).await {
            Ok(()) => {
                log::info(
                    scope::RUNTIME,
                    &format!(
                        "sent a message of topic {} to the dead-letter topic {topic}: {why}",
                        self.topic
                    ),
                );
                Ack::Done
            }
            Err(e) => {
                log::warn(
                    scope::RUNTIME,
                    &format!("cannot send a message to the dead-letter topic {topic}: {e}"),
                );
                Ack::Retry
            }
        }
    }
}

#[async_trait]
impl Handler for Delivery {
    async fn handle(&self, msg: Message) -> Ack {
        let envelope = if self.raw {
            cloudevents::from_raw_payload(&msg.data, &self.topic, &self.pubsub_name)
        } else {
            match serde_json::from_slice::<Value>(&msg.data) {
                Ok(Value::Object(m)) => m,
                _ => return self.give_up(&msg, "it is not a CloudEvent").await,
            }
        };
        if cloudevents::has_expired(&envelope) {
            return self.give_up(&msg, "it expired").await;
        }
        // A stream takes every event of its topic; an app only those a route matches.
        let path = match &self.target {
            Target::Stream(_) => Some(String::new()),
            Target::App(_) => self.route(&envelope),
        };
        let Some(path) = path else {
            return self.give_up(&msg, "no route matches it").await;
        };
        let status = match &self.batches {
            Some(batches) => {
                let (reply, verdict) = oneshot::channel();
                let content_type = envelope
                    .get("datacontenttype")
                    .and_then(Value::as_str)
                    .unwrap_or(cloudevents::CLOUDEVENTS_CONTENT_TYPE)
                    .to_string();
                let entry = BulkEntry {
                    entry_id: uuid::Uuid::new_v4().to_string(),
                    event: if self.raw {
                        BulkData::Raw(msg.data.clone())
                    } else {
                        BulkData::CloudEvent(envelope)
                    },
                    content_type,
                    metadata: msg.metadata.clone(),
                };
                if batches.send(Pending { path, entry, reply }).await.is_err() {
                    return Ack::Retry;
                }
                verdict.await.unwrap_or(EventStatus::Retry)
            }
            None => {
                let event = TopicEvent {
                    pubsub_name: self.pubsub_name.clone(),
                    topic: self.topic.clone(),
                    path,
                    envelope,
                    metadata: msg.metadata.clone(),
                };
                self.target.deliver(event).await
            }
        };
        match status {
            EventStatus::Success => Ack::Done,
            EventStatus::Drop => self.give_up(&msg, "the app dropped it").await,
            EventStatus::Retry if self.dead_letter.is_some() => {
                self.give_up(&msg, "the app did not take it").await
            }
            EventStatus::Retry => Ack::Retry,
        }
    }
}

/// Collects entries into batches of at most `max` (or what arrived within `wait` of the
/// first), one bulk event per route, and hands each entry its verdict.
fn start_batcher(
    channel: Arc<AppChannel>,
    pubsub_name: String,
    topic: String,
    metadata: HashMap<String, String>,
    max: usize,
    wait: Duration,
) -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(max.max(1) * 2);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + wait;
            while batch.len() < max {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(p)) => batch.push(p),
                    _ => break,
                }
            }
            let mut by_path: HashMap<String, Vec<Pending>> = HashMap::new();
            for p in batch {
                by_path.entry(p.path.clone()).or_default().push(p);
            }
            for (path, pending) in by_path {
                let event = BulkTopicEvent {
                    id: uuid::Uuid::new_v4().to_string(),
                    pubsub_name: pubsub_name.clone(),
                    topic: topic.clone(),
                    path,
                    metadata: metadata.clone(),
                    entries: pending.iter().map(|p| p.entry.clone()).collect(),
                };
                let verdicts: HashMap<String, EventStatus> =
                    match channel.bulk_topic_event(&event).await {
                        Ok(list) => list.into_iter().map(|s| (s.entry_id, s.status)).collect(),
                        Err(e) => {
                            log::warn(
                                scope::RUNTIME,
                                &format!(
                                    "delivering a batch of topic {topic} to /{} failed: {e}",
                                    event.path
                                ),
                            );
                            HashMap::new()
                        }
                    };
                for p in pending {
                    let v = verdicts
                        .get(&p.entry.entry_id)
                        .copied()
                        .unwrap_or(EventStatus::Retry);
                    let _ = p.reply.send(v);
                }
            }
        }
    });
    tx
}

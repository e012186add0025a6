//! Pub/sub as the app sees it, protocol-neutral: the subscriptions an app declares, one
//! event (or a batch) delivered to a route, and the app's verdict. The HTTP and gRPC apps
//! map these to `/dapr/subscribe` + `POST /<route>` and to `AppCallback`
//! (`ListTopicSubscriptions`, `OnTopicEvent`, `OnBulkTopicEvent`).

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Map, Value};

/// One routing rule: events for which `matcher` (a CEL expression over the envelope, e.g.
/// `event.type == "order"`) holds go to `path`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRule {
    pub matcher: String,
    pub path: String,
}

/// Where a subscription's events go: the first rule that matches, else `default` (events
/// no rule matches and no default takes are not delivered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    pub rules: Vec<RouteRule>,
    pub default: String,
}

/// `bulkSubscribe` of a subscription.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkSubscribe {
    pub enabled: bool,
    pub max_messages_count: u32,
    pub max_await_duration_ms: u64,
}

/// A subscription, wherever it was declared (the app, a Subscription resource, a streaming
/// subscription).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSubscription {
    pub pubsub_name: String,
    pub topic: String,
    pub metadata: HashMap<String, String>,
    pub routes: Routes,
    pub dead_letter_topic: Option<String>,
    pub bulk: BulkSubscribe,
}

/// One event for the app.
#[derive(Debug, Clone, Default)]
pub struct TopicEvent {
    pub pubsub_name: String,
    pub topic: String,
    /// The route chosen for it, as the app declared it.
    pub path: String,
    /// The CloudEvent (for raw-payload subscriptions, one the sidecar made around the raw
    /// bytes, with `data_base64`).
    pub envelope: Map<String, Value>,
    /// The broker message's metadata (HTTP apps get it as headers).
    pub metadata: HashMap<String, String>,
}

/// One entry of a batch.
#[derive(Debug, Clone)]
pub enum BulkData {
    CloudEvent(Map<String, Value>),
    Raw(Bytes),
}

#[derive(Debug, Clone)]
pub struct BulkEntry {
    pub entry_id: String,
    pub event: BulkData,
    pub content_type: String,
    pub metadata: HashMap<String, String>,
}

/// A batch of events for one route (`bulkSubscribe`).
#[derive(Debug, Clone, Default)]
pub struct BulkTopicEvent {
    pub id: String,
    pub pubsub_name: String,
    pub topic: String,
    pub path: String,
    pub metadata: HashMap<String, String>,
    pub entries: Vec<BulkEntry>,
}

/// The app's verdict on an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Success,
    /// Deliver again later.
    Retry,
    /// Not wanted: never deliver again (dead-letter topic if one is configured).
    Drop,
}

impl EventStatus {
    /// The verdict named in an app's answer (`SUCCESS`, `RETRY`, `DROP`; empty is
    /// success); an unknown word means retry, as upstream.
    pub fn from_word(word: &str) -> EventStatus {
        match word.trim().to_ascii_uppercase().as_str() {
            "" | "SUCCESS" => EventStatus::Success,
            "DROP" => EventStatus::Drop,
            _ => EventStatus::Retry,
        }
    }
}

/// The verdict on one entry of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryStatus {
    pub entry_id: String,
    pub status: EventStatus,
}

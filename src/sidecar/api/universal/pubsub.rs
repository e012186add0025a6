//! Pub/sub: publishing one event or a batch (the CloudEvent envelope built here, unless
//! `rawPayload`), and streaming subscriptions through the pub/sub runtime. Every broker call
//! goes through the resiliency policy for the component.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::app_channel::events::TopicSubscription;
use crate::sidecar::components::pubsub::{PubSub, PublishRequest};
use crate::sidecar::components::state::check_ttl;
use crate::sidecar::components::{Category, ComponentStore};
use crate::sidecar::pubsub::cloudevents::{self, Publication};
use crate::sidecar::pubsub::{Kind, PubSubRuntime, SubscribeError, Target};
use crate::sidecar::resiliency::{Outcome, Resiliency, Target as Outbound};

/// One event to publish.
#[derive(Debug, Clone, Default)]
pub struct PublishEvent {
    pub pubsub_name: String,
    pub topic: String,
    pub data: Bytes,
    /// The request's content type (`None`: `text/plain`).
    pub content_type: Option<String>,
    /// `metadata.*` of the request.
    pub metadata: HashMap<String, String>,
    pub traceparent: String,
    pub tracestate: String,
}

/// One entry of a bulk publish.
#[derive(Debug, Clone, Default)]
pub struct BulkPublishEntry {
    pub entry_id: String,
    pub event: Bytes,
    pub content_type: String,
    pub metadata: HashMap<String, String>,
}

/// An entry that could not be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntry {
    pub entry_id: String,
    pub error: String,
}

pub struct PubSubApi {
    app_id: String,
    components: Arc<ComponentStore>,
    runtime: Arc<PubSubRuntime>,
    resiliency: Resiliency,
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl PubSubApi {
    pub fn new(
        app_id: &str,
        components: Arc<ComponentStore>,
        runtime: Arc<PubSubRuntime>,
        resiliency: Resiliency,
    ) -> PubSubApi {
        PubSubApi {
            app_id: app_id.to_string(),
            components,
            runtime,
            resiliency,
        }
    }

    /// The runtime serving this sidecar's subscriptions.
    pub fn runtime(&self) -> &Arc<PubSubRuntime> {
        &self.runtime
    }

    /// The broker named `pubsub`, checking the names first.
    fn broker(&self, pubsub: &str, topic: &str) -> Result<&Arc<dyn PubSub>, ApiError> {
        if pubsub.is_empty() {
            return Err(ApiError::pubsub_not_found("", &self.app_id));
        }
        let broker = self
            .components
            .pubsub(pubsub)
            .ok_or_else(|| ApiError::pubsub_not_found(pubsub, &self.app_id))?;
        if topic.is_empty() {
            return Err(ApiError::pubsub_topic_empty(pubsub));
        }
        if let Some(scopes) = self.components.topic_scopes(pubsub)
            && !scopes.may_publish(&self.app_id, topic)
        {
            return Err(ApiError::pubsub_forbidden(topic, &self.app_id));
        }
        Ok(broker)
    }

    /// Whether `metadata` asks for a raw payload; a value that is not a boolean is an error.
    fn raw_payload(metadata: &HashMap<String, String>) -> Result<bool, ApiError> {
        match metadata.get("rawPayload").map(|v| v.trim()) {
            None | Some("") => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| {
                ApiError::pubsub_request_metadata(format!(
                    "rawPayload {v:?} is not a boolean (true or false)"
                ))
            }),
        }
    }

    /// `ttlInSeconds` of `metadata`, checked.
    fn ttl(metadata: &HashMap<String, String>) -> Result<Option<i64>, ApiError> {
        match metadata.get("ttlInSeconds").map(|v| v.trim()) {
            None | Some("") => Ok(None),
            Some(v) => {
                let ttl: i64 = v.parse().map_err(|_| {
                    ApiError::pubsub_request_metadata(format!(
                        "ttlInSeconds {v:?} is not an integer number of seconds"
                    ))
                })?;
                check_ttl(ttl, "ttlInSeconds")
                    .map(Some)
                    .map_err(ApiError::pubsub_request_metadata)
            }
        }
    }

    /// The bytes to store for one event and their content type.
    fn message(
        &self,
        broker: &Arc<dyn PubSub>,
        e: &PublishEvent,
    ) -> Result<(Bytes, Option<String>), ApiError> {
        if Self::raw_payload(&e.metadata)? {
            return Ok((e.data.clone(), e.content_type.clone()));
        }
        let ttl = Self::ttl(&e.metadata)?;
        let p = Publication {
            topic: &e.topic,
            pubsub_name: &e.pubsub_name,
            app_id: &self.app_id,
            content_type: e.content_type.as_deref(),
            data: &e.data,
            traceparent: &e.traceparent,
            tracestate: &e.tracestate,
        };
        let mut ce =
            cloudevents::envelope(&p, &e.metadata).map_err(ApiError::pubsub_cloud_event)?;
        // Dapr keeps the TTL itself only for brokers without message TTLs.
        if let Some(t) = ttl
            && !broker.features().iter().any(|f| f == "MESSAGE_TTL")
        {
            cloudevents::set_expiration(&mut ce, t);
            ce = cloudevents::sorted(ce);
        }
        let bytes = serde_json::to_vec(&ce).map_err(ApiError::pubsub_cloud_event)?;
        Ok((
            Bytes::from(bytes),
            Some(cloudevents::CLOUDEVENTS_CONTENT_TYPE.to_string()),
        ))
    }

    async fn send(
        &self,
        broker: &Arc<dyn PubSub>,
        pubsub: &str,
        req: PublishRequest,
    ) -> Result<(), String> {
        self.resiliency
            .policy(Outbound::Component(pubsub))
            .run(|_| {
                let req = req.clone();
                async move { Outcome::Done(broker.publish(req).await) }
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Publishes one event.
    pub async fn publish(&self, e: PublishEvent) -> Result<(), ApiError> {
        let broker = self.broker(&e.pubsub_name, &e.topic)?;
        let (data, content_type) = self.message(broker, &e)?;
        let req = PublishRequest {
            topic: e.topic.clone(),
            data,
            metadata: e.metadata.clone(),
            content_type,
        };
        self.send(broker, &e.pubsub_name, req)
            .await
            .map_err(|why| ApiError::pubsub_publish(&e.topic, &e.pubsub_name, why))
    }

    /// Publishes a batch; the entries that failed (the others were published).
    pub async fn bulk_publish(
        &self,
        pubsub: &str,
        topic: &str,
        entries: Vec<BulkPublishEntry>,
        metadata: &HashMap<String, String>,
    ) -> Result<Vec<FailedEntry>, ApiError> {
        let broker = self.broker(pubsub, topic)?;
        let mut seen = std::collections::HashSet::new();
        for e in &entries {
            if e.entry_id.is_empty() {
                return Err(ApiError::pubsub_events(
                    topic,
                    pubsub,
                    "entryId is required",
                ));
            }
            if !seen.insert(e.entry_id.as_str()) {
                return Err(ApiError::pubsub_events(
                    topic,
                    pubsub,
                    format!("entryId {} is not unique", e.entry_id),
                ));
            }
        }
        let mut failed = Vec::new();
        for entry in entries {
            let mut md = metadata.clone();
            md.extend(entry.metadata.clone());
            let event = PublishEvent {
                pubsub_name: pubsub.to_string(),
                topic: topic.to_string(),
                data: entry.event,
                content_type: Some(entry.content_type).filter(|c| !c.is_empty()),
                metadata: md,
                ..Default::default()
            };
            let (data, content_type) = self.message(broker, &event)?;
            let req = PublishRequest {
                topic: topic.to_string(),
                data,
                metadata: event.metadata,
                content_type,
            };
            if let Err(why) = self.send(broker, pubsub, req).await {
                failed.push(FailedEntry {
                    entry_id: entry.entry_id,
                    error: why,
                });
            }
        }
        Ok(failed)
    }

    /// Starts a streaming subscription whose events go to `target`; its id, for
    /// [`PubSubApi::unsubscribe`].
    pub async fn subscribe_stream(
        &self,
        sub: TopicSubscription,
        target: Target,
    ) -> Result<u64, ApiError> {
        if sub.pubsub_name.is_empty() || self.components.count(Category::PubSub) == 0 {
            return Err(ApiError::pubsub_not_found(&sub.pubsub_name, &self.app_id));
        }
        let (pubsub, topic) = (sub.pubsub_name.clone(), sub.topic.clone());
        self.runtime
            .subscribe(sub, Kind::Streaming, target)
            .await
            .map_err(|e| match e {
                SubscribeError::NoPubSub(p) => ApiError::pubsub_not_found(&p, &self.app_id),
                SubscribeError::Forbidden => ApiError::pubsub_forbidden(&topic, &self.app_id),
                SubscribeError::Invalid(why) if topic.is_empty() => {
                    let _ = why;
                    ApiError::pubsub_topic_empty(&pubsub)
                }
                other => ApiError::pubsub_publish(&topic, &pubsub, other),
            })
    }

    pub async fn unsubscribe(&self, id: u64) {
        self.runtime.unsubscribe(id).await;
    }
}

//! The pub/sub runtime of one sidecar: the subscriptions it serves and how their messages
//! reach the app.
//!
//! Subscriptions come from three places: the app itself (`GET /dapr/subscribe` or
//! `ListTopicSubscriptions`, asked once the app is up), `Subscription` resources
//! (declarative), and gRPC streaming subscribers (`SubscribeTopicEventsAlpha1`). Each is a
//! broker subscription (`components::pubsub`) whose messages go through [`delivery`]:
//! CloudEvent parsed (or made around a raw payload), expired events dropped, the route
//! chosen by the rules ([`routing`]), the event delivered (one by one, or in batches for
//! `bulkSubscribe`), and the app's verdict turned into the broker's `Ack`: success ⇒ done;
//! `DROP`/404 ⇒ done (to the dead-letter topic when configured); `RETRY`/failure ⇒ the
//! dead-letter topic when configured, else delivered again by the broker.
//!
//! Shutdown closes every subscription first: no new message is taken, those in flight
//! finish, and nothing undelivered is acknowledged.

pub mod cloudevents;
mod delivery;
pub mod routing;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::sidecar::app_channel::AppChannel;
use crate::sidecar::app_channel::events::{EventStatus, TopicEvent, TopicSubscription};
use crate::sidecar::components::ComponentStore;
use crate::sidecar::components::pubsub::{SubscribeRequest, Subscription};
use crate::sidecar::log::{self, scope};

pub use delivery::StreamDelivery;

/// Where a subscription was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Declarative,
    Programmatic,
    Streaming,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Declarative => "DECLARATIVE",
            Kind::Programmatic => "PROGRAMMATIC",
            Kind::Streaming => "STREAMING",
        }
    }
}

/// A served subscription as metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub pubsub_name: String,
    pub topic: String,
    pub metadata: HashMap<String, String>,
    /// (match, path), the default route last with an empty match.
    pub rules: Vec<(String, String)>,
    pub dead_letter_topic: String,
    pub kind: Kind,
}

/// Who receives a subscription's events.
#[derive(Clone)]
pub enum Target {
    App(Arc<AppChannel>),
    /// A gRPC streaming subscriber: events go down its stream, verdicts come back.
    Stream(tokio::sync::mpsc::Sender<StreamDelivery>),
}

impl Target {
    /// Delivers one event and waits for the verdict.
    pub async fn deliver(&self, event: TopicEvent) -> EventStatus {
        match self {
            Target::App(channel) => match channel.topic_event(&event).await {
                Ok(s) => s,
                Err(e) => {
                    log::warn(
                        scope::RUNTIME,
                        &format!(
                            "delivering event {} of topic {} to /{} failed: {e}; it will be retried",
                            delivery::event_id(&event.envelope),
                            event.topic,
                            event.path
                        ),
                    );
                    EventStatus::Retry
                }
            },
            Target::Stream(tx) => {
                let (reply, verdict) = tokio::sync::oneshot::channel();
                if tx.send(StreamDelivery { event, reply }).await.is_err() {
                    return EventStatus::Retry;
                }
                verdict.await.unwrap_or(EventStatus::Retry)
            }
        }
    }
}

struct Active {
    id: u64,
    info: SubscriptionInfo,
    subscription: Subscription,
}

/// Why a subscription could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("pubsub {0} is not found")]
    NoPubSub(String),
    /// The component's `subscriptionScopes` / `allowedTopics` / `protectedTopics` refuse
    /// this app the topic.
    #[error("subscription to this topic is not allowed for this app")]
    Forbidden,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Broker(String),
}

pub struct PubSubRuntime {
    app_id: String,
    components: Arc<ComponentStore>,
    channel: Option<Arc<AppChannel>>,
    active: Mutex<Vec<Active>>,
    next_id: AtomicU64,
    closing: AtomicBool,
}

impl PubSubRuntime {
    pub fn new(
        app_id: &str,
        components: Arc<ComponentStore>,
        channel: Option<Arc<AppChannel>>,
    ) -> PubSubRuntime {
        PubSubRuntime {
            app_id: app_id.to_string(),
            components,
            channel,
            active: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            closing: AtomicBool::new(false),
        }
    }

    /// Serves the app's own subscriptions and the declarative ones, once the app is up.
    /// Asks the app only when a pub/sub component is loaded, as upstream.
    pub async fn start_app_subscriptions(&self, declarative: Vec<TopicSubscription>) {
        use crate::sidecar::components::Category;
        if self.components.count(Category::PubSub) == 0 {
            return;
        }
        // Without an app there is nobody to deliver to.
        let Some(channel) = self.channel.clone().filter(|c| c.authority().is_some()) else {
            return;
        };
        let mut subs: Vec<(TopicSubscription, Kind)> = declarative
            .into_iter()
            .map(|s| (s, Kind::Declarative))
            .collect();
        match delivery::app_subscriptions(&channel).await {
            Ok(list) => subs.extend(list.into_iter().map(|s| (s, Kind::Programmatic))),
            Err(e) => log::warn(
                scope::RUNTIME,
                &format!("cannot read the app's subscriptions: {e}"),
            ),
        }
        for (sub, kind) in subs {
            let (pubsub, topic) = (sub.pubsub_name.clone(), sub.topic.clone());
            match self
                .subscribe(sub, kind, Target::App(channel.clone()))
                .await
            {
                Ok(_) => log::info(
                    scope::RUNTIME,
                    &format!("subscribed to topic {topic} on pubsub {pubsub}"),
                ),
                Err(SubscribeError::Forbidden) => log::warn(
                    scope::RUNTIME,
                    &format!("subscription to topic {topic} on pubsub {pubsub} is not allowed"),
                ),
                Err(e) => log::warn(
                    scope::RUNTIME,
                    &format!("cannot subscribe to topic {topic} on pubsub {pubsub}: {e}"),
                ),
            }
        }
    }

    /// Starts serving `sub`; returns its id (for [`PubSubRuntime::unsubscribe`]).
    pub async fn subscribe(
        &self,
        sub: TopicSubscription,
        kind: Kind,
        target: Target,
    ) -> Result<u64, SubscribeError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(SubscribeError::Invalid(
                "the sidecar is shutting down".into(),
            ));
        }
        let broker = self
            .components
            .pubsub(&sub.pubsub_name)
            .cloned()
            .ok_or_else(|| SubscribeError::NoPubSub(sub.pubsub_name.clone()))?;
        if sub.topic.is_empty() {
            return Err(SubscribeError::Invalid("the topic is empty".into()));
        }
        if let Some(scopes) = self.components.topic_scopes(&sub.pubsub_name)
            && !scopes.may_subscribe(&self.app_id, &sub.topic)
        {
            return Err(SubscribeError::Forbidden);
        }
        let dead_letter = sub
            .dead_letter_topic
            .as_ref()
            .map(|t| (broker.clone(), t.clone()));
        let handler =
            delivery::Delivery::new(&sub, target, dead_letter).map_err(SubscribeError::Invalid)?;
        let info = SubscriptionInfo {
            pubsub_name: sub.pubsub_name.clone(),
            topic: sub.topic.clone(),
            metadata: sub.metadata.clone(),
            rules: sub
                .routes
                .rules
                .iter()
                .map(|r| (r.matcher.clone(), r.path.clone()))
                .chain(
                    Some(sub.routes.default.clone())
                        .filter(|d| !d.is_empty())
                        .map(|d| (String::new(), d)),
                )
                .collect(),
            dead_letter_topic: sub.dead_letter_topic.clone().unwrap_or_default(),
            kind,
        };
        let subscription = broker
            .subscribe(
                SubscribeRequest {
                    topic: sub.topic.clone(),
                    metadata: sub.metadata.clone(),
                },
                Arc::new(handler),
            )
            .await
            .map_err(|e| SubscribeError::Broker(e.to_string()))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.active.lock().await.push(Active {
            id,
            info,
            subscription,
        });
        Ok(id)
    }

    /// Stops one subscription gracefully.
    pub async fn unsubscribe(&self, id: u64) {
        let found = {
            let mut active = self.active.lock().await;
            active
                .iter()
                .position(|a| a.id == id)
                .map(|i| active.remove(i))
        };
        if let Some(a) = found {
            a.subscription.close().await;
        }
    }

    /// The subscriptions served now, for metadata.
    pub async fn subscriptions(&self) -> Vec<SubscriptionInfo> {
        self.active
            .lock()
            .await
            .iter()
            .map(|a| a.info.clone())
            .collect()
    }

    /// The app id events are published and delivered for.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// Stops every subscription gracefully (shutdown); no new ones are accepted after.
    pub async fn close(&self) {
        self.closing.store(true, Ordering::Release);
        let all: Vec<Active> = std::mem::take(&mut *self.active.lock().await);
        futures_util::future::join_all(all.into_iter().map(|a| a.subscription.close())).await;
    }
}

//! `PublishEvent`, `BulkPublishEvent`/`BulkPublishEventAlpha1`, and streaming subscriptions
//! (`SubscribeTopicEventsAlpha1`): the subscriber opens the stream with an initial request
//! (pub/sub, topic, metadata, dead-letter topic), receives `initial_response`, then one
//! `TopicEventRequest` per event, and answers each with its id and verdict. An event not
//! answered when the stream ends is delivered again by the broker.

use std::collections::HashMap;
use std::sync::Arc;

use dapr::dapr::proto::runtime::v1 as pb;
use futures_util::StreamExt;
use pb::subscribe_topic_events_request_alpha1::SubscribeTopicEventsRequestType as In;
use pb::subscribe_topic_events_response_alpha1::SubscribeTopicEventsResponseType as Out;
use pb::topic_event_response::TopicEventResponseStatus;
use serde_json::Value;
use tokio::sync::mpsc;
use tonic::metadata::MetadataMap;
use tonic::{Status, Streaming};

use super::Stream;
use crate::sidecar::api::error::ApiError;
use crate::sidecar::api::universal::Api;
use crate::sidecar::api::universal::pubsub::{BulkPublishEntry, PublishEvent};
use crate::sidecar::app_channel::events::{EventStatus, Routes, TopicSubscription};
use crate::sidecar::app_channel::grpc_pubsub::topic_event_request;
use crate::sidecar::log::{self, scope};
use crate::sidecar::pubsub::{StreamDelivery, Target};

fn meta(m: &MetadataMap, key: &str) -> String {
    m.get(key)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

pub async fn publish(
    api: &Api,
    metadata: &MetadataMap,
    r: pb::PublishEventRequest,
) -> Result<(), Status> {
    Ok(api
        .pubsub
        .publish(PublishEvent {
            pubsub_name: r.pubsub_name,
            topic: r.topic,
            data: r.data.into(),
            content_type: Some(r.data_content_type).filter(|c| !c.is_empty()),
            metadata: r.metadata,
            traceparent: meta(metadata, "traceparent"),
            tracestate: meta(metadata, "tracestate"),
        })
        .await?)
}

pub async fn bulk_publish(
    api: &Api,
    r: pb::BulkPublishRequest,
) -> Result<pb::BulkPublishResponse, Status> {
    let entries = r
        .entries
        .into_iter()
        .map(|e| BulkPublishEntry {
            entry_id: e.entry_id,
            event: e.event.into(),
            content_type: e.content_type,
            metadata: e.metadata,
        })
        .collect();
    let failed = api
        .pubsub
        .bulk_publish(&r.pubsub_name, &r.topic, entries, &r.metadata)
        .await?;
    Ok(pb::BulkPublishResponse {
        failed_entries: failed
            .into_iter()
            .map(|f| pb::BulkPublishResponseFailedEntry {
                entry_id: f.entry_id,
                error: f.error,
            })
            .collect(),
    })
}

fn verdict(status: Option<pb::TopicEventResponse>) -> EventStatus {
    match status.and_then(|s| TopicEventResponseStatus::try_from(s.status).ok()) {
        Some(TopicEventResponseStatus::Success) => EventStatus::Success,
        Some(TopicEventResponseStatus::Drop) => EventStatus::Drop,
        _ => EventStatus::Retry,
    }
}

pub async fn subscribe_stream(
    api: Arc<Api>,
    mut inbound: Streaming<pb::SubscribeTopicEventsRequestAlpha1>,
) -> Result<Stream<pb::SubscribeTopicEventsResponseAlpha1>, Status> {
    let first = inbound
        .next()
        .await
        .ok_or_else(|| Status::invalid_argument("the stream ended before its initial request"))??;
    let Some(In::InitialRequest(init)) = first.subscribe_topic_events_request_type else {
        return Err(Status::invalid_argument(
            "the first message of the stream must be an initial request",
        ));
    };
    if init.topic.is_empty() {
        return Err(ApiError::pubsub_topic_empty(&init.pubsub_name).into());
    }
    let sub = TopicSubscription {
        pubsub_name: init.pubsub_name.clone(),
        topic: init.topic.clone(),
        metadata: init.metadata,
        routes: Routes {
            rules: Vec::new(),
            default: "/".into(),
        },
        dead_letter_topic: init.dead_letter_topic.filter(|t| !t.is_empty()),
        bulk: Default::default(),
    };
    let (deliver_tx, mut deliver_rx) = mpsc::channel::<StreamDelivery>(16);
    let id = api
        .pubsub
        .subscribe_stream(sub, Target::Stream(deliver_tx))
        .await?;
    let (out_tx, out_rx) =
        mpsc::channel::<Result<pb::SubscribeTopicEventsResponseAlpha1, Status>>(16);
    let initial = pb::SubscribeTopicEventsResponseAlpha1 {
        subscribe_topic_events_response_type: Some(Out::InitialResponse(
            pb::SubscribeTopicEventsResponseInitialAlpha1 {},
        )),
    };
    let _ = out_tx.send(Ok(initial)).await;
    tokio::spawn(async move {
        let mut pending: HashMap<String, tokio::sync::oneshot::Sender<EventStatus>> =
            HashMap::new();
        loop {
            tokio::select! {
                d = deliver_rx.recv() => {
                    let Some(d) = d else { break };
                    let msg = match topic_event_request(&d.event) {
                        Ok(msg) => msg,
                        Err(e) => {
                            // As for an app: an envelope whose data cannot be sent is retried.
                            let id = d.event.envelope.get("id").and_then(Value::as_str).unwrap_or("");
                            log::warn(scope::RUNTIME, &format!("event {id}: {e}"));
                            let _ = d.reply.send(EventStatus::Retry);
                            continue;
                        }
                    };
                    pending.insert(msg.id.clone(), d.reply);
                    let out = pb::SubscribeTopicEventsResponseAlpha1 {
                        subscribe_topic_events_response_type: Some(Out::EventMessage(msg)),
                    };
                    if out_tx.send(Ok(out)).await.is_err() {
                        break;
                    }
                }
                m = inbound.next() => match m {
                    Some(Ok(m)) => {
                        if let Some(In::EventProcessed(p)) = m.subscribe_topic_events_request_type
                            && let Some(reply) = pending.remove(&p.id)
                        {
                            let _ = reply.send(verdict(p.status));
                        }
                    }
                    _ => break,
                },
            }
        }
        // Unanswered events go back to the broker; then the subscription ends.
        pending.clear();
        drop(deliver_rx);
        api.pubsub.unsubscribe(id).await;
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(
        out_rx,
    )))
}

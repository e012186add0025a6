//! Pub/sub with a gRPC app, as the official runtime does it: `ListTopicSubscriptions`
//! (`Unimplemented` = no subscriptions), `OnTopicEvent` with a `TopicEventRequest` made
//! from the CloudEvent (its `data` as bytes: `data_base64` decoded, string data for `text/*`
//! and XML, JSON data serialized for JSON content types; the envelope's other fields as
//! `extensions`; the broker message's metadata as gRPC metadata), and `OnBulkTopicEvent`
//! (`AppCallbackAlpha.OnBulkTopicEventAlpha1` when the app does not implement it). The
//! app's answer: `SUCCESS`, `RETRY`, `DROP` (unknown values retry); `Unimplemented` drops,
//! any other error status is a failure to retry.

use std::collections::HashMap;

use base64::Engine as _;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::app_callback_alpha_client::AppCallbackAlphaClient;
use dapr::dapr::proto::runtime::v1::app_callback_client::AppCallbackClient;
use http::{HeaderName, HeaderValue};
use pb::topic_event_response::TopicEventResponseStatus as Verdict;
use serde_json::{Map, Value};
use tonic::Code;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;

use super::ChannelError;
use super::events::{
    BulkData, BulkSubscribe, BulkTopicEvent, EntryStatus, EventStatus, RouteRule, Routes,
    TopicEvent, TopicSubscription,
};
use super::grpc::{GrpcApp, describe, is_transport};

/// The `type` of a bulk request, as upstream.
const BULK_EVENT_TYPE: &str = "com.dapr.event.sent.bulk";

/// CloudEvent attributes that have their own field in `TopicEventRequest`; the others are
/// sent as `extensions`.
const OWN_FIELDS: [&str; 7] = [
    "id",
    "source",
    "datacontenttype",
    "type",
    "specversion",
    "data",
    "data_base64",
];

impl GrpcApp {
    fn callback(&self) -> AppCallbackClient<Channel> {
        AppCallbackClient::new(self.channel())
            .max_decoding_message_size(self.max_message())
            .max_encoding_message_size(usize::MAX)
    }

    /// `ListTopicSubscriptions`.
    pub async fn subscriptions(&self) -> Result<Vec<TopicSubscription>, ChannelError> {
        let req = self.request((), MetadataMap::new());
        match self.callback().list_topic_subscriptions(req).await {
            Ok(r) => Ok(r
                .into_inner()
                .subscriptions
                .into_iter()
                .map(subscription)
                .collect()),
            Err(s) if s.code() == Code::Unimplemented && !is_transport(&s) => Ok(Vec::new()),
            Err(s) => Err(ChannelError::Request(format!(
                "error getting topic list from app: {}",
                describe(&s)
            ))),
        }
    }

    /// `OnTopicEvent`.
    pub async fn topic_event(&self, ev: &TopicEvent) -> Result<EventStatus, ChannelError> {
        let id = ev.envelope.get("id").and_then(Value::as_str).unwrap_or("");
        let msg = topic_event_request(ev).map_err(|e| {
            ChannelError::Request(format!(
                "error returned from app while processing pub/sub event {id}: {e}"
            ))
        })?;
        let req = self.request(msg, event_metadata(&ev.metadata));
        match self.callback().on_topic_event(req).await {
            Ok(r) => Ok(verdict(r.into_inner().status)),
            Err(s) if s.code() == Code::Unimplemented && !is_transport(&s) => Ok(EventStatus::Drop),
            Err(s) => Err(ChannelError::Request(format!(
                "error returned from app while processing pub/sub event {id}: {}",
                describe(&s)
            ))),
        }
    }

    /// `OnBulkTopicEvent`, else `OnBulkTopicEventAlpha1`; entries the app does not name
    /// are retried.
    pub async fn bulk_topic_event(
        &self,
        ev: &BulkTopicEvent,
    ) -> Result<Vec<EntryStatus>, ChannelError> {
        let unimplemented = |s: &tonic::Status| s.code() == Code::Unimplemented && !is_transport(s);
        let (msg, unsendable) = bulk_request(ev);
        let req = self.request(msg, event_metadata(&ev.metadata));
        let answer = match self.callback().on_bulk_topic_event(req).await {
            Err(s) if unimplemented(&s) => {
                let req = self.request(bulk_request(ev).0, event_metadata(&ev.metadata));
                // The fallback for apps built before `OnBulkTopicEvent`, as upstream.
                #[allow(deprecated)]
                AppCallbackAlphaClient::new(self.channel())
                    .max_decoding_message_size(self.max_message())
                    .on_bulk_topic_event_alpha1(req)
                    .await
            }
            other => other,
        };
        let all = |status| {
            ev.entries
                .iter()
                .map(|e| EntryStatus {
                    entry_id: e.entry_id.clone(),
                    status,
                })
                .collect()
        };
        match answer {
            Ok(r) => {
                let named: HashMap<String, EventStatus> = r
                    .into_inner()
                    .statuses
                    .into_iter()
                    .map(|s| (s.entry_id, verdict(s.status)))
                    .filter(|(id, _)| !unsendable.contains(id))
                    .collect();
                Ok(ev
                    .entries
                    .iter()
                    .map(|e| EntryStatus {
                        entry_id: e.entry_id.clone(),
                        status: named
                            .get(&e.entry_id)
                            .copied()
                            .unwrap_or(EventStatus::Retry),
                    })
                    .collect())
            }
            Err(s) if unimplemented(&s) => Ok(all(EventStatus::Drop)),
            Err(s) => Err(ChannelError::Request(format!(
                "error returned from app while processing bulk pub/sub event: {}",
                describe(&s)
            ))),
        }
    }
}

fn verdict(status: i32) -> EventStatus {
    match Verdict::try_from(status) {
        Ok(Verdict::Success) => EventStatus::Success,
        Ok(Verdict::Drop) => EventStatus::Drop,
        Ok(Verdict::Retry) | Err(_) => EventStatus::Retry,
    }
}

/// One entry of `ListTopicSubscriptions`. A subscription without routes gets one rule
/// with no expression and the empty path (upstream: gRPC apps receive such events with
/// `path` empty).
fn subscription(s: pb::TopicSubscription) -> TopicSubscription {
    let mut routes = Routes::default();
    if let Some(r) = s.routes {
        routes.default = r.default;
        routes.rules = r
            .rules
            .into_iter()
            .map(|r| RouteRule {
                matcher: r.r#match,
                path: r.path,
            })
            .collect();
    }
    if routes.rules.is_empty() && routes.default.is_empty() {
        routes.rules.push(RouteRule::default());
    }
    let bulk = s
        .bulk_subscribe
        .map(|b| BulkSubscribe {
            enabled: b.enabled,
            max_messages_count: u32::try_from(b.max_messages_count).unwrap_or(0),
            max_await_duration_ms: u64::try_from(b.max_await_duration_ms).unwrap_or(0),
        })
        .unwrap_or_default();
    TopicSubscription {
        pubsub_name: s.pubsub_name,
        topic: s.topic,
        metadata: s.metadata,
        routes,
        dead_letter_topic: Some(s.dead_letter_topic).filter(|t| !t.is_empty()),
        bulk,
    }
}

/// A broker message's metadata as gRPC metadata (names lowercased; entries that cannot be
/// metadata are left out).
fn event_metadata(meta: &HashMap<String, String>) -> MetadataMap {
    let mut h = http::HeaderMap::with_capacity(meta.len());
    for (k, v) in meta {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()),
            HeaderValue::from_str(v),
        ) && !k.as_str().ends_with("-bin")
        {
            h.append(k, v);
        }
    }
    MetadataMap::from_headers(h)
}

fn attr(ce: &Map<String, Value>, name: &str) -> String {
    ce.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The media type of `ct` without parameters, lowercased.
fn media_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_string_type(ct: &str) -> bool {
    ct.to_ascii_lowercase().starts_with("text/") || media_type(ct) == "application/xml"
}

fn is_json_type(ct: &str) -> bool {
    matches!(
        media_type(ct).as_str(),
        "application/json" | "application/cloudevents+json"
    )
}

/// The event's data as bytes, as the official runtime derives it from the envelope.
fn event_data(ce: &Map<String, Value>, content_type: &str) -> Result<Vec<u8>, String> {
    const UNEXPECTED: &str = "unexpected data type encountered in envelope";
    if let Some(v) = ce.get("data_base64").filter(|v| !v.is_null()) {
        let Value::String(s) = v else {
            return Err(UNEXPECTED.into());
        };
        return base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("unable to base64 decode cloudEvent field data_base64: {e}"));
    }
    match ce.get("data") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) if is_string_type(content_type) => match v {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            _ => Err(UNEXPECTED.into()),
        },
        Some(v) if is_json_type(content_type) => {
            serde_json::to_vec(v).map_err(|e| format!("serializing data: {e}"))
        }
        // Other content types carry their payload in `data_base64`.
        Some(_) => Ok(Vec::new()),
    }
}

/// The envelope's attributes other than those with their own field, as a `Struct`.
fn extensions(ce: &Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: ce
            .iter()
            .filter(|(k, _)| !OWN_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), proto_value(v)))
            .collect(),
    }
}

fn proto_value(v: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(proto_value).collect(),
        }),
        Value::Object(m) => Kind::StructValue(prost_types::Struct {
            fields: m.iter().map(|(k, v)| (k.clone(), proto_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// The `TopicEventRequest` for one event.
pub fn topic_event_request(ev: &TopicEvent) -> Result<pb::TopicEventRequest, String> {
    let ce = &ev.envelope;
    let data_content_type = attr(ce, "datacontenttype");
    Ok(pb::TopicEventRequest {
        id: attr(ce, "id"),
        source: attr(ce, "source"),
        r#type: attr(ce, "type"),
        spec_version: attr(ce, "specversion"),
        data: event_data(ce, &data_content_type)?,
        data_content_type,
        topic: ev.topic.clone(),
        pubsub_name: ev.pubsub_name.clone(),
        path: ev.path.clone(),
        extensions: Some(extensions(ce)),
    })
}

/// The `TopicEventBulkRequest` for a batch, and the ids of entries left out because their
/// CloudEvent's data cannot be turned into bytes (they are retried, as upstream).
pub fn bulk_request(ev: &BulkTopicEvent) -> (pb::TopicEventBulkRequest, Vec<String>) {
    use pb::topic_event_bulk_request_entry::Event;
    let mut unsendable = Vec::new();
    let mut entries = Vec::with_capacity(ev.entries.len());
    for e in &ev.entries {
        let event = match &e.event {
            BulkData::Raw(b) => Event::Bytes(b.to_vec()),
            BulkData::CloudEvent(ce) => {
                let data_content_type = attr(ce, "datacontenttype");
                let Ok(data) = event_data(ce, &data_content_type) else {
                    unsendable.push(e.entry_id.clone());
                    continue;
                };
                Event::CloudEvent(pb::TopicEventCeRequest {
                    id: attr(ce, "id"),
                    source: attr(ce, "source"),
                    r#type: attr(ce, "type"),
                    spec_version: attr(ce, "specversion"),
                    data,
                    data_content_type,
                    extensions: Some(extensions(ce)),
                })
            }
        };
        entries.push(pb::TopicEventBulkRequestEntry {
            entry_id: e.entry_id.clone(),
            content_type: e.content_type.clone(),
            metadata: e.metadata.clone(),
            event: Some(event),
        });
    }
    let req = pb::TopicEventBulkRequest {
        id: ev.id.clone(),
        entries,
        metadata: ev.metadata.clone(),
        topic: ev.topic.clone(),
        pubsub_name: ev.pubsub_name.clone(),
        r#type: BULK_EVENT_TYPE.into(),
        path: ev.path.clone(),
    };
    (req, unsendable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn data_as_the_official_runtime_derives_it() {
        let ce = envelope(json!({"data": {"b": 1, "a": [true]}}));
        assert_eq!(
            event_data(&ce, "application/json; charset=utf-8").unwrap(),
            br#"{"b":1,"a":[true]}"#
        );
        assert_eq!(
            event_data(&ce, "application/cloudevents+json").unwrap(),
            br#"{"b":1,"a":[true]}"#
        );
        let ce = envelope(json!({"data": "héllo"}));
        assert_eq!(event_data(&ce, "text/plain").unwrap(), "héllo".as_bytes());
        assert_eq!(event_data(&ce, "application/xml").unwrap(), b"h\xc3\xa9llo");
        assert_eq!(
            event_data(&ce, "application/json").unwrap(),
            "\"héllo\"".as_bytes()
        );
        assert!(event_data(&envelope(json!({"data": 1})), "text/plain").is_err());
        let ce = envelope(json!({"data_base64": "AAH/", "data": "ignored"}));
        assert_eq!(
            event_data(&ce, "application/octet-stream").unwrap(),
            [0, 1, 255]
        );
        assert!(event_data(&envelope(json!({"data_base64": "!!"})), "").is_err());
        assert!(event_data(&envelope(json!({"data_base64": 3})), "").is_err());
        assert!(
            event_data(&envelope(json!({})), "text/plain")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn requests_carry_the_envelope_and_extensions() {
        let ev = TopicEvent {
            pubsub_name: "ps".into(),
            topic: "orders".into(),
            path: "/orders".into(),
            envelope: envelope(json!({
                "id": "1", "source": "app", "type": "com.dapr.event.sent",
                "specversion": "1.0", "datacontenttype": "text/plain", "data": "hi",
                "topic": "orders", "pubsubname": "ps", "traceid": "00-1", "n": 2.5
            })),
            metadata: HashMap::new(),
        };
        let r = topic_event_request(&ev).unwrap();
        assert_eq!(
            (r.id.as_str(), r.source.as_str(), r.r#type.as_str()),
            ("1", "app", "com.dapr.event.sent")
        );
        assert_eq!(
            (r.spec_version.as_str(), r.data.as_slice()),
            ("1.0", &b"hi"[..])
        );
        assert_eq!(r.path, "/orders");
        let ext = r.extensions.unwrap().fields;
        let mut keys: Vec<&str> = ext.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["n", "pubsubname", "topic", "traceid"]);
    }

    #[test]
    fn subscriptions_without_routes_take_every_event() {
        let s = subscription(pb::TopicSubscription {
            pubsub_name: "ps".into(),
            topic: "t".into(),
            routes: Some(pb::TopicRoutes::default()),
            ..Default::default()
        });
        assert_eq!(s.routes.rules, [RouteRule::default()]);
        assert_eq!(s.dead_letter_topic, None);
        let s = subscription(pb::TopicSubscription {
            routes: Some(pb::TopicRoutes {
                rules: vec![pb::TopicRule {
                    r#match: "event.type == \"x\"".into(),
                    path: "x".into(),
                }],
                default: "d".into(),
            }),
            dead_letter_topic: "dl".into(),
            bulk_subscribe: Some(pb::BulkSubscribeConfig {
                enabled: true,
                max_messages_count: 10,
                max_await_duration_ms: -1,
            }),
            ..Default::default()
        });
        assert_eq!(s.routes.rules[0].path, "x");
        assert_eq!(s.routes.default, "d");
        assert_eq!(s.dead_letter_topic.as_deref(), Some("dl"));
        assert_eq!(
            (
                s.bulk.enabled,
                s.bulk.max_messages_count,
                s.bulk.max_await_duration_ms
            ),
            (true, 10, 0)
        );
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(0), EventStatus::Success);
        assert_eq!(verdict(1), EventStatus::Retry);
        assert_eq!(verdict(2), EventStatus::Drop);
        assert_eq!(verdict(7), EventStatus::Retry);
    }
}

//! Pub/sub with an HTTP app, as the official runtime does it: `GET /dapr/subscribe` for the
//! app's subscriptions (v1 `route` and v2 `routes` forms, field names matched
//! case-insensitively as Go's decoder does), `POST /<route>` with the CloudEvent as
//! `application/cloudevents+json` (the message metadata and `pubsubName` as headers), and
//! the bulk format for `bulkSubscribe`. The app's answer: a 2xx with `{"status": ...}`
//! names the verdict (no or non-JSON body: success); 404 drops; anything else is a failure
//! to retry.

use std::collections::HashMap;

use axum::body::Body;
use base64::Engine as _;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use super::ChannelError;
use super::events::{
    BulkData, BulkSubscribe, BulkTopicEvent, EntryStatus, EventStatus, RouteRule, Routes,
    TopicEvent, TopicSubscription,
};
use super::http::{HttpApp, build_uri};

/// The largest answer read from the app to a subscription or event request.
const MAX_ANSWER: usize = 4 << 20;

/// `m[name]`, matching the name exactly, then case-insensitively.
fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn string(m: &Map<String, Value>, name: &str) -> String {
    field(m, name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn string_map(v: Option<&Value>) -> HashMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One entry of `/dapr/subscribe`; `None` when it names no route at all (dropped, as
/// upstream).
fn subscription(m: &Map<String, Value>) -> Option<TopicSubscription> {
    let mut routes = Routes {
        rules: Vec::new(),
        default: string(m, "route"),
    };
    if let Some(r) = field(m, "routes").and_then(Value::as_object) {
        let default = string(r, "default");
        if !default.is_empty() {
            routes.default = default;
        }
        if let Some(rules) = field(r, "rules").and_then(Value::as_array) {
            for rule in rules.iter().filter_map(Value::as_object) {
                routes.rules.push(RouteRule {
                    matcher: string(rule, "match"),
                    path: string(rule, "path"),
                });
            }
        }
    }
    if routes.default.is_empty() && routes.rules.is_empty() {
        return None;
    }
    let bulk = field(m, "bulkSubscribe")
        .and_then(Value::as_object)
        .map(|b| BulkSubscribe {
            enabled: field(b, "enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            max_messages_count: field(b, "maxMessagesCount")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            max_await_duration_ms: field(b, "maxAwaitDurationMs")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
        .unwrap_or_default();
    Some(TopicSubscription {
        pubsub_name: string(m, "pubsubname"),
        topic: string(m, "topic"),
        metadata: string_map(field(m, "metadata")),
        routes,
        dead_letter_topic: Some(string(m, "deadLetterTopic")).filter(|t| !t.is_empty()),
        bulk,
    })
}

/// Parses a `/dapr/subscribe` answer.
pub fn parse_subscriptions(body: &[u8]) -> Result<Vec<TopicSubscription>, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the app's /dapr/subscribe answer is not JSON: {e}"))?;
    let list = match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        _ => return Err("the app's /dapr/subscribe answer is not a JSON array".into()),
    };
    Ok(list
        .iter()
        .filter_map(Value::as_object)
        .filter_map(subscription)
        .collect())
}

/// A 2xx answer's verdict: `{"status": ...}`, or success without a JSON status.
fn verdict(body: &[u8]) -> EventStatus {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => match field(&m, "status") {
            Some(Value::String(s)) => EventStatus::from_word(s),
            Some(Value::Null) | None => EventStatus::Success,
            Some(_) => EventStatus::Retry,
        },
        _ => EventStatus::Success,
    }
}

impl HttpApp {
    /// `GET <route>` style request to the app with a JSON body; status and answer.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: &'static str,
        headers: &HashMap<String, String>,
        body: Vec<u8>,
    ) -> Result<(StatusCode, bytes::Bytes), ChannelError> {
        let uri = build_uri(self.authority(), path, None).map_err(ChannelError::Request)?;
        let mut req = Request::new(Body::from(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        let h = req.headers_mut();
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v)) {
                h.insert(k, v);
            }
        }
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        let res = self.send(req).await?;
        let status = res.status();
        let body = http_body_util::Limited::new(res.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| ChannelError::Request(format!("reading the app's answer: {e}")))?
            .to_bytes();
        Ok((status, body))
    }

    /// `GET /dapr/subscribe`; 404 means no subscriptions.
    pub async fn subscriptions(&self) -> Result<Vec<TopicSubscription>, ChannelError> {
        let (status, body) = self
            .call(
                Method::GET,
                "dapr/subscribe",
                "application/json",
                &HashMap::new(),
                Vec::new(),
            )
            .await?;
        match status {
            s if s.is_success() => parse_subscriptions(&body).map_err(ChannelError::Request),
            StatusCode::NOT_FOUND => Ok(Vec::new()),
            s => Err(ChannelError::Request(format!(
                "the app answered /dapr/subscribe with {s}"
            ))),
        }
    }

    /// `POST /<route>` with the CloudEvent.
    pub async fn topic_event(&self, ev: &TopicEvent) -> Result<EventStatus, ChannelError> {
        let mut headers = ev.metadata.clone();
        headers.insert("pubsubName".into(), ev.pubsub_name.clone());
        if let Some(tp) = ev.envelope.get("traceparent").and_then(Value::as_str)
            && !tp.is_empty()
        {
            headers.insert("traceparent".into(), tp.to_string());
        }
        let body = serde_json::to_vec(&ev.envelope).unwrap_or_default();
        let (status, answer) = self
            .call(
                Method::POST,
                &ev.path,
                "application/cloudevents+json",
                &headers,
                body,
            )
            .await?;
        match status {
            s if s.is_success() => Ok(verdict(&answer)),
            StatusCode::NOT_FOUND => Ok(EventStatus::Drop),
            s => Err(ChannelError::Request(format!(
                "the app answered the event on /{} with {s}",
                ev.path
            ))),
        }
    }

    /// `POST /<route>` with the official bulk body; entries the app does not name are
    /// retried.
    pub async fn bulk_topic_event(
        &self,
        ev: &BulkTopicEvent,
    ) -> Result<Vec<EntryStatus>, ChannelError> {
        let entries: Vec<Value> = ev
            .entries
            .iter()
            .map(|e| {
                let event = match &e.event {
                    BulkData::CloudEvent(m) => Value::Object(m.clone()),
                    BulkData::Raw(b) => {
                        Value::String(base64::engine::general_purpose::STANDARD.encode(b))
                    }
                };
                json!({
                    "entryId": e.entry_id,
                    "event": event,
                    "contentType": e.content_type,
                    "metadata": e.metadata,
                })
            })
            .collect();
        let body = json!({
            "id": ev.id,
            "type": "com.dapr.event.sent.bulk",
            "topic": ev.topic,
            "pubsubname": ev.pubsub_name,
            "metadata": ev.metadata,
            "entries": entries,
        });
        let headers = HashMap::from([("pubsubName".to_string(), ev.pubsub_name.clone())]);
        let (status, answer) = self
            .call(
                Method::POST,
                &ev.path,
                "application/json",
                &headers,
                serde_json::to_vec(&body).unwrap_or_default(),
            )
            .await?;
        let all = |status: EventStatus| {
            ev.entries
                .iter()
                .map(|e| EntryStatus {
                    entry_id: e.entry_id.clone(),
                    status,
                })
                .collect()
        };
        match status {
            s if s.is_success() => {
                let named: HashMap<String, EventStatus> = serde_json::from_slice::<Value>(&answer)
                    .ok()
                    .and_then(|v| v.as_object().and_then(|m| field(m, "statuses")).cloned())
                    .and_then(|s| s.as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|m| {
                        (
                            string(m, "entryId"),
                            EventStatus::from_word(&string(m, "status")),
                        )
                    })
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
            StatusCode::NOT_FOUND => Ok(all(EventStatus::Drop)),
            s => Err(ChannelError::Request(format!(
                "the app answered the bulk event on /{} with {s}",
                ev.path
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_in_both_forms() {
        let body = br#"[
            {"pubsubname":"p","topic":"a","route":"/a","metadata":{"rawPayload":"true"},"deadLetterTopic":"dl"},
            {"pubSubName":"p","topic":"b","routes":{"rules":[{"match":"event.type == \"x\"","path":"/x"}],"default":"/d"},"bulkSubscribe":{"enabled":true,"maxMessagesCount":10,"maxAwaitDurationMs":500}},
            {"pubsubname":"p","topic":"c"}
        ]"#;
        let subs = parse_subscriptions(body).unwrap();
        assert_eq!(subs.len(), 2, "the entry without a route is dropped");
        assert_eq!(subs[0].routes.default, "/a");
        assert_eq!(subs[0].metadata["rawPayload"], "true");
        assert_eq!(subs[0].dead_letter_topic.as_deref(), Some("dl"));
        assert_eq!(subs[1].pubsub_name, "p");
        assert_eq!(subs[1].routes.rules[0].path, "/x");
        assert_eq!(subs[1].routes.default, "/d");
        assert_eq!(subs[1].bulk.max_messages_count, 10);
        assert!(parse_subscriptions(b"{}").is_err());
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(b""), EventStatus::Success);
        assert_eq!(verdict(b"ok"), EventStatus::Success);
        assert_eq!(verdict(br#"{"status":"RETRY"}"#), EventStatus::Retry);
        assert_eq!(verdict(br#"{"status":"drop"}"#), EventStatus::Drop);
        assert_eq!(verdict(br#"{"status":"WHAT"}"#), EventStatus::Retry);
        assert_eq!(verdict(br#"{"other":1}"#), EventStatus::Success);
    }
}

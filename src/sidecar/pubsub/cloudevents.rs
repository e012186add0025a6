//! CloudEvents 1.0 envelopes as the official runtime builds and reads them: the envelope a
//! publishing sidecar wraps around a payload (`data` as JSON, `data_base64` for binary
//! content types, a string otherwise), an incoming CloudEvent passed through with the
//! topic, pub/sub name and trace context set, `metadata.cloudevent.*` overrides, TTL as
//! `expiration`, and the envelope a subscribing sidecar makes around a raw payload.
//! Envelopes are JSON objects with their keys in sorted order, as Go marshals maps, so the
//! bytes in the broker look the same whichever runtime published them.

use base64::Engine as _;
use chrono::{Local, SecondsFormat, Utc};
use serde_json::{Map, Value};

pub const DEFAULT_TYPE: &str = "com.dapr.event.sent";
pub const DEFAULT_SOURCE: &str = "Dapr";
pub const SPEC_VERSION: &str = "1.0";
pub const DEFAULT_CONTENT_TYPE: &str = "text/plain";
pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json";

/// The media type part of a content type, lower-cased (`application/json; charset=utf-8`
/// ⇒ `application/json`).
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `application/json`, `text/json` and `*+json` types.
pub fn is_json(content_type: &str) -> bool {
    let m = media_type(content_type);
    m == "application/json" || m == "text/json" || m.ends_with("+json")
}

/// `application/cloudevents+json` (and its batch form is not a single event).
pub fn is_cloudevent(content_type: &str) -> bool {
    media_type(content_type) == CLOUDEVENTS_CONTENT_TYPE
}

/// Types whose payload goes into `data_base64`.
pub fn is_binary(content_type: &str) -> bool {
    let m = media_type(content_type);
    m == "application/octet-stream" || m == "application/cloudevents+protobuf"
}

/// What a publish request says about the envelope it wants.
#[derive(Debug, Clone, Default)]
pub struct Publication<'a> {
    pub topic: &'a str,
    pub pubsub_name: &'a str,
    /// The publishing app (the default `source`).
    pub app_id: &'a str,
    /// The request's content type (`None`: `text/plain`).
    pub content_type: Option<&'a str>,
    pub data: &'a [u8],
    /// `traceparent` and `tracestate` of the request ("" when none).
    pub traceparent: &'a str,
    pub tracestate: &'a str,
}

/// Why a payload could not be turned into an envelope.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EnvelopeError(pub String);

/// The envelope for `p` (or `p.data` itself, completed, when it already is a CloudEvent),
/// with `metadata`'s `cloudevent.*` overrides applied.
pub fn envelope(
    p: &Publication<'_>,
    metadata: &std::collections::HashMap<String, String>,
) -> Result<Map<String, Value>, EnvelopeError> {
    let content_type = p.content_type.filter(|c| !c.is_empty());
    let mut ce = if content_type.is_some_and(is_cloudevent) {
        let incoming: Value = serde_json::from_slice(p.data).map_err(|e| {
            EnvelopeError(format!("the body is not a CloudEvents JSON object: {e}"))
        })?;
        let Value::Object(mut m) = incoming else {
            return Err(EnvelopeError(
                "the body is not a CloudEvents JSON object".into(),
            ));
        };
        m.entry("source")
            .or_insert_with(|| Value::from(DEFAULT_SOURCE));
        m.entry("type").or_insert_with(|| Value::from(DEFAULT_TYPE));
        m.entry("specversion")
            .or_insert_with(|| Value::from(SPEC_VERSION));
        m
    } else {
        let content_type = content_type.unwrap_or(DEFAULT_CONTENT_TYPE);
        let mut m = Map::new();
        if is_json(content_type) {
            let data = serde_json::from_slice::<Value>(p.data)
                .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(p.data).into_owned()));
            m.insert("data".into(), data);
        } else if is_binary(content_type) {
            let b64 = base64::engine::general_purpose::STANDARD.encode(p.data);
            m.insert("data_base64".into(), Value::from(b64));
        } else {
            m.insert(
                "data".into(),
                Value::from(String::from_utf8_lossy(p.data).into_owned()),
            );
        }
        m.insert("datacontenttype".into(), Value::from(content_type));
        m.insert("id".into(), Value::from(uuid::Uuid::new_v4().to_string()));
        m.insert("source".into(), Value::from(p.app_id));
        m.insert("specversion".into(), Value::from(SPEC_VERSION));
        m.insert("type".into(), Value::from(DEFAULT_TYPE));
        m
    };
    ce.insert("topic".into(), Value::from(p.topic));
    ce.insert("pubsubname".into(), Value::from(p.pubsub_name));
    ce.insert("traceid".into(), Value::from(p.traceparent));
    ce.insert("traceparent".into(), Value::from(p.traceparent));
    ce.insert("tracestate".into(), Value::from(p.tracestate));
    ce.entry("time")
        .or_insert_with(|| Value::from(Local::now().to_rfc3339_opts(SecondsFormat::Secs, true)));
    // `metadata.cloudevent.<field>` overrides, for the fields the official runtime lets
    // callers set (not `topic` or `pubsubname`).
    for field in [
        "id",
        "source",
        "type",
        "subject",
        "traceid",
        "traceparent",
        "tracestate",
    ] {
        if let Some(v) = metadata.get(&format!("cloudevent.{field}")) {
            ce.insert(field.into(), Value::from(v.as_str()));
        }
    }
    Ok(sorted(ce))
}

/// `expiration` = now + `ttl_seconds` (UTC, RFC 3339), for brokers without message TTLs.
pub fn set_expiration(ce: &mut Map<String, Value>, ttl_seconds: i64) {
    if let Some(at) =
        chrono::TimeDelta::try_seconds(ttl_seconds).and_then(|d| Utc::now().checked_add_signed(d))
    {
        ce.insert(
            "expiration".into(),
            Value::from(at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
    }
}

/// Whether an envelope's `expiration` is in the past (an unreadable one never expires).
pub fn has_expired(ce: &Map<String, Value>) -> bool {
    ce.get("expiration")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .is_some_and(|t| t < Utc::now())
}

/// The envelope a subscribing sidecar makes around a raw payload (`rawPayload=true`).
pub fn from_raw_payload(data: &[u8], topic: &str, pubsub_name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "data_base64".into(),
        Value::from(base64::engine::general_purpose::STANDARD.encode(data)),
    );
    m.insert(
        "datacontenttype".into(),
        Value::from("application/octet-stream"),
    );
    m.insert("id".into(), Value::from(uuid::Uuid::new_v4().to_string()));
    m.insert("pubsubname".into(), Value::from(pubsub_name));
    m.insert("source".into(), Value::from(DEFAULT_SOURCE));
    m.insert("specversion".into(), Value::from(SPEC_VERSION));
    m.insert("topic".into(), Value::from(topic));
    m.insert("type".into(), Value::from(DEFAULT_TYPE));
    m
}

/// `m` with its keys in sorted order (as Go marshals maps).
pub fn sorted(m: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = m.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn publication<'a>(ct: Option<&'a str>, data: &'a [u8]) -> Publication<'a> {
        Publication {
            topic: "orders",
            pubsub_name: "pubsub",
            app_id: "checkout",
            content_type: ct,
            data,
            traceparent: "",
            tracestate: "",
        }
    }

    #[test]
    fn data_placement_follows_the_content_type() {
        let none = HashMap::new();
        let j = envelope(&publication(Some("application/json"), br#"{"a":1}"#), &none).unwrap();
        assert_eq!(j["data"], serde_json::json!({"a": 1}));
        assert_eq!(j["datacontenttype"], "application/json");
        assert_eq!(j["source"], "checkout");
        assert_eq!(j["type"], DEFAULT_TYPE);
        assert_eq!(j["specversion"], "1.0");
        assert_eq!(j["topic"], "orders");
        assert_eq!(j["pubsubname"], "pubsub");
        let keys: Vec<&String> = j.keys().collect();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort();
        assert_eq!(keys, sorted_keys, "keys in Go's order");
        let bad = envelope(&publication(Some("application/json"), b"not json"), &none).unwrap();
        assert_eq!(bad["data"], "not json");
        let text = envelope(&publication(None, b"hi"), &none).unwrap();
        assert_eq!(
            (text["data"].as_str(), text["datacontenttype"].as_str()),
            (Some("hi"), Some("text/plain"))
        );
        let bin = envelope(
            &publication(Some("application/octet-stream"), &[0, 1, 255]),
            &none,
        )
        .unwrap();
        assert_eq!(bin["data_base64"], "AAH/");
        assert!(bin.get("data").is_none());
    }

    #[test]
    fn incoming_cloudevents_and_overrides() {
        let ce = br#"{"id":"x1","source":"e2e","type":"test.v1","subject":"s","data":{"a":1},"datacontenttype":"application/json","topic":"wrong"}"#;
        let m = envelope(
            &publication(Some(CLOUDEVENTS_CONTENT_TYPE), ce),
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(
            (m["id"].as_str(), m["source"].as_str(), m["topic"].as_str()),
            (Some("x1"), Some("e2e"), Some("orders"))
        );
        assert!(m.contains_key("time"));
        assert!(
            envelope(
                &publication(Some(CLOUDEVENTS_CONTENT_TYPE), b"[1]"),
                &HashMap::new()
            )
            .is_err()
        );
        let over = HashMap::from([
            ("cloudevent.source".to_string(), "mine".to_string()),
            ("cloudevent.topic".to_string(), "nope".to_string()),
        ]);
        let m = envelope(&publication(None, b"x"), &over).unwrap();
        assert_eq!(
            (m["source"].as_str(), m["topic"].as_str()),
            (Some("mine"), Some("orders"))
        );
    }

    #[test]
    fn expiration_and_raw_payloads() {
        let mut m = Map::new();
        set_expiration(&mut m, -10);
        assert!(has_expired(&m));
        set_expiration(&mut m, 60);
        assert!(!has_expired(&m));
        let raw = from_raw_payload(b"{\"cli\": 1}", "t", "p");
        assert_eq!(raw["data_base64"], "eyJjbGkiOiAxfQ==");
        assert_eq!(raw["datacontenttype"], "application/octet-stream");
    }
}

//! The `Subscription` kind (declarative subscriptions): `dapr.io/v2alpha1` with
//! `spec.routes` (`rules` of `match`/`path`, `default`) and `dapr.io/v1alpha1` with
//! `spec.route`; `pubsubname`, `topic`, `metadata`, `deadLetterTopic`, `bulkSubscribe`, and
//! `scopes` (the apps it applies to; empty: every app).

use std::collections::HashMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::yaml::{Document, Scalar};
use super::{ResourceError, Source};
use crate::sidecar::app_channel::events::{BulkSubscribe, RouteRule, Routes, TopicSubscription};

/// A loaded `Subscription`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub name: String,
    pub spec: TopicSubscription,
    pub scopes: Vec<String>,
    pub source: Source,
}

#[derive(Deserialize)]
struct Doc {
    metadata: Option<Spanned<Meta>>,
    spec: Option<Spanned<Spec>>,
    scopes: Option<Vec<Scalar>>,
}

#[derive(Deserialize)]
struct Meta {
    name: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    pubsubname: Option<Scalar>,
    topic: Option<Scalar>,
    route: Option<Scalar>,
    routes: Option<RoutesDoc>,
    metadata: Option<HashMap<String, Scalar>>,
    dead_letter_topic: Option<Scalar>,
    bulk_subscribe: Option<BulkDoc>,
}

#[derive(Deserialize)]
struct RoutesDoc {
    default: Option<Scalar>,
    rules: Option<Vec<RuleDoc>>,
}

#[derive(Deserialize)]
struct RuleDoc {
    #[serde(rename = "match")]
    matcher: Option<Scalar>,
    path: Option<Scalar>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkDoc {
    enabled: Option<Scalar>,
    max_messages_count: Option<Scalar>,
    max_await_duration_ms: Option<Scalar>,
}

fn s(v: Option<Scalar>) -> String {
    v.map(|s| s.0.trim().to_string()).unwrap_or_default()
}

/// Parses one `kind: Subscription` document of `api_version`.
pub fn parse(doc: &Document, api_version: &str) -> Result<Subscription, ResourceError> {
    let parsed: Doc = doc.parse()?;
    let start = doc.first_content_line();
    let name_spanned = parsed.metadata.as_ref().and_then(|m| m.value.name.as_ref());
    let name = name_spanned
        .map(|n| n.value.0.trim().to_string())
        .unwrap_or_default();
    let line = name_spanned.map_or(start, |n| doc.line_of(n));
    let err = |line: usize, field: &str, msg: &str| {
        ResourceError::new(
            doc.source(line),
            format!("subscription {name:?}: field {field}: {msg}"),
        )
    };
    if name.is_empty() {
        return Err(err(line, "metadata.name", "missing or empty"));
    }
    let Some(spec) = parsed.spec else {
        return Err(err(
            start,
            "spec",
            "missing; a Subscription needs spec.pubsubname, spec.topic and a route",
        ));
    };
    let spec_line = doc.line_of(&spec);
    let spec = spec.value;
    let pubsub_name = s(spec.pubsubname);
    let topic = s(spec.topic);
    if pubsub_name.is_empty() {
        return Err(err(spec_line, "spec.pubsubname", "missing or empty"));
    }
    if topic.is_empty() {
        return Err(err(spec_line, "spec.topic", "missing or empty"));
    }
    let mut routes = Routes {
        rules: Vec::new(),
        default: s(spec.route),
    };
    if let Some(r) = spec.routes {
        let d = s(r.default);
        if !d.is_empty() {
            routes.default = d;
        }
        for rule in r.rules.unwrap_or_default() {
            routes.rules.push(RouteRule {
                matcher: s(rule.matcher),
                path: s(rule.path),
            });
        }
    }
    if api_version == "dapr.io/v1alpha1" && routes.default.is_empty() {
        return Err(err(
            spec_line,
            "spec.route",
            "missing; a v1alpha1 Subscription needs spec.route",
        ));
    }
    if routes.default.is_empty() && routes.rules.is_empty() {
        return Err(err(
            spec_line,
            "spec.routes",
            "missing; give spec.routes.default or spec.routes.rules",
        ));
    }
    if let Some(bad) = routes.rules.iter().find(|r| r.path.is_empty()) {
        return Err(err(
            spec_line,
            "spec.routes.rules",
            &format!("the rule {:?} has no path", bad.matcher),
        ));
    }
    let bulk = match spec.bulk_subscribe {
        None => BulkSubscribe::default(),
        Some(b) => {
            let num = |v: Option<Scalar>, field: &str| -> Result<u64, ResourceError> {
                let t = s(v);
                if t.is_empty() {
                    return Ok(0);
                }
                t.parse()
                    .map_err(|_| err(spec_line, field, &format!("{t:?} is not a whole number")))
            };
            BulkSubscribe {
                enabled: s(b.enabled).eq_ignore_ascii_case("true"),
                max_messages_count: u32::try_from(num(
                    b.max_messages_count,
                    "spec.bulkSubscribe.maxMessagesCount",
                )?)
                .unwrap_or(u32::MAX),
                max_await_duration_ms: num(
                    b.max_await_duration_ms,
                    "spec.bulkSubscribe.maxAwaitDurationMs",
                )?,
            }
        }
    };
    Ok(Subscription {
        name,
        spec: TopicSubscription {
            pubsub_name,
            topic,
            metadata: spec
                .metadata
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect(),
            routes,
            dead_letter_topic: Some(s(spec.dead_letter_topic)).filter(|t| !t.is_empty()),
            bulk,
        },
        scopes: parsed
            .scopes
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.0.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        source: doc.source(line),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sidecar::resources::yaml::documents;
    use std::path::Path;

    fn one(text: &str, version: &str) -> Result<Subscription, ResourceError> {
        parse(&documents(Path::new("/r/s.yaml"), text)[0], version)
    }

    #[test]
    fn both_versions() {
        let v2 = "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: orders\nspec:\n  pubsubname: pubsub\n  topic: orders\n  routes:\n    rules:\n    - match: event.type == \"x\"\n      path: /x\n    default: /orders\n  metadata:\n    rawPayload: \"true\"\n  deadLetterTopic: dead\n  bulkSubscribe:\n    enabled: true\n    maxMessagesCount: 10\nscopes:\n- app1\n";
        let s = one(v2, "dapr.io/v2alpha1").unwrap();
        assert_eq!(s.spec.routes.default, "/orders");
        assert_eq!(s.spec.routes.rules[0].path, "/x");
        assert_eq!(s.spec.metadata["rawPayload"], "true");
        assert_eq!(s.spec.dead_letter_topic.as_deref(), Some("dead"));
        assert!(s.spec.bulk.enabled);
        assert_eq!(s.scopes, ["app1"]);
        let v1 = "apiVersion: dapr.io/v1alpha1\nkind: Subscription\nmetadata:\n  name: o\nspec:\n  pubsubname: p\n  topic: t\n  route: /t\n";
        assert_eq!(
            one(v1, "dapr.io/v1alpha1").unwrap().spec.routes.default,
            "/t"
        );
        let bad = "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: o\nspec:\n  pubsubname: p\n  topic: t\n";
        let e = one(bad, "dapr.io/v2alpha1").unwrap_err().to_string();
        assert!(
            e.starts_with("/r/s.yaml:") && e.contains("spec.routes"),
            "{e}"
        );
    }
}

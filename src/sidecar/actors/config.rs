//! The app's actor configuration, read once from `GET /dapr/config` when the app is up:
//! the hosted types (`entities`), `actorIdleTimeout`, `actorScanInterval`,
//! `drainOngoingCallTimeout`, `drainRebalancedActors`, `reentrancy` and the per-type
//! overrides of `entitiesConfig`. Unknown fields are ignored; an unparsable duration falls
//! back to its default with a warning, as upstream. Durations are Go's syntax, including
//! the `μs` (U+03BC) the Python SDK writes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::sidecar::log::{self, scope};
use crate::sidecar::resources::parse_duration;

pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
pub const DEFAULT_SCAN_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_MAX_STACK_DEPTH: u32 = 32;

/// How one actor type is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeConfig {
    pub idle_timeout: Duration,
    pub drain_ongoing_call_timeout: Duration,
    pub drain_rebalanced_actors: bool,
    /// `Some(maxStackDepth)` when reentrancy is enabled.
    pub reentrancy: Option<u32>,
}

/// The app's answer to `GET /dapr/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// Hosted types and how each runs (the defaults of the document, then `entitiesConfig`).
    pub types: BTreeMap<String, TypeConfig>,
    pub scan_interval: Duration,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            types: BTreeMap::new(),
            scan_interval: DEFAULT_SCAN_INTERVAL,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Knobs {
    #[serde(default)]
    entities: Vec<String>,
    actor_idle_timeout: Option<Value>,
    actor_scan_interval: Option<Value>,
    drain_ongoing_call_timeout: Option<Value>,
    drain_rebalanced_actors: Option<bool>,
    reentrancy: Option<Reentrancy>,
    #[serde(default)]
    entities_config: Vec<Knobs>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct Reentrancy {
    #[serde(default)]
    enabled: bool,
    max_stack_depth: Option<u32>,
}

/// Go duration text (also `μs`), or `None` with a warning naming the field.
fn duration(field: &str, v: &Option<Value>) -> Option<Duration> {
    let text = match v.as_ref()? {
        Value::String(s) => s.replace('\u{3bc}', "u"),
        Value::Null => return None,
        other => other.to_string(),
    };
    let parsed = parse_duration(&text);
    if parsed.is_none() {
        log::warn(
            scope::RUNTIME,
            &format!(
                "failed to parse {field} {text:?} from the app's configuration; using the default"
            ),
        );
    }
    parsed
}

fn type_config(k: &Knobs, base: &TypeConfig) -> TypeConfig {
    TypeConfig {
        idle_timeout: duration("actorIdleTimeout", &k.actor_idle_timeout)
            .filter(|d| !d.is_zero())
            .unwrap_or(base.idle_timeout),
        drain_ongoing_call_timeout: duration(
            "drainOngoingCallTimeout",
            &k.drain_ongoing_call_timeout,
        )
        .unwrap_or(base.drain_ongoing_call_timeout),
        drain_rebalanced_actors: k
            .drain_rebalanced_actors
            .unwrap_or(base.drain_rebalanced_actors),
        reentrancy: match k.reentrancy {
            None => base.reentrancy,
            Some(r) if r.enabled => Some(
                r.max_stack_depth
                    .filter(|d| *d > 0)
                    .unwrap_or(DEFAULT_MAX_STACK_DEPTH),
            ),
            Some(_) => None,
        },
    }
}

/// Parses the app's document; an unreadable one is an error (the caller treats it as "no
/// hosted types", as upstream treats a failed config call).
pub fn parse(body: &[u8]) -> Result<AppConfig, String> {
    let knobs: Knobs = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let base = type_config(
        &knobs,
        &TypeConfig {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            drain_ongoing_call_timeout: DEFAULT_DRAIN_TIMEOUT,
            drain_rebalanced_actors: true,
            reentrancy: None,
        },
    );
    let mut types: BTreeMap<String, TypeConfig> = knobs
        .entities
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| (t.clone(), base.clone()))
        .collect();
    for over in &knobs.entities_config {
        let cfg = type_config(over, &base);
        for t in &over.entities {
            // Only types the app hosts; an override for another type is ignored.
            if let Some(slot) = types.get_mut(t) {
                *slot = cfg.clone();
            }
        }
    }
    Ok(AppConfig {
        types,
        scan_interval: duration("actorScanInterval", &knobs.actor_scan_interval)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_SCAN_INTERVAL),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_python_sdk_document() {
        let doc = br#"{"entities":["DemoActor","Other"],"actorIdleTimeout":"1h0m0s0ms0\u03bcs",
            "actorScanInterval":"0h0m1s500ms0\u03bcs","drainOngoingCallTimeout":"0h1m0s0ms0\u03bcs",
            "drainRebalancedActors":true,"reentrancy":{"enabled":true,"maxStackDepth":4},
            "entitiesConfig":[{"entities":["Other"],"actorIdleTimeout":"5s","reentrancy":{"enabled":false}},
                              {"entities":["NotHosted"],"actorIdleTimeout":"7s"}],
            "unknown":1}"#;
        let c = parse(doc).unwrap();
        assert_eq!(c.scan_interval, Duration::from_millis(1500));
        assert_eq!(c.types.len(), 2);
        let demo = &c.types["DemoActor"];
        assert_eq!(demo.idle_timeout, Duration::from_secs(3600));
        assert_eq!(demo.drain_ongoing_call_timeout, Duration::from_secs(60));
        assert_eq!(demo.reentrancy, Some(4));
        let other = &c.types["Other"];
        assert_eq!(other.idle_timeout, Duration::from_secs(5));
        assert_eq!(other.reentrancy, None);
    }

    #[test]
    fn defaults_and_bad_values() {
        let c =
            parse(br#"{"entities":["A"],"actorIdleTimeout":"soon","reentrancy":{"enabled":true}}"#)
                .unwrap();
        assert_eq!(c.types["A"].idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert_eq!(c.types["A"].reentrancy, Some(DEFAULT_MAX_STACK_DEPTH));
        assert_eq!(c.scan_interval, DEFAULT_SCAN_INTERVAL);
        assert!(parse(b"{}").unwrap().types.is_empty());
        assert!(parse(b"not json").is_err());
    }
}

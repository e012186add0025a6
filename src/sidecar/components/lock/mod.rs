//! Distributed lock stores: one trait, the implementations (today `lock.redis`, each
//! registered by one row in `components::registry`), one conformance suite
//! (`tests/it/conformance/lock.rs`), and the lock key layout shared with official daprd.
//!
//! Stores receive resource ids the API layer has already turned into lock keys
//! (`lock||<appid>||<resource>`, see [`KeyPrefix`]), so two daprds (official or this one)
//! sharing a Redis contend for the same keys.

use std::sync::Arc;

use async_trait::async_trait;

use super::Instance;
use super::registry::Context;
use crate::sidecar::resources::{Component, ResourceError};

pub mod redis;

/// The outcome of an unlock, with the official wire values (`UnlockResponse.Status` over
/// gRPC, `{"status":N}` over HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockStatus {
    Success = 0,
    LockDoesNotExist = 1,
    LockBelongsToOthers = 2,
    InternalError = 3,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LockError(pub String);

#[async_trait]
pub trait LockStore: Send + Sync + 'static {
    /// Takes the lock `key` for `owner` for `expiry_seconds` (> 0) unless someone holds it;
    /// `true` when this call took it.
    async fn try_lock(
        &self,
        key: &str,
        owner: &str,
        expiry_seconds: i32,
    ) -> Result<bool, LockError>;
    /// Releases the lock `key` if `owner` holds it.
    async fn unlock(&self, key: &str, owner: &str) -> Result<UnlockStatus, LockError>;
    /// Capabilities reported in metadata (none for the official lock stores).
    fn features(&self) -> Vec<String> {
        Vec::new()
    }
    /// Releases connections on shutdown.
    async fn close(&self) {}
}

/// A running lock store and the key layout of its component.
pub struct LockComponent {
    pub store: Arc<dyn LockStore>,
    pub prefix: KeyPrefix,
}

impl LockComponent {
    /// The instance a lock factory's `create` returns.
    pub fn instance(
        store: Arc<dyn LockStore>,
        component: &Component,
        ctx: &Context,
    ) -> Result<Instance, ResourceError> {
        Ok(Instance::Lock(LockComponent {
            store,
            prefix: KeyPrefix::from_component(component, &ctx.app_id)?,
        }))
    }
}

/// The checks every lock store shares (today: `keyPrefix`); each type's `validate` calls it.
pub fn validate_common(component: &Component, ctx: &Context) -> Result<(), ResourceError> {
    KeyPrefix::from_component(component, &ctx.app_id).map(|_| ())
}

/// How lock keys are built from resource ids (component metadata `keyPrefix`, read
/// case-insensitively as upstream's `pkg/components/lock`): `appid` (default) ⇒
/// `lock||<appid>||<resource>`, `name` ⇒ `lock||<component>||<resource>`, `none` ⇒
/// `lock||<resource>`, anything else `X` ⇒ `lock||x||<resource>` (upstream lower-cases the
/// custom prefix too). `||` is refused in prefixes and resource ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefix {
    prefix: Option<String>,
}

/// Every lock key starts with this segment.
const API_PREFIX: &str = "lock";
const SEPARATOR: &str = "||";

impl KeyPrefix {
    pub fn from_component(component: &Component, app_id: &str) -> Result<KeyPrefix, ResourceError> {
        let raw = component.meta("keyPrefix").unwrap_or("").trim();
        if raw.contains(SEPARATOR) {
            return Err(component.field_error(
                "keyPrefix",
                format!("{raw:?} must not contain '||'; use appid, name, none or a custom prefix"),
            ));
        }
        let prefix = match raw.to_lowercase().as_str() {
            "" | "appid" => (!app_id.is_empty()).then(|| app_id.to_string()),
            "name" => Some(component.name.clone()),
            "none" => None,
            custom => Some(custom.to_string()),
        };
        Ok(KeyPrefix { prefix })
    }

    /// The lock key of `resource_id`; refuses ids containing `||`, with upstream's message.
    pub fn key(&self, resource_id: &str) -> Result<String, String> {
        if resource_id.contains(SEPARATOR) {
            return Err(format!(
                "input key/keyPrefix '{resource_id}' can't contain '{SEPARATOR}'"
            ));
        }
        Ok(match &self.prefix {
            Some(p) => format!("{API_PREFIX}{SEPARATOR}{p}{SEPARATOR}{resource_id}"),
            None => format!("{API_PREFIX}{SEPARATOR}{resource_id}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(value: Option<&str>) -> Result<KeyPrefix, ResourceError> {
        let mut c = Component::new("lockstore", "lock.redis");
        if let Some(v) = value {
            c = c.with_meta("keyPrefix", v);
        }
        KeyPrefix::from_component(&c, "myapp")
    }

    #[test]
    fn lock_keys_follow_upstream() {
        assert_eq!(prefix(None).unwrap().key("r").unwrap(), "lock||myapp||r");
        assert_eq!(
            prefix(Some("AppId")).unwrap().key("r").unwrap(),
            "lock||myapp||r"
        );
        assert_eq!(
            prefix(Some("name")).unwrap().key("r").unwrap(),
            "lock||lockstore||r"
        );
        assert_eq!(prefix(Some("NONE")).unwrap().key("r").unwrap(), "lock||r");
        assert_eq!(
            prefix(Some("Shared")).unwrap().key("r").unwrap(),
            "lock||shared||r"
        );
        let e = prefix(None).unwrap().key("a||b").unwrap_err();
        assert_eq!(e, "input key/keyPrefix 'a||b' can't contain '||'");
        let e = prefix(Some("x||y")).unwrap_err().to_string();
        assert!(e.contains("keyPrefix"), "{e}");
    }
}

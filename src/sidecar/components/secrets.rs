//! `secretKeyRef` resolution for component metadata.
//!
//! A component that names a secret store (`auth.secretStore`) has its references resolved
//! through that store once secret stores have started ([`resolve_from_store`]); one that
//! names none reads them from environment variables, like `secretstores.local.env` (the
//! secret `name` first, then its `key`), before anything starts ([`resolve_from_env`]).
//! Errors name the file, the line and the field, and what to set.

use super::ComponentStore;
use crate::sidecar::resources::{Component, ResourceError};

/// Whether `c` still has unresolved `secretKeyRef`s.
pub fn pending(c: &Component) -> bool {
    c.metadata.iter().any(|m| m.secret_ref.is_some())
}

/// Resolves every `secretKeyRef` of `c` from the environment.
pub fn resolve_from_env(mut c: Component) -> Result<Component, ResourceError> {
    for i in 0..c.metadata.len() {
        let Some(r) = c.metadata[i].secret_ref.clone() else {
            continue;
        };
        let mut tried = vec![r.name.as_str()];
        if let Some(k) = r.key.as_deref()
            && k != r.name
        {
            tried.push(k);
        }
        let Some(value) = tried.iter().find_map(|var| std::env::var(var).ok()) else {
            let field = c.metadata[i].name.clone();
            return Err(c.field_error(
                &field,
                format!(
                    "secretKeyRef {{name: {}{}}} cannot be resolved: with no auth.secretStore, \
                     secrets are read from environment variables; set {}",
                    r.name,
                    r.key
                        .as_deref()
                        .map(|k| format!(", key: {k}"))
                        .unwrap_or_default(),
                    tried.join(" or ")
                ),
            ));
        };
        c.metadata[i].value = value;
        c.metadata[i].secret_ref = None;
    }
    Ok(c)
}

/// Resolves every `secretKeyRef` of `c` through the secret store it names.
pub async fn resolve_from_store(
    c: Component,
    store: &ComponentStore,
) -> Result<Component, ResourceError> {
    let name = c.secret_store.clone().unwrap_or_default();
    // No secret store type is registered yet, so none can be running: say which would be.
    let running = store.count(super::Category::SecretStores);
    Err(c.field_error(
        "auth.secretStore",
        format!(
            "secret store {name:?} is not loaded ({running} secret stores are); remove \
             auth.secretStore to read secrets from environment variables"
        ),
    ))
}

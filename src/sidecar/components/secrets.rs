//! `secretKeyRef` resolution for component metadata.
//!
//! A component that names a secret store (`auth.secretStore`) has its references resolved
//! through that store once secret stores have started ([`resolve_from_store`]): the secret
//! `name` is read and its `key` (the name again when no key is given) picked from it, as
//! the official runtime does. One that names none reads them from environment variables,
//! like `secretstores.local.env` (the secret `name` first, then its `key`), before anything
//! starts ([`resolve_from_env`]). Errors name the file, the line and the field, and what to
//! set.

use super::{Category, ComponentStore};
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
    mut c: Component,
    running: &ComponentStore,
) -> Result<Component, ResourceError> {
    let name = c.secret_store.clone().unwrap_or_default();
    let Some(store) = running.secret_store(&name) else {
        let loaded = running.names(Category::SecretStores);
        return Err(c.field_error(
            "auth.secretStore",
            format!(
                "secret store {name:?} is not loaded (loaded secret stores: {}); add a \
                 secretstores.* component of that name, or remove auth.secretStore to read \
                 secrets from environment variables",
                if loaded.is_empty() {
                    "none".to_string()
                } else {
                    loaded.join(", ")
                }
            ),
        ));
    };
    let no_metadata = Default::default();
    for i in 0..c.metadata.len() {
        let Some(r) = c.metadata[i].secret_ref.clone() else {
            continue;
        };
        let key = r.key.as_deref().unwrap_or(&r.name);
        let field = c.metadata[i].name.clone();
        let secret = store.get(&r.name, &no_metadata).await.map_err(|e| {
            c.field_error(
                &field,
                format!("secretKeyRef {:?} in secret store {name}: {e}", r.name),
            )
        })?;
        let Some(value) = secret.get(key) else {
            return Err(c.field_error(
                &field,
                format!(
                    "secret {:?} of secret store {name} has no key {key:?} (its keys: {})",
                    r.name,
                    secret.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        c.metadata[i].value = value.clone();
        c.metadata[i].secret_ref = None;
    }
    Ok(c)
}

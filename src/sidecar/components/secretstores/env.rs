//! `secretstores.local.env`: secrets are this process's environment variables, as the
//! official component reads them. `prefix` (optional) is prepended to every name looked up
//! and, for bulk reads, limits the variables to those carrying it (removed from the names
//! returned). `APP_API_TOKEN` and `DAPR_*` variables are never readable: a request for one
//! answers an empty value, as upstream.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::BoxFuture;

use super::{Metadata, Secret, SecretError, SecretStore};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

pub struct EnvStore {
    prefix: String,
}

fn allowed(var: &str) -> bool {
    let upper = var.to_ascii_uppercase();
    upper != "APP_API_TOKEN" && !upper.starts_with("DAPR_")
}

#[async_trait]
impl SecretStore for EnvStore {
    async fn get(&self, name: &str, _metadata: &Metadata) -> Result<Secret, SecretError> {
        let var = format!("{}{name}", self.prefix);
        let value = if allowed(&var) {
            std::env::var(&var).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Secret::from([(name.to_string(), value)]))
    }

    async fn bulk(&self, _metadata: &Metadata) -> Result<BTreeMap<String, Secret>, SecretError> {
        let mut out = BTreeMap::new();
        for (var, value) in std::env::vars() {
            let Some(name) = var.strip_prefix(&self.prefix) else {
                continue;
            };
            if name.is_empty() || !allowed(&var) {
                continue;
            }
            out.insert(name.to_string(), Secret::from([(name.to_string(), value)]));
        }
        Ok(out)
    }
}

/// Registry row: `prefix` is any string.
pub fn validate(_c: &Component, _ctx: &Context) -> Result<(), ResourceError> {
    Ok(())
}

/// Registry row.
pub fn create(c: Component, _ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let prefix = c.meta("prefix").unwrap_or("").to_string();
        Ok(Instance::SecretStore(Arc::new(EnvStore { prefix })))
    })
}

//! `secretstores.local.file`: secrets read once at start-up from a JSON file
//! (`secretsFile`, relative to daprd's working directory). Nested objects and arrays are
//! flattened into names joined by `nestedSeparator` (`:` by default), so `{"db":{"pw":"x"}}`
//! holds the secret `db:pw`. With `multiValued: true` the top-level keys are the secrets
//! and the (flattened) objects below them their keys and values. Scalars other than
//! strings read as their JSON text (`5`, `true`; the official component prints Go's
//! `%!s(float64=5)` for them, which no one means).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{Metadata, Secret, SecretError, SecretStore};
use crate::sidecar::components::metadata::meta_bool;
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

pub struct FileStore {
    secrets: BTreeMap<String, Secret>,
    multi_valued: bool,
}

#[async_trait]
impl SecretStore for FileStore {
    async fn get(&self, name: &str, _metadata: &Metadata) -> Result<Secret, SecretError> {
        self.secrets
            .get(name)
            .cloned()
            .ok_or_else(|| SecretError::NotFound(name.to_string()))
    }

    async fn bulk(&self, _metadata: &Metadata) -> Result<BTreeMap<String, Secret>, SecretError> {
        Ok(self.secrets.clone())
    }

    fn features(&self) -> Vec<String> {
        if self.multi_valued {
            vec!["MULTIPLE_KEY_VALUES_PER_SECRET".to_string()]
        } else {
            Vec::new()
        }
    }
}

struct Config {
    file: String,
    separator: String,
    multi_valued: bool,
}

fn config(c: &Component) -> Result<Config, ResourceError> {
    let file = c.meta("secretsFile").map(str::trim).unwrap_or("");
    if file.is_empty() {
        return Err(c.field_error(
            "secretsFile",
            "required; set it to the path of a JSON file of secrets",
        ));
    }
    let separator = c
        .meta("nestedSeparator")
        .filter(|s| !s.is_empty())
        .unwrap_or(":")
        .to_string();
    Ok(Config {
        file: file.to_string(),
        separator,
        multi_valued: meta_bool(c, "multiValued", false)?,
    })
}

/// `value` flattened into `out`, its names prefixed with `path`.
fn flatten(path: &str, value: &Value, sep: &str, out: &mut Secret) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}{sep}{k}")
        }
    };
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&join(k), v, sep, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&join(&i.to_string()), v, sep, out);
            }
        }
        Value::String(s) => {
            out.insert(path.to_string(), s.clone());
        }
        other => {
            out.insert(path.to_string(), other.to_string());
        }
    }
}

fn load(c: &Component, cfg: &Config) -> Result<FileStore, ResourceError> {
    let text = std::fs::read_to_string(&cfg.file)
        .map_err(|e| c.field_error("secretsFile", format!("cannot read {}: {e}", cfg.file)))?;
    let doc: serde_json::Map<String, Value> = serde_json::from_str(&text).map_err(|e| {
        c.field_error(
            "secretsFile",
            format!("{} is not a JSON object: {e}", cfg.file),
        )
    })?;
    let mut secrets = BTreeMap::new();
    if cfg.multi_valued {
        for (name, value) in &doc {
            let mut secret = Secret::new();
            match value {
                Value::Object(_) | Value::Array(_) => {
                    flatten("", value, &cfg.separator, &mut secret)
                }
                Value::String(s) => {
                    secret.insert(name.clone(), s.clone());
                }
                other => {
                    secret.insert(name.clone(), other.to_string());
                }
            }
            secrets.insert(name.clone(), secret);
        }
    } else {
        let mut flat = Secret::new();
        flatten("", &Value::Object(doc), &cfg.separator, &mut flat);
        for (name, value) in flat {
            secrets.insert(name.clone(), Secret::from([(name, value)]));
        }
    }
    Ok(FileStore {
        secrets,
        multi_valued: cfg.multi_valued,
    })
}

/// Registry row: checks the metadata without reading the file.
pub fn validate(c: &Component, _ctx: &Context) -> Result<(), ResourceError> {
    config(c).map(|_| ())
}

/// Registry row: reads the file.
pub fn create(c: Component, _ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let cfg = config(&c)?;
        Ok(Instance::SecretStore(Arc::new(load(&c, &cfg)?)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_flatten_with_the_separator() {
        let v: Value = serde_json::from_str(r#"{"a":{"b":"x","c":[1,true]},"d":"y"}"#).unwrap();
        let mut out = Secret::new();
        flatten("", &v, ":", &mut out);
        let got: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [("a:b", "x"), ("a:c:0", "1"), ("a:c:1", "true"), ("d", "y")]
        );
    }
}

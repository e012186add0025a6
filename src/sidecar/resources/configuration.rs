//! The `Configuration` kind, read from the `--config` files: environment variables are
//! expanded first (`${NAME}`, `$NAME`, as Go's `os.ExpandEnv`), then every document of kind
//! `Configuration` (or without a kind) is merged in file order, later files winning field
//! by field. Only the settings this sidecar acts on are kept: `spec.features`,
//! `spec.nameResolution`, `spec.logging.apiLogging` and `spec.secrets.scopes`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ResourceError;
use super::yaml;

/// Settings read from `--config` files, merged in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeConfiguration {
    /// `spec.features` with `enabled: true`, in file order.
    pub enabled_features: Vec<String>,
    /// `spec.nameResolution`, passed to service invocation as is.
    pub name_resolution: Option<Value>,
    /// `spec.logging.apiLogging.enabled`.
    pub api_logging: Option<bool>,
    /// `spec.logging.apiLogging.omitHealthChecks`.
    pub api_logging_omit_health_checks: bool,
    /// `spec.secrets.scopes`: per secret store, which secrets this app may read.
    pub secret_scopes: Vec<SecretScope>,
}

/// One entry of `spec.secrets.scopes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretScope {
    pub store_name: String,
    /// `defaultAccess: deny` (any case); `allow` otherwise (the default).
    pub deny_by_default: bool,
    pub allowed_secrets: Vec<String>,
    pub denied_secrets: Vec<String>,
}

impl SecretScope {
    /// Whether `key` may be read, as the official runtime decides: a non-empty
    /// `allowedSecrets` is the whole answer; else a key in `deniedSecrets` is refused; else
    /// `defaultAccess` decides.
    pub fn allows(&self, key: &str) -> bool {
        if !self.allowed_secrets.is_empty() {
            return self.allowed_secrets.iter().any(|k| k == key);
        }
        if self.denied_secrets.iter().any(|k| k == key) {
            return false;
        }
        !self.deny_by_default
    }
}

fn truthy(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn bool_of(v: Option<&Value>) -> Option<bool> {
    match v {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => truthy(s),
        _ => None,
    }
}

/// Reads and merges the `--config` files.
pub fn load(
    files: &[PathBuf],
    env: &impl Fn(&str) -> Option<String>,
) -> Result<RuntimeConfiguration, ResourceError> {
    let mut out = RuntimeConfiguration::default();
    let mut features = Features::new();
    for (fi, file) in files.iter().enumerate() {
        let text = super::read_capped(file)?;
        let text = expand_env(&text, env);
        merge(file, fi, &text, &mut out, &mut features)?;
    }
    Ok(finish(out, features))
}

/// Feature name ⇒ (order, enabled), merged across files.
type Features = BTreeMap<String, (usize, bool)>;

/// Merges the `Configuration` documents of one file's (env-expanded) `text` into `out`;
/// `fi` is the file's place among the `--config` files.
fn merge(
    file: &Path,
    fi: usize,
    text: &str,
    out: &mut RuntimeConfiguration,
    features: &mut Features,
) -> Result<(), ResourceError> {
    for doc in yaml::documents(file, text) {
        doc.check_syntax()?;
        let value: Value = doc.parse()?;
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if !kind.is_empty() && kind != "Configuration" {
            continue;
        }
        let Some(spec) = value.get("spec") else {
            continue;
        };
        if let Some(list) = spec.get("features").and_then(|v| v.as_array()) {
            for (i, feat) in list.iter().enumerate() {
                let Some(name) = feat.get("name").and_then(|n| n.as_str()) else {
                    return Err(ResourceError::new(
                        doc.source(doc.first_content_line()),
                        format!(
                            "field spec.features[{i}].name must be a string such as HotReload \
                             (quote names YAML reads as booleans or numbers)"
                        ),
                    ));
                };
                let enabled = bool_of(feat.get("enabled")).unwrap_or(false);
                features.insert(name.to_string(), (fi * 10_000 + i, enabled));
            }
        }
        if let Some(nr) = spec.get("nameResolution") {
            out.name_resolution = Some(nr.clone());
        }
        if let Some(scopes) = spec.get("secrets").and_then(|s| s.get("scopes")) {
            out.secret_scopes = secret_scopes(scopes)
                .map_err(|why| ResourceError::new(doc.source(doc.first_content_line()), why))?;
        }
        if let Some(api) = spec.get("logging").and_then(|l| l.get("apiLogging")) {
            if let Some(enabled) = bool_of(api.get("enabled")) {
                out.api_logging = Some(enabled);
            }
            if let Some(Value::Bool(b)) = api.get("omitHealthChecks") {
                out.api_logging_omit_health_checks = *b;
            }
        }
    }
    Ok(())
}

/// `spec.secrets.scopes`, checked: each entry names its store once, `defaultAccess` is
/// `allow` or `deny`, the secret lists are lists of strings.
fn secret_scopes(value: &Value) -> Result<Vec<SecretScope>, String> {
    let Some(list) = value.as_array() else {
        return Err(
            "field spec.secrets.scopes must be a list of {storeName, defaultAccess, \
                    allowedSecrets, deniedSecrets}"
                .into(),
        );
    };
    let mut out: Vec<SecretScope> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let field = |name: &str| format!("spec.secrets.scopes[{i}].{name}");
        let store = entry
            .get("storeName")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                format!(
                    "field {} must name a secret store such as localsecretstore",
                    field("storeName")
                )
            })?;
        if out.iter().any(|s| s.store_name == store) {
            return Err(format!(
                "field {}: secret store {store} is scoped twice",
                field("storeName")
            ));
        }
        let deny_by_default = match entry.get("defaultAccess") {
            None | Some(Value::Null) => false,
            Some(Value::String(a)) if a.is_empty() || a.eq_ignore_ascii_case("allow") => false,
            Some(Value::String(a)) if a.eq_ignore_ascii_case("deny") => true,
            Some(other) => {
                return Err(format!(
                    "field {} is {other}; valid values: allow, deny",
                    field("defaultAccess")
                ));
            }
        };
        let names = |key: &str| -> Result<Vec<String>, String> {
            match entry.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            format!("field {} must be a list of secret names", field(key))
                        })
                    })
                    .collect(),
                Some(_) => Err(format!(
                    "field {} must be a list of secret names",
                    field(key)
                )),
            }
        };
        out.push(SecretScope {
            store_name: store.to_string(),
            deny_by_default,
            allowed_secrets: names("allowedSecrets")?,
            denied_secrets: names("deniedSecrets")?,
        });
    }
    Ok(out)
}

/// One file's text read on its own (the fuzz target's entry point).
pub fn parse(file: &Path, text: &str) -> Result<RuntimeConfiguration, ResourceError> {
    let mut out = RuntimeConfiguration::default();
    let mut features = Features::new();
    merge(file, 0, text, &mut out, &mut features)?;
    Ok(finish(out, features))
}

fn finish(mut out: RuntimeConfiguration, features: Features) -> RuntimeConfiguration {
    let mut enabled: Vec<(usize, String)> = features
        .into_iter()
        .filter(|(_, (_, on))| *on)
        .map(|(n, (order, _))| (order, n))
        .collect();
    enabled.sort();
    out.enabled_features = enabled.into_iter().map(|(_, n)| n).collect();
    out
}

/// Go's `os.ExpandEnv`: `${NAME}` and `$NAME` replaced by the variable (empty when unset).
pub fn expand_env(text: &str, env: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            if let Some(end) = inner.find('}') {
                out.push_str(&env(&inner[..end]).unwrap_or_default());
                rest = &inner[end + 1..];
                continue;
            }
            out.push('$');
            rest = after;
            continue;
        }
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if len == 0 {
            out.push('$');
        } else {
            out.push_str(&env(&after[..len]).unwrap_or_default());
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion() {
        let env = |k: &str| (k == "HOST").then(|| "h1".to_string());
        assert_eq!(
            expand_env("a ${HOST} $HOST ${NOPE}x $", &env),
            "a h1 h1 x $"
        );
    }

    #[test]
    fn errors_name_file_and_line_and_files_merge() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        let text = "kind: Configuration\nspec:\n  features: []\n---\nkind: Configuration\nspec:\n  features: [\n";
        std::fs::write(&file, text).unwrap();
        let e = load(std::slice::from_ref(&file), &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("{}:7:", file.display())), "{e}");
        assert!(!e.contains('\n'), "{e}");
        std::fs::write(
            &file,
            "kind: Configuration\nspec:\n  features:\n  - name: ${F}\n    enabled: true\n  - name: Other\n    enabled: \"false\"\n  logging:\n    apiLogging:\n      enabled: \"true\"\n",
        )
        .unwrap();
        let second = dir.path().join("second.yaml");
        std::fs::write(
            &second,
            "kind: Configuration\nspec:\n  features:\n  - name: Later\n    enabled: true\n  logging:\n    apiLogging:\n      enabled: false\n",
        )
        .unwrap();
        let c = load(&[file, second], &|k| (k == "F").then(|| "HotReload".into())).unwrap();
        assert_eq!(c.enabled_features, ["HotReload", "Later"]);
        assert_eq!(c.api_logging, Some(false));
    }

    #[test]
    fn secret_scopes_as_the_official_runtime_reads_them() {
        let c = parse(
            Path::new("c.yaml"),
            "kind: Configuration\nspec:\n  secrets:\n    scopes:\n    - storeName: a\n      defaultAccess: Deny\n      allowedSecrets: [k1]\n    - storeName: b\n      deniedSecrets: [k2]\n    - storeName: c\n      defaultAccess: deny\n      deniedSecrets: [k3]\n",
        )
        .unwrap();
        let [a, b, c] = &c.secret_scopes[..] else {
            panic!("{:?}", c.secret_scopes)
        };
        assert!(a.allows("k1") && !a.allows("k2"));
        assert!(b.allows("k1") && !b.allows("k2"));
        assert!(!c.allows("k1") && !c.allows("k3"));
        for (bad, says) in [
            (
                "    - storeName: a\n      defaultAccess: maybe\n",
                "valid values: allow, deny",
            ),
            ("    - defaultAccess: deny\n", "storeName"),
            (
                "    - storeName: a\n      allowedSecrets: k1\n",
                "list of secret names",
            ),
            ("    - storeName: a\n    - storeName: a\n", "scoped twice"),
        ] {
            let text = format!("kind: Configuration\nspec:\n  secrets:\n    scopes:\n{bad}");
            let e = parse(Path::new("c.yaml"), &text).unwrap_err().to_string();
            assert!(e.starts_with("c.yaml:") && e.contains(says), "{e}");
        }
    }
}

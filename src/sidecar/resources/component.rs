//! The `Component` kind (`apiVersion: dapr.io/v1alpha1`): its model and its parser.
//!
//! Parsing knows no component types or categories (the registry in `components` does):
//! it checks the document's shape, the name, `spec.type` syntax, `ignoreErrors` and
//! `initTimeout`, and resolves metadata values that need nothing running: plain scalars are
//! stringified, `envRef` reads the environment (unset ⇒ empty, as upstream), and `{uuid}`,
//! `{appID}`, `{namespace}` are substituted. `secretKeyRef`s stay unresolved here: they are
//! resolved once secret stores have started (`components::secrets`). Every error names the
//! file, the 1-based line and the field.

use std::collections::HashMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::yaml::{Document, Scalar};
use super::{ResourceError, Source, duration};

/// A `secretKeyRef`: the secret's name and, optionally, the key inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKeyRef {
    pub name: String,
    pub key: Option<String>,
}

/// One metadata entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataItem {
    pub name: String,
    /// The value; for a `secretKeyRef` entry, empty until the reference is resolved.
    pub value: String,
    /// Set while the entry is an unresolved `secretKeyRef`.
    pub secret_ref: Option<SecretKeyRef>,
    /// The `envRef` variable the (empty) value came from, when that variable is not set:
    /// errors about the field name it.
    pub unset_env: Option<String>,
    /// Line of the entry, for errors about this field.
    pub line: usize,
}

/// A loaded `Component`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub namespace: Option<String>,
    /// `spec.type`, e.g. `state.redis`.
    pub component_type: String,
    /// `spec.version`, `v1` when empty.
    pub version: String,
    pub ignore_errors: bool,
    pub init_timeout: Option<String>,
    pub metadata: Vec<MetadataItem>,
    pub scopes: Vec<String>,
    /// `auth.secretStore`: the secret store that resolves this component's `secretKeyRef`s.
    pub secret_store: Option<String>,
    /// Where `metadata.name` is.
    pub source: Source,
    /// Lines of `spec.*` fields (`spec.type`, `spec.version`, ...), for errors about them.
    pub spec_lines: HashMap<&'static str, usize>,
}

impl Component {
    /// A component built in code (tests, defaults): version `v1`, no metadata, no scopes.
    pub fn new(name: &str, component_type: &str) -> Component {
        Component {
            name: name.to_string(),
            namespace: None,
            component_type: component_type.to_string(),
            version: "v1".to_string(),
            ignore_errors: false,
            init_timeout: None,
            metadata: Vec::new(),
            scopes: Vec::new(),
            secret_store: None,
            source: Source::default(),
            spec_lines: HashMap::new(),
        }
    }

    /// Builder-style metadata entry, for components built in code.
    pub fn with_meta(mut self, name: &str, value: &str) -> Component {
        self.metadata.push(MetadataItem {
            name: name.to_string(),
            value: value.to_string(),
            secret_ref: None,
            unset_env: None,
            line: self.source.line,
        });
        self
    }

    /// The category part of `spec.type` (`state` for `state.redis`).
    pub fn category(&self) -> &str {
        self.component_type
            .split_once('.')
            .map_or("", |(category, _)| category)
    }

    /// Case-insensitive metadata lookup, as the official components do.
    pub fn meta(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .map(|m| m.value.as_str())
    }

    /// The location of a field: a `spec.*` field, a metadata entry, or the component.
    pub fn field_source(&self, field: &str) -> Source {
        let line = match self.spec_lines.get(field) {
            Some(line) => Some(*line),
            None => self
                .metadata
                .iter()
                .find(|m| m.name.eq_ignore_ascii_case(field))
                .map(|m| m.line),
        };
        Source {
            file: self.source.file.clone(),
            line: line.unwrap_or(self.source.line),
        }
    }

    /// An error about one of this component's fields, located at that field's line. When
    /// the field's value came from an `envRef` to a variable that is not set, it says so.
    pub fn field_error(&self, field: &str, message: impl std::fmt::Display) -> ResourceError {
        let unset = self
            .metadata
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(field))
            .and_then(|m| m.unset_env.as_deref())
            .map(|var| format!(" (the value comes from envRef {var}, which is not set)"))
            .unwrap_or_default();
        ResourceError::new(
            self.field_source(field),
            format!(
                "component {}: field {}: {}{unset}",
                self.name, field, message
            ),
        )
    }
}

#[derive(Deserialize)]
struct ComponentDoc {
    metadata: Option<Spanned<DocMeta>>,
    spec: Option<Spanned<Spec>>,
    scopes: Option<Vec<Scalar>>,
    auth: Option<Auth>,
}

#[derive(Deserialize)]
struct DocMeta {
    name: Option<Spanned<Scalar>>,
    namespace: Option<Scalar>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Auth {
    secret_store: Option<Scalar>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(rename = "type")]
    component_type: Option<Spanned<Scalar>>,
    version: Option<Spanned<Scalar>>,
    ignore_errors: Option<Spanned<Scalar>>,
    init_timeout: Option<Spanned<Scalar>>,
    metadata: Option<Vec<Spanned<Item>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    name: Option<Spanned<Scalar>>,
    value: Option<Spanned<Scalar>>,
    secret_key_ref: Option<Spanned<SecretRefDoc>>,
    env_ref: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
struct SecretRefDoc {
    name: Option<Scalar>,
    key: Option<Scalar>,
}

/// Parses one `kind: Component` document.
pub fn parse(doc: &Document, app_id: &str) -> Result<Component, ResourceError> {
    let parsed: ComponentDoc = doc.parse()?;
    let doc_start = doc.first_content_line();
    let meta = parsed.metadata.as_ref();
    let name_spanned = meta.and_then(|m| m.value.name.as_ref());
    let name = name_spanned.map(|n| n.value.0.clone()).unwrap_or_default();
    let name_line = name_spanned.map_or_else(
        || meta.map_or(doc_start, |m| doc.line_of(m)),
        |n| doc.line_of(n),
    );
    if let Some(problem) = invalid_name(&name) {
        return Err(ResourceError::new(
            doc.source(name_line),
            format!(
                "component {name:?}: field metadata.name: {problem}; use a non-empty name of \
                 letters, digits, '-', '_' or '.'"
            ),
        ));
    }
    let err = |line: usize, field: &str, msg: String| {
        ResourceError::new(
            doc.source(line),
            format!("component {name}: field {field}: {msg}"),
        )
    };
    let Some(spec) = parsed.spec else {
        return Err(err(
            doc_start,
            "spec",
            "missing; a Component needs spec.type".to_string(),
        ));
    };
    let spec_line = doc.line_of(&spec);
    let spec = spec.value;
    let mut spec_lines = HashMap::new();
    let Some(type_spanned) = spec.component_type else {
        return Err(err(
            spec_line,
            "spec.type",
            "missing; a type is <category>.<name>, e.g. state.redis".to_string(),
        ));
    };
    let component_type = type_spanned.value.0.trim().to_string();
    let type_line = doc.line_of(&type_spanned);
    spec_lines.insert("spec.type", type_line);
    if !component_type
        .split_once('.')
        .is_some_and(|(c, n)| !c.is_empty() && !n.is_empty())
    {
        return Err(err(
            type_line,
            "spec.type",
            format!(
                "{component_type:?} is not a component type; a type is <category>.<name>, e.g. state.redis"
            ),
        ));
    }
    let version = match &spec.version {
        Some(v) => {
            spec_lines.insert("spec.version", doc.line_of(v));
            Some(v.value.0.trim().to_string()).filter(|v| !v.is_empty())
        }
        None => None,
    }
    .unwrap_or_else(|| "v1".to_string());
    let ignore_errors = match &spec.ignore_errors {
        None => false,
        Some(v) => match v.value.0.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" | "" => false,
            other => {
                return Err(err(
                    doc.line_of(v),
                    "spec.ignoreErrors",
                    format!("{other:?} is not a boolean; use true or false"),
                ));
            }
        },
    };
    let init_timeout = match &spec.init_timeout {
        Some(t) if !t.value.0.trim().is_empty() => {
            let text = t.value.0.trim().to_string();
            spec_lines.insert("spec.initTimeout", doc.line_of(t));
            if duration::parse_duration(&text).is_none() {
                return Err(err(
                    doc.line_of(t),
                    "spec.initTimeout",
                    format!("{text:?} is not a duration; use e.g. 5s, 500ms or 1m"),
                ));
            }
            Some(text)
        }
        _ => None,
    };
    let namespace = meta
        .and_then(|m| m.value.namespace.as_ref())
        .map(|n| n.0.clone())
        .filter(|n| !n.is_empty());
    let mut metadata = Vec::new();
    for item in spec.metadata.unwrap_or_default() {
        let item_line = doc.line_of(&item);
        let item = item.value;
        let Some(field) = item
            .name
            .as_ref()
            .map(|n| n.value.0.clone())
            .filter(|n| !n.is_empty())
        else {
            return Err(err(
                item_line,
                "spec.metadata",
                "entry without a name; each entry needs `name` and one of value, secretKeyRef, envRef"
                    .to_string(),
            ));
        };
        let line = item.name.as_ref().map_or(item_line, |n| doc.line_of(n));
        let mut secret_ref = None;
        let mut unset_env = None;
        let value = if let Some(v) = &item.value {
            substitute(&v.value.0, app_id)
        } else if let Some(r) = &item.secret_key_ref {
            let secret = r
                .value
                .name
                .as_ref()
                .map(|n| n.0.clone())
                .unwrap_or_default();
            if secret.is_empty() {
                return Err(err(
                    doc.line_of(r),
                    &field,
                    "secretKeyRef needs a name (the secret to read)".to_string(),
                ));
            }
            let key = r
                .value
                .key
                .as_ref()
                .map(|k| k.0.clone())
                .filter(|k| !k.is_empty());
            secret_ref = Some(SecretKeyRef { name: secret, key });
            String::new()
        } else if let Some(env) = &item.env_ref {
            let var = env.value.0.clone();
            if var.starts_with("DAPR_") || var == "APP_API_TOKEN" {
                return Err(err(
                    doc.line_of(env),
                    &field,
                    format!(
                        "envRef {var:?} is not allowed (DAPR_* and APP_API_TOKEN are reserved)"
                    ),
                ));
            }
            match std::env::var(&var) {
                Ok(v) => v,
                Err(_) => {
                    // Empty, as upstream; remembered for errors about this field.
                    unset_env = Some(var);
                    String::new()
                }
            }
        } else {
            String::new()
        };
        metadata.push(MetadataItem {
            name: field,
            value,
            secret_ref,
            unset_env,
            line,
        });
    }
    let scopes = parsed
        .scopes
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.0.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let secret_store = parsed
        .auth
        .and_then(|a| a.secret_store)
        .map(|s| s.0.trim().to_string())
        .filter(|s| !s.is_empty());
    Ok(Component {
        name,
        namespace,
        component_type,
        version,
        ignore_errors,
        init_timeout,
        metadata,
        scopes,
        secret_store,
        source: doc.source(name_line),
        spec_lines,
    })
}

fn invalid_name(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        return Some("missing or empty");
    }
    if name == "." || name == ".." {
        return Some("not a valid name");
    }
    if name.contains("||") {
        return Some("must not contain '||'");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c == '?' || c == '#' || c == '%' || c.is_whitespace())
    {
        return Some("must be a single URL path segment (no '/', '\\', '?', '#', '%' or spaces)");
    }
    None
}

/// `{uuid}` (fresh per occurrence), `{appID}`, `{namespace}` (`<NAMESPACE>.<appid>`).
fn substitute(value: &str, app_id: &str) -> String {
    if !value.contains('{') {
        return value.to_string();
    }
    let mut out = value.replace("{appID}", app_id);
    if out.contains("{namespace}") {
        let ns = std::env::var("NAMESPACE").ok().filter(|n| !n.is_empty());
        let ns = ns.as_deref().unwrap_or("default");
        out = out.replace("{namespace}", &format!("{ns}.{app_id}"));
    }
    while out.contains("{uuid}") {
        out = out.replacen("{uuid}", &uuid::Uuid::new_v4().to_string(), 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sidecar::resources::yaml::documents;
    use std::path::Path;

    fn parse_text(text: &str) -> Result<Component, ResourceError> {
        let docs = documents(Path::new("/x/c.yaml"), text);
        parse(&docs[0], "app")
    }

    #[test]
    fn substitutes_app_id_and_uuid() {
        assert_eq!(substitute("x-{appID}", "app"), "x-app");
        let a = substitute("{uuid}/{uuid}", "app");
        let (x, y) = a.split_once('/').unwrap();
        assert_eq!(x.len(), 36);
        assert_ne!(x, y);
    }

    #[test]
    fn shape_errors_point_at_the_field() {
        let text = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\nspec:\n  type: state.redis\n  metadata:\n  - name: x\n    value: {a: 1}\n";
        let err = parse_text(text).unwrap_err();
        assert_eq!(err.location.line, 9, "{err}");
        assert!(err.to_string().contains("field value"), "{err}");
    }

    #[test]
    fn secret_refs_stay_unresolved_and_auth_is_read() {
        let text = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisPassword\n    secretKeyRef:\n      name: redis\n      key: pw\nauth:\n  secretStore: vault\n";
        let c = parse_text(text).unwrap();
        assert_eq!(c.secret_store.as_deref(), Some("vault"));
        assert_eq!(c.meta("redisPassword"), Some(""));
        assert_eq!(
            c.metadata[0].secret_ref,
            Some(SecretKeyRef {
                name: "redis".into(),
                key: Some("pw".into())
            })
        );
        assert_eq!(c.field_source("spec.version").line, 7);
        assert_eq!(c.field_source("redisPassword").line, 9);
        let bad = parse_text(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\nspec:\n  type: redis\n",
        )
        .unwrap_err();
        assert!(
            bad.to_string()
                .starts_with("/x/c.yaml:6: component a: field spec.type"),
            "{bad}"
        );
    }
}

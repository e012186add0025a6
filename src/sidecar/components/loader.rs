//! Loads `Component` resources from `--resources-path` directories, as the official
//! standalone loader does: every `*.yaml`/`*.yml` file directly inside each directory (other
//! files and subdirectories are skipped), several documents per file, documents of other
//! kinds (Configuration, Subscription, Resiliency, ...) ignored, `scopes` and the `NAMESPACE`
//! filter honoured, duplicate names refused.
//!
//! Metadata values are resolved here: plain scalars are stringified, `envRef` reads the
//! environment (unset ⇒ empty, as upstream), `secretKeyRef` reads an environment variable
//! (like `secretstores.local.env`: the secret `name`, then its `key`), and `{uuid}`,
//! `{appID}`, `{namespace}` are substituted. Component types this daprd implements are
//! validated now (required metadata, value syntax) so mistakes surface before anything starts;
//! official types of categories not implemented yet are returned in [`Loaded::skipped`].
//! Every error names the file, the 1-based line and the field, and says what would be valid.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};
use serde_saphyr::Spanned;

use super::state;
use super::{Component, ComponentError, MetadataItem, Source};

/// What [`load`] found.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// In-scope components this daprd can run, in file order (files sorted by name).
    pub components: Vec<Component>,
    /// In-scope components of official categories this daprd does not implement yet
    /// (`pubsub.*`, `bindings.*`, `secretstores.*`, ...). The runtime logs
    /// `component <name> of type <type> is not supported by this daprd yet; skipped`.
    pub skipped: Vec<Component>,
    /// Files of the resources paths that are not `*.yaml`/`*.yml` (subdirectories are not
    /// listed). Upstream warns `A non-YAML resource file <path> was detected, it will not be
    /// loaded`.
    pub ignored_files: Vec<PathBuf>,
}

/// Component types this daprd can create.
pub const SUPPORTED_TYPES: &[&str] = &["state.in-memory", "state.redis", "state.sqlite"];

/// Official categories whose components are skipped with a warning rather than refused.
const DEFERRED_CATEGORIES: &[&str] = &[
    "pubsub",
    "bindings",
    "secretstores",
    "configuration",
    "lock",
    "middleware",
    "crypto",
    "conversation",
    "nameresolution",
    "workflow",
];

/// Loads every component of `paths` visible to `app_id`.
pub fn load(paths: &[PathBuf], app_id: &str) -> Result<Loaded, ComponentError> {
    let mut loaded = Loaded::default();
    let mut seen: HashMap<String, Source> = HashMap::new();
    let namespace_filter = std::env::var("NAMESPACE").ok().filter(|n| !n.is_empty());
    for dir in paths {
        let (files, ignored) = yaml_files(dir)?;
        loaded.ignored_files.extend(ignored);
        for file in files {
            let text = fs_err::read_to_string(&file).map_err(|e| {
                ComponentError::new(
                    Source {
                        file: file.clone(),
                        line: 0,
                    },
                    format!("cannot read resource file: {e}"),
                )
            })?;
            for component in parse_file(&file, &text, app_id)? {
                if !component.scopes.is_empty() && !component.scopes.iter().any(|s| s == app_id) {
                    continue;
                }
                if let (Some(ns), Some(own)) = (&namespace_filter, &component.namespace)
                    && !own.is_empty()
                    && own != ns
                {
                    continue;
                }
                if let Some(first) = seen.get(&component.name) {
                    return Err(ComponentError::new(
                        component.source.clone(),
                        format!(
                            "component {}: field metadata.name: duplicate component name; \
                             already defined at {first}; names must be unique across resources paths",
                            component.name
                        ),
                    ));
                }
                seen.insert(component.name.clone(), component.source.clone());
                if is_supported(&component.component_type) {
                    if !component.ignore_errors {
                        // With ignoreErrors the runtime reports these at init and goes on.
                        state::validate(&component, app_id)?;
                    }
                    loaded.components.push(component);
                } else {
                    loaded.skipped.push(component);
                }
            }
        }
    }
    Ok(loaded)
}

fn is_supported(component_type: &str) -> bool {
    SUPPORTED_TYPES.contains(&component_type)
}

/// The `*.yaml`/`*.yml` files directly inside `dir`, sorted by name for a stable order, and
/// the other files found there.
type DirFiles = (Vec<PathBuf>, Vec<PathBuf>);

fn yaml_files(dir: &Path) -> Result<DirFiles, ComponentError> {
    let at_dir = |what: String| {
        ComponentError::new(
            Source {
                file: dir.to_path_buf(),
                line: 0,
            },
            what,
        )
    };
    let meta = std::fs::metadata(dir).map_err(|e| {
        at_dir(format!(
            "resources path does not exist or cannot be read ({e}); pass an existing directory \
             with --resources-path"
        ))
    })?;
    if !meta.is_dir() {
        return Err(at_dir(
            "resources path is not a directory; pass a directory holding component YAML files"
                .to_string(),
        ));
    }
    let mut files = Vec::new();
    let mut ignored = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| at_dir(format!("cannot list resources path: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| at_dir(format!("cannot list resources path: {e}")))?;
        let path = entry.path();
        let is_yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if !path.is_file() {
            continue;
        }
        if is_yaml {
            files.push(path);
        } else {
            ignored.push(path);
        }
    }
    files.sort();
    ignored.sort();
    Ok((files, ignored))
}

/// Splits a YAML stream on `---` lines, returning each document with its 1-based first line.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    let mut in_doc = true;
    for (index, line) in text.lines().enumerate() {
        let is_marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '#']))
        };
        if is_marker("---") {
            docs.push((start, std::mem::take(&mut current)));
            start = index + 2;
            in_doc = true;
            continue;
        }
        if is_marker("...") {
            in_doc = false;
            continue;
        }
        if in_doc {
            current.push_str(line);
        }
        current.push('\n');
    }
    docs.push((start, current));
    docs.retain(|(_, doc)| {
        doc.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && !t.starts_with('%')
        })
    });
    docs
}

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion")]
    api_version: Option<Scalar>,
    kind: Option<Scalar>,
}

#[derive(Deserialize)]
struct ComponentDoc {
    metadata: Option<Spanned<DocMeta>>,
    spec: Option<Spanned<Spec>>,
    scopes: Option<Vec<Scalar>>,
}

#[derive(Deserialize)]
struct DocMeta {
    name: Option<Spanned<Scalar>>,
    namespace: Option<Scalar>,
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
    secret_key_ref: Option<Spanned<SecretKeyRef>>,
    env_ref: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
struct SecretKeyRef {
    name: Option<Scalar>,
    key: Option<Scalar>,
}

/// Any YAML scalar, stringified as the official loader does (`true`, `5`, `1.5`, `~` ⇒ "").
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Scalar, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar (string, number or boolean)")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(v))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
                d.deserialize_any(ScalarVisitor)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Turns a serde-saphyr error inside a document starting at `doc_line` into `file:line:col`.
/// `syntax` tells a YAML syntax error from valid YAML of the wrong shape; for the latter the
/// key on the error's line is named as the field.
fn yaml_error(
    file: &Path,
    doc_line: usize,
    doc: &str,
    syntax: bool,
    err: &serde_saphyr::Error,
) -> ComponentError {
    let (line, col) = match err.location() {
        Some(loc) if loc.line() > 0 => (doc_line + loc.line() as usize - 1, loc.column()),
        _ => (doc_line, 0),
    };
    let kind = if syntax {
        "invalid YAML".to_string()
    } else {
        let key = doc
            .lines()
            .nth(line - doc_line)
            .map(|l| l.trim_start().trim_start_matches("- ").trim_start())
            .and_then(|l| l.split_once(':'))
            .map(|(k, _)| k.trim())
            .filter(|k| !k.is_empty() && !k.contains(' '));
        match key {
            Some(k) => format!("field {k}"),
            None => "invalid component".to_string(),
        }
    };
    let message = err.without_snippet().to_string();
    // The rendered message repeats the document-relative position; keep only the text.
    let message = message
        .split_once(" at line ")
        .map(|(m, _)| m.to_string())
        .unwrap_or(message);
    ComponentError::new(
        Source {
            file: file.to_path_buf(),
            line,
        },
        if col > 0 {
            format!("column {col}: {kind}: {message}")
        } else {
            format!("{kind}: {message}")
        },
    )
}

fn parse_file(file: &Path, text: &str, app_id: &str) -> Result<Vec<Component>, ComponentError> {
    let mut out = Vec::new();
    for (doc_line, doc) in split_documents(text) {
        serde_saphyr::from_str::<IgnoredAny>(&doc)
            .map_err(|e| yaml_error(file, doc_line, &doc, true, &e))?;
        // Documents that are not mappings, or not Components, belong to other loaders.
        let Ok(header) = serde_saphyr::from_str::<Header>(&doc) else {
            continue;
        };
        let is_component = header
            .api_version
            .as_ref()
            .is_some_and(|v| v.0 == "dapr.io/v1alpha1")
            && header.kind.as_ref().is_some_and(|k| k.0 == "Component");
        if !is_component {
            continue;
        }
        let parsed: ComponentDoc = serde_saphyr::from_str(&doc)
            .map_err(|e| yaml_error(file, doc_line, &doc, false, &e))?;
        out.push(build_component(file, doc_line, &doc, parsed, app_id)?);
    }
    Ok(out)
}

fn line_of<T>(doc_line: usize, spanned: &Spanned<T>) -> usize {
    match spanned.referenced.line() {
        0 => doc_line,
        l => doc_line + l as usize - 1,
    }
}

/// First line of the document that holds content (skipping leading comments).
fn first_content_line(doc_line: usize, doc: &str) -> usize {
    doc.lines()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .map_or(doc_line, |i| doc_line + i)
}

fn build_component(
    file: &Path,
    doc_line: usize,
    doc: &str,
    parsed: ComponentDoc,
    app_id: &str,
) -> Result<Component, ComponentError> {
    let at = |line: usize| Source {
        file: file.to_path_buf(),
        line,
    };
    let doc_start = first_content_line(doc_line, doc);
    let meta = parsed.metadata.as_ref();
    let name_spanned = meta.and_then(|m| m.value.name.as_ref());
    let name = name_spanned.map(|n| n.value.0.clone()).unwrap_or_default();
    let name_line = name_spanned.map_or_else(
        || meta.map_or(doc_start, |m| line_of(doc_line, m)),
        |n| line_of(doc_line, n),
    );
    if let Some(problem) = invalid_name(&name) {
        return Err(ComponentError::new(
            at(name_line),
            format!(
                "component {name:?}: field metadata.name: {problem}; use a non-empty name of \
                 letters, digits, '-', '_' or '.'"
            ),
        ));
    }
    let err = |line: usize, field: &str, msg: String| {
        ComponentError::new(at(line), format!("component {name}: field {field}: {msg}"))
    };
    let Some(spec) = parsed.spec else {
        return Err(err(
            doc_start,
            "spec",
            "missing; a Component needs spec.type".to_string(),
        ));
    };
    let spec_line = line_of(doc_line, &spec);
    let spec = spec.value;
    let Some(type_spanned) = spec.component_type else {
        return Err(err(
            spec_line,
            "spec.type",
            format!("missing; supported types: {}", SUPPORTED_TYPES.join(", ")),
        ));
    };
    let component_type = type_spanned.value.0.trim().to_string();
    let type_line = line_of(doc_line, &type_spanned);
    let category = component_type.split_once('.').map(|(c, _)| c).unwrap_or("");
    if !is_supported(&component_type) {
        if category == "state" {
            return Err(err(
                type_line,
                "spec.type",
                format!(
                    "unknown component type {component_type:?}; supported state stores: {}",
                    SUPPORTED_TYPES.join(", ")
                ),
            ));
        }
        if !DEFERRED_CATEGORIES.contains(&category) {
            return Err(err(
                type_line,
                "spec.type",
                format!(
                    "unknown component type {component_type:?}; a type is <category>.<name> with \
                     category one of state, {}",
                    DEFERRED_CATEGORIES.join(", ")
                ),
            ));
        }
    }
    let version = match &spec.version {
        Some(v) if !v.value.0.trim().is_empty() => v.value.0.trim().to_string(),
        _ => "v1".to_string(),
    };
    if is_supported(&component_type) && version != "v1" {
        let line = spec
            .version
            .as_ref()
            .map_or(type_line, |v| line_of(doc_line, v));
        return Err(err(
            line,
            "spec.version",
            format!("{component_type} has no version {version:?}; valid: v1"),
        ));
    }
    let ignore_errors = match &spec.ignore_errors {
        None => false,
        Some(v) => match v.value.0.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" | "" => false,
            other => {
                return Err(err(
                    line_of(doc_line, v),
                    "spec.ignoreErrors",
                    format!("{other:?} is not a boolean; use true or false"),
                ));
            }
        },
    };
    let init_timeout = match &spec.init_timeout {
        Some(t) if !t.value.0.trim().is_empty() => {
            let text = t.value.0.trim().to_string();
            if super::parse_duration(&text).is_none() {
                return Err(err(
                    line_of(doc_line, t),
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
        let item_line = line_of(doc_line, &item);
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
        let line = item
            .name
            .as_ref()
            .map_or(item_line, |n| line_of(doc_line, n));
        let value = if let Some(v) = &item.value {
            substitute(&v.value.0, app_id)
        } else if let Some(r) = &item.secret_key_ref {
            let r_line = line_of(doc_line, r);
            let secret = r
                .value
                .name
                .as_ref()
                .map(|n| n.0.clone())
                .unwrap_or_default();
            if secret.is_empty() {
                return Err(err(
                    r_line,
                    &field,
                    "secretKeyRef needs a name (the environment variable holding the secret)"
                        .to_string(),
                ));
            }
            let key = r
                .value
                .key
                .as_ref()
                .map(|k| k.0.clone())
                .filter(|k| !k.is_empty());
            resolve_secret(&secret, key.as_deref()).map_err(|msg| err(r_line, &field, msg))?
        } else if let Some(env) = &item.env_ref {
            let var = env.value.0.clone();
            if var.starts_with("DAPR_") || var == "APP_API_TOKEN" {
                return Err(err(
                    line_of(doc_line, env),
                    &field,
                    format!(
                        "envRef {var:?} is not allowed (DAPR_* and APP_API_TOKEN are reserved)"
                    ),
                ));
            }
            std::env::var(&var).unwrap_or_default()
        } else {
            String::new()
        };
        metadata.push(MetadataItem {
            name: field,
            value,
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
    Ok(Component {
        name,
        namespace,
        component_type,
        version,
        ignore_errors,
        init_timeout,
        metadata,
        scopes,
        source: at(name_line),
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

/// Secrets come from the environment, like `secretstores.local.env`: the variable named by
/// the secret `name` first, then the one named by `key`.
fn resolve_secret(name: &str, key: Option<&str>) -> Result<String, String> {
    let mut tried = vec![name];
    if let Some(k) = key
        && k != name
    {
        tried.push(k);
    }
    for var in &tried {
        if let Ok(v) = std::env::var(var) {
            return Ok(v);
        }
    }
    Err(format!(
        "secretKeyRef {{name: {name}{}}} cannot be resolved: secrets are read from environment \
         variables; set {}",
        key.map(|k| format!(", key: {k}")).unwrap_or_default(),
        tried.join(" or ")
    ))
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

    #[test]
    fn splits_documents_with_their_first_lines() {
        let docs = split_documents("a: 1\n---\nb: 2\n--- # c\n\n# only comment\n---\nc: 3\n");
        let starts: Vec<usize> = docs.iter().map(|(l, _)| *l).collect();
        assert_eq!(starts, vec![1, 3, 8]);
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
    fn parse_errors_point_into_the_file() {
        let text = "kind: Configuration\n---\napiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: [unclosed\n";
        let err = parse_file(Path::new("/x/c.yaml"), text, "app").unwrap_err();
        assert!(err.to_string().starts_with("/x/c.yaml:"), "{err}");
        assert!(err.location.line >= 6, "{err}");
        let text = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\nspec:\n  type: state.redis\n  metadata:\n  - name: x\n    value: {a: 1}\n";
        let err = parse_file(Path::new("/x/c.yaml"), text, "app").unwrap_err();
        assert_eq!(err.location.line, 9, "{err}");
        assert!(err.to_string().contains("field value"), "{err}");
        let err = parse_file(Path::new("/x/c.yaml"), "a: b\n  c: d\n", "app").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/x/c.yaml:2: column 4: invalid YAML"),
            "{err}"
        );
    }
}

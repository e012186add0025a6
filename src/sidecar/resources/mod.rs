//! Resources: every YAML kind daprd reads, parsed in one place with one document splitter
//! (`yaml`) and one duration parser (`duration`).
//!
//! * `--resources-path` directories ([`load`]): every `*.yaml`/`*.yml` file directly inside
//!   each directory (other files and subdirectories are skipped), several documents per
//!   file, each document dispatched on its `kind`: `Component` and `Subscription` today;
//!   documents of other kinds (Resiliency, HTTPEndpoint, ...) are skipped until their
//!   parser is added here as a module beside `component`. `scopes` and the `NAMESPACE`
//!   filter are honoured and duplicate names refused, for every kind alike.
//! * `--config` files (`configuration`): the `Configuration` kind.
//!
//! Parsing checks shape and syntax only; what a component's type means is the component
//! registry's business (`sidecar::components`). Every error names the file, the 1-based line
//! and the field, and says what would be valid.

pub mod component;
pub mod configuration;
pub mod duration;
pub mod subscription;
pub mod yaml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use component::{Component, MetadataItem, SecretKeyRef};
pub use duration::{parse_duration, parse_duration_with_unit};

/// Where a resource (or one of its fields) came from, for error messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub file: PathBuf,
    /// 1-based line of the document's start (or of the field, where known).
    pub line: usize,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Line 0 means "the file or directory as a whole" (e.g. a missing resources path).
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// A resource that cannot be loaded or a component that cannot be initialised. Displayed
/// as `<file>:<line>: <what>`; resources built in code (no file) display just `<what>`.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ResourceError {
    pub location: Source,
    pub what: String,
}

impl std::fmt::Display for ResourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.location.file.as_os_str().is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "{}: {}", self.location, self.what)
        }
    }
}

impl ResourceError {
    pub fn new(location: Source, what: impl Into<String>) -> ResourceError {
        ResourceError {
            location,
            what: what.into(),
        }
    }
}

/// Everything [`load`] found in the resources paths.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// In-scope components, in file order (files sorted by name).
    pub components: Vec<Component>,
    /// In-scope declarative subscriptions, in file order.
    pub subscriptions: Vec<subscription::Subscription>,
    /// Files of the resources paths that are not `*.yaml`/`*.yml` (subdirectories are not
    /// listed). Upstream warns `A non-YAML resource file <path> was detected, it will not be
    /// loaded`.
    pub ignored_files: Vec<PathBuf>,
}

/// Loads every resource of `paths` visible to `app_id`.
pub fn load(paths: &[PathBuf], app_id: &str) -> Result<Resources, ResourceError> {
    let mut out = Resources::default();
    let mut names = Names::default();
    let filter = Visibility::new(app_id);
    for dir in paths {
        let (files, ignored) = yaml_files(dir)?;
        out.ignored_files.extend(ignored);
        for file in files {
            let text = read_capped(&file)?;
            for r in parse_text(&file, &text, app_id)? {
                match r {
                    Resource::Component(c) => {
                        if filter.sees(&c.scopes, c.namespace.as_deref()) {
                            names.claim("component", &c.name, &c.source)?;
                            out.components.push(c);
                        }
                    }
                    Resource::Subscription(s) => {
                        if filter.sees(&s.scopes, None) {
                            names.claim("subscription", &s.name, &s.source)?;
                            out.subscriptions.push(s);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The largest resource or Configuration file read. Real ones are a few kilobytes; a
/// multi-gigabyte file in a resources path must fail with a clear error, not exhaust memory.
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// Reads a resource file whole, refusing one over [`MAX_FILE_SIZE`] before reading it.
pub fn read_capped(file: &Path) -> Result<String, ResourceError> {
    let at = |what: String| {
        ResourceError::new(
            Source {
                file: file.to_path_buf(),
                line: 0,
            },
            what,
        )
    };
    let size = std::fs::metadata(file)
        .map_err(|e| at(format!("cannot read resource file: {e}")))?
        .len();
    if size > MAX_FILE_SIZE {
        return Err(at(format!(
            "the file is {size} bytes, over the limit of {MAX_FILE_SIZE} bytes (16 MiB) for a \
             resource file; is it really a resource?"
        )));
    }
    std::fs::read_to_string(file).map_err(|e| at(format!("cannot read resource file: {e}")))
}

/// One resource document of a kind daprd reads from the resources paths.
#[derive(Debug, Clone)]
pub enum Resource {
    Component(Component),
    Subscription(subscription::Subscription),
}

/// Every resource of one file's `text`, in order (before scopes and duplicate names are
/// considered). Documents of other kinds are skipped.
pub fn parse_text(file: &Path, text: &str, app_id: &str) -> Result<Vec<Resource>, ResourceError> {
    let mut out = Vec::new();
    for doc in yaml::documents(file, text) {
        doc.check_syntax()?;
        // Documents that are not mappings belong to nobody.
        let Some(header) = doc.header() else {
            continue;
        };
        match (header.api_version(), header.kind()) {
            ("dapr.io/v1alpha1", "Component") => {
                out.push(Resource::Component(component::parse(&doc, app_id)?))
            }
            (v @ ("dapr.io/v1alpha1" | "dapr.io/v2alpha1"), "Subscription") => {
                out.push(Resource::Subscription(subscription::parse(&doc, v)?))
            }
            // `Configuration` comes from `--config`; Resiliency and HTTPEndpoint get their
            // parser here as they arrive.
            _ => continue,
        }
    }
    Ok(out)
}

/// The `Component` documents of one file's `text` (see [`parse_text`]).
pub fn components(file: &Path, text: &str, app_id: &str) -> Result<Vec<Component>, ResourceError> {
    Ok(parse_text(file, text, app_id)?
        .into_iter()
        .filter_map(|r| match r {
            Resource::Component(c) => Some(c),
            Resource::Subscription(_) => None,
        })
        .collect())
}

/// Which resources an app sees: `scopes` (empty = every app) and, when `NAMESPACE` is set,
/// the resource's own namespace.
struct Visibility {
    app_id: String,
    namespace: Option<String>,
}

impl Visibility {
    fn new(app_id: &str) -> Visibility {
        Visibility {
            app_id: app_id.to_string(),
            namespace: std::env::var("NAMESPACE").ok().filter(|n| !n.is_empty()),
        }
    }

    fn sees(&self, scopes: &[String], namespace: Option<&str>) -> bool {
        if !scopes.is_empty() && !scopes.contains(&self.app_id) {
            return false;
        }
        match (&self.namespace, namespace) {
            (Some(ns), Some(own)) if !own.is_empty() => own == ns,
            _ => true,
        }
    }
}

/// Names already taken, per kind: a name may be used once across all resources paths.
#[derive(Default)]
struct Names(HashMap<(&'static str, String), Source>);

impl Names {
    fn claim(&mut self, kind: &'static str, name: &str, at: &Source) -> Result<(), ResourceError> {
        if let Some(first) = self.0.get(&(kind, name.to_string())) {
            return Err(ResourceError::new(
                at.clone(),
                format!(
                    "{kind} {name}: field metadata.name: duplicate {kind} name; already defined \
                     at {first}; names must be unique across resources paths"
                ),
            ));
        }
        self.0.insert((kind, name.to_string()), at.clone());
        Ok(())
    }
}

/// The `*.yaml`/`*.yml` files directly inside `dir`, sorted by name for a stable order, and
/// the other files found there.
type DirFiles = (Vec<PathBuf>, Vec<PathBuf>);

fn yaml_files(dir: &Path) -> Result<DirFiles, ResourceError> {
    let at_dir = |what: String| {
        ResourceError::new(
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
        if !path.is_file() {
            continue;
        }
        let is_yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_by_scope_and_namespace() {
        let v = Visibility {
            app_id: "a".into(),
            namespace: Some("prod".into()),
        };
        assert!(v.sees(&[], None));
        assert!(v.sees(&["b".into(), "a".into()], Some("prod")));
        assert!(!v.sees(&["b".into()], None));
        assert!(!v.sees(&[], Some("dev")));
    }

    #[test]
    fn names_are_claimed_once_per_kind() {
        let mut n = Names::default();
        let at = Source {
            file: "/r/a.yaml".into(),
            line: 4,
        };
        n.claim("component", "x", &at).unwrap();
        n.claim("subscription", "x", &at).unwrap();
        let e = n.claim("component", "x", &at).unwrap_err().to_string();
        assert!(
            e.contains("duplicate component name") && e.contains("/r/a.yaml:4"),
            "{e}"
        );
    }
}

//! Component resources: the YAML model, the loader for `--resources-path` directories, and
//! the factories that turn a `Component` into a running store.
//!
//! Loader rules follow the official runtime: every `*.yaml`/`*.yml` file of each directory,
//! several documents per file, documents of other kinds ignored, `scopes` honoured,
//! `secretKeyRef` resolved from environment variables. Every error names the file, line and
//! field.

pub mod loader;
pub mod state;

use std::path::PathBuf;

/// Where a resource (or one of its fields) came from, for error messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub file: PathBuf,
    /// 1-based line of the document's start (or of the field, where known).
    pub line: usize,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One metadata entry after `value`/`secretKeyRef`/`envRef` resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataItem {
    pub name: String,
    pub value: String,
    /// Line of the entry, for errors about this field.
    pub line: usize,
}

/// A loaded `Component` (`apiVersion: dapr.io/v1alpha1`, `kind: Component`).
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
    pub source: Source,
}

impl Component {
    /// Case-insensitive metadata lookup, as the official components do.
    pub fn meta(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .map(|m| m.value.as_str())
    }

    /// The location of a metadata field (or of the component when the field is absent).
    pub fn field_source(&self, name: &str) -> Source {
        let line = self
            .metadata
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .map(|m| m.line)
            .unwrap_or(self.source.line);
        Source { file: self.source.file.clone(), line }
    }
}

/// A component that cannot be loaded or initialised. Displayed as
/// `<file>:<line>: component <name>: field <field>: <message>`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{location}: {what}")]
pub struct ComponentError {
    pub location: Source,
    pub what: String,
}

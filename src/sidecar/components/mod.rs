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
use std::time::Duration;

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
            source: Source::default(),
        }
    }

    /// Builder-style metadata entry, for components built in code.
    pub fn with_meta(mut self, name: &str, value: &str) -> Component {
        self.metadata.push(MetadataItem {
            name: name.to_string(),
            value: value.to_string(),
            line: self.source.line,
        });
        self
    }

    /// The category part of `spec.type` (`state` for `state.redis`).
    pub fn category(&self) -> &str {
        self.component_type.split('.').next().unwrap_or("")
    }

    /// An error about one of this component's fields, located at that field's line.
    pub fn field_error(&self, field: &str, message: impl std::fmt::Display) -> ComponentError {
        let location = if field.starts_with("spec.") || field.starts_with("metadata.") {
            self.source.clone()
        } else {
            self.field_source(field)
        };
        ComponentError {
            location,
            what: format!("component {}: field {}: {}", self.name, field, message),
        }
    }

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
        Source {
            file: self.source.file.clone(),
            line,
        }
    }
}

/// Parses a duration the way Dapr components do: Go syntax (`1h2m3.5s`, `500ms`, `2us`) or a
/// plain integer, which means milliseconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    parse_duration_with_unit(text, Duration::from_millis(1))
}

/// Like [`parse_duration`], with a plain integer counting `int_unit`s: components decoded
/// by dapr/kit (SQLite, ...) read plain integers as seconds, the Redis settings as ms.
pub fn parse_duration_with_unit(text: &str, int_unit: Duration) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(n) = text.parse::<u32>() {
        return int_unit.checked_mul(n);
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// A component that cannot be loaded or initialised. Displayed as
/// `<file>:<line>: component <name>: field <field>: <message>`.
/// Components built in code (no file) display just `component <name>: ...`.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ComponentError {
    pub location: Source,
    pub what: String,
}

impl std::fmt::Display for ComponentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.location.file.as_os_str().is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "{}: {}", self.location, self.what)
        }
    }
}

impl ComponentError {
    pub fn new(location: Source, what: impl Into<String>) -> ComponentError {
        ComponentError {
            location,
            what: what.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_go_syntax_and_milliseconds() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(
            parse_duration_with_unit("30", Duration::from_secs(1)),
            Some(Duration::from_secs(30))
        );
    }
}

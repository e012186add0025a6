//! The one YAML reader of the sidecar: splits a stream into documents (keeping each
//! document's first line so errors point into the file), reads the `apiVersion`/`kind`
//! header every resource starts with, stringifies scalars as the official loader does, and
//! turns serde-saphyr errors into `file:line` [`ResourceError`]s.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};
use serde_saphyr::Spanned;

use super::{ResourceError, Source};

/// One YAML document of a file.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    pub file: &'a Path,
    /// 1-based line of the file where the document starts.
    pub line: usize,
    /// The document's text. Line `n` of it is line `line + n - 1` of the file.
    pub text: String,
}

impl Document<'_> {
    /// The file line of something serde-saphyr located inside this document.
    pub fn line_of<T>(&self, spanned: &Spanned<T>) -> usize {
        match spanned.referenced.line() {
            0 => self.line,
            l => self.line + l as usize - 1,
        }
    }

    /// First line of the document that holds content (skipping leading comments).
    pub fn first_content_line(&self) -> usize {
        self.text
            .lines()
            .position(|l| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#')
            })
            .map_or(self.line, |i| self.line + i)
    }

    pub fn source(&self, line: usize) -> Source {
        Source {
            file: self.file.to_path_buf(),
            line,
        }
    }

    /// Checks the document is well-formed YAML.
    pub fn check_syntax(&self) -> Result<(), ResourceError> {
        serde_saphyr::from_str::<IgnoredAny>(&self.text)
            .map(|_| ())
            .map_err(|e| self.error(true, &e))
    }

    /// `apiVersion` and `kind`, or `None` when the document is not a mapping.
    pub fn header(&self) -> Option<Header> {
        serde_saphyr::from_str::<Header>(&self.text).ok()
    }

    /// Deserializes the document into `T`, with errors located in the file.
    pub fn parse<T: de::DeserializeOwned>(&self) -> Result<T, ResourceError> {
        serde_saphyr::from_str(&self.text).map_err(|e| self.error(false, &e))
    }

    /// Turns a serde-saphyr error into `file:line`. `syntax` tells a YAML syntax error from
    /// valid YAML of the wrong shape; for the latter the key on the error's line is named.
    fn error(&self, syntax: bool, err: &serde_saphyr::Error) -> ResourceError {
        let (line, col) = match err.location() {
            Some(loc) if loc.line() > 0 => (self.line + loc.line() as usize - 1, loc.column()),
            _ => (self.line, 0),
        };
        let kind = if syntax {
            "invalid YAML".to_string()
        } else {
            let key = self
                .text
                .lines()
                .nth(line - self.line)
                .map(|l| l.trim_start().trim_start_matches("- ").trim_start())
                .and_then(|l| l.split_once(':'))
                .map(|(k, _)| k.trim())
                .filter(|k| !k.is_empty() && !k.contains(' '));
            match key {
                Some(k) => format!("field {k}"),
                None => "invalid resource".to_string(),
            }
        };
        let message = err.without_snippet().to_string();
        // The rendered message repeats the document-relative position; keep only the text.
        let message = message
            .split_once(" at line ")
            .map(|(m, _)| m.to_string())
            .unwrap_or(message);
        ResourceError::new(
            self.source(line),
            if col > 0 {
                format!("column {col}: {kind}: {message}")
            } else {
                format!("{kind}: {message}")
            },
        )
    }
}

/// Splits a YAML stream on `---` lines into its non-empty documents.
pub fn documents<'a>(file: &'a Path, text: &str) -> Vec<Document<'a>> {
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
        // Every line keeps its place, so document lines map to file lines.
        current.push('\n');
    }
    docs.push((start, current));
    docs.into_iter()
        .filter(|(_, doc)| {
            doc.lines().any(|l| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#') && !t.starts_with('%')
            })
        })
        .map(|(line, text)| Document { file, line, text })
        .collect()
}

/// What every resource document starts with.
#[derive(Debug, Deserialize)]
pub struct Header {
    #[serde(rename = "apiVersion")]
    pub api_version: Option<Scalar>,
    pub kind: Option<Scalar>,
}

impl Header {
    pub fn kind(&self) -> &str {
        self.kind.as_ref().map_or("", |k| k.0.as_str())
    }

    pub fn api_version(&self) -> &str {
        self.api_version.as_ref().map_or("", |k| k.0.as_str())
    }
}

/// Any YAML scalar, stringified as the official loader does (`true`, `5`, `1.5`, `~` ⇒ "").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scalar(pub String);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_with_their_first_lines() {
        let docs = documents(
            Path::new("x.yaml"),
            "a: 1\n---\nb: 2\n--- # c\n\n# only comment\n---\nc: 3\n",
        );
        let starts: Vec<usize> = docs.iter().map(|d| d.line).collect();
        assert_eq!(starts, vec![1, 3, 8]);
    }

    #[test]
    fn syntax_errors_point_into_the_file() {
        let docs = documents(Path::new("/x/c.yaml"), "a: 1\n---\na: b\n  c: d\n");
        assert!(docs[0].check_syntax().is_ok());
        let err = docs[1].check_syntax().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/x/c.yaml:4: column 4: invalid YAML"),
            "{err}"
        );
    }
}

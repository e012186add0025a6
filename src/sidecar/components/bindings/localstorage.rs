//! `bindings.localstorage` (output): files under `rootPath` (created at start; relative to
//! daprd's working directory; `/proc`, `/sys`, `/boot` and `/var/run/secrets` refused), as
//! the official component:
//!
//! * `create`: writes the data to `fileName` (a random UUID when absent; directories made
//!   as needed) and answers `{"fileName": "<path relative to rootPath>"}`. The data is
//!   first unquoted when it is a JSON string (the HTTP API re-marshals `data`), then
//!   base64-decoded when it is valid standard base64 — so, as upstream, text that happens
//!   to be valid base64 is stored decoded;
//! * `get`: the file's bytes;
//! * `list`: the absolute paths of the files below `fileName` (default the root), as a
//!   JSON array (`null` when there are none, as upstream);
//! * `delete`: removes the file; no data.
//!
//! `fileName` never leaves the root: `..` stops at the root and a leading `/` is relative
//! to it. Unlike upstream's secure join, symbolic links inside the root are followed as
//! the operating system follows them.

use std::path::{Component as PathPart, Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::{BindingComponent, BindingError, InvokeRequest, InvokeResponse, OutputBinding};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

const DISALLOWED: [&str; 4] = ["/proc", "/sys", "/boot", "/var/run/secrets"];

pub struct LocalStorage {
    root: PathBuf,
}

/// `name` joined under `root` without leaving it; (absolute, relative) paths.
fn secure_join(root: &Path, name: &str) -> (PathBuf, PathBuf) {
    let mut rel = PathBuf::new();
    for part in Path::new(name).components() {
        match part {
            PathPart::Normal(p) => rel.push(p),
            PathPart::ParentDir => {
                rel.pop();
            }
            PathPart::CurDir | PathPart::RootDir | PathPart::Prefix(_) => {}
        }
    }
    let abs = if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(&rel)
    };
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    (abs, rel)
}

/// The bytes `create` stores: unquoted when a JSON string, then base64-decoded when valid.
pub fn file_bytes(data: &[u8]) -> Vec<u8> {
    let mut data = data.to_vec();
    if data.first() == Some(&b'"')
        && let Ok(s) = serde_json::from_slice::<String>(&data)
    {
        data = s.into_bytes();
    }
    // Go's decoder skips line breaks.
    let compact: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    match base64::engine::general_purpose::STANDARD.decode(&compact) {
        Ok(decoded) => decoded,
        Err(_) => data,
    }
}

fn walk(dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

impl LocalStorage {
    fn create(&self, name: &str, data: &[u8]) -> Result<Option<InvokeResponse>, BindingError> {
        let (abs, rel) = secure_join(&self.root, name);
        if let Some(dir) = abs.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                BindingError::new(format!("error creating directory {}: {e}", dir.display()))
            })?;
        }
        std::fs::write(&abs, file_bytes(data)).map_err(|e| {
            BindingError::new(format!("error creating file {}: {e}", abs.display()))
        })?;
        let body = serde_json::json!({ "fileName": rel.to_string_lossy() });
        Ok(Some(InvokeResponse {
            data: Bytes::from(body.to_string()),
            ..InvokeResponse::default()
        }))
    }

    fn get(&self, name: &str) -> Result<Option<InvokeResponse>, BindingError> {
        let (abs, _) = secure_join(&self.root, name);
        match std::fs::read(&abs) {
            Ok(b) => Ok(Some(InvokeResponse {
                data: Bytes::from(b),
                ..InvokeResponse::default()
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BindingError::new(format!(
                "file not found: {}",
                abs.display()
            ))),
            Err(e) => Err(BindingError::new(format!(
                "error reading file {}: {e}",
                abs.display()
            ))),
        }
    }

    fn delete(&self, name: &str) -> Result<Option<InvokeResponse>, BindingError> {
        let (abs, _) = secure_join(&self.root, name);
        std::fs::remove_file(&abs).map_err(|e| {
            BindingError::new(format!("error deleting file {}: {e}", abs.display()))
        })?;
        Ok(None)
    }

    fn list(&self, name: &str) -> Result<Option<InvokeResponse>, BindingError> {
        let (abs, _) = secure_join(&self.root, name);
        let meta = std::fs::metadata(&abs).map_err(|e| {
            BindingError::new(format!(
                "error getting stats for path {}: {e}",
                abs.display()
            ))
        })?;
        if !meta.is_dir() {
            return Err(BindingError::new(format!(
                "unable to list files as the file specified is not a directory: {}",
                abs.display()
            )));
        }
        let mut files = Vec::new();
        walk(&abs, &mut files).map_err(|e| {
            BindingError::new(format!(
                "error listing files in the directory {}: {e}",
                abs.display()
            ))
        })?;
        let body = if files.is_empty() {
            "null".to_string()
        } else {
            serde_json::to_string(&files).unwrap_or_default()
        };
        Ok(Some(InvokeResponse {
            data: Bytes::from(body),
            ..InvokeResponse::default()
        }))
    }
}

#[async_trait]
impl OutputBinding for LocalStorage {
    fn operations(&self) -> &'static [&'static str] {
        &["create", "get", "list", "delete"]
    }

    async fn invoke(&self, req: InvokeRequest) -> Result<Option<InvokeResponse>, BindingError> {
        let mut name = req.metadata.get("fileName").cloned().unwrap_or_default();
        if name.is_empty() && req.operation == "create" {
            name = uuid::Uuid::new_v4().to_string();
        }
        match req.operation.as_str() {
            "create" => self.create(&name, &req.data),
            "get" => self.get(&name),
            "delete" => self.delete(&name),
            "list" => self.list(&name),
            other => Err(BindingError::new(format!("unsupported operation {other}"))),
        }
    }
}

/// `rootPath` made absolute (against the working directory) and checked.
fn root_path(c: &Component) -> Result<PathBuf, ResourceError> {
    let raw = c.meta("rootPath").unwrap_or("").trim();
    if raw.is_empty() {
        return Err(c.field_error("rootPath", "property rootPath must not be empty"));
    }
    let mut root = PathBuf::new();
    let joined = if Path::new(raw).is_absolute() {
        PathBuf::from(raw)
    } else {
        std::env::current_dir()
            .map_err(|e| c.field_error("rootPath", format!("no working directory: {e}")))?
            .join(raw)
    };
    for part in joined.components() {
        match part {
            PathPart::ParentDir => {
                root.pop();
            }
            PathPart::CurDir => {}
            other => root.push(other),
        }
    }
    if let Ok(m) = std::fs::metadata(&root)
        && !m.is_dir()
    {
        return Err(c.field_error(
            "rootPath",
            "property rootPath represents a file and not a directory",
        ));
    }
    let cleaned = root.clone();
    // Resolve symbolic links of the part that exists.
    let mut existing = root.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(|n| n.to_owned()),
            existing.parent(),
        ) {
            (Some(n), Some(p)) => {
                rest.push(n);
                existing = p.to_path_buf();
            }
            _ => break,
        }
    }
    if let Ok(real) = std::fs::canonicalize(&existing) {
        root = real;
        for n in rest.into_iter().rev() {
            root.push(n);
        }
    }
    if DISALLOWED
        .iter()
        .any(|d| root.starts_with(d) || cleaned.starts_with(d))
    {
        return Err(c.field_error(
            "rootPath",
            "property rootPath points to a disallowed location",
        ));
    }
    Ok(root)
}

/// Registry row: `rootPath` is required and allowed.
pub fn validate(c: &Component, _ctx: &Context) -> Result<(), ResourceError> {
    super::Direction::from_component(c)?;
    root_path(c).map(|_| ())
}

/// Registry row: creates the root directory.
pub fn create(c: Component, _ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let root = root_path(&c)?;
        std::fs::create_dir_all(&root).map_err(|e| {
            c.field_error(
                "rootPath",
                format!(
                    "unable to create directory specified by 'rootPath' {}: {e}",
                    root.display()
                ),
            )
        })?;
        BindingComponent::instance(&c, None, Some(Arc::new(LocalStorage { root })))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_under_the_root() {
        let root = Path::new("/data");
        assert_eq!(
            secure_join(root, "a/b.txt"),
            (PathBuf::from("/data/a/b.txt"), PathBuf::from("a/b.txt"))
        );
        assert_eq!(
            secure_join(root, "../../etc/passwd").0,
            PathBuf::from("/data/etc/passwd")
        );
        assert_eq!(secure_join(root, "/abs").0, PathBuf::from("/data/abs"));
        assert_eq!(secure_join(root, "").0, PathBuf::from("/data"));
    }

    #[test]
    fn data_is_unquoted_then_base64_decoded() {
        assert_eq!(file_bytes(br#""hello world""#), b"hello world");
        assert_eq!(file_bytes(br#""aGVsbG8=""#), b"hello");
        assert_eq!(file_bytes(b"aGVsbG8="), b"hello");
        assert_eq!(file_bytes(br#"{"a":1}"#), br#"{"a":1}"#);
    }

    #[test]
    fn disallowed_roots() {
        for bad in ["/proc", "/sys/kernel", "/var/run/secrets/x"] {
            let c = Component::new("l", "bindings.localstorage").with_meta("rootPath", bad);
            let e = validate(&c, &Context::new("a")).unwrap_err().to_string();
            assert!(e.contains("disallowed"), "{bad}: {e}");
        }
        let c = Component::new("l", "bindings.localstorage");
        assert!(validate(&c, &Context::new("a")).is_err());
    }
}

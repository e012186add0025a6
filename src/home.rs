//! The install directory (`.dapr`): where `bin/daprd`, `components/` and `config.yaml` live.
//!
//! Resolution follows the official CLI: `<--runtime-path>/.dapr` if the flag is non-blank,
//! else `<$DAPR_RUNTIME_PATH>/.dapr` if non-blank, else `$HOME/.dapr`.

use std::path::{Path, PathBuf};

pub const RUNTIME_PATH_ENV: &str = "DAPR_RUNTIME_PATH";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaprHome {
    root: PathBuf,
}

impl DaprHome {
    /// Resolve from the `--runtime-path` flag, then the environment, then the home directory.
    pub fn resolve(runtime_path: Option<&str>) -> Result<DaprHome, crate::error::Error> {
        let env = std::env::var(RUNTIME_PATH_ENV).ok();
        let base = [runtime_path, env.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|p| !p.is_empty())
            .map(PathBuf::from);
        let base = match base {
            Some(b) => b,
            None => dirs::home_dir().ok_or(crate::error::Error::NoHome)?,
        };
        Ok(DaprHome {
            root: base.join(".dapr"),
        })
    }

    /// A home at an explicit `.dapr` directory (tests, run files).
    pub fn at(root: impl Into<PathBuf>) -> DaprHome {
        DaprHome { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    pub fn daprd(&self) -> PathBuf {
        self.bin_dir().join("daprd")
    }

    pub fn components_dir(&self) -> PathBuf {
        self.root.join("components")
    }

    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.yaml")
    }

    /// Where `dapr init` records the version of the runtime it installed. `dapr version`
    /// reads this file instead of running `daprd --version` (spawning on every command is
    /// what makes the official CLI slow).
    pub fn runtime_version_file(&self) -> PathBuf {
        self.bin_dir().join(".daprd-version")
    }

    /// The installed runtime version, or `None` when `bin/daprd` is absent. A `daprd` put
    /// there by hand (no version file) is read, never run: ours carries
    /// `DAPRD_VERSION_MARKER`, an official one its `-ldflags` build setting
    /// `pkg/buildinfo.version=`; `unknown` when neither is found.
    pub fn runtime_version(&self) -> Option<String> {
        if !self.daprd().is_file() {
            return None;
        }
        let v = std::fs::read_to_string(self.runtime_version_file()).unwrap_or_default();
        let v = v.trim();
        if !v.is_empty() {
            return Some(v.to_string());
        }
        Some(embedded_version(&self.daprd()).unwrap_or_else(|| "unknown".to_string()))
    }

    /// The SQLite file behind the default server-less `statestore` component.
    pub fn state_db(&self) -> PathBuf {
        self.root.join("state.db")
    }

    /// The SQLite file of the default `pubsub` component when no Redis answers: shared by
    /// every local sidecar, so local apps can talk with no server.
    pub fn pubsub_db(&self) -> PathBuf {
        self.root.join("pubsub.db")
    }
}

/// The version string a `daprd` binary carries, found by reading the file (running it
/// to ask is what makes the official CLI slow, and what this CLI never does).
fn embedded_version(daprd: &Path) -> Option<String> {
    let bytes = std::fs::read(daprd).ok()?;
    let marker_key = crate::DAPRD_VERSION_MARKER.split_once('=')?.0;
    [
        format!("{marker_key}="),
        "pkg/buildinfo.version=".to_string(),
    ]
    .iter()
    .find_map(|key| {
        let at = memchr::memmem::find(&bytes, key.as_bytes())? + key.len();
        let rest = &bytes[at..];
        let end = rest
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_')))
            .unwrap_or(rest.len());
        let v = std::str::from_utf8(&rest[..end]).ok()?;
        (!v.is_empty()).then(|| v.trim_start_matches('v').to_string())
    })
}

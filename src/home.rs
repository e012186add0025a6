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
    /// there by hand (no version file) is asked with `daprd --version` (bounded to 5 s);
    /// `unknown` when that fails too.
    pub fn runtime_version(&self) -> Option<String> {
        if !self.daprd().is_file() {
            return None;
        }
        let v = std::fs::read_to_string(self.runtime_version_file()).unwrap_or_default();
        let v = v.trim();
        if !v.is_empty() {
            return Some(v.to_string());
        }
        Some(ask_version(&self.daprd()).unwrap_or_else(|| "unknown".to_string()))
    }

    /// The SQLite file behind the default server-less `statestore` component.
    pub fn state_db(&self) -> PathBuf {
        self.root.join("state.db")
    }
}

/// `<daprd> --version` with newlines removed (as the official CLI reads it); `None` if it
/// fails, prints nothing or takes longer than 5 s.
fn ask_version(daprd: &Path) -> Option<String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(daprd)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    let v = out.replace(['\n', '\r'], "");
    let v = v.trim();
    (status.success() && !v.is_empty()).then(|| v.to_string())
}

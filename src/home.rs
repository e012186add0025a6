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
        Ok(DaprHome { root: base.join(".dapr") })
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
}

//! `dapr stop` (self-hosted), the official way: by app id, SIGTERM the `dapr run` process
//! that owns the app (it tears down daprd and the app), or the daprd itself when it was
//! started by hand or its CLI owns several listed apps; by run file, SIGTERM the process
//! group of the CLI that started the file.
//!
//! Safety limit: a process group is only signalled when the CLI leads its own group and
//! that group is not ours (a `dapr run -f` started from a script shares the script's
//! group; signalling it would kill the caller). Otherwise only the CLI pid is signalled,
//! and the run process tears down its children.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgid, getpgrp};

use super::instances::Instance;
use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum StopError {
    #[error("couldn't find app id {0}")]
    NotFound(String),
    #[error("{0}")]
    Signal(String),
}

fn sigterm(pid: u32) -> Result<(), StopError> {
    match kill(Pid::from_raw(pid as i32), Signal::SIGTERM) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(StopError::Signal(format!(
            "cannot signal process {pid}: {}",
            e.desc()
        ))),
    }
}

/// Decides which pid to signal for each app id, sharing the per-CLI app count across
/// the ids of one `dapr stop` call (so stopping both apps of a run file by id kills one
/// daprd, then the CLI).
pub struct Stopper {
    instances: Vec<Instance>,
    per_cli: HashMap<u32, usize>,
}

impl Stopper {
    pub fn new(instances: Vec<Instance>) -> Stopper {
        let mut per_cli = HashMap::new();
        for i in &instances {
            *per_cli.entry(i.cli_pid).or_insert(0) += 1;
        }
        Stopper { instances, per_cli }
    }

    /// Stop the app `app_id`; returns the pid signalled.
    pub fn stop_app(&mut self, app_id: &str) -> Result<u32, StopError> {
        let Some(inst) = self.instances.iter().find(|i| i.app_id == app_id).cloned() else {
            return Err(StopError::NotFound(app_id.to_string()));
        };
        let count = self.per_cli.get(&inst.cli_pid).copied().unwrap_or(0);
        let pid = if inst.cli_pid == 0 || count > 1 {
            if let Some(c) = self.per_cli.get_mut(&inst.cli_pid) {
                *c = c.saturating_sub(1);
            }
            inst.daprd_pid
        } else {
            inst.cli_pid
        };
        sigterm(pid)?;
        self.instances.retain(|i| i.app_id != app_id);
        Ok(pid)
    }
}

/// `dapr stop -f`: resolved exactly as `dapr run -f` records `runTemplatePath`
/// ([`runfile::resolve_path`](super::runfile::resolve_path): `~` expanded, made absolute,
/// `.` and `..` removed lexically, a directory means its `dapr.yaml`), so that any spelling
/// of the same file matches the running template.
pub fn resolve_run_file(path: &Path) -> Result<PathBuf, Error> {
    super::runfile::resolve_path(&path.to_string_lossy()).map_err(|e| Error::msg(e.to_string()))
}

/// SIGTERM the CLI that started `run_file` (its whole process group when safe). Returns
/// `Ok(false)` when no listed app was started from that file.
pub fn stop_run_file(instances: &[Instance], run_file: &Path) -> Result<bool, StopError> {
    let wanted = run_file.to_string_lossy();
    let Some(inst) = instances
        .iter()
        .find(|i| i.run_template_path == wanted && i.cli_pid != 0)
    else {
        return Ok(false);
    };
    let cli = Pid::from_raw(inst.cli_pid as i32);
    match getpgid(Some(cli)) {
        Ok(pgid) if pgid == cli && pgid != getpgrp() => match killpg(pgid, Signal::SIGTERM) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(true),
            Err(e) => Err(StopError::Signal(format!(
                "cannot signal process group {pgid}: {}",
                e.desc()
            ))),
        },
        Ok(_) => sigterm(inst.cli_pid).map(|_| true),
        Err(nix::errno::Errno::ESRCH) => Ok(true),
        Err(e) => Err(StopError::Signal(format!(
            "cannot find process {}: {}",
            inst.cli_pid,
            e.desc()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_file_paths_are_cleaned_like_dapr_run_records_them() {
        let tmp = tempfile::tempdir().unwrap();
        let apps = tmp.path().join("apps");
        std::fs::create_dir_all(apps.join("sub")).unwrap();
        std::fs::write(apps.join("dapr.yaml"), "version: 1\napps: []\n").unwrap();
        let want = apps.join("dapr.yaml");
        for spelled in [
            "apps/dapr.yaml",
            "apps/sub/../dapr.yaml",
            "apps/./sub/.././dapr.yaml",
            "apps/sub/..",
            "apps/",
        ] {
            let got = resolve_run_file(&tmp.path().join(spelled)).unwrap();
            assert_eq!(got, want, "{spelled}");
        }
        let e = resolve_run_file(&tmp.path().join("apps/none.yaml")).unwrap_err();
        assert!(e.to_string().contains("no such file or directory"), "{e}");
        std::fs::write(apps.join("notes.txt"), "x").unwrap();
        let e = resolve_run_file(&apps.join("notes.txt")).unwrap_err();
        assert!(e.to_string().contains("is not a YAML file"), "{e}");
    }
}

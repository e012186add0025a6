//! `dapr uninstall` (self-hosted): remove `bin/` (and with `--all` the whole install
//! directory). No containers are involved: `dapr init` here starts none. Returns the steps
//! taken so the command can print the official messages; never prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::home::DaprHome;

/// What happened to one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Removed(PathBuf),
    Missing(PathBuf),
}

/// Remove `dir`, retrying a few times (files held open on some systems). Missing is fine.
fn remove_dir(dir: &Path) -> Result<Step, Error> {
    if !dir.exists() {
        return Ok(Step::Missing(dir.to_path_buf()));
    }
    let mut last = None;
    for attempt in 0..3 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(Step::Removed(dir.to_path_buf())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Step::Removed(dir.to_path_buf()));
            }
            Err(e) => last = Some(e),
        }
        if attempt < 2 {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Err(Error::io(
        dir,
        last.unwrap_or_else(|| std::io::Error::other("could not remove")),
    ))
}

/// Remove `bin/`; with `all`, the whole install directory. `on_step` is called before each
/// removal is attempted, so a failure is reported after the step that led to it.
pub fn uninstall(home: &DaprHome, all: bool, on_step: &mut dyn FnMut(&Step)) -> Result<(), Error> {
    let bin = home.bin_dir();
    let step = if bin.exists() {
        Step::Removed(bin.clone())
    } else {
        Step::Missing(bin.clone())
    };
    on_step(&step);
    remove_dir(&bin)?;
    if all {
        let root = home.root().to_path_buf();
        let step = if root.exists() {
            Step::Removed(root.clone())
        } else {
            Step::Missing(root.clone())
        };
        on_step(&step);
        remove_dir(&root)?;
    }
    Ok(())
}

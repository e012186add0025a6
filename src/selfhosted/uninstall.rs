//! `dapr uninstall` (self-hosted): remove `bin/` (and with `--all` the whole install
//! directory). No containers are involved: `dapr init` here starts none, so every
//! container the official CLI would remove is reported as missing (`Step::NoContainer`),
//! in the official order, which keeps scripts that look for those lines working. Returns
//! the steps taken so the command can print the official messages; never prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::home::DaprHome;

/// What happened to one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Removed(PathBuf),
    Missing(PathBuf),
    /// A container the official CLI would remove here; none exists with this CLI.
    NoContainer(&'static str),
}

/// The containers the official CLI removes: placement and scheduler unless their binaries
/// are installed (a slim install), Redis and Zipkin only with `--all`.
fn containers(bin: &Path, all: bool) -> Vec<&'static str> {
    let mut names = Vec::new();
    if !bin.join("placement").exists() {
        names.push("dapr_placement");
    }
    if !bin.join("scheduler").exists() {
        names.push("dapr_scheduler");
    }
    if all {
        names.extend(["dapr_redis", "dapr_zipkin"]);
    }
    names
}

/// Remove `dir`, retrying a few times (files held open on some systems). Missing is fine.
fn remove_dir(dir: &Path) -> Result<(), Error> {
    let mut last = None;
    for attempt in 0..3 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
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
    // Decided before `bin/` goes, as the official CLI does.
    let containers = containers(&bin, all);
    remove_reported(&bin, on_step)?;
    for name in containers {
        on_step(&Step::NoContainer(name));
    }
    if all {
        remove_reported(home.root(), on_step)?;
    }
    Ok(())
}

/// Report, then remove, one directory.
fn remove_reported(dir: &Path, on_step: &mut dyn FnMut(&Step)) -> Result<(), Error> {
    if !dir.exists() {
        on_step(&Step::Missing(dir.to_path_buf()));
        return Ok(());
    }
    on_step(&Step::Removed(dir.to_path_buf()));
    remove_dir(dir)
}

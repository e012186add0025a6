//! `dapr uninstall` (self-hosted): remove `bin/` (and with `--all` the whole install
//! directory). No containers are involved: `dapr init` here starts none, so every
//! container the official CLI would remove is reported as missing, in the official order,
//! which keeps scripts that look for those lines working. Each step is reported through
//! the `report::Reporter` with the official message before it is taken; never prints.

use std::path::Path;
use std::time::Duration;

use crate::error::Error;
use crate::home::DaprHome;
use crate::report::{Reporter, Status};

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
        "remove",
        dir,
        last.unwrap_or_else(|| std::io::Error::other("could not remove")),
    ))
}

/// Remove `bin/`; with `all`, the whole install directory. Each step is reported before
/// it is attempted, so a failure is reported after the step that led to it.
pub fn uninstall(home: &DaprHome, all: bool, reporter: &dyn Reporter) -> Result<(), Error> {
    let bin = home.bin_dir();
    // Decided before `bin/` goes, as the official CLI does.
    let containers = containers(&bin, all);
    remove_reported(&bin, reporter)?;
    for name in containers {
        // None exists with this CLI: the official line for a missing container.
        reporter.status(
            Status::Warning,
            &format!("WARNING: {name} container does not exist"),
        );
    }
    if all {
        remove_reported(home.root(), reporter)?;
    }
    Ok(())
}

/// Report, then remove, one directory.
fn remove_reported(dir: &Path, reporter: &dyn Reporter) -> Result<(), Error> {
    if !dir.exists() {
        reporter.status(
            Status::Warning,
            &format!("WARNING: {} does not exist", dir.display()),
        );
        return Ok(());
    }
    reporter.status(
        Status::Info,
        &format!("Removing directory: {}", dir.display()),
    );
    remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Recorded;

    #[test]
    fn steps_are_reported_in_the_official_order() {
        let dir = tempfile::tempdir().unwrap();
        let home = DaprHome::resolve(Some(dir.path().to_str().unwrap())).unwrap();
        std::fs::create_dir_all(home.bin_dir()).unwrap();
        std::fs::write(home.bin_dir().join("placement"), "slim").unwrap();
        let rec = Recorded::default();
        uninstall(&home, true, &rec).unwrap();
        let bin = home.bin_dir().display().to_string();
        let root = home.root().display().to_string();
        let said: Vec<(Option<Status>, String)> =
            rec.take().into_iter().map(|(_, s, m)| (s, m)).collect();
        assert_eq!(
            said,
            [
                (Some(Status::Info), format!("Removing directory: {bin}")),
                (
                    Some(Status::Warning),
                    "WARNING: dapr_scheduler container does not exist".into()
                ),
                (
                    Some(Status::Warning),
                    "WARNING: dapr_redis container does not exist".into()
                ),
                (
                    Some(Status::Warning),
                    "WARNING: dapr_zipkin container does not exist".into()
                ),
                (Some(Status::Info), format!("Removing directory: {root}")),
            ]
        );
        assert!(!home.root().exists());
    }
}

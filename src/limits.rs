//! Process limits both binaries set at start-up: the soft `RLIMIT_NOFILE` is raised to the
//! hard limit, as Go programs (the official `dapr` and `daprd`) do, so that a sidecar under
//! load, and every process `dapr run` starts, is not held to the common soft limit of 1,024.

/// The soft and hard `RLIMIT_NOFILE`.
pub fn open_file_limit() -> Option<(u64, u64)> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).ok()
}

/// Raises the soft open-file limit to the hard limit; returns the limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, setrlimit};
    let (soft, hard) = open_file_limit()?;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return Some(hard);
    }
    Some(soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_open_file_limit_reaches_the_hard_one() {
        let limit = raise_open_file_limit().expect("getrlimit works");
        let (soft, hard) = open_file_limit().unwrap();
        assert_eq!((limit, soft), (hard, hard));
    }
}

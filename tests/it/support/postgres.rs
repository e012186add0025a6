//! A throw-away PostgreSQL server per test: `initdb` in a temporary directory (trust
//! authentication, no fsync), then `postgres` on a free loopback port, killed and removed
//! on drop. The server binaries are looked up on `PATH`, then in Debian's
//! `/usr/lib/postgresql/<version>/bin` (newest first). PostgreSQL refuses to run as root:
//! as root, both run as the `postgres` user (else `nobody`) through `setpriv`, owning the
//! directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{KillOnDrop, free_port, wait_until};

pub struct Postgres {
    pub port: u16,
    _server: KillOnDrop,
    _dir: tempfile::TempDir,
}

/// The directory holding `initdb`, `postgres` and `pg_isready`.
fn bin_dir() -> PathBuf {
    if let Ok(path) = std::env::var("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").is_file() && d.join("postgres").is_file() {
                // `/usr/local/bin/initdb` may link into the real directory, which also
                // holds `pg_isready`.
                return std::fs::canonicalize(d.join("initdb"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .unwrap_or(d);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).expect(
        "PostgreSQL server binaries (initdb, postgres) must be installed: apt-get install -y postgresql",
    )
}

/// The user to run the server as when this process is root: (uid, gid, name).
fn unprivileged() -> Option<(u32, u32, &'static str)> {
    use std::os::unix::fs::MetadataExt;
    // `/proc/self` belongs to the effective user.
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for name in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 3
                && f[0] == name
                && let (Ok(uid), Ok(gid)) = (f[2].parse(), f[3].parse())
            {
                return Some((uid, gid, name));
            }
        }
    }
    panic!("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL");
}

fn command(bin: &Path, user: Option<(u32, u32, &str)>) -> Command {
    match user {
        None => Command::new(bin),
        Some((uid, gid, _)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg(bin);
            c
        }
    }
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let user = unprivileged();
        let dir = tempfile::tempdir().unwrap();
        if let Some((uid, gid, _)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("data");
        let out = command(&bin.join("initdb"), user)
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .env("LC_ALL", "C")
            .current_dir(dir.path())
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for _ in 0..5 {
            let port = free_port();
            let child = command(&bin.join("postgres"), user)
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
                .arg(dir.path())
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("postgres starts");
            let mut child = KillOnDrop(child);
            let up = wait_until(Duration::from_secs(20), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                    || child.0.try_wait().ok().flatten().is_some()
            });
            // Accepting connections is not yet accepting logins: `pg_isready` says when.
            let ready = up
                && wait_until(Duration::from_secs(20), || {
                    Command::new(bin.join("pg_isready"))
                        .args([
                            "-q",
                            "-h",
                            "127.0.0.1",
                            "-p",
                            &port.to_string(),
                            "-U",
                            "postgres",
                        ])
                        .status()
                        .is_ok_and(|s| s.success())
                });
            if ready && child.0.try_wait().unwrap().is_none() {
                return Postgres {
                    port,
                    _server: child,
                    _dir: dir,
                };
            }
        }
        panic!("could not start postgres");
    }

    /// A libpq connection string for the `postgres` superuser and database.
    pub fn connection_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable",
            self.port
        )
    }

    /// The same as a URL.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }
}

//! Shared test helpers: free ports, a real `redis-server` per test, waiting for HTTP.
//! Each area may add its own helpers in its own file under `support/` (`streams`: `dapr`
//! with stdout and stderr captured apart; `fake_daprd`: a stand-in sidecar process;
//! `postgres`: a PostgreSQL server per test).
#![allow(dead_code)]

pub mod fake_daprd;
pub mod postgres;
pub mod streams;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on loopback (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Path of a binary of this crate (`dapr`, `daprd`).
pub fn bin(name: &str) -> PathBuf {
    match name {
        "dapr" => PathBuf::from(env!("CARGO_BIN_EXE_dapr")),
        "daprd" => PathBuf::from(env!("CARGO_BIN_EXE_daprd")),
        other => panic!("unknown binary {other}"),
    }
}

/// Variables of the developer's own Dapr set-up that must not reach a process under test:
/// they would point it at the developer's install, token, namespace or sidecar.
const DEVELOPER_ENV: &[&str] = &[
    "DAPR_RUNTIME_PATH",
    "DAPR_API_TOKEN",
    "APP_API_TOKEN",
    "NAMESPACE",
    "DAPR_HTTP_ENDPOINT",
    "DAPR_GRPC_ENDPOINT",
    "DAPR_RUNTIME_HOST",
    "DAPR_API_METHOD_INVOCATION_PROTOCOL",
    "DAPR_HOST_IP",
    "DAPR_RUNTIME_VERSION",
    "DAPR_RELEASE_BASE_URL",
    "DAPR_NETWORK",
    "DAPR_CONTAINER_RUNTIME",
    "DAPR_IMAGE_REGISTRY",
    "DAPR_DEFAULT_IMAGE_REGISTRY",
    "KUBECONFIG",
];

/// Removes the developer's Dapr variables from `cmd` (SDK scripts and sample apps, which
/// keep the real `HOME` for their interpreter's packages).
pub fn without_developer_env(cmd: &mut Command) -> &mut Command {
    for var in DEVELOPER_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Makes a spawned `dapr` or `daprd` independent of the developer's machine: `HOME` is
/// `home` and none of the developer's Dapr variables are inherited.
pub fn hermetic<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    without_developer_env(cmd).env("HOME", home)
}

/// Poll until `cond` is true or `timeout` passes; returns whether it became true.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    cond()
}

/// A process killed (SIGKILL) and reaped when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A throw-away `redis-server` on a free port, without persistence.
pub struct Redis {
    pub port: u16,
    _child: KillOnDrop,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub fn start() -> Redis {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (apt-get install -y redis-server)");
            let mut child = KillOnDrop(child);
            let up = wait_until(Duration::from_secs(5), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if up && child.0.try_wait().unwrap().is_none() {
                return Redis {
                    port,
                    _child: child,
                    _dir: dir,
                };
            }
        }
        panic!("could not start redis-server");
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Run `redis-cli` against this server and return its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

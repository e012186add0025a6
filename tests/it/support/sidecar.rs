//! Helpers for the sidecar tests: start a real `daprd` on free ports with a temp HOME,
//! wait for it, talk HTTP to it, read its log, stop it with a signal.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::support::{KillOnDrop, bin, free_port, wait_until};

/// How to start one daprd.
pub struct Opts {
    pub app_id: String,
    pub app_port: Option<u16>,
    /// `--dapr-grpc-port`; a free one when `None`.
    pub grpc_port: Option<u16>,
    pub resources: Option<PathBuf>,
    /// HOME for the process; sidecars that must find each other share it.
    pub home: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// `ulimit` options the process starts under (e.g. `-Sn 1024`), through `sh`.
    pub ulimit: Option<String>,
}

impl Opts {
    pub fn new(app_id: &str, home: &Path) -> Opts {
        Opts {
            app_id: app_id.into(),
            app_port: None,
            grpc_port: None,
            resources: None,
            home: home.to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            ulimit: None,
        }
    }

    pub fn ulimit(mut self, options: &str) -> Opts {
        self.ulimit = Some(options.into());
        self
    }

    pub fn resources(mut self, dir: &Path) -> Opts {
        self.resources = Some(dir.to_path_buf());
        self
    }

    pub fn app_port(mut self, port: u16) -> Opts {
        self.app_port = Some(port);
        self
    }

    pub fn grpc_port(mut self, port: u16) -> Opts {
        self.grpc_port = Some(port);
        self
    }

    pub fn arg(mut self, a: &str) -> Opts {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Opts {
        self.env.push((k.into(), v.into()));
        self
    }
}

/// A running daprd; killed when dropped.
pub struct Daprd {
    pub child: KillOnDrop,
    pub http_port: u16,
    pub grpc_port: u16,
    pub log_path: PathBuf,
}

/// Spawns daprd with `opts` and explicit ports; stdout and stderr go to a file in HOME.
pub fn spawn(opts: &Opts, http_port: u16) -> Daprd {
    let grpc_port = opts.grpc_port.unwrap_or_else(free_port);
    let log_path = opts
        .home
        .join(format!("daprd-{}-{http_port}.log", opts.app_id));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = match &opts.ulimit {
        // `exec` keeps the pid: the child is daprd itself.
        Some(u) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("ulimit {u} && exec \"$0\" \"$@\"")])
                .arg(bin("daprd"));
            c
        }
        None => Command::new(bin("daprd")),
    };
    cmd.args(["--app-id", &opts.app_id])
        .args(["--dapr-http-port", &http_port.to_string()])
        .args(["--dapr-grpc-port", &grpc_port.to_string()])
        .args(["--dapr-internal-grpc-port", &free_port().to_string()])
        .args(["--metrics-port", &free_port().to_string()])
        .args(["--app-port", &opts.app_port.unwrap_or(0).to_string()])
        .args([
            "--profile-port",
            "-1",
            "--placement-host-address",
            "localhost:50005",
        ])
        .args(&opts.args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
    crate::support::hermetic(&mut cmd, &opts.home);
    if let Some(r) = &opts.resources {
        cmd.arg("--resources-path").arg(r);
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    Daprd {
        child: KillOnDrop(cmd.spawn().expect("spawn daprd")),
        http_port,
        grpc_port,
        log_path,
    }
}

/// Starts daprd and waits until `/v1.0/healthz/outbound` answers 204.
pub fn start(opts: &Opts) -> Daprd {
    for _ in 0..3 {
        let mut d = spawn(opts, free_port());
        let client = client();
        let url = d.url("/v1.0/healthz/outbound");
        let up = wait_until(Duration::from_secs(10), || {
            matches!(d.child.0.try_wait(), Ok(Some(_)))
                || client
                    .get(&url)
                    .send()
                    .map(|r| r.status() == 204)
                    .unwrap_or(false)
        });
        if up && d.child.0.try_wait().unwrap().is_none() {
            return d;
        }
        // A port picked as free may have been taken meanwhile: try again with others.
        if !d
            .log()
            .to_ascii_lowercase()
            .contains("address already in use")
        {
            panic!("daprd did not start:\n{}", d.log());
        }
    }
    panic!("daprd did not start after 3 attempts");
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

impl Daprd {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.0.id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(timeout, || {
            status = self.child.0.try_wait().unwrap();
            status.is_some()
        });
        status
    }
}

/// Writes a component file named `<name>.yaml` into `dir`.
pub fn write_component(dir: &Path, name: &str, component_type: &str, metadata: &[(&str, &str)]) {
    let mut yaml = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: {component_type}\n  version: v1\n  metadata:\n"
    );
    for (k, v) in metadata {
        yaml.push_str(&format!("  - name: {k}\n    value: \"{v}\"\n"));
    }
    if metadata.is_empty() {
        yaml = yaml.replace("  metadata:\n", "  metadata: []\n");
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
}

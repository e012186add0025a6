//! `dapr run` (single app and run files), `dapr stop` of what it started, and self-hosted
//! `dapr logs`, driven through the real `dapr` binary with the real `daprd`.
//!
//! Each test lays out its own install dir (`$HOME/.dapr/{bin/daprd,components,config.yaml}`,
//! an in-memory state store) in a temp dir, sets HOME and DAPR_RUNTIME_PATH to it and
//! NO_COLOR=1, and uses app ids unique to the test process, because `dapr list`/`dapr stop`
//! see every sidecar on the machine. Process checks read /proc (Linux).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support;

const STATESTORE: &str = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.in-memory\n  version: v1\n";
const CONFIG: &str =
    "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprConfig\nspec: {}\n";

/// An app id unique to this call (tests run in parallel and sidecars are machine-wide).
fn id(name: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{name}-{}-{n}", std::process::id())
}

/// Lays out the install dir `d` by hand (no `dapr init`): daprd, an empty components dir
/// and the default configuration.
fn install_daprd(d: &Path) {
    std::fs::create_dir_all(d.join("bin")).unwrap();
    std::fs::create_dir_all(d.join("components")).unwrap();
    std::fs::copy(support::bin("daprd"), d.join("bin").join("daprd")).unwrap();
    std::fs::write(d.join("config.yaml"), CONFIG).unwrap();
}

/// A temp HOME with an install dir laid out by hand (no `dapr init`).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let h = Home::bare();
        let d = h.dapr_dir();
        install_daprd(&d);
        std::fs::write(d.join("components").join("statestore.yaml"), STATESTORE).unwrap();
        h
    }

    /// Nothing installed.
    fn bare() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn dapr_dir(&self) -> PathBuf {
        self.path().join(".dapr")
    }

    fn dapr(&self, args: &[&str]) -> Command {
        let mut c = Command::new(support::bin("dapr"));
        c.args(args)
            .env("HOME", self.path())
            .env("DAPR_RUNTIME_PATH", self.path())
            .env("NO_COLOR", "1")
            .env_remove("DAPR_HOST_IP")
            .current_dir(self.path())
            .stdin(Stdio::null());
        c
    }

    /// Run to completion (bounded) and return (exit code, stdout + stderr).
    fn output(&self, args: &[&str]) -> (i32, String) {
        let mut p = Proc::spawn(self.dapr(args));
        let code = p
            .wait(Duration::from_secs(30))
            .expect("dapr did not finish in 30 s");
        (code, p.text())
    }

    /// Start `dapr` in the background, output captured.
    fn start(&self, args: &[&str]) -> Proc {
        Proc::spawn(self.dapr(args))
    }
}

/// A running `dapr` process with its stdout+stderr collected. Dropping it sends SIGTERM (so
/// the CLI tears down what it started), then SIGKILL if it is still there after 8 s.
struct Proc {
    child: Child,
    out: Arc<Mutex<String>>,
    /// How many of the two reader threads reached EOF.
    eof: Arc<AtomicUsize>,
    code: Option<i32>,
}

impl Proc {
    /// The run ends within 15 s with exit code 0.
    fn assert_exit_0(&mut self) {
        assert_eq!(
            self.wait(Duration::from_secs(15)),
            Some(0),
            "{}",
            self.text()
        );
    }

    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let eof = Arc::new(AtomicUsize::new(0));
        for r in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let (out, eof) = (out.clone(), eof.clone());
            std::thread::spawn(move || {
                let mut r = r;
                let mut buf = [0u8; 4096];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
                eof.fetch_add(1, Ordering::SeqCst);
            });
        }
        Proc {
            child,
            out,
            eof,
            code: None,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed so far; once the process has ended, everything it printed
    /// (the reader threads drain both pipes to EOF first).
    fn text(&self) -> String {
        if self.code.is_some() {
            support::wait_until(Duration::from_secs(5), || {
                self.eof.load(Ordering::SeqCst) == 2
            });
        }
        self.out.lock().unwrap().clone()
    }

    fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        support::wait_until(timeout, || self.out.lock().unwrap().contains(needle))
    }

    /// `wait_for`, failing the test with everything printed so far.
    fn expect(&self, needle: &str, timeout: Duration) {
        assert!(
            self.wait_for(needle, timeout),
            "{needle:?} not printed within {timeout:?}:\n{}",
            self.text()
        );
    }

    /// The exit code, waiting at most `timeout` for the process to end.
    fn wait(&mut self, timeout: Duration) -> Option<i32> {
        support::wait_until(timeout, || {
            if self.code.is_none()
                && let Some(st) = self.child.try_wait().unwrap()
            {
                use std::os::unix::process::ExitStatusExt;
                self.code = Some(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
            }
            self.code.is_some()
        });
        self.code
    }

    fn term(&self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.wait(Duration::ZERO).is_none() {
            self.term();
            if self.wait(Duration::from_secs(8)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// Whether `pid` is a live process (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s[s.rfind(')').unwrap() + 2..].chars().next().unwrap();
            state != 'Z' && state != 'X'
        }
        Err(_) => false,
    }
}

/// Pids of live processes whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s[s.rfind(')')? + 2..]
                        .split_whitespace()
                        .nth(2)?
                        .parse::<u32>()
                        .ok()
                })
                == Some(pgid)
        })
        .filter(|p| alive(*p))
        .collect()
}

/// The command line of `pid` as arguments.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The live `daprd` started with `--app-id <app_id>`.
fn daprd_pid(app_id: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let args = cmdline(*pid);
            args.first().is_some_and(|a| a.ends_with("/daprd"))
                && args
                    .windows(2)
                    .any(|w| w[0] == "--app-id" && w[1] == app_id)
                && alive(*pid)
        })
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0] == flag)
        .map(|w| w[1].as_str())
}

fn metadata(http_port: u16) -> serde_json::Value {
    reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{http_port}/v1.0/metadata"))
        .timeout(Duration::from_secs(3))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// The pid printed by an app as `CHILD=<pid>` (the command line itself also shows `CHILD=$!`).
fn parse_child_pid(out: &str) -> Option<u32> {
    out.split("CHILD=")
        .filter_map(|s| s.lines().next()?.trim().parse().ok())
        .next()
}

fn child_pid(out: &str) -> u32 {
    parse_child_pid(out).unwrap_or_else(|| panic!("no CHILD=<pid> in {out}"))
}

/// Wait until the app printed `CHILD=<pid>` (not just the command line showing `CHILD=$!`).
fn wait_child_pid(p: &Proc) -> u32 {
    assert!(
        support::wait_until(Duration::from_secs(20), || parse_child_pid(&p.text())
            .is_some()),
        "no CHILD=<pid> printed: {}",
        p.text()
    );
    child_pid(&p.text())
}

fn all_gone(pids: &[u32]) -> bool {
    support::wait_until(Duration::from_secs(10), || pids.iter().all(|p| !alive(*p)))
}

/// `dapr run --app-id <app_id> <flags> -- sh -c <script>`.
fn sh_run<'a>(app_id: &'a str, flags: &[&'a str], script: &'a str) -> Vec<&'a str> {
    let mut args = vec!["run", "--app-id", app_id];
    args.extend_from_slice(flags);
    args.extend(["--", "sh", "-c", script]);
    args
}

/// The app pid a running `daprd` reports in its metadata.
fn app_pid_of(dpid: u32) -> u32 {
    let http: u16 = flag(&cmdline(dpid), "--dapr-http-port")
        .unwrap()
        .parse()
        .unwrap();
    metadata(http)["extended"]["appPID"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Both official closing lines of a run.
fn assert_exited(out: &str) {
    assert!(out.contains("Exited App successfully"), "{out}");
    assert!(out.contains("Exited Dapr successfully"), "{out}");
}

/// `dapr stop` said it stopped each of `app_ids`.
fn assert_stopped(out: &str, app_ids: &[&str]) {
    for app_id in app_ids {
        assert!(
            out.contains(&format!("app stopped successfully: {app_id}")),
            "{out}"
        );
    }
}

/// Every one of `pids` ends (bounded), naming the ones left behind.
fn assert_all_gone(pids: &[u32]) {
    assert!(
        all_gone(pids),
        "left behind: {:?}",
        pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
    );
}

const UP: &str = "You're up and running!";

// ---------------------------------------------------------------------------------------
// Single-app run

#[test]
fn app_exit_ends_the_run_with_official_messages() {
    let h = Home::new();
    let (code, out) = h.output(&sh_run(&id("echo"), &[], "echo 'test'"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Starting Dapr with id"), "{out}");
    assert_exited(&out);
    assert!(out.contains("test\n"), "{out}");
    assert!(!out.contains("Could not update sidecar metadata"), "{out}");
}

#[test]
fn exit_code_is_the_apps() {
    let h = Home::new();
    let (code, out) = h.output(&sh_run(&id("fail"), &[], "echo 'test'; exit 3"));
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("The App process exited with error code: 3"),
        "{out}"
    );
    assert!(out.contains("Exited Dapr successfully"), "{out}");
    assert!(!out.contains("Exited App successfully"), "{out}");
}

#[test]
fn app_gets_the_run_environment_and_daprd_the_official_flags() {
    let h = Home::new();
    let app_id = id("envapp");
    let env_file = h.path().join("env.txt");
    let script = format!(
        "env > {}.tmp && mv {0}.tmp {0}; sleep 1000",
        env_file.display()
    );
    let p = h.start(&sh_run(&app_id, &["--app-port", "0"], &script));
    p.expect(UP, Duration::from_secs(20));
    assert!(support::wait_until(Duration::from_secs(5), || env_file.exists()));
    let env: std::collections::HashMap<String, String> = std::fs::read_to_string(&env_file)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    assert_eq!(env["APP_ID"], app_id);
    assert_eq!(env["APP_CHANNEL_ADDRESS"], "127.0.0.1");
    assert_eq!(env["APP_PROTOCOL"], "http");
    assert!(
        !env.contains_key("APP_PORT"),
        "APP_PORT is only set for a positive app port"
    );
    let http: u16 = env["DAPR_HTTP_PORT"].parse().unwrap();
    let grpc: u16 = env["DAPR_GRPC_PORT"].parse().unwrap();
    let metrics: u16 = env["DAPR_METRICS_PORT"].parse().unwrap();

    let dpid = daprd_pid(&app_id).expect("daprd running");
    let args = cmdline(dpid);
    assert_eq!(Path::new(&args[0]), h.dapr_dir().join("bin").join("daprd"));
    let dapr_dir = h.dapr_dir().display().to_string();
    let expected = [
        ("--config", format!("{dapr_dir}/config.yaml")),
        ("--app-protocol", "http".into()),
        ("--log-level", "info".into()),
        ("--app-max-concurrency", "-1".into()),
        ("--placement-host-address", "localhost:50005".into()),
        ("--components-path", format!("{dapr_dir}/components")),
        ("--max-body-size", "4Mi".into()),
        ("--read-buffer-size", "4Ki".into()),
        ("--scheduler-host-address", "localhost:50006".into()),
        ("--app-id", app_id.clone()),
        ("--app-port", "0".into()),
        ("--dapr-http-port", http.to_string()),
        ("--dapr-grpc-port", grpc.to_string()),
        ("--profile-port", "-1".into()),
        ("--metrics-port", metrics.to_string()),
    ];
    let mut last = 0;
    for (f, v) in &expected {
        let pos = args
            .iter()
            .position(|a| a == f)
            .unwrap_or_else(|| panic!("{f} missing in {args:?}"));
        assert!(pos > last, "{f} out of the official order in {args:?}");
        last = pos;
        assert_eq!(&args[pos + 1], v, "{f}");
    }
    assert!(
        flag(&args, "--dapr-internal-grpc-port").is_some_and(|p| p.parse::<u16>().unwrap() > 0)
    );

    let meta = metadata(http);
    let ext = &meta["extended"];
    assert_eq!(ext["cliPID"], p.pid().to_string(), "{meta}");
    let app_pid: u32 = ext["appPID"].as_str().unwrap().parse().unwrap();
    assert!(alive(app_pid));
    assert_eq!(ext["appCommand"], format!("sh -c {script}"));
    assert!(
        ext.get("appLogPath").is_none(),
        "single runs do not register log paths: {meta}"
    );

    drop(p);
    assert!(all_gone(&[dpid, app_pid]));
}

#[test]
fn sigterm_stops_app_group_grandchildren_and_sidecar() {
    let h = Home::new();
    let app_id = id("grandkids");
    let mut p = h.start(&sh_run(&app_id, &[], "sleep 1000 & echo CHILD=$!; wait"));
    p.expect(UP, Duration::from_secs(20));
    let grandchild = wait_child_pid(&p);
    let dpid = daprd_pid(&app_id).expect("daprd running");
    let app_pid = app_pid_of(dpid);
    let group = group_members(app_pid);
    assert!(
        group.contains(&grandchild) && group.contains(&app_pid),
        "{group:?}"
    );

    p.term();
    let code = p
        .wait(Duration::from_secs(15))
        .expect("dapr run ends after SIGTERM");
    let out = p.text();
    assert_eq!(code, 0, "{out}");
    assert_exited(&out);
    assert!(
        all_gone(&[p.pid(), dpid, app_pid, grandchild]),
        "a process was left behind"
    );
    assert!(group_members(app_pid).is_empty());
}

#[test]
fn second_signal_kills_an_app_that_ignores_sigterm() {
    let h = Home::new();
    let app_id = id("stubborn");
    // An ignored signal stays ignored across exec, so the whole group ignores SIGTERM.
    let script = "trap '' TERM; echo READY; while :; do sleep 0.1; done";
    let mut p = h.start(&sh_run(&app_id, &[], script));
    p.expect(UP, Duration::from_secs(20));
    p.expect("READY", Duration::from_secs(10));
    let dpid = daprd_pid(&app_id).unwrap();
    let app_pid = app_pid_of(dpid);
    p.term();
    assert!(p.wait_for("terminated signal received", Duration::from_secs(5)));
    // The app ignores SIGTERM: the run must not end within the first moments of its
    // 5 s grace period.
    assert!(
        p.wait(Duration::from_millis(300)).is_none(),
        "still in the grace period"
    );
    p.term();
    assert!(
        p.wait(Duration::from_secs(3)).is_some(),
        "the second signal ends the run at once"
    );
    assert!(all_gone(&[p.pid(), dpid, app_pid]));
    assert!(group_members(app_pid).is_empty());
}

#[test]
fn sigkill_of_the_cli_still_leaves_no_orphans() {
    let h = Home::new();
    let app_id = id("killed");
    let mut p = h.start(&sh_run(&app_id, &[], "sleep 1000 & echo CHILD=$!; wait"));
    p.expect(UP, Duration::from_secs(20));
    let grandchild = wait_child_pid(&p);
    let dpid = daprd_pid(&app_id).unwrap();
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg(p.pid().to_string())
        .status();
    assert!(p.wait(Duration::from_secs(5)).is_some());
    // The watchdog SIGTERMs the groups as soon as the CLI's pipe closes.
    assert!(
        all_gone(&[dpid, grandchild]),
        "daprd or the app outlived a killed CLI"
    );
}

#[test]
fn app_exit_also_reaps_its_leftover_children() {
    let h = Home::new();
    let (code, out) = h.output(&sh_run(&id("leftover"), &[], "sleep 1000 & echo CHILD=$!"));
    assert_eq!(code, 0, "{out}");
    let child = child_pid(&out);
    assert!(
        all_gone(&[child]),
        "the app's background child survived the run"
    );
}

#[test]
fn sidecar_shutdown_api_ends_the_run_with_exit_0() {
    let h = Home::new();
    let port = support::free_port().to_string();
    let script = format!("curl -s -X POST http://127.0.0.1:{port}/v1.0/shutdown; sleep 10; exit 1");
    let mut p = h.start(&sh_run(
        &id("shutdown"),
        &["--dapr-http-port", &port],
        &script,
    ));
    let code = p
        .wait(Duration::from_secs(20))
        .expect("run ends when the sidecar shuts down");
    let out = p.text();
    assert_eq!(code, 0, "{out}");
    assert_exited(&out);
}

#[test]
fn sidecar_only_run_is_stopped_by_dapr_stop() {
    let h = Home::new();
    let app_id = id("sidecaronly");
    let mut p = h.start(&["run", "--app-id", &app_id]);
    p.expect(
        "You're up and running! Dapr logs will appear here.",
        Duration::from_secs(20),
    );
    let out = p.text();
    assert!(
        out.contains("WARNING: no application command found."),
        "{out}"
    );
    assert!(out.contains("Dapr sidecar is up and running."), "{out}");
    let dpid = daprd_pid(&app_id).unwrap();
    let (code, stop) = h.output(&["stop", "--app-id", &app_id]);
    assert_eq!(code, 0, "{stop}");
    assert!(
        stop.contains(&format!("app stopped successfully: {app_id}")),
        "{stop}"
    );
    assert!(
        p.wait(Duration::from_secs(15)).is_some(),
        "dapr run did not end after dapr stop"
    );
    assert!(p.text().contains("Exited Dapr successfully"));
    assert!(all_gone(&[p.pid(), dpid]));
}

#[test]
fn daprd_is_told_the_install_dir_of_runtime_path() {
    // `--runtime-path P` beats DAPR_RUNTIME_PATH; daprd gets `DAPR_RUNTIME_PATH=P` so that
    // what it keeps on disk (the name-resolution registry) stays under `P/.dapr` too.
    let h = Home::new();
    let custom = h.path().join("custom");
    install_daprd(&custom.join(".dapr"));
    let app_id = id("rtpath");
    let custom_s = custom.display().to_string();
    let p = h.start(&["run", "--runtime-path", &custom_s, "--app-id", &app_id]);
    p.expect(
        "You're up and running! Dapr logs will appear here.",
        Duration::from_secs(20),
    );
    let dpid = daprd_pid(&app_id).unwrap();
    assert!(
        cmdline(dpid)[0].starts_with(&custom_s),
        "{:?}",
        cmdline(dpid)
    );
    let environ = std::fs::read(format!("/proc/{dpid}/environ")).unwrap();
    let vars: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(
        vars.contains(&format!("DAPR_RUNTIME_PATH={custom_s}")),
        "{vars:?}"
    );
}

#[test]
fn missing_components_dir_is_an_error() {
    let h = Home::bare();
    let (code, out) = h.output(&["run"]);
    assert_eq!(code, 1, "{out}");
    let want = format!(
        "{}: no such file or directory",
        h.dapr_dir().join("components").display()
    );
    assert!(out.contains(&want), "{out}");
    assert!(out.contains('❌'), "{out}");
}

#[test]
fn resources_paths_are_validated_and_loaded() {
    let h = Home::new();
    let res = h.path().join("resources");
    std::fs::create_dir_all(&res).unwrap();
    std::fs::write(
        res.join("s.yaml"),
        STATESTORE.replace("name: statestore", "name: test-statestore"),
    )
    .unwrap();
    let res_s = res.display().to_string();
    let (code, out) = h.output(&sh_run(
        &id("res"),
        &["--resources-path", &res_s],
        "echo 'test'",
    ));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Component loaded: test-statestore (state.in-memory/v1)"),
        "{out}"
    );

    let missing = h.path().join("nope").display().to_string();
    let (code, out) = h.output(&[
        "run",
        "--resources-path",
        &res_s,
        "--resources-path",
        &missing,
        "--",
        "true",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("stat {missing}: no such file or directory")),
        "{out}"
    );
}

#[test]
fn busy_explicit_port_is_rejected() {
    let h = Home::new();
    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let (code, out) = h.output(&["run", "--dapr-http-port", &port, "--", "true"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "invalid configuration for HTTPPort. Port {port} is not available"
        )),
        "{out}"
    );
    drop(l);
}

#[test]
fn missing_command_is_an_error_and_stops_the_sidecar() {
    let h = Home::new();
    let app_id = id("nocmd");
    let (code, out) = h.output(&["run", "--app-id", &app_id, "--", "no-such-command-h4b"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Failed to find command no-such-command-h4b"),
        "{out}"
    );
    // The official closing line, a success status line.
    assert!(
        out.contains("✅  Start App failed, try to stop Dapr successfully"),
        "{out}"
    );
    assert!(daprd_pid(&app_id).is_none());
}

#[test]
fn unix_domain_socket_run() {
    let h = Home::new();
    let sock = tempfile::tempdir().unwrap();
    let app_id = id("uds");
    let s = sock.path().display().to_string();
    let script =
        format!("curl -s --unix-socket {s}/dapr-{app_id}-http.socket http://unix/v1.0/metadata");
    let (code, out) = h.output(&sh_run(&app_id, &["--unix-domain-socket", &s], &script));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Unix domain sockets are currently a preview feature"),
        "{out}"
    );
    assert!(out.contains("HTTP Socket:"), "{out}");
    assert!(
        out.contains(&format!("\"id\":\"{app_id}\"")),
        "the app reached its sidecar over the socket: {out}"
    );
    assert!(
        out.contains("Exited App successfully") && out.contains("Exited Dapr successfully"),
        "{out}"
    );
    assert!(!out.contains("Could not update sidecar metadata"), "{out}");
    assert!(
        std::fs::read_dir(sock.path()).unwrap().next().is_none(),
        "socket files are removed"
    );
}

#[test]
fn api_logging_shows_the_metadata_updates() {
    let h = Home::new();
    let app_id = id("apilog");
    let (code, out) = h.output(&sh_run(&app_id, &["--enable-api-logging"], "echo 'test'"));
    assert_eq!(code, 0, "{out}");
    for key in ["cliPID", "appPID", "appCommand"] {
        assert!(
            out.contains(&format!("PUT /v1.0/metadata/{key}")),
            "{key} not logged: {out}"
        );
    }
    assert!(out.contains("HTTP API Called"), "{out}");
}

#[test]
fn log_as_json_reaches_daprd() {
    let h = Home::new();
    let app_id = id("logjson");
    let (code, out) = h.output(&sh_run(&app_id, &["--log-as-json"], "echo 'test'"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("\"app_id\":\"{app_id}\"")), "{out}");
    assert!(
        out.contains("\"status\":\"success\""),
        "status lines are JSON too: {out}"
    );
}

#[test]
fn help_and_usage_errors() {
    let h = Home::bare();
    let (code, out) = h.output(&["run", "--help"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("--app-id"), "{out}");
    assert!(
        out.contains("The id for your application, used for service discovery"),
        "{out}"
    );
    assert!(out.contains("--run-file"), "{out}");
    assert!(
        !out.contains("--components-path"),
        "hidden flag shown: {out}"
    );
    let (code, out) = h.output(&["run", "--flag"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("--flag"), "{out}");

    // The hidden deprecated flags still work and say what replaces them, as cobra does.
    let h = Home::new();
    let comps = h.dapr_dir().join("components").display().to_string();
    let (code, out) = h.output(&["run", "-a", &id("depr"), "-d", &comps, "--", "true"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Flag --components-path has been deprecated, This flag is deprecated and will be removed in the future releases. Use \"resources-path\" flag instead"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------
// The two-app walkthrough (tests/apps): node order service + python order generator.

#[test]
fn node_and_python_sample_then_dapr_stop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("apps");
    let h = Home::new();
    let node_id = id("nodeapp");
    let py_id = id("pythonapp");
    let app_port = support::free_port().to_string();
    let node_js = root.join("node").join("app.js").display().to_string();
    let app_py = root.join("python").join("app.py").display().to_string();
    let node = h.start(&[
        "run",
        "--app-id",
        &node_id,
        "--app-port",
        &app_port,
        "--",
        "node",
        &node_js,
    ]);
    node.expect(UP, Duration::from_secs(20));
    let mut py_cmd = h.dapr(&["run", "--app-id", &py_id, "--", "python3", &app_py]);
    py_cmd.env("TARGET_APP_ID", &node_id);
    let py = Proc::spawn(py_cmd);
    py.expect(UP, Duration::from_secs(20));

    let url = format!("http://127.0.0.1:{app_port}/order");
    let client = reqwest::blocking::Client::new();
    let mut last = String::new();
    let got = support::wait_until(Duration::from_secs(15), || {
        let Ok(r) = client.get(&url).timeout(Duration::from_secs(2)).send() else {
            return false;
        };
        last = r.text().unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&last)
            .ok()
            .and_then(|v| v["orderId"].as_u64())
            .is_some_and(|n| n >= 2)
    });
    assert!(
        got,
        "GET /order: {last}\n--- node:\n{}\n--- python:\n{}",
        node.text(),
        py.text()
    );
    assert!(
        node.text().contains("Got a new order! Order ID:"),
        "{}",
        node.text()
    );

    let mut pids = vec![node.pid(), py.pid()];
    for app in [&node_id, &py_id] {
        let d = daprd_pid(app).unwrap();
        let app_pid = app_pid_of(d);
        pids.extend([d, app_pid]);
        pids.extend(group_members(app_pid));
    }
    let (code, out) = h.output(&["stop", "--app-id", &node_id, &py_id]);
    assert_eq!(code, 0, "{out}");
    assert_stopped(&out, &[&node_id, &py_id]);
    assert_all_gone(&pids);
    assert!(node.text().contains("Exited Dapr successfully"));
}

// ---------------------------------------------------------------------------------------
// Multi-app run files

/// A template dir with two sh apps; returns (template dir, app ids).
fn two_app_template(h: &Home, extra: &str) -> (PathBuf, [String; 2]) {
    let dir = h.path().join("project");
    let (a, b) = (id("alpha"), id("beta"));
    for d in ["alpha", "beta"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let yaml = format!(
        "version: 1\nname: my_template\ncommon:\n  env:\n    COMMON: from-common\n    SHARED: common\napps:\n  - appID: {a}\n    appDirPath: ./alpha\n    env:\n      SHARED: app\n    command: [\"sh\", \"-c\", \"echo A $APP_ID $COMMON $SHARED $DAPR_HTTP_PORT; echo oops >&2; sleep 1000 & wait\"]\n  - appID: {b}\n    appDirPath: ./beta/\n{extra}    command: [\"sh\", \"-c\", \"echo B $APP_ID; pwd; sleep 1000\"]\n"
    );
    std::fs::write(dir.join("dapr.yaml"), yaml).unwrap();
    (dir, [a, b])
}

fn log_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn run_file_two_apps_logs_list_and_stop_by_file() {
    let h = Home::new();
    let (dir, [a, b]) = two_app_template(&h, "");
    let tpl = dir.join("dapr.yaml");
    let mut p = h.start(&["run", "-f", &dir.display().to_string()]);
    p.expect(
        &format!("Started Dapr with app id \"{b}\""),
        Duration::from_secs(30),
    );
    p.expect(&format!("== APP - {b} == B {b}"), Duration::from_secs(10));
    let out = p.text();
    assert!(
        out.contains(&format!("Validating config and starting app \"{a}\"")),
        "{out}"
    );
    assert!(
        out.contains(&format!("== APP - {a} == A {a} from-common app ")),
        "env precedence: {out}"
    );
    assert!(
        out.contains(&format!("== APP - {a} == oops")),
        "stderr is prefixed too: {out}"
    );
    assert!(
        out.contains(&format!("== APP - {b} == {}", dir.join("beta").display())),
        "cwd = appDirPath: {out}"
    );
    assert!(out.contains(&format!(
        "Writing log files to directory : {}",
        dir.join("alpha/.dapr/logs").display()
    )));
    let first = out
        .find(&format!("Started Dapr with app id \"{a}\""))
        .unwrap();
    assert!(
        first
            < out
                .find(&format!("Validating config and starting app \"{b}\""))
                .unwrap(),
        "apps start in order"
    );

    // dapr list shows both apps with the template's path and name, and the log paths.
    let (code, list) = h.output(&["list", "-o", "json"]);
    assert_eq!(code, 0, "{list}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let mine: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["runTemplatePath"] == tpl.display().to_string())
        .collect();
    assert_eq!(mine.len(), 2, "{list}");
    for r in &mine {
        assert_eq!(r["runTemplateName"], "my_template");
        assert_eq!(r["cliPid"], p.pid());
        assert!(
            r["appLogPath"].as_str().unwrap().contains("/.dapr/logs/"),
            "{r}"
        );
        assert!(
            Path::new(r["daprdLogPath"].as_str().unwrap()).is_file(),
            "{r}"
        );
    }

    // Log files in <appDir>/.dapr/logs, named <id>_{app,daprd}_<ts>.log.
    let alpha_logs = log_files(&dir.join("alpha/.dapr/logs"));
    let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    let app_log = alpha_logs
        .iter()
        .find(|p| name(p).starts_with(&format!("{a}_app_")))
        .expect("app log");
    let daprd_log = alpha_logs
        .iter()
        .find(|p| name(p).starts_with(&format!("{a}_daprd_")))
        .expect("daprd log");
    assert!(
        std::fs::read_to_string(app_log)
            .unwrap()
            .contains(&format!("== APP - {a} == A {a}"))
    );
    let dlog = std::fs::read_to_string(daprd_log).unwrap();
    assert!(
        dlog.contains("You're up and running! Dapr logs will appear here."),
        "{dlog}"
    );
    assert!(
        !out.contains("HTTP server is running"),
        "daprd logs go to the file only by default: {out}"
    );

    // dapr logs finds the sidecar log of a running run-file app, and the app log.
    let (code, logs) = h.output(&["logs", "--app-id", &a]);
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("You're up and running! Dapr logs will appear here."),
        "{logs}"
    );
    let (code, logs) = h.output(&["logs", "--app-id", &a, "--source", "app"]);
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains(&format!("== APP - {a} == A {a}")), "{logs}");

    let mut pids = vec![p.pid()];
    for app in [&a, &b] {
        let d = daprd_pid(app).unwrap();
        let app_pid = app_pid_of(d);
        pids.push(d);
        pids.extend(group_members(app_pid));
    }
    let (code, stop) = h.output(&["stop", "-f", &tpl.display().to_string()]);
    assert_eq!(code, 0, "{stop}");
    assert!(
        stop.contains("Dapr and app processes stopped successfully"),
        "{stop}"
    );
    p.assert_exit_0();
    assert!(p.text().contains(
        "Received signal to stop Dapr and app processes. Shutting down Dapr and app processes."
    ));
    assert_all_gone(&pids);
    let dlog = std::fs::read_to_string(daprd_log).unwrap();
    for line in [
        "termination signal received: shutting down",
        "Exited App successfully",
        "Exited Dapr successfully",
    ] {
        assert!(dlog.contains(line), "{line} missing in daprd log: {dlog}");
    }

    // After the run: dapr logs still finds the files (through <dapr dir>/logs).
    let (code, logs) = h.output(&["logs", "--app-id", &b, "--tail", "1"]);
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("Exited Dapr successfully"), "{logs}");
}

#[test]
fn run_file_log_destinations_and_sigterm() {
    let h = Home::new();
    let (dir, [a, b]) = two_app_template(
        &h,
        "    appLogDestination: file\n    daprdLogDestination: console\n",
    );
    let mut p = h.start(&["run", "-f", &dir.join("dapr.yaml").display().to_string()]);
    p.expect(
        &format!("Started Dapr with app id \"{b}\""),
        Duration::from_secs(30),
    );
    p.expect(&format!("== APP - {a} =="), Duration::from_secs(10));
    // Beta's daprd logs on the console.
    p.expect(&format!("app_id={b}"), Duration::from_secs(10));
    let out = p.text();
    let beta_logs = log_files(&dir.join("beta/.dapr/logs"));
    assert_eq!(
        beta_logs.len(),
        1,
        "only the app log file for beta: {beta_logs:?}"
    );
    assert!(support::wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&beta_logs[0])
            .unwrap_or_default()
            .contains(&format!("== APP - {b} == B {b}"))
    }));
    assert!(
        !out.contains(&format!("== APP - {b} ==")),
        "beta's app output goes to the file only: {out}"
    );
    // Status lines written to the terminal alone carry their icon, as in the official CLI.
    assert!(
        out.contains("✅  You're up and running! Dapr logs will appear here."),
        "{out}"
    );

    p.term();
    p.assert_exit_0();
    assert!(daprd_pid(&a).is_none() && daprd_pid(&b).is_none());
}

#[test]
fn run_file_log_as_json_turns_every_status_line_into_json() {
    let h = Home::new();
    let (dir, [a, b]) = two_app_template(&h, "");
    let mut p = h.start(&[
        "run",
        "--log-as-json",
        "-f",
        &dir.join("dapr.yaml").display().to_string(),
    ]);
    p.expect(
        &format!("\"msg\":\"Started Dapr with app id \\\"{b}\\\". HTTP Port: "),
        Duration::from_secs(30),
    );
    let daprd_log = log_files(&dir.join("alpha/.dapr/logs"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains("_daprd_"))
        .unwrap();
    let text = std::fs::read_to_string(&daprd_log).unwrap();
    assert!(
        text.contains(
            "\"status\":\"success\",\"msg\":\"You're up and running! Dapr logs will appear here.\"}"
        ),
        "{text}"
    );
    assert!(
        !text.contains("\nYou're up and running!"),
        "no plain status line left: {text}"
    );
    p.term();
    p.assert_exit_0();
    assert!(daprd_pid(&a).is_none() && daprd_pid(&b).is_none());
}

#[test]
fn run_file_app_without_command_runs_only_the_sidecar() {
    let h = Home::new();
    let dir = h.path().join("p");
    std::fs::create_dir_all(dir.join("svc")).unwrap();
    std::fs::create_dir_all(dir.join("bad")).unwrap();
    let app_id = id("svc");
    let bad = id("bad");
    std::fs::write(
        dir.join("dapr.yaml"),
        format!(
            "version: 1\napps:\n  - appDirPath: svc\n    appID: {app_id}\n  - appDirPath: bad\n    appID: {bad}\n    command: [\"sh\", \"-c\", \"echo failing; exit 1\"]\n"
        ),
    )
    .unwrap();
    let mut p = h.start(&["run", "-f", &dir.join("dapr.yaml").display().to_string()]);
    p.expect(
        &format!("Started Dapr with app id \"{app_id}\""),
        Duration::from_secs(30),
    );
    assert!(p.text().contains(&format!(
        "No application command found for app \"{app_id}\" present in"
    )));
    let logs = log_files(&dir.join("svc/.dapr/logs"));
    assert_eq!(logs.len(), 1, "no app log without a command: {logs:?}");
    // A failing app does not end the run; its log records the exit code.
    assert!(p.wait_for(
        &format!("Started Dapr with app id \"{bad}\""),
        Duration::from_secs(30)
    ));
    let bad_log = log_files(&dir.join("bad/.dapr/logs"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains("_app_"))
        .unwrap();
    assert!(support::wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&bad_log)
            .unwrap_or_default()
            .contains("The App process exited with error code: exit status 1")
    }));
    assert!(
        p.wait(Duration::from_millis(300)).is_none(),
        "run -f keeps running"
    );
    p.term();
    p.assert_exit_0();
    let text = std::fs::read_to_string(&bad_log).unwrap();
    assert!(
        text.contains(&format!("== APP - {bad} == failing")),
        "{text}"
    );
    assert!(text.contains("Error exiting App: exit status 1"), "{text}");
    // Scenario 33: the shutdown line also reaches the app's own log.
    assert!(
        text.contains("termination signal received: shutting down"),
        "{text}"
    );
    let daprd_log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(
        daprd_log.contains("Exited Dapr successfully"),
        "{daprd_log}"
    );
    assert!(
        daprd_log.contains("Updating metadata for cliPID: ")
            && !daprd_log.contains("Updating metadata for appPID"),
        "{daprd_log}"
    );
}

#[test]
fn run_file_errors() {
    let h = Home::new();
    let dir = h.path().join("p");
    std::fs::create_dir_all(dir.join("app")).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let cases = [
        (write("a.txt", "version: 1\n"), "is not a YAML file"),
        (
            write("nov.yaml", "apps:\n  - appDirPath: app\n"),
            "required field 'version' not found in the provided run template file",
        ),
        (
            write("nodir.yaml", "version: 1\napps:\n  - appID: x\n"),
            "required field 'appDirPath' not found",
        ),
        (
            write(
                "dest.yaml",
                "version: 1\napps:\n  - appDirPath: app\n    appLogDestination: nowhere\n",
            ),
            "invalid log destination type: nowhere",
        ),
        (
            write("missing.yaml", "version: 1\napps:\n  - appDirPath: nope\n"),
            "no such file or directory",
        ),
        (
            dir.join("absent.yaml").display().to_string(),
            "no such file or directory",
        ),
    ];
    for (file, want) in cases {
        let (code, out) = h.output(&["run", "-f", &file]);
        assert_eq!(code, 1, "{file}: {out}");
        // As in the official CLI, a path that is no template fails before it is read.
        let prefix = if file.ends_with("a.txt") || file.ends_with("absent.yaml") {
            "❌  Failed to get run file path: "
        } else {
            "❌  Error getting apps from config file: "
        };
        assert!(out.contains(prefix), "{file}: {out}");
        assert!(out.contains(want), "{file}: {out}");
    }

    // `command: [""]` fails after the sidecar started; the first app is torn down too.
    let first = id("first");
    let emptycmd = id("emptycmd");
    let empty = write(
        "empty.yaml",
        &format!(
            "version: 1\napps:\n  - appDirPath: app\n    appID: {first}\n    command: [\"sleep\", \"1000\"]\n  - appDirPath: app\n    appID: {}\n    command: [\"\"]\n",
            emptycmd
        ),
    );
    let (code, out) = h.output(&["run", "-f", &empty]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "Error starting Dapr and app (\"{}\"): exec: no command",
            emptycmd
        )),
        "{out}"
    );
    assert!(
        daprd_pid(&first).is_none(),
        "the first app's sidecar was stopped"
    );

    // No daprd installed (runtimePath pointing at an empty dir).
    let norun = write(
        "norun.yaml",
        &format!(
            "version: 1\ncommon:\n  runtimePath: {}\n  resourcesPath: app\napps:\n  - appDirPath: app\n    appID: {}\n",
            h.path().join("empty").display(),
            id("norun")
        ),
    );
    std::fs::create_dir_all(h.path().join("empty")).unwrap();
    let (code, out) = h.output(&["run", "-f", &norun]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("fork/exec") && out.contains("daprd: no such file or directory"),
        "{out}"
    );
}

#[test]
fn run_file_from_stdin_warns_about_ignored_flags() {
    let h = Home::new();
    let dir = h.path();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    let app_id = id("stdin");
    let yaml = format!(
        "version: 1\napps:\n  - appDirPath: app\n    appID: {app_id}\n    command: [\"sleep\", \"1000\"]\n"
    );
    let mut cmd = h.dapr(&["run", "-f", "-", "--app-port", "3000"]);
    cmd.stdin(Stdio::piped());
    let mut p = Proc::spawn(cmd);
    {
        use std::io::Write;
        let mut stdin = p.child.stdin.take().unwrap();
        stdin.write_all(yaml.as_bytes()).unwrap();
    }
    p.expect(
        &format!("Started Dapr with app id \"{app_id}\""),
        Duration::from_secs(30),
    );
    assert!(p.text().contains("The following flags are ignored when using --run-file and should be configured in the run file instead: app-port"));
    p.term();
    p.assert_exit_0();
}

// ---------------------------------------------------------------------------------------
// dapr logs (self-hosted)

#[test]
fn logs_of_a_finished_single_run() {
    let h = Home::new();
    let app_id = id("logged");
    let (code, out) = h.output(&sh_run(
        &app_id,
        &[],
        "echo from-the-app; echo to-stderr >&2",
    ));
    assert_eq!(code, 0, "{out}");
    let (code, logs) = h.output(&["logs", "--app-id", &app_id]);
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains(&format!("app_id={app_id}")),
        "sidecar log lines: {logs}"
    );
    assert!(logs.contains("Fetched logs"), "{logs}");
    let (code, logs) = h.output(&["logs", "--app-id", &app_id, "--source", "app"]);
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("from-the-app") && logs.contains("to-stderr"),
        "{logs}"
    );
    let (code, logs) = h.output(&["logs", "--app-id", &id("never-ran")]);
    assert_eq!(code, 1, "{logs}");
    assert!(logs.contains("no daprd log found for app id"), "{logs}");
    let (code, logs) = h.output(&["logs", "-k", "--app-id", &app_id]);
    assert_eq!(code, 1, "{logs}");
}

#[test]
fn logs_follow_prints_new_lines() {
    let h = Home::new();
    let app_id = id("follow");
    let run = h.start(&sh_run(
        &app_id,
        &[],
        "echo first; sleep 1; echo second; sleep 1000",
    ));
    run.expect("first", Duration::from_secs(20));
    let follow = h.start(&["logs", "--app-id", &app_id, "--source", "app", "--follow"]);
    follow.expect("first", Duration::from_secs(10));
    follow.expect("second", Duration::from_secs(10));
}

#[test]
fn run_file_apps_stopped_by_app_id() {
    let h = Home::new();
    let (dir, [a, b]) = two_app_template(&h, "");
    let mut p = h.start(&["run", "-f", &dir.join("dapr.yaml").display().to_string()]);
    p.expect(
        &format!("Started Dapr with app id \"{b}\""),
        Duration::from_secs(30),
    );
    let pids: Vec<u32> = [&a, &b].iter().map(|app| daprd_pid(app).unwrap()).collect();
    let (code, out) = h.output(&["stop", "--app-id", &a, &b]);
    assert_eq!(code, 0, "{out}");
    assert_stopped(&out, &[&a, &b]);
    p.assert_exit_0();
    assert!(all_gone(&pids));
}

#[test]
fn logs_of_a_running_single_run_are_found_through_its_cli() {
    let h = Home::new();
    let app_id = id("elsewhere");
    let run = h.start(&sh_run(&app_id, &[], "echo marker-line; sleep 1000"));
    run.expect("marker-line", Duration::from_secs(20));
    // Another install dir: its logs directory knows nothing about this run.
    let other = tempfile::tempdir().unwrap();
    let mut cmd = h.dapr(&["logs", "--app-id", &app_id, "--source", "app"]);
    cmd.env("DAPR_RUNTIME_PATH", other.path())
        .current_dir(other.path());
    let mut p = Proc::spawn(cmd);
    assert_eq!(p.wait(Duration::from_secs(20)), Some(0), "{}", p.text());
    assert!(p.text().contains("marker-line"), "{}", p.text());
}

#[test]
fn listed_while_running_with_explicit_ports() {
    let h = Home::new();
    let app_id = id("listed");
    let (hp, gp) = (
        support::free_port().to_string(),
        support::free_port().to_string(),
    );
    let p = h.start(&sh_run(&app_id, &["-H", &hp, "-G", &gp], "sleep 1000"));
    p.expect(UP, Duration::from_secs(20));
    let (code, table) = h.output(&["list"]);
    assert_eq!(code, 0, "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with(&app_id))
        .unwrap_or_else(|| panic!("{table}"));
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        fields[..4],
        [app_id.as_str(), hp.as_str(), gp.as_str(), "0"],
        "{row}"
    );
    assert!(fields.len() >= 10, "{row}");
    let (code, json) = h.output(&["list", "-o", "json"]);
    assert_eq!(code, 0, "{json}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let me = rows.iter().find(|r| r["appId"] == app_id.as_str()).unwrap();
    assert_eq!(me["cliPid"], p.pid());
    assert!(me["appPid"].as_u64().unwrap() > 0);
    assert_eq!(
        me["appLogPath"], "",
        "single runs keep the official blank log columns"
    );
    assert_eq!(me["daprdLogPath"], "");
    assert_eq!(me["command"], "sh -c sleep 1000");
}

#[test]
fn invoke_reaches_an_app_on_a_localhost_channel() {
    let h = Home::new();
    let app_id = id("echo-app");
    let port = support::free_port().to_string();
    let server = r#"import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('content-length') or 0))
        self.send_response(200 if self.path == '/test' else 404)
        self.end_headers()
        if self.path == '/test':
            self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', int(os.environ['APP_PORT'])), H).serve_forever()
"#;
    std::fs::write(h.path().join("echo.py"), server).unwrap();
    let p = h.start(&[
        "run",
        "--app-id",
        &app_id,
        "--app-port",
        &port,
        "--app-channel-address",
        "localhost",
        "--",
        "python3",
        "echo.py",
    ]);
    p.expect(UP, Duration::from_secs(20));
    let dpid = daprd_pid(&app_id).unwrap();
    assert_eq!(
        flag(&cmdline(dpid), "--app-channel-address"),
        Some("localhost")
    );
    let mut out = String::new();
    let ok = support::wait_until(Duration::from_secs(10), || {
        let r = h.output(&[
            "invoke",
            "--app-id",
            &app_id,
            "--method",
            "test",
            "--data",
            "{\"cli\": \"is_working\"}",
        ]);
        out = r.1;
        r.0 == 0
    });
    assert!(
        ok,
        "{out}\n--- list:\n{}\n--- run:\n{}",
        h.output(&["list"]).1,
        p.text()
    );
    assert!(
        out.contains("{\"cli\": \"is_working\"}") && out.contains("App invoked successfully"),
        "{out}"
    );
}

#[test]
fn sidecar_failing_at_start_ends_the_run_with_its_error() {
    let h = Home::new();
    let res = h.path().join("bad");
    std::fs::create_dir_all(&res).unwrap();
    std::fs::write(
        res.join("c.yaml"),
        STATESTORE.replace("state.in-memory", "state.nope"),
    )
    .unwrap();
    let app_id = id("badcomp");
    let marker = h.path().join("app-ran");
    let script = format!("touch {}", marker.display());
    let res_s = res.display().to_string();
    let (code, out) = h.output(&sh_run(&app_id, &["--resources-path", &res_s], &script));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("The daprd process exited with error code: exit status "),
        "Go's wording of the exit: {out}"
    );
    assert!(
        out.contains("state.nope"),
        "daprd's own error is shown: {out}"
    );
    assert!(!marker.exists(), "the app is not started without a sidecar");
}

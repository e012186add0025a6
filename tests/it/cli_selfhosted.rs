//! The self-hosted CLI surface, driven through the real `dapr` binary: conventions
//! (usage errors, help, version, completion), `init`/`uninstall` into temp homes,
//! `list`/`stop` against real processes, `invoke`/`publish` through a real `daprd`.
//!
//! Every command runs with HOME and DAPR_RUNTIME_PATH pointed at a temp dir, NO_COLOR=1,
//! and `DAPR_INIT_REDIS_ADDRESS` at a closed port (so the default components do not
//! depend on whether this machine runs a Redis) unless a test starts its own Redis.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{self, KillOnDrop};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Stdout or stderr contains `needle`; on failure the whole output is shown.
    #[track_caller]
    fn expect(&self, needle: &str) {
        assert!(
            self.all().contains(needle),
            "{needle:?} missing:\n{}",
            self.all()
        );
    }

    /// `needle` is on stdout, and not on stderr.
    #[track_caller]
    fn expect_stdout(&self, needle: &str) {
        assert!(
            self.stdout.contains(needle) && !self.stderr.contains(needle),
            "{needle:?} not on stdout alone:\n--- stdout\n{}--- stderr\n{}",
            self.stdout,
            self.stderr
        );
    }

    /// `needle` is on stderr, and not on stdout.
    #[track_caller]
    fn expect_stderr(&self, needle: &str) {
        assert!(
            self.stderr.contains(needle) && !self.stdout.contains(needle),
            "{needle:?} not on stderr alone:\n--- stdout\n{}--- stderr\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// A hermetic environment: its own HOME and DAPR_RUNTIME_PATH.
struct Env {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("rt")).unwrap();
        let closed = format!("127.0.0.1:{}", support::free_port());
        Env {
            dir,
            vars: vec![("DAPR_INIT_REDIS_ADDRESS".into(), closed)],
        }
    }

    fn with(mut self, k: &str, v: &str) -> Env {
        self.vars.push((k.into(), v.into()));
        self
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The install directory (`$DAPR_RUNTIME_PATH/.dapr`).
    fn dapr_dir(&self) -> PathBuf {
        self.dir.path().join("rt").join(".dapr")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(support::bin("dapr"));
        support::hermetic(&mut c, &self.home())
            .args(args)
            .env("DAPR_RUNTIME_PATH", self.dir.path().join("rt"))
            .env("NO_COLOR", "1");
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c.stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Out {
        let out = self.cmd(args).output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> Out {
        let o = self.run(args);
        assert_eq!(o.code, 0, "dapr {args:?} failed:\n{}", o.all());
        o
    }
}

const OFFICIAL_CONFIG: &str = "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprConfig\nspec:\n  tracing:\n    samplingRate: \"1\"\n    zipkin:\n      endpointAddress: http://localhost:9411/api/v2/spans\n";
const SLIM_CONFIG: &str =
    "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprConfig\nspec: {}\n";

fn goos_goarch() -> (&'static str, &'static str) {
    let os = if cfg!(target_os = "macos") {
        "darwin"
    } else {
        std::env::consts::OS
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// A tiny static HTTP server on a free port: path → body, 404 otherwise. Records the
/// paths requested. Lives until the test process exits.
fn serve_files(files: HashMap<String, Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let req = String::from_utf8_lossy(&buf).into_owned();
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
            seen2.lock().unwrap().push(path.clone());
            let (status, body) = match files.get(&path) {
                Some(b) => ("200 OK", b.clone()),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    (base, seen)
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

// ---------------------------------------------------------------- conventions

#[test]
fn no_arguments_prints_help() {
    let o = Env::new().ok(&[]);
    o.expect_stdout("Distributed Application Runtime");
    o.expect_stdout("Usage:");
}

#[test]
fn every_command_has_help_and_mine_have_examples() {
    use clap::CommandFactory;
    let env = Env::new();
    let mine = [
        "init",
        "uninstall",
        "list",
        "stop",
        "invoke",
        "publish",
        "version",
        "completion",
    ];
    let root = dapr_cli::cli::Cli::command();
    let names: Vec<String> = root
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for m in mine {
        assert!(names.iter().any(|n| n == m), "missing command {m}");
    }
    for name in &names {
        let o = env.ok(&[name, "--help"]);
        assert!(o.stdout.contains("Usage:"), "{name} --help:\n{}", o.stdout);
        if mine.contains(&name.as_str()) {
            assert!(
                o.stdout.contains("Examples:"),
                "{name} --help has no examples:\n{}",
                o.stdout
            );
            assert!(
                o.stdout.contains(&format!("dapr {name}")),
                "{name} examples:\n{}",
                o.stdout
            );
        }
    }
}

#[test]
fn unknown_flags_are_usage_errors_like_cobra() {
    let env = Env::new();
    let o = env.run(&["stop", "--flag"]);
    assert_eq!(o.code, 255, "{}", o.all());
    o.expect_stderr("Error: unknown flag: --flag\nUsage:");

    // Scenario 27.
    let o = env.run(&["stop", "--app-id", "X", "-p", "test"]);
    assert_eq!(o.code, 255, "{}", o.all());
    o.expect_stderr("Error: unknown shorthand flag: 'p' in -p\nUsage:");
    o.expect_stderr("-a, --app-id string");
    o.expect_stderr("-f, --run-file string");

    let o = env.run(&["invoke", "--app-id", "x"]);
    assert_eq!(o.code, 255, "{}", o.all());
    o.expect_stderr("Error: required flag(s) \"method\" not set");
}

#[test]
fn help_pages_are_laid_out_like_cobra() {
    let env = Env::new();
    let o = env.ok(&["run", "--help"]);
    let run = o.stdout;
    for needle in [
        "Usage:\n  dapr run [flags]\n",
        "\nExamples:\n",
        "\nFlags:\n",
        "  -a, --app-id string ",
        "The id for your application, used for service discovery",
        "  -p, --app-port int ",
        "(default -1)",
        "  -h, --help ",
        "\nGlobal Flags:\n      --log-as-json ",
    ] {
        assert!(run.contains(needle), "{needle:?} missing:\n{run}");
    }
    // cobra leaves zero-value defaults out.
    assert!(!run.contains("(default 0)"), "{run}");
    assert!(
        !run.contains("--components-path"),
        "hidden flag shown: {run}"
    );

    let o = env.ok(&["help", "stop"]);
    o.expect_stdout("Usage:\n  dapr stop [flags]\n");
    o.expect_stdout("  -f, --run-file string ");

    let o = env.ok(&[]);
    for needle in [
        "Usage:\n  dapr [flags]\n  dapr [command]\n",
        "\nAvailable Commands:\n",
        "  init ",
        "\nFlags:\n",
        "      --runtime-path string ",
        "Use \"dapr [command] --help\" for more information about a command.",
    ] {
        assert!(
            o.stdout.contains(needle),
            "{needle:?} missing:\n{}",
            o.stdout
        );
    }
}

#[test]
fn bad_flag_values_are_usage_errors_like_cobra() {
    let env = Env::new();
    for (args, msg) in [
        (
            &["invoke", "-a", "x", "-m", "y", "-v"][..],
            "Error: flag needs an argument: 'v' in -v\nUsage:",
        ),
        (
            &["invoke", "-a", "x", "-m", "y", "--verb"][..],
            "Error: flag needs an argument: --verb\nUsage:",
        ),
        (
            &["run", "-p", "abc", "--", "true"][..],
            "Error: invalid argument \"abc\" for \"-p, --app-port\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax\nUsage:",
        ),
        (
            &["init", "--enable-mtls=maybe"][..],
            "Error: invalid argument \"maybe\" for \"--enable-mtls\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax\nUsage:",
        ),
        (
            &["init", "--timeout", "abc"][..],
            "Error: invalid argument \"abc\" for \"--timeout\" flag: strconv.ParseUint: parsing \"abc\": invalid syntax\nUsage:",
        ),
    ] {
        let o = env.run(args);
        assert_eq!(o.code, 255, "{args:?}: {}", o.all());
        assert!(o.stderr.contains(msg), "{args:?}: {}", o.stderr);
    }
}

#[test]
fn kubernetes_mode_answers_clearly() {
    let env = Env::new();
    // No cluster here (a HOME without ~/.kube/config, KUBECONFIG removed so no real
    // cluster is ever touched): -k names the kubeconfig it could not load. The cluster
    // paths themselves are tested in cli_k8s against the fake API server.
    let run = |args: &[&str]| {
        let out = env.cmd(args).env_remove("KUBECONFIG").output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    for args in [&["init", "-k"][..], &["list", "-k"]] {
        let o = run(args);
        assert_eq!(o.code, 1, "{args:?}: {}", o.all());
        assert!(
            o.stderr.contains("cannot load kubeconfig"),
            "{args:?}: {}",
            o.all()
        );
    }
    // As the official CLI: the error is printed and uninstall still exits 0.
    let o = run(&["uninstall", "-k"]);
    assert_eq!(o.code, 0, "{}", o.all());
    o.expect_stderr("Error removing Dapr: cannot load kubeconfig");
    let o = env.run(&["init", "-k", "--runtime-path", "/tmp/x"]);
    assert_eq!(o.code, 1);
    o.expect_stderr("--runtime-path is only valid for self-hosted mode");
}

#[test]
fn completion_prints_scripts() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = env.ok(&["completion", shell]);
        assert!(o.stdout.contains("dapr"), "{shell}: {}", o.stdout);
        assert!(o.stdout.len() > 500, "{shell}: script too short");
    }
    assert!(env.ok(&["completion", "bash"]).stdout.contains("complete"));
    let o = env.ok(&["completion"]);
    o.expect_stdout("bash");
    o.expect_stdout("powershell");
}

// ---------------------------------------------------------------- version

#[test]
fn version_reads_a_daprd_installed_by_hand_without_running_it() {
    // No version file from `dapr init` (a daprd copied in by hand): the version is read from
    // the binary, as an official Go build carries it (`-ldflags -X .../pkg/buildinfo.version=`),
    // and the binary is never executed (it would leave a trace file if it were).
    let env = Env::new();
    let bin = env.dapr_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let daprd = bin.join("daprd");
    let trace = env.dapr_dir().join("daprd-was-run");
    std::fs::write(
        &daprd,
        format!(
            "#!/bin/sh\ntouch '{}'\necho 9.9.9\n# build\t-ldflags=\"-X github.com/dapr/dapr/pkg/buildinfo.version=1.2.3-handmade\"\n",
            trace.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&daprd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = env.ok(&["version"]);
    assert_eq!(
        o.stdout,
        format!(
            "CLI version: {} \nRuntime version: 1.2.3-handmade\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(!trace.exists(), "dapr version executed daprd");
}

#[test]
fn version_reads_our_own_daprd_without_running_it() {
    let env = Env::new();
    let bin = env.dapr_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(support::bin("daprd"), bin.join("daprd")).unwrap();
    let o = env.ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["Runtime version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn version_without_install_says_na() {
    let env = Env::new();
    let v = env!("CARGO_PKG_VERSION");
    let o = env.ok(&["version"]);
    assert_eq!(
        o.stdout,
        format!("CLI version: {v} \nRuntime version: n/a\n")
    );
    let o = env.ok(&["version", "-o", "json"]);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(j["Cli version"], v);
    assert_eq!(j["Runtime version"], "n/a");
    assert!(o.stdout.ends_with('\n'));
    for flag in ["-v", "--version"] {
        assert_eq!(
            env.ok(&[flag]).stdout,
            format!("CLI version: {v} \nRuntime version: n/a\n")
        );
    }
    let o = env.run(&["version", "-o", "yaml"]);
    assert_eq!(o.code, 1);
    // On stdout, as the official `version` prints it.
    o.expect_stdout("❌  An invalid output format was specified.");
}

// ---------------------------------------------------------------- init / uninstall

#[test]
fn init_installs_the_bundled_runtime_and_server_less_defaults() {
    let env = Env::new();
    let o = env.ok(&["init"]);
    let all = o.all();
    assert!(
        all.contains("⌛  Making the jump to hyperspace..."),
        "{all}"
    );
    assert!(all.contains("✅  Success! Dapr is up and running. To get started, go here: https://docs.dapr.io/getting-started"), "{all}");
    assert!(
        all.contains("ℹ️  daprd binary has been installed to"),
        "{all}"
    );
    assert!(all.contains("ℹ️  No Redis answered at"), "{all}");
    assert!(
        o.stderr.is_empty(),
        "init's status lines all belong on stdout: {}",
        o.stderr
    );

    let d = env.dapr_dir();
    let daprd = d.join("bin/daprd");
    assert_eq!(
        std::fs::read(&daprd).unwrap(),
        std::fs::read(support::bin("daprd")).unwrap()
    );
    assert_eq!(mode(&daprd), 0o755);
    assert_eq!(
        std::fs::read_to_string(d.join("config.yaml")).unwrap(),
        OFFICIAL_CONFIG
    );
    let store = std::fs::read_to_string(d.join("components/statestore.yaml")).unwrap();
    let db = d.join("state.db");
    assert_eq!(
        store,
        format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.sqlite\n  version: v1\n  metadata:\n  - name: connectionString\n    value: \"{}\"\n  - name: actorStateStore\n    value: \"true\"\n",
            db.display()
        )
    );
    let pubsub = std::fs::read_to_string(d.join("components/pubsub.yaml")).unwrap();
    assert_eq!(
        pubsub,
        format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\nspec:\n  type: pubsub.sqlite\n  version: v1\n  metadata:\n  - name: connectionString\n    value: \"{}\"\n",
            d.join("pubsub.db").display()
        )
    );
    assert!(
        !env.home().join(".dapr").exists(),
        "DAPR_RUNTIME_PATH must win over HOME"
    );

    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(
        env.ok(&["version"]).stdout,
        format!("CLI version: {v} \nRuntime version: {v}\n")
    );
}

#[test]
fn init_with_redis_writes_the_official_components() {
    let redis = support::Redis::start();
    let env = Env::new().with("DAPR_INIT_REDIS_ADDRESS", &redis.addr());
    let o = env.ok(&["init"]);
    o.expect_stdout(&format!("Redis found at {}", redis.addr()));
    let d = env.dapr_dir().join("components");
    assert_eq!(
        std::fs::read_to_string(d.join("statestore.yaml")).unwrap(),
        format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: {}\n  - name: redisPassword\n    value: \"\"\n  - name: actorStateStore\n    value: \"true\"\n",
            redis.addr()
        )
    );
    assert_eq!(
        std::fs::read_to_string(d.join("pubsub.yaml")).unwrap(),
        format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\nspec:\n  type: pubsub.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: {}\n  - name: redisPassword\n    value: \"\"\n",
            redis.addr()
        )
    );
}

#[test]
fn init_with_a_network_writes_the_network_host_names_without_probing() {
    // `--network N`: the official files name the containers (`dapr_redis`, `dapr_zipkin`);
    // nothing is probed, so nothing may claim a Redis was found.
    let env = Env::new();
    let o = env.ok(&["init", "--network", "mynet"]);
    let all = o.all();
    assert!(!all.contains("Redis found"), "{all}");
    o.expect_stdout("ℹ️  The default statestore and pubsub components use the Redis of network mynet at dapr_redis:6379.");
    let d = env.dapr_dir();
    let state = std::fs::read_to_string(d.join("components/statestore.yaml")).unwrap();
    assert!(state.contains("    value: dapr_redis:6379\n"), "{state}");
    assert_eq!(
        std::fs::read_to_string(d.join("config.yaml")).unwrap(),
        OFFICIAL_CONFIG.replace("localhost:9411", "dapr_zipkin:9411")
    );
}

#[test]
fn reinit_is_safe_and_keeps_user_files() {
    let env = Env::new();
    env.ok(&["init"]);
    let d = env.dapr_dir();
    let store = d.join("components/statestore.yaml");
    std::fs::write(&store, "# mine\n").unwrap();
    std::fs::write(d.join("config.yaml"), "# my config\n").unwrap();
    std::fs::write(d.join("bin/daprd"), "stale").unwrap();
    let o = env.ok(&["init"]);
    o.expect_stdout("already exists");
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "# mine\n");
    assert_eq!(
        std::fs::read_to_string(d.join("config.yaml")).unwrap(),
        "# my config\n"
    );
    assert_eq!(
        std::fs::read(d.join("bin/daprd")).unwrap(),
        std::fs::read(support::bin("daprd")).unwrap()
    );
}

#[test]
fn init_without_a_bundled_runtime_says_what_to_do() {
    let env = Env::new();
    let lonely = env.dir.path().join("cli-only");
    std::fs::create_dir_all(&lonely).unwrap();
    let dapr = lonely.join("dapr");
    std::fs::copy(support::bin("dapr"), &dapr).unwrap();
    let c = env.cmd(&["init"]);
    let out = Command::new(&dapr)
        .args(["init"])
        .envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env_remove("DAPR_RUNTIME_VERSION")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--runtime-version"), "{err}");
    assert!(!env.dapr_dir().join("bin/daprd").exists());
}

#[test]
fn log_as_json_turns_status_lines_into_json() {
    let env = Env::new();
    let o = env.ok(&["init", "--log-as-json"]);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    for line in o.stdout.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            ["success", "info", "pending", "warning"].contains(&v["status"].as_str().unwrap()),
            "{line}"
        );
        assert!(v["time"].as_str().unwrap().ends_with('Z'), "{line}");
        assert!(v["msg"].is_string());
    }
    assert!(o.stdout.contains(r#""msg":"Success! Dapr is up and running. To get started, go here: https://docs.dapr.io/getting-started""#));
    // The same stream as the plain line: `list`'s invalid-format failure is on stdout.
    let o = env.run(&["list", "-o", "bad", "--log-as-json"]);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["msg"].as_str()),
        (
            Some("failure"),
            Some("An invalid output format was specified.")
        )
    );
}

#[test]
fn init_slim_writes_slim_config_and_no_components() {
    let env = Env::new();
    env.ok(&["init", "--slim"]);
    let d = env.dapr_dir();
    assert_eq!(
        std::fs::read_to_string(d.join("config.yaml")).unwrap(),
        SLIM_CONFIG
    );
    assert!(d.join("components").is_dir());
    assert_eq!(std::fs::read_dir(d.join("components")).unwrap().count(), 0);
    assert!(d.join("bin/daprd").is_file());
}

#[test]
fn init_downloads_a_release_and_verifies_it() {
    let (os, arch) = goos_goarch();
    let name = format!("daprd_{os}_{arch}.tar.gz");
    let good = tgz(&[
        ("README.md", b"readme"),
        ("daprd", b"#!/bin/sh\necho 9.8.7\n"),
    ]);
    let corrupt = {
        let mut c = good.clone();
        let n = c.len();
        c[n / 2] ^= 0xff;
        c
    };
    let mut files = HashMap::new();
    files.insert(format!("/v9.8.7/{name}"), good.clone());
    files.insert(
        format!("/v9.8.7/{name}.sha256"),
        format!("{}  {name}\n", sha256_hex(&good)).into_bytes(),
    );
    // A corrupted archive whose checksum file describes the genuine one.
    files.insert(format!("/v9.8.8/{name}"), corrupt.clone());
    files.insert(
        format!("/v9.8.8/{name}.sha256"),
        format!("{}  {name}\n", sha256_hex(&good)).into_bytes(),
    );
    // A corrupted archive without checksum file: refused by the gzip/tar check.
    files.insert(format!("/v9.8.9/{name}"), b"this is not a tarball".to_vec());
    let (base, seen) = serve_files(files);

    let env = Env::new().with("DAPR_RELEASE_BASE_URL", &base);
    let o = env.ok(&["init", "--runtime-version", "9.8.7"]);
    o.expect_stdout("Installing runtime version 9.8.7");
    let daprd = env.dapr_dir().join("bin/daprd");
    assert_eq!(std::fs::read(&daprd).unwrap(), b"#!/bin/sh\necho 9.8.7\n");
    assert_eq!(mode(&daprd), 0o755);
    assert!(seen.lock().unwrap().contains(&format!("/v9.8.7/{name}")));
    let o = env.ok(&["version", "-o", "json"]);
    o.expect_stdout("\"Runtime version\":\"9.8.7\"");

    for (v, needle) in [
        ("9.8.8", "checksum mismatch"),
        ("9.8.9", "not a valid .tar.gz"),
        ("1.0.0", "version not found from url"),
    ] {
        let env = Env::new().with("DAPR_RELEASE_BASE_URL", &base);
        let o = env.run(&["init", "--runtime-version", v]);
        assert_eq!(o.code, 1, "{v}: {}", o.all());
        assert!(o.stderr.contains(needle), "{v}: {}", o.all());
        assert!(
            !env.dapr_dir().exists(),
            "{v}: a refused archive must leave nothing behind"
        );
    }
}

#[test]
fn slim_init_of_a_release_installs_placement_and_scheduler() {
    // Scenario 2, adapted: binaries from a local release server.
    let (os, arch) = goos_goarch();
    let mut files = HashMap::new();
    for (v, names) in [
        ("1.14.0", &["daprd", "placement", "scheduler"][..]),
        ("1.13.0", &["daprd", "placement"]),
    ] {
        for n in names {
            let body = format!("{n} {v}");
            files.insert(
                format!("/v{v}/{n}_{os}_{arch}.tar.gz"),
                tgz(&[(&format!("release/{n}"), body.as_bytes())]),
            );
        }
    }
    let (base, seen) = serve_files(files);
    let env = Env::new().with("DAPR_RELEASE_BASE_URL", &base);
    let o = env.ok(&["init", "--slim", "--runtime-version", "1.14.0"]);
    let bin = env.dapr_dir().join("bin");
    for n in ["daprd", "placement", "scheduler"] {
        assert_eq!(
            std::fs::read_to_string(bin.join(n)).unwrap(),
            format!("{n} 1.14.0")
        );
        assert_eq!(mode(&bin.join(n)), 0o755);
    }
    o.expect_stdout(&format!(
        "placement binary has been installed to {}.",
        bin.display()
    ));
    o.expect_stdout(&format!(
        "scheduler binary has been installed to {}.",
        bin.display()
    ));
    assert_eq!(
        std::fs::read_to_string(env.dapr_dir().join("config.yaml")).unwrap(),
        SLIM_CONFIG
    );

    let env = Env::new().with("DAPR_RELEASE_BASE_URL", &base);
    env.ok(&["init", "--slim", "--runtime-version", "v1.13.0"]);
    let bin = env.dapr_dir().join("bin");
    assert!(bin.join("placement").is_file());
    assert!(!bin.join("scheduler").exists());
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.starts_with("/v1.13.0/scheduler")),
        "no scheduler before 1.14"
    );
}

#[test]
fn init_from_an_air_gapped_bundle() {
    let (os, arch) = goos_goarch();
    let bundle = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bundle.path().join("dist")).unwrap();
    std::fs::write(
        bundle.path().join("details.json"),
        r#"{"daprd":"1.7.0","cli":"1.7.0","daprBinarySubDir":"dist","dockerImageSubDir":"docker","daprImageName":"daprio/dapr:1.7.0","daprImageFileName":"daprio-dapr-1.7.0.tar.gz"}"#,
    )
    .unwrap();
    let archive = bundle.path().join(format!("dist/daprd_{os}_{arch}.tar.gz"));
    std::fs::write(&archive, tgz(&[("dist/daprd", b"bundled")])).unwrap();

    let env = Env::new();
    let o = env.ok(&["init", "--from-dir", bundle.path().to_str().unwrap()]);
    o.expect_stdout("Extracted binaries and completed components set up.");
    o.expect_stdout(
        "⚠  Local bundle installation using --from-dir flag is currently a preview feature",
    );
    let d = env.dapr_dir();
    assert_eq!(std::fs::read(d.join("bin/daprd")).unwrap(), b"bundled");
    assert_eq!(
        std::fs::read_to_string(d.join("config.yaml")).unwrap(),
        SLIM_CONFIG
    );
    assert_eq!(std::fs::read_dir(d.join("components")).unwrap().count(), 0);
    assert!(archive.exists(), "the bundle is left untouched");
    assert!(
        env.ok(&["version"])
            .stdout
            .contains("Runtime version: 1.7.0\n")
    );

    std::fs::write(bundle.path().join("details.json"), r#"{"daprd":"1.7.0"}"#).unwrap();
    let o = Env::new().run(&["init", "--from-dir", bundle.path().to_str().unwrap()]);
    assert_eq!(o.code, 1);
    o.expect_stderr("required fields are missing in");
}

#[test]
fn init_rejects_bad_flag_combinations() {
    let env = Env::new();
    // Scenario 6 and 7.
    let o = env.run(&[
        "init",
        "--image-registry",
        "localhost:5000",
        "--from-dir",
        "./local-dir",
    ]);
    assert_eq!(o.code, 1);
    o.expect_stderr(
        "❌  both --image-registry and --from-dir flags cannot be given at the same time",
    );
    let o = env.run(&["init", "--container-runtime", "invalid"]);
    assert_eq!(o.code, 1);
    o.expect("Invalid container runtime");
    let o = env.run(&["uninstall", "--all", "--container-runtime", "invalid"]);
    assert_eq!(o.code, 1);
    o.expect("Invalid container runtime");
    let o = env.run(&["init", "--image-variant", "alpine"]);
    assert_eq!(o.code, 1);
    o.expect("image variant alpine is not supported");
    for registry in ["docker.io", "ghcr.io"] {
        let o = env.run(&["init", "--image-registry", registry]);
        assert_eq!(o.code, 1, "{}", o.all());
        o.expect_stderr(
            "❌  flag --image-registry not set correctly. It cannot be \"ghcr.io\" or \"docker.io\"",
        );
    }
    let o = env
        .cmd(&["init"])
        .env("DAPR_DEFAULT_IMAGE_REGISTRY", "quay")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(
            "environment variable \"DAPR_DEFAULT_IMAGE_REGISTRY\" can only be set to GHCR"
        ),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!env.dapr_dir().exists());
    // Slim installs never look at registries.
    let o = env
        .cmd(&["init", "--slim"])
        .env("DAPR_DEFAULT_IMAGE_REGISTRY", "GHCR")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn runtime_path_flag_beats_the_environment() {
    // Scenarios 10 and 11: env = P1, flag = P2 → everything under P2/.dapr.
    let env = Env::new();
    let p2 = tempfile::tempdir().unwrap();
    let p2s = p2.path().to_str().unwrap();
    env.ok(&["init", "--runtime-path", p2s]);
    assert!(p2.path().join(".dapr/bin/daprd").is_file());
    assert!(
        !env.dapr_dir().exists(),
        "DAPR_RUNTIME_PATH must not be used when the flag is given"
    );
    let o = env.ok(&["version", "--runtime-path", p2s]);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines[0].contains("CLI version"));
    assert!(
        lines[1].contains("Runtime version") && lines[1].contains(env!("CARGO_PKG_VERSION")),
        "{}",
        o.stdout
    );
    assert!(env.ok(&["version"]).stdout.contains("Runtime version: n/a"));
    let id = format!("rtpath-{}", std::process::id());
    let o = env.ok(&[
        "run",
        "--runtime-path",
        p2s,
        "--app-id",
        &id,
        "--",
        "bash",
        "-c",
        "echo 'test'",
    ]);
    o.expect("Exited App successfully");
    o.expect("Exited Dapr successfully");
    // Nothing lands in ~/.dapr: daprd keeps its name-resolution registry in the install
    // it was started from.
    assert!(!env.dapr_dir().exists());
    assert!(!env.home().join(".dapr").exists(), "~/.dapr must not exist");
    env.ok(&["uninstall", "--all", "--runtime-path", p2s]);
    assert!(!p2.path().join(".dapr").exists());
    assert!(p2.path().is_dir());
    assert_eq!(std::fs::read_dir(p2.path()).unwrap().count(), 0);
}

#[test]
fn uninstall_keeps_components_and_uninstall_all_removes_everything() {
    let env = Env::new();
    env.ok(&["init"]);
    let d = env.dapr_dir();
    let o = env.ok(&["uninstall"]);
    o.expect_stdout("ℹ️  Removing Dapr from your machine...");
    o.expect_stdout(&format!(
        "ℹ️  Removing directory: {}",
        d.join("bin").display()
    ));
    o.expect_stdout("✅  Dapr has been removed successfully");
    assert!(!d.join("bin").exists());
    assert!(d.join("config.yaml").is_file() && d.join("components/statestore.yaml").is_file());
    assert!(env.ok(&["version"]).stdout.contains("Runtime version: n/a"));

    let o = env.ok(&["uninstall", "--all"]);
    o.expect_stdout(&format!(
        "⚠  WARNING: {} does not exist",
        d.join("bin").display()
    ));
    o.expect_stdout(&format!("ℹ️  Removing directory: {}", d.display()));
    assert!(!d.exists());
}

#[test]
fn uninstall_all_with_nothing_installed_succeeds() {
    // Scenario 13: no container exists here (this CLI starts none), so every container
    // the official CLI would remove is reported missing, in the official order.
    let env = Env::new();
    let o = env.ok(&["uninstall", "--all"]);
    let d = env.dapr_dir();
    let all = o.all();
    let expected = [
        "Removing Dapr from your machine...".to_string(),
        format!("WARNING: {}/bin does not exist", d.display()),
        "WARNING: dapr_placement container does not exist".to_string(),
        "WARNING: dapr_scheduler container does not exist".to_string(),
        "WARNING: dapr_redis container does not exist".to_string(),
        "WARNING: dapr_zipkin container does not exist".to_string(),
        format!("WARNING: {} does not exist", d.display()),
        "Dapr has been removed successfully".to_string(),
    ];
    let mut at = 0;
    for e in &expected {
        let Some(i) = all[at..].find(e.as_str()) else {
            panic!("missing or out of order: {e:?} in\n{all}");
        };
        at += i + e.len();
    }
}

#[test]
fn plain_uninstall_reports_only_the_control_plane_containers() {
    let env = Env::new();
    let o = env.ok(&["uninstall"]);
    let all = o.all();
    assert!(
        all.contains("WARNING: dapr_placement container does not exist")
            && all.contains("WARNING: dapr_scheduler container does not exist"),
        "{all}"
    );
    assert!(
        !all.contains("dapr_redis") && !all.contains("dapr_zipkin"),
        "Redis and Zipkin are only touched with --all: {all}"
    );
}

// ---------------------------------------------------------------- list / stop

/// Run `dapr list` in a fresh PID namespace (an empty process table) when the machine
/// allows it; `None` otherwise.
fn run_isolated(env: &Env, args: &[&str]) -> Option<Out> {
    let c = env.cmd(args);
    let program = c.get_program().to_owned();
    let mut u = Command::new("unshare");
    u.args(["-r", "-p", "-f", "--mount-proc", "--"])
        .arg(program)
        .args(args);
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => u.env(k, v),
            None => u.env_remove(k),
        };
    }
    let out = u.output().ok()?;
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unshare") {
        return None;
    }
    Some(Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

#[test]
fn list_with_no_instances() {
    // Scenario 14. Other tests may run sidecars concurrently, so the empty process table
    // comes from a PID namespace.
    let env = Env::new();
    let Some(o) = run_isolated(&env, &["list"]) else {
        panic!("this test needs `unshare -r -p` (user + PID namespaces)");
    };
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "No Dapr instances found.\n", ""),
    );
    let o = run_isolated(&env, &["list", "-o", "json"]).unwrap();
    assert_eq!(o.stdout, "[]");
    let o = run_isolated(&env, &["list", "-o", "yaml"]).unwrap();
    assert_eq!(o.stdout, "[]\n");
    let o = run_isolated(&env, &["list", "-o", "table"]).unwrap();
    assert_eq!(o.stdout, "No Dapr instances found.\n");

    let o = env.run(&["list", "-o", "invalid"]);
    assert_eq!(o.code, 1);
    // On stdout, as the official `list` prints it.
    o.expect_stdout("❌  An invalid output format was specified.");
}

#[test]
fn stop_unknown_app_and_bad_run_file() {
    let env = Env::new();
    let o = env.run(&["stop", "--app-id", "test-h4a-unknown"]);
    assert_eq!(o.code, 0, "scenario 14 expects exit 0: {}", o.all());
    o.expect("failed to stop app id test-h4a-unknown: couldn't find app id test-h4a-unknown");
    let o = env.run(&["stop", "-f", "../testdata/invalid-dir"]);
    assert_eq!(o.code, 1);
    o.expect("Failed to get run file path");
}

fn list_json(env: &Env) -> Vec<serde_json::Value> {
    let o = env.ok(&["list", "-o", "json"]);
    serde_json::from_str::<Vec<serde_json::Value>>(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", o.stdout))
}

fn find_app(env: &Env, id: &str) -> Option<serde_json::Value> {
    list_json(env).into_iter().find(|i| i["appId"] == id)
}

/// The `dapr run` process ends within `timeout`, then none of `pids` is left (5 s grace).
fn assert_run_ended(run: &mut KillOnDrop, timeout: Duration, pids: &[u32]) {
    assert!(
        support::wait_until(timeout, || run.0.try_wait().unwrap().is_some()),
        "dapr run did not end"
    );
    assert!(
        support::wait_until(Duration::from_secs(5), || pids
            .iter()
            .all(|p| !pid_alive(*p))),
        "processes left behind: {pids:?}"
    );
}

fn pid_alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// A stand-in sidecar serving `/v1.0/metadata` with the given `extended` map, with the
/// flags `dapr list` reads: a sidecar as `dapr list` sees it, independent of the real
/// daprd's progress.
fn fake_daprd(
    dir: &Path,
    app_id: &str,
    http_port: u16,
    extended: &serde_json::Value,
) -> KillOnDrop {
    support::fake_daprd::FakeDaprd {
        dir,
        app_id,
        http_port,
        extended: extended.clone(),
        received: None,
        args: &[
            "--dapr-grpc-port=4555",
            "--app-port",
            "9000",
            "--enable-metrics",
            "false",
        ],
    }
    .start()
}

#[test]
fn list_reads_flags_and_metadata_and_stop_signals_the_owning_cli() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    // The "CLI" owning the app: stop must signal it (not the sidecar) when it owns one app.
    let cli = KillOnDrop(Command::new("sleep").arg("30").spawn().unwrap());
    let cli_pid = cli.0.id();
    let id = format!("h4a-fake-{}", std::process::id());
    let port = support::free_port();
    let ext = serde_json::json!({
        "appCommand": "python3 app.py --port 9000 --verbose",
        "appPID": "4242",
        "cliPID": cli_pid.to_string(),
        "runTemplatePath": "/tmp/x/dapr.yaml",
        "runTemplateName": "tmpl",
        "appLogPath": "/tmp/x/app.log",
        "daprdLogPath": "/tmp/x/daprd.log"
    });
    let mut fake = fake_daprd(dir.path(), &id, port, &ext);
    let fake_pid = fake.0.id();

    let row = find_app(&env, &id).expect("the fake daprd is listed");
    assert_eq!(row["httpPort"], port);
    assert_eq!(row["grpcPort"], 4555);
    assert_eq!(row["appPort"], 9000);
    assert_eq!(row["metricsEnabled"], false);
    assert_eq!(row["daprdPid"], fake_pid);
    assert_eq!(row["cliPid"], cli_pid);
    assert_eq!(row["appPid"], 4242);
    assert_eq!(row["command"], "python3 app.py --port 9000 --verbose");
    assert_eq!(row["maxRequestBodySize"], 4194304);
    assert_eq!(row["httpReadBufferSize"], 4096);
    assert_eq!(row["runTemplatePath"], "/tmp/x/dapr.yaml");
    assert_eq!(row["runTemplateName"], "tmpl");
    assert_eq!(row["appLogPath"], "/tmp/x/app.log");
    assert_eq!(row["daprdLogPath"], "/tmp/x/daprd.log");
    assert!(row["age"].as_str().unwrap().ends_with('s'), "{row}");
    let created = row["created"].as_str().unwrap();
    assert!(
        regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d\.\d\d$")
            .unwrap()
            .is_match(created),
        "{created}"
    );
    let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "appId",
            "httpPort",
            "grpcPort",
            "appPort",
            "metricsEnabled",
            "command",
            "age",
            "created",
            "daprdPid",
            "cliPid",
            "appPid",
            "maxRequestBodySize",
            "httpReadBufferSize",
            "runTemplatePath",
            "appLogPath",
            "daprdLogPath",
            "runTemplateName"
        ]
    );

    let table = env.ok(&["list"]).stdout;
    assert!(table.starts_with("APP ID  "), "{table}");
    let line = table
        .lines()
        .find(|l| l.starts_with(&id))
        .expect("row in the table");
    assert!(
        line.contains("python3 app.py --..."),
        "COMMAND is truncated to 20 chars: {line}"
    );
    assert!(line.ends_with("  "), "cells end with two spaces");
    let yaml = env.ok(&["list", "-o", "yaml"]).stdout;
    assert!(yaml.contains(&format!("appId: {id}")), "{yaml}");

    let o = env.ok(&["stop", "--app-id", &id]);
    o.expect_stdout(&format!("✅  app stopped successfully: {id}"));
    let mut cli = cli;
    assert!(
        support::wait_until(Duration::from_secs(5), || cli
            .0
            .try_wait()
            .unwrap()
            .is_some()),
        "the owning CLI got SIGTERM"
    );
    assert!(
        fake.0.try_wait().unwrap().is_none(),
        "the sidecar is left to its CLI"
    );
    drop(fake.0.kill());
}

#[test]
fn stop_signals_the_sidecar_when_its_cli_owns_several_apps() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let cli = KillOnDrop(Command::new("sleep").arg("30").spawn().unwrap());
    let ext = serde_json::json!({ "cliPID": cli.0.id().to_string() });
    let a = format!("h4a-multi-a-{}", std::process::id());
    let b = format!("h4a-multi-b-{}", std::process::id());
    let mut fa = fake_daprd(dir.path(), &a, support::free_port(), &ext);
    let _fb = fake_daprd(dir.path(), &b, support::free_port(), &ext);
    let mut cli = cli;
    let o = env.ok(&["stop", "--app-id", &a]);
    o.expect_stdout(&format!("app stopped successfully: {a}"));
    assert!(
        support::wait_until(Duration::from_secs(5), || fa
            .0
            .try_wait()
            .unwrap()
            .is_some()),
        "sidecar a got SIGTERM"
    );
    assert!(
        cli.0.try_wait().unwrap().is_none(),
        "the CLI still owns app b"
    );
}

fn start_daprd(id: &str, http: u16, grpc: u16, app_port: u16, resources: &Path) -> KillOnDrop {
    KillOnDrop(
        Command::new(support::bin("daprd"))
            .args([
                "--app-id",
                id,
                "--dapr-http-port",
                &http.to_string(),
                "--dapr-grpc-port",
                &grpc.to_string(),
            ])
            .args([
                "--app-port",
                &app_port.to_string(),
                "--metrics-port",
                &support::free_port().to_string(),
            ])
            .arg("--resources-path")
            .arg(resources)
            // Never the developer's install or home.
            .env("HOME", resources)
            .env("DAPR_RUNTIME_PATH", resources)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn a_daprd_started_by_hand_is_listed_and_stopped() {
    // Scenario 25, with the real daprd.
    let env = Env::new();
    let res = tempfile::tempdir().unwrap();
    let id = format!("daprd-h4a-{}", std::process::id());
    let (http, grpc) = (support::free_port(), support::free_port());
    let mut daprd = start_daprd(&id, http, grpc, 0, res.path());
    let pid = daprd.0.id();
    let listed = support::wait_until(Duration::from_secs(10), || {
        find_app(&env, &id).is_some_and(|r| r["daprdPid"] == pid)
    });
    assert!(
        listed,
        "daprd (pid {pid}) not listed; alive: {:?}",
        daprd.0.try_wait()
    );
    let row = find_app(&env, &id).unwrap();
    assert_eq!(
        (
            row["httpPort"].as_u64(),
            row["grpcPort"].as_u64(),
            row["appPort"].as_u64()
        ),
        (Some(http as u64), Some(grpc as u64), Some(0))
    );
    assert_eq!(
        (row["cliPid"].as_u64(), row["appPid"].as_u64()),
        (Some(0), Some(0))
    );
    let table = env.ok(&["list"]).stdout;
    let line = table.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.split_whitespace().count() >= 9, "{line}");

    let o = env.ok(&["stop", "--app-id", &id]);
    o.expect_stdout(&format!("app stopped successfully: {id}"));
    assert!(support::wait_until(Duration::from_secs(10), || daprd
        .0
        .try_wait()
        .unwrap()
        .is_some()));
    assert!(!pid_alive(pid));
}

// ---------------------------------------------------------------- invoke / publish

/// A tiny HTTP app answering every request with its body (and 404 for `/missing`).
fn echo_app() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, len) = loop {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0usize);
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let first = String::from_utf8_lossy(&buf[..head_end])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let body = buf[head_end..].to_vec();
                let status = if first.contains("/missing") {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                // `/headers` answers with the request head, to check what was sent.
                let body = if first.contains("/headers") {
                    buf[..head_end].to_vec()
                } else {
                    body
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            });
        }
    });
    port
}

#[test]
fn invoke_and_publish_validate_their_input() {
    let env = Env::new();
    let o = env.run(&[
        "invoke",
        "--app-id",
        "x",
        "--method",
        "m",
        "--data",
        "a",
        "--data-file",
        "f",
    ]);
    assert_eq!(o.code, 1);
    o.expect("Only one of --data and --data-file allowed in the same invoke command");
    let o = env.run(&[
        "invoke",
        "--app-id",
        "x",
        "--method",
        "m",
        "--data-file",
        "a/file/that/does/not/exist",
    ]);
    assert_eq!(o.code, 1);
    o.expect("Error reading payload from 'a/file/that/does/not/exist'. Error: ");
    let o = env.run(&["invoke", "--app-id", "invoke-h4a-nope", "--method", "test"]);
    assert_eq!(o.code, 1);
    o.expect("error invoking app invoke-h4a-nope: app ID invoke-h4a-nope not found");

    let base = [
        "publish",
        "--publish-app-id",
        "pub-h4a-nope",
        "--pubsub",
        "pubsub",
        "--topic",
        "sample",
    ];
    let o = env.run(&[&base[..], &["--data", "a", "--data-file", "f"]].concat());
    assert_eq!(o.code, 1);
    o.expect("Only one of --data and --data-file allowed in the same publish command");
    let o = env.run(&[&base[..], &["--metadata", "not a valid JSON"]].concat());
    assert_eq!(o.code, 1);
    o.expect("Error parsing metadata as JSON");
    let o = env.run(&[&base[..], &["--data", "{}"]].concat());
    assert_eq!(o.code, 1);
    o.expect("Error publishing topic sample: couldn't find a running Dapr instance");

    // `-u` is announced as a preview feature, as by the official CLI.
    let o = env.run(&[&base[..], &["--data", "{}", "-u", "/tmp"]].concat());
    assert_eq!(o.code, 1);
    o.expect("⚠  Unix domain sockets are currently a preview feature");
    let o = env.run(&["invoke", "-a", "invoke-h4a-nope", "-m", "t", "-u", "/tmp"]);
    assert_eq!(o.code, 1);
    o.expect("⚠  Unix domain sockets are currently a preview feature");
}

#[test]
fn invoke_goes_through_a_real_daprd() {
    // Scenario 28, with the real daprd and a tiny echo app.
    let env = Env::new();
    let res = tempfile::tempdir().unwrap();
    let app_port = echo_app();
    let id = format!("invoke-h4a-{}", std::process::id());
    let http = support::free_port();
    let mut daprd = start_daprd(&id, http, support::free_port(), app_port, res.path());
    let up = support::wait_until(Duration::from_secs(10), || {
        reqwest::blocking::get(format!("http://127.0.0.1:{http}/v1.0/healthz"))
            .is_ok_and(|r| r.status().is_success())
    });
    assert!(up, "daprd did not become healthy: {:?}", daprd.0.try_wait());

    let file = res.path().join("message.json");
    std::fs::write(&file, r#"{"dapr": "is_great"}"#).unwrap();
    let o = env.ok(&[
        "invoke",
        "--app-id",
        &id,
        "--method",
        "test",
        "--data-file",
        file.to_str().unwrap(),
    ]);
    o.expect_stdout(r#"{"dapr": "is_great"}"#);
    o.expect_stdout("✅  App invoked successfully");
    let o = env.ok(&[
        "invoke",
        "--app-id",
        &id,
        "--method",
        "test",
        "--data",
        r#"{"cli": "is_working"}"#,
    ]);
    o.expect_stdout(r#"{"cli": "is_working"}"#);
    let o = env.run(&["invoke", "--app-id", &id, "--method", "missing"]);
    assert_eq!(o.code, 1, "{}", o.all());
    o.expect(&format!("error invoking app {id}: 404 Not Found"));

    // `-H/--header key=value` (repeatable) reaches the app.
    let o = env.ok(&[
        "invoke",
        "-a",
        &id,
        "-m",
        "headers",
        "-H",
        "x-one=1",
        "--header",
        "X-Two=b=c",
    ]);
    let head = o.stdout.to_ascii_lowercase();
    assert!(head.contains("x-one: 1\r\n"), "{head}");
    assert!(head.contains("x-two: b=c\r\n"), "{head}");
    for (bad, msg) in [
        ("nokey", "Should one \"=\" in HTTP header."),
        ("=v", "A header name is required."),
        ("k=", "Value for header name is required."),
    ] {
        let o = env.run(&["invoke", "-a", &id, "-m", "headers", "-H", bad]);
        assert_eq!(o.code, 1, "{}", o.all());
        o.expect(msg);
    }

    // Publishing through a sidecar without that pub/sub surfaces the sidecar's error.
    let o = env.run(&[
        "publish",
        "--publish-app-id",
        &id,
        "--pubsub",
        "pubsub",
        "--topic",
        "sample",
        "--data",
        "{}",
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    o.expect("Error publishing topic sample: unexpected status code");
}

// ---------------------------------------------------------------- with `dapr run`

/// `dapr run ...` in the background, output captured to a file.
fn spawn_dapr(env: &Env, args: &[&str], log: &Path) -> KillOnDrop {
    let f = std::fs::File::create(log).unwrap();
    let child = env
        .cmd(args)
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap();
    KillOnDrop(child)
}

#[test]
fn list_and_stop_an_app_started_by_dapr_run() {
    // Scenario 24.
    let env = Env::new();
    env.ok(&["init"]);
    let id = format!("dapr_e2e_list_{}", std::process::id());
    let (http, grpc) = (support::free_port(), support::free_port());
    let log = env.dir.path().join("run.log");
    let (hs, gs) = (http.to_string(), grpc.to_string());
    let mut run = spawn_dapr(
        &env,
        &[
            "run",
            "--app-id",
            &id,
            "-H",
            &hs,
            "-G",
            &gs,
            "--",
            "bash",
            "-c",
            "sleep 10; exit 0",
        ],
        &log,
    );
    let ready = support::wait_until(Duration::from_secs(15), || {
        find_app(&env, &id).is_some_and(|r| r["appPid"].as_u64() > Some(0))
    });
    assert!(
        ready,
        "not listed: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    for args in [&["list"][..], &["list", "-o", "table"]] {
        let out = env.ok(args).stdout;
        let line = out
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap_or_else(|| panic!("{out}"));
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            &fields[..4],
            &[id.as_str(), hs.as_str(), gs.as_str(), "0"],
            "{line}"
        );
        assert!(fields.len() >= 10, "{line}");
    }
    let row = find_app(&env, &id).unwrap();
    assert_eq!(
        (
            row["httpPort"].as_u64(),
            row["grpcPort"].as_u64(),
            row["appPort"].as_u64()
        ),
        (Some(http as u64), Some(grpc as u64), Some(0))
    );
    assert_eq!(row["cliPid"].as_u64(), Some(run.0.id() as u64));
    assert_eq!(
        (row["appLogPath"].as_str(), row["daprdLogPath"].as_str()),
        (Some(""), Some(""))
    );
    assert_eq!(row["command"], "bash -c sleep 10; exit 0");
    let yaml = env.ok(&["list", "-o", "yaml"]).stdout;
    assert!(yaml.contains(&format!("appId: {id}")), "{yaml}");
    let daprd_pid = row["daprdPid"].as_u64().unwrap() as u32;
    let app_pid = row["appPid"].as_u64().unwrap() as u32;

    let o = env.ok(&["stop", "--app-id", &id]);
    o.expect_stdout(&format!("app stopped successfully: {id}"));
    assert_run_ended(&mut run, Duration::from_secs(10), &[]);
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(out.contains("Exited Dapr successfully"), "{out}");
    assert_run_ended(&mut run, Duration::from_secs(0), &[daprd_pid, app_pid]);
    assert!(find_app(&env, &id).is_none());
}

#[test]
fn stop_a_run_file_by_path_and_by_app_ids() {
    // Scenario 31: `stop -f <dir>` and `stop --app-id a b` both end the run and leave no
    // process behind.
    let env = Env::new();
    env.ok(&["init"]);
    let tag = std::process::id();
    let (a, b) = (format!("rfa-{tag}"), format!("rfb-{tag}"));
    let dir = env.dir.path().join("apps");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("dapr.yaml"),
        format!("version: 1\napps:\n  - appID: {a}\n    appDirPath: .\n    command: [\"sleep\", \"30\"]\n  - appID: {b}\n    appDirPath: .\n    command: [\"sleep\", \"30\"]\n"),
    )
    .unwrap();
    let file = dir.join("dapr.yaml");
    let file_s = file.to_str().unwrap();
    for by_ids in [false, true] {
        let log = env.dir.path().join(format!("runfile-{by_ids}.log"));
        let mut run = spawn_dapr(&env, &["run", "-f", file_s], &log);
        let ready = support::wait_until(Duration::from_secs(20), || {
            let rows = list_json(&env);
            [&a, &b].iter().all(|id| {
                rows.iter()
                    .any(|r| r["appId"] == id.as_str() && r["appPid"].as_u64() > Some(0))
            })
        });
        assert!(
            ready,
            "run file apps not listed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let rows: Vec<serde_json::Value> = list_json(&env)
            .into_iter()
            .filter(|r| r["appId"] == a.as_str() || r["appId"] == b.as_str())
            .collect();
        let pids: Vec<u32> = rows
            .iter()
            .flat_map(|r| {
                [
                    r["daprdPid"].as_u64().unwrap() as u32,
                    r["appPid"].as_u64().unwrap() as u32,
                ]
            })
            .collect();
        for r in &rows {
            assert_eq!(r["runTemplatePath"], file_s, "{r}");
            assert_eq!(r["cliPid"].as_u64(), Some(run.0.id() as u64));
        }
        if by_ids {
            let o = env.ok(&["stop", "--app-id", &a, &b]);
            o.expect_stdout(&format!("app stopped successfully: {a}"));
            o.expect_stdout(&format!("app stopped successfully: {b}"));
        } else {
            let o = env.ok(&["stop", "-f", dir.to_str().unwrap()]);
            o.expect_stdout("✅  Dapr and app processes stopped successfully");
        }
        assert_run_ended(&mut run, Duration::from_secs(20), &pids);
        assert!(
            list_json(&env)
                .iter()
                .all(|r| r["appId"] != a.as_str() && r["appId"] != b.as_str())
        );
    }
    let o = env.ok(&["stop", "-f", file_s]);
    o.expect(&format!("couldn't find apps with run file \"{file_s}\""));
}

#[test]
fn stop_a_run_file_spelled_with_dot_segments_from_another_directory() {
    // `run -f` records the template path cleaned (absolute, `.`/`..` removed); `stop -f`
    // must clean its argument the same way to find the run.
    let env = Env::new();
    env.ok(&["init"]);
    let id = format!("rfdots-{}", std::process::id());
    let dir = env.dir.path().join("apps");
    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        dir.join("dapr.yaml"),
        format!("version: 1\napps:\n  - appID: {id}\n    appDirPath: .\n    command: [\"sleep\", \"30\"]\n"),
    )
    .unwrap();
    let file = dir.join("dapr.yaml");
    let file_s = file.to_str().unwrap();
    let log = env.dir.path().join("runfile-dots.log");
    let mut run = spawn_dapr(&env, &["run", "-f", file_s], &log);
    let ready = support::wait_until(Duration::from_secs(20), || {
        find_app(&env, &id).is_some_and(|r| r["appPid"].as_u64() > Some(0))
    });
    assert!(
        ready,
        "run file app not listed: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let row = find_app(&env, &id).unwrap();
    assert_eq!(row["runTemplatePath"], file_s, "{row}");
    let pids = [
        run.0.id(),
        row["daprdPid"].as_u64().unwrap() as u32,
        row["appPid"].as_u64().unwrap() as u32,
    ];

    let out = env
        .cmd(&["stop", "-f", "../apps/./dapr.yaml"])
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("✅  Dapr and app processes stopped successfully"),
        "{all}"
    );
    assert_run_ended(&mut run, Duration::from_secs(20), &pids);
    assert!(find_app(&env, &id).is_none());
}

//! The curl-piped installer (`install/install.sh`) and the packaging script
//! (`install/package.sh`), end to end: the debug binaries of this test run are packaged
//! once, served by a tiny HTTP server on a loopback port (it logs every requested path),
//! and installed with `curl -fsSL <url>/install.sh | bash` into temp dirs. Failure cases
//! (corrupt archive, 404, unsupported platform, no curl or wget) check the error text, the
//! exit code and that nothing was installed or left behind. Platform detection is steered
//! with a fake `uname` first on PATH, so the script needs no test hooks. Limits: needs
//! `bash`, `curl`, `tar` and `sha256sum`/`shasum` on the machine; the `/usr/local/bin`
//! default is not exercised (it would touch the real system).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::support::{self, KillOnDrop};

/// How long one installer run may take before the test kills it.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn install_script() -> PathBuf {
    repo_root().join("install/install.sh")
}

/// The release archive name for the machine running the tests, as install.sh names it.
fn artifact() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("dapr-cli_{os}_{arch}.tar.gz")
}

/// Runs `package.sh` on the binaries in `bin_dir` into `dist`; returns its output.
fn package_into(bin_dir: &Path, dist: &Path) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("install/package.sh"))
        .env("DAPR_BIN_DIR", bin_dir)
        .env("DAPR_DIST_DIR", dist)
        // Debug binaries are large; the fastest level keeps the tests quick.
        .env("DAPR_GZIP_LEVEL", "1")
        .env_remove("DAPR_OS")
        .env_remove("DAPR_ARCH");
    run(cmd)
}

/// Where the packaged release lives: `dist` (archive and checksum) and `bins` (the exact
/// binaries packaged).
struct Packaged {
    dist: PathBuf,
    bins: PathBuf,
}

/// The debug binaries of this run, packaged once (into cargo's per-target temp dir, so
/// nothing leaks into /tmp) and copied into each test's served dir. The binaries are
/// snapshotted first: other builds sharing the target dir may relink them mid-run.
fn packaged() -> &'static Packaged {
    static PACKAGED: OnceLock<Packaged> = OnceLock::new();
    PACKAGED.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("installer");
        let _ = std::fs::remove_dir_all(&root);
        let (dist, bins) = (root.join("dist"), root.join("bins"));
        std::fs::create_dir_all(&bins).unwrap();
        for name in ["dapr", "daprd"] {
            std::fs::copy(support::bin(name), bins.join(name)).unwrap();
        }
        let out = package_into(&bins, &dist);
        assert!(out.status.success(), "package.sh failed: {}", text(&out));
        Packaged { dist, bins }
    })
}

/// Whether `installed` holds exactly the packaged binary `name` (no huge diff on failure).
fn same_as_packaged(installed: &Path, name: &str) -> bool {
    std::fs::read(installed).unwrap() == std::fs::read(packaged().bins.join(name)).unwrap()
}

/// Runs a command with stdin closed and a timeout; stdout and stderr go through files so
/// a chatty child cannot block on a full pipe.
fn run(mut cmd: Command) -> Output {
    let logs = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (logs.path().join("out"), logs.path().join("err"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = KillOnDrop(cmd.spawn().expect("spawn"));
    let mut status = None;
    let done = support::wait_until(RUN_TIMEOUT, || {
        status = child.0.try_wait().unwrap();
        status.is_some()
    });
    assert!(
        done,
        "command did not finish within {RUN_TIMEOUT:?}: {cmd:?}"
    );
    Output {
        status: status.unwrap(),
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn names_in(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A static file server on a loopback port that records the path of every request.
struct Server {
    url: String,
    root: tempfile::TempDir,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Server {
    /// Serves an empty dir holding only `install.sh`.
    fn start() -> Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::copy(install_script(), root.path().join("install.sh")).unwrap();
        // Port 0: the OS picks a free port and we keep the listener, so no race.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (dir, log, stopped) = (root.path().to_path_buf(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (dir, log) = (dir.clone(), log.clone());
                std::thread::spawn(move || serve(conn, &dir, &log));
            }
        });
        Server {
            url: format!("http://{addr}"),
            root,
            requests,
            stop,
            addr,
        }
    }

    /// Serves the packaged release at the root (`latest` for DAPR_RELEASE_BASE_URL) or in
    /// a sub dir such as `v1.2.3`.
    fn with_release(self, sub: &str) -> Server {
        let dir = self.root.path().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        for name in [artifact(), format!("{}.sha256", artifact())] {
            std::fs::copy(packaged().dist.join(&name), dir.join(&name)).unwrap();
        }
        self
    }

    fn file(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn requested(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// `path` was among the requests; on failure all requests are shown.
    #[track_caller]
    fn assert_requested(&self, path: &str) {
        let requested = self.requested();
        assert!(
            requested.iter().any(|r| r == path),
            "{path:?} not requested: {requested:?}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and the thread ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn serve(mut conn: TcpStream, root: &Path, log: &Mutex<Vec<String>>) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    log.lock().unwrap().push(path.clone());
    let rel = path.trim_start_matches('/');
    let file = root.join(rel);
    let body = if rel.split('/').any(|p| p == "..") {
        None
    } else {
        std::fs::read(&file).ok()
    };
    let _ = match body {
        Some(body) => conn
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )
            .and_then(|_| conn.write_all(&body)),
        None => conn.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        ),
    };
}

/// Temp dirs for one installer run: HOME, TMPDIR and the install dir (not created).
struct Sandbox {
    _root: tempfile::TempDir,
    home: PathBuf,
    tmp: PathBuf,
    install_dir: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        let (home, tmp) = (root.path().join("home"), root.path().join("tmp"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        let install_dir = root.path().join("bin");
        Sandbox {
            home,
            tmp,
            install_dir,
            _root: root,
        }
    }

    /// A bash command run with this sandbox's environment and the server as release base.
    /// For `bash "$0"` scripts, the caller appends the script path as `$0`.
    fn bash(&self, server: &Server, script: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(script)
            .env("HOME", &self.home)
            .env("TMPDIR", &self.tmp)
            .env("DAPR_INSTALL_DIR", &self.install_dir)
            .env("DAPR_RELEASE_BASE_URL", &server.url)
            .env("NO_COLOR", "1")
            // Never the developer's install: a `dapr` the script runs looks in the sandbox.
            .env("DAPR_RUNTIME_PATH", &self.home)
            .env_remove("GITHUB_ORG")
            .env_remove("GITHUB_REPO");
        cmd
    }

    /// `curl -fsSL <server>/install.sh | bash [-s args]`.
    fn curl_pipe(&self, server: &Server, args: &str) -> Command {
        let bash = if args.is_empty() {
            "bash".to_string()
        } else {
            format!("bash -s {args}")
        };
        self.bash(
            server,
            &format!("curl -fsSL {}/install.sh | {bash}", server.url),
        )
    }

    /// Leftovers of the installer in TMPDIR (must be none after any run).
    fn tmp_leftovers(&self) -> Vec<String> {
        names_in(&self.tmp)
    }
}

fn assert_executable(path: &Path) {
    let meta =
        std::fs::metadata(path).unwrap_or_else(|e| panic!("{} missing: {e}", path.display()));
    assert!(
        meta.permissions().mode() & 0o111 == 0o111,
        "{} not executable",
        path.display()
    );
}

#[test]
fn package_sh_writes_archive_and_checksum() {
    let dist = packaged().dist.as_path();
    let name = artifact();
    assert_eq!(names_in(dist), vec![name.clone(), format!("{name}.sha256")]);

    let list = Command::new("tar")
        .arg("-tzf")
        .arg(dist.join(&name))
        .output()
        .unwrap();
    assert!(list.status.success());
    let mut entries: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").to_string())
        .collect();
    entries.sort();
    assert_eq!(entries, vec!["dapr", "daprd"]);

    let sum = Command::new("sha256sum")
        .arg(&name)
        .current_dir(dist)
        .output()
        .unwrap();
    let checksum = std::fs::read_to_string(dist.join(format!("{name}.sha256"))).unwrap();
    assert_eq!(
        checksum,
        String::from_utf8_lossy(&sum.stdout),
        "format is `<hex>  <file>`"
    );
}

#[test]
fn package_sh_names_a_missing_bin_dir() {
    let dist = tempfile::tempdir().unwrap();
    let missing = dist.path().join("no-such-dir");
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("install/package.sh"))
        .env("DAPR_BIN_DIR", &missing)
        .env("DAPR_DIST_DIR", dist.path().join("out"));
    let out = run(cmd);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("{}/dapr not found", missing.display())),
        "{}",
        text(&out)
    );
    assert!(names_in(&dist.path().join("out")).is_empty());
}

#[test]
fn curl_pipe_installs_latest_release() {
    let server = Server::start().with_release("");
    let sandbox = Sandbox::new();
    let out = run(sandbox.curl_pipe(&server, ""));
    assert!(out.status.success(), "{}", text(&out));

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("installed into"), "{}", text(&out));
    assert!(
        stdout.contains("dapr init"),
        "next steps missing: {}",
        text(&out)
    );
    assert!(
        stdout.contains("is not on your PATH"),
        "PATH hint missing: {}",
        text(&out)
    );

    // Exactly the two binaries, byte for byte the packaged ones, and no staging leftovers.
    assert_eq!(names_in(&sandbox.install_dir), vec!["dapr", "daprd"]);
    for name in ["dapr", "daprd"] {
        let installed = sandbox.install_dir.join(name);
        assert_executable(&installed);
        assert!(
            same_as_packaged(&installed, name),
            "{} differs from the packaged binary",
            installed.display()
        );
    }
    assert!(
        sandbox.tmp_leftovers().is_empty(),
        "temp files left: {:?}",
        sandbox.tmp_leftovers()
    );
    assert_eq!(
        server.requested(),
        vec![
            "/install.sh".to_string(),
            format!("/{}", artifact()),
            format!("/{}.sha256", artifact())
        ]
    );

    let version = Command::new(sandbox.install_dir.join("dapr"))
        .arg("version")
        .env("HOME", &sandbox.home)
        .env("DAPR_RUNTIME_PATH", &sandbox.home)
        .output()
        .unwrap();
    assert!(
        version.status.success()
            && String::from_utf8_lossy(&version.stdout).starts_with(&format!(
                "CLI version: {} \nRuntime version: n/a",
                env!("CARGO_PKG_VERSION")
            )),
        "installed `dapr version`: {}",
        text(&version)
    );
    let daprd = Command::new(sandbox.install_dir.join("daprd"))
        .arg("--version")
        .env("HOME", &sandbox.home)
        .env("DAPR_RUNTIME_PATH", &sandbox.home)
        .output()
        .unwrap();
    assert!(
        daprd.status.success()
            && String::from_utf8_lossy(&daprd.stdout).contains(env!("CARGO_PKG_VERSION")),
        "installed `daprd --version`: {}",
        text(&daprd)
    );
}

#[test]
fn version_argument_downloads_the_versioned_path_and_replaces_old_install() {
    // Only the versioned dir holds the release: a "latest" request would 404.
    let server = Server::start().with_release("v1.2.3");
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(&sandbox.install_dir).unwrap();
    let old = sandbox.install_dir.join("dapr");
    std::fs::write(&old, "#!/bin/sh\necho old-dapr\n").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = run(sandbox.curl_pipe(&server, "1.2.3"));
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Dapr CLI is detected"), "{}", text(&out));
    assert!(
        stdout.contains("old-dapr"),
        "old version not shown: {}",
        text(&out)
    );
    server.assert_requested(&format!("/v1.2.3/{}", artifact()));
    server.assert_requested(&format!("/v1.2.3/{}.sha256", artifact()));
    assert!(
        same_as_packaged(&old, "dapr"),
        "the old dapr was not replaced"
    );
    assert_eq!(names_in(&sandbox.install_dir), vec!["dapr", "daprd"]);

    // A leading "v" names the same release.
    let again = Sandbox::new();
    let out = run(again.curl_pipe(&server, "v1.2.3"));
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn install_dir_with_spaces_and_dashed_version_argument() {
    let server = Server::start().with_release("v1.2.3");
    let mut sandbox = Sandbox::new();
    sandbox.install_dir = sandbox._root.path().join("my tools/dapr bin");
    let out = run(sandbox.curl_pipe(&server, "-- v1.2.3"));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(names_in(&sandbox.install_dir), vec!["dapr", "daprd"]);
    for name in ["dapr", "daprd"] {
        assert!(same_as_packaged(&sandbox.install_dir.join(name), name));
    }
    server.assert_requested(&format!("/v1.2.3/{}", artifact()));
}

#[test]
fn a_truncated_download_of_the_script_runs_nothing() {
    // `curl | bash` executes what arrived so far: a script cut short by a dropped
    // connection must neither download nor install anything.
    let server = Server::start().with_release("");
    let script = std::fs::read_to_string(server.file("install.sh")).unwrap();
    let at = script
        .find("downloadFile \"$DAPR_VERSION\"")
        .expect("install.sh calls downloadFile");
    let end = at + script[at..].find('\n').unwrap() + 1;
    std::fs::write(server.file("install.sh"), &script[..end]).unwrap();
    let sandbox = Sandbox::new();
    let _ = run(sandbox.curl_pipe(&server, ""));
    assert_eq!(server.requested(), vec!["/install.sh".to_string()]);
    assert!(names_in(&sandbox.install_dir).is_empty());
    assert!(
        sandbox.tmp_leftovers().is_empty(),
        "{:?}",
        sandbox.tmp_leftovers()
    );
}

#[test]
fn bare_uppercase_hex_checksum_is_accepted() {
    let server = Server::start().with_release("");
    let sum_file = server.file(&format!("{}.sha256", artifact()));
    let line = std::fs::read_to_string(&sum_file).unwrap();
    let hex = line.split_whitespace().next().unwrap().to_uppercase();
    std::fs::write(&sum_file, format!("{hex}\n")).unwrap();

    let sandbox = Sandbox::new();
    let out = run(sandbox.curl_pipe(&server, ""));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(names_in(&sandbox.install_dir), vec!["dapr", "daprd"]);
}

#[test]
fn corrupted_archive_is_refused_and_old_install_untouched() {
    let server = Server::start().with_release("");
    let archive = server.file(&artifact());
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0xff;
    }
    std::fs::write(&archive, bytes).unwrap();

    let sandbox = Sandbox::new();
    std::fs::create_dir_all(&sandbox.install_dir).unwrap();
    let old = sandbox.install_dir.join("dapr");
    std::fs::write(&old, "#!/bin/sh\necho old-dapr\n").unwrap();

    let out = run(sandbox.curl_pipe(&server, ""));
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("checksum mismatch for {}", artifact())),
        "{}",
        text(&out)
    );
    assert!(err.contains("nothing was installed"), "{}", text(&out));
    assert_eq!(
        names_in(&sandbox.install_dir),
        vec!["dapr"],
        "nothing new may appear"
    );
    assert_eq!(
        std::fs::read_to_string(&old).unwrap(),
        "#!/bin/sh\necho old-dapr\n"
    );
    assert!(
        sandbox.tmp_leftovers().is_empty(),
        "temp files left: {:?}",
        sandbox.tmp_leftovers()
    );
}

/// Serves a release made by package.sh from stand-in binaries: `scripts` maps each file
/// name to a shell script body (a missing name is left out of the archive).
fn server_with_fake_release(scripts: &[(&str, &str)]) -> (Server, tempfile::TempDir) {
    let bins = tempfile::tempdir().unwrap();
    for (name, body) in scripts {
        let file = bins.path().join(name);
        std::fs::write(&file, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let server = Server::start();
    // package.sh refuses to package without both binaries, so build those archives by hand.
    if scripts.len() == 2 {
        let out = package_into(bins.path(), server.root.path());
        assert!(out.status.success(), "{}", text(&out));
    } else {
        let archive = server.file(&artifact());
        let names: Vec<&str> = scripts.iter().map(|(n, _)| *n).collect();
        let status = Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(bins.path())
            .args(&names)
            .status()
            .unwrap();
        assert!(status.success());
        let sum = Command::new("sha256sum").arg(&archive).output().unwrap();
        let hex = String::from_utf8_lossy(&sum.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        std::fs::write(
            server.file(&format!("{}.sha256", artifact())),
            format!("{hex}  {}\n", artifact()),
        )
        .unwrap();
    }
    (server, bins)
}

#[test]
fn binary_that_does_not_run_is_refused_and_old_install_untouched() {
    let (server, _bins) = server_with_fake_release(&[
        (
            "dapr",
            "echo 'cannot execute binary file: Exec format error' >&2; exit 126",
        ),
        ("daprd", "echo daprd 9.9.9"),
    ]);
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(&sandbox.install_dir).unwrap();
    let old = sandbox.install_dir.join("dapr");
    std::fs::write(&old, "old").unwrap();

    let out = run(sandbox.curl_pipe(&server, ""));
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the downloaded 'dapr' does not run on this system"),
        "{}",
        text(&out)
    );
    assert!(err.contains("Exec format error"), "{}", text(&out));
    assert_eq!(names_in(&sandbox.install_dir), vec!["dapr"]);
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "old");
    assert!(sandbox.tmp_leftovers().is_empty());
}

#[test]
fn archive_without_daprd_is_refused() {
    let (server, _bins) = server_with_fake_release(&[("dapr", "echo dapr 9.9.9")]);
    let sandbox = Sandbox::new();
    let out = run(sandbox.curl_pipe(&server, ""));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("{} does not contain 'daprd'", artifact())),
        "{}",
        text(&out)
    );
    assert!(names_in(&sandbox.install_dir).is_empty());
}

#[test]
fn malformed_checksum_file_is_refused() {
    let server = Server::start().with_release("");
    std::fs::write(
        server.file(&format!("{}.sha256", artifact())),
        "<html>oops</html>\n",
    )
    .unwrap();
    let sandbox = Sandbox::new();
    let out = run(sandbox.curl_pipe(&server, ""));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("is malformed"), "{}", text(&out));
    assert!(names_in(&sandbox.install_dir).is_empty());
}

#[test]
fn failed_download_is_a_clear_error() {
    let server = Server::start();
    let sandbox = Sandbox::new();
    let out = run(sandbox.curl_pipe(&server, ""));
    assert!(!out.status.success(), "{}", text(&out));
    let want = format!("failed to download {}/{}", server.url, artifact());
    assert!(stderr(&out).contains(&want), "{}", text(&out));
    assert!(names_in(&sandbox.install_dir).is_empty());
    assert!(
        sandbox.tmp_leftovers().is_empty(),
        "temp files left: {:?}",
        sandbox.tmp_leftovers()
    );

    // A bad version argument is refused before any download.
    let out = run(sandbox.curl_pipe(&server, "'../x'"));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("invalid version '../x'"),
        "{}",
        text(&out)
    );
}

/// A dir holding a fake `uname` that reports `kernel` for `-s` and `machine` for `-m`.
fn fake_uname(kernel: &str, machine: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("uname");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  -m) echo {machine} ;;\n  *) echo {kernel} ;;\nesac\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn path_with_first(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn unsupported_platforms_are_refused() {
    let server = Server::start();
    for (kernel, machine, want) in [
        ("Linux", "mips64", "linux-mips64"),
        ("FreeBSD", "x86_64", "freebsd-amd64"),
        ("Darwin", "armv7l", "darwin-arm"),
    ] {
        let fake = fake_uname(kernel, machine);
        let sandbox = Sandbox::new();
        let mut cmd = sandbox.bash(&server, "bash \"$0\"");
        cmd.arg(install_script())
            .env("PATH", path_with_first(fake.path()));
        let out = run(cmd);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(
            stderr(&out).contains(&format!("no prebuilt binary for {want}")),
            "{}",
            text(&out)
        );
        assert!(
            server.requested().is_empty(),
            "nothing may be downloaded: {:?}",
            server.requested()
        );
        assert!(!sandbox.install_dir.exists());
    }
}

#[test]
fn architecture_names_are_mapped_like_the_official_script() {
    // aarch64 → arm64, armv7l → arm: the requested file names show the mapping (404 here).
    let server = Server::start();
    for (machine, arch) in [("aarch64", "arm64"), ("armv7l", "arm"), ("x86_64", "amd64")] {
        let fake = fake_uname("Linux", machine);
        let sandbox = Sandbox::new();
        let mut cmd = sandbox.bash(&server, "bash \"$0\"");
        cmd.arg(install_script())
            .env("PATH", path_with_first(fake.path()));
        let out = run(cmd);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&format!("Your system is linux_{arch}")),
            "{}",
            text(&out)
        );
        server.assert_requested(&format!("/dapr-cli_linux_{arch}.tar.gz"));
    }
}

/// A PATH dir of symlinks to every command on the current PATH except `without`.
fn path_without(without: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    for entry in std::env::split_paths(&path) {
        let Ok(list) = std::fs::read_dir(&entry) else {
            continue;
        };
        for file in list.flatten() {
            let name = file.file_name();
            if without.iter().any(|w| name == *w) {
                continue;
            }
            let link = dir.path().join(&name);
            if !link.exists() {
                let _ = std::os::unix::fs::symlink(file.path(), link);
            }
        }
    }
    dir
}

#[test]
fn no_curl_nor_wget_is_a_clear_error() {
    let server = Server::start();
    let tools = path_without(&["curl", "wget"]);
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bash(&server, "bash \"$0\"");
    cmd.arg(install_script()).env("PATH", tools.path());
    let out = run(cmd);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("either curl or wget is required"),
        "{}",
        text(&out)
    );
    assert!(server.requested().is_empty());
    assert!(!sandbox.install_dir.exists());
}

#[test]
fn wget_is_used_when_curl_is_missing() {
    if Command::new("wget").arg("--version").output().is_err() {
        eprintln!("wget not installed; skipping the wget path");
        return;
    }
    let server = Server::start().with_release("");
    let tools = path_without(&["curl"]);
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bash(&server, "bash \"$0\"");
    cmd.arg(install_script()).env("PATH", tools.path());
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(names_in(&sandbox.install_dir), vec!["dapr", "daprd"]);
    server.assert_requested(&format!("/{}", artifact()));
}

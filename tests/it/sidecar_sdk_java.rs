//! The official Java SDK (`io.dapr:dapr-sdk` and `dapr-sdk-workflows`, see
//! `tests/sdk/java/pom.xml`) against our daprd, started as `dapr run` starts it, with
//! Redis-backed components on a Redis per test. `tests/sdk/java` is one program with two
//! parts:
//!
//! * `client`: `waitForSidecar`, state (save/get, bulk, first-write ETags and their `ABORTED`
//!   errors, a transaction), `invokeMethod` (HTTP) to a JDK HTTP app on the app port,
//!   metadata, `publishEvent` received by the preview client's streaming subscription
//!   (`subscribeToEvents`), secrets, configuration (get, subscribe, unsubscribe), an output
//!   binding, locks (preview `tryLock`/`unlock`) and jobs (`scheduleJob`/`getJob`/`deleteJob`);
//! * `workflow`: the workflow runtime and `DaprWorkflowClient`: a 3-activity chain waiting
//!   for an external event, then purge.
//!
//! Compiled once into `target/tmp/sdk-java` with `mvn -o -q compile` (skipped while the
//! classes are newer than every source): `.ci/run` fills the local Maven repository first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::sidecar_api::sidecar::{Opts, start, write_component};
use crate::sidecar_grpc::sdk_script;
use crate::sidecar_sdk_go::run_checks;
use crate::support::{self, Redis, free_port};

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> SystemTime {
    let mut t = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let m = entry.metadata().unwrap();
        let mt = if m.is_dir() {
            newest(&entry.path())
        } else {
            m.modified().unwrap()
        };
        t = t.max(mt);
    }
    t
}

/// The `java` class path of the compiled program (`target/tmp/sdk-java`), compiling it on
/// first use when a source is newer than the last build; panics with the reason (and what
/// installs it) when Java, Maven or the artifacts are missing or the build fails.
fn classpath() -> &'static str {
    static CP: OnceLock<Result<String, String>> = OnceLock::new();
    let built = CP.get_or_init(|| {
        let project = sdk_script("java");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sdk-java");
        let stamp = out.join("built.stamp");
        let sources = newest(&project.join("src")).max(
            std::fs::metadata(project.join("pom.xml"))
                .unwrap()
                .modified()
                .unwrap(),
        );
        let fresh = std::fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t > sources);
        if !fresh {
            let mut cmd = Command::new("mvn");
            support::without_developer_env(&mut cmd)
                .args(["-o", "-q", "-B", "compile"])
                .arg(format!("-Dsdk.out={}", out.display()))
                .current_dir(&project);
            let res = cmd.output().map_err(|e| {
                format!(
                    "cannot run `mvn` ({e}): the Java SDK tests need Java 17 and Maven on PATH \
                     and the artifacts of tests/sdk/java/pom.xml in the local repository; \
                     `bash .ci/run` installs them (apt-get install maven; mvn \
                     dependency:go-offline)"
                )
            })?;
            if !res.status.success() {
                return Err(format!(
                    "compiling tests/sdk/java failed; if artifacts are missing, run `mvn \
                     dependency:go-offline compile` in tests/sdk/java (as .ci/run does):\n{}{}",
                    String::from_utf8_lossy(&res.stdout),
                    String::from_utf8_lossy(&res.stderr)
                ));
            }
            std::fs::write(&stamp, "").unwrap();
        }
        let deps = std::fs::read_to_string(out.join("classpath.txt"))
            .map_err(|e| format!("{}: {e}", out.join("classpath.txt").display()))?;
        Ok(format!("{}:{}", out.join("classes").display(), deps.trim()))
    });
    match built {
        Ok(cp) => cp,
        Err(e) => panic!("{e}"),
    }
}

fn java(part: &str) -> Command {
    let mut cmd = Command::new("java");
    cmd.args(["-cp", classpath(), "sdkcheck.Main", part]);
    cmd
}

#[test]
fn java_sdk_client_state_invoke_metadata_pubsub_secrets_configuration_bindings_locks_jobs() {
    let cp = classpath();
    assert!(!cp.is_empty());
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    let secrets = home.path().join("secrets.json");
    std::fs::write(
        &secrets,
        r#"{"db-password": "s3cret", "nested": {"user": "alice"}}"#,
    )
    .unwrap();
    let files = home.path().join("files");
    let redis_host = redis.addr();
    for (name, ty) in [
        ("statestore", "state.redis"),
        ("pubsub", "pubsub.redis"),
        ("configstore", "configuration.redis"),
        ("lockstore", "lock.redis"),
    ] {
        write_component(&res, name, ty, &[("redisHost", &redis_host)]);
    }
    write_component(
        &res,
        "secretstore",
        "secretstores.local.file",
        &[("secretsFile", secrets.to_str().unwrap())],
    );
    write_component(
        &res,
        "files",
        "bindings.localstorage",
        &[("rootPath", files.to_str().unwrap())],
    );
    let app_port = free_port();
    let mut d = start(
        &Opts::new("javaclient", home.path())
            .resources(&res)
            .app_port(app_port),
    );
    let mut cmd = java("client");
    cmd.env("APP_ID", "javaclient")
        .env("APP_PORT", app_port.to_string())
        .env("REDIS_PORT", redis.port.to_string());
    run_checks(
        cmd,
        "Java SDK part `client`",
        &d,
        &[
            "waitForSidecar",
            "state: save then get",
            "state: bulk get returns every key",
            "state: save with the current ETag (first-write)",
            "state: save with a stale ETag is ABORTED",
            "state: delete with a stale ETag is ABORTED",
            "state: delete with the current ETag",
            "state: a transaction of two upserts and a delete",
            "state: an unknown store is INVALID_ARGUMENT",
            "invoke: POST reaches the app",
            "invoke: GET with a query string",
            "invoke: the app's 500 reaches the caller",
            "metadata: every component with its type",
            "pubsub: the streaming subscription is listed in metadata",
            "pubsub: the published event reaches the streaming subscriber",
            "secrets: get one secret",
            "secrets: bulk get",
            "configuration: get items with value and version",
            "configuration: the subscribed change arrives",
            "configuration: unsubscribe",
            "bindings: get returns what create wrote",
            "locks: alice takes the lock",
            "locks: bob cannot unlock it",
            "locks: a released lock does not exist",
            "jobs: get returns its schedule and repeats",
            "jobs: get returns its data",
            "jobs: a deleted job is gone",
            "shutdown: the sidecar accepts shutdown",
        ],
    );
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "daprd did not exit cleanly after the SDK's shutdown: {status:?}\n{}",
        d.log()
    );
    assert_eq!(
        std::fs::read_to_string(files.join("java-note.txt")).unwrap(),
        "hello from java"
    );
    // The SDK serialises values as JSON; Redis holds them as the state store wrote them.
    assert_eq!(
        redis.cli(&["HGET", "javaclient||java-t1", "data"]).trim(),
        "\"a\""
    );
}

#[test]
fn java_sdk_workflow_chain_of_three_activities() {
    classpath();
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "statestore",
        "state.redis",
        &[("redisHost", &redis.addr()), ("actorStateStore", "true")],
    );
    let d = start(&Opts::new("javaworkflow", home.path()).resources(&res));
    run_checks(
        java("workflow"),
        "Java SDK part `workflow`",
        &d,
        &[
            "workflow: scheduled with the given instance id",
            "workflow: started",
            "workflow: running and waiting for the event after two activities",
            "workflow: the chain completes",
            "workflow: the output went through all three activities",
            "workflow: each activity ran once",
            "workflow: a purged instance is gone",
        ],
    );
}

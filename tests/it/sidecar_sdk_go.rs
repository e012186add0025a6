//! The official Go SDK (`github.com/dapr/go-sdk`, see `tests/sdk/go/go.mod`) against our
//! daprd, started as `dapr run` starts it, with Redis-backed components on a Redis per test.
//! `tests/sdk/go` is one program with four parts:
//!
//! * `client`: state (save/get, bulk, first-write ETags and their `Aborted` errors,
//!   transactions, bulk delete), metadata, secrets (`secretstores.local.file`),
//!   configuration (`configuration.redis`: get, subscribe, unsubscribe), an output binding
//!   (`bindings.localstorage`), locks (`TryLockAlpha1`/`UnlockAlpha1`) and jobs
//!   (`ScheduleJobAlpha1`/`GetJobAlpha1`/`DeleteJobAlpha1`);
//! * `app`: a `service/http` app (the sidecar's `--app-port`) serving an invocation target,
//!   a topic subscription and an actor type; the client invokes it, publishes to
//!   `pubsub.redis` (and to a streaming subscription of its own), calls the actor and
//!   registers a reminder that fires on it;
//! * `grpcapp`: a `service/grpc` app (the sidecar with `--app-protocol grpc`) serving an
//!   invocation handler, a topic subscription and a job event handler, which a job due in
//!   a second reaches;
//! * `workflow`: the SDK's workflow client and worker (`durabletask-go/workflow`): a
//!   3-activity chain waiting for an external event, terminate and purge.
//!
//! The program is built once per test run into `target/tmp/sdk-go` (Go's build cache makes
//! a rebuild of unchanged sources take about a second). Its modules must be in the module
//! cache: `.ci/run` runs `go mod download` in `tests/sdk/go`; the build itself runs with
//! `GOPROXY=off`, so a test never downloads.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::sidecar_api::sidecar::{Daprd, Opts, start, write_component};
use crate::sidecar_grpc::{sdk_script, sidecar_child};
use crate::support::{self, Redis, free_port};

/// `target/tmp/sdk-go/sdkcheck`, built from `tests/sdk/go` on first use; panics with the
/// reason (and what installs it) when Go or the modules are missing or the build fails.
fn sdkcheck() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BIN.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sdk-go/sdkcheck");
        let mut cmd = Command::new("go");
        support::without_developer_env(&mut cmd)
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(sdk_script("go"))
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=readonly -buildvcs=false");
        let res = match cmd.output() {
            Ok(res) => res,
            Err(e) => {
                return Err(format!(
                    "cannot run `go` ({e}): the Go SDK tests need Go (1.26 or newer) on PATH \
                     and the modules of tests/sdk/go in the module cache; `bash .ci/run` \
                     installs both (apt-get install golang-go; go mod download)"
                ));
            }
        };
        if !res.status.success() {
            return Err(format!(
                "building tests/sdk/go failed; if modules are missing, run `go mod download` \
                 in tests/sdk/go (as .ci/run does):\n{}",
                String::from_utf8_lossy(&res.stderr)
            ));
        }
        Ok(out)
    });
    match built {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// Runs `sdkcheck <part>` against `d` with `env`; see [`run_checks`].
fn run_part(part: &str, d: &Daprd, env: &[(&str, String)], expect: &[&str]) -> String {
    let mut cmd = Command::new(sdkcheck());
    cmd.arg(part);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_checks(cmd, &format!("Go SDK part `{part}`"), d, expect)
}

/// Runs an SDK check program (`cmd`, given `DAPR_GRPC_PORT` and `DAPR_HTTP_PORT` of `d`)
/// for 90 s at most and returns its output; panics with the output and the daprd log unless
/// it exited 0, printed no `FAIL` line and printed `ok   <label>` for every label in
/// `expect` (so a check that silently stopped running fails the test too).
pub(crate) fn run_checks(mut cmd: Command, what: &str, d: &Daprd, expect: &[&str]) -> String {
    support::without_developer_env(&mut cmd)
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("DAPR_HTTP_PORT", d.http_port.to_string());
    let mut child = sidecar_child(cmd);
    let status = child.wait_with_timeout(Duration::from_secs(90));
    let out = child.output();
    let missing: Vec<&&str> = expect
        .iter()
        .filter(|label| !out.lines().any(|l| l == format!("ok   {label}")))
        .collect();
    assert!(
        status.is_some_and(|s| s.success())
            && !out.lines().any(|l| l.starts_with("FAIL "))
            && missing.is_empty(),
        "{what} failed ({status:?}); checks without an ok line: {missing:?}\n\
         {out}\n--- daprd log:\n{}",
        d.log()
    );
    out
}

#[test]
fn go_sdk_client_state_metadata_secrets_configuration_bindings_locks_jobs() {
    let bin = sdkcheck();
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
    write_component(
        &res,
        "statestore",
        "state.redis",
        &[("redisHost", &redis.addr())],
    );
    write_component(
        &res,
        "secretstore",
        "secretstores.local.file",
        &[("secretsFile", secrets.to_str().unwrap())],
    );
    write_component(
        &res,
        "configstore",
        "configuration.redis",
        &[("redisHost", &redis.addr())],
    );
    write_component(
        &res,
        "lockstore",
        "lock.redis",
        &[("redisHost", &redis.addr())],
    );
    write_component(
        &res,
        "files",
        "bindings.localstorage",
        &[("rootPath", files.to_str().unwrap())],
    );
    let mut d = start(&Opts::new("goclient", home.path()).resources(&res));
    assert!(bin.exists());
    run_part(
        "client",
        &d,
        &[
            ("APP_ID", "goclient".into()),
            ("REDIS_PORT", redis.port.to_string()),
        ],
        &[
            "state: save then get returns the value",
            "state: bulk get returns every key",
            "state: save with the current ETag (first-write)",
            "state: save with a stale ETag is Aborted",
            "state: delete with a stale ETag is Aborted",
            "state: delete with the current ETag",
            "state: the transaction applied",
            "state: the refused transaction changed nothing",
            "state: bulk delete",
            "metadata: every component with its type",
            "metadata: extended metadata set",
            "secrets: get one secret",
            "secrets: a nested key",
            "secrets: bulk get",
            "configuration: get items with value and version",
            "configuration: the subscribed change arrives",
            "configuration: nothing arrives after unsubscribe",
            "bindings: create a file through the output binding",
            "bindings: get returns what create wrote",
            "locks: alice takes the lock",
            "locks: bob cannot take it",
            "locks: another owner takes it after expiry",
            "jobs: schedule a job",
            "jobs: get returns its schedule and repeats",
            "jobs: get returns its data",
            "jobs: the overwrite is read back",
            "jobs: getting a deleted job fails (Internal, as upstream)",
            "shutdown: the sidecar accepts Shutdown",
        ],
    );
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "daprd did not exit cleanly after the SDK's Shutdown: {status:?}\n{}",
        d.log()
    );
    // What the SDK wrote is where the components keep it.
    assert_eq!(
        std::fs::read_to_string(files.join("go-note.txt")).unwrap(),
        "hello from go"
    );
    assert_eq!(
        redis.cli(&["HGET", "goclient||go-b1", "data"]).trim(),
        "one"
    );
}

#[test]
fn go_sdk_http_service_invocation_pubsub_and_actors() {
    sdkcheck();
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "statestore",
        "state.redis",
        &[("redisHost", &redis.addr()), ("actorStateStore", "true")],
    );
    write_component(
        &res,
        "pubsub",
        "pubsub.redis",
        &[("redisHost", &redis.addr())],
    );
    let app_port = free_port();
    let d = start(
        &Opts::new("goapp", home.path())
            .resources(&res)
            .app_port(app_port),
    );
    run_part(
        "app",
        &d,
        &[
            ("APP_ID", "goapp".into()),
            ("APP_PORT", app_port.to_string()),
        ],
        &[
            "invoke: POST with content reaches the service/http handler",
            "invoke: GET without content",
            "invoke: custom JSON content",
            "invoke: an app error reaches the caller",
            "metadata: the service/http subscription is listed",
            "pubsub: the JSON event reaches the subscriber",
            "pubsub: the text event reaches the subscriber",
            "pubsub: both bulk events arrive",
            "pubsub: an unknown pub/sub is refused",
            "actors: first call",
            "actors: the total is kept between calls",
            "actors: another id has its own state",
            "actors: GetActorState reads the saved total",
            "actors: the client's transaction is read back",
            "actors: register a reminder",
            "actors: the reminder fires on the actor twice",
            "actors: unregister the reminder",
            "actors: no reminder call after unregister",
            "pubsub: the streaming subscription receives the event",
            "pubsub: the streamed event is acknowledged",
        ],
    );
    // The actor's state is in Redis under upstream's key layout.
    assert_eq!(
        redis
            .cli(&["HGET", "goapp||GoCounter||c1||total", "data"])
            .trim(),
        "100"
    );
}

#[test]
fn go_sdk_grpc_service_invocation_pubsub_and_job_events() {
    sdkcheck();
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "pubsub",
        "pubsub.redis",
        &[("redisHost", &redis.addr())],
    );
    let app_port = free_port();
    let d = start(
        &Opts::new("gogrpcapp", home.path())
            .resources(&res)
            .app_port(app_port)
            .arg("--app-protocol")
            .arg("grpc"),
    );
    run_part(
        "grpcapp",
        &d,
        &[
            ("APP_ID", "gogrpcapp".into()),
            ("APP_PORT", app_port.to_string()),
        ],
        &[
            "grpc app: invocation reaches the service/grpc handler",
            "grpc app: the subscription is listed",
            "grpc app: the event reaches the service/grpc subscriber",
            "grpc app: schedule a job due in 1s",
            "grpc app: the job is delivered with its data",
            "grpc app: a delivered one-shot job is gone",
        ],
    );
}

#[test]
fn go_sdk_workflow_chain_of_three_activities() {
    sdkcheck();
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "statestore",
        "state.redis",
        &[("redisHost", &redis.addr()), ("actorStateStore", "true")],
    );
    let d = start(&Opts::new("goworkflow", home.path()).resources(&res));
    run_part(
        "workflow",
        &d,
        &[],
        &[
            "workflow: scheduled with the given instance id",
            "workflow: running and waiting for the event after two activities",
            "workflow: two activities ran before the event",
            "workflow: the chain completes",
            "workflow: the output went through all three activities",
            "workflow: each activity ran once",
            "workflow: the terminated instance reports TERMINATED",
            "workflow: a purged instance is gone",
        ],
    );
}

//! Workflows through real daprd processes with a Redis actor state store:
//!
//! * the official Python SDK (`tests/sdk/python_workflows.py`) and JS SDK
//!   (`tests/sdk/js_workflows.mjs`) as worker and client, one test per scenario (chaining,
//!   fan-out/fan-in of 100, monitor with timers and continue-as-new, approval event and its
//!   timeout, child workflow, retried and failing activities, terminate and purge) and the
//!   Dapr HTTP workflow API on a running instance;
//! * the Dapr workflow API's errors and shapes over HTTP and gRPC (`*Beta1`, `*Alpha1`) and
//!   `workflows.connectedWorkers` in the metadata, with a Python worker attached;
//! * `dapr workflow` (run, list, history, raise-event, suspend, resume, terminate, purge)
//!   against a daprd with a Python worker.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use dapr_cli::sidecar::api::grpc::status::ErrorInfo;
use prost::Message as _;
use serde_json::Value;
use tonic::Code;

use crate::sidecar_api::sidecar::{Daprd, Opts, client, start, write_component};
use crate::sidecar_grpc::{js_sdk_dir, run_script, sdk_script};
use crate::support::{self, Redis, wait_until};

/// A daprd for `app_id` whose actor state store is a fresh Redis.
fn daprd(app_id: &str) -> (Daprd, Redis, tempfile::TempDir) {
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = home.path().join("resources");
    write_component(
        &res,
        "statestore",
        "state.redis",
        &[("redisHost", &redis.addr()), ("actorStateStore", "true")],
    );
    let d = start(&Opts::new(app_id, home.path()).resources(&res));
    (d, redis, home)
}

fn python(d: &Daprd, script: &str) -> Command {
    let probe = Command::new("python3")
        .args(["-c", "import dapr.ext.workflow"])
        .output()
        .expect("python3 must be installed");
    assert!(
        probe.status.success(),
        "the official Python SDK's workflow extension is not importable; install it with: \
         python3 -m pip install \"dapr==1.19.*\"\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let mut cmd = Command::new("python3");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script(script))
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("DAPR_HEALTH_TIMEOUT", "10");
    cmd
}

/// Runs the Python SDK scenarios `scenarios` against a fresh daprd.
fn python_scenarios(app_id: &str, scenarios: &str) {
    let (d, _redis, _home) = daprd(app_id);
    let mut cmd = python(&d, "python_workflows.py");
    cmd.env("SCENARIOS", scenarios);
    run_script(cmd, &format!("Python SDK workflows ({scenarios})"), &d);
}

/// Runs the JS SDK scenarios `scenarios` against a fresh daprd.
fn js_scenarios(app_id: &str, scenarios: &str) {
    let dir = js_sdk_dir();
    let (d, _redis, _home) = daprd(app_id);
    let mut cmd = Command::new("node");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("js_workflows.mjs"))
        .current_dir(&dir)
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string())
        .env("SCENARIOS", scenarios);
    run_script(cmd, &format!("JS SDK workflows ({scenarios})"), &d);
}

#[test]
fn python_sdk_chaining_and_child_workflow() {
    python_scenarios("pywfchain", "chaining,child");
}

#[test]
fn python_sdk_fan_out_fan_in_of_100_activities() {
    python_scenarios("pywffan", "fan_out");
}

#[test]
fn python_sdk_monitor_with_timers_and_continue_as_new() {
    python_scenarios("pywfmon", "monitor");
}

#[test]
fn python_sdk_external_event_and_its_timeout() {
    python_scenarios("pywfevent", "approval");
}

#[test]
fn python_sdk_retry_policy_and_failed_activity() {
    python_scenarios("pywfretry", "retry");
}

#[test]
fn python_sdk_suspend_terminate_and_purge() {
    python_scenarios("pywfterm", "terminate_purge");
}

#[test]
fn python_sdk_worker_with_the_http_workflow_api() {
    python_scenarios("pywfhttp", "http");
}

#[test]
fn js_sdk_chaining_and_child_workflow() {
    js_scenarios("jswfchain", "chaining,child");
}

#[test]
fn js_sdk_fan_out_fan_in_of_100_activities() {
    js_scenarios("jswffan", "fan_out");
}

#[test]
fn js_sdk_monitor_event_and_timeout() {
    js_scenarios("jswfmon", "monitor,approval");
}

#[test]
fn js_sdk_retried_and_failed_activities() {
    js_scenarios("jswfretry", "retry");
}

#[test]
fn js_sdk_suspend_terminate_purge_and_http_api() {
    js_scenarios("jswfterm", "terminate_purge,http");
}

/// A Python worker serving `python_workflows.py`'s workflows; stopped (stdin closed, then
/// killed) when dropped.
struct Worker {
    child: Child,
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if !wait_until(Duration::from_secs(3), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Starts a worker and waits until the sidecar counts it as connected.
fn worker(d: &Daprd) -> Worker {
    let mut cmd = python(d, "python_workflows.py");
    cmd.env("WORKER_ONLY", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn python3");
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "worker ready",
        "worker did not start\n{}",
        d.log()
    );
    let w = Worker { child };
    assert!(
        wait_until(Duration::from_secs(10), || connected_workers(d) >= 1),
        "metadata never counted the worker: {}",
        metadata(d)
    );
    w
}

fn metadata(d: &Daprd) -> Value {
    client()
        .get(d.url("/v1.0/metadata"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn connected_workers(d: &Daprd) -> u64 {
    metadata(d)["workflows"]["connectedWorkers"]
        .as_u64()
        .unwrap_or(0)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn error_code(s: &tonic::Status) -> String {
    let st = dapr::google::rpc::Status::decode(s.details()).unwrap();
    let info = ErrorInfo::decode(st.details[0].value.as_slice()).unwrap();
    info.metadata["errorCode"].clone()
}

/// HTTP error `(status, errorCode, message)`.
fn http_error(r: reqwest::blocking::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap();
    (
        status,
        v["errorCode"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
// The `*Alpha1` RPCs are deprecated but still served, and checked here.
#[allow(deprecated)]
fn workflow_api_errors_shapes_and_metadata() {
    let (d, _redis, _home) = daprd("wfapi");
    let c = client();
    // No worker yet: the metadata has an empty `workflows` object.
    assert_eq!(metadata(&d)["workflows"], serde_json::json!({}));
    let post = |path: &str| c.post(d.url(path)).send().unwrap();
    // Instance ids of new instances: at most 64 bytes of letters, digits, '-' and '_'.
    let long = "x".repeat(65);
    let (status, code, msg) = http_error(post(&format!(
        "/v1.0/workflows/dapr/echo/start?instanceID={long}"
    )));
    assert_eq!((status, code.as_str()), (400, "ERR_INSTANCE_ID_TOO_LONG"));
    assert_eq!(
        msg,
        "workflow instance ID exceeds the max length of 64 characters"
    );
    let (status, code, msg) = http_error(post(
        "/v1.0-beta1/workflows/dapr/echo/start?instanceID=a%20b",
    ));
    assert_eq!((status, code.as_str()), (400, "ERR_INSTANCE_ID_INVALID"));
    assert_eq!(
        msg,
        "workflow instance ID 'a b' is invalid: only alphanumeric and underscore characters are allowed"
    );
    // Unknown instances.
    for version in ["v1.0-alpha1", "v1.0-beta1", "v1.0"] {
        let r = c
            .get(d.url(&format!("/{version}/workflows/dapr/nope")))
            .send()
            .unwrap();
        let (status, code, msg) = http_error(r);
        assert_eq!((status, code.as_str()), (404, "ERR_INSTANCE_ID_NOT_FOUND"));
        assert_eq!(
            msg,
            "unable to find workflow with the provided instance ID: nope"
        );
    }
    for op in ["terminate", "purge"] {
        let (status, code, _) = http_error(post(&format!("/v1.0/workflows/dapr/nope/{op}")));
        assert_eq!(
            (status, code.as_str()),
            (404, "ERR_INSTANCE_ID_NOT_FOUND"),
            "{op}"
        );
    }
    let (status, code, _) = http_error(post("/v1.0/workflows/dapr/nope/raiseEvent/ev"));
    assert_eq!((status, code.as_str()), (500, "ERR_RAISE_EVENT_WORKFLOW"));
    for (op, want) in [
        ("pause", "ERR_PAUSE_WORKFLOW"),
        ("resume", "ERR_RESUME_WORKFLOW"),
    ] {
        let (status, code, _) = http_error(post(&format!("/v1.0/workflows/dapr/nope/{op}")));
        assert_eq!((status, code.as_str()), (500, want), "{op}");
    }
    // A cross-app call is refused.
    let (status, code, _) = http_error(post(
        "/v1.0/workflows/dapr/echo/start?instanceID=x1&appID=other-app",
    ));
    assert_eq!((status, code.as_str()), (501, "ERR_API_UNIMPLEMENTED"));

    let _worker = worker(&d);
    assert_eq!(
        metadata(&d)["workflows"],
        serde_json::json!({"connectedWorkers": 1})
    );
    let rt = runtime();
    rt.block_on(async {
        let mut g = DaprClient::connect(format!("http://127.0.0.1:{}", d.grpc_port))
            .await
            .unwrap();
        let md = g
            .get_metadata(pb::GetMetadataRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(md.workflows.map(|w| w.connected_workers), Some(1));
        // Errors carry the Dapr code in their ErrorInfo.
        let e = g
            .start_workflow_beta1(pb::StartWorkflowRequest {
                instance_id: "g1".into(),
                workflow_component: "dapr".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(error_code(&e), "ERR_WORKFLOW_NAME_MISSING");
        let e = g
            .raise_event_workflow_beta1(pb::RaiseEventWorkflowRequest {
                instance_id: "g1".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), "ERR_WORKFLOW_EVENT_NAME_MISSING");
        let e = g
            .terminate_workflow_alpha1(pb::TerminateWorkflowRequest::default())
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), "ERR_INSTANCE_ID_PROVIDED_MISSING");
        let e = g
            .purge_workflow_beta1(pb::PurgeWorkflowRequest {
                instance_id: "nope".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), error_code(&e).as_str()),
            (Code::NotFound, "ERR_INSTANCE_ID_NOT_FOUND")
        );
        // Getting an unknown instance is no error over gRPC: only its id comes back.
        let got = g
            .get_workflow_beta1(pb::GetWorkflowRequest {
                instance_id: "nope".into(),
                workflow_component: "dapr".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.instance_id, "nope");
        assert!(got.runtime_status.is_empty() && got.created_at.is_none());
        // Start (with an input), wait for the output, over both API versions.
        let started = g
            .start_workflow_alpha1(pb::StartWorkflowRequest {
                instance_id: "g-echo".into(),
                workflow_component: "dapr".into(),
                workflow_name: "echo".into(),
                input: br#"{"hello":"grpc"}"#.to_vec(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(started.instance_id, "g-echo");
        let mut got = pb::GetWorkflowResponse::default();
        for _ in 0..200 {
            got = g
                .get_workflow_beta1(pb::GetWorkflowRequest {
                    instance_id: "g-echo".into(),
                    workflow_component: "dapr".into(),
                })
                .await
                .unwrap()
                .into_inner();
            if got.runtime_status == "COMPLETED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(got.runtime_status, "COMPLETED", "{got:?}");
        assert_eq!(got.workflow_name, "echo");
        // The worker's own JSON encoding of the output (Python's has spaces).
        let out: Value = serde_json::from_str(&got.properties["dapr.workflow.output"]).unwrap();
        assert_eq!(out, serde_json::json!({"hello": "grpc"}));
        assert_eq!(
            got.properties
                .get("dapr.workflow.input")
                .map(String::as_str),
            Some(r#"{"hello":"grpc"}"#)
        );
        assert!(got.created_at.is_some() && got.last_updated_at.is_some());
        // A start time in the options must be RFC 3339.
        let e = g
            .start_workflow_beta1(pb::StartWorkflowRequest {
                instance_id: "g-late".into(),
                workflow_name: "echo".into(),
                options: [("dapr.workflow.start_time".to_string(), "soon".to_string())].into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), "ERR_START_WORKFLOW");
        assert!(e.message().contains("RFC3339"), "{}", e.message());
        // Pause, resume, terminate and purge a waiting instance over gRPC.
        g.start_workflow_beta1(pb::StartWorkflowRequest {
            instance_id: "g-wait".into(),
            workflow_name: "waiter".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let status = |g: &mut DaprClient<tonic::transport::Channel>| {
            let mut g = g.clone();
            async move {
                g.get_workflow_beta1(pb::GetWorkflowRequest {
                    instance_id: "g-wait".into(),
                    workflow_component: "dapr".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .runtime_status
            }
        };
        let id = || "g-wait".to_string();
        g.pause_workflow_beta1(pb::PauseWorkflowRequest {
            instance_id: id(),
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(status(&mut g).await, "SUSPENDED");
        g.resume_workflow_alpha1(pb::ResumeWorkflowRequest {
            instance_id: id(),
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(status(&mut g).await, "RUNNING");
        // An active instance cannot be started again, nor purged.
        let e = g
            .start_workflow_beta1(pb::StartWorkflowRequest {
                instance_id: id(),
                workflow_name: "waiter".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), "ERR_START_WORKFLOW");
        let e = g
            .purge_workflow_beta1(pb::PurgeWorkflowRequest {
                instance_id: id(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), "ERR_PURGE_WORKFLOW");
        g.terminate_workflow_beta1(pb::TerminateWorkflowRequest {
            instance_id: id(),
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(status(&mut g).await, "TERMINATED");
        g.purge_workflow_alpha1(pb::PurgeWorkflowRequest {
            instance_id: id(),
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(status(&mut g).await, "");
    });
}

/// `dapr workflow <args>` with a hermetic HOME: (exit code, stdout, stderr).
fn dapr(home: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    dapr_raw(home, &[&["workflow"], args].concat())
}

/// `dapr <args>` with a hermetic HOME: (exit code, stdout, stderr).
fn dapr_raw(home: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(support::bin("dapr"));
    support::hermetic(&mut cmd, home).args(args);
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `dapr workflow list -o json` as `instanceID -> row`.
fn listed(home: &std::path::Path, app: &str) -> serde_json::Map<String, Value> {
    let (code, out, err) = dapr(home, &["list", "-a", app, "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    if out.trim().is_empty() {
        return serde_json::Map::new();
    }
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    rows.into_iter()
        .map(|r| (r["instanceID"].as_str().unwrap().to_string(), r))
        .collect()
}

fn wait_status(home: &std::path::Path, app: &str, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    let ok = wait_until(Duration::from_secs(20), || {
        last = listed(home, app).get(id).cloned().unwrap_or(Value::Null);
        last["runtimeStatus"] == status
    });
    assert!(ok, "{id} never {status}: {last}");
    last
}

#[test]
fn cli_workflow_commands_against_a_python_worker() {
    let app = "wfcli";
    let (d, _redis, home) = daprd(app);
    let _worker = worker(&d);
    let h = home.path();

    let (code, out, err) = dapr(
        h,
        &["run", "echo", "-a", app, "-i", "cli-echo", "-x", "hello"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Workflow instance started successfully: cli-echo"),
        "{out}"
    );
    let row = wait_status(h, app, "cli-echo", "COMPLETED");
    assert_eq!(row["name"], "echo");
    assert_eq!(row["appID"], app);
    assert_eq!(row["namespace"], "default");
    let (code, out, _) = dapr(
        h,
        &[
            "run",
            "waiter",
            "--app-id",
            app,
            "--instance-id",
            "cli-wait",
        ],
    );
    assert_eq!(code, 0, "{out}");
    wait_status(h, app, "cli-wait", "RUNNING");
    // An active instance cannot be started again: the operation fails (❌ on stdout, exit 1).
    let (code, out, err) = dapr(h, &["run", "waiter", "-a", app, "-i", "cli-wait"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("failed to start workflow: rpc error: code = "),
        "{out}{err}"
    );

    // The short table, the filters, the ids.
    let (code, out, _) = dapr(h, &["list", "-a", app]);
    assert_eq!(code, 0);
    let header = out.lines().next().unwrap_or_default();
    assert!(header.starts_with("NAME"), "{out}");
    assert!(
        header.contains("ID") && header.contains("STATUS") && header.contains("AGE"),
        "{out}"
    );
    assert!(
        out.contains("cli-echo") && out.contains("cli-wait"),
        "{out}"
    );
    let (_, out, _) = dapr(h, &["list", "-a", app, "-s", "COMPLETED", "-o", "ids"]);
    assert_eq!(out.trim(), "cli-echo");
    let (_, out, _) = dapr_raw(h, &["wf", "ls", "-a", app, "-w", "waiter", "-o", "ids"]);
    assert_eq!(out.trim(), "cli-wait");
    let (_, out, _) = dapr(h, &["list", "-a", app, "-o", "wide"]);
    assert!(out.starts_with("NAMESPACE"), "{out}");

    // History: the echo's events, as the official CLI names them.
    let (code, out, err) = dapr(h, &["history", "cli-echo", "-a", app]);
    assert_eq!(code, 0, "{out}{err}");
    for kind in [
        "OrchestratorStarted",
        "ExecutionStarted",
        "ExecutionCompleted",
    ] {
        assert!(out.contains(kind), "{kind} missing:\n{out}");
    }
    let (_, out, _) = dapr(h, &["history", "cli-echo", "-a", app, "-o", "json"]);
    let events: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let started = events
        .iter()
        .find(|e| e["type"] == "ExecutionStarted")
        .expect("ExecutionStarted");
    // `-x hello` travels as the JSON string "hello".
    assert_eq!(started["attrs"], "input=hello");
    let completed = events
        .iter()
        .find(|e| e["type"] == "ExecutionCompleted")
        .unwrap();
    assert_eq!(completed["status"], "COMPLETED");
    assert_eq!(completed["attrs"], "output=hello");

    // Events, suspend and resume, terminate.
    let (code, out, _) = dapr(h, &["raise-event", "cli-wait/go", "-a", app, "-x", "first"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Workflow 'cli-wait' raised event 'go' successfully"),
        "{out}"
    );
    let ok = wait_until(Duration::from_secs(20), || {
        listed(h, app)["cli-wait"]["customStatus"] == "got first"
    });
    assert!(
        ok,
        "custom status never set: {:?}",
        listed(h, app).get("cli-wait")
    );
    let (code, out, _) = dapr(h, &["suspend", "cli-wait", "-a", app, "-r", "a break"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Workflow 'cli-wait' suspended successfully"),
        "{out}"
    );
    wait_status(h, app, "cli-wait", "SUSPENDED");
    let (code, out, _) = dapr(h, &["resume", "cli-wait", "-a", app]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Workflow 'cli-wait' resumed successfully"),
        "{out}"
    );
    wait_status(h, app, "cli-wait", "RUNNING");
    let (code, out, _) = dapr(h, &["terminate", "cli-wait", "-a", app, "-o", "bye"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Workflow 'cli-wait' terminated successfully"),
        "{out}"
    );
    wait_status(h, app, "cli-wait", "TERMINATED");

    // Rerun: whatever the sidecar answers, the CLI reports it the official way.
    let (code, out, err) = dapr(
        h,
        &[
            "rerun",
            "cli-echo",
            "-a",
            app,
            "--new-instance-id",
            "cli-rerun",
        ],
    );
    assert!(
        (code == 0 && out.contains("Rerunning workflow instance: cli-rerun"))
            || (code == 1 && out.contains("cannot rerun workflows (RerunWorkflowFromEvent)")),
        "{code}: {out}{err}"
    );

    // Purge one, then all that finished.
    let (code, out, err) = dapr(h, &["purge", "cli-wait", "-a", app]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Purging 1 workflow instance(s)"), "{out}");
    assert!(
        out.contains("Purged workflow instance \"cli-wait\""),
        "{out}"
    );
    let (code, out, err) = dapr(h, &["purge", "--all", "-a", app]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Purged workflow instance \"cli-echo\""),
        "{out}"
    );
    let (code, out, err) = dapr(h, &["list", "-a", app]);
    assert_eq!(code, 0);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!(
            "No workflow found in namespace \"default\" for app ID \"{app}\""
        )),
        "{err}"
    );

    // Failures: the operation's own (exit 1), the command's (cobra style, exit 255).
    let (code, out, err) = dapr(h, &["purge", "cli-wait", "-a", app]);
    assert_eq!(code, 255, "{out}{err}");
    assert!(err.contains("Error: cli-wait: "), "{err}");
    let (code, out, _) = dapr(h, &["raise-event", "nope", "-a", app]);
    assert_eq!(code, 255);
    assert!(
        out.contains("the argument must be in the format '<instance-id>/<event-name>'"),
        "{out}"
    );
    let (code, _, err) = dapr(h, &["purge", "-a", app]);
    assert_eq!(code, 255);
    assert!(
        err.contains("one or more workflow instance ID arguments are required"),
        "{err}"
    );
    let (code, _, err) = dapr(h, &["list", "-a", app, "-o", "table"]);
    assert_eq!(code, 255);
    assert!(err.contains("invalid value for --output"), "{err}");
    let (code, _, err) = dapr(h, &["list", "-a", "no-such-app-wf"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("dapr app with id 'no-such-app-wf' not found"),
        "{err}"
    );
    let (code, _, err) = dapr(h, &["list", "-k", "-a", app]);
    assert_eq!(code, 255);
    assert!(err.contains("Kubernetes"), "{err}");
}

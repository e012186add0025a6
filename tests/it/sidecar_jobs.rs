//! Jobs through real daprd processes: the HTTP and gRPC APIs (shapes, status codes, the
//! `DAPR_SCHEDULER_*` errors with their ErrorInfo, metadata's scheduler), triggers counted
//! by in-test apps (an axum HTTP app on `POST /job/{name}`, a tonic gRPC app on
//! `OnJobEvent`/`OnJobEventAlpha1`): `@every 1s` × 3, a due time, a cron with seconds, each
//! delivered exactly as often as scheduled even with two sidecars of the app id sharing the
//! registry file; jobs that outlive a restart (and fire when missed); failure policies
//! (retries, drop, 404). And the official Python SDK as client and gRPC app
//! (`tests/sdk/python_jobs.py`).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::app_callback_alpha_server::{
    AppCallbackAlpha, AppCallbackAlphaServer,
};
use dapr::dapr::proto::runtime::v1::app_callback_server::{AppCallback, AppCallbackServer};
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use dapr_cli::sidecar::api::grpc::status::ErrorInfo;
use prost::Message as _;
use serde_json::{Value, json};
use tonic::{Code, Request, Response, Status};

use crate::sidecar_api::sidecar::{Daprd, Opts, client, spawn, start};
use crate::sidecar_grpc::{sdk_script, sidecar_child};
use crate::support::{free_port, wait_until};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What an HTTP test app received, and how it answers.
#[derive(Default)]
struct JobsApp {
    /// `(job name, body, content type)` of every delivery.
    seen: Mutex<Vec<(String, String, String)>>,
    /// Jobs answered 500 this many more times before 200.
    fail_first: Mutex<HashMap<String, u32>>,
}

impl JobsApp {
    fn count(&self, name: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _, _)| n == name)
            .count()
    }

    fn bodies(&self, name: &str) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, b, _)| b.clone())
            .collect()
    }
}

async fn on_job(
    State(app): State<Arc<JobsApp>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    app.seen.lock().unwrap().push((name.clone(), body, ct));
    if name.starts_with("always500") {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if name.starts_with("notfound") {
        return StatusCode::NOT_FOUND;
    }
    let mut fails = app.fail_first.lock().unwrap();
    match fails.get_mut(&name) {
        Some(n) if *n > 0 => {
            *n -= 1;
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::OK,
    }
}

/// Serves an HTTP jobs app on a free port (on `rt`).
fn serve_http(rt: &tokio::runtime::Runtime, app: Arc<JobsApp>) -> u16 {
    rt.block_on(async {
        let router = axum::Router::new()
            .route("/job/{name}", post(on_job))
            .with_state(app);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        port
    })
}

fn post_job(d: &Daprd, version: &str, name: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(d.url(&format!("/{version}/jobs/{name}")))
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn get_job(d: &Daprd, name: &str) -> (u16, Value) {
    let r = client()
        .get(d.url(&format!("/v1.0/jobs/{name}")))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn delete_job(d: &Daprd, name: &str) -> u16 {
    client()
        .delete(d.url(&format!("/v1.0-alpha1/jobs/{name}")))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn scheduled(d: &Daprd, name: &str, body: Value) {
    let (status, err) = post_job(d, "v1.0", name, &body);
    assert_eq!(status, 204, "{name}: {err}\n{}", d.log());
}

fn error_info(s: &Status) -> ErrorInfo {
    let st = dapr::google::rpc::Status::decode(s.details()).unwrap();
    ErrorInfo::decode(st.details[0].value.as_slice()).unwrap()
}

// The `*Alpha1` RPCs are deprecated, and served: the Go SDK uses only them.
#[allow(deprecated)]
#[test]
fn http_and_grpc_api() {
    let home = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("jobsapi", home.path()));
    assert!(
        wait_until(Duration::from_secs(5), || {
            let m: Value = client()
                .get(d.url("/v1.0/metadata"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            m["scheduler"]["connected_addresses"][0]
                .as_str()
                .is_some_and(|a| a.starts_with("local:"))
        }),
        "{}",
        d.log()
    );
    assert!(
        wait_until(Duration::from_secs(2), || d
            .log()
            .contains("scheduler running in-process: local:")),
        "{}",
        d.log()
    );
    let error = |(status, v): (u16, Value)| {
        (
            status,
            v["errorCode"].as_str().unwrap_or("").to_string(),
            v["message"].as_str().unwrap_or("").to_string(),
        )
    };
    // Errors, in upstream's order and wording.
    assert_eq!(
        error(post_job(&d, "v1.0-alpha1", "test", &json!({}))),
        (
            400,
            "DAPR_SCHEDULER_SCHEDULE_EMPTY".into(),
            "Schedule is empty".into()
        )
    );
    assert_eq!(
        error(post_job(
            &d,
            "v1.0-alpha1",
            "%20",
            &json!({"schedule": "@daily"})
        )),
        (
            400,
            "DAPR_SCHEDULER_JOB_NAME_EMPTY".into(),
            "Name is empty".into()
        )
    );
    assert_eq!(
        error(post_job(
            &d,
            "v1.0",
            "test",
            &json!({"name": "test1", "schedule": "test", "repeats": 1})
        )),
        (
            400,
            "DAPR_SCHEDULER_JOB_NAME".into(),
            "Set the job name in the url only".into()
        )
    );
    for (body, why) in [
        (
            json!({"schedule": "@daily", "repeats": 0}),
            "repeats must be greater than 0",
        ),
        (
            json!({"dueTime": "1s", "repeats": 2}),
            "must have a schedule to repeat",
        ),
        (
            json!({"dueTime": "1s", "ttl": "1m"}),
            "must have a schedule to have a ttl",
        ),
        (
            json!({"schedule": "* * * * *"}),
            "expected exactly 6 fields",
        ),
        (
            json!({"schedule": "CRON_TZ=Not/AZone 0 0 9 * * *"}),
            "bad location",
        ),
        (
            json!({"schedule": "@every 1s", "dueTime": "2030-01-01T00:00:00Z", "ttl": "2029-01-01T00:00:00Z"}),
            "ttl must be greater than due time",
        ),
        (
            json!({"dueTime": "whenever"}),
            "due time format not recognized",
        ),
    ] {
        let (status, code, msg) = error(post_job(&d, "v1.0", "bad", &body));
        assert_eq!(
            (status, code.as_str()),
            (500, "DAPR_SCHEDULER_SCHEDULE_JOB"),
            "{body}"
        );
        assert!(
            msg.starts_with("failed to schedule job due to: ") && msg.contains(why),
            "{body}: {msg}"
        );
    }
    let (status, err) = post_job(&d, "v1.0", "bad", &json!({"schedule": 5}));
    assert_eq!(
        (status, err["errorCode"].as_str()),
        (400, Some("ERR_MALFORMED_REQUEST"))
    );

    // A job with every field; read back as submitted, as protojson.
    let full = json!({
        "schedule": "@every 1m", "repeats": 123, "dueTime": "1000s", "ttl": "123s",
        "data": "hello world", "unknownField": true,
        "failure_policy": {"constant": {"interval": "3s", "max_retries": 5}}
    });
    scheduled(&d, "test", full.clone());
    let want = json!({
        "name": "test", "schedule": "@every 1m", "repeats": 123, "dueTime": "1000s",
        "ttl": "123s",
        "data": {"@type": "type.googleapis.com/google.protobuf.Value", "value": "hello world"},
        "failurePolicy": {"constant": {"interval": "3s", "maxRetries": 5}}
    });
    assert_eq!(get_job(&d, "test"), (200, want.clone()));
    // overwrite=false (the default) on an existing name: 409; true replaces.
    let (status, err) = post_job(&d, "v1.0-alpha1", "test", &json!({"schedule": "@daily"}));
    assert_eq!(
        (status, err["errorCode"].as_str()),
        (409, Some("DAPR_SCHEDULER_SCHEDULE_JOB"))
    );
    scheduled(
        &d,
        "test",
        json!({"schedule": "@daily", "overwrite": true, "failurePolicy": {"drop": {}}}),
    );
    assert_eq!(
        get_job(&d, "test").1,
        json!({"name": "test", "schedule": "@daily", "failurePolicy": {"drop": {}}})
    );
    // Without a policy the default is stored (constant 1s, 3 retries).
    scheduled(&d, "plain", json!({"dueTime": "1h"}));
    assert_eq!(
        get_job(&d, "plain").1["failurePolicy"],
        json!({"constant": {"interval": "1s", "maxRetries": 3}})
    );
    assert_eq!(delete_job(&d, "plain"), 204);
    assert_eq!(
        delete_job(&d, "plain"),
        204,
        "deleting a missing job succeeds"
    );
    let (status, err) = get_job(&d, "plain");
    assert_eq!(
        (status, err["errorCode"].as_str(), err["message"].as_str()),
        (
            500,
            Some("DAPR_SCHEDULER_GET_JOB"),
            Some("failed to get job due to: job not found: plain")
        )
    );

    // Metadata names the in-process scheduler (opened at start-up, before any job).
    let meta = || -> Value {
        client()
            .get(d.url("/v1.0/metadata"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let meta = meta();
    let addrs = meta["scheduler"]["connected_addresses"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(addrs.len(), 1, "{meta}");
    assert!(addrs[0].as_str().unwrap().starts_with("local:"), "{meta}");
    assert!(
        addrs[0].as_str().unwrap().ends_with("nameresolution.db"),
        "{meta}"
    );

    // gRPC: the same jobs, both RPC generations.
    let rt = runtime();
    rt.block_on(async {
        let mut c = DaprClient::connect(format!("http://127.0.0.1:{}", d.grpc_port))
            .await
            .unwrap();
        let got = c
            .get_job(pb::GetJobRequest {
                name: "test".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let job = got.job.unwrap();
        assert_eq!(
            (job.schedule.as_deref(), job.repeats),
            (Some("@daily"), None)
        );
        assert!(matches!(
            job.failure_policy.unwrap().policy,
            Some(common::job_failure_policy::Policy::Drop(_))
        ));
        let data = prost_types::Any {
            type_url: "type.googleapis.com/google.protobuf.StringValue".into(),
            value: "x".to_string().encode_to_vec(),
        };
        let req = |name: &str, overwrite: bool| pb::ScheduleJobRequest {
            job: Some(pb::Job {
                name: name.into(),
                due_time: Some("1h".into()),
                data: Some(data.clone()),
                failure_policy: Some(common::JobFailurePolicy {
                    policy: Some(common::job_failure_policy::Policy::Constant(
                        common::JobFailurePolicyConstant {
                            interval: Some(prost_types::Duration {
                                seconds: 2,
                                nanos: 500_000_000,
                            }),
                            max_retries: None,
                        },
                    )),
                }),
                ..Default::default()
            }),
            overwrite,
        };
        c.schedule_job_alpha1(req("g1", false)).await.unwrap();
        c.schedule_job(req("g2", false)).await.unwrap();
        let e = c.schedule_job(req("g2", false)).await.unwrap_err();
        assert_eq!(e.code(), Code::AlreadyExists);
        let info = error_info(&e);
        assert_eq!(info.reason, "DAPR_SCHEDULER_SCHEDULE_JOB");
        assert_eq!(
            (
                info.metadata["appID"].as_str(),
                info.metadata["namespace"].as_str()
            ),
            ("jobsapi", "default")
        );
        c.schedule_job(req("g2", true)).await.unwrap();
        let e = c
            .schedule_job(pb::ScheduleJobRequest {
                job: None,
                overwrite: false,
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), error_info(&e).reason.as_str()),
            (Code::InvalidArgument, "DAPR_SCHEDULER_EMPTY")
        );
        let e = c
            .get_job_alpha1(pb::GetJobRequest {
                name: "nope".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), error_info(&e).reason.as_str()),
            (Code::Internal, "DAPR_SCHEDULER_GET_JOB")
        );
        let g2 = c
            .get_job(pb::GetJobRequest { name: "g2".into() })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        assert_eq!(
            g2.data,
            Some(data.clone()),
            "the payload comes back unchanged"
        );
        // The HTTP API renders a wrapper type as protojson.
        let g2 = tokio::task::block_in_place(|| get_job(&d, "g2").1);
        assert_eq!(
            g2["data"],
            json!({"@type": "type.googleapis.com/google.protobuf.StringValue", "value": "x"})
        );
        assert_eq!(
            g2["failurePolicy"],
            json!({"constant": {"interval": "2.500s"}})
        );
        let names = |jobs: Vec<pb::Job>| jobs.into_iter().map(|j| j.name).collect::<Vec<_>>();
        let list = c
            .list_jobs(pb::ListJobsRequest {})
            .await
            .unwrap()
            .into_inner()
            .jobs;
        assert_eq!(names(list), ["g1", "g2", "test"]);
        c.delete_jobs_by_prefix(pb::DeleteJobsByPrefixRequest {
            name_prefix: Some("g".into()),
        })
        .await
        .unwrap();
        let list = c
            .list_jobs_alpha1(pb::ListJobsRequestAlpha1 {})
            .await
            .unwrap()
            .into_inner()
            .jobs;
        assert_eq!(names(list), ["test"]);
        c.delete_job_alpha1(pb::DeleteJobRequest {
            name: "test".into(),
        })
        .await
        .unwrap();
        c.delete_jobs_by_prefix_alpha1(pb::DeleteJobsByPrefixRequestAlpha1 { name_prefix: None })
            .await
            .unwrap();
        let meta = c
            .get_metadata(pb::GetMetadataRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(meta.scheduler.unwrap().connected_addresses.len(), 1);
        assert!(
            c.list_jobs(pb::ListJobsRequest {})
                .await
                .unwrap()
                .into_inner()
                .jobs
                .is_empty()
        );
    });
}

/// Waits until `app` saw `n` deliveries of `name`, then a little longer to catch extra ones.
fn wait_count(apps: &[&Arc<JobsApp>], name: &str, n: usize, within: Duration) -> usize {
    let total = || apps.iter().map(|a| a.count(name)).sum::<usize>();
    wait_until(within, || total() >= n);
    std::thread::sleep(Duration::from_millis(1200));
    total()
}

#[test]
fn each_trigger_is_delivered_once_across_two_sidecars() {
    let rt = runtime();
    let home = tempfile::tempdir().unwrap();
    let (a, b) = (Arc::new(JobsApp::default()), Arc::new(JobsApp::default()));
    let da = start(&Opts::new("jobs2", home.path()).app_port(serve_http(&rt, a.clone())));
    let db = start(&Opts::new("jobs2", home.path()).app_port(serve_http(&rt, b.clone())));
    scheduled(
        &da,
        "every",
        json!({"schedule": "@every 1s", "repeats": 3, "data": {"n": 1}}),
    );
    scheduled(&db, "once", json!({"dueTime": "1s", "data": "once"}));
    scheduled(
        &da,
        "cron",
        json!({"schedule": "*/1 * * * * *", "repeats": 2}),
    );
    // A job created through one sidecar is readable through the other.
    assert_eq!(get_job(&db, "every").0, 200);
    let apps = [&a, &b];
    assert_eq!(
        wait_count(&apps, "every", 3, Duration::from_secs(10)),
        3,
        "{}",
        da.log()
    );
    assert_eq!(wait_count(&apps, "once", 1, Duration::from_secs(5)), 1);
    assert_eq!(wait_count(&apps, "cron", 2, Duration::from_secs(5)), 2);
    let mut bodies: Vec<String> = apps.iter().flat_map(|a| a.bodies("every")).collect();
    bodies.dedup();
    assert_eq!(bodies, [r#"{"n":1}"#]);
    assert_eq!(
        a.bodies("once")
            .into_iter()
            .chain(b.bodies("once"))
            .collect::<Vec<_>>(),
        [r#""once""#]
    );
    for app in apps {
        for (_, _, ct) in app.seen.lock().unwrap().iter() {
            assert_eq!(ct, "application/json");
        }
    }
    // Finished jobs are gone.
    for name in ["every", "once", "cron"] {
        assert_eq!(get_job(&da, name).0, 500, "{name}");
    }
}

#[test]
fn jobs_survive_a_restart_and_missed_triggers_fire_once() {
    let rt = runtime();
    let home = tempfile::tempdir().unwrap();
    // No app yet: nothing can fire.
    let mut d = start(&Opts::new("jobsdurable", home.path()));
    scheduled(&d, "daily", json!({"schedule": "@daily", "data": [1, 2]}));
    scheduled(&d, "missed", json!({"dueTime": "1s", "data": {"k": "v"}}));
    scheduled(&d, "ticks", json!({"schedule": "@every 1s", "repeats": 2}));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(get_job(&d, "missed").0, 200, "not delivered without an app");
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        d.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    let app = Arc::new(JobsApp::default());
    let d = start(&Opts::new("jobsdurable", home.path()).app_port(serve_http(&rt, app.clone())));
    assert_eq!(
        get_job(&d, "daily"),
        (
            200,
            json!({"name": "daily", "schedule": "@daily",
            "data": {"@type": "type.googleapis.com/google.protobuf.Value", "value": [1, 2]},
            "failurePolicy": {"constant": {"interval": "1s", "maxRetries": 3}}})
        )
    );
    // The missed one-shot fires once; the missed ticks once, then on schedule.
    assert_eq!(wait_count(&[&app], "missed", 1, Duration::from_secs(5)), 1);
    assert_eq!(app.bodies("missed"), [r#"{"k":"v"}"#]);
    assert_eq!(wait_count(&[&app], "ticks", 2, Duration::from_secs(5)), 2);
    assert_eq!(app.count("daily"), 0);
}

#[test]
fn failure_policies_retry_drop_and_not_found() {
    let rt = runtime();
    let home = tempfile::tempdir().unwrap();
    let app = Arc::new(JobsApp::default());
    app.fail_first.lock().unwrap().insert("retry".into(), 2);
    let d = start(&Opts::new("jobsfail", home.path()).app_port(serve_http(&rt, app.clone())));
    // Default policy: 1 s apart, 3 retries; two failures, then delivered.
    scheduled(&d, "retry", json!({"dueTime": "0s", "data": "r"}));
    // Drop: one delivery per trigger, failed or not.
    scheduled(
        &d,
        "always500-drop",
        json!({"schedule": "@every 1s", "repeats": 2, "failurePolicy": {"drop": {}}}),
    );
    // Constant with a limit: the first try and two retries.
    scheduled(
        &d,
        "always500-limited",
        json!({"dueTime": "0s",
        "failurePolicy": {"constant": {"interval": "0.2s", "maxRetries": 2}}}),
    );
    // A 404 is success: not retried.
    scheduled(&d, "notfound", json!({"dueTime": "0s"}));
    let apps = [&app];
    assert_eq!(
        wait_count(&apps, "retry", 3, Duration::from_secs(6)),
        3,
        "{}",
        d.log()
    );
    assert_eq!(app.bodies("retry"), [r#""r""#; 3]);
    assert_eq!(
        wait_count(&apps, "always500-drop", 2, Duration::from_secs(5)),
        2
    );
    assert_eq!(app.count("always500-limited"), 3);
    assert_eq!(app.count("notfound"), 1);
    assert!(
        d.log().contains("delivering job always500-limited failed"),
        "{}",
        d.log()
    );
}

/// A gRPC app: `OnJobEvent` takes `stable-*` jobs and refuses the others as unimplemented,
/// which `OnJobEventAlpha1` then takes.
#[derive(Default)]
struct GrpcJobs(Arc<Mutex<Vec<(String, pb::JobEventRequest)>>>);

#[tonic::async_trait]
impl AppCallback for GrpcJobs {
    async fn on_invoke(
        &self,
        _r: Request<common::InvokeRequest>,
    ) -> Result<Response<common::InvokeResponse>, Status> {
        Err(Status::unimplemented("no methods"))
    }
    async fn list_topic_subscriptions(
        &self,
        _r: Request<()>,
    ) -> Result<Response<pb::ListTopicSubscriptionsResponse>, Status> {
        Err(Status::unimplemented("no subscriptions"))
    }
    async fn on_topic_event(
        &self,
        _r: Request<pb::TopicEventRequest>,
    ) -> Result<Response<pb::TopicEventResponse>, Status> {
        Err(Status::unimplemented("no events"))
    }
    async fn list_input_bindings(
        &self,
        _r: Request<()>,
    ) -> Result<Response<pb::ListInputBindingsResponse>, Status> {
        Ok(Response::new(pb::ListInputBindingsResponse::default()))
    }
    async fn on_binding_event(
        &self,
        _r: Request<pb::BindingEventRequest>,
    ) -> Result<Response<pb::BindingEventResponse>, Status> {
        Err(Status::unimplemented("no bindings"))
    }
    async fn on_bulk_topic_event(
        &self,
        _r: Request<pb::TopicEventBulkRequest>,
    ) -> Result<Response<pb::TopicEventBulkResponse>, Status> {
        Err(Status::unimplemented("no events"))
    }
    async fn on_job_event(
        &self,
        r: Request<pb::JobEventRequest>,
    ) -> Result<Response<pb::JobEventResponse>, Status> {
        let r = r.into_inner();
        if !r.name.starts_with("stable") {
            return Err(Status::unimplemented("use the alpha service"));
        }
        self.0.lock().unwrap().push(("stable".into(), r));
        Ok(Response::new(pb::JobEventResponse {}))
    }
}

#[tonic::async_trait]
impl AppCallbackAlpha for GrpcJobs {
    async fn on_bulk_topic_event_alpha1(
        &self,
        _r: Request<pb::TopicEventBulkRequest>,
    ) -> Result<Response<pb::TopicEventBulkResponse>, Status> {
        Err(Status::unimplemented("no events"))
    }
    async fn on_job_event_alpha1(
        &self,
        r: Request<pb::JobEventRequest>,
    ) -> Result<Response<pb::JobEventResponse>, Status> {
        let r = r.into_inner();
        self.0.lock().unwrap().push(("alpha".into(), r));
        Ok(Response::new(pb::JobEventResponse {}))
    }
}

#[test]
fn grpc_app_gets_on_job_event_or_the_alpha_fallback() {
    let rt = runtime();
    let seen: Arc<Mutex<Vec<(String, pb::JobEventRequest)>>> = Arc::default();
    let port = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tonic::transport::Server::builder()
            .add_service(AppCallbackServer::new(GrpcJobs(seen.clone())))
            .add_service(AppCallbackAlphaServer::new(GrpcJobs(seen.clone())))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
        port
    });
    let home = tempfile::tempdir().unwrap();
    let d = start(
        &Opts::new("jobsgrpc", home.path())
            .app_port(port)
            .arg("--app-protocol")
            .arg("grpc"),
    );
    scheduled(&d, "stable-1", json!({"dueTime": "0s", "data": {"a": 1}}));
    scheduled(&d, "old-1", json!({"dueTime": "0s"}));
    assert!(
        wait_until(Duration::from_secs(8), || seen.lock().unwrap().len() >= 2),
        "{}",
        d.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let by = |name: &str| seen.iter().find(|(_, r)| r.name == name).unwrap();
    let (service, r) = by("stable-1");
    assert_eq!(
        (service.as_str(), r.method.as_str()),
        ("stable", "job/stable-1")
    );
    assert_eq!(r.content_type, "type.googleapis.com/google.protobuf.Value");
    assert_eq!(
        r.http_extension.as_ref().map(|h| h.verb),
        Some(common::http_extension::Verb::Post as i32)
    );
    let value = prost_types::Value::decode(r.data.as_ref().unwrap().value.as_slice()).unwrap();
    assert!(matches!(
        value.kind,
        Some(prost_types::value::Kind::StructValue(_))
    ));
    let (service, r) = by("old-1");
    assert_eq!((service.as_str(), r.data.as_ref()), ("alpha", None));
}

#[test]
fn python_sdk_client_and_grpc_app() {
    let probe = Command::new("python3")
        .args(["-c", "import dapr.ext.grpc"])
        .output()
        .expect("python3 must be installed");
    assert!(
        probe.status.success(),
        "the official Python SDK is not importable; install it with: python3 -m pip install \"dapr[grpc]==1.19.*\"\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let home = tempfile::tempdir().unwrap();
    let (app_port, http_port, grpc_port) = (free_port(), free_port(), free_port());
    let mut cmd = Command::new("python3");
    crate::support::without_developer_env(&mut cmd)
        .arg(sdk_script("python_jobs.py"))
        .env("APP_PORT", app_port.to_string())
        .env("DAPR_HTTP_PORT", http_port.to_string())
        .env("DAPR_GRPC_PORT", grpc_port.to_string());
    let mut script = sidecar_child(cmd);
    let opts = Opts::new("pyjobs", home.path())
        .app_port(app_port)
        .grpc_port(grpc_port)
        .arg("--app-protocol")
        .arg("grpc");
    let d = spawn(&opts, http_port);
    let status = script.wait_with_timeout(Duration::from_secs(60));
    let out = script.output();
    assert!(
        status.is_some_and(|s| s.success()) && out.contains("python jobs: ok"),
        "Python SDK jobs checks failed ({status:?}):\n{out}\n--- daprd log:\n{}",
        d.log()
    );
}

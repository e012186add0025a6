//! The back end of `dapr workflow`: it finds the app's sidecar among the running `daprd`s
//! (the app id, or the only sidecar running when none is given) and talks to its gRPC API
//! port with the Durable Task client calls, as the official CLI does through
//! durabletask-go: `StartInstance`, `GetInstance`, `ListInstanceIDs`,
//! `GetInstanceHistory`, `RaiseEvent`, `SuspendInstance`, `ResumeInstance`,
//! `TerminateInstance`, `PurgeInstances` and `RerunWorkflowFromEvent`.
//!
//! Payloads given on the command line (`--input`, `--output`) are sent JSON-encoded as
//! strings, as the official CLI's `WithInput(string)` does: `-x hello` reaches the workflow
//! as the string `"hello"`. Errors read as the official ones (`failed to start workflow:
//! rpc error: code = ... desc = ...`, `no such instance exists`).
//!
//! Listing needs a sidecar that answers `ListInstanceIDs` (Dapr 1.17 and this daprd); the
//! official CLI's fallback of reading older sidecars' state stores directly is not here.
//! Nothing here prints.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tonic::transport::Channel;

use super::instances::{self, Sidecar};
use crate::sidecar::api::grpc::status::rpc_error;
use crate::sidecar::workflows::proto::task_hub_sidecar_service_client::TaskHubSidecarServiceClient;
use crate::sidecar::workflows::proto::{self as dt, OrchestrationStatus};
use crate::sidecar::workflows::state::timestamp;

pub use super::workflow_history::{HistoryRow, HistoryShortRow, history_rows, short_history};

/// A workflow command's failure, worded as the official CLI words it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WorkflowError(pub String);

fn err(msg: impl Into<String>) -> WorkflowError {
    WorkflowError(msg.into())
}

/// The app whose workflows a command addresses: `app_id`, or the only sidecar running.
pub fn resolve_app_id(app_id: Option<&str>, running: &[Sidecar]) -> Result<String, WorkflowError> {
    if let Some(id) = app_id {
        return Ok(id.to_string());
    }
    match running {
        [] => Err(err(
            "no Dapr instances found. Please ensure that Dapr is running",
        )),
        [one] => Ok(one.app_id.clone()),
        _ => Err(err(
            "the app ID is required when there are multiple Dapr instances. Please specify it using the --app-id flag",
        )),
    }
}

/// `resolve_app_id` over the sidecars running on this machine.
pub fn app_id(app_id: Option<&str>) -> Result<String, WorkflowError> {
    if app_id.is_some() {
        return resolve_app_id(app_id, &[]);
    }
    resolve_app_id(None, &instances::scan())
}

/// Upstream's name of a runtime status (`RUNNING`, ...).
pub fn status_name(status: i32) -> &'static str {
    match OrchestrationStatus::try_from(status) {
        Ok(s) => s
            .as_str_name()
            .strip_prefix("ORCHESTRATION_STATUS_")
            .unwrap_or("UNKNOWN"),
        Err(_) => "UNKNOWN",
    }
}

/// COMPLETED, FAILED, TERMINATED or CANCELED.
pub fn is_terminal(status: i32) -> bool {
    matches!(
        OrchestrationStatus::try_from(status),
        Ok(OrchestrationStatus::Completed
            | OrchestrationStatus::Failed
            | OrchestrationStatus::Terminated
            | OrchestrationStatus::Canceled)
    )
}

pub(super) fn time_of(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t?;
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
}

/// A string payload the way Go's `json.Marshal(string)` writes it.
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `RerunWorkflowFromEventRequest` (not in this project's service definition: the
/// call is made by path).
#[derive(Clone, PartialEq, prost::Message)]
struct RerunRequest {
    #[prost(string, tag = "1")]
    source_instance_id: String,
    #[prost(uint32, tag = "2")]
    event_id: u32,
    #[prost(string, optional, tag = "3")]
    new_instance_id: Option<String>,
    #[prost(message, optional, tag = "4")]
    input: Option<String>,
    #[prost(bool, tag = "5")]
    overwrite_input: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RerunResponse {
    #[prost(string, tag = "1")]
    new_instance_id: String,
}

/// A connection to one sidecar's workflow API.
pub struct WorkflowClient {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    token: Option<String>,
    pub app_id: String,
}

impl WorkflowClient {
    /// Connects to the sidecar of `app_id` on this machine.
    pub fn connect(app_id: &str) -> Result<WorkflowClient, WorkflowError> {
        let sidecar = instances::find(app_id)
            .ok_or_else(|| err(format!("dapr app with id '{app_id}' not found")))?;
        Self::connect_port(app_id, sidecar.grpc_port)
    }

    /// Connects to a sidecar's gRPC API port on loopback.
    pub fn connect_port(app_id: &str, port: u16) -> Result<WorkflowClient, WorkflowError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(format!("starting the async runtime: {e}")))?;
        let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .map_err(|e| err(e.to_string()))?
            .connect_timeout(Duration::from_secs(5));
        let channel = rt.block_on(endpoint.connect()).map_err(|e| {
            err(format!(
                "failed to connect to the Dapr sidecar of app '{app_id}' on gRPC port {port}: {e}"
            ))
        })?;
        let token = std::env::var("DAPR_API_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        Ok(WorkflowClient {
            rt,
            channel,
            token,
            app_id: app_id.to_string(),
        })
    }

    fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        if let Some(t) = self.token.as_deref().and_then(|t| t.parse().ok()) {
            r.metadata_mut().insert("dapr-api-token", t);
        }
        r
    }

    /// Runs one call to completion; a failure reads `failed to <what>: rpc error: ...`.
    fn call<T>(
        &self,
        what: &str,
        rpc: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, WorkflowError> {
        self.rt
            .block_on(rpc)
            .map(tonic::Response::into_inner)
            .map_err(|s| err(format!("failed to {what}: {}", rpc_error(&s))))
    }

    fn client(&self) -> TaskHubSidecarServiceClient<Channel> {
        TaskHubSidecarServiceClient::new(self.channel.clone()).max_decoding_message_size(usize::MAX)
    }

    /// Starts `name`; answers the instance id (a random UUID when none is given).
    pub fn run(
        &self,
        name: &str,
        instance_id: Option<&str>,
        input: Option<&str>,
        start_at: Option<DateTime<Utc>>,
    ) -> Result<String, WorkflowError> {
        let req = dt::CreateInstanceRequest {
            instance_id: instance_id
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            name: name.to_string(),
            input: input.map(json_string),
            scheduled_start_timestamp: start_at.map(timestamp),
            ..Default::default()
        };
        let res = self.call(
            "start workflow",
            self.client().start_instance(self.request(req)),
        )?;
        Ok(res.instance_id)
    }

    /// The instance with its inputs and outputs; `None` when it does not exist.
    pub fn get(&self, id: &str) -> Result<Option<dt::WorkflowState>, WorkflowError> {
        let req = dt::GetInstanceRequest {
            instance_id: id.to_string(),
            get_inputs_and_outputs: true,
        };
        let res = self
            .rt
            .block_on(self.client().get_instance(self.request(req)))
            .map_err(|s| {
                err(format!(
                    "failed to fetch workflow metadata: {}",
                    rpc_error(&s)
                ))
            })?
            .into_inner();
        if !res.exists {
            return Ok(None);
        }
        res.workflow_state
            .map(Some)
            .ok_or_else(|| err("workflow state is nil"))
    }

    /// Every instance id of the app, all pages.
    pub fn instance_ids(&self) -> Result<Vec<String>, WorkflowError> {
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            let req = dt::ListInstanceIDsRequest {
                continuation_token: token,
                page_size: Some(1024),
            };
            let res = self
                .rt
                .block_on(self.client().list_instance_i_ds(self.request(req)))
                .map_err(|s| match s.code() {
                    tonic::Code::Unimplemented => err(format!(
                        "the Dapr sidecar of app '{}' cannot list workflow instances (ListInstanceIDs needs Dapr 1.17 or later); reading its state store directly is not supported by this CLI",
                        self.app_id
                    )),
                    _ => err(format!("failed to list instance IDs: {}", rpc_error(&s))),
                })?
                .into_inner();
            ids.extend(res.instance_ids);
            match res.continuation_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => return Ok(ids),
            }
        }
    }

    pub fn history(&self, id: &str) -> Result<Vec<dt::HistoryEvent>, WorkflowError> {
        let req = dt::GetInstanceHistoryRequest {
            instance_id: id.to_string(),
        };
        let res = self.call(
            "get instance history",
            self.client().get_instance_history(self.request(req)),
        )?;
        Ok(res.events)
    }

    pub fn raise_event(
        &self,
        id: &str,
        event: &str,
        input: Option<&str>,
    ) -> Result<(), WorkflowError> {
        let req = dt::RaiseEventRequest {
            instance_id: id.to_string(),
            name: event.to_string(),
            input: input.map(json_string),
        };
        self.call("raise event", self.client().raise_event(self.request(req)))
            .map(drop)
    }

    pub fn suspend(&self, id: &str, reason: &str) -> Result<(), WorkflowError> {
        let req = dt::SuspendRequest {
            instance_id: id.to_string(),
            reason: Some(reason.to_string()),
        };
        self.call(
            "suspend workflow",
            self.client().suspend_instance(self.request(req)),
        )
        .map(drop)
    }

    pub fn resume(&self, id: &str, reason: &str) -> Result<(), WorkflowError> {
        let req = dt::ResumeRequest {
            instance_id: id.to_string(),
            reason: Some(reason.to_string()),
        };
        self.call(
            "resume workflow",
            self.client().resume_instance(self.request(req)),
        )
        .map(drop)
    }

    /// Terminates the instance and its children; `output` is its output.
    pub fn terminate(&self, id: &str, output: Option<&str>) -> Result<(), WorkflowError> {
        let req = dt::TerminateRequest {
            instance_id: id.to_string(),
            output: output.map(json_string),
            recursive: true,
        };
        self.call(
            "terminate instance",
            self.client().terminate_instance(self.request(req)),
        )
        .map(drop)
    }

    /// Purges one instance (`force`: whatever its state).
    pub fn purge(&self, id: &str, force: bool) -> Result<(), WorkflowError> {
        let req = dt::PurgeInstancesRequest {
            request: Some(dt::purge_instances_request::Request::InstanceId(
                id.to_string(),
            )),
            recursive: false,
            force: Some(force),
        };
        let res = self.call(
            "purge workflow state",
            self.client().purge_instances(self.request(req)),
        )?;
        if res.deleted_instance_count == 0 {
            return Err(err("no such instance exists"));
        }
        Ok(())
    }

    /// Reruns `id` from `event_id` as a new instance; answers the new instance's id.
    pub fn rerun(
        &self,
        id: &str,
        event_id: u32,
        new_instance_id: Option<&str>,
        input: Option<&str>,
    ) -> Result<String, WorkflowError> {
        let req = RerunRequest {
            source_instance_id: id.to_string(),
            event_id,
            new_instance_id: new_instance_id.map(str::to_string),
            input: input.map(json_string),
            overwrite_input: input.is_some(),
        };
        let call = async {
            let mut grpc = tonic::client::Grpc::new(self.channel.clone());
            grpc.ready()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            let path = http::uri::PathAndQuery::from_static(
                "/TaskHubSidecarService/RerunWorkflowFromEvent",
            );
            grpc.unary(
                self.request(req),
                path,
                tonic_prost::ProstCodec::<RerunRequest, RerunResponse>::default(),
            )
            .await
        };
        let res = self.rt.block_on(call).map_err(|s| match s.code() {
            tonic::Code::Unimplemented => err(format!(
                "the Dapr sidecar of app '{}' cannot rerun workflows (RerunWorkflowFromEvent): {}",
                self.app_id,
                rpc_error(&s)
            )),
            _ => err(rpc_error(&s)),
        })?;
        Ok(res.into_inner().new_instance_id)
    }
}

/// What `list` keeps (all optional).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub name: Option<String>,
    pub status: Option<String>,
    /// Only instances created at or after this time.
    pub max_age: Option<DateTime<Utc>>,
    /// Only finished instances (purge `--all`).
    pub terminal: bool,
}

/// One instance as `list -o wide|json|yaml` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WorkflowRow {
    pub namespace: String,
    #[serde(rename = "appID")]
    pub app_id: String,
    pub name: String,
    #[serde(rename = "instanceID")]
    pub instance_id: String,
    /// RFC 3339, whole seconds.
    pub created: String,
    #[serde(rename = "lastUpdate")]
    pub last_update: String,
    #[serde(rename = "runtimeStatus")]
    pub runtime_status: String,
    #[serde(rename = "customStatus")]
    pub custom_status: String,
    #[serde(rename = "failureMessage")]
    pub failure_message: String,
    #[serde(skip)]
    pub created_at: Option<DateTime<Utc>>,
}

/// One instance as `list` (short) shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WorkflowShortRow {
    pub namespace: String,
    #[serde(rename = "appID")]
    pub app_id: String,
    pub name: String,
    #[serde(rename = "instanceID")]
    pub instance_id: String,
    #[serde(rename = "runtimeStatus")]
    pub runtime_status: String,
    #[serde(rename = "customStatus")]
    pub custom_status: String,
    pub age: String,
}

fn rfc3339_seconds(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string())
}

/// The row of one instance, `None` when `filter` drops it.
pub fn row(
    namespace: &str,
    app_id: &str,
    id: &str,
    s: &dt::WorkflowState,
    filter: &Filter,
) -> Option<WorkflowRow> {
    let status = status_name(s.workflow_status);
    let created = time_of(s.created_timestamp.as_ref()).filter(|t| t.timestamp() != 0);
    if filter.name.as_ref().is_some_and(|n| *n != s.name)
        || filter.status.as_ref().is_some_and(|st| st != status)
        || filter
            .max_age
            .is_some_and(|m| created.is_none_or(|c| c < m))
        || (filter.terminal && !is_terminal(s.workflow_status))
    {
        return None;
    }
    let updated = time_of(s.last_updated_timestamp.as_ref()).filter(|t| t.timestamp() != 0);
    Some(WorkflowRow {
        namespace: namespace.to_string(),
        app_id: app_id.to_string(),
        name: s.name.clone(),
        instance_id: id.to_string(),
        created: rfc3339_seconds(created),
        last_update: rfc3339_seconds(updated),
        runtime_status: status.to_string(),
        custom_status: s.custom_status.clone().unwrap_or_default(),
        failure_message: s
            .failure_details
            .as_ref()
            .map(|f| f.error_message.replace(['\n', '\r'], ""))
            .unwrap_or_default(),
        created_at: created,
    })
}

/// The app's instances that pass `filter`, oldest first (not yet started last).
pub fn list(
    client: &WorkflowClient,
    namespace: &str,
    filter: &Filter,
) -> Result<Vec<WorkflowRow>, WorkflowError> {
    let mut rows = Vec::new();
    for id in client.instance_ids()? {
        // An instance purged between the two calls is simply not listed.
        let Some(state) = client.get(&id)? else {
            continue;
        };
        if let Some(r) = row(namespace, &client.app_id, &id, &state, filter) {
            rows.push(r);
        }
    }
    rows.sort_by(|a, b| match (a.created_at, b.created_at) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    Ok(rows)
}

/// The short rows (with their age) of wide rows.
pub fn short_rows(rows: &[WorkflowRow], now: DateTime<Utc>) -> Vec<WorkflowShortRow> {
    rows.iter()
        .map(|w| WorkflowShortRow {
            namespace: w.namespace.clone(),
            app_id: w.app_id.clone(),
            name: w.name.clone(),
            instance_id: w.instance_id.clone(),
            runtime_status: w.runtime_status.clone(),
            custom_status: w.custom_status.clone(),
            age: match w.created_at {
                None => "<scheduled>".to_string(),
                Some(c) => human_duration(now.signed_duration_since(c)),
            },
        })
        .collect()
}

/// Kubernetes' `HumanDuration` (what the official CLI prints as AGE): `45s`, `3m12s`,
/// `15m`, `5h2m`, `20h`, `3d4h`, `30d`, `2y10d`.
pub fn human_duration(d: chrono::TimeDelta) -> String {
    let secs = (d.num_milliseconds() as f64 / 1000.0).round() as i64;
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = d.num_minutes();
    if minutes < 10 {
        let s = d.num_seconds() % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = d.num_hours();
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// A Go duration (`300ms`, `1.5h`, `2h45m`) from now, into the past when `past`, or a
/// time (`2023-01-02T15:04:05Z`, `2023-01-02T15:04:05`, `2023-01-02`; UTC when no zone).
pub fn parse_duration_or_time(
    text: &str,
    past: bool,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, WorkflowError> {
    if let Some(d) = crate::sidecar::scheduler::timing::parse_go_duration(text) {
        let d = chrono::TimeDelta::from_std(d).map_err(|e| err(e.to_string()))?;
        let t = if past {
            now.checked_sub_signed(d)
        } else {
            now.checked_add_signed(d)
        };
        return t.ok_or_else(|| err(format!("duration out of range: {text}")));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(err(format!("unsupported time/duration format \"{text}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sidecar(id: &str) -> Sidecar {
        Sidecar {
            pid: 1,
            app_id: id.into(),
            http_port: 3500,
            grpc_port: 50001,
            app_port: 0,
            metrics_enabled: false,
            unix_domain_socket: None,
            start_time: 0,
        }
    }

    #[test]
    fn app_id_detection_as_upstream() {
        assert_eq!(resolve_app_id(Some("x"), &[]).unwrap(), "x");
        assert_eq!(resolve_app_id(None, &[sidecar("a")]).unwrap(), "a");
        assert_eq!(
            resolve_app_id(None, &[]).unwrap_err().0,
            "no Dapr instances found. Please ensure that Dapr is running"
        );
        assert!(
            resolve_app_id(None, &[sidecar("a"), sidecar("b")])
                .unwrap_err()
                .0
                .starts_with("the app ID is required when there are multiple Dapr instances")
        );
    }

    #[test]
    fn ages_as_kubernetes_prints_them() {
        let s = chrono::TimeDelta::seconds;
        assert_eq!(human_duration(s(0)), "0s");
        assert_eq!(human_duration(s(119)), "119s");
        assert_eq!(human_duration(s(192)), "3m12s");
        assert_eq!(human_duration(s(180)), "3m");
        assert_eq!(human_duration(s(15 * 60)), "15m");
        assert_eq!(human_duration(s(5 * 3600 + 120)), "5h2m");
        assert_eq!(human_duration(s(20 * 3600)), "20h");
        assert_eq!(human_duration(s(76 * 3600)), "3d4h");
        assert_eq!(human_duration(s(30 * 86400)), "30d");
        assert_eq!(human_duration(s(-5)), "<invalid>");
    }

    #[test]
    fn durations_and_times() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let p = |t, past| parse_duration_or_time(t, past, now).unwrap().to_rfc3339();
        assert_eq!(p("1.5h", true), "2026-01-02T10:30:00+00:00");
        assert_eq!(p("30s", false), "2026-01-02T12:00:30+00:00");
        assert_eq!(p("2023-01-02T15:04:05Z", true), "2023-01-02T15:04:05+00:00");
        assert_eq!(p("2023-01-02T15:04:05", true), "2023-01-02T15:04:05+00:00");
        assert_eq!(p("2023-01-02", true), "2023-01-02T00:00:00+00:00");
        assert_eq!(
            parse_duration_or_time("soon", true, now).unwrap_err().0,
            "unsupported time/duration format \"soon\""
        );
    }

    #[test]
    fn rows_and_filters() {
        let t = |s: i64| {
            Some(prost_types::Timestamp {
                seconds: s,
                nanos: 500,
            })
        };
        let state = dt::WorkflowState {
            instance_id: "i".into(),
            name: "wf".into(),
            workflow_status: OrchestrationStatus::Failed as i32,
            created_timestamp: t(1_767_355_200),
            last_updated_timestamp: t(1_767_355_260),
            custom_status: Some("\"step 2\"".into()),
            failure_details: Some(dt::TaskFailureDetails {
                error_message: "bad\nthing".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let all = Filter::default();
        let r = row("default", "app", "i", &state, &all).unwrap();
        assert_eq!(r.created, "2026-01-02T12:00:00Z");
        assert_eq!(r.last_update, "2026-01-02T12:01:00Z");
        assert_eq!(r.runtime_status, "FAILED");
        assert_eq!(r.failure_message, "badthing");
        let f = |f: Filter| row("default", "app", "i", &state, &f).is_some();
        assert!(f(Filter {
            terminal: true,
            ..all.clone()
        }));
        assert!(!f(Filter {
            name: Some("other".into()),
            ..all.clone()
        }));
        assert!(f(Filter {
            status: Some("FAILED".into()),
            ..all.clone()
        }));
        assert!(!f(Filter {
            status: Some("RUNNING".into()),
            ..all.clone()
        }));
        let later = DateTime::from_timestamp(1_767_355_300, 0);
        assert!(!f(Filter {
            max_age: later,
            ..all.clone()
        }));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["appID"], "app");
        assert_eq!(json["instanceID"], "i");
        assert_eq!(json["customStatus"], "\"step 2\"");
        assert!(json.get("createdAt").is_none());
        assert_eq!(status_name(99), "UNKNOWN");
        assert_eq!(
            status_name(OrchestrationStatus::ContinuedAsNew as i32),
            "CONTINUED_AS_NEW"
        );
    }

    #[test]
    fn payloads_are_json_strings() {
        assert_eq!(json_string("hello"), "\"hello\"");
        assert_eq!(json_string("{\"a\":1}"), "\"{\\\"a\\\":1}\"");
    }
}

//! Workflows: start, get, terminate, raise an event, pause, resume and purge an instance
//! of this app's workflows, over the workflow [`Engine`] (the same one the Durable Task
//! SDKs drive through `TaskHubSidecarService`). Checks and errors as upstream's
//! `pkg/api/universal/workflow.go`:
//!
//! * the instance id must be there (`ERR_INSTANCE_ID_PROVIDED_MISSING`); a new one (start
//!   makes a random UUID when none is given) is at most 64 bytes of letters, digits, `-`
//!   and `_` (`ERR_INSTANCE_ID_TOO_LONG`, `ERR_INSTANCE_ID_INVALID`);
//! * start needs a workflow name, raise an event name;
//! * an unknown instance is 404 `ERR_INSTANCE_ID_NOT_FOUND` for terminate and purge; get
//!   answers `None` (the HTTP adapter turns it into that 404, gRPC answers an empty
//!   response, as upstream); every other failure is the call's own 500 code.
//!
//! Terminate and purge are recursive (child workflows too), as upstream's API always asks.
//! The optional `appID` of a call must name this app: cross-app workflow calls are not
//! served by this daprd (`ERR_API_UNIMPLEMENTED`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Api;
use crate::sidecar::api::error::ApiError;
use crate::sidecar::workflows::{Engine, InstanceInfo, Status, WfError};

/// The `options` key of `StartWorkflowRequest` that delays the start (RFC 3339).
pub const START_TIME_OPTION: &str = "dapr.workflow.start_time";

/// Upstream's limit, kept short for state stores with small key limits.
const MAX_INSTANCE_ID_LEN: usize = 64;

/// `StartWorkflowRequest`.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    /// Empty: a random UUID.
    pub instance_id: String,
    pub workflow_name: String,
    /// The raw input (JSON text for the SDK workers); empty means none.
    pub input: Vec<u8>,
    pub options: HashMap<String, String>,
    pub app_id: Option<String>,
}

/// `GetWorkflowResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    pub instance_id: String,
    pub workflow_name: String,
    pub created_at: DateTime<Utc>,
    pub last_updated_at: DateTime<Utc>,
    /// `RUNNING`, `COMPLETED`, ... (`UNKNOWN` for a status upstream does not name).
    pub runtime_status: &'static str,
    /// `dapr.workflow.input`, `.output`, `.custom_status`, `.failure.error_type`,
    /// `.failure.error_message`, `.failure.stack_trace`.
    pub properties: BTreeMap<String, String>,
}

/// Upstream's names for the runtime statuses; it has none for `STALLED`.
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Stalled => "UNKNOWN",
        other => other.as_str(),
    }
}

impl From<InstanceInfo> for Workflow {
    fn from(i: InstanceInfo) -> Workflow {
        let mut properties = BTreeMap::new();
        if let Some(s) = i.custom_status {
            properties.insert("dapr.workflow.custom_status".to_string(), s);
        }
        if let Some(s) = i.input {
            properties.insert("dapr.workflow.input".to_string(), s);
        }
        match i.failure {
            // A failed workflow has no output, only its failure.
            Some(f) => {
                properties.insert("dapr.workflow.failure.error_type".into(), f.error_type);
                properties.insert(
                    "dapr.workflow.failure.error_message".into(),
                    f.error_message,
                );
                if let Some(t) = f.stack_trace {
                    properties.insert("dapr.workflow.failure.stack_trace".into(), t);
                }
            }
            None => {
                if let Some(s) = i.output {
                    properties.insert("dapr.workflow.output".to_string(), s);
                }
            }
        }
        Workflow {
            instance_id: i.instance_id,
            workflow_name: i.name,
            created_at: i.created_at,
            last_updated_at: i.last_updated_at,
            runtime_status: status_name(i.status),
            properties,
        }
    }
}

/// The workflow calls of one sidecar.
pub struct WorkflowsApi<'a> {
    engine: &'a Arc<Engine>,
    app_id: &'a str,
}

impl Api {
    /// The workflow API over this sidecar's engine.
    pub fn workflows(&self) -> WorkflowsApi<'_> {
        WorkflowsApi {
            engine: self.workflow_engine(),
            app_id: &self.app_id,
        }
    }
}

/// Letters, digits, `-` and `_` only (upstream's `unicode.IsLetter`/`IsDigit`).
fn valid_id_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphabetic() || c.is_numeric() || c == '-' || c == '_')
}

/// Checks an instance id; a new one (`create`) also for length and characters.
pub fn check_instance_id(id: &str, create: bool) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::workflow_instance_id_missing());
    }
    if create {
        if id.len() > MAX_INSTANCE_ID_LEN {
            return Err(ApiError::workflow_instance_id_too_long(MAX_INSTANCE_ID_LEN));
        }
        if !valid_id_chars(id) {
            return Err(ApiError::workflow_instance_id_invalid(id));
        }
    }
    Ok(())
}

/// Payloads are JSON text for the SDK workers; empty means none. Bytes that are not UTF-8
/// cannot travel in the protocol's string fields.
fn payload(bytes: Vec<u8>) -> Result<Option<String>, &'static str> {
    if bytes.is_empty() {
        return Ok(None);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "string field contains invalid UTF-8")
}

impl WorkflowsApi<'_> {
    /// Cross-app calls (`appID` other than this app's) are refused.
    fn check_app_id(&self, app_id: Option<&str>) -> Result<(), ApiError> {
        match app_id {
            None | Some("") => Ok(()),
            Some(id) if id == self.app_id => Ok(()),
            Some(id) if !valid_id_chars(id) => Err(ApiError::workflow_app_id_invalid(id)),
            Some(id) => Err(ApiError::unimplemented(&format!(
                "calling the workflows of another app (appID={id})"
            ))),
        }
    }

    /// Starts an instance; answers its id. Without a start time the call returns once the
    /// instance's first turn ran (the engine waits for it).
    pub async fn start(&self, req: StartRequest) -> Result<String, ApiError> {
        let id = if req.instance_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            req.instance_id
        };
        check_instance_id(&id, true)?;
        let name = req.workflow_name;
        if name.is_empty() {
            return Err(ApiError::workflow_name_missing());
        }
        self.check_app_id(req.app_id.as_deref())?;
        let start_at = match req.options.get(START_TIME_OPTION) {
            None => None,
            Some(t) => Some(
                DateTime::parse_from_rfc3339(t)
                    .map_err(|_| {
                        ApiError::workflow_start(
                            &name,
                            "start times must be in RFC3339 format (e.g. \"2009-11-10T23:00:00Z\")",
                        )
                    })?
                    .with_timezone(&Utc),
            ),
        };
        let input = payload(req.input).map_err(|e| ApiError::workflow_start(&name, e))?;
        self.engine
            .start(&name, &id, input, start_at)
            .await
            .map_err(|e| {
                ApiError::workflow_start(&name, format!("unable to start workflow: {e}"))
            })?;
        Ok(id)
    }

    /// The instance, `None` when there is none.
    pub async fn get(&self, id: &str, app_id: Option<&str>) -> Result<Option<Workflow>, ApiError> {
        check_instance_id(id, false)?;
        self.check_app_id(app_id)?;
        match self.engine.get(id).await {
            Ok(found) => Ok(found.map(Workflow::from)),
            Err(WfError::NotFound) => Ok(None),
            Err(e) => Err(ApiError::workflow_get(id, e)),
        }
    }

    /// Terminates the instance and its children.
    pub async fn terminate(&self, id: &str, app_id: Option<&str>) -> Result<(), ApiError> {
        check_instance_id(id, false)?;
        self.check_app_id(app_id)?;
        self.engine
            .terminate(id, None, true)
            .await
            .map_err(|e| match e {
                WfError::NotFound => ApiError::workflow_instance_not_found(id),
                e => ApiError::workflow_terminate(id, e),
            })
    }

    /// Raises `event` on the instance with `data` (raw; empty means none).
    pub async fn raise_event(
        &self,
        id: &str,
        event: &str,
        data: Vec<u8>,
        app_id: Option<&str>,
    ) -> Result<(), ApiError> {
        check_instance_id(id, false)?;
        if event.is_empty() {
            return Err(ApiError::workflow_event_name_missing());
        }
        self.check_app_id(app_id)?;
        let data = payload(data).map_err(|e| ApiError::workflow_raise_event(id, event, e))?;
        self.engine
            .raise_event(id, event, data)
            .await
            .map_err(|e| ApiError::workflow_raise_event(id, event, e))
    }

    pub async fn pause(&self, id: &str, app_id: Option<&str>) -> Result<(), ApiError> {
        check_instance_id(id, false)?;
        self.check_app_id(app_id)?;
        self.engine
            .suspend(id, None)
            .await
            .map_err(|e| ApiError::workflow_pause(id, e))
    }

    pub async fn resume(&self, id: &str, app_id: Option<&str>) -> Result<(), ApiError> {
        check_instance_id(id, false)?;
        self.check_app_id(app_id)?;
        self.engine
            .resume(id, None)
            .await
            .map_err(|e| ApiError::workflow_resume(id, e))
    }

    /// Purges a finished instance and its children.
    pub async fn purge(&self, id: &str, app_id: Option<&str>) -> Result<(), ApiError> {
        check_instance_id(id, false)?;
        self.check_app_id(app_id)?;
        match self.engine.purge(id, true).await {
            Ok(_) => Ok(()),
            Err(WfError::NotFound) => Err(ApiError::workflow_instance_not_found(id)),
            Err(e) => Err(ApiError::workflow_purge(id, e)),
        }
    }

    /// Open `GetWorkItems` streams (`workflows.connectedWorkers` of the metadata).
    pub fn connected_workers(&self) -> usize {
        self.engine.connected_workers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sidecar::api::error::ErrorKind;
    use crate::sidecar::workflows::Failure;

    #[test]
    fn instance_ids_as_upstream() {
        let kind = |id: &str, create| check_instance_id(id, create).unwrap_err().kind;
        assert_eq!(kind("", false), ErrorKind::WorkflowInstanceIdMissing);
        assert_eq!(kind("", true), ErrorKind::WorkflowInstanceIdMissing);
        assert_eq!(
            kind(&"a".repeat(65), true),
            ErrorKind::WorkflowInstanceIdTooLong
        );
        check_instance_id(&"a".repeat(64), true).unwrap();
        // Bytes count, not characters: 33 two-byte letters are too long.
        assert_eq!(
            kind(&"é".repeat(33), true),
            ErrorKind::WorkflowInstanceIdTooLong
        );
        check_instance_id("Ünïcode-ok_42", true).unwrap();
        for bad in ["a b", "a.b", "a/b", "a||b", "a:b"] {
            let e = check_instance_id(bad, true).unwrap_err();
            assert_eq!(e.kind, ErrorKind::WorkflowInstanceIdInvalid, "{bad}");
            assert_eq!(
                e.message,
                format!(
                    "workflow instance ID '{bad}' is invalid: only alphanumeric and underscore characters are allowed"
                )
            );
            // Only new ids are checked for their characters.
            check_instance_id(bad, false).unwrap();
        }
        let e = check_instance_id(&"x".repeat(65), true).unwrap_err();
        assert_eq!(
            e.message,
            "workflow instance ID exceeds the max length of 64 characters"
        );
        assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn properties_as_upstream() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let info = InstanceInfo {
            instance_id: "i".into(),
            name: "wf".into(),
            status: Status::Failed,
            created_at: t,
            last_updated_at: t,
            input: Some("1".into()),
            output: Some("\"boom\"".into()),
            custom_status: None,
            failure: Some(Failure {
                error_type: "ValueError".into(),
                error_message: "boom".into(),
                stack_trace: None,
            }),
            parent_instance_id: None,
            execution_id: None,
        };
        let w = Workflow::from(info.clone());
        assert_eq!(w.runtime_status, "FAILED");
        let keys: Vec<&str> = w.properties.keys().map(String::as_str).collect();
        // The output of a failed workflow is not reported; no custom status, no trace.
        assert_eq!(
            keys,
            [
                "dapr.workflow.failure.error_message",
                "dapr.workflow.failure.error_type",
                "dapr.workflow.input"
            ]
        );
        let done = Workflow::from(InstanceInfo {
            status: Status::Completed,
            failure: None,
            custom_status: Some("\"ok\"".into()),
            ..info.clone()
        });
        assert_eq!(done.properties["dapr.workflow.output"], "\"boom\"");
        assert_eq!(done.properties["dapr.workflow.custom_status"], "\"ok\"");
        let stalled = Workflow::from(InstanceInfo {
            status: Status::Stalled,
            ..info
        });
        assert_eq!(stalled.runtime_status, "UNKNOWN");
    }

    #[test]
    fn payloads() {
        assert_eq!(payload(Vec::new()), Ok(None));
        assert_eq!(payload(b"{\"a\":1}".to_vec()), Ok(Some("{\"a\":1}".into())));
        assert!(payload(vec![0xff, 0xfe]).is_err());
    }
}

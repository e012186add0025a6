//! Workflow routes, on `/v1.0-alpha1`, `/v1.0-beta1` and `/v1.0`, under
//! `workflows/{component}/...` (the component is accepted and not checked, as upstream):
//! `POST {name}/start[?instanceID=]` (202 `{"instanceID"}`, the raw body is the input),
//! `GET {id}` (200, the instance as protojson; 404 when there is none),
//! `POST {id}/terminate|pause|resume|purge` and `POST {id}/raiseEvent/{event}` (the raw
//! body is the event data), all 202 with no body. Every route takes an optional `appID`
//! query parameter.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::decode::{parse_query, query_param};
use super::edge::{drain, read_body};
use super::{HttpState, St, json_response};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::api::universal::workflows::{StartRequest, Workflow};

const VERSIONS: [&str; 3] = ["/v1.0-alpha1", "/v1.0-beta1", "/v1.0"];

pub(super) fn routes() -> Router<Arc<HttpState>> {
    let mut r = Router::new();
    for v in VERSIONS {
        let base = format!("{v}/workflows/{{component}}/{{id}}");
        r = r
            .route(&base, get(get_workflow))
            .route(&format!("{base}/start"), post(start))
            .route(&format!("{base}/terminate"), control(Control::Terminate))
            .route(&format!("{base}/pause"), control(Control::Pause))
            .route(&format!("{base}/resume"), control(Control::Resume))
            .route(&format!("{base}/purge"), control(Control::Purge))
            .route(&format!("{base}/raiseEvent/{{event}}"), post(raise_event));
    }
    r
}

/// The `instanceID` and `appID` query parameters.
fn params(q: Option<String>) -> (String, Option<String>) {
    let (_, params) = parse_query(q.as_deref());
    let instance = query_param(&params, "instanceID").unwrap_or("").to_string();
    let app = query_param(&params, "appID")
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    (instance, app)
}

fn accepted(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_response(),
    }
}

/// protojson's timestamps: RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits.
fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `GetWorkflowResponse` as protojson (empty fields left out).
pub(super) fn encode(w: &Workflow) -> Value {
    let mut m = Map::new();
    m.insert("instanceID".into(), w.instance_id.clone().into());
    if !w.workflow_name.is_empty() {
        m.insert("workflowName".into(), w.workflow_name.clone().into());
    }
    m.insert("createdAt".into(), timestamp(w.created_at).into());
    m.insert("lastUpdatedAt".into(), timestamp(w.last_updated_at).into());
    m.insert("runtimeStatus".into(), w.runtime_status.into());
    if !w.properties.is_empty() {
        m.insert("properties".into(), json!(w.properties));
    }
    Value::Object(m)
}

async fn start(
    State(s): St,
    Path((_component, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    let input = match read_body(&s, body).await {
        Ok(b) => b.to_vec(),
        Err(e) => return e.into_response(),
    };
    let (instance_id, app_id) = params(q);
    let req = StartRequest {
        instance_id,
        workflow_name: name,
        input,
        app_id,
        ..StartRequest::default()
    };
    match s.api.workflows().start(req).await {
        Ok(id) => json_response(
            StatusCode::ACCEPTED,
            json!({ "instanceID": id }).to_string(),
        ),
        Err(e) => e.into_response(),
    }
}

async fn get_workflow(
    State(s): St,
    Path((_component, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let (_, app_id) = params(q);
    match s.api.workflows().get(&id, app_id.as_deref()).await {
        Ok(Some(w)) => json_response(StatusCode::OK, encode(&w).to_string()),
        Ok(None) => ApiError::workflow_instance_not_found(&id).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The operations on an instance that take no body.
#[derive(Clone, Copy)]
enum Control {
    Terminate,
    Pause,
    Resume,
    Purge,
}

/// `POST {id}/terminate|pause|resume|purge`: the body is read and ignored, 202 on success.
fn control(op: Control) -> MethodRouter<Arc<HttpState>> {
    post(
        move |State(s): St,
              Path((_component, id)): Path<(String, String)>,
              RawQuery(q): RawQuery,
              body: Body| async move {
            drain(body).await;
            let (_, app_id) = params(q);
            let (wf, app_id) = (s.api.workflows(), app_id.as_deref());
            accepted(match op {
                Control::Terminate => wf.terminate(&id, app_id).await,
                Control::Pause => wf.pause(&id, app_id).await,
                Control::Resume => wf.resume(&id, app_id).await,
                Control::Purge => wf.purge(&id, app_id).await,
            })
        },
    )
}

async fn raise_event(
    State(s): St,
    Path((_component, id, event)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    let data = match read_body(&s, body).await {
        Ok(b) => b.to_vec(),
        Err(e) => return e.into_response(),
    };
    let (_, app_id) = params(q);
    accepted(
        s.api
            .workflows()
            .raise_event(&id, &event, data, app_id.as_deref())
            .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn get_response_is_protojson() {
        let t = chrono::DateTime::parse_from_rfc3339("2023-05-03T23:22:11.143069826Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let whole = chrono::DateTime::parse_from_rfc3339("2023-05-03T23:22:12Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let w = Workflow {
            instance_id: "12345678".into(),
            workflow_name: "OrderProcessingWorkflow".into(),
            created_at: t,
            last_updated_at: whole,
            runtime_status: "RUNNING",
            properties: BTreeMap::from([(
                "dapr.workflow.input".to_string(),
                "{\"a\":1}".to_string(),
            )]),
        };
        assert_eq!(
            encode(&w),
            json!({
                "instanceID": "12345678",
                "workflowName": "OrderProcessingWorkflow",
                "createdAt": "2023-05-03T23:22:11.143069826Z",
                "lastUpdatedAt": "2023-05-03T23:22:12Z",
                "runtimeStatus": "RUNNING",
                "properties": {"dapr.workflow.input": "{\"a\":1}"}
            })
        );
        let bare = Workflow {
            properties: BTreeMap::new(),
            workflow_name: String::new(),
            ..w
        };
        let v = encode(&bare);
        assert!(v.get("properties").is_none() && v.get("workflowName").is_none());
    }

    #[test]
    fn query_parameters() {
        assert_eq!(params(None), (String::new(), None));
        assert_eq!(
            params(Some("instanceID=abc&appID=app1".into())),
            ("abc".to_string(), Some("app1".to_string()))
        );
        assert_eq!(params(Some("appID=".into())).1, None);
    }
}

//! Health, metadata and shutdown routes. The metadata document is the typed
//! [`Metadata`] encoded with upstream's JSON field names; empty fields are omitted as Go's
//! `omitempty` does.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use super::decode::{parse_query, query_param};
use super::edge::{drain, read_body};
use super::{HttpState, St, empty_or_error, json_response, no_content};
use crate::sidecar::api::universal::health::ShutdownRequest;
use crate::sidecar::api::universal::metadata::Metadata;

pub(super) fn routes() -> Router<Arc<HttpState>> {
    public_routes()
        .route("/v1.0/metadata/{key}", put(metadata_put))
        .route("/v1.0/shutdown", post(shutdown))
}

/// What `--dapr-public-port` serves too.
pub(super) fn public_routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/v1.0/healthz", get(healthz))
        .route("/v1.0/healthz/outbound", get(healthz_outbound))
        .route("/v1.0/metadata", get(metadata_get))
}

async fn healthz(State(s): St, RawQuery(q): RawQuery) -> Response {
    let (_, params) = parse_query(q.as_deref());
    empty_or_error(s.api.health.check(query_param(&params, "appid")))
}

async fn healthz_outbound(State(s): St) -> Response {
    empty_or_error(s.api.health.outbound())
}

async fn metadata_get(State(s): St) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&encode(&s.api.get_metadata().await)).unwrap_or_default(),
    )
}

async fn metadata_put(State(s): St, Path(key): Path<String>, body: Body) -> Response {
    match read_body(&s, body).await {
        Ok(b) => {
            s.api
                .metadata
                .set_extended(&key, String::from_utf8_lossy(&b).into_owned());
            no_content()
        }
        Err(e) => e.into_response(),
    }
}

async fn shutdown(State(s): St, headers: HeaderMap, body: Body) -> Response {
    drain(body).await;
    let force = headers.get("dapr-force-shutdown");
    s.api
        .health
        .request_shutdown(ShutdownRequest::from_force_header(
            force.and_then(|v| v.to_str().ok()),
        ));
    no_content()
}

/// The `GET /v1.0/metadata` document, with upstream's field names.
fn encode(m: &Metadata) -> Value {
    let mut doc = Map::new();
    doc.insert("id".into(), m.id.clone().into());
    doc.insert("runtimeVersion".into(), m.runtime_version.clone().into());
    if !m.enabled_features.is_empty() {
        doc.insert("enabledFeatures".into(), json!(m.enabled_features));
    }
    if !m.components.is_empty() {
        let list: Vec<Value> = m
            .components
            .iter()
            .map(|c| {
                let mut e = Map::new();
                e.insert("name".into(), c.name.clone().into());
                e.insert("type".into(), c.component_type.clone().into());
                e.insert("version".into(), c.version.clone().into());
                if !c.capabilities.is_empty() {
                    e.insert("capabilities".into(), json!(c.capabilities));
                }
                Value::Object(e)
            })
            .collect();
        doc.insert("components".into(), Value::Array(list));
    }
    doc.insert("extended".into(), json!(m.extended));
    if !m.subscriptions.is_empty() {
        let list: Vec<Value> = m
            .subscriptions
            .iter()
            .map(|s| {
                let mut e = Map::new();
                e.insert("pubsubname".into(), s.pubsub_name.clone().into());
                e.insert("topic".into(), s.topic.clone().into());
                if !s.metadata.is_empty() {
                    e.insert("metadata".into(), json!(s.metadata));
                }
                let rules: Vec<Value> = s
                    .rules
                    .iter()
                    .map(|(m, p)| {
                        let mut r = Map::new();
                        if !m.is_empty() {
                            r.insert("match".into(), m.clone().into());
                        }
                        r.insert("path".into(), p.clone().into());
                        Value::Object(r)
                    })
                    .collect();
                e.insert("rules".into(), Value::Array(rules));
                if !s.dead_letter_topic.is_empty() {
                    e.insert("deadLetterTopic".into(), s.dead_letter_topic.clone().into());
                }
                e.insert("type".into(), s.kind.as_str().into());
                Value::Object(e)
            })
            .collect();
        doc.insert("subscriptions".into(), Value::Array(list));
    }
    let app = &m.app_connection;
    let mut conn = Map::new();
    if let Some(p) = app.port {
        conn.insert("port".into(), p.into());
    }
    conn.insert("protocol".into(), app.protocol.clone().into());
    conn.insert("channelAddress".into(), app.channel_address.clone().into());
    if let Some(c) = app.max_concurrency {
        conn.insert("maxConcurrency".into(), c.into());
    }
    if let Some(h) = &app.health {
        conn.insert(
            "health".into(),
            json!({
                "healthCheckPath": h.path,
                "healthProbeInterval": h.interval,
                "healthProbeTimeout": h.timeout,
                "healthThreshold": h.threshold,
            }),
        );
    }
    doc.insert("appConnectionProperties".into(), Value::Object(conn));
    let active: Vec<Value> = m
        .actor_runtime
        .active_actors
        .iter()
        .map(|(t, n)| json!({"type": t, "count": n}))
        .collect();
    // The deprecated top-level alias upstream still sends.
    doc.insert("actors".into(), Value::Array(active.clone()));
    doc.insert(
        "actorRuntime".into(),
        json!({
            "runtimeStatus": m.actor_runtime.status.as_str(),
            "activeActors": active,
            "hostReady": m.actor_runtime.host_ready,
            "placement": m.actor_runtime.placement,
        }),
    );
    if !m.scheduler.is_empty() {
        doc.insert(
            "scheduler".into(),
            json!({"connected_addresses": m.scheduler}),
        );
    }
    // Always there (a struct upstream); the count only when non-zero (`omitempty`).
    let mut workflows = Map::new();
    if m.workflow_workers > 0 {
        workflows.insert("connectedWorkers".into(), m.workflow_workers.into());
    }
    doc.insert("workflows".into(), Value::Object(workflows));
    Value::Object(doc)
}

//! State routes: `/v1.0/state/{store}` (save), `/{key}` (get, delete), `/bulk`,
//! `/transaction`, and `/v1.0-alpha1/state/{store}/query`. Values are JSON: written as the
//! compact re-serialisation of the item's `value`, read back verbatim.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::decode::*;
use super::edge::{drain, read_body};
use super::{HttpState, St, json_response, no_content};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::components::state::{DeleteRequest, StateOptions, TransactionOp};

pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/v1.0/state/{store}", post(state_save).put(state_save))
        // `bulk` and `transaction` share the `{key}` segment, so GET/DELETE of keys with
        // those names keep working; other POST/PUT paths fall back to invocation.
        .route(
            "/v1.0/state/{store}/{key}",
            get(state_get)
                .delete(state_delete)
                .post(state_post)
                .put(state_post),
        )
        .route(
            "/v1.0-alpha1/state/{store}/query",
            post(state_query).put(state_query),
        )
}

async fn state_save(
    State(s): St,
    Path(store): Path<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    let result = async {
        let body = read_body(&s, body).await?;
        s.api.state.store(&store)?;
        // `metadata.*` query parameters apply to every item and win over the item's own
        // (the JS SDK sends its `metadata` option this way).
        let (qmeta, _) = parse_query(q.as_deref());
        let items = match parse_json(&body)? {
            Value::Array(items) => items,
            _ => {
                return Err(ApiError::malformed_request(
                    "expected a JSON array of state items",
                ));
            }
        };
        let reqs = items
            .into_iter()
            .map(|item| match item {
                Value::Object(m) => set_request(m).map(|mut r| {
                    r.metadata.extend(qmeta.clone());
                    r
                }),
                _ => Err(ApiError::malformed_request(
                    "each state item must be a JSON object",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        s.api.state.save(&store, reqs).await
    }
    .await;
    match result {
        Ok(()) => no_content(),
        Err(e) => e.into_response(),
    }
}

async fn state_get(
    State(s): St,
    Path((store, key)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let (meta, params) = parse_query(q.as_deref());
    if let Err(e) = consistency(query_param(&params, "consistency")) {
        return e.into_response();
    }
    match s.api.state.get(&store, &key, &meta).await {
        Ok(Some(got)) => {
            let mut res = json_response(StatusCode::OK, got.data);
            let h = res.headers_mut();
            if let Some(etag) = got
                .etag
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                h.insert(header::ETAG, etag);
            }
            for (k, v) in &got.metadata {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(format!("metadata.{k}")),
                    HeaderValue::from_str(v),
                ) {
                    h.insert(name, value);
                }
            }
            res
        }
        Ok(None) => no_content(),
        Err(e) => e.into_response(),
    }
}

async fn state_delete(
    State(s): St,
    Path((store, key)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let (metadata, params) = parse_query(q.as_deref());
        let etag = headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let req = DeleteRequest {
            key,
            etag,
            metadata,
            options: StateOptions {
                concurrency: concurrency(query_param(&params, "concurrency"))?,
                consistency: consistency(query_param(&params, "consistency"))?,
            },
        };
        s.api.state.delete(&store, req).await
    }
    .await;
    match result {
        Ok(()) => no_content(),
        Err(e) => e.into_response(),
    }
}

#[derive(Serialize)]
struct BulkOut {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Stored bytes embedded in a bulk response: verbatim when they are JSON, else as a JSON
/// string (upstream's encoder fails on such values).
fn raw_json(data: &[u8]) -> Option<Box<RawValue>> {
    let text = String::from_utf8_lossy(data);
    serde_json::from_str::<Box<RawValue>>(&text)
        .or_else(|_| RawValue::from_string(Value::String(text.into_owned()).to_string()))
        .ok()
}

/// POST/PUT `/v1.0/state/{store}/bulk|transaction`.
async fn state_post(
    State(s): St,
    Path((store, op)): Path<(String, String)>,
    req: Request,
) -> Response {
    let q = req.uri().query().map(str::to_string);
    match op.as_str() {
        "bulk" => state_bulk(s, store, q, req.into_body()).await,
        "transaction" => state_transaction(s, store, q, req.into_body()).await,
        _ => super::invoke::handle(State(s), req).await,
    }
}

async fn state_bulk(s: Arc<HttpState>, store: String, q: Option<String>, body: Body) -> Response {
    let result = async {
        let body = read_body(&s, body).await?;
        s.api.state.store(&store)?;
        let Value::Object(mut m) = parse_json(&body)? else {
            return Err(ApiError::malformed_request(
                "expected a JSON object with \"keys\"",
            ));
        };
        let keys = match take(&mut m, "keys") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .into_iter()
                .map(|k| match k {
                    Value::String(s) => Ok(s),
                    _ => Err(type_error("keys", "an array of strings")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(type_error("keys", "an array of strings")),
        };
        let parallelism = match take(&mut m, "parallelism") {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
            _ => 0,
        };
        let mut metadata = metadata_map(take(&mut m, "metadata"), "metadata")?;
        let (qmeta, _) = parse_query(q.as_deref());
        metadata.extend(qmeta);
        let items = s
            .api
            .state
            .bulk_get(
                &store,
                keys,
                if parallelism == 0 { 100 } else { parallelism },
                &metadata,
            )
            .await?;
        let out: Vec<BulkOut> = items
            .into_iter()
            .map(|i| BulkOut {
                key: i.key,
                data: i.data.as_deref().and_then(raw_json),
                etag: i.etag,
                metadata: i.metadata.into_iter().collect(),
                error: i.error,
            })
            .collect();
        serde_json::to_vec(&out).map_err(ApiError::malformed_request)
    }
    .await;
    match result {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => e.into_response(),
    }
}

async fn state_transaction(
    s: Arc<HttpState>,
    store: String,
    q: Option<String>,
    body: Body,
) -> Response {
    let result = async {
        let body = read_body(&s, body).await?;
        s.api.state.store(&store)?;
        let Value::Object(mut m) = parse_json(&body)? else {
            return Err(ApiError::malformed_request(
                "expected a JSON object with \"operations\"",
            ));
        };
        let (qmeta, _) = parse_query(q.as_deref());
        let mut metadata = metadata_map(take(&mut m, "metadata"), "metadata")?;
        metadata.extend(qmeta.clone());
        let raw_ops = match take(&mut m, "operations") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(type_error("operations", "an array")),
        };
        let mut ops = Vec::with_capacity(raw_ops.len());
        for op in raw_ops {
            let Value::Object(mut om) = op else {
                return Err(type_error("operations[]", "an object"));
            };
            let kind = opt_string(take(&mut om, "operation"), "operation")?.unwrap_or_default();
            let request = match take(&mut om, "request") {
                Some(Value::Object(r)) => r,
                None | Some(Value::Null) => Map::new(),
                Some(_) => return Err(type_error("request", "an object")),
            };
            let op = match kind.as_str() {
                "upsert" => {
                    let mut r = set_request(request)?;
                    r.metadata.extend(qmeta.clone());
                    TransactionOp::Upsert(r)
                }
                "delete" => {
                    let mut r = delete_request(request)?;
                    r.metadata.extend(qmeta.clone());
                    TransactionOp::Delete(r)
                }
                other => return Err(ApiError::unsupported_state_operation(other)),
            };
            ops.push(op);
        }
        s.api.state.transact(&store, ops, &metadata).await
    }
    .await;
    match result {
        Ok(()) => no_content(),
        Err(e) => e.into_response(),
    }
}

async fn state_query(State(s): St, Path(store): Path<String>, body: Body) -> Response {
    drain(body).await;
    match s.api.state.query(&store) {
        Ok(()) => no_content(),
        Err(e) => e.into_response(),
    }
}

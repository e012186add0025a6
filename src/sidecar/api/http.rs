//! The HTTP API adapter (`/v1.0/...`): decodes requests the way the official daprd does
//! (Go-style case-insensitive JSON field names, `metadata.*` query parameters, `If-Match`),
//! calls the protocol-neutral [`Core`], and renders results with upstream's status codes.
//!
//! [`router`] builds the routes (testable with `oneshot`, no socket); [`service`] wraps it
//! with what happens before routing: path cleaning (`path.Clean`, trailing slash stripped).
//! The edge middleware enforces the header limit (`--read-buffer-size`), `DAPR_API_TOKEN`
//! and `--max-body-size` and does API logging. Unmatched routes go to service invocation,
//! as upstream.
//! Not served: actors, configuration, workflows. Publish, output bindings and secrets
//! answer the official "not found / not configured" errors (no such components load
//! here); the state query API answers `ERR_STATE_STORE_NOT_SUPPORTED`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::core::{Core, ShutdownRequest};
use super::error::ApiError;
use crate::sidecar::components::state::{
    Concurrency, Consistency, DeleteRequest, Metadata, SetRequest, StateOptions, TransactionOp,
};
use crate::sidecar::invoke::Invoker;
use crate::sidecar::log;

/// What the HTTP handlers share.
pub struct HttpState {
    pub core: Arc<Core>,
    /// `None` only in tests without sockets: invocation then answers `ERR_DIRECT_INVOKE`.
    pub invoker: Option<Arc<Invoker>>,
    pub max_body_size: usize,
    /// Request line plus headers larger than this get 431: `--read-buffer-size` plus the
    /// 4 KiB of slack Go's `MaxHeaderBytes` allows.
    pub max_header_bytes: usize,
    pub api_token: Option<String>,
    pub api_logging: bool,
    pub api_logging_omit_health_checks: bool,
    /// `--allowed-origins`; empty: no CORS headers.
    pub allowed_origins: Vec<String>,
}

type St = State<Arc<HttpState>>;

/// The full API router (served on every `--dapr-listen-addresses` address).
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/v1.0/healthz", get(healthz))
        .route("/v1.0/healthz/outbound", get(healthz_outbound))
        .route("/v1.0/metadata", get(metadata_get))
        .route("/v1.0/metadata/{key}", put(metadata_put))
        .route("/v1.0/shutdown", post(shutdown))
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
        // Building blocks without components here: their own errors, not invocation.
        .route(
            "/v1.0/publish/{pubsub}/{*topic}",
            post(publish).put(publish),
        )
        .route(
            "/v1.0-alpha1/publish/bulk/{pubsub}/{*topic}",
            post(publish).put(publish),
        )
        .route("/v1.0/bindings/{name}", post(binding).put(binding))
        .route("/v1.0/secrets/{store}/{key}", get(secrets))
        .route("/v1.0/invoke/{*rest}", any(invoke))
        .fallback(invoke)
        .method_not_allowed_fallback(invoke)
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

/// The `--dapr-public-port` router: health and metadata only, no API token.
pub fn public_router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/v1.0/healthz", get(healthz))
        .route("/v1.0/healthz/outbound", get(healthz_outbound))
        .route("/v1.0/metadata", get(metadata_get))
        .with_state(state)
}

/// A router wrapped with path cleaning, ready for `axum::serve`.
pub fn service(router: Router) -> tower::util::MapRequest<Router, fn(Request) -> Request> {
    tower::ServiceExt::map_request(router, clean_request as fn(Request) -> Request)
}

// ---- edge: path cleaning, token, body limit, API logging ----

fn clean_request(mut req: Request) -> Request {
    let path = req.uri().path();
    let dirty = (path.len() > 1 && path.ends_with('/'))
        || path.contains("//")
        || path.contains("/./")
        || path.contains("/../")
        || path.ends_with("/.")
        || path.ends_with("/..");
    if !dirty {
        return req;
    }
    let cleaned = clean_path(path);
    let pq = match req.uri().query() {
        Some(q) => format!("{cleaned}?{q}"),
        None => cleaned,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(p) = pq.parse() {
        parts.path_and_query = Some(p);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Go's `path.Clean` for absolute paths (which also drops a trailing slash).
pub fn clean_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

fn token_exempt(method: &Method, path: &str) -> bool {
    method == Method::GET && matches!(path, "/v1.0/healthz" | "/v1.0/healthz/outbound")
}

/// CORS (only with `--allowed-origins`): answers preflights before any other check, and
/// marks responses to allowed origins.
async fn edge(state: St, req: Request, next: Next) -> Response {
    let s = &state.0;
    let origin = match req.headers().get(header::ORIGIN) {
        Some(o) if !s.allowed_origins.is_empty() => o.clone(),
        _ => return guard(state, req, next).await,
    };
    let allowed = s
        .allowed_origins
        .iter()
        .any(|a| a == "*" || a.as_bytes() == origin.as_bytes());
    if !allowed {
        return guard(state, req, next).await;
    }
    let allow_origin = if s.allowed_origins.iter().any(|a| a == "*") {
        HeaderValue::from_static("*")
    } else {
        origin
    };
    if req.method() == Method::OPTIONS
        && let Some(method) = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .cloned()
    {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, method);
        if let Some(asked) = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        }
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        return res;
    }
    let mut res = guard(state, req, next).await;
    res.headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    res
}

/// Bytes of the request head as sent on the wire (HTTP/1.1 framing).
fn head_size(req: &Request) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 12;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    line + headers + 2
}

/// Header limit, API token, body limit and API logging.
async fn guard(State(s): St, mut req: Request, next: Next) -> Response {
    if head_size(&req) > s.max_header_bytes {
        drain(req.into_body()).await;
        let mut res = (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "431 Request Header Fields Too Large",
        )
            .into_response();
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    if let Some(token) = &s.api_token {
        let ok = req
            .headers()
            .get("dapr-api-token")
            .is_some_and(|v| v.as_bytes() == token.as_bytes());
        if !ok && !token_exempt(req.method(), req.uri().path()) {
            drain(req.into_body()).await;
            let mut res = (StatusCode::UNAUTHORIZED, "invalid api token\n").into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return res;
        }
        req.headers_mut().remove("dapr-api-token");
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > s.max_body_size as u64) {
        // The body stays unread, so the connection cannot be reused: say so.
        let mut res = ApiError::body_too_large(s.max_body_size).into_response();
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    if !s.api_logging
        || (s.api_logging_omit_health_checks && req.uri().path().starts_with("/v1.0/healthz"))
    {
        return next.run(req).await;
    }
    let start = Instant::now();
    let method = format!("{} {}", req.method(), req.uri().path());
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let res = next.run(req).await;
    let code = res.status().as_u16().to_string();
    let duration = start.elapsed().as_millis().to_string();
    log::log_with(
        log::Level::Info,
        log::scope::API_LOG,
        "HTTP API Called",
        &[
            ("method", &method),
            ("useragent", &agent),
            ("code", &code),
            ("duration", &duration),
        ],
    );
    res
}

/// Reads and drops a small unread body so the keep-alive connection stays usable (hyper
/// closes a connection whose request body was left unread; Go's server drains it).
async fn drain(body: Body) {
    let _ = axum::body::to_bytes(body, 64 * 1024).await;
}

/// Reads a body up to `--max-body-size` (chunked bodies have no Content-Length to check).
async fn read_body(s: &HttpState, body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, s.max_body_size)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|src| src.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if too_large {
                ApiError::body_too_large(s.max_body_size)
            } else {
                ApiError::body_read(e)
            }
        })
}

// ---- query and JSON helpers ----

fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits a query string into `metadata.*` entries (first value wins) and plain parameters.
fn parse_query(q: Option<&str>) -> (Metadata, Vec<(String, String)>) {
    let mut meta = Metadata::new();
    let mut rest = Vec::new();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode_component(k), decode_component(v));
        match k.strip_prefix("metadata.") {
            Some(mk) => {
                meta.entry(mk.to_string()).or_insert(v);
            }
            None => rest.push((k, v)),
        }
    }
    (meta, rest)
}

fn query_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Removes a field, matching its name exactly first and then case-insensitively, as Go's
/// JSON decoder does.
fn take(m: &mut Map<String, Value>, name: &str) -> Option<Value> {
    if let Some(v) = m.remove(name) {
        return Some(v);
    }
    let k = m.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    m.remove(&k)
}

fn type_error(field: &str, want: &str) -> ApiError {
    ApiError::malformed_request(format!("field {field:?} must be {want}"))
}

fn opt_string(v: Option<Value>, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(type_error(field, "a string")),
    }
}

fn metadata_map(v: Option<Value>, field: &str) -> Result<Metadata, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Metadata::new()),
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                _ => Err(type_error(&format!("{field}.{k}"), "a string")),
            })
            .collect(),
        Some(_) => Err(type_error(field, "an object of strings")),
    }
}

fn concurrency(v: Option<&str>) -> Result<Concurrency, ApiError> {
    match v.unwrap_or("") {
        "" => Ok(Concurrency::Unspecified),
        "last-write" => Ok(Concurrency::LastWrite),
        "first-write" => Ok(Concurrency::FirstWrite),
        other => Err(ApiError::bad_field(format!(
            "invalid concurrency {other:?}: valid values are first-write, last-write"
        ))),
    }
}

fn consistency(v: Option<&str>) -> Result<Consistency, ApiError> {
    match v.unwrap_or("") {
        "" | "eventual" => Ok(Consistency::Eventual),
        "strong" => Ok(Consistency::Strong),
        other => Err(ApiError::bad_field(format!(
            "invalid consistency {other:?}: valid values are eventual, strong"
        ))),
    }
}

fn options(v: Option<Value>) -> Result<StateOptions, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(StateOptions::default()),
        Some(Value::Object(mut m)) => Ok(StateOptions {
            concurrency: concurrency(
                opt_string(take(&mut m, "concurrency"), "options.concurrency")?.as_deref(),
            )?,
            consistency: consistency(
                opt_string(take(&mut m, "consistency"), "options.consistency")?.as_deref(),
            )?,
        }),
        Some(_) => Err(type_error("options", "an object")),
    }
}

/// The value bytes stored for an HTTP write: the JSON value re-serialised compactly (a
/// string keeps its quotes), as upstream does.
fn encode_value(v: Option<Value>) -> Bytes {
    Bytes::from(serde_json::to_vec(&v.unwrap_or(Value::Null)).unwrap_or_else(|_| b"null".to_vec()))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn required_key(v: Option<Value>) -> Result<String, ApiError> {
    match opt_string(v, "key")? {
        Some(k) if !k.is_empty() => Ok(k),
        _ => Err(ApiError::bad_field("\"key\" is a required field")),
    }
}

fn set_request(mut m: Map<String, Value>) -> Result<SetRequest, ApiError> {
    Ok(SetRequest {
        key: required_key(take(&mut m, "key"))?,
        value: encode_value(take(&mut m, "value")),
        etag: non_empty(opt_string(take(&mut m, "etag"), "etag")?),
        metadata: metadata_map(take(&mut m, "metadata"), "metadata")?,
        options: options(take(&mut m, "options"))?,
    })
}

fn delete_request(mut m: Map<String, Value>) -> Result<DeleteRequest, ApiError> {
    Ok(DeleteRequest {
        key: required_key(take(&mut m, "key"))?,
        etag: non_empty(opt_string(take(&mut m, "etag"), "etag")?),
        metadata: metadata_map(take(&mut m, "metadata"), "metadata")?,
        options: options(take(&mut m, "options"))?,
    })
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(ApiError::malformed_request)
}

fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut res = (status, body.into()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

// ---- health, metadata, shutdown ----

async fn healthz(State(s): St, RawQuery(q): RawQuery) -> Response {
    let (_, params) = parse_query(q.as_deref());
    match s.core.health(query_param(&params, "appid")) {
        Ok(()) => no_content(),
        Err(e) => e.into_response(),
    }
}

async fn healthz_outbound(State(s): St) -> Response {
    match s.core.outbound_health() {
        Ok(()) => no_content(),
        Err(e) => e.into_response(),
    }
}

async fn metadata_get(State(s): St) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&s.core.metadata()).unwrap_or_default(),
    )
}

async fn metadata_put(State(s): St, Path(key): Path<String>, body: Body) -> Response {
    match read_body(&s, body).await {
        Ok(b) => {
            s.core
                .set_extended(&key, String::from_utf8_lossy(&b).into_owned());
            no_content()
        }
        Err(e) => e.into_response(),
    }
}

async fn shutdown(State(s): St, headers: HeaderMap, body: Body) -> Response {
    drain(body).await;
    let force = headers.get("dapr-force-shutdown");
    s.core.request_shutdown(ShutdownRequest::from_force_header(
        force.and_then(|v| v.to_str().ok()),
    ));
    no_content()
}

// ---- state ----

async fn state_save(
    State(s): St,
    Path(store): Path<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    let result = async {
        let body = read_body(&s, body).await?;
        s.core.store(&store)?;
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
        s.core.save_state(&store, reqs).await
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
    match s.core.get_state(&store, &key, &meta).await {
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
        s.core.delete_state(&store, req).await
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
        _ => invoke(State(s), req).await,
    }
}

async fn state_bulk(s: Arc<HttpState>, store: String, q: Option<String>, body: Body) -> Response {
    let result = async {
        let body = read_body(&s, body).await?;
        s.core.store(&store)?;
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
            .core
            .bulk_get_state(
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
        s.core.store(&store)?;
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
        s.core.transact_state(&store, ops, &metadata).await
    }
    .await;
    match result {
        Ok(()) => no_content(),
        Err(e) => e.into_response(),
    }
}

/// None of the stores this daprd implements supports the query API (as upstream for
/// in-memory and sqlite; Redis needs RedisJSON, which is not supported here).
async fn state_query(State(s): St, Path(store): Path<String>, body: Body) -> Response {
    drain(body).await;
    match s.core.store(&store) {
        Ok(_) => ApiError::state_query_unsupported().into_response(),
        Err(e) => e.into_response(),
    }
}

// ---- building blocks without components in this daprd ----

async fn publish(Path((pubsub, _topic)): Path<(String, String)>, body: Body) -> Response {
    drain(body).await;
    ApiError::pubsub_not_found(&pubsub).into_response()
}

async fn binding(Path(name): Path<String>, body: Body) -> Response {
    drain(body).await;
    ApiError::output_binding_not_found(&name).into_response()
}

async fn secrets() -> Response {
    ApiError::secret_stores_not_configured().into_response()
}

// ---- invocation ----

async fn invoke(State(s): St, mut req: Request) -> Response {
    // An h2c caller's request goes on to the app over HTTP/1.1.
    *req.version_mut() = axum::http::Version::HTTP_11;
    let mut res = match &s.invoker {
        Some(inv) => inv.handle_http(req).await,
        None => return ApiError::direct_invoke_no_app_id().into_response(),
    };
    // The app's answer may carry its own HTTP version (1.0 for Python's `http.server`);
    // hyper would write that status line and drop keep-alive. (h2 connections ignore it.)
    *res.version_mut() = axum::http::Version::HTTP_11;
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sidecar::api::core::{CoreInfo, StoreEntry};
    use crate::sidecar::components::Component;
    use crate::sidecar::components::state::{KeyPrefix, memory::MemoryStore};
    use tower::ServiceExt;

    fn app(token: Option<&str>, with_store: bool) -> (Router, Arc<Core>) {
        let mut stores = Vec::new();
        if with_store {
            let comp = Component::new("statestore", "state.in-memory");
            stores.push(StoreEntry {
                name: "statestore".into(),
                store: Arc::new(MemoryStore::new()),
                prefix: KeyPrefix::from_component(&comp, "app1").unwrap(),
            });
        }
        let core = Arc::new(Core::new(
            CoreInfo {
                app_id: "app1".into(),
                runtime_version: "t".into(),
                ..Default::default()
            },
            stores,
            Vec::new(),
        ));
        let state = Arc::new(HttpState {
            core: core.clone(),
            invoker: None,
            max_body_size: 64,
            max_header_bytes: 8192,
            api_token: token.map(str::to_string),
            api_logging: false,
            api_logging_omit_health_checks: false,
            allowed_origins: Vec::new(),
        });
        (router(state), core)
    }

    async fn call(
        r: &Router,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, HeaderMap, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_string()))
            .unwrap();
        let res = service(r.clone()).oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn save_get_delete_round_trip() {
        let (r, _) = app(None, true);
        let (st, _, _) = call(
            &r,
            "POST",
            "/v1.0/state/statestore",
            r#"[{"Key":"k","value":{"a":1}}]"#,
        )
        .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, h, body) = call(&r, "GET", "/v1.0/state/statestore/k/", "").await;
        assert_eq!((st, body.as_str()), (StatusCode::OK, r#"{"a":1}"#));
        assert!(h.get("etag").is_some());
        let (st, _, _) = call(&r, "DELETE", "/v1.0/state/statestore/k", "").await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _, _) = call(&r, "GET", "/v1.0/state/statestore/k", "").await;
        assert_eq!(st, StatusCode::NO_CONTENT);
    }

    #[tokio::test]
    async fn keys_named_like_operations_still_work() {
        let (r, _) = app(None, true);
        let save = r#"[{"key":"bulk","value":1},{"key":"transaction","value":2}]"#;
        assert_eq!(
            call(&r, "POST", "/v1.0/state/statestore", save).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&r, "GET", "/v1.0/state/statestore/bulk", "").await.2,
            "1"
        );
        assert_eq!(
            call(&r, "GET", "/v1.0/state/statestore/transaction", "")
                .await
                .2,
            "2"
        );
        let (st, _, body) = call(
            &r,
            "POST",
            "/v1.0/state/statestore/bulk",
            r#"{"keys":["bulk"]}"#,
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert!(body.starts_with(r#"[{"key":"bulk","data":1,"#), "{body}");
        let (st, _, body) = call(&r, "POST", "/v1.0/state/statestore/other", "{}").await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(
            call(&r, "DELETE", "/v1.0/state/statestore/bulk", "")
                .await
                .0,
            StatusCode::NO_CONTENT
        );
    }

    #[tokio::test]
    async fn error_table() {
        let (r, _) = app(None, true);
        let (st, _, body) = call(&r, "POST", "/v1.0/state/nope", "[]").await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(body.contains("ERR_STATE_STORE_NOT_FOUND"), "{body}");
        let (st, _, body) = call(&r, "POST", "/v1.0/state/statestore", "[{").await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(body.contains("ERR_MALFORMED_REQUEST"), "{body}");
        let (st, _, body) = call(&r, "POST", "/v1.0/state/statestore", r#"[{"value":1}]"#).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(body.contains(r#"\"key\" is a required field"#), "{body}");
        let (st, _, body) = call(&r, "GET", "/v1.0/state/statestore/a||b", "").await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(body.contains("can't contain"), "{body}");
        let (st, _, body) = call(
            &r,
            "POST",
            "/v1.0/state/statestore",
            &format!("[{}]", "1,".repeat(40) + "1"),
        )
        .await;
        assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        let (r, _) = app(None, false);
        let (st, _, body) = call(&r, "GET", "/v1.0/state/statestore/k", "").await;
        assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("ERR_STATE_STORE_NOT_CONFIGURED"), "{body}");
    }

    #[tokio::test]
    async fn token_and_health() {
        let (r, core) = app(Some("s3cret"), true);
        let (st, _, body) = call(&r, "GET", "/v1.0/metadata", "").await;
        assert_eq!(
            (st, body.trim()),
            (StatusCode::UNAUTHORIZED, "invalid api token")
        );
        let (st, _, body) = call(&r, "GET", "/v1.0/healthz", "").await;
        assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("ERR_HEALTH_NOT_READY"));
        core.set_outbound_ready();
        core.set_ready();
        assert_eq!(
            call(&r, "GET", "/v1.0/healthz", "").await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&r, "GET", "/v1.0/healthz/outbound", "").await.0,
            StatusCode::NO_CONTENT
        );
    }

    #[tokio::test]
    async fn unmatched_routes_fall_back_to_invocation() {
        let (r, _) = app(None, true);
        let (st, _, body) = call(&r, "PATCH", "/v1.0/state/statestore", "").await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert!(body.contains("ERR_DIRECT_INVOKE"), "{body}");
    }

    #[test]
    fn path_cleaning() {
        assert_eq!(clean_path("//v1.0/./state//s/../s/k/"), "/v1.0/state/s/k");
        assert_eq!(clean_path("/"), "/");
    }
}

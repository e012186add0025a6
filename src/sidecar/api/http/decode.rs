//! Decoding helpers of the HTTP adapter: `metadata.*` query parameters, Go-style
//! case-insensitive JSON fields, and the state request bodies.

use axum::body::Bytes;
use serde_json::{Map, Value};

use crate::sidecar::api::error::ApiError;
use crate::sidecar::components::state::{
    Concurrency, Consistency, DeleteRequest, Metadata, SetRequest, StateOptions,
};

pub(super) fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits a query string into `metadata.*` entries (first value wins) and plain parameters.
pub(super) fn parse_query(q: Option<&str>) -> (Metadata, Vec<(String, String)>) {
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

pub(super) fn query_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Removes a field, matching its name exactly first and then case-insensitively, as Go's
/// JSON decoder does.
pub(super) fn take(m: &mut Map<String, Value>, name: &str) -> Option<Value> {
    if let Some(v) = m.remove(name) {
        return Some(v);
    }
    let k = m.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    m.remove(&k)
}

pub(super) fn type_error(field: &str, want: &str) -> ApiError {
    ApiError::malformed_request(format!("field {field:?} must be {want}"))
}

pub(super) fn opt_string(v: Option<Value>, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(type_error(field, "a string")),
    }
}

pub(super) fn metadata_map(v: Option<Value>, field: &str) -> Result<Metadata, ApiError> {
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

pub(super) fn concurrency(v: Option<&str>) -> Result<Concurrency, ApiError> {
    match v.unwrap_or("") {
        "" => Ok(Concurrency::Unspecified),
        "last-write" => Ok(Concurrency::LastWrite),
        "first-write" => Ok(Concurrency::FirstWrite),
        other => Err(ApiError::bad_field(format!(
            "invalid concurrency {other:?}: valid values are first-write, last-write"
        ))),
    }
}

pub(super) fn consistency(v: Option<&str>) -> Result<Consistency, ApiError> {
    match v.unwrap_or("") {
        "" | "eventual" => Ok(Consistency::Eventual),
        "strong" => Ok(Consistency::Strong),
        other => Err(ApiError::bad_field(format!(
            "invalid consistency {other:?}: valid values are eventual, strong"
        ))),
    }
}

pub(super) fn options(v: Option<Value>) -> Result<StateOptions, ApiError> {
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
pub(super) fn encode_value(v: Option<Value>) -> Bytes {
    Bytes::from(serde_json::to_vec(&v.unwrap_or(Value::Null)).unwrap_or_else(|_| b"null".to_vec()))
}

pub(super) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

pub(super) fn required_key(v: Option<Value>) -> Result<String, ApiError> {
    match opt_string(v, "key")? {
        Some(k) if !k.is_empty() => Ok(k),
        _ => Err(ApiError::bad_field("\"key\" is a required field")),
    }
}

pub(super) fn set_request(mut m: Map<String, Value>) -> Result<SetRequest, ApiError> {
    Ok(SetRequest {
        key: required_key(take(&mut m, "key"))?,
        value: encode_value(take(&mut m, "value")),
        etag: non_empty(opt_string(take(&mut m, "etag"), "etag")?),
        metadata: metadata_map(take(&mut m, "metadata"), "metadata")?,
        options: options(take(&mut m, "options"))?,
    })
}

pub(super) fn delete_request(mut m: Map<String, Value>) -> Result<DeleteRequest, ApiError> {
    Ok(DeleteRequest {
        key: required_key(take(&mut m, "key"))?,
        etag: non_empty(opt_string(take(&mut m, "etag"), "etag")?),
        metadata: metadata_map(take(&mut m, "metadata"), "metadata")?,
        options: options(take(&mut m, "options"))?,
    })
}

pub(super) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(ApiError::malformed_request)
}

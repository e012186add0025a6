//! Lock routes (alpha): `POST /v1.0-alpha1/lock/{store}` (`{"resourceId","lockOwner",
//! "expiryInSeconds"}` ⇒ `{"success":bool}`) and `POST /v1.0-alpha1/unlock/{store}`
//! (⇒ `{"status":N}`, the enum as a number as upstream). Bodies are read as upstream reads
//! them, with protobuf's JSON mapping: each field by its JSON name or its proto name,
//! unknown fields ignored, 64-bit-safe integers also as strings.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::edge::read_body;
use super::{HttpState, St, json_response};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::api::universal::lock::LockRequest;

pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/v1.0-alpha1/lock/{store}", post(try_lock))
        .route("/v1.0-alpha1/unlock/{store}", post(unlock))
}

/// A field by its JSON name or its proto name.
fn field<'a>(m: &'a Map<String, Value>, json: &str, proto: &str) -> Option<&'a Value> {
    m.get(json)
        .or_else(|| m.get(proto))
        .filter(|v| !v.is_null())
}

fn string_field(m: &Map<String, Value>, json: &str, proto: &str) -> Result<String, ApiError> {
    match field(m, json, proto) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::malformed_request(format!(
            "field {json:?} must be a string"
        ))),
    }
}

fn int32_field(m: &Map<String, Value>, json: &str, proto: &str) -> Result<i32, ApiError> {
    let bad = || ApiError::malformed_request(format!("field {json:?} must be a 32-bit integer"));
    match field(m, json, proto) {
        None => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

async fn decode(s: &HttpState, store: String, body: Body) -> Result<LockRequest, ApiError> {
    let bytes = read_body(s, body).await?;
    let m = if bytes.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(ApiError::malformed_request(
                    "the body must be a JSON object",
                ));
            }
            Err(e) => return Err(ApiError::malformed_request(e)),
        }
    };
    Ok(LockRequest {
        store_name: store,
        resource_id: string_field(&m, "resourceId", "resource_id")?,
        lock_owner: string_field(&m, "lockOwner", "lock_owner")?,
        expiry_in_seconds: int32_field(&m, "expiryInSeconds", "expiry_in_seconds")?,
    })
}

async fn try_lock(State(s): St, Path(store): Path<String>, body: Body) -> Response {
    let result = async {
        let req = decode(&s, store, body).await?;
        s.api.lock.try_lock(&req).await
    }
    .await;
    match result {
        Ok(success) => json_response(StatusCode::OK, json!({ "success": success }).to_string()),
        Err(e) => e.into_response(),
    }
}

async fn unlock(State(s): St, Path(store): Path<String>, body: Body) -> Response {
    let result = async {
        let req = decode(&s, store, body).await?;
        s.api.lock.unlock(&req).await
    }
    .await;
    match result {
        Ok(status) => json_response(
            StatusCode::OK,
            json!({ "status": status as i32 }).to_string(),
        ),
        Err(e) => e.into_response(),
    }
}

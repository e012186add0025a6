//! Jobs routes, on both `/v1.0-alpha1/jobs/{name}` and `/v1.0/jobs/{name}`: `POST`
//! schedules (204), `GET` answers the job as protojson (200), `DELETE` removes it (204).
//! The body is read as upstream reads `JobHTTPRequest` with protojson: fields by JSON or
//! proto name (`dueTime`/`due_time`, `failurePolicy`/`failure_policy`,
//! `maxRetries`/`max_retries`), unknown fields ignored, `repeats` also as a string, `data`
//! any JSON value, `overwrite` false unless given; a `name` in the body is refused.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::edge::read_body;
use super::{HttpState, St, empty_or_error, json_response};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::api::universal::jobs::Job;
use crate::sidecar::scheduler::{FailurePolicy, data};

pub(super) fn routes() -> Router<Arc<HttpState>> {
    let one = || post(schedule).get(get).delete(delete);
    Router::new()
        .route("/v1.0-alpha1/jobs/{name}", one())
        .route("/v1.0/jobs/{name}", one())
}

/// A field by its JSON name or its proto name; `null` counts as absent.
fn field<'a>(m: &'a Map<String, Value>, json: &str, proto: &str) -> Option<&'a Value> {
    m.get(json)
        .or_else(|| m.get(proto))
        .filter(|v| !v.is_null())
}

fn string(m: &Map<String, Value>, json: &str, proto: &str) -> Result<Option<String>, ApiError> {
    match field(m, json, proto) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::malformed_request(format!(
            "field {json:?} must be a string"
        ))),
    }
}

fn uint32(m: &Map<String, Value>, json: &str, proto: &str) -> Result<Option<u32>, ApiError> {
    let bad =
        || ApiError::malformed_request(format!("field {json:?} must be a 32-bit unsigned integer"));
    match field(m, json, proto) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// A protojson `google.protobuf.Duration`: `"3s"`, `"1.5s"`, `"0.000000001s"`.
pub(crate) fn parse_proto_duration(text: &str) -> Option<Duration> {
    let secs = text.strip_suffix('s')?;
    let (whole, frac) = secs.split_once('.').unwrap_or((secs, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(Duration::new(whole.parse().ok()?, nanos))
}

/// protojson's form of a duration: whole seconds, or 3, 6 or 9 fractional digits.
pub(crate) fn format_proto_duration(d: Duration) -> String {
    let nanos = d.subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else if nanos.is_multiple_of(1_000_000) {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    };
    format!("{}{frac}s", d.as_secs())
}

/// A failure policy in protojson (`{"drop":{}}`, `{"constant":{"interval":"3s","maxRetries":5}}`);
/// also read for actor reminders.
pub(super) fn failure_policy(v: &Value) -> Result<Option<FailurePolicy>, ApiError> {
    let bad = |why: &str| ApiError::malformed_request(format!("field \"failurePolicy\": {why}"));
    let Value::Object(m) = v else {
        return Err(bad("must be an object"));
    };
    if field(m, "drop", "drop").is_some() {
        return Ok(Some(FailurePolicy::Drop));
    }
    let Some(c) = field(m, "constant", "constant") else {
        return Ok(None);
    };
    let Value::Object(c) = c else {
        return Err(bad("\"constant\" must be an object"));
    };
    let interval = match string(c, "interval", "interval")? {
        None => Duration::ZERO,
        Some(s) => parse_proto_duration(&s)
            .ok_or_else(|| bad(&format!("interval {s:?} is not a duration such as \"3s\"")))?,
    };
    Ok(Some(FailurePolicy::Constant {
        interval,
        max_retries: uint32(c, "maxRetries", "max_retries")?,
    }))
}

/// The request body: the job (named `name`) and `overwrite`.
fn decode(s: &HttpState, name: String, body: &[u8]) -> Result<(Job, bool), ApiError> {
    let (app, ns) = (s.api.app_id.as_str(), s.api.scheduler().namespace());
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(ApiError::malformed_request)?
    };
    let Value::Object(m) = v else {
        return Err(ApiError::malformed_request(
            "the body must be a JSON object",
        ));
    };
    if string(&m, "name", "name")?.is_some_and(|n| !n.is_empty()) {
        return Err(ApiError::scheduler_url_name(app, ns));
    }
    let overwrite = match field(&m, "overwrite", "overwrite") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::malformed_request(
                "field \"overwrite\" must be a boolean",
            ));
        }
    };
    let job = Job {
        name: name.trim().to_string(),
        schedule: string(&m, "schedule", "schedule")?,
        repeats: uint32(&m, "repeats", "repeats")?,
        due_time: string(&m, "dueTime", "due_time")?,
        ttl: string(&m, "ttl", "ttl")?,
        data: field(&m, "data", "data").map(data::from_json),
        failure_policy: match field(&m, "failurePolicy", "failure_policy") {
            None => None,
            Some(p) => failure_policy(p)?,
        },
    };
    Ok((job, overwrite))
}

async fn schedule(State(s): St, Path(name): Path<String>, body: Body) -> Response {
    let result = async {
        let bytes = read_body(&s, body).await?;
        let (job, overwrite) = decode(&s, name, &bytes)?;
        s.api.jobs.schedule(Some(job), overwrite).await
    }
    .await;
    empty_or_error(result)
}

/// protojson of `runtime.v1.Job`.
pub(crate) fn encode(job: &Job) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), job.name.clone().into());
    if let Some(s) = &job.schedule {
        m.insert("schedule".into(), s.clone().into());
    }
    if let Some(r) = job.repeats {
        m.insert("repeats".into(), r.into());
    }
    if let Some(d) = &job.due_time {
        m.insert("dueTime".into(), d.clone().into());
    }
    if let Some(t) = &job.ttl {
        m.insert("ttl".into(), t.clone().into());
    }
    if let Some(d) = &job.data {
        m.insert("data".into(), data::to_protojson(d));
    }
    match job.failure_policy {
        None => {}
        Some(FailurePolicy::Drop) => {
            m.insert("failurePolicy".into(), json!({"drop": {}}));
        }
        Some(FailurePolicy::Constant {
            interval,
            max_retries,
        }) => {
            let mut c = Map::new();
            c.insert("interval".into(), format_proto_duration(interval).into());
            if let Some(n) = max_retries {
                c.insert("maxRetries".into(), n.into());
            }
            m.insert("failurePolicy".into(), json!({"constant": c}));
        }
    }
    Value::Object(m)
}

async fn get(State(s): St, Path(name): Path<String>) -> Response {
    match s.api.jobs.get(&name).await {
        Ok(job) => json_response(
            StatusCode::OK,
            serde_json::to_vec(&encode(&job)).unwrap_or_default(),
        ),
        Err(e) => e.into_response(),
    }
}

async fn delete(State(s): St, Path(name): Path<String>) -> Response {
    empty_or_error(s.api.jobs.delete(&name).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_durations() {
        assert_eq!(parse_proto_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_proto_duration("1.5s"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_proto_duration("0.000000001s"),
            Some(Duration::from_nanos(1))
        );
        for bad in ["3", "s", "-1s", "1.2.3s", "1m", "1.0000000001s", " 1s"] {
            assert_eq!(parse_proto_duration(bad), None, "{bad}");
        }
        assert_eq!(format_proto_duration(Duration::from_secs(3)), "3s");
        assert_eq!(format_proto_duration(Duration::from_millis(1500)), "1.500s");
        assert_eq!(format_proto_duration(Duration::from_micros(1)), "0.000001s");
        assert_eq!(
            format_proto_duration(Duration::from_nanos(7)),
            "0.000000007s"
        );
    }

    #[test]
    fn job_json() {
        let job = Job {
            name: "test".into(),
            schedule: Some("@every 1m".into()),
            repeats: Some(123),
            due_time: Some("1000s".into()),
            ttl: Some("123s".into()),
            data: Some(data::from_json(&json!("hello world"))),
            failure_policy: Some(FailurePolicy::Constant {
                interval: Duration::from_secs(3),
                max_retries: Some(5),
            }),
        };
        assert_eq!(
            encode(&job),
            json!({
                "name": "test", "schedule": "@every 1m", "repeats": 123, "dueTime": "1000s",
                "ttl": "123s",
                "data": {"@type": "type.googleapis.com/google.protobuf.Value", "value": "hello world"},
                "failurePolicy": {"constant": {"interval": "3s", "maxRetries": 5}}
            })
        );
        let p = failure_policy(&json!({"constant": {"interval": "2s", "max_retries": "4"}}));
        assert_eq!(
            p.unwrap(),
            Some(FailurePolicy::Constant {
                interval: Duration::from_secs(2),
                max_retries: Some(4)
            })
        );
        assert_eq!(
            failure_policy(&json!({"drop": {}})).unwrap(),
            Some(FailurePolicy::Drop)
        );
        assert!(failure_policy(&json!({"constant": {"interval": "soon"}})).is_err());
    }
}

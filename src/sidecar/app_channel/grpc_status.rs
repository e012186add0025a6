//! How a gRPC app's status looks to HTTP callers, as the official runtime shows it: the
//! HTTP status for its code (grpc-gateway's table) and the status as protobuf JSON.

use base64::Engine as _;
use http::StatusCode;
use prost::Message as _;
use serde_json::{Map, Value, json};
use tonic::Code;

use crate::sidecar::api::grpc::status::ErrorInfo;

/// The HTTP status for a gRPC code, as the official runtime maps an app's status
/// (grpc-gateway's table).
pub fn http_status_from_code(code: i32) -> StatusCode {
    match Code::from_i32(code) {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An app's status as the official runtime's HTTP API shows it: the status message in
/// protobuf JSON (`{"code":5,"message":"...","details":[...]}`); `google.rpc.ErrorInfo`
/// details are spelled out, others keep their bytes in `value` (base64).
pub fn status_json(code: i32, message: &str, details: &[u8]) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("code".into(), json!(code));
    if !message.is_empty() {
        m.insert("message".into(), json!(message));
    }
    let anys = dapr::google::rpc::Status::decode(details)
        .map(|s| s.details)
        .unwrap_or_default();
    if !anys.is_empty() {
        let list = anys.iter().map(any_json).collect();
        m.insert("details".into(), Value::Array(list));
    }
    serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
}

fn any_json(a: &prost_types::Any) -> Value {
    let mut m = Map::new();
    m.insert("@type".into(), json!(a.type_url));
    match ErrorInfo::decode(a.value.as_slice()) {
        Ok(info) if a.type_url.ends_with("/google.rpc.ErrorInfo") => {
            if !info.reason.is_empty() {
                m.insert("reason".into(), json!(info.reason));
            }
            if !info.domain.is_empty() {
                m.insert("domain".into(), json!(info.domain));
            }
            if !info.metadata.is_empty() {
                let mut meta: Vec<(String, String)> = info.metadata.into_iter().collect();
                meta.sort();
                let meta: Map<String, Value> = meta
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                m.insert("metadata".into(), Value::Object(meta));
            }
        }
        _ => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&a.value);
            m.insert("value".into(), Value::String(b64));
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_http_statuses_as_upstream() {
        let cases = [
            (0, 200),
            (1, 408),
            (2, 500),
            (3, 400),
            (4, 504),
            (5, 404),
            (6, 409),
            (7, 403),
            (8, 429),
            (9, 400),
            (10, 409),
            (11, 400),
            (12, 501),
            (13, 500),
            (14, 503),
            (15, 500),
            (16, 401),
            (99, 500),
        ];
        for (code, http) in cases {
            assert_eq!(http_status_from_code(code).as_u16(), http, "code {code}");
        }
    }

    #[test]
    fn statuses_render_as_protobuf_json() {
        assert_eq!(status_json(5, "", &[]), br#"{"code":5}"#);
        let info = ErrorInfo {
            reason: "R".into(),
            domain: "d".into(),
            metadata: [("k".to_string(), "v".to_string())].into(),
        };
        let st = dapr::google::rpc::Status {
            code: 3,
            message: "bad".into(),
            details: vec![
                prost_types::Any {
                    type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                    value: info.encode_to_vec(),
                },
                prost_types::Any {
                    type_url: "type.googleapis.com/x.Y".into(),
                    value: vec![1, 2],
                },
            ],
        };
        let v: Value = serde_json::from_slice(&status_json(3, "bad", &st.encode_to_vec())).unwrap();
        assert_eq!(
            v,
            json!({"code":3,"message":"bad","details":[
                {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"R","domain":"d","metadata":{"k":"v"}},
                {"@type":"type.googleapis.com/x.Y","value":"AQI="}
            ]})
        );
    }
}

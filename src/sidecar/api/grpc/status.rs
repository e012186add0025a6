//! gRPC rendering of the error table: a status with the row's code and message, and a
//! `google.rpc.Status` detail holding one `google.rpc.ErrorInfo` (domain `dapr.io`, the
//! row's reason, metadata `errorCode` plus the error's own, e.g. `appID`). Also the
//! mapping of an app's HTTP status to a gRPC code for `InvokeService`.

use std::collections::HashMap;

use bytes::Bytes;
use prost::Message as _;
use tonic::{Code, Status};

use crate::sidecar::api::error::ApiError;

/// `google.rpc.ErrorInfo`, which the `dapr` crate does not generate.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorInfo {
    #[prost(string, tag = "1")]
    pub reason: String,
    #[prost(string, tag = "2")]
    pub domain: String,
    #[prost(map = "string, string", tag = "3")]
    pub metadata: HashMap<String, String>,
}

/// A status with a `google.rpc.Status` detail holding one `ErrorInfo`.
pub fn with_info(
    code: Code,
    message: String,
    reason: &str,
    metadata: HashMap<String, String>,
) -> Status {
    let info = ErrorInfo {
        reason: reason.to_string(),
        domain: "dapr.io".into(),
        metadata,
    };
    let details = dapr::google::rpc::Status {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: info.encode_to_vec(),
        }],
    };
    Status::with_details(code, message, Bytes::from(details.encode_to_vec()))
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let row = e.row();
        let mut meta = HashMap::from([("errorCode".to_string(), row.code.to_string())]);
        meta.extend(e.metadata.into_iter().map(|(k, v)| (k.to_string(), v)));
        with_info(row.grpc, e.message, row.reason.unwrap_or(row.code), meta)
    }
}

/// gRPC code for an app's HTTP status, as the official runtime maps it.
pub fn code_from_http(status: u16) -> Code {
    match status {
        200..=299 => Code::Ok,
        408 => Code::Cancelled,
        500 => Code::Unknown,
        400 => Code::InvalidArgument,
        504 => Code::DeadlineExceeded,
        404 => Code::NotFound,
        409 => Code::AlreadyExists,
        403 => Code::PermissionDenied,
        401 => Code::Unauthenticated,
        429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// A gRPC status as Go renders it (`rpc error: code = NotFound desc = ...`), as the
/// official programs word errors they pass on: Go's code names (`OK`, `Canceled`).
pub fn rpc_error(s: &Status) -> String {
    let code = match s.code() {
        Code::Ok => "OK".to_string(),
        Code::Cancelled => "Canceled".to_string(),
        c => format!("{c:?}"),
    };
    format!("rpc error: code = {code} desc = {}", s.message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_from_their_row() {
        let st = Status::from(ApiError::state_store_not_found("s", "app1"));
        assert_eq!(st.code(), Code::InvalidArgument);
        assert_eq!(st.message(), "state store s is not found");
        let details = dapr::google::rpc::Status::decode(st.details()).unwrap();
        let info = ErrorInfo::decode(details.details[0].value.as_slice()).unwrap();
        assert_eq!(info.reason, "DAPR_STATE_NOT_FOUND");
        assert_eq!(info.domain, "dapr.io");
        assert_eq!(info.metadata["errorCode"], "ERR_STATE_STORE_NOT_FOUND");
        assert_eq!(info.metadata["appID"], "app1");
        let st = Status::from(ApiError::illegal_key("a||b"));
        let details = dapr::google::rpc::Status::decode(st.details()).unwrap();
        let info = ErrorInfo::decode(details.details[0].value.as_slice()).unwrap();
        assert_eq!(
            (st.code(), info.reason.as_str()),
            (Code::InvalidArgument, "DAPR_STATE_ILLEGAL_KEY")
        );
        let st = Status::from(ApiError::invoke_reply_too_large("b", 8));
        assert_eq!(st.code(), Code::ResourceExhausted);
    }

    #[test]
    fn http_status_to_grpc_code() {
        assert_eq!(code_from_http(204), Code::Ok);
        assert_eq!(code_from_http(404), Code::NotFound);
        assert_eq!(code_from_http(500), Code::Unknown);
        assert_eq!(code_from_http(418), Code::Unknown);
    }
}

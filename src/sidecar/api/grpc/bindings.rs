//! `InvokeBinding`: the request's data as is, its metadata plus the caller's `traceparent`
//! and `tracestate`; the binding's data and response metadata in the answer (empty when it
//! answered nothing). Failures are `Internal` with upstream's message.

use dapr::dapr::proto::runtime::v1 as pb;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::sidecar::api::universal::Api;
use crate::sidecar::components::bindings::InvokeRequest;

pub async fn invoke(
    api: &Api,
    md: &MetadataMap,
    r: pb::InvokeBindingRequest,
) -> Result<pb::InvokeBindingResponse, Status> {
    let mut metadata = r.metadata;
    for k in ["traceparent", "tracestate"] {
        if let Some(v) = md
            .get(k)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
        {
            metadata.insert(k.to_string(), v.to_string());
        }
    }
    let req = InvokeRequest {
        operation: r.operation,
        data: r.data.into(),
        metadata,
    };
    match api.bindings.invoke(&r.name, req).await {
        Ok(None) => Ok(pb::InvokeBindingResponse::default()),
        Ok(Some(res)) => Ok(pb::InvokeBindingResponse {
            data: res.data.to_vec(),
            metadata: res.metadata,
        }),
        Err(f) => Err(f.error.into()),
    }
}

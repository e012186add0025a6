//! Output bindings: invoking an operation of a binding component (`create`, `get`,
//! `query`, ...) through the bindings runtime, which checks the operation and applies the
//! resiliency policy. Failures are `ERR_INVOKE_OUTPUT_BINDING` (500), as upstream; the
//! binding's response metadata comes back even then.

use std::sync::Arc;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::bindings::BindingsRuntime;
use crate::sidecar::components::bindings::{InvokeRequest, InvokeResponse, Metadata};

pub struct BindingsApi {
    runtime: Arc<BindingsRuntime>,
}

/// A failed invocation: the error, and the response metadata the binding still returned.
#[derive(Debug)]
pub struct InvokeFailure {
    pub error: ApiError,
    pub metadata: Metadata,
}

impl From<ApiError> for InvokeFailure {
    fn from(error: ApiError) -> Self {
        InvokeFailure {
            error,
            metadata: Metadata::new(),
        }
    }
}

impl BindingsApi {
    pub fn new(runtime: Arc<BindingsRuntime>) -> BindingsApi {
        BindingsApi { runtime }
    }

    /// The runtime that also reads the input bindings.
    pub fn runtime(&self) -> &Arc<BindingsRuntime> {
        &self.runtime
    }

    /// Invokes `name`; `None` when the binding answered nothing.
    pub async fn invoke(
        &self,
        name: &str,
        req: InvokeRequest,
    ) -> Result<Option<InvokeResponse>, InvokeFailure> {
        self.runtime
            .send(name, req)
            .await
            .map_err(|e| InvokeFailure {
                metadata: e.metadata().cloned().unwrap_or_default(),
                error: ApiError::invoke_output_binding(name, &e),
            })
    }
}

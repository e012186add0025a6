//! Service invocation: a protocol-neutral request for a target app, handed to the invoker.

use std::sync::Arc;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::invoke::Invoker;
use crate::sidecar::messages::{InvokeRequest, InvokeResponse};

pub struct InvokeApi {
    /// `None` only in tests without sockets: invocation then answers `ERR_DIRECT_INVOKE`.
    invoker: Option<Arc<Invoker>>,
}

impl InvokeApi {
    pub fn new(invoker: Option<Arc<Invoker>>) -> InvokeApi {
        InvokeApi { invoker }
    }

    /// Invokes `req.method` on `target` (an app id, `id.namespace` or an `http://` URL).
    pub async fn invoke(
        &self,
        target: &str,
        req: InvokeRequest,
    ) -> Result<InvokeResponse, ApiError> {
        if target.is_empty() {
            return Err(ApiError::direct_invoke_no_app_id());
        }
        match &self.invoker {
            Some(inv) => inv.invoke(target, req).await,
            None => Err(ApiError::direct_invoke(target, "invocation is not set up")),
        }
    }
}

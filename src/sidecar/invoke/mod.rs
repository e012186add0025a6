//! Service invocation (skeleton; being filled in).

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::sidecar::api::error::ApiError;

/// What the invoker needs from daprd's flags, environment and Configuration.
#[derive(Debug, Clone)]
pub struct InvokeConfig {
    pub app_id: String,
    pub namespace: String,
    pub app_port: Option<u16>,
    pub app_channel_address: String,
    pub app_protocol: String,
    pub internal_port: Option<u16>,
    pub internal_listen_address: Option<IpAddr>,
    pub max_body_size: usize,
    pub app_api_token: Option<String>,
    pub app_max_concurrency: Option<usize>,
    pub api_token: Option<String>,
    /// Configuration `spec.nameResolution`, as JSON.
    pub name_resolution: Option<serde_json::Value>,
}

/// Errors at bind time; each names the flag or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error("name resolution: {0}")]
    Resolver(String),
}

/// The service-invocation engine of one sidecar.
pub struct Invoker {
    cfg: InvokeConfig,
    listener: std::sync::Mutex<Option<tokio::net::TcpListener>>,
    port: u16,
}

impl Invoker {
    pub async fn bind(cfg: InvokeConfig) -> Result<Invoker, InvokeError> {
        let ip = cfg.internal_listen_address.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let listener = tokio::net::TcpListener::bind((ip, cfg.internal_port.unwrap_or(0)))
            .await
            .map_err(|e| InvokeError::Flag {
                flag: "--dapr-internal-grpc-port",
                message: e.to_string(),
            })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        Ok(Invoker { cfg, listener: std::sync::Mutex::new(Some(listener)), port })
    }

    pub fn internal_port(&self) -> u16 {
        self.port
    }

    pub async fn serve_internal(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let _keep = self.listener.lock().ok().and_then(|mut l| l.take());
        shutdown.await;
        Ok(())
    }

    pub async fn handle_http(&self, _req: Request) -> Response {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_DIRECT_INVOKE",
            format!("failed to invoke, id: {}, err: not implemented yet", self.cfg.app_id),
        )
        .into_response()
    }

    pub async fn wait_for_app(&self) {}

    pub fn set_app_healthy(&self, _healthy: bool) {}

    pub async fn deregister(&self) {}
}

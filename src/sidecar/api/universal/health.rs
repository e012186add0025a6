//! Health and shutdown: whether the API and the app are ready, and shutdown requested
//! through the API (`POST /v1.0/shutdown`, gRPC `Shutdown`).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::sidecar::api::error::ApiError;

/// How a shutdown was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownRequest {
    Graceful,
    /// `dapr-force-shutdown: true`: exit with code 1 soon after answering.
    Force,
}

impl ShutdownRequest {
    /// From the `dapr-force-shutdown` header (HTTP) or metadata (gRPC): `true` forces.
    pub fn from_force_header(value: Option<&str>) -> Self {
        if value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            ShutdownRequest::Force
        } else {
            ShutdownRequest::Graceful
        }
    }
}

pub struct HealthApi {
    app_id: String,
    outbound_ready: AtomicBool,
    ready: AtomicBool,
    shutdown: tokio::sync::watch::Sender<Option<ShutdownRequest>>,
}

impl HealthApi {
    pub fn new(app_id: &str) -> HealthApi {
        HealthApi {
            app_id: app_id.to_string(),
            outbound_ready: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            shutdown: tokio::sync::watch::channel(None).0,
        }
    }

    /// API servers and components are up: `/v1.0/healthz/outbound` answers 204.
    pub fn set_outbound_ready(&self) {
        self.outbound_ready.store(true, Ordering::Release);
    }

    /// The app is reachable (or there is none): `/v1.0/healthz` answers 204.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn outbound(&self) -> Result<(), ApiError> {
        if self.outbound_ready.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(ApiError::outbound_not_ready())
        }
    }

    /// `appid`: the `?appid=` query of the health route, checked against our own id.
    pub fn check(&self, appid: Option<&str>) -> Result<(), ApiError> {
        if let Some(id) = appid
            && !id.is_empty()
            && id != self.app_id
        {
            return Err(ApiError::health_appid_mismatch());
        }
        if self.ready.load(Ordering::Acquire) {
            Ok(())
        } else if self.outbound_ready.load(Ordering::Acquire) {
            Err(ApiError::health_not_ready("app"))
        } else {
            Err(ApiError::health_not_ready("api, app"))
        }
    }

    pub fn request_shutdown(&self, how: ShutdownRequest) {
        self.shutdown.send_replace(Some(how));
    }

    /// Resolves when a shutdown was requested through the API.
    pub async fn shutdown_requested(&self) -> ShutdownRequest {
        let mut rx = self.shutdown.subscribe();
        loop {
            if let Some(how) = *rx.borrow_and_update() {
                return how;
            }
            if rx.changed().await.is_err() {
                return ShutdownRequest::Graceful;
            }
        }
    }
}

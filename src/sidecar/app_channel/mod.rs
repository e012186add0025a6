//! The app channel: how this sidecar calls its own app, separate from sidecar-to-sidecar
//! invocation. It takes protocol-neutral requests — [`InvokeRequest`]s, and for pub/sub the
//! app's subscriptions and [`events::TopicEvent`]s, job triggers ([`jobs`]) — and speaks the app's protocol (HTTP/1.1
//! or h2c in [`http`], `dapr.proto.runtime.v1.AppCallback` in [`grpc`]), honours `--app-max-concurrency`, `APP_API_TOKEN`,
//! `--max-body-size` for the app's replies, and the app's health as the prober in
//! [`health`] reports it. Every call goes through the resiliency policy for the app
//! (`resiliency::Target::App`).

pub mod bindings;
pub mod events;
pub mod grpc;
pub mod grpc_pubsub;
pub mod grpc_status;
pub mod health;
pub mod http;
mod http_pubsub;
pub mod jobs;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::sidecar::body::LimitedBody;
use crate::sidecar::messages::{InvokeRequest, InvokeResponse};
use crate::sidecar::resiliency::{Outcome, Resiliency, Target};

/// Why a call to the app failed (the invoker turns these into `ERR_DIRECT_INVOKE`).
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("app channel is not initialized")]
    NoApp,
    #[error("app is not in a healthy state")]
    Unhealthy,
    #[error("{0}")]
    Request(String),
    #[error("request body is larger than the maximum of {0} bytes")]
    RequestTooLarge(usize),
    #[error("the app's response is larger than the maximum of {0} bytes")]
    ReplyTooLarge(usize),
}

/// How to reach the app, from daprd's flags and environment.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// `--app-port`; `None` when there is no app.
    pub port: Option<u16>,
    /// `--app-channel-address`.
    pub address: String,
    /// `--app-protocol`.
    pub protocol: String,
    /// `APP_API_TOKEN`, sent to the app as `dapr-api-token`.
    pub token: Option<String>,
    /// `--app-max-concurrency`; `None` = unlimited.
    pub max_concurrency: Option<usize>,
    /// `--max-body-size`: the largest reply taken from the app.
    pub max_body_size: usize,
}

/// The app, by protocol.
// One per sidecar, so the variants' sizes do not matter; boxing would only add a hop.
#[allow(clippy::large_enum_variant)]
enum App {
    Http(http::HttpApp),
    Grpc(grpc::GrpcApp),
}

pub struct AppChannel {
    /// `None` when the sidecar has no app.
    app: Option<App>,
    limit: Option<Arc<Semaphore>>,
    healthy: AtomicBool,
    max_body: usize,
    resiliency: Resiliency,
}

impl AppChannel {
    /// Validates the settings; errors name the flag at fault. A gRPC app's connection is
    /// set up here (lazily), so this runs inside the Tokio runtime.
    pub fn new(s: &AppSettings, resiliency: Resiliency) -> Result<AppChannel, String> {
        let protocol = s.protocol.trim().to_ascii_lowercase();
        let (grpc, h2c) = match protocol.as_str() {
            "" | "http" => (false, false),
            "h2c" => (false, true),
            "grpc" => (true, false),
            "https" | "grpcs" => {
                return Err(format!(
                    "--app-protocol: {protocol:?} is not supported yet by this daprd (no TLS to the app; supported: http, h2c, grpc)"
                ));
            }
            _ => {
                return Err(format!(
                    "--app-protocol: invalid value {protocol:?} (valid: http, https, grpc, grpcs, h2c; supported: http, h2c, grpc)"
                ));
            }
        };
        let token = s.token.as_deref();
        let app = match s.port.filter(|p| *p != 0) {
            None => None,
            Some(port) if grpc => Some(App::Grpc(grpc::GrpcApp::new(
                &s.address,
                port,
                token,
                s.max_body_size,
            )?)),
            Some(port) => Some(App::Http(http::HttpApp::new(&s.address, port, token, h2c)?)),
        };
        Ok(AppChannel {
            app,
            limit: s
                .max_concurrency
                .filter(|n| *n > 0)
                .map(|n| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS)))),
            healthy: AtomicBool::new(true),
            max_body: s.max_body_size,
            resiliency,
        })
    }

    /// `host:port` of the app, or `None` when the sidecar has no app.
    pub fn authority(&self) -> Option<&str> {
        match self.app.as_ref()? {
            App::Http(h) => Some(h.authority()),
            App::Grpc(g) => Some(g.authority()),
        }
    }

    /// The app when it speaks gRPC (its health is probed with `HealthCheck`).
    pub fn grpc_app(&self) -> Option<&grpc::GrpcApp> {
        match self.app.as_ref()? {
            App::Grpc(g) => Some(g),
            App::Http(_) => None,
        }
    }

    /// The app when it speaks HTTP (HTTP/1.1 or h2c).
    pub fn http_app(&self) -> Option<&http::HttpApp> {
        match self.app.as_ref()? {
            App::Http(h) => Some(h),
            App::Grpc(_) => None,
        }
    }

    /// Marks the app healthy or not (from the health prober). While unhealthy, calls fail
    /// with `app is not in a healthy state`. Starts healthy.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Release);
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// The app, when there is one and it is healthy.
    fn app(&self) -> Result<&App, ChannelError> {
        let app = self.app.as_ref().ok_or(ChannelError::NoApp)?;
        if !self.is_healthy() {
            return Err(ChannelError::Unhealthy);
        }
        Ok(app)
    }

    /// A slot under `--app-max-concurrency` (none needed without a limit).
    async fn permit(&self) -> Result<Option<OwnedSemaphorePermit>, ChannelError> {
        match &self.limit {
            Some(s) => s
                .clone()
                .acquire_owned()
                .await
                .map(Some)
                .map_err(|e| ChannelError::Request(e.to_string())),
            None => Ok(None),
        }
    }

    /// Calls a method of the app. The reply's body holds the concurrency permit until it is
    /// read, and fails with `BodyLimitExceeded` past `--max-body-size` when the app streams it.
    pub async fn invoke(&self, req: InvokeRequest) -> Result<InvokeResponse, ChannelError> {
        let app = self.app()?;
        let permit = self.permit().await?;
        // The request body streams, so it cannot be replayed: the policy gets one try.
        let policy = self.resiliency.policy(Target::App);
        let mut req = Some(req);
        let mut res = policy
            .run(|_| {
                let req = req.take();
                async move {
                    match (req, app) {
                        (Some(r), App::Http(h)) => Outcome::Done(h.invoke(r, self.max_body).await),
                        (Some(r), App::Grpc(g)) => Outcome::Done(g.invoke(r, self.max_body).await),
                        (None, _) => Outcome::Done(Err(ChannelError::Request(
                            "the request was already sent".into(),
                        ))),
                    }
                }
            })
            .await?;
        if let Some(p) = permit {
            // The permit is released once the app's reply has been read.
            let body = std::mem::take(&mut res.body);
            res.body = Body::new(LimitedBody::new(body, usize::MAX).holding(p));
        }
        Ok(res)
    }

    /// The app's own subscriptions (`GET /dapr/subscribe`, `ListTopicSubscriptions`); none
    /// when the app declares none.
    pub async fn subscriptions(&self) -> Result<Vec<events::TopicSubscription>, ChannelError> {
        match self.app()? {
            App::Http(h) => h.subscriptions().await,
            App::Grpc(g) => g.subscriptions().await,
        }
    }

    /// Delivers one event; the app's verdict on it.
    pub async fn topic_event(
        &self,
        event: &events::TopicEvent,
    ) -> Result<events::EventStatus, ChannelError> {
        let app = self.app()?;
        let _permit = self.permit().await?;
        let policy = self.resiliency.policy(Target::App);
        policy
            .run(|_| async move {
                Outcome::Done(match app {
                    App::Http(h) => h.topic_event(event).await,
                    App::Grpc(g) => g.topic_event(event).await,
                })
            })
            .await
    }

    /// Delivers a batch of events; the app's verdict on each entry.
    pub async fn bulk_topic_event(
        &self,
        event: &events::BulkTopicEvent,
    ) -> Result<Vec<events::EntryStatus>, ChannelError> {
        let app = self.app()?;
        let _permit = self.permit().await?;
        let policy = self.resiliency.policy(Target::App);
        policy
            .run(|_| async move {
                Outcome::Done(match app {
                    App::Http(h) => h.bulk_topic_event(event).await,
                    App::Grpc(g) => g.bulk_topic_event(event).await,
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(port: Option<u16>, address: &str, protocol: &str) -> AppSettings {
        AppSettings {
            port,
            address: address.into(),
            protocol: protocol.into(),
            token: None,
            max_concurrency: None,
            max_body_size: 1024,
        }
    }

    #[tokio::test]
    async fn addresses_and_protocols() {
        let r = Resiliency::default();
        let c = AppChannel::new(&settings(Some(8080), "::1", "http"), r.clone()).unwrap();
        assert_eq!(c.authority(), Some("[::1]:8080"));
        assert!(c.grpc_app().is_none());
        for port in [None, Some(0)] {
            for protocol in ["http", "grpc"] {
                let c = AppChannel::new(&settings(port, "127.0.0.1", protocol), r.clone()).unwrap();
                assert!(c.authority().is_none());
            }
        }
        let c = AppChannel::new(&settings(Some(50001), "::1", "GRPC"), r.clone()).unwrap();
        assert_eq!(c.authority(), Some("[::1]:50001"));
        assert!(c.grpc_app().is_some());
        let c = AppChannel::new(&settings(Some(8080), "127.0.0.1", "h2c"), r.clone()).unwrap();
        assert!(c.http_app().is_some_and(|h| h.is_h2c()));
        for protocol in ["grpcs", "https"] {
            let e = AppChannel::new(&settings(Some(1), "127.0.0.1", protocol), r.clone())
                .err()
                .unwrap();
            assert!(
                e.contains("--app-protocol") && e.contains("not supported"),
                "{e}"
            );
        }
        let e = AppChannel::new(&settings(Some(1), "127.0.0.1", "ftp"), r)
            .err()
            .unwrap();
        assert!(e.contains("invalid value"), "{e}");
    }
}

//! The app channel: how this sidecar calls its own app, separate from sidecar-to-sidecar
//! invocation. It takes protocol-neutral [`InvokeRequest`]s and speaks the app's protocol
//! (HTTP/1.1 today, in [`http`]; gRPC apps next), honours `--app-max-concurrency`,
//! `APP_API_TOKEN`, `--max-body-size` for the app's replies, and the app's health as the
//! prober in [`health`] reports it. Every call goes through the resiliency policy for the
//! app (`resiliency::Target::App`).

pub mod health;
pub mod http;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use tokio::sync::Semaphore;

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

pub struct AppChannel {
    /// `None` when the sidecar has no app.
    http: Option<http::HttpApp>,
    limit: Option<Arc<Semaphore>>,
    healthy: AtomicBool,
    max_body: usize,
    resiliency: Resiliency,
}

impl AppChannel {
    /// Validates the settings; errors name the flag at fault.
    pub fn new(s: &AppSettings, resiliency: Resiliency) -> Result<AppChannel, String> {
        let protocol = s.protocol.trim().to_ascii_lowercase();
        if !(protocol.is_empty() || protocol == "http") {
            let valid = ["https", "grpc", "grpcs", "h2c"];
            return Err(if valid.contains(&protocol.as_str()) {
                format!(
                    "--app-protocol: {protocol:?} is not supported yet by this daprd (supported: http)"
                )
            } else {
                format!(
                    "--app-protocol: invalid value {protocol:?} (valid: http, https, grpc, grpcs, h2c; supported: http)"
                )
            });
        }
        let http = match s.port.filter(|p| *p != 0) {
            None => None,
            Some(port) => Some(http::HttpApp::new(&s.address, port, s.token.as_deref())?),
        };
        Ok(AppChannel {
            http,
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
        self.http.as_ref().map(|h| h.authority())
    }

    /// Marks the app healthy or not (from the health prober). While unhealthy, calls fail
    /// with `app is not in a healthy state`. Starts healthy.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Release);
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Calls the app. The reply's body holds the concurrency permit until it is read, and
    /// fails with `BodyLimitExceeded` past `--max-body-size` when the app streams it.
    pub async fn invoke(&self, req: InvokeRequest) -> Result<InvokeResponse, ChannelError> {
        let app = self.http.as_ref().ok_or(ChannelError::NoApp)?;
        if !self.is_healthy() {
            return Err(ChannelError::Unhealthy);
        }
        let permit = match &self.limit {
            Some(s) => Some(
                s.clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| ChannelError::Request(e.to_string()))?,
            ),
            None => None,
        };
        // The request body streams, so it cannot be replayed: the policy gets one try.
        let policy = self.resiliency.policy(Target::App);
        let mut req = Some(req);
        let res = policy
            .run(|_| {
                let req = req.take();
                async move {
                    match req {
                        Some(r) => Outcome::Done(app.call(r).await),
                        None => Outcome::Done(Err(ChannelError::Request(
                            "the request was already sent".into(),
                        ))),
                    }
                }
            })
            .await?;
        let declared = res
            .headers()
            .get(::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return Err(ChannelError::ReplyTooLarge(self.max_body));
        }
        let (mut parts, body) = res.into_parts();
        crate::sidecar::invoke::headers::strip_hop_by_hop(&mut parts.headers);
        let body = match permit {
            None => LimitedBody::new(body, self.max_body),
            // The permit is released once the app's reply has been read.
            Some(p) => LimitedBody::new(body, self.max_body).holding(p),
        };
        Ok(InvokeResponse {
            status: parts.status,
            metadata: parts.headers,
            body: Body::new(body),
        })
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

    #[test]
    fn addresses_and_protocols() {
        let r = Resiliency::default();
        let c = AppChannel::new(&settings(Some(8080), "::1", "http"), r.clone()).unwrap();
        assert_eq!(c.authority(), Some("[::1]:8080"));
        for port in [None, Some(0)] {
            let c = AppChannel::new(&settings(port, "127.0.0.1", "http"), r.clone()).unwrap();
            assert!(c.authority().is_none());
        }
        let e = AppChannel::new(&settings(Some(1), "127.0.0.1", "grpc"), r.clone())
            .err()
            .unwrap();
        assert!(
            e.contains("--app-protocol") && e.contains("not supported"),
            "{e}"
        );
        let e = AppChannel::new(&settings(Some(1), "127.0.0.1", "ftp"), r)
            .err()
            .unwrap();
        assert!(e.contains("invalid value"), "{e}");
    }
}

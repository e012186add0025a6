//! Input-binding events to the app, as the official runtime sends them.
//!
//! * HTTP apps: whether the app takes a binding's events is asked with `OPTIONS /<route>`
//!   (3 s; a 2xx or 405 answer means yes); each event is `POST /<route>` with the data as
//!   the body (`Content-Type: application/json`) and the event metadata as headers. A 2xx
//!   answer is success and its body the reply; anything else is an error.
//! * gRPC apps: `ListInputBindings` (an error or `Unimplemented` means none), then
//!   `OnBindingEvent`; the answer may name output bindings (`to`) that its `data` is sent
//!   to, one after another or in parallel (`concurrency`).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::app_callback_client::AppCallbackClient;
use http::{Method, StatusCode};
use tonic::metadata::MetadataMap;

use super::grpc::{GrpcApp, describe};
use super::http::HttpApp;
use super::{App, AppChannel, ChannelError};
use crate::sidecar::resiliency::{Outcome, Target};

/// How long the `OPTIONS` probe of a binding route may take, as upstream.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// One input-binding event for the app.
#[derive(Debug, Clone, Default)]
pub struct BindingEvent {
    pub name: String,
    /// The HTTP route (`route` metadata, else the name).
    pub route: String,
    pub data: Bytes,
    pub metadata: HashMap<String, String>,
}

/// What the app answered to an event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingReply {
    pub data: Bytes,
    /// gRPC apps: output bindings to send `data` to.
    pub to: Vec<String>,
    pub parallel: bool,
}

impl AppChannel {
    /// Whether the app is a gRPC app (which lists its input bindings).
    pub fn is_grpc(&self) -> bool {
        self.grpc_app().is_some()
    }

    /// gRPC apps: the input bindings the app takes (`ListInputBindings`).
    pub async fn input_bindings(&self) -> Result<Vec<String>, ChannelError> {
        match self.app()? {
            App::Grpc(g) => Ok(g.input_bindings().await),
            App::Http(_) => Ok(Vec::new()),
        }
    }

    /// HTTP apps: whether the app listens on `route` (`OPTIONS /<route>`).
    pub async fn probe_binding_route(&self, route: &str) -> Result<bool, ChannelError> {
        match self.app()? {
            App::Http(h) => h.probe_binding_route(route).await,
            App::Grpc(_) => Ok(false),
        }
    }

    /// Delivers one event; the app's reply.
    pub async fn binding_event(&self, ev: &BindingEvent) -> Result<BindingReply, ChannelError> {
        let app = self.app()?;
        let _permit = self.permit().await?;
        let policy = self.resiliency.policy(Target::App);
        policy
            .run(|_| async move {
                Outcome::Done(match app {
                    App::Http(h) => h.binding_event(ev).await,
                    App::Grpc(g) => g.binding_event(ev).await,
                })
            })
            .await
    }
}

impl HttpApp {
    async fn probe_binding_route(&self, route: &str) -> Result<bool, ChannelError> {
        let no_headers = HashMap::new();
        let call = self.call(
            Method::OPTIONS,
            route,
            "application/json",
            &no_headers,
            Vec::new(),
        );
        let (status, _) = tokio::time::timeout(PROBE_TIMEOUT, call)
            .await
            .map_err(|_| {
                ChannelError::Request(format!(
                    "could not invoke OPTIONS method on input binding subscription endpoint {route:?}: no answer within {PROBE_TIMEOUT:?}"
                ))
            })?
            .map_err(|e| {
                ChannelError::Request(format!(
                    "could not invoke OPTIONS method on input binding subscription endpoint {route:?}: {e}"
                ))
            })?;
        Ok(status.is_success() || status == StatusCode::METHOD_NOT_ALLOWED)
    }

    async fn binding_event(&self, ev: &BindingEvent) -> Result<BindingReply, ChannelError> {
        let (status, body) = self
            .call(
                Method::POST,
                &ev.route,
                "application/json",
                &ev.metadata,
                ev.data.to_vec(),
            )
            .await?;
        if !status.is_success() {
            return Err(ChannelError::Request(format!(
                "fails to send binding event to http app channel, status code: {} body: {}",
                status.as_u16(),
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(BindingReply {
            data: body,
            ..BindingReply::default()
        })
    }
}

impl GrpcApp {
    fn binding_client(&self) -> AppCallbackClient<tonic::transport::Channel> {
        AppCallbackClient::new(self.channel())
            .max_decoding_message_size(self.max_message())
            .max_encoding_message_size(usize::MAX)
    }

    /// `ListInputBindings`; any error means none, as upstream.
    async fn input_bindings(&self) -> Vec<String> {
        let req = self.request((), MetadataMap::new());
        match self.binding_client().list_input_bindings(req).await {
            Ok(r) => r.into_inner().bindings,
            Err(_) => Vec::new(),
        }
    }

    async fn binding_event(&self, ev: &BindingEvent) -> Result<BindingReply, ChannelError> {
        let msg = pb::BindingEventRequest {
            name: ev.name.clone(),
            data: ev.data.to_vec(),
            metadata: ev.metadata.clone(),
        };
        let req = self.request(msg, MetadataMap::new());
        match self.binding_client().on_binding_event(req).await {
            Ok(r) => {
                let r = r.into_inner();
                Ok(BindingReply {
                    data: Bytes::from(r.data),
                    parallel: r.concurrency
                        == pb::binding_event_response::BindingEventConcurrency::Parallel as i32,
                    to: r.to,
                })
            }
            Err(s) => Err(ChannelError::Request(format!(
                "error invoking app: {}",
                describe(&s)
            ))),
        }
    }
}

//! Job triggers to the app, as the official runtime sends them:
//!
//! - HTTP app: `POST /job/<name>`, `content-type: application/json`, the payload as its JSON
//!   when it is a `google.protobuf.Value` (what the HTTP API stores), else its raw bytes.
//!   A 2xx or a 404 is success (a 404 is not retried); anything else failed.
//! - gRPC app: `AppCallback.OnJobEvent` (`name`, `data` as stored, `method` `job/<name>`,
//!   `content_type` the payload's type URL, verb `POST`), then
//!   `AppCallbackAlpha.OnJobEventAlpha1` when the app does not implement it. OK or
//!   `NotFound` is success.
//!
//! [`AppJobs`] is the app as a [`Deliver`] target of the scheduler.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::app_callback_alpha_client::AppCallbackAlphaClient;
use dapr::dapr::proto::runtime::v1::app_callback_client::AppCallbackClient;
use http::{Method, StatusCode};
use tonic::Code;
use tonic::metadata::MetadataMap;

use super::grpc::{GrpcApp, describe, is_transport};
use super::http::HttpApp;
use super::{App, AppChannel, ChannelError};
use crate::sidecar::resiliency::{Outcome, Target};
use crate::sidecar::scheduler::{Deliver, Delivered, JobData, JobOwner, Trigger, data};

impl HttpApp {
    /// `POST /job/<name>`.
    pub async fn job_event(
        &self,
        name: &str,
        payload: Option<&JobData>,
    ) -> Result<(), ChannelError> {
        let body = payload.map(data::http_body).unwrap_or_default();
        let (status, _) = self
            .call(
                Method::POST,
                &format!("job/{name}"),
                "application/json",
                &HashMap::new(),
                body,
            )
            .await?;
        match status {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            s => Err(ChannelError::Request(format!(
                "the app answered the job {name} with {s}"
            ))),
        }
    }
}

impl GrpcApp {
    /// `OnJobEvent`, else `OnJobEventAlpha1`.
    pub async fn job_event(
        &self,
        name: &str,
        payload: Option<&JobData>,
    ) -> Result<(), ChannelError> {
        let msg = pb::JobEventRequest {
            name: name.to_string(),
            data: payload.map(|d| prost_types::Any {
                type_url: d.type_url.clone(),
                value: d.value.clone(),
            }),
            method: format!("job/{name}"),
            content_type: payload.map(|d| d.type_url.clone()).unwrap_or_default(),
            http_extension: Some(common::HttpExtension {
                verb: common::http_extension::Verb::Post as i32,
                querystring: String::new(),
            }),
        };
        let unimplemented = |s: &tonic::Status| s.code() == Code::Unimplemented && !is_transport(s);
        let answer = match AppCallbackClient::new(self.channel())
            .on_job_event(self.request(msg.clone(), MetadataMap::new()))
            .await
        {
            // Apps built before the stable callback (the Go SDK among them).
            Err(s) if unimplemented(&s) =>
            {
                #[allow(deprecated)]
                AppCallbackAlphaClient::new(self.channel())
                    .on_job_event_alpha1(self.request(msg, MetadataMap::new()))
                    .await
            }
            other => other,
        };
        match answer {
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::NotFound && !is_transport(&s) => Ok(()),
            Err(s) => Err(ChannelError::Request(format!(
                "error returned from app while processing job {name}: {}",
                describe(&s)
            ))),
        }
    }
}

impl AppChannel {
    /// Delivers one job trigger; `Ok` when the app took it (or does not know the job).
    pub async fn job_event(
        &self,
        name: &str,
        payload: Option<&JobData>,
    ) -> Result<(), ChannelError> {
        let app = self.app()?;
        let _permit = self.permit().await?;
        self.resiliency
            .policy(Target::App)
            .run(|_| async move {
                Outcome::Done(match app {
                    App::Http(h) => h.job_event(name, payload).await,
                    App::Grpc(g) => g.job_event(name, payload).await,
                })
            })
            .await
    }
}

/// The app as the scheduler's target for app jobs: available while the sidecar has an app
/// and the app is healthy.
pub struct AppJobs(pub Arc<AppChannel>);

#[async_trait]
impl Deliver for AppJobs {
    async fn deliver(&self, trigger: Trigger) -> Delivered {
        if trigger.owner != JobOwner::App {
            return Delivered::Failed("not an app job".into());
        }
        match self.0.job_event(&trigger.name, trigger.data.as_ref()).await {
            Ok(()) => Delivered::Success,
            Err(e) => Delivered::Failed(e.to_string()),
        }
    }

    fn available(&self) -> bool {
        self.0.authority().is_some() && self.0.is_healthy()
    }
}

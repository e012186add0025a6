//! The bindings runtime of one sidecar: output invocations (the API's and those a gRPC app's
//! answer asks for) and the input bindings it reads.
//!
//! Output: the operation must be given and be one the binding lists; every call goes
//! through the resiliency policy for the component.
//!
//! Input, as upstream: once the app is reachable, each input binding whose `direction`
//! names `input` explicitly starts; any other is started only when the app takes its
//! events (HTTP: `OPTIONS /<route>` answers 2xx or 405; gRPC: `ListInputBindings` names
//! it). Each event goes to the app; a failed delivery is logged (the binding decides
//! whether to retry; none of the types here does). A gRPC app's answer may send its data
//! on to output bindings (`to`, as a `create`). Without an app nothing is read.
//!
//! Shutdown closes every reader first: no new event is read and the one in flight finishes.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Mutex;

use crate::sidecar::app_channel::AppChannel;
use crate::sidecar::app_channel::bindings::BindingEvent;
use crate::sidecar::components::bindings::{
    BindingError, Handler, InvokeRequest, InvokeResponse, ReadEvent, Reader,
};
use crate::sidecar::components::{Category, ComponentStore};
use crate::sidecar::log::{self, scope};
use crate::sidecar::resiliency::{Outcome, Resiliency, Target};

/// Why an output invocation failed; the messages are upstream's.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("operation field is missing from request")]
    NoOperation,
    #[error("couldn't find output binding {0}")]
    NotFound(String),
    #[error(
        "binding {name} does not support operation {operation}. supported operations:{supported}"
    )]
    Unsupported {
        name: String,
        operation: String,
        supported: String,
    },
    #[error("{0}")]
    Binding(BindingError),
}

impl SendError {
    /// Response metadata to return even though the call failed.
    pub fn metadata(&self) -> Option<&crate::sidecar::components::bindings::Metadata> {
        match self {
            SendError::Binding(e) if !e.metadata.is_empty() => Some(&e.metadata),
            _ => None,
        }
    }
}

pub struct BindingsRuntime {
    components: Arc<ComponentStore>,
    channel: Option<Arc<AppChannel>>,
    resiliency: Resiliency,
    readers: Mutex<Vec<(String, Reader)>>,
    closed: std::sync::atomic::AtomicBool,
}

impl BindingsRuntime {
    pub fn new(
        components: Arc<ComponentStore>,
        channel: Option<Arc<AppChannel>>,
        resiliency: Resiliency,
    ) -> BindingsRuntime {
        BindingsRuntime {
            components,
            channel,
            resiliency,
            readers: Mutex::new(Vec::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Invokes the output binding `name`.
    pub async fn send(
        &self,
        name: &str,
        req: InvokeRequest,
    ) -> Result<Option<InvokeResponse>, SendError> {
        if req.operation.is_empty() {
            return Err(SendError::NoOperation);
        }
        let output = self
            .components
            .binding(name)
            .and_then(|b| b.output.clone())
            .ok_or_else(|| SendError::NotFound(name.to_string()))?;
        let ops = output.operations();
        if !ops.contains(&req.operation.as_str()) {
            return Err(SendError::Unsupported {
                name: name.to_string(),
                operation: req.operation,
                supported: ops.join(" "),
            });
        }
        self.resiliency
            .policy(Target::Component(name))
            .run(|_| {
                let req = req.clone();
                let output = output.clone();
                async move { Outcome::Done(output.invoke(req).await) }
            })
            .await
            .map_err(SendError::Binding)
    }

    /// Starts the input bindings the app takes (once the app is reachable).
    pub async fn start_inputs(self: &Arc<Self>) {
        let names = self.components.names(Category::Bindings);
        let inputs: Vec<_> = names
            .iter()
            .filter_map(|n| {
                let b = self.components.binding(n)?;
                Some((
                    n.to_string(),
                    b.input.clone()?,
                    b.route.clone(),
                    b.direction,
                ))
            })
            .collect();
        if inputs.is_empty() {
            return;
        }
        let Some(channel) = self.channel.clone().filter(|c| c.authority().is_some()) else {
            log::warn(
                scope::RUNTIME,
                "input bindings are not read: this sidecar has no app (--app-port)",
            );
            return;
        };
        let listed = if channel.is_grpc() {
            channel.input_bindings().await.unwrap_or_default()
        } else {
            Vec::new()
        };
        for (name, input, route, direction) in inputs {
            let subscribed = if direction.explicit && direction.input {
                true
            } else if channel.is_grpc() {
                listed.contains(&name)
            } else {
                match channel.probe_binding_route(&route).await {
                    Ok(yes) => yes,
                    Err(e) => {
                        log::warn(scope::RUNTIME, &format!("input binding {name}: {e}"));
                        false
                    }
                }
            };
            if !subscribed {
                log::info(
                    scope::RUNTIME,
                    &format!("app has not subscribed to binding {name}."),
                );
                continue;
            }
            let handler = Arc::new(ToApp {
                name: name.clone(),
                route,
                channel: channel.clone(),
                runtime: Arc::downgrade(self),
            });
            match input.read(handler).await {
                Ok(reader) => {
                    let mut readers = self.readers.lock().await;
                    if self.closed.load(std::sync::atomic::Ordering::Acquire) {
                        drop(readers);
                        reader.close().await;
                        return;
                    }
                    readers.push((name.clone(), reader));
                    log::info(
                        scope::RUNTIME,
                        &format!("reading from input binding {name}"),
                    );
                }
                Err(e) => log::error(
                    scope::RUNTIME,
                    &format!("error reading from input binding {name}: {e}"),
                ),
            }
        }
    }

    /// The input bindings being read (metadata, tests).
    pub async fn reading(&self) -> Vec<String> {
        self.readers
            .lock()
            .await
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Stops every reader; the events in flight finish first.
    pub async fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        let readers = std::mem::take(&mut *self.readers.lock().await);
        futures_util::future::join_all(readers.into_iter().map(|(_, r)| r.close())).await;
    }

    /// Sends a gRPC app's reply data on to the output bindings it named, as a `create`. The
    /// data is re-serialised JSON (`null` when it is not JSON), as upstream.
    async fn forward(&self, to: Vec<String>, data: &[u8], parallel: bool) {
        let data = match serde_json::from_slice::<serde_json::Value>(data) {
            Ok(v) => Bytes::from(serde_json::to_vec(&v).unwrap_or_default()),
            Err(_) => Bytes::from_static(b"null"),
        };
        let send = |name: String| {
            let data = data.clone();
            async move {
                let req = InvokeRequest {
                    operation: "create".into(),
                    data,
                    metadata: Default::default(),
                };
                if let Err(e) = self.send(&name, req).await {
                    log::error(
                        scope::RUNTIME,
                        &format!("error sending the app's reply to output binding {name}: {e}"),
                    );
                    return false;
                }
                true
            }
        };
        if parallel {
            futures_util::future::join_all(to.into_iter().map(send)).await;
        } else {
            for name in to {
                if !send(name).await {
                    break;
                }
            }
        }
    }
}

/// Delivers one input binding's events to the app.
struct ToApp {
    name: String,
    route: String,
    channel: Arc<AppChannel>,
    runtime: std::sync::Weak<BindingsRuntime>,
}

#[async_trait]
impl Handler for ToApp {
    async fn handle(&self, event: ReadEvent) -> Result<Bytes, String> {
        let ev = BindingEvent {
            name: self.name.clone(),
            route: self.route.clone(),
            data: event.data,
            metadata: event.metadata,
        };
        match self.channel.binding_event(&ev).await {
            Ok(reply) => {
                if !reply.to.is_empty()
                    && let Some(rt) = self.runtime.upgrade()
                {
                    rt.forward(reply.to.clone(), &reply.data, reply.parallel)
                        .await;
                }
                Ok(reply.data)
            }
            Err(e) => {
                log::warn(
                    scope::RUNTIME,
                    &format!("error from app consumer for binding [{}]: {e}", self.name),
                );
                Err(e.to_string())
            }
        }
    }
}

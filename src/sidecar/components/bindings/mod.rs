//! Bindings: input bindings (a source of events the runtime delivers to the app) and output
//! bindings (operations the app invokes: `create`, `get`, `query`, ...). One component type
//! may be either or both; its `direction` metadata (`input`, `output`, `input, output`)
//! limits which of them start, as upstream: without it, every direction the type has.
//!
//! An output binding answers an invocation with data and metadata ([`InvokeResponse`]), or
//! with nothing (`None`: the HTTP API answers 204). Its error may carry response metadata
//! too (`bindings.http` reports the status of a failed call). An input binding's
//! [`InputBinding::read`] starts delivering events to a [`Handler`] until the returned
//! [`Reader`] is closed; what the app answered is the handler's result, which the binding
//! may act on (none of the types here retries).
//!
//! One conformance suite (`tests/it/conformance/bindings.rs`) runs over every type.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::sidecar::components::Instance;
use crate::sidecar::resources::{Component, ResourceError};

pub mod cron;
pub mod http;
pub mod localstorage;
pub mod postgres;
pub mod redis;

/// Request or response metadata.
pub type Metadata = HashMap<String, String>;

/// One invocation of an output binding.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    pub operation: String,
    pub data: Bytes,
    pub metadata: Metadata,
}

/// What an output binding answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeResponse {
    pub data: Bytes,
    pub metadata: Metadata,
}

/// A failed invocation; `metadata` is still returned to the caller (as upstream's HTTP API
/// does, e.g. the status of a failed HTTP call).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BindingError {
    pub message: String,
    pub metadata: Metadata,
}

impl BindingError {
    pub fn new(message: impl Into<String>) -> BindingError {
        BindingError {
            message: message.into(),
            metadata: Metadata::new(),
        }
    }
}

/// One event read by an input binding.
#[derive(Debug, Clone, Default)]
pub struct ReadEvent {
    pub data: Bytes,
    pub metadata: Metadata,
}

/// Receives an input binding's events; the app's answer body, or why it failed.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, event: ReadEvent) -> Result<Bytes, String>;
}

#[async_trait]
pub trait OutputBinding: Send + Sync + 'static {
    /// The operations [`OutputBinding::invoke`] accepts (the runtime refuses others).
    fn operations(&self) -> &'static [&'static str];
    async fn invoke(&self, req: InvokeRequest) -> Result<Option<InvokeResponse>, BindingError>;
    /// Release resources on shutdown.
    async fn close(&self) {}
}

#[async_trait]
pub trait InputBinding: Send + Sync + 'static {
    /// Starts delivering events to `handler`.
    async fn read(&self, handler: Arc<dyn Handler>) -> Result<Reader, BindingError>;
}

/// A running input; [`Reader::close`] stops it and waits for the event in flight.
pub struct Reader {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Reader {
    pub fn new(
        stop: tokio::sync::watch::Sender<bool>,
        tasks: Vec<tokio::task::JoinHandle<()>>,
    ) -> Reader {
        Reader { stop, tasks }
    }

    /// Resolves when the reader is being closed (for the binding's tasks).
    pub async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
        let _ = rx.wait_for(|s| *s).await;
    }

    pub async fn close(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The directions a `direction` metadata value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Direction {
    pub input: bool,
    pub output: bool,
    /// Whether `direction` was given; an explicit `input` skips the `OPTIONS` probe of the
    /// app, as upstream.
    pub explicit: bool,
}

impl Direction {
    /// Reads `direction`; values other than `input` and `output` are refused (upstream
    /// would silently start nothing).
    pub fn from_component(c: &Component) -> Result<Direction, ResourceError> {
        let Some(v) = c.meta("direction").filter(|v| !v.trim().is_empty()) else {
            return Ok(Direction {
                input: true,
                output: true,
                explicit: false,
            });
        };
        let mut d = Direction {
            explicit: true,
            ..Direction::default()
        };
        for part in v.split(',') {
            match part.trim().to_ascii_lowercase().as_str() {
                "input" => d.input = true,
                "output" => d.output = true,
                "" => {}
                other => {
                    return Err(c.field_error(
                        "direction",
                        format!(
                            "{other:?} is not a direction; use input, output or \"input, output\""
                        ),
                    ));
                }
            }
        }
        Ok(d)
    }
}

/// A running binding component: its input and output halves (either may be absent) and
/// the app route its events go to.
pub struct BindingComponent {
    pub input: Option<Arc<dyn InputBinding>>,
    pub output: Option<Arc<dyn OutputBinding>>,
    /// `route` metadata, else the component name.
    pub route: String,
    pub direction: Direction,
}

impl BindingComponent {
    /// The instance for `c`, keeping only the halves its `direction` allows.
    pub fn instance(
        c: &Component,
        input: Option<Arc<dyn InputBinding>>,
        output: Option<Arc<dyn OutputBinding>>,
    ) -> Result<Instance, ResourceError> {
        let direction = Direction::from_component(c)?;
        // Upstream takes `route` exactly (case-sensitive), else the name.
        let route = c
            .metadata
            .iter()
            .find(|m| m.name == "route")
            .map(|m| m.value.clone())
            .unwrap_or_else(|| c.name.clone());
        Ok(Instance::Binding(BindingComponent {
            input: input.filter(|_| direction.input),
            output: output.filter(|_| direction.output),
            route,
            direction,
        }))
    }

    /// What metadata lists: `INPUT_BINDING`, `OUTPUT_BINDING`.
    pub fn capabilities(&self) -> Vec<String> {
        let mut caps = Vec::new();
        if self.input.is_some() {
            caps.push("INPUT_BINDING".to_string());
        }
        if self.output.is_some() {
            caps.push("OUTPUT_BINDING".to_string());
        }
        caps
    }

    pub async fn close(&self) {
        if let Some(o) = &self.output {
            o.close().await;
        }
    }
}

/// `ttlInSeconds` of request metadata: a whole number of seconds, not negative.
pub fn ttl_seconds(metadata: &Metadata) -> Result<Option<i64>, BindingError> {
    match metadata.get("ttlInSeconds").map(|v| v.trim()) {
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err(BindingError::new(format!(
                "ttlInSeconds value must be a valid integer of seconds, 0 or more: actual is '{v}'"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions() {
        let d = |v: &str| {
            Direction::from_component(
                &Component::new("b", "bindings.cron").with_meta("direction", v),
            )
        };
        assert_eq!(
            d("input").unwrap(),
            Direction {
                input: true,
                output: false,
                explicit: true
            }
        );
        assert_eq!(
            d(" Input , OUTPUT").unwrap(),
            Direction {
                input: true,
                output: true,
                explicit: true
            }
        );
        assert!(d("sideways").unwrap_err().to_string().contains("direction"));
        let none = Direction::from_component(&Component::new("b", "bindings.cron")).unwrap();
        assert!(none.input && none.output && !none.explicit);
    }

    #[test]
    fn ttls() {
        let m = |v: &str| Metadata::from([("ttlInSeconds".to_string(), v.to_string())]);
        assert_eq!(ttl_seconds(&Metadata::new()).unwrap(), None);
        assert_eq!(ttl_seconds(&m("60")).unwrap(), Some(60));
        assert!(ttl_seconds(&m("-1")).is_err());
        assert!(ttl_seconds(&m("soon")).is_err());
    }
}

//! Configuration: reading items of a configuration store, and subscriptions to their
//! changes. An app subscription (HTTP API) is served here: each change is POSTed to the app
//! at `/configuration/<store>/<key>` for every changed key, with upstream's body
//! `{"id":..,"items":{..}}` (a non-200 answer is logged, as upstream). A stream
//! subscription (gRPC API) hands the changes to the caller, and is unsubscribed when the
//! caller drops it. Every store call goes through the resiliency policy for the component.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{HeaderValue, Method, header};
use tokio::sync::mpsc;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::app_channel::AppChannel;
use crate::sidecar::components::configuration::{ConfigurationStore, Items, Metadata};
use crate::sidecar::components::{Category, ComponentStore};
use crate::sidecar::log::{self, scope};
use crate::sidecar::messages::InvokeRequest;
use crate::sidecar::resiliency::{Outcome, Resiliency, Target};

pub struct ConfigurationApi {
    components: Arc<ComponentStore>,
    resiliency: Resiliency,
    channel: Option<Arc<AppChannel>>,
    /// Live subscriptions made through the API: id ⇒ store name.
    subscriptions: Arc<Mutex<HashMap<String, String>>>,
}

/// A stream subscription: its id and its changes. Dropping it unsubscribes.
pub struct ConfigurationStream {
    pub id: String,
    pub updates: mpsc::UnboundedReceiver<Items>,
    _guard: Unsubscriber,
}

/// Unsubscribes from the store when dropped (the caller went away).
struct Unsubscriber {
    id: String,
    store: Arc<dyn ConfigurationStore>,
    subscriptions: Arc<Mutex<HashMap<String, String>>>,
}

impl Drop for Unsubscriber {
    fn drop(&mut self) {
        let removed = self.subscriptions.lock().unwrap().remove(&self.id);
        if removed.is_some()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (store, id) = (self.store.clone(), self.id.clone());
            rt.spawn(async move {
                let _ = store.unsubscribe(&id).await;
            });
        }
    }
}

impl ConfigurationApi {
    pub fn new(
        components: Arc<ComponentStore>,
        resiliency: Resiliency,
        channel: Option<Arc<AppChannel>>,
    ) -> ConfigurationApi {
        ConfigurationApi {
            components,
            resiliency,
            channel,
            subscriptions: Arc::default(),
        }
    }

    fn store(&self, name: &str) -> Result<&Arc<dyn ConfigurationStore>, ApiError> {
        if self.components.count(Category::Configuration) == 0 {
            return Err(ApiError::configuration_stores_not_configured());
        }
        self.components
            .configuration(name)
            .ok_or_else(|| ApiError::configuration_store_not_found(name))
    }

    /// The items of `keys` (every item when empty).
    pub async fn get(
        &self,
        store: &str,
        keys: &[String],
        metadata: &Metadata,
    ) -> Result<Items, ApiError> {
        let s = self.store(store)?;
        self.resiliency
            .policy(Target::Component(store))
            .run(|_| async { Outcome::Done(s.get(keys, metadata).await) })
            .await
            .map_err(|e| ApiError::configuration_get(store, keys, e))
    }

    async fn subscribe_store(
        &self,
        store: &str,
        s: &Arc<dyn ConfigurationStore>,
        keys: &[String],
        metadata: &Metadata,
        tx: mpsc::UnboundedSender<Items>,
    ) -> Result<String, ApiError> {
        let id = self
            .resiliency
            .policy(Target::Component(store))
            .run(|_| {
                let tx = tx.clone();
                async move { Outcome::Done(s.subscribe(keys, metadata, tx).await) }
            })
            .await
            .map_err(|e| ApiError::configuration_subscribe(store, keys, e))?;
        self.subscriptions
            .lock()
            .unwrap()
            .insert(id.clone(), store.to_string());
        Ok(id)
    }

    /// Subscribes the app (HTTP API): changes are POSTed to it. The subscription id.
    pub async fn subscribe_app(
        &self,
        store: &str,
        keys: &[String],
        metadata: &Metadata,
    ) -> Result<String, ApiError> {
        let s = self.store(store)?;
        let channel = match &self.channel {
            Some(c) if c.authority().is_some() => c.clone(),
            _ => return Err(ApiError::app_channel_nil_configuration()),
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let id = self.subscribe_store(store, s, keys, metadata, tx).await?;
        let (store, sub_id) = (store.to_string(), id.clone());
        let subscriptions = self.subscriptions.clone();
        tokio::spawn(async move {
            while let Some(items) = rx.recv().await {
                deliver(&channel, &store, &sub_id, &items).await;
            }
            subscriptions.lock().unwrap().remove(&sub_id);
        });
        Ok(id)
    }

    /// Subscribes a stream (gRPC API): the caller reads the changes.
    pub async fn subscribe_stream(
        &self,
        store: &str,
        keys: &[String],
        metadata: &Metadata,
    ) -> Result<ConfigurationStream, ApiError> {
        let s = self.store(store)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.subscribe_store(store, s, keys, metadata, tx).await?;
        Ok(ConfigurationStream {
            _guard: Unsubscriber {
                id: id.clone(),
                store: s.clone(),
                subscriptions: self.subscriptions.clone(),
            },
            id,
            updates: rx,
        })
    }

    /// Stops the subscription `id` of `store` (HTTP API).
    pub async fn unsubscribe(&self, store: &str, id: &str) -> Result<(), ApiError> {
        let s = self.store(store)?;
        self.resiliency
            .policy(Target::Component(store))
            .run(|_| async { Outcome::Done(s.unsubscribe(id).await) })
            .await
            .map_err(|e| ApiError::configuration_unsubscribe(id, e))?;
        self.subscriptions.lock().unwrap().remove(id);
        Ok(())
    }

    /// Stops the subscription `id`, whichever store it is on (gRPC API, where upstream
    /// answers `ok: false` rather than an error for an unknown id).
    pub async fn unsubscribe_id(&self, id: &str) -> Result<(), ApiError> {
        let store = self.subscriptions.lock().unwrap().get(id).cloned();
        match store {
            Some(store) => self.unsubscribe(&store, id).await,
            None => Err(ApiError::configuration_unsubscribe(
                id,
                "subscription does not exist",
            )),
        }
    }
}

/// POSTs one change to the app, once per changed key, as upstream.
async fn deliver(channel: &AppChannel, store: &str, id: &str, items: &Items) {
    let body = serde_json::json!({ "id": id, "items": items }).to_string();
    for key in items.keys() {
        let mut req = InvokeRequest::new(
            format!("configuration/{store}/{key}"),
            Method::POST,
            Body::from(body.clone()),
        );
        req.metadata.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let outcome = match channel.invoke(req).await {
            Ok(res) => {
                let status = res.status;
                // Read the answer so the connection is reused.
                let _ = axum::body::to_bytes(res.body, 64 * 1024).await;
                if status == http::StatusCode::OK {
                    Ok(())
                } else {
                    Err(format!(
                        "error sending configuration item to application, status {}",
                        status.as_u16()
                    ))
                }
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = outcome {
            log::error(
                scope::RUNTIME,
                &format!("error sending configuration item to the app: {e}"),
            );
        }
    }
}

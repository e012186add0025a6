//! The protocol-neutral API core: state operations, metadata, health and shutdown, shared by
//! the HTTP adapter (`api::http`) and a later gRPC adapter.
//!
//! The core validates keys, applies the component's key prefix, calls the store and turns
//! store errors into [`ApiError`]s (the one error table). It knows nothing of HTTP requests;
//! how values are encoded on the wire (JSON re-serialisation for HTTP) is the adapter's job.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use crate::sidecar::components::state::{
    DeleteRequest, Feature, GetResponse, KeyPrefix, Metadata, SetRequest, StateError, StateStore,
    TransactionOp,
};

/// A state store as the API sees it.
pub struct StoreEntry {
    pub name: String,
    pub store: Arc<dyn StateStore>,
    pub prefix: KeyPrefix,
}

/// A component as listed in `GET /v1.0/metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    pub name: String,
    pub component_type: String,
    pub version: String,
    pub capabilities: Vec<String>,
}

/// App health-check settings as shown in metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthInfo {
    pub path: String,
    pub interval: String,
    pub timeout: String,
    pub threshold: u32,
}

/// `appConnectionProperties` of the metadata response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppConnection {
    pub port: Option<u16>,
    pub protocol: String,
    pub channel_address: String,
    pub max_concurrency: Option<usize>,
    pub health: Option<HealthInfo>,
}

/// Fixed facts the core reports.
#[derive(Debug, Clone, Default)]
pub struct CoreInfo {
    pub app_id: String,
    pub runtime_version: String,
    pub enabled_features: Vec<String>,
    pub app_connection: AppConnection,
}

/// One result of a bulk get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItem {
    pub key: String,
    pub data: Option<Bytes>,
    pub etag: Option<String>,
    pub metadata: Metadata,
    pub error: Option<String>,
}

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

/// Shared state of one sidecar's API.
pub struct Core {
    info: CoreInfo,
    stores: HashMap<String, StoreEntry>,
    components: Vec<ComponentInfo>,
    extended: RwLock<BTreeMap<String, String>>,
    outbound_ready: AtomicBool,
    ready: AtomicBool,
    shutdown: tokio::sync::watch::Sender<Option<ShutdownRequest>>,
}

/// Capabilities of a state store for metadata: its features, plus `ACTOR` when it has both
/// ETags and transactions (as upstream).
pub fn state_capabilities(features: &[Feature]) -> Vec<String> {
    let mut caps: Vec<String> = features.iter().map(|f| f.as_str().to_string()).collect();
    if features.contains(&Feature::Etag) && features.contains(&Feature::Transactional) {
        caps.push("ACTOR".into());
    }
    caps
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.contains("||") {
        Err(ApiError::illegal_key(key))
    } else {
        Ok(())
    }
}

impl Core {
    /// `components` lists every loaded component for metadata (stores and others alike).
    pub fn new(info: CoreInfo, stores: Vec<StoreEntry>, components: Vec<ComponentInfo>) -> Core {
        let mut extended = BTreeMap::new();
        extended.insert(
            "daprRuntimeVersion".to_string(),
            info.runtime_version.clone(),
        );
        Core {
            info,
            stores: stores.into_iter().map(|s| (s.name.clone(), s)).collect(),
            components,
            extended: RwLock::new(extended),
            outbound_ready: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            shutdown: tokio::sync::watch::channel(None).0,
        }
    }

    pub fn app_id(&self) -> &str {
        &self.info.app_id
    }

    pub fn store(&self, name: &str) -> Result<&StoreEntry, ApiError> {
        if self.stores.is_empty() {
            return Err(ApiError::state_store_not_configured(name));
        }
        self.stores
            .get(name)
            .ok_or_else(|| ApiError::state_store_not_found(name))
    }

    /// Every store, for closing on shutdown.
    pub fn stores(&self) -> impl Iterator<Item = &StoreEntry> {
        self.stores.values()
    }

    // ---- state ----

    /// Saves items one after the other (not atomically, as upstream's bulk set).
    pub async fn save_state(&self, store: &str, items: Vec<SetRequest>) -> Result<(), ApiError> {
        let entry = self.store(store)?;
        for item in &items {
            check_key(&item.key)?;
        }
        for mut item in items {
            item.key = entry.prefix.apply(&item.key);
            entry
                .store
                .set(item)
                .await
                .map_err(|e| ApiError::state_save(store, &e))?;
        }
        Ok(())
    }

    pub async fn get_state(
        &self,
        store: &str,
        key: &str,
        metadata: &Metadata,
    ) -> Result<Option<GetResponse>, ApiError> {
        let entry = self.store(store)?;
        check_key(key)?;
        entry
            .store
            .get(&entry.prefix.apply(key), metadata)
            .await
            .map_err(|e| ApiError::state_get(store, key, &e))
    }

    /// Reads `keys` with at most `parallelism` reads in flight; per-key failures are
    /// reported in the item, not as an error of the call.
    pub async fn bulk_get_state(
        &self,
        store: &str,
        keys: Vec<String>,
        parallelism: usize,
        metadata: &Metadata,
    ) -> Result<Vec<BulkItem>, ApiError> {
        let entry = self.store(store)?;
        for k in &keys {
            check_key(k)?;
        }
        let reads = keys.into_iter().map(|key| async move {
            let got = entry.store.get(&entry.prefix.apply(&key), metadata).await;
            match got {
                Ok(Some(r)) => BulkItem {
                    key,
                    data: Some(r.data),
                    etag: r.etag,
                    metadata: r.metadata,
                    error: None,
                },
                Ok(None) => BulkItem {
                    key,
                    data: None,
                    etag: None,
                    metadata: Metadata::new(),
                    error: None,
                },
                Err(e) => BulkItem {
                    key,
                    data: None,
                    etag: None,
                    metadata: Metadata::new(),
                    error: Some(e.to_string()),
                },
            }
        });
        Ok(futures_util::stream::iter(reads)
            .buffered(parallelism.max(1))
            .collect()
            .await)
    }

    pub async fn delete_state(&self, store: &str, mut req: DeleteRequest) -> Result<(), ApiError> {
        let entry = self.store(store)?;
        check_key(&req.key)?;
        let key = std::mem::take(&mut req.key);
        req.key = entry.prefix.apply(&key);
        entry
            .store
            .delete(req)
            .await
            .map_err(|e| ApiError::state_delete(&key, &e))
    }

    pub async fn transact_state(
        &self,
        store: &str,
        mut ops: Vec<TransactionOp>,
        metadata: &Metadata,
    ) -> Result<(), ApiError> {
        let entry = self.store(store)?;
        if !entry.store.features().contains(&Feature::Transactional) {
            return Err(ApiError::state_store_not_transactional(store));
        }
        for op in &mut ops {
            let key = match op {
                TransactionOp::Upsert(r) => &mut r.key,
                TransactionOp::Delete(r) => &mut r.key,
            };
            check_key(key)?;
            *key = entry.prefix.apply(key);
        }
        if ops.is_empty() {
            return Ok(());
        }
        entry
            .store
            .transact(ops, metadata)
            .await
            .map_err(|e: StateError| ApiError::state_transaction(&e))
    }

    // ---- metadata ----

    pub fn set_extended(&self, key: &str, value: String) {
        if key.is_empty() {
            return;
        }
        if let Ok(mut m) = self.extended.write() {
            m.insert(key.to_string(), value);
        }
    }

    /// The `GET /v1.0/metadata` document, with upstream's field names; empty fields are
    /// omitted as Go's `omitempty` does.
    pub fn metadata(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("id".into(), self.info.app_id.clone().into());
        doc.insert(
            "runtimeVersion".into(),
            self.info.runtime_version.clone().into(),
        );
        if !self.info.enabled_features.is_empty() {
            doc.insert("enabledFeatures".into(), json!(self.info.enabled_features));
        }
        if !self.components.is_empty() {
            let list: Vec<Value> = self
                .components
                .iter()
                .map(|c| {
                    let mut m = Map::new();
                    m.insert("name".into(), c.name.clone().into());
                    m.insert("type".into(), c.component_type.clone().into());
                    m.insert("version".into(), c.version.clone().into());
                    if !c.capabilities.is_empty() {
                        m.insert("capabilities".into(), json!(c.capabilities));
                    }
                    Value::Object(m)
                })
                .collect();
            doc.insert("components".into(), Value::Array(list));
        }
        let extended = self.extended.read().map(|m| m.clone()).unwrap_or_default();
        doc.insert("extended".into(), json!(extended));
        let app = &self.info.app_connection;
        let mut conn = Map::new();
        if let Some(p) = app.port {
            conn.insert("port".into(), p.into());
        }
        conn.insert("protocol".into(), app.protocol.clone().into());
        conn.insert("channelAddress".into(), app.channel_address.clone().into());
        if let Some(c) = app.max_concurrency {
            conn.insert("maxConcurrency".into(), c.into());
        }
        if let Some(h) = &app.health {
            conn.insert(
                "health".into(),
                json!({
                    "healthCheckPath": h.path,
                    "healthProbeInterval": h.interval,
                    "healthProbeTimeout": h.timeout,
                    "healthThreshold": h.threshold,
                }),
            );
        }
        doc.insert("appConnectionProperties".into(), Value::Object(conn));
        doc.insert(
            "actorRuntime".into(),
            json!({"runtimeStatus": "DISABLED", "hostReady": false}),
        );
        Value::Object(doc)
    }

    // ---- health and shutdown ----

    /// API servers and components are up: `/v1.0/healthz/outbound` answers 204.
    pub fn set_outbound_ready(&self) {
        self.outbound_ready.store(true, Ordering::Release);
    }

    /// The app is reachable (or there is none): `/v1.0/healthz` answers 204.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn outbound_health(&self) -> Result<(), ApiError> {
        if self.outbound_ready.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(ApiError::outbound_not_ready())
        }
    }

    /// `appid`: the `?appid=` query of the health route, checked against our own id.
    pub fn health(&self, appid: Option<&str>) -> Result<(), ApiError> {
        if let Some(id) = appid
            && !id.is_empty()
            && id != self.info.app_id
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

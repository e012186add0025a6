//! Metadata: what `GET /v1.0/metadata` and gRPC `GetMetadata` report, as one typed value
//! that each adapter encodes, plus the extended attributes apps set.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::sidecar::components::{ComponentInfo, ComponentStore};
use crate::sidecar::pubsub::{PubSubRuntime, SubscriptionInfo};

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

/// The actor runtime's state as metadata reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActorRuntimeStatus {
    Initializing,
    #[default]
    Disabled,
    Running,
}

impl ActorRuntimeStatus {
    /// The name used by both APIs (`DISABLED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ActorRuntimeStatus::Initializing => "INITIALIZING",
            ActorRuntimeStatus::Disabled => "DISABLED",
            ActorRuntimeStatus::Running => "RUNNING",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActorRuntime {
    pub status: ActorRuntimeStatus,
    pub host_ready: bool,
    /// `placement: connected` once the runtime runs; empty otherwise.
    pub placement: String,
    /// Active actors by hosted type.
    pub active_actors: Vec<(String, usize)>,
}

/// Fixed facts the sidecar reports.
#[derive(Debug, Clone, Default)]
pub struct SidecarInfo {
    pub app_id: String,
    pub runtime_version: String,
    pub enabled_features: Vec<String>,
    pub app_connection: AppConnection,
}

/// The metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub id: String,
    pub runtime_version: String,
    pub enabled_features: Vec<String>,
    pub components: Vec<ComponentInfo>,
    pub subscriptions: Vec<SubscriptionInfo>,
    pub extended: BTreeMap<String, String>,
    pub app_connection: AppConnection,
    pub actor_runtime: ActorRuntime,
    /// The scheduler's addresses: one `local:<file>` entry for the in-process scheduler
    /// once its storage is open.
    pub scheduler: Vec<String>,
    /// Workflow workers connected (open `GetWorkItems` streams).
    pub workflow_workers: usize,
}

pub struct MetadataApi {
    info: SidecarInfo,
    components: Arc<ComponentStore>,
    pubsub: Arc<PubSubRuntime>,
    actors: Arc<crate::sidecar::actors::ActorRuntime>,
    scheduler: crate::sidecar::scheduler::Scheduler,
    extended: RwLock<BTreeMap<String, String>>,
}

impl MetadataApi {
    pub fn new(
        info: SidecarInfo,
        components: Arc<ComponentStore>,
        pubsub: Arc<PubSubRuntime>,
        actors: Arc<crate::sidecar::actors::ActorRuntime>,
        scheduler: crate::sidecar::scheduler::Scheduler,
    ) -> MetadataApi {
        let mut extended = BTreeMap::new();
        extended.insert(
            "daprRuntimeVersion".to_string(),
            info.runtime_version.clone(),
        );
        MetadataApi {
            info,
            components,
            pubsub,
            actors,
            scheduler,
            extended: RwLock::new(extended),
        }
    }

    /// `PUT /v1.0/metadata/{key}`, gRPC `SetMetadata`; an empty key is ignored.
    pub fn set_extended(&self, key: &str, value: String) {
        if key.is_empty() {
            return;
        }
        if let Ok(mut m) = self.extended.write() {
            m.insert(key.to_string(), value);
        }
    }

    pub async fn get(&self) -> Metadata {
        Metadata {
            id: self.info.app_id.clone(),
            runtime_version: self.info.runtime_version.clone(),
            enabled_features: self.info.enabled_features.clone(),
            components: self.components.infos(),
            subscriptions: self.pubsub.subscriptions().await,
            extended: self.extended.read().map(|m| m.clone()).unwrap_or_default(),
            app_connection: self.info.app_connection.clone(),
            actor_runtime: {
                let s = self.actors.status();
                ActorRuntime {
                    status: match s.phase {
                        "RUNNING" => ActorRuntimeStatus::Running,
                        "INITIALIZING" => ActorRuntimeStatus::Initializing,
                        _ => ActorRuntimeStatus::Disabled,
                    },
                    host_ready: s.host_ready,
                    placement: s.placement,
                    active_actors: s.active,
                }
            },
            scheduler: self.scheduler.address().into_iter().collect(),
            workflow_workers: 0,
        }
    }
}

impl super::Api {
    /// The whole metadata document: the sidecar's own part and the workflow engine's.
    pub async fn get_metadata(&self) -> Metadata {
        Metadata {
            workflow_workers: self.workflows().connected_workers(),
            ..self.metadata.get().await
        }
    }
}

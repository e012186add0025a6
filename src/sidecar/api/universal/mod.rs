//! The protocol-neutral API: one struct per building block, each with typed requests and
//! responses, errors from the one table. The HTTP and gRPC adapters hold an [`Api`] and
//! only decode and encode.

pub mod actors;
pub mod bindings;
pub mod configuration;
pub mod health;
pub mod invoke;
pub mod jobs;
pub mod lock;
pub mod metadata;
pub mod pubsub;
pub mod secrets;
pub mod state;
pub mod workflows;

use std::sync::Arc;

use crate::sidecar::actors::ActorRuntime;
use crate::sidecar::bindings::BindingsRuntime;
use crate::sidecar::components::ComponentStore;
use crate::sidecar::invoke::Invoker;
use crate::sidecar::pubsub::PubSubRuntime;
use crate::sidecar::resiliency::Resiliency;
use crate::sidecar::scheduler::Scheduler;
use crate::sidecar::scheduler::store::StoreSettings;

/// Every building block of one sidecar.
pub struct Api {
    pub app_id: String,
    pub state: state::StateApi,
    pub invoke: invoke::InvokeApi,
    pub metadata: metadata::MetadataApi,
    pub pubsub: pubsub::PubSubApi,
    pub secrets: secrets::SecretsApi,
    pub health: health::HealthApi,
    pub bindings: bindings::BindingsApi,
    pub lock: lock::LockApi,
    pub configuration: configuration::ConfigurationApi,
    pub actors: actors::ActorsApi,
    /// Jobs; its scheduler also keeps the actor reminders.
    pub jobs: jobs::JobsApi,
    /// The workflow engine (served to the SDKs as `TaskHubSidecarService`).
    workflows: Arc<crate::sidecar::workflows::Engine>,
    components: Arc<ComponentStore>,
}

impl Api {
    pub fn new(
        info: metadata::SidecarInfo,
        components: Arc<ComponentStore>,
        invoker: Option<Arc<Invoker>>,
        resiliency: Resiliency,
    ) -> Api {
        let app_id = info.app_id.clone();
        let runtime = Arc::new(PubSubRuntime::new(
            &app_id,
            components.clone(),
            invoker.as_ref().map(|i| i.channel().clone()),
        ));
        let bindings = bindings::BindingsApi::new(Arc::new(BindingsRuntime::new(
            components.clone(),
            invoker.as_ref().map(|i| i.channel().clone()),
            resiliency.clone(),
        )));
        let app_channel = invoker.as_ref().map(|i| i.channel().clone());
        let actors = Arc::new(ActorRuntime::new(
            &app_id,
            app_channel.clone(),
            components.clone(),
            &info.enabled_features,
        ));
        if let Some(inv) = &invoker {
            actors.set_invoker(inv.clone());
            inv.set_actor_runtime(&actors);
        }
        // Jobs live next to the name-resolution registry, shared by the machine's sidecars.
        let scheduler = match &invoker {
            Some(inv) => Scheduler::new(
                StoreSettings::from_registry(inv.registry_settings()),
                inv.namespace(),
                &app_id,
            ),
            None => Scheduler::in_memory("default", &app_id),
        };
        actors.set_scheduler(scheduler.clone());
        let workflows = crate::sidecar::workflows::Engine::new(
            &app_id,
            invoker.as_ref().map_or("default", |i| i.namespace()),
            components.clone(),
        );
        Api {
            actors: actors::ActorsApi::new(actors.clone()),
            bindings,
            lock: lock::LockApi::new(&app_id, components.clone(), resiliency.clone()),
            configuration: configuration::ConfigurationApi::new(
                components.clone(),
                resiliency.clone(),
                app_channel,
            ),
            state: state::StateApi::new(&app_id, components.clone(), resiliency.clone()),
            secrets: secrets::SecretsApi::new(components.clone(), resiliency.clone()),
            pubsub: pubsub::PubSubApi::new(
                &app_id,
                components.clone(),
                runtime.clone(),
                resiliency,
            ),
            invoke: invoke::InvokeApi::new(invoker),
            health: health::HealthApi::new(&app_id),
            metadata: metadata::MetadataApi::new(
                info,
                components.clone(),
                runtime,
                actors,
                scheduler.clone(),
            ),
            jobs: jobs::JobsApi::new(scheduler),
            workflows,
            components,
            app_id,
        }
    }

    /// The workflow engine.
    pub fn workflow_engine(&self) -> &Arc<crate::sidecar::workflows::Engine> {
        &self.workflows
    }

    /// The scheduler of jobs and actor reminders.
    pub fn scheduler(&self) -> &Scheduler {
        self.jobs.scheduler()
    }

    /// The running components (closed on shutdown).
    pub fn components(&self) -> &Arc<ComponentStore> {
        &self.components
    }
}

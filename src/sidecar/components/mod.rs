//! Components: what turns a `Component` resource into something running.
//!
//! * [`registry`]: one factory row per component type (type, versions, metadata
//!   validation, constructor) — the only list of types there is;
//! * [`ComponentStore`]: the running components, keyed by category and name, which the API
//!   blocks look components up in;
//! * [`secrets`]: `secretKeyRef` resolution, after secret stores have started;
//! * [`metadata`]: typed reads of component metadata shared by every type;
//! * [`redis`]: the Redis connection settings and client shared by `state.redis` and
//!   `pubsub.redis`;
//! * one module per category with its trait and implementations: [`state`],
//!   [`secretstores`], [`pubsub`], [`bindings`], [`lock`], [`configuration`].
//!
//! Start-up is two steps: [`plan`] (no I/O: every type known, every field valid, so that
//! mistakes surface before anything connects) and [`ComponentStore::start`].

pub mod bindings;
pub mod configuration;
pub mod lock;
pub mod metadata;
pub mod pubsub;
pub mod redis;
pub mod registry;
pub mod secrets;
pub mod secretstores;
pub mod sqlite;
pub mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::sidecar::log::{self, scope};
use crate::sidecar::resources::{Component, ResourceError, parse_duration};

pub use registry::{Context, Factory};

/// The component categories Dapr defines (the part of `spec.type` before the first dot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    State,
    PubSub,
    Bindings,
    SecretStores,
    Configuration,
    Lock,
    Middleware,
    Crypto,
    Conversation,
    NameResolution,
    Workflow,
}

impl Category {
    pub const ALL: [Category; 11] = [
        Category::State,
        Category::PubSub,
        Category::Bindings,
        Category::SecretStores,
        Category::Configuration,
        Category::Lock,
        Category::Middleware,
        Category::Crypto,
        Category::Conversation,
        Category::NameResolution,
        Category::Workflow,
    ];

    /// The type prefix, e.g. `state` for `state.redis`.
    pub fn prefix(self) -> &'static str {
        match self {
            Category::State => "state",
            Category::PubSub => "pubsub",
            Category::Bindings => "bindings",
            Category::SecretStores => "secretstores",
            Category::Configuration => "configuration",
            Category::Lock => "lock",
            Category::Middleware => "middleware",
            Category::Crypto => "crypto",
            Category::Conversation => "conversation",
            Category::NameResolution => "nameresolution",
            Category::Workflow => "workflow",
        }
    }

    /// The category of a component type, if Dapr defines it.
    pub fn of(component_type: &str) -> Option<Category> {
        let prefix = component_type.split_once('.')?.0;
        Category::ALL.into_iter().find(|c| c.prefix() == prefix)
    }
}

/// A running component, as its category's API uses it.
pub enum Instance {
    State(state::StateComponent),
    SecretStore(Arc<dyn secretstores::SecretStore>),
    PubSub(Arc<dyn pubsub::PubSub>),
    Binding(bindings::BindingComponent),
    Lock(lock::LockComponent),
    Configuration(Arc<dyn configuration::ConfigurationStore>),
}

impl Instance {
    /// What `GET /v1.0/metadata` lists as the component's capabilities.
    pub fn capabilities(&self) -> Vec<String> {
        match self {
            Instance::State(s) => state::capabilities(s.store.features()),
            Instance::SecretStore(s) => s.features(),
            Instance::PubSub(p) => p.features(),
            Instance::Binding(b) => b.capabilities(),
            Instance::Lock(l) => l.store.features(),
            Instance::Configuration(c) => c.features(),
        }
    }

    /// Flush and release resources on shutdown.
    pub async fn close(&self) {
        match self {
            Instance::State(s) => s.store.close().await,
            Instance::SecretStore(_) => {}
            Instance::PubSub(p) => p.close().await,
            Instance::Binding(b) => b.close().await,
            Instance::Lock(l) => l.store.close().await,
            Instance::Configuration(c) => c.close().await,
        }
    }
}

/// A loaded component as `GET /v1.0/metadata` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    pub name: String,
    pub component_type: String,
    pub version: String,
    pub capabilities: Vec<String>,
}

struct Running {
    info: ComponentInfo,
    category: Category,
    instance: Instance,
}

/// The running components, keyed by category and name, in load order.
#[derive(Default)]
pub struct ComponentStore {
    running: Vec<Running>,
    index: HashMap<(Category, String), usize>,
    /// Topic scoping of each pub/sub component, from its runtime-level metadata.
    topic_scopes: HashMap<String, pubsub::scopes::TopicScopes>,
    /// The state store with runtime-level metadata `actorStateStore: "true"` (the first one).
    actor_state_store: Option<String>,
}

/// What [`plan`] decided: the components to start (with their factory) and those skipped.
pub struct Plan {
    pub start: Vec<(Component, &'static Factory)>,
    /// In-scope components of official categories this daprd does not implement yet
    /// (`pubsub.*`, `bindings.*`, ...); the runtime warns about each.
    pub skipped: Vec<Component>,
}

/// Checks every component without I/O: its type and version are registered, environment
/// secret references resolve, its metadata is valid (components with `ignoreErrors` are
/// checked at start instead, where their failure is only reported). Components whose
/// `secretKeyRef`s go through a secret store are checked once that store has started.
pub fn plan(components: Vec<Component>, ctx: &Context) -> Result<Plan, ResourceError> {
    let mut plan = Plan {
        start: Vec::new(),
        skipped: Vec::new(),
    };
    for c in components {
        let Some(factory) = registry::lookup(&c)? else {
            plan.skipped.push(c);
            continue;
        };
        // A secret store's own references, and those of a component naming no secret
        // store, come from the environment.
        let c = if c.secret_store.is_none() || factory.category() == Category::SecretStores {
            secrets::resolve_from_env(c)?
        } else {
            c
        };
        if !c.ignore_errors && !secrets::pending(&c) {
            (factory.validate)(&c, ctx)?;
        }
        plan.start.push((c, factory));
    }
    Ok(plan)
}

/// Default `spec.initTimeout`, as upstream.
const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(5);

impl ComponentStore {
    /// Starts the planned components: secret stores first, then every other component once
    /// its secret references resolve, each bounded by its `spec.initTimeout`. A component
    /// with `ignoreErrors: true` that fails is reported and left out.
    pub async fn start(plan: Plan, ctx: &Context) -> Result<ComponentStore, ResourceError> {
        let mut store = ComponentStore::default();
        let (secret_stores, others): (Vec<_>, Vec<_>) = plan
            .start
            .into_iter()
            .partition(|(_, f)| f.category() == Category::SecretStores);
        for (c, factory) in secret_stores {
            store.start_one(c, factory, ctx).await?;
        }
        let mut ready = Vec::with_capacity(others.len());
        for (c, factory) in others {
            if !secrets::pending(&c) {
                ready.push((c, factory));
                continue;
            }
            match secrets::resolve_from_store(c.clone(), &store).await {
                Ok(c) => {
                    if !c.ignore_errors {
                        (factory.validate)(&c, ctx)?;
                    }
                    ready.push((c, factory));
                }
                Err(e) if c.ignore_errors => ignored(&c, &e),
                Err(e) => return Err(e),
            }
        }
        for (c, factory) in ready {
            store.start_one(c, factory, ctx).await?;
        }
        Ok(store)
    }

    async fn start_one(
        &mut self,
        c: Component,
        factory: &'static Factory,
        ctx: &Context,
    ) -> Result<(), ResourceError> {
        let init_timeout = c
            .init_timeout
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(DEFAULT_INIT_TIMEOUT);
        let created = async {
            (factory.validate)(&c, ctx)?;
            tokio::time::timeout(init_timeout, (factory.create)(c.clone(), ctx.clone()))
                .await
                .unwrap_or_else(|_| {
                    Err(c.field_error(
                        "spec.initTimeout",
                        format!(
                            "initialisation did not finish within {init_timeout:?}; check the \
                             component's server is reachable or raise spec.initTimeout"
                        ),
                    ))
                })
        }
        .await;
        let instance = match created {
            Ok(i) => i,
            Err(e) if c.ignore_errors => {
                ignored(&c, &e);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        log::info(
            scope::RUNTIME,
            &format!(
                "Component loaded: {} ({}/{})",
                c.name, c.component_type, c.version
            ),
        );
        self.insert(c, factory.category(), instance);
        Ok(())
    }

    /// Adds a running component (start-up, and tests that build a store in code).
    pub fn insert(&mut self, c: Component, category: Category, instance: Instance) {
        if category == Category::State
            && c.meta("actorStateStore")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            match &self.actor_state_store {
                None => self.actor_state_store = Some(c.name.clone()),
                Some(first) => log::warn(
                    scope::RUNTIME,
                    &format!(
                        "detected duplicate actor state store: {first} and {}; {first} is used",
                        c.name
                    ),
                ),
            }
        }
        if category == Category::PubSub {
            self.topic_scopes.insert(
                c.name.clone(),
                pubsub::scopes::TopicScopes::from_component(&c),
            );
        }
        let info = ComponentInfo {
            capabilities: instance.capabilities(),
            name: c.name,
            component_type: c.component_type,
            version: c.version,
        };
        self.index
            .insert((category, info.name.clone()), self.running.len());
        self.running.push(Running {
            info,
            category,
            instance,
        });
    }

    fn get(&self, category: Category, name: &str) -> Option<&Instance> {
        self.index
            .get(&(category, name.to_string()))
            .map(|i| &self.running[*i].instance)
    }

    /// How many components of `category` run.
    pub fn count(&self, category: Category) -> usize {
        self.running
            .iter()
            .filter(|r| r.category == category)
            .count()
    }

    /// The state store named `name`.
    pub fn state(&self, name: &str) -> Option<&state::StateComponent> {
        match self.get(Category::State, name) {
            Some(Instance::State(s)) => Some(s),
            _ => None,
        }
    }

    /// The state store marked `actorStateStore: "true"`, by name.
    pub fn actor_state_store(&self) -> Option<(&str, &state::StateComponent)> {
        let name = self.actor_state_store.as_deref()?;
        Some((name, self.state(name)?))
    }

    /// The secret store named `name`.
    pub fn secret_store(&self, name: &str) -> Option<&Arc<dyn secretstores::SecretStore>> {
        match self.get(Category::SecretStores, name) {
            Some(Instance::SecretStore(s)) => Some(s),
            _ => None,
        }
    }

    /// The pub/sub broker named `name`.
    pub fn pubsub(&self, name: &str) -> Option<&Arc<dyn pubsub::PubSub>> {
        match self.get(Category::PubSub, name) {
            Some(Instance::PubSub(p)) => Some(p),
            _ => None,
        }
    }

    /// The binding component named `name`.
    pub fn binding(&self, name: &str) -> Option<&bindings::BindingComponent> {
        match self.get(Category::Bindings, name) {
            Some(Instance::Binding(b)) => Some(b),
            _ => None,
        }
    }

    /// The lock store named `name`.
    pub fn lock(&self, name: &str) -> Option<&lock::LockComponent> {
        match self.get(Category::Lock, name) {
            Some(Instance::Lock(l)) => Some(l),
            _ => None,
        }
    }

    /// The configuration store named `name`.
    pub fn configuration(&self, name: &str) -> Option<&Arc<dyn configuration::ConfigurationStore>> {
        match self.get(Category::Configuration, name) {
            Some(Instance::Configuration(c)) => Some(c),
            _ => None,
        }
    }

    /// The topic scoping of the pub/sub component `name` (none for an unknown name).
    pub fn topic_scopes(&self, name: &str) -> Option<&pubsub::scopes::TopicScopes> {
        self.topic_scopes.get(name)
    }

    /// Names of the running components of `category`, in load order.
    pub fn names(&self, category: Category) -> Vec<&str> {
        self.running
            .iter()
            .filter(|r| r.category == category)
            .map(|r| r.info.name.as_str())
            .collect()
    }

    /// Every running component, for metadata, in load order.
    pub fn infos(&self) -> Vec<ComponentInfo> {
        self.running.iter().map(|r| r.info.clone()).collect()
    }

    /// Closes every component (shutdown).
    pub async fn close(&self) {
        for r in &self.running {
            r.instance.close().await;
        }
    }
}

fn ignored(c: &Component, e: &ResourceError) {
    log::warn(
        scope::COMPONENTS,
        &format!("error initializing component {} (ignored): {e}", c.name),
    );
}

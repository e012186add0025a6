//! Conformance suites: one per component kind, run against every registered type of that
//! kind: `state`, `pubsub`, `secretstores`, `bindings`, `lock`, `configuration`; more as
//! those kinds arrive.

mod bindings;
mod configuration;
mod lock;
mod pubsub;
mod secretstores;
mod state;

use std::sync::Arc;

use dapr_cli::sidecar::components::pubsub::PubSub;
use dapr_cli::sidecar::components::state::StateStore;
use dapr_cli::sidecar::components::{self, ComponentStore, Context};
use dapr_cli::sidecar::resources::{Component, ResourceError};

/// Starts `c` the way daprd does (registry lookup, validation, creation bounded by
/// `spec.initTimeout`) and returns its state store.
pub async fn start_state(c: Component) -> Result<Arc<dyn StateStore>, ResourceError> {
    let ctx = Context::new("myapp");
    let name = c.name.clone();
    let plan = components::plan(vec![c], &ctx)?;
    let running = ComponentStore::start(plan, &ctx).await?;
    Ok(running
        .state(&name)
        .expect("a started state component")
        .store
        .clone())
}

/// Starts `c` the way daprd does (app id `myapp`) and returns its pub/sub broker.
pub async fn start_pubsub(c: Component) -> Result<Arc<dyn PubSub>, ResourceError> {
    let ctx = Context::new("myapp");
    let name = c.name.clone();
    let plan = components::plan(vec![c], &ctx)?;
    let running = ComponentStore::start(plan, &ctx).await?;
    Ok(running
        .pubsub(&name)
        .expect("a started pub/sub component")
        .clone())
}

//! `GetMetadata` (the typed metadata encoded as its proto message), `SetMetadata` and
//! `Shutdown`.

use dapr::dapr::proto::runtime::v1 as pb;
use tonic::metadata::MetadataMap;

use crate::sidecar::api::universal::Api;
use crate::sidecar::api::universal::health::ShutdownRequest;
use crate::sidecar::api::universal::metadata::ActorRuntimeStatus;
use crate::sidecar::pubsub::Kind;

fn i32_of(n: Option<usize>) -> i32 {
    n.and_then(|n| i32::try_from(n).ok()).unwrap_or(0)
}

// `active_actors_count` is deprecated upstream but still filled, for older clients.
#[allow(deprecated)]
pub async fn get(api: &Api) -> pb::GetMetadataResponse {
    let m = api.get_metadata().await;
    let app = &m.app_connection;
    use pb::actor_runtime::ActorRuntimeStatus as Status;
    let status = match m.actor_runtime.status {
        ActorRuntimeStatus::Initializing => Status::Initializing,
        ActorRuntimeStatus::Disabled => Status::Disabled,
        ActorRuntimeStatus::Running => Status::Running,
    };
    let active: Vec<pb::ActiveActorsCount> = m
        .actor_runtime
        .active_actors
        .iter()
        .map(|(t, n)| pb::ActiveActorsCount {
            r#type: t.clone(),
            count: i32::try_from(*n).unwrap_or(i32::MAX),
        })
        .collect();
    pb::GetMetadataResponse {
        active_actors_count: active.clone(),
        id: m.id,
        runtime_version: m.runtime_version,
        enabled_features: m.enabled_features,
        registered_components: m
            .components
            .into_iter()
            .map(|c| pb::RegisteredComponents {
                name: c.name,
                r#type: c.component_type,
                version: c.version,
                capabilities: c.capabilities,
            })
            .collect(),
        extended_metadata: m.extended.into_iter().collect(),
        subscriptions: m
            .subscriptions
            .into_iter()
            .map(|s| pb::PubsubSubscription {
                pubsub_name: s.pubsub_name,
                topic: s.topic,
                metadata: s.metadata,
                rules: Some(pb::PubsubSubscriptionRules {
                    rules: s
                        .rules
                        .into_iter()
                        .map(|(m, path)| pb::PubsubSubscriptionRule { r#match: m, path })
                        .collect(),
                }),
                dead_letter_topic: s.dead_letter_topic,
                r#type: match s.kind {
                    Kind::Declarative => pb::PubsubSubscriptionType::Declarative,
                    Kind::Programmatic => pb::PubsubSubscriptionType::Programmatic,
                    Kind::Streaming => pb::PubsubSubscriptionType::Streaming,
                } as i32,
            })
            .collect(),
        app_connection_properties: Some(pb::AppConnectionProperties {
            port: i32::from(app.port.unwrap_or(0)),
            protocol: app.protocol.clone(),
            channel_address: app.channel_address.clone(),
            max_concurrency: i32_of(app.max_concurrency),
            health: app
                .health
                .as_ref()
                .map(|h| pb::AppConnectionHealthProperties {
                    health_check_path: h.path.clone(),
                    health_probe_interval: h.interval.clone(),
                    health_probe_timeout: h.timeout.clone(),
                    health_threshold: i32::try_from(h.threshold).unwrap_or(i32::MAX),
                }),
        }),
        actor_runtime: Some(pb::ActorRuntime {
            runtime_status: status as i32,
            active_actors: active.clone(),
            host_ready: m.actor_runtime.host_ready,
            placement: m.actor_runtime.placement.clone(),
        }),
        scheduler: (!m.scheduler.is_empty()).then(|| pb::MetadataScheduler {
            connected_addresses: m.scheduler.clone(),
        }),
        workflows: Some(pb::MetadataWorkflows {
            connected_workers: i32::try_from(m.workflow_workers).unwrap_or(i32::MAX),
        }),
        ..Default::default()
    }
}

pub fn set(api: &Api, r: pb::SetMetadataRequest) {
    api.metadata.set_extended(&r.key, r.value);
}

pub fn shutdown(api: &Api, metadata: &MetadataMap) {
    let force = metadata.get("dapr-force-shutdown");
    api.health
        .request_shutdown(ShutdownRequest::from_force_header(
            force.and_then(|v| v.to_str().ok()),
        ));
}

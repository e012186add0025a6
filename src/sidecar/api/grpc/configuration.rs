//! `GetConfiguration`, `SubscribeConfiguration` (server streaming: a first message with the
//! subscription id and no items, then one message per change) and
//! `UnsubscribeConfiguration` (which ends that stream; an unknown id is `ok: false`, not an
//! error, as upstream), plus their `...Alpha1` aliases.

use std::sync::Arc;

use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as pb;
use futures_util::StreamExt;
use tonic::Status;

use super::Stream;
use crate::sidecar::api::universal::Api;
use crate::sidecar::components::configuration::Items;

fn to_proto(items: Items) -> std::collections::HashMap<String, common::ConfigurationItem> {
    items
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                common::ConfigurationItem {
                    value: v.value,
                    version: v.version,
                    metadata: v.metadata,
                },
            )
        })
        .collect()
}

pub async fn get(
    api: &Api,
    r: pb::GetConfigurationRequest,
) -> Result<pb::GetConfigurationResponse, Status> {
    let items = api
        .configuration
        .get(&r.store_name, &r.keys, &r.metadata)
        .await?;
    Ok(pb::GetConfigurationResponse {
        items: to_proto(items),
    })
}

pub async fn subscribe(
    api: Arc<Api>,
    r: pb::SubscribeConfigurationRequest,
) -> Result<Stream<pb::SubscribeConfigurationResponse>, Status> {
    let mut keys = r.keys;
    keys.sort();
    let sub = api
        .configuration
        .subscribe_stream(&r.store_name, &keys, &r.metadata)
        .await?;
    let first = pb::SubscribeConfigurationResponse {
        id: sub.id.clone(),
        items: Default::default(),
    };
    // The subscription (and its unsubscribe-on-drop guard) lives in the stream's state.
    let changes = futures_util::stream::unfold(sub, |mut sub| async move {
        let items = sub.updates.recv().await?;
        let msg = pb::SubscribeConfigurationResponse {
            id: sub.id.clone(),
            items: to_proto(items),
        };
        Some((Ok(msg), sub))
    });
    Ok(futures_util::stream::once(async { Ok(first) })
        .chain(changes)
        .boxed())
}

pub async fn unsubscribe(
    api: &Api,
    r: pb::UnsubscribeConfigurationRequest,
) -> pb::UnsubscribeConfigurationResponse {
    match api.configuration.unsubscribe_id(&r.id).await {
        Ok(()) => pb::UnsubscribeConfigurationResponse {
            ok: true,
            message: String::new(),
        },
        Err(e) => pb::UnsubscribeConfigurationResponse {
            ok: false,
            message: e.message,
        },
    }
}

//! `GetSecret` and `GetBulkSecret`.

use dapr::dapr::proto::runtime::v1 as pb;
use tonic::Status;

use crate::sidecar::api::universal::Api;

pub async fn get(api: &Api, r: pb::GetSecretRequest) -> Result<pb::GetSecretResponse, Status> {
    let secret = api.secrets.get(&r.store_name, &r.key, &r.metadata).await?;
    Ok(pb::GetSecretResponse {
        data: secret.into_iter().collect(),
    })
}

pub async fn bulk(
    api: &Api,
    r: pb::GetBulkSecretRequest,
) -> Result<pb::GetBulkSecretResponse, Status> {
    let all = api.secrets.bulk(&r.store_name, &r.metadata).await?;
    Ok(pb::GetBulkSecretResponse {
        data: all
            .into_iter()
            .map(|(name, secret)| {
                (
                    name,
                    pb::SecretResponse {
                        secrets: secret.into_iter().collect(),
                    },
                )
            })
            .collect(),
    })
}

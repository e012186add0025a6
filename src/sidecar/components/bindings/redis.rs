//! `bindings.redis` (output): string keys in Redis, with the connection metadata every
//! Redis component here reads (`components::redis`), as the official component:
//!
//! * `create`: `SET key data`, then `EXPIRE key ttlInSeconds` when the request has it;
//! * `get`: the value (`GETDEL` with request metadata `delete: "true"`); a missing key
//!   answers empty data (200 with no body over HTTP, as upstream);
//! * `delete`: `DEL key`;
//! * `increment`: `INCR key`, then the TTL as for `create`.
//!
//! Every operation needs the `key` request metadata.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::{
    BindingComponent, BindingError, InvokeRequest, InvokeResponse, OutputBinding, ttl_seconds,
};
use crate::sidecar::components::redis::{Client, PUBSUB, Settings};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

pub struct RedisBinding {
    client: Client,
    conn: ConnectionManager,
}

impl RedisBinding {
    async fn run<T: ::redis::FromRedisValue>(
        &self,
        what: &str,
        cmd: ::redis::Cmd,
    ) -> Result<T, BindingError> {
        let mut conn = self.conn.clone();
        self.client
            .bounded(what, Duration::ZERO, cmd.query_async::<T>(&mut conn))
            .await
            .map_err(BindingError::new)?
            .map_err(|e| BindingError::new(format!("redis {what}: {e}")))
    }

    async fn expire(&self, req: &InvokeRequest, key: &str) -> Result<(), BindingError> {
        if let Some(ttl) = ttl_seconds(&req.metadata)? {
            let mut cmd = ::redis::cmd("EXPIRE");
            cmd.arg(key).arg(ttl);
            self.run::<i64>("EXPIRE", cmd).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl OutputBinding for RedisBinding {
    fn operations(&self) -> &'static [&'static str] {
        &["create", "delete", "get", "increment"]
    }

    async fn invoke(&self, req: InvokeRequest) -> Result<Option<InvokeResponse>, BindingError> {
        let key = match req.metadata.get("key") {
            Some(k) if !k.is_empty() => k.clone(),
            _ => {
                return Err(BindingError::new(
                    "redis binding: missing key in request metadata",
                ));
            }
        };
        match req.operation.as_str() {
            "create" => {
                // Checked before writing, so a bad TTL leaves nothing behind.
                ttl_seconds(&req.metadata)?;
                let mut cmd = ::redis::cmd("SET");
                cmd.arg(&key).arg(req.data.as_ref());
                self.run::<()>("SET", cmd).await?;
                self.expire(&req, &key).await?;
                Ok(None)
            }
            "increment" => {
                ttl_seconds(&req.metadata)?;
                let mut cmd = ::redis::cmd("INCR");
                cmd.arg(&key);
                self.run::<i64>("INCR", cmd).await?;
                self.expire(&req, &key).await?;
                Ok(None)
            }
            "delete" => {
                let mut cmd = ::redis::cmd("DEL");
                cmd.arg(&key);
                self.run::<i64>("DEL", cmd).await?;
                Ok(None)
            }
            "get" => {
                let what = if req.metadata.get("delete").map(String::as_str) == Some("true") {
                    "GETDEL"
                } else {
                    "GET"
                };
                let mut cmd = ::redis::cmd(what);
                cmd.arg(&key);
                let value: Option<Vec<u8>> = self.run(what, cmd).await?;
                Ok(Some(InvokeResponse {
                    data: value.map(Bytes::from).unwrap_or_default(),
                    ..InvokeResponse::default()
                }))
            }
            other => Err(BindingError::new(format!(
                "invalid operation type: {other}"
            ))),
        }
    }
}

/// Registry row: the connection metadata as the other Redis components read it.
pub fn validate(c: &Component, _ctx: &Context) -> Result<(), ResourceError> {
    super::Direction::from_component(c)?;
    Settings::from_component(c, PUBSUB).map(|_| ())
}

/// Registry row: connects and checks the connection with `PING`.
pub fn create(c: Component, _ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let settings = Settings::from_component(&c, PUBSUB)?;
        let client = Client::new(&c, settings)?;
        let conn = client.connect(Duration::ZERO).await.map_err(|e| e.at(&c))?;
        BindingComponent::instance(&c, None, Some(Arc::new(RedisBinding { client, conn })))
    })
}

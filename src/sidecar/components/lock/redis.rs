//! `lock.redis` with the official semantics, so that official daprd and this one can share
//! locks: a lock is the string key `lock||...` holding the owner, taken with
//! `SET key owner NX PX <expiry>` and released by a Lua script that deletes the key only for
//! its owner (answers: deleted ⇒ `SUCCESS`, missing ⇒ `LOCK_DOES_NOT_EXIST`, other owner ⇒
//! `LOCK_BELONGS_TO_OTHERS`). Connection metadata and client set-up are shared with the
//! other Redis components (`components::redis`). Like upstream's standalone lock, a server
//! with replicas is refused at start (a lock could be lost on fail-over).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use futures_util::future::BoxFuture;

use super::{LockComponent, LockError, LockStore, UnlockStatus};
use crate::sidecar::components::redis::{self, Client, Settings};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

/// Upstream's unlock script, unchanged: -1 missing, -2 someone else's, else `DEL`'s answer.
const UNLOCK_SCRIPT: &str = r#"local v = redis.call("get",KEYS[1]); if v==false then return -1 end; if v~=ARGV[1] then return -2 else return redis.call("del",KEYS[1]) end"#;

static UNLOCK: LazyLock<::redis::Script> = LazyLock::new(|| ::redis::Script::new(UNLOCK_SCRIPT));

pub struct RedisLock {
    conn: ConnectionManager,
    client: Client,
}

impl RedisLock {
    /// Connects (and authenticates), then refuses a server with replicas.
    pub async fn connect(c: &Component) -> Result<RedisLock, ResourceError> {
        let settings = Settings::from_component(c, redis::STATE)?;
        let client = Client::new(c, settings)?;
        let mut conn = client.connect(Duration::ZERO).await.map_err(|e| e.at(c))?;
        // As upstream, a failing INFO (some Redis-compatible servers lack it) passes.
        let info = client
            .bounded(
                "INFO replication",
                Duration::ZERO,
                ::redis::cmd("INFO")
                    .arg("replication")
                    .query_async::<String>(&mut conn),
            )
            .await;
        if let Ok(Ok(text)) = info {
            let replicas = connected_replicas(&text);
            if replicas > 0 {
                return Err(c.field_error(
                    "redisHost",
                    format!(
                        "the Redis server at {} has {replicas} replica(s); lock.redis supports a \
                         standalone server only (a lock could be lost on fail-over)",
                        client.settings.address()
                    ),
                ));
            }
        }
        Ok(RedisLock { conn, client })
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> LockError {
        LockError(format!(
            "redis {}: {what} failed: {e}",
            self.client.settings.address()
        ))
    }
}

/// `connected_slaves:N` of an `INFO replication` answer.
fn connected_replicas(info: &str) -> u64 {
    info.lines()
        .find_map(|l| l.trim().strip_prefix("connected_slaves:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[async_trait]
impl LockStore for RedisLock {
    async fn try_lock(
        &self,
        key: &str,
        owner: &str,
        expiry_seconds: i32,
    ) -> Result<bool, LockError> {
        let mut conn = self.conn.clone();
        let millis = i64::from(expiry_seconds.max(1)) * 1000;
        let answer = self
            .client
            .bounded(
                "SET NX",
                Duration::ZERO,
                ::redis::cmd("SET")
                    .arg(key)
                    .arg(owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis)
                    .query_async::<Option<String>>(&mut conn),
            )
            .await
            .map_err(LockError)?
            .map_err(|e| self.error("SET NX", e))?;
        Ok(answer.is_some())
    }

    async fn unlock(&self, key: &str, owner: &str) -> Result<UnlockStatus, LockError> {
        let mut conn = self.conn.clone();
        let mut invocation = UNLOCK.prepare_invoke();
        invocation.key(key).arg(owner);
        let answer = self
            .client
            .bounded(
                "unlock script",
                Duration::ZERO,
                invocation.invoke_async::<i64>(&mut conn),
            )
            .await
            .map_err(LockError)?
            .map_err(|e| self.error("unlock script", e))?;
        Ok(match answer {
            n if n >= 0 => UnlockStatus::Success,
            -1 => UnlockStatus::LockDoesNotExist,
            -2 => UnlockStatus::LockBelongsToOthers,
            _ => UnlockStatus::InternalError,
        })
    }
}

/// Registry row: checks the connection metadata and `keyPrefix` without connecting.
pub fn validate(c: &Component, ctx: &Context) -> Result<(), ResourceError> {
    super::validate_common(c, ctx)?;
    Settings::from_component(c, redis::STATE).map(|_| ())
}

/// Registry row: connects (and authenticates) to the server.
pub fn create(c: Component, ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let store = RedisLock::connect(&c).await?;
        LockComponent::instance(Arc::new(store), &c, &ctx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_read_from_info() {
        assert_eq!(
            connected_replicas("# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"),
            2
        );
        assert_eq!(connected_replicas("role:master\r\n"), 0);
    }
}

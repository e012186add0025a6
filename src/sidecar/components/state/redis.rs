//! `state.redis` with exactly the official storage layout, so official daprd and this one can
//! share a Redis: one hash per key with fields `data` (value bytes) and `version` (integer
//! ETag, `HINCRBY` per write, so the first write yields `1`), plus `first-write = 0` once a
//! key was written with first-write concurrency. Plain string values (legacy) are read with
//! `GET` and have no ETag.
//!
//! Writes run as one Lua script that first checks every ETag with the official rules and
//! then applies the writes and the TTL (`EXPIRE`/`PERSIST`), so a single set is atomic and a
//! transaction is all-or-nothing (upstream's MULTI/EXEC can apply part of a transaction).
//! The connection metadata and client set-up are shared with `pubsub.redis`
//! (`components::redis`): a `ConnectionManager` that reconnects by itself; every operation is
//! bounded by the configured timeouts, so a dead Redis gives an error, never a hang.
//! Limits: single node only (no cluster, sentinel or TLS), no RedisJSON mode, no query API,
//! strong consistency does not `WAIT` for replicas.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::RedisError;
use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;

use futures_util::future::BoxFuture;

use super::StateComponent;
use super::{
    Concurrency, DeleteRequest, Feature, GetResponse, Metadata, SetRequest, StateError, StateStore,
    StoreKind, TransactionOp, check_ttl, expiry_after_ms, request_ttl, rfc3339,
};
use crate::sidecar::components::metadata::meta_int;
use crate::sidecar::components::redis::{self, Client, Settings};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

const KIND: StoreKind = StoreKind {
    component_type: "state.redis",
    features: &[
        Feature::Etag,
        Feature::Transactional,
        Feature::Ttl,
        Feature::KeysLike,
    ],
};

/// Checks then applies a batch of writes. Per key `KEYS[i]`, five arguments:
/// kind (`set`|`del`), ETag (`0` = none given), data, first-write flag (`0` = first-write),
/// TTL seconds (`` = leave as is, >0 = EXPIRE, <=0 = PERSIST).
/// The check phase simulates earlier operations of the batch on the same key, and refuses
/// a TTL that is not a number up to `MAX_TTL` (= [`super::MAX_TTL_SECONDS`]), before the
/// first write.
const WRITE_SCRIPT: &str = r#"
local MAX_TTL = 9223372036
local sim = {}
local function state_of(key)
  local s = sim[key]
  if s then return s end
  local ver = redis.pcall("HGET", key, "version")
  if type(ver) == "table" or ver == "" then ver = false end
  local fw = false
  if ver then fw = redis.call("HEXISTS", key, "first-write") == 1 end
  s = { ver = ver, fw = fw }
  sim[key] = s
  return s
end
for i = 1, #KEYS do
  local b = (i - 1) * 5
  local kind, etag = ARGV[b + 1], ARGV[b + 2]
  local s = state_of(KEYS[i])
  local ttl = ARGV[b + 5]
  if ttl ~= "" and (tonumber(ttl) == nil or tonumber(ttl) > MAX_TTL) then
    return redis.error_reply("TTL_INVALID " .. i)
  end
  if kind == "set" then
    if not (not s.ver or s.ver == etag or (not s.fw and etag == "0")) then
      return redis.error_reply("ETAG_MISMATCH " .. i)
    end
    s.ver = tostring((tonumber(s.ver) or 0) + 1)
    s.fw = s.fw or ARGV[b + 4] == "0"
  else
    if not (not s.ver or s.ver == etag or etag == "0") then
      return redis.error_reply("ETAG_MISMATCH " .. i)
    end
    s.ver = false
    s.fw = false
  end
end
for i = 1, #KEYS do
  local b = (i - 1) * 5
  local key = KEYS[i]
  if ARGV[b + 1] == "set" then
    local t = redis.call("TYPE", key)["ok"]
    if t ~= "hash" and t ~= "none" then redis.call("DEL", key) end
    redis.call("HSET", key, "data", ARGV[b + 3])
    if ARGV[b + 4] == "0" then redis.call("HSET", key, "first-write", 0) end
    redis.call("HINCRBY", key, "version", 1)
    local ttl = ARGV[b + 5]
    if ttl ~= "" then
      if tonumber(ttl) > 0 then redis.call("EXPIRE", key, ttl) else redis.call("PERSIST", key) end
    end
  else
    redis.call("DEL", key)
  end
end
return redis.status_reply("OK")
"#;

/// The write script, for tests that run it against a server directly.
pub fn write_script() -> &'static str {
    WRITE_SCRIPT
}

static SCRIPT: LazyLock<::redis::Script> = LazyLock::new(|| ::redis::Script::new(WRITE_SCRIPT));

/// Validated component metadata: the shared connection settings plus the state-only keys.
#[derive(Debug, Clone)]
pub struct Config {
    pub connection: Settings,
    /// Component-wide `ttlInSeconds`, used when a request has none.
    pub default_ttl: Option<i64>,
}

impl Config {
    pub fn from_component(c: &Component) -> Result<Config, ResourceError> {
        let connection = Settings::from_component(c, redis::STATE)?;
        let default_ttl = match c
            .meta("ttlInSeconds")
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            Some(_) => {
                let ttl = meta_int(c, "ttlInSeconds", 0)?;
                Some(check_ttl(ttl, "ttlInSeconds").map_err(|e| c.field_error("ttlInSeconds", e))?)
            }
            None => None,
        };
        Ok(Config {
            connection,
            default_ttl,
        })
    }
}

pub struct RedisStore {
    conn: ConnectionManager,
    client: Client,
    default_ttl: Option<i64>,
    address: String,
}

impl RedisStore {
    /// Connects (and authenticates) to the configured server.
    pub async fn connect(component: &Component) -> Result<RedisStore, ResourceError> {
        let config = Config::from_component(component)?;
        let client = Client::new(component, config.connection)?;
        let conn = client
            .connect(Duration::ZERO)
            .await
            .map_err(|e| e.at(component))?;
        Ok(RedisStore {
            conn,
            default_ttl: config.default_ttl,
            address: client.settings.address(),
            client,
        })
    }

    /// Runs one command within the operation timeout. The Redis error, if any, is left to
    /// the caller: writes and reads look inside it before mapping it.
    async fn bounded<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, RedisError>>,
    ) -> Result<Result<T, RedisError>, StateError> {
        self.client
            .bounded(what, Duration::ZERO, fut)
            .await
            .map_err(StateError::Other)
    }

    fn map_error(&self, what: &str, e: RedisError) -> StateError {
        StateError::Other(format!("redis {}: {what} failed: {e}", self.address))
    }

    /// Runs the write script over a batch; maps an ETag refusal to `EtagMismatch`.
    async fn write(&self, ops: &[WriteOp]) -> Result<(), StateError> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut invocation = SCRIPT.prepare_invoke();
        for op in ops {
            invocation.key(&op.key);
            invocation
                .arg(op.kind)
                .arg(&op.etag)
                .arg(op.data.as_ref())
                .arg(op.first_write)
                .arg(&op.ttl);
        }
        let mut conn = self.conn.clone();
        match self
            .bounded(
                "write",
                invocation.invoke_async::<::redis::Value>(&mut conn),
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let text = e.to_string();
                if let Some(pos) = text.find("ETAG_MISMATCH") {
                    // The client renders the reply as `ETAG_MISMATCH: <n>` (code, detail).
                    let index: usize = text[pos + "ETAG_MISMATCH".len()..]
                        .trim_start_matches(|c: char| !c.is_ascii_digit())
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1);
                    let op = &ops[index.saturating_sub(1).min(ops.len() - 1)];
                    if op.etag_given {
                        Err(StateError::EtagMismatch(format!(
                            "failed to {} key {}",
                            op.verb(),
                            op.key
                        )))
                    } else {
                        // Only a first-write key refuses a write without an ETag; upstream
                        // reports that as a plain error (HTTP 500), not an ETag mismatch.
                        Err(StateError::Other(format!(
                            "failed to {} key {}: the key was written with first-write \
                             concurrency; pass its ETag to change it",
                            op.verb(),
                            op.key
                        )))
                    }
                } else if text.contains("TTL_INVALID") {
                    // Refused by the script before any write (the Rust side checks first).
                    Err(StateError::BadRequest(format!(
                        "ttlInSeconds must be an integer up to {}",
                        super::MAX_TTL_SECONDS
                    )))
                } else {
                    Err(self.map_error("write", e))
                }
            }
        }
    }

    fn set_op(&self, req: &SetRequest) -> Result<WriteOp, StateError> {
        let ttl = request_ttl(&req.metadata)?.or(self.default_ttl);
        Ok(WriteOp {
            key: req.key.clone(),
            kind: "set",
            etag_given: req.etag.is_some(),
            // Explicit last-write ignores the ETag, unchecked, as upstream's `parseETag`.
            etag: if req.options.concurrency == Concurrency::LastWrite {
                "0".to_string()
            } else {
                etag_arg(req.etag.as_deref())?
            },
            data: req.value.clone(),
            first_write: if req.options.concurrency == Concurrency::FirstWrite {
                "0"
            } else {
                "1"
            },
            ttl: ttl.map(|t| t.to_string()).unwrap_or_default(),
        })
    }

    fn delete_op(req: &DeleteRequest) -> Result<WriteOp, StateError> {
        Ok(WriteOp {
            key: req.key.clone(),
            kind: "del",
            etag_given: req.etag.is_some(),
            etag: etag_arg(req.etag.as_deref())?,
            data: Bytes::new(),
            first_write: "1",
            ttl: String::new(),
        })
    }
}

struct WriteOp {
    key: String,
    kind: &'static str,
    /// Whether the request carried an ETag (`etag` is then its integer form, else `0`).
    etag_given: bool,
    etag: String,
    data: Bytes,
    first_write: &'static str,
    ttl: String,
}

impl WriteOp {
    fn verb(&self) -> &'static str {
        if self.kind == "set" { "set" } else { "delete" }
    }
}

/// Redis ETags are integers; "no ETag" is `0`, as upstream.
fn etag_arg(etag: Option<&str>) -> Result<String, StateError> {
    match etag.map(str::trim) {
        None | Some("") => Ok("0".to_string()),
        Some(e) => e.parse::<i64>().map(|n| n.to_string()).map_err(|_| {
            StateError::EtagInvalid(format!("{e:?} is not a Redis etag (an integer)"))
        }),
    }
}

#[async_trait]
impl StateStore for RedisStore {
    fn kind(&self) -> &'static StoreKind {
        &KIND
    }

    async fn get(
        &self,
        key: &str,
        _metadata: &Metadata,
    ) -> Result<Option<GetResponse>, StateError> {
        let mut conn = self.conn.clone();
        let mut pipe = ::redis::pipe();
        pipe.cmd("HGETALL").arg(key).cmd("PTTL").arg(key);
        let result: Result<(HashMap<String, Vec<u8>>, i64), RedisError> =
            self.bounded("get", pipe.query_async(&mut conn)).await?;
        let (mut fields, pttl) = match result {
            Ok(v) => v,
            // Inside a pipeline the server error comes wrapped, so match on the text too.
            Err(e) if e.code() == Some("WRONGTYPE") || e.to_string().contains("WRONGTYPE") => {
                // Legacy plain string value: data without an ETag.
                let mut conn = self.conn.clone();
                let value: Option<Vec<u8>> = self
                    .bounded("get", ::redis::cmd("GET").arg(key).query_async(&mut conn))
                    .await?
                    .map_err(|e| self.map_error("get", e))?;
                return Ok(value.map(|v| GetResponse {
                    data: Bytes::from(v),
                    etag: None,
                    metadata: Metadata::new(),
                }));
            }
            Err(e) => return Err(self.map_error("get", e)),
        };
        if fields.is_empty() {
            return Ok(None);
        }
        let (Some(data), Some(version)) = (fields.remove("data"), fields.remove("version")) else {
            return Err(StateError::Other(format!(
                "redis {}: key {key} is a hash without the data and version fields Dapr writes",
                self.address
            )));
        };
        let mut metadata = Metadata::new();
        if pttl > 0
            && let Some(expires) = expiry_after_ms(Utc::now(), pttl)
        {
            metadata.insert("ttlExpireTime".to_string(), rfc3339(expires));
        }
        Ok(Some(GetResponse {
            data: Bytes::from(data),
            etag: Some(String::from_utf8_lossy(&version).into_owned()),
            metadata,
        }))
    }

    async fn set(&self, req: SetRequest) -> Result<(), StateError> {
        let op = self.set_op(&req)?;
        self.write(&[op]).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), StateError> {
        let op = Self::delete_op(&req)?;
        self.write(&[op]).await
    }

    async fn transact(
        &self,
        ops: Vec<TransactionOp>,
        _metadata: &Metadata,
    ) -> Result<(), StateError> {
        let mut batch = Vec::with_capacity(ops.len());
        for op in &ops {
            batch.push(match op {
                TransactionOp::Upsert(r) => self.set_op(r)?,
                TransactionOp::Delete(r) => Self::delete_op(r)?,
            });
        }
        self.write(&batch).await
    }
}

/// Registry row: checks the metadata without connecting.
pub fn validate(c: &Component, ctx: &Context) -> Result<(), ResourceError> {
    super::validate_common(c, ctx)?;
    Config::from_component(c).map(|_| ())
}

/// Registry row: connects (and authenticates) to the server.
pub fn create(c: Component, ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let store = RedisStore::connect(&c).await?;
        StateComponent::instance(Arc::new(store), &c, &ctx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_must_be_integers() {
        assert_eq!(etag_arg(None).unwrap(), "0");
        assert_eq!(etag_arg(Some("007")).unwrap(), "7");
        assert!(matches!(
            etag_arg(Some("abc")),
            Err(StateError::EtagInvalid(_))
        ));
    }

    #[test]
    fn the_script_checks_the_same_ttl_bound_as_the_api() {
        let bound = format!("local MAX_TTL = {}\n", super::super::MAX_TTL_SECONDS);
        assert!(WRITE_SCRIPT.trim_start().starts_with(&bound), "{bound}");
    }
}

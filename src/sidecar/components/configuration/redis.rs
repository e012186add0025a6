//! `configuration.redis` with the official value layout: a configuration item is a Redis
//! string `value||version` (`value` alone: empty version); keys holding other types or an
//! empty value are left out of reads. Changes reach subscribers through Redis keyspace
//! notifications: at start the component makes sure `notify-keyspace-events` includes `KEA`
//! (`CONFIG SET`, merged with what the server has; a refusal is logged naming the setting),
//! and one pub/sub connection per component `PSUBSCRIBE`s `__keyspace@<redisDB>__:*` and
//! fans events out to the subscriptions whose keys match (no keys: every key). A set key is
//! read back and sent with its value; a deleted, expired, evicted or renamed-away key is
//! sent with an empty item. The pub/sub connection is reopened after a connection loss
//! (changes made meanwhile are not replayed). Limits: single node, as the other Redis
//! components.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use super::{ConfigurationError, ConfigurationStore, Item, Items, Metadata, Updates};
use crate::sidecar::components::redis::{self, Client, Settings};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::log::{self, scope};
use crate::sidecar::resources::{Component, ResourceError};

/// The keyspace-event classes subscriptions need: `K` keyspace channel, `E` keyevent
/// channel, `A` every command class.
const NEEDED_EVENTS: &str = "KEA";
/// Keys read per `MGET`.
const MGET_CHUNK: usize = 256;
/// Events after which a key no longer holds a value.
const GONE: &[&str] = &["del", "expired", "evicted", "rename_from", "unlink"];

/// What the event listener dispatches to.
struct Subscription {
    /// Empty: every key.
    keys: HashSet<String>,
    updates: Updates,
}

type Subscriptions = Arc<Mutex<HashMap<String, Subscription>>>;

pub struct RedisConfiguration {
    conn: ConnectionManager,
    client: Client,
    subscriptions: Subscriptions,
    listener: tokio::task::JoinHandle<()>,
}

/// Splits an official value into value and version (`a||1` ⇒ (`a`, `1`); only the first two
/// `||`-separated segments count, as upstream).
pub fn parse_value(raw: &str) -> (String, String) {
    let mut parts = raw.split("||");
    let value = parts.next().unwrap_or("").to_string();
    let version = parts.next().unwrap_or("").to_string();
    (value, version)
}

fn item_of(raw: &str) -> Option<Item> {
    let (value, version) = parse_value(raw);
    (!value.is_empty()).then(|| Item {
        value,
        version,
        metadata: HashMap::new(),
    })
}

impl RedisConfiguration {
    /// Connects, enables keyspace notifications (warning when refused) and starts listening
    /// for them.
    pub async fn connect(c: &Component) -> Result<RedisConfiguration, ResourceError> {
        let settings = Settings::from_component(c, redis::STATE)?;
        let client = Client::new(c, settings)?;
        let mut conn = client.connect(Duration::ZERO).await.map_err(|e| e.at(c))?;
        enable_notifications(&client, &mut conn, &c.name).await;
        let subscriptions: Subscriptions = Arc::default();
        let (ready_tx, ready_rx) = oneshot::channel();
        let listener = tokio::spawn(listen(
            client.clone(),
            conn.clone(),
            subscriptions.clone(),
            c.name.clone(),
            ready_tx,
        ));
        // Subscriptions made once start-up is done must not miss changes: wait for the
        // first PSUBSCRIBE.
        match ready_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                listener.abort();
                return Err(c.field_error("redisHost", e));
            }
            Err(_) => {
                return Err(c.field_error("redisHost", "the keyspace listener stopped"));
            }
        }
        Ok(RedisConfiguration {
            conn,
            client,
            subscriptions,
            listener,
        })
    }
}

/// Makes sure `notify-keyspace-events` includes `KEA`, keeping the classes already set.
async fn enable_notifications(client: &Client, conn: &mut ConnectionManager, name: &str) {
    let current = client
        .bounded(
            "CONFIG GET",
            Duration::ZERO,
            ::redis::cmd("CONFIG")
                .arg("GET")
                .arg("notify-keyspace-events")
                .query_async::<Vec<String>>(conn),
        )
        .await;
    let current = match current {
        Ok(Ok(v)) => v.get(1).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    if current.contains('K') && current.contains('E') && current.contains('A') {
        return;
    }
    let mut flags: String = current.chars().filter(|c| !"KEA".contains(*c)).collect();
    flags.push_str(NEEDED_EVENTS);
    let set = client
        .bounded(
            "CONFIG SET",
            Duration::ZERO,
            ::redis::cmd("CONFIG")
                .arg("SET")
                .arg("notify-keyspace-events")
                .arg(&flags)
                .query_async::<()>(conn),
        )
        .await;
    let refused = match set {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e.to_string(),
        Err(e) => e,
    };
    log::warn(
        scope::COMPONENTS,
        &format!(
            "configuration store {name}: could not enable Redis keyspace notifications \
             (CONFIG SET notify-keyspace-events {flags}: {refused}); subscriptions receive \
             changes only if the server's notify-keyspace-events setting includes {NEEDED_EVENTS}"
        ),
    );
}

/// Listens for keyspace events until aborted, reopening the connection after a loss.
async fn listen(
    client: Client,
    conn: ConnectionManager,
    subscriptions: Subscriptions,
    name: String,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let pattern = format!("__keyspace@{}__:*", client.settings.db);
    let prefix = format!("__keyspace@{}__:", client.settings.db);
    let mut ready = Some(ready);
    let mut backoff = Duration::from_millis(100);
    loop {
        let opened = async {
            let mut p = client.pubsub().await?;
            p.psubscribe(&pattern)
                .await
                .map_err(|e| format!("PSUBSCRIBE {pattern}: {e}"))?;
            Ok::<_, String>(p)
        }
        .await;
        let pubsub = match opened {
            Ok(p) => p,
            Err(e) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(e));
                    return;
                }
                log::warn(
                    scope::COMPONENTS,
                    &format!("configuration store {name}: keyspace listener: {e}; retrying"),
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if let Some(r) = ready.take() {
            let _ = r.send(Ok(()));
        }
        backoff = Duration::from_millis(100);
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            let Some(key) = msg.get_channel_name().strip_prefix(&prefix) else {
                continue;
            };
            let op: String = msg.get_payload().unwrap_or_default();
            dispatch(&client, &conn, &subscriptions, &name, key, &op).await;
        }
        log::warn(
            scope::COMPONENTS,
            &format!(
                "configuration store {name}: keyspace listener lost its connection; reconnecting"
            ),
        );
    }
}

/// Sends one key's change to the subscriptions interested in it.
async fn dispatch(
    client: &Client,
    conn: &ConnectionManager,
    subscriptions: &Subscriptions,
    name: &str,
    key: &str,
    op: &str,
) {
    let interested = {
        let subs = subscriptions.lock().unwrap();
        subs.values()
            .any(|s| s.keys.is_empty() || s.keys.contains(key))
    };
    if !interested {
        return;
    }
    let item = if GONE.contains(&op) {
        Item::default()
    } else {
        let mut conn = conn.clone();
        let read = client
            .bounded(
                "GET",
                Duration::ZERO,
                ::redis::cmd("MGET")
                    .arg(key)
                    .query_async::<Vec<Option<String>>>(&mut conn),
            )
            .await;
        match read {
            Ok(Ok(v)) => match v.into_iter().next().flatten().as_deref().and_then(item_of) {
                Some(item) => item,
                // Not a string, or an empty value: not a configuration item (upstream's
                // read leaves it out too).
                None => return,
            },
            Ok(Err(e)) => {
                log::error(
                    scope::COMPONENTS,
                    &format!("configuration store {name}: reading changed key {key}: {e}"),
                );
                return;
            }
            Err(e) => {
                log::error(
                    scope::COMPONENTS,
                    &format!("configuration store {name}: reading changed key {key}: {e}"),
                );
                return;
            }
        }
    };
    let items = Items::from([(key.to_string(), item)]);
    let mut subs = subscriptions.lock().unwrap();
    subs.retain(|_, s| {
        if !(s.keys.is_empty() || s.keys.contains(key)) {
            return true;
        }
        // A closed receiver means the subscriber went away.
        s.updates.send(items.clone()).is_ok()
    });
}

impl RedisConfiguration {
    fn error(&self, what: &str, e: impl std::fmt::Display) -> ConfigurationError {
        ConfigurationError::Other(format!(
            "redis {}: {what} failed: {e}",
            self.client.settings.address()
        ))
    }

    async fn all_keys(&self) -> Result<Vec<String>, ConfigurationError> {
        let mut conn = self.conn.clone();
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch) = self
                .client
                .bounded(
                    "SCAN",
                    Duration::ZERO,
                    ::redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async::<(u64, Vec<String>)>(&mut conn),
                )
                .await
                .map_err(ConfigurationError::Other)?
                .map_err(|e| self.error("SCAN", e))?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

#[async_trait]
impl ConfigurationStore for RedisConfiguration {
    async fn get(
        &self,
        keys: &[String],
        _metadata: &Metadata,
    ) -> Result<Items, ConfigurationError> {
        let keys = if keys.is_empty() {
            self.all_keys().await?
        } else {
            keys.to_vec()
        };
        let mut items = Items::new();
        let mut conn = self.conn.clone();
        for chunk in keys.chunks(MGET_CHUNK) {
            // MGET answers nil for keys of other types, which upstream skips with a warning.
            let values = self
                .client
                .bounded(
                    "MGET",
                    Duration::ZERO,
                    ::redis::cmd("MGET")
                        .arg(chunk)
                        .query_async::<Vec<Option<String>>>(&mut conn),
                )
                .await
                .map_err(ConfigurationError::Other)?
                .map_err(|e| self.error("MGET", e))?;
            for (key, raw) in chunk.iter().zip(values) {
                if let Some(item) = raw.as_deref().and_then(item_of) {
                    items.insert(key.clone(), item);
                }
            }
        }
        Ok(items)
    }

    async fn subscribe(
        &self,
        keys: &[String],
        _metadata: &Metadata,
        updates: Updates,
    ) -> Result<String, ConfigurationError> {
        if self.listener.is_finished() {
            return Err(ConfigurationError::Other(
                "the keyspace listener is not running".into(),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.subscriptions.lock().unwrap().insert(
            id.clone(),
            Subscription {
                keys: keys.iter().cloned().collect(),
                updates,
            },
        );
        Ok(id)
    }

    async fn unsubscribe(&self, id: &str) -> Result<(), ConfigurationError> {
        match self.subscriptions.lock().unwrap().remove(id) {
            Some(_) => Ok(()),
            None => Err(ConfigurationError::NoSubscription(id.to_string())),
        }
    }

    async fn close(&self) {
        self.listener.abort();
        self.subscriptions.lock().unwrap().clear();
    }
}

/// Registry row: checks the connection metadata without connecting.
pub fn validate(c: &Component, _ctx: &Context) -> Result<(), ResourceError> {
    Settings::from_component(c, redis::STATE).map(|_| ())
}

/// Registry row: connects, enables keyspace notifications and starts listening.
pub fn create(c: Component, _ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let store = RedisConfiguration::connect(&c).await?;
        Ok(Instance::Configuration(Arc::new(store)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_carry_an_optional_version() {
        assert_eq!(parse_value("blue||3"), ("blue".into(), "3".into()));
        assert_eq!(parse_value("blue"), ("blue".into(), String::new()));
        assert_eq!(parse_value("a||b||c"), ("a".into(), "b".into()));
        assert_eq!(item_of(""), None);
        assert_eq!(item_of("||7"), None);
    }
}

//! What the Redis components (`state.redis`, `pubsub.redis`, `lock.redis`,
//! `configuration.redis`) share: the connection metadata (`redisHost`,
//! `redisPort`, `redisUsername`, `redisPassword`, `redisDB`, `redisType`, `enableTLS`,
//! `failover`, the timeouts and the retry settings) read as the official components read
//! them, and the client set-up: a `ConnectionManager` that reconnects by itself, whose first
//! connection is bounded and checked with `PING`, so a wrong host or password fails start-up
//! naming the field.
//!
//! Limits: a single node only (no cluster, sentinel or TLS; each is refused naming its
//! field). Every command is meant to run under [`Client::bounded`], so a dead Redis gives an
//! error, never a hang.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, RedisError};

use crate::sidecar::components::metadata::{meta_bool, meta_duration, meta_int};
use crate::sidecar::resources::{Component, ResourceError};

/// Plain integers in the Redis timing fields are milliseconds, as upstream's settings parser.
pub const MS: Duration = Duration::from_millis(1);

/// Defaults that differ between the component kinds.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub max_retries: i64,
    /// Whether the legacy `maxRetries` key is read when `redisMaxRetries` is absent (state).
    pub legacy_max_retries: bool,
}

/// `state.redis` defaults.
pub const STATE: Defaults = Defaults {
    max_retries: 3,
    legacy_max_retries: true,
};

/// `pubsub.redis` defaults.
pub const PUBSUB: Defaults = Defaults {
    max_retries: 3,
    legacy_max_retries: false,
};

/// Validated connection metadata.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: i64,
    pub dial_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// Reconnection attempts per connection loss.
    pub max_retries: usize,
    /// Back-off between reconnection attempts (`redisMinRetryInterval`,
    /// `redisMaxRetryInterval`; upstream's defaults 8 ms and 512 ms).
    pub min_retry_interval: Duration,
    pub max_retry_interval: Duration,
}

impl Settings {
    pub fn from_component(c: &Component, defaults: Defaults) -> Result<Settings, ResourceError> {
        let raw_host = c.meta("redisHost").map(str::trim).unwrap_or("");
        if raw_host.is_empty() {
            return Err(c.field_error(
                "redisHost",
                "required; set it to host:port, e.g. localhost:6379",
            ));
        }
        if raw_host.contains(',') {
            return Err(c.field_error(
                "redisHost",
                "several hosts (cluster/sentinel) are not supported by this daprd yet; give one host:port",
            ));
        }
        match c.meta("redisType").map(|t| t.trim().to_ascii_lowercase()) {
            None => {}
            Some(t) if t.is_empty() || t == "node" => {}
            Some(t) => {
                return Err(c.field_error(
                    "redisType",
                    format!("{t:?} is not supported by this daprd yet; valid: node"),
                ));
            }
        }
        if meta_bool(c, "failover", false)? {
            return Err(c.field_error(
                "failover",
                "sentinel failover is not supported by this daprd yet; use false",
            ));
        }
        if meta_bool(c, "enableTLS", false)? {
            return Err(c.field_error(
                "enableTLS",
                "TLS is not compiled into this daprd; use enableTLS: false (e.g. with a local TLS proxy)",
            ));
        }
        let default_port = match c.meta("redisPort").map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => p.parse::<u16>().map_err(|_| {
                c.field_error("redisPort", format!("{p:?} is not a port number (1-65535)"))
            })?,
            None => 6379,
        };
        let (host, port) = split_host(raw_host, default_port).ok_or_else(|| {
            c.field_error(
                "redisHost",
                format!("{raw_host:?} is not host:port; e.g. localhost:6379"),
            )
        })?;
        let db = meta_int(c, "redisDB", 0)?;
        if db < 0 {
            return Err(c.field_error("redisDB", "must be 0 or a positive database number"));
        }
        let dial_timeout = meta_duration(c, "dialTimeout", Duration::from_secs(5), MS)?;
        let read_timeout = meta_duration(c, "readTimeout", Duration::from_secs(3), MS)?;
        let write_timeout = meta_duration(c, "writeTimeout", read_timeout, MS)?;
        let retries_field = if defaults.legacy_max_retries && c.meta("redisMaxRetries").is_none() {
            "maxRetries"
        } else {
            "redisMaxRetries"
        };
        let max_retries = meta_int(c, retries_field, defaults.max_retries)?;
        let min_retry_interval = backoff(c, "redisMinRetryInterval", Duration::from_millis(8))?;
        let max_retry_interval = backoff(c, "redisMaxRetryInterval", Duration::from_millis(512))?;
        let text = |f: &str| c.meta(f).filter(|v| !v.is_empty()).map(str::to_string);
        Ok(Settings {
            host,
            port,
            username: text("redisUsername"),
            password: text("redisPassword"),
            db,
            dial_timeout: nonzero(dial_timeout, Duration::from_secs(5)),
            read_timeout: nonzero(read_timeout, Duration::from_secs(3)),
            write_timeout: nonzero(write_timeout, Duration::from_secs(3)),
            max_retries: max_retries.clamp(0, 100) as usize,
            min_retry_interval,
            max_retry_interval: max_retry_interval.max(min_retry_interval),
        })
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The time budget of one command (connecting, writing it, reading the answer).
    pub fn op_timeout(&self) -> Duration {
        self.dial_timeout + self.read_timeout + self.write_timeout
    }
}

/// A retry interval: a duration, or `-1` (no back-off, as upstream).
fn backoff(c: &Component, field: &str, default: Duration) -> Result<Duration, ResourceError> {
    match c.meta(field).map(str::trim) {
        Some(v) if v.starts_with('-') => Ok(Duration::ZERO),
        _ => meta_duration(c, field, default, MS),
    }
}

/// Upstream treats a zero timeout as "use the default"; we must never wait forever.
fn nonzero(d: Duration, default: Duration) -> Duration {
    if d.is_zero() { default } else { d }
}

fn split_host(raw: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = raw.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match raw.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            if host.is_empty() {
                return None;
            }
            Some((host.to_string(), port.parse().ok()?))
        }
        Some(_) => Some((raw.to_string(), default_port)),
        None => Some((raw.to_string(), default_port)),
    }
}

/// Why a connection could not be made, and which field is most likely wrong.
#[derive(Debug, Clone)]
pub struct ConnectError {
    pub field: &'static str,
    pub message: String,
}

impl ConnectError {
    /// The error located at the component's field (start-up).
    pub fn at(&self, c: &Component) -> ResourceError {
        c.field_error(self.field, &self.message)
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A configured client: opens connection managers with the settings' timeouts.
#[derive(Clone)]
pub struct Client {
    client: ::redis::Client,
    pub settings: Settings,
}

impl Client {
    pub fn new(c: &Component, settings: Settings) -> Result<Client, ResourceError> {
        let address = settings.address();
        let mut redis_settings = RedisConnectionInfo::default().set_db(settings.db);
        if let Some(user) = &settings.username {
            redis_settings = redis_settings.set_username(user);
        }
        if let Some(password) = &settings.password {
            redis_settings = redis_settings.set_password(password);
        }
        let info = ConnectionAddr::Tcp(settings.host.clone(), settings.port)
            .into_connection_info()
            .map(|i| i.set_redis_settings(redis_settings))
            .map_err(|e| {
                c.field_error("redisHost", format!("invalid Redis address {address}: {e}"))
            })?;
        let client = ::redis::Client::open(info).map_err(|e| {
            c.field_error("redisHost", format!("invalid Redis address {address}: {e}"))
        })?;
        Ok(Client { client, settings })
    }

    /// Opens a connection manager (which reconnects by itself after a connection loss) and
    /// checks it with `PING`, all within the dial and read timeouts. `blocking` is added to
    /// the response timeout, for a connection that runs blocking commands (`XREADGROUP
    /// BLOCK`).
    pub async fn connect(&self, blocking: Duration) -> Result<ConnectionManager, ConnectError> {
        let s = &self.settings;
        let address = s.address();
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(s.dial_timeout))
            .set_response_timeout(Some(s.read_timeout + s.write_timeout + blocking))
            .set_number_of_retries(s.max_retries)
            .set_min_delay(s.min_retry_interval)
            .set_max_delay(s.max_retry_interval);
        let connect_error = |e: String| {
            let lower = e.to_ascii_lowercase();
            if lower.contains("auth") || lower.contains("wrongpass") || lower.contains("password") {
                ConnectError {
                    field: "redisPassword",
                    message: format!("Redis at {address} refused the credentials: {e}"),
                }
            } else {
                ConnectError {
                    field: "redisHost",
                    message: format!("cannot connect to Redis at {address}: {e}"),
                }
            }
        };
        // One bounded attempt, so a wrong host fails quickly.
        let mut conn = match tokio::time::timeout(
            s.dial_timeout + s.read_timeout,
            ConnectionManager::new_with_config(self.client.clone(), manager_config),
        )
        .await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(connect_error(e.to_string())),
            Err(_) => {
                return Err(connect_error(format!(
                    "no answer within {:?}",
                    s.dial_timeout
                )));
            }
        };
        let ping = tokio::time::timeout(
            s.read_timeout,
            ::redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await;
        match ping {
            Ok(Ok(_)) => Ok(conn),
            Ok(Err(e)) => Err(connect_error(e.to_string())),
            Err(_) => Err(connect_error(format!(
                "PING got no answer within {:?}",
                s.read_timeout
            ))),
        }
    }

    /// Opens a dedicated pub/sub connection (keyspace notifications), within the dial and
    /// read timeouts. It does not reconnect by itself: its message stream ends on a
    /// connection loss and the caller opens another.
    pub async fn pubsub(&self) -> Result<::redis::aio::PubSub, String> {
        let s = &self.settings;
        match tokio::time::timeout(
            s.dial_timeout + s.read_timeout,
            self.client.get_async_pubsub(),
        )
        .await
        {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(e)) => Err(format!("cannot connect to Redis at {}: {e}", s.address())),
            Err(_) => Err(format!(
                "cannot connect to Redis at {}: no answer within {:?}",
                s.address(),
                s.dial_timeout
            )),
        }
    }

    /// Runs one command within the operation timeout (plus `extra`, for blocking commands).
    /// The Redis error, if any, is left to the caller, which may look inside it.
    pub async fn bounded<T>(
        &self,
        what: &str,
        extra: Duration,
        fut: impl std::future::Future<Output = Result<T, RedisError>>,
    ) -> Result<Result<T, RedisError>, String> {
        let limit = self.settings.op_timeout() + extra;
        tokio::time::timeout(limit, fut).await.map_err(|_| {
            format!(
                "redis {}: {what} got no answer within {limit:?}",
                self.settings.address()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_split_with_default_port() {
        assert_eq!(
            split_host("localhost:6380", 6379),
            Some(("localhost".into(), 6380))
        );
        assert_eq!(
            split_host("localhost", 6379),
            Some(("localhost".into(), 6379))
        );
        assert_eq!(split_host("[::1]:7000", 6379), Some(("::1".into(), 7000)));
        assert_eq!(split_host("host:port", 6379), None);
    }

    #[test]
    fn retry_settings_and_legacy_keys() {
        let c = Component::new("s", "state.redis")
            .with_meta("redisHost", "localhost")
            .with_meta("maxRetries", "7")
            .with_meta("redisMinRetryInterval", "-1")
            .with_meta("redisMaxRetryInterval", "2000");
        let s = Settings::from_component(&c, STATE).unwrap();
        assert_eq!(s.max_retries, 7);
        assert_eq!(s.min_retry_interval, Duration::ZERO);
        assert_eq!(s.max_retry_interval, Duration::from_secs(2));
        // The legacy key is a state-store key only.
        let s = Settings::from_component(&c, PUBSUB).unwrap();
        assert_eq!(s.max_retries, 3);
        let bad = Component::new("s", "pubsub.redis")
            .with_meta("redisHost", "localhost")
            .with_meta("redisMaxRetryInterval", "soon");
        let e = Settings::from_component(&bad, PUBSUB)
            .unwrap_err()
            .to_string();
        assert!(e.contains("field redisMaxRetryInterval"), "{e}");
    }
}

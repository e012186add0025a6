//! `state.sqlite`: the embedded store that needs no server, with the official component's
//! table layout (`key, value, is_binary, etag, expiration_time, update_time`) so a database
//! written by one daprd can be read by the other. JSON values are stored as text, other bytes
//! as base64 with `is_binary = 1`; ETags are fresh UUIDs per write.
//!
//! The connection lives on a dedicated thread that runs one closure at a time, so the async
//! runtime never blocks on disk I/O. Each write commits before it is acknowledged; WAL mode
//! with `synchronous=NORMAL` keeps acknowledged writes across a crash of this process (not
//! across a power loss, which would need `synchronous=FULL`). Expired rows are invisible at
//! once and deleted every `cleanupInterval` (off by default, as upstream). The metadata table
//! records migration level 1, so official daprd opening the same file does not try to
//! create the state table again. Limits: one connection, so reads queue behind
//! writes; an operation that exceeds `timeout` is reported failed but may still commit.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use chrono::{NaiveDateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use futures_util::future::BoxFuture;

use super::StateComponent;
use super::{
    Concurrency, DeleteRequest, Feature, GetResponse, Metadata, SetRequest, StateError, StateStore,
    StoreKind, TransactionOp, expiry_after_secs, request_ttl, rfc3339,
};
use crate::sidecar::components::metadata::{meta_bool, meta_duration};
use crate::sidecar::components::sqlite::Worker;
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

const KIND: StoreKind = StoreKind {
    component_type: "state.sqlite",
    features: &[
        Feature::Etag,
        Feature::Transactional,
        Feature::Ttl,
        Feature::KeysLike,
    ],
};

/// Timestamps as text that sorts in time order; the official component writes
/// `CURRENT_TIMESTAMP` (no fraction), which compares correctly against these.
const TS_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// Plain integers in duration fields are seconds, as dapr/kit decodes them.
const SECS: Duration = Duration::from_secs(1);

/// Validated component metadata.
#[derive(Debug, Clone)]
pub struct Config {
    pub connection_string: String,
    pub table: String,
    pub metadata_table: String,
    pub timeout: Duration,
    pub busy_timeout: Duration,
    pub disable_wal: bool,
    /// `None` when TTL garbage collection is disabled (`cleanupInterval: 0`).
    pub cleanup_interval: Option<Duration>,
}

impl Config {
    pub fn from_component(c: &Component) -> Result<Config, ResourceError> {
        let connection_string = c
            .meta("connectionString")
            .map(str::trim)
            .unwrap_or("")
            .to_string();
        if connection_string.is_empty() {
            return Err(c.field_error(
                "connectionString",
                "required; set it to a database file path (e.g. state.db), a file: URI or :memory:",
            ));
        }
        let table = identifier(c, "tableName", "state")?;
        let metadata_table = identifier(c, "metadataTableName", "metadata")?;
        if table == metadata_table {
            return Err(c.field_error("metadataTableName", "must differ from tableName"));
        }
        let timeout = meta_duration(c, "timeout", Duration::from_secs(20), SECS)?;
        if timeout.is_zero() {
            return Err(c.field_error("timeout", "must be positive, e.g. 20s"));
        }
        let busy_timeout = meta_duration(c, "busyTimeout", Duration::from_secs(2), SECS)?;
        let disable_wal = meta_bool(c, "disableWAL", false)?;
        // `cleanupIntervalInSeconds` is the legacy alias; 0 or negative disables, as upstream
        // (whose default is also "disabled").
        let cleanup_field = if c.meta("cleanupInterval").is_none()
            && c.meta("cleanupIntervalInSeconds").is_some()
        {
            "cleanupIntervalInSeconds"
        } else {
            "cleanupInterval"
        };
        let cleanup_interval = match c.meta(cleanup_field).map(str::trim) {
            Some(v) if v.starts_with('-') => None,
            _ => Some(meta_duration(c, cleanup_field, Duration::ZERO, SECS)?)
                .filter(|d| !d.is_zero()),
        };
        Ok(Config {
            connection_string,
            table,
            metadata_table,
            timeout,
            busy_timeout,
            disable_wal,
            cleanup_interval,
        })
    }
}

fn identifier(c: &Component, field: &str, default: &str) -> Result<String, ResourceError> {
    let value = c
        .meta(field)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(default);
    let valid = value
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && !value.starts_with(|ch: char| ch.is_ascii_digit());
    if !valid {
        return Err(c.field_error(
            field,
            format!("{value:?} is not a valid table name; use letters, digits and '_'"),
        ));
    }
    Ok(value.to_string())
}

struct Inner {
    worker: Worker,
    table: String,
}

pub struct SqliteStore {
    inner: Arc<Inner>,
    cleanup: Option<tokio::task::JoinHandle<()>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database and its tables, and starts TTL cleanup.
    pub async fn open(component: &Component) -> Result<SqliteStore, ResourceError> {
        let config = Config::from_component(component)?;
        let worker_config = config.clone();
        let worker = Worker::start(
            format!("sqlite-{}", component.name),
            component,
            config.timeout,
            move || open_connection(&worker_config),
        )
        .await?;
        let inner = Arc::new(Inner {
            worker,
            table: config.table,
        });
        let cleanup = config
            .cleanup_interval
            .map(|every| tokio::spawn(cleanup_loop(Arc::downgrade(&inner), every)));
        Ok(SqliteStore { inner, cleanup })
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(task) = &self.cleanup {
            task.abort();
        }
    }
}

async fn cleanup_loop(inner: Weak<Inner>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        let table = inner.table.clone();
        // A failed sweep is retried at the next interval; reads already hide expired rows.
        let _ = inner
            .call(move |conn| {
                conn.execute(
                    &format!("DELETE FROM {table} WHERE expiration_time IS NOT NULL AND expiration_time <= ?1"),
                    params![now_ts()],
                )
                .map_err(other)
            })
            .await;
    }
}

fn open_connection(config: &Config) -> Result<Connection, String> {
    let cs = config.connection_string.as_str();
    let conn = if cs == ":memory:" {
        Connection::open_in_memory()
    } else if cs.starts_with("file:") {
        Connection::open_with_flags(cs, OpenFlags::default() | OpenFlags::SQLITE_OPEN_URI)
    } else {
        // A missing parent directory is created, as a user pointing at `./data/state.db`
        // would expect.
        if let Some(parent) = Path::new(cs).parent()
            && !parent.as_os_str().is_empty()
        {
            fs_err::create_dir_all(parent)
                .map_err(|e| format!("cannot create the database directory: {e}"))?;
        }
        Connection::open(cs)
    }
    .map_err(|e| format!("cannot open SQLite database {cs:?}: {e}"))?;
    let setup = || -> rusqlite::Result<()> {
        conn.busy_timeout(config.busy_timeout)?;
        if !config.disable_wal && cs != ":memory:" {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (
                key TEXT NOT NULL PRIMARY KEY,
                value TEXT NOT NULL,
                is_binary BOOLEAN NOT NULL,
                etag TEXT NOT NULL,
                expiration_time TIMESTAMP DEFAULT NULL,
                update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
            );
            CREATE INDEX IF NOT EXISTS idx_{t}_expiration_time ON {t} (expiration_time);
            CREATE TABLE IF NOT EXISTS {m} (
                key TEXT NOT NULL PRIMARY KEY,
                value TEXT NOT NULL
            );
            INSERT OR IGNORE INTO {m} (key, value) VALUES ('migrations', '1');",
            t = config.table,
            m = config.metadata_table,
        ))
    };
    setup().map_err(|e| format!("cannot prepare SQLite database {cs:?}: {e}"))?;
    Ok(conn)
}

fn other(e: rusqlite::Error) -> StateError {
    StateError::Other(format!("sqlite: {e}"))
}

fn now_ts() -> String {
    Utc::now().format(TS_FORMAT).to_string()
}

impl Inner {
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StateError> + Send + 'static,
    ) -> Result<R, StateError> {
        self.worker
            .call(f)
            .await
            .unwrap_or_else(|e| Err(StateError::Other(e.to_string())))
    }
}

/// JSON values are stored as text, anything else as base64 (`is_binary`).
fn encode(value: &[u8]) -> (String, bool) {
    if serde_json::from_slice::<serde::de::IgnoredAny>(value).is_ok()
        && let Ok(text) = std::str::from_utf8(value)
    {
        return (text.to_string(), false);
    }
    (
        base64::engine::general_purpose::STANDARD.encode(value),
        true,
    )
}

fn expiration(metadata: &Metadata) -> Result<Option<String>, StateError> {
    Ok(match request_ttl(metadata)? {
        Some(t) if t > 0 => Some(
            expiry_after_secs(Utc::now(), t)
                .ok_or_else(|| {
                    StateError::BadRequest(format!("metadata ttlInSeconds {t} is out of range"))
                })?
                .format(TS_FORMAT)
                .to_string(),
        ),
        _ => None,
    })
}

// The per-request statements go through `prepare_cached`: the connection keeps them
// compiled, so a read or write does not re-parse its SQL each time.
fn apply_set(conn: &Connection, table: &str, req: &SetRequest) -> Result<(), StateError> {
    let (value, is_binary) = encode(&req.value);
    let expires = expiration(&req.metadata)?;
    let etag = uuid::Uuid::new_v4().to_string();
    let now = now_ts();
    let changed = if let Some(given) = &req.etag {
        conn.prepare_cached(&format!(
            "UPDATE {table} SET value = ?1, is_binary = ?2, etag = ?3, expiration_time = ?4, update_time = ?5
                 WHERE key = ?6 AND etag = ?7 AND (expiration_time IS NULL OR expiration_time > ?5)"
        ))
        .and_then(|mut st| st.execute(params![value, is_binary, etag, expires, now, req.key, given]))
        .map_err(other)?
    } else {
        let only_if_expired = if req.options.concurrency == Concurrency::FirstWrite {
            format!(" WHERE {table}.expiration_time IS NOT NULL AND {table}.expiration_time <= ?5")
        } else {
            String::new()
        };
        conn.prepare_cached(&format!(
            "INSERT INTO {table} (key, value, is_binary, etag, expiration_time, update_time)
                 VALUES (?6, ?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, is_binary = excluded.is_binary,
                   etag = excluded.etag, expiration_time = excluded.expiration_time,
                   update_time = excluded.update_time{only_if_expired}"
        ))
        .and_then(|mut st| st.execute(params![value, is_binary, etag, expires, now, req.key]))
        .map_err(other)?
    };
    if changed == 0 {
        return Err(StateError::EtagMismatch(match &req.etag {
            Some(_) => format!("etag does not match for key {}", req.key),
            None => format!(
                "key {} already exists and first-write concurrency needs its etag",
                req.key
            ),
        }));
    }
    Ok(())
}

fn apply_delete(conn: &Connection, table: &str, req: &DeleteRequest) -> Result<(), StateError> {
    match &req.etag {
        Some(given) => {
            let changed = conn
                .prepare_cached(&format!(
                    "DELETE FROM {table} WHERE key = ?1 AND etag = ?2
                         AND (expiration_time IS NULL OR expiration_time > ?3)"
                ))
                .and_then(|mut st| st.execute(params![req.key, given, now_ts()]))
                .map_err(other)?;
            if changed == 0 {
                return Err(StateError::EtagMismatch(format!(
                    "etag does not match for key {}",
                    req.key
                )));
            }
        }
        None => {
            conn.prepare_cached(&format!("DELETE FROM {table} WHERE key = ?1"))
                .and_then(|mut st| st.execute(params![req.key]))
                .map_err(other)?;
        }
    }
    Ok(())
}

#[async_trait]
impl StateStore for SqliteStore {
    fn kind(&self) -> &'static StoreKind {
        &KIND
    }

    async fn get(
        &self,
        key: &str,
        _metadata: &Metadata,
    ) -> Result<Option<GetResponse>, StateError> {
        let table = self.inner.table.clone();
        let key = key.to_string();
        self.inner
            .call(move |conn| {
                let row = conn
                    .prepare_cached(&format!(
                        "SELECT value, is_binary, etag, expiration_time FROM {table}
                             WHERE key = ?1 AND (expiration_time IS NULL OR expiration_time > ?2)"
                    ))
                    .and_then(|mut st| {
                        st.query_row(params![key, now_ts()], |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, bool>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, Option<String>>(3)?,
                            ))
                        })
                    })
                    .optional()
                    .map_err(other)?;
                let Some((value, is_binary, etag, expires)) = row else {
                    return Ok(None);
                };
                let data = if is_binary {
                    base64::engine::general_purpose::STANDARD
                        .decode(value.as_bytes())
                        .map_err(|e| {
                            StateError::Other(format!(
                                "sqlite: corrupt binary value for key {key}: {e}"
                            ))
                        })?
                } else {
                    value.into_bytes()
                };
                let mut metadata = Metadata::new();
                if let Some(exp) = expires
                    && let Ok(t) = NaiveDateTime::parse_from_str(&exp, "%Y-%m-%d %H:%M:%S%.f")
                {
                    metadata.insert("ttlExpireTime".to_string(), rfc3339(t.and_utc()));
                }
                Ok(Some(GetResponse {
                    data: Bytes::from(data),
                    etag: Some(etag),
                    metadata,
                }))
            })
            .await
    }

    async fn set(&self, req: SetRequest) -> Result<(), StateError> {
        let table = self.inner.table.clone();
        self.inner
            .call(move |conn| apply_set(conn, &table, &req))
            .await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), StateError> {
        let table = self.inner.table.clone();
        self.inner
            .call(move |conn| apply_delete(conn, &table, &req))
            .await
    }

    async fn transact(
        &self,
        ops: Vec<TransactionOp>,
        _metadata: &Metadata,
    ) -> Result<(), StateError> {
        let table = self.inner.table.clone();
        self.inner
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(other)?;
                for op in &ops {
                    match op {
                        TransactionOp::Upsert(r) => apply_set(&tx, &table, r)?,
                        TransactionOp::Delete(r) => apply_delete(&tx, &table, r)?,
                    }
                }
                tx.commit().map_err(other)
            })
            .await
    }

    async fn close(&self) {
        if let Some(task) = &self.cleanup {
            task.abort();
        }
        self.inner.worker.close();
    }
}

/// Registry row: checks the metadata without opening the database.
pub fn validate(c: &Component, ctx: &Context) -> Result<(), ResourceError> {
    super::validate_common(c, ctx)?;
    Config::from_component(c).map(|_| ())
}

/// Registry row: opens (creating if needed) the database.
pub fn create(c: Component, ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let store = SqliteStore::open(&c).await?;
        StateComponent::instance(Arc::new(store), &c, &ctx)
    })
}

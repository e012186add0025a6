//! `state.in-memory`: a map inside this daprd process, as upstream. Nothing is shared with
//! other sidecars and nothing survives a restart. ETags are fresh UUIDs per write; TTLs come
//! from request metadata `ttlInSeconds` and are enforced on read (expired entries are also
//! swept now and then on writes). Transactions hold the lock for all their operations, so
//! they are all-or-nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use futures_util::future::BoxFuture;

use std::sync::Arc;

use super::StateComponent;
use super::{
    Concurrency, DeleteRequest, Feature, GetResponse, Metadata, SetRequest, StateError, StateStore,
    StoreKind, TransactionOp, expiry_after_secs, request_ttl, rfc3339,
};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

const KIND: StoreKind = StoreKind {
    component_type: "state.in-memory",
    features: &[
        Feature::Etag,
        Feature::Transactional,
        Feature::Ttl,
        Feature::DeleteWithPrefix,
        Feature::KeysLike,
    ],
};

/// Writes between two sweeps of expired entries.
const SWEEP_EVERY: u64 = 1024;

#[derive(Debug, Clone)]
struct Entry {
    data: Bytes,
    etag: String,
    expires: Option<DateTime<Utc>>,
}

impl Entry {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Entry>>,
    writes: AtomicU64,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written (each
        // mutation is a single insert/remove), so a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn maybe_sweep(&self, map: &mut HashMap<String, Entry>, now: DateTime<Utc>) {
        if self.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            map.retain(|_, e| e.live(now));
        }
    }
}

fn live<'a>(map: &'a HashMap<String, Entry>, key: &str, now: DateTime<Utc>) -> Option<&'a Entry> {
    map.get(key).filter(|e| e.live(now))
}

/// Checks a write against the current entry; returns the entry to insert.
fn check_set(
    map: &HashMap<String, Entry>,
    req: &SetRequest,
    now: DateTime<Utc>,
) -> Result<Entry, StateError> {
    let ttl = request_ttl(&req.metadata)?;
    let current = live(map, &req.key, now);
    match (&req.etag, current) {
        (Some(given), Some(e)) if &e.etag != given => {
            return Err(StateError::EtagMismatch(format!(
                "etag does not match for key {}",
                req.key
            )));
        }
        (Some(_), None) => {
            return Err(StateError::EtagMismatch(format!(
                "key {} does not exist",
                req.key
            )));
        }
        (None, Some(_)) if req.options.concurrency == Concurrency::FirstWrite => {
            return Err(StateError::EtagMismatch(format!(
                "key {} already exists and first-write concurrency needs its etag",
                req.key
            )));
        }
        _ => {}
    }
    let expires = match ttl {
        Some(t) if t > 0 => Some(expiry_after_secs(now, t).ok_or_else(|| {
            StateError::BadRequest(format!("metadata ttlInSeconds {t} is out of range"))
        })?),
        _ => None,
    };
    Ok(Entry {
        data: req.value.clone(),
        etag: uuid::Uuid::new_v4().to_string(),
        expires,
    })
}

fn check_delete(
    map: &HashMap<String, Entry>,
    req: &DeleteRequest,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    if let Some(given) = &req.etag {
        match live(map, &req.key, now) {
            Some(e) if &e.etag == given => {}
            Some(_) => {
                return Err(StateError::EtagMismatch(format!(
                    "etag does not match for key {}",
                    req.key
                )));
            }
            None => {
                return Err(StateError::EtagMismatch(format!(
                    "key {} does not exist",
                    req.key
                )));
            }
        }
    }
    Ok(())
}

#[async_trait]
impl StateStore for MemoryStore {
    fn kind(&self) -> &'static StoreKind {
        &KIND
    }

    async fn get(
        &self,
        key: &str,
        _metadata: &Metadata,
    ) -> Result<Option<GetResponse>, StateError> {
        let now = Utc::now();
        let map = self.lock();
        Ok(live(&map, key, now).map(|e| {
            let mut metadata = Metadata::new();
            if let Some(exp) = e.expires {
                metadata.insert("ttlExpireTime".to_string(), rfc3339(exp));
            }
            GetResponse {
                data: e.data.clone(),
                etag: Some(e.etag.clone()),
                metadata,
            }
        }))
    }

    async fn set(&self, req: SetRequest) -> Result<(), StateError> {
        let now = Utc::now();
        let mut map = self.lock();
        let entry = check_set(&map, &req, now)?;
        map.insert(req.key, entry);
        self.maybe_sweep(&mut map, now);
        Ok(())
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), StateError> {
        let now = Utc::now();
        let mut map = self.lock();
        check_delete(&map, &req, now)?;
        map.remove(&req.key);
        Ok(())
    }

    async fn transact(
        &self,
        ops: Vec<TransactionOp>,
        _metadata: &Metadata,
    ) -> Result<(), StateError> {
        let now = Utc::now();
        let mut map = self.lock();
        // Check every operation against the state the earlier ones leave behind, on a
        // scratch overlay, and only then touch the map.
        let mut overlay: HashMap<String, Option<Entry>> = HashMap::new();
        for op in &ops {
            let key = match op {
                TransactionOp::Upsert(r) => &r.key,
                TransactionOp::Delete(r) => &r.key,
            };
            let mut view = HashMap::new();
            match overlay.get(key) {
                Some(Some(e)) => {
                    view.insert(key.clone(), e.clone());
                }
                Some(None) => {}
                None => {
                    if let Some(e) = map.get(key) {
                        view.insert(key.clone(), e.clone());
                    }
                }
            }
            match op {
                TransactionOp::Upsert(r) => {
                    let entry = check_set(&view, r, now)?;
                    overlay.insert(key.clone(), Some(entry));
                }
                TransactionOp::Delete(r) => {
                    check_delete(&view, r, now)?;
                    overlay.insert(key.clone(), None);
                }
            }
        }
        for (key, entry) in overlay {
            match entry {
                Some(e) => {
                    map.insert(key, e);
                }
                None => {
                    map.remove(&key);
                }
            }
        }
        self.maybe_sweep(&mut map, now);
        Ok(())
    }
}

/// Registry row: nothing to check beyond the common state settings.
pub fn validate(c: &Component, ctx: &Context) -> Result<(), ResourceError> {
    super::validate_common(c, ctx)
}

/// Registry row: a fresh, empty map.
pub fn create(c: Component, ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move { StateComponent::instance(Arc::new(MemoryStore::new()), &c, &ctx) })
}

//! The actor runtime of one sidecar: started once the app answers (it reads the app's
//! `GET /dapr/config`, [`config`]), it keeps the table of active actors this sidecar hosts,
//! runs each call in the actor's turn ([`turn`]: one call at a time per `(type, id)`,
//! reentrancy by `Dapr-Reentrancy-Id`), calls the app's `PUT
//! /actors/{type}/{id}/method/{method}`, deactivates actors idle for `actorIdleTimeout`
//! with `DELETE /actors/{type}/{id}` (scanned every `actorScanInterval`), and on shutdown
//! deactivates every actor. Which sidecar owns an id is asked of [`placement::Placement`]
//! before each call; actor state lives in the state store marked `actorStateStore`
//! ([`state`]).
//!
//! With the invoker (name resolution) available, placement is [`placement::RingPlacement`]:
//! hosted types are registered in the shared registry, the rings are refreshed every
//! [`RING_REFRESH`], calls for ids owned by another sidecar are forwarded over the
//! sidecar-to-sidecar hop (`invoke::actors`), and actors that the ring moves elsewhere are
//! deactivated here after their call in progress.
//!
//! Timers live in memory ([`timers`]); reminders are jobs of the in-process scheduler
//! ([`reminders`]). Limits: no workflow engine; actors are hosted for HTTP apps only
//! (a gRPC app is asked for no configuration and hosts nothing).

pub mod config;
pub mod placement;
pub mod reminders;
pub mod state;
pub mod timers;
pub mod turn;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::watch;

use crate::sidecar::api::error::ApiError;
use crate::sidecar::app_channel::AppChannel;
use crate::sidecar::components::ComponentStore;
use crate::sidecar::invoke::Invoker;
use crate::sidecar::invoke::actors::ForwardError;
use crate::sidecar::invoke::headers::{DAPR_API_TOKEN, strip_request};
use crate::sidecar::log::{self, scope};
use crate::sidecar::messages::InvokeRequest;
use config::{AppConfig, TypeConfig};
use placement::{LocalPlacement, Owner, Placement, RingPlacement};
use turn::Turn;

pub const REENTRANCY_ID: HeaderName = HeaderName::from_static("dapr-reentrancy-id");
/// Set by an app (the .NET SDK) on an error reply that must reach the caller unchanged.
pub const ERROR_RESPONSE_HEADER: HeaderName = HeaderName::from_static("x-daprerrorresponseheader");
/// How long start-up waits for the app's answer to `GET /dapr/config`.
const APP_CONFIG_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

const API_CALL: HeaderName = HeaderName::from_static("dapr-api-call");

/// How long an actor API call waits for the runtime to start before giving up (upstream
/// waits 10 s too).
const READY_WAIT: Duration = Duration::from_secs(10);

/// How often the placement rings are rebuilt from the registry.
pub const RING_REFRESH: Duration = Duration::from_millis(500);

/// One actor method call, protocol-neutral.
#[derive(Debug, Clone, Default)]
pub struct ActorCall {
    pub actor_type: String,
    pub actor_id: String,
    pub method: String,
    pub query: Option<String>,
    /// The caller's headers (HTTP) or metadata (gRPC), `content-type` included.
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The app's answer.
#[derive(Debug, Clone)]
pub struct ActorReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ActorReply {
    /// An app reply other than 200, as upstream words it (`error from actor service:
    /// (<status>) <body>`).
    pub fn error_text(&self) -> String {
        format!(
            "error from actor service: ({}) {}",
            self.status.as_u16(),
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// Why a call did not succeed: a sidecar error, or the app's own error reply to pass back
/// unchanged (`X-DaprErrorResponseHeader`).
#[derive(Debug)]
pub enum CallError {
    Api(ApiError),
    App(ActorReply),
}

impl From<ApiError> for CallError {
    fn from(e: ApiError) -> Self {
        CallError::Api(e)
    }
}

/// Where the runtime is in its life.
#[derive(Clone)]
enum Phase {
    Initializing,
    Running(Arc<Hosting>),
    /// The app hosts actors and no actor state store is configured.
    NotFound,
    Closed,
}

/// What the runtime runs with once started.
pub struct Hosting {
    config: AppConfig,
    placement: Arc<dyn Placement>,
    /// The ring behind `placement`, when there is one.
    ring: Option<Arc<RingPlacement>>,
}

/// One active actor.
#[derive(Default)]
struct Active {
    turn: Turn,
    /// Calls holding or awaiting the turn; an actor with any is not idle.
    pending: AtomicUsize,
    idle_at: Mutex<Option<Instant>>,
    /// Deactivated: a call that finds this after its turn starts over with a new activation.
    removed: AtomicBool,
}

/// Decrements `pending` when a call leaves.
struct Pending(Arc<Active>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

type Key = (String, String);

pub struct ActorRuntime {
    app_id: String,
    channel: Option<Arc<AppChannel>>,
    components: Arc<ComponentStore>,
    /// `ActorStateTTL` is among the enabled features.
    state_ttl: bool,
    phase: watch::Sender<Phase>,
    table: Mutex<HashMap<Key, Arc<Active>>>,
    scanner: Mutex<Option<tokio::task::JoinHandle<()>>>,
    refresher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    invoker: std::sync::OnceLock<Arc<Invoker>>,
    timers: timers::Timers,
    /// Keeps reminders (set by the sidecar at start-up).
    scheduler: std::sync::OnceLock<crate::sidecar::scheduler::Scheduler>,
}

/// A type or id as upstream's `ValidateName` accepts it.
fn validate_name(what: &str, v: &str) -> Result<(), ApiError> {
    let bad = |why: &str| ApiError::actor_bad_request(format!("invalid {what}: {why}"));
    if v.is_empty() {
        return Err(bad("name cannot be empty"));
    }
    if v == "." || v == ".." {
        return Err(bad("name cannot be '.' or '..'"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| matches!(c, '/' | '\\') || c.is_control())
    {
        return Err(bad(&format!("name contains invalid character {c:?}")));
    }
    Ok(())
}

/// `dapr.internal.*` types belong to the workflow engine: refused for timers and reminders.
fn check_reserved(actor_type: &str) -> Result<(), ApiError> {
    if actor_type.starts_with("dapr.internal.") {
        return Err(ApiError::actor_type_reserved(actor_type));
    }
    Ok(())
}

/// A failed call in a log line.
fn describe(e: &CallError) -> String {
    match e {
        CallError::Api(e) => e.to_string(),
        CallError::App(r) => r.error_text(),
    }
}

impl ActorRuntime {
    pub fn new(
        app_id: &str,
        channel: Option<Arc<AppChannel>>,
        components: Arc<ComponentStore>,
        enabled_features: &[String],
    ) -> ActorRuntime {
        ActorRuntime {
            app_id: app_id.to_string(),
            channel,
            components,
            state_ttl: enabled_features.iter().any(|f| f == "ActorStateTTL"),
            phase: watch::Sender::new(Phase::Initializing),
            table: Mutex::new(HashMap::new()),
            scanner: Mutex::new(None),
            refresher: Mutex::new(None),
            invoker: std::sync::OnceLock::new(),
            timers: timers::Timers::default(),
            scheduler: std::sync::OnceLock::new(),
        }
    }

    /// Placement then spans the sidecars of the shared registry.
    pub fn set_invoker(&self, invoker: Arc<Invoker>) {
        let _ = self.invoker.set(invoker);
    }

    /// Rebuilds the rings from the registry (re-registering this sidecar's types if its
    /// rows went missing); when they changed, deactivates the actors now owned elsewhere.
    async fn refresh_ring(&self, hosting: &Hosting) {
        let (Some(inv), Some(ring)) = (self.invoker.get(), hosting.ring.as_ref()) else {
            return;
        };
        let rows = match inv.actor_hosts().await {
            Ok(r) => r,
            Err(e) => {
                log::warn(scope::RUNTIME, &format!("actor placement: {e}"));
                return;
            }
        };
        let me = inv.advertise();
        let missing = hosting
            .config
            .types
            .keys()
            .any(|t| !rows.iter().any(|(ty, a, _)| ty == t && a == me));
        if missing && !matches!(*self.phase.borrow(), Phase::Closed) {
            let types: Vec<String> = hosting.config.types.keys().cloned().collect();
            let _ = inv.set_actor_types(types).await;
        }
        if ring.update(rows) {
            self.rebalance(hosting).await;
        }
    }

    /// Deactivates (after their call in progress) the actors the ring gives to another
    /// sidecar.
    async fn rebalance(&self, hosting: &Hosting) {
        let moved: Vec<(Key, Arc<Active>)> = match self.table.lock() {
            Ok(t) => t
                .iter()
                .filter(|(k, _)| hosting.placement.lookup(&k.0, &k.1) != Ok(Owner::Local))
                .map(|(k, a)| (k.clone(), a.clone()))
                .collect(),
            Err(_) => return,
        };
        futures_util::future::join_all(moved.into_iter().map(|(k, a)| {
            let wait = hosting
                .config
                .types
                .get(&k.0)
                .map_or(config::DEFAULT_DRAIN_TIMEOUT, |c| {
                    c.drain_ongoing_call_timeout
                });
            self.deactivate(k, a, Some(wait))
        }))
        .await;
    }

    /// Reads the app's actor configuration and starts hosting (called once the app
    /// answers, or at once without an app).
    pub async fn start(self: &Arc<Self>) {
        let config = self.app_config().await;
        let store = self
            .components
            .actor_state_store()
            .map(|(n, _)| n.to_string());
        if store.is_none() {
            if !config.types.is_empty() {
                // Upstream's runtime fails to start its actor runtime and goes on without.
                log::warn(
                    scope::RUNTIME,
                    "failed to init actors: hosted actors: state store must be present to \
                     initialize the actor runtime",
                );
                self.phase.send_replace(Phase::NotFound);
                return;
            }
            log::info(
                scope::RUNTIME,
                "actors: state store is not configured - this is okay for clients but services \
                 with hosted actors will fail to initialize!",
            );
        }
        let types: Vec<String> = config.types.keys().cloned().collect();
        let ring = self
            .invoker
            .get()
            .map(|inv| Arc::new(RingPlacement::new(inv.advertise())));
        let placement: Arc<dyn Placement> = match &ring {
            Some(r) => r.clone(),
            None => Arc::new(LocalPlacement::new(types.clone())),
        };
        let hosting = Arc::new(Hosting {
            placement,
            ring,
            config,
        });
        if let Some(inv) = self.invoker.get()
            && hosting.ring.is_some()
        {
            if !types.is_empty()
                && let Err(e) = inv.set_actor_types(types.clone()).await
            {
                log::warn(
                    scope::RUNTIME,
                    &format!("actor placement: cannot register hosted types: {e}"),
                );
            }
            self.refresh_ring(&hosting).await;
            let me = Arc::downgrade(self);
            let h = hosting.clone();
            let handle = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RING_REFRESH).await;
                    let Some(rt) = me.upgrade() else { return };
                    rt.refresh_ring(&h).await;
                }
            });
            if let Ok(mut s) = self.refresher.lock() {
                *s = Some(handle);
            }
        }
        if let Some(s) = self.scheduler.get() {
            s.set_actor_types(types.clone());
        }
        if !types.is_empty() {
            log::info(
                scope::RUNTIME,
                &format!(
                    "actor runtime started. hosted types: [{}]; actor scan interval: {:?}",
                    types.join(" "),
                    hosting.config.scan_interval
                ),
            );
            let me = Arc::downgrade(self);
            let every = hosting.config.scan_interval;
            let handle = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(rt) = me.upgrade() else { return };
                    rt.deactivate_idle().await;
                }
            });
            if let Ok(mut s) = self.scanner.lock() {
                *s = Some(handle);
            }
        }
        self.phase.send_replace(Phase::Running(hosting));
    }

    /// `GET /dapr/config` of an HTTP app (at most [`APP_CONFIG_WAIT`]); no hosted types when there is no app, it speaks
    /// gRPC, or it does not answer 200 with a readable document.
    async fn app_config(&self) -> AppConfig {
        let Some(channel) = self.channel.as_ref().filter(|c| c.http_app().is_some()) else {
            return AppConfig::default();
        };
        let mut req = InvokeRequest::new("dapr/config", Method::GET, Body::empty());
        if let Ok(v) = HeaderValue::from_str(&self.app_id) {
            req.metadata.insert("dapr-app-id", v);
        }
        // An app that accepts connections but never answers must not hold readiness back
        // for ever: without an answer in time it hosts no actor types (said in the log).
        let res = match tokio::time::timeout(APP_CONFIG_WAIT, channel.invoke(req)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                log::warn(
                    scope::RUNTIME,
                    &format!("error loading app configuration: {e}"),
                );
                return AppConfig::default();
            }
            Err(_) => {
                log::warn(
                    scope::RUNTIME,
                    &format!(
                        "error loading app configuration: the app did not answer GET /dapr/config within {APP_CONFIG_WAIT:?}; it hosts no actor types"
                    ),
                );
                return AppConfig::default();
            }
        };
        let status = res.status;
        let Ok(body) = res.body.collect().await.map(|b| b.to_bytes()) else {
            return AppConfig::default();
        };
        if status != StatusCode::OK {
            return AppConfig::default();
        }
        config::parse(&body).unwrap_or_else(|e| {
            log::warn(
                scope::RUNTIME,
                &format!("error parsing the app's actor configuration: {e}"),
            );
            AppConfig::default()
        })
    }

    /// The running runtime, waiting for start-up as upstream does.
    async fn hosting(&self) -> Result<Arc<Hosting>, ApiError> {
        let mut rx = self.phase.subscribe();
        let phase = tokio::time::timeout(
            READY_WAIT,
            rx.wait_for(|p| !matches!(p, Phase::Initializing)),
        )
        .await
        .ok()
        .and_then(|r| r.ok().map(|p| p.clone()));
        match phase {
            Some(Phase::Running(h)) => Ok(h),
            Some(Phase::Closed) => Err(ApiError::actor_runtime_closed()),
            _ => Err(ApiError::actor_runtime_not_found()),
        }
    }

    /// Calls one actor method in the actor's turn.
    pub async fn invoke(self: &Arc<Self>, call: ActorCall) -> Result<ActorReply, CallError> {
        self.invoke_inner(call, false).await
    }

    /// A call another sidecar forwarded here: run here, never forwarded again.
    pub async fn invoke_forwarded(
        self: &Arc<Self>,
        call: ActorCall,
    ) -> Result<ActorReply, CallError> {
        self.invoke_inner(call, true).await
    }

    /// A call this sidecar makes itself (a timer): run here, whatever placement says.
    pub(crate) async fn invoke_here(
        self: &Arc<Self>,
        call: ActorCall,
    ) -> Result<ActorReply, CallError> {
        self.invoke_inner(call, true).await
    }

    async fn invoke_inner(
        self: &Arc<Self>,
        mut call: ActorCall,
        forwarded: bool,
    ) -> Result<ActorReply, CallError> {
        validate_name("actorType", &call.actor_type)?;
        validate_name("actorId", &call.actor_id)?;
        call.method = crate::sidecar::invoke::headers::normalize_method(&call.method)
            .map_err(ApiError::actor_bad_request)?;
        let hosting = self.hosting().await?;
        if !forwarded {
            let mut attempt = 0;
            loop {
                let owner = hosting
                    .placement
                    .lookup(&call.actor_type, &call.actor_id)
                    .map_err(ApiError::actor_invoke)?;
                let Owner::Remote { app_id, address } = owner else {
                    break;
                };
                let inv = self
                    .invoker
                    .get()
                    .ok_or_else(|| ApiError::actor_invoke("no sidecar-to-sidecar channel"))?;
                match inv.forward_actor(&address, &app_id, &call).await {
                    Ok(r) => return Ok(r),
                    Err(ForwardError::Call(e)) => return Err(e),
                    Err(ForwardError::Unreachable(e)) => {
                        // The owner is gone: rebuild the rings and place the id again.
                        attempt += 1;
                        if attempt > 5 {
                            return Err(e.into());
                        }
                        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                        self.refresh_ring(&hosting).await;
                    }
                }
            }
        }
        let cfg = hosting
            .config
            .types
            .get(&call.actor_type)
            .cloned()
            .ok_or_else(|| ApiError::actor_invoke("the actor type is not hosted here"))?;
        let reentrancy_id = match cfg.reentrancy {
            None => None,
            Some(_) => Some(
                call.headers
                    .get(&REENTRANCY_ID)
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            ),
        };
        // The turn is held by a task of its own: a caller that goes away (a client that
        // disconnects, a timer that is stopped) must not release the turn while the app
        // still runs the call.
        let me = self.clone();
        match tokio::spawn(async move { me.run_in_turn(call, cfg, reentrancy_id).await }).await {
            Ok(result) => result,
            Err(e) => Err(ApiError::actor_invoke(e).into()),
        }
    }

    /// Runs a call in the actor's turn, activating the actor when needed.
    async fn run_in_turn(
        &self,
        call: ActorCall,
        cfg: TypeConfig,
        reentrancy_id: Option<String>,
    ) -> Result<ActorReply, CallError> {
        let key = (call.actor_type.clone(), call.actor_id.clone());
        loop {
            let actor = self.activate(&key)?;
            let _pending = Pending(actor.clone());
            let turn = actor
                .turn
                .enter(reentrancy_id.as_deref().zip(cfg.reentrancy))
                .await
                .map_err(|e| ApiError::actor_stack_depth(e.0))?;
            if actor.removed.load(Ordering::Acquire) {
                // Deactivated while this call waited: start over with a new activation.
                continue;
            }
            let result = self.call_app(&call, reentrancy_id.as_deref()).await;
            touch(&actor, &cfg);
            drop(turn);
            return result;
        }
    }

    /// The active actor for `key`, activated when needed; counts the caller as pending.
    fn activate(&self, key: &Key) -> Result<Arc<Active>, ApiError> {
        if matches!(*self.phase.borrow(), Phase::Closed) {
            return Err(ApiError::actor_runtime_closed());
        }
        let mut table = self
            .table
            .lock()
            .map_err(|_| ApiError::actor_invoke("actor table poisoned"))?;
        let actor = table.entry(key.clone()).or_default().clone();
        actor.pending.fetch_add(1, Ordering::AcqRel);
        Ok(actor)
    }

    async fn call_app(
        &self,
        call: &ActorCall,
        reentrancy_id: Option<&str>,
    ) -> Result<ActorReply, CallError> {
        let channel = self
            .channel
            .as_ref()
            .ok_or_else(|| ApiError::actor_invoke("app channel is not initialized"))?;
        let mut headers = call.headers.clone();
        strip_request(&mut headers);
        headers.remove(DAPR_API_TOKEN);
        headers.insert(API_CALL, HeaderValue::from_static("true"));
        if let Some(id) = reentrancy_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            headers.insert(REENTRANCY_ID, id);
        }
        let req = InvokeRequest {
            method: format!(
                "actors/{}/{}/method/{}",
                call.actor_type, call.actor_id, call.method
            ),
            verb: Method::PUT,
            query: call.query.clone(),
            metadata: headers,
            body: Body::from(call.body.clone()),
        };
        let res = channel.invoke(req).await.map_err(ApiError::actor_invoke)?;
        let body = res
            .body
            .collect()
            .await
            .map_err(ApiError::actor_invoke)?
            .to_bytes();
        let reply = ActorReply {
            status: res.status,
            headers: res.metadata,
            body,
        };
        if reply.status == StatusCode::OK {
            return Ok(reply);
        }
        if reply.headers.contains_key(&ERROR_RESPONSE_HEADER) {
            return Err(CallError::App(reply));
        }
        Err(ApiError::actor_invoke(reply.error_text()).into())
    }

    /// Deactivates the actors whose idle deadline has passed and that no call holds or
    /// awaits.
    async fn deactivate_idle(&self) {
        let now = Instant::now();
        let due: Vec<(Key, Arc<Active>)> = match self.table.lock() {
            Ok(t) => t
                .iter()
                .filter(|(_, a)| {
                    a.pending.load(Ordering::Acquire) == 0
                        && a.idle_at
                            .lock()
                            .ok()
                            .and_then(|i| *i)
                            .is_some_and(|at| at <= now)
                })
                .map(|(k, a)| (k.clone(), a.clone()))
                .collect(),
            Err(_) => return,
        };
        futures_util::future::join_all(due.into_iter().map(|(k, a)| self.deactivate(k, a, None)))
            .await;
    }

    /// Takes the actor's turn (waiting at most `wait` for a call in progress; not at all
    /// when `None`), tells the app, and drops the actor from the table. Calls that queued
    /// meanwhile start over with a new activation.
    async fn deactivate(&self, key: Key, actor: Arc<Active>, wait: Option<Duration>) {
        let turn = match wait {
            None => actor.turn.try_enter(),
            Some(w) => tokio::time::timeout(w, actor.turn.enter(None))
                .await
                .ok()
                .and_then(Result::ok),
        };
        let Some(turn) = turn else { return };
        if actor.removed.load(Ordering::Acquire) {
            return;
        }
        if let Some(channel) = &self.channel {
            let req = InvokeRequest::new(
                format!("actors/{}/{}", key.0, key.1),
                Method::DELETE,
                Body::empty(),
            );
            match channel.invoke(req).await {
                Ok(r) if r.status == StatusCode::OK => {}
                Ok(r) => log::warn(
                    scope::RUNTIME,
                    &format!(
                        "actor {}/{} deactivation answered {}",
                        key.0, key.1, r.status
                    ),
                ),
                Err(e) => log::warn(
                    scope::RUNTIME,
                    &format!("failed to deactivate actor {}/{}: {e}", key.0, key.1),
                ),
            }
        }
        // Dropped from the table whatever the app said, as upstream; its timers stop.
        actor.removed.store(true, Ordering::Release);
        self.timers.remove_actor(&key.0, &key.1);
        if let Ok(mut t) = self.table.lock()
            && t.get(&key).is_some_and(|a| Arc::ptr_eq(a, &actor))
        {
            t.remove(&key);
        }
        drop(turn);
    }

    /// Shutdown: no new calls; every actor is deactivated after its call in progress (up
    /// to its type's `drainOngoingCallTimeout`).
    pub async fn close(&self) {
        let previous = self.phase.send_replace(Phase::Closed);
        for task in [&self.scanner, &self.refresher] {
            if let Ok(mut s) = task.lock()
                && let Some(h) = s.take()
            {
                h.abort();
            }
        }
        self.timers.clear();
        if let Some(s) = self.scheduler.get() {
            s.set_actor_types(Vec::new());
        }
        if let Some(inv) = self.invoker.get() {
            let _ = inv.set_actor_types(Vec::new()).await;
        }
        let Phase::Running(hosting) = previous else {
            return;
        };
        let all: Vec<(Key, Arc<Active>)> = match self.table.lock() {
            Ok(t) => t.iter().map(|(k, a)| (k.clone(), a.clone())).collect(),
            Err(_) => return,
        };
        futures_util::future::join_all(all.into_iter().map(|(k, a)| {
            let wait = hosting
                .config
                .types
                .get(&k.0)
                .map_or(config::DEFAULT_DRAIN_TIMEOUT, |c| {
                    c.drain_ongoing_call_timeout
                });
            self.deactivate(k, a, Some(wait))
        }))
        .await;
    }

    /// Whether `(type, id)` is active on this sidecar (state transactions need it).
    fn is_active(&self, actor_type: &str, actor_id: &str) -> bool {
        self.table.lock().is_ok_and(|t| {
            t.get(&(actor_type.to_string(), actor_id.to_string()))
                .is_some_and(|a| !a.removed.load(Ordering::Acquire))
        })
    }

    /// `actorRuntime` of the metadata.
    pub fn status(&self) -> RuntimeStatus {
        let phase = self.phase.borrow().clone();
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        if let Ok(t) = self.table.lock() {
            for (t, _) in t.keys() {
                *counts.entry(t.clone()).or_default() += 1;
            }
        }
        match phase {
            Phase::Running(h) => {
                for t in h.config.types.keys() {
                    counts.entry(t.clone()).or_default();
                }
                RuntimeStatus {
                    phase: "RUNNING",
                    host_ready: true,
                    placement: h.placement.status().to_string(),
                    active: counts.into_iter().collect(),
                }
            }
            Phase::Initializing => RuntimeStatus {
                phase: "INITIALIZING",
                ..Default::default()
            },
            Phase::NotFound | Phase::Closed => RuntimeStatus {
                phase: "DISABLED",
                ..Default::default()
            },
        }
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }
}

/// Sets the actor's idle deadline from now.
fn touch(actor: &Active, cfg: &TypeConfig) {
    if let Ok(mut i) = actor.idle_at.lock() {
        *i = Some(Instant::now() + cfg.idle_timeout);
    }
}

/// What metadata reports of the actor runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeStatus {
    /// `INITIALIZING`, `RUNNING` or `DISABLED`.
    pub phase: &'static str,
    pub host_ready: bool,
    pub placement: String,
    /// Active actors by hosted type (types with none listed with 0).
    pub active: Vec<(String, usize)>,
}

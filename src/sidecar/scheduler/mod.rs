//! The in-process scheduler of jobs and actor reminders: no extra process. Every daprd runs
//! one, and the sidecars of a machine share its storage: table `<table>_jobs` in the SQLite
//! file of name resolution (`invoke::resolver`), so jobs outlive restarts and any sidecar of
//! an app can create, read or delete the app's jobs. A private in-memory table is used when
//! the registry itself is in memory.
//!
//! - [`cron`]: the schedule grammar (dapr/kit `cron`); [`timing`]: due times, ttl, periods.
//! - [`plan`]: validation and trigger times (go-etcd-cron's rules: the first trigger at the
//!   due time if any, else the schedule's first time after creation; then the schedule's
//!   next time after the previous scheduled one; `repeats` counts triggers; `ttl` ends it).
//! - [`store`]: the rows and every SQL statement (run on the blocking pool).
//! - [`runner`]: the trigger loop. Each sidecar looks for due triggers it may deliver (jobs
//!   of its own app id and namespace while its app is up; reminders of the actor types it
//!   hosts) and claims one with a compare-and-swap on the row's token, so exactly one
//!   sidecar delivers each trigger. A claim is a lease (renewed while the app works on it):
//!   a sidecar killed mid-delivery leaves the trigger to be fired again once the lease ends.
//!   Failed deliveries follow the job's failure policy (default: constant 1 s, 3 retries).
//!   Triggers missed while no eligible sidecar ran fire once when one is back; the schedule
//!   then continues from that moment (the missed ones are skipped, not counted).

pub mod cron;
pub mod data;
pub mod plan;
mod runner;
pub mod store;
pub mod timing;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use self::store::{Row, Store, StoreSettings};

/// Whose job it is. App jobs belong to this sidecar's app id (and namespace).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobOwner {
    App,
    ActorReminder {
        actor_type: String,
        actor_id: String,
    },
}

/// A job's payload: a `google.protobuf.Any`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobData {
    pub type_url: String,
    pub value: Vec<u8>,
}

/// What to do when a delivery fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Skip this trigger.
    Drop,
    /// Try again after `interval`, at most `max_retries` times (`None`: until it works).
    Constant {
        interval: Duration,
        max_retries: Option<u32>,
    },
}

impl FailurePolicy {
    /// The policy of a job scheduled without one (go-etcd-cron's default).
    pub const DEFAULT: FailurePolicy = FailurePolicy::Constant {
        interval: Duration::from_secs(1),
        max_retries: Some(3),
    };
}

/// A job as submitted. Times are kept as strings, as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobSpec {
    pub schedule: Option<String>,
    pub repeats: Option<u32>,
    pub due_time: Option<String>,
    pub ttl: Option<String>,
    pub data: Option<JobData>,
    /// Stored with [`FailurePolicy::DEFAULT`] when scheduled without one, as upstream (so
    /// reads return it).
    pub failure_policy: Option<FailurePolicy>,
}

/// A stored job with its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJob {
    pub name: String,
    pub owner: JobOwner,
    pub spec: JobSpec,
    /// Triggers delivered (or given up on) so far.
    pub triggered: u32,
    /// When the next trigger is due.
    pub next_trigger: DateTime<Utc>,
    /// When the job ends (from `ttl`).
    pub expires: Option<DateTime<Utc>>,
}

/// Errors of the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    /// The job was refused (bad schedule, repeats, due time, ttl, name); the message says why.
    #[error("{0}")]
    Invalid(String),
    /// A job of that name exists and overwrite was not asked for.
    #[error("job already exists")]
    AlreadyExists,
    #[error("job not found")]
    NotFound,
    /// The storage failed.
    #[error("{0}")]
    Store(String),
}

/// One trigger of a job, as handed to a [`Deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub owner: JobOwner,
    pub name: String,
    pub data: Option<JobData>,
    pub spec: JobSpec,
}

/// The outcome of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Success,
    /// Failed; the job's failure policy decides what follows. The text is logged.
    Failed(String),
}

/// Where triggers go.
#[async_trait]
pub trait Deliver: Send + Sync {
    async fn deliver(&self, trigger: Trigger) -> Delivered;

    /// Whether triggers can be taken now (e.g. the app is up). While `false`, this
    /// sidecar leaves the triggers to others, or for later.
    fn available(&self) -> bool {
        true
    }
}

/// The scheduler of one sidecar. Cheap to clone (all clones are the same scheduler).
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    namespace: String,
    app_id: String,
    store: Store,
    actor_types: RwLock<Vec<String>>,
    reminders: RwLock<Option<Arc<dyn Deliver>>>,
    /// Rung when a job is written here or eligibility changes: the loop looks again.
    wake: Notify,
    /// `Some(grace)` once closing: deliveries in progress get `grace` to finish.
    stop: watch::Sender<Option<Duration>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn name_error(name: &str) -> Option<SchedulerError> {
    name.is_empty()
        .then(|| SchedulerError::Invalid("job name cannot be empty".into()))
        .or_else(|| {
            name.chars()
                .any(char::is_control)
                .then(|| SchedulerError::Invalid(format!("job name {name:?} is invalid")))
        })
}

impl Scheduler {
    /// A scheduler over `settings` (opened on first use, on the blocking pool) for the app
    /// `app_id` in `namespace`. Nothing runs until [`Scheduler::start`].
    pub fn new(settings: StoreSettings, namespace: &str, app_id: &str) -> Scheduler {
        let (stop, _) = watch::channel(None);
        Scheduler {
            inner: Arc::new(Inner {
                namespace: namespace.to_string(),
                app_id: app_id.to_string(),
                store: Store::new(settings),
                actor_types: RwLock::new(Vec::new()),
                reminders: RwLock::new(None),
                wake: Notify::new(),
                stop,
                task: Mutex::new(None),
            }),
        }
    }

    /// A private in-memory scheduler (tests, and an `Api` without name resolution).
    pub fn in_memory(namespace: &str, app_id: &str) -> Scheduler {
        Scheduler::new(StoreSettings::in_memory(), namespace, app_id)
    }

    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// What metadata reports as the scheduler's address: `local:<file>` (or `local:memory`)
    /// once the storage has been opened, `None` before or when it cannot be.
    pub fn address(&self) -> Option<String> {
        self.inner.store.address()
    }

    fn row_owner(&self, owner: &JobOwner) -> store::Owner {
        store::Owner {
            namespace: self.inner.namespace.clone(),
            app_id: self.inner.app_id.clone(),
            owner: owner.clone(),
        }
    }

    /// Schedules (or, with `overwrite`, replaces) a job. Validation as go-etcd-cron's:
    /// errors are [`SchedulerError::Invalid`] with upstream's wording.
    pub async fn schedule(
        &self,
        owner: JobOwner,
        name: &str,
        mut spec: JobSpec,
        overwrite: bool,
    ) -> Result<(), SchedulerError> {
        if let Some(e) = name_error(name) {
            return Err(e);
        }
        if spec.failure_policy.is_none() {
            spec.failure_policy = Some(FailurePolicy::DEFAULT);
        }
        let planned = plan::plan(&spec, Utc::now()).map_err(SchedulerError::Invalid)?;
        let row = Row::new(self.row_owner(&owner), name, spec, &planned);
        self.inner
            .store
            .call(move |s| s.insert(&row, overwrite))
            .await??;
        self.inner.wake.notify_one();
        Ok(())
    }

    pub async fn get(
        &self,
        owner: &JobOwner,
        name: &str,
    ) -> Result<Option<StoredJob>, SchedulerError> {
        let key = self.row_owner(owner).key(name);
        let row = self.inner.store.call(move |s| s.get(&key)).await??;
        Ok(row.map(Row::into_stored))
    }

    /// Deletes a job; `false` when there was none.
    pub async fn delete(&self, owner: &JobOwner, name: &str) -> Result<bool, SchedulerError> {
        let key = self.row_owner(owner).key(name);
        self.inner.store.call(move |s| s.delete(&key)).await?
    }

    /// This app's jobs (not reminders), by name.
    pub async fn list_jobs(&self) -> Result<Vec<StoredJob>, SchedulerError> {
        let o = self.row_owner(&JobOwner::App);
        let rows = self
            .inner
            .store
            .call(move |s| s.list_app(&o.namespace, &o.app_id, ""))
            .await??;
        Ok(rows.into_iter().map(Row::into_stored).collect())
    }

    /// Deletes this app's jobs whose name starts with `prefix` (all of them for `""`);
    /// returns how many.
    pub async fn delete_jobs_by_prefix(&self, prefix: &str) -> Result<u64, SchedulerError> {
        let o = self.row_owner(&JobOwner::App);
        let prefix = prefix.to_string();
        self.inner
            .store
            .call(move |s| s.delete_app(&o.namespace, &o.app_id, &prefix))
            .await?
    }

    /// Reminders of `actor_type` in this namespace (of one actor when `actor_id` is given),
    /// whichever sidecar created them.
    pub async fn list_reminders(
        &self,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<Vec<StoredJob>, SchedulerError> {
        let (ns, ty, id) = (
            self.inner.namespace.clone(),
            actor_type.to_string(),
            actor_id.map(str::to_string),
        );
        let rows = self
            .inner
            .store
            .call(move |s| s.list_reminders(&ns, &ty, id.as_deref()))
            .await??;
        Ok(rows.into_iter().map(Row::into_stored).collect())
    }

    /// Deletes the reminders [`Scheduler::list_reminders`] would list; returns how many.
    pub async fn delete_reminders(
        &self,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<u64, SchedulerError> {
        let (ns, ty, id) = (
            self.inner.namespace.clone(),
            actor_type.to_string(),
            actor_id.map(str::to_string),
        );
        self.inner
            .store
            .call(move |s| s.delete_reminders(&ns, &ty, id.as_deref()))
            .await?
    }

    /// The actor types this sidecar hosts: their reminders are delivered from here.
    pub fn set_actor_types(&self, types: Vec<String>) {
        *self
            .inner
            .actor_types
            .write()
            .unwrap_or_else(|p| p.into_inner()) = types;
        self.inner.wake.notify_one();
    }

    /// Where reminder triggers go (the actor runtime). Until it is set, this sidecar takes
    /// no reminder triggers (they wait, or go to another sidecar hosting the type).
    pub fn set_reminder_target(&self, target: Arc<dyn Deliver>) {
        *self
            .inner
            .reminders
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(target);
        self.inner.wake.notify_one();
    }

    /// Starts the trigger loop: app-job triggers go to `deliver`, reminder triggers to the
    /// target of [`Scheduler::set_reminder_target`]. A second call does nothing. The loop
    /// ends with [`Scheduler::close`].
    pub fn start(&self, deliver: Arc<dyn Deliver>) {
        let mut task = self.inner.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.is_some() || self.inner.stop.borrow().is_some() {
            return;
        }
        let inner = self.inner.clone();
        *task = Some(tokio::spawn(runner::run(inner, deliver)));
    }

    /// Stops the loop: deliveries in progress get up to `grace` to finish; the triggers of
    /// those that do not are released for another sidecar (or the next start).
    pub async fn close(&self, grace: Duration) {
        self.inner.stop.send_replace(Some(grace));
        self.inner.wake.notify_one();
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(t) = task {
            // The loop itself waits up to `grace` for its deliveries.
            let _ = tokio::time::timeout(grace + Duration::from_secs(1), t).await;
        }
    }
}

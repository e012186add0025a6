//! The jobs table: `<table>_jobs` in the name-resolution SQLite file, one row per job,
//! keyed as the official Scheduler keys its jobs (`app||<ns>||<appid>||<name>`,
//! `actorreminder||<ns>||<type>||<id>||<name>`). A row keeps the job as submitted, the
//! scheduled time of its pending trigger (`due_ms`), when a sidecar should look at it next
//! (`next_ms`: the due time, a retry, or the end of a delivery's lease), how many triggers
//! happened, the retry count of the pending one, and a `token` that changes on every write:
//! each change after a read is a compare-and-swap on it, so two sidecars never both claim
//! or complete one trigger. All calls run on the blocking pool ([`Store::call`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::DateTime;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};

use super::plan::Planned;
use super::{FailurePolicy, JobData, JobOwner, JobSpec, SchedulerError, StoredJob};
use crate::sidecar::invoke::resolver::RegistrySettings;

/// Which file and table name (`<table>_jobs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub path: String,
    pub table: String,
}

impl StoreSettings {
    pub fn in_memory() -> StoreSettings {
        StoreSettings {
            path: ":memory:".into(),
            table: "hosts".into(),
        }
    }

    /// Next to the name-resolution table.
    pub fn from_registry(r: &RegistrySettings) -> StoreSettings {
        StoreSettings {
            path: r.path.clone(),
            table: r.table.clone(),
        }
    }
}

/// A job's owner with the sidecar's namespace and app id: what its key is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub namespace: String,
    pub app_id: String,
    pub owner: JobOwner,
}

impl Owner {
    pub fn key(&self, name: &str) -> String {
        match &self.owner {
            JobOwner::App => format!("app||{}||{}||{name}", self.namespace, self.app_id),
            JobOwner::ActorReminder {
                actor_type,
                actor_id,
            } => format!(
                "actorreminder||{}||{actor_type}||{actor_id}||{name}",
                self.namespace
            ),
        }
    }
}

/// One row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub namespace: String,
    /// The app that created it (for app jobs, the owner).
    pub app_id: String,
    pub owner: JobOwner,
    pub name: String,
    pub spec: JobSpec,
    /// The scheduled time of the pending trigger.
    pub due_ms: i64,
    /// When to look at it next.
    pub next_ms: i64,
    pub expiry_ms: Option<i64>,
    /// Triggers done.
    pub triggered: u32,
    /// Failed deliveries of the pending trigger.
    pub attempt: u32,
    pub token: i64,
}

pub fn new_token() -> i64 {
    uuid::Uuid::new_v4().as_u64_pair().0 as i64
}

impl Row {
    pub fn new(owner: Owner, name: &str, spec: JobSpec, planned: &Planned) -> Row {
        Row {
            key: owner.key(name),
            namespace: owner.namespace,
            app_id: owner.app_id,
            owner: owner.owner,
            name: name.to_string(),
            spec,
            due_ms: planned.first_ms,
            next_ms: planned.first_ms,
            expiry_ms: planned.expiry_ms,
            triggered: 0,
            attempt: 0,
            token: new_token(),
        }
    }

    pub fn into_stored(self) -> StoredJob {
        let t = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        StoredJob {
            name: self.name,
            owner: self.owner,
            spec: self.spec,
            triggered: self.triggered,
            next_trigger: t(self.due_ms),
            expires: self.expiry_ms.map(t),
        }
    }
}

/// Who may take triggers here: jobs of `app_id` (when set) and reminders of `actor_types`,
/// in `namespace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligible {
    pub namespace: String,
    pub app_id: Option<String>,
    pub actor_types: Vec<String>,
}

impl Eligible {
    pub fn is_empty(&self) -> bool {
        self.app_id.is_none() && self.actor_types.is_empty()
    }

    /// The condition and its parameters (after `first` parameters already used).
    fn clause(&self, first: usize) -> (String, Vec<String>) {
        let mut params = vec![self.namespace.clone()];
        let mut parts = Vec::new();
        if let Some(app) = &self.app_id {
            params.push(app.clone());
            parts.push(format!("(kind = 'app' AND app_id = ?{})", first + 2));
        }
        if !self.actor_types.is_empty() {
            let start = first + params.len() + 1;
            let marks: Vec<String> = (0..self.actor_types.len())
                .map(|i| format!("?{}", start + i))
                .collect();
            params.extend(self.actor_types.iter().cloned());
            parts.push(format!(
                "(kind = 'actorreminder' AND actor_type IN ({}))",
                marks.join(", ")
            ));
        }
        if parts.is_empty() {
            parts.push("0".into());
        }
        (
            format!("namespace = ?{} AND ({})", first + 1, parts.join(" OR ")),
            params,
        )
    }
}

/// The storage of one sidecar: the file opened on first use.
pub struct Store {
    settings: StoreSettings,
    conn: Arc<Mutex<Option<Connection>>>,
    address: Mutex<Option<String>>,
}

/// An open table.
pub struct Db<'a> {
    conn: &'a Connection,
    t: &'a str,
}

fn db_err(e: rusqlite::Error) -> SchedulerError {
    SchedulerError::Store(format!("jobs database: {e}"))
}

fn open(s: &StoreSettings) -> Result<Connection, SchedulerError> {
    let is_uri = s.path.starts_with("file:");
    if !is_uri
        && s.path != ":memory:"
        && let Some(dir) = std::path::Path::new(&s.path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| SchedulerError::Store(format!("jobs database {}: {e}", s.path)))?;
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if is_uri {
        flags |= OpenFlags::SQLITE_OPEN_URI;
    }
    let conn = Connection::open_with_flags(&s.path, flags).map_err(db_err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(db_err)?;
    let _ = conn.pragma_update(None, "journal_mode", "WAL");
    let t = &s.table;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {t}_jobs (
            key TEXT NOT NULL PRIMARY KEY,
            namespace TEXT NOT NULL,
            kind TEXT NOT NULL,
            app_id TEXT NOT NULL,
            actor_type TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            name TEXT NOT NULL,
            schedule TEXT,
            repeats INTEGER,
            due_time TEXT,
            ttl TEXT,
            data_type TEXT,
            data BLOB,
            policy TEXT,
            policy_interval_ns INTEGER,
            policy_max_retries INTEGER,
            due_ms INTEGER NOT NULL,
            next_ms INTEGER NOT NULL,
            expiry_ms INTEGER,
            triggered INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            token INTEGER NOT NULL
         );
         CREATE INDEX IF NOT EXISTS {t}_jobs_next_idx ON {t}_jobs (next_ms);
         CREATE INDEX IF NOT EXISTS {t}_jobs_owner_idx ON {t}_jobs (namespace, kind, app_id, actor_type);"
    ))
    .map_err(db_err)?;
    Ok(conn)
}

impl Store {
    pub fn new(settings: StoreSettings) -> Store {
        Store {
            settings,
            conn: Arc::new(Mutex::new(None)),
            address: Mutex::new(None),
        }
    }

    /// `local:<file>` (or `local:memory`) once opened.
    pub fn address(&self) -> Option<String> {
        self.address
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs `f` on the open table, on the blocking pool.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db<'_>) -> T + Send + 'static,
    ) -> Result<T, SchedulerError> {
        let conn = self.conn.clone();
        let settings = self.settings.clone();
        let (out, opened) = tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            let opened = guard.is_none();
            if opened {
                *guard = Some(open(&settings)?);
            }
            let c = guard
                .as_ref()
                .ok_or_else(|| db_err(rusqlite::Error::InvalidQuery))?;
            Ok::<_, SchedulerError>((
                f(&Db {
                    conn: c,
                    t: &settings.table,
                }),
                opened,
            ))
        })
        .await
        .map_err(|e| SchedulerError::Store(e.to_string()))??;
        if opened {
            let addr = if self.settings.path == ":memory:" {
                "local:memory".to_string()
            } else {
                format!("local:{}", self.settings.path)
            };
            *self.address.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr);
        }
        Ok(out)
    }
}

const COLUMNS: &str = "key, namespace, kind, app_id, actor_type, actor_id, name, schedule, \
    repeats, due_time, ttl, data_type, data, policy, policy_interval_ns, policy_max_retries, \
    due_ms, next_ms, expiry_ms, triggered, attempt, token";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let kind: String = r.get(2)?;
    let owner = if kind == "actorreminder" {
        JobOwner::ActorReminder {
            actor_type: r.get(4)?,
            actor_id: r.get(5)?,
        }
    } else {
        JobOwner::App
    };
    let data_type: Option<String> = r.get(11)?;
    let data = data_type.map(|type_url| JobData {
        type_url,
        value: r
            .get::<_, Option<Vec<u8>>>(12)
            .ok()
            .flatten()
            .unwrap_or_default(),
    });
    let policy: Option<String> = r.get(13)?;
    let failure_policy = match policy.as_deref() {
        Some("drop") => Some(FailurePolicy::Drop),
        Some("constant") => Some(FailurePolicy::Constant {
            interval: Duration::from_nanos(
                u64::try_from(r.get::<_, Option<i64>>(14)?.unwrap_or(0)).unwrap_or(0),
            ),
            max_retries: r
                .get::<_, Option<i64>>(15)?
                .and_then(|n| u32::try_from(n).ok()),
        }),
        _ => None,
    };
    let u32_of = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Row {
        key: r.get(0)?,
        namespace: r.get(1)?,
        app_id: r.get(3)?,
        owner,
        name: r.get(6)?,
        spec: JobSpec {
            schedule: r.get(7)?,
            repeats: r.get::<_, Option<i64>>(8)?.map(u32_of),
            due_time: r.get(9)?,
            ttl: r.get(10)?,
            data,
            failure_policy,
        },
        due_ms: r.get(16)?,
        next_ms: r.get(17)?,
        expiry_ms: r.get(18)?,
        triggered: u32_of(r.get(19)?),
        attempt: u32_of(r.get(20)?),
        token: r.get(21)?,
    })
}

impl Db<'_> {
    fn rows(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Row>, SchedulerError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(db_err)?;
        let rows = stmt.query_map(params, read_row).map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }

    /// Inserts `row`; an existing job of the same key is replaced with `overwrite`, else
    /// [`SchedulerError::AlreadyExists`].
    pub fn insert(&self, row: &Row, overwrite: bool) -> Result<(), SchedulerError> {
        let t = self.t;
        let verb = if overwrite {
            "INSERT OR REPLACE"
        } else {
            "INSERT"
        };
        let (kind, actor_type, actor_id) = match &row.owner {
            JobOwner::App => ("app", "", ""),
            JobOwner::ActorReminder {
                actor_type,
                actor_id,
            } => ("actorreminder", actor_type.as_str(), actor_id.as_str()),
        };
        let s = &row.spec;
        let (policy, interval, retries) = match s.failure_policy {
            None => (None, None, None),
            Some(FailurePolicy::Drop) => (Some("drop"), None, None),
            Some(FailurePolicy::Constant {
                interval,
                max_retries,
            }) => (
                Some("constant"),
                Some(i64::try_from(interval.as_nanos()).unwrap_or(i64::MAX)),
                max_retries.map(i64::from),
            ),
        };
        let r = self.conn.execute(
            &format!(
                "{verb} INTO {t}_jobs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
                 ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
            ),
            params![
                row.key,
                row.namespace,
                kind,
                row.app_id,
                actor_type,
                actor_id,
                row.name,
                s.schedule,
                s.repeats.map(i64::from),
                s.due_time,
                s.ttl,
                s.data.as_ref().map(|d| d.type_url.as_str()),
                s.data.as_ref().map(|d| d.value.as_slice()),
                policy,
                interval,
                retries,
                row.due_ms,
                row.next_ms,
                row.expiry_ms,
                i64::from(row.triggered),
                i64::from(row.attempt),
                row.token,
            ],
        );
        match r {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(SchedulerError::AlreadyExists)
            }
            Err(e) => Err(db_err(e)),
        }
    }

    pub fn get(&self, key: &str) -> Result<Option<Row>, SchedulerError> {
        let t = self.t;
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM {t}_jobs WHERE key = ?1"))
            .map_err(db_err)?
            .query_row(params![key], read_row)
            .optional()
            .map_err(db_err)
    }

    pub fn delete(&self, key: &str) -> Result<bool, SchedulerError> {
        let t = self.t;
        self.conn
            .execute(
                &format!("DELETE FROM {t}_jobs WHERE key = ?1"),
                params![key],
            )
            .map(|n| n > 0)
            .map_err(db_err)
    }

    /// Jobs of `app_id` whose name starts with `prefix`, by name.
    pub fn list_app(
        &self,
        namespace: &str,
        app_id: &str,
        prefix: &str,
    ) -> Result<Vec<Row>, SchedulerError> {
        let t = self.t;
        self.rows(
            &format!(
                "SELECT {COLUMNS} FROM {t}_jobs WHERE namespace = ?1 AND kind = 'app' \
                 AND app_id = ?2 AND substr(name, 1, length(?3)) = ?3 ORDER BY name"
            ),
            params![namespace, app_id, prefix],
        )
    }

    pub fn delete_app(
        &self,
        namespace: &str,
        app_id: &str,
        prefix: &str,
    ) -> Result<u64, SchedulerError> {
        let t = self.t;
        self.conn
            .execute(
                &format!(
                    "DELETE FROM {t}_jobs WHERE namespace = ?1 AND kind = 'app' \
                     AND app_id = ?2 AND substr(name, 1, length(?3)) = ?3"
                ),
                params![namespace, app_id, prefix],
            )
            .map(|n| n as u64)
            .map_err(db_err)
    }

    pub fn list_reminders(
        &self,
        namespace: &str,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<Vec<Row>, SchedulerError> {
        let t = self.t;
        self.rows(
            &format!(
                "SELECT {COLUMNS} FROM {t}_jobs WHERE namespace = ?1 AND kind = 'actorreminder' \
                 AND actor_type = ?2 AND (?3 IS NULL OR actor_id = ?3) ORDER BY actor_id, name"
            ),
            params![namespace, actor_type, actor_id],
        )
    }

    pub fn delete_reminders(
        &self,
        namespace: &str,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<u64, SchedulerError> {
        let t = self.t;
        self.conn
            .execute(
                &format!(
                    "DELETE FROM {t}_jobs WHERE namespace = ?1 AND kind = 'actorreminder' \
                     AND actor_type = ?2 AND (?3 IS NULL OR actor_id = ?3)"
                ),
                params![namespace, actor_type, actor_id],
            )
            .map(|n| n as u64)
            .map_err(db_err)
    }

    /// Up to `limit` rows `who` may take that are due at `now_ms`, earliest first, and the
    /// earliest `next_ms` of all rows `who` may take.
    pub fn due(
        &self,
        who: &Eligible,
        now_ms: i64,
        limit: u32,
    ) -> Result<(Vec<Row>, Option<i64>), SchedulerError> {
        let t = self.t;
        let (clause, mut p) = who.clause(2);
        let mut all = vec![now_ms.to_string(), limit.to_string()];
        all.append(&mut p);
        let due = self.rows(
            &format!(
                "SELECT {COLUMNS} FROM {t}_jobs WHERE next_ms <= CAST(?1 AS INTEGER) AND {clause} \
                 ORDER BY next_ms LIMIT CAST(?2 AS INTEGER)"
            ),
            params_from_iter(all.iter()),
        )?;
        let (clause, p) = who.clause(0);
        let nearest = self
            .conn
            .prepare_cached(&format!("SELECT MIN(next_ms) FROM {t}_jobs WHERE {clause}"))
            .map_err(db_err)?
            .query_row(params_from_iter(p.iter()), |r| r.get::<_, Option<i64>>(0))
            .map_err(db_err)?;
        Ok((due, nearest))
    }

    /// Takes the pending trigger of `row` until `lease_ms`; the new token when this call won.
    pub fn claim(&self, row: &Row, lease_ms: i64) -> Result<Option<i64>, SchedulerError> {
        let t = self.t;
        let token = new_token();
        let n = self
            .conn
            .execute(
                &format!(
                    "UPDATE {t}_jobs SET next_ms = ?1, token = ?2 WHERE key = ?3 AND token = ?4"
                ),
                params![lease_ms, token, row.key, row.token],
            )
            .map_err(db_err)?;
        Ok((n == 1).then_some(token))
    }

    /// Extends a lease; `false` when the row changed (deleted, replaced).
    pub fn renew(&self, key: &str, token: i64, lease_ms: i64) -> Result<bool, SchedulerError> {
        let t = self.t;
        self.conn
            .execute(
                &format!("UPDATE {t}_jobs SET next_ms = ?1 WHERE key = ?2 AND token = ?3"),
                params![lease_ms, key, token],
            )
            .map(|n| n == 1)
            .map_err(db_err)
    }

    /// Records a finished trigger: the next one at `next` (`None`: the job is over and
    /// removed), `triggered` so far.
    pub fn complete(
        &self,
        key: &str,
        token: i64,
        triggered: u32,
        next: Option<i64>,
    ) -> Result<bool, SchedulerError> {
        let t = self.t;
        let n = match next {
            Some(at) => self.conn.execute(
                &format!(
                    "UPDATE {t}_jobs SET due_ms = ?1, next_ms = ?1, triggered = ?2, attempt = 0, \
                     token = ?3 WHERE key = ?4 AND token = ?5"
                ),
                params![at, i64::from(triggered), new_token(), key, token],
            ),
            None => self.conn.execute(
                &format!("DELETE FROM {t}_jobs WHERE key = ?1 AND token = ?2"),
                params![key, token],
            ),
        }
        .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Schedules another try of the pending trigger at `at_ms` (`attempt` failures so far).
    pub fn retry_at(
        &self,
        key: &str,
        token: i64,
        attempt: u32,
        at_ms: i64,
    ) -> Result<bool, SchedulerError> {
        let t = self.t;
        self.conn
            .execute(
                &format!(
                    "UPDATE {t}_jobs SET next_ms = ?1, attempt = ?2, token = ?3 \
                     WHERE key = ?4 AND token = ?5"
                ),
                params![at_ms, i64::from(attempt), new_token(), key, token],
            )
            .map(|n| n == 1)
            .map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_file(dir: &std::path::Path) -> StoreSettings {
        StoreSettings {
            path: dir.join("nr.db").to_string_lossy().into_owned(),
            table: "hosts".into(),
        }
    }

    fn job(name: &str, owner: JobOwner, at: i64) -> Row {
        Row::new(
            Owner {
                namespace: "default".into(),
                app_id: "app1".into(),
                owner,
            },
            name,
            JobSpec {
                schedule: Some("@every 1s".into()),
                data: Some(JobData {
                    type_url: "t".into(),
                    value: b"v".to_vec(),
                }),
                failure_policy: Some(FailurePolicy::Constant {
                    interval: Duration::from_millis(1500),
                    max_retries: None,
                }),
                ..JobSpec::default()
            },
            &Planned {
                first_ms: at,
                expiry_ms: None,
            },
        )
    }

    #[test]
    fn rows_round_trip_and_claims_are_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(&db_file(dir.path())).unwrap();
        let b = open(&db_file(dir.path())).unwrap();
        let (a, b) = (
            Db {
                conn: &a,
                t: "hosts",
            },
            Db {
                conn: &b,
                t: "hosts",
            },
        );
        let r = job("j1", JobOwner::App, 1_000);
        a.insert(&r, false).unwrap();
        assert_eq!(b.insert(&r, false), Err(SchedulerError::AlreadyExists));
        assert_eq!(b.get(&r.key).unwrap().as_ref(), Some(&r));
        assert_eq!(r.key, "app||default||app1||j1");
        let reminder = job(
            "rem",
            JobOwner::ActorReminder {
                actor_type: "T".into(),
                actor_id: "i".into(),
            },
            500,
        );
        assert_eq!(reminder.key, "actorreminder||default||T||i||rem");
        a.insert(&reminder, false).unwrap();
        let app_only = Eligible {
            namespace: "default".into(),
            app_id: Some("app1".into()),
            actor_types: vec![],
        };
        let (due, nearest) = a.due(&app_only, 2_000, 10).unwrap();
        assert_eq!((due.len(), nearest), (1, Some(1_000)));
        let both = Eligible {
            actor_types: vec!["T".into(), "U".into()],
            ..app_only.clone()
        };
        let (due, nearest) = b.due(&both, 2_000, 10).unwrap();
        assert_eq!(
            due.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["rem", "j1"]
        );
        assert_eq!(nearest, Some(500));
        let other = Eligible {
            namespace: "other".into(),
            ..both.clone()
        };
        assert!(a.due(&other, 2_000, 10).unwrap().0.is_empty());
        // Two sidecars read the same row; one claim wins.
        let row = a.get(&r.key).unwrap().unwrap();
        let won = a.claim(&row, 9_000).unwrap();
        assert!(won.is_some());
        assert_eq!(b.claim(&row, 9_000).unwrap(), None);
        let token = won.unwrap();
        assert!(b.renew(&r.key, token, 10_000).unwrap());
        assert!(a.retry_at(&r.key, token, 1, 3_000).unwrap());
        assert!(
            !a.complete(&r.key, token, 1, Some(4_000)).unwrap(),
            "stale token"
        );
        let row = b.get(&r.key).unwrap().unwrap();
        assert_eq!((row.next_ms, row.attempt), (3_000, 1));
        assert!(b.complete(&r.key, row.token, 1, Some(4_000)).unwrap());
        let row = a.get(&r.key).unwrap().unwrap();
        assert_eq!((row.due_ms, row.triggered, row.attempt), (4_000, 1, 0));
        assert!(a.complete(&r.key, row.token, 2, None).unwrap());
        assert_eq!(a.get(&r.key).unwrap(), None);
        // Overwrite replaces; listing and deleting by owner.
        a.insert(&job("j2", JobOwner::App, 1), false).unwrap();
        a.insert(&job("x", JobOwner::App, 1), false).unwrap();
        a.insert(&job("j2", JobOwner::App, 7), true).unwrap();
        let names: Vec<String> = a
            .list_app("default", "app1", "")
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["j2", "x"]);
        assert_eq!(a.delete_app("default", "app1", "j").unwrap(), 1);
        assert_eq!(
            a.list_reminders("default", "T", Some("i")).unwrap().len(),
            1
        );
        assert!(
            a.list_reminders("default", "T", Some("j"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(a.delete_reminders("default", "T", None).unwrap(), 1);
        assert!(a.delete(&job("x", JobOwner::App, 1).key).unwrap());
        assert!(!a.delete("nope").unwrap());
    }
}

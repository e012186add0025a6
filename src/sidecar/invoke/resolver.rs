//! Name resolution: a registry of sidecars in one SQLite file shared by every `daprd` of a
//! user, the official `nameresolution.sqlite` component's file: table `registration_id,
//! address, app_id, namespace, last_update` (plus our `pid` and `hop` columns, which the
//! official component neither reads nor writes) and its `metadata` table with the
//! migration level, so official sidecars configured with the SQLite resolver and ours find
//! each other in one file, whichever starts first.
//!
//! Why not mDNS (the official self-hosted default): it needs multicast, which containers,
//! CI runners and VPNs often block, and a 1 s browse on first lookup. A shared file works
//! with zero configuration on one machine, which is what self-hosted mode is. Limits: it
//! only reaches sidecars that share the file (one user, one host unless the file is on a
//! shared disk), and official sidecars only when they use the SQLite resolver on it.
//!
//! Each sidecar inserts its row when its internal port listens, refreshes `last_update`
//! a little more often than `updateInterval` (5 s; the official resolver ignores rows older
//! than that) and deletes the row on shutdown. A lookup ignores rows older than three
//! intervals and rows whose process is gone (so a killed sidecar disappears at once, not
//! after a timeout). The official resolver registers with an empty namespace (it has no
//! namespaces yet), so its rows answer for every namespace. A row without our `hop` marker
//! is an official sidecar, called with the official gRPC protocol ([`Peer::official`]).
//! All SQLite I/O runs on the blocking pool; lookups are cached in memory ([`Cache`]) so a
//! request normally never touches the file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, params};

use crate::sidecar::resources::parse_duration_with_unit;

/// Errors opening or using the registry file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    #[error("spec.nameResolution: {0}")]
    Config(String),
    #[error("HOME is not set; set it or give spec.nameResolution configuration.connectionString")]
    NoHome,
    #[error("name resolution database {path}: {source}")]
    Db {
        path: String,
        source: rusqlite::Error,
    },
    #[error("name resolution database {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Settings taken from Configuration `spec.nameResolution`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrySettings {
    pub path: String,
    pub table: String,
    /// The official component's table of migration levels (`metadataTableName`).
    pub metadata_table: String,
    pub update_interval: Duration,
}

impl RegistrySettings {
    /// A private in-memory registry: only this sidecar, used when the shared file cannot be
    /// opened.
    pub fn in_memory() -> Self {
        RegistrySettings {
            path: ":memory:".into(),
            table: "hosts".into(),
            metadata_table: "metadata".into(),
            update_interval: Duration::from_secs(5),
        }
    }

    /// Reads `spec.nameResolution` (`None` ⇒ defaults). `component` may be `sqlite` or
    /// `mdns` (the official default; served here by the local registry, with its own
    /// configuration ignored); anything else is refused with what would be valid.
    pub fn from_config(
        value: Option<&serde_json::Value>,
        home: Option<PathBuf>,
    ) -> Result<Self, ResolverError> {
        let default_path = || -> Result<String, ResolverError> {
            let home = home.clone().ok_or(ResolverError::NoHome)?;
            Ok(home
                .join(".dapr")
                .join("nameresolution.db")
                .to_string_lossy()
                .into_owned())
        };
        let mut s = RegistrySettings {
            path: String::new(),
            table: "hosts".into(),
            metadata_table: "metadata".into(),
            update_interval: Duration::from_secs(5),
        };
        let Some(v) = value.filter(|v| !v.is_null()) else {
            s.path = default_path()?;
            return Ok(s);
        };
        let component = v
            .get("component")
            .and_then(|c| c.as_str())
            .unwrap_or("mdns");
        match component {
            "" | "mdns" => {
                s.path = default_path()?;
                return Ok(s);
            }
            "sqlite" => {}
            other => {
                return Err(ResolverError::Config(format!(
                    "component {other:?} is not supported by this daprd (valid: sqlite, mdns)"
                )));
            }
        }
        let conf = v.get("configuration");
        let get = |k: &str| -> Option<String> {
            let x = conf?.get(k)?;
            match x {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        s.path = match get("connectionString") {
            Some(p) if !p.trim().is_empty() => p,
            _ => default_path()?,
        };
        for (key, slot) in [
            ("tableName", &mut s.table),
            ("metadataTableName", &mut s.metadata_table),
        ] {
            if let Some(t) = get(key) {
                if t.is_empty() || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(ResolverError::Config(format!(
                        "configuration.{key} {t:?} is invalid (letters, digits and _ only)"
                    )));
                }
                *slot = t;
            }
        }
        if let Some(d) = get("updateInterval") {
            s.update_interval = parse_duration_with_unit(&d, Duration::from_secs(1))
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    ResolverError::Config(format!(
                        "configuration.updateInterval {d:?} is not a duration (e.g. 5s, 500ms, 1m)"
                    ))
                })?;
        }
        Ok(s)
    }
}

/// One sidecar's handle on the registry file.
pub struct Registry {
    settings: RegistrySettings,
    conn: Mutex<Connection>,
    registration_id: String,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Brings the file to the official component's schema, as its migrations would, and adds
/// ours beside it: the `metadata` table with `nr-migrations` = 1, the hosts table with its
/// unique address index, then our `pid` and `hop` columns and `<table>_actors`. One
/// exclusive transaction, so sidecars starting together (ours or official) do not race.
fn migrate(conn: &mut Connection, settings: &RegistrySettings) -> rusqlite::Result<()> {
    let (t, m) = (&settings.table, &settings.metadata_table);
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {m} (key text NOT NULL PRIMARY KEY, value text NOT NULL);
         CREATE TABLE IF NOT EXISTS {t} (
            registration_id TEXT NOT NULL PRIMARY KEY,
            address TEXT NOT NULL,
            app_id TEXT NOT NULL,
            namespace TEXT NOT NULL,
            last_update INTEGER NOT NULL
         );
         DELETE FROM {t} WHERE rowid NOT IN (SELECT MAX(rowid) FROM {t} GROUP BY address);
         CREATE UNIQUE INDEX IF NOT EXISTS {t}_address_idx ON {t} (address);
         CREATE INDEX IF NOT EXISTS {t}_last_update_idx ON {t} (last_update);
         INSERT OR IGNORE INTO {m} (key, value) VALUES ('nr-migrations', '1');
         CREATE INDEX IF NOT EXISTS {t}_app_id_idx ON {t} (app_id, namespace);
         CREATE TABLE IF NOT EXISTS {t}_actors (
            registration_id TEXT NOT NULL,
            actor_type TEXT NOT NULL,
            PRIMARY KEY (registration_id, actor_type)
         );"
    ))?;
    for (column, ty) in [("pid", "INTEGER"), ("hop", "TEXT")] {
        let present: i64 = tx.query_row(
            &format!("SELECT COUNT(*) FROM pragma_table_info('{t}') WHERE name = ?1"),
            [column],
            |r| r.get(0),
        )?;
        if present == 0 {
            tx.execute(&format!("ALTER TABLE {t} ADD COLUMN {column} {ty}"), [])?;
        }
    }
    tx.commit()
}

/// The value of our `hop` column: the sidecar speaks our HTTP/1.1 hop (and the official
/// gRPC protocol). A row without it was written by the official component.
const HOP_HTTP1: &str = "http1";

/// A sidecar found in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub address: String,
    /// Registered by the official component: call it with the official gRPC protocol.
    pub official: bool,
}

impl Peer {
    pub fn ours(address: impl Into<String>) -> Peer {
        Peer {
            address: address.into(),
            official: false,
        }
    }
}

impl Registry {
    /// Opens (creating directories, file and table as needed). Blocking: call from
    /// `spawn_blocking`.
    pub fn open(settings: RegistrySettings) -> Result<Registry, ResolverError> {
        let path = settings.path.clone();
        let db = |source| ResolverError::Db {
            path: path.clone(),
            source,
        };
        let is_uri = path.starts_with("file:");
        if !is_uri
            && path != ":memory:"
            && let Some(dir) = std::path::Path::new(&path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| ResolverError::Io {
                path: path.clone(),
                source,
            })?;
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if is_uri {
            flags |= OpenFlags::SQLITE_OPEN_URI;
        }
        let mut conn = Connection::open_with_flags(&path, flags).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        // WAL lets many sidecars read while one writes; harmless if it cannot be enabled.
        // The rows are refreshed every few seconds and rebuilt on restart, so durability
        // buys nothing: `synchronous=NORMAL` drops the fsync on every commit, which costs
        // milliseconds of start-up on a busy disk.
        let _ = conn.pragma_update(None, "journal_mode", "WAL");
        let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        migrate(&mut conn, &settings).map_err(db)?;
        Ok(Registry {
            settings,
            conn: Mutex::new(conn),
            registration_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    fn db_err(&self, source: rusqlite::Error) -> ResolverError {
        ResolverError::Db {
            path: self.settings.path.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Inserts (or refreshes) this sidecar's row. Rows left at the same address by a
    /// process that died are removed, as are rows not refreshed for an hour.
    pub fn register(
        &self,
        app_id: &str,
        namespace: &str,
        address: &str,
    ) -> Result<(), ResolverError> {
        let t = &self.settings.table;
        let mut conn = self.lock();
        let now = now_secs();
        // One transaction: one commit instead of two.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.db_err(e))?;
        tx.execute(
            &format!(
                "DELETE FROM {t} WHERE (address = ?1 AND registration_id <> ?2) OR last_update < ?3"
            ),
            params![address, self.registration_id, now - 3600],
        )
        .map_err(|e| self.db_err(e))?;
        tx.execute(
            &format!(
                "DELETE FROM {t}_actors WHERE registration_id NOT IN (SELECT registration_id FROM {t})"
            ),
            [],
        )
        .map_err(|e| self.db_err(e))?;
        tx.execute(
            &format!(
                "INSERT INTO {t} (registration_id, address, app_id, namespace, last_update, pid, hop)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (registration_id) DO UPDATE SET last_update = excluded.last_update"
            ),
            params![
                self.registration_id,
                address,
                app_id,
                namespace,
                now,
                std::process::id(),
                HOP_HTTP1
            ],
        )
        .map_err(|e| self.db_err(e))?;
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Refreshes `last_update`; re-inserts the row if someone removed it.
    pub fn heartbeat(
        &self,
        app_id: &str,
        namespace: &str,
        address: &str,
    ) -> Result<(), ResolverError> {
        let t = &self.settings.table;
        let n = self
            .lock()
            .execute(
                &format!("UPDATE {t} SET last_update = ?1 WHERE registration_id = ?2"),
                params![now_secs(), self.registration_id],
            )
            .map_err(|e| self.db_err(e))?;
        if n == 0 {
            self.register(app_id, namespace, address)?;
        }
        Ok(())
    }

    pub fn deregister(&self) -> Result<(), ResolverError> {
        let t = &self.settings.table;
        self.lock()
            .execute(
                &format!("DELETE FROM {t} WHERE registration_id = ?1"),
                params![self.registration_id],
            )
            .map_err(|e| self.db_err(e))?;
        self.lock()
            .execute(
                &format!("DELETE FROM {t}_actors WHERE registration_id = ?1"),
                params![self.registration_id],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Records the actor types this sidecar hosts (table `<table>_actors`, keyed by this
    /// sidecar's registration, so a row lives and expires with the sidecar's own row).
    pub fn set_actor_types(&self, types: &[String]) -> Result<(), ResolverError> {
        let t = &self.settings.table;
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.db_err(e))?;
        tx.execute(
            &format!("DELETE FROM {t}_actors WHERE registration_id = ?1"),
            params![self.registration_id],
        )
        .map_err(|e| self.db_err(e))?;
        for ty in types {
            tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO {t}_actors (registration_id, actor_type) VALUES (?1, ?2)"
                ),
                params![self.registration_id, ty],
            )
            .map_err(|e| self.db_err(e))?;
        }
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Live actor hosts of `namespace`: `(actor type, address, app id)`, sorted. Rows of
    /// sidecars that are stale or whose process is gone are left out, as in [`Self::lookup`].
    pub fn actor_hosts(
        &self,
        namespace: &str,
    ) -> Result<Vec<(String, String, String)>, ResolverError> {
        let t = &self.settings.table;
        let fresh = now_secs() - 3 * self.settings.update_interval.as_secs().max(1) as i64;
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT a.actor_type, h.address, h.app_id, h.pid FROM {t}_actors a
                 JOIN {t} h ON h.registration_id = a.registration_id
                 WHERE h.namespace = ?1 AND h.last_update >= ?2
                 ORDER BY a.actor_type, h.address"
            ))
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map(params![namespace, fresh], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
            .map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (ty, addr, app, pid) = row.map_err(|e| self.db_err(e))?;
            if pid.is_none_or(process_alive) {
                out.push((ty, addr, app));
            }
        }
        out.dedup();
        Ok(out)
    }

    /// Live sidecars of `app_id` in `namespace` (official ones, registered without a
    /// namespace, in any), ordered by address for stable round robin.
    pub fn lookup(&self, app_id: &str, namespace: &str) -> Result<Vec<Peer>, ResolverError> {
        let t = &self.settings.table;
        let fresh = now_secs() - 3 * self.settings.update_interval.as_secs().max(1) as i64;
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT address, pid, hop FROM {t}
                 WHERE app_id = ?1 AND (namespace = ?2 OR namespace = '') AND last_update >= ?3
                 ORDER BY address"
            ))
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map(params![app_id, namespace, fresh], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(|e| self.db_err(e))?;
        let mut out: Vec<Peer> = Vec::new();
        for row in rows {
            let (address, pid, hop) = row.map_err(|e| self.db_err(e))?;
            if pid.is_none_or(process_alive) && !out.iter().any(|p| p.address == address) {
                out.push(Peer {
                    address,
                    official: hop.as_deref() != Some(HOP_HTTP1),
                });
            }
        }
        Ok(out)
    }
}

/// Whether a process exists and is not a zombie. Rows come from the same user's sidecars on
/// this host, so the pid is meaningful.
fn process_alive(pid: i64) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) => return true,
        Err(_) => return false,
    }
    // A killed-but-unreaped process still answers signal 0; its state in /proc is `Z`.
    match std::fs::read_to_string(format!("/proc/{raw}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_none_or(|state| state != 'Z' && state != 'X'),
        Err(_) => true,
    }
}

/// How long a cached resolution is served without asking the registry again; after that
/// it is still served while a background refresh runs, up to [`CACHE_MAX_AGE`].
const CACHE_FRESH: Duration = Duration::from_secs(5);
const CACHE_MAX_AGE: Duration = Duration::from_secs(60);

struct Entry {
    addrs: Arc<[Peer]>,
    fetched: Instant,
    next: AtomicUsize,
    refreshing: AtomicBool,
}

/// Resolutions cached per (namespace, app id). Negative answers are not cached so a new
/// sidecar is found on the next call.
#[derive(Default)]
pub struct Cache {
    map: Mutex<HashMap<String, HashMap<String, Arc<Entry>>>>,
}

/// The outcome of a cache probe.
pub enum Cached {
    /// Fresh: use it.
    Hit(Peer),
    /// Usable but old: use it, and refresh in the background.
    Stale(Peer),
    Miss,
}

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, Arc<Entry>>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Picks the next address (round robin) if cached.
    pub fn get(&self, app_id: &str, namespace: &str) -> Cached {
        let entry = match self.lock().get(namespace).and_then(|m| m.get(app_id)) {
            Some(e) => e.clone(),
            None => return Cached::Miss,
        };
        let age = entry.fetched.elapsed();
        if age > CACHE_MAX_AGE || entry.addrs.is_empty() {
            return Cached::Miss;
        }
        let i = entry.next.fetch_add(1, Ordering::Relaxed) % entry.addrs.len();
        let addr = entry.addrs[i].clone();
        if age > CACHE_FRESH && !entry.refreshing.swap(true, Ordering::AcqRel) {
            Cached::Stale(addr)
        } else {
            Cached::Hit(addr)
        }
    }

    /// Stores a lookup result and returns the address to use now.
    pub fn put(&self, app_id: &str, namespace: &str, addrs: Vec<Peer>) -> Option<Peer> {
        let mut map = self.lock();
        let ns = map.entry(namespace.to_owned()).or_default();
        if addrs.is_empty() {
            ns.remove(app_id);
            return None;
        }
        // Keep the round-robin position across refreshes so load stays spread.
        let next = ns
            .get(app_id)
            .map(|e| e.next.load(Ordering::Relaxed))
            .unwrap_or(0);
        let entry = Arc::new(Entry {
            addrs: addrs.into(),
            fetched: Instant::now(),
            next: AtomicUsize::new(next + 1),
            refreshing: AtomicBool::new(false),
        });
        let first = entry.addrs[next % entry.addrs.len()].clone();
        ns.insert(app_id.to_owned(), entry);
        Some(first)
    }

    /// Forgets an app id (after a connection failure to one of its addresses).
    pub fn invalidate(&self, app_id: &str, namespace: &str) {
        if let Some(m) = self.lock().get_mut(namespace) {
            m.remove(app_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path) -> RegistrySettings {
        RegistrySettings {
            path: dir.join("sub").join("nr.db").to_string_lossy().into_owned(),
            table: "hosts".into(),
            metadata_table: "metadata".into(),
            update_interval: Duration::from_secs(5),
        }
    }

    #[test]
    fn config_defaults_and_errors() {
        let home = Some(PathBuf::from("/h"));
        let d = RegistrySettings::from_config(None, home.clone()).unwrap();
        assert_eq!(d.path, "/h/.dapr/nameresolution.db");
        let v = serde_json::json!({"component": "sqlite", "configuration": {"connectionString": "/x/y.db", "updateInterval": "2s"}});
        let s = RegistrySettings::from_config(Some(&v), home.clone()).unwrap();
        assert_eq!(s.path, "/x/y.db");
        assert_eq!(s.update_interval, Duration::from_secs(2));
        let v = serde_json::json!({"component": "consul"});
        let e = RegistrySettings::from_config(Some(&v), home.clone())
            .unwrap_err()
            .to_string();
        assert!(e.contains("consul") && e.contains("sqlite"), "{e}");
        let v =
            serde_json::json!({"component": "sqlite", "configuration": {"tableName": "x; drop"}});
        assert!(RegistrySettings::from_config(Some(&v), home).is_err());
    }

    #[test]
    fn register_lookup_deregister() {
        let dir = tempfile::tempdir().unwrap();
        let a = Registry::open(settings(dir.path())).unwrap();
        let b = Registry::open(settings(dir.path())).unwrap();
        a.register("app", "default", "127.0.0.1:1001").unwrap();
        b.register("app", "default", "127.0.0.1:1002").unwrap();
        assert_eq!(
            a.lookup("app", "default").unwrap(),
            vec![Peer::ours("127.0.0.1:1001"), Peer::ours("127.0.0.1:1002")]
        );
        assert!(a.lookup("app", "other").unwrap().is_empty());
        b.deregister().unwrap();
        assert_eq!(
            a.lookup("app", "default").unwrap(),
            vec![Peer::ours("127.0.0.1:1001")]
        );
        a.heartbeat("app", "default", "127.0.0.1:1001").unwrap();
        // A row whose process is gone is ignored.
        a.lock()
            .execute("UPDATE hosts SET pid = 2147483000", [])
            .unwrap();
        assert!(a.lookup("app", "default").unwrap().is_empty());
    }

    #[test]
    fn actor_hosts_live_and_expire_with_their_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let a = Registry::open(settings(dir.path())).unwrap();
        let b = Registry::open(settings(dir.path())).unwrap();
        a.register("x", "default", "127.0.0.1:1001").unwrap();
        b.register("y", "default", "127.0.0.1:1002").unwrap();
        a.set_actor_types(&["T".into(), "U".into()]).unwrap();
        b.set_actor_types(&["T".into()]).unwrap();
        let row = |t: &str, a: &str, app: &str| (t.to_string(), a.to_string(), app.to_string());
        assert_eq!(
            a.actor_hosts("default").unwrap(),
            vec![
                row("T", "127.0.0.1:1001", "x"),
                row("T", "127.0.0.1:1002", "y"),
                row("U", "127.0.0.1:1001", "x")
            ]
        );
        assert!(a.actor_hosts("other").unwrap().is_empty());
        a.set_actor_types(&["U".into()]).unwrap();
        assert_eq!(a.actor_hosts("default").unwrap().len(), 2);
        // A sidecar whose process is gone hosts nothing; one that deregisters neither.
        b.lock()
            .execute("UPDATE hosts SET pid = 2147483000 WHERE app_id = 'y'", [])
            .unwrap();
        assert_eq!(
            a.actor_hosts("default").unwrap(),
            vec![row("U", "127.0.0.1:1001", "x")]
        );
        a.deregister().unwrap();
        assert!(a.actor_hosts("default").unwrap().is_empty());
    }

    /// The file as the official component leaves it: its migration level in `metadata`,
    /// the hosts table without our columns, a row with an empty namespace.
    const OFFICIAL_SCHEMA: &str = "
        CREATE TABLE metadata (key text NOT NULL PRIMARY KEY, value text NOT NULL);
        INSERT INTO metadata VALUES ('nr-migrations', '1');
        CREATE TABLE hosts (registration_id TEXT NOT NULL PRIMARY KEY, address TEXT NOT NULL,
            app_id TEXT NOT NULL, namespace TEXT NOT NULL, last_update INTEGER NOT NULL);
        CREATE UNIQUE INDEX hosts_address_idx ON hosts (address);
        CREATE INDEX hosts_last_update_idx ON hosts (last_update);";

    /// The official resolver's registration of app `go`: REPLACE, no namespace.
    fn register_as_official(c: &Connection, id: &str, address: &str) {
        c.execute(
            "REPLACE INTO hosts (registration_id, address, app_id, namespace, last_update)
             VALUES (?1, ?2, 'go', '', unixepoch(CURRENT_TIMESTAMP))",
            params![id, address],
        )
        .unwrap();
    }

    #[test]
    fn opens_a_file_made_by_the_official_component() {
        let dir = tempfile::tempdir().unwrap();
        let st = settings(dir.path());
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        let c = Connection::open(&st.path).unwrap();
        c.execute_batch(OFFICIAL_SCHEMA).unwrap();
        register_as_official(&c, "x", "10.0.0.1:50002");
        drop(c);
        let r = Registry::open(st).unwrap();
        // A row without a pid is trusted on its timestamp alone; without our marker it is an
        // official sidecar; without a namespace it answers in ours.
        let official = Peer {
            address: "10.0.0.1:50002".into(),
            official: true,
        };
        assert_eq!(r.lookup("go", "default").unwrap(), vec![official.clone()]);
        assert_eq!(r.lookup("go", "prod").unwrap(), vec![official]);
        r.register("me", "default", "127.0.0.1:1").unwrap();
        assert_eq!(
            r.lookup("me", "default").unwrap(),
            vec![Peer::ours("127.0.0.1:1")]
        );
    }

    #[test]
    fn a_file_we_made_passes_the_official_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let st = settings(dir.path());
        let r = Registry::open(st.clone()).unwrap();
        r.register("me", "default", "127.0.0.1:1").unwrap();
        let c = Connection::open(&st.path).unwrap();
        // The official component reads its level and, at 1, creates nothing.
        let level: String = c
            .query_row(
                "SELECT value FROM metadata WHERE key = 'nr-migrations'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(level, "1");
        // Its statements work on our table: register (REPLACE on the address index), renew,
        // resolve, and our row is what it finds for our app.
        register_as_official(&c, "o", "127.0.0.1:2");
        c.execute(
            "UPDATE hosts SET last_update = unixepoch(CURRENT_TIMESTAMP)
             WHERE registration_id = 'o' AND address = '127.0.0.1:2'",
            [],
        )
        .unwrap();
        let addr: String = c
            .query_row(
                "SELECT address FROM hosts WHERE app_id = 'me'
                 AND unixepoch(CURRENT_TIMESTAMP) - last_update < 5",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(addr, "127.0.0.1:1");
        // Taking over an address (REPLACE) removes the row that held it.
        register_as_official(&c, "p", "127.0.0.1:1");
        assert!(r.lookup("me", "default").unwrap().is_empty());
        // Opening again (a restart) keeps what is there.
        drop(r);
        let again = Registry::open(st).unwrap();
        assert_eq!(again.lookup("go", "default").unwrap().len(), 2);
    }

    #[test]
    fn cache_round_robin_and_invalidate() {
        let c = Cache::default();
        assert!(matches!(c.get("a", "ns"), Cached::Miss));
        assert_eq!(
            c.put("a", "ns", vec![Peer::ours("x"), Peer::ours("y")]),
            Some(Peer::ours("x"))
        );
        let mut seen = Vec::new();
        for _ in 0..4 {
            if let Cached::Hit(a) = c.get("a", "ns") {
                seen.push(a.address);
            }
        }
        assert_eq!(seen, vec!["y", "x", "y", "x"]);
        c.invalidate("a", "ns");
        assert!(matches!(c.get("a", "ns"), Cached::Miss));
    }
}

//! Which sidecar owns an actor `(type, id)`: the one decision the actor runtime asks
//! [`Placement`] for, before every call. Without an invoker, [`LocalPlacement`]: this
//! sidecar owns every id of the types its app hosts, and no other type has a host.
//!
//! With name resolution available, [`RingPlacement`]: the actor hosts of the shared SQLite
//! registry (`invoke::resolver`, table `<table>_actors`), one consistent-hash ring per type
//! built exactly as the official placement tables (`pkg/placement/hashing/consistent_hash.go`):
//! 100 virtual nodes per host, vnode `i` at `hash(host + decimal(i))`, where `host` is the
//! sidecar's internal address and `hash` is the first 8 bytes of BLAKE2b-512 read
//! little-endian; an actor id goes to the first vnode `>= hash(id)`, wrapping around. No
//! placement process: every sidecar builds the same rings from the same rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;

use blake2::{Blake2b512, Digest};

/// Where a call for one actor goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This sidecar's app hosts the actor.
    Local,
    /// Another sidecar does: its app id and internal gRPC address.
    Remote { app_id: String, address: String },
}

/// No sidecar hosts the type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("did not find address for actor {actor_type}/{actor_id}")]
pub struct NoHost {
    pub actor_type: String,
    pub actor_id: String,
}

pub trait Placement: Send + Sync + 'static {
    fn lookup(&self, actor_type: &str, actor_id: &str) -> Result<Owner, NoHost>;
    /// `placement` as `/v1.0/metadata` reports it (`placement: connected`, ...).
    fn status(&self) -> &'static str;
}

/// A sidecar without name resolution: the types its app hosts are local, nothing else exists.
pub struct LocalPlacement {
    hosted: BTreeSet<String>,
}

impl LocalPlacement {
    pub fn new(hosted: impl IntoIterator<Item = String>) -> LocalPlacement {
        LocalPlacement {
            hosted: hosted.into_iter().collect(),
        }
    }
}

impl Placement for LocalPlacement {
    fn lookup(&self, actor_type: &str, actor_id: &str) -> Result<Owner, NoHost> {
        if self.hosted.contains(actor_type) {
            Ok(Owner::Local)
        } else {
            Err(NoHost {
                actor_type: actor_type.into(),
                actor_id: actor_id.into(),
            })
        }
    }

    fn status(&self) -> &'static str {
        // The table is this process's own: always available.
        "placement: connected"
    }
}

/// Virtual nodes per host (upstream's default `--replicationFactor`).
pub const REPLICATION_FACTOR: usize = 100;

/// Upstream's `Consistent.hash`.
pub fn hash(key: &str) -> u64 {
    let out = Blake2b512::digest(key.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&out[..8]);
    u64::from_le_bytes(b)
}

/// One actor type's ring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ring {
    /// Sorted vnode hashes (duplicates kept, as upstream's `sortedSet`).
    sorted: Vec<u64>,
    /// vnode hash → host (a later host wins a collision, as upstream's map).
    hosts: HashMap<u64, String>,
}

impl Ring {
    pub fn new<'a>(hosts: impl IntoIterator<Item = &'a str>) -> Ring {
        let mut r = Ring::default();
        let mut seen = BTreeSet::new();
        for host in hosts {
            if !seen.insert(host) {
                continue;
            }
            for i in 0..REPLICATION_FACTOR {
                let h = hash(&format!("{host}{i}"));
                r.hosts.insert(h, host.to_string());
                r.sorted.push(h);
            }
        }
        r.sorted.sort_unstable();
        r
    }

    /// The host owning `key` (upstream's `Consistent.Get`).
    pub fn get(&self, key: &str) -> Option<&str> {
        if self.sorted.is_empty() {
            return None;
        }
        let h = hash(key);
        let mut idx = self.sorted.partition_point(|&v| v < h);
        if idx >= self.sorted.len() {
            idx = 0;
        }
        self.hosts.get(&self.sorted[idx]).map(String::as_str)
    }
}

/// The registry's view: per type, the hosts (address → app id).
pub type HostTable = BTreeMap<String, BTreeMap<String, String>>;

/// Placement over the actor hosts of the shared registry.
pub struct RingPlacement {
    /// This sidecar's internal address, as registered.
    me: String,
    state: RwLock<(HostTable, HashMap<String, Ring>)>,
}

impl RingPlacement {
    pub fn new(me: &str) -> RingPlacement {
        RingPlacement {
            me: me.to_string(),
            state: RwLock::new(Default::default()),
        }
    }

    /// Replaces the table with the registry's rows `(type, address, app id)`; true when it
    /// changed.
    pub fn update(&self, rows: impl IntoIterator<Item = (String, String, String)>) -> bool {
        let mut table = HostTable::new();
        for (ty, addr, app) in rows {
            table.entry(ty).or_default().insert(addr, app);
        }
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        if st.0 == table {
            return false;
        }
        let rings = table
            .iter()
            .map(|(ty, hosts)| (ty.clone(), Ring::new(hosts.keys().map(String::as_str))))
            .collect();
        *st = (table, rings);
        true
    }
}

impl Placement for RingPlacement {
    fn lookup(&self, actor_type: &str, actor_id: &str) -> Result<Owner, NoHost> {
        let st = self.state.read().unwrap_or_else(|p| p.into_inner());
        let no_host = || NoHost {
            actor_type: actor_type.into(),
            actor_id: actor_id.into(),
        };
        let host =
            st.1.get(actor_type)
                .and_then(|r| r.get(actor_id))
                .ok_or_else(no_host)?;
        if host == self.me {
            return Ok(Owner::Local);
        }
        let app_id =
            st.0.get(actor_type)
                .and_then(|h| h.get(host))
                .cloned()
                .unwrap_or_default();
        Ok(Owner::Remote {
            app_id,
            address: host.to_string(),
        })
    }

    fn status(&self) -> &'static str {
        "placement: connected"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_blake2b512_first_8_bytes_little_endian() {
        // BLAKE2b-512("") = 786a02f7 42015903 ...
        assert_eq!(
            hash(""),
            u64::from_le_bytes([0x78, 0x6a, 0x02, 0xf7, 0x42, 0x01, 0x59, 0x03])
        );
        // BLAKE2b-512("abc") = ba80a53f 981c4d0d ...
        assert_eq!(
            hash("abc"),
            u64::from_le_bytes([0xba, 0x80, 0xa5, 0x3f, 0x98, 0x1c, 0x4d, 0x0d])
        );
    }

    #[test]
    fn ring_matches_upstream_construction() {
        let hosts = ["127.0.0.1:5001", "127.0.0.1:5002", "127.0.0.1:5003"];
        let ring = Ring::new(hosts);
        assert_eq!(ring.sorted.len(), 300);
        // Reference: the owner is the host of the first vnode >= hash(id), wrapping.
        let mut vnodes: Vec<(u64, &str)> = hosts
            .iter()
            .flat_map(|h| (0..100).map(move |i| (hash(&format!("{h}{i}")), *h)))
            .collect();
        vnodes.sort();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for i in 0..1000 {
            let id = format!("id-{i}");
            let h = hash(&id);
            let want = vnodes.iter().find(|(v, _)| *v >= h).unwrap_or(&vnodes[0]).1;
            assert_eq!(ring.get(&id), Some(want));
            *counts.entry(want).or_default() += 1;
        }
        // 100 vnodes spread the ids over every host.
        assert!(counts.values().all(|&c| c > 150), "{counts:?}");
        // Order of insertion does not matter; removing a host moves only its ids.
        let two = Ring::new(["127.0.0.1:5003", "127.0.0.1:5001"]);
        for i in 0..1000 {
            let id = format!("id-{i}");
            let before = ring.get(&id).unwrap();
            if before != "127.0.0.1:5002" {
                assert_eq!(two.get(&id), Some(before));
            }
        }
        assert_eq!(Ring::default().get("x"), None);
    }

    #[test]
    fn ring_placement_local_remote_and_updates() {
        let p = RingPlacement::new("a:1");
        assert!(p.lookup("T", "1").is_err());
        let rows = |hs: &[(&str, &str)]| {
            hs.iter()
                .map(|(a, app)| ("T".to_string(), a.to_string(), app.to_string()))
                .collect::<Vec<_>>()
        };
        assert!(p.update(rows(&[("a:1", "x"), ("b:2", "y")])));
        assert!(!p.update(rows(&[("b:2", "y"), ("a:1", "x")])));
        let mut local = 0;
        for i in 0..100 {
            match p.lookup("T", &i.to_string()).unwrap() {
                Owner::Local => local += 1,
                Owner::Remote { app_id, address } => {
                    assert_eq!((app_id.as_str(), address.as_str()), ("y", "b:2"))
                }
            }
        }
        assert!(local > 10 && local < 90, "{local}");
        assert!(p.update(rows(&[("a:1", "x")])));
        assert_eq!(p.lookup("T", "7"), Ok(Owner::Local));
        assert!(p.lookup("U", "7").is_err());
    }

    #[test]
    fn local_placement_owns_hosted_types_only() {
        let p = LocalPlacement::new(["A".to_string()]);
        assert_eq!(p.lookup("A", "1"), Ok(Owner::Local));
        let e = p.lookup("B", "1").unwrap_err();
        assert_eq!(e.to_string(), "did not find address for actor B/1");
    }
}

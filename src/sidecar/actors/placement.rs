//! Which sidecar owns an actor `(type, id)`: the one decision the actor runtime asks
//! [`Placement`] for, before every call. Today one implementation, [`LocalPlacement`]: this
//! sidecar owns every id of the types its app hosts, and no other type has a host.
//!
//! Next (STATUS.md): a `RingPlacement` over the sidecars of the shared SQLite
//! registry (`invoke::resolver`), one consistent-hash ring per type as the official
//! placement tables build it (100 virtual nodes per host, `hash(host + i)`), answering
//! [`Owner::Remote`] for ids that hash to another sidecar; the runtime then forwards the
//! call over the sidecar-to-sidecar hop.

use std::collections::BTreeSet;

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

/// A single sidecar: the types its app hosts are local, nothing else exists.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_placement_owns_hosted_types_only() {
        let p = LocalPlacement::new(["A".to_string()]);
        assert_eq!(p.lookup("A", "1"), Ok(Owner::Local));
        let e = p.lookup("B", "1").unwrap_err();
        assert_eq!(e.to_string(), "did not find address for actor B/1");
    }
}

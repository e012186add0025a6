//! Lock store conformance: one set of behaviour checks over `LockComponent` (the store and
//! its key layout) run against `lock.redis` on a real `redis-server` per test, then the
//! Redis wire layout shared with official daprd and the refusal of a replicated server.
//! A new lock store type adds its line to the `conformance!` call below.

use std::time::Duration;

use dapr_cli::sidecar::components::lock::UnlockStatus;
use dapr_cli::sidecar::components::{self, ComponentStore, Context};
use dapr_cli::sidecar::resources::{Component, ResourceError};

use crate::support::{Redis, wait_until};

/// Starts `c` the way daprd does (app id `myapp`) and returns the running components.
async fn start(c: Component) -> Result<ComponentStore, ResourceError> {
    let ctx = Context::new("myapp");
    let plan = components::plan(vec![c], &ctx)?;
    ComponentStore::start(plan, &ctx).await
}

async fn redis_lock(meta: &[(&str, &str)]) -> (ComponentStore, Redis) {
    let redis = Redis::start();
    let mut c = Component::new("lockstore", "lock.redis").with_meta("redisHost", &redis.addr());
    for (k, v) in meta {
        c = c.with_meta(k, v);
    }
    (start(c).await.unwrap(), redis)
}

macro_rules! conformance {
    ($($store:ident => $make:expr;)*) => {$(
        mod $store {
            use super::*;

            #[tokio::test]
            async fn only_one_owner_holds_a_lock_until_it_unlocks() {
                let (running, _guard) = $make.await;
                let l = running.lock("lockstore").unwrap();
                let key = l.prefix.key("order-1").unwrap();
                assert!(l.store.try_lock(&key, "alice", 30).await.unwrap());
                assert!(!l.store.try_lock(&key, "bob", 30).await.unwrap());
                // Not re-entrant: the owner cannot take it twice either.
                assert!(!l.store.try_lock(&key, "alice", 30).await.unwrap());
                assert_eq!(
                    l.store.unlock(&key, "bob").await.unwrap(),
                    UnlockStatus::LockBelongsToOthers
                );
                assert_eq!(
                    l.store.unlock(&key, "alice").await.unwrap(),
                    UnlockStatus::Success
                );
                assert_eq!(
                    l.store.unlock(&key, "alice").await.unwrap(),
                    UnlockStatus::LockDoesNotExist
                );
                assert!(l.store.try_lock(&key, "bob", 30).await.unwrap());
                // Other resources are independent.
                let other = l.prefix.key("order-2").unwrap();
                assert!(l.store.try_lock(&other, "alice", 30).await.unwrap());
            }

            #[tokio::test]
            async fn an_expired_lock_can_be_taken_by_another_owner() {
                let (running, _guard) = $make.await;
                let l = running.lock("lockstore").unwrap();
                let key = l.prefix.key("short").unwrap();
                assert!(l.store.try_lock(&key, "alice", 1).await.unwrap());
                assert!(!l.store.try_lock(&key, "bob", 1).await.unwrap());
                tokio::time::sleep(Duration::from_millis(1200)).await;
                assert!(l.store.try_lock(&key, "bob", 5).await.unwrap());
                assert_eq!(
                    l.store.unlock(&key, "alice").await.unwrap(),
                    UnlockStatus::LockBelongsToOthers
                );
            }

            #[tokio::test]
            async fn concurrent_try_locks_have_exactly_one_winner() {
                let (running, _guard) = $make.await;
                let l = running.lock("lockstore").unwrap();
                let key = l.prefix.key("contended").unwrap();
                let tries = (0..50).map(|i| {
                    let (store, key) = (l.store.clone(), key.clone());
                    async move { store.try_lock(&key, &format!("owner-{i}"), 30).await.unwrap() }
                });
                let won = futures_util::future::join_all(tries).await;
                assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
            }
        }
    )*};
}

conformance! {
    redis => redis_lock(&[]);
}

#[tokio::test]
async fn redis_locks_use_the_official_key_layout() {
    let (running, redis) = redis_lock(&[]).await;
    let l = running.lock("lockstore").unwrap();
    let key = l.prefix.key("res").unwrap();
    assert_eq!(key, "lock||myapp||res");
    assert!(l.store.try_lock(&key, "owner-1", 20).await.unwrap());
    assert_eq!(redis.cli(&["GET", "lock||myapp||res"]).trim(), "owner-1");
    let pttl: i64 = redis
        .cli(&["PTTL", "lock||myapp||res"])
        .trim()
        .parse()
        .unwrap();
    assert!(pttl > 15_000 && pttl <= 20_000, "{pttl}");
    // A lock taken by another daprd (same layout) is seen as held, and is released only by
    // its owner.
    redis.cli(&["SET", "lock||myapp||theirs", "official", "PX", "20000"]);
    let theirs = l.prefix.key("theirs").unwrap();
    assert!(!l.store.try_lock(&theirs, "me", 5).await.unwrap());
    assert_eq!(
        l.store.unlock(&theirs, "official").await.unwrap(),
        UnlockStatus::Success
    );
    assert_eq!(redis.cli(&["EXISTS", "lock||myapp||theirs"]).trim(), "0");

    // keyPrefix strategies.
    for (strategy, expected) in [
        ("name", "lock||lockstore||r"),
        ("none", "lock||r"),
        ("Custom", "lock||custom||r"),
    ] {
        let (running, redis) = redis_lock(&[("keyPrefix", strategy)]).await;
        let l = running.lock("lockstore").unwrap();
        assert!(
            l.store
                .try_lock(&l.prefix.key("r").unwrap(), "o", 5)
                .await
                .unwrap()
        );
        assert_eq!(redis.cli(&["GET", expected]).trim(), "o", "{strategy}");
    }
}

#[tokio::test]
async fn a_replicated_redis_is_refused() {
    let primary = Redis::start();
    let replica = Redis::start();
    replica.cli(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    assert!(
        wait_until(Duration::from_secs(10), || {
            primary
                .cli(&["INFO", "replication"])
                .contains("connected_slaves:1")
        }),
        "the replica did not attach"
    );
    let c = Component::new("lockstore", "lock.redis").with_meta("redisHost", &primary.addr());
    let e = start(c).await.err().expect("refused").to_string();
    assert!(e.contains("replica") && e.contains("redisHost"), "{e}");
    drop(replica);
}

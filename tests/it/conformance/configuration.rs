//! Configuration store conformance: one set of behaviour checks over
//! `Arc<dyn ConfigurationStore>` run against `configuration.redis` on a real `redis-server`
//! per test (values written with `redis-cli`, as an operator would), then Redis specifics:
//! the keyspace-notification setting, `redisDB`.
//! A new configuration store type adds its line to the `conformance!` call below.

use std::sync::Arc;
use std::time::Duration;

use dapr_cli::sidecar::components::configuration::{
    ConfigurationError, ConfigurationStore, Item, Items, Metadata,
};
use dapr_cli::sidecar::components::{self, ComponentStore, Context};
use dapr_cli::sidecar::resources::Component;
use tokio::sync::mpsc;

use crate::support::Redis;

async fn redis_store(meta: &[(&str, &str)]) -> (Arc<dyn ConfigurationStore>, Redis) {
    let redis = Redis::start();
    let mut c =
        Component::new("configstore", "configuration.redis").with_meta("redisHost", &redis.addr());
    for (k, v) in meta {
        c = c.with_meta(k, v);
    }
    let ctx = Context::new("myapp");
    let plan = components::plan(vec![c], &ctx).unwrap();
    let running = ComponentStore::start(plan, &ctx).await.unwrap();
    (running.configuration("configstore").unwrap().clone(), redis)
}

fn item(value: &str, version: &str) -> Item {
    Item {
        value: value.into(),
        version: version.into(),
        ..Default::default()
    }
}

fn keys(k: &[&str]) -> Vec<String> {
    k.iter().map(|s| s.to_string()).collect()
}

/// The next change, within one second.
async fn next(rx: &mut mpsc::UnboundedReceiver<Items>) -> Items {
    tokio::time::timeout(Duration::from_secs(1), rx.recv())
        .await
        .expect("a change within 1 s")
        .expect("the subscription is open")
}

async fn nothing_within(rx: &mut mpsc::UnboundedReceiver<Items>, d: Duration) {
    if let Ok(got) = tokio::time::timeout(d, rx.recv()).await {
        panic!("unexpected change {got:?}");
    }
}

macro_rules! conformance {
    ($($store:ident => $make:expr;)*) => {$(
        mod $store {
            use super::*;

            #[tokio::test]
            async fn get_reads_values_and_versions() {
                let (s, w) = $make.await;
                w.cli(&["SET", "color", "blue||3"]);
                w.cli(&["SET", "size", "large"]);
                w.cli(&["SET", "empty", ""]);
                w.cli(&["HSET", "hash", "f", "v"]);
                let md = Metadata::new();
                let got = s.get(&keys(&["color", "size", "empty", "hash", "missing"]), &md).await.unwrap();
                assert_eq!(
                    got,
                    Items::from([
                        ("color".to_string(), item("blue", "3")),
                        ("size".to_string(), item("large", "")),
                    ])
                );
                // No keys: every item.
                assert_eq!(s.get(&[], &md).await.unwrap(), got);
                assert!(s.get(&keys(&["missing"]), &md).await.unwrap().is_empty());
            }

            #[tokio::test]
            async fn subscriptions_receive_changes_of_their_keys() {
                let (s, w) = $make.await;
                let md = Metadata::new();
                let (tx, mut one) = mpsc::unbounded_channel();
                let id_one = s.subscribe(&keys(&["color"]), &md, tx).await.unwrap();
                let (tx, mut all) = mpsc::unbounded_channel();
                let id_all = s.subscribe(&[], &md, tx).await.unwrap();
                assert_ne!(id_one, id_all);

                w.cli(&["SET", "color", "red||4"]);
                let want = Items::from([("color".to_string(), item("red", "4"))]);
                assert_eq!(next(&mut one).await, want);
                assert_eq!(next(&mut all).await, want);

                w.cli(&["SET", "size", "small"]);
                assert_eq!(
                    next(&mut all).await,
                    Items::from([("size".to_string(), item("small", ""))])
                );
                nothing_within(&mut one, Duration::from_millis(300)).await;

                // A deleted key is reported with an empty item.
                w.cli(&["DEL", "color"]);
                let gone = Items::from([("color".to_string(), Item::default())]);
                assert_eq!(next(&mut one).await, gone);
                assert_eq!(next(&mut all).await, gone);

                // Unsubscribing closes the channel; other subscriptions go on.
                s.unsubscribe(&id_one).await.unwrap();
                assert!(tokio::time::timeout(Duration::from_secs(1), one.recv()).await.unwrap().is_none());
                assert!(matches!(
                    s.unsubscribe(&id_one).await,
                    Err(ConfigurationError::NoSubscription(_))
                ));
                w.cli(&["SET", "color", "green"]);
                assert_eq!(
                    next(&mut all).await,
                    Items::from([("color".to_string(), item("green", ""))])
                );
                s.unsubscribe(&id_all).await.unwrap();
            }
        }
    )*};
}

conformance! {
    redis => redis_store(&[]);
}

#[tokio::test]
async fn redis_enables_keyspace_notifications_keeping_other_classes() {
    let redis = Redis::start();
    redis.cli(&["CONFIG", "SET", "notify-keyspace-events", "Kx"]);
    let c =
        Component::new("configstore", "configuration.redis").with_meta("redisHost", &redis.addr());
    let ctx = Context::new("myapp");
    let running = ComponentStore::start(components::plan(vec![c], &ctx).unwrap(), &ctx)
        .await
        .unwrap();
    let flags = redis.cli(&["CONFIG", "GET", "notify-keyspace-events"]);
    let flags = flags.lines().nth(1).unwrap_or("").to_string();
    assert!(
        flags.contains('K') && flags.contains('E') && flags.contains('A'),
        "{flags}"
    );
    drop(running);
}

#[tokio::test]
async fn redis_watches_the_configured_database() {
    let (s, redis) = redis_store(&[("redisDB", "2")]).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    s.subscribe(&keys(&["k"]), &Metadata::new(), tx)
        .await
        .unwrap();
    // A change of the same key in another database is not this store's.
    redis.cli(&["-n", "0", "SET", "k", "db0"]);
    nothing_within(&mut rx, Duration::from_millis(300)).await;
    redis.cli(&["-n", "2", "SET", "k", "db2||9"]);
    assert_eq!(
        next(&mut rx).await,
        Items::from([("k".to_string(), item("db2", "9"))])
    );
    assert_eq!(
        s.get(&keys(&["k"]), &Metadata::new()).await.unwrap(),
        Items::from([("k".to_string(), item("db2", "9"))])
    );
}

//! State store conformance: one set of behaviour checks, written once over
//! `Arc<dyn StateStore>` and run against `state.in-memory`, `state.sqlite` (temp dir) and
//! `state.redis` (a real `redis-server` per test). Then store-specific checks: the Redis wire
//! layout shared with official daprd, the SQLite table layout, and the key-prefix strategy.
//! A new state store type adds its line to the `conformance!` calls below.

use std::any::Any;
use std::collections::HashSet;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dapr_cli::sidecar::components::state::{
    Concurrency, DeleteRequest, Metadata, SetRequest, StateError, StateOptions, StateStore,
    TransactionOp,
};
use dapr_cli::sidecar::resources::Component;

use super::start_state;

use crate::support;

type Guard = Box<dyn Any>;

async fn memory_store() -> (Arc<dyn StateStore>, Guard) {
    let c = Component::new("statestore", "state.in-memory");
    (start_state(c.clone()).await.unwrap(), Box::new(()))
}

async fn sqlite_store() -> (Arc<dyn StateStore>, Guard) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let c = Component::new("statestore", "state.sqlite")
        .with_meta("connectionString", db.to_str().unwrap());
    (start_state(c.clone()).await.unwrap(), Box::new(dir))
}

async fn redis_store() -> (Arc<dyn StateStore>, Guard) {
    let redis = support::Redis::start();
    let c = Component::new("statestore", "state.redis").with_meta("redisHost", &redis.addr());
    (start_state(c.clone()).await.unwrap(), Box::new(redis))
}

fn set(key: &str, value: &[u8]) -> SetRequest {
    SetRequest {
        key: key.to_string(),
        value: Bytes::copy_from_slice(value),
        ..Default::default()
    }
}

fn set_etag(key: &str, value: &[u8], etag: &str) -> SetRequest {
    SetRequest {
        etag: Some(etag.to_string()),
        ..set(key, value)
    }
}

fn del(key: &str, etag: Option<&str>) -> DeleteRequest {
    DeleteRequest {
        key: key.to_string(),
        etag: etag.map(str::to_string),
        ..Default::default()
    }
}

fn no_md() -> Metadata {
    Metadata::new()
}

async fn get_data(s: &Arc<dyn StateStore>, key: &str) -> Option<Vec<u8>> {
    s.get(key, &no_md()).await.unwrap().map(|r| r.data.to_vec())
}

async fn etag_of(s: &Arc<dyn StateStore>, key: &str) -> String {
    s.get(key, &no_md())
        .await
        .unwrap()
        .expect("key exists")
        .etag
        .expect("store has etags")
}

/// An ETag no store will have minted for a fresh key (numeric, so Redis accepts it).
const WRONG_ETAG: &str = "987654";

mod cases {
    use super::*;

    pub async fn get_missing(s: Arc<dyn StateStore>) {
        assert!(s.get("myapp||nothing", &no_md()).await.unwrap().is_none());
    }

    pub async fn roundtrip(s: Arc<dyn StateStore>) {
        let values: [&[u8]; 5] = [
            br#"{"a":1,"b":[true,null]}"#,
            b"\"hello\"",
            b"plain text, not json",
            &[0, 159, 146, 150, 255, 1, 2],
            b"",
        ];
        for (i, v) in values.iter().enumerate() {
            let key = format!("myapp||k{i}");
            s.set(set(&key, v)).await.unwrap();
            assert_eq!(get_data(&s, &key).await.as_deref(), Some(*v), "value {i}");
        }
        let got = s.get("myapp||k0", &no_md()).await.unwrap().unwrap();
        assert!(got.etag.as_deref().is_some_and(|e| !e.is_empty()));
    }

    pub async fn etag_changes_per_write(s: Arc<dyn StateStore>) {
        s.set(set("myapp||e", b"1")).await.unwrap();
        let e1 = etag_of(&s, "myapp||e").await;
        s.set(set("myapp||e", b"2")).await.unwrap();
        let e2 = etag_of(&s, "myapp||e").await;
        assert_ne!(e1, e2);
        s.set(set_etag("myapp||e", b"3", &e2)).await.unwrap();
        assert_eq!(get_data(&s, "myapp||e").await.unwrap(), b"3");
        let err = s.set(set_etag("myapp||e", b"4", &e1)).await.unwrap_err();
        assert!(matches!(err, StateError::EtagMismatch(_)), "{err:?}");
        assert_eq!(get_data(&s, "myapp||e").await.unwrap(), b"3");
    }

    pub async fn etag_mismatch_on_set(s: Arc<dyn StateStore>) {
        s.set(set("myapp||m", b"\"v\"")).await.unwrap();
        let err = s
            .set(set_etag("myapp||m", b"\"w\"", WRONG_ETAG))
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::EtagMismatch(_)), "{err:?}");
        assert_eq!(get_data(&s, "myapp||m").await.unwrap(), b"\"v\"");
    }

    pub async fn delete_with_etag(s: Arc<dyn StateStore>) {
        s.set(set("myapp||d", b"1")).await.unwrap();
        let err = s
            .delete(del("myapp||d", Some(WRONG_ETAG)))
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::EtagMismatch(_)), "{err:?}");
        assert!(
            get_data(&s, "myapp||d").await.is_some(),
            "a refused delete keeps the value"
        );
        let etag = etag_of(&s, "myapp||d").await;
        s.delete(del("myapp||d", Some(&etag))).await.unwrap();
        assert!(get_data(&s, "myapp||d").await.is_none());
    }

    pub async fn delete_missing_ok(s: Arc<dyn StateStore>) {
        s.delete(del("myapp||never", None)).await.unwrap();
        s.set(set("myapp||once", b"1")).await.unwrap();
        s.delete(del("myapp||once", None)).await.unwrap();
        s.delete(del("myapp||once", None)).await.unwrap();
        assert!(get_data(&s, "myapp||once").await.is_none());
    }

    pub async fn first_write_concurrency(s: Arc<dyn StateStore>) {
        let first = |key: &str, value: &[u8], etag: Option<&str>| SetRequest {
            etag: etag.map(str::to_string),
            options: StateOptions {
                concurrency: Concurrency::FirstWrite,
                ..Default::default()
            },
            ..set(key, value)
        };
        // First write of a new key needs no ETag.
        s.set(first("myapp||fw", b"0", None)).await.unwrap();
        let etag = etag_of(&s, "myapp||fw").await;
        // Two writers holding the same ETag: exactly one wins.
        let (a, b) = tokio::join!(
            s.set(first("myapp||fw", b"\"a\"", Some(&etag))),
            s.set(first("myapp||fw", b"\"b\"", Some(&etag)))
        );
        let oks = [a.is_ok(), b.is_ok()];
        assert_eq!(oks.iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
        let loser = if a.is_ok() { b } else { a };
        assert!(matches!(loser, Err(StateError::EtagMismatch(_))));
        let winner: &[u8] = if oks[0] { b"\"a\"" } else { b"\"b\"" };
        assert_eq!(get_data(&s, "myapp||fw").await.unwrap(), winner);
        // After a first-write write, writing again without the ETag is refused: an ETag
        // mismatch (409), except in Redis, whose official component reports a plain
        // "failed to set key" error (500) when no ETag was given.
        let err = s.set(first("myapp||fw", b"\"c\"", None)).await.unwrap_err();
        if s.component_type() == "state.redis" {
            assert!(
                matches!(&err, StateError::Other(m) if m.contains("failed to set key myapp||fw")),
                "{err:?}"
            );
        } else {
            assert!(matches!(err, StateError::EtagMismatch(_)), "{err:?}");
        }
    }

    pub async fn last_write_wins(s: Arc<dyn StateStore>) {
        let (a, b) = tokio::join!(s.set(set("myapp||lw", b"1")), s.set(set("myapp||lw", b"2")));
        a.unwrap();
        b.unwrap();
        s.set(set("myapp||lw", b"3")).await.unwrap();
        assert_eq!(get_data(&s, "myapp||lw").await.unwrap(), b"3");
    }

    pub async fn ttl_expiry(s: Arc<dyn StateStore>) {
        let mut req = set("myapp||ttl", b"\"short\"");
        req.metadata.insert("ttlInSeconds".into(), "1".into());
        s.set(req).await.unwrap();
        let got = s
            .get("myapp||ttl", &no_md())
            .await
            .unwrap()
            .expect("readable before expiry");
        let expire = got
            .metadata
            .get("ttlExpireTime")
            .expect("ttlExpireTime metadata");
        let at = chrono::DateTime::parse_from_rfc3339(expire).expect("RFC 3339");
        assert!(expire.ends_with('Z'), "{expire}");
        assert!(at > chrono::Utc::now() - chrono::Duration::seconds(2));

        let mut forever = set("myapp||forever", b"1");
        forever.metadata.insert("ttlInSeconds".into(), "-1".into());
        s.set(forever).await.unwrap();

        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while get_data(&s, "myapp||ttl").await.is_some() {
            assert!(tokio::time::Instant::now() < deadline, "key did not expire");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let kept = s
            .get("myapp||forever", &no_md())
            .await
            .unwrap()
            .expect("no expiry");
        assert!(!kept.metadata.contains_key("ttlExpireTime"));

        let mut bad = set("myapp||bad", b"1");
        bad.metadata.insert("ttlInSeconds".into(), "soon".into());
        assert!(matches!(s.set(bad).await, Err(StateError::BadRequest(_))));
    }

    pub async fn transaction_applies_all(s: Arc<dyn StateStore>) {
        s.set(set("myapp||t3", b"old")).await.unwrap();
        s.transact(
            vec![
                TransactionOp::Upsert(set("myapp||t1", b"1")),
                TransactionOp::Upsert(set("myapp||t2", b"2")),
                TransactionOp::Delete(del("myapp||t3", None)),
                TransactionOp::Upsert(set("myapp||t1", b"11")),
            ],
            &no_md(),
        )
        .await
        .unwrap();
        assert_eq!(get_data(&s, "myapp||t1").await.unwrap(), b"11");
        assert_eq!(get_data(&s, "myapp||t2").await.unwrap(), b"2");
        assert!(get_data(&s, "myapp||t3").await.is_none());
    }

    pub async fn transaction_is_all_or_nothing(s: Arc<dyn StateStore>) {
        s.set(set("myapp||keep", b"\"kept\"")).await.unwrap();
        s.set(set("myapp||other", b"1")).await.unwrap();
        let err = s
            .transact(
                vec![
                    TransactionOp::Upsert(set("myapp||new", b"1")),
                    TransactionOp::Delete(del("myapp||keep", None)),
                    TransactionOp::Upsert(set_etag("myapp||other", b"2", WRONG_ETAG)),
                ],
                &no_md(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::EtagMismatch(_)), "{err:?}");
        assert!(
            get_data(&s, "myapp||new").await.is_none(),
            "nothing of a failed transaction is applied"
        );
        assert_eq!(get_data(&s, "myapp||keep").await.unwrap(), b"\"kept\"");
        assert_eq!(get_data(&s, "myapp||other").await.unwrap(), b"1");
    }

    /// A TTL beyond what any store can represent is refused before anything is written, on
    /// its own and inside a transaction (regression: it overflowed the expiry time and
    /// aborted the sidecar).
    pub async fn out_of_range_ttl_is_refused(s: Arc<dyn StateStore>) {
        let mut huge = set("myapp||huge", b"1");
        huge.metadata
            .insert("ttlInSeconds".into(), "9000000000000".into());
        let err = s.set(huge.clone()).await.unwrap_err();
        assert!(
            matches!(&err, StateError::BadRequest(m) if m.contains("too large")),
            "{err:?}"
        );
        assert!(get_data(&s, "myapp||huge").await.is_none());
        let err = s
            .transact(
                vec![
                    TransactionOp::Upsert(set("myapp||first", b"1")),
                    TransactionOp::Upsert(huge),
                ],
                &no_md(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::BadRequest(_)), "{err:?}");
        assert!(get_data(&s, "myapp||first").await.is_none());
        // The largest accepted TTL works and reads back with an expiry time.
        let mut max = set("myapp||max", b"2");
        max.metadata
            .insert("ttlInSeconds".into(), "9223372036".into());
        s.set(max).await.unwrap();
        let got = s.get("myapp||max", &no_md()).await.unwrap().unwrap();
        assert!(got.metadata.contains_key("ttlExpireTime"), "{got:?}");
    }

    pub async fn many_keys(s: Arc<dyn StateStore>) {
        for i in 0..60 {
            s.set(set(
                &format!("myapp||bulk-{i}"),
                format!("{{\"n\":{i}}}").as_bytes(),
            ))
            .await
            .unwrap();
        }
        let mut etags = HashSet::new();
        for i in 0..60 {
            let key = format!("myapp||bulk-{i}");
            assert_eq!(
                get_data(&s, &key).await.unwrap(),
                format!("{{\"n\":{i}}}").as_bytes()
            );
            etags.insert((key.clone(), etag_of(&s, &key).await));
            if i % 2 == 0 {
                s.delete(del(&key, None)).await.unwrap();
            }
        }
        for i in 0..60 {
            assert_eq!(
                get_data(&s, &format!("myapp||bulk-{i}")).await.is_some(),
                i % 2 == 1
            );
        }
    }

    pub async fn unicode_keys(s: Arc<dyn StateStore>) {
        let key = "myapp||ключ/ü 🔑 with spaces";
        s.set(set(key, "\"значение\"".as_bytes())).await.unwrap();
        assert_eq!(get_data(&s, key).await.unwrap(), "\"значение\"".as_bytes());
        assert!(get_data(&s, "myapp||ключ").await.is_none());
        s.delete(del(key, None)).await.unwrap();
        assert!(get_data(&s, key).await.is_none());
    }
}

macro_rules! conformance {
    ($store:ident, $make:path) => {
        mod $store {
            use super::*;
            conformance!(@case $make; get_missing, roundtrip, etag_changes_per_write,
                etag_mismatch_on_set, delete_with_etag, delete_missing_ok, first_write_concurrency,
                last_write_wins, ttl_expiry, transaction_applies_all, transaction_is_all_or_nothing,
                out_of_range_ttl_is_refused,
                many_keys, unicode_keys);
        }
    };
    (@case $make:path; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $make().await;
                cases::$case(store.clone()).await;
                store.close().await;
            }
        )*
    };
}

conformance!(memory, memory_store);
conformance!(sqlite, sqlite_store);
conformance!(redis, redis_store);

mod redis_layout {
    use super::*;

    async fn store(redis: &support::Redis, extra: &[(&str, &str)]) -> Arc<dyn StateStore> {
        let mut c =
            Component::new("statestore", "state.redis").with_meta("redisHost", &redis.addr());
        for (k, v) in extra {
            c = c.with_meta(k, v);
        }
        start_state(c.clone()).await.unwrap()
    }

    /// A key another runtime gave an absurd TTL reads back (regression: computing its
    /// `ttlExpireTime` overflowed and aborted every sidecar reading it); a component-level
    /// TTL that large is refused at start-up, naming the field.
    #[tokio::test]
    async fn absurd_ttls_neither_crash_reads_nor_start() {
        let redis = support::Redis::start();
        let s = store(&redis, &[]).await;
        s.set(set("myapp||far", b"1")).await.unwrap();
        assert_eq!(
            redis.cli(&["EXPIRE", "myapp||far", "9000000000000"]).trim(),
            "1"
        );
        let got = s.get("myapp||far", &no_md()).await.unwrap().unwrap();
        assert_eq!(got.data.as_ref(), b"1");
        assert!(!got.metadata.contains_key("ttlExpireTime"), "{got:?}");
        let c = Component::new("statestore", "state.redis")
            .with_meta("redisHost", &redis.addr())
            .with_meta("ttlInSeconds", "9000000000000");
        let e = start_state(c).await.err().expect("refused").to_string();
        assert!(
            e.contains("field ttlInSeconds") && e.contains("too large"),
            "{e}"
        );
    }

    /// The write script checks every TTL before its first write: a batch whose second TTL
    /// is out of range writes nothing (regression: the first `HSET`s had already run).
    #[tokio::test]
    async fn the_write_script_validates_before_writing() {
        let redis = support::Redis::start();
        let script = dapr_cli::sidecar::components::state::redis::write_script();
        let out = redis.cli(&[
            "EVAL",
            script,
            "2",
            "a",
            "b", //
            "set",
            "0",
            "x",
            "1",
            "", //
            "set",
            "0",
            "y",
            "1",
            "90000000000000",
        ]);
        assert!(out.contains("TTL_INVALID"), "{out}");
        assert_eq!(redis.cli(&["EXISTS", "a", "b"]).trim(), "0");
        let out = redis.cli(&[
            "EVAL", script, "1", "a", //
            "set", "0", "x", "1", "60",
        ]);
        assert_eq!(out.trim(), "OK");
        assert_eq!(redis.cli(&["HGET", "a", "data"]).trim(), "x");
    }

    #[tokio::test]
    async fn hash_with_data_and_version() {
        let redis = support::Redis::start();
        let s = store(&redis, &[]).await;
        s.set(set("myapp||order", br#"{"id":1}"#)).await.unwrap();
        let fields = redis.cli(&["HGETALL", "myapp||order"]);
        let lines: Vec<&str> = fields.lines().collect();
        assert_eq!(
            lines,
            vec!["data", r#"{"id":1}"#, "version", "1"],
            "{fields}"
        );
        assert_eq!(etag_of(&s, "myapp||order").await, "1");
        s.set(set("myapp||order", br#"{"id":2}"#)).await.unwrap();
        assert_eq!(redis.cli(&["HGET", "myapp||order", "version"]).trim(), "2");
        assert_eq!(redis.cli(&["TYPE", "myapp||order"]).trim(), "hash");
        assert_eq!(redis.cli(&["TTL", "myapp||order"]).trim(), "-1");
    }

    /// As the official component: an ETag is checked unless the request explicitly asks for
    /// last-write concurrency, which then ignores it (even a non-numeric one).
    #[tokio::test]
    async fn explicit_last_write_ignores_the_etag() {
        let redis = support::Redis::start();
        let s = store(&redis, &[]).await;
        s.set(set("myapp||lw", b"1")).await.unwrap();
        let err = s.set(set_etag("myapp||lw", b"2", "999")).await.unwrap_err();
        assert!(matches!(err, StateError::EtagMismatch(_)), "{err:?}");
        for etag in ["999", "not-a-number"] {
            let req = SetRequest {
                options: StateOptions {
                    concurrency: Concurrency::LastWrite,
                    ..Default::default()
                },
                ..set_etag("myapp||lw", b"3", etag)
            };
            s.set(req).await.unwrap();
        }
        assert_eq!(redis.cli(&["HGET", "myapp||lw", "data"]).trim(), "3");
        assert_eq!(redis.cli(&["HGET", "myapp||lw", "version"]).trim(), "3");
    }

    /// A refused transaction names the operation whose ETag did not match, not the first.
    #[tokio::test]
    async fn transaction_mismatch_names_the_refused_key() {
        let redis = support::Redis::start();
        let s = store(&redis, &[]).await;
        s.set(set("myapp||held", b"1")).await.unwrap();
        let ops = vec![
            TransactionOp::Upsert(set("myapp||fresh", b"1")),
            TransactionOp::Upsert(set_etag("myapp||held", b"2", "999")),
        ];
        let err = s.transact(ops, &no_md()).await.unwrap_err();
        match &err {
            StateError::EtagMismatch(m) => assert!(m.contains("myapp||held"), "{m}"),
            other => panic!("expected an ETag mismatch, got {other:?}"),
        }
        assert_eq!(redis.cli(&["EXISTS", "myapp||fresh"]).trim(), "0");
    }

    #[tokio::test]
    async fn reads_values_written_in_the_official_format() {
        let redis = support::Redis::start();
        let s = store(&redis, &[]).await;
        redis.cli(&[
            "HSET",
            "myapp||hand",
            "data",
            r#"{"by":"official"}"#,
            "version",
            "7",
        ]);
        let got = s.get("myapp||hand", &no_md()).await.unwrap().unwrap();
        assert_eq!(&got.data[..], br#"{"by":"official"}"#);
        assert_eq!(got.etag.as_deref(), Some("7"));
        let err = s.set(set_etag("myapp||hand", b"1", "6")).await.unwrap_err();
        assert!(matches!(err, StateError::EtagMismatch(_)), "{err:?}");
        s.set(set_etag("myapp||hand", b"1", "7")).await.unwrap();
        assert_eq!(redis.cli(&["HGET", "myapp||hand", "version"]).trim(), "8");

        // Legacy plain strings are readable (no ETag) and replaced by a hash on write.
        redis.cli(&["SET", "myapp||legacy", "old-bytes"]);
        let got = s.get("myapp||legacy", &no_md()).await.unwrap().unwrap();
        assert_eq!(&got.data[..], b"old-bytes");
        assert_eq!(got.etag, None);
        s.set(set("myapp||legacy", b"\"new\"")).await.unwrap();
        assert_eq!(redis.cli(&["HGET", "myapp||legacy", "version"]).trim(), "1");
    }

    #[tokio::test]
    async fn first_write_field_ttl_and_invalid_etags() {
        let redis = support::Redis::start();
        let s = store(&redis, &[("ttlInSeconds", "100")]).await;
        let req = SetRequest {
            options: StateOptions {
                concurrency: Concurrency::FirstWrite,
                ..Default::default()
            },
            ..set("myapp||fw", b"1")
        };
        s.set(req).await.unwrap();
        assert_eq!(redis.cli(&["HGET", "myapp||fw", "first-write"]).trim(), "0");
        let ttl: i64 = redis.cli(&["TTL", "myapp||fw"]).trim().parse().unwrap();
        assert!(
            ttl > 0 && ttl <= 100,
            "component ttlInSeconds applies: {ttl}"
        );
        let mut persist = set_etag("myapp||fw", b"2", "1");
        persist.metadata.insert("ttlInSeconds".into(), "-1".into());
        s.set(persist).await.unwrap();
        assert_eq!(redis.cli(&["TTL", "myapp||fw"]).trim(), "-1");

        let err = s
            .set(set_etag("myapp||fw", b"3", "not-a-number"))
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::EtagInvalid(_)), "{err:?}");
        let err = s.delete(del("myapp||fw", Some("x1"))).await.unwrap_err();
        assert!(matches!(err, StateError::EtagInvalid(_)), "{err:?}");
    }

    #[tokio::test]
    async fn password_and_database_are_used() {
        let redis = support::Redis::start();
        redis.cli(&["CONFIG", "SET", "requirepass", "s3cret"]);
        let base = || {
            Component::new("statestore", "state.redis")
                .with_meta("redisHost", &redis.addr())
                .with_meta("redisDB", "3")
        };
        let wrong = base().with_meta("redisPassword", "nope");
        let text = start_state(wrong.clone())
            .await
            .err()
            .expect("wrong password")
            .to_string();
        assert!(text.contains("field redisPassword"), "{text}");

        let s = start_state(base().with_meta("redisPassword", "s3cret"))
            .await
            .unwrap();
        s.set(set("myapp||db3", b"1")).await.unwrap();
        let version = redis.cli(&[
            "-a",
            "s3cret",
            "--no-auth-warning",
            "-n",
            "3",
            "HGET",
            "myapp||db3",
            "version",
        ]);
        assert_eq!(version.trim(), "1");
        let in_db0 = redis.cli(&["-a", "s3cret", "--no-auth-warning", "EXISTS", "myapp||db3"]);
        assert_eq!(in_db0.trim(), "0");
    }

    #[tokio::test]
    async fn dead_redis_gives_errors_not_hangs() {
        let redis = support::Redis::start();
        let s = store(&redis, &[("dialTimeout", "1s"), ("readTimeout", "1s")]).await;
        s.set(set("myapp||x", b"1")).await.unwrap();
        drop(redis);
        let outcome = tokio::time::timeout(Duration::from_secs(20), async {
            (
                s.get("myapp||x", &no_md()).await,
                s.set(set("myapp||x", b"2")).await,
            )
        })
        .await
        .expect("operations against a dead Redis must finish");
        assert!(outcome.0.is_err(), "{:?}", outcome.0);
        assert!(outcome.1.is_err(), "{:?}", outcome.1);
    }

    #[tokio::test]
    async fn unreachable_host_names_the_field() {
        let port = support::free_port();
        let c = Component::new("statestore", "state.redis")
            .with_meta("redisHost", &format!("127.0.0.1:{port}"))
            .with_meta("dialTimeout", "1s");
        let err = tokio::time::timeout(Duration::from_secs(20), start_state(c.clone()))
            .await
            .expect("bounded")
            .err()
            .expect("must fail");
        let text = err.to_string();
        assert!(
            text.contains("field redisHost") && text.contains(&port.to_string()),
            "{text}"
        );

        let tls = Component::new("statestore", "state.redis")
            .with_meta("redisHost", "localhost")
            .with_meta("enableTLS", "true");
        let text = start_state(tls.clone()).await.err().unwrap().to_string();
        assert!(text.contains("field enableTLS"), "{text}");
    }
}

mod sqlite_layout {
    use super::*;

    #[tokio::test]
    async fn official_table_layout_and_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nested/dir/state.db");
        let c = Component::new("statestore", "state.sqlite")
            .with_meta("connectionString", db.to_str().unwrap())
            .with_meta("tableName", "mystate");
        let s = start_state(c.clone()).await.unwrap();
        s.set(set("myapp||json", br#"{"a":1}"#)).await.unwrap();
        s.set(set("myapp||bin", &[0xff, 0x00, 0x01])).await.unwrap();
        s.close().await;
        drop(s);

        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('mystate') ORDER BY cid")
            .unwrap();
        let columns: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            columns,
            [
                "key",
                "value",
                "is_binary",
                "etag",
                "expiration_time",
                "update_time"
            ]
        );
        let row = |key: &str| {
            conn.query_row(
                "SELECT value, is_binary FROM mystate WHERE key = ?1",
                [key],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)),
            )
            .unwrap()
        };
        assert_eq!(row("myapp||json"), (r#"{"a":1}"#.to_string(), false));
        assert_eq!(row("myapp||bin"), ("/wAB".to_string(), true));
        drop(stmt);
        drop(conn);

        // Reopening the file finds everything written before.
        let s = start_state(c.clone()).await.unwrap();
        assert_eq!(
            get_data(&s, "myapp||bin").await.unwrap(),
            [0xff, 0x00, 0x01]
        );
    }

    /// Re-runs this test binary as a child that writes through the store and reports each
    /// acknowledged write, kills it with SIGKILL mid-stream, and checks every acknowledged
    /// write is in the file.
    #[test]
    fn acknowledged_writes_survive_kill_9() {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "conformance::state::sqlite_layout::durability_child",
                "--ignored",
                "--nocapture",
            ])
            .env("H1_DURABILITY_DB", &db)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("child.err")).unwrap())
            .spawn()
            .unwrap();
        let mut child = support::KillOnDrop(child);
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("acked ") {
                    let _ = tx.send(n.parse::<usize>().unwrap());
                }
            }
        });
        let mut acked = Vec::new();
        while acked.len() < 40 {
            // Generous: on a loaded 2-core machine the child's start can take a while.
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(n) => acked.push(n),
                Err(e) => panic!(
                    "child stopped acknowledging writes after {}: {e}; its stderr: {}",
                    acked.len(),
                    std::fs::read_to_string(dir.path().join("child.err")).unwrap_or_default()
                ),
            }
        }
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        acked.extend(rx.try_iter());

        let conn = rusqlite::Connection::open(&db).unwrap();
        for n in acked {
            let value: String = conn
                .query_row(
                    "SELECT value FROM state WHERE key = ?1",
                    [format!("myapp||k{n}")],
                    |r| r.get(0),
                )
                .unwrap_or_else(|e| panic!("acknowledged write {n} lost: {e}"));
            assert_eq!(value, format!("{{\"n\":{n}}}"));
        }
    }

    /// The writer half of `acknowledged_writes_survive_kill_9`; does nothing on its own.
    #[tokio::test]
    #[ignore = "child process of acknowledged_writes_survive_kill_9"]
    async fn durability_child() {
        let Some(db) = std::env::var_os("H1_DURABILITY_DB") else {
            return;
        };
        let c = Component::new("statestore", "state.sqlite")
            .with_meta("connectionString", db.to_str().unwrap());
        let s = start_state(c.clone()).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut n = 0usize;
        while tokio::time::Instant::now() < deadline {
            s.set(set(
                &format!("myapp||k{n}"),
                format!("{{\"n\":{n}}}").as_bytes(),
            ))
            .await
            .unwrap();
            println!("acked {n}");
            n += 1;
        }
    }

    #[tokio::test]
    async fn cleanup_deletes_expired_rows() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let c = Component::new("statestore", "state.sqlite")
            .with_meta("connectionString", db.to_str().unwrap())
            .with_meta("cleanupInterval", "200ms");
        let s = start_state(c.clone()).await.unwrap();
        let mut req = set("myapp||gone", b"1");
        req.metadata.insert("ttlInSeconds".into(), "1".into());
        s.set(req).await.unwrap();
        s.set(set("myapp||stays", b"1")).await.unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        let count = || -> i64 {
            conn.query_row("SELECT COUNT(*) FROM state", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(), 2);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while count() != 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "expired row was not cleaned up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let migrations: String = conn
            .query_row(
                "SELECT value FROM metadata WHERE key = 'migrations'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(migrations, "1");
    }

    #[tokio::test]
    async fn bad_metadata_names_the_field() {
        let missing = Component::new("statestore", "state.sqlite");
        let text = start_state(missing.clone())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(text.contains("field connectionString"), "{text}");
        let bad = Component::new("statestore", "state.sqlite")
            .with_meta("connectionString", ":memory:")
            .with_meta("tableName", "drop table;");
        let text = start_state(bad.clone()).await.err().unwrap().to_string();
        assert!(text.contains("field tableName"), "{text}");
        let bad = Component::new("statestore", "state.sqlite")
            .with_meta("connectionString", ":memory:")
            .with_meta("busyTimeout", "soon");
        let text = start_state(bad.clone()).await.err().unwrap().to_string();
        assert!(
            text.contains("field busyTimeout") && text.contains("5s"),
            "{text}"
        );
        let unwritable = Component::new("statestore", "state.sqlite")
            .with_meta("connectionString", "/proc/no/such/dir/state.db");
        let text = start_state(unwritable.clone())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(text.contains("field connectionString"), "{text}");
    }
}

mod key_prefix {
    use super::*;
    use dapr_cli::sidecar::components::state::KeyPrefix;

    fn prefix(value: Option<&str>) -> KeyPrefix {
        let mut c = Component::new("statestore", "state.in-memory");
        if let Some(v) = value {
            c = c.with_meta("keyPrefix", v);
        }
        KeyPrefix::from_component(&c, "myapp").unwrap()
    }

    #[test]
    fn strategies() {
        assert_eq!(prefix(None).apply("order"), "myapp||order");
        assert_eq!(prefix(Some("AppID")).apply("order"), "myapp||order");
        assert_eq!(prefix(Some("name")).apply("order"), "statestore||order");
        assert_eq!(prefix(Some("none")).apply("order"), "order");
        assert_eq!(prefix(Some("shared")).apply("order"), "shared||order");
        assert_eq!(prefix(None).strip("myapp||order"), "order");
        assert_eq!(prefix(None).strip("myapp||actor||id||k"), "actor||id||k");
        assert_eq!(prefix(Some("none")).strip("order"), "order");
        if std::env::var_os("NAMESPACE").is_none() {
            assert_eq!(prefix(Some("namespace")).apply("k"), "myapp||k");
        }
        let bad = Component::new("statestore", "state.in-memory").with_meta("keyPrefix", "a||b");
        assert!(
            KeyPrefix::from_component(&bad, "myapp")
                .unwrap_err()
                .to_string()
                .contains("keyPrefix")
        );
    }
}

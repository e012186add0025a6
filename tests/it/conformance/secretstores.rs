//! Secret store conformance: one set of behaviour checks, written once over
//! `Arc<dyn SecretStore>` and run against `secretstores.local.env` and
//! `secretstores.local.file`, each started through the component registry as daprd starts
//! it. Then store-specific checks.

use std::collections::BTreeMap;
use std::sync::Arc;

use dapr_cli::sidecar::components::secretstores::{Metadata, SecretError, SecretStore};
use dapr_cli::sidecar::components::{self, ComponentStore, Context};
use dapr_cli::sidecar::resources::{Component, ResourceError};

/// A started store and secrets it is known to hold (name, value), plus what keeps its
/// files alive.
struct Fixture {
    store: Arc<dyn SecretStore>,
    known: Vec<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

async fn start(c: Component) -> Result<Arc<dyn SecretStore>, ResourceError> {
    let ctx = Context::new("myapp");
    let name = c.name.clone();
    let plan = components::plan(vec![c], &ctx)?;
    let running = ComponentStore::start(plan, &ctx).await?;
    Ok(running
        .secret_store(&name)
        .expect("a started secret store")
        .clone())
}

async fn env_store() -> Fixture {
    // The test process's own environment (variables cannot be set safely in tests): PATH
    // is always there; with prefix `PA`, it is the secret `TH`.
    let path = std::env::var("PATH").expect("PATH is set");
    let c = Component::new("envsecrets", "secretstores.local.env").with_meta("prefix", "PA");
    Fixture {
        store: start(c).await.unwrap(),
        known: vec![("TH".into(), path)],
        _dir: None,
    }
}

async fn file_store() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.json");
    std::fs::write(
        &file,
        r#"{"token":"t0k","db":{"password":"pw","hosts":["a","b"]},"port":5432}"#,
    )
    .unwrap();
    let c = Component::new("filesecrets", "secretstores.local.file")
        .with_meta("secretsFile", file.to_str().unwrap());
    Fixture {
        store: start(c).await.unwrap(),
        known: vec![
            ("token".into(), "t0k".into()),
            ("db:password".into(), "pw".into()),
            ("db:hosts:1".into(), "b".into()),
            ("port".into(), "5432".into()),
        ],
        _dir: Some(dir),
    }
}

mod cases {
    use super::*;

    /// A single-valued secret is `{name: value}`.
    pub async fn get_known(f: Fixture) {
        for (name, value) in &f.known {
            let got = f.store.get(name, &Metadata::new()).await.unwrap();
            assert_eq!(
                got,
                BTreeMap::from([(name.clone(), value.clone())]),
                "{name}"
            );
        }
    }

    /// Bulk reads hold every known secret, in the same shape.
    pub async fn bulk_holds_known(f: Fixture) {
        let all = f.store.bulk(&Metadata::new()).await.unwrap();
        for (name, value) in &f.known {
            assert_eq!(
                all.get(name),
                Some(&BTreeMap::from([(name.clone(), value.clone())])),
                "{name} in {all:?}"
            );
        }
    }
}

macro_rules! conformance {
    ($store:ident, $make:path) => {
        mod $store {
            use super::*;
            #[tokio::test]
            async fn get_known() {
                cases::get_known($make().await).await;
            }
            #[tokio::test]
            async fn bulk_holds_known() {
                cases::bulk_holds_known($make().await).await;
            }
        }
    };
}

conformance!(env, env_store);
conformance!(file, file_store);

#[tokio::test]
async fn env_store_hides_dapr_variables_and_answers_empty_for_missing() {
    let f = env_store().await;
    let got = f
        .store
        .get("SURELY_UNSET_VARIABLE_H7", &Metadata::new())
        .await
        .unwrap();
    assert_eq!(got["SURELY_UNSET_VARIABLE_H7"], "");
    let plain = start(Component::new("e", "secretstores.local.env"))
        .await
        .unwrap();
    let all = plain.bulk(&Metadata::new()).await.unwrap();
    assert!(all.contains_key("PATH"), "{:?}", all.keys());
    assert!(
        all.keys()
            .all(|k| !k.to_ascii_uppercase().starts_with("DAPR_") && k != "APP_API_TOKEN"),
        "{:?}",
        all.keys()
    );
}

#[tokio::test]
async fn file_store_missing_secret_multi_valued_and_bad_files() {
    let f = file_store().await;
    let e = f.store.get("nope", &Metadata::new()).await.unwrap_err();
    assert!(matches!(e, SecretError::NotFound(_)), "{e:?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    std::fs::write(&file, r#"{"db":{"user":"u","pw":{"x":"y"}},"flat":"f"}"#).unwrap();
    let multi = start(
        Component::new("m", "secretstores.local.file")
            .with_meta("secretsFile", file.to_str().unwrap())
            .with_meta("multiValued", "true")
            .with_meta("nestedSeparator", "."),
    )
    .await
    .unwrap();
    let db = multi.get("db", &Metadata::new()).await.unwrap();
    assert_eq!(
        db,
        BTreeMap::from([("user".into(), "u".into()), ("pw.x".into(), "y".into())])
    );
    assert_eq!(multi.features(), ["MULTIPLE_KEY_VALUES_PER_SECRET"]);
    assert_eq!(
        multi.get("flat", &Metadata::new()).await.unwrap()["flat"],
        "f"
    );

    std::fs::write(&file, "[1, 2]").unwrap();
    let c = Component::new("bad", "secretstores.local.file")
        .with_meta("secretsFile", file.to_str().unwrap());
    let e = start(c).await.err().expect("not an object").to_string();
    assert!(
        e.contains("secretsFile") && e.contains("not a JSON object"),
        "{e}"
    );
    let e = start(Component::new("none", "secretstores.local.file"))
        .await
        .err()
        .expect("no file")
        .to_string();
    assert!(e.contains("field secretsFile: required"), "{e}");
}

//! Secrets through a real daprd: the HTTP and gRPC secrets APIs over `secretstores.local.file`,
//! and `secretKeyRef`s of another component resolved through the secret store its
//! `auth.secretStore` names (a Redis state store whose host comes from the secrets file).

use std::time::Duration;

use dapr::dapr::proto::runtime::v1 as pb;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use serde_json::{Value, json};

use crate::sidecar_api::sidecar::{Daprd, Opts, client, spawn, start};
use crate::sidecar_grpc::{js_sdk_dir, run_script, sdk_script};
use crate::support::{Redis, free_port, wait_until};

/// A resources directory with a file secret store `localsecrets` holding the Redis address,
/// and a Redis state store whose `redisHost` is a `secretKeyRef` into it.
fn resources(dir: &std::path::Path, redis: &Redis, secret_store: &str) -> std::path::PathBuf {
    let res = dir.join("resources");
    std::fs::create_dir_all(&res).unwrap();
    let secrets = dir.join("secrets.json");
    std::fs::write(
        &secrets,
        json!({"redis": {"host": redis.addr()}, "api": "k3y"}).to_string(),
    )
    .unwrap();
    std::fs::write(
        res.join("secrets.yaml"),
        format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: localsecrets\nspec:\n  type: secretstores.local.file\n  version: v1\n  metadata:\n  - name: secretsFile\n    value: {}\n",
            secrets.display()
        ),
    )
    .unwrap();
    std::fs::write(
        res.join("statestore.yaml"),
        format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    secretKeyRef:\n      name: \"redis:host\"\n      key: \"redis:host\"\nauth:\n  secretStore: {secret_store}\n"
        ),
    )
    .unwrap();
    res
}

#[test]
fn secrets_api_and_secret_references_through_a_secret_store() {
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = resources(home.path(), &redis, "localsecrets");
    let d = start(&Opts::new("secretive", home.path()).resources(&res));
    let c = client();

    // The state store connected to the Redis named only in the secrets file.
    let saved = c
        .post(d.url("/v1.0/state/statestore"))
        .body(r#"[{"key":"k","value":{"v":1}}]"#)
        .send()
        .unwrap();
    assert_eq!(saved.status().as_u16(), 204, "{}", d.log());
    assert_eq!(
        redis.cli(&["HGET", "secretive||k", "data"]).trim(),
        r#"{"v":1}"#
    );

    let get = |path: &str| {
        let r = c.get(d.url(path)).send().unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };
    assert_eq!(
        get("/v1.0/secrets/localsecrets/api"),
        (200, json!({"api": "k3y"}))
    );
    let (status, bulk) = get("/v1.0/secrets/localsecrets/bulk");
    assert_eq!(status, 200);
    assert_eq!(bulk["redis:host"], json!({"redis:host": redis.addr()}));
    assert_eq!(bulk["api"], json!({"api": "k3y"}));
    let (status, e) = get("/v1.0/secrets/nosuch/api");
    assert_eq!(
        (status, e["errorCode"].as_str()),
        (401, Some("ERR_SECRET_STORE_NOT_FOUND"))
    );
    assert_eq!(e["message"], "failed finding secret store with key nosuch");
    let (status, e) = get("/v1.0/secrets/localsecrets/missing");
    assert_eq!(
        (status, e["errorCode"].as_str()),
        (500, Some("ERR_SECRET_GET"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("failed getting secret with key missing from secret store localsecrets"),
        "{e}"
    );

    // The same over gRPC.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut g = DaprClient::connect(format!("http://127.0.0.1:{}", d.grpc_port))
            .await
            .unwrap();
        let one = g
            .get_secret(pb::GetSecretRequest {
                store_name: "localsecrets".into(),
                key: "api".into(),
                metadata: Default::default(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(one.data["api"], "k3y");
        let all = g
            .get_bulk_secret(pb::GetBulkSecretRequest {
                store_name: "localsecrets".into(),
                metadata: Default::default(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(all.data["redis:host"].secrets["redis:host"], redis.addr());
        let e = g
            .get_secret(pb::GetSecretRequest {
                store_name: "nosuch".into(),
                key: "api".into(),
                metadata: Default::default(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    });

    // Metadata lists the secret store.
    let meta: Value = c
        .get(d.url("/v1.0/metadata"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let types: Vec<&str> = meta["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"secretstores.local.file"), "{meta}");
}

#[test]
fn a_secret_store_that_is_not_loaded_fails_start_up_naming_the_field() {
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let res = resources(home.path(), &redis, "vault");
    let mut d: Daprd = spawn(
        &Opts::new("nosecrets", home.path()).resources(&res),
        free_port(),
    );
    let exited = wait_until(Duration::from_secs(10), || {
        matches!(d.child.0.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "daprd kept running:\n{}", d.log());
    let status = d.wait_exit(Duration::from_secs(1)).unwrap();
    assert!(!status.success());
    let log = d.log();
    let file = res.join("statestore.yaml");
    assert!(
        log.contains(&format!("{}:", file.display()))
            && log.contains("field auth.secretStore")
            && log.contains("\\\"vault\\\" is not loaded")
            && log.contains("localsecrets"),
        "{log}"
    );
}

#[test]
fn without_secret_stores_the_api_says_not_configured() {
    let home = tempfile::tempdir().unwrap();
    let d = start(&Opts::new("nostores", home.path()));
    let r = client().get(d.url("/v1.0/secrets/any/key")).send().unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let e: Value = r.json().unwrap();
    assert_eq!(e["errorCode"], "ERR_SECRET_STORES_NOT_CONFIGURED");
}

/// A secret store and a Configuration whose `secrets.scopes` deny `hidden` in it.
fn scoped_store(home: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let res = home.join("resources");
    std::fs::create_dir_all(&res).unwrap();
    let secrets = home.join("secrets.json");
    std::fs::write(
        &secrets,
        json!({"api": "k3y", "db": {"user": "u", "password": "pw"}, "hidden": "no"}).to_string(),
    )
    .unwrap();
    std::fs::write(
        res.join("secrets.yaml"),
        format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: localsecrets\nspec:\n  type: secretstores.local.file\n  version: v1\n  metadata:\n  - name: secretsFile\n    value: {}\n  - name: multiValued\n    value: \"true\"\n",
            secrets.display()
        ),
    )
    .unwrap();
    let config = home.join("config.yaml");
    std::fs::write(
        &config,
        "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: scoped\nspec:\n  secrets:\n    scopes:\n    - storeName: localsecrets\n      defaultAccess: allow\n      deniedSecrets: [\"hidden\"]\n",
    )
    .unwrap();
    (res, config)
}

/// The Configuration's `secrets.scopes` deny a secret with 403 `ERR_PERMISSION_DENIED`
/// (gRPC `PermissionDenied`) and leave it out of bulk reads; allow-lists replace the rest.
#[test]
fn secret_scopes_deny_what_the_configuration_denies() {
    let home = tempfile::tempdir().unwrap();
    let (res, config) = scoped_store(home.path());
    let d = start(
        &Opts::new("scoped", home.path())
            .resources(&res)
            .arg("--config")
            .arg(config.to_str().unwrap()),
    );
    let c = client();
    let get = |path: &str| {
        let r = c.get(d.url(path)).send().unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };
    assert_eq!(
        get("/v1.0/secrets/localsecrets/api"),
        (200, json!({"api": "k3y"}))
    );
    let (status, e) = get("/v1.0/secrets/localsecrets/hidden");
    assert_eq!(status, 403, "{e}");
    assert_eq!(e["errorCode"], "ERR_PERMISSION_DENIED");
    assert_eq!(
        e["message"],
        r#"access denied by policy to get "hidden" from "localsecrets""#
    );
    let (status, bulk) = get("/v1.0/secrets/localsecrets/bulk");
    assert_eq!(status, 200);
    let mut keys: Vec<&String> = bulk.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["api", "db"], "{bulk}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut g = DaprClient::connect(format!("http://127.0.0.1:{}", d.grpc_port))
            .await
            .unwrap();
        let e = g
            .get_secret(pb::GetSecretRequest {
                store_name: "localsecrets".into(),
                key: "hidden".into(),
                metadata: Default::default(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        let all = g
            .get_bulk_secret(pb::GetBulkSecretRequest {
                store_name: "localsecrets".into(),
                metadata: Default::default(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!all.data.contains_key("hidden"), "{:?}", all.data);
    });

    // An allow-list: only the secrets it names.
    std::fs::write(
        &config,
        "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: scoped\nspec:\n  secrets:\n    scopes:\n    - storeName: localsecrets\n      defaultAccess: deny\n      allowedSecrets: [\"db\"]\n",
    )
    .unwrap();
    drop(d);
    let d = start(
        &Opts::new("scoped", home.path())
            .resources(&res)
            .arg("--config")
            .arg(config.to_str().unwrap()),
    );
    let r = c
        .get(d.url("/v1.0/secrets/localsecrets/api"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .get(d.url("/v1.0/secrets/localsecrets/db"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// A `defaultAccess` that is neither allow nor deny stops start-up naming file and field.
#[test]
fn a_bad_secret_scope_fails_start_up_naming_the_field() {
    let home = tempfile::tempdir().unwrap();
    let (res, config) = scoped_store(home.path());
    std::fs::write(
        &config,
        "kind: Configuration\nspec:\n  secrets:\n    scopes:\n    - storeName: localsecrets\n      defaultAccess: nobody\n",
    )
    .unwrap();
    let mut d = spawn(
        &Opts::new("badscope", home.path())
            .resources(&res)
            .arg("--config")
            .arg(config.to_str().unwrap()),
        free_port(),
    );
    let exited = wait_until(Duration::from_secs(10), || {
        d.child.0.try_wait().unwrap().is_some()
    });
    assert!(exited, "daprd kept running: {}", d.log());
    let log = d.log();
    assert!(
        log.contains("config.yaml")
            && log.contains("spec.secrets.scopes[0].defaultAccess")
            && log.contains("valid values: allow, deny"),
        "{log}"
    );
}

/// The official Python and JS SDKs read secrets, and are refused the denied one.
#[test]
fn official_sdks_read_secrets_within_their_scope() {
    let home = tempfile::tempdir().unwrap();
    let (res, config) = scoped_store(home.path());
    let d = start(
        &Opts::new("sdksecrets", home.path())
            .resources(&res)
            .arg("--config")
            .arg(config.to_str().unwrap()),
    );
    let mut py = std::process::Command::new("python3");
    crate::support::without_developer_env(&mut py)
        .arg(sdk_script("python_secrets.py"))
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string());
    run_script(py, "Python SDK secrets", &d);
    let mut js = std::process::Command::new("node");
    crate::support::without_developer_env(&mut js)
        .arg(sdk_script("js_secrets.mjs"))
        .current_dir(js_sdk_dir())
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string());
    run_script(js, "JS SDK secrets", &d);
}

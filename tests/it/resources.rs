//! Resources as daprd reads them: `--resources-path` directories (files, documents, kinds,
//! scopes, duplicates, metadata values and secret references) and the start-up plan the
//! component registry makes of them (known types and versions, valid metadata), with
//! errors that name the file, the line and the field.

use std::path::{Path, PathBuf};

use dapr_cli::sidecar::components::{self, Context};
use dapr_cli::sidecar::resources::{self, Component, ResourceError};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// What daprd makes of a resources directory before starting anything: the resources
/// read, then the start-up plan (types known, metadata valid).
#[derive(Debug)]
struct Loaded {
    components: Vec<Component>,
    subscriptions: Vec<String>,
    skipped: Vec<Component>,
    ignored_files: Vec<PathBuf>,
}

fn load_dir(dir: &Path) -> Result<Loaded, ResourceError> {
    let read = resources::load(&[dir.to_path_buf()], "myapp")?;
    let plan = components::plan(read.components, &Context::new("myapp"))?;
    Ok(Loaded {
        subscriptions: read.subscriptions.iter().map(|s| s.name.clone()).collect(),
        components: plan.start.into_iter().map(|(c, _)| c).collect(),
        skipped: plan.skipped,
        ignored_files: read.ignored_files,
    })
}

const REDIS: &str = "apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: localhost:6379
  - name: redisDB
    value: 2
  - name: enableTLS
    value: false
  - name: actorStateStore
    value: \"true\"
";

#[test]
fn multi_document_files_and_other_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "# leading comment\n{REDIS}---\napiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: cfg\n\
         spec:\n  tracing:\n    samplingRate: \"1\"\n---\napiVersion: dapr.io/v2alpha1\nkind: Subscription\n\
         metadata:\n  name: sub\nspec:\n  pubsubname: pubsub\n  topic: t\n  routes:\n    default: /t\n  metadata:\n    a: b\n---\n\
         apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: orders\nspec:\n  type: crypto.dapr.jwks\n  version: v1\n\
         ---\napiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: mem\nspec:\n  type: state.in-memory\n  version: \"\"\n"
    );
    write(dir.path(), "components.yaml", &text);
    write(dir.path(), "notes.md", "this: [is not: yaml");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(&dir.path().join("sub"), "x.yaml", "not valid: [");
    let loaded = load_dir(dir.path()).unwrap();
    let names: Vec<&str> = loaded.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["statestore", "mem"]);
    assert_eq!(loaded.subscriptions, ["sub"]);
    let redis = &loaded.components[0];
    assert_eq!(redis.meta("redisdb"), Some("2"));
    assert_eq!(redis.meta("enableTLS"), Some("false"));
    assert_eq!(redis.meta("actorStateStore"), Some("true"));
    assert_eq!(redis.source.line, 5, "line of metadata.name");
    assert_eq!(redis.field_source("redisHost").line, 10);
    assert_eq!(loaded.components[1].version, "v1");
    assert_eq!(loaded.skipped.len(), 1);
    assert_eq!(loaded.skipped[0].component_type, "crypto.dapr.jwks");
    assert_eq!(loaded.ignored_files, [dir.path().join("notes.md")]);
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.yaml",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: [oops\n",
    );
    let text = load_dir(dir.path()).unwrap_err().to_string();
    let prefix = format!("{}:", path.display());
    assert!(text.starts_with(&prefix), "{text}");
    let line: usize = text[prefix.len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((4..=5).contains(&line), "{text}");
    assert!(text.contains("column"), "{text}");
}

#[test]
fn unknown_types_are_refused_with_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "statestore.yaml",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.foo\n  version: v1\n",
    );
    let text = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        text.starts_with(&format!(
            "{}:6: component statestore: field spec.type",
            path.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("state.in-memory, state.redis, state.sqlite"),
        "{text}"
    );

    write(
        dir.path(),
        "statestore.yaml",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\nspec:\n  type: banana.split\n",
    );
    let text = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        text.contains("field spec.type") && text.contains("banana.split"),
        "{text}"
    );

    write(
        dir.path(),
        "statestore.yaml",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\nspec:\n  type: state.redis\n  version: v2\n  metadata:\n  - name: redisHost\n    value: h\n",
    );
    let text = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        text.contains(":7: component x: field spec.version") && text.contains("v1"),
        "{text}"
    );
}

#[test]
fn missing_required_metadata_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "redis.yaml",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  metadata:\n  - name: redisPassword\n    value: \"\"\n",
    );
    let text = load_dir(dir.path()).unwrap_err().to_string();
    assert!(text.starts_with(&path.display().to_string()), "{text}");
    assert!(
        text.contains("field redisHost") && text.contains("host:port"),
        "{text}"
    );

    // With ignoreErrors the runtime reports it at init instead.
    write(
        dir.path(),
        "redis.yaml",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  ignoreErrors: true\n",
    );
    let loaded = load_dir(dir.path()).unwrap();
    assert!(loaded.components[0].ignore_errors);
}

#[test]
fn scopes_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let doc = |name: &str, scopes: &str| {
        format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: state.in-memory\n{scopes}"
        )
    };
    write(
        dir.path(),
        "a.yaml",
        &doc("mine", "scopes:\n- other\n- myapp\n"),
    );
    write(dir.path(), "b.yaml", &doc("theirs", "scopes: [other]\n"));
    write(dir.path(), "c.yml", &doc("all", ""));
    let loaded = load_dir(dir.path()).unwrap();
    let names: Vec<&str> = loaded.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["mine", "all"]);

    // An out-of-scope duplicate does not count; an in-scope one does.
    write(dir.path(), "d.yaml", &doc("theirs", ""));
    assert!(load_dir(dir.path()).is_ok());
    let dup = write(dir.path(), "e.yaml", &doc("all", ""));
    let text = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        text.starts_with(&dup.display().to_string()) && text.contains("duplicate"),
        "{text}"
    );
}

#[test]
fn secrets_env_and_substitutions() {
    let dir = tempfile::tempdir().unwrap();
    let path_value = std::env::var("PATH").expect("PATH is set in tests");
    write(
        dir.path(),
        "s.yaml",
        concat!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: s\nspec:\n",
            "  type: state.in-memory\n  metadata:\n",
            "  - name: fromSecret\n    secretKeyRef:\n      name: PATH\n      key: PATH\n",
            "  - name: fromEnv\n    envRef: PATH\n",
            "  - name: consumer\n    value: \"{appID}-{uuid}\"\n",
        ),
    );
    let loaded = load_dir(dir.path()).unwrap();
    let c = &loaded.components[0];
    assert_eq!(c.meta("fromSecret"), Some(path_value.as_str()));
    assert_eq!(c.meta("fromEnv"), Some(path_value.as_str()));
    let consumer = c.meta("consumer").unwrap();
    assert!(
        consumer.starts_with("myapp-") && consumer.len() == "myapp-".len() + 36,
        "{consumer}"
    );

    let path = write(
        dir.path(),
        "s.yaml",
        concat!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: s\nspec:\n",
            "  type: state.in-memory\n  metadata:\n",
            "  - name: password\n    secretKeyRef:\n      name: H1_SURELY_UNSET_SECRET_VAR\n",
        ),
    );
    let text = load_dir(dir.path()).unwrap_err().to_string();
    assert!(text.starts_with(&format!("{}:", path.display())), "{text}");
    assert!(
        text.contains("field password") && text.contains("H1_SURELY_UNSET_SECRET_VAR"),
        "{text}"
    );
}

#[test]
fn missing_resources_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let text = resources::load(std::slice::from_ref(&missing), "myapp")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains(&missing.display().to_string()) && text.contains("does not exist"),
        "{text}"
    );
}

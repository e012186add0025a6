//! Assets embedded in the binary: the default component files and `config.yaml` that
//! `dapr init` writes (Kubernetes manifests live with the Kubernetes back end).
//!
//! The Redis components and both configurations are byte-for-byte the official files
//! (yaml.v2 style: list items not indented under their key); only the host names are
//! filled in. The SQLite state store and pub/sub are this project's server-less defaults.

const STATESTORE_REDIS: &str = include_str!("../assets/components/statestore.redis.yaml");
const PUBSUB_REDIS: &str = include_str!("../assets/components/pubsub.redis.yaml");
const STATESTORE_SQLITE: &str = include_str!("../assets/components/statestore.sqlite.yaml");
const PUBSUB_SQLITE: &str = include_str!("../assets/components/pubsub.sqlite.yaml");
const CONFIG: &str = include_str!("../assets/config.yaml");
const CONFIG_SLIM: &str = include_str!("../assets/config.slim.yaml");

/// The official `statestore` (state.redis) component for `host` (e.g. `localhost:6379`).
pub fn statestore_redis(host: &str) -> String {
    STATESTORE_REDIS.replace("{{REDIS_HOST}}", host)
}

/// The official `pubsub` (pubsub.redis) component for `host`.
pub fn pubsub_redis(host: &str) -> String {
    PUBSUB_REDIS.replace("{{REDIS_HOST}}", host)
}

/// A `statestore` (state.sqlite, actor state store) keeping its data in `db_path`.
pub fn statestore_sqlite(db_path: &std::path::Path) -> String {
    // A JSON string is a valid double-quoted YAML scalar, whatever the path contains.
    let quoted = serde_json::to_string(&db_path.to_string_lossy()).unwrap_or_default();
    STATESTORE_SQLITE.replace("{{DB_PATH}}", &quoted)
}

/// A `pubsub` (pubsub.sqlite) keeping its messages in `db_path`, shared by local sidecars.
pub fn pubsub_sqlite(db_path: &std::path::Path) -> String {
    let quoted = serde_json::to_string(&db_path.to_string_lossy()).unwrap_or_default();
    PUBSUB_SQLITE.replace("{{DB_PATH}}", &quoted)
}

/// The official non-slim `config.yaml` (Zipkin tracing at `zipkin_host:9411`).
pub fn config(zipkin_host: &str) -> String {
    CONFIG.replace("{{ZIPKIN_HOST}}", zipkin_host)
}

/// The official slim / air-gapped `config.yaml` (`spec: {}`).
pub fn config_slim() -> &'static str {
    CONFIG_SLIM
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_the_official_bytes() {
        assert_eq!(
            config("localhost"),
            "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprConfig\nspec:\n  tracing:\n    samplingRate: \"1\"\n    zipkin:\n      endpointAddress: http://localhost:9411/api/v2/spans\n"
        );
    }

    #[test]
    fn sqlite_path_is_quoted() {
        let s = statestore_sqlite(std::path::Path::new("/tmp/a b/state.db"));
        assert!(s.contains("    value: \"/tmp/a b/state.db\"\n"), "{s}");
    }
}

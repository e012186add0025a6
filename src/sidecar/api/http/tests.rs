use super::*;
use crate::sidecar::api::universal::metadata::SidecarInfo;
use crate::sidecar::components::state::{KeyPrefix, StateComponent, memory::MemoryStore};
use crate::sidecar::components::{Category, ComponentStore, Instance};
use crate::sidecar::resiliency::Resiliency;
use crate::sidecar::resources::Component;
use axum::body::Body;
use axum::http::HeaderMap;
use tower::ServiceExt;

fn app(token: Option<&str>, with_store: bool) -> (Router, Arc<Api>) {
    let mut components = ComponentStore::default();
    if with_store {
        let comp = Component::new("statestore", "state.in-memory");
        let prefix = KeyPrefix::from_component(&comp, "app1").unwrap();
        let store = StateComponent {
            store: Arc::new(MemoryStore::new()),
            prefix,
        };
        components.insert(comp, Category::State, Instance::State(store));
    }
    let api = Arc::new(Api::new(
        SidecarInfo {
            app_id: "app1".into(),
            runtime_version: "t".into(),
            ..Default::default()
        },
        Arc::new(components),
        None,
        Resiliency::default(),
    ));
    let state = Arc::new(HttpState {
        max_body_size: 64,
        max_header_bytes: 8192,
        api_token: token.map(str::to_string),
        ..HttpState::new(api.clone())
    });
    (router(state), api)
}

async fn call(r: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, HeaderMap, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = service(r.clone()).oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn save_get_delete_round_trip() {
    let (r, _) = app(None, true);
    let (st, _, _) = call(
        &r,
        "POST",
        "/v1.0/state/statestore",
        r#"[{"Key":"k","value":{"a":1}}]"#,
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, h, body) = call(&r, "GET", "/v1.0/state/statestore/k/", "").await;
    assert_eq!((st, body.as_str()), (StatusCode::OK, r#"{"a":1}"#));
    assert!(h.get("etag").is_some());
    let (st, _, _) = call(&r, "DELETE", "/v1.0/state/statestore/k", "").await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _, _) = call(&r, "GET", "/v1.0/state/statestore/k", "").await;
    assert_eq!(st, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn keys_named_like_operations_still_work() {
    let (r, _) = app(None, true);
    let save = r#"[{"key":"bulk","value":1},{"key":"transaction","value":2}]"#;
    assert_eq!(
        call(&r, "POST", "/v1.0/state/statestore", save).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&r, "GET", "/v1.0/state/statestore/bulk", "").await.2,
        "1"
    );
    assert_eq!(
        call(&r, "GET", "/v1.0/state/statestore/transaction", "")
            .await
            .2,
        "2"
    );
    let (st, _, body) = call(
        &r,
        "POST",
        "/v1.0/state/statestore/bulk",
        r#"{"keys":["bulk"]}"#,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.starts_with(r#"[{"key":"bulk","data":1,"#), "{body}");
    let (st, _, body) = call(&r, "POST", "/v1.0/state/statestore/other", "{}").await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        call(&r, "DELETE", "/v1.0/state/statestore/bulk", "")
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn error_table() {
    let (r, _) = app(None, true);
    let (st, _, body) = call(&r, "POST", "/v1.0/state/nope", "[]").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains("ERR_STATE_STORE_NOT_FOUND"), "{body}");
    let (st, _, body) = call(&r, "POST", "/v1.0/state/statestore", "[{").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains("ERR_MALFORMED_REQUEST"), "{body}");
    let (st, _, body) = call(&r, "POST", "/v1.0/state/statestore", r#"[{"value":1}]"#).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains(r#"\"key\" is a required field"#), "{body}");
    let (st, _, body) = call(&r, "GET", "/v1.0/state/statestore/a||b", "").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains("can't contain"), "{body}");
    let (st, _, body) = call(
        &r,
        "POST",
        "/v1.0/state/statestore",
        &format!("[{}]", "1,".repeat(40) + "1"),
    )
    .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (r, _) = app(None, false);
    let (st, _, body) = call(&r, "GET", "/v1.0/state/statestore/k", "").await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("ERR_STATE_STORE_NOT_CONFIGURED"), "{body}");
}

#[tokio::test]
async fn token_and_health() {
    let (r, api) = app(Some("s3cret"), true);
    let (st, _, body) = call(&r, "GET", "/v1.0/metadata", "").await;
    assert_eq!(
        (st, body.trim()),
        (StatusCode::UNAUTHORIZED, "invalid api token")
    );
    let (st, _, body) = call(&r, "GET", "/v1.0/healthz", "").await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("ERR_HEALTH_NOT_READY"));
    api.health.set_outbound_ready();
    api.health.set_ready();
    assert_eq!(
        call(&r, "GET", "/v1.0/healthz", "").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&r, "GET", "/v1.0/healthz/outbound", "").await.0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn unmatched_routes_fall_back_to_invocation() {
    let (r, _) = app(None, true);
    let (st, _, body) = call(&r, "PATCH", "/v1.0/state/statestore", "").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(body.contains("ERR_DIRECT_INVOKE"), "{body}");
}

#[test]
fn path_cleaning() {
    assert_eq!(clean_path("//v1.0/./state//s/../s/k/"), "/v1.0/state/s/k");
    assert_eq!(clean_path("/"), "/");
}

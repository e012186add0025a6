//! Dapr custom resources as the `components -k` and `configurations -k` tables show them,
//! and the trust bundle read by `mtls -k`.
//!
//! Limits: `-o yaml` uses the CRD's JSON field names (`ignoreErrors`), where the official
//! CLI prints lower-cased Go field names (`ignoreerrors`).

use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use serde_json::Value;

use super::client::{K8sError, is_not_found, resource_for, server_message};
use super::status::age_and_created;

/// The name of the control plane's own Configuration, hidden from the tables.
pub const SYSTEM_CONFIG: &str = "daprsystem";

/// List a dapr.io kind (`Component`, `Configuration`, ...) in `namespace` or everywhere.
/// A missing CRD (404) is an empty list, as in the official CLI.
pub async fn list_dapr(
    client: &Client,
    kind: &str,
    namespace: Option<&str>,
) -> Result<Vec<DynamicObject>, K8sError> {
    let (ar, _) = resource_for("dapr.io/v1alpha1", kind)
        .ok_or_else(|| K8sError::Api(format!("unknown kind {kind}")))?;
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    match api.list(&ListParams::default()).await {
        Ok(l) => Ok(l.items),
        Err(e) if is_not_found(&e) => Ok(Vec::new()),
        Err(e) => Err(K8sError::Api(format!(
            "listing {}: {}",
            ar.plural,
            server_message(&e)
        ))),
    }
}

/// `{name, namespace, spec}` — the `-o json|yaml` shape of both commands.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Detail {
    pub name: String,
    pub namespace: String,
    pub spec: Value,
}

/// Rows and details of the objects to show, after the official filters: `daprsystem`
/// hidden, `name` matched case-insensitively, sorted by namespace descending.
fn visible(items: &[DynamicObject], name: Option<&str>) -> Vec<DynamicObject> {
    let mut out: Vec<DynamicObject> = items
        .iter()
        .filter(|o| o.metadata.name.as_deref() != Some(SYSTEM_CONFIG))
        .filter(|o| {
            name.is_none_or(|n| {
                o.metadata
                    .name
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(n))
            })
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| b.metadata.namespace.cmp(&a.metadata.namespace));
    out
}

pub fn details(items: &[DynamicObject], name: Option<&str>) -> Vec<Detail> {
    visible(items, name)
        .into_iter()
        .map(|o| Detail {
            name: o.metadata.name.clone().unwrap_or_default(),
            namespace: o.metadata.namespace.clone().unwrap_or_default(),
            spec: o.data["spec"].clone(),
        })
        .collect()
}

pub const COMPONENT_HEADERS: [&str; 7] = [
    "NAMESPACE",
    "NAME",
    "TYPE",
    "VERSION",
    "SCOPES",
    "CREATED",
    "AGE",
];

pub fn component_rows(items: &[DynamicObject], name: Option<&str>) -> Vec<Vec<String>> {
    visible(items, name)
        .iter()
        .map(|o| {
            let (age, created) = age_and_created(&o.metadata);
            let scopes: Vec<&str> = o.data["scopes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str())
                .collect();
            vec![
                o.metadata.namespace.clone().unwrap_or_default(),
                o.metadata.name.clone().unwrap_or_default(),
                o.data["spec"]["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                o.data["spec"]["version"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                scopes.join(","),
                created,
                age,
            ]
        })
        .collect()
}

pub const CONFIGURATION_HEADERS: [&str; 6] = [
    "NAMESPACE",
    "NAME",
    "TRACING-ENABLED",
    "METRICS-ENABLED",
    "AGE",
    "CREATED",
];

pub fn configuration_rows(items: &[DynamicObject], name: Option<&str>) -> Vec<Vec<String>> {
    visible(items, name)
        .iter()
        .map(|o| {
            let (age, created) = age_and_created(&o.metadata);
            let spec = &o.data["spec"];
            let rate = match &spec["tracing"]["samplingRate"] {
                Value::String(s) => s.parse::<f64>().unwrap_or(0.0),
                Value::Number(n) => n.as_f64().unwrap_or(0.0),
                _ => 0.0,
            };
            let metrics = spec["metric"]["enabled"].as_bool().unwrap_or(false);
            vec![
                o.metadata.namespace.clone().unwrap_or_default(),
                o.metadata.name.clone().unwrap_or_default(),
                (rate > 0.0).to_string(),
                metrics.to_string(),
                age,
                created,
            ]
        })
        .collect()
}

/// The `daprsystem` Configuration, wherever it is.
pub async fn system_config(client: &Client) -> Result<Option<DynamicObject>, K8sError> {
    let all = list_dapr(client, "Configuration", None).await?;
    Ok(all
        .into_iter()
        .find(|o| o.metadata.name.as_deref() == Some(SYSTEM_CONFIG)))
}

/// Whether mTLS is on according to `daprsystem` (absent field = on, like the injector).
pub fn mtls_enabled(config: &DynamicObject) -> bool {
    config.data["spec"]["mtls"]["enabled"]
        .as_bool()
        .unwrap_or(true)
}

/// The three trust-chain files of Secret `dapr-trust-bundle` in `namespace`.
pub async fn trust_bundle(
    client: &Client,
    namespace: &str,
) -> Result<Vec<(String, Vec<u8>)>, K8sError> {
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get("dapr-trust-bundle")
        .await
        .map_err(|e| K8sError::object(format!("Secret {namespace}/dapr-trust-bundle"), e))?;
    let data = secret.data.unwrap_or_default();
    let mut out = Vec::new();
    for key in ["ca.crt", "issuer.crt", "issuer.key"] {
        let v = data.get(key).ok_or_else(|| K8sError::Object {
            object: format!("Secret {namespace}/dapr-trust-bundle"),
            message: format!(
                "no {key} in the trust bundle (sentry has not generated the certificates yet)"
            ),
        })?;
        out.push((key.to_string(), v.0.clone()));
    }
    Ok(out)
}

/// The NotAfter time of the first certificate in a PEM text.
pub fn pem_not_after(pem: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    der_not_after(&pem_block(std::str::from_utf8(pem).ok()?, "CERTIFICATE")?)
}

/// The DER bytes of the first `-----BEGIN <label>-----` block of a PEM text.
pub(super) fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let start = text.find(&begin)? + begin.len();
    let end = text[start..].find(&format!("-----END {label}-----"))? + start;
    let b64: String = text[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// One DER TLV: (tag, content, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let content = b.get(hdr..hdr + len)?;
    Some((tag, content, &b[hdr + len..]))
}

/// Certificate → tbsCertificate → validity → notAfter (UTCTime or GeneralizedTime).
fn der_not_after(der: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version
    }
    for _ in 0..3 {
        rest = tlv(rest)?.2; // serial, signature algorithm, issuer
    }
    let (_, validity, _) = tlv(rest)?;
    let (_, _, after) = tlv(validity)?;
    let (tag, time, _) = tlv(after)?;
    let s = std::str::from_utf8(time).ok()?;
    let full = match tag {
        0x17 => {
            let yy: i32 = s.get(0..2)?.parse().ok()?;
            format!("{}{}", if yy >= 50 { 19 } else { 20 }, s)
        }
        0x18 => s.to_string(),
        _ => return None,
    };
    let naive =
        chrono::NaiveDateTime::parse_from_str(full.trim_end_matches('Z'), "%Y%m%d%H%M%S").ok()?;
    Some(naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(ns: &str, name: &str, rest: Value) -> DynamicObject {
        let mut v = json!({"apiVersion": "dapr.io/v1alpha1", "kind": "Component",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-07-23T10:54:49Z"}});
        merge(&mut v, rest);
        serde_json::from_value(v).unwrap()
    }

    fn merge(a: &mut Value, b: Value) {
        if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
            a.extend(b);
        }
    }

    #[test]
    fn component_rows_filter_hide_and_sort() {
        let items = vec![
            obj(
                "default",
                "statestore",
                json!({"spec": {"type": "state.redis", "version": "v1"}, "scopes": ["app1"]}),
            ),
            obj(
                "test",
                "statestore",
                json!({"spec": {"type": "state.redis", "version": "v1"}, "scopes": ["app1", "app2"]}),
            ),
            obj("dapr-system", "daprsystem", json!({"spec": {}})),
        ];
        let rows = component_rows(&items, None);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], "test");
        assert_eq!(rows[0][4], "app1,app2");
        assert_eq!(rows[1][0], "default");
        assert_eq!(component_rows(&items, Some("STATESTORE")).len(), 2);
        assert!(component_rows(&items, Some("other")).is_empty());
    }

    #[test]
    fn configuration_rows_read_tracing_and_metrics() {
        let items = vec![obj(
            "default",
            "appconfig",
            json!({"spec": {"tracing": {"samplingRate": "1"}, "metric": {"enabled": true}}}),
        )];
        let rows = configuration_rows(&items, None);
        assert_eq!(rows[0][2..4], ["true".to_string(), "true".to_string()]);
    }
}

//! `bindings.http` (output): one HTTP request per invocation to `url` (plus the `path`
//! request metadata), as the official component:
//!
//! * operations `get`, `head`, `post`, `put`, `patch`, `delete`, `options`, `trace`, and
//!   `create` (= `post`); the data is the body of `post`, `put` and `patch`;
//! * request metadata keys that start with an upper-case letter are request headers;
//!   `Content-Type` (for a body) and `Accept` default to `application/json; charset=utf-8`;
//!   `traceparent`, `tracestate` and `baggage` are forwarded; `securityToken` is sent in the
//!   header `securityTokenHeader` names;
//! * the answer: the body (at most `maxResponseBodySize`, default 100 MiB) and metadata
//!   `statusCode`, `status` (`200 OK`) and every response header (Go's canonical names,
//!   several values joined with `, `);
//! * a status outside 2xx is an error (`received status code 404`, the metadata still
//!   returned) unless `errorIfNot2XX` (component or request metadata) is false;
//! * `responseTimeout` bounds a request (default: none).
//!
//! Limits: the `mtls*` fields are refused (no client certificates here yet).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;

use super::{
    BindingComponent, BindingError, InvokeRequest, InvokeResponse, Metadata, OutputBinding,
};
use crate::sidecar::components::metadata::{meta_bool, meta_duration};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::resources::{Component, ResourceError};

const DEFAULT_MAX_BODY: u64 = 100 << 20;
const JSON: &str = "application/json; charset=utf-8";

#[derive(Debug, Clone)]
struct Settings {
    url: reqwest::Url,
    timeout: Option<Duration>,
    token: Option<(String, String)>,
    error_if_not_2xx: bool,
    max_body: Option<u64>,
}

pub struct HttpBinding {
    client: reqwest::Client,
    settings: Settings,
}

/// A byte size: a plain number of bytes or a number with a unit (`k`, `M`, `G`, `Ki`,
/// `Mi`, `Gi`); 0 or less means no limit.
fn byte_size(v: &str) -> Option<i64> {
    let v = v.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: i64 = n.parse().ok()?;
    let mult: i64 = match unit.trim() {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn settings(c: &Component) -> Result<Settings, ResourceError> {
    let raw = c.meta("url").unwrap_or("").trim();
    if raw.is_empty() {
        return Err(c.field_error(
            "url",
            "required; the base URL requests go to, e.g. http://localhost:8080/api",
        ));
    }
    let url = reqwest::Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            c.field_error("url", format!("{raw:?} is not an http:// or https:// URL"))
        })?;
    for f in [
        "mtlsRootCA",
        "mtlsClientCert",
        "mtlsClientKey",
        "mtlsRenegotiation",
    ] {
        if c.meta(f).is_some_and(|v| !v.trim().is_empty()) {
            return Err(c.field_error(f, "mTLS is not supported by this daprd's http binding yet"));
        }
    }
    let timeout = match c.meta("responseTimeout") {
        Some(v) if !v.trim().is_empty() => Some(meta_duration(
            c,
            "responseTimeout",
            Duration::ZERO,
            Duration::from_secs(1),
        )?),
        _ => None,
    }
    .filter(|d| !d.is_zero());
    let max_body = match c.meta("maxResponseBodySize").map(str::trim) {
        None | Some("") => Some(DEFAULT_MAX_BODY),
        Some(v) => {
            let n = byte_size(v).ok_or_else(|| {
                c.field_error(
                    "maxResponseBodySize",
                    format!("invalid value for maxResponseBodySize: {v:?}; use bytes or e.g. 10Mi"),
                )
            })?;
            u64::try_from(n).ok().filter(|n| *n > 0)
        }
    };
    let token = match (c.meta("securityToken"), c.meta("securityTokenHeader")) {
        (Some(t), Some(h)) if !t.is_empty() && !h.is_empty() => {
            Some((h.to_string(), t.to_string()))
        }
        _ => None,
    };
    Ok(Settings {
        url,
        timeout,
        token,
        error_if_not_2xx: meta_bool(c, "errorIfNot2XX", true)?,
        max_body,
    })
}

/// Go's canonical header name (`content-type` → `Content-Type`).
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &cs.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Go's `IsTruthy`.
fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "t" | "true" | "y" | "yes" | "on"
    )
}

impl HttpBinding {
    fn url(&self, md: &Metadata) -> String {
        let base = self.settings.url.as_str();
        match md.get("path").filter(|p| !p.is_empty()) {
            Some(p) => format!(
                "{}/{}",
                base.trim_end_matches('/'),
                p.trim_start_matches('/')
            ),
            None => base.to_string(),
        }
    }
}

#[async_trait]
impl OutputBinding for HttpBinding {
    fn operations(&self) -> &'static [&'static str] {
        &[
            "create", "get", "head", "post", "put", "patch", "delete", "options", "trace",
        ]
    }

    async fn invoke(&self, req: InvokeRequest) -> Result<Option<InvokeResponse>, BindingError> {
        let md = &req.metadata;
        let method = match req.operation.to_ascii_uppercase().as_str() {
            "CREATE" | "POST" => reqwest::Method::POST,
            "PUT" => reqwest::Method::PUT,
            "PATCH" => reqwest::Method::PATCH,
            "GET" => reqwest::Method::GET,
            "HEAD" => reqwest::Method::HEAD,
            "DELETE" => reqwest::Method::DELETE,
            "OPTIONS" => reqwest::Method::OPTIONS,
            "TRACE" => reqwest::Method::TRACE,
            _ => {
                return Err(BindingError::new(format!(
                    "invalid operation: {}",
                    req.operation
                )));
            }
        };
        let with_body = matches!(
            method,
            reqwest::Method::POST | reqwest::Method::PUT | reqwest::Method::PATCH
        );
        let error_if_not_2xx = match md.get("errorIfNot2XX").filter(|v| !v.is_empty()) {
            Some(v) => truthy(v),
            None => self.settings.error_if_not_2xx,
        };
        let mut headers = reqwest::header::HeaderMap::new();
        let mut set = |k: &str, v: &str| {
            if let (Ok(k), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(v),
            ) {
                headers.insert(k, v);
            }
        };
        if with_body && !md.contains_key("Content-Type") {
            set("content-type", JSON);
        }
        if !md.contains_key("Accept") {
            set("accept", JSON);
        }
        if let Some((h, t)) = &self.settings.token {
            set(h, t);
        }
        for (k, v) in md {
            if k.starts_with(|c: char| c.is_ascii_uppercase()) {
                set(k, v);
            }
        }
        for k in ["traceparent", "tracestate", "baggage"] {
            if let Some(v) = md.get(k).filter(|v| !v.is_empty()) {
                set(k, v);
            }
        }
        let mut request = self.client.request(method, self.url(md)).headers(headers);
        if with_body {
            request = request.body(req.data.clone());
        }
        if let Some(t) = self.settings.timeout {
            request = request.timeout(t);
        }
        let res = request
            .send()
            .await
            .map_err(|e| BindingError::new(error_chain(&e)))?;
        let status = res.status();
        let mut metadata = Metadata::new();
        metadata.insert("statusCode".into(), status.as_u16().to_string());
        metadata.insert(
            "status".into(),
            format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_string(),
        );
        for name in res.headers().keys() {
            let values: Vec<&str> = res
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            metadata.insert(canonical(name.as_str()), values.join(", "));
        }
        let limit = self.settings.max_body.unwrap_or(u64::MAX);
        let mut body = Vec::new();
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BindingError {
                message: error_chain(&e),
                metadata: metadata.clone(),
            })?;
            let room = limit.saturating_sub(body.len() as u64) as usize;
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() as u64 >= limit {
                break;
            }
        }
        if error_if_not_2xx && !status.is_success() {
            return Err(BindingError {
                message: format!("received status code {}", status.as_u16()),
                metadata,
            });
        }
        Ok(Some(InvokeResponse {
            data: Bytes::from(body),
            metadata,
        }))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

/// Registry row: `url` is required.
pub fn validate(c: &Component, _ctx: &Context) -> Result<(), ResourceError> {
    super::Direction::from_component(c)?;
    settings(c).map(|_| ())
}

/// Registry row.
pub fn create(c: Component, _ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let settings = settings(&c)?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| c.field_error("url", format!("cannot build the HTTP client: {e}")))?;
        BindingComponent::instance(&c, None, Some(Arc::new(HttpBinding { client, settings })))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(canonical("content-type"), "Content-Type");
        assert_eq!(canonical("x-request-id"), "X-Request-Id");
        assert_eq!(byte_size("10Mi"), Some(10 << 20));
        assert_eq!(byte_size("512"), Some(512));
        assert_eq!(byte_size("lots"), None);
    }

    #[test]
    fn settings_name_the_field() {
        let e = validate(&Component::new("h", "bindings.http"), &Context::new("a"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("url"), "{e}");
        let c = Component::new("h", "bindings.http").with_meta("url", "ftp://x");
        assert!(validate(&c, &Context::new("a")).is_err());
        let c = Component::new("h", "bindings.http")
            .with_meta("url", "http://x")
            .with_meta("maxResponseBodySize", "big");
        let e = validate(&c, &Context::new("a")).unwrap_err().to_string();
        assert!(e.contains("maxResponseBodySize"), "{e}");
    }
}

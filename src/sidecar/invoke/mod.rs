//! Service invocation between sidecars: a protocol-neutral [`InvokeRequest`] for app `X`
//! goes to the local app channel when `X` is this sidecar's app, to `X`'s sidecar otherwise
//! (found through name resolution), or to an external HTTP endpoint named by URL. The
//! answer is the app's own ([`InvokeResponse`], any status) or an [`ApiError`] from the
//! table when a sidecar failed (no such app, callee unreachable, reply too large, ...).
//!
//! Pieces: [`naming`] registers this sidecar in a SQLite registry shared by the user's
//! sidecars ([`resolver`]; the official `nameresolution.sqlite` file, chosen instead of mDNS,
//! see its docs); [`remote`] makes the hop to another sidecar under the resiliency policy for
//! that target; [`internal`] serves the callee side of the hop; [`headers`] holds the header
//! and path rules. Between our sidecars the hop is plain HTTP/1.1 on the internal port
//! (`--dapr-internal-grpc-port`), with caller metadata in headers, because it is the
//! cheapest transport on loopback; official sidecars are called, and served on the same
//! port, with their own gRPC protocol ([`official`]). Limits: no mDNS; external targets only
//! as plain `http://` URLs (no `https://`, no HTTPEndpoint resources); no access-control
//! policies; actor calls and gRPC proxying do not cross to official sidecars.

pub mod actors;
pub mod headers;
pub mod internal;
pub mod naming;
pub mod official;
pub mod remote;
pub mod resolver;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{HeaderMap, HeaderValue, header};

use self::headers::*;
use self::naming::Forwarded;
use self::resolver::{Cache, Registry};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::app_channel::http::{build_uri, http_client, map_client_error};
use crate::sidecar::app_channel::{AppChannel, ChannelError};
use crate::sidecar::body::LimitedBody;
use crate::sidecar::messages::{InvokeRequest, InvokeResponse};
use crate::sidecar::resiliency::Resiliency;

pub use self::resolver::ResolverError;

/// What the invoker needs from daprd's flags, environment and Configuration.
#[derive(Debug, Clone)]
pub struct InvokeConfig {
    pub app_id: String,
    pub namespace: String,
    pub internal_port: Option<u16>,
    pub internal_listen_address: Option<IpAddr>,
    pub max_body_size: usize,
    pub api_token: Option<String>,
    /// Configuration `spec.nameResolution`, as JSON.
    pub name_resolution: Option<serde_json::Value>,
}

/// Errors at bind time; each names the flag or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error(transparent)]
    Resolver(#[from] ResolverError),
}

type HttpClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Body>;

/// The service-invocation engine of one sidecar.
pub struct Invoker {
    app_id: String,
    namespace: String,
    app_id_hv: HeaderValue,
    namespace_hv: HeaderValue,
    max_body: usize,
    strip_api_token: bool,
    /// The local app.
    channel: Arc<AppChannel>,
    /// Other sidecars and external endpoints.
    client: HttpClient,
    resiliency: Resiliency,
    registry: Arc<Registry>,
    /// Why the shared registry file could not be used (then only self-invocation works).
    registry_unavailable: Option<String>,
    cache: Arc<Cache>,
    listener: Mutex<Option<tokio::net::TcpListener>>,
    internal_port: u16,
    /// Address other sidecars dial, as registered.
    advertise: String,
    forwarded: Forwarded,
    heartbeat: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Connections to official sidecars.
    official: official::client::Peers,
    /// The actor runtime forwarded actor calls run in.
    actors: std::sync::OnceLock<std::sync::Weak<crate::sidecar::actors::ActorRuntime>>,
}

impl Invoker {
    /// Validates the settings, binds the internal listener and registers this sidecar in
    /// name resolution.
    pub async fn bind(
        cfg: InvokeConfig,
        channel: Arc<AppChannel>,
        resiliency: Resiliency,
    ) -> Result<Invoker, InvokeError> {
        let flag = |flag: &'static str| move |message: String| InvokeError::Flag { flag, message };
        let app_id_hv = HeaderValue::from_str(&cfg.app_id)
            .map_err(|_| flag("--app-id")(format!("invalid app id {:?}", cfg.app_id)))?;
        let namespace_hv = HeaderValue::from_str(&cfg.namespace)
            .map_err(|_| flag("NAMESPACE")(format!("invalid namespace {:?}", cfg.namespace)))?;
        let (registry, registry_unavailable) =
            naming::open_registry(cfg.name_resolution.as_ref(), naming::install_dir()).await?;

        let ip = cfg
            .internal_listen_address
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let port = cfg.internal_port.unwrap_or(0);
        let listener = tokio::net::TcpListener::bind((ip, port))
            .await
            .map_err(|e| {
                flag("--dapr-internal-grpc-port")(format!(
                    "cannot listen on {}: {e}",
                    SocketAddr::new(ip, port)
                ))
            })?;
        let internal_port = listener
            .local_addr()
            .map_err(|e| flag("--dapr-internal-grpc-port")(e.to_string()))?
            .port();
        let advertise_ip = match ip {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            other => other,
        };
        let invoker = Invoker {
            app_id: cfg.app_id,
            namespace: cfg.namespace,
            app_id_hv,
            namespace_hv,
            max_body: cfg.max_body_size,
            strip_api_token: cfg.api_token.as_deref().is_some_and(|t| !t.is_empty()),
            channel,
            client: http_client(),
            resiliency,
            registry: Arc::new(registry),
            registry_unavailable,
            cache: Arc::new(Cache::default()),
            listener: Mutex::new(Some(listener)),
            internal_port,
            advertise: SocketAddr::new(advertise_ip, internal_port).to_string(),
            forwarded: Forwarded::for_this_host(),
            heartbeat: Mutex::new(None),
            official: Default::default(),
            actors: std::sync::OnceLock::new(),
        };
        // Registered now, as the official runtime does before serving: the listener already
        // queues connections, so callers never see a refused port.
        invoker.register().await;
        Ok(invoker)
    }

    /// The bound internal (sidecar-to-sidecar) port.
    pub fn internal_port(&self) -> u16 {
        self.internal_port
    }

    /// The namespace this sidecar registered in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The shared registry's file and table (the scheduler keeps its jobs next to them).
    pub fn registry_settings(&self) -> &resolver::RegistrySettings {
        self.registry.settings()
    }

    /// The local app's channel.
    pub fn channel(&self) -> &Arc<AppChannel> {
        &self.channel
    }

    /// Serves sidecar-to-sidecar calls until `shutdown` completes, then drains open
    /// connections (up to 5 s). Keeps this sidecar's name-resolution row (inserted by
    /// [`Invoker::bind`]) fresh while serving. Call once.
    pub async fn serve_internal(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| std::io::Error::other("serve_internal called twice"))?;
        self.start_heartbeat();
        internal::serve(self, listener, shutdown).await
    }

    /// Invokes `req.method` on `target`: an app id (`id` or `id.namespace`) or an external
    /// `http://` URL. The API token check and the request body limit of the API run before.
    pub async fn invoke(
        &self,
        target: &str,
        mut req: InvokeRequest,
    ) -> Result<InvokeResponse, ApiError> {
        let external = external_base(target);
        let (app_id, namespace) = match external {
            Some(_) => (target, self.namespace.as_str()),
            None => split_namespace(target, &self.namespace),
        };
        req.method = headers::normalize_method(&req.method)
            .map_err(|why| ApiError::direct_invoke(app_id, why))?;
        if content_length(&req.metadata).is_some_and(|len| len > self.max_body as u64) {
            return Err(ApiError::body_too_large(self.max_body));
        }
        let h = &mut req.metadata;
        strip_request(h);
        if h.get(header::AUTHORIZATION)
            .and_then(basic_app_id)
            .is_some()
        {
            h.remove(header::AUTHORIZATION);
        }
        if self.strip_api_token {
            h.remove(DAPR_API_TOKEN);
        }
        if let Some(base) = external {
            let base = base.map_err(|e| ApiError::direct_invoke(app_id, e))?;
            return self.call_external(app_id, base, req).await;
        }
        let callee = HeaderValue::from_str(app_id)
            .map_err(|_| ApiError::direct_invoke(app_id, "invalid app id"))?;
        h.insert(DAPR_CALLER_APP_ID, self.app_id_hv.clone());
        h.insert(DAPR_CALLEE_APP_ID, callee);
        h.insert(DAPR_CALLER_NAMESPACE, self.namespace_hv.clone());
        req.body = Body::new(LimitedBody::new(req.body, self.max_body));

        if app_id == self.app_id && namespace == self.namespace {
            return self
                .channel
                .invoke(req)
                .await
                .map_err(|e| self.channel_error(app_id, e));
        }
        self.forwarded.add(&mut req.metadata);
        if let Ok(ns) = HeaderValue::from_str(namespace) {
            req.metadata.insert(INTERNAL_TARGET_NAMESPACE, ns);
        }
        self.call_remote(app_id, namespace, req).await
    }

    /// The table's error for a failed call to an app (ours or, on the hop, the callee's).
    fn channel_error(&self, app_id: &str, e: ChannelError) -> ApiError {
        match e {
            ChannelError::RequestTooLarge(_) => ApiError::body_too_large(self.max_body),
            ChannelError::ReplyTooLarge(_) => {
                ApiError::invoke_reply_too_large(app_id, self.max_body)
            }
            e => ApiError::direct_invoke(app_id, e),
        }
    }

    /// A call to a non-Dapr HTTP endpoint named by URL (`/v1.0/invoke/http://host:port/method/x`):
    /// streamed, no retries, no `dapr-callee-app-id`.
    async fn call_external(
        &self,
        target: &str,
        base: &str,
        mut req: InvokeRequest,
    ) -> Result<InvokeResponse, ApiError> {
        let authority_and_path = base.trim_end_matches('/');
        let uri = build_uri(authority_and_path, &req.method, req.query.as_deref())
            .map_err(|e| ApiError::direct_invoke(target, e))?;
        let h = &mut req.metadata;
        h.insert(DAPR_CALLER_APP_ID, self.app_id_hv.clone());
        h.insert(DAPR_CALLER_NAMESPACE, self.namespace_hv.clone());
        self.forwarded.add(h);
        let mut http_req = http::Request::new(Body::new(LimitedBody::new(req.body, self.max_body)));
        *http_req.method_mut() = req.verb;
        *http_req.uri_mut() = uri;
        *http_req.headers_mut() = req.metadata;
        match self.client.request(http_req).await {
            Ok(res) => self.reply(target, res),
            Err(e) => Err(self.channel_error(target, map_client_error(&e))),
        }
    }

    /// A reply from another sidecar or an external endpoint, bounded by `--max-body-size`.
    fn reply(
        &self,
        target: &str,
        res: http::Response<hyper::body::Incoming>,
    ) -> Result<InvokeResponse, ApiError> {
        let (mut parts, body) = res.into_parts();
        if content_length(&parts.headers).is_some_and(|n| n > self.max_body as u64) {
            return Err(ApiError::invoke_reply_too_large(target, self.max_body));
        }
        strip_hop_by_hop(&mut parts.headers);
        Ok(InvokeResponse::http(
            parts.status,
            parts.headers,
            Body::new(LimitedBody::new(body, self.max_body)),
        ))
    }
}

/// For an external target (`http://host[:port][/base]`, also after the router collapsed
/// `//` to `/`): the part after the scheme. `https` is refused for now (no TLS client).
fn external_base(target: &str) -> Option<Result<&str, &'static str>> {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    if lower.starts_with("https:/") {
        return Some(Err(
            "https:// targets are not supported by this daprd yet (use http://)",
        ));
    }
    if !lower.starts_with("http:/") {
        return None;
    }
    let rest = target[6..].trim_start_matches('/');
    if rest.is_empty() {
        return Some(Err("the URL has no host"));
    }
    Some(Ok(rest))
}

/// The app id in `Authorization: Basic base64("dapr-app-id:<id>")`.
pub fn basic_app_id(v: &HeaderValue) -> Option<String> {
    use base64::Engine as _;
    let b64 = v.to_str().ok()?.strip_prefix("Basic ")?.trim();
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, id) = text.split_once(':')?;
    (user == "dapr-app-id" && !id.is_empty()).then(|| id.to_owned())
}

/// `appid.namespace` ⇒ (appid, namespace); anything else is an id in our own namespace.
fn split_namespace<'a>(target: &'a str, own: &'a str) -> (&'a str, &'a str) {
    match target.split_once('.') {
        Some((id, ns)) if !id.is_empty() && !ns.is_empty() && !ns.contains('.') => (id, ns),
        _ => (target, own),
    }
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_targets() {
        assert_eq!(
            external_base("http://127.0.0.1:80"),
            Some(Ok("127.0.0.1:80"))
        );
        assert_eq!(external_base("http:/host/base"), Some(Ok("host/base")));
        assert!(matches!(external_base("https://x"), Some(Err(_))));
        assert_eq!(external_base("app"), None);
        assert_eq!(external_base("httpbin"), None);
    }

    #[test]
    fn namespaces() {
        assert_eq!(split_namespace("app", "default"), ("app", "default"));
        assert_eq!(split_namespace("app.prod", "default"), ("app", "prod"));
        assert_eq!(split_namespace("a.b.c", "default"), ("a.b.c", "default"));
    }

    #[test]
    fn basic_auth_app_ids() {
        use base64::Engine as _;
        let enc = |s: &str| {
            HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            ))
            .unwrap()
        };
        assert_eq!(basic_app_id(&enc("dapr-app-id:py")).as_deref(), Some("py"));
        assert_eq!(basic_app_id(&enc("user:py")), None);
        assert_eq!(basic_app_id(&enc("dapr-app-id:")), None);
    }
}

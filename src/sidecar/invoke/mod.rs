//! Service invocation: `/v1.0/invoke/{appId}/method/{method}` (and `dapr-app-id` header
//! routing on unmatched paths) from the local app, through this sidecar and the target's
//! sidecar, to the target app; plus the target side of that hop and the local app channel.
//!
//! Pieces: [`channel`] calls the local app (HTTP/1.1, pooled); [`resolver`] finds other
//! sidecars in a SQLite registry shared by the user's sidecars (chosen instead of mDNS; see
//! its docs); [`internal`] serves the sidecar-to-sidecar hop; [`headers`] holds the header
//! and path rules. The hop between sidecars is plain HTTP/1.1 on the internal port
//! (`--dapr-internal-grpc-port`), with caller metadata in headers, because it is the
//! cheapest transport on loopback. Limits: it does not speak the official
//! `dapr.proto.internals.v1.ServiceInvocation` gRPC protocol nor mDNS, so official `daprd`
//! peers cannot call us or be called; only HTTP apps (`--app-protocol http`); external targets
//! only as plain `http://` URLs (no `https://`, no HTTPEndpoint resources); no resiliency
//! policies (built-in retries only); no access-control policies.

pub mod channel;
pub mod headers;
pub mod internal;
pub mod resolver;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Body as _;

use self::channel::{AppChannel, BodyLimitExceeded, ChannelError, LimitedBody};
use self::headers::*;
use self::resolver::{Cache, Cached, Registry, RegistrySettings};
use crate::sidecar::api::error::ApiError;
use crate::sidecar::log;

pub use self::resolver::ResolverError;

/// Error code of every sidecar-generated invocation failure.
pub const ERR_DIRECT_INVOKE: &str = "ERR_DIRECT_INVOKE";

/// Bodies up to this size are buffered before a remote call so a connection failure can be
/// retried; larger or unsized bodies are streamed and not retried.
const REPLAY_MAX: u64 = 64 * 1024;
/// Built-in retries on connection-level failures to a remote sidecar, and the pause before
/// each (the official runtime waits 1 s; the registry is re-read before each retry, so a
/// dead sidecar fails at once instead of after the pauses).
const RETRY_BACKOFF: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
];

/// What the invoker needs from daprd's flags, environment and Configuration.
#[derive(Debug, Clone)]
pub struct InvokeConfig {
    pub app_id: String,
    pub namespace: String,
    pub app_port: Option<u16>,
    pub app_channel_address: String,
    pub app_protocol: String,
    pub internal_port: Option<u16>,
    pub internal_listen_address: Option<IpAddr>,
    pub max_body_size: usize,
    pub app_api_token: Option<String>,
    pub app_max_concurrency: Option<usize>,
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

/// The service-invocation engine of one sidecar.
pub struct Invoker {
    app_id: String,
    namespace: String,
    app_id_hv: HeaderValue,
    namespace_hv: HeaderValue,
    max_body: usize,
    strip_api_token: bool,
    channel: AppChannel,
    registry: Arc<Registry>,
    cache: Arc<Cache>,
    listener: Mutex<Option<tokio::net::TcpListener>>,
    internal_port: u16,
    /// Address other sidecars dial, as registered.
    advertise: String,
    forwarded: Forwarded,
    heartbeat: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Precomputed `X-Forwarded-*`/`Forwarded` values describing this host.
struct Forwarded {
    xff: HeaderValue,
    xfh: HeaderValue,
    fwd: HeaderValue,
}

impl Invoker {
    /// Validates the settings, binds the internal listener and registers this sidecar in
    /// name resolution.
    pub async fn bind(cfg: InvokeConfig) -> Result<Invoker, InvokeError> {
        let protocol = cfg.app_protocol.trim().to_ascii_lowercase();
        if !(protocol.is_empty() || protocol == "http") {
            let valid = ["https", "grpc", "grpcs", "h2c"];
            let message = if valid.contains(&protocol.as_str()) {
                format!("{protocol:?} is not supported yet by this daprd (supported: http)")
            } else {
                format!(
                    "invalid value {protocol:?} (valid: http, https, grpc, grpcs, h2c; supported: http)"
                )
            };
            return Err(InvokeError::Flag {
                flag: "--app-protocol",
                message,
            });
        }
        let flag = |flag: &'static str| move |message: String| InvokeError::Flag { flag, message };
        let app_id_hv = HeaderValue::from_str(&cfg.app_id)
            .map_err(|_| flag("--app-id")(format!("invalid app id {:?}", cfg.app_id)))?;
        let namespace_hv = HeaderValue::from_str(&cfg.namespace)
            .map_err(|_| flag("NAMESPACE")(format!("invalid namespace {:?}", cfg.namespace)))?;
        let channel = AppChannel::new(
            &cfg.app_channel_address,
            cfg.app_port,
            cfg.app_api_token.as_deref(),
            cfg.app_max_concurrency,
        )
        .map_err(flag("--app-channel-address"))?;

        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(dirs::home_dir);
        let settings = RegistrySettings::from_config(cfg.name_resolution.as_ref(), home)?;
        let registry = tokio::task::spawn_blocking(move || Registry::open(settings))
            .await
            .map_err(|e| InvokeError::Flag {
                flag: "spec.nameResolution",
                message: e.to_string(),
            })??;

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
            registry: Arc::new(registry),
            cache: Arc::new(Cache::default()),
            listener: Mutex::new(Some(listener)),
            internal_port,
            advertise: SocketAddr::new(advertise_ip, internal_port).to_string(),
            forwarded: Forwarded::for_this_host(),
            heartbeat: Mutex::new(None),
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

    /// Path of the name-resolution registry file.
    pub fn registry_path(&self) -> &str {
        &self.registry.settings().path
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

    async fn register(&self) {
        const SCOPE: &str = "dapr.contrib";
        let reg = self.registry.clone();
        let (id, ns, addr) = (
            self.app_id.clone(),
            self.namespace.clone(),
            self.advertise.clone(),
        );
        let path = reg.settings().path.clone();
        // A failure here is retried by the heartbeat, which re-inserts a missing row.
        match tokio::task::spawn_blocking(move || reg.register(&id, &ns, &addr)).await {
            Ok(Ok(())) => log::info(
                SCOPE,
                &format!(
                    "name resolution: app id {} registered at {} in {path}",
                    self.app_id, self.advertise
                ),
            ),
            Ok(Err(e)) => log::warn(
                SCOPE,
                &format!("name resolution: registering failed, will retry: {e}"),
            ),
            Err(e) => log::warn(
                SCOPE,
                &format!("name resolution: registering failed, will retry: {e}"),
            ),
        }
    }

    fn start_heartbeat(&self) {
        const SCOPE: &str = "dapr.contrib";
        let reg = self.registry.clone();
        let (id, ns, addr) = (
            self.app_id.clone(),
            self.namespace.clone(),
            self.advertise.clone(),
        );
        let every = reg.settings().update_interval;
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            let mut failing = false;
            loop {
                tick.tick().await;
                let reg = reg.clone();
                let (id, ns, addr) = (id.clone(), ns.clone(), addr.clone());
                let r = tokio::task::spawn_blocking(move || reg.heartbeat(&id, &ns, &addr)).await;
                // Warn once per outage, not every interval.
                match r {
                    Ok(Ok(())) => failing = false,
                    Ok(Err(e)) if !failing => {
                        failing = true;
                        log::warn(SCOPE, &format!("name resolution: heartbeat failed: {e}"));
                    }
                    _ => {}
                }
            }
        });
        if let Some(old) = self
            .heartbeat
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task)
        {
            old.abort();
        }
    }

    /// Removes this sidecar from name resolution (call on shutdown, before draining).
    pub async fn deregister(&self) {
        if let Some(t) = self
            .heartbeat
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            t.abort();
        }
        let reg = self.registry.clone();
        let _ = tokio::task::spawn_blocking(move || reg.deregister()).await;
    }

    /// Returns once the app port accepts TCP connections (100 ms between tries, 500 ms per
    /// dial); at once when there is no app.
    pub async fn wait_for_app(&self) {
        let Some(authority) = self.channel.authority() else {
            return;
        };
        let target = authority.trim_start_matches('[').replace("]:", ":");
        let (host, port) = match target.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse::<u16>().unwrap_or(0)),
            None => return,
        };
        loop {
            let dial = tokio::net::TcpStream::connect((host.as_str(), port));
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), dial).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Marks the local app healthy or not (from the app health prober). While unhealthy,
    /// calls to the app fail with `app is not in a healthy state`. Starts healthy.
    pub fn set_app_healthy(&self, healthy: bool) {
        self.channel.set_healthy(healthy);
    }

    pub fn app_healthy(&self) -> bool {
        self.channel.is_healthy()
    }

    /// Handles `/v1.0/invoke/...` (any verb) and every request no other API route matched.
    /// The API token check and the request body limit middleware run before this.
    pub async fn handle_http(&self, req: Request) -> Response {
        let (mut parts, body) = req.into_parts();
        let (target, method) = match find_target(parts.uri.path(), &parts.headers) {
            Ok(t) => t,
            Err(e) => return e.into_response(),
        };
        let external = external_base(&target);
        let (app_id, namespace) = match external {
            Some(_) => (target.as_str(), self.namespace.as_str()),
            None => split_namespace(&target, &self.namespace),
        };
        let fail = |detail: &dyn std::fmt::Display| invoke_error(app_id, detail);
        let Some(method) = headers::clean_method(&method) else {
            return fail(&format_args!("invalid method name {method:?}"));
        };
        if let Some(len) = content_length(&parts.headers)
            && len > self.max_body as u64
        {
            return too_large(self.max_body);
        }
        let h = &mut parts.headers;
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
            return match base {
                Ok(base) => self.call_external(app_id, base, &method, parts, body).await,
                Err(e) => fail(&e),
            };
        }
        let Ok(callee) = HeaderValue::from_str(app_id) else {
            return fail(&"invalid app id");
        };
        h.insert(DAPR_CALLER_APP_ID, self.app_id_hv.clone());
        h.insert(DAPR_CALLEE_APP_ID, callee);
        h.insert(DAPR_CALLER_NAMESPACE, self.namespace_hv.clone());
        let query = parts.uri.query().map(str::to_owned);
        let body = Body::new(LimitedBody::new(body, self.max_body));

        if app_id == self.app_id && namespace == self.namespace {
            let req = http::Request::from_parts(parts, body);
            return match self.channel.call(req, &method, query.as_deref()).await {
                Ok(res) => pass_through(res),
                Err(ChannelError::TooLarge(_)) => too_large(self.max_body),
                Err(e) => fail(&e),
            };
        }
        self.forwarded.add(&mut parts.headers);
        if let Ok(ns) = HeaderValue::from_str(namespace) {
            parts.headers.insert(INTERNAL_TARGET_NAMESPACE, ns);
        }
        self.call_remote(app_id, namespace, &method, query.as_deref(), parts, body)
            .await
    }

    /// A call to a non-Dapr HTTP endpoint named by URL (`/v1.0/invoke/http://host:port/method/x`):
    /// streamed, no retries, no `dapr-callee-app-id`.
    async fn call_external(
        &self,
        target: &str,
        base: &str,
        method: &str,
        mut parts: http::request::Parts,
        body: Body,
    ) -> Response {
        let fail = |detail: &dyn std::fmt::Display| invoke_error(target, detail);
        let authority_and_path = base.trim_end_matches('/');
        let uri = match channel::build_uri(authority_and_path, method, parts.uri.query()) {
            Ok(u) => u,
            Err(e) => return fail(&e),
        };
        parts
            .headers
            .insert(DAPR_CALLER_APP_ID, self.app_id_hv.clone());
        parts
            .headers
            .insert(DAPR_CALLER_NAMESPACE, self.namespace_hv.clone());
        self.forwarded.add(&mut parts.headers);
        parts.uri = uri;
        let req =
            http::Request::from_parts(parts, Body::new(LimitedBody::new(body, self.max_body)));
        match self.channel.client.request(req).await {
            Ok(res) => pass_through(res.map(Body::new)),
            Err(e) => match channel::map_client_error(&e) {
                ChannelError::TooLarge(_) => too_large(self.max_body),
                err => fail(&err),
            },
        }
    }

    /// The sidecar-to-sidecar call, with built-in retries on connection failures.
    async fn call_remote(
        &self,
        app_id: &str,
        namespace: &str,
        method: &str,
        query: Option<&str>,
        parts: http::request::Parts,
        body: Body,
    ) -> Response {
        let fail = |detail: &dyn std::fmt::Display| invoke_error(app_id, detail);
        // Small bodies are buffered so they can be sent again after a connection failure.
        let (replay, mut stream_body): (Option<Bytes>, Option<Body>) =
            match body.size_hint().exact() {
                Some(0) => (Some(Bytes::new()), None),
                Some(n) if n <= REPLAY_MAX => match body.collect().await {
                    Ok(c) => (Some(c.to_bytes()), None),
                    Err(e) if is_too_large(&e) => return too_large(self.max_body),
                    Err(e) => return fail(&format_args!("reading request body: {e}")),
                },
                _ => (None, Some(body)),
            };
        let http::request::Parts {
            method: verb,
            headers,
            ..
        } = parts;
        let mut last_error = String::new();
        // Addresses that refused a connection during this call.
        let mut failed: Vec<String> = Vec::new();
        for attempt in 0..=RETRY_BACKOFF.len() {
            let addr = if attempt == 0 {
                match self.resolve(app_id, namespace).await {
                    Ok(Some(a)) => a,
                    Ok(None) => return fail(&format_args!("couldn't find service: {app_id}")),
                    Err(e) => return fail(&e),
                }
            } else {
                // Ask the registry again (a dead sidecar's row is ignored there) and prefer
                // an instance that has not failed yet; wait only when none is left.
                let addrs = match self.lookup(app_id, namespace).await {
                    Ok(a) if a.is_empty() => return fail(&last_error),
                    Ok(a) => a,
                    Err(e) => return fail(&e),
                };
                let untried: Vec<String> = addrs
                    .iter()
                    .filter(|a| !failed.contains(a))
                    .cloned()
                    .collect();
                let pick = if untried.is_empty() {
                    tokio::time::sleep(RETRY_BACKOFF[attempt - 1]).await;
                    self.cache.put(app_id, namespace, addrs)
                } else {
                    self.cache.put(app_id, namespace, untried)
                };
                match pick {
                    Some(a) => a,
                    None => return fail(&last_error),
                }
            };
            let uri = match channel::build_uri(&addr, method, query) {
                Ok(u) => u,
                Err(e) => return fail(&e),
            };
            let body = match (&replay, stream_body.take()) {
                (Some(b), _) => Body::from(b.clone()),
                (None, Some(b)) => b,
                (None, None) => return fail(&last_error),
            };
            let mut req = http::Request::new(body);
            *req.method_mut() = verb.clone();
            *req.uri_mut() = uri;
            *req.headers_mut() = headers.clone();
            match self.channel.client.request(req).await {
                Ok(mut res) => {
                    let kind = res.headers_mut().remove(INTERNAL_ERROR);
                    if kind.as_ref().is_some_and(|k| k == "wrong-target") {
                        // The address now belongs to another sidecar: stale registration.
                        self.cache.invalidate(app_id, namespace);
                        last_error = format!("no sidecar for app {app_id} at {addr}");
                        failed.push(addr);
                    } else {
                        return pass_through(res.map(Body::new));
                    }
                }
                Err(e) => {
                    let connect = e.is_connect();
                    let err = channel::map_client_error(&e);
                    if let ChannelError::TooLarge(_) = err {
                        return too_large(self.max_body);
                    }
                    if !connect || replay.is_none() {
                        return fail(&err);
                    }
                    self.cache.invalidate(app_id, namespace);
                    last_error = err.to_string();
                    failed.push(addr);
                }
            }
        }
        fail(&last_error)
    }

    /// An address of a sidecar of `app_id` (round robin), from the cache when possible.
    async fn resolve(
        &self,
        app_id: &str,
        namespace: &str,
    ) -> Result<Option<String>, ResolverError> {
        match self.cache.get(app_id, namespace) {
            Cached::Hit(a) => Ok(Some(a)),
            Cached::Stale(a) => {
                // Refresh in a detached task so this request does not wait for SQLite.
                let reg = self.registry.clone();
                let cache = self.cache.clone();
                let (id, ns) = (app_id.to_owned(), namespace.to_owned());
                tokio::spawn(async move {
                    let looked = tokio::task::spawn_blocking(move || {
                        let r = reg.lookup(&id, &ns);
                        (id, ns, r)
                    });
                    if let Ok((id, ns, Ok(addrs))) = looked.await {
                        cache.put(&id, &ns, addrs);
                    }
                });
                Ok(Some(a))
            }
            Cached::Miss => {
                let addrs = self.lookup(app_id, namespace).await?;
                Ok(self.cache.put(app_id, namespace, addrs))
            }
        }
    }

    /// Live addresses of `app_id` straight from the registry (on the blocking pool).
    async fn lookup(&self, app_id: &str, namespace: &str) -> Result<Vec<String>, ResolverError> {
        let reg = self.registry.clone();
        let (id, ns) = (app_id.to_owned(), namespace.to_owned());
        tokio::task::spawn_blocking(move || reg.lookup(&id, &ns))
            .await
            .map_err(|e| ResolverError::Config(e.to_string()))?
    }
}

impl Forwarded {
    fn for_this_host() -> Forwarded {
        let ip = host_ip();
        let host = hostname();
        let hv = |s: String| {
            HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
        };
        Forwarded {
            xff: hv(ip.to_string()),
            xfh: hv(host.clone()),
            fwd: hv(format!("for={ip};by={ip};host={host}")),
        }
    }

    fn add(&self, h: &mut HeaderMap) {
        h.append(X_FORWARDED_FOR, self.xff.clone());
        h.append(X_FORWARDED_HOST, self.xfh.clone());
        h.append(FORWARDED, self.fwd.clone());
    }
}

/// `DAPR_HOST_IP`, else the address the kernel would use to reach the outside (a UDP
/// "connect" sends nothing), else loopback.
fn host_ip() -> IpAddr {
    if let Some(ip) = std::env::var("DAPR_HOST_IP")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return ip;
    }
    std::net::UdpSocket::bind(("0.0.0.0", 0))
        .and_then(|s| {
            s.connect(("192.0.2.1", 80))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Target app id and raw method from the header, Basic auth or URL (in that order, as the
/// official runtime does).
fn find_target(path: &str, headers: &HeaderMap) -> Result<(String, String), ApiError> {
    if let Some(id) = headers
        .get(DAPR_APP_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
    {
        return Ok((id.to_owned(), path.to_owned()));
    }
    if let Some(id) = headers.get(header::AUTHORIZATION).and_then(basic_app_id) {
        return Ok((id, path.to_owned()));
    }
    let rest = path.trim_start_matches('/');
    let rest = rest
        .strip_prefix("v1.0/")
        .map(|r| r.trim_start_matches('/'));
    if let Some(rest) = rest.and_then(|r| r.strip_prefix("invoke/")) {
        let (id, method) = match rest.find("/method/") {
            Some(i) => (&rest[..i], &rest[i + "/method/".len()..]),
            None => match rest.strip_suffix("/method") {
                Some(id) => (id, ""),
                None => ("", ""),
            },
        };
        if !id.is_empty() {
            let id = urlencoding::decode(&id.replace('+', " "))
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| id.to_owned());
            if !id.is_empty() {
                return Ok((id, method.to_owned()));
            }
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        ERR_DIRECT_INVOKE,
        "failed getting app id either from the URL path or the header dapr-app-id",
    ))
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
fn basic_app_id(v: &HeaderValue) -> Option<String> {
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

fn is_too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut src = Some(e);
    while let Some(s) = src {
        if s.is::<BodyLimitExceeded>() || s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        src = s.source();
    }
    false
}

fn invoke_error(app_id: &str, detail: &dyn std::fmt::Display) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ERR_DIRECT_INVOKE,
        format!("failed to invoke, id: {app_id}, err: {detail}"),
    )
    .into_response()
}

fn too_large(max: usize) -> Response {
    ApiError::body_too_large(max).into_response()
}

/// The app's response as the caller gets it: status, headers minus hop-by-hop, body.
fn pass_through(mut res: http::Response<Body>) -> Response {
    strip_hop_by_hop(res.headers_mut());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn targets_from_url_header_and_basic_auth() {
        let none = HeaderMap::new();
        assert_eq!(
            find_target("/v1.0/invoke/app/method/a/b", &none).unwrap(),
            ("app".into(), "a/b".into())
        );
        assert_eq!(
            find_target("/v1.0/invoke/my%2Eapp/method/x", &none).unwrap(),
            ("my.app".into(), "x".into())
        );
        assert_eq!(
            find_target("/v1.0/invoke/app/method", &none).unwrap(),
            ("app".into(), "".into())
        );
        assert_eq!(
            find_target("/neworder", &h(&[("dapr-app-id", "node")])).unwrap(),
            ("node".into(), "/neworder".into())
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("dapr-app-id:py");
        let auth = h(&[("authorization", &format!("Basic {basic}"))]);
        assert_eq!(
            find_target("/x/y", &auth).unwrap(),
            ("py".into(), "/x/y".into())
        );
        let e = find_target("/foo", &none).unwrap_err();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert!(e.message.contains("dapr-app-id"));
        assert!(find_target("/v1.0/invoke//method/x", &none).is_err());
    }

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
}

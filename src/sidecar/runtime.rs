//! Start-up and shutdown of `daprd`, linkerd style: [`build`] reads the resources and plans
//! the components (every type and field checked before anything connects), binds every
//! port (failing early with the flag's name), then starts the components and the invoker
//! concurrently; [`Sidecar::run`] serves until SIGTERM/SIGINT (the caller's future) or
//! `POST /v1.0/shutdown`, then drains in-flight requests for
//! `--dapr-graceful-shutdown-seconds` and closes the components.
//!
//! Readiness follows upstream: `/v1.0/healthz/outbound` and `/v1.0/metadata` answer as soon
//! as the API listens; `/v1.0/healthz` turns 204 once the app port accepts connections (at
//! once without an app). The gRPC API (`api::grpc`) is served on `--dapr-grpc-port` next to
//! the HTTP API, with the same shutdown. Metrics are not served.
//!
//! With `--unix-domain-socket <dir>` the HTTP and gRPC APIs listen only on
//! `<dir>/dapr-<app-id>-http.socket` and `<dir>/dapr-<app-id>-grpc.socket` (the public and
//! internal gRPC ports stay TCP); a stale socket file nobody listens on is replaced, and the
//! socket files are removed when the sidecar stops (not after SIGKILL).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

use super::api::http::{self, HttpState};
use super::api::universal::Api;
use super::api::universal::health::ShutdownRequest;
use super::api::universal::metadata::{AppConnection, HealthInfo, SidecarInfo};
use super::app_channel::{self, AppChannel, AppSettings};
use super::components::{self, ComponentStore};
use super::config::Config;
use super::invoke::{InvokeConfig, Invoker};
use super::log::{self, scope};
use super::resiliency::Resiliency;
use super::resources;

/// A sidecar with every port bound, ready to [`run`](Sidecar::run).
pub struct Sidecar {
    cfg: Config,
    api: Arc<Api>,
    http: Arc<HttpState>,
    api_listeners: Vec<TcpListener>,
    public_listener: Option<TcpListener>,
    grpc_listeners: Vec<TcpListener>,
    /// `--unix-domain-socket`: the HTTP and gRPC API sockets, used instead of the TCP ones.
    unix: Option<UnixListeners>,
    invoker: Arc<Invoker>,
    started: Instant,
    /// Declarative subscriptions, served once the app is up.
    subscriptions: Vec<super::app_channel::events::TopicSubscription>,
}

/// The API sockets of `--unix-domain-socket`; their files go away with this value.
struct UnixListeners {
    http: UnixListener,
    grpc: UnixListener,
    files: SocketFiles,
}

/// Socket files this process created: removed on drop, so that a failed start-up or a
/// normal shutdown leaves nothing behind.
struct SocketFiles(Vec<PathBuf>);

impl SocketFiles {
    fn remove(&mut self) {
        for p in self.0.drain(..) {
            if let Err(e) = std::fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                log::warn(
                    scope::RUNTIME,
                    &format!("cannot remove socket {}: {e}", p.display()),
                );
            }
        }
    }
}

impl Drop for SocketFiles {
    fn drop(&mut self) {
        self.remove();
    }
}

fn socket_error(path: &Path, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow!(
        "failed to listen on {} (--unix-domain-socket): {why}",
        path.display()
    )
}

/// Binds a Unix socket at `path`. A socket file left by a sidecar that died is replaced;
/// one that still accepts connections, or a path that is not a socket, is an error.
fn bind_unix(path: &Path) -> anyhow::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(socket_error(
                    path,
                    "another process is already listening on it",
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| socket_error(path, format!("cannot remove the stale socket: {e}")))?;
        }
        Ok(_) => {
            return Err(socket_error(path, "the path exists and is not a socket"));
        }
        Err(_) => {}
    }
    UnixListener::bind(path).map_err(|e| socket_error(path, e))
}

/// Binds `<dir>/dapr-<app_id>-http.socket` and `<dir>/dapr-<app_id>-grpc.socket`.
fn bind_unix_api(dir: &Path, app_id: &str) -> anyhow::Result<UnixListeners> {
    let mut files = SocketFiles(Vec::new());
    let http_path = dir.join(format!("dapr-{app_id}-http.socket"));
    let http = bind_unix(&http_path)?;
    files.0.push(http_path);
    let grpc_path = dir.join(format!("dapr-{app_id}-grpc.socket"));
    let grpc = bind_unix(&grpc_path)?;
    files.0.push(grpc_path);
    Ok(UnixListeners { http, grpc, files })
}

fn listen_error(addr: SocketAddr, flag: &str, e: &std::io::Error) -> anyhow::Error {
    let why = match e.kind() {
        std::io::ErrorKind::AddrInUse => "address already in use".to_string(),
        std::io::ErrorKind::AddrNotAvailable => "address not available on this host".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    anyhow!("failed to listen on {addr} ({flag}): {why}")
}

/// Binds `port` on each address. The implicit `::1` of the loopback default is optional
/// (hosts without IPv6); every address given on the command line is required.
async fn bind_all(
    addrs: &[IpAddr],
    port: u16,
    flag: &str,
    optional_v6: bool,
) -> anyhow::Result<Vec<TcpListener>> {
    let mut out = Vec::with_capacity(addrs.len());
    for ip in addrs {
        let addr = SocketAddr::new(*ip, port);
        match TcpListener::bind(addr).await {
            Ok(l) => out.push(l),
            Err(e) if optional_v6 && ip.is_ipv6() => {
                log::debug(scope::RUNTIME, &format!("not listening on {addr}: {e}"));
            }
            Err(e) => return Err(listen_error(addr, flag, &e)),
        }
    }
    Ok(out)
}

/// Reads the resources, binds every port (failing early with the flag's name), then starts
/// the components and the invoker.
pub async fn build(cfg: Config, started: Instant) -> anyhow::Result<Sidecar> {
    log::info(
        scope::RUNTIME,
        &format!(
            "Starting Dapr Runtime -- version {} -- commit unknown",
            crate::VERSION
        ),
    );
    log::info(
        scope::RUNTIME,
        &format!("Log level set to: {}", cfg.log_level.as_str()),
    );
    log::info(scope::RUNTIME, &format!("app id: {}", cfg.app_id));
    log::info(
        scope::RUNTIME,
        "mTLS is disabled. Skipping certificate request and tls validation",
    );
    if cfg.api_logging {
        log::info(scope::RUNTIME, "API logging is enabled");
    }

    let loaded = resources::load(&cfg.resources_paths, &cfg.app_id).map_err(|e| anyhow!("{e}"))?;
    for f in &loaded.ignored_files {
        log::warn(
            scope::RUNTIME,
            &format!(
                "A non-YAML resource file {} was detected, it will not be loaded",
                f.display()
            ),
        );
    }
    let ctx = components::Context::new(&cfg.app_id);
    let plan = components::plan(loaded.components, &ctx).map_err(|e| anyhow!("{e}"))?;
    let subscriptions = loaded.subscriptions.into_iter().map(|s| s.spec).collect();
    for c in &plan.skipped {
        log::warn(
            scope::COMPONENTS,
            &format!(
                "component {} of type {} is not supported by this daprd yet; skipped",
                c.name, c.component_type
            ),
        );
    }
    let optional_v6 = cfg.default_listen_addresses;
    // As upstream, the sockets replace the TCP API ports (which are then not bound).
    let unix = match &cfg.unix_domain_socket {
        Some(dir) => Some(bind_unix_api(dir, &cfg.app_id)?),
        None => None,
    };
    let api_listeners = if unix.is_some() {
        Vec::new()
    } else {
        bind_all(
            &cfg.listen_addresses,
            cfg.http_port,
            "--dapr-http-port",
            optional_v6,
        )
        .await?
    };
    let public_listener = match cfg.public_port {
        Some(p) => Some(
            bind_all(&[cfg.public_listen_address], p, "--dapr-public-port", false)
                .await?
                .remove(0),
        ),
        None => None,
    };
    let grpc_listeners = if unix.is_some() {
        Vec::new()
    } else {
        bind_all(
            &cfg.listen_addresses,
            cfg.grpc_port,
            "--dapr-grpc-port",
            optional_v6,
        )
        .await?
    };

    // The app channel and the resiliency policies every outbound call asks for.
    let resiliency = Resiliency::default();
    let channel = AppChannel::new(
        &AppSettings {
            port: cfg.app_port,
            address: cfg.app_channel_address.clone(),
            protocol: cfg.app_protocol.clone(),
            token: cfg.app_api_token.clone(),
            max_concurrency: cfg.app_max_concurrency,
            max_body_size: cfg.max_body_size,
        },
        resiliency.clone(),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let channel = Arc::new(channel);

    // Component start-up and the invoker's (name resolution) overlap.
    let invoke_cfg = InvokeConfig {
        app_id: cfg.app_id.clone(),
        namespace: cfg.namespace.clone(),
        internal_port: cfg.internal_grpc_port,
        internal_listen_address: cfg.internal_grpc_listen_address,
        max_body_size: cfg.max_body_size,
        api_token: cfg.api_token.clone(),
        name_resolution: cfg.configuration.name_resolution.clone(),
    };
    let (components, invoker) = tokio::join!(
        ComponentStore::start(plan, &ctx),
        Invoker::bind(invoke_cfg, channel, resiliency.clone())
    );
    let invoker = invoker.map_err(|e| anyhow!("{e}"))?;
    let components = match components {
        Ok(c) => c,
        Err(e) => {
            // Do not leave this instance advertised when start-up fails.
            invoker.deregister().await;
            return Err(anyhow!("{e}"));
        }
    };
    // The official runtime's milestone once every component has been initialised; the
    // official CLI's run-file tests look for it in the sidecar log.
    log::info(scope::RUNTIME, "All outstanding components processed");
    let invoker = Arc::new(invoker);

    let health = cfg.app_health.as_ref().map(|h| HealthInfo {
        path: h.path.clone(),
        interval: format!("{}s", h.interval.as_secs()),
        timeout: format!("{}ms", h.timeout.as_millis()),
        threshold: h.threshold,
    });
    let mut api = Api::new(
        SidecarInfo {
            app_id: cfg.app_id.clone(),
            runtime_version: crate::VERSION.to_string(),
            enabled_features: cfg.configuration.enabled_features.clone(),
            app_connection: AppConnection {
                port: cfg.app_port,
                protocol: cfg.app_protocol.clone(),
                channel_address: cfg.app_channel_address.clone(),
                max_concurrency: cfg.app_max_concurrency,
                health,
            },
        },
        Arc::new(components),
        Some(invoker.clone()),
        resiliency,
    );
    api.secrets
        .set_scopes(cfg.configuration.secret_scopes.clone());
    let api = Arc::new(api);
    let http = Arc::new(HttpState {
        api: api.clone(),
        max_body_size: cfg.max_body_size,
        max_header_bytes: cfg.read_buffer_size + 4096,
        api_token: cfg.api_token.clone(),
        api_logging: cfg.api_logging,
        api_logging_omit_health_checks: cfg.configuration.api_logging_omit_health_checks,
        allowed_origins: cfg.allowed_origins.clone(),
    });
    Ok(Sidecar {
        cfg,
        api,
        http,
        api_listeners,
        public_listener,
        grpc_listeners,
        unix,
        invoker,
        started,
        subscriptions,
    })
}

async fn wait_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// Serves the HTTP API `router` on one listener until `stop` turns true.
fn serve<L: super::server::Accept>(
    listener: L,
    router: axum::Router,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(super::server::serve_http(listener, router, wait_true(stop)))
}

/// Serves the gRPC API (`api::grpc`) on one listener until shutdown.
fn serve_grpc(
    listener: super::api::grpc::GrpcListener,
    cfg: &Config,
    api: &Arc<Api>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let settings = super::api::grpc::GrpcSettings {
        max_msg: cfg.max_body_size,
        api_token: cfg.api_token.clone(),
        api_logging: cfg.api_logging,
    };
    let serving = super::api::grpc::serve_with(api.clone(), listener, settings, wait_true(stop));
    tokio::spawn(async move {
        if let Err(e) = serving.await {
            log::error(scope::RUNTIME, &format!("gRPC API server failed: {e}"));
        }
    })
}

impl Sidecar {
    /// The HTTP API port actually bound.
    pub fn http_port(&self) -> u16 {
        self.cfg.http_port
    }

    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    /// Serves until `shutdown` resolves or the API asks to stop, then drains. A forced
    /// shutdown (`dapr-force-shutdown: true`) exits the process with code 1.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Sidecar {
            cfg,
            api,
            http,
            api_listeners,
            public_listener,
            grpc_listeners,
            unix,
            invoker,
            started,
            subscriptions,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut servers = Vec::new();
        let router = http::router(http.clone());
        let (unix_grpc, mut socket_files) = match unix {
            Some(UnixListeners { http, grpc, files }) => {
                servers.push(serve(http, router.clone(), stop_rx.clone()));
                log::info(
                    scope::HTTP,
                    &format!(
                        "HTTP server listening on UNIX socket: {}",
                        files.0[0].display()
                    ),
                );
                (Some(grpc), files)
            }
            None => (None, SocketFiles(Vec::new())),
        };
        for l in api_listeners {
            servers.push(serve(l, router.clone(), stop_rx.clone()));
        }
        if unix_grpc.is_none() {
            log::info(
                scope::RUNTIME,
                &format!("HTTP server is running on port {}", cfg.http_port),
            );
        }
        log::info(
            scope::RUNTIME,
            &format!("The request body size parameter is: {}", cfg.max_body_size),
        );
        if let Some(l) = public_listener {
            let port = l.local_addr().map(|a| a.port()).unwrap_or_default();
            servers.push(serve(l, http::public_router(http.clone()), stop_rx.clone()));
            log::info(
                scope::RUNTIME,
                &format!("Public HTTP server is running on port {port}"),
            );
        }
        let mut reserved: Vec<_> = grpc_listeners
            .into_iter()
            .map(|l| serve_grpc(l.into(), &cfg, &api, stop_rx.clone()))
            .collect();
        if let Some(l) = unix_grpc {
            reserved.push(serve_grpc(l.into(), &cfg, &api, stop_rx.clone()));
            log::info(
                scope::RUNTIME,
                &format!(
                    "gRPC server listening on UNIX socket: {}",
                    socket_files.0[1].display()
                ),
            );
        } else {
            log::info(
                scope::RUNTIME,
                &format!("API gRPC server is running on port {}", cfg.grpc_port),
            );
        }
        let internal = {
            let inv = invoker.clone();
            let stop = wait_true(stop_rx.clone());
            tokio::spawn(async move {
                if let Err(e) = inv.serve_internal(stop).await {
                    log::error(scope::RUNTIME, &format!("internal server failed: {e}"));
                }
            })
        };
        log::info(
            scope::RUNTIME,
            // The official runtime (1.14 and later) words this line with `:<port>`; the
            // official CLI's end-to-end tests look for exactly that.
            &format!(
                "Internal gRPC server is running on :{}",
                invoker.internal_port()
            ),
        );
        api.health.set_outbound_ready();
        // Workflow instances left running resume; their work waits for a worker.
        api.workflow_engine().run().await;

        let readiness = {
            let api = api.clone();
            let channel = invoker.channel().clone();
            let cfg = cfg.clone();
            tokio::spawn(async move {
                if let Some(port) = cfg.app_port {
                    log::info(
                        scope::RUNTIME,
                        &format!(
                            "application protocol: {}. waiting on port {port}.  This will block until the app is listening on that port.",
                            cfg.app_protocol
                        ),
                    );
                    app_channel::health::wait_for_app(&channel).await;
                    log::info(
                        scope::RUNTIME,
                        &format!("application discovered on port {port}"),
                    );
                }
                // The actor runtime reads the app's `/dapr/config` first, as upstream.
                api.actors.runtime().start().await;
                // Job triggers once the app is there (reminders once the actor runtime
                // names its target).
                api.scheduler()
                    .start(Arc::new(app_channel::jobs::AppJobs(channel.clone())));
                // Subscriptions are served before the sidecar reports ready, as upstream.
                api.pubsub
                    .runtime()
                    .start_app_subscriptions(subscriptions)
                    .await;
                api.bindings.runtime().start_inputs().await;
                api.health.set_ready();
                log::info(
                    scope::RUNTIME,
                    &format!(
                        "dapr initialized. Status: Running. Init Elapsed {}ms",
                        started.elapsed().as_millis()
                    ),
                );
                if let Some(h) = cfg.app_health.clone() {
                    app_channel::health::watch(channel, h, cfg.app_api_token.clone()).await;
                }
            })
        };

        let forced = tokio::select! {
            _ = shutdown => false,
            how = api.health.shutdown_requested() => how == ShutdownRequest::Force,
        };
        if forced {
            log::warn(
                scope::RUNTIME,
                "Shutdown forced through the API; exiting with code 1",
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            // `exit` runs no destructors.
            socket_files.remove();
            std::process::exit(1);
        }
        log::info(scope::RUNTIME, "Dapr shutting down");
        readiness.abort();
        // No new messages; those in flight reach the app before anything else stops.
        api.pubsub.runtime().close().await;
        api.bindings.runtime().close().await;
        // No new job or reminder triggers; deliveries in progress may finish.
        api.scheduler()
            .close(cfg.graceful_shutdown.min(Duration::from_secs(5)))
            .await;
        api.actors.runtime().close().await;
        // Workers' work-item streams end, so the gRPC server can drain.
        api.workflow_engine().close();
        invoker.deregister().await;
        let _ = stop_tx.send(true);
        let grace = cfg.graceful_shutdown;
        let drain =
            futures_util::future::join_all(servers.into_iter().chain(reserved).chain([internal]));
        if tokio::time::timeout(grace, drain).await.is_err() {
            log::warn(
                scope::RUNTIME,
                &format!(
                    "in-flight requests did not finish within {}s; closing",
                    grace.as_secs()
                ),
            );
        }
        api.components().close().await;
        socket_files.remove();
        log::info(scope::RUNTIME, "Dapr runtime stopped");
        Ok(())
    }
}

/// SIGTERM or SIGINT. The handlers are installed when this is called (so a signal during
/// start-up is not lost); the future resolves on the first signal.
pub fn signals() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (mut term, mut int) = match handlers {
            (Ok(t), Ok(i)) => (t, i),
            _ => return std::future::pending().await,
        };
        let name = tokio::select! {
            _ = term.recv() => "terminated",
            _ = int.recv() => "interrupt",
        };
        log::info(
            scope::RUNTIME,
            &format!("Received signal '{name}'; beginning shutdown"),
        );
    }
}

/// The whole life of `daprd` after flag parsing: returns the process exit code.
pub fn main(cfg: Config) -> i32 {
    let started = Instant::now();
    if let Err(e) = log::init(
        cfg.log_level,
        cfg.log_as_json,
        &cfg.app_id,
        cfg.log_file.as_deref(),
    ) {
        log::fatal(scope::RUNTIME, &format!("--log-file: {e}"));
        return 1;
    }
    match crate::limits::raise_open_file_limit() {
        Some(limit) => log::debug(scope::RUNTIME, &format!("open file limit: {limit}")),
        None => log::warn(scope::RUNTIME, "cannot read the open file limit"),
    }
    // One thread serves the API: a sidecar's work is short I/O-bound requests, and a small
    // runtime keeps the idle footprint low. Blocking store calls use the blocking pool.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(8)
        .thread_keep_alive(Duration::from_secs(10))
        .build()
        .context("cannot start the async runtime")
    {
        Ok(rt) => rt,
        Err(e) => {
            log::fatal(scope::RUNTIME, &format!("{e:#}"));
            return 1;
        }
    };
    rt.block_on(async move {
        let signalled = signals();
        let sidecar = match build(cfg, started).await {
            Ok(s) => s,
            Err(e) => {
                log::fatal(scope::RUNTIME, &format!("{e:#}"));
                return 1;
            }
        };
        match sidecar.run(signalled).await {
            Ok(()) => 0,
            Err(e) => {
                log::fatal(scope::RUNTIME, &format!("{e:#}"));
                1
            }
        }
    })
}

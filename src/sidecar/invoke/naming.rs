//! Name resolution for invocation: this sidecar's row in the shared registry (registered
//! at bind, refreshed by a heartbeat while serving, removed on shutdown), opening the
//! registry named by the Configuration (or the default file in the install directory), and
//! the `X-Forwarded-*`/`Forwarded` values describing this host.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::headers::{FORWARDED, X_FORWARDED_FOR, X_FORWARDED_HOST};
use super::resolver::{Registry, RegistrySettings, ResolverError};
use super::{InvokeError, Invoker};
use crate::sidecar::log;

/// The log scope of name-resolution messages (the official component's).
const SCOPE: &str = "dapr.contrib";

/// The install directory `dapr run` started us from (`DAPR_RUNTIME_PATH`, which the CLI
/// passes on), else `$HOME`: the registry lives under it, so that an install under
/// `--runtime-path` leaves `~/.dapr` alone.
pub fn install_dir() -> Option<PathBuf> {
    ["DAPR_RUNTIME_PATH", "HOME"]
        .iter()
        .filter_map(std::env::var_os)
        .find(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::home_dir)
}

/// Precomputed `X-Forwarded-*`/`Forwarded` values describing this host.
pub struct Forwarded {
    xff: HeaderValue,
    xfh: HeaderValue,
    fwd: HeaderValue,
}

impl Invoker {
    fn row(&self) -> (String, String, String) {
        (
            self.app_id.clone(),
            self.namespace.clone(),
            self.advertise.clone(),
        )
    }

    pub(super) async fn register(&self) {
        let reg = self.registry.clone();
        let (id, ns, addr) = self.row();
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

    pub(super) fn start_heartbeat(&self) {
        let reg = self.registry.clone();
        let (id, ns, addr) = self.row();
        let every = refresh_period(reg.settings().update_interval);
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
}

/// How often this sidecar's row is refreshed: two seconds within the update interval (the
/// official resolver, which counts whole seconds, ignores rows older than one interval and
/// refreshes its own one second within it), at least every second.
fn refresh_period(interval: Duration) -> Duration {
    interval
        .saturating_sub(Duration::from_secs(2))
        .max(Duration::from_secs(1))
        .min(interval.max(Duration::from_millis(100)))
}

/// Opens the shared registry. When the default file (under HOME) cannot be used, the
/// sidecar still starts, with a private in-memory registry and a warning: state, pub/sub and
/// self-invocation keep working. A file named in the Configuration must open.
pub async fn open_registry(
    value: Option<&serde_json::Value>,
    home: Option<std::path::PathBuf>,
) -> Result<(Registry, Option<String>), InvokeError> {
    let explicit = value
        .and_then(|v| v.get("configuration"))
        .and_then(|c| c.get("connectionString"))
        .and_then(|s| s.as_str())
        .is_some_and(|s| !s.trim().is_empty());
    let open = |settings: RegistrySettings| async move {
        tokio::task::spawn_blocking(move || Registry::open(settings))
            .await
            .map_err(|e| InvokeError::Flag {
                flag: "spec.nameResolution",
                message: e.to_string(),
            })?
            .map_err(InvokeError::from)
    };
    let failure = match RegistrySettings::from_config(value, home) {
        Ok(settings) => match open(settings).await {
            Ok(r) => return Ok((r, None)),
            Err(InvokeError::Resolver(e)) if !explicit => e,
            Err(e) => return Err(e),
        },
        Err(e @ ResolverError::NoHome) => e,
        Err(e) => return Err(e.into()),
    };
    let why = failure.to_string();
    log::warn(
        SCOPE,
        &format!("name resolution: {why}; other sidecars cannot find this one, nor it them"),
    );
    Ok((open(RegistrySettings::in_memory()).await?, Some(why)))
}

impl Forwarded {
    pub fn for_this_host() -> Forwarded {
        let ip = host_ip();
        let host = log::hostname();
        let hv = |s: String| {
            HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
        };
        Forwarded {
            xff: hv(ip.to_string()),
            xfh: hv(host.clone()),
            fwd: hv(format!("for={ip};by={ip};host={host}")),
        }
    }

    pub fn add(&self, h: &mut HeaderMap) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_refreshed_before_the_official_resolver_drops_them() {
        assert_eq!(
            refresh_period(Duration::from_secs(5)),
            Duration::from_secs(3)
        );
        assert_eq!(
            refresh_period(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
        assert_eq!(
            refresh_period(Duration::from_millis(500)),
            Duration::from_millis(500)
        );
    }
}

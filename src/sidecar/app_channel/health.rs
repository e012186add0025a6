//! App health: waiting for the app port at start-up, and the periodic probe of
//! `--enable-app-health-check` (HTTP apps: `GET <path>`, 2xx = healthy, over HTTP/2 for
//! `h2c` apps; gRPC apps:
//! `AppCallbackHealthCheck.HealthCheck`, OK = healthy, `--app-health-probe-path` unused as
//! upstream; the app turns unhealthy after `--app-health-threshold` consecutive failures
//! and healthy again on the first success). While the app is unhealthy the channel refuses
//! calls.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::AppChannel;
use crate::sidecar::config::AppHealth;
use crate::sidecar::log::{self, scope};

/// `(host, port)` of an authority such as `127.0.0.1:3000` or `[::1]:3000`.
fn host_port(authority: &str) -> Option<(String, u16)> {
    let target = authority.trim_start_matches('[').replace("]:", ":");
    let (host, port) = target.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

/// Returns once the app port accepts TCP connections (100 ms between tries, 500 ms per
/// dial); at once when there is no app.
pub async fn wait_for_app(channel: &AppChannel) {
    let Some((host, port)) = channel.authority().and_then(host_port) else {
        return;
    };
    loop {
        let dial = TcpStream::connect((host.as_str(), port));
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), dial).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Probes the app forever, marking the channel healthy or unhealthy (log lines on each
/// change). Returns at once when there is no app.
pub async fn watch(channel: Arc<AppChannel>, h: AppHealth, token: Option<String>) {
    let Some((host, port)) = channel.authority().and_then(host_port) else {
        return;
    };
    let mut failures = 0u32;
    let mut healthy = true;
    let mut tick = tokio::time::interval(h.interval);
    loop {
        tick.tick().await;
        let ok = match (channel.grpc_app(), channel.http_app()) {
            (Some(g), _) => g.health_check(h.timeout).await,
            (None, Some(a)) if a.is_h2c() => a.probe(&h.path, h.timeout).await,
            _ => probe(&host, port, &h.path, token.as_deref(), h.timeout).await,
        };
        failures = if ok { 0 } else { failures + 1 };
        let now = ok || (healthy && failures < h.threshold);
        if now != healthy {
            healthy = now;
            channel.set_healthy(healthy);
            let status = if healthy { "healthy" } else { "unhealthy" };
            log::info(scope::HEALTH, &format!("App entered {status} status"));
        }
    }
}

/// One `GET <path>` against the app; 2xx = healthy.
async fn probe(host: &str, port: u16, path: &str, token: Option<&str>, timeout: Duration) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect((host, port)).await.ok()?;
        let auth = token
            .map(|t| format!("dapr-api-token: {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: dapr\r\n{auth}Connection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.ok()?;
        Some(buf.starts_with(b"HTTP/1.") && buf[9] == b'2')
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(host_port("127.0.0.1:80"), Some(("127.0.0.1".into(), 80)));
        assert_eq!(host_port("[::1]:8080"), Some(("::1".into(), 8080)));
        assert_eq!(host_port("nohost"), None);
    }
}

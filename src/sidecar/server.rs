//! Serving connections with the limits a network server every app talks to needs:
//!
//! * an accept loop that survives running out of file descriptors: `EMFILE`/`ENFILE` are
//!   logged (at most every 10 s, naming the limit) and accepting pauses briefly instead of
//!   spinning or giving up;
//! * HTTP/1.1 and h2c on one port, with a deadline for a request's headers (10 s, as the
//!   official server's `ReadHeaderTimeout`; it also closes keep-alive connections idle that
//!   long), and no cap on the number of headers beyond the total header size the API's edge
//!   enforces (`--read-buffer-size`), as the official server;
//! * graceful shutdown: stop accepting, let open connections finish.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use super::log::{self, scope};

/// How long a client may take to send a request's headers (and a keep-alive connection
/// may sit idle) before the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The header count hyper allows is a stack buffer of 100; the API limits the total header
/// size instead (`--read-buffer-size`, checked at the edge), so the count only needs to
/// admit every request that fits in that size.
const MAX_HEADERS: usize = 8192;

/// Open connections are given this long to finish after shutdown begins (the caller's
/// grace period bounds it too).
const DRAIN: Duration = Duration::from_secs(5);

/// A listener this module can accept connections from.
pub trait Accept: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&self) -> impl Future<Output = io::Result<Self::Io>> + Send;
    /// What to call the listener in log lines.
    fn describe(&self) -> String;
}

impl Accept for TcpListener {
    type Io = tokio::net::TcpStream;
    async fn accept(&self) -> io::Result<Self::Io> {
        let (s, _) = TcpListener::accept(self).await?;
        let _ = s.set_nodelay(true);
        Ok(s)
    }
    fn describe(&self) -> String {
        self.local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "a TCP port".into())
    }
}

impl Accept for UnixListener {
    type Io = tokio::net::UnixStream;
    async fn accept(&self) -> io::Result<Self::Io> {
        UnixListener::accept(self).await.map(|(s, _)| s)
    }
    fn describe(&self) -> String {
        self.local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
            .unwrap_or_else(|| "a Unix socket".into())
    }
}

/// Whether an accept error means this process or the system ran out of descriptors.
fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE (this process) and ENFILE (the system).
    matches!(e.raw_os_error(), Some(24) | Some(23))
}

/// The connections `listener` accepts, as a stream that never ends and never fails:
/// descriptor exhaustion is logged once per episode and waited out, other accept errors (a
/// connection reset before it was accepted, ...) skipped. Both API servers take their
/// connections from here.
pub fn incoming<L: Accept>(
    listener: L,
) -> impl futures_util::Stream<Item = io::Result<L::Io>> + Send + 'static {
    // When the last warning was logged: one per episode of exhaustion, at most every 10 s.
    let warned: Option<Instant> = None;
    futures_util::stream::unfold((listener, warned), |(listener, mut warned)| async move {
        loop {
            match listener.accept().await {
                Ok(io) => return Some((Ok(io), (listener, warned))),
                Err(e) if out_of_descriptors(&e) => {
                    if warned.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        warned = Some(Instant::now());
                        let limit = crate::limits::open_file_limit()
                            .map_or("unknown".to_string(), |(soft, _)| soft.to_string());
                        log::warn(
                            scope::RUNTIME,
                            &format!(
                                "cannot accept connections on {}: {e} (open file limit {limit}); \
                                 new connections wait until descriptors are freed",
                                listener.describe()
                            ),
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    })
}

/// Serves `router` (HTTP/1.1 and h2c) on `listener` until `shutdown`, then drains.
pub async fn serve_http<L: Accept>(
    listener: L,
    router: axum::Router,
    shutdown: impl Future<Output = ()>,
) {
    let svc = super::api::http::service(router);
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(MAX_HEADERS);
    builder.http2().timer(TokioTimer::new());
    let mut connections = Box::pin(incoming(listener));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let io = tokio::select! {
            Some(Ok(io)) = futures_util::StreamExt::next(&mut connections) => io,
            _ = &mut shutdown => break,
        };
        let hyper_svc = TowerToHyperService::new(tower::ServiceExt::map_request(
            svc.clone(),
            |req: http::Request<hyper::body::Incoming>| -> Request { req.map(Body::new) },
        ));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), hyper_svc)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    // Stop listening at once (new clients are refused, not left hanging), then drain.
    drop(connections);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_exhaustion_is_recognised() {
        assert!(out_of_descriptors(&io::Error::from_raw_os_error(24)));
        assert!(out_of_descriptors(&io::Error::from_raw_os_error(23)));
        assert!(!out_of_descriptors(&io::Error::from_raw_os_error(104)));
    }
}

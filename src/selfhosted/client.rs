//! A tiny blocking HTTP/1.1 client for talking to local sidecars (`list`, `invoke`,
//! `publish`): over TCP to `127.0.0.1:<port>` or over a Unix domain socket.
//!
//! Why not reqwest: `dapr list` probes every sidecar's `/v1.0/metadata` and must stay fast;
//! a plain socket per request costs microseconds, a reqwest client (with its own runtime
//! thread) costs milliseconds. Limits: loopback only, no TLS, no redirects, no keep-alive
//! (`Connection: close`); understands `Content-Length`, chunked and read-to-EOF bodies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// Where a sidecar's HTTP API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp(u16),
    Unix(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..400).contains(&self.status)
    }

    /// `404 Not Found`, as Go's `http.Response.Status` reads.
    pub fn status_text(&self) -> String {
        if self.reason.is_empty() {
            self.status.to_string()
        } else {
            format!("{} {}", self.status, self.reason)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Go's wording: `dial unix /tmp/dapr-x-http.socket: connect: no such file or directory`.
    #[error("dial {0}: connect: {1}")]
    Connect(String, String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn connect_error(what: String, e: std::io::Error) -> ClientError {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    ClientError::Connect(what, why)
}

fn connect(target: &Target, timeout: Duration) -> Result<Box<dyn Stream>, ClientError> {
    match target {
        Target::Tcp(port) => {
            let addr = SocketAddr::from(([127, 0, 0, 1], *port));
            let s = TcpStream::connect_timeout(&addr, timeout)
                .map_err(|e| connect_error(format!("tcp {addr}"), e))?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            let _ = s.set_nodelay(true);
            Ok(Box::new(s))
        }
        #[cfg(unix)]
        Target::Unix(path) => {
            let s = std::os::unix::net::UnixStream::connect(path)
                .map_err(|e| connect_error(format!("unix {}", path.display()), e))?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            Ok(Box::new(s))
        }
        #[cfg(not(unix))]
        Target::Unix(_) => Err(ClientError::Malformed(
            "unix domain sockets are not supported".into(),
        )),
    }
}

/// Send one request and read the whole response. `timeout` bounds the connect and every
/// read or write (not the whole exchange).
pub fn request(
    target: &Target,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, ClientError> {
    let mut stream = connect(target, timeout)?;
    let mut head =
        format!("{method} {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let sent = stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .and_then(|_| stream.flush());
    match sent {
        Ok(()) => read_response(BufReader::new(stream), method == "HEAD"),
        // The server may answer before reading everything (e.g. a body over its limit) and
        // close: its answer says why, where the failed write only says "broken pipe".
        Err(e) => read_response(BufReader::new(stream), method == "HEAD").map_err(|_| e.into()),
    }
}

fn read_response<R: Read>(mut r: BufReader<R>, head_only: bool) -> Result<Response, ClientError> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.trim_end().splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/") {
        return Err(ClientError::Malformed(format!(
            "status line {:?}",
            line.trim_end()
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ClientError::Malformed(format!("status line {:?}", line.trim_end())))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(ClientError::Malformed("headers ended early".into()));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse().ok();
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        // no body
    } else if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size_str = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size_str, 16)
                .map_err(|_| ClientError::Malformed(format!("chunk size {size_str:?}")))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(Response {
        status,
        reason,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_read_like_go() {
        let connect_error = |target: &Target| {
            request(target, "GET", "/", &[], b"", Duration::from_secs(1))
                .unwrap_err()
                .to_string()
        };
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("dapr-x-http.socket");
        assert_eq!(
            connect_error(&Target::Unix(sock.clone())),
            format!(
                "dial unix {}: connect: no such file or directory",
                sock.display()
            )
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert_eq!(
            connect_error(&Target::Tcp(port)),
            format!("dial tcp 127.0.0.1:{port}: connect: connection refused")
        );
    }

    #[test]
    fn parses_chunked_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = read_response(BufReader::new(&raw[..]), false).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
    }

    #[test]
    fn parses_content_length_and_reason() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nnoEXTRA";
        let r = read_response(BufReader::new(&raw[..]), false).unwrap();
        assert_eq!(r.status_text(), "404 Not Found");
        assert_eq!(r.body, b"no");
    }
}

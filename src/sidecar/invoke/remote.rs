//! The caller side of the sidecar-to-sidecar hop, under the resiliency policy for the
//! target sidecar. A try that cannot connect is retried: the registry is read again (a dead
//! sidecar's row is ignored there) and an instance that has not failed yet is tried at
//! once; the policy's pause applies only when every instance has failed. Small bodies are
//! buffered so they can be sent again; larger or unsized ones stream and are not retried.

use std::sync::Mutex;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::BodyExt;
use hyper::body::Body as _;

use super::Invoker;
use super::headers::{INTERNAL_ERROR, take_grpc_reply};
use super::official;
use super::resolver::{Cached, Peer, ResolverError};
use crate::sidecar::api::error::{ApiError, ErrorKind};
use crate::sidecar::app_channel::ChannelError;
use crate::sidecar::app_channel::http::{build_uri, map_client_error};
use crate::sidecar::body::is_too_large;
use crate::sidecar::messages::{InvokeRequest, InvokeResponse};
use crate::sidecar::resiliency::{Outcome, Target, Try};

/// Bodies up to this size are buffered before a remote call so a connection failure can be
/// retried; larger or unsized bodies are streamed and not retried.
const REPLAY_MAX: u64 = 64 * 1024;

/// One remote call's fixed parts and what its tries share.
struct Call<'a> {
    app_id: &'a str,
    namespace: &'a str,
    method: &'a str,
    query: Option<&'a str>,
    verb: &'a Method,
    headers: &'a HeaderMap,
    replay: Option<Bytes>,
    stream: Mutex<Option<Body>>,
    /// Addresses that refused a connection during this call.
    failed: Mutex<Vec<String>>,
}

impl Invoker {
    /// Sends `req` to a sidecar of `app_id` in `namespace`.
    pub(super) async fn call_remote(
        &self,
        app_id: &str,
        namespace: &str,
        req: InvokeRequest,
    ) -> Result<InvokeResponse, ApiError> {
        let InvokeRequest {
            method,
            verb,
            query,
            metadata,
            body,
        } = req;
        let (replay, stream) = match body.size_hint().exact() {
            Some(0) => (Some(Bytes::new()), None),
            Some(n) if n <= REPLAY_MAX => match body.collect().await {
                Ok(c) => (Some(c.to_bytes()), None),
                Err(e) if is_too_large(&e) => {
                    return Err(ApiError::body_too_large(self.max_body));
                }
                Err(e) => {
                    return Err(ApiError::direct_invoke(
                        app_id,
                        format_args!("reading request body: {e}"),
                    ));
                }
            },
            _ => (None, Some(body)),
        };
        let call = Call {
            app_id,
            namespace,
            method: &method,
            query: query.as_deref(),
            verb: &verb,
            headers: &metadata,
            replay,
            stream: Mutex::new(stream),
            failed: Mutex::new(Vec::new()),
        };
        let policy = self.resiliency.policy(Target::Sidecar(app_id));
        let call = &call;
        policy.run(|t| self.try_remote(t, call)).await
    }

    async fn try_remote(&self, t: Try, call: &Call<'_>) -> Outcome<InvokeResponse, ApiError> {
        let fail = |detail: &dyn std::fmt::Display| ApiError::direct_invoke(call.app_id, detail);
        let peer = match self.pick(&t, call).await {
            Ok(p) => p,
            Err(e) => return Outcome::Done(Err(e)),
        };
        if peer.official {
            return self.try_official(call, peer.address).await;
        }
        let addr = peer.address;
        let uri = match build_uri(&addr, call.method, call.query) {
            Ok(u) => u,
            Err(e) => return Outcome::Done(Err(fail(&e))),
        };
        let stream = call.stream.lock().unwrap_or_else(|p| p.into_inner()).take();
        let body = match (&call.replay, stream) {
            (Some(b), _) => Body::from(b.clone()),
            (None, Some(b)) => b,
            (None, None) => return Outcome::Done(Err(fail(&"the request body was already sent"))),
        };
        let mut req = http::Request::new(body);
        *req.method_mut() = call.verb.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = call.headers.clone();
        match self.client.request(req).await {
            Ok(mut res) => match res.headers_mut().remove(INTERNAL_ERROR) {
                None => Outcome::Done(self.reply(call.app_id, res).map(|mut r| {
                    r.grpc = take_grpc_reply(&mut r.metadata).map(Box::new);
                    r
                })),
                Some(kind) if kind == "wrong-target" => {
                    // The address now belongs to another sidecar: stale registration.
                    self.cache.invalidate(call.app_id, call.namespace);
                    self.failed(call, addr.clone());
                    Outcome::Retry(fail(&format_args!(
                        "no sidecar for app {} at {addr}",
                        call.app_id
                    )))
                }
                Some(kind) => Outcome::Done(Err(hop_error(call.app_id, &kind, res).await)),
            },
            Err(e) => {
                let connect = e.is_connect();
                let err = map_client_error(&e);
                if let ChannelError::RequestTooLarge(_) = err {
                    return Outcome::Done(Err(ApiError::body_too_large(self.max_body)));
                }
                if !connect || call.replay.is_none() {
                    return Outcome::Done(Err(fail(&err)));
                }
                self.cache.invalidate(call.app_id, call.namespace);
                self.failed(call, addr);
                Outcome::Retry(fail(&err))
            }
        }
    }

    /// A try towards an official sidecar, with its own protocol. The body is sent whole, so
    /// a streamed one is read first (and kept for another try).
    async fn try_official(
        &self,
        call: &Call<'_>,
        addr: String,
    ) -> Outcome<InvokeResponse, ApiError> {
        let fail = |detail: &dyn std::fmt::Display| ApiError::direct_invoke(call.app_id, detail);
        let body = match &call.replay {
            Some(b) => b.clone(),
            None => {
                let stream = call.stream.lock().unwrap_or_else(|p| p.into_inner()).take();
                let Some(stream) = stream else {
                    return Outcome::Done(Err(fail(&"the request body was already sent")));
                };
                let bytes = match stream.collect().await {
                    Ok(c) => c.to_bytes(),
                    Err(e) if is_too_large(&e) => {
                        return Outcome::Done(Err(ApiError::body_too_large(self.max_body)));
                    }
                    Err(e) => {
                        return Outcome::Done(Err(fail(&format_args!(
                            "reading request body: {e}"
                        ))));
                    }
                };
                *call.stream.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(Body::from(bytes.clone()));
                bytes
            }
        };
        let out = official::client::Call {
            app_id: call.app_id,
            method: call.method,
            query: call.query,
            verb: call.verb,
            headers: call.headers,
            body,
        };
        match official::client::call(&self.official, &addr, out, self.max_body).await {
            Ok(r) => Outcome::Done(Ok(r)),
            Err(official::client::Failure::Connect(e)) => {
                self.official.forget(&addr);
                self.cache.invalidate(call.app_id, call.namespace);
                self.failed(call, addr);
                Outcome::Retry(fail(&e))
            }
            Err(f) => Outcome::Done(Err(fail(&f.detail()))),
        }
    }

    fn failed(&self, call: &Call<'_>, addr: String) {
        call.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(addr);
    }

    /// The address to try: from the cache the first time; later from the registry, an
    /// instance that has not failed yet if there is one (else after the policy's pause).
    async fn pick(&self, t: &Try, call: &Call<'_>) -> Result<Peer, ApiError> {
        let (app_id, namespace) = (call.app_id, call.namespace);
        let fail = |detail: &dyn std::fmt::Display| ApiError::direct_invoke(app_id, detail);
        if t.number == 0 {
            return match self.resolve(app_id, namespace).await {
                Ok(Some(a)) => Ok(a),
                Ok(None) => Err(match &self.registry_unavailable {
                    None => fail(&format_args!("couldn't find service: {app_id}")),
                    Some(why) => fail(&format_args!(
                        "couldn't find service: {app_id} (name resolution is unavailable: {why})"
                    )),
                }),
                Err(e) => Err(fail(&e)),
            };
        }
        let addrs = self.lookup(app_id, namespace).await.map_err(|e| fail(&e))?;
        if addrs.is_empty() {
            return Err(fail(&format_args!("couldn't find service: {app_id}")));
        }
        let untried: Vec<Peer> = {
            let failed = call.failed.lock().unwrap_or_else(|p| p.into_inner());
            addrs
                .iter()
                .filter(|a| !failed.contains(&a.address))
                .cloned()
                .collect()
        };
        let pick = if untried.is_empty() {
            t.pause().await;
            self.cache.put(app_id, namespace, addrs)
        } else {
            self.cache.put(app_id, namespace, untried)
        };
        pick.ok_or_else(|| fail(&format_args!("couldn't find service: {app_id}")))
    }

    /// An address of a sidecar of `app_id` (round robin), from the cache when possible.
    async fn resolve(&self, app_id: &str, namespace: &str) -> Result<Option<Peer>, ResolverError> {
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
    async fn lookup(&self, app_id: &str, namespace: &str) -> Result<Vec<Peer>, ResolverError> {
        let reg = self.registry.clone();
        let (id, ns) = (app_id.to_owned(), namespace.to_owned());
        tokio::task::spawn_blocking(move || reg.lookup(&id, &ns))
            .await
            .map_err(|e| ResolverError::Config(e.to_string()))?
    }
}

/// An error the callee sidecar reported on the hop: its kind from `x-dapr-internal-error`,
/// its message from the Dapr error body (this hop's own wire format).
async fn hop_error(
    app_id: &str,
    kind: &http::HeaderValue,
    res: http::Response<hyper::body::Incoming>,
) -> ApiError {
    let body = http_body_util::Limited::new(res.into_body(), 64 * 1024)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    match kind.to_str().ok().and_then(ErrorKind::from_hop) {
        Some(kind) => {
            let mut e = ApiError::new(kind, message);
            if kind != ErrorKind::BodyTooLarge {
                e.metadata.push(("appID", app_id.to_string()));
            }
            e
        }
        None => ApiError::direct_invoke(app_id, message),
    }
}

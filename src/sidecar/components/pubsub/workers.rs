//! The handler side shared by the queue-backed brokers (`pubsub.redis`, `pubsub.sqlite`): a
//! bounded queue of fetched messages drained by a fixed number of workers, each calling the
//! subscription's [`Handler`] and reporting the verdict to the broker.
//!
//! A worker checks for the stop signal before taking each message, so once every worker has
//! returned no handler call is running or will start; what is still queued then is handed
//! back by the broker. A handler that panics counts as [`Ack::Retry`].

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt as _;
use tokio::sync::{Mutex, mpsc, watch};

use super::{Ack, Handler, Message, Subscription};
use crate::sidecar::log::{self, scope};

/// The receiving end of a subscription's queue, shared by its workers.
pub type Queue<I> = Arc<Mutex<mpsc::Receiver<(I, Message)>>>;

/// A bounded queue of `depth` messages.
pub fn queue<I>(depth: usize) -> (mpsc::Sender<(I, Message)>, Queue<I>) {
    let (tx, rx) = mpsc::channel(depth.max(1));
    (tx, Arc::new(Mutex::new(rx)))
}

/// Calls the handler, turning a panic into [`Ack::Retry`].
pub async fn call(handler: &Arc<dyn Handler>, topic: &str, msg: Message) -> Ack {
    match AssertUnwindSafe(handler.handle(msg)).catch_unwind().await {
        Ok(ack) => ack,
        Err(_) => {
            log::error(
                scope::COMPONENTS,
                &format!("pub/sub handler for topic {topic} panicked; the message is redelivered"),
            );
            Ack::Retry
        }
    }
}

/// Runs `n` workers until `stop` is set (or the queue's senders are gone), reporting each
/// verdict through `settle`. Returns once every worker has finished its current call.
pub async fn run<I, S, F>(
    n: usize,
    queue: Queue<I>,
    handler: Arc<dyn Handler>,
    topic: Arc<str>,
    stop: watch::Receiver<bool>,
    settle: S,
) where
    I: Send + 'static,
    S: Fn(I, Ack) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let mut workers = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let queue = queue.clone();
        let handler = handler.clone();
        let topic = topic.clone();
        let stop = stop.clone();
        let settle = settle.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let next = {
                    let mut rx = queue.lock().await;
                    tokio::select! {
                        biased;
                        _ = Subscription::stopped(stop.clone()) => None,
                        next = rx.recv() => next,
                    }
                };
                let Some((id, msg)) = next else { break };
                let ack = call(&handler, &topic, msg).await;
                settle(id, ack).await;
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
}

/// Takes what is left in the queue once the workers are done (to hand it back).
pub async fn drain<I>(queue: &Queue<I>) -> Vec<I> {
    let mut rx = queue.lock().await;
    rx.close();
    let mut left = Vec::new();
    while let Ok((id, _)) = rx.try_recv() {
        left.push(id);
    }
    left
}

/// Exponential back-off for a loop that keeps failing: `min` doubling up to `max`.
pub struct Backoff {
    min: std::time::Duration,
    max: std::time::Duration,
    next: std::time::Duration,
}

impl Backoff {
    pub fn new(min: std::time::Duration, max: std::time::Duration) -> Backoff {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The delay before the next attempt; doubles it for the one after.
    pub fn next_delay(&mut self) -> std::time::Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

//! What `state.sqlite` and `pubsub.sqlite` share: one SQLite connection owned by a thread of
//! its own that runs one job at a time, so the async runtime never blocks on disk I/O (or on
//! another process holding the write lock), with a deadline on every call.

use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use crate::sidecar::resources::{Component, ResourceError};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Why a call did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("the SQLite connection is closed")]
    Closed,
    #[error("the SQLite thread has stopped")]
    Stopped,
    #[error("sqlite operation timed out after {0:?}")]
    TimedOut(Duration),
}

/// The connection's thread; dropping the sender (see [`Worker::close`]) ends it once the
/// queued jobs have run, and SQLite then closes the file cleanly (checkpointing the WAL).
pub struct Worker {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    timeout: Duration,
}

impl Worker {
    /// Starts the thread `thread` and opens the connection on it with `open`; an error of
    /// either is `c`'s `connectionString` field error.
    pub async fn start(
        thread: String,
        c: &Component,
        timeout: Duration,
        open: impl FnOnce() -> Result<Connection, String> + Send + 'static,
    ) -> Result<Worker, ResourceError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name(thread)
            .spawn(move || {
                let mut conn = match open() {
                    Ok(conn) => {
                        let _ = ready_tx.send(Ok(()));
                        conn
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| {
                c.field_error(
                    "connectionString",
                    format!("cannot start the SQLite thread: {e}"),
                )
            })?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(Worker {
                jobs: Mutex::new(Some(jobs)),
                timeout,
            }),
            Ok(Err(e)) => Err(c.field_error("connectionString", e)),
            Err(_) => Err(c.field_error(
                "connectionString",
                "the SQLite thread stopped while opening",
            )),
        }
    }

    /// Runs `f` on the connection and waits for its result (at most the timeout).
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> R + Send + 'static,
    ) -> Result<R, WorkerError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        {
            let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            let sender = jobs.as_ref().ok_or(WorkerError::Closed)?;
            sender.send(job).map_err(|_| WorkerError::Stopped)?;
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_)) => Err(WorkerError::Stopped),
            Err(_) => Err(WorkerError::TimedOut(self.timeout)),
        }
    }

    /// No new jobs; the thread ends after the queued ones.
    pub fn close(&self) {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

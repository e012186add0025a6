//! Where resiliency policies wrap outbound calls. Every outbound path asks for its policy
//! here, once per call: to the app ([`Target::App`]), to a component ([`Target::Component`])
//! and to another sidecar ([`Target::Sidecar`]). No `Resiliency` resources are read yet, so
//! the policies are the official runtime's built-in defaults: no retries towards the app
//! and components, and a few quick retries of connection failures towards other sidecars
//! (`DaprBuiltInServiceRetries`; the official runtime waits 1 s between them, which a
//! loopback hop does not need). A `Resiliency` loader would fill [`Resiliency`] and every
//! call site would follow it unchanged.

use std::future::Future;
use std::time::Duration;

/// An outbound call's destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    App,
    Component(&'a str),
    Sidecar(&'a str),
}

/// The policies in force (built-in defaults only, for now).
#[derive(Debug, Clone, Default)]
pub struct Resiliency {}

/// Pauses before the first, second and third retry of a call to another sidecar.
const BUILTIN_SIDECAR_RETRIES: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
];

impl Resiliency {
    pub fn policy(&self, target: Target<'_>) -> Policy {
        match target {
            Target::Sidecar(_) => Policy {
                backoff: BUILTIN_SIDECAR_RETRIES.to_vec(),
            },
            Target::App | Target::Component(_) => Policy::default(),
        }
    }
}

/// How one call is retried.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// One pause per retry allowed.
    backoff: Vec<Duration>,
}

/// What one try of a call came to.
pub enum Outcome<T, E> {
    /// Finished (successfully or not): no retry.
    Done(Result<T, E>),
    /// Failed in a way worth retrying; the error is returned when no retry is left.
    Retry(E),
}

/// One try of a call: its number (0 for the first) and the pause the policy schedules
/// before it, which the call site takes with [`Try::pause`] when it applies (a call that can
/// go to another instance at once need not wait).
pub struct Try {
    pub number: usize,
    backoff: Option<Duration>,
}

impl Try {
    pub async fn pause(&self) {
        if let Some(d) = self.backoff {
            tokio::time::sleep(d).await;
        }
    }
}

impl Policy {
    /// Runs `call` until it is done or the retries are used up.
    pub async fn run<T, E, F, Fut>(&self, mut call: F) -> Result<T, E>
    where
        F: FnMut(Try) -> Fut,
        Fut: Future<Output = Outcome<T, E>>,
    {
        let mut number: usize = 0;
        loop {
            let backoff = number
                .checked_sub(1)
                .and_then(|i| self.backoff.get(i).copied());
            match call(Try { number, backoff }).await {
                Outcome::Done(result) => return result,
                Outcome::Retry(e) if number >= self.backoff.len() => return Err(e),
                Outcome::Retry(_) => number += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_stop_after_the_policy() {
        let p = Resiliency::default().policy(Target::Sidecar("b"));
        let mut tries = 0;
        let r: Result<(), usize> = p
            .run(|t| {
                tries += 1;
                async move { Outcome::Retry(t.number) }
            })
            .await;
        assert_eq!((r, tries), (Err(3), 4));
        let p = Resiliency::default().policy(Target::App);
        let r: Result<u8, ()> = p.run(|_| async { Outcome::Retry(()) }).await;
        assert_eq!(r, Err(()));
        let r: Result<u8, ()> = p.run(|_| async { Outcome::Done(Ok(7)) }).await;
        assert_eq!(r, Ok(7));
    }
}

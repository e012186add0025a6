//! Turn-based concurrency for one actor: one call at a time, in arrival order (Tokio's
//! mutex is fair). With reentrancy enabled, a call carrying the `Dapr-Reentrancy-Id` of the
//! turn in progress enters at once and deepens the stack; past the app's `maxStackDepth`
//! it is refused. Calls with another id, or none, queue.

use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
struct Holder {
    reentrancy_id: Option<String>,
    depth: u32,
}

/// The turn of one actor.
#[derive(Default)]
pub struct Turn {
    queue: Arc<tokio::sync::Mutex<()>>,
    holder: Mutex<Holder>,
}

/// A reentrant call went deeper than the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooDeep(pub u32);

/// Holds the turn (or one level of a reentrant stack) until dropped.
pub struct TurnGuard<'a> {
    turn: &'a Turn,
    _owner: Option<OwnedMutexGuard<()>>,
}

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        // Runs before `_owner` releases the queue, so the next call finds a clean holder.
        if let Ok(mut h) = self.turn.holder.lock() {
            h.depth = h.depth.saturating_sub(1);
            if h.depth == 0 {
                h.reentrancy_id = None;
            }
        }
    }
}

impl Turn {
    /// Waits for the turn. `reentrancy` is `(id, maxStackDepth)` when the type allows it.
    pub async fn enter(&self, reentrancy: Option<(&str, u32)>) -> Result<TurnGuard<'_>, TooDeep> {
        if let Some((id, max)) = reentrancy
            && let Ok(mut h) = self.holder.lock()
            && h.depth > 0
            && h.reentrancy_id.as_deref() == Some(id)
        {
            if h.depth >= max {
                return Err(TooDeep(max));
            }
            h.depth += 1;
            return Ok(TurnGuard {
                turn: self,
                _owner: None,
            });
        }
        let owner = self.queue.clone().lock_owned().await;
        if let Ok(mut h) = self.holder.lock() {
            h.depth = 1;
            h.reentrancy_id = reentrancy.map(|(id, _)| id.to_string());
        }
        Ok(TurnGuard {
            turn: self,
            _owner: Some(owner),
        })
    }

    /// The turn when nobody holds or awaits it (deactivation).
    pub fn try_enter(&self) -> Option<TurnGuard<'_>> {
        let owner = self.queue.clone().try_lock_owned().ok()?;
        if let Ok(mut h) = self.holder.lock() {
            h.depth = 1;
            h.reentrancy_id = None;
        }
        Some(TurnGuard {
            turn: self,
            _owner: Some(owner),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_turn_at_a_time_and_reentrancy() {
        let t = Arc::new(Turn::default());
        let g = t.enter(Some(("a", 2))).await.unwrap();
        // Same id: enters; one more level is too deep.
        let nested = t.enter(Some(("a", 2))).await.unwrap();
        assert_eq!(t.enter(Some(("a", 2))).await.err(), Some(TooDeep(2)));
        drop(nested);
        // Another id waits until the turn ends.
        let t2 = t.clone();
        let waiter = tokio::spawn(async move {
            let _g = t2.enter(Some(("b", 2))).await.unwrap();
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        assert!(t.try_enter().is_none());
        drop(g);
        waiter.await.unwrap();
        assert!(t.try_enter().is_some());
    }
}

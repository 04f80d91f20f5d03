//! [`Watched`]: a fake's state behind one mutex, with a notification on
//! every change, so tests wait for what they expect without polling.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// State shared by a fake's server, its handle and its scripted users.
/// Changes made with [`Watched::update`] wake every waiter, which checks
/// again; a change made through [`Watched::lock`] wakes nobody.
pub struct Watched<S> {
    state: Mutex<S>,
    changed: Notify,
}

impl<S: fmt::Debug> fmt::Debug for Watched<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched")
            .field("state", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl<S: Default> Default for Watched<S> {
    fn default() -> Self {
        Self::new(S::default())
    }
}

impl<S> Watched<S> {
    pub fn new(state: S) -> Self {
        Self {
            state: Mutex::new(state),
            changed: Notify::new(),
        }
    }

    /// The state, for reads and for changes nobody waits on.
    pub fn lock(&self) -> MutexGuard<'_, S> {
        // Every change is complete before the lock is released, so a
        // panic elsewhere leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` and wakes every waiter.
    pub fn update<T>(&self, change: impl FnOnce(&mut S) -> T) -> T {
        let value = change(&mut self.lock());
        self.changed.notify_waiters();
        value
    }

    /// Waits until `check` returns something, checking now and again
    /// after every change.
    pub async fn wait_until<T>(&self, mut check: impl FnMut(&S) -> Option<T>) -> T {
        self.wait_until_mut(|s| check(s)).await
    }

    /// Like [`Watched::wait_until`], for a check that takes what it waits
    /// for out of the state (a long poll taking queued updates). Its own
    /// changes wake nobody.
    pub async fn wait_until_mut<T>(&self, mut check: impl FnMut(&mut S) -> Option<T>) -> T {
        loop {
            let notified = self.changed.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before checking, so no change slips in between.
            notified.as_mut().enable();
            if let Some(value) = check(&mut self.lock()) {
                return value;
            }
            notified.await;
        }
    }

    /// Waits until `select` finds at least `n` items; returns them all.
    pub async fn wait_for<T>(&self, n: usize, mut select: impl FnMut(&S) -> Vec<T>) -> Vec<T> {
        self.wait_until(|s| {
            let items = select(s);
            (items.len() >= n).then_some(items)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn waiters_wake_on_updates_only() {
        let watched = Arc::new(Watched::new(Vec::<u32>::new()));
        let waiter = tokio::spawn({
            let watched = watched.clone();
            async move { watched.wait_for(2, Clone::clone).await }
        });
        watched.update(|s| s.push(1));
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one item is not two");
        // A change through `lock` wakes nobody...
        watched.lock().push(2);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!waiter.is_finished(), "nothing polls");
        // ...the next update does, and the waiter sees both.
        watched.update(|s| s.push(3));
        assert_eq!(waiter.await.expect("the waiter ends"), [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_satisfied_wait_returns_at_once() {
        let watched = Watched::new(5);
        assert_eq!(watched.wait_until(|n| (*n > 4).then_some(*n * 2)).await, 10);
        let taken = watched
            .wait_until_mut(|n| {
                *n -= 1;
                Some(*n)
            })
            .await;
        assert_eq!(taken, 4);
        assert_eq!(*watched.lock(), 4);
    }
}

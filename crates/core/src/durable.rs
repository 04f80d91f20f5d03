//! Writing to the store from a running gateway without losing anything:
//! storage writes that fail for a reason that may pass (a full disk, a busy
//! or read-only database, an I/O error) are retried with growing backoff
//! until they succeed or the gateway shuts down, and the store is reported
//! degraded meanwhile. And [`InFlight`]: which inbound messages and outbox
//! entries this process is working on, so recovery sweeps never hand the
//! same work out twice.

use crate::error::CoreError;
use crate::health::{Health, STORE_COMPONENT};
use hermod_store::StoreError;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// First wait after a failed write.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A failure is logged again every this many attempts.
const LOG_EVERY: u32 = 10;

/// Whether retrying the same operation later may succeed.
pub(crate) fn is_retryable(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Full(_) | StoreError::Busy(_) | StoreError::Other(_)
    )
}

/// The short reason the store is degraded, for `/health` (no paths).
fn health_reason(e: &StoreError) -> &'static str {
    match e {
        StoreError::Full(_) => "writes fail: the disk is full or the database is read-only",
        StoreError::Busy(_) => "the database is locked by another process",
        StoreError::Corrupt(_) => "the database is damaged",
        _ => "storage operations fail",
    }
}

/// Runs a store operation, retrying it while it fails for a reason that
/// may pass, until it succeeds or `stop` is cancelled. Every failure is
/// logged at ERROR (the first, then every tenth) and marks the store
/// degraded in `health`; the next success marks it healthy again.
pub(crate) async fn retry_store<T, F, Fut>(
    health: &Health,
    stop: &CancellationToken,
    what: &str,
    mut op: F,
) -> Result<T, CoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut failures: u32 = 0;
    loop {
        match op().await {
            Ok(value) => {
                if failures > 0 {
                    info!(what, failures, "storage works again");
                    health.recovered(STORE_COMPONENT);
                }
                return Ok(value);
            }
            Err(e) if is_retryable(&e) => {
                failures += 1;
                health.degraded(STORE_COMPONENT, health_reason(&e));
                if failures == 1 || failures.is_multiple_of(LOG_EVERY) {
                    error!(what, error = %e, failures, retry_in = ?backoff, "storage failed; retrying");
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => return Err(e.into()),
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => {
                if matches!(e, StoreError::Corrupt(_)) {
                    health.degraded(STORE_COMPONENT, health_reason(&e));
                }
                error!(what, error = %e, "storage failed");
                return Err(e.into());
            }
        }
    }
}

/// A set of items being worked on; [`InFlight::claim`] hands out a guard
/// that releases the item when dropped.
#[derive(Debug)]
pub(crate) struct InFlight<T: Eq + Hash> {
    items: Arc<Mutex<HashSet<T>>>,
}

impl<T: Eq + Hash> Default for InFlight<T> {
    fn default() -> Self {
        Self {
            items: Arc::default(),
        }
    }
}

impl<T: Eq + Hash + Clone> InFlight<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<T>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims an item; `None` when someone else holds it.
    pub(crate) fn claim(&self, item: T) -> Option<Claim<T>> {
        self.lock().insert(item.clone()).then(|| Claim {
            items: Arc::clone(&self.items),
            item: Some(item),
        })
    }

    /// Marks items taken without a guard (released by [`InFlight::release`]).
    /// Returns false when any of them was already taken (none is taken then).
    pub(crate) fn take_all(&self, items: &[T]) -> bool {
        let mut set = self.lock();
        if items.iter().any(|i| set.contains(i)) {
            return false;
        }
        set.extend(items.iter().cloned());
        true
    }

    pub(crate) fn release(&self, items: &[T]) {
        let mut set = self.lock();
        for item in items {
            set.remove(item);
        }
    }

    pub(crate) fn contains(&self, item: &T) -> bool {
        self.lock().contains(item)
    }
}

/// Holds an item of an [`InFlight`] set until dropped.
#[derive(Debug)]
pub(crate) struct Claim<T: Eq + Hash> {
    items: Arc<Mutex<HashSet<T>>>,
    item: Option<T>,
}

impl<T: Eq + Hash> Drop for Claim<T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.items
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_full_disk_is_retried_with_growing_backoff_until_it_passes() {
        let health = Health::default();
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let value = retry_store(&health, &CancellationToken::new(), "test", || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let health = health.clone();
            async move {
                if n < 4 {
                    if n > 0 {
                        assert!(!health.report().healthy, "degraded while failing");
                    }
                    Err(StoreError::Full("disk full".into()))
                } else {
                    Ok(7)
                }
            }
        })
        .await
        .expect("succeeds once the disk has room");
        assert_eq!(value, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        // 250 + 500 + 1000 + 2000 ms of backoff.
        assert_eq!(started.elapsed(), Duration::from_millis(3750));
        assert!(health.report().healthy, "healthy again after a success");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_is_capped_and_shutdown_ends_the_retries() {
        let health = Health::default();
        let stop = CancellationToken::new();
        let calls = AtomicU32::new(0);
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(600)).await;
            stopper.cancel();
        });
        let result: Result<(), _> = retry_store(&health, &stop, "test", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(StoreError::Busy("locked".into())) }
        })
        .await;
        assert!(matches!(result, Err(CoreError::Store(_))));
        let n = calls.load(Ordering::SeqCst);
        // 0.25+0.5+1+2+4+8+16 = 31.75 s, then every 30 s: about 20 more.
        assert!((20..=30).contains(&n), "{n} attempts in 600 s");
    }

    #[tokio::test]
    async fn errors_that_cannot_pass_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry_store(
            &Health::default(),
            &CancellationToken::new(),
            "test",
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(StoreError::NotFound("session".into())) }
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_claim_is_released_when_dropped() {
        let set = InFlight::default();
        let claim = set.claim(1).expect("free");
        assert!(set.claim(1).is_none(), "held");
        assert!(set.contains(&1));
        drop(claim);
        assert!(set.claim(1).is_some());
        assert!(set.take_all(&[2, 3]));
        assert!(!set.take_all(&[3, 4]));
        assert!(!set.contains(&4));
        set.release(&[2, 3]);
        assert!(set.take_all(&[3, 4]));
    }
}

//! [`Backoff`]: how long a receive loop waits after failed attempts in a
//! row — exponential with jitter, from [`RECONNECT_BASE`] up to a cap
//! ([`RECONNECT_MAX`] by default), or the platform's own `retry_after`
//! when it gave one. Built on `hermod_http`'s [`RetryPolicy`], so the
//! request retries and the receive loops share one backoff rule; waiting
//! happens on tokio's clock ([`crate::Connection::retry`]).

use hermod_http::RetryPolicy;
use std::time::Duration;

/// The wait after the first failure (before jitter).
pub const RECONNECT_BASE: Duration = Duration::from_secs(1);

/// The longest wait between attempts when nothing else is configured.
pub const RECONNECT_MAX: Duration = Duration::from_secs(300);

/// The longest platform-given `retry_after` honoured as such; a longer
/// one is waited this long, then the loop tries again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Failed attempts in a row and the wait each one earns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    policy: RetryPolicy,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(RECONNECT_MAX)
    }
}

impl Backoff {
    /// From [`RECONNECT_BASE`], doubling up to `max` (at least the base).
    pub fn new(max: Duration) -> Self {
        Self {
            policy: RetryPolicy {
                max_attempts: u32::MAX,
                base_delay: RECONNECT_BASE,
                max_delay: max.max(RECONNECT_BASE),
                max_retry_after: MAX_RETRY_AFTER,
            },
            failures: 0,
        }
    }

    /// Counts a failed attempt and returns the wait before the next one:
    /// `retry_after` when the platform gave one, else `[d/2, d]` with
    /// `d = min(base · 2^(failures-1), max)`.
    pub fn fail(&mut self, retry_after: Option<Duration>) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.policy.delay_for(self.failures, retry_after)
    }

    /// After an attempt that fully succeeded: the next failure starts over.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failed attempts in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_a_second_to_five_minutes_with_jitter() {
        for _ in 0..100 {
            let mut backoff = Backoff::default();
            let mut full = Duration::from_secs(1);
            for _ in 0..15 {
                let wait = backoff.fail(None);
                assert!(wait >= full / 2 && wait <= full, "{wait:?} for {full:?}");
                full = (full * 2).min(RECONNECT_MAX);
            }
            assert_eq!(backoff.failures(), 15);
            let wait = backoff.fail(None);
            assert!(wait >= Duration::from_secs(150) && wait <= RECONNECT_MAX);
        }
    }

    #[test]
    fn the_platforms_retry_after_wins_and_success_starts_over() {
        let mut backoff = Backoff::new(Duration::from_secs(60));
        for _ in 0..10 {
            backoff.fail(None);
        }
        assert!(backoff.fail(None) <= Duration::from_secs(60));
        assert_eq!(
            backoff.fail(Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        backoff.reset();
        assert_eq!(backoff.failures(), 0);
        assert!(backoff.fail(None) <= Duration::from_secs(1));
    }
}

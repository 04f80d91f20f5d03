//! Retrying with exponential backoff and jitter, honouring the server's
//! Retry-After, bounded by attempts and by how long we accept to wait.
//!
//! All waiting goes through `tokio::time::sleep`, so tests can run with
//! paused time.

use crate::error::HttpError;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often and how patiently to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// Delay after the first failure, before jitter; doubles each attempt.
    pub base_delay: Duration,
    /// Cap of the computed backoff.
    pub max_delay: Duration,
    /// The longest server-given Retry-After we wait for; a longer one makes
    /// us give up and report the rate limit instead.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The delay before the attempt following failed attempt number
    /// `attempt` (1-based). A server-given `retry_after` wins (capped at
    /// `max_retry_after`); otherwise exponential backoff with jitter, in
    /// `[d/2, d]` where `d = min(base_delay * 2^(attempt-1), max_delay)`.
    pub fn delay_for(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_retry_after);
        }
        let exponent = attempt.saturating_sub(1).min(31);
        let full = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let half = full / 2;
        half + half.mul_f64(jitter_fraction())
    }

    /// What to do after failed attempt number `attempt` (1-based): the
    /// delay before trying again, or `None` to give up (not retryable,
    /// attempts exhausted, or Retry-After beyond `max_retry_after`).
    pub fn next_delay(&self, attempt: u32, err: &HttpError) -> Option<Duration> {
        if !err.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        let retry_after = err.retry_after();
        if retry_after.is_some_and(|wait| wait > self.max_retry_after) {
            return None;
        }
        Some(self.delay_for(attempt, retry_after))
    }
}

/// A uniformly distributed fraction in `[0, 1]`.
fn jitter_fraction() -> f64 {
    // Without an entropy source, no jitter: still correct, only less spread.
    let random = getrandom::u32().unwrap_or(u32::MAX);
    f64::from(random) / f64::from(u32::MAX)
}

/// Sleeps for `delay` unless `cancel` fires first.
pub async fn sleep_or_cancel(delay: Duration, cancel: &CancellationToken) -> Result<(), HttpError> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(HttpError::Cancelled),
        () = tokio::time::sleep(delay) => Ok(()),
    }
}

/// Runs `op` until it succeeds, fails with a non-retryable error, runs out
/// of attempts, or `cancel` fires (which also aborts an attempt in flight).
/// Only [`HttpError::RateLimited`] and [`HttpError::Transient`] are retried.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    mut op: F,
) -> Result<T, HttpError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, HttpError>>,
{
    let mut attempt = 1;
    loop {
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(HttpError::Cancelled),
            result = op() => result,
        };
        let err = match result {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let Some(delay) = policy.next_delay(attempt, &err) else {
            return Err(err);
        };
        tracing::warn!(attempt, ?delay, error = %err, "request failed; retrying");
        sleep_or_cancel(delay, cancel).await?;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::time::Instant;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(30),
        }
    }

    #[test]
    fn backoff_grows_within_bounds() {
        let p = policy();
        for _ in 0..200 {
            for (attempt, full) in [
                (1, 100),
                (2, 200),
                (3, 400),
                (4, 800),
                (5, 1000),
                (40, 1000),
            ] {
                let d = p.delay_for(attempt, None);
                let full = Duration::from_millis(full);
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn server_retry_after_wins_and_long_ones_give_up() {
        let p = policy();
        assert_eq!(
            p.delay_for(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            p.delay_for(1, Some(Duration::from_secs(300))),
            Duration::from_secs(30)
        );
        let limited = |secs| HttpError::RateLimited {
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(p.next_delay(1, &limited(7)), Some(Duration::from_secs(7)));
        assert_eq!(p.next_delay(1, &limited(31)), None);
        assert_eq!(p.next_delay(4, &limited(1)), None, "attempts exhausted");
        assert_eq!(p.next_delay(1, &HttpError::Auth { status: 401 }), None);
        assert!(p.next_delay(1, &HttpError::Transient("x".into())).is_some());
        assert_eq!(
            RetryPolicy::none().next_delay(1, &HttpError::Transient("x".into())),
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_waits_for_the_server_retry_after() {
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let result = retry(&policy(), &CancellationToken::new(), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(HttpError::RateLimited {
                    retry_after: Some(Duration::from_secs(5)),
                }),
                _ => Ok("done"),
            }
        })
        .await;
        assert_eq!(result, Ok("done"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_millis(5100),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_gives_up_after_max_attempts() {
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let result: Result<(), _> = retry(&policy(), &CancellationToken::new(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(HttpError::Transient("HTTP 503".into()))
        })
        .await;
        assert_eq!(result, Err(HttpError::Transient("HTTP 503".into())));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // Backoff of 100 + 200 + 400 ms, each jittered down to at most half.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(350) && waited <= Duration::from_millis(700));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_does_not_retry_rejections_or_auth() {
        for err in [
            HttpError::Auth { status: 401 },
            HttpError::Rejected {
                status: 400,
                body: "bad".into(),
            },
            HttpError::NotFound {
                body: String::new(),
            },
            HttpError::Protocol("garbage".into()),
        ] {
            let calls = AtomicU32::new(0);
            let start = Instant::now();
            let result: Result<(), _> = retry(&policy(), &CancellationToken::new(), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err.clone())
            })
            .await;
            assert_eq!(result, Err(err));
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            assert_eq!(start.elapsed(), Duration::ZERO);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_gives_up_on_a_too_long_retry_after() {
        let calls = AtomicU32::new(0);
        let err = HttpError::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        };
        let result: Result<(), _> = retry(&policy(), &CancellationToken::new(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err.clone())
        })
        .await;
        assert_eq!(result, Err(err));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_stops_the_wait_and_the_attempt() {
        let cancel = CancellationToken::new();
        let start = Instant::now();
        let canceller = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                cancel.cancel();
            })
        };
        let result: Result<(), _> = retry(&policy(), &cancel, || async {
            Err(HttpError::RateLimited {
                retry_after: Some(Duration::from_secs(20)),
            })
        })
        .await;
        assert_eq!(result, Err(HttpError::Cancelled));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        canceller.await.unwrap();

        let result: Result<(), _> = retry(&policy(), &cancel, std::future::pending).await;
        assert_eq!(result, Err(HttpError::Cancelled));
    }
}

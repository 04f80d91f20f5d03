//! Runs each adapter's receive loop under supervision, so one platform's
//! trouble never stops the others or the gateway.
//!
//! - `run` returning an error that may pass (transient, rate limited), or
//!   returning at all while the gateway runs, restarts it after an
//!   exponential backoff with jitter: about 1 s, doubling up to 5 minutes,
//!   or the platform's own retry-after. A run that lasted [`STABLE_RUN`]
//!   counts as a success, so the backoff starts over.
//! - An authentication or configuration failure (`Auth`, `Startup`,
//!   `Rejected`, ...) marks the adapter failed with its reason and is not
//!   retried: retrying cannot fix a refused token.
//! - Every state change goes to [`Health`]: connecting before each attempt,
//!   retrying with the time of the next attempt, failed, stopped. The
//!   adapter itself reports running once it is connected.

use crate::adapter::{Adapter, AdapterContext, AdapterError};
use crate::clock::now_ms;
use crate::health::{ComponentState, Health};
use crate::router::Inbound;
use hermod_http::{RetryPolicy, sleep_or_cancel};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// The backoff between restarts of a failing adapter.
const RESTARTS: RetryPolicy = RetryPolicy {
    max_attempts: u32::MAX,
    base_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(300),
    max_retry_after: Duration::from_secs(3600),
};

/// A run at least this long worked for a while: the next failure starts
/// the backoff over.
pub(crate) const STABLE_RUN: Duration = Duration::from_secs(60);

/// Longest failure reason kept in the health report, in characters.
const MAX_REASON: usize = 300;

/// What to do after `run` ended while the gateway keeps going.
#[derive(Debug, Clone, PartialEq, Eq)]
enum After {
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    Fail {
        reason: String,
    },
}

fn after(result: Result<(), AdapterError>) -> After {
    match result {
        Ok(()) => After::Retry {
            reason: "stopped receiving unexpectedly".to_owned(),
            retry_after: None,
        },
        Err(AdapterError::RateLimited { retry_after }) => After::Retry {
            reason: AdapterError::RateLimited { retry_after }.to_string(),
            retry_after,
        },
        Err(e @ AdapterError::Transient(_)) => After::Retry {
            reason: e.to_string(),
            retry_after: None,
        },
        Err(
            e @ (AdapterError::Auth(_)
            | AdapterError::Startup(_)
            | AdapterError::Rejected(_)
            | AdapterError::NotFound(_)
            | AdapterError::Unsupported(_)
            | AdapterError::NoMessenger(_)
            | AdapterError::TooLong),
        ) => After::Fail {
            reason: e.to_string(),
        },
    }
}

/// Runs `adapter` until `stopping` is cancelled or it fails for good.
pub(crate) async fn supervise(
    adapter: Arc<dyn Adapter>,
    inbound: Inbound,
    health: Health,
    stopping: CancellationToken,
) {
    let id = adapter.id();
    let name = id.as_str();
    let mut failures: u32 = 0;
    loop {
        health.set(name, ComponentState::Connecting);
        info!(platform = %id, "adapter starting");
        let started = Instant::now();
        let ctx = AdapterContext {
            inbound: inbound.clone(),
            shutdown: stopping.child_token(),
        };
        let result = adapter.run(ctx).await;
        if stopping.is_cancelled() {
            if let Err(e) = &result {
                warn!(platform = %id, error = %e, "adapter stopped with an error during shutdown");
            }
            health.set(name, ComponentState::Stopped);
            info!(platform = %id, "adapter stopped");
            return;
        }
        if started.elapsed() >= STABLE_RUN {
            failures = 0;
        }
        match after(result) {
            After::Fail { reason } => {
                error!(platform = %id, error = %reason, "adapter failed; it stays stopped until its configuration is fixed and the gateway restarts (the other platforms keep running)");
                health.set(
                    name,
                    ComponentState::Failed {
                        reason: truncate(&reason),
                    },
                );
                return;
            }
            After::Retry {
                reason,
                retry_after,
            } => {
                failures = failures.saturating_add(1);
                let delay = RESTARTS.delay_for(failures, retry_after);
                warn!(platform = %id, error = %reason, failures, retry_in_ms = delay.as_millis(), "adapter stopped; restarting it after a pause");
                health.set(
                    name,
                    ComponentState::Retrying {
                        reason: truncate(&reason),
                        next_attempt_ms: now_ms()
                            .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
                    },
                );
                if sleep_or_cancel(delay, &stopping).await.is_err() {
                    health.set(name, ComponentState::Stopped);
                    info!(platform = %id, "adapter stopped");
                    return;
                }
            }
        }
    }
}

fn truncate(reason: &str) -> String {
    match reason.char_indices().nth(MAX_REASON) {
        Some((cut, _)) => format!("{}…", &reason[..cut]),
        None => reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_that_may_pass_are_retried_and_the_others_are_final() {
        assert!(matches!(after(Ok(())), After::Retry { .. }));
        assert!(matches!(
            after(Err(AdapterError::Transient("reset".into()))),
            After::Retry {
                retry_after: None,
                ..
            }
        ));
        let limited = after(Err(AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        }));
        assert!(matches!(
            limited,
            After::Retry {
                retry_after: Some(d),
                ..
            } if d == Duration::from_secs(7)
        ));
        for e in [
            AdapterError::Auth("token refused".into()),
            AdapterError::Startup("port in use".into()),
            AdapterError::Rejected("bad request".into()),
        ] {
            assert!(matches!(after(Err(e)), After::Fail { .. }));
        }
    }

    #[test]
    fn restarts_back_off_from_a_second_to_five_minutes() {
        let d1 = RESTARTS.delay_for(1, None);
        assert!(d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1));
        let d20 = RESTARTS.delay_for(20, None);
        assert!(d20 >= Duration::from_secs(150) && d20 <= Duration::from_secs(300));
    }
}

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
//! - A circuit breaker (`breaker.rs`) watches the failures that may pass:
//!   5 within 10 minutes pause the platform automatically for a cool-down
//!   (5 minutes), after which one trial run decides: reaching running
//!   closes the breaker, failing pauses it again for twice as long (up to
//!   an hour). Each platform has its own breaker.
//! - An operator may pause a platform (`/platform pause`): its run is
//!   cancelled as at shutdown and not restarted until `/platform resume`,
//!   which also clears an automatic pause and starts the platform at once
//!   (`control.rs`).
//! - Every state change goes to [`Health`]: connecting before each attempt,
//!   retrying with the time of the next attempt, paused (by an operator, or
//!   by the breaker until its cool-down ends), failed, stopped. The adapter
//!   itself reports running once it is connected.

mod breaker;
mod control;
mod receiver;

pub(crate) use control::{Control, Platforms, paused_key};

use crate::adapter::{Adapter, AdapterContext, AdapterError};
use crate::clock::now_ms;
use crate::health::{ComponentState, Health};
use crate::router::Inbound;
use breaker::{Breaker, BreakerConfig, Permit, Transition};
use hermod_http::RetryPolicy;
use hermod_model::PlatformId;
use receiver::ReceiverLease;
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

/// Runs `adapter` until `stopping` is cancelled or it fails for good,
/// pausing it while `control` or its breaker says so.
pub(crate) async fn supervise(
    adapter: Arc<dyn Adapter>,
    inbound: Inbound,
    health: Health,
    mut control: Control,
    stopping: CancellationToken,
) {
    let id = adapter.id();
    let name = id.as_str();
    let stopped = || {
        health.set(name, ComponentState::Stopped);
        info!(platform = %id, "adapter stopped");
    };
    // Failures since the last stable run, for the backoff.
    let mut failures: u32 = 0;
    let mut breaker = Breaker::new(BreakerConfig::default());
    let mut last_error = String::new();
    let lease = ReceiverLease::of(adapter.as_ref(), &inbound);
    loop {
        if control.take_resume() {
            breaker.reset();
            failures = 0;
            control.set_failures(0);
            info!(platform = %id, "platform resumed by an operator; starting it now");
        }
        if let Some(reason) = control.paused() {
            info!(platform = %id, reason = %reason, "platform paused by an operator; `/platform resume` starts it again");
            health.set(
                name,
                ComponentState::Paused {
                    reason: truncate(&reason),
                    until_ms: None,
                    manual: true,
                },
            );
            if wait(&mut control, None, &stopping).await == Wake::Stop {
                return stopped();
            }
            continue;
        }
        match breaker.permit(Instant::now()) {
            Permit::Run => {}
            Permit::Probe => {
                info!(platform = %id, "circuit half-open: trying the platform once after its cool-down");
            }
            Permit::WaitUntil(until) => {
                health.set(
                    name,
                    ComponentState::Paused {
                        reason: truncate(&format!(
                            "paused after {} failures in a row: {last_error}",
                            breaker.failures()
                        )),
                        until_ms: Some(wall_ms(until)),
                        manual: false,
                    },
                );
                if wait(&mut control, Some(until), &stopping).await == Wake::Stop {
                    return stopped();
                }
                continue;
            }
        }

        if let Some(lease) = &lease {
            match lease.stand_by(&health, name, &mut control, &stopping).await {
                Wake::Due => {}
                Wake::Asked => continue,
                Wake::Stop => return stopped(),
            }
        }
        health.set(name, ComponentState::Connecting);
        info!(platform = %id, "adapter starting");
        let started = Instant::now();
        let run = run_once(
            adapter.as_ref(),
            &inbound,
            &health,
            &mut control,
            &mut breaker,
            &stopping,
            lease.as_ref(),
        )
        .await;
        if let Some(lease) = &lease {
            // Whether it stopped, failed or lost the lease: another
            // gateway may receive meanwhile.
            lease.release().await;
        }
        if stopping.is_cancelled() {
            if let Err(e) = &run.result {
                warn!(platform = %id, error = %e, "adapter stopped with an error during shutdown");
            }
            return stopped();
        }
        if run.lost {
            warn!(platform = %id, "another gateway took over receiving; standing by");
            continue;
        }
        if run.paused {
            if let Err(e) = &run.result {
                warn!(platform = %id, error = %e, "adapter stopped with an error when paused");
            }
            info!(platform = %id, "adapter stopped for an operator's pause");
            continue;
        }
        if started.elapsed() >= STABLE_RUN {
            failures = 0;
        }
        match after(run.result) {
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
                let transition = breaker.failure(Instant::now());
                control.set_failures(breaker.failures());
                match transition {
                    Some(Transition::Opened { cool_down }) => {
                        warn!(platform = %id, error = %reason, failures = breaker.failures(), cool_down_secs = cool_down.as_secs(), "circuit open: the platform keeps failing; it is paused and tried again after the cool-down (`/platform resume` starts it now)");
                        last_error = reason;
                        continue;
                    }
                    Some(Transition::Reopened { cool_down }) => {
                        warn!(platform = %id, error = %reason, failures = breaker.failures(), cool_down_secs = cool_down.as_secs(), "circuit open again: the trial run failed; the platform stays paused for a longer cool-down");
                        last_error = reason;
                        continue;
                    }
                    Some(Transition::Closed) | None => {}
                }
                let delay = RESTARTS.delay_for(failures, retry_after);
                warn!(platform = %id, error = %reason, failures, retry_in_ms = delay.as_millis(), "adapter stopped; restarting it after a pause");
                let until = Instant::now() + delay;
                health.set(
                    name,
                    ComponentState::Retrying {
                        reason: truncate(&reason),
                        next_attempt_ms: wall_ms(until),
                    },
                );
                last_error = reason;
                // A pause or resume during the backoff is acted on at once.
                if wait(&mut control, Some(until), &stopping).await == Wake::Stop {
                    return stopped();
                }
            }
        }
    }
}

/// How one run of an adapter ended.
struct RunEnd {
    result: Result<(), AdapterError>,
    /// An operator paused the platform and the run was cancelled for it.
    paused: bool,
    /// The receiver lease was lost and the run cancelled for it.
    lost: bool,
}

/// Runs `adapter` once, watching for it to report running (a success for
/// `breaker`, which closes it after a trial) and for a pause (which
/// cancels the run).
async fn run_once(
    adapter: &dyn Adapter,
    inbound: &Inbound,
    health: &Health,
    control: &mut Control,
    breaker: &mut Breaker,
    stopping: &CancellationToken,
    lease: Option<&ReceiverLease>,
) -> RunEnd {
    let id = adapter.id();
    let is_running = || {
        health
            .get(id.as_str())
            .is_some_and(|s| s.state == ComponentState::Running)
    };
    let cancel = stopping.child_token();
    let ctx = AdapterContext {
        inbound: inbound.clone(),
        shutdown: cancel.clone(),
    };
    let mut changes = health.subscribe();
    changes.borrow_and_update();
    let mut reached_running = false;
    let mut paused = false;
    let mut lost = false;
    let run = adapter.run(ctx);
    tokio::pin!(run);
    let lease_lost = async {
        match lease {
            Some(lease) => lease.lost().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(lease_lost);
    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            Ok(()) = changes.changed(), if !reached_running => {
                reached_running = is_running();
                if reached_running {
                    succeeded(&id, breaker, control);
                }
            }
            () = &mut lease_lost, if !lost => {
                lost = true;
                cancel.cancel();
            }
            () = control.changed(), if !paused => {
                if control.paused().is_some() {
                    // The adapter stops as it does at shutdown.
                    paused = true;
                    cancel.cancel();
                } else {
                    // A resume while it runs: nothing to do.
                    control.take_resume();
                }
            }
        }
    };
    if !reached_running && is_running() {
        // Reported running just before `run` returned.
        succeeded(&id, breaker, control);
    }
    RunEnd {
        result,
        paused,
        lost,
    }
}

/// A run reached running: the failures are forgotten, a trial closes the
/// breaker.
fn succeeded(id: &PlatformId, breaker: &mut Breaker, control: &Control) {
    if breaker.success() == Some(Transition::Closed) {
        info!(platform = %id, "circuit closed: the platform works again");
    }
    control.set_failures(0);
}

/// Why [`wait`] returned.
#[derive(Debug, PartialEq, Eq)]
enum Wake {
    /// The time came.
    Due,
    /// An operator asked something.
    Asked,
    /// The gateway is stopping.
    Stop,
}

/// Waits until `until` (forever if `None`), an operator's request, or the
/// gateway stopping.
async fn wait(control: &mut Control, until: Option<Instant>, stopping: &CancellationToken) -> Wake {
    let due = async {
        match until {
            Some(until) => tokio::time::sleep_until(until).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = stopping.cancelled() => Wake::Stop,
        () = control.changed() => Wake::Asked,
        () = due => Wake::Due,
    }
}

/// The wall-clock time (Unix milliseconds) of the tokio instant `at`.
fn wall_ms(at: Instant) -> i64 {
    let ahead = at.saturating_duration_since(Instant::now()).as_millis();
    now_ms().saturating_add(i64::try_from(ahead).unwrap_or(i64::MAX))
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

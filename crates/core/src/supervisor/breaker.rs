//! The circuit breaker of one platform: a pure state machine on tokio's
//! clock (every method takes `now`), so it is tested on paused time and the
//! supervisor stays a loop that asks it what to do.
//!
//! - **Closed**: attempts run as usual; each failure is remembered with its
//!   time. [`Breaker::THRESHOLD`] failures within [`Breaker::WINDOW`] open
//!   it; older failures are forgotten, and a run that reaches running
//!   forgets them all.
//! - **Open**: no attempt until the cool-down has passed
//!   ([`Breaker::COOL_DOWN`] the first time).
//! - **Half-open**: after the cool-down, one attempt. If it reaches running
//!   the breaker closes; if it fails the breaker opens again with twice the
//!   cool-down, up to [`Breaker::MAX_COOL_DOWN`].
//!
//! The backoff between ordinary restarts (1 s doubling to 5 minutes) means a
//! platform that fails at once opens its breaker about 15 to 30 s after its
//! first failure; one that fails every few minutes never reaches the
//! threshold and is simply retried.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// The breaker's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BreakerConfig {
    /// Failures within `window` that open the breaker.
    pub(crate) threshold: usize,
    /// How far back failures count.
    pub(crate) window: Duration,
    /// The first cool-down after the breaker opens.
    pub(crate) cool_down: Duration,
    /// The longest cool-down, however often the probe fails.
    pub(crate) max_cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            threshold: Breaker::THRESHOLD,
            window: Breaker::WINDOW,
            cool_down: Breaker::COOL_DOWN,
            max_cool_down: Breaker::MAX_COOL_DOWN,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Closed {
        /// When each recent failure happened, oldest first.
        failures: VecDeque<Instant>,
    },
    Open {
        until: Instant,
        cool_down: Duration,
    },
    HalfOpen {
        /// The cool-down that led here; a failed probe doubles it.
        cool_down: Duration,
    },
}

/// Whether an attempt may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Closed: an ordinary attempt.
    Run,
    /// Half-open: the one attempt that decides whether to close.
    Probe,
    /// Open: wait until then.
    WaitUntil(Instant),
}

/// A change of the breaker's state, for the log and `Health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Closed → open after too many failures.
    Opened { cool_down: Duration },
    /// Half-open → open: the probe failed.
    Reopened { cool_down: Duration },
    /// Half-open → closed: the probe reached running.
    Closed,
}

/// One platform's breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    state: State,
    /// Failures since the last run that reached running (or the last
    /// reset), whenever they happened: what `/platform list` shows.
    streak: u32,
}

impl Breaker {
    /// Failures within [`Breaker::WINDOW`] that pause a platform.
    pub(crate) const THRESHOLD: usize = 5;
    /// How far back failures count: 10 minutes.
    pub(crate) const WINDOW: Duration = Duration::from_secs(600);
    /// The first pause: 5 minutes (the longest ordinary backoff).
    pub(crate) const COOL_DOWN: Duration = Duration::from_secs(300);
    /// The longest pause: 1 hour.
    pub(crate) const MAX_COOL_DOWN: Duration = Duration::from_secs(3600);

    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: State::Closed {
                failures: VecDeque::new(),
            },
            streak: 0,
        }
    }

    /// Whether an attempt may start at `now`; moves an open breaker whose
    /// cool-down has passed to half-open.
    pub(crate) fn permit(&mut self, now: Instant) -> Permit {
        match self.state {
            State::Closed { .. } => Permit::Run,
            State::HalfOpen { .. } => Permit::Probe,
            State::Open { until, .. } if now < until => Permit::WaitUntil(until),
            State::Open { cool_down, .. } => {
                self.state = State::HalfOpen { cool_down };
                Permit::Probe
            }
        }
    }

    /// An attempt reached running: forget the failures; a probe closes
    /// the breaker.
    pub(crate) fn success(&mut self) -> Option<Transition> {
        let was_half_open = matches!(self.state, State::HalfOpen { .. });
        self.reset();
        was_half_open.then_some(Transition::Closed)
    }

    /// An attempt failed at `now`.
    pub(crate) fn failure(&mut self, now: Instant) -> Option<Transition> {
        self.streak = self.streak.saturating_add(1);
        match &mut self.state {
            State::Closed { failures } => {
                failures.push_back(now);
                let window = self.config.window;
                while failures
                    .front()
                    .is_some_and(|at| now.saturating_duration_since(*at) > window)
                {
                    failures.pop_front();
                }
                if failures.len() < self.config.threshold {
                    return None;
                }
                let cool_down = self.config.cool_down;
                self.state = State::Open {
                    until: now + cool_down,
                    cool_down,
                };
                Some(Transition::Opened { cool_down })
            }
            State::HalfOpen { cool_down } => {
                let cool_down = cool_down.saturating_mul(2).min(self.config.max_cool_down);
                self.state = State::Open {
                    until: now + cool_down,
                    cool_down,
                };
                Some(Transition::Reopened { cool_down })
            }
            // An attempt that was running when the breaker opened (cannot
            // happen in the supervisor, which runs one attempt at a time).
            State::Open { .. } => None,
        }
    }

    /// An operator resumed the platform: closed, with no failures.
    pub(crate) fn reset(&mut self) {
        self.state = State::Closed {
            failures: VecDeque::new(),
        };
        self.streak = 0;
    }

    /// Failures in a row since the last run that reached running.
    pub(crate) fn failures(&self) -> u32 {
        self.streak
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig::default())
    }

    /// Fails `n` times, `every` apart, starting now; returns the last
    /// transition.
    async fn fail(b: &mut Breaker, n: usize, every: Duration) -> Option<Transition> {
        let mut last = None;
        for i in 0..n {
            if i > 0 {
                advance(every).await;
            }
            assert_eq!(b.permit(Instant::now()), Permit::Run);
            last = b.failure(Instant::now());
        }
        last
    }

    #[tokio::test(start_paused = true)]
    async fn opens_at_the_threshold_and_not_before() {
        let mut b = breaker();
        assert_eq!(fail(&mut b, 4, Duration::from_secs(10)).await, None);
        assert_eq!(b.failures(), 4);
        assert_eq!(b.permit(Instant::now()), Permit::Run, "still closed");
        advance(Duration::from_secs(10)).await;
        assert_eq!(
            b.failure(Instant::now()),
            Some(Transition::Opened {
                cool_down: Breaker::COOL_DOWN
            })
        );
        let opened = Instant::now();
        assert_eq!(
            b.permit(opened),
            Permit::WaitUntil(opened + Breaker::COOL_DOWN)
        );
        advance(Breaker::COOL_DOWN - Duration::from_millis(1)).await;
        assert!(matches!(b.permit(Instant::now()), Permit::WaitUntil(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_outside_the_window_do_not_count() {
        let mut b = breaker();
        // Four failures, then a quiet spell longer than the window: the
        // next four are the only ones that count.
        assert_eq!(fail(&mut b, 4, Duration::from_secs(1)).await, None);
        advance(Breaker::WINDOW + Duration::from_secs(1)).await;
        assert_eq!(fail(&mut b, 4, Duration::from_secs(1)).await, None);
        assert_eq!(b.failures(), 8, "all eight in a row are shown");
        // Spread out: one every three minutes never has five within ten.
        let mut b = breaker();
        assert_eq!(fail(&mut b, 20, Duration::from_secs(180)).await, None);
        assert_eq!(b.failures(), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_reaches_running_forgets_the_failures() {
        let mut b = breaker();
        fail(&mut b, 4, Duration::from_secs(1)).await;
        assert_eq!(b.success(), None, "closed stays closed, no transition");
        assert_eq!(fail(&mut b, 4, Duration::from_secs(1)).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_success_closes() {
        let mut b = breaker();
        fail(&mut b, 5, Duration::from_secs(1)).await;
        advance(Breaker::COOL_DOWN).await;
        assert_eq!(b.permit(Instant::now()), Permit::Probe);
        assert_eq!(b.permit(Instant::now()), Permit::Probe, "until it ends");
        assert_eq!(b.success(), Some(Transition::Closed));
        assert_eq!(b.permit(Instant::now()), Permit::Run);
        assert_eq!(b.failures(), 0);
        // Closed afresh: it takes the whole threshold to open it again,
        // with the first cool-down.
        assert_eq!(
            fail(&mut b, 5, Duration::from_secs(1)).await,
            Some(Transition::Opened {
                cool_down: Breaker::COOL_DOWN
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_failure_reopens_with_a_longer_cool_down_up_to_the_cap() {
        let mut b = breaker();
        fail(&mut b, 5, Duration::from_secs(1)).await;
        let mut cool_down = Breaker::COOL_DOWN;
        for expected in [600, 1200, 2400, 3600, 3600] {
            advance(cool_down).await;
            assert_eq!(b.permit(Instant::now()), Permit::Probe);
            let reopened = b.failure(Instant::now());
            cool_down = Duration::from_secs(expected);
            assert_eq!(reopened, Some(Transition::Reopened { cool_down }));
            let now = Instant::now();
            assert_eq!(b.permit(now), Permit::WaitUntil(now + cool_down));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_closes_an_open_breaker() {
        let mut b = breaker();
        fail(&mut b, 5, Duration::from_secs(1)).await;
        b.reset();
        assert_eq!(b.permit(Instant::now()), Permit::Run);
        assert_eq!(b.failures(), 0);
    }
}

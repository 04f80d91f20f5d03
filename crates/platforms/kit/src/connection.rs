//! [`Connection`]: a receive loop's state — connecting, connected,
//! retrying, failed — its backoff, and what it reports to the gateway's
//! [`Health`](hermod_core::Health).
//!
//! A loop calls [`Connection::retry`] after every failed attempt (the
//! call, a batch it could not record, a dropped socket): it counts the
//! failure, reports the adapter degraded with the reason, logs it and
//! waits the backoff on tokio's clock, returning `false` when shutdown
//! came first. After an attempt that fully succeeded, [`Connection::connected`]
//! (or [`Connection::succeeded`] before the loop is receiving) reports the
//! adapter running again, and the backoff starts over once the connection
//! has held for [`STABLE_AFTER`]: a peer that accepts and then drops every
//! connection at once is retried ever more slowly, not once a second. Failures the loop
//! cannot go on from are not retried: it returns a classified
//! [`AdapterError`](hermod_core::AdapterError) and marks itself
//! [`ConnectionState::Failed`].
//!
//! Reasons leave the adapter (health, `/status`), so the secrets given to
//! [`Connection::redacting`] are masked in them, should an answer or a
//! transport error ever echo one, and they are cut to a readable length.

use crate::backoff::Backoff;
use hermod_core::AdapterContext;
use hermod_model::{PlatformId, Secret};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tracing::{info, warn};

/// Longest health reason reported, in characters.
const MAX_REASON: usize = 160;

/// How long a connection must hold after a success before a failure
/// starts the backoff over.
pub const STABLE_AFTER: Duration = Duration::from_secs(30);

/// The state of a platform connection, for status displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Starting: not yet known to work.
    Connecting,
    /// Receiving.
    Connected,
    /// The last attempt failed; backing off before the next one.
    Retrying,
    /// Stopped for good (credentials refused, configuration wrong).
    Failed,
}

#[derive(Debug)]
struct Inner {
    state: ConnectionState,
    backoff: Backoff,
    /// When the first success since the last failure came (tokio's clock).
    up_since: Option<tokio::time::Instant>,
}

/// One adapter's receiving state. Shared by reference (it locks inside).
#[derive(Debug)]
pub struct Connection {
    platform: PlatformId,
    secrets: Vec<Secret>,
    inner: Mutex<Inner>,
}

impl Connection {
    /// Waits between failed attempts grow up to `max_delay`.
    pub fn new(platform: PlatformId, max_delay: Duration) -> Self {
        Self {
            platform,
            secrets: Vec::new(),
            inner: Mutex::new(Inner {
                state: ConnectionState::Connecting,
                backoff: Backoff::new(max_delay),
                up_since: None,
            }),
        }
    }

    /// Masks `secret` in every reason this connection reports.
    pub fn redacting(mut self, secret: Secret) -> Self {
        if !secret.is_empty() {
            self.secrets.push(secret);
        }
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the state consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current state.
    pub fn state(&self) -> ConnectionState {
        self.lock().state
    }

    /// Sets the state (`Connecting` at the start of `run`, `Failed` when
    /// it gives up).
    pub fn set_state(&self, state: ConnectionState) {
        self.lock().state = state;
    }

    /// `text` with the secrets masked.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            text = text.replace(secret.expose(), "<redacted>");
        }
        text
    }

    /// An attempt succeeded (for example, the platform said who we are):
    /// the adapter is reported running, and the backoff starts over if
    /// the connection holds for [`STABLE_AFTER`].
    pub fn succeeded(&self, ctx: &AdapterContext) {
        let failures = {
            let mut inner = self.lock();
            if inner.up_since.is_some() {
                0
            } else {
                inner.up_since = Some(tokio::time::Instant::now());
                inner.backoff.failures()
            }
        };
        if failures > 0 {
            info!(platform = %self.platform, failures, "receiving works again");
        }
        self.recovered(ctx);
    }

    /// Receiving works: [`Connection::succeeded`], and the state is
    /// `Connected`.
    pub fn connected(&self, ctx: &AdapterContext) {
        self.set_state(ConnectionState::Connected);
        self.succeeded(ctx);
    }

    /// Reports the adapter running again, leaving the backoff as it is
    /// (a webhook delivery that was recorded).
    pub fn recovered(&self, ctx: &AdapterContext) {
        ctx.inbound.health().recovered(self.platform.as_str());
    }

    /// Reports the adapter degraded with `reason` (masked and shortened).
    /// Returns the whole masked reason, for the log.
    pub fn degraded(&self, ctx: &AdapterContext, reason: &str) -> String {
        let reason = self.redact(reason);
        ctx.inbound
            .health()
            .degraded(self.platform.as_str(), truncate(&reason, MAX_REASON));
        reason
    }

    /// After a failed attempt: counts it, reports the adapter degraded
    /// with `reason`, and waits — `retry_after` when the platform gave one,
    /// else the backoff. False when shutdown came first.
    pub async fn retry(
        &self,
        ctx: &AdapterContext,
        reason: &str,
        retry_after: Option<Duration>,
    ) -> bool {
        let (delay, failures) = {
            let mut inner = self.lock();
            inner.state = ConnectionState::Retrying;
            if inner
                .up_since
                .take()
                .is_some_and(|since| since.elapsed() >= STABLE_AFTER)
            {
                inner.backoff.reset();
            }
            (inner.backoff.fail(retry_after), inner.backoff.failures())
        };
        let reason = self.degraded(ctx, reason);
        warn!(platform = %self.platform, %reason, ?delay, failures, "receiving failed; retrying");
        hermod_http::sleep_or_cancel(delay, &ctx.shutdown)
            .await
            .is_ok()
    }

    /// Failed attempts in a row.
    pub fn failures(&self) -> u32 {
        self.lock().backoff.failures()
    }
}

/// `text` cut to at most `max_chars` characters, with `…` when cut.
pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::context;
    use hermod_core::ComponentState;
    use tokio::time::Instant;

    const PLATFORM: PlatformId = PlatformId::from_static("demo");

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_report_degraded_and_success_starts_over() {
        let (ctx, _gateway) = context();
        let connection =
            Connection::new(PLATFORM, Duration::from_secs(4)).redacting(Secret::new("TOPSECRET"));
        let start = Instant::now();
        for _ in 0..5 {
            assert!(connection.retry(&ctx, "down: TOPSECRET", None).await);
        }
        // 1 + 2 + 4 + 4 + 4 s at most, each at least half that.
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(7500) && waited <= Duration::from_secs(15),
            "{waited:?}"
        );
        assert_eq!(connection.state(), ConnectionState::Retrying);
        let health = ctx.inbound.health().get("demo").map(|s| s.state);
        assert_eq!(
            health,
            Some(ComponentState::Degraded {
                reason: "down: <redacted>".into()
            })
        );
        connection.connected(&ctx);
        assert_eq!(connection.state(), ConnectionState::Connected);
        assert_eq!(
            ctx.inbound.health().get("demo").map(|s| s.state),
            Some(ComponentState::Running)
        );
        // Held long enough (receiving meanwhile): the next failure is
        // retried at once again.
        tokio::time::sleep(STABLE_AFTER).await;
        connection.connected(&ctx);
        let start = Instant::now();
        assert!(connection.retry(&ctx, "again", None).await);
        assert!(start.elapsed() <= Duration::from_secs(1));
        assert_eq!(connection.failures(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_drops_every_connection_at_once_is_retried_ever_more_slowly() {
        let (ctx, _gateway) = context();
        let connection = Connection::new(PLATFORM, Duration::from_secs(300));
        let mut waits = Vec::new();
        for _ in 0..6 {
            // Connected, then dropped a moment later.
            connection.connected(&ctx);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let start = Instant::now();
            assert!(connection.retry(&ctx, "dropped", None).await);
            waits.push(start.elapsed());
        }
        assert_eq!(connection.failures(), 6);
        // 1, 2, 4, 8, 16, 32 s, each at least half that with jitter.
        assert!(waits[5] >= Duration::from_secs(16), "{waits:?}");
        assert!(
            waits.iter().sum::<Duration>() >= Duration::from_secs(31),
            "{waits:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_platforms_retry_after_is_waited_and_shutdown_ends_the_wait() {
        let (ctx, _gateway) = context();
        let connection = Connection::new(PLATFORM, Duration::from_secs(60));
        let start = Instant::now();
        assert!(
            connection
                .retry(&ctx, "slow down", Some(Duration::from_secs(9)))
                .await
        );
        assert_eq!(start.elapsed(), Duration::from_secs(9));
        let shutdown = ctx.shutdown.clone();
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            shutdown.cancel();
        });
        let start = Instant::now();
        assert!(
            !connection
                .retry(&ctx, "slow down", Some(Duration::from_secs(600)))
                .await
        );
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        stopper.await.unwrap();
    }

    #[test]
    fn long_reasons_are_cut_at_characters() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 2), "hi");
    }
}

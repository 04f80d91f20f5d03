//! Handoff: a conversation started elsewhere (the terminal, the HTTP API)
//! continues in a chat platform's home channel.
//!
//! A handoff is asked for in the store ([`Store::handoff_request`]: the
//! session's row becomes *pending*), by `hermod handoff`, `/handoff` in
//! `hermod chat`, or [`Handoffs::request`] in process. The gateway's
//! watcher ([`watch`]) looks for pending handoffs every [`HANDOFF_POLL`]
//! (one small indexed query) and at once when woken in process, claims
//! each (*running*; of two claimants exactly one wins) and carries it out
//! ([`carry`]): the platform's home channel, a fresh thread there where the
//! platform has [`crate::Threads`], the thread's session key routed to the
//! *same* session, and a summary of the conversation so far posted there
//! through the outbox. It ends *completed* with the destination, or
//! *failed* with the reason. Whoever asked waits for that
//! ([`await_handoff`]).
//!
//! A handoff found *running* when the gateway starts was cut short by the
//! previous run (one gateway per home): it is failed with a reason to ask
//! again, never carried out twice. In a cluster a gateway carries a
//! handoff under its `handoff:<session>` lease, taken before the claim;
//! every gateway fails, as it polls, the running handoffs nobody holds.

mod carry;

use crate::clock::Clock;
use crate::router::Shared;
use hermod_model::{PlatformId, SessionId};
use hermod_store::{Handoff, HandoffOutcome, HandoffState, NewHandoff, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often the gateway looks for pending handoffs in the store.
pub const HANDOFF_POLL: Duration = Duration::from_secs(1);

/// Pending handoffs taken per look.
const BATCH: usize = 16;

/// How often [`await_handoff`] reads the state.
const AWAIT_POLL: Duration = Duration::from_millis(250);

/// Asks the gateway for handoffs from inside its process. Cheap to clone.
#[derive(Clone)]
pub struct Handoffs {
    store: Arc<dyn Store>,
    clock: Clock,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Handoffs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoffs").finish_non_exhaustive()
    }
}

impl Handoffs {
    pub(crate) fn new(store: Arc<dyn Store>, clock: Clock, wake: Arc<Notify>) -> Self {
        Self { store, clock, wake }
    }

    /// Asks for `session` to continue on `platform` and wakes the watcher;
    /// returns the pending handoff. The store's errors as they are:
    /// [`StoreError::Conflict`] while one is pending or running,
    /// [`StoreError::NotFound`] for an unknown session.
    pub async fn request(
        &self,
        session: &SessionId,
        platform: PlatformId,
    ) -> Result<Handoff, StoreError> {
        let asked = self
            .store
            .handoff_request(NewHandoff {
                session: session.clone(),
                platform,
                at_ms: self.clock.now_ms(),
            })
            .await?;
        self.wake.notify_one();
        Ok(asked)
    }
}

/// Why [`await_handoff`] stopped waiting without a final state.
#[derive(Debug, thiserror::Error)]
pub enum HandoffWait {
    /// Still pending or running when the time was up.
    #[error("the handoff is still {} after {}s", .0.state.as_str(), .1.as_secs())]
    TimedOut(Handoff, Duration),
    /// The session has no handoff (any more).
    #[error("the session has no handoff")]
    Missing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Waits (on tokio's clock) until `session`'s handoff is completed or
/// failed, at most `within`, and returns it.
pub async fn await_handoff(
    store: &dyn Store,
    session: &SessionId,
    within: Duration,
) -> Result<Handoff, HandoffWait> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let handoff = store.handoff(session).await?.ok_or(HandoffWait::Missing)?;
        if handoff.state.is_final() {
            return Ok(handoff);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(HandoffWait::TimedOut(handoff, within));
        }
        tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + AWAIT_POLL)).await;
    }
}

/// The gateway's handoff watcher: fails what the previous run left
/// running, then carries out pending handoffs as they come, until `stop`.
pub(crate) async fn watch(shared: Arc<Shared>, wake: Arc<Notify>, stop: CancellationToken) {
    fail_interrupted(&shared).await;
    loop {
        if shared.deps().cluster.is_some() {
            fail_interrupted(&shared).await;
        }
        take_pending(&shared, &stop).await;
        tokio::select! {
            () = stop.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(HANDOFF_POLL) => {}
        }
    }
}

async fn fail_interrupted(shared: &Shared) {
    let deps = shared.deps();
    let running = match deps.store.handoffs_in(HandoffState::Running, 0).await {
        Ok(running) => running,
        Err(e) => {
            warn!(error = %e, "could not read the handoffs a previous run left running");
            return;
        }
    };
    for handoff in running {
        // In a cluster, a handoff some gateway carries right now holds its
        // lease: taking the lease first means nobody does, and nobody can
        // claim it anew while it is failed here.
        let lease = handoff_lease(&handoff.session);
        if !take(shared, &lease).await {
            continue;
        }
        let reason = "the gateway stopped while handing off; ask for the handoff again";
        warn!(session = %handoff.session, platform = %handoff.platform, "{reason}");
        finish(
            deps.store.as_ref(),
            &deps.clock,
            &handoff,
            HandoffOutcome::Failed(reason.to_owned()),
        )
        .await;
        release(shared, &lease).await;
    }
}

async fn take_pending(shared: &Arc<Shared>, stop: &CancellationToken) {
    let deps = shared.deps();
    let pending = match deps.store.handoffs_in(HandoffState::Pending, BATCH).await {
        Ok(pending) => pending,
        Err(e) => {
            warn!(error = %e, "could not read the pending handoffs; trying again shortly");
            return;
        }
    };
    for handoff in pending {
        if stop.is_cancelled() {
            return;
        }
        let lease = handoff_lease(&handoff.session);
        if !take(shared, &lease).await {
            continue;
        }
        let claimed = deps
            .store
            .handoff_claim(&handoff.session, deps.clock.now_ms())
            .await;
        match claimed {
            Ok(true) => {}
            Ok(false) => {
                release(shared, &lease).await;
                continue;
            }
            Err(e) => {
                warn!(session = %handoff.session, error = %e, "could not claim a handoff; trying again shortly");
                release(shared, &lease).await;
                continue;
            }
        }
        let outcome = match carry::carry(shared, &handoff).await {
            Ok(target) => {
                info!(
                    session = %handoff.session,
                    platform = %handoff.platform,
                    chat = %target.chat_id,
                    thread = target.thread_id.as_deref().unwrap_or(""),
                    "conversation handed off"
                );
                HandoffOutcome::Completed(target)
            }
            Err(reason) => {
                warn!(session = %handoff.session, platform = %handoff.platform, reason = %reason, "handoff failed");
                HandoffOutcome::Failed(reason)
            }
        };
        finish(deps.store.as_ref(), &deps.clock, &handoff, outcome).await;
        release(shared, &lease).await;
    }
}

/// The lease a gateway of a cluster carries a session's handoff under.
fn handoff_lease(session: &SessionId) -> String {
    format!("handoff:{session}")
}

/// Takes a handoff's lease (in a cluster; alone on a database there is
/// none to take): false when another gateway holds it.
async fn take(shared: &Shared, lease: &str) -> bool {
    match &shared.deps().cluster {
        Some(cluster) => matches!(cluster.try_take(lease).await, Ok(true)),
        None => true,
    }
}

/// Gives up a handoff's lease (in a cluster).
async fn release(shared: &Shared, lease: &str) {
    if let Some(cluster) = &shared.deps().cluster {
        cluster.release(lease).await;
    }
}

async fn finish(store: &dyn Store, clock: &Clock, handoff: &Handoff, outcome: HandoffOutcome) {
    if let Err(e) = store
        .handoff_finish(&handoff.session, outcome, clock.now_ms())
        .await
    {
        warn!(session = %handoff.session, error = %e, "could not record how a handoff ended; the next start marks it failed");
    }
}

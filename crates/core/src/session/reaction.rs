//! A turn's reaction: the platform's [`Reactions`] hears when a turn on a
//! user's chat message starts and how it ended.
//!
//! Both calls run in one task beside the turn, the end only after the
//! start has returned (so a removal never overtakes the mark it removes),
//! each bounded by [`CALL_LIMIT`]: a slow platform delays neither the
//! reply nor the next turn. A failure is logged and changes nothing else.

use crate::adapter::{AdapterError, TurnEnded};
use crate::reply::ReplyMode;
use crate::session::WorkerDeps;
use hermod_model::{ChatTarget, InboundEvent, MessageRef};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;
use tracing::debug;

/// The longest one reaction call may take; the platform's answer is not
/// waited for longer.
const CALL_LIMIT: Duration = Duration::from_secs(10);

/// The reaction of a running turn. [`TurnReaction::end`] says how the turn
/// ended; dropped without it (the turn's task failed), the turn counts as
/// failed.
#[derive(Debug)]
pub(crate) struct TurnReaction {
    ended: oneshot::Sender<TurnEnded>,
}

impl TurnReaction {
    /// Starts the reaction of the turn answering `event`: a message from a
    /// chat (answered through its adapter), with an id, on a platform
    /// whose messenger has [`crate::Reactions`]. `None` for every other turn.
    pub(crate) fn start(
        deps: &WorkerDeps,
        tracker: &TaskTracker,
        event: &InboundEvent,
        mode: &ReplyMode,
    ) -> Option<Self> {
        if !matches!(mode, ReplyMode::Adapter) {
            return None;
        }
        let adapter = Arc::clone(deps.adapters.get(&event.source.platform)?);
        adapter.messenger().and_then(|m| m.reactions())?;
        let message = MessageRef {
            target: ChatTarget {
                chat_id: event.source.chat_id.clone()?,
                thread_id: event.source.thread_id.clone(),
            },
            message_id: event.message_id.clone()?,
        };
        let (ended, on_end) = oneshot::channel();
        tracker.spawn(async move {
            let Some(reactions) = adapter.messenger().and_then(|m| m.reactions()) else {
                return;
            };
            let platform = adapter.id();
            bounded(&platform, "start", reactions.turn_started(&message)).await;
            let ended = on_end.await.unwrap_or(TurnEnded::Failed);
            bounded(&platform, "end", reactions.turn_ended(&message, ended)).await;
        });
        Some(Self { ended })
    }

    /// The turn ended (its reply or error was sent).
    pub(crate) fn end(self, ended: TurnEnded) {
        // The receiving task is gone only when the runtime is.
        let _ = self.ended.send(ended);
    }
}

/// Awaits one call for at most [`CALL_LIMIT`], logging how it failed.
async fn bounded(
    platform: &hermod_model::PlatformId,
    what: &str,
    call: impl Future<Output = Result<(), AdapterError>>,
) {
    match tokio::time::timeout(CALL_LIMIT, call).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => debug!(%platform, error = %e, "the reaction for a turn's {what} failed"),
        Err(_) => {
            debug!(%platform, limit = ?CALL_LIMIT, "the reaction for a turn's {what} took too long; not waited for")
        }
    }
}

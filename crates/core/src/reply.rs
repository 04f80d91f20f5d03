//! How the result of a turn gets back to its source.

use crate::error::CoreError;
use hermod_agent::AgentEvent;
use hermod_model::SessionId;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// How the router answers a submitted event.
#[derive(Debug)]
pub enum ReplyMode {
    /// Send the reply through the adapter of the event's platform.
    Adapter,
    /// Like `Adapter`, with a line put before the reply (results of
    /// background tasks posted back to their chat).
    Notify { prefix: String },
    /// Stream the turn's events to the submitter (request/response sources
    /// such as the HTTP API). Cancelling `cancel` abandons the turn.
    Stream {
        events: mpsc::Sender<TurnEvent>,
        cancel: CancellationToken,
    },
}

impl ReplyMode {
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, ReplyMode::Stream { .. })
    }
}

/// An event of a turn, as seen by a streaming submitter.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// The worker picked the message up; this is the session it belongs to.
    Started { session_id: SessionId },
    /// An event of the agent's turn (text, tools, usage, final or failure).
    Agent(AgentEvent),
    /// The files the final reply's `MEDIA:` lines name (those allowed, as
    /// attachments; the others as notes), sent just before the final
    /// event when there are any. `text` is the final text without the
    /// directives, notes included. Streamed text deltas still carry the
    /// directives: filter them with [`crate::DirectiveFilter`].
    Files(crate::delivery::ReplyMedia),
    /// The message was handled without the agent (a slash command, a busy
    /// acknowledgement); this text is the whole answer.
    Reply { text: String },
    /// The pipeline itself failed (storage, shutdown); nothing more follows.
    Failed(CoreError),
}

/// The receiving side of a streamed turn. Dropping it cancels the turn, which
/// is how a client that disconnects stops the work done for it.
#[derive(Debug)]
pub struct TurnStream {
    events: mpsc::Receiver<TurnEvent>,
    _cancel_on_drop: DropGuard,
}

impl TurnStream {
    pub(crate) fn new(events: mpsc::Receiver<TurnEvent>, cancel: CancellationToken) -> Self {
        Self {
            events,
            _cancel_on_drop: cancel.drop_guard(),
        }
    }

    /// The next event; `None` once the turn is over.
    pub async fn next(&mut self) -> Option<TurnEvent> {
        self.events.recv().await
    }
}

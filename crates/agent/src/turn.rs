//! The types of a running turn: request, events, outcome, control.

use crate::approval::{ApprovalDecision, Approvals, INTERRUPTED_REASON};
use hermod_model::{ChatMessage, SessionId, TurnOptions, Usage};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Everything a turn needs.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub session_id: SessionId,
    /// Earlier messages of the conversation, oldest first.
    pub history: Vec<ChatMessage>,
    /// The new user message.
    pub input: ChatMessage,
    /// Extra system prompt for this turn, added after the configured one.
    pub system_prompt: Option<String>,
    pub options: TurnOptions,
    /// Where the agent reports each model call it makes (the gateway's
    /// metrics); `None` records nothing.
    pub model_calls: Option<Arc<dyn ModelCallObserver>>,
    /// Approval keys the user already granted (for the session or for
    /// good) are approved without asking; `None` asks every time.
    pub approval_policy: Option<Arc<dyn crate::ApprovalPolicy>>,
}

/// Told about each model call of a turn: how long it took, retries
/// included, and why it failed when it did. Called on the turn's task, so
/// it must be quick (an atomic add).
pub trait ModelCallObserver: std::fmt::Debug + Send + Sync {
    /// A call ended after `took`; `error` is `Some` when it failed.
    /// Cancelled calls are not reported.
    fn model_call(&self, took: Duration, error: Option<&AgentError>);
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    /// The model hit its token limit; the text is partial.
    Length,
    /// The turn was interrupted; the text is what was produced until then.
    Interrupted,
    /// The tool loop reached its iteration bound.
    MaxIterations,
    /// The model's stream ended before the model said it was done (the
    /// connection dropped mid-answer, no finish reason and no `[DONE]`),
    /// after part of the answer had been shown: the text is partial and
    /// must not be presented as a complete reply.
    Incomplete,
}

impl FinishReason {
    /// The OpenAI `finish_reason` string.
    pub fn as_openai(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length | FinishReason::MaxIterations => "length",
            // Not an OpenAI value, on purpose: a reply cut short by an
            // interrupt (a newer message, /stop, shutdown) must not read as
            // finished (`stop`), as cut by the token limit (`length`, which
            // invites "continue") or as failed (`error`, which Hermes uses for
            // failures). OpenAI's SDKs pass unknown `finish_reason` strings
            // through rather than rejecting the response, so clients that do
            // not know this value still get the partial text.
            FinishReason::Interrupted => "interrupted",
            // Not an OpenAI value: sources report an incomplete answer as an
            // error rather than as a finished completion.
            FinishReason::Incomplete => "incomplete",
        }
    }
}

/// How a finished turn ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    /// The final assistant text of the turn (all segments joined).
    pub text: String,
    /// Every message the turn produced, in order: assistant messages with
    /// tool calls, tool results, and the final assistant message. The input
    /// message is not included.
    pub messages: Vec<ChatMessage>,
    pub usage: Usage,
    pub finish_reason: FinishReason,
    /// Steering texts ([`TurnControl::steer`]) the model never saw, in the
    /// order they were sent: the source should run them as the next turn.
    pub unused_steer: Vec<String>,
}

/// Why a turn failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgentError {
    /// The LLM kept answering 429 after our retries. `retry_after` is the
    /// provider's `Retry-After`, when it sent one.
    #[error("the model provider is rate limiting requests{}", hermod_http::retry_hint(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// Network failure, timeout or 5xx after our retries.
    #[error("the model provider is unreachable or failing: {0}")]
    Transient(String),
    /// The provider refused the request (4xx other than 401/403/429).
    #[error("the model provider rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// Bad or missing API key.
    #[error(
        "the model provider refused our credentials ({status}); check model.api_key / OPENAI_API_KEY"
    )]
    Auth { status: u16 },
    /// The provider answered something we could not understand.
    #[error("the model provider sent a malformed response: {0}")]
    Protocol(String),
    #[error("the turn was cancelled")]
    Cancelled,
    /// The agent is a process of its own (an external agent) and it is
    /// not running: it exited mid-turn or could not be started. The next
    /// turn starts it again.
    #[error("the agent process is not running: {0}")]
    Process(String),
}

impl AgentError {
    /// A short, fixed name for the kind of failure (`rate_limited`,
    /// `transient`, `rejected`, `auth`, `protocol`, `cancelled`,
    /// `process`), for
    /// metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            AgentError::RateLimited { .. } => "rate_limited",
            AgentError::Transient(_) => "transient",
            AgentError::Rejected { .. } => "rejected",
            AgentError::Auth { .. } => "auth",
            AgentError::Protocol(_) => "protocol",
            AgentError::Cancelled => "cancelled",
            AgentError::Process(_) => "process",
        }
    }
}

/// An event of a running turn.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// Visible text produced by the model.
    TextDelta(String),
    /// A tool boundary: text after this belongs to a new message segment.
    SegmentBreak,
    ToolStarted {
        call_id: String,
        name: String,
        arguments: String,
    },
    ToolFinished {
        call_id: String,
        name: String,
        result: String,
        is_error: bool,
    },
    /// A tool asks the user for approval and waits; answer with
    /// [`TurnControl::resolve_approval`]. Unanswered requests are denied
    /// after [`crate::LlmConfig::approval_timeout`].
    ApprovalRequested {
        request_id: String,
        /// The name of the tool asking.
        tool: String,
        /// What kind of action it is (a dangerous command's pattern name,
        /// else the tool's name): what answers "for this session" and
        /// "always" remember.
        key: String,
        /// What the tool wants to do, for the user.
        description: String,
        /// How long the request waits before it is denied.
        timeout: Duration,
    },
    /// Usage of one model call.
    Usage(Usage),
    /// The turn completed.
    Final(TurnOutcome),
    /// The turn failed; nothing more follows.
    Failed(AgentError),
}

/// Controls a running turn from outside. Cheap to clone; clones control
/// the same turn.
#[derive(Debug, Clone)]
pub struct TurnControl {
    cancel: CancellationToken,
    steer: mpsc::UnboundedSender<String>,
    approvals: Approvals,
    /// Steering texts a failed turn left undelivered.
    unused_steer: Arc<Mutex<Vec<String>>>,
}

impl TurnControl {
    /// Creates a control and the receiving ends the turn's task keeps. A
    /// turn that closes the steering receiver makes [`TurnControl::steer`]
    /// return false from then on.
    pub fn new() -> (Self, CancellationToken, mpsc::UnboundedReceiver<String>) {
        let cancel = CancellationToken::new();
        let (steer, steer_rx) = mpsc::unbounded_channel();
        (
            Self {
                cancel: cancel.clone(),
                steer,
                approvals: Approvals::new(),
                unused_steer: Arc::default(),
            },
            cancel,
            steer_rx,
        )
    }

    /// Stops the turn at its next checkpoint; it then ends with
    /// [`FinishReason::Interrupted`] or [`AgentError::Cancelled`]. Open
    /// approval requests, and any made afterwards, are denied.
    pub fn interrupt(&self) {
        self.cancel.cancel();
        self.approvals.close(INTERRUPTED_REASON);
    }

    pub fn is_interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Queues text for the model: it is added to the next tool result the
    /// model reads. Text the model did not get to see is returned in
    /// [`TurnOutcome::unused_steer`] (or by [`TurnControl::take_unused_steer`]
    /// when the turn failed). Returns false when the turn has already
    /// finished; the text was then not taken.
    pub fn steer(&self, text: impl Into<String>) -> bool {
        self.steer.send(text.into()).is_ok()
    }

    /// Steering texts a turn that ended with [`AgentEvent::Failed`] never
    /// delivered (a completed turn reports them in
    /// [`TurnOutcome::unused_steer`] instead). Each text is returned once.
    pub fn take_unused_steer(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .unused_steer
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Records texts for [`TurnControl::take_unused_steer`].
    pub(crate) fn set_unused_steer(&self, texts: Vec<String>) {
        self.unused_steer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(texts);
    }

    /// Answers the approval request `request_id`. False when no such
    /// request is open (unknown, already answered, timed out, or the turn
    /// is over).
    pub fn resolve_approval(&self, request_id: &str, decision: ApprovalDecision) -> bool {
        self.approvals.resolve(request_id, decision)
    }

    /// Answers the oldest open approval request; returns its id, or `None`
    /// when none is open.
    pub fn resolve_oldest_approval(&self, decision: ApprovalDecision) -> Option<String> {
        self.approvals.resolve_oldest(decision)
    }

    /// The ids of the open approval requests, oldest first.
    pub fn pending_approvals(&self) -> Vec<String> {
        self.approvals.pending()
    }

    /// The turn's approval registry, for [`crate::Agent`] implementations
    /// that hand it to their tools ([`crate::ToolContext::with_approvals`]).
    pub fn approvals(&self) -> &Approvals {
        &self.approvals
    }
}

/// A running turn: its events and its control.
#[derive(Debug)]
pub struct TurnHandle {
    pub events: mpsc::Receiver<AgentEvent>,
    pub control: TurnControl,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_read_without_rust_values() {
        let limited = |retry_after| AgentError::RateLimited { retry_after }.to_string();
        assert_eq!(
            limited(Some(Duration::from_millis(1500))),
            "the model provider is rate limiting requests (retry after 2 s)"
        );
        assert_eq!(
            limited(None),
            "the model provider is rate limiting requests"
        );
        for shown in [limited(Some(Duration::from_secs(2))), limited(None)] {
            assert!(
                !shown.contains("Some") && !shown.contains("None"),
                "{shown}"
            );
        }
    }

    #[test]
    fn an_interrupted_reply_has_its_own_finish_reason() {
        let reasons = [
            FinishReason::Stop,
            FinishReason::Length,
            FinishReason::Interrupted,
            FinishReason::Incomplete,
        ]
        .map(FinishReason::as_openai);
        assert_eq!(reasons, ["stop", "length", "interrupted", "incomplete"]);
    }
}

//! The types of a running turn: request, events, outcome, control.

use hermod_model::{ChatMessage, SessionId, TurnOptions, Usage};
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
}

impl FinishReason {
    /// The OpenAI `finish_reason` string.
    pub fn as_openai(self) -> &'static str {
        match self {
            FinishReason::Stop | FinishReason::Interrupted => "stop",
            FinishReason::Length | FinishReason::MaxIterations => "length",
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
}

/// Why a turn failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgentError {
    /// The LLM kept answering 429 after our retries.
    #[error("the model provider is rate limiting requests (retry after {retry_after:?})")]
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
    /// Usage of one model call.
    Usage(Usage),
    /// The turn completed.
    Final(TurnOutcome),
    /// The turn failed; nothing more follows.
    Failed(AgentError),
}

/// Controls a running turn from outside.
#[derive(Debug, Clone)]
pub struct TurnControl {
    cancel: CancellationToken,
    steer: mpsc::UnboundedSender<String>,
}

impl TurnControl {
    /// Creates a control and the receiving ends the turn's task keeps.
    pub fn new() -> (Self, CancellationToken, mpsc::UnboundedReceiver<String>) {
        let cancel = CancellationToken::new();
        let (steer, steer_rx) = mpsc::unbounded_channel();
        (
            Self {
                cancel: cancel.clone(),
                steer,
            },
            cancel,
            steer_rx,
        )
    }

    /// Stops the turn at its next checkpoint; it then ends with
    /// [`FinishReason::Interrupted`] or [`AgentError::Cancelled`].
    pub fn interrupt(&self) {
        self.cancel.cancel();
    }

    pub fn is_interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Queues text to be injected after the next tool call. Returns false
    /// when the turn has already finished.
    pub fn steer(&self, text: impl Into<String>) -> bool {
        self.steer.send(text.into()).is_ok()
    }
}

/// A running turn: its events and its control.
#[derive(Debug)]
pub struct TurnHandle {
    pub events: mpsc::Receiver<AgentEvent>,
    pub control: TurnControl,
}

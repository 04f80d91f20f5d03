//! [`CoreError`]: failures of the gateway pipeline, classified for callers.

use hermod_agent::AgentError;
use hermod_store::StoreError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// The session's queue is full: the caller should answer "busy" and the
    /// sender may retry later.
    #[error(
        "this conversation already has {capacity} messages waiting; try again when the current reply is done"
    )]
    QueueFull { capacity: usize },
    /// The gateway is shutting down and accepts no new input.
    #[error("the gateway is shutting down; try again once it is back")]
    ShuttingDown,
    #[error("storage failed: {0}")]
    Store(String),
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// A delivery could not be made (unknown or stopped platform, no home
    /// channel, a platform that refused it).
    #[error("{0}")]
    Delivery(String),
    /// The turn was cancelled (the client went away, or shutdown).
    #[error("the turn was cancelled")]
    Cancelled,
    /// The turn was interrupted (a newer message in interrupt mode, /stop,
    /// /new) before the agent produced any text. An interrupt after text
    /// ends the turn with `FinishReason::Interrupted` instead.
    #[error("the reply was interrupted before it began, by a newer message or /stop")]
    Interrupted,
    /// The message was only files, and none of them could be read (a
    /// voice message whose transcription failed): there is nothing to
    /// answer. The text says what failed and what to do.
    #[error("{0}")]
    Unreadable(String),
    /// A scheduled-job request that cannot be done (an unknown job, a
    /// schedule or target that does not parse, a job of someone else's);
    /// the text says which, and what is accepted.
    #[error("{0}")]
    Cron(String),
}

impl CoreError {
    /// A short reason fit to show a chat user or an API client: no file
    /// paths, no operating-system errors, no internal addresses. The full
    /// error belongs in the log.
    pub fn user_message(&self) -> String {
        match self {
            CoreError::Store(_) => {
                "the gateway could not save this conversation right now; it will retry — \
                 if this persists, the operator should check the gateway's log"
                    .to_owned()
            }
            CoreError::Agent(e) => match e {
                AgentError::RateLimited { .. } => {
                    "the model provider is rate limiting requests; try again in a moment".to_owned()
                }
                AgentError::Transient(_) => {
                    "the model provider is unreachable or failing; try again later".to_owned()
                }
                AgentError::Rejected { status, .. } => {
                    format!("the model provider rejected the request (HTTP {status})")
                }
                AgentError::Auth { .. } => {
                    "the model provider refused the gateway's credentials; the operator must check the model key".to_owned()
                }
                AgentError::Protocol(_) => {
                    "the model provider sent a response the gateway could not read".to_owned()
                }
                AgentError::Cancelled => "the turn was cancelled".to_owned(),
                AgentError::Process(_) => {
                    "the agent stopped unexpectedly; it is started again with the next message \
                     (if this repeats, the operator should check the gateway's log)"
                        .to_owned()
                }
            },
            CoreError::Delivery(_) => "the reply could not be delivered".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        CoreError::Store(e.to_string())
    }
}

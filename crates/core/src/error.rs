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
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        CoreError::Store(e.to_string())
    }
}

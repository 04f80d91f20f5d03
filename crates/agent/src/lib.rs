//! The agent: what runs a conversational turn.
//!
//! The gateway only sees the [`Agent`] trait: give it the history and the new
//! input, get back a [`TurnHandle`] whose events stream out while the turn
//! runs and which can be interrupted. [`LlmAgent`] is the built-in
//! implementation that talks to any OpenAI-compatible endpoint and runs tools.

mod turn;

pub use turn::{AgentError, AgentEvent, FinishReason, TurnControl, TurnHandle, TurnOutcome, TurnRequest};

/// Something that can run a conversational turn.
pub trait Agent: Send + Sync + 'static {
    /// Starts a turn. Events arrive on the returned handle; the turn ends
    /// with exactly one [`AgentEvent::Final`] or [`AgentEvent::Failed`].
    /// Dropping the handle's receiver or calling
    /// [`TurnControl::interrupt`] cancels the turn.
    fn run_turn(&self, request: TurnRequest) -> TurnHandle;
}

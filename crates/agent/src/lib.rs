//! The agent: what runs a conversational turn.
//!
//! The gateway only sees the [`Agent`] trait: give it the history and the new
//! input, get back a [`TurnHandle`] whose events stream out while the turn
//! runs and which can be interrupted. [`LlmAgent`] is the built-in
//! implementation that talks to any OpenAI-compatible endpoint and runs tools.
//! Tools may ask the user before doing something dangerous
//! ([`ToolContext::request_approval`]); the turn's driver answers through
//! [`TurnControl::resolve_approval`].
//! For long conversations the gateway asks an agent to summarize older
//! messages ([`Agent::summarize`]) and counts what the agent adds to every
//! request ([`Agent::fixed_context`]).

mod approval;
mod config;
mod human;
mod llm;
mod runner;
mod speech;
mod summary;
mod tool_source;
mod tools;
mod transcribe;
mod turn;

pub use approval::{ApprovalDecision, ApprovalPolicy, ApprovalRequest, Approvals};
pub use config::LlmConfig;
pub use hermod_http::RetryPolicy;
pub use hermod_http::retry_hint;
pub use human::whole_seconds;
pub use llm::{CallEnd, Completion, CompletionRequest, LlmClient};
pub use runner::LlmAgent;
pub use speech::{
    DEFAULT_SPEECH_MODEL, DEFAULT_VOICE, OPENAI_MAX_SPEECH_CHARS, Speaker, SpeakerConfig, Speech,
    SpeechFormat, speakable,
};
pub use summary::{FixedContext, SummaryError, SummaryFuture, SummaryRequest, summary_prompt};
pub use tool_source::ToolSource;
pub use tools::{Tool, ToolContext, ToolRegistry};
pub use transcribe::{
    Audio, DEFAULT_TRANSCRIPTION_MODEL, OPENAI_MAX_AUDIO_BYTES, Transcriber, TranscriberConfig,
    Transcript,
};
pub use turn::{
    AgentError, AgentEvent, FinishReason, ModelCallObserver, TurnControl, TurnHandle, TurnOutcome,
    TurnRequest,
};

/// What separates the text of two segments (model calls with a tool round
/// between them) in [`TurnOutcome::text`]; sources that show one message per
/// turn put it where [`AgentEvent::SegmentBreak`] occurs.
pub const SEGMENT_SEPARATOR: &str = "\n\n";

/// Re-exported so tools can be written without naming the crate.
pub use async_trait::async_trait;

/// Something that can run a conversational turn.
pub trait Agent: Send + Sync + 'static {
    /// Starts a turn. Events arrive on the returned handle; the turn ends
    /// with exactly one [`AgentEvent::Final`] or [`AgentEvent::Failed`].
    /// Dropping the handle's receiver or calling
    /// [`TurnControl::interrupt`] cancels the turn.
    fn run_turn(&self, request: TurnRequest) -> TurnHandle;

    /// Summarizes older messages of a conversation (see [`SummaryRequest`])
    /// so the gateway can send the summary in their place. An agent that
    /// keeps its own context answers [`SummaryError::Unsupported`], as
    /// this default does.
    fn summarize(&self, _request: SummaryRequest) -> SummaryFuture {
        Box::pin(std::future::ready(Err(SummaryError::Unsupported)))
    }

    /// What this agent adds to every request besides the conversation
    /// (nothing known, by default), for the gateway's context budget.
    fn fixed_context(&self) -> FixedContext {
        FixedContext::default()
    }
}

//! The handoff of a conversation to a chat platform, as the store keeps it:
//! one row per session (its latest handoff), moving
//! [`HandoffState::Pending`] → [`HandoffState::Running`] →
//! [`HandoffState::Completed`] | [`HandoffState::Failed`].

use hermod_model::{ChatTarget, PlatformId, SessionId};

/// Where a handoff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandoffState {
    /// Asked for; no gateway has taken it yet.
    Pending,
    /// A gateway claimed it and is carrying it out.
    Running,
    /// Done: the conversation continues at [`Handoff::destination`].
    Completed,
    /// Given up, for the reason in [`Handoff::error`].
    Failed,
}

impl HandoffState {
    /// The state's stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            HandoffState::Pending => "pending",
            HandoffState::Running => "running",
            HandoffState::Completed => "completed",
            HandoffState::Failed => "failed",
        }
    }

    /// The state with this stored name, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "pending" => HandoffState::Pending,
            "running" => HandoffState::Running,
            "completed" => HandoffState::Completed,
            "failed" => HandoffState::Failed,
            _ => return None,
        })
    }

    /// Completed or failed: nothing moves it on any more.
    pub fn is_final(&self) -> bool {
        matches!(self, HandoffState::Completed | HandoffState::Failed)
    }
}

/// A session's latest handoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub session: SessionId,
    /// The platform the conversation goes to, by its configured name.
    pub platform: PlatformId,
    pub state: HandoffState,
    /// Why it failed (failed only).
    pub error: Option<String>,
    /// The chat (and thread) the conversation went to (completed only).
    pub destination: Option<ChatTarget>,
    pub requested_at_ms: i64,
    /// When the state last changed.
    pub updated_at_ms: i64,
}

/// A handoff to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHandoff {
    pub session: SessionId,
    pub platform: PlatformId,
    pub at_ms: i64,
}

/// How a running handoff ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoffOutcome {
    /// The conversation continues in this chat (and thread).
    Completed(ChatTarget),
    /// It did not happen, for this reason.
    Failed(String),
}

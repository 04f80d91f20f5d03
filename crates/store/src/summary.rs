//! The summary of a session's older messages, as the store keeps it: at
//! most one per session, replaced by each newer one.

use hermod_model::SessionId;

/// What stands in for a session's messages up to
/// [`SessionSummary::through_message_id`] when its history is sent to the
/// model. The messages themselves stay stored in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub session: SessionId,
    /// The summary text, as the model wrote it.
    pub summary: String,
    /// The id of the newest message the summary covers; the history sent
    /// with it starts after this message.
    pub through_message_id: i64,
    /// The topic the summary was asked to keep in detail (`/compress <focus>`).
    pub focus: Option<String>,
    pub created_at_ms: i64,
}

//! Records read from and written to the store.

use hermod_model::{ChatMessage, PlatformId, SessionId, SessionKey, Source, Usage};
use serde::{Deserialize, Serialize};

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub key: SessionKey,
    pub source: Source,
    pub created_at_ms: i64,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub key: SessionKey,
    pub platform: PlatformId,
    /// The full origin (chat, user, thread) as JSON-serialized [`Source`].
    pub source: Source,
    pub title: Option<String>,
    /// The model this session uses instead of the configured default, if any.
    #[serde(default)]
    pub model_override: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub end_reason: Option<String>,
    /// Active messages only: ones taken back by [`crate::Store::undo_exchanges`]
    /// no longer count.
    pub message_count: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Filter for [`crate::Store::list_sessions`].
#[derive(Debug, Clone, Default)]
pub struct ListSessions {
    pub platform: Option<PlatformId>,
    pub limit: usize,
    pub offset: usize,
}

/// A message to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message: ChatMessage,
    pub at_ms: i64,
    /// The platform's id for this message, when it has one.
    pub platform_message_id: Option<String>,
}

/// Messages (and the usage they cost) to append to one session.
#[derive(Debug, Clone)]
pub struct AppendMessages {
    pub session: SessionId,
    pub messages: Vec<NewMessage>,
    pub usage: Usage,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: i64,
    pub session: SessionId,
    pub message: ChatMessage,
    pub at_ms: i64,
    pub platform_message_id: Option<String>,
}

/// One full-text search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub session: SessionId,
    pub message_id: i64,
    pub role: hermod_model::Role,
    /// A short excerpt around the match.
    pub snippet: String,
    pub at_ms: i64,
}

/// A direct-message user's request to pair, waiting for an operator to approve it.
///
/// The store only keeps these; how many a user may have, how long they last
/// and when a user is locked out are the caller's rules. Not serializable on
/// purpose: it carries the code's hash and salt, which have no place in JSON
/// listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPairing {
    /// Assigned by the store; ignored by [`crate::Store::add_pending_pairing`].
    pub id: i64,
    pub platform: PlatformId,
    /// The requesting user's id on the platform.
    pub user_id: String,
    /// The user's display name when the request was made, if known.
    pub user_name: Option<String>,
    /// The hash of the pairing code (never the code itself).
    pub code_hash: String,
    /// The salt the code was hashed with.
    pub salt: String,
    pub created_at_ms: i64,
    /// The request is void from this instant on.
    pub expires_at_ms: i64,
}

/// A user allowed to talk to the gateway in direct messages on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedUser {
    pub platform: PlatformId,
    /// The user's id on the platform.
    pub user_id: String,
    /// The user's display name when approved, if known.
    pub user_name: Option<String>,
    pub approved_at_ms: i64,
}

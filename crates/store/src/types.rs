//! Records read from and written to the store.

use hermod_model::{
    Attachment, ChatMessage, ChatTarget, PlatformId, SessionId, SessionKey, Source, Usage,
};
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

/// Where an [`OutboxEntry`] is in its delivery. Stored as its [`as_str`](Self::as_str) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Not delivered yet; the consumer sends it (again) when it sees fit.
    Pending,
    /// Delivered. Final: nothing takes an entry out of this state.
    Delivered,
    /// Given up on for good; only [`crate::Store::outbox_delivered`] changes it.
    Failed,
}

impl OutboxState {
    /// The state's stored name: `pending`, `delivered` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
        }
    }

    /// The state with this stored name, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(OutboxState::Pending),
            "delivered" => Some(OutboxState::Delivered),
            "failed" => Some(OutboxState::Failed),
            _ => None,
        }
    }
}

/// A delivery to write to the outbox before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbox {
    /// The idempotency key: the outbox holds at most one entry per key, and
    /// writing a key again returns the entry already there.
    pub key: String,
    pub platform: PlatformId,
    pub target: ChatTarget,
    /// The platform message the delivery replies to, when threading replies.
    pub reply_to: Option<String>,
    /// Markdown text, as the platform adapter receives it.
    pub text: String,
    /// The session the delivery belongs to, if any. Recorded only: the store
    /// does not check that it exists.
    pub session: Option<SessionId>,
    /// Messages already on the platform for this delivery (a streamed preview).
    pub message_ids: Vec<String>,
    /// Files sent after the text, each as its own message (all pending).
    pub attachments: Vec<Attachment>,
    pub created_at_ms: i64,
}

/// A delivery in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Assigned by the store; ids are unique and only ever increase.
    pub id: i64,
    /// The idempotency key (unique).
    pub key: String,
    pub platform: PlatformId,
    pub target: ChatTarget,
    pub reply_to: Option<String>,
    pub text: String,
    pub session: Option<SessionId>,
    pub state: OutboxState,
    /// Failed attempts so far (each [`crate::Store::outbox_retry_later`] and
    /// [`crate::Store::outbox_failed`] counts one).
    pub attempts: u32,
    /// The platform ids of the messages created for this delivery so far.
    pub message_ids: Vec<String>,
    /// Files sent after the text, each as its own message.
    pub attachments: Vec<Attachment>,
    /// How far each attachment got, by index; shorter than `attachments`
    /// when the rest are still [`AttachmentProgress::Pending`] (see
    /// [`OutboxEntry::progress`]).
    pub attachment_progress: Vec<AttachmentProgress>,
    /// The last failure, until the entry is delivered.
    pub error: Option<String>,
    pub created_at_ms: i64,
    /// When the entry last changed.
    pub updated_at_ms: i64,
    /// When the consumer plans the next attempt. Informational: pending
    /// entries are listed whatever its value.
    pub next_attempt_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
}

impl OutboxEntry {
    /// How far attachment `index` got.
    pub fn progress(&self, index: usize) -> AttachmentProgress {
        self.attachment_progress
            .get(index)
            .cloned()
            .unwrap_or_default()
    }
}

/// How far one attachment of an [`OutboxEntry`] got. Written ahead of the
/// upload, so a crash in the middle leaves [`AttachmentProgress::Sending`]:
/// the file may or may not have arrived, and the consumer decides what to
/// do about it (resend under the same idempotency key where the platform
/// deduplicates, tell the chat otherwise) instead of sending it twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AttachmentProgress {
    /// Not tried yet.
    #[default]
    Pending,
    /// An upload began at `since_ms` and its answer was not recorded.
    Sending { since_ms: i64 },
    /// The platform accepted it as this message (empty when it gave no id).
    Sent { message_id: String },
    /// Not sent (or not known to be): `reason` says why, `in_doubt` when it
    /// may have arrived after all, and `told` once the chat was told.
    Failed {
        reason: String,
        in_doubt: bool,
        told: bool,
    },
}

impl AttachmentProgress {
    /// Nothing more will be done for it: sent, or failed and told.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            AttachmentProgress::Sent { .. } | AttachmentProgress::Failed { told: true, .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_progress_is_tagged_json() {
        let failed = AttachmentProgress::Failed {
            reason: "too large".into(),
            in_doubt: false,
            told: true,
        };
        let json = serde_json::to_value(&failed).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"state": "failed", "reason": "too large", "in_doubt": false, "told": true})
        );
        assert!(failed.is_settled());
        assert!(!AttachmentProgress::Sending { since_ms: 1 }.is_settled());
    }

    #[test]
    fn outbox_states_round_trip_their_names() {
        for state in [
            OutboxState::Pending,
            OutboxState::Delivered,
            OutboxState::Failed,
        ] {
            assert_eq!(OutboxState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).expect("serialize");
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert_eq!(OutboxState::parse("Pending"), None);
        assert_eq!(OutboxState::parse("sent"), None);
    }
}

/// How far an inbound message got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxState {
    /// Recorded; not yet taken up by its session.
    Received,
    /// Its turn started: the user message is in the session.
    Started,
    /// Handled (answered, refused or ignored).
    Done,
}

impl InboxState {
    pub fn as_str(&self) -> &'static str {
        match self {
            InboxState::Received => "received",
            InboxState::Started => "started",
            InboxState::Done => "done",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "received" => InboxState::Received,
            "started" => InboxState::Started,
            "done" => InboxState::Done,
            _ => return None,
        })
    }
}

/// One recorded inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    /// The store's position of the entry: increases with every recorded
    /// message, for paging through [`crate::Store::inbox_unfinished`].
    pub seq: i64,
    pub platform: PlatformId,
    /// Unique per platform (for example `<chat>:<message id>`).
    pub key: String,
    /// The event as JSON, to hand it over again after a restart.
    pub event_json: String,
    pub state: InboxState,
    pub received_at_ms: i64,
    pub updated_at_ms: i64,
    /// The turn answering the message, once its user message is stored:
    /// the session and the stored message's id.
    pub turn: Option<InboxTurn>,
    /// Messages the platform shows for a reply still being written (the
    /// streamed preview), so a turn resumed after a crash replaces them.
    pub preview_ids: Vec<String>,
}

/// Where the answer to an inbound message lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxTurn {
    pub session: SessionId,
    /// The id of the stored user message.
    pub message_id: i64,
}

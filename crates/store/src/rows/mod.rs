//! How records map to and from the values a database row holds.
//!
//! Sessions and messages are read in two steps: a row is first copied into a
//! `Raw*` struct (plain SQL values only, read by each backend from its own rows), then
//! decoded into the public record. Decoding never panics: JSON, roles or
//! counters that do not make sense become [`StoreError::Corrupt`] naming the
//! record. Pairing records hold only plain values and are read straight from
//! each backend's row (a value of the wrong type is classified as corrupt all the same).
//! Outbox entries, inbox entries, handoffs, stored responses and scheduled
//! jobs are read in two steps like sessions (the last three in submodules).
//! Records a backend builds itself after a write (a new session, a new
//! outbox entry) are built here too, so both backends return the same.

pub(crate) mod cron;
pub(crate) mod handoff;
pub(crate) mod inbox;

use crate::{
    NewOutbox, NewSession, OutboxEntry, OutboxState, SessionRecord, StoreError, StoredMessage,
    StoredResponse,
};
use hermod_model::{
    ChatMessage, ChatTarget, Content, PlatformId, Role, SessionId, SessionKey, Source, ToolCall,
};
use serde::Deserialize;
use serde::de::IntoDeserializer;

/// The `sessions` columns in the order every backend reads them into [`RawSession`].
pub(crate) const SESSION_COLUMNS: &str = "id, session_key, platform, source_json, title, \
     created_at_ms, updated_at_ms, ended_at_ms, end_reason, message_count, prompt_tokens, \
     completion_tokens, model_override";

/// The `messages` columns in the order every backend reads them into [`RawMessage`].
pub(crate) const MESSAGE_COLUMNS: &str = "id, session_id, role, content, content_json, \
     tool_calls_json, tool_call_id, tool_name, at_ms, platform_message_id";

/// Rebuilds a stored id through its serde form rather than
/// [`SessionId::parse`]: whatever was accepted when it was written must come
/// back unchanged, even if validation has since become stricter.
pub(crate) fn session_id(raw: String) -> Result<SessionId, StoreError> {
    let de: serde::de::value::StringDeserializer<serde::de::value::Error> = raw.into_deserializer();
    SessionId::deserialize(de)
        .map_err(|e| StoreError::Corrupt(format!("unreadable session id: {e}")))
}

fn counter(value: i64, what: &str, id: &str) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("session {id} has a negative {what} ({value})")))
}

/// A `sessions` row as stored.
pub(crate) struct RawSession {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) platform: String,
    pub(crate) source_json: String,
    pub(crate) title: Option<String>,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
    pub(crate) ended_at_ms: Option<i64>,
    pub(crate) end_reason: Option<String>,
    pub(crate) message_count: i64,
    pub(crate) prompt_tokens: i64,
    pub(crate) completion_tokens: i64,
    pub(crate) model_override: Option<String>,
}

impl RawSession {
    pub(crate) fn decode(self) -> Result<SessionRecord, StoreError> {
        let source: Source = serde_json::from_str(&self.source_json).map_err(|e| {
            StoreError::Corrupt(format!("session {} has an unreadable source: {e}", self.id))
        })?;
        Ok(SessionRecord {
            message_count: counter(self.message_count, "message count", &self.id)?,
            prompt_tokens: counter(self.prompt_tokens, "prompt token count", &self.id)?,
            completion_tokens: counter(self.completion_tokens, "completion token count", &self.id)?,
            id: session_id(self.id)?,
            key: SessionKey::from_raw(self.key),
            platform: PlatformId::new(self.platform),
            source,
            title: self.title,
            model_override: self.model_override,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            ended_at_ms: self.ended_at_ms,
            end_reason: self.end_reason,
        })
    }
}

/// The record of a session just created from `new` (no title, no
/// messages, nothing counted yet), as reading it back would return it.
pub(crate) fn created_session(new: &NewSession) -> SessionRecord {
    SessionRecord {
        id: new.id.clone(),
        key: new.key.clone(),
        platform: new.source.platform.clone(),
        source: new.source.clone(),
        title: None,
        model_override: None,
        created_at_ms: new.created_at_ms,
        updated_at_ms: new.created_at_ms,
        ended_at_ms: None,
        end_reason: None,
        message_count: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
    }
}

/// A `messages` row as stored.
pub(crate) struct RawMessage {
    pub(crate) id: i64,
    pub(crate) session_id: String,
    pub(crate) role: String,
    pub(crate) content: Option<String>,
    pub(crate) content_json: Option<String>,
    pub(crate) tool_calls_json: Option<String>,
    pub(crate) tool_call_id: Option<String>,
    pub(crate) tool_name: Option<String>,
    pub(crate) at_ms: i64,
    pub(crate) platform_message_id: Option<String>,
}

impl RawMessage {
    pub(crate) fn decode(self) -> Result<StoredMessage, StoreError> {
        let id = self.id;
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("message {id} has an unreadable {what}: {e}"))
        };
        let role = Role::parse(&self.role)
            .ok_or_else(|| corrupt("role", &format_args!("{:?}", self.role)))?;
        // Parts live in content_json; plain text only in content (see the schema).
        let content = match (self.content_json, self.content) {
            (Some(json), _) => {
                Some(serde_json::from_str::<Content>(&json).map_err(|e| corrupt("content", &e))?)
            }
            (None, Some(text)) => Some(Content::Text(text)),
            (None, None) => None,
        };
        let tool_calls = match self.tool_calls_json {
            Some(json) => serde_json::from_str::<Vec<ToolCall>>(&json)
                .map_err(|e| corrupt("tool call list", &e))?,
            None => Vec::new(),
        };
        Ok(StoredMessage {
            id,
            session: session_id(self.session_id)?,
            message: ChatMessage {
                role,
                content,
                tool_calls,
                tool_call_id: self.tool_call_id,
                name: self.tool_name,
            },
            at_ms: self.at_ms,
            platform_message_id: self.platform_message_id,
        })
    }
}

/// A message's column values, ready to bind.
pub(crate) struct EncodedMessage {
    pub role: &'static str,
    pub content: Option<String>,
    pub content_json: Option<String>,
    pub tool_calls_json: Option<String>,
    /// The calls' names and arguments as plain text, for the search index.
    pub tool_calls_text: Option<String>,
}

/// Splits a message into its stored columns (tool_call_id and name are bound
/// as they are).
pub(crate) fn encode_message(m: &ChatMessage) -> Result<EncodedMessage, StoreError> {
    let invalid =
        |e: serde_json::Error| StoreError::Invalid(format!("unserializable message: {e}"));
    let (content, content_json) = match &m.content {
        None => (None, None),
        Some(Content::Text(text)) => (Some(text.clone()), None),
        Some(parts @ Content::Parts(_)) => (
            Some(parts.text()),
            Some(serde_json::to_string(parts).map_err(invalid)?),
        ),
    };
    let (tool_calls_json, tool_calls_text) = if m.tool_calls.is_empty() {
        (None, None)
    } else {
        let text: Vec<&str> = m
            .tool_calls
            .iter()
            .flat_map(|c| [c.name.as_str(), c.arguments.as_str()])
            .collect();
        (
            Some(serde_json::to_string(&m.tool_calls).map_err(invalid)?),
            Some(text.join(" ")),
        )
    };
    Ok(EncodedMessage {
        role: m.role.as_str(),
        content,
        content_json,
        tool_calls_json,
        tool_calls_text,
    })
}

/// Serializes a session's source for `source_json`.
pub(crate) fn encode_source(source: &Source) -> Result<String, StoreError> {
    serde_json::to_string(source)
        .map_err(|e| StoreError::Invalid(format!("unserializable session source: {e}")))
}

/// The `pairing_pending` columns in the order every backend reads them.
pub(crate) const PENDING_COLUMNS: &str =
    "id, platform, user_id, user_name, code_hash, salt, created_at_ms, expires_at_ms";

/// The `pairing_approved` columns in the order every backend reads them.
pub(crate) const APPROVED_COLUMNS: &str = "platform, user_id, user_name, approved_at_ms";

/// The `outbox` columns in the order every backend reads them into [`RawOutbox`].
pub(crate) const OUTBOX_COLUMNS: &str = "id, key, platform, chat_id, thread_id, reply_to, text, \
     session_id, state, attempts, message_ids_json, error, created_at_ms, updated_at_ms, \
     next_attempt_at_ms, delivered_at_ms, attachments_json, attachment_progress_json";

/// An `outbox` row as stored.
pub(crate) struct RawOutbox {
    pub(crate) id: i64,
    pub(crate) key: String,
    pub(crate) platform: String,
    pub(crate) chat_id: String,
    pub(crate) thread_id: Option<String>,
    pub(crate) reply_to: Option<String>,
    pub(crate) text: String,
    pub(crate) session_id: Option<String>,
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) message_ids_json: String,
    pub(crate) error: Option<String>,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
    pub(crate) next_attempt_at_ms: i64,
    pub(crate) delivered_at_ms: Option<i64>,
    pub(crate) attachments_json: String,
    pub(crate) attachment_progress_json: String,
}

impl RawOutbox {
    pub(crate) fn decode(self) -> Result<OutboxEntry, StoreError> {
        let id = self.id;
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("outbox entry {id} has an unreadable {what}: {e}"))
        };
        let state = OutboxState::parse(&self.state)
            .ok_or_else(|| corrupt("state", &format_args!("{:?}", self.state)))?;
        let attempts =
            u32::try_from(self.attempts).map_err(|_| corrupt("attempt count", &self.attempts))?;
        let message_ids: Vec<String> = serde_json::from_str(&self.message_ids_json)
            .map_err(|e| corrupt("message id list", &e))?;
        let attachments = serde_json::from_str(&self.attachments_json)
            .map_err(|e| corrupt("attachment list", &e))?;
        let attachment_progress = serde_json::from_str(&self.attachment_progress_json)
            .map_err(|e| corrupt("attachment progress", &e))?;
        Ok(OutboxEntry {
            id,
            key: self.key,
            platform: PlatformId::new(self.platform),
            target: ChatTarget {
                chat_id: self.chat_id,
                thread_id: self.thread_id,
            },
            reply_to: self.reply_to,
            text: self.text,
            session: self.session_id.map(session_id).transpose()?,
            state,
            attempts,
            message_ids,
            attachments,
            attachment_progress,
            error: self.error,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            next_attempt_at_ms: self.next_attempt_at_ms,
            delivered_at_ms: self.delivered_at_ms,
        })
    }
}

/// The entry `new` became when it was inserted as `id`: pending, never
/// tried, as reading it back would return it.
pub(crate) fn inserted_outbox(id: i64, new: &NewOutbox) -> OutboxEntry {
    OutboxEntry {
        id,
        key: new.key.clone(),
        platform: new.platform.clone(),
        target: new.target.clone(),
        reply_to: new.reply_to.clone(),
        text: new.text.clone(),
        session: new.session.clone(),
        state: OutboxState::Pending,
        attempts: 0,
        message_ids: new.message_ids.clone(),
        attachments: new.attachments.clone(),
        attachment_progress: Vec::new(),
        error: None,
        created_at_ms: new.created_at_ms,
        updated_at_ms: new.created_at_ms,
        next_attempt_at_ms: new.created_at_ms,
        delivered_at_ms: None,
    }
}

/// The `stored_responses` columns in the order every backend reads them
/// into [`RawResponse`].
pub(crate) const RESPONSE_COLUMNS: &str = "id, conversation, session_id, data, created_at_ms";

/// A `stored_responses` row as stored.
pub(crate) struct RawResponse {
    pub(crate) id: String,
    pub(crate) conversation: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) data: String,
    pub(crate) created_at_ms: i64,
}

impl RawResponse {
    /// The response, with its session id rebuilt.
    pub(crate) fn decode(self) -> Result<StoredResponse, StoreError> {
        Ok(StoredResponse {
            id: self.id,
            conversation: self.conversation,
            session_id: self.session_id.map(session_id).transpose()?,
            data: self.data,
            created_at_ms: self.created_at_ms,
        })
    }
}

/// The `memory_notes` columns every backend reads into a
/// [`MemoryNote`](crate::MemoryNote), in field order.
pub(crate) const NOTE_COLUMNS: &str = "id, body, created_at_ms, updated_at_ms";

/// The `approval_grants` columns every backend reads into an
/// [`ApprovalGrant`](crate::ApprovalGrant), in field order.
pub(crate) const GRANT_COLUMNS: &str = "key, granted_at_ms";

/// The `leases` columns every backend reads into a [`Lease`](crate::Lease),
/// in field order.
pub(crate) const LEASE_COLUMNS: &str = "name, owner, acquired_at_ms, until_ms";

/// The `nodes` columns every backend reads into a [`Node`](crate::Node), in
/// field order.
pub(crate) const NODE_COLUMNS: &str =
    "id, host, pid, version, started_at_ms, seen_at_ms, info_json";

/// Serializes any list column (attachments, their progress) as JSON.
pub(crate) fn encode_json<T: serde::Serialize>(
    what: &str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("unserializable {what}: {e}")))
}

/// Serializes platform message ids for `message_ids_json`.
pub(crate) fn encode_message_ids(ids: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(ids)
        .map_err(|e| StoreError::Invalid(format!("unserializable message ids: {e}")))
}

// Limits and helpers every backend applies the same way.

/// Rows returned by session listings when the caller passes a limit of 0.
pub(crate) const DEFAULT_LIST_LIMIT: usize = 50;
/// Hits returned by a search when the caller passes a limit of 0.
pub(crate) const DEFAULT_SEARCH_LIMIT: usize = 20;

/// A `usize` count as an SQL integer (saturating: a limit that large is "all").
pub(crate) fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A listing limit as an SQL integer, with 0 meaning `default`.
pub(crate) fn sql_limit(limit: usize, default: usize) -> i64 {
    sql_count(if limit == 0 { default } else { limit })
}

/// A number of changed rows as the `u64` callers see.
pub(crate) fn changed_rows(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

pub(crate) fn not_found(id: &SessionId) -> StoreError {
    StoreError::NotFound(format!("session {id}"))
}

/// The words of a free-text search, each to be matched as a phrase (every
/// backend splits its indexed text at punctuation the same way). Control
/// characters separate words too: no index holds them. A word without a
/// letter or digit is dropped: it would tokenize to nothing, and an empty
/// phrase would only make the whole query match nothing or fail.
pub(crate) fn search_words(input: &str) -> impl Iterator<Item = &str> {
    input
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| word.chars().any(char::is_alphanumeric))
}

/// Runs listed by `cron_runs` when the caller passes a limit of 0.
pub(crate) const DEFAULT_RUNS_LIMIT: usize = 20;
/// Handoffs listed when the caller passes a limit of 0.
pub(crate) const DEFAULT_HANDOFF_LIMIT: usize = 100;
/// Inbox entries read when the caller passes a limit of 0.
pub(crate) const DEFAULT_INBOX_LIMIT: usize = 1000;
/// Pending deliveries read when the caller passes a limit of 0.
pub(crate) const DEFAULT_OUTBOX_LIMIT: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{ContentPart, ImageUrl};

    #[test]
    fn ids_come_back_unvalidated() {
        assert_eq!(session_id("a/b".into()).expect("id").as_str(), "a/b");
    }

    #[test]
    fn text_and_parts_are_stored_differently() {
        let text = encode_message(&ChatMessage::user("hi")).expect("encode");
        assert_eq!(
            (text.content.as_deref(), text.content_json),
            (Some("hi"), None)
        );
        let parts = Content::Parts(vec![
            ContentPart::Text {
                text: "look".into(),
            },
            ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url: "data:x".into(),
                    detail: None,
                },
            },
        ]);
        let encoded = encode_message(&ChatMessage::user(parts)).expect("encode");
        assert_eq!(encoded.content.as_deref(), Some("look"));
        assert!(encoded.content_json.is_some_and(|j| j.starts_with('[')));
    }
}

//! hermod's durable state.
//!
//! [`Store`] is the one interface the rest of hermod uses; [`SqliteStore`]
//! implements it on one SQLite database (WAL, FTS5, numbered migrations).
//! Every implementation must pass the conformance suite in `conformance`
//! (enabled by the `conformance` feature), run with the
//! `store_conformance_tests!` macro.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
mod sqlite;
mod types;

pub use error::StoreError;
pub use sqlite::SqliteStore;
pub use types::{
    AppendMessages, ListSessions, NewMessage, NewSession, SearchHit, SessionRecord, StoredMessage,
};

use async_trait::async_trait;
use hermod_model::{SessionId, SessionKey};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Durable storage for sessions, messages and routing.
///
/// Timestamps are Unix milliseconds (UTC) supplied by the caller, so callers
/// decide what "now" is (and tests can pin it).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a session. Fails with [`StoreError::Conflict`] when the id exists.
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord>;

    /// The session with this id, if there is one.
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>>;

    /// Most recently updated first (ties broken by ascending id), optionally
    /// only one platform's. A limit of 0 means a default page (50).
    async fn list_sessions(&self, query: ListSessions) -> Result<Vec<SessionRecord>>;

    /// Marks a session ended with a reason (`idle`, `daily`, `new_session`, ...).
    /// Ending an ended session keeps the first end. Does not change
    /// `updated_at_ms`. Unknown id: [`StoreError::NotFound`].
    async fn end_session(&self, id: &SessionId, reason: &str, at_ms: i64) -> Result<()>;

    /// Sets a session's title. Unknown id: [`StoreError::NotFound`].
    async fn set_title(&self, id: &SessionId, title: &str) -> Result<()>;

    /// Appends messages to a session in one transaction and adds the usage to
    /// its token counters; returns the new messages' ids in order (ids only
    /// ever increase). Bumps `message_count`, and moves `updated_at_ms` up to
    /// the latest message's `at_ms` (never back). Either everything is stored
    /// or nothing. Unknown session: [`StoreError::NotFound`].
    async fn append_messages(&self, append: AppendMessages) -> Result<Vec<i64>>;

    /// A session's messages in the order they were appended.
    /// Unknown session: [`StoreError::NotFound`].
    async fn messages(&self, id: &SessionId) -> Result<Vec<StoredMessage>>;

    /// Full-text search over message content, best match first.
    ///
    /// `query` is free text, never query syntax: every whitespace-separated
    /// word must occur (as a phrase, split at punctuation like the indexed
    /// text), so no input is a syntax error. A query with no words finds
    /// nothing. A limit of 0 means a default (20).
    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>>;

    /// The current session for a routing key.
    async fn route(&self, key: &SessionKey) -> Result<Option<SessionId>>;

    /// Points a routing key at a session (insert or replace).
    /// Unknown session: [`StoreError::NotFound`].
    async fn set_route(&self, key: &SessionKey, id: &SessionId, at_ms: i64) -> Result<()>;
}

//! hermod's durable state.
//!
//! [`Store`] is the one interface the rest of hermod uses; [`SqliteStore`]
//! implements it on one SQLite database (WAL, FTS5, numbered migrations).
//! Every implementation must pass the conformance suite in [`conformance`].

mod error;
mod types;

pub use error::StoreError;
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

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>>;

    /// Most recently updated first.
    async fn list_sessions(&self, query: ListSessions) -> Result<Vec<SessionRecord>>;

    /// Marks a session ended with a reason (`idle`, `daily`, `new_session`, ...).
    /// Ending an ended session keeps the first end. Unknown id: [`StoreError::NotFound`].
    async fn end_session(&self, id: &SessionId, reason: &str, at_ms: i64) -> Result<()>;

    /// Sets a session's title.
    async fn set_title(&self, id: &SessionId, title: &str) -> Result<()>;

    /// Appends messages to a session in one transaction and adds the usage to
    /// its token counters; returns the new messages' ids in order.
    async fn append_messages(&self, append: AppendMessages) -> Result<Vec<i64>>;

    /// A session's messages in the order they were appended.
    async fn messages(&self, id: &SessionId) -> Result<Vec<StoredMessage>>;

    /// Full-text search over message content, best match first.
    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>>;

    /// The current session for a routing key.
    async fn route(&self, key: &SessionKey) -> Result<Option<SessionId>>;

    /// Points a routing key at a session (insert or replace).
    async fn set_route(&self, key: &SessionKey, id: &SessionId, at_ms: i64) -> Result<()>;
}

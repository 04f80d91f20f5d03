//! Where responses are kept for `GET /v1/responses/{id}` and chaining: the
//! gateway's store (so they survive a restart), or, for a server built
//! without the store, a map in memory. Either way at most
//! `max_stored_responses`, the least recently used dropped first (Hermes
//! keeps 100 the same way).
//!
//! A stored response's `data` is a [`Record`]: the response object as
//! answered, and the id of its session's last message once its turn was
//! recorded — the conversation up to this response is that session's
//! messages up to that id.
//!
//! A record is at most [`MAX_RECORD_BYTES`]: the response object carries
//! the request's instructions and the whole answer, and a hundred records
//! of a body limit each would pin that much in the store (or in memory).
//! A larger one is not kept (and a log line says so): `GET` and chaining
//! onto it answer `404 response_not_found`, as for one dropped as least
//! recently used.

use crate::error::ApiError;
use hermod_core::CoreError;
use hermod_model::SessionId;
use hermod_store::{Store, StoredResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tracing::warn;

/// The API server's JSON in a stored response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The response object, as `GET` answers it.
    pub(crate) response: Value,
    /// The id of the session's last message when the response was recorded
    /// (its reply, or its user message when it failed).
    #[serde(default)]
    pub(crate) last_message: Option<i64>,
    /// Instructions as records written before they were kept only in
    /// `response` held them; read, never written. See
    /// [`Record::instructions`].
    #[serde(default, rename = "instructions", skip_serializing)]
    pub(crate) legacy_instructions: Option<String>,
}

/// The most bytes of one stored response's `data`.
pub(crate) const MAX_RECORD_BYTES: usize = 1024 * 1024;

impl Record {
    pub(crate) fn new(response: Value, last_message: Option<i64>) -> Self {
        Self {
            response,
            last_message,
            legacy_instructions: None,
        }
    }

    /// The instructions it ran with (its response object's), carried over
    /// to a response chained onto it that brings none (as Hermes does).
    pub(crate) fn instructions(&self) -> Option<String> {
        match self.response.get("instructions") {
            Some(Value::String(text)) => Some(text.clone()),
            _ => self.legacy_instructions.clone(),
        }
    }
}

/// A stored response, read back.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    pub(crate) session: Option<SessionId>,
    pub(crate) record: Record,
}

/// Responses kept in memory, for a server without the store.
#[derive(Debug, Default)]
pub(crate) struct MemoryBook {
    /// Each response with when it was last used, oldest use first.
    entries: Vec<StoredResponse>,
}

impl MemoryBook {
    fn put(&mut self, response: StoredResponse, keep: usize) {
        self.entries.retain(|r| r.id != response.id);
        self.entries.push(response);
        let excess = self.entries.len().saturating_sub(keep);
        self.entries.drain(..excess);
    }

    fn get(&mut self, id: &str) -> Option<StoredResponse> {
        let at = self.entries.iter().position(|r| r.id == id)?;
        let entry = self.entries.remove(at);
        self.entries.push(entry.clone());
        Some(entry)
    }

    fn latest(&self, conversation: &str) -> Option<StoredResponse> {
        self.entries
            .iter()
            .filter(|r| r.conversation.as_deref() == Some(conversation))
            .max_by_key(|r| r.created_at_ms)
            .cloned()
    }

    fn delete(&mut self, id: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|r| r.id != id);
        self.entries.len() != before
    }
}

/// The book a request uses: the store when the server has it.
pub(crate) struct Book<'a> {
    pub(crate) store: Option<&'a Arc<dyn Store>>,
    pub(crate) memory: &'a Arc<Mutex<MemoryBook>>,
    pub(crate) keep: usize,
    pub(crate) clock: &'a UseClock,
}

/// Times of use that never repeat: the store orders responses by when they
/// were last used, and several uses within one millisecond must still
/// keep their order.
#[derive(Debug, Default)]
pub(crate) struct UseClock {
    last: AtomicI64,
}

impl UseClock {
    /// Now in milliseconds, later than every time it gave before.
    fn now_ms(&self) -> i64 {
        let now = hermod_core::now_ms();
        let mut last = self.last.load(Ordering::SeqCst);
        loop {
            let next = now.max(last + 1);
            match self
                .last
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }
}

fn storage_error(e: hermod_store::StoreError) -> ApiError {
    CoreError::from(e).into()
}

impl Book<'_> {
    fn memory(&self) -> std::sync::MutexGuard<'_, MemoryBook> {
        // A panic while holding the lock leaves a consistent list behind.
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `record` as the response `id`; `Ok(false)` when it is over
    /// [`MAX_RECORD_BYTES`] and was not kept (nor is an earlier record of
    /// the same id, such as a stream's `in_progress` one).
    pub(crate) async fn put(
        &self,
        id: &str,
        conversation: Option<&str>,
        session: Option<&SessionId>,
        record: &Record,
    ) -> Result<bool, ApiError> {
        let data = serde_json::to_string(record).map_err(|e| {
            ApiError::from(CoreError::Store(format!("cannot encode a response: {e}")))
        })?;
        if data.len() > MAX_RECORD_BYTES {
            self.delete(id).await?;
            return Ok(false);
        }
        let now = self.clock.now_ms();
        let response = StoredResponse {
            id: id.to_owned(),
            conversation: conversation.map(str::to_owned),
            session_id: session.cloned(),
            data,
            created_at_ms: now,
        };
        match self.store {
            Some(store) => store
                .response_put(response, self.keep, now)
                .await
                .map(|()| true)
                .map_err(storage_error),
            None => {
                self.memory().put(response, self.keep);
                Ok(true)
            }
        }
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Saved>, ApiError> {
        let found = match self.store {
            Some(store) => store
                .response(id, self.clock.now_ms())
                .await
                .map_err(storage_error)?,
            None => self.memory().get(id),
        };
        Ok(found.and_then(decode))
    }

    pub(crate) async fn latest(&self, conversation: &str) -> Result<Option<Saved>, ApiError> {
        let found = match self.store {
            Some(store) => store
                .latest_response(conversation)
                .await
                .map_err(storage_error)?,
            None => self.memory().latest(conversation),
        };
        Ok(found.and_then(decode))
    }

    pub(crate) async fn delete(&self, id: &str) -> Result<bool, ApiError> {
        match self.store {
            Some(store) => store.response_delete(id).await.map_err(storage_error),
            None => Ok(self.memory().delete(id)),
        }
    }
}

/// A stored response's record; one that cannot be read is as good as gone.
fn decode(stored: StoredResponse) -> Option<Saved> {
    match serde_json::from_str(&stored.data) {
        Ok(record) => Some(Saved {
            session: stored.session_id,
            record,
        }),
        Err(e) => {
            warn!(id = %stored.id, error = %e, "a stored response cannot be read; treating it as gone");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    fn stored(id: &str, conversation: Option<&str>, at: i64) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            conversation: conversation.map(str::to_owned),
            session_id: None,
            data: "{}".into(),
            created_at_ms: at,
        }
    }

    #[test]
    fn instructions_are_written_once_and_older_records_still_read() {
        let record = Record::new(serde_json::json!({"instructions": "brief"}), Some(3));
        let data = serde_json::to_string(&record).unwrap();
        assert_eq!(data.matches("brief").count(), 1, "{data}");
        assert_eq!(record.instructions().as_deref(), Some("brief"));
        let older: Record =
            serde_json::from_str(r#"{"response": {"instructions": null}, "instructions": "old"}"#)
                .unwrap();
        assert_eq!(older.instructions().as_deref(), Some("old"));
    }

    #[test]
    fn memory_keeps_the_most_recently_used() {
        let mut book = MemoryBook::default();
        book.put(stored("a", Some("c"), 1), 2);
        book.put(stored("b", Some("c"), 2), 2);
        assert!(book.get("a").is_some(), "a is now the most recent");
        book.put(stored("c", None, 3), 2);
        assert!(book.get("b").is_none(), "b was the least recently used");
        assert_eq!(book.latest("c").map(|r| r.id), Some("a".into()));
        assert!(book.delete("a"));
        assert!(!book.delete("a"));
        assert_eq!(book.latest("c"), None);
    }
}

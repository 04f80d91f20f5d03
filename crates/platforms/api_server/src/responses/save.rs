//! [`Saver`]: records a response (plain or streamed) in the book, with
//! where its conversation stands in its session.
//!
//! A stream is recorded `in_progress` as it starts and again when it ends.
//! One whose client left early (its turn is then stopped) stays recorded
//! `in_progress`; [`Live`] tells such an abandoned stream from one still
//! running, and reads answer it as `incomplete`, as Hermes records it.
//! A stream's response deleted while it runs stays deleted: [`Live`] notes
//! the deletion and the save at the end is skipped (see
//! [`Saver::save_final`]).

use super::book::{Book, MAX_RECORD_BYTES, Record};
use crate::server::AppState;
use hermod_model::SessionId;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tracing::{debug, warn};

/// The ids of the streamed responses being answered now, each with
/// whether it was deleted meanwhile.
#[derive(Debug, Default)]
pub(crate) struct Live(Mutex<HashMap<String, bool>>);

impl Live {
    /// Marks the response `id` as being answered until the guard drops.
    pub(crate) fn hold(self: &Arc<Self>, id: &str) -> LiveGuard {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), false);
        LiveGuard {
            live: Arc::clone(self),
            id: id.to_owned(),
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(id)
    }

    /// Notes that the response `id` is being deleted, before it is taken
    /// out of the book: a stream still answering it must not store it
    /// again when it ends.
    pub(crate) fn deleting(&self, id: &str) {
        if let Some(deleted) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(id)
        {
            *deleted = true;
        }
    }

    fn was_deleted(&self, id: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .copied()
            .unwrap_or(false)
    }

    /// A stored response as it is to be read: one recorded `in_progress`
    /// whose stream is no longer answered was abandoned (its client left,
    /// or the gateway stopped) and reads as `incomplete`.
    pub(crate) fn as_read(&self, mut response: Value) -> Value {
        let abandoned = response["status"] == "in_progress"
            && response["id"].as_str().is_some_and(|id| !self.contains(id));
        if abandoned {
            response["status"] = json!("incomplete");
            response["incomplete_details"] = json!({"reason": "interrupted"});
        }
        response
    }
}

/// A streamed response being answered; see [`Live`].
#[derive(Debug)]
pub(crate) struct LiveGuard {
    live: Arc<Live>,
    id: String,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.live
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// What saving a response needs, gathered when its turn starts.
pub(crate) struct Saver {
    pub(crate) state: AppState,
    /// `store: false`, or a turn that recorded nothing: not saved.
    pub(crate) enabled: bool,
    pub(crate) id: String,
    pub(crate) session: Option<SessionId>,
    pub(crate) conversation: Option<String>,
    /// The claim on a continued session, held until the answer is
    /// complete (the saver lives as long as the answer).
    pub(crate) _claim: Option<super::chain::Claim>,
}

impl Saver {
    /// Saves `response`. A failure is logged, not answered: the client
    /// already has (or is getting) its answer; only `GET` and chaining
    /// onto this response will not find it.
    pub(crate) async fn save(&self, response: &Value) {
        if !self.enabled {
            return;
        }
        let last_message = self.last_message().await;
        let record = Record::new(response.clone(), last_message);
        let result = super::book(&self.state)
            .put(
                &self.id,
                self.conversation.as_deref(),
                self.session.as_ref(),
                &record,
            )
            .await;
        match result {
            Ok(true) => {}
            Ok(false) => warn!(
                id = %self.id,
                limit_bytes = MAX_RECORD_BYTES,
                "a response is too large to store (its instructions and answer together are \
                 over the limit); it cannot be retrieved or continued"
            ),
            Err(e) => {
                warn!(id = %self.id, error = %e.message, "a response could not be stored; it cannot be retrieved or continued");
            }
        }
    }

    /// Saves a stream's `response` as it ends, unless it was deleted
    /// (`DELETE /v1/responses/{id}`) while the stream ran. A deletion that
    /// comes while this save is under way is noted before the book is
    /// changed, so the second look takes the record out again.
    pub(crate) async fn save_final(&self, response: &Value) {
        let live = &self.state.responses.live;
        if live.was_deleted(&self.id) {
            debug!(id = %self.id, "a response deleted while it streamed is not stored again");
            return;
        }
        self.save(response).await;
        if live.was_deleted(&self.id)
            && let Err(e) = super::book(&self.state).delete(&self.id).await
        {
            warn!(id = %self.id, error = %e.message, "a response deleted while it streamed could not be taken out again");
        }
    }

    /// The id of the session's last message now that the turn is over.
    async fn last_message(&self) -> Option<i64> {
        let (Some(store), Some(session)) = (&self.state.sessions.store, &self.session) else {
            return None;
        };
        match store.messages(session).await {
            Ok(messages) => messages.last().map(|m| m.id),
            Err(e) => {
                warn!(session = %session, error = %e, "cannot read a response's session");
                None
            }
        }
    }
}

/// The book of a request's state.
pub(crate) fn book_of(state: &AppState) -> Book<'_> {
    Book {
        store: state.sessions.store.as_ref(),
        memory: &state.responses.memory,
        keep: state.responses.keep,
        clock: &state.responses.clock,
    }
}

//! How a response's turn maps onto hermod's sessions.
//!
//! Every response runs as a turn of a session. A new conversation starts a
//! new session (seeded with the earlier items of `input`). A response
//! chained onto another (`previous_response_id`, or the latest response of
//! a named `conversation`) continues that response's session when the
//! response is still the session's latest — the history then comes from
//! the store, as for any chat. Chained onto an older response (a branch),
//! or with more than one new item, it starts a new session whose history
//! is the conversation up to that response (plus the new items), so the
//! original session is left as it was. `store: false` runs the same
//! history without recording anything.
//!
//! Two requests chained onto the same latest response at once must not
//! both continue its session (the second would interrupt or queue behind
//! the first): a response continuing a session holds a [`Claim`] on it
//! until its answer is complete, and a request that finds the session
//! claimed branches instead, as OpenAI answers both independently.

use super::book::Saved;
use super::request::ResponseRequest;
use crate::error::ApiError;
use crate::server::AppState;
use axum::http::StatusCode;
use hermod_core::{CoreError, new_session_id};
use hermod_model::{ChatMessage, InboundEvent, SessionId, Source, TurnOptions};
use hermod_store::StoreError;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// The sessions a response's turn is running in now.
#[derive(Debug, Default)]
pub(crate) struct Running(Mutex<HashSet<SessionId>>);

impl Running {
    /// Claims `session` for one turn, unless another response's turn has it.
    fn claim(self: &Arc<Self>, session: &SessionId) -> Option<Claim> {
        let mut running = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        running.insert(session.clone()).then(|| Claim {
            running: Arc::clone(self),
            session: session.clone(),
        })
    }
}

/// A session claimed by one response's turn; given back when dropped.
#[derive(Debug)]
pub(crate) struct Claim {
    running: Arc<Running>,
    session: SessionId,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.running
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.session);
    }
}

/// The session a response's turn runs in.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Continue this stored session: history comes from the store. The
    /// claim is held until the answer is complete.
    Continue(SessionId, Option<Claim>),
    /// A new session seeded with this history.
    Fresh(Vec<ChatMessage>),
}

impl Plan {
    /// Takes the claim on the continued session, to hold while answering.
    pub(crate) fn take_claim(&mut self) -> Option<Claim> {
        match self {
            Plan::Continue(_, claim) => claim.take(),
            Plan::Fresh(_) => None,
        }
    }
}

/// Decides where a request continues, given the response it chains onto.
pub(crate) async fn plan(
    state: &AppState,
    request: &ResponseRequest,
    previous: Option<&Saved>,
) -> Result<Plan, ApiError> {
    let Some(previous) = previous else {
        return Ok(Plan::Fresh(request.history.clone()));
    };
    let Some(session) = &previous.session else {
        // Answered without a session (a slash command): nothing to continue.
        return Ok(Plan::Fresh(request.history.clone()));
    };
    let Some(store) = &state.sessions.store else {
        // Without the store its messages cannot be read: continue it whole.
        return Ok(if request.history.is_empty() && request.store {
            let claim = state.responses.running.claim(session);
            Plan::Continue(session.clone(), claim)
        } else {
            Plan::Fresh(request.history.clone())
        });
    };
    let messages = match store.messages(session).await {
        Ok(messages) => messages,
        Err(StoreError::NotFound(_)) => return Err(session_deleted()),
        Err(e) => return Err(CoreError::from(e).into()),
    };
    let upto = previous.record.last_message;
    let latest = upto.is_some() && messages.last().map(|m| m.id) == upto;
    if latest
        && request.history.is_empty()
        && request.store
        && let Some(claim) = state.responses.running.claim(session)
    {
        return Ok(Plan::Continue(session.clone(), Some(claim)));
    }
    let mut history: Vec<ChatMessage> = messages
        .into_iter()
        .filter(|m| upto.is_none_or(|upto| m.id <= upto))
        .map(|m| m.message)
        .collect();
    history.extend(request.history.iter().cloned());
    Ok(Plan::Fresh(history))
}

/// The answer to a request chained onto a response whose session was
/// deleted (`DELETE /api/sessions/{id}`): going on from nothing would pass
/// a new conversation off as the old one.
pub(crate) fn session_deleted() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "session_not_found",
        "The conversation this request continues was deleted (its session no longer exists); \
         start a new one without `previous_response_id` or `conversation`.",
    )
}

/// The router's event for a response's turn.
pub(crate) fn event(
    request: &ResponseRequest,
    plan: Plan,
    instructions: Option<String>,
    user: String,
    advertised_model: &str,
) -> InboundEvent {
    let (session_id, history) = match plan {
        Plan::Continue(id, _) => (id, None),
        Plan::Fresh(history) => (new_session_id(), Some(history)),
    };
    let mut source = Source::dm(crate::PLATFORM, session_id.as_str());
    // The API key's holder, or one of their users (`X-Hermes-Session-Key`).
    source.user_id = Some(user);
    let mut event = InboundEvent::text(source, "");
    event.content = request.content.clone();
    event.session_id = Some(session_id);
    event.history = history;
    event.system_prompt = instructions;
    event.ephemeral = !request.store;
    event.options = TurnOptions {
        model: request.model.clone().filter(|m| m != advertised_model),
        temperature: request.temperature,
        max_tokens: request.max_output_tokens,
        ..TurnOptions::default()
    };
    event
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn a_session_is_claimed_by_one_response_at_a_time() {
        let running = Arc::new(Running::default());
        let a = SessionId::parse("a").unwrap();
        let b = SessionId::parse("b").unwrap();
        let first = running.claim(&a).unwrap();
        assert!(running.claim(&a).is_none(), "a is taken");
        let other = running.claim(&b);
        assert!(other.is_some(), "other sessions are free");
        drop(first);
        assert!(running.claim(&a).is_some(), "given back when dropped");
    }
}

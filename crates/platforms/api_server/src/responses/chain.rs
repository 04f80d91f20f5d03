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

use super::book::Saved;
use super::request::ResponseRequest;
use crate::error::ApiError;
use crate::server::AppState;
use axum::http::StatusCode;
use hermod_core::{CoreError, new_session_id};
use hermod_model::{ChatMessage, InboundEvent, SessionId, Source, TurnOptions};
use hermod_store::StoreError;

/// The session a response's turn runs in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// Continue this stored session: history comes from the store.
    Continue(SessionId),
    /// A new session seeded with this history.
    Fresh(Vec<ChatMessage>),
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
            Plan::Continue(session.clone())
        } else {
            Plan::Fresh(request.history.clone())
        });
    };
    let messages = match store.messages(session).await {
        Ok(messages) => messages,
        // Its session was deleted (`DELETE /api/sessions/{id}`): going on
        // from nothing would pass a new conversation off as the old one.
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "session_not_found",
                "The conversation this request continues was deleted (its session no longer \
                 exists); start a new one without `previous_response_id` or `conversation`.",
            ));
        }
        Err(e) => return Err(CoreError::from(e).into()),
    };
    let upto = previous.record.last_message;
    let latest = upto.is_some() && messages.last().map(|m| m.id) == upto;
    if latest && request.history.is_empty() && request.store {
        return Ok(Plan::Continue(session.clone()));
    }
    let mut history: Vec<ChatMessage> = messages
        .into_iter()
        .filter(|m| upto.is_none_or(|upto| m.id <= upto))
        .map(|m| m.message)
        .collect();
    history.extend(request.history.iter().cloned());
    Ok(Plan::Fresh(history))
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
        Plan::Continue(id) => (id, None),
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

//! `previous_response_id` on a run, as Hermes reads it: the run carries on
//! the conversation of a stored response (`/v1/responses`) — its history,
//! its session, and its instructions when the run brings none. History the
//! body carries itself (`conversation_history`, or earlier messages of
//! `input`) wins, and an unknown id is ignored, as in Hermes.
//!
//! On hermod's sessions: a run that names no session and chains onto the
//! latest exchange of the response's session continues that session
//! (history from the store); chained onto an older response, or naming a
//! session of its own, it runs on the conversation up to that response and
//! leaves the response's session as it was.

use super::request::RunInput;
use crate::error::ApiError;
use crate::server::AppState;
use hermod_core::CoreError;
use hermod_model::ChatMessage;
use hermod_store::StoreError;
use tracing::debug;

/// Applies the response `previous_id` to `input`.
pub(crate) async fn chain(
    state: &AppState,
    previous_id: &str,
    input: &mut RunInput,
) -> Result<(), ApiError> {
    if input.body_history {
        debug!("a run brought its own history; previous_response_id is not used");
        return Ok(());
    }
    let Some(saved) = crate::responses::book(state).get(previous_id).await? else {
        debug!("a run named an unknown previous_response_id; it starts afresh, as in Hermes");
        return Ok(());
    };
    if input.system_prompt.is_none() {
        input.system_prompt = saved.record.instructions();
    }
    // Answered without a session (a slash command): nothing to carry on.
    let Some(session) = saved.session else {
        return Ok(());
    };
    let Some(store) = &state.sessions.store else {
        // Without the store its messages cannot be read: continue it whole.
        if input.session_id.is_none() {
            input.session_id = Some(session);
            input.history = None;
        }
        return Ok(());
    };
    let messages = match store.messages(&session).await {
        Ok(messages) => messages,
        Err(StoreError::NotFound(_)) => return Err(crate::responses::session_deleted()),
        Err(e) => return Err(CoreError::from(e).into()),
    };
    let upto = saved.record.last_message;
    let latest = upto.is_some() && messages.last().map(|m| m.id) == upto;
    if latest && input.session_id.is_none() {
        input.session_id = Some(session);
        input.history = None;
        return Ok(());
    }
    let history: Vec<ChatMessage> = messages
        .into_iter()
        .filter(|m| upto.is_none_or(|upto| m.id <= upto))
        .map(|m| m.message)
        .collect();
    input.history = Some(history);
    Ok(())
}

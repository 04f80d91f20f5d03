//! `POST /v1/chat/completions`: checks the request in order of cost — JSON
//! content type, session header, who owns the named session, body size and
//! budget — before the body is read and parsed once, then runs the turn and
//! answers one completion or an event stream.
//!
//! A turn an interrupt stopped (a newer message to the session in
//! interrupt mode, `/stop`, shutdown) is answered with the text it had, and
//! `finish_reason` [`INTERRUPTED`].

use crate::body::{BudgetShare, HoldingBody, require_json};
use crate::error::ApiError;
use crate::inbound::{SessionChoice, parse_request, to_event};
use crate::outbound::{CompletionMeta, completion};
use crate::server::{AppState, SessionAccess};
use crate::slots::RunSlot;
use crate::stream::{stream_response, text_stream};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use hermod_agent::{AgentEvent, FinishReason};
use hermod_core::{CoreError, TurnEvent, TurnStream, new_session_id};
use hermod_model::SessionId;
use std::sync::atomic::Ordering;
use tracing::{debug, info, warn};

/// The session header hermod reads and echoes.
pub(crate) const SESSION_HEADER: HeaderName = HeaderName::from_static("x-hermod-session-id");
/// The Hermes name of the same header, for clients configured for Hermes.
pub(crate) const HERMES_SESSION_HEADER: HeaderName = HeaderName::from_static("x-hermes-session-id");
/// How many client-supplied tools the server left out of the turn.
pub(crate) const TOOLS_IGNORED_HEADER: HeaderName =
    HeaderName::from_static("x-hermod-tools-ignored");

/// The `finish_reason` of a reply an interrupt stopped
/// ([`FinishReason::Interrupted`]), also when it stopped before any text.
pub(crate) const INTERRUPTED: &str = "interrupted";

pub(crate) async fn chat_completions(State(state): State<AppState>, request: Request) -> Response {
    match handle_chat(&state, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle_chat(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    require_json(&parts.headers)?;
    // Before the body is read: a flood is refused cheaply.
    let slot = state.slots.try_acquire()?;
    let choice = session_choice(&parts.headers)?;
    if let SessionChoice::Continue(id) = &choice {
        check_session_access(&state.sessions, id).await?;
    }
    let (body, share) = state.bodies.read(&parts.headers, body).await?;
    let request = parse_request(&body)?;
    // Only the parsed request is kept from here on.
    drop(body);
    let ignored_tools = request.client_tools();
    if ignored_tools > 0 {
        note_ignored_tools(state, ignored_tools);
    }
    let streaming = request.stream;
    let meta = CompletionMeta::new(
        request
            .model
            .clone()
            .unwrap_or_else(|| state.model_name.to_string()),
        state.reasoning_content,
    );
    let pinned = match &choice {
        SessionChoice::Continue(id) => Some(id.clone()),
        SessionChoice::Stateless(_) => None,
    };
    // Not stored: no session to name in the answer.
    let ephemeral = pinned.is_none() && !state.store_stateless;
    let mut event = to_event(request, choice, &state.model_name)?;
    event.ephemeral = ephemeral;
    let mut turn = state.inbound.submit_streaming(event)?;
    let session_id = match turn.next().await {
        Some(TurnEvent::Started { session_id }) => session_id,
        // Answered without the agent (a slash command, a full queue).
        Some(TurnEvent::Reply { text }) => {
            let response = text_response(&text, streaming, &meta);
            let response = match pinned {
                Some(id) => with_session_headers(response, &id),
                None => response,
            };
            return Ok(with_tools_header(response, ignored_tools));
        }
        Some(TurnEvent::Failed(e)) => return Err(e.into()),
        _ => return Err(CoreError::Cancelled.into()),
    };
    let response = if streaming {
        stream_response(turn, meta).await?
    } else {
        plain_response(turn, &meta, &state.inbound).await?
    };
    let response = holding(response, (share, slot));
    let response = if ephemeral {
        response
    } else {
        with_session_headers(response, &session_id)
    };
    Ok(with_tools_header(response, ignored_tools))
}

/// Client tools are accepted, not refused: web UIs send them with every
/// message (Open WebUI offers its built-in tools to the model on each chat
/// request by default), and a refusal would make the API unusable from
/// them. hermod's own tools still run; the client's are never called.
pub(crate) fn note_ignored_tools(state: &AppState, count: usize) {
    if state.tools_warned.swap(true, Ordering::Relaxed) {
        debug!(count, "ignored client-supplied tools");
    } else {
        warn!(
            count,
            "a client sent tools (function calling), which hermod does not support: they are \
             ignored and the agent uses its own tools (further requests with tools are logged \
             at DEBUG)"
        );
    }
}

pub(crate) fn with_tools_header(mut response: Response, ignored_tools: usize) -> Response {
    if ignored_tools > 0 {
        response
            .headers_mut()
            .insert(TOOLS_IGNORED_HEADER, HeaderValue::from(ignored_tools));
    }
    response
}

/// Keeps the request's share of the body budget and its run slot until
/// the answer has been written (for a stream: until it ends).
pub(crate) fn holding(response: Response, held: (BudgetShare, RunSlot)) -> Response {
    response.map(|body| Body::new(HoldingBody::new(body, held)))
}

/// Reads the session header (hermod's name first, then Hermes').
fn session_choice(headers: &HeaderMap) -> Result<SessionChoice, ApiError> {
    let raw = headers
        .get(&SESSION_HEADER)
        .or_else(|| headers.get(&HERMES_SESSION_HEADER));
    let Some(raw) = raw else {
        return Ok(SessionChoice::Stateless(new_session_id()));
    };
    let text = raw.to_str().map_err(|_| {
        ApiError::bad_request(
            "invalid_session_id",
            "The session id header must be printable ASCII.",
        )
    })?;
    SessionId::parse(text.trim())
        .map(SessionChoice::Continue)
        .map_err(|e| {
            ApiError::bad_request("invalid_session_id", format!("Invalid session id: {e}."))
        })
}

/// A request may continue a session the API created, or start one under a
/// new id; another platform's session (a Telegram chat's, say) only when
/// the operator allowed it. Refusals look like an unknown id.
async fn check_session_access(access: &SessionAccess, id: &SessionId) -> Result<(), ApiError> {
    if access.allow_platform_sessions {
        return Ok(());
    }
    let Some(store) = &access.store else {
        warn!(session = %id, "refusing a named session: the API server was built without the store, so its owner cannot be checked");
        return Err(ApiError::session_not_found());
    };
    match store.session(id).await {
        Ok(None) => Ok(()),
        Ok(Some(record)) if record.platform == crate::PLATFORM => Ok(()),
        Ok(Some(record)) => {
            info!(session = %id, platform = %record.platform, "refused an API request for another platform's session");
            Err(ApiError::session_not_found())
        }
        Err(e) => Err(CoreError::from(e).into()),
    }
}

/// A whole answer that did not come from the agent, plain or as a stream.
fn text_response(text: &str, streaming: bool, meta: &CompletionMeta) -> Response {
    if streaming {
        text_stream(text, meta)
    } else {
        axum::Json(completion(meta, text, "stop", Default::default())).into_response()
    }
}

pub(crate) fn with_session_headers(mut response: Response, session: &SessionId) -> Response {
    if let Ok(value) = HeaderValue::from_str(session.as_str()) {
        response.headers_mut().insert(SESSION_HEADER, value.clone());
        response.headers_mut().insert(HERMES_SESSION_HEADER, value);
    }
    response
}

/// Waits for the end of the turn and answers one `chat.completion`. An
/// answer the model did not finish is an error, not a completion.
/// Nobody can answer its approval requests: they are denied at once.
async fn plain_response(
    mut turn: TurnStream,
    meta: &CompletionMeta,
    inbound: &hermod_core::Inbound,
) -> Result<Response, ApiError> {
    let mut files = None;
    loop {
        match turn.next().await {
            Some(TurnEvent::Files(media)) => files = Some(media),
            Some(TurnEvent::Agent(AgentEvent::Final(outcome))) => {
                if outcome.finish_reason == FinishReason::Incomplete {
                    debug!("the model's answer was cut off; answering an error");
                    return Err(ApiError::incomplete());
                }
                // `MEDIA:` lines never reach the client: their files do.
                let text = match &files {
                    Some(media) => crate::files::with_files(&media.text, media),
                    None => hermod_core::strip_directives(&outcome.text),
                };
                let body = completion(
                    meta,
                    &text,
                    outcome.finish_reason.as_openai(),
                    outcome.usage,
                );
                return Ok(axum::Json(body).into_response());
            }
            Some(TurnEvent::Agent(AgentEvent::Failed(e))) => return Err(CoreError::Agent(e).into()),
            Some(TurnEvent::Failed(CoreError::Interrupted)) => {
                debug!("the turn was interrupted before any text");
                let body = completion(meta, "", INTERRUPTED, Default::default());
                return Ok(axum::Json(body).into_response());
            }
            Some(TurnEvent::Failed(e)) => return Err(e.into()),
            Some(TurnEvent::Reply { text }) => return Ok(text_response(&text, false, meta)),
            Some(TurnEvent::Agent(AgentEvent::ApprovalRequested { request_id, .. })) => {
                crate::approvals::deny_unstreamed(inbound, &request_id).await;
            }
            Some(_) => {}
            None => return Err(CoreError::Cancelled.into()),
        }
    }
}

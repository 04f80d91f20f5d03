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
use crate::idempotency::{Fingerprint, answer_once, idempotency_key};
use crate::inbound::{ChatRequest, SessionChoice, api_user, parse_request, to_event};
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
/// The header that scopes per-user state to one of the client's users.
pub(crate) const SESSION_KEY_HEADER: HeaderName = HeaderName::from_static("x-hermes-session-key");
/// The longest session key accepted (Hermes' limit).
pub(crate) const MAX_SESSION_KEY_CHARS: usize = 256;
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
    let memory_key = session_key(&parts.headers)?;
    let idempotency = idempotency_key(&parts.headers)?;
    let stored_user = match &choice {
        SessionChoice::Continue(id) => check_session_access(&state.sessions, id).await?,
        SessionChoice::Stateless(_) => None,
    };
    // A stored session keeps the user it was started by, so the memory
    // tool (which acts for the session's user) and the notes the model is
    // shown always belong to the same user.
    let user = stored_user.unwrap_or_else(|| api_user(memory_key.as_deref()));
    let (body, share) = state.bodies.read(&parts.headers, body).await?;
    let request = parse_request(&body)?;
    // Streams are not replayed (as in Hermes): only whole answers are kept.
    let fingerprint = (idempotency.is_some() && !request.stream).then(|| {
        let pinned = match &choice {
            SessionChoice::Continue(id) => Some(id.as_str()),
            SessionChoice::Stateless(_) => None,
        };
        Fingerprint::of(&body, FINGERPRINT_FIELDS, &[pinned, memory_key.as_deref()])
    });
    // Only the parsed request is kept from here on.
    drop(body);
    let turn = answer(state, request, choice, user);
    let response = match fingerprint {
        Some(fingerprint) => {
            answer_once(
                &state.chat_answers,
                idempotency.as_deref(),
                fingerprint,
                turn,
            )
            .await?
        }
        None => turn.await?,
    };
    let response = holding(response, (share, slot));
    Ok(with_session_key_header(response, memory_key.as_deref()))
}

/// The fields of a request whose change makes it another request under the
/// same `Idempotency-Key` (Hermes' list).
const FINGERPRINT_FIELDS: &[&str] = &["model", "messages", "tools", "tool_choice", "stream"];

/// Runs the turn of a parsed request for `user` and answers it.
async fn answer(
    state: &AppState,
    request: ChatRequest,
    choice: SessionChoice,
    user: String,
) -> Result<Response, ApiError> {
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
    let usage_chunk = request.include_usage();
    let pinned = match &choice {
        SessionChoice::Continue(id) => Some(id.clone()),
        SessionChoice::Stateless(_) => None,
    };
    // Not stored: no session to name in the answer.
    let ephemeral = pinned.is_none() && !state.store_stateless;
    let mut event = to_event(request, choice, &state.model_name)?;
    event.source.user_id = Some(user);
    event.ephemeral = ephemeral;
    let mut turn = state.inbound.submit_streaming(event)?;
    let session_id = match turn.next().await {
        Some(TurnEvent::Started { session_id }) => session_id,
        // Answered without the agent (a slash command, a full queue).
        Some(TurnEvent::Reply { text }) => {
            let response = text_response(&text, streaming.then_some(usage_chunk), &meta);
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
        stream_response(turn, meta, usage_chunk).await?
    } else {
        plain_response(turn, &meta, &state.inbound).await?
    };
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

/// Reads `X-Hermes-Session-Key`: a stable id of the client's user or
/// channel that scopes per-user state (memory notes, approvals granted
/// `always`, session search), as Hermes scopes long-term memory by it.
/// Absent or blank: the API key's holder. At most
/// [`MAX_SESSION_KEY_CHARS`] characters, no control characters (it is
/// echoed in a header and stored).
pub(crate) fn session_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get(&SESSION_KEY_HEADER) else {
        return Ok(None);
    };
    let invalid = |why: &str| {
        ApiError::bad_request(
            "invalid_session_key",
            format!("Invalid session key: the X-Hermes-Session-Key header {why}."),
        )
    };
    let text = std::str::from_utf8(raw.as_bytes())
        .map_err(|_| invalid("is not UTF-8"))?
        .trim();
    if text.chars().any(char::is_control) {
        return Err(invalid("contains control characters"));
    }
    if text.chars().count() > MAX_SESSION_KEY_CHARS {
        return Err(invalid(&format!(
            "is longer than {MAX_SESSION_KEY_CHARS} characters"
        )));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// Echoes the session key, as Hermes does.
pub(crate) fn with_session_key_header(mut response: Response, key: Option<&str>) -> Response {
    if let Some(value) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
        response.headers_mut().insert(SESSION_KEY_HEADER, value);
    }
    response
}

/// A request may continue a session the API created, or start one under a
/// new id; another platform's session (a Telegram chat's, say) only when
/// the operator allowed it. Refusals look like an unknown id.
///
/// Returns the user of the stored API session, if it has one.
pub(crate) async fn check_session_access(
    access: &SessionAccess,
    id: &SessionId,
) -> Result<Option<String>, ApiError> {
    let record = match &access.store {
        Some(store) => store.session(id).await.map_err(CoreError::from)?,
        None if access.allow_platform_sessions => None,
        None => {
            warn!(session = %id, "refusing a named session: the API server was built without the store, so its owner cannot be checked");
            return Err(ApiError::session_not_found());
        }
    };
    match record {
        None => Ok(None),
        Some(record) if record.platform == crate::PLATFORM => Ok(record.source.user_id),
        Some(_) if access.allow_platform_sessions => Ok(None),
        Some(record) => {
            info!(session = %id, platform = %record.platform, "refused an API request for another platform's session");
            Err(ApiError::session_not_found())
        }
    }
}

/// A whole answer that did not come from the agent, plain or (with how
/// the stream reports usage) as a stream.
fn text_response(text: &str, stream: Option<bool>, meta: &CompletionMeta) -> Response {
    match stream {
        Some(usage_chunk) => text_stream(text, meta, usage_chunk),
        None => axum::Json(completion(meta, text, "stop", Default::default())).into_response(),
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
            Some(TurnEvent::Reply { text }) => return Ok(text_response(&text, None, meta)),
            Some(TurnEvent::Agent(AgentEvent::ApprovalRequested { request_id, .. })) => {
                crate::approvals::deny_unstreamed(inbound, &request_id).await;
            }
            Some(_) => {}
            None => return Err(CoreError::Cancelled.into()),
        }
    }
}

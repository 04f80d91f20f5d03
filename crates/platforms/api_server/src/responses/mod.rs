//! The Responses API: `POST /v1/responses` (plain or streamed), `GET` and
//! `DELETE /v1/responses/{id}`.
//!
//! A request is checked in order of cost — JSON content type, a free run
//! slot, the body — then parsed ([`request`]), placed in a session
//! ([`chain`]) and run as a turn through the router like any message. The
//! answer is a `response` object ([`object`]) or its events ([`stream`]);
//! unless `store: false` it is then kept ([`book`]) for `GET` and for
//! requests that chain onto it.

mod book;
mod chain;
mod input;
mod object;
mod request;
mod save;
mod stream;

use crate::body::require_json;
use crate::chat::{
    holding, note_ignored_tools, session_key, with_session_headers, with_session_key_header,
    with_tools_header,
};
use crate::config::ApiServerConfig;
use crate::error::ApiError;
use crate::idempotency::{
    CachedResponse, Fingerprint, IdempotencyCache, answer_once, idempotency_key,
};
use crate::inbound::api_user;
use crate::server::AppState;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use book::{MemoryBook, Saved, UseClock};
pub(crate) use chain::session_deleted;
use hermod_agent::{AgentEvent, FinishReason};
use hermod_core::{CoreError, TurnEvent, TurnStream};
use object::{ResponseMeta, Status, response_object};
use request::ResponseRequest;
use save::Saver;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tracing::debug;

pub(crate) use save::book_of as book;

/// What the Responses API keeps between requests.
#[derive(Debug, Clone)]
pub(crate) struct ResponsesState {
    /// Where responses are kept when the server has no store.
    memory: Arc<Mutex<MemoryBook>>,
    /// The most responses kept (`max_stored_responses`).
    keep: usize,
    /// When responses are used, in the order they are.
    clock: Arc<UseClock>,
    /// Whole answers by `Idempotency-Key`, for the process (as in Hermes).
    answers: IdempotencyCache<CachedResponse>,
    /// The sessions responses are being answered in now.
    running: Arc<chain::Running>,
    /// The streamed responses being answered now.
    live: Arc<save::Live>,
}

impl ResponsesState {
    pub(crate) fn new(config: &ApiServerConfig) -> Self {
        Self {
            memory: Arc::default(),
            keep: config.max_stored_responses.max(1),
            clock: Arc::default(),
            answers: IdempotencyCache::new(),
            running: Arc::default(),
            live: Arc::default(),
        }
    }
}

/// The routes of this module (behind the key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/responses", post(create))
        .route("/v1/responses/{id}", get(retrieve).delete(delete))
}

async fn create(State(state): State<AppState>, request: Request) -> Response {
    match handle_create(&state, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle_create(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    require_json(&parts.headers)?;
    // Before the body is read: a flood is refused cheaply.
    let slot = state.slots.try_acquire()?;
    let memory_key = session_key(&parts.headers)?;
    let idempotency = idempotency_key(&parts.headers)?;
    let (body, share) = state.bodies.read(&parts.headers, body).await?;
    let request = request::parse(&body)?;
    // Streams are not replayed (as in Hermes): only whole answers are kept.
    let fingerprint = (idempotency.is_some() && !request.stream)
        .then(|| Fingerprint::of(&body, FINGERPRINT_FIELDS, &[memory_key.as_deref()]));
    // Only the parsed request is kept from here on.
    drop(body);
    if request.ignored_tools > 0 {
        note_ignored_tools(state, request.ignored_tools);
    }
    let ignored_tools = request.ignored_tools;
    let run = respond(state, request, memory_key.as_deref());
    let response = match fingerprint {
        Some(fingerprint) => {
            let answers = &state.responses.answers;
            answer_once(answers, idempotency.as_deref(), fingerprint, run).await?
        }
        None => run.await?,
    };
    let response = holding(response, (share, slot));
    let response = with_tools_header(response, ignored_tools);
    Ok(with_session_key_header(response, memory_key.as_deref()))
}

/// The fields of a request whose change makes it another request under the
/// same `Idempotency-Key` (Hermes' list, `store`, and
/// `conversation_history`, which changes the conversation answered).
const FINGERPRINT_FIELDS: &[&str] = &[
    "input",
    "conversation_history",
    "instructions",
    "previous_response_id",
    "conversation",
    "model",
    "tools",
    "store",
];

/// Runs a checked request's turn and answers it.
async fn respond(
    state: &AppState,
    request: ResponseRequest,
    memory_key: Option<&str>,
) -> Result<Response, ApiError> {
    let previous = if request.own_history {
        None
    } else {
        previous(state, &request).await?
    };
    let instructions = request
        .instructions
        .clone()
        .or_else(|| previous.as_ref().and_then(|p| p.record.instructions()));
    let user = user(state, previous.as_ref(), memory_key).await?;
    let mut plan = chain::plan(state, &request, previous.as_ref()).await?;
    let claim = plan.take_claim();
    let event = chain::event(
        &request,
        plan,
        instructions.clone(),
        user,
        &state.model_name,
    );
    let meta = meta(state, &request, instructions.clone());
    let mut turn = state.inbound.submit_streaming(event)?;
    let session = match turn.next().await {
        Some(TurnEvent::Started { session_id }) => session_id,
        // Answered without the agent (a slash command, a busy session).
        Some(TurnEvent::Reply { text }) => {
            let saver = saver(state, &request, &meta, None, claim);
            return Ok(if request.stream {
                stream::stream_reply(text, meta, saver)
            } else {
                let response = response_object(&meta, &Status::Completed, Some(&text), None);
                saver.save(&response).await;
                axum::Json(response).into_response()
            });
        }
        Some(TurnEvent::Failed(e)) => return Err(e.into()),
        _ => return Err(CoreError::Cancelled.into()),
    };
    let saver = saver(state, &request, &meta, Some(session.clone()), claim);
    let response = if request.stream {
        stream::stream_response(turn, meta, saver).await?
    } else {
        plain_response(turn, &meta, &saver, state).await?
    };
    // Not recorded: no session to name.
    Ok(if request.store {
        with_session_headers(response, &session)
    } else {
        response
    })
}

/// The user the turn runs for: the one a chained-onto conversation was
/// started by (so its notes and grants stay the same user's), else the
/// key's holder or, with `X-Hermes-Session-Key`, one of their users.
async fn user(
    state: &AppState,
    previous: Option<&Saved>,
    memory_key: Option<&str>,
) -> Result<String, ApiError> {
    if let (Some(store), Some(session)) = (
        &state.sessions.store,
        previous.and_then(|p| p.session.as_ref()),
    ) && let Some(record) = store.session(session).await.map_err(CoreError::from)?
        && let Some(user) = record.source.user_id
    {
        return Ok(user);
    }
    Ok(api_user(memory_key))
}

/// The response a request chains onto: `previous_response_id`'s (404 when
/// unknown), or the latest of its named `conversation` (none yet: a new
/// conversation).
async fn previous(state: &AppState, request: &ResponseRequest) -> Result<Option<Saved>, ApiError> {
    let book = book(state);
    if let Some(id) = &request.previous_response_id {
        return match book.get(id).await? {
            Some(saved) => Ok(Some(saved)),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "response_not_found",
                format!(
                    "Previous response not found: {id}. Responses are kept only when sent with \
                     `store` (the default), only the most recent ones, and only those under \
                     1 MiB."
                ),
            )
            .param("previous_response_id")),
        };
    }
    match &request.conversation {
        Some(name) => book.latest(name).await,
        None => Ok(None),
    }
}

fn meta(state: &AppState, request: &ResponseRequest, instructions: Option<String>) -> ResponseMeta {
    let mut meta = ResponseMeta::new(
        request
            .model
            .clone()
            .unwrap_or_else(|| state.model_name.to_string()),
    );
    meta.instructions = instructions;
    meta.previous_response_id = request.previous_response_id.clone();
    meta.conversation = request.conversation.clone();
    meta.temperature = request.temperature;
    meta.max_output_tokens = request.max_output_tokens;
    meta.store = request.store;
    meta
}

fn saver(
    state: &AppState,
    request: &ResponseRequest,
    meta: &ResponseMeta,
    session: Option<hermod_model::SessionId>,
    claim: Option<chain::Claim>,
) -> Saver {
    Saver {
        state: state.clone(),
        enabled: request.store,
        id: meta.id.clone(),
        session: session.filter(|_| request.store),
        conversation: request.conversation.clone(),
        _claim: claim,
    }
}

/// Waits for the end of the turn and answers one `response`. A failure,
/// or an answer the model did not finish, is an HTTP error. Nobody can
/// answer its approval requests: they are denied at once.
async fn plain_response(
    mut turn: TurnStream,
    meta: &ResponseMeta,
    saver: &Saver,
    state: &AppState,
) -> Result<Response, ApiError> {
    let mut files = None;
    let (status, text, usage) = loop {
        match turn.next().await {
            Some(TurnEvent::Files(media)) => files = Some(media),
            Some(TurnEvent::Agent(AgentEvent::Final(outcome))) => {
                let status = match outcome.finish_reason {
                    FinishReason::Incomplete => {
                        debug!("the model's answer was cut off; answering an error");
                        return Err(ApiError::incomplete());
                    }
                    FinishReason::Length | FinishReason::MaxIterations => {
                        Status::Incomplete("max_output_tokens")
                    }
                    FinishReason::Interrupted => Status::Incomplete("interrupted"),
                    FinishReason::Stop => Status::Completed,
                };
                // `MEDIA:` lines never reach the client: their files do.
                let text = match &files {
                    Some(media) => crate::files::with_files(&media.text, media),
                    None => hermod_core::strip_directives(&outcome.text),
                };
                break (status, visible(&text), outcome.usage);
            }
            Some(TurnEvent::Agent(AgentEvent::Failed(e))) => return Err(CoreError::Agent(e).into()),
            Some(TurnEvent::Failed(CoreError::Interrupted)) => {
                debug!("the turn was interrupted before any text");
                break (
                    Status::Incomplete("interrupted"),
                    String::new(),
                    Default::default(),
                );
            }
            Some(TurnEvent::Failed(e)) => return Err(e.into()),
            Some(TurnEvent::Reply { text }) => break (Status::Completed, text, Default::default()),
            Some(TurnEvent::Agent(AgentEvent::ApprovalRequested { request_id, .. })) => {
                crate::approvals::deny_unstreamed(&state.inbound, &request_id).await;
            }
            Some(_) => {}
            None => return Err(CoreError::Cancelled.into()),
        }
    };
    let response = response_object(meta, &status, Some(&text), Some(usage));
    saver.save(&response).await;
    Ok(axum::Json(response).into_response())
}

/// The answer without the model's hidden reasoning.
fn visible(text: &str) -> String {
    let mut think = hermod_model::text::ThinkFilter::new();
    let mut visible = think.push(text);
    visible.push_str(&think.finish());
    visible
}

/// `GET /v1/responses/{id}`: the stored response object.
async fn retrieve(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match book(&state).get(&id).await {
        Ok(Some(saved)) => {
            axum::Json(state.responses.live.as_read(saved.record.response)).into_response()
        }
        Ok(None) => not_found(&id).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /v1/responses/{id}`.
async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    // First: a stream still answering it must not store it again.
    state.responses.live.deleting(&id);
    match book(&state).delete(&id).await {
        Ok(true) => {
            axum::Json(json!({"id": id, "object": "response", "deleted": true})).into_response()
        }
        Ok(false) => not_found(&id).into_response(),
        Err(e) => e.into_response(),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "response_not_found",
        format!("Response not found: {id}."),
    )
}

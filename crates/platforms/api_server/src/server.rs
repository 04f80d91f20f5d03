//! The axum routes: health, models, chat completions (plain and streamed),
//! behind a constant-time bearer-key check and a body-size limit.

use crate::error::ApiError;
use crate::inbound::{SessionChoice, parse_request, to_event};
use crate::outbound::{CompletionMeta, SSE_DONE, SSE_KEEPALIVE, chunk, completion, sse_data};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hermod_agent::{AgentEvent, TurnOutcome};
use hermod_core::{CoreError, Inbound, TurnEvent, TurnStream, new_session_id};
use hermod_model::{Secret, SessionId};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// The session header hermod reads and echoes.
pub(crate) const SESSION_HEADER: HeaderName = HeaderName::from_static("x-hermod-session-id");
/// The Hermes name of the same header, for clients configured for Hermes.
pub(crate) const HERMES_SESSION_HEADER: HeaderName = HeaderName::from_static("x-hermes-session-id");

/// A comment sent on an idle event stream so proxies keep it open.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) inbound: Inbound,
    pub(crate) key: Arc<Secret>,
    pub(crate) model_name: Arc<str>,
}

pub(crate) fn routes(state: AppState, max_body_bytes: usize) -> Router {
    let authed = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    Router::new()
        .route("/health", get(health))
        .route("/v1/health", get(health))
        .merge(authed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn health() -> Response {
    axum::Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})).into_response()
}

async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        "No such route.",
    )
    .into_response()
}

async fn require_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        Some(token) if state.key.ct_eq(token.as_bytes()) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

async fn models(State(state): State<AppState>) -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [{"id": &*state.model_name, "object": "model", "created": 0, "owned_by": "hermod"}],
    }))
    .into_response()
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

async fn chat_completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle_chat(&state, &headers, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle_chat(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "request_too_large",
                "The request body is larger than the server accepts (10 MB by default).",
            )
        } else {
            ApiError::bad_request(
                "invalid_body",
                format!("Could not read the request body: {rejection}"),
            )
        }
    })?;
    let request = parse_request(&body)?;
    let streaming = request.stream;
    let meta = CompletionMeta::new(
        request
            .model
            .clone()
            .unwrap_or_else(|| state.model_name.to_string()),
    );
    let choice = session_choice(headers)?;
    let pinned = match &choice {
        SessionChoice::Continue(id) => Some(id.clone()),
        SessionChoice::Stateless(_) => None,
    };
    let event = to_event(request, choice, &state.model_name)?;
    let mut turn = state.inbound.submit_streaming(event)?;
    let session_id = match turn.next().await {
        Some(TurnEvent::Started { session_id }) => session_id,
        // Answered without the agent (a slash command, a full queue).
        Some(TurnEvent::Reply { text }) => {
            let response = text_response(&text, streaming, &meta);
            return Ok(match pinned {
                Some(id) => with_session_headers(response, &id),
                None => response,
            });
        }
        Some(TurnEvent::Failed(e)) => return Err(e.into()),
        _ => return Err(CoreError::Cancelled.into()),
    };
    let response = if streaming {
        stream_response(turn, meta).await?
    } else {
        plain_response(turn, &meta).await?
    };
    Ok(with_session_headers(response, &session_id))
}

/// A whole answer that did not come from the agent, plain or as a stream.
fn text_response(text: &str, streaming: bool, meta: &CompletionMeta) -> Response {
    let usage = hermod_model::Usage::default();
    if !streaming {
        return axum::Json(completion(meta, text, "stop", usage)).into_response();
    }
    let frames = [
        sse_data(&chunk(
            meta,
            &json!({"role": "assistant", "content": ""}),
            None,
            None,
        )),
        sse_data(&chunk(meta, &json!({"content": text}), None, None)),
        sse_data(&chunk(meta, &json!({}), Some("stop"), Some(usage))),
        SSE_DONE.to_owned(),
    ];
    sse_response(Body::from(frames.concat()))
}

fn sse_response(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    response
}

fn with_session_headers(mut response: Response, session: &SessionId) -> Response {
    if let Ok(value) = HeaderValue::from_str(session.as_str()) {
        response.headers_mut().insert(SESSION_HEADER, value.clone());
        response.headers_mut().insert(HERMES_SESSION_HEADER, value);
    }
    response
}

/// Waits for the end of the turn and answers one `chat.completion`.
async fn plain_response(mut turn: TurnStream, meta: &CompletionMeta) -> Result<Response, ApiError> {
    loop {
        match turn.next().await {
            Some(TurnEvent::Agent(AgentEvent::Final(outcome))) => {
                let body = completion(
                    meta,
                    &outcome.text,
                    outcome.finish_reason.as_openai(),
                    outcome.usage,
                );
                return Ok(axum::Json(body).into_response());
            }
            Some(TurnEvent::Agent(AgentEvent::Failed(e))) => return Err(CoreError::Agent(e).into()),
            Some(TurnEvent::Failed(e)) => return Err(e.into()),
            Some(TurnEvent::Reply { text }) => {
                return Ok(
                    axum::Json(completion(meta, &text, "stop", Default::default())).into_response(),
                );
            }
            Some(_) => {}
            None => return Err(CoreError::Cancelled.into()),
        }
    }
}

/// Answers an event stream. The status is decided by the first event: a
/// turn that fails before producing anything gets a proper error status
/// instead of a 200 stream that carries only an error.
async fn stream_response(mut turn: TurnStream, meta: CompletionMeta) -> Result<Response, ApiError> {
    let first = loop {
        match turn.next().await {
            Some(TurnEvent::Agent(AgentEvent::Failed(e))) => return Err(CoreError::Agent(e).into()),
            Some(TurnEvent::Failed(e)) => return Err(e.into()),
            Some(TurnEvent::Agent(AgentEvent::Usage(_))) => {}
            Some(other) => break other,
            None => return Err(CoreError::Cancelled.into()),
        }
    };
    let opening = sse_data(&chunk(
        &meta,
        &json!({"role": "assistant", "content": ""}),
        None,
        None,
    ));
    let frames = Frames {
        turn,
        meta,
        pending: VecDeque::from([opening]),
        first: Some(first),
        done: false,
    };
    // The body owns the turn: when the client disconnects, hyper drops the
    // body, the turn stream is dropped and the turn is cancelled.
    let body = futures_util::stream::unfold(frames, |mut frames| async move {
        let frame = frames.next_frame().await?;
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(frame)),
            frames,
        ))
    });
    Ok(sse_response(Body::from_stream(body)))
}

/// Turns a turn's events into SSE frames.
struct Frames {
    turn: TurnStream,
    meta: CompletionMeta,
    pending: VecDeque<String>,
    first: Option<TurnEvent>,
    done: bool,
}

impl Frames {
    async fn next_frame(&mut self) -> Option<String> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
            if self.done {
                return None;
            }
            let event = match self.first.take() {
                Some(first) => Some(first),
                None => tokio::select! {
                    event = self.turn.next() => event,
                    () = tokio::time::sleep(KEEPALIVE_EVERY) => return Some(SSE_KEEPALIVE.to_owned()),
                },
            };
            self.push(event);
        }
    }

    fn content(&mut self, text: &str) {
        let frame = chunk(&self.meta, &json!({"content": text}), None, None);
        self.pending.push_back(sse_data(&frame));
    }

    fn push(&mut self, event: Option<TurnEvent>) {
        match event {
            Some(TurnEvent::Agent(AgentEvent::TextDelta(text))) => self.content(&text),
            Some(TurnEvent::Agent(AgentEvent::SegmentBreak)) => {
                self.content(hermod_agent::SEGMENT_SEPARATOR)
            }
            Some(TurnEvent::Agent(AgentEvent::Final(outcome))) => self.finish(&outcome),
            Some(TurnEvent::Agent(AgentEvent::Failed(e))) => self.fail(CoreError::Agent(e)),
            Some(TurnEvent::Failed(e)) => self.fail(e),
            Some(TurnEvent::Reply { text }) => {
                self.content(&text);
                self.finish_with("stop", hermod_model::Usage::default());
            }
            None => self.fail(CoreError::Cancelled),
            // Tool progress and per-call usage are not part of the OpenAI
            // stream; the final chunk carries the turn's total usage.
            Some(_) => {}
        }
    }

    fn finish(&mut self, outcome: &TurnOutcome) {
        self.finish_with(outcome.finish_reason.as_openai(), outcome.usage);
    }

    fn finish_with(&mut self, finish_reason: &str, usage: hermod_model::Usage) {
        let last = chunk(&self.meta, &json!({}), Some(finish_reason), Some(usage));
        self.pending.push_back(sse_data(&last));
        self.pending.push_back(SSE_DONE.to_owned());
        self.done = true;
    }

    fn fail(&mut self, error: CoreError) {
        self.pending
            .push_back(sse_data(&ApiError::from(error).body()));
        self.done = true;
    }
}

//! The runs API's handlers: start, status, events, approval, stop. Answers
//! and errors are Hermes' (`run_not_found`, `approval_not_active`,
//! `approval_not_pending`, `invalid_approval_choice`), in OpenAI's error
//! shape.

use super::drive::drive;
use super::request;
use super::run::{Ending, Phase, Run};
use crate::body::require_json;
use crate::chat::{check_session_access, session_key, with_session_key_header};
use crate::error::ApiError;
use crate::inbound::api_user;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hermod_core::{ApprovalAnswerError, ApprovalChoice};
use hermod_model::SessionId;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tracing::warn;

/// `POST /v1/runs`: `202 {"run_id","status":"started"}` once the turn is
/// submitted; it runs in its own task whether or not anyone subscribes.
pub(crate) async fn create(State(state): State<AppState>, request: Request) -> Response {
    match start(&state, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn start(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    require_json(&parts.headers)?;
    let memory_key = session_key(&parts.headers)?;
    // Before the body is read: a flood is refused cheaply.
    let slot = state.slots.try_acquire()?;
    let (body, share) = state.bodies.read(&parts.headers, body).await?;
    let request = request::parse(&body)?;
    // The share stays with the run until it ends (see `body.rs`).
    drop(body);
    let model = request
        .model
        .clone()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| state.model_name.to_string());
    let previous = request.previous_response_id.clone();
    let mut input = request.check()?;
    if let Some(previous) = previous.as_deref().filter(|p| !p.trim().is_empty()) {
        super::chain::chain(state, previous, &mut input).await?;
    }
    let stored_user = match &input.session_id {
        Some(id) => check_session_access(&state.sessions, id).await?,
        None => None,
    };
    // A stored session keeps the user it was started by; otherwise the
    // key's holder, or the user the session key names.
    let user = stored_user.unwrap_or_else(|| api_user(memory_key.as_deref()));
    let run_id = new_run_id();
    let named = input.session_id.is_some();
    let session_id = match &input.session_id {
        Some(id) => id.clone(),
        // Hermes records a run without a session under the run's id.
        None => SessionId::parse(&run_id).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal_error",
                format!("The run's id is not a valid session id ({e}); try again."),
            )
        })?,
    };
    let run = Arc::new(Run::new(
        run_id.clone(),
        session_id.as_str(),
        &model,
        state.runs.buffer_cap,
    ));
    state.runs.insert(run.clone())?;
    let mut event = input.into_event(session_id, &state.model_name);
    event.source.user_id = Some(user);
    // Not stored when the operator keeps stateless requests out of the store.
    event.ephemeral = !named && !state.store_stateless;
    let turn = match state.inbound.submit_streaming(event) {
        Ok(turn) => turn,
        Err(e) => {
            let error = ApiError::from(e);
            run.end(Ending::Failed {
                error: error.message.clone(),
            });
            return Err(error);
        }
    };
    tokio::spawn(drive(run, turn, (slot, share), state.reasoning_content));
    let response = (
        StatusCode::ACCEPTED,
        axum::Json(json!({"run_id": run_id, "status": "started"})),
    )
        .into_response();
    Ok(with_session_key_header(response, memory_key.as_deref()))
}

/// `run_` and 32 hex digits, as Hermes' ids.
fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    // Unique enough to tell runs apart; a failed fill leaves zeros, and
    // the time below still tells them apart.
    if getrandom::fill(&mut bytes).is_err() {
        let now = jiff::Timestamp::now().as_nanosecond().to_le_bytes();
        bytes.copy_from_slice(&now);
    }
    format!("run_{}", hermod_model::to_hex(&bytes))
}

fn run_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "run_not_found",
        format!(
            "Run not found: {id}. Runs are kept an hour after they end, their event streams \
             five minutes."
        ),
    )
}

fn find(state: &AppState, id: &str) -> Result<Arc<Run>, ApiError> {
    state.runs.get(id).ok_or_else(|| run_not_found(id))
}

/// `GET /v1/runs/{id}`: the pollable status.
pub(crate) async fn status(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match find(&state, &id) {
        Ok(run) => axum::Json(run.status()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /v1/runs/{id}/events`: the run's events as SSE.
pub(crate) async fn events(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match find(&state, &id) {
        Ok(run) if run.has_events() => super::sse::event_stream(run, state.runs.buffer_cap),
        Ok(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "run_not_found",
            format!(
                "The events of run {id} are no longer kept (five minutes after it ended); \
                 GET /v1/runs/{id} has its outcome."
            ),
        )
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ApprovalBody {
    #[serde(default)]
    choice: Value,
    /// Answer every open request of the run, not just the oldest.
    #[serde(default)]
    all: Value,
    #[serde(default)]
    resolve_all: Value,
    /// Why, with `deny` (the model sees it).
    #[serde(default)]
    reason: Option<String>,
}

/// A boolean as Hermes reads one: `true`, `1`, or `"true"`/`"yes"`/`"1"`/`"on"`.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        ),
        _ => false,
    }
}

/// `POST /v1/runs/{id}/approval`: answers the run's oldest open approval
/// request (all of them with `"all": true`).
pub(crate) async fn approval(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match answer(&state, &id, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn answer(state: &AppState, id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let run = find(state, id)?;
    let body: ApprovalBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("Invalid JSON: send {{\"choice\": \"once|session|always|deny\"}} ({e})."),
        )
    })?;
    let raw = match &body.choice {
        Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => String::new(),
    };
    let name = match raw.as_str() {
        "approve" | "approved" | "allow" => "once",
        other => other,
    };
    let Some(choice) = ApprovalChoice::parse(name, body.reason) else {
        return Err(ApiError::bad_request(
            "invalid_approval_choice",
            "Invalid approval choice; expected one of: once, session, always, deny",
        )
        .param("choice"));
    };
    if !run.is_live() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "approval_not_active",
            format!("Run has no active approval session: {id} (it has ended)."),
        ));
    }
    let all = truthy(&body.all) || truthy(&body.resolve_all);
    let mut resolved = 0;
    while let Some(request_id) = run.take_approval() {
        match state
            .inbound
            .answer_approval(&crate::PLATFORM, &request_id, &choice)
            .await
        {
            Ok(done) => {
                resolved += done.settled;
                if !all {
                    break;
                }
            }
            // Answered elsewhere, timed out, or its turn is over.
            Err(ApprovalAnswerError::NotFound | ApprovalAnswerError::Closed) => {}
            Err(e) => {
                run.approval_kept(request_id);
                return Err(refused(e));
            }
        }
    }
    if resolved == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "approval_not_pending",
            format!(
                "Run has no pending approval: {id}. Approval requests come as approval.request \
                 events; one not answered within its timeout_secs is denied."
            ),
        ));
    }
    run.emit(
        "approval.responded",
        json!({"choice": name, "resolved": resolved}),
        Some(Phase::Running),
    );
    Ok(axum::Json(json!({
        "object": "hermes.run.approval_response",
        "run_id": id,
        "choice": name,
        "resolved": resolved,
    }))
    .into_response())
}

fn refused(e: ApprovalAnswerError) -> ApiError {
    match e {
        ApprovalAnswerError::NoUser | ApprovalAnswerError::NotAsker => ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "approval_scope_refused",
            format!("Not answered: {e}."),
        ),
        e => {
            warn!(error = %e, "a run's approval answer could not be stored");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "approval_failed",
                "The answer could not be recorded; try again.",
            )
        }
    }
}

/// `POST /v1/runs/{id}/stop`: `{"run_id","status":"stopping"}`; the run
/// ends `cancelled` once its turn is dropped. A run that has ended is not
/// found, as in Hermes.
pub(crate) async fn stop(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.runs.get(&id) {
        Some(run) if run.request_stop() => {
            axum::Json(json!({"run_id": id, "status": "stopping"})).into_response()
        }
        _ => ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "run_not_found",
            format!("Run not found: {id} (no run with this id is in progress)."),
        )
        .into_response(),
    }
}

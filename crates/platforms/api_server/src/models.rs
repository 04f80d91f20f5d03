//! `GET /v1/models` and `GET /v1/models/{id}`: the one model this server
//! serves, in the shape Hermes gives it; and `GET /v1/capabilities`, what
//! this server serves, in Hermes' shape, so UIs written for Hermes can
//! find out what they may use.

use crate::error::ApiError;
use crate::server::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// The routes of this module (behind the key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(models))
        // A wildcard: model ids may contain slashes (`org/model`).
        .route("/v1/models/{*id}", get(model))
        .route("/v1/capabilities", get(capabilities))
}

/// When this process first described its model: a stable `created` (Hermes
/// gives the time of each request, which makes the model look new on every
/// listing).
static CREATED: LazyLock<i64> = LazyLock::new(|| jiff::Timestamp::now().as_second());

/// The one model this server serves, with the fields Hermes gives it.
fn model_object(name: &str) -> Value {
    json!({
        "id": name,
        "object": "model",
        "created": *CREATED,
        "owned_by": "hermod",
        "permission": [],
        "root": name,
        "parent": null,
    })
}

async fn models(State(state): State<AppState>) -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [model_object(&state.model_name)],
    }))
    .into_response()
}

async fn model(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if id == *state.model_name {
        axum::Json(model_object(&id)).into_response()
    } else {
        ApiError::model_not_found(&id, &state.model_name).into_response()
    }
}

/// The endpoints this server always serves, by Hermes' names where Hermes
/// has one: `(name, method, path)`. Only what is routed belongs here (a
/// test asks each one).
const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("health", "GET", "/health"),
    ("health_detailed", "GET", "/health/detailed"),
    ("capabilities", "GET", "/v1/capabilities"),
    ("models", "GET", "/v1/models"),
    ("model", "GET", "/v1/models/{model_id}"),
    ("chat_completions", "POST", "/v1/chat/completions"),
    ("approval", "POST", "/v1/approvals/{request_id}"),
    ("runs", "POST", "/v1/runs"),
    ("run_status", "GET", "/v1/runs/{run_id}"),
    ("run_events", "GET", "/v1/runs/{run_id}/events"),
    ("run_approval", "POST", "/v1/runs/{run_id}/approval"),
    ("run_stop", "POST", "/v1/runs/{run_id}/stop"),
    ("responses", "POST", "/v1/responses"),
    ("response", "GET", "/v1/responses/{response_id}"),
    ("response_delete", "DELETE", "/v1/responses/{response_id}"),
    ("sessions", "GET", "/api/sessions"),
    ("session", "GET", "/api/sessions/{session_id}"),
    ("session_update", "PATCH", "/api/sessions/{session_id}"),
    ("session_delete", "DELETE", "/api/sessions/{session_id}"),
    (
        "session_messages",
        "GET",
        "/api/sessions/{session_id}/messages",
    ),
];

/// The scheduled jobs' endpoints, served when the gateway's scheduler is
/// (`hermod gateway run`).
const JOB_ENDPOINTS: &[(&str, &str, &str)] = &[
    ("jobs", "GET", "/api/jobs"),
    ("job_create", "POST", "/api/jobs"),
    ("job", "GET", "/api/jobs/{job_id}"),
    ("job_update", "PATCH", "/api/jobs/{job_id}"),
    ("job_delete", "DELETE", "/api/jobs/{job_id}"),
    ("job_pause", "POST", "/api/jobs/{job_id}/pause"),
    ("job_resume", "POST", "/api/jobs/{job_id}/resume"),
    ("job_run", "POST", "/api/jobs/{job_id}/run"),
    ("job_runs", "GET", "/api/jobs/{job_id}/runs"),
];

/// What this server supports, under Hermes' feature names (with hermod's
/// own after them); false where hermod does not serve Hermes' feature.
fn features(state: &AppState) -> Value {
    json!({
        "chat_completions": true,
        "chat_completions_streaming": true,
        "responses_api": true,
        "responses_streaming": true,
        "run_submission": true,
        "run_status": true,
        "run_events_sse": true,
        "run_stop": true,
        "run_approval_response": true,
        "tool_progress_events": true,
        "approval_events": true,
        "session_resources": true,
        "session_chat": false,
        "session_chat_streaming": false,
        "session_fork": false,
        "admin_config_rw": false,
        "jobs_admin": state.cron.is_some(),
        "memory_write_api": false,
        "skills_api": false,
        "audio_api": false,
        "realtime_voice": false,
        "session_continuity_header": "X-Hermes-Session-Id",
        "session_key_header": "X-Hermes-Session-Key",
        "cors": state.cors.is_some(),
        // hermod's own.
        "idempotency_key_header": "Idempotency-Key",
        "stream_usage_chunk": true,
        "image_input": true,
        "reply_files": true,
        "reasoning_content": state.reasoning_content,
        "client_tools": false,
        "metrics": state.metrics.is_some(),
    })
}

/// `GET /v1/capabilities`: Hermes' document, true of this server.
async fn capabilities(State(state): State<AppState>) -> Response {
    let mut endpoints = Map::new();
    let metrics = state
        .metrics
        .is_some()
        .then_some(("metrics", "GET", "/metrics"));
    let jobs = state.cron.as_ref().map_or(&[][..], |_| JOB_ENDPOINTS);
    for (name, method, path) in ENDPOINTS.iter().chain(jobs).copied().chain(metrics) {
        endpoints.insert(name.to_owned(), json!({"method": method, "path": path}));
    }
    axum::Json(json!({
        "object": "hermes.api_server.capabilities",
        "platform": "hermod",
        "version": env!("CARGO_PKG_VERSION"),
        "model": &*state.model_name,
        "auth": {"type": "bearer", "required": true},
        "runtime": {
            "mode": "server_agent",
            "tool_execution": "server",
            "split_runtime": false,
            "description": "hermod runs the agent and its tools on the server; \
                            client-supplied tools are ignored.",
        },
        "features": features(&state),
        "endpoints": endpoints,
    }))
    .into_response()
}

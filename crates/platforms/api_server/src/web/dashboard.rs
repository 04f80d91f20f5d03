//! The dashboard's endpoints (behind the key): the platforms with their
//! state, paused and resumed as `/platform` does; the pending pairing
//! requests, approved or refused as `hermod pairing approve` does; and an
//! overview of the gateway (its recent errors and metrics as data). All of
//! it is core's [`hermod_core::Operator`]; this module only speaks HTTP.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/platforms` | `{"platforms": [...]}` |
//! | `POST /api/platforms/{name}/pause` | optional `{"reason"}`; `409` for the API server itself |
//! | `POST /api/platforms/{name}/resume` | `409` for a platform that failed for good |
//! | `GET /api/pairing` | `{"pending": [...], "approved": [...]}`, never a code |
//! | `POST /api/pairing/{platform}/{code}/approve` | `{code}`: a request's `id`, or the code its user was given |
//! | `POST /api/pairing/{platform}/{code}/deny` | the same |
//! | `GET /api/overview` | `{"version", "uptime_secs", "errors", "metrics", ...}` |

use crate::body::require_json;
use crate::error::ApiError;
use crate::server::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hermod_core::{Operator, PairingAnswer, PauseOutcome, PlatformRow, ResumeOutcome, now_ms};
use hermod_model::PlatformId;
use serde_json::{Value, json};
use std::time::Duration;

/// The reason shown for a pause asked without one.
const DEFAULT_REASON: &str = "paused from the dashboard";
/// A longer reason is refused: it is shown in a status line.
const MAX_REASON_CHARS: usize = 200;

/// The routes of the dashboard (merged behind the key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/platforms", get(platforms))
        .route("/api/platforms/{name}/pause", post(pause))
        .route("/api/platforms/{name}/resume", post(resume))
        .route("/api/pairing", get(pairings))
        .route("/api/pairing/{platform}/{code}/approve", post(approve))
        .route("/api/pairing/{platform}/{code}/deny", post(deny))
        .route("/api/overview", get(overview))
}

type Answer = Result<Response, ApiError>;

/// A JSON answer that no cache keeps (it is the gateway's state now).
fn fresh(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn operator(state: &AppState) -> Operator {
    state.inbound.operator()
}

/// A platform's row as answered: core's, plus whether this page may pause
/// it (not the API server that serves the page).
fn row(row: &PlatformRow) -> Value {
    let mut value = serde_json::to_value(row).unwrap_or_else(|_| json!({}));
    value["controllable"] = json!(row.name != crate::PLATFORM);
    value
}

async fn platforms(State(state): State<AppState>) -> Answer {
    let rows: Vec<Value> = operator(&state).platforms().iter().map(row).collect();
    Ok(fresh(json!({"platforms": rows})))
}

/// The platform called `name`, or 404 naming the known ones.
fn find(operator: &Operator, name: &str) -> Result<PlatformId, ApiError> {
    operator.find_platform(name).ok_or_else(|| {
        let known: Vec<String> = operator
            .platforms()
            .into_iter()
            .map(|r| r.name.to_string())
            .collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "platform_not_found",
            format!(
                "This gateway runs no platform \"{name}\"; it runs: {}.",
                known.join(", ")
            ),
        )
    })
}

/// The answer after a change: the platform's row as it is now.
fn platform_answer(operator: &Operator, id: &PlatformId, outcome: &str) -> Response {
    let now = operator
        .platforms()
        .into_iter()
        .find(|r| &r.name == id)
        .map(|r| row(&r));
    fresh(json!({"ok": true, "outcome": outcome, "platform": now}))
}

async fn pause(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Answer {
    let operator = operator(&state);
    let id = find(&operator, &name)?;
    let reason = reason(&state, request).await?;
    if id == crate::PLATFORM {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "platform_serves_this_page",
            format!(
                "{id} serves this page and this API: pausing it here would cut them off. \
                 Send `/platform pause {id}` from a chat platform instead."
            ),
        ));
    }
    let outcome = match operator.pause_platform(&id, reason).await? {
        PauseOutcome::Paused => "paused",
        PauseOutcome::AlreadyPaused => "already_paused",
    };
    Ok(platform_answer(&operator, &id, outcome))
}

/// The pause's reason from an optional `{"reason"}` body.
async fn reason(state: &AppState, request: Request) -> Result<String, ApiError> {
    let (parts, body) = request.into_parts();
    let (bytes, _share) = state.bodies.read(&parts.headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(DEFAULT_REASON.to_owned());
    }
    require_json(&parts.headers)?;
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    let reason = match body.get("reason") {
        None | Some(Value::Null) => return Ok(DEFAULT_REASON.to_owned()),
        Some(Value::String(reason)) => reason.trim(),
        Some(_) => {
            return Err(
                ApiError::bad_request("invalid_reason", "`reason` must be a string.")
                    .param("reason"),
            );
        }
    };
    if reason.is_empty() {
        return Ok(DEFAULT_REASON.to_owned());
    }
    if reason.chars().count() > MAX_REASON_CHARS || reason.contains(['\n', '\r']) {
        return Err(ApiError::bad_request(
            "invalid_reason",
            format!("`reason` must be one line of at most {MAX_REASON_CHARS} characters."),
        )
        .param("reason"));
    }
    Ok(reason.to_owned())
}

async fn resume(State(state): State<AppState>, Path(name): Path<String>) -> Answer {
    let operator = operator(&state);
    let id = find(&operator, &name)?;
    let outcome = match operator.resume_platform(&id).await? {
        ResumeOutcome::Resumed => "resumed",
        ResumeOutcome::Started => "started",
        ResumeOutcome::AlreadyRunning => "already_running",
        ResumeOutcome::Failed { reason } => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                "platform_failed",
                format!(
                    "{id} failed ({reason}) and stays stopped until its configuration is fixed \
                     and the gateway restarts."
                ),
            ));
        }
    };
    Ok(platform_answer(&operator, &id, outcome))
}

/// `{"pending": [...], "approved": [...]}` as Hermes' dashboard lists
/// them (with its `age_minutes`), but never a code or a code's hash: a
/// request is named by its `id`.
async fn pairings(State(state): State<AppState>) -> Answer {
    let (pending, approved) = operator(&state).pairings().await?;
    let now = now_ms();
    let pending: Vec<Value> = pending
        .iter()
        .map(|p| {
            let mut value = serde_json::to_value(p).unwrap_or_else(|_| json!({}));
            value["age_minutes"] = json!((now - p.created_at_ms).max(0) / 60_000);
            value
        })
        .collect();
    Ok(fresh(json!({"pending": pending, "approved": approved})))
}

async fn approve(
    State(state): State<AppState>,
    Path((platform, code)): Path<(String, String)>,
) -> Answer {
    let operator = operator(&state);
    let id = find(&operator, &platform)?;
    let answer = operator.approve_pairing(&id, &code).await?;
    pairing_answer(&id, answer)
}

async fn deny(
    State(state): State<AppState>,
    Path((platform, code)): Path<(String, String)>,
) -> Answer {
    let operator = operator(&state);
    let id = find(&operator, &platform)?;
    let answer = operator.deny_pairing(&id, &code).await?;
    pairing_answer(&id, answer)
}

/// `{"ok": true, "user": {"user_id", "user_name"}}` as Hermes' dashboard
/// answers an approval, or the error.
fn pairing_answer(platform: &PlatformId, answer: PairingAnswer) -> Answer {
    let (outcome, user_id, user_name) = match answer {
        PairingAnswer::Approved { user_id, user_name } => ("approved", user_id, user_name),
        PairingAnswer::Denied { user_id, user_name } => ("denied", user_id, user_name),
        PairingAnswer::NotFound { failures_left } => {
            let mut message = format!(
                "No pending pairing request on {platform} has that id or code (it may have \
                 expired after an hour, or been answered); GET /api/pairing lists them."
            );
            if let Some(left) = failures_left {
                message.push_str(&format!(
                    " {left} more wrong codes lock approvals on {platform} for an hour."
                ));
            }
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "pairing_not_found",
                message,
            ));
        }
        PairingAnswer::LockedOut { until_ms } => {
            let wait = Duration::from_millis(u64::try_from(until_ms - now_ms()).unwrap_or(0));
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "pairing_locked",
                format!(
                    "Too many wrong codes: approvals by code on {platform} are locked for \
                     {} more minutes. Approve a listed request by its id instead.",
                    wait.as_secs().div_ceil(60)
                ),
            );
            error.retry_after = Some(wait);
            return Err(error);
        }
    };
    Ok(fresh(json!({
        "ok": true,
        "outcome": outcome,
        "platform": platform.as_str(),
        "user": {"user_id": user_id, "user_name": user_name},
    })))
}

/// The gateway at a glance: version, uptime (from the status the process
/// publishes; `null` where none is), phase, recent errors, metrics.
async fn overview(State(state): State<AppState>) -> Answer {
    let operator = operator(&state);
    let status = state.status.latest();
    let errors = operator.recent_errors(status.as_ref()).await;
    let now = now_ms();
    let started = status.as_ref().map(|s| s.started_at_ms);
    let uptime = started.map(|at| u64::try_from(now - at).unwrap_or(0) / 1000);
    let healthy = state.inbound.health().report().healthy;
    Ok(fresh(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "healthy": healthy,
        "phase": status.as_ref().map(|s| s.state),
        "started_at_ms": started,
        "uptime_secs": uptime,
        "outbox_pending": status.as_ref().and_then(|s| s.outbox_pending),
        "errors": errors,
        "metrics": operator.metrics().snapshot(),
    })))
}

//! Sessions and scheduled jobs over HTTP: `/api/sessions` and `/api/jobs`,
//! at Hermes' paths with Hermes' fields where hermod has the concept.
//!
//! The key's holder is the operator: every platform's sessions are listed
//! and may be renamed or deleted here (unlike `X-Hermod-Session-Id`, which
//! continues only the API's own unless allowed). What is answered never
//! carries a secret: no platform URLs of images (they may hold a bot
//! token), no system prompts.

mod job_view;
mod jobs;
mod session_view;
mod sessions;

use crate::body::require_json;
use crate::error::ApiError;
use crate::server::AppState;
use axum::Router;
use axum::extract::Query;
use axum::extract::Request;
use axum::extract::rejection::QueryRejection;
use axum::routing::{get, post};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The routes of this module (behind the key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sessions", get(sessions::list))
        .route(
            "/api/sessions/{id}",
            get(sessions::get_one)
                .patch(sessions::patch)
                .delete(sessions::delete),
        )
        .route("/api/sessions/{id}/messages", get(sessions::messages))
        .route("/api/jobs", get(jobs::list).post(jobs::create))
        .route(
            "/api/jobs/{id}",
            get(jobs::get_one).patch(jobs::patch).delete(jobs::delete),
        )
        .route("/api/jobs/{id}/pause", post(jobs::pause))
        .route("/api/jobs/{id}/resume", post(jobs::resume))
        .route("/api/jobs/{id}/run", post(jobs::run))
        .route("/api/jobs/{id}/runs", get(jobs::runs))
}

/// A request's query parameters; a malformed query string is a 400 in
/// OpenAI's error shape rather than axum's plain text.
type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(raw: Params) -> Result<HashMap<String, String>, ApiError> {
    raw.map(|Query(map)| map).map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!("The query string cannot be read: {e}."),
        )
    })
}

/// A paging number as Hermes reads it: missing or not a non-negative
/// integer gives `default`; larger than `max` gives `max`.
fn number(params: &HashMap<String, String>, name: &str, default: usize, max: usize) -> usize {
    params
        .get(name)
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(default, |n| n.min(max))
}

/// The request's body as a JSON object: sent as JSON, within the body
/// limits shared with the chat routes.
async fn json_object(state: &AppState, request: Request) -> Result<Map<String, Value>, ApiError> {
    let (parts, body) = request.into_parts();
    require_json(&parts.headers)?;
    let (bytes, _share) = state.bodies.read(&parts.headers, body).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "invalid_json",
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::bad_request(
            "invalid_json",
            format!("The request body is not valid JSON: {e}"),
        )),
    }
}

/// Unix milliseconds as Hermes' epoch seconds (a float, as its store keeps
/// times).
fn seconds(ms: i64) -> f64 {
    // Exact for any time within ±285,000 years.
    #[expect(clippy::cast_precision_loss, reason = "millisecond times fit in f64")]
    let secs = ms as f64 / 1000.0;
    secs
}

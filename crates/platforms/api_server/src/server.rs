//! The axum routes: health, models and chat completions, the chat and
//! models routes behind a constant-time bearer-key check that runs before
//! anything reads a request body.

use crate::body::BodyBudget;
use crate::chat::chat_completions;
use crate::error::ApiError;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hermod_core::Inbound;
use hermod_model::Secret;
use hermod_store::Store;
use serde_json::json;
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) inbound: Inbound,
    pub(crate) key: Arc<Secret>,
    pub(crate) model_name: Arc<str>,
    pub(crate) bodies: Arc<BodyBudget>,
    pub(crate) sessions: SessionAccess,
}

/// Which stored sessions a request may name.
#[derive(Clone)]
pub(crate) struct SessionAccess {
    /// Where a named session's platform is looked up. Without it (and
    /// without `allow_platform_sessions`) named sessions are refused, since
    /// their owner cannot be checked.
    pub(crate) store: Option<Arc<dyn Store>>,
    /// Other platforms' sessions may be named too.
    pub(crate) allow_platform_sessions: bool,
}

pub(crate) fn routes(state: AppState) -> Router {
    // `route_layer`: the key is checked before the handler runs, so an
    // unauthenticated request is answered without its body being read.
    let authed = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    Router::new()
        .route("/health", get(health))
        .route("/v1/health", get(health))
        .merge(authed)
        .fallback(not_found)
        .with_state(state)
}

/// `200 {"status":"ok"}` only when every component is healthy; otherwise
/// `503 {"status":"degraded","problems":[...]}`. Open to anyone, so it shows
/// only states and the components' short reasons.
async fn health(State(state): State<AppState>) -> Response {
    let report = state.inbound.health().report();
    let version = env!("CARGO_PKG_VERSION");
    let (status, body) = if report.healthy {
        (
            StatusCode::OK,
            json!({"status": "ok", "version": version, "components": report.components}),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "degraded",
                "version": version,
                "problems": report.problems(),
                "components": report.components,
            }),
        )
    };
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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

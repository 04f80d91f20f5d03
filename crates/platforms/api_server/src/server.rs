//! The axum routes: health, models, chat completions, approval answers,
//! responses, runs, sessions and jobs, the web page — all but health and
//! the page's assets behind a constant-time bearer-key check that runs
//! before anything reads a request body, all behind the CORS layer when
//! origins are configured, every answer with the security headers
//! (`security`).

use crate::body::BodyBudget;
use crate::chat::chat_completions;
use crate::cors::{Cors, cors};
use crate::error::ApiError;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hermod_core::{CronJobs, Inbound, Metrics, StatusBoard};
use hermod_model::Secret;
use hermod_store::Store;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) inbound: Inbound,
    pub(crate) key: Arc<Secret>,
    pub(crate) model_name: Arc<str>,
    pub(crate) bodies: Arc<BodyBudget>,
    pub(crate) sessions: SessionAccess,
    /// Whether requests without a session header are recorded.
    pub(crate) store_stateless: bool,
    /// Hidden reasoning goes out as `reasoning_content` (else it is dropped).
    pub(crate) reasoning_content: bool,
    /// Set once client-supplied tools were first ignored (warned once; a
    /// web UI sends them with every message).
    pub(crate) tools_warned: Arc<AtomicBool>,
    pub(crate) cors: Option<Arc<Cors>>,
    /// The gateway's status, for `/health/detailed`.
    pub(crate) status: StatusBoard,
    /// The gateway's metrics, for `/metrics`.
    pub(crate) metrics: Option<Metrics>,
    /// Whole chat completions by `Idempotency-Key`.
    pub(crate) chat_answers:
        crate::idempotency::IdempotencyCache<crate::idempotency::CachedResponse>,
    /// The cap on turns running at once.
    pub(crate) slots: crate::slots::RunSlots,
    /// The gateway's scheduled jobs, for `/api/jobs` (`None`: not served).
    pub(crate) cron: Option<CronJobs>,
    pub(crate) responses: crate::responses::ResponsesState,
    pub(crate) runs: crate::runs::RunsState,
    pub(crate) web: crate::web::WebState,
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
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/approvals/{request_id}", post(crate::approvals::answer))
        .route("/health/detailed", get(health_detailed))
        .route("/metrics", get(metrics))
        .merge(crate::models::routes())
        .merge(crate::responses::routes())
        .merge(crate::runs::routes())
        .merge(crate::admin::routes())
        .merge(crate::web::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    let cors_state = state.cors.clone();
    let router = Router::new()
        .route("/health", get(health))
        .route("/v1/health", get(health))
        .merge(crate::web::public_routes())
        .merge(authed)
        .fallback(not_found)
        .with_state(state);
    // Before the key is checked, so preflights are answered without it and
    // every answer (errors too) carries the CORS headers.
    let router = match cors_state {
        Some(allowed) => router.layer(middleware::from_fn_with_state(allowed, cors)),
        None => router,
    };
    // Outermost: every answer (preflights, errors, 404s, streams) carries
    // the security headers.
    router.layer(middleware::from_fn(crate::security::security_headers))
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

/// The gateway's status file as JSON (behind the key: it names errors and
/// counts). `503` until the process that runs the gateway has published one.
async fn health_detailed(State(state): State<AppState>) -> Response {
    let mut response = match state.status.latest() {
        Some(status) => (StatusCode::OK, axum::Json(status)).into_response(),
        None => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "status_unavailable",
            "The gateway has not published its status; `hermod gateway status` reads it from HERMOD_HOME.",
        )
        .into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The gateway's metrics in Prometheus' text format (behind the key:
/// scrapers send it as a bearer token, `authorization` in a scrape config).
async fn metrics(State(state): State<AppState>) -> Response {
    let Some(metrics) = &state.metrics else {
        return not_found().await;
    };
    let mut response = (StatusCode::OK, metrics.render()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
        Some(token) if state.key.ct_eq(token.as_bytes()) || state.web.accepts(token.as_bytes()) => {
            next.run(request).await
        }
        _ => ApiError::unauthorized().into_response(),
    }
}

//! The runs API, as Hermes serves it: `POST /v1/runs` starts an agent run
//! and answers `202 {"run_id","status":"started"}` at once; the run goes
//! on in its own task whether or not anyone listens. `GET
//! /v1/runs/{id}/events` streams its events (SSE), `GET /v1/runs/{id}` is
//! its pollable status, `POST /v1/runs/{id}/approval` answers a tool's
//! approval request and `POST /v1/runs/{id}/stop` stops it.
//!
//! Memory is bounded: at most [`KEEP_RUNS`] runs are kept (or the
//! concurrent-run cap, when larger), each run's buffered events take at
//! most [`EVENT_BUFFER_BYTES`], and ended runs are swept on tokio's clock
//! (`registry`).

mod buffer;
mod chain;
mod drive;
mod handlers;
mod registry;
mod request;
mod run;
mod sse;

use crate::config::ApiServerConfig;
use crate::server::AppState;
use axum::Router;
use axum::routing::{get, post};

pub(crate) use registry::RunsState;

/// Runs kept (running or ended) unless the concurrent-run cap is larger.
pub(crate) const KEEP_RUNS: usize = 256;
/// The most bytes of events one run buffers for its subscribers; older
/// events are dropped past it (the status keeps the outcome).
pub(crate) const EVENT_BUFFER_BYTES: usize = 256 * 1024;

impl RunsState {
    pub(crate) fn new(config: &ApiServerConfig) -> Self {
        Self::with_limits(
            KEEP_RUNS.max(config.max_concurrent_runs),
            EVENT_BUFFER_BYTES,
        )
    }
}

/// The routes of this module (behind the key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/runs", post(handlers::create))
        .route("/v1/runs/{run_id}", get(handlers::status))
        .route("/v1/runs/{run_id}/events", get(handlers::events))
        .route("/v1/runs/{run_id}/approval", post(handlers::approval))
        .route("/v1/runs/{run_id}/stop", post(handlers::stop))
}

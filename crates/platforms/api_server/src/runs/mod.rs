//! The runs API: `POST /v1/runs`, `GET /v1/runs/{id}`, its events,
//! approvals and stop.

use crate::config::ApiServerConfig;
use crate::server::AppState;
use axum::Router;

/// What the runs API keeps between requests.
#[derive(Debug, Clone)]
pub(crate) struct RunsState {}

impl RunsState {
    pub(crate) fn new(_config: &ApiServerConfig) -> Self {
        Self {}
    }
}

/// The routes of this module (behind the key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

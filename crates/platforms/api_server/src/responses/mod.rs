//! The Responses API: `POST /v1/responses`, `GET` and `DELETE
//! /v1/responses/{id}`.

use crate::config::ApiServerConfig;
use crate::server::AppState;
use axum::Router;

/// What the Responses API keeps between requests.
#[derive(Debug, Clone)]
pub(crate) struct ResponsesState {}

impl ResponsesState {
    pub(crate) fn new(_config: &ApiServerConfig) -> Self {
        Self {}
    }
}

/// The routes of this module (behind the key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

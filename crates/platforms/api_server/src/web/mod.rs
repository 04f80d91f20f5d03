//! The web chat and dashboard, served from assets embedded in the binary.

use crate::config::ApiServerConfig;
use crate::server::AppState;
use axum::Router;

/// What the web page keeps: the login tokens it accepts.
#[derive(Debug, Clone)]
pub(crate) struct WebState {}

impl WebState {
    pub(crate) fn new(_config: &ApiServerConfig) -> Self {
        Self {}
    }

    /// Whether `token` is a login token this server issued (besides the key).
    pub(crate) fn accepts(&self, _token: &[u8]) -> bool {
        false
    }
}

/// Routes open to anyone: the page and its assets (they hold no data).
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new()
}

/// The routes of this module behind the key.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

//! The web chat and dashboard: one page and its scripts, embedded in the
//! binary and served to anyone (`assets`: they hold no data), and sign-in
//! tokens (`token`) the page may send instead of the key. Everything the
//! page shows comes from routes behind the key.

mod assets;
mod dashboard;
mod token;

use crate::config::ApiServerConfig;
use crate::server::AppState;
use axum::Router;
use axum::routing::get;
use token::LoginTokens;

/// What the web page keeps: how to check its sign-in tokens.
#[derive(Debug, Clone)]
pub(crate) struct WebState {
    tokens: LoginTokens,
}

impl WebState {
    pub(crate) fn new(config: &ApiServerConfig) -> Self {
        Self {
            tokens: LoginTokens::new(config.key.as_ref()),
        }
    }

    /// Whether `token` is an unexpired sign-in token made with this
    /// server's key (`hermod web token`), besides the key itself.
    pub(crate) fn accepts(&self, token: &[u8]) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.tokens.accepts_at(token, now)
    }
}

/// Routes open to anyone: the page and its assets (they hold no data).
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(assets::page))
        .route("/chat", get(assets::page))
        .route("/dashboard", get(assets::page))
        .route("/assets/{name}", get(assets::asset))
}

/// The routes of this module behind the key.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().merge(dashboard::routes())
}

//! Sessions and scheduled jobs over HTTP: `/api/sessions` and `/api/jobs`.

use crate::server::AppState;
use axum::Router;

/// The routes of this module (behind the key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

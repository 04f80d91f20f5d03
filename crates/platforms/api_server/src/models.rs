//! `GET /v1/models` and `GET /v1/models/{id}`: the one model this server
//! serves, as OpenAI describes a model.

use crate::error::ApiError;
use crate::server::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The routes of this module (behind the key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(models))
        // A wildcard: model ids may contain slashes (`org/model`).
        .route("/v1/models/{*id}", get(model))
}

/// The one model this server serves, as OpenAI describes a model.
fn model_object(name: &str) -> Value {
    json!({"id": name, "object": "model", "created": 0, "owned_by": "hermod"})
}

async fn models(State(state): State<AppState>) -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [model_object(&state.model_name)],
    }))
    .into_response()
}

async fn model(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if id == *state.model_name {
        axum::Json(model_object(&id)).into_response()
    } else {
        ApiError::model_not_found(&id, &state.model_name).into_response()
    }
}

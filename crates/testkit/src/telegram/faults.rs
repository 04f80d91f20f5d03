//! Scripted failures ([`Fault`]), sticky rate limits, and the Bot API's
//! error responses (`{"ok":false,"error_code":..,"description":..}`).

use super::state::State;
use crate::peer::whole_seconds;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// A failure to answer a coming call with (see
/// [`super::FakeTelegram::fail_next`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `parameters.retry_after` (seconds).
    TooManyRequests { retry_after: u64 },
    /// That HTTP status (5xx) with a JSON error body.
    ServerError(u16),
    /// HTTP 401, as for a revoked token.
    Unauthorized,
    /// HTTP 404 `Not Found`, as Telegram answers a malformed token.
    NotFound,
    /// Answers normally, after this long (tokio time).
    Slow(Duration),
    /// Closes the connection without answering.
    DropConnection,
    /// HTTP 400 with this description (`Bad Request: ` is added when missing).
    BadRequest(String),
    /// HTTP 403 with this description (`Forbidden: ` is added when missing),
    /// as for `bot was blocked by the user`.
    Forbidden(String),
}

/// A Bot API error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) description: String,
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: u16, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 `Bad Request: <detail>`.
    pub(crate) fn bad_request(detail: impl std::fmt::Display) -> Self {
        Self::new(400, format!("Bad Request: {detail}"))
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }

    pub(crate) fn not_found() -> Self {
        Self::new(404, "Not Found")
    }

    /// 409 `Conflict: <detail>`.
    pub(crate) fn conflict(detail: &str) -> Self {
        Self::new(409, format!("Conflict: {detail}"))
    }

    pub(crate) fn too_many_requests(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(429, format!("Too Many Requests: retry after {retry_after}"))
        }
    }

    pub(crate) fn server_error(status: u16) -> Self {
        let description = match status {
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Server Error",
        };
        Self::new(status, description)
    }

    /// The JSON body Telegram answers with.
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "ok": false,
            "error_code": self.status,
            "description": self.description,
        });
        if let Some(retry_after) = self.retry_after {
            body["parameters"] = json!({ "retry_after": retry_after });
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        json_response(status, &self.body())
    }
}

/// `{"ok":true,"result":<result>}`.
pub(crate) fn ok(result: Value) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("ok".into(), Value::Bool(true));
    body.insert("result".into(), result);
    json_response(StatusCode::OK, &Value::Object(body))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What to do with a call before handling it.
pub(crate) type Verdict = crate::peer::Verdict<ApiError>;

/// Applies sticky rate limits, then queued faults, to a call; `keys` are
/// the queues that apply, most specific first (the lowercase method, `*`).
pub(crate) fn verdict(state: &mut State, keys: &[&str]) -> Verdict {
    let now = Instant::now();
    state.rate_limits.retain(|_, until| *until > now);
    let limited = keys
        .iter()
        .filter_map(|key| state.rate_limits.get(*key))
        .max()
        .copied();
    if let Some(until) = limited {
        state.rate_limit_hits += 1;
        return Verdict::Fail(ApiError::too_many_requests(whole_seconds(until - now)));
    }
    match state.faults.take(keys) {
        None => Verdict::Proceed,
        Some(Fault::TooManyRequests { retry_after }) => {
            state.rate_limit_hits += 1;
            Verdict::Fail(ApiError::too_many_requests(retry_after))
        }
        Some(Fault::ServerError(status)) => Verdict::Fail(ApiError::server_error(status)),
        Some(Fault::Unauthorized) => Verdict::Fail(ApiError::unauthorized()),
        Some(Fault::NotFound) => Verdict::Fail(ApiError::not_found()),
        Some(Fault::Slow(delay)) => Verdict::Delay(delay),
        Some(Fault::DropConnection) => Verdict::Drop,
        Some(Fault::BadRequest(detail)) => Verdict::Fail(prefixed(400, "Bad Request: ", &detail)),
        Some(Fault::Forbidden(detail)) => Verdict::Fail(prefixed(403, "Forbidden: ", &detail)),
    }
}

fn prefixed(status: u16, prefix: &str, detail: &str) -> ApiError {
    if detail.starts_with(prefix) {
        ApiError::new(status, detail)
    } else {
        ApiError::new(status, format!("{prefix}{detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_body_has_telegrams_shape() {
        assert_eq!(
            ApiError::too_many_requests(5).body(),
            json!({
                "ok": false,
                "error_code": 429,
                "description": "Too Many Requests: retry after 5",
                "parameters": {"retry_after": 5},
            })
        );
        assert_eq!(
            prefixed(400, "Bad Request: ", "chat not found").description,
            "Bad Request: chat not found"
        );
        assert_eq!(
            prefixed(403, "Forbidden: ", "Forbidden: bot was blocked by the user").description,
            "Forbidden: bot was blocked by the user"
        );
    }
}

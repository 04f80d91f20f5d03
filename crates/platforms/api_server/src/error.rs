//! [`ApiError`]: errors answered in OpenAI's error shape
//! (`{"error":{"message","type","param","code"}}`).
//!
//! A message shown to a client never carries file paths, operating-system
//! errors or internal addresses: a [`CoreError`] becomes its
//! [`CoreError::user_message`], and the full error goes to the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hermod_agent::AgentError;
use hermod_core::CoreError;
use serde_json::json;
use std::time::Duration;
use tracing::{debug, error, warn};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) kind: &'static str,
    pub(crate) code: &'static str,
    pub(crate) retry_after: Option<Duration>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            code,
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
        )
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "Invalid API key. Send 'Authorization: Bearer <API_SERVER_KEY>'.",
        )
    }

    /// The model's answer ended before the model said it was done: the text
    /// is partial and must not be passed off as a complete reply.
    pub(crate) fn incomplete() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "incomplete_response",
            "The model's answer was cut off before it finished; retry the request.",
        )
    }

    /// The session named by the request is not one this client may reach.
    /// Worded like an unknown id, so it does not confirm the session exists.
    pub(crate) fn session_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "session_not_found",
            "No session with this id is available to the API.",
        )
    }

    /// The JSON body, also used for errors inside an event stream.
    pub(crate) fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": null, "code": self.code}})
    }
}

/// Logs the full error (the client gets the short reason).
impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match &e {
            CoreError::QueueFull { .. }
            | CoreError::ShuttingDown
            | CoreError::Cancelled
            | CoreError::Agent(AgentError::Cancelled) => debug!(error = %e, "request not answered"),
            CoreError::Store(_) => error!(error = %e, "a request failed on storage"),
            CoreError::Agent(_) | CoreError::Delivery(_) => warn!(error = %e, "a request failed"),
        }
        let message = e.user_message();
        match e {
            CoreError::QueueFull { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "session_busy",
                message,
            ),
            CoreError::ShuttingDown | CoreError::Cancelled => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "shutting_down",
                message,
            ),
            CoreError::Delivery(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "delivery_error",
                message,
            ),
            CoreError::Store(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "storage_error",
                message,
            ),
            CoreError::Agent(agent) => {
                let code = match &agent {
                    AgentError::RateLimited { .. } => "upstream_rate_limited",
                    AgentError::Transient(_) => "upstream_unavailable",
                    AgentError::Rejected { .. } => "upstream_rejected",
                    AgentError::Auth { .. } => "upstream_auth",
                    AgentError::Protocol(_) => "upstream_protocol",
                    AgentError::Cancelled => "cancelled",
                };
                let mut err = Self::new(StatusCode::BAD_GATEWAY, "upstream_error", code, message);
                if let AgentError::RateLimited { retry_after } = agent {
                    err.retry_after = retry_after;
                }
                err
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_reach_clients_without_internals() {
        let internals = [
            "/home/op/.hermod/hermod.db",
            "os error",
            "10.0.0.7",
            "http://",
        ];
        let errors = [
            CoreError::Store("disk I/O error at /home/op/.hermod/hermod.db (os error 28)".into()),
            CoreError::Delivery("POST http://10.0.0.7:9000/send refused".into()),
            CoreError::Agent(AgentError::Transient(
                "error sending request for url (http://10.0.0.7:8000/v1/chat/completions): \
                 Connection refused (os error 111)"
                    .into(),
            )),
            CoreError::Agent(AgentError::Protocol(
                "cannot parse /srv/models/cache.json".into(),
            )),
            CoreError::Agent(AgentError::Rejected {
                status: 400,
                message: "bad key for http://10.0.0.7".into(),
            }),
        ];
        for e in errors {
            let api = ApiError::from(e.clone());
            let shown = api.body().to_string();
            for secret in internals.iter().chain(&["/srv/models"]) {
                assert!(!shown.contains(secret), "{e:?} shows {secret}: {shown}");
            }
            assert!(!api.message.is_empty());
        }
    }
}

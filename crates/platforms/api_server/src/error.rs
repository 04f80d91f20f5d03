//! [`ApiError`]: errors answered in OpenAI's error shape
//! (`{"error":{"message","type","param","code"}}`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hermod_agent::AgentError;
use hermod_core::CoreError;
use serde_json::json;
use std::time::Duration;

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

    /// The JSON body, also used for errors inside an event stream.
    pub(crate) fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": null, "code": self.code}})
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let message = e.to_string();
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
                format!("{message}. Check the disk and the database in HERMOD_HOME."),
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

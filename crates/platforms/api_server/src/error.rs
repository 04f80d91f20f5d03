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

/// The `Retry-After` of a rate limit when the model provider named none:
/// its limits usually count per minute, and hermod already retried before
/// giving up.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) kind: &'static str,
    pub(crate) code: &'static str,
    /// The request field the error is about.
    pub(crate) param: Option<&'static str>,
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
            param: None,
            retry_after: None,
        }
    }

    /// The error is about the request field `param`.
    pub(crate) fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
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

    /// A model other than the one this server serves.
    pub(crate) fn model_not_found(requested: &str, served: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!("The model '{requested}' does not exist; this server serves '{served}'."),
        )
    }

    /// The model provider kept refusing with 429 after hermod's retries.
    fn rate_limited(retry_after: Option<Duration>) -> Self {
        let retry_after = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
        let mut err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limit_exceeded",
            format!(
                "The model provider is rate limiting requests; retry after {} seconds.",
                retry_after_secs(retry_after)
            ),
        );
        err.retry_after = Some(retry_after);
        err
    }

    /// The JSON body, also used for errors inside an event stream.
    pub(crate) fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

/// Logs the full error (the client gets the short reason).
impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match &e {
            CoreError::QueueFull { .. }
            | CoreError::ShuttingDown
            | CoreError::Cancelled
            | CoreError::Interrupted
            | CoreError::Agent(AgentError::Cancelled) => debug!(error = %e, "request not answered"),
            CoreError::Store(_) => error!(error = %e, "a request failed on storage"),
            CoreError::Agent(_) | CoreError::Delivery(_) => warn!(error = %e, "a request failed"),
            CoreError::Unreadable(_) => debug!(error = %e, "a request's files could not be read"),
            CoreError::Cron(_) => debug!(error = %e, "a scheduled-job request was refused"),
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
            CoreError::Interrupted => Self::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                "request_interrupted",
                message,
            ),
            CoreError::Unreadable(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "unreadable_attachment",
                message,
            ),
            CoreError::Cron(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_scheduled_job",
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
            // A client can wait and retry, as with OpenAI's own limits,
            // rather than being told the gateway broke.
            CoreError::Agent(AgentError::RateLimited { retry_after }) => {
                Self::rate_limited(retry_after)
            }
            CoreError::Agent(agent) => {
                let code = match &agent {
                    AgentError::RateLimited { .. } => "rate_limit_exceeded",
                    AgentError::Transient(_) => "upstream_unavailable",
                    AgentError::Rejected { .. } => "upstream_rejected",
                    AgentError::Auth { .. } => "upstream_auth",
                    AgentError::Protocol(_) => "upstream_protocol",
                    AgentError::Cancelled => "cancelled",
                    AgentError::Process(_) => "agent_unavailable",
                };
                Self::new(StatusCode::BAD_GATEWAY, "upstream_error", code, message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(after) = self.retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs(after)),
            );
        }
        response
    }
}

/// `Retry-After` takes whole seconds: rounded up, and at least one.
fn retry_after_secs(after: Duration) -> u64 {
    hermod_agent::whole_seconds(after).max(1)
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

    #[test]
    fn upstream_rate_limits_are_429_with_whole_seconds_to_wait() {
        let cases = [
            (Some(Duration::from_millis(1500)), "2"),
            (Some(Duration::from_millis(10)), "1"),
            (Some(Duration::from_secs(3600)), "3600"),
            (None, "10"),
        ];
        for (retry_after, header) in cases {
            let e = CoreError::Agent(AgentError::RateLimited { retry_after });
            let response = ApiError::from(e).into_response();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()[header::RETRY_AFTER], header);
        }
        let api = ApiError::from(CoreError::Agent(AgentError::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
        }));
        assert_eq!(api.code, "rate_limit_exceeded");
        assert_eq!(
            api.message,
            "The model provider is rate limiting requests; retry after 2 seconds."
        );
    }
}

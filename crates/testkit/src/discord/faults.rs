//! Scripted failures: [`Fault`] for REST calls, [`SessionFault`] for the
//! gateway's answer to the next IDENTIFY or RESUME.

use super::errors::ApiError;
use super::ratelimit::{Scope, TooMany};
use super::server::json_response;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// A failure to answer a coming REST call with (see
/// [`super::FakeDiscord::fail_next`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with `retry_after` (float seconds), `Retry-After` and
    /// `X-RateLimit-Scope` (`global` also sets `"global": true` and
    /// `X-RateLimit-Global`).
    RateLimited { retry_after: Duration, scope: Scope },
    /// That HTTP status (5xx) with Discord's JSON body.
    ServerError(u16),
    /// 401, as for a reset token.
    Unauthorized,
    /// Any Discord error: HTTP status, JSON error code and message.
    Error {
        status: u16,
        code: u64,
        message: String,
    },
    /// Answers normally, after this long (tokio time).
    Slow(Duration),
    /// Closes the connection without answering.
    DropConnection,
}

impl Fault {
    /// A per-route 429 (`user` scope) after `secs` float seconds.
    pub fn rate_limited(secs: f64) -> Self {
        Fault::RateLimited {
            retry_after: Duration::from_secs_f64(secs),
            scope: Scope::User,
        }
    }

    /// A global 429 after `secs` float seconds.
    pub fn global_rate_limit(secs: f64) -> Self {
        Fault::RateLimited {
            retry_after: Duration::from_secs_f64(secs),
            scope: Scope::Global,
        }
    }
}

/// An error answer with the headers it goes out with.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) error: ApiError,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Refusal {
    pub(crate) fn new(error: ApiError) -> Self {
        Self {
            error,
            headers: Vec::new(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        json_response(self.error.status, &self.error.body, &self.headers)
    }
}

/// What a fault (or the rate limiter) makes of a call.
pub(crate) type Verdict = crate::peer::Verdict<Refusal>;

impl From<Fault> for Verdict {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::RateLimited { retry_after, scope } => {
                let (error, headers) = TooMany { retry_after, scope }.answer();
                Verdict::Fail(Refusal { error, headers })
            }
            Fault::ServerError(status) => {
                Verdict::Fail(Refusal::new(ApiError::server_error(status)))
            }
            Fault::Unauthorized => Verdict::Fail(Refusal::new(ApiError::unauthorized())),
            Fault::Error {
                status,
                code,
                message,
            } => Verdict::Fail(Refusal::new(ApiError::new(status, code, &message))),
            Fault::Slow(delay) => Verdict::Delay(delay),
            Fault::DropConnection => Verdict::Drop,
        }
    }
}

/// How the gateway answers the next IDENTIFY or RESUME instead of
/// READY / RESUMED (see [`super::FakeDiscord::fail_next_session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionFault {
    /// Op 9 Invalid Session with `d` = `resumable`, as for exceeding
    /// `max_concurrency` or a session the gateway could not start.
    InvalidSession { resumable: bool },
    /// Closes the connection with this close code.
    Close(u16),
}

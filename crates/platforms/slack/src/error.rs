//! [`SlackError`]: a failed Web API call, classified from the HTTP status
//! and the `error` code of Slack's answer, and its mapping onto core's
//! [`AdapterError`].
//!
//! Slack answers most failures with HTTP 200 and `{"ok": false, "error":
//! "<code>"}`; rate limits with HTTP 429, a `Retry-After` header in
//! seconds and `"error": "ratelimited"`. Tokens travel in the
//! `Authorization` header, never in a URL, so no error here can hold one.

use hermod_adapter_kit::truncate;
use hermod_core::AdapterError;
use hermod_http::HttpError;
use std::time::Duration;

/// Which token a call used, so a refusal names the right setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// `SLACK_BOT_TOKEN`: every Web API method.
    Bot,
    /// `SLACK_APP_TOKEN`: `apps.connections.open`.
    App,
}

impl TokenKind {
    /// What to tell the operator when Slack refuses this token.
    pub(crate) fn hint(self) -> &'static str {
        match self {
            TokenKind::Bot => {
                "check SLACK_BOT_TOKEN: it must be the app's Bot User OAuth Token (xoxb-…, \
                 OAuth & Permissions), and the app must still be installed in the workspace"
            }
            TokenKind::App => {
                "check SLACK_APP_TOKEN: it must be an app-level token (xapp-…, Basic \
                 Information → App-Level Tokens) with the connections:write scope, and Socket \
                 Mode must be on"
            }
        }
    }
}

/// The error codes that mean the token itself is refused.
const AUTH_CODES: &[&str] = &[
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
    "no_permission",
    "org_login_required",
    "ekm_access_denied",
    "team_access_not_granted",
];

/// Codes for something that does not exist (any more).
const NOT_FOUND_CODES: &[&str] = &[
    "channel_not_found",
    "message_not_found",
    "thread_not_found",
    "user_not_found",
    "file_not_found",
    "no_item_specified",
];

/// Codes Slack documents for failures on its side, worth another try.
const TRANSIENT_CODES: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Longest error text kept, in characters.
const MAX_TEXT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SlackError {
    /// 429 or `ratelimited`: nothing may go to that method (and channel)
    /// before `retry_after` has passed.
    #[error("Slack asks us to slow down{}", hermod_http::retry_hint(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// A timeout, a dropped connection, a 5xx or Slack's own failure.
    #[error("temporary failure talking to Slack: {0}")]
    Transient(String),
    /// The token was refused (`invalid_auth`, `token_revoked`, ...).
    #[error("Slack refused the token ({code}); {}", .token.hint())]
    Auth { code: String, token: TokenKind },
    /// Any other `{"ok": false, "error": code}`.
    #[error("Slack refused {method}: {code}")]
    Api { method: String, code: String },
    /// An answer that is not Slack's JSON.
    #[error("unexpected answer from Slack: {0}")]
    Protocol(String),
}

impl SlackError {
    /// Classifies a failed answer: `status` and `retry_after` from the
    /// HTTP response, `code` from `{"ok": false, "error": code}` when the
    /// body had one.
    pub(crate) fn classify(
        method: &str,
        token: TokenKind,
        status: u16,
        retry_after: Option<Duration>,
        code: Option<&str>,
    ) -> Self {
        if status == 429 || code == Some("ratelimited") {
            return SlackError::RateLimited { retry_after };
        }
        if let Some(code) = code {
            if AUTH_CODES.contains(&code) {
                return SlackError::Auth {
                    code: code.to_owned(),
                    token,
                };
            }
            if TRANSIENT_CODES.contains(&code) {
                return SlackError::Transient(format!("{method}: {code}"));
            }
            if (200..300).contains(&status) || (400..500).contains(&status) {
                return SlackError::Api {
                    method: method.to_owned(),
                    code: truncate(code, MAX_TEXT),
                };
            }
        }
        match status {
            401 | 403 => SlackError::Auth {
                code: format!("HTTP {status}"),
                token,
            },
            500..=599 | 408 => SlackError::Transient(format!("{method}: HTTP {status}")),
            _ => SlackError::Protocol(format!("{method}: HTTP {status}")),
        }
    }

    /// Worth another try later (not the request itself being wrong).
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            SlackError::RateLimited { .. } | SlackError::Transient(_) | SlackError::Protocol(_)
        )
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            SlackError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The `error` code Slack gave, if any.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            SlackError::Api { code, .. } | SlackError::Auth { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for SlackError {
    fn from(err: reqwest::Error) -> Self {
        // Tokens are never in URLs, but an upload URL carries a one-use
        // credential of its own: no URL goes into an error.
        match HttpError::from(err.without_url()) {
            HttpError::Protocol(text) | HttpError::Setup(text) => SlackError::Protocol(text),
            other => SlackError::Transient(other.to_string()),
        }
    }
}

impl From<SlackError> for AdapterError {
    fn from(err: SlackError) -> Self {
        match err {
            SlackError::RateLimited { retry_after } => AdapterError::RateLimited { retry_after },
            SlackError::Transient(text) | SlackError::Protocol(text) => {
                AdapterError::Transient(text)
            }
            e @ SlackError::Auth { .. } => AdapterError::Auth(e.to_string()),
            SlackError::Api { method, code } => match code.as_str() {
                "msg_too_long" => AdapterError::TooLong,
                c if NOT_FOUND_CODES.contains(&c) => {
                    AdapterError::NotFound(format!("{method}: {code}"))
                }
                _ => AdapterError::Rejected(format!("Slack refused {method}: {code}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> SlackError {
        SlackError::classify("chat.postMessage", TokenKind::Bot, 200, None, Some(code))
    }

    #[test]
    fn a_429_carries_retry_after() {
        let err = SlackError::classify(
            "chat.update",
            TokenKind::Bot,
            429,
            Some(Duration::from_secs(30)),
            Some("ratelimited"),
        );
        assert_eq!(
            AdapterError::from(err.clone()),
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(30))
            }
        );
        assert!(err.is_retryable());
        // `ratelimited` without the 429 (a proxy in between) is one too.
        assert!(matches!(api("ratelimited"), SlackError::RateLimited { .. }));
    }

    #[test]
    fn refused_tokens_name_the_variable() {
        for code in [
            "invalid_auth",
            "not_authed",
            "account_inactive",
            "token_revoked",
        ] {
            let err = api(code);
            assert!(matches!(err, SlackError::Auth { .. }), "{code}");
            assert!(!err.is_retryable());
            let AdapterError::Auth(text) = AdapterError::from(err) else {
                panic!("{code} is not an auth failure");
            };
            assert!(
                text.contains("SLACK_BOT_TOKEN") && text.contains(code),
                "{text}"
            );
        }
        let app = SlackError::classify(
            "apps.connections.open",
            TokenKind::App,
            200,
            None,
            Some("invalid_auth"),
        );
        assert!(app.to_string().contains("SLACK_APP_TOKEN"), "{app}");
    }

    #[test]
    fn server_failures_are_transient_and_the_rest_refusals() {
        for status in [500, 502, 503, 504] {
            let err = SlackError::classify("chat.postMessage", TokenKind::Bot, status, None, None);
            assert!(
                matches!(AdapterError::from(err), AdapterError::Transient(_)),
                "{status}"
            );
        }
        assert!(matches!(
            AdapterError::from(api("internal_error")),
            AdapterError::Transient(_)
        ));
        assert_eq!(
            AdapterError::from(api("msg_too_long")),
            AdapterError::TooLong
        );
        assert!(matches!(
            AdapterError::from(api("channel_not_found")),
            AdapterError::NotFound(_)
        ));
        assert!(matches!(
            AdapterError::from(api("message_not_found")),
            AdapterError::NotFound(_)
        ));
        let refused = AdapterError::from(api("not_in_channel"));
        assert!(
            matches!(&refused, AdapterError::Rejected(t) if t.contains("not_in_channel")),
            "{refused:?}"
        );
    }
}

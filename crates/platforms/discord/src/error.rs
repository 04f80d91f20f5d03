//! [`DiscordError`]: a failed REST call, classified from the HTTP status,
//! Discord's JSON error (`code`, `message`, `errors`) and, for 429, the
//! rate-limit body (`retry_after` in float seconds, `global`); and its
//! mapping onto core's [`AdapterError`].
//!
//! No variant holds a URL or the token: interaction tokens are part of
//! webhook URLs, so transport errors are stripped of theirs.

use hermod_adapter_kit::truncate;
use hermod_core::AdapterError;
use hermod_http::HttpError;
use serde::Deserialize;
use std::time::Duration;

/// What to tell the operator when Discord refuses the token.
pub(crate) const AUTH_HINT: &str = "the bot token was reset or is wrong; check \
     DISCORD_BOT_TOKEN (Developer Portal → your application → Bot → Reset Token)";

/// Longest Discord message kept in an error, in characters.
const MAX_MESSAGE: usize = 300;

/// Discord's JSON error codes the adapter tells apart.
pub(crate) mod codes {
    pub const UNKNOWN_CHANNEL: u64 = 10003;
    pub const UNKNOWN_MESSAGE: u64 = 10008;
    pub const INVALID_FORM_BODY: u64 = 50035;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DiscordError {
    /// HTTP 429: nothing may be sent on that bucket (or anywhere, when
    /// `global`) before `retry_after` has passed.
    #[error("Discord asks us to slow down{}{}", if *.global { " (global limit)" } else { "" }, hermod_http::retry_hint(Some(*.retry_after)))]
    RateLimited { retry_after: Duration, global: bool },
    /// A timeout, a dropped connection or a 5xx: may work next time.
    #[error("temporary failure talking to Discord: {0}")]
    Transient(String),
    /// 401: the token is not (or no longer) valid.
    #[error("Discord refused the bot token: {AUTH_HINT}")]
    Unauthorized,
    /// 400, 403, 404 and the rest: Discord's code and message.
    #[error("Discord refused the request (HTTP {status}, code {code}): {message}")]
    Api {
        status: u16,
        code: u64,
        message: String,
    },
    /// An answer that is not Discord's JSON.
    #[error("unexpected answer from Discord: {0}")]
    Protocol(String),
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: u64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Option<serde_json::Value>,
    #[serde(default)]
    retry_after: Option<f64>,
    #[serde(default)]
    global: bool,
}

impl DiscordError {
    /// Classifies a failed answer. `header_retry_after` is `Retry-After`
    /// (whole seconds), used when the body has no `retry_after`;
    /// `global_header` is `X-RateLimit-Global` or a `global` scope.
    pub(crate) fn from_response(
        status: u16,
        body: &[u8],
        header_retry_after: Option<Duration>,
        global_header: bool,
    ) -> Self {
        let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
        if status == 429 {
            let from_body = parsed
                .as_ref()
                .and_then(|b| b.retry_after)
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64);
            return DiscordError::RateLimited {
                retry_after: from_body
                    .or(header_retry_after)
                    .unwrap_or(Duration::from_secs(1)),
                global: global_header || parsed.as_ref().is_some_and(|b| b.global),
            };
        }
        if status == 401 {
            return DiscordError::Unauthorized;
        }
        if status >= 500 || status == 408 {
            return DiscordError::Transient(format!("HTTP {status}"));
        }
        match parsed {
            Some(body) => {
                let mut message = body.message;
                if let Some(errors) = body.errors {
                    message.push_str(&format!(" {errors}"));
                }
                DiscordError::Api {
                    status,
                    code: body.code,
                    message: truncate(&message, MAX_MESSAGE),
                }
            }
            None => DiscordError::Api {
                status,
                code: 0,
                message: format!("HTTP {status}"),
            },
        }
    }

    #[cfg(test)]
    pub(crate) fn code(&self) -> Option<u64> {
        match self {
            DiscordError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            DiscordError::RateLimited { .. } | DiscordError::Transient(_)
        )
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            DiscordError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for DiscordError {
    fn from(err: reqwest::Error) -> Self {
        // `without_url`: webhook URLs hold interaction tokens.
        match HttpError::from(err.without_url()) {
            HttpError::Protocol(text) | HttpError::Setup(text) => DiscordError::Protocol(text),
            other => DiscordError::Transient(other.to_string()),
        }
    }
}

impl From<DiscordError> for AdapterError {
    fn from(err: DiscordError) -> Self {
        match err {
            DiscordError::RateLimited { retry_after, .. } => AdapterError::RateLimited {
                retry_after: Some(retry_after),
            },
            DiscordError::Transient(text) | DiscordError::Protocol(text) => {
                AdapterError::Transient(text)
            }
            DiscordError::Unauthorized => AdapterError::Auth(AUTH_HINT.into()),
            ref api @ DiscordError::Api { status, code, .. } => {
                let text = api.to_string();
                match (status, code) {
                    (_, codes::UNKNOWN_CHANNEL | codes::UNKNOWN_MESSAGE) | (404, _) => {
                        AdapterError::NotFound(text)
                    }
                    (_, codes::INVALID_FORM_BODY) if text.contains("BASE_TYPE_MAX_LENGTH") => {
                        AdapterError::TooLong
                    }
                    _ => AdapterError::Rejected(text),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> DiscordError {
        DiscordError::from_response(status, body.as_bytes(), None, false)
    }

    #[test]
    fn a_429_keeps_the_float_retry_after_and_the_global_flag() {
        let err = answer(
            429,
            r#"{"message": "You are being rate limited.", "retry_after": 0.342, "global": false}"#,
        );
        assert_eq!(
            err,
            DiscordError::RateLimited {
                retry_after: Duration::from_millis(342),
                global: false
            }
        );
        assert_eq!(
            AdapterError::from(err),
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_millis(342))
            }
        );
        let global = answer(
            429,
            r#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": true, "code": 0}"#,
        );
        assert!(matches!(
            global,
            DiscordError::RateLimited { global: true, .. }
        ));
        // Without a body, the header tells.
        let bare = DiscordError::from_response(429, b"", Some(Duration::from_secs(2)), true);
        assert_eq!(
            bare,
            DiscordError::RateLimited {
                retry_after: Duration::from_secs(2),
                global: true
            }
        );
    }

    #[test]
    fn a_refused_token_is_an_auth_failure_naming_the_variable() {
        let err = answer(401, r#"{"message": "401: Unauthorized", "code": 0}"#);
        let AdapterError::Auth(text) = AdapterError::from(err) else {
            panic!("not an auth error");
        };
        assert!(text.contains("DISCORD_BOT_TOKEN"), "{text}");
    }

    #[test]
    fn api_errors_are_told_apart() {
        let gone = answer(404, r#"{"message": "Unknown Message", "code": 10008}"#);
        assert_eq!(gone.code(), Some(codes::UNKNOWN_MESSAGE));
        assert!(matches!(
            AdapterError::from(gone),
            AdapterError::NotFound(_)
        ));
        let long = answer(
            400,
            r#"{"code": 50035, "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}, "message": "Invalid Form Body"}"#,
        );
        assert_eq!(AdapterError::from(long), AdapterError::TooLong);
        let forbidden = answer(403, r#"{"message": "Missing Permissions", "code": 50013}"#);
        assert!(matches!(
            AdapterError::from(forbidden),
            AdapterError::Rejected(_)
        ));
        for status in [500, 502, 503] {
            let err = answer(status, "<html>oops</html>");
            assert!(err.is_retryable());
            assert!(matches!(
                AdapterError::from(err),
                AdapterError::Transient(_)
            ));
        }
    }
}

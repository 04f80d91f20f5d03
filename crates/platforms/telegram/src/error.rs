//! [`TelegramError`]: a failed Bot API call, classified from the HTTP
//! status and the `error_code`/`description`/`parameters` of the answer,
//! and its mapping onto core's [`AdapterError`].
//!
//! No variant ever holds a URL: the bot token is part of every request
//! URL, so transport errors are stripped of theirs before they get here.

use crate::types::ApiResponse;
use hermod_adapter_kit::truncate;
use hermod_core::AdapterError;
use hermod_http::HttpError;
use std::time::Duration;

/// What to tell the operator when Telegram refuses the token.
pub(crate) const AUTH_HINT: &str = "the bot token was revoked or is wrong; check \
     TELEGRAM_BOT_TOKEN (a new token comes from @BotFather)";

/// Longest Telegram description kept in an error, in characters.
const MAX_DESCRIPTION: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TelegramError {
    /// 429: flood control. Nothing may be sent to that chat before
    /// `retry_after` has passed.
    #[error("Telegram asks us to slow down{}", hermod_http::retry_hint(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// A timeout, a dropped connection or a 5xx: may work next time.
    #[error("temporary failure talking to Telegram: {0}")]
    Transient(String),
    /// 401: the token is not (or no longer) valid.
    #[error("Telegram refused the bot token: {AUTH_HINT}")]
    Unauthorized,
    /// 409: another `getUpdates` poller uses this token, or a webhook is set.
    #[error("{0}")]
    Conflict(String),
    /// 400: the request itself is wrong (bad formatting, message not
    /// modified, chat not found, ...).
    #[error("Telegram rejected the request: {0}")]
    BadRequest(String),
    /// 403: the bot may not do this (blocked by the user, removed from the
    /// group). The token itself is fine.
    #[error("Telegram forbids this: {0}")]
    Forbidden(String),
    /// 404: unknown method or malformed token.
    #[error("Telegram answered not found: {0}")]
    NotFound(String),
    /// An answer that is not the Bot API's JSON.
    #[error("unexpected answer from Telegram: {0}")]
    Protocol(String),
}

impl TelegramError {
    /// Classifies a failed answer from its HTTP status and body.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ApiResponse<serde_json::Value>>(body) {
            Ok(answer) => {
                let code = answer.error_code.unwrap_or(status);
                let parameters = answer.parameters.unwrap_or_default();
                let mut description =
                    truncate(&answer.description.unwrap_or_default(), MAX_DESCRIPTION);
                if let Some(chat) = parameters.migrate_to_chat_id {
                    description.push_str(&format!(
                        " (the group is now the supergroup {chat}; use that id)"
                    ));
                }
                let retry_after = parameters
                    .retry_after
                    .or_else(|| retry_after_in(&description))
                    .map(Duration::from_secs);
                classify(code, description, retry_after)
            }
            Err(_) => classify(status, format!("HTTP {status}"), None),
        }
    }

    /// 400 "can't parse entities": our HTML was refused; plain text will do.
    pub(crate) fn is_parse_error(&self) -> bool {
        matches!(self, TelegramError::BadRequest(d) if d.contains("can't parse entities"))
    }

    /// 400 "message is not modified": an edit to the text already shown.
    pub(crate) fn is_not_modified(&self) -> bool {
        matches!(self, TelegramError::BadRequest(d) if d.contains("message is not modified"))
    }

    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            TelegramError::RateLimited { .. } | TelegramError::Transient(_)
        )
    }

    /// Whether Telegram refused the token itself: 401, or the 404 it
    /// answers every method with when the token is malformed. Retrying
    /// cannot help.
    pub(crate) fn refuses_token(&self) -> bool {
        matches!(
            self,
            TelegramError::Unauthorized | TelegramError::NotFound(_)
        )
    }

    /// How long Telegram asked us to wait, when it did.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            TelegramError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

fn classify(code: u16, description: String, retry_after: Option<Duration>) -> TelegramError {
    match code {
        429 => TelegramError::RateLimited { retry_after },
        401 => TelegramError::Unauthorized,
        403 => TelegramError::Forbidden(description),
        404 => TelegramError::NotFound(description),
        409 => TelegramError::Conflict(conflict_message(&description)),
        400 => TelegramError::BadRequest(description),
        408 | 500..=599 => TelegramError::Transient(format!("HTTP {code}: {description}")),
        _ => TelegramError::BadRequest(format!("HTTP {code}: {description}")),
    }
}

/// A 409 explained with what the operator should do.
fn conflict_message(description: &str) -> String {
    if description.contains("webhook") {
        format!(
            "{description}: a webhook is set for this bot; set TELEGRAM_WEBHOOK_URL to use it, \
             or delete it (deleteWebhook) to use long polling"
        )
    } else {
        format!(
            "{description}: another program is polling updates with this bot token; stop it \
             (only one gateway may run per bot)"
        )
    }
}

/// Reads "retry after N" from a description without `parameters`.
fn retry_after_in(description: &str) -> Option<u64> {
    let lower = description.to_ascii_lowercase();
    let rest = &lower[lower.find("retry after ")? + "retry after ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl From<reqwest::Error> for TelegramError {
    fn from(err: reqwest::Error) -> Self {
        // `HttpError::from` strips the URL (which holds the token).
        match HttpError::from(err.without_url()) {
            HttpError::Protocol(text) => TelegramError::Protocol(text),
            HttpError::Setup(text) => TelegramError::Protocol(text),
            other => TelegramError::Transient(other.to_string()),
        }
    }
}

impl From<TelegramError> for AdapterError {
    fn from(err: TelegramError) -> Self {
        match err {
            TelegramError::RateLimited { retry_after } => AdapterError::RateLimited { retry_after },
            TelegramError::Transient(text) => AdapterError::Transient(text),
            TelegramError::Protocol(text) => AdapterError::Transient(text),
            TelegramError::Unauthorized => AdapterError::Auth(AUTH_HINT.into()),
            TelegramError::Conflict(text) => AdapterError::Startup(text),
            TelegramError::BadRequest(text) => {
                let lower = text.to_ascii_lowercase();
                if lower.contains("too long") {
                    AdapterError::TooLong
                } else if lower.contains("not found") {
                    AdapterError::NotFound(text)
                } else {
                    AdapterError::Rejected(text)
                }
            }
            TelegramError::Forbidden(text) => AdapterError::Rejected(text),
            TelegramError::NotFound(text) => AdapterError::NotFound(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> TelegramError {
        TelegramError::from_response(status, body.as_bytes())
    }

    #[test]
    fn flood_control_carries_retry_after() {
        let err = answer(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#,
        );
        assert_eq!(
            err,
            TelegramError::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(err.is_retryable());
        assert_eq!(
            AdapterError::from(err),
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        // Without parameters, the description still tells.
        let err = answer(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3"}"#,
        );
        assert_eq!(
            err,
            TelegramError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn a_refused_token_is_an_auth_failure_with_a_hint() {
        let err = answer(
            401,
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
        );
        assert_eq!(err, TelegramError::Unauthorized);
        assert!(!err.is_retryable());
        let AdapterError::Auth(text) = AdapterError::from(err) else {
            panic!("not an auth error");
        };
        assert!(text.contains("@BotFather") && text.contains("check TELEGRAM_BOT_TOKEN"));
        assert!(
            answer(
                404,
                r#"{"ok":false,"error_code":404,"description":"Not Found"}"#
            )
            .refuses_token()
        );
        assert!(!answer(403, r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#).refuses_token());
    }

    #[test]
    fn bad_requests_are_told_apart() {
        let parse = answer(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Unsupported start tag \"foo\" at byte offset 0"}"#,
        );
        assert!(parse.is_parse_error() && !parse.is_not_modified());
        assert!(matches!(
            AdapterError::from(parse),
            AdapterError::Rejected(_)
        ));

        let same = answer(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"}"#,
        );
        assert!(same.is_not_modified() && !same.is_parse_error());

        let gone = answer(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}"#,
        );
        assert!(matches!(
            AdapterError::from(gone),
            AdapterError::NotFound(_)
        ));
        let long = answer(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}"#,
        );
        assert_eq!(AdapterError::from(long), AdapterError::TooLong);
        let moved = answer(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}}"#,
        );
        assert!(moved.to_string().contains("-1001234"), "{moved}");
        let blocked = answer(
            403,
            r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
        );
        assert!(matches!(
            AdapterError::from(blocked),
            AdapterError::Rejected(_)
        ));
    }

    #[test]
    fn server_errors_are_transient() {
        for status in [500, 502, 503, 504] {
            let err = answer(status, "<html>Bad Gateway</html>");
            assert!(matches!(err, TelegramError::Transient(_)), "{err:?}");
            assert!(matches!(
                AdapterError::from(err),
                AdapterError::Transient(_)
            ));
        }
        let err = answer(
            502,
            r#"{"ok":false,"error_code":502,"description":"Bad Gateway"}"#,
        );
        assert!(err.is_retryable());
    }

    #[test]
    fn conflicts_say_what_to_do() {
        let poller = answer(
            409,
            r#"{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}"#,
        );
        assert!(poller.to_string().contains("only one gateway"), "{poller}");
        let hook = answer(
            409,
            r#"{"ok":false,"error_code":409,"description":"Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}"#,
        );
        assert!(hook.to_string().contains("TELEGRAM_WEBHOOK_URL"), "{hook}");
    }
}

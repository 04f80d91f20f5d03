//! [`SignalApi`]: the signal-cli HTTP daemon — JSON-RPC 2.0 calls on
//! `POST /api/v1/rpc`, the event stream `GET /api/v1/events`, and
//! `GET /api/v1/check` — and [`SignalError`], its failures classified.
//!
//! signal-cli answers a failed call with an error object whose code
//! says what went wrong (`SignalJsonRpcCommandHandler`): `-1` the request
//! is wrong (unknown group, unregistered user, bad syntax), `-3` an I/O
//! failure talking to the Signal server, `-4` an untrusted identity key,
//! `-5` a rate limit, with the send results in `data.response.results`
//! (`retryAfterSeconds` per recipient, signal-cli 0.14.3 and later);
//! `-32603` an unexpected failure. Older versions report rate limits only
//! in the message (`[429]`, `RateLimitException`, `Retry after N
//! seconds`), which is read too, as Hermes reads it.

use crate::config::redact_phone;
use hermod_core::AdapterError;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tracing::warn;

/// The wait after a rate limit that names none: Signal's attachment
/// bucket refills a token every few seconds (Hermes' fallback).
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(4);

const USER_ERROR: i64 = -1;
const IO_ERROR: i64 = -3;
const UNTRUSTED_KEY_ERROR: i64 = -4;
const RATELIMIT_ERROR: i64 = -5;

/// A failed call to signal-cli.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignalError {
    /// Signal's rate limit; wait this long.
    #[error("Signal's rate limit reached; retry in {0:?}")]
    RateLimited(Duration),
    /// signal-cli refused the request (`-1`, `-4`, bad params): the same
    /// request will fail again.
    #[error("signal-cli refused the request: {0}")]
    Rejected(String),
    /// The daemon cannot be reached, timed out, or failed in a way that
    /// may pass (`-3`, `-32603`, 5xx).
    #[error("{0}")]
    Transient(String),
    /// The daemon does not serve the account (`400` on the event stream
    /// in multi-account mode) or refuses our Host header (`421`).
    #[error("{0}")]
    Setup(String),
}

impl From<SignalError> for AdapterError {
    fn from(err: SignalError) -> Self {
        match err {
            SignalError::RateLimited(wait) => AdapterError::RateLimited {
                retry_after: Some(wait),
            },
            SignalError::Rejected(reason) => AdapterError::Rejected(reason),
            SignalError::Transient(reason) => AdapterError::Transient(reason),
            SignalError::Setup(reason) => AdapterError::Startup(reason),
        }
    }
}

/// signal-cli's API for one account.
#[derive(Debug)]
pub(crate) struct SignalApi {
    http: reqwest::Client,
    base: String,
    account: String,
    timeout: Duration,
    next_id: AtomicU64,
}

impl SignalApi {
    pub(crate) fn new(http: reqwest::Client, base: &str, account: &str, timeout: Duration) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            account: account.to_owned(),
            timeout,
            next_id: AtomicU64::new(1),
        }
    }

    /// Calls `method` with `params` (the account added) and returns its
    /// `result`, waiting at most `timeout` (the request timeout when
    /// `None`).
    pub(crate) async fn call(
        &self,
        method: &str,
        mut params: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, SignalError> {
        params["account"] = json!(self.account);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id});
        let response = self
            .http
            .post(format!("{}/api/v1/rpc", self.base))
            .timeout(timeout.unwrap_or(self.timeout))
            .json(&request)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(http_status(status.as_u16(), method));
        }
        let body = response.text().await.map_err(transport)?;
        let answer: Value = serde_json::from_str(&body).map_err(|e| {
            SignalError::Transient(format!(
                "signal-cli's answer to {method} cannot be read: {e}"
            ))
        })?;
        match answer.get("error") {
            Some(error) if !error.is_null() => {
                if let Some(token) = challenge(error) {
                    warn!(
                        "Signal wants a captcha before this account sends again: solve one at \
                         https://signalcaptchas.org/challenge/generate.html and run \
                         `signal-cli -a <SIGNAL_ACCOUNT> submitRateLimitChallenge --challenge {token} \
                         --captcha <the signalcaptcha:// link>`"
                    );
                }
                Err(classify(error))
            }
            _ => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Opens `GET /api/v1/events?account=...`, from after `last_event_id`
    /// when given. Returns once the headers arrived (within the request
    /// timeout); the body is the stream.
    pub(crate) async fn open_events(
        &self,
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response, SignalError> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/events", self.base),
            [("account", self.account.as_str())],
        )
        .map_err(|e| SignalError::Setup(format!("SIGNAL_HTTP_URL is not a URL: {e}")))?;
        let mut request = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let sent = tokio::time::timeout(self.timeout, request.send()).await;
        let response = match sent {
            Err(_) => {
                return Err(SignalError::Transient(
                    "opening signal-cli's event stream timed out".into(),
                ));
            }
            Ok(result) => result.map_err(transport)?,
        };
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(response),
            400 => Err(SignalError::Setup(format!(
                "signal-cli does not serve the account {} (400 on its event stream); check SIGNAL_ACCOUNT against `signal-cli listAccounts`",
                redact_phone(&self.account)
            ))),
            _ => Err(http_status(status, "events")),
        }
    }

    /// `GET /api/v1/check`: the daemon runs.
    pub(crate) async fn check(&self) -> Result<(), SignalError> {
        let response = self
            .http
            .get(format!("{}/api/v1/check", self.base))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            Ok(())
        } else {
            Err(http_status(status, "check"))
        }
    }
}

/// A transport failure, without the URL.
fn transport(e: reqwest::Error) -> SignalError {
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    SignalError::Transient(format!(
        "the call to signal-cli {what}: {}; check that `signal-cli daemon --http` runs at SIGNAL_HTTP_URL",
        e.without_url()
    ))
}

/// A non-2xx HTTP answer.
fn http_status(status: u16, what: &str) -> SignalError {
    match status {
        421 => SignalError::Setup(
            "signal-cli refused the Host header (421): it only answers the host it listens on; set SIGNAL_HTTP_URL to that address".into(),
        ),
        415 | 404 | 405 => SignalError::Setup(format!(
            "signal-cli answered {status} to {what}: is SIGNAL_HTTP_URL a signal-cli daemon started with --http?"
        )),
        s if s >= 500 => SignalError::Transient(format!("signal-cli answered {s} to {what}")),
        s => SignalError::Rejected(format!("signal-cli answered {s} to {what}")),
    }
}

/// Classifies a JSON-RPC error object (pure, for tests).
pub(crate) fn classify(error: &Value) -> SignalError {
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_owned();
    if code == RATELIMIT_ERROR || is_rate_limit_message(&message) {
        return SignalError::RateLimited(retry_after(error).unwrap_or(DEFAULT_RETRY_AFTER));
    }
    match code {
        IO_ERROR | -32603 => {
            SignalError::Transient(format!("signal-cli failed ({code}): {message}"))
        }
        UNTRUSTED_KEY_ERROR => SignalError::Rejected(format!(
            "{message} ({code}); trust the recipient's new key with `signal-cli trust`"
        )),
        USER_ERROR => SignalError::Rejected(format!("{message} ({code})")),
        _ => SignalError::Rejected(format!("{message} ({code})")),
    }
}

/// The challenge token of a "proof required" rate limit, when Signal
/// asks for a captcha (the results' `token`).
fn challenge(error: &Value) -> Option<&str> {
    error
        .pointer("/data/response/results")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|r| r.get("token").and_then(Value::as_str))
        .filter(|t| !t.is_empty())
}

fn is_rate_limit_message(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    message.contains("[429]")
        || lower.contains("ratelimit")
        || lower.contains("retrylaterexception")
        || lower.contains("retry after")
}

/// The longest `retryAfterSeconds` in the results, else "Retry after N
/// seconds" in the message.
fn retry_after(error: &Value) -> Option<Duration> {
    let results = error
        .pointer("/data/response/results")
        .and_then(Value::as_array);
    let longest = results
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("retryAfterSeconds").and_then(Value::as_u64))
        .max();
    if let Some(secs) = longest {
        return Some(Duration::from_secs(secs));
    }
    let message = error.get("message").and_then(Value::as_str)?;
    let lower = message.to_ascii_lowercase();
    let at = lower.find("retry after")? + "retry after".len();
    let digits: String = lower[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().map(Duration::from_secs)
}

/// What a successful `send` result says about its recipients: some got
/// it (`Ok` with the timestamp), or none did (why).
pub(crate) fn send_outcome(result: &Value) -> Result<u64, SignalError> {
    let timestamp = result.get("timestamp").and_then(Value::as_u64);
    let results = result
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let kinds: Vec<&str> = results
        .iter()
        .filter_map(|r| r.get("type").and_then(Value::as_str))
        .collect();
    let delivered = kinds.is_empty() || kinds.contains(&"SUCCESS");
    match timestamp {
        Some(timestamp) if delivered => Ok(timestamp),
        Some(_) if kinds.contains(&"RATE_LIMIT_FAILURE") => {
            let error = json!({"data": {"response": result}});
            Err(SignalError::RateLimited(
                retry_after(&error).unwrap_or(DEFAULT_RETRY_AFTER),
            ))
        }
        Some(_) => Err(SignalError::Rejected(format!(
            "no recipient got the message ({})",
            kinds.join(", ")
        ))),
        None => Err(SignalError::Rejected(
            "signal-cli's send answer has no timestamp".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_cli_error_objects_are_classified() {
        // signal-cli 0.14.3+: the typed rate-limit error with its results.
        let limited = json!({"code": -5, "message": "Failed to send message due to rate limiting",
            "data": {"response": {"timestamp": 1, "results": [
                {"recipientAddress": {"uuid": "u", "number": "+1"}, "type": "RATE_LIMIT_FAILURE", "retryAfterSeconds": 12},
                {"recipientAddress": {"uuid": "v", "number": "+2"}, "type": "RATE_LIMIT_FAILURE", "retryAfterSeconds": 30}]}}});
        assert_eq!(
            classify(&limited),
            SignalError::RateLimited(Duration::from_secs(30))
        );
        assert_eq!(challenge(&limited), None);
        // "Proof required": a captcha's challenge token in the results.
        let proof = json!({"code": -5, "message": "Failed to send message due to rate limiting",
            "data": {"response": {"timestamp": 1, "results": [
                {"type": "RATE_LIMIT_FAILURE", "token": "abc-123", "retryAfterSeconds": 60}]}}});
        assert_eq!(challenge(&proof), Some("abc-123"));
        assert_eq!(
            classify(&proof),
            SignalError::RateLimited(Duration::from_secs(60))
        );
        // Older versions: only the message says so.
        let old = json!({"code": -32603, "message": "Failed to send message: [429] Rate limit exceeded: Retry after 7 seconds (AttachmentInvalidException)"});
        assert_eq!(
            classify(&old),
            SignalError::RateLimited(Duration::from_secs(7))
        );
        let bare = json!({"code": -3, "message": "RateLimitException"});
        assert_eq!(
            classify(&bare),
            SignalError::RateLimited(DEFAULT_RETRY_AFTER)
        );
        assert!(matches!(
            classify(&json!({"code": -1, "message": "Invalid group id"})),
            SignalError::Rejected(m) if m.contains("Invalid group id")
        ));
        assert!(matches!(
            classify(&json!({"code": -4, "message": "Failed to send message due to untrusted identities"})),
            SignalError::Rejected(m) if m.contains("signal-cli trust")
        ));
        assert!(matches!(
            classify(&json!({"code": -3, "message": "Connection closed"})),
            SignalError::Transient(_)
        ));
    }

    #[test]
    fn send_results_tell_delivered_from_refused() {
        let ok = json!({"timestamp": 99, "results": [{"type": "SUCCESS"}]});
        assert_eq!(send_outcome(&ok), Ok(99));
        // A group where one member could not be reached still got it.
        let partial =
            json!({"timestamp": 5, "results": [{"type": "SUCCESS"}, {"type": "NETWORK_FAILURE"}]});
        assert_eq!(send_outcome(&partial), Ok(5));
        let limited = json!({"timestamp": 5, "results": [{"type": "RATE_LIMIT_FAILURE", "retryAfterSeconds": 3}]});
        assert_eq!(
            send_outcome(&limited),
            Err(SignalError::RateLimited(Duration::from_secs(3)))
        );
        let unregistered = json!({"timestamp": 5, "results": [{"type": "UNREGISTERED_FAILURE"}]});
        assert!(matches!(
            send_outcome(&unregistered),
            Err(SignalError::Rejected(_))
        ));
        assert_eq!(send_outcome(&json!({"timestamp": 8})), Ok(8));
    }

    #[test]
    fn http_answers_are_classified() {
        assert!(matches!(
            http_status(503, "send"),
            SignalError::Transient(_)
        ));
        assert!(
            matches!(http_status(421, "send"), SignalError::Setup(m) if m.contains("SIGNAL_HTTP_URL"))
        );
        assert!(matches!(http_status(404, "send"), SignalError::Setup(_)));
    }
}

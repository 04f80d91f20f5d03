//! The Events API over HTTP: Slack POSTs events (and slash commands) to
//! [`EVENTS_PATH`] on the shared webhook listener (the kit's
//! [`hermod_adapter_kit::WebhookListener`], `WEBHOOK_HOST:WEBHOOK_PORT`),
//! behind the public request URL set in the app's settings.
//!
//! Every request is checked by [`SlackSignature`] before its body is
//! parsed: `X-Slack-Signature` must be `v0=` and the hex HMAC-SHA256, by
//! the signing secret, of `v0:<X-Slack-Request-Timestamp>:<raw body>`
//! (compared in constant time), and the timestamp within five minutes of
//! our clock, so a recorded request cannot be replayed. Refused: 401.
//!
//! A `url_verification` is answered with its challenge. Events and slash
//! commands are acknowledged at once (200) and handled after, by the
//! worker; Slack's retries (`X-Slack-Retry-Num`) of an event already
//! handled are dropped there by event id.

use crate::adapter::SlackAdapter;
use crate::config::EVENTS_PATH;
use crate::receive::{Job, Jobs};
use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hermod_adapter_kit::{ConnectionState, Verdict, Verifier, WebhookHandler};
use hermod_core::{AdapterContext, AdapterError};
use hermod_model::Secret;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use tracing::{debug, info, warn};

/// How far a request's timestamp may be from our clock, in seconds.
const MAX_SKEW_SECS: i64 = 5 * 60;

/// Checks Slack's v0 request signature.
pub(crate) struct SlackSignature {
    secret: Secret,
}

impl std::fmt::Debug for SlackSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSignature")
            .field("secret", &self.secret)
            .finish()
    }
}

impl SlackSignature {
    pub(crate) fn new(secret: Secret) -> Self {
        Self { secret }
    }

    /// The verdict on a request at `now` (Unix seconds).
    pub(crate) fn check(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Verdict {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(timestamp), Some(signature)) = (
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
        ) else {
            return Verdict::Reject("no Slack signature");
        };
        let Ok(at) = timestamp.trim().parse::<i64>() else {
            return Verdict::Reject("a malformed Slack timestamp");
        };
        if (now - at).abs() > MAX_SKEW_SECS {
            return Verdict::Reject("a Slack timestamp more than five minutes off");
        }
        let Some(expected) = signature.strip_prefix("v0=").and_then(hex) else {
            return Verdict::Reject("a malformed Slack signature");
        };
        if self.secret.is_empty() {
            return Verdict::Reject("no signing secret");
        }
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes()) else {
            return Verdict::Reject("no signing secret");
        };
        mac.update(b"v0:");
        mac.update(timestamp.trim().as_bytes());
        mac.update(b":");
        mac.update(body);
        // `verify_slice` compares in constant time.
        match mac.verify_slice(&expected) {
            Ok(()) => Verdict::Accept,
            Err(_) => Verdict::Reject("a wrong Slack signature"),
        }
    }
}

impl Verifier for SlackSignature {
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Verdict {
        self.check(headers, body, hermod_core::now_ms() / 1000)
    }
}

/// Lowercase or uppercase hex → bytes.
fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Slack's route on the shared listener.
struct Hook {
    jobs: Jobs,
}

impl SlackAdapter {
    /// Serves the Events API route until shutdown.
    pub(crate) async fn serve_events(
        &self,
        ctx: &AdapterContext,
        jobs: Jobs,
    ) -> Result<(), AdapterError> {
        let Some(secret) = self.config().signing_secret.clone() else {
            return Err(AdapterError::Startup(
                "the Events API needs SLACK_SIGNING_SECRET".into(),
            ));
        };
        let route = self
            .webhooks()
            .register(
                EVENTS_PATH,
                Arc::new(SlackSignature::new(secret)),
                Arc::new(Hook { jobs }),
            )
            .await
            .map_err(AdapterError::from)?;
        self.connection().connected(ctx);
        let addr = self.webhooks().local_addr();
        info!(
            ?addr,
            path = EVENTS_PATH,
            "receiving Slack events over HTTP"
        );
        ctx.shutdown.cancelled().await;
        route.close().await;
        self.connection().set_state(ConnectionState::Connecting);
        Ok(())
    }
}

#[async_trait]
impl WebhookHandler for Hook {
    /// One request from Slack, its signature already checked.
    async fn handle(&self, headers: HeaderMap, body: Bytes) -> Response {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let job = if form {
            match command(&body) {
                Some(job) => job,
                None => {
                    debug!("a form from Slack that is not a slash command; acknowledged");
                    return StatusCode::OK.into_response();
                }
            }
        } else {
            let payload: Value = match serde_json::from_slice(&body) {
                Ok(payload @ Value::Object(_)) => payload,
                _ => {
                    // Acknowledged, so Slack does not send it again.
                    warn!(
                        bytes = body.len(),
                        "skipping an Events API body that is not a JSON object"
                    );
                    return StatusCode::OK.into_response();
                }
            };
            if payload["type"] == "url_verification" {
                let challenge = payload["challenge"].as_str().unwrap_or_default();
                info!("answered Slack's url_verification");
                return axum::Json(json!({ "challenge": challenge })).into_response();
            }
            if let Some(retry) = headers
                .get("x-slack-retry-num")
                .and_then(|v| v.to_str().ok())
            {
                debug!(retry, "a retried Events API delivery");
            }
            Job::Event(payload)
        };
        match self.jobs.send(job).await {
            Ok(()) => StatusCode::OK.into_response(),
            // The worker is gone: the adapter is stopping. Slack retries.
            Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
}

/// A slash command from its form, keyed by its `trigger_id`.
fn command(body: &[u8]) -> Option<Job> {
    let fields: serde_json::Map<String, Value> = form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
        .collect();
    fields.get("command")?;
    let unique = fields
        .get("trigger_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some(Job::Command {
        payload: Value::Object(fields),
        unique,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// The worked example in Slack's "Verifying requests from Slack".
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: i64 = 1_531_420_618;
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-slack-request-timestamp",
            HeaderValue::from_str(timestamp).unwrap(),
        );
        headers.insert(
            "x-slack-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    #[test]
    fn slacks_worked_example_verifies() {
        let check = SlackSignature::new(Secret::new(SECRET));
        let ok = headers(&TIMESTAMP.to_string(), SIGNATURE);
        assert_eq!(
            check.check(&ok, BODY.as_bytes(), TIMESTAMP + 10),
            Verdict::Accept
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let check = SlackSignature::new(Secret::new(SECRET));
        let ok = headers(&TIMESTAMP.to_string(), SIGNATURE);
        // A changed body, another secret, an old timestamp, no headers.
        let tampered = format!("{BODY}&text=rm");
        assert!(matches!(
            check.check(&ok, tampered.as_bytes(), TIMESTAMP),
            Verdict::Reject(_)
        ));
        let other = SlackSignature::new(Secret::new("another-secret"));
        assert!(matches!(
            other.check(&ok, BODY.as_bytes(), TIMESTAMP),
            Verdict::Reject(_)
        ));
        assert!(matches!(
            check.check(&ok, BODY.as_bytes(), TIMESTAMP + MAX_SKEW_SECS + 1),
            Verdict::Reject(_)
        ));
        assert!(matches!(
            check.check(&HeaderMap::new(), BODY.as_bytes(), TIMESTAMP),
            Verdict::Reject(_)
        ));
        let malformed = headers(&TIMESTAMP.to_string(), "v1=abc");
        assert!(matches!(
            check.check(&malformed, BODY.as_bytes(), TIMESTAMP),
            Verdict::Reject(_)
        ));
        let odd = headers(&TIMESTAMP.to_string(), "v0=abc");
        assert!(matches!(
            check.check(&odd, BODY.as_bytes(), TIMESTAMP),
            Verdict::Reject(_)
        ));
        assert!(!format!("{check:?}").contains(SECRET));
    }

    #[test]
    fn a_slash_command_form_is_read() {
        let Some(Job::Command { payload, unique }) = command(BODY.as_bytes()) else {
            panic!("not read as a command");
        };
        assert_eq!(payload["command"], "/webhook-collect");
        assert_eq!(
            unique,
            "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
        );
        assert!(command(b"payload=%7B%7D").is_none());
    }
}

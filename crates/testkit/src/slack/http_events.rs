//! The Events API sender: POSTs to the app's request URL, signed with the
//! v0 scheme, with Slack's retries; the `url_verification` handshake; and
//! deliberately mis-signed requests for negative tests.
//!
//! Signing, per "Verifying requests from Slack": `X-Slack-Request-Timestamp`
//! is the Unix time, and `X-Slack-Signature` is `v0=` and the hex of
//! HMAC-SHA256(signing secret, `v0:<timestamp>:<raw body>`). Apps should
//! refuse timestamps more than five minutes away from their clock.
//!
//! Retries, per the Events API docs: an answer that is not 2xx within three
//! seconds fails the delivery (`http_timeout`, `http_error`,
//! `connection_failed`); Slack retries it three times — nearly at once,
//! after a minute, after five minutes — with `X-Slack-Retry-Num` and
//! `X-Slack-Retry-Reason`, unless the answer carried `X-Slack-No-Retry: 1`.
//! Slash commands and interactive payloads are not retried.

use super::state::{Shared, unix_secs};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::time::Instant;

/// What the fake POSTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostKind {
    /// An `event_callback` (JSON), retried on failure.
    Event,
    /// A slash command (form-encoded).
    SlashCommand,
    /// An interactive payload (a form's `payload`).
    Interactive,
    /// A `url_verification` challenge (JSON).
    UrlVerification,
    /// A body a test sent as it is.
    Raw,
}

/// How to sign a request (see [`super::FakeSlack::post_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// As Slack signs.
    Valid,
    /// With another secret.
    WrongSecret,
    /// Correctly, but with a timestamp six minutes old.
    Stale,
    /// Without the signature and timestamp headers.
    Missing,
    /// Correctly for the body, which is then changed before sending.
    Tampered,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The app answered with this status.
    Status(u16),
    /// No answer within the request timeout.
    TimedOut,
    /// The connection failed.
    ConnectionFailed,
}

impl DeliveryOutcome {
    pub fn is_success(self) -> bool {
        matches!(self, Self::Status(status) if (200..300).contains(&status))
    }

    /// The `X-Slack-Retry-Reason` a retry after this outcome carries.
    fn retry_reason(self) -> &'static str {
        match self {
            Self::Status(_) => "http_error",
            Self::TimedOut => "http_timeout",
            Self::ConnectionFailed => "connection_failed",
        }
    }
}

/// One request the fake POSTed to the app.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpDelivery {
    pub kind: PostKind,
    /// The `event_id` of an event.
    pub event_id: Option<String>,
    /// `X-Slack-Retry-Num` (0 for the first attempt, which has none).
    pub retry_num: u32,
    pub retry_reason: Option<String>,
    pub outcome: DeliveryOutcome,
    /// The answer carried `X-Slack-No-Retry: 1`.
    pub no_retry: bool,
    /// The answer's body.
    pub response_body: String,
    /// The request's body, as signed.
    pub body: String,
    /// When it was sent (tokio clock).
    pub at: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct HttpState {
    /// Where events go; `None` means over Socket Mode.
    pub(crate) request_url: Option<String>,
    pub(crate) deliveries: Vec<HttpDelivery>,
}

/// `v0=` and the hex HMAC-SHA256 of `v0:<timestamp>:<body>`.
pub(crate) fn sign(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let mut signature = String::from("v0=");
    for byte in mac.finalize().into_bytes() {
        let _ = write!(signature, "{byte:02x}");
    }
    signature
}

/// The answer to one request.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) outcome: DeliveryOutcome,
    pub(crate) no_retry: bool,
    pub(crate) content_type: Option<String>,
    pub(crate) body: String,
}

/// POSTs `body` to `url` once, signed as `signing` says.
pub(crate) async fn post_once(
    shared: &Shared,
    url: &str,
    kind: PostKind,
    body: &str,
    signing: Signing,
    retry: Option<(u32, &str)>,
) -> Answer {
    let config = &shared.config;
    let content_type = match kind {
        PostKind::SlashCommand | PostKind::Interactive => "application/x-www-form-urlencoded",
        _ => "application/json",
    };
    let now = unix_secs();
    let (timestamp, secret) = match signing {
        Signing::Stale => (now - 360, config.signing_secret.as_str()),
        Signing::WrongSecret => (now, "not-the-signing-secret"),
        _ => (now, config.signing_secret.as_str()),
    };
    let signature = sign(secret, timestamp, body);
    let sent_body = match signing {
        Signing::Tampered => format!("{body} "),
        _ => body.to_owned(),
    };
    let mut request = shared
        .http
        .post(url)
        .header("content-type", content_type)
        .header("user-agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
        .body(sent_body);
    if signing != Signing::Missing {
        request = request
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature);
    }
    if let Some((num, reason)) = retry {
        request = request
            .header("x-slack-retry-num", num.to_string())
            .header("x-slack-retry-reason", reason);
    }
    let exchange = async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let no_retry = header("x-slack-no-retry").as_deref() == Some("1");
        let content_type = header("content-type");
        let body = response.text().await?;
        Ok::<_, reqwest::Error>((status, no_retry, content_type, body))
    };
    match tokio::time::timeout(config.request_timeout, exchange).await {
        Ok(Ok((status, no_retry, content_type, body))) => Answer {
            outcome: DeliveryOutcome::Status(status),
            no_retry,
            content_type,
            body,
        },
        Ok(Err(_)) => Answer {
            outcome: DeliveryOutcome::ConnectionFailed,
            no_retry: false,
            content_type: None,
            body: String::new(),
        },
        Err(_) => Answer {
            outcome: DeliveryOutcome::TimedOut,
            no_retry: false,
            content_type: None,
            body: String::new(),
        },
    }
}

/// Delivers `body` to the request URL in the background, with retries for
/// events.
pub(crate) fn spawn_delivery(
    shared: &Arc<Shared>,
    kind: PostKind,
    body: String,
    event_id: Option<String>,
) {
    let task = shared.clone();
    shared.tasks.spawn(async move {
        tokio::select! {
            () = deliver(&task, kind, &body, event_id) => {}
            () = task.shutdown.cancelled() => {}
        }
    });
}

async fn deliver(shared: &Shared, kind: PostKind, body: &str, event_id: Option<String>) {
    let retries = if kind == PostKind::Event {
        shared.config.retry_delays.clone()
    } else {
        Vec::new()
    };
    let mut retry: Option<(u32, &'static str)> = None;
    for attempt in 0..=retries.len() {
        if attempt > 0 {
            tokio::time::sleep(retries[attempt - 1]).await;
        }
        let Some(url) = shared.lock().http.request_url.clone() else {
            return;
        };
        let at = Instant::now();
        let answer = post_once(shared, &url, kind, body, Signing::Valid, retry).await;
        shared.update(|s| {
            s.http.deliveries.push(HttpDelivery {
                kind,
                event_id: event_id.clone(),
                retry_num: retry.map_or(0, |(n, _)| n),
                retry_reason: retry.map(|(_, r)| r.to_owned()),
                outcome: answer.outcome,
                no_retry: answer.no_retry,
                response_body: answer.body.clone(),
                body: body.to_owned(),
                at,
            });
        });
        if answer.outcome.is_success() || answer.no_retry {
            return;
        }
        let num = u32::try_from(attempt + 1).unwrap_or(u32::MAX);
        retry = Some((num, answer.outcome.retry_reason()));
    }
}

/// What a `url_verification` handshake found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlVerification {
    pub outcome: DeliveryOutcome,
    /// The challenge sent.
    pub challenge: String,
    /// The answer's body.
    pub answer: String,
    /// The answer gave the challenge back: as plain text, as
    /// `challenge=<value>` or as `{"challenge": <value>}`, all of which
    /// the docs accept.
    pub passed: bool,
}

/// Sends a `url_verification` to `url`, as Slack does when a request URL
/// is entered in the app's settings.
pub(crate) async fn verify(shared: &Shared, url: &str, n: u64) -> UrlVerification {
    let challenge =
        format!("hermodChallenge{n:08}x3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    let body = serde_json::json!({
        "token": shared.config.verification_token,
        "challenge": challenge,
        "type": "url_verification",
    })
    .to_string();
    let at = Instant::now();
    let answer = post_once(
        shared,
        url,
        PostKind::UrlVerification,
        &body,
        Signing::Valid,
        None,
    )
    .await;
    let passed = answer.outcome.is_success() && echoes(&answer, &challenge);
    shared.update(|s| {
        s.http.deliveries.push(HttpDelivery {
            kind: PostKind::UrlVerification,
            event_id: None,
            retry_num: 0,
            retry_reason: None,
            outcome: answer.outcome,
            no_retry: answer.no_retry,
            response_body: answer.body.clone(),
            body: body.clone(),
            at,
        });
    });
    UrlVerification {
        outcome: answer.outcome,
        challenge,
        answer: answer.body,
        passed,
    }
}

fn echoes(answer: &Answer, challenge: &str) -> bool {
    let body = answer.body.trim();
    let content_type = answer.content_type.as_deref().unwrap_or("");
    if content_type.starts_with("application/json") {
        return serde_json::from_str::<serde_json::Value>(body)
            .is_ok_and(|v| v["challenge"] == challenge);
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return form_urlencoded::parse(body.as_bytes())
            .any(|(name, value)| name == "challenge" && value == challenge);
    }
    body == challenge
}

/// POSTs `body` to `url` once, signed as told, and records it.
pub(crate) async fn post_raw(
    shared: &Shared,
    url: &str,
    body: String,
    signing: Signing,
) -> DeliveryOutcome {
    let at = Instant::now();
    let answer = post_once(shared, url, PostKind::Raw, &body, signing, None).await;
    let outcome = answer.outcome;
    shared.update(|s| {
        s.http.deliveries.push(HttpDelivery {
            kind: PostKind::Raw,
            event_id: None,
            retry_num: 0,
            retry_reason: None,
            outcome,
            no_retry: answer.no_retry,
            response_body: answer.body,
            body,
            at,
        });
    });
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example in Slack's "Verifying requests from Slack".
    #[test]
    fn the_signature_matches_slacks_worked_example() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign("8f742231b10e8888abcd99yyyzzz85a5", 1_531_420_618, body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn retry_reasons_name_the_failure() {
        assert_eq!(DeliveryOutcome::TimedOut.retry_reason(), "http_timeout");
        assert_eq!(DeliveryOutcome::Status(500).retry_reason(), "http_error");
        assert!(DeliveryOutcome::Status(204).is_success());
        assert!(!DeliveryOutcome::Status(302).is_success());
    }
}

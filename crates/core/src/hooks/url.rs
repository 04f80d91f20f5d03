//! URL hooks: the event POSTed as JSON, signed as the Standard Webhooks
//! specification says, retried with backoff on tokio's clock.
//!
//! Headers: `webhook-id` (one id per event, the same on every attempt, so
//! the receiver can drop repeats), `webhook-timestamp` (Unix seconds of the
//! attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `<id>.<timestamp>.<body>`. The key is the secret after `whsec_`,
//! base64-decoded, as the specification serializes secrets; a secret
//! without that prefix is used as its bytes.
//!
//! A 2xx answer ends it; 408, 429 (after its `Retry-After`), 5xx and
//! connection failures are retried; any other 4xx is given up at once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hermod_http::{HttpClient, HttpError, RetryPolicy, classify_status};
use hermod_model::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Attempts per event, and the backoff between them (1 s doubling, with
/// jitter, to 30 s).
pub(crate) fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
        max_retry_after: Duration::from_secs(60),
    }
}

/// One delivery to a URL hook.
pub(crate) struct Post<'a> {
    pub(crate) http: &'a HttpClient,
    pub(crate) url: &'a str,
    pub(crate) secret: &'a Secret,
    /// Bound on each attempt.
    pub(crate) timeout: Duration,
    pub(crate) body: String,
}

impl Post<'_> {
    /// Sends it, retrying what may pass; the status of the answer that
    /// ended it.
    pub(crate) async fn send(
        &self,
        policy: &RetryPolicy,
        cancel: &CancellationToken,
    ) -> Result<u16, HttpError> {
        let id = message_id();
        hermod_http::retry(policy, cancel, || self.attempt(&id)).await
    }

    async fn attempt(&self, id: &str) -> Result<u16, HttpError> {
        let timestamp = jiff::Timestamp::now().as_second();
        let signature = sign(self.secret, id, timestamp, &self.body);
        let response = self
            .http
            .reqwest()
            .post(self.url)
            .timeout(self.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(self.body.clone())
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Err(classify_status(status, &headers, &body))
    }
}

/// `msg_` and 16 random bytes in hex.
fn message_id() -> String {
    let mut bytes = [0u8; 16];
    // Without an entropy source the time still tells events apart.
    if getrandom::fill(&mut bytes).is_err() {
        bytes[..16].copy_from_slice(&jiff::Timestamp::now().as_nanosecond().to_le_bytes());
    }
    let hex: String = hermod_model::to_hex(&bytes);
    format!("msg_{hex}")
}

/// The `webhook-signature` value: `v1,<base64 HMAC-SHA256(key,
/// "<id>.<timestamp>.<body>")>`.
pub(crate) fn sign(secret: &Secret, id: &str, timestamp: i64, body: &str) -> String {
    let raw = secret.expose();
    let key = raw
        .strip_prefix("whsec_")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .unwrap_or_else(|| raw.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_specifications_example() {
        // The example in the Standard Webhooks specification.
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(
            sign(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_without_the_prefix_is_its_own_bytes() {
        let plain = sign(&Secret::new("hunter2"), "msg_1", 5, "{}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"hunter2").unwrap();
        mac.update(b"msg_1.5.{}");
        assert_eq!(
            plain,
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        );
    }

    #[test]
    fn message_ids_differ() {
        let (a, b) = (message_id(), message_id());
        assert!(a.starts_with("msg_") && a.len() == 36);
        assert_ne!(a, b);
    }
}

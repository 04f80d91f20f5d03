//! [`RouteSignature`]: the check every request to a route passes before
//! its body is read as anything (the kit runs it on the raw bytes), as
//! Hermes checks, in this order — the first scheme whose headers are
//! present decides, there is no falling back to another:
//!
//! 1. **Standard Webhooks / Svix**: `webhook-id`, `webhook-timestamp`,
//!    `webhook-signature` (or the same with `svix-`): `v1,<base64
//!    HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, several separated by
//!    spaces while a secret is rotated; the key is the base64 after
//!    `whsec_`, or the secret's bytes; the timestamp within five minutes.
//! 2. **GitHub**: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>`.
//! 3. **GitLab**: `X-Gitlab-Token: <the secret itself>`.
//! 4. **Hermes' generic V2**: `X-Webhook-Signature-V2: <hex
//!    HMAC-SHA256("<timestamp>.<body>")>` with `X-Webhook-Timestamp` within
//!    300 seconds.
//! 5. **Hermes' legacy V1**: `X-Webhook-Signature: <hex
//!    HMAC-SHA256(body)>` (no timestamp, so replayable: warned once per
//!    route).
//!
//! No header of any of them: refused. Every comparison is constant time
//! (`Mac::verify_slice`, `Secret::ct_eq`). A route without a secret is
//! refused whatever it is sent (403); `INSECURE_NO_AUTH` accepts
//! everything (for local tests; configuration refuses it off loopback).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hermod_adapter_kit::{Verdict, Verifier};
use hermod_core::Clock;
use hermod_model::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::warn;

use axum::http::HeaderMap;

/// How far a signed timestamp may be from our clock, either way.
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// The secret value that switches a route's check off (Hermes').
pub const INSECURE_NO_AUTH: &str = "INSECURE_NO_AUTH";

/// What a route checks requests with.
#[derive(Clone, PartialEq, Eq)]
pub enum RouteSecret {
    /// Neither the route nor the platform has a secret: every request is
    /// refused (403), failing closed.
    Missing,
    /// `INSECURE_NO_AUTH`: nothing is checked.
    Insecure,
    /// Requests must be signed with (or carry) this secret.
    Key(Secret),
}

impl std::fmt::Debug for RouteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteSecret::Missing => f.write_str("Missing"),
            RouteSecret::Insecure => f.write_str("Insecure"),
            RouteSecret::Key(_) => f.write_str("Key(<redacted>)"),
        }
    }
}

impl RouteSecret {
    /// The route's own secret, else the platform's; an empty one is none.
    pub fn of(route: Option<&Secret>, global: Option<&Secret>) -> Self {
        let chosen = route
            .filter(|s| !s.expose().trim().is_empty())
            .or_else(|| global.filter(|s| !s.expose().trim().is_empty()));
        match chosen {
            None => RouteSecret::Missing,
            Some(s) if s.expose().trim() == INSECURE_NO_AUTH => RouteSecret::Insecure,
            Some(s) => RouteSecret::Key(Secret::new(s.expose().trim())),
        }
    }
}

/// The kit's verifier for one route.
pub struct RouteSignature {
    route: String,
    secret: RouteSecret,
    clock: Clock,
    /// Whether the legacy V1 scheme was already warned about.
    warned_v1: AtomicBool,
}

impl std::fmt::Debug for RouteSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteSignature")
            .field("route", &self.route)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl RouteSignature {
    pub fn new(route: impl Into<String>, secret: RouteSecret, clock: Clock) -> Self {
        Self {
            route: route.into(),
            secret,
            clock,
            warned_v1: AtomicBool::new(false),
        }
    }

    /// The verdict on a request at `now` (Unix seconds).
    pub fn check(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Verdict {
        let key = match &self.secret {
            RouteSecret::Missing => return Verdict::Forbid("the route has no secret"),
            RouteSecret::Insecure => return Verdict::Accept,
            RouteSecret::Key(key) => key,
        };
        let checked = check(key, headers, body, now);
        if checked == Ok(Scheme::LegacyV1) && !self.warned_v1.swap(true, Ordering::Relaxed) {
            warn!(
                route = %self.route,
                "a webhook signed with X-Webhook-Signature, which has no timestamp and can be replayed; have the sender use X-Webhook-Signature-V2 with X-Webhook-Timestamp"
            );
        }
        match checked {
            Ok(_) => Verdict::Accept,
            Err(why) => Verdict::Reject(why),
        }
    }
}

impl Verifier for RouteSignature {
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Verdict {
        self.check(headers, body, self.clock.now_ms().div_euclid(1000))
    }
}

/// The scheme a request was signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    StandardWebhooks,
    GitHub,
    GitLab,
    GenericV2,
    LegacyV1,
}

/// Checks a request against `key`; the scheme that accepted it, or why
/// it was refused.
pub fn check(
    key: &Secret,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Scheme, &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    for prefix in ["svix", "webhook"] {
        let id = header(&format!("{prefix}-id"));
        let timestamp = header(&format!("{prefix}-timestamp"));
        let signature = header(&format!("{prefix}-signature"));
        if id.is_some() || timestamp.is_some() || signature.is_some() {
            let (Some(id), Some(timestamp), Some(signature)) = (id, timestamp, signature) else {
                return Err("an incomplete Standard Webhooks signature");
            };
            return standard_webhooks(key, id, timestamp, signature, body, now)
                .map(|()| Scheme::StandardWebhooks);
        }
    }
    if let Some(signature) = header("x-hub-signature-256") {
        let given = signature
            .trim()
            .strip_prefix("sha256=")
            .and_then(hex)
            .ok_or("a malformed X-Hub-Signature-256")?;
        let mut mac = mac(key.expose().as_bytes());
        mac.update(body);
        return mac
            .verify_slice(&given)
            .map(|()| Scheme::GitHub)
            .map_err(|_| "a wrong X-Hub-Signature-256");
    }
    if let Some(token) = headers.get("x-gitlab-token") {
        return if key.ct_eq(token.as_bytes()) {
            Ok(Scheme::GitLab)
        } else {
            Err("a wrong X-Gitlab-Token")
        };
    }
    if let Some(signature) = header("x-webhook-signature-v2") {
        let timestamp = header("x-webhook-timestamp")
            .ok_or("X-Webhook-Signature-V2 without X-Webhook-Timestamp")?;
        let at = fresh(timestamp, now)?;
        let given = hex(signature.trim()).ok_or("a malformed X-Webhook-Signature-V2")?;
        let mut mac = mac(key.expose().as_bytes());
        mac.update(at.as_bytes());
        mac.update(b".");
        mac.update(body);
        return mac
            .verify_slice(&given)
            .map(|()| Scheme::GenericV2)
            .map_err(|_| "a wrong X-Webhook-Signature-V2");
    }
    if let Some(signature) = header("x-webhook-signature") {
        let given = hex(signature.trim()).ok_or("a malformed X-Webhook-Signature")?;
        let mut mac = mac(key.expose().as_bytes());
        mac.update(body);
        return mac
            .verify_slice(&given)
            .map(|()| Scheme::LegacyV1)
            .map_err(|_| "a wrong X-Webhook-Signature");
    }
    Err("no signature header")
}

/// A Standard Webhooks (Svix) signature header: any `v1,` entry matching.
fn standard_webhooks(
    key: &Secret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    let at = fresh(timestamp, now)?;
    let raw = key.expose();
    let key_bytes = match raw.strip_prefix("whsec_") {
        Some(encoded) => BASE64
            .decode(encoded)
            .map_err(|_| "a whsec_ secret that is not base64")?,
        // Providers that use the headers with a plain shared secret.
        None => raw.as_bytes().to_vec(),
    };
    if key_bytes.is_empty() {
        return Err("an empty signing key");
    }
    let mut signed = mac(&key_bytes);
    signed.update(id.as_bytes());
    signed.update(b".");
    signed.update(at.as_bytes());
    signed.update(b".");
    signed.update(body);
    let matched = signatures
        .split_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, encoded)| BASE64.decode(encoded).ok())
        // Each candidate is compared in constant time; which one matched
        // (their order) is public.
        .any(|given| signed.clone().verify_slice(&given).is_ok());
    if matched {
        Ok(())
    } else {
        Err("a wrong Standard Webhooks signature")
    }
}

/// The timestamp text, when it is whole seconds within the replay window.
fn fresh(timestamp: &str, now: i64) -> Result<&str, &'static str> {
    let at = timestamp.trim();
    let seconds: i64 = at.parse().map_err(|_| "a malformed signature timestamp")?;
    if (now - seconds).abs() > REPLAY_WINDOW_SECS {
        return Err("a signature timestamp outside the five-minute window");
    }
    Ok(at)
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// Hex (either case) → bytes.
fn hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests;

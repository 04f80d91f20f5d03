//! [`RestApi`]: the thin typed client of Discord's REST API the adapter
//! uses, on an injectable base URL (`DISCORD_API_BASE_URL`), over
//! `hermod-http`'s reqwest client.
//!
//! Every request carries `Authorization: Bot <token>` (webhook routes of
//! interactions take none: their token is in the path) and Discord's
//! `User-Agent` form. Answers update [`RateLimits`] from the
//! `X-RateLimit-*` headers: per bucket (`X-RateLimit-Bucket`, learnt per
//! route and top-level resource) and the global limit a 429 with
//! `global` announces. A request whose bucket is empty waits for its
//! reset when that is near, and fails fast with the time otherwise, so
//! a 429 is the exception, not how limits are learnt. URLs are never
//! logged (interaction tokens are part of webhook URLs).

use crate::error::DiscordError;
use hermod_model::Secret;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The longest a request waits for its bucket to reset before failing
/// fast with the time that remains.
const MAX_BUCKET_WAIT: Duration = Duration::from_secs(3);

/// Routes remembered before the oldest are forgotten.
const MAX_ROUTES: usize = 4096;

/// One request: method, path under the base (`/channels/1/messages`) and
/// its rate-limit route key (the path with ids other than the top-level
/// resource replaced, so every message of a channel shares one key).
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub path: String,
    pub route: String,
    /// Webhook routes of interactions take no bot token.
    pub authenticated: bool,
}

impl Request {
    pub(crate) fn new(method: Method, path: impl Into<String>, route: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            route: route.into(),
            authenticated: true,
        }
    }

    pub(crate) fn webhook(
        method: Method,
        path: impl Into<String>,
        route: impl Into<String>,
    ) -> Self {
        Self {
            authenticated: false,
            ..Self::new(method, path, route)
        }
    }

    fn key(&self) -> String {
        format!("{} {}", self.method, self.route)
    }
}

/// What Discord's headers said about one bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    remaining: u32,
    reset_at: Instant,
}

/// The rate-limit state learnt from answers.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    /// Route key → Discord's bucket id (`X-RateLimit-Bucket`).
    buckets_of: HashMap<String, String>,
    /// Bucket id plus top-level resource → its state.
    buckets: HashMap<String, Bucket>,
    /// After a global 429: nothing before this.
    global_until: Option<Instant>,
}

impl RateLimits {
    /// The state key of a request: its bucket (when known) and resource.
    fn state_key(&self, request: &Request) -> String {
        match self.buckets_of.get(&request.key()) {
            Some(bucket) => format!("{bucket}:{}", major(&request.route)),
            None => request.key(),
        }
    }

    /// How long `request` must wait; takes its slot when it need not.
    fn take(&mut self, request: &Request, now: Instant) -> Option<Duration> {
        let mut wait = self
            .global_until
            .filter(|until| *until > now)
            .map(|until| until - now);
        let key = self.state_key(request);
        if let Some(bucket) = self.buckets.get_mut(&key) {
            if bucket.reset_at <= now {
                self.buckets.remove(&key);
            } else if bucket.remaining == 0 {
                let bucket_wait = bucket.reset_at - now;
                wait = Some(wait.map_or(bucket_wait, |w| w.max(bucket_wait)));
            } else if wait.is_none() {
                bucket.remaining -= 1;
            }
        }
        wait
    }

    /// Records what an answer's headers say.
    fn update(&mut self, request: &Request, headers: &HeaderMap, now: Instant) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(bucket) = header("x-ratelimit-bucket") {
            if self.buckets_of.len() >= MAX_ROUTES {
                self.buckets_of.clear();
            }
            self.buckets_of.insert(request.key(), bucket.to_owned());
        }
        let remaining = header("x-ratelimit-remaining").and_then(|v| v.parse::<u32>().ok());
        let reset_after = header("x-ratelimit-reset-after")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        if let (Some(remaining), Some(reset_after)) = (remaining, reset_after) {
            if self.buckets.len() >= MAX_ROUTES {
                self.buckets.retain(|_, b| b.reset_at > now);
            }
            let key = self.state_key(request);
            self.buckets.insert(
                key,
                Bucket {
                    remaining,
                    reset_at: now + reset_after,
                },
            );
        }
    }

    /// Records a 429.
    fn limited(&mut self, request: &Request, retry_after: Duration, global: bool, now: Instant) {
        if global {
            self.global_until = Some(now + retry_after);
        } else {
            let key = self.state_key(request);
            self.buckets.insert(
                key,
                Bucket {
                    remaining: 0,
                    reset_at: now + retry_after,
                },
            );
        }
    }
}

/// The top-level resource of a route (`channels/123`), which Discord's
/// per-route limits count separately.
fn major(route: &str) -> &str {
    let trimmed = route.trim_start_matches('/');
    let mut parts = trimmed.splitn(4, '/');
    match (parts.next(), parts.next(), parts.next()) {
        // A webhook is its id and token (here, the interaction's id).
        (Some(kind @ "webhooks"), Some(id), Some(token)) => {
            let end = route.len() - trimmed.len() + kind.len() + 1 + id.len() + 1 + token.len();
            &route[..end]
        }
        (Some(kind @ ("channels" | "guilds" | "webhooks" | "interactions")), Some(id), _) => {
            let end = route.len() - trimmed.len() + kind.len() + 1 + id.len();
            &route[..end]
        }
        _ => route,
    }
}

/// A REST client for one bot. Cheap to share by reference.
pub(crate) struct RestApi {
    http: reqwest::Client,
    /// Without a trailing `/`.
    base: String,
    token: Secret,
    timeout: Duration,
    limits: Mutex<RateLimits>,
}

impl std::fmt::Debug for RestApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestApi")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// A body to send.
#[derive(Debug)]
pub(crate) enum Body {
    None,
    Json(serde_json::Value),
    /// `payload_json` and `files[n]` parts (Uploading Files).
    Multipart {
        payload: serde_json::Value,
        files: Vec<Upload>,
    },
}

/// A file to upload.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
    pub mime: Option<String>,
}

impl RestApi {
    pub(crate) fn new(http: reqwest::Client, base: &str, token: Secret, timeout: Duration) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            timeout,
            limits: Mutex::new(RateLimits::default()),
        }
    }

    fn limits(&self) -> std::sync::MutexGuard<'_, RateLimits> {
        // Every update leaves the state consistent.
        self.limits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request` and reads the answer as `T` (`()` for 204).
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        request: &Request,
        body: Body,
    ) -> Result<T, DiscordError> {
        let bytes = self.send(request, body).await?;
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes
        };
        serde_json::from_slice(bytes).map_err(|e| {
            DiscordError::Protocol(format!(
                "cannot read Discord's answer to {}: {e}",
                request.route
            ))
        })
    }

    /// [`RestApi::call`] for requests whose answer is not needed.
    pub(crate) async fn call_ok(&self, request: &Request, body: Body) -> Result<(), DiscordError> {
        self.send(request, body).await.map(|_| ())
    }

    async fn send(&self, request: &Request, body: Body) -> Result<Vec<u8>, DiscordError> {
        let wait = self.limits().take(request, Instant::now());
        if let Some(wait) = wait {
            if wait > MAX_BUCKET_WAIT {
                return Err(DiscordError::RateLimited {
                    retry_after: wait,
                    global: false,
                });
            }
            tokio::time::sleep(wait).await;
            // The slot is taken now that the bucket reset.
            let _ = self.limits().take(request, Instant::now());
        }
        let url = format!("{}{}", self.base, request.path);
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .timeout(self.timeout)
            .header(reqwest::header::USER_AGENT, user_agent());
        if request.authenticated {
            builder = builder.header(
                reqwest::header::AUTHORIZATION,
                format!("Bot {}", self.token.expose()),
            );
        }
        builder = match body {
            Body::None => builder,
            Body::Json(value) => builder.json(&value),
            Body::Multipart { payload, files } => {
                let mut form =
                    reqwest::multipart::Form::new().text("payload_json", payload.to_string());
                for (i, file) in files.into_iter().enumerate() {
                    let mut part = reqwest::multipart::Part::bytes(file.bytes).file_name(file.name);
                    if let Some(mime) = &file.mime {
                        part = part.mime_str(mime).map_err(|_| {
                            DiscordError::Protocol(format!("{mime:?} is not a MIME type"))
                        })?;
                    }
                    form = form.part(format!("files[{i}]"), part);
                }
                builder.multipart(form)
            }
        };
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?.to_vec();
        let now = Instant::now();
        self.limits().update(request, &headers, now);
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        let global = headers
            .get("x-ratelimit-global")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || headers
                .get("x-ratelimit-scope")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == "global");
        let error = DiscordError::from_response(
            status,
            &bytes,
            hermod_http::parse_retry_after(&headers),
            global,
        );
        if let DiscordError::RateLimited {
            retry_after,
            global,
        } = &error
        {
            self.limits().limited(request, *retry_after, *global, now);
        }
        Err(error)
    }

    /// A GET of a file on Discord's CDN (attachments; no token: their
    /// URLs are signed).
    pub(crate) fn download(&self, url: &str) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .timeout(self.timeout)
            .header(reqwest::header::USER_AGENT, user_agent())
    }
}

/// Discord's required form: `DiscordBot ($url, $versionNumber)`.
fn user_agent() -> String {
    format!(
        "DiscordBot (https://github.com/hermod-gateway/hermod, {})",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn create(channel: u64) -> Request {
        Request::new(
            Method::POST,
            format!("/channels/{channel}/messages"),
            format!("/channels/{channel}/messages"),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_bucket_waits_for_its_reset_per_channel() {
        let mut limits = RateLimits::default();
        let now = Instant::now();
        assert_eq!(limits.take(&create(1), now), None);
        limits.update(
            &create(1),
            &headers(&[
                ("x-ratelimit-bucket", "abcd"),
                ("x-ratelimit-limit", "5"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset-after", "2.5"),
            ]),
            now,
        );
        assert_eq!(
            limits.take(&create(1), now),
            Some(Duration::from_millis(2500))
        );
        // Another channel is another resource of the same bucket.
        assert_eq!(limits.take(&create(2), now), None);
        // After the reset the bucket is free again.
        assert_eq!(limits.take(&create(1), now + Duration::from_secs(3)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_slots_are_counted_down_and_a_global_429_stops_everything() {
        let mut limits = RateLimits::default();
        let now = Instant::now();
        limits.update(
            &create(1),
            &headers(&[
                ("x-ratelimit-bucket", "abcd"),
                ("x-ratelimit-remaining", "1"),
                ("x-ratelimit-reset-after", "1.000"),
            ]),
            now,
        );
        assert_eq!(limits.take(&create(1), now), None);
        assert_eq!(limits.take(&create(1), now), Some(Duration::from_secs(1)));
        limits.limited(&create(3), Duration::from_millis(1500), true, now);
        assert_eq!(
            limits.take(&create(9), now),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn the_top_level_resource_is_the_channel_or_webhook() {
        assert_eq!(major("/channels/12/messages/34"), "/channels/12");
        assert_eq!(major("/webhooks/1/2/messages/3"), "/webhooks/1/2");
        assert_eq!(major("/webhooks/1"), "/webhooks/1");
        assert_eq!(major("/gateway/bot"), "/gateway/bot");
    }
}

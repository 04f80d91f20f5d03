//! [`NtfyApi`]: ntfy's HTTP API on a configurable base URL — the JSON
//! stream of a topic and publishing to one — and [`NtfyError`], its
//! failures classified.
//!
//! Errors come as `{"code":40101,"http":401,"error":"unauthorized",
//! "link":"..."}`; 401 and 403 mean the token (or its absence) is refused,
//! 429 that a limit was reached. ntfy itself sends no `Retry-After` (its
//! request bucket refills one request every 5 s); one sent by a proxy in
//! front of it is honoured.

use crate::types::Event;
use hermod_model::Secret;
use reqwest::StatusCode;
use std::time::Duration;

/// The wait after a 429 without `Retry-After`: ntfy's request bucket
/// refills one request every 5 s by default.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A failed call to ntfy. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NtfyError {
    /// 401 or 403: the token is missing, wrong, or may not use the topic.
    Refused { status: u16, error: String },
    /// 429.
    RateLimited(Duration),
    /// 413: the message is too large.
    TooLarge,
    /// The network, a timeout or a 5xx: it may pass.
    Transient(String),
    /// Another 4xx, or an answer that cannot be read.
    Rejected(String),
}

impl std::fmt::Display for NtfyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NtfyError::Refused { status, error } => {
                write!(f, "ntfy refused access ({status}: {error})")
            }
            NtfyError::RateLimited(wait) => write!(f, "ntfy's limit reached; retry in {wait:?}"),
            NtfyError::TooLarge => f.write_str("the message is too large for ntfy"),
            NtfyError::Transient(reason) | NtfyError::Rejected(reason) => f.write_str(reason),
        }
    }
}

/// What to tell an operator whose token is refused.
pub(crate) const AUTH_HINT: &str = "check NTFY_TOKEN: it must be an access token (tk_...) of a user \
    who may read and write NTFY_TOPIC (and NTFY_PUBLISH_TOPIC)";

impl From<NtfyError> for hermod_core::AdapterError {
    fn from(err: NtfyError) -> Self {
        use hermod_core::AdapterError;
        match err {
            NtfyError::Refused { .. } => AdapterError::Auth(format!("{err}; {AUTH_HINT}")),
            NtfyError::RateLimited(wait) => AdapterError::RateLimited {
                retry_after: Some(wait),
            },
            NtfyError::TooLarge => AdapterError::TooLong,
            NtfyError::Transient(reason) => AdapterError::Transient(reason),
            NtfyError::Rejected(reason) => AdapterError::Rejected(reason),
        }
    }
}

/// ntfy's API for one server.
#[derive(Clone)]
pub(crate) struct NtfyApi {
    http: reqwest::Client,
    base: String,
    token: Option<Secret>,
    timeout: Duration,
}

impl NtfyApi {
    pub(crate) fn new(
        http: reqwest::Client,
        base: &str,
        token: Option<Secret>,
        timeout: Duration,
    ) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            timeout,
        }
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) if !token.is_empty() => request.bearer_auth(token.expose()),
            _ => request,
        }
    }

    /// A `GET` of an attachment on this server, with the token.
    pub(crate) fn file_request(&self, url: &str) -> reqwest::RequestBuilder {
        self.authorized(self.http.get(url))
    }

    /// Whether `url` is an attachment this server serves (`/file/...`),
    /// rather than an external URL a publisher attached: only those are
    /// downloaded, so a message cannot make the gateway fetch any URL.
    pub(crate) fn serves(&self, url: &str) -> bool {
        url.strip_prefix(&format!("{}/file/", self.base))
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(['/', '?', '#']))
    }

    /// Publishes `bytes` as a file named `name` to `topic`, with our tag.
    pub(crate) async fn publish_file(
        &self,
        topic: &str,
        name: &str,
        bytes: Vec<u8>,
        headers: &[(&'static str, &'static str)],
    ) -> Result<Event, NtfyError> {
        let mut url = reqwest::Url::parse(&format!("{}/{topic}", self.base))
            .map_err(|e| NtfyError::Rejected(format!("the ntfy server URL is not valid: {e}")))?;
        // The name as a query parameter: headers cannot carry UTF-8.
        url.query_pairs_mut().append_pair("filename", name);
        let request = self.http.put(url).timeout(self.timeout).body(bytes);
        self.send_publish(request, headers).await
    }

    /// Sends a publish with `headers` and the token; ntfy answers with
    /// the message it made.
    async fn send_publish(
        &self,
        mut request: reqwest::RequestBuilder,
        headers: &[(&'static str, &'static str)],
    ) -> Result<Event, NtfyError> {
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.authorized(request).send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let body = response.text().await.map_err(transport)?;
        serde_json::from_str(&body).map_err(|e| {
            NtfyError::Rejected(format!("ntfy's answer to a publish cannot be read: {e}"))
        })
    }

    /// Opens `GET /<topic>/json`, from after message `since` when given.
    /// Returns once the headers arrived (within the request timeout); the
    /// body is the stream, read by the caller with its own read timeout.
    pub(crate) async fn subscribe(
        &self,
        topic: &str,
        since: Option<&str>,
    ) -> Result<reqwest::Response, NtfyError> {
        let url = match since {
            // ntfy's ids are letters and digits; anything else is not put
            // in the URL.
            Some(since)
                if !since.is_empty() && since.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                format!("{}/{topic}/json?since={since}", self.base)
            }
            _ => format!("{}/{topic}/json", self.base),
        };
        let request = self.http.get(url);
        let sent = tokio::time::timeout(self.timeout, self.authorized(request).send()).await;
        let response = match sent {
            Err(_) => return Err(NtfyError::Transient("opening the stream timed out".into())),
            Ok(Err(e)) => return Err(transport(e)),
            Ok(Ok(response)) => response,
        };
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(refusal(response).await)
        }
    }

    /// `GET /<topic>/json?poll=1&since=latest`: reads the topic's latest
    /// cached message and returns at once (ntfy closes a poll), so the
    /// live check opens no connection to keep.
    pub(crate) async fn poll_latest(&self, topic: &str) -> Result<(), NtfyError> {
        let request = self
            .http
            .get(format!("{}/{topic}/json?poll=1&since=latest", self.base))
            .timeout(self.timeout);
        let response = self.authorized(request).send().await.map_err(transport)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(refusal(response).await)
        }
    }

    /// `POST /<topic>` with `text` as the body; returns the message
    /// created, as ntfy answers.
    pub(crate) async fn publish(
        &self,
        topic: &str,
        text: &str,
        headers: &[(&'static str, &'static str)],
    ) -> Result<Event, NtfyError> {
        let request = self
            .http
            .post(format!("{}/{topic}", self.base))
            .timeout(self.timeout)
            .body(text.to_owned());
        self.send_publish(request, headers).await
    }
}

/// A transport failure, without the URL.
fn transport(e: reqwest::Error) -> NtfyError {
    NtfyError::Transient(format!("cannot reach ntfy: {}", e.without_url()))
}

/// A non-2xx answer, classified.
async fn refusal(response: reqwest::Response) -> NtfyError {
    let status = response.status();
    let retry_after = hermod_http::parse_retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    classify(status, retry_after, &body)
}

/// Classifies a status and ntfy's error JSON (pure, for tests).
pub(crate) fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> NtfyError {
    let error = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => NtfyError::Refused {
            status: status.as_u16(),
            error,
        },
        StatusCode::TOO_MANY_REQUESTS => {
            NtfyError::RateLimited(retry_after.unwrap_or(DEFAULT_RETRY_AFTER))
        }
        StatusCode::PAYLOAD_TOO_LARGE => NtfyError::TooLarge,
        s if s.is_server_error() => NtfyError::Transient(format!("ntfy answered {s}: {error}")),
        s => NtfyError::Rejected(format!("ntfy answered {s}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_own_files_are_served() {
        hermod_http::install_crypto_provider();
        let api = NtfyApi::new(
            reqwest::Client::new(),
            "https://ntfy.example.org/",
            None,
            Duration::from_secs(5),
        );
        assert!(api.serves("https://ntfy.example.org/file/xE73Iyuabi.txt"));
        for elsewhere in [
            "https://ntfy.example.org/file/",
            "https://ntfy.example.org/file/../admin",
            "https://ntfy.example.org/file/a?redirect=http://169.254.169.254/",
            "https://ntfy.example.org/mytopic",
            "https://ntfy.example.org.evil.example/file/x.txt",
            "http://169.254.169.254/latest/meta-data",
            "https://ntfy.example.org@evil.example/file/x.txt",
        ] {
            assert!(!api.serves(elsewhere), "{elsewhere}");
        }
    }

    #[test]
    fn ntfy_error_answers_are_classified() {
        let unauthorized = r#"{"code":40101,"http":401,"error":"unauthorized","link":"https://ntfy.sh/docs/publish/#authentication"}"#;
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED, None, unauthorized),
            NtfyError::Refused {
                status: 401,
                error: "unauthorized".into()
            }
        );
        let forbidden = r#"{"code":40301,"http":403,"error":"forbidden","link":"https://ntfy.sh/docs/publish/#authentication"}"#;
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, None, forbidden),
            NtfyError::Refused { status: 403, .. }
        ));
        let limited = r#"{"code":42901,"http":429,"error":"limit reached: too many requests","link":"https://ntfy.sh/docs/publish/#limitations"}"#;
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, None, limited),
            NtfyError::RateLimited(DEFAULT_RETRY_AFTER)
        );
        assert_eq!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(9)),
                limited
            ),
            NtfyError::RateLimited(Duration::from_secs(9))
        );
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, None, "<html>"),
            NtfyError::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, None, r#"{"code":40010,"http":400,"error":"invalid request: topic invalid"}"#),
            NtfyError::Rejected(reason) if reason.contains("topic invalid")
        ));
        assert_eq!(
            classify(StatusCode::PAYLOAD_TOO_LARGE, None, ""),
            NtfyError::TooLarge
        );
    }

    #[test]
    fn refusals_stop_the_adapter_and_limits_carry_their_wait() {
        use hermod_core::AdapterError;
        let auth: AdapterError = NtfyError::Refused {
            status: 401,
            error: "unauthorized".into(),
        }
        .into();
        assert!(matches!(auth, AdapterError::Auth(m) if m.contains("NTFY_TOKEN")));
        let limited: AdapterError = NtfyError::RateLimited(Duration::from_secs(3)).into();
        assert_eq!(
            limited,
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }
}

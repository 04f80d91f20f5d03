//! [`MattermostApi`]: the REST v4 endpoints the adapter uses, on a
//! configurable base URL, and [`MmError`], their failures classified.
//!
//! Every call carries `Authorization: Bearer <token>`. Failures come as
//! `{"id": "...", "message": "...", "status_code": n}`: 401 means the
//! token is refused; 429 comes from the server's rate limiter (plain
//! text) with `X-Ratelimit-Reset` — seconds until the limit resets — and
//! `Retry-After`.

use crate::types::{Me, Post};
use hermod_model::Secret;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The wait after a 429 that names none.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A failed call to Mattermost. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MmError {
    /// 401: the token is missing, wrong, revoked or expired.
    Auth(String),
    /// 429.
    RateLimited(Duration),
    /// 404.
    NotFound(String),
    /// The message is too long for the server.
    TooLong,
    /// The network, a timeout or a 5xx: it may pass.
    Transient(String),
    /// Another 4xx (403: no permission in the channel), or an answer that
    /// cannot be read.
    Rejected(String),
}

impl std::fmt::Display for MmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MmError::Auth(reason) => write!(f, "Mattermost refused the token ({reason})"),
            MmError::RateLimited(wait) => {
                write!(f, "Mattermost's rate limit reached; retry in {wait:?}")
            }
            MmError::TooLong => f.write_str("the message is too long for Mattermost"),
            MmError::NotFound(reason) | MmError::Transient(reason) | MmError::Rejected(reason) => {
                f.write_str(reason)
            }
        }
    }
}

/// What to tell an operator whose token is refused.
pub(crate) const AUTH_HINT: &str = "check MATTERMOST_TOKEN: a bot account's access token (System Console → \
    Integrations → Bot Accounts) or a personal access token, for the server in MATTERMOST_URL";

impl From<MmError> for hermod_core::AdapterError {
    fn from(err: MmError) -> Self {
        use hermod_core::AdapterError;
        match err {
            MmError::Auth(_) => AdapterError::Auth(format!("{err}; {AUTH_HINT}")),
            MmError::RateLimited(wait) => AdapterError::RateLimited {
                retry_after: Some(wait),
            },
            MmError::NotFound(reason) => AdapterError::NotFound(reason),
            MmError::TooLong => AdapterError::TooLong,
            MmError::Transient(reason) => AdapterError::Transient(reason),
            MmError::Rejected(reason) => AdapterError::Rejected(reason),
        }
    }
}

/// A channel's type and names (`GET /api/v4/channels/{id}`, and each of
/// `GET /api/v4/users/me/channels`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct ChannelInfo {
    #[serde(default)]
    pub id: String,
    /// When the channel's newest post was created (ms).
    #[serde(default)]
    pub last_post_at: i64,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub name: String,
}

/// A file's metadata (`GET /api/v4/files/{id}/info`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct FileInfo {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub extension: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub mime_type: String,
}

/// A new post: the body of `POST /api/v4/posts`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct NewPost<'a> {
    pub channel_id: &'a str,
    pub message: &'a str,
    pub root_id: Option<&'a str>,
    pub file_ids: &'a [String],
    /// The server answers a repeat within 30 s with the post the first
    /// one created (its `seenPendingPostIdsCache`).
    pub pending_post_id: Option<String>,
}

impl NewPost<'_> {
    /// The request body (pure, for tests).
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({"channel_id": self.channel_id, "message": self.message});
        if let Some(root) = self.root_id.filter(|r| !r.is_empty()) {
            body["root_id"] = json!(root);
        }
        if !self.file_ids.is_empty() {
            body["file_ids"] = json!(self.file_ids);
        }
        if let Some(pending) = &self.pending_post_id {
            body["pending_post_id"] = json!(pending);
        }
        body
    }
}

/// Mattermost's REST API for one server and token.
#[derive(Clone)]
pub(crate) struct MattermostApi {
    http: reqwest::Client,
    base: String,
    token: Secret,
    timeout: Duration,
}

impl MattermostApi {
    pub(crate) fn new(http: reqwest::Client, base: &str, token: Secret, timeout: Duration) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            timeout,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v4/{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(self.token.expose())
            .timeout(self.timeout)
    }

    /// The websocket's URL (`ws`/`wss`), resuming `connection_id` from
    /// `sequence_number` when given.
    pub(crate) fn websocket_url(&self, resume: Option<(&str, i64)>) -> String {
        let base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base.clone()
        };
        match resume {
            Some((id, seq)) if id.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                format!("{base}/api/v4/websocket?connection_id={id}&sequence_number={seq}")
            }
            _ => format!("{base}/api/v4/websocket"),
        }
    }

    pub(crate) fn token(&self) -> &Secret {
        &self.token
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, MmError> {
        let response = request.send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let body = response.text().await.map_err(transport)?;
        serde_json::from_str(&body)
            .map_err(|e| MmError::Rejected(format!("Mattermost's answer cannot be read: {e}")))
    }

    /// `GET users/me`: who the token is.
    pub(crate) async fn me(&self) -> Result<Me, MmError> {
        self.call(self.request(reqwest::Method::GET, "users/me"))
            .await
    }

    /// `GET users/{id}`: a user's username.
    pub(crate) async fn username(&self, id: &str) -> Result<String, MmError> {
        let user: Me = self
            .call(self.request(reqwest::Method::GET, &format!("users/{id}")))
            .await?;
        Ok(user.username)
    }

    /// `POST posts`.
    pub(crate) async fn create_post(&self, post: &NewPost<'_>) -> Result<Post, MmError> {
        self.call(
            self.request(reqwest::Method::POST, "posts")
                .json(&post.body()),
        )
        .await
    }

    /// `PUT posts/{id}/patch` with a new message.
    pub(crate) async fn patch_post(&self, id: &str, message: &str) -> Result<Post, MmError> {
        let body = json!({"message": message});
        self.call(
            self.request(reqwest::Method::PUT, &format!("posts/{id}/patch"))
                .json(&body),
        )
        .await
    }

    /// `DELETE posts/{id}`.
    pub(crate) async fn delete_post(&self, id: &str) -> Result<(), MmError> {
        let _: Value = self
            .call(self.request(reqwest::Method::DELETE, &format!("posts/{id}")))
            .await?;
        Ok(())
    }

    /// `GET channels/{id}`.
    pub(crate) async fn channel(&self, id: &str) -> Result<ChannelInfo, MmError> {
        self.call(self.request(reqwest::Method::GET, &format!("channels/{id}")))
            .await
    }

    /// `GET users/me/channels` (server 6.1+): every channel of every team
    /// the bot is in.
    pub(crate) async fn my_channels(&self) -> Result<Vec<ChannelInfo>, MmError> {
        self.call(self.request(reqwest::Method::GET, "users/me/channels"))
            .await
    }

    /// `GET channels/{id}/posts?since=<ms>`: the posts changed after
    /// `since`, oldest first.
    pub(crate) async fn posts_since(
        &self,
        channel: &str,
        since: i64,
    ) -> Result<Vec<Post>, MmError> {
        #[derive(Deserialize)]
        struct PostList {
            #[serde(default)]
            order: Vec<String>,
            #[serde(default)]
            posts: std::collections::HashMap<String, Post>,
        }
        let path = format!("channels/{channel}/posts?since={since}");
        let mut list: PostList = self.call(self.request(reqwest::Method::GET, &path)).await?;
        let mut posts: Vec<Post> = list
            .order
            .iter()
            .filter_map(|id| list.posts.remove(id))
            .collect();
        posts.extend(list.posts.into_values());
        posts.sort_by_key(|p| p.create_at);
        Ok(posts)
    }

    /// `POST users/me/typing`.
    pub(crate) async fn typing(&self, channel: &str, parent: Option<&str>) -> Result<(), MmError> {
        let body = json!({"channel_id": channel, "parent_id": parent.unwrap_or_default()});
        let _: Value = self
            .call(
                self.request(reqwest::Method::POST, "users/me/typing")
                    .json(&body),
            )
            .await?;
        Ok(())
    }

    /// `POST files` (multipart `channel_id` and `files`): the new file's id.
    pub(crate) async fn upload(
        &self,
        channel: &str,
        name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> Result<String, MmError> {
        #[derive(Deserialize)]
        struct Uploaded {
            #[serde(default)]
            file_infos: Vec<FileInfo>,
        }
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(mime)
            .map_err(|e| {
                MmError::Rejected(format!("the file's type {mime:?} cannot be sent: {e}"))
            })?;
        let form = reqwest::multipart::Form::new()
            .text("channel_id", channel.to_owned())
            .part("files", part);
        let uploaded: Uploaded = self
            .call(self.request(reqwest::Method::POST, "files").multipart(form))
            .await?;
        uploaded
            .file_infos
            .into_iter()
            .next()
            .map(|f| f.id)
            .ok_or_else(|| {
                MmError::Rejected("Mattermost answered an upload without the file".into())
            })
    }

    /// `GET files/{id}/info`.
    pub(crate) async fn file_info(&self, id: &str) -> Result<FileInfo, MmError> {
        self.call(self.request(reqwest::Method::GET, &format!("files/{id}/info")))
            .await
    }

    /// `GET files/{id}`, with the token, for the kit's media download.
    pub(crate) fn file_request(&self, id: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, &format!("files/{id}"))
    }
}

/// A transport failure, without the URL.
fn transport(e: reqwest::Error) -> MmError {
    if e.is_timeout() {
        return MmError::Transient("Mattermost did not answer in time".into());
    }
    MmError::Transient(format!("cannot reach Mattermost: {}", e.without_url()))
}

/// A non-2xx answer, classified.
async fn refusal(response: reqwest::Response) -> MmError {
    let status = response.status();
    let wait = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    classify(status, wait, &body)
}

/// The wait a 429 asks for: `X-Ratelimit-Reset` (seconds), else
/// `Retry-After`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .or_else(|| hermod_http::parse_retry_after(headers))
}

/// Classifies a status and Mattermost's error JSON (pure, for tests).
pub(crate) fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> MmError {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let id = parsed
        .as_ref()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let message = parsed
        .as_ref()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    match status {
        StatusCode::UNAUTHORIZED => MmError::Auth(message),
        StatusCode::TOO_MANY_REQUESTS => MmError::RateLimited(
            retry_after
                .unwrap_or(DEFAULT_RETRY_AFTER)
                .max(DEFAULT_RETRY_AFTER),
        ),
        StatusCode::NOT_FOUND => MmError::NotFound(format!("Mattermost answered 404: {message}")),
        StatusCode::PAYLOAD_TOO_LARGE => MmError::TooLong,
        StatusCode::BAD_REQUEST if id.contains("message_length") || id.contains("msg_too_long") => {
            MmError::TooLong
        }
        s if s.is_server_error() => {
            MmError::Transient(format!("Mattermost answered {s}: {message}"))
        }
        s => MmError::Rejected(format!("Mattermost answered {s}: {message} ({id})")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test helpers fail loudly on unexpected errors"
    )]

    use super::*;
    use hermod_core::AdapterError;

    #[test]
    fn mattermost_errors_are_classified() {
        let expired = r#"{"id":"api.context.session_expired.app_error","message":"Invalid or expired session, please login again.","detailed_error":"","request_id":"r","status_code":401}"#;
        assert!(
            matches!(classify(StatusCode::UNAUTHORIZED, None, expired), MmError::Auth(m) if m.contains("expired"))
        );
        assert_eq!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(7)),
                "limit exceeded\n"
            ),
            MmError::RateLimited(Duration::from_secs(7))
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, None, "limit exceeded\n"),
            MmError::RateLimited(DEFAULT_RETRY_AFTER)
        );
        let permission = r#"{"id":"api.context.permissions.app_error","message":"You do not have the appropriate permissions.","status_code":403}"#;
        assert!(
            matches!(classify(StatusCode::FORBIDDEN, None, permission), MmError::Rejected(m) if m.contains("permissions"))
        );
        let long = r#"{"id":"model.post.is_valid.message_length.app_error","message":"Message too long","status_code":400}"#;
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, None, long),
            MmError::TooLong
        );
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, None, "<html>"),
            MmError::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, None, "{}"),
            MmError::NotFound(_)
        ));
    }

    #[test]
    fn the_rate_limit_reset_header_is_the_wait() {
        let mut headers = HeaderMap::new();
        headers.insert("X-Ratelimit-Reset", "4".parse().unwrap());
        headers.insert("Retry-After", "9".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(4)));
        headers.remove("X-Ratelimit-Reset");
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(9)));
        let auth: AdapterError = MmError::Auth("expired".into()).into();
        assert!(matches!(auth, AdapterError::Auth(m) if m.contains("MATTERMOST_TOKEN")));
    }

    #[test]
    fn new_posts_carry_only_what_is_set() {
        let files = ["f1".to_owned()];
        let post = NewPost {
            channel_id: "c",
            message: "hi",
            root_id: Some("r"),
            file_ids: &files,
            pending_post_id: Some("hermod:k".into()),
        };
        assert_eq!(
            post.body(),
            json!({"channel_id": "c", "message": "hi", "root_id": "r", "file_ids": ["f1"], "pending_post_id": "hermod:k"})
        );
        let plain = NewPost {
            channel_id: "c",
            message: "hi",
            ..NewPost::default()
        };
        assert_eq!(plain.body(), json!({"channel_id": "c", "message": "hi"}));
    }

    #[test]
    fn websocket_urls_follow_the_scheme_and_resume() {
        hermod_http::install_crypto_provider();
        let api = |base: &str| {
            MattermostApi::new(
                reqwest::Client::new(),
                base,
                Secret::new("t"),
                Duration::from_secs(1),
            )
        };
        assert_eq!(
            api("https://mm.example.com/").websocket_url(None),
            "wss://mm.example.com/api/v4/websocket"
        );
        assert_eq!(
            api("http://127.0.0.1:8065").websocket_url(Some(("abc123", 7))),
            "ws://127.0.0.1:8065/api/v4/websocket?connection_id=abc123&sequence_number=7"
        );
        assert_eq!(
            api("http://h").websocket_url(Some(("a&b", 1))),
            "ws://h/api/v4/websocket",
            "an id that is not one is not put in the URL"
        );
    }
}

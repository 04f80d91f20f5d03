//! [`MatrixApi`]: the client-server API calls the adapter makes, on a
//! configurable homeserver, and [`MatrixError`], their failures
//! classified.
//!
//! Errors come as `{"errcode":"M_...","error":"..."}`. `M_LIMIT_EXCEEDED`
//! (429) carries `retry_after_ms` (or a `Retry-After` header, since v1.10);
//! `M_UNKNOWN_TOKEN`, `M_MISSING_TOKEN` and `M_FORBIDDEN` on login mean the
//! credentials are refused.

use hermod_model::Secret;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// The wait after a 429 that says nothing about how long.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A failed call to the homeserver. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MatrixError {
    /// 401, or a login refused: the token or password is not accepted.
    #[error("the homeserver refused our credentials ({errcode}: {error})")]
    Unauthorized { errcode: String, error: String },
    /// 429 `M_LIMIT_EXCEEDED`.
    #[error("the homeserver's rate limit was reached; retry in {0:?}")]
    RateLimited(Duration),
    /// 404 `M_NOT_FOUND`, or a room or event we may not see.
    #[error("not found on the homeserver ({errcode}: {error})")]
    NotFound { errcode: String, error: String },
    /// 413 `M_TOO_LARGE`.
    #[error("too large for the homeserver")]
    TooLarge,
    /// The network, a timeout or a 5xx: it may pass.
    #[error("{0}")]
    Transient(String),
    /// Another 4xx (`M_FORBIDDEN` in a room, `M_BAD_JSON`, ...), or an
    /// answer that cannot be read.
    #[error("{0}")]
    Rejected(String),
}

/// What to tell an operator whose credentials are refused.
pub(crate) const AUTH_HINT: &str = "check MATRIX_ACCESS_TOKEN (or MATRIX_USER_ID and MATRIX_PASSWORD): \
    the token may have been logged out; a password login is done again at the next start";

impl From<MatrixError> for hermod_core::AdapterError {
    fn from(err: MatrixError) -> Self {
        use hermod_core::AdapterError;
        match err {
            MatrixError::Unauthorized { .. } => AdapterError::Auth(format!("{err}; {AUTH_HINT}")),
            MatrixError::RateLimited(wait) => AdapterError::RateLimited {
                retry_after: Some(wait),
            },
            MatrixError::NotFound { .. } => AdapterError::NotFound(err.to_string()),
            MatrixError::TooLarge => AdapterError::TooLong,
            MatrixError::Transient(reason) => AdapterError::Transient(reason),
            MatrixError::Rejected(reason) => AdapterError::Rejected(reason),
        }
    }
}

/// The answer to a login or `whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Identity {
    pub user_id: String,
    #[serde(default)]
    pub device_id: Option<String>,
}

#[derive(Deserialize)]
struct LoginAnswer {
    user_id: String,
    access_token: String,
    #[serde(default)]
    device_id: Option<String>,
}

/// The homeserver's client-server API for one account.
#[derive(Clone)]
pub(crate) struct MatrixApi {
    http: reqwest::Client,
    base: Url,
    token: Arc<RwLock<Option<Secret>>>,
    timeout: Duration,
}

impl MatrixApi {
    pub(crate) fn new(
        http: reqwest::Client,
        base: &str,
        timeout: Duration,
    ) -> Result<Self, String> {
        let base = Url::parse(base.trim_end_matches('/'))
            .map_err(|e| format!("MATRIX_HOMESERVER is not a URL: {e}"))?;
        Ok(Self {
            http,
            base,
            token: Arc::new(RwLock::new(None)),
            timeout,
        })
    }

    pub(crate) fn set_token(&self, token: Secret) {
        *self.token.write().unwrap_or_else(PoisonError::into_inner) = Some(token);
    }

    fn token(&self) -> Option<Secret> {
        self.token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `base` + `/_matrix/...` path segments, each percent-encoded (room
    /// ids hold `!` and `:`, event ids `$`).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn client(&self, segments: &[&str]) -> Url {
        let mut all = vec!["_matrix", "client", "v3"];
        all.extend_from_slice(segments);
        self.url(&all)
    }

    /// A request with the token, the timeout and `body` as JSON.
    pub(crate) fn request(
        &self,
        method: Method,
        url: Url,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url).timeout(timeout);
        match self.token() {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    /// Sends `request` and reads the JSON answer, classifying failures.
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, MatrixError> {
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = hermod_http::parse_retry_after(response.headers());
        let body = response.text().await.map_err(transport)?;
        if !status.is_success() {
            return Err(classify(status, retry_after, &body));
        }
        serde_json::from_str(&body).map_err(|e| {
            MatrixError::Rejected(format!("the homeserver's answer cannot be read: {e}"))
        })
    }

    async fn json(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<Value, MatrixError> {
        let mut request = self.request(method, self.client(segments), self.timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.call(request).await
    }

    /// `POST /login` with `m.login.password` for `user_id`, reusing
    /// `device_id` when given; the token is kept for the calls after.
    pub(crate) async fn login(
        &self,
        user_id: &str,
        password: &Secret,
        device_id: Option<&str>,
    ) -> Result<(Identity, Secret), MatrixError> {
        let mut body = serde_json::json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user_id},
            "password": password.expose(),
            "initial_device_display_name": "hermod",
        });
        if let Some(device) = device_id {
            body["device_id"] = Value::from(device);
        }
        let request = self
            .http
            .post(self.client(&["login"]))
            .timeout(self.timeout)
            .json(&body);
        let answer = self.call(request).await.map_err(|e| match e {
            // A wrong password is 403 M_FORBIDDEN.
            MatrixError::Rejected(reason) if reason.contains("M_FORBIDDEN") => {
                MatrixError::Unauthorized {
                    errcode: "M_FORBIDDEN".into(),
                    error: "the password login was refused".into(),
                }
            }
            other => other,
        })?;
        let answer: LoginAnswer = serde_json::from_value(answer)
            .map_err(|e| MatrixError::Rejected(format!("the login answer cannot be read: {e}")))?;
        let token = Secret::new(answer.access_token);
        self.set_token(token.clone());
        Ok((
            Identity {
                user_id: answer.user_id,
                device_id: answer.device_id,
            },
            token,
        ))
    }

    /// `GET /_matrix/client/versions`: the spec versions the homeserver
    /// speaks (no token needed).
    pub(crate) async fn versions(&self) -> Result<Vec<String>, MatrixError> {
        let url = self.url(&["_matrix", "client", "versions"]);
        let answer = self.call(self.http.get(url).timeout(self.timeout)).await?;
        Ok(answer["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect())
    }

    /// `GET /account/whoami`: who the token belongs to.
    pub(crate) async fn whoami(&self) -> Result<Identity, MatrixError> {
        let answer = self.json(Method::GET, &["account", "whoami"], None).await?;
        serde_json::from_value(answer)
            .map_err(|e| MatrixError::Rejected(format!("the whoami answer cannot be read: {e}")))
    }

    /// `GET /profile/{user}/displayname`; `None` when there is none.
    pub(crate) async fn display_name(&self, user: &str) -> Result<Option<String>, MatrixError> {
        match self
            .json(Method::GET, &["profile", user, "displayname"], None)
            .await
        {
            Ok(answer) => Ok(answer["displayname"].as_str().map(str::to_owned)),
            Err(MatrixError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /sync` from `since` with an inline `filter`, held open up to
    /// `wait` by the homeserver.
    pub(crate) async fn sync(
        &self,
        since: Option<&str>,
        filter: &str,
        wait: Duration,
    ) -> Result<Value, MatrixError> {
        let mut url = self.client(&["sync"]);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("filter", filter);
            query.append_pair("timeout", &wait.as_millis().to_string());
            query.append_pair("set_presence", "offline");
            if let Some(since) = since {
                query.append_pair("since", since);
            }
        }
        // The homeserver holds the request for `wait`; the timeout is on top.
        let request = self.request(Method::GET, url, wait + self.timeout);
        self.call(request).await
    }

    /// `PUT /rooms/{room}/send/{type}/{txn}`: the event's id. A repeated
    /// `txn` (from this device) is answered with the first event's id
    /// instead of a second event.
    pub(crate) async fn send(
        &self,
        room: &str,
        event_type: &str,
        txn: &str,
        content: &Value,
    ) -> Result<String, MatrixError> {
        let answer = self
            .json(
                Method::PUT,
                &["rooms", room, "send", event_type, txn],
                Some(content),
            )
            .await?;
        event_id(&answer)
    }

    /// `PUT /rooms/{room}/redact/{event}/{txn}`.
    pub(crate) async fn redact(
        &self,
        room: &str,
        event: &str,
        txn: &str,
    ) -> Result<(), MatrixError> {
        self.json(
            Method::PUT,
            &["rooms", room, "redact", event, txn],
            Some(&serde_json::json!({})),
        )
        .await
        .map(drop)
    }

    /// `PUT /rooms/{room}/typing/{user}`.
    pub(crate) async fn typing(
        &self,
        room: &str,
        user: &str,
        timeout: Duration,
    ) -> Result<(), MatrixError> {
        let body = serde_json::json!({"typing": true, "timeout": timeout.as_millis()});
        self.json(Method::PUT, &["rooms", room, "typing", user], Some(&body))
            .await
            .map(drop)
    }

    /// `POST /join/{room}`: accepts an invite.
    pub(crate) async fn join(&self, room: &str) -> Result<(), MatrixError> {
        self.json(Method::POST, &["join", room], Some(&serde_json::json!({})))
            .await
            .map(drop)
    }

    /// `POST /rooms/{room}/leave`: declines an invite.
    pub(crate) async fn leave(&self, room: &str) -> Result<(), MatrixError> {
        self.json(
            Method::POST,
            &["rooms", room, "leave"],
            Some(&serde_json::json!({})),
        )
        .await
        .map(drop)
    }

    /// `GET /rooms/{room}/joined_members`: how many are in the room.
    pub(crate) async fn joined_member_count(&self, room: &str) -> Result<usize, MatrixError> {
        let answer = self
            .json(Method::GET, &["rooms", room, "joined_members"], None)
            .await?;
        Ok(answer["joined"].as_object().map_or(0, serde_json::Map::len))
    }

    /// `POST /_matrix/media/v3/upload`: the file's `mxc://` URI.
    pub(crate) async fn upload(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
        file_name: &str,
    ) -> Result<String, MatrixError> {
        let mut url = self.url(&["_matrix", "media", "v3", "upload"]);
        url.query_pairs_mut().append_pair("filename", file_name);
        let request = self
            .request(Method::POST, url, self.timeout * 4)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        let answer = self.call(request).await?;
        answer["content_uri"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| MatrixError::Rejected("the upload answer has no content_uri".into()))
    }

    /// The authenticated download URL of `mxc://server/media`
    /// (`/_matrix/client/v1/media/download`, v1.11), and the legacy one
    /// for older homeservers; `None` when `mxc` is not an `mxc://` URI.
    pub(crate) fn download_urls(&self, mxc: &str) -> Option<(Url, Url)> {
        let (server, media) = mxc.strip_prefix("mxc://")?.split_once('/')?;
        if server.is_empty() || media.is_empty() || media.contains('/') {
            return None;
        }
        Some((
            self.url(&[
                "_matrix", "client", "v1", "media", "download", server, media,
            ]),
            self.url(&["_matrix", "media", "v3", "download", server, media]),
        ))
    }

    /// A GET of `url` with the token, for media downloads.
    pub(crate) fn get(&self, url: Url) -> reqwest::RequestBuilder {
        self.request(Method::GET, url, self.timeout * 4)
    }
}

fn event_id(answer: &Value) -> Result<String, MatrixError> {
    answer["event_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| MatrixError::Rejected("the homeserver's answer has no event_id".into()))
}

/// A transport failure, without the URL (it may hold a sync token).
fn transport(e: reqwest::Error) -> MatrixError {
    if e.is_timeout() {
        MatrixError::Transient("the homeserver did not answer in time".into())
    } else {
        MatrixError::Transient(format!("cannot reach the homeserver: {}", e.without_url()))
    }
}

/// Classifies a status and the Matrix error JSON (pure, for tests).
pub(crate) fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> MatrixError {
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let errcode = json["errcode"].as_str().unwrap_or("").to_owned();
    let error = json["error"].as_str().map_or_else(
        || status.canonical_reason().unwrap_or("error").to_owned(),
        str::to_owned,
    );
    if status == StatusCode::TOO_MANY_REQUESTS || errcode == "M_LIMIT_EXCEEDED" {
        let wait = json["retry_after_ms"]
            .as_u64()
            .map(Duration::from_millis)
            .or(retry_after)
            .unwrap_or(DEFAULT_RETRY_AFTER);
        return MatrixError::RateLimited(wait);
    }
    match (status, errcode.as_str()) {
        (StatusCode::UNAUTHORIZED, _) | (_, "M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN") => {
            MatrixError::Unauthorized { errcode, error }
        }
        (StatusCode::NOT_FOUND, _) | (_, "M_NOT_FOUND") => MatrixError::NotFound { errcode, error },
        (StatusCode::PAYLOAD_TOO_LARGE, _) | (_, "M_TOO_LARGE") => MatrixError::TooLarge,
        (s, _) if s.is_server_error() => {
            MatrixError::Transient(format!("the homeserver answered {s}: {errcode} {error}"))
        }
        (s, _) => MatrixError::Rejected(format!("the homeserver answered {s}: {errcode} {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_core::AdapterError;

    #[test]
    fn matrix_error_answers_are_classified() {
        let limited =
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2000}"#;
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, None, limited),
            MatrixError::RateLimited(Duration::from_millis(2000))
        );
        assert_eq!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(7)),
                r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests"}"#
            ),
            MatrixError::RateLimited(Duration::from_secs(7))
        );
        let unknown = r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed.","soft_logout":false}"#;
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, None, unknown),
            MatrixError::Unauthorized { errcode, .. } if errcode == "M_UNKNOWN_TOKEN"
        ));
        assert!(matches!(
            classify(
                StatusCode::NOT_FOUND,
                None,
                r#"{"errcode":"M_NOT_FOUND","error":"Unknown room"}"#
            ),
            MatrixError::NotFound { .. }
        ));
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, None, r#"{"errcode":"M_FORBIDDEN","error":"User not in room"}"#),
            MatrixError::Rejected(reason) if reason.contains("M_FORBIDDEN")
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, None, "<html>"),
            MatrixError::Transient(_)
        ));
        assert_eq!(
            classify(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                r#"{"errcode":"M_TOO_LARGE"}"#
            ),
            MatrixError::TooLarge
        );
    }

    #[test]
    fn refused_tokens_stop_the_adapter_and_limits_carry_their_wait() {
        let auth: AdapterError = MatrixError::Unauthorized {
            errcode: "M_UNKNOWN_TOKEN".into(),
            error: "x".into(),
        }
        .into();
        assert!(matches!(auth, AdapterError::Auth(m) if m.contains("MATRIX_ACCESS_TOKEN")));
        let limited: AdapterError = MatrixError::RateLimited(Duration::from_secs(3)).into();
        assert_eq!(
            limited,
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn ids_are_percent_encoded_in_paths() {
        let api = MatrixApi::new(
            hermod_adapter_kit::http_client().unwrap().reqwest().clone(),
            "https://hs.example.org/base/",
            Duration::from_secs(1),
        )
        .unwrap();
        let url = api.client(&["rooms", "!abc:example.org", "send", "m.room.message", "t1"]);
        assert_eq!(
            url.as_str(),
            "https://hs.example.org/base/_matrix/client/v3/rooms/!abc:example.org/send/m.room.message/t1"
        );
        let url = api.client(&["rooms", "!r:x", "redact", "$ev/ent?#", "t"]);
        assert!(url.as_str().ends_with("/redact/$ev%2Fent%3F%23/t"), "{url}");
        let (v1, v3) = api.download_urls("mxc://example.org/AbC123").unwrap();
        assert!(
            v1.as_str()
                .ends_with("/_matrix/client/v1/media/download/example.org/AbC123")
        );
        assert!(
            v3.as_str()
                .ends_with("/_matrix/media/v3/download/example.org/AbC123")
        );
        assert!(api.download_urls("https://example.org/x").is_none());
        assert!(api.download_urls("mxc://example.org/a/b").is_none());
    }
}

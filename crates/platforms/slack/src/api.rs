//! [`WebApi`]: the Web API methods this adapter calls, on an injectable
//! base URL (`{base}/{method}`, Slack's is `https://slack.com/api`).
//!
//! Every call is a POST with form-encoded arguments (every method takes
//! them; JSON only some) and the token in `Authorization: Bearer`, with a
//! timeout. The answer is read whatever its status: HTTP 429 carries
//! `Retry-After`, other failures `{"ok": false, "error": code}`, both
//! classified into [`SlackError`].

use crate::error::{SlackError, TokenKind};
use hermod_model::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Arguments of one call, in order.
pub(crate) type Args = Vec<(&'static str, String)>;

/// A Web API client for one app. Cheap to clone.
#[derive(Clone)]
pub(crate) struct WebApi {
    http: reqwest::Client,
    /// Without a trailing `/`.
    base: String,
    bot_token: Secret,
    app_token: Option<Secret>,
    timeout: Duration,
}

impl std::fmt::Debug for WebApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebApi")
            .field("base", &self.base)
            .field("bot_token", &self.bot_token)
            .field("app_token", &self.app_token)
            .finish_non_exhaustive()
    }
}

/// The envelope of every answer.
#[derive(Debug, Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
}

/// `auth.test`: who the bot token belongs to.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AuthTest {
    /// The bot's user id (`U…`): mentions of it, its own messages.
    pub user_id: String,
    /// The bot's id (`B…`) on the messages it posts.
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
}

/// An answer with a message's `ts` (`chat.postMessage`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Posted {
    #[serde(default)]
    pub ts: Option<String>,
}

/// `apps.connections.open`: a one-use websocket URL.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SocketUrl {
    pub url: String,
}

/// `files.getUploadURLExternal`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UploadUrl {
    pub upload_url: String,
    pub file_id: String,
}

/// `files.completeUploadExternal`: the files it finished. Slack's
/// reference shows each with its id and title only; a file object that
/// carries its `shares` already names the message.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Completed {
    #[serde(default)]
    pub files: Vec<FileObject>,
}

/// `files.info`: the file object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FileInfo {
    pub file: FileObject,
}

/// The parts of Slack's file object that say where it is shared.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct FileObject {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub shares: Shares,
}

/// A file's `shares`: channel id → the messages that share it, in
/// public channels and in private ones (private channels, DMs).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Shares {
    #[serde(default)]
    pub public: std::collections::HashMap<String, Vec<Share>>,
    #[serde(default)]
    pub private: std::collections::HashMap<String, Vec<Share>>,
}

/// One message sharing a file.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Share {
    /// The message's ts.
    pub ts: String,
    /// The thread the message is in, when it is a reply.
    #[serde(default)]
    pub thread_ts: Option<String>,
}

impl FileObject {
    /// The ts of the message sharing this file in `channel`, in the
    /// thread `thread_ts` (or outside any thread).
    pub(crate) fn shared_in(&self, channel: &str, thread_ts: Option<&str>) -> Option<String> {
        let shares = self.shares.public.get(channel).into_iter();
        shares
            .chain(self.shares.private.get(channel))
            .flatten()
            .find(|share| {
                // A top-level message with replies carries its own ts as
                // `thread_ts`.
                let thread = share.thread_ts.as_deref().filter(|t| *t != share.ts);
                thread == thread_ts
            })
            .map(|share| share.ts.clone())
    }
}

/// An answer whose fields are not needed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Done {}

impl WebApi {
    pub(crate) fn new(
        http: reqwest::Client,
        base: &str,
        bot_token: Secret,
        app_token: Option<Secret>,
        timeout: Duration,
    ) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            bot_token,
            app_token,
            timeout,
        }
    }

    /// Calls `method` with the bot token.
    pub(crate) async fn call<R: DeserializeOwned>(
        &self,
        method: &str,
        args: &Args,
    ) -> Result<R, SlackError> {
        self.call_as(method, args, TokenKind::Bot).await
    }

    /// Calls `method` with `token`'s token.
    pub(crate) async fn call_as<R: DeserializeOwned>(
        &self,
        method: &str,
        args: &Args,
        token: TokenKind,
    ) -> Result<R, SlackError> {
        let secret = match token {
            TokenKind::Bot => &self.bot_token,
            TokenKind::App => self.app_token.as_ref().ok_or_else(|| SlackError::Auth {
                code: "not_authed".into(),
                token,
            })?,
        };
        let body = {
            let mut body = form_urlencoded::Serializer::new(String::new());
            for (name, value) in args {
                body.append_pair(name, value);
            }
            body.finish()
        };
        let response = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(secret.expose())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .timeout(self.timeout)
            .send()
            .await?;
        let status = response.status().as_u16();
        let retry_after = hermod_http::parse_retry_after(response.headers());
        let body = response.bytes().await?;
        parse_answer(method, token, status, retry_after, &body)
    }

    /// A GET of a file Slack hosts (a file object's `url_private_download`)
    /// with the bot token in `Authorization: Bearer`, as Slack's file
    /// URLs require, for the kit's `MediaDir`. The token goes wherever
    /// `url` points, so callers pass only URLs [`crate::files`] found on
    /// Slack's hosts; on a redirect to another host, reqwest drops the
    /// header. The URL is never logged.
    pub(crate) fn download(&self, url: &str) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .bearer_auth(self.bot_token.expose())
            .timeout(self.timeout.max(Duration::from_secs(120)))
    }

    /// POSTs a file's bytes to the URL `files.getUploadURLExternal` gave.
    /// That URL is its own credential: it is never logged.
    pub(crate) async fn upload(
        &self,
        url: &str,
        bytes: Vec<u8>,
        filename: &str,
    ) -> Result<(), SlackError> {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned());
        let form = reqwest::multipart::Form::new().part("file", part);
        let response = self
            .http
            .post(url)
            .multipart(form)
            .timeout(self.timeout.max(Duration::from_secs(120)))
            .send()
            .await?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let retry_after = hermod_http::parse_retry_after(response.headers());
        Err(SlackError::classify(
            "the file upload",
            TokenKind::Bot,
            status,
            retry_after,
            None,
        ))
    }
}

/// Reads an answer: `R` from an `ok` answer, or the classified error.
pub(crate) fn parse_answer<R: DeserializeOwned>(
    method: &str,
    token: TokenKind,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<R, SlackError> {
    let envelope = serde_json::from_slice::<Envelope>(body).ok();
    let code = envelope.as_ref().and_then(|e| e.error.as_deref());
    match &envelope {
        Some(e) if e.ok && (200..300).contains(&status) => {}
        _ => {
            return Err(SlackError::classify(
                method,
                token,
                status,
                retry_after,
                code,
            ));
        }
    }
    serde_json::from_slice(body).map_err(|e| {
        SlackError::Protocol(format!(
            "{method} answered without what it should hold: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_or_classified() {
        let auth: AuthTest = parse_answer(
            "auth.test",
            TokenKind::Bot,
            200,
            None,
            br#"{"ok":true,"url":"https://x.slack.com/","team":"X","user":"hermod","team_id":"T1","user_id":"U1","bot_id":"B1"}"#,
        )
        .unwrap();
        assert_eq!(auth.user_id, "U1");
        assert_eq!(auth.bot_id.as_deref(), Some("B1"));

        let err = parse_answer::<Done>(
            "chat.update",
            TokenKind::Bot,
            429,
            Some(Duration::from_secs(3)),
            br#"{"ok":false,"error":"ratelimited"}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            SlackError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        let err = parse_answer::<Done>(
            "chat.postMessage",
            TokenKind::Bot,
            200,
            None,
            br#"{"ok":false,"error":"channel_not_found"}"#,
        )
        .unwrap_err();
        assert_eq!(err.code(), Some("channel_not_found"));
        let err =
            parse_answer::<Done>("auth.test", TokenKind::Bot, 502, None, b"<html>").unwrap_err();
        assert!(matches!(err, SlackError::Transient(_)), "{err:?}");
        let err =
            parse_answer::<Done>("auth.test", TokenKind::Bot, 200, None, b"not json").unwrap_err();
        assert!(matches!(err, SlackError::Protocol(_)), "{err:?}");
        // Warnings beside `ok` change nothing.
        let posted: Posted = parse_answer(
            "chat.postMessage",
            TokenKind::Bot,
            200,
            None,
            br#"{"ok":true,"channel":"C1","ts":"1.2","warning":"missing_charset","response_metadata":{"warnings":["missing_charset"]}}"#,
        )
        .unwrap();
        assert_eq!(posted.ts.as_deref(), Some("1.2"));
    }

    #[test]
    fn a_files_share_is_found_by_channel_and_thread() {
        // The file object of Slack's `files.info` reference, shared in a
        // thread of a public channel, plus a private share outside threads.
        let info: FileInfo = parse_answer(
            "files.info",
            TokenKind::Bot,
            200,
            None,
            br#"{"ok":true,"file":{"id":"F0S43PZDF","name":"tedair.gif","shares":{
                "public":{"C0T8SE4AU":[{"reply_users":["U061F7AUR"],"reply_users_count":1,
                    "reply_count":1,"ts":"1531763348.000001","thread_ts":"1531763273.000015",
                    "latest_reply":"1531763348.000001","channel_name":"file-under",
                    "team_id":"T061EG9R6"}]},
                "private":{"D0L4B9P0Q":[{"ts":"1531763400.000100",
                    "thread_ts":"1531763400.000100","reply_count":2}]}},
                "channels":["C0T8SE4AU"],"groups":[],"ims":["D0L4B9P0Q"]},"comments":[]}"#,
        )
        .unwrap();
        let file = info.file;
        assert_eq!(file.id, "F0S43PZDF");
        assert_eq!(
            file.shared_in("C0T8SE4AU", Some("1531763273.000015"))
                .as_deref(),
            Some("1531763348.000001")
        );
        assert_eq!(
            file.shared_in("C0T8SE4AU", None),
            None,
            "only in the thread"
        );
        assert_eq!(file.shared_in("C0T8SE4AU", Some("1.2")), None);
        assert_eq!(
            file.shared_in("D0L4B9P0Q", None).as_deref(),
            Some("1531763400.000100"),
            "a top-level share that has replies"
        );
        assert_eq!(file.shared_in("C999", None), None);
        // Slack's documented answer of `files.completeUploadExternal`.
        let done: Completed = parse_answer(
            "files.completeUploadExternal",
            TokenKind::Bot,
            200,
            None,
            br#"{"ok":true,"files":[{"id":"F123ABC456","title":"slack-test"}]}"#,
        )
        .unwrap();
        assert_eq!(done.files[0].shared_in("C1", None), None);
    }

    #[test]
    fn debug_hides_the_tokens() {
        let api = WebApi::new(
            hermod_http::HttpClient::new().unwrap().reqwest().clone(),
            "http://127.0.0.1:1/api/",
            Secret::new("xoxb-TOPSECRET"),
            Some(Secret::new("xapp-ALSOSECRET")),
            Duration::from_secs(1),
        );
        let debug = format!("{api:?}");
        assert!(!debug.contains("TOPSECRET") && !debug.contains("ALSOSECRET"));
        assert_eq!(api.base, "http://127.0.0.1:1/api");
    }
}
